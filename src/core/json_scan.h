/* A single-pass JSON scanner for the live path's messages (the broker's
 * realtime messages, the bridge's packets): it walks a JSON text once,
 * validating it strictly (RFC 8259, UTF-8, nesting capped at
 * JSON_SCAN_MAX_DEPTH), and yields the members of one object or array as
 * slices of the input, so a caller reads the few fields it needs without
 * building a tree and can forward the bytes it received.
 *
 * What it accepts is exactly what core/json_check accepts (fuzz/
 * fuzz_json_scan.c holds the two against each other): escaped lone
 * surrogates are valid, as JSON.parse takes them, but a string holding one
 * cannot be decoded into UTF-8 (json_scan_string says -EILSEQ).
 *
 * Nothing is allocated except by json_scan_string, into the caller's buffer.
 * Slices borrow the input and live as long as it does. */
#ifndef TETHER_CORE_JSON_SCAN_H
#define TETHER_CORE_JSON_SCAN_H

#include <stddef.h>

#include "core/buf.h"

#define JSON_SCAN_MAX_DEPTH 512

enum json_scan_type {
    JSON_SCAN_INVALID = 0,
    JSON_SCAN_OBJECT,
    JSON_SCAN_ARRAY,
    JSON_SCAN_STRING,
    JSON_SCAN_NUMBER,
    JSON_SCAN_TRUE,
    JSON_SCAN_FALSE,
    JSON_SCAN_NULL,
};

/* One value (or key) as it appears in the input. For a string, text starts
 * and ends with its quotes. */
struct json_slice {
    enum json_scan_type type;
    const char *text;
    size_t len;
    /* Strings only. escaped: the literal holds a backslash escape (when 0,
     * the value is text+1 .. len-2 as it is). canonical: the literal is byte
     * for byte what JSON.stringify (and core/encoding's json_quote) writes
     * for its value, so it can be forwarded without re-quoting. */
    unsigned char escaped;
    unsigned char canonical;
};

/* Walks the members of one object or array. Fields are private. */
struct json_scan {
    const unsigned char *p;
    const unsigned char *end;
    unsigned char close; /* '}' or ']' */
    unsigned char outer; /* 1 when the container is the whole text */
    unsigned char state; /* 0 before the first member, 1 after one, 2 done */
};

/* 1 if text is exactly one valid JSON value (whitespace around it allowed),
 * 0 otherwise. */
int json_scan_valid(const char *text, size_t len);

/* Starts walking the object or array that is the whole of text (whitespace
 * around it allowed). Returns 0, or -EINVAL when text does not start with
 * one; the members are validated as json_scan_next reaches them. */
int json_scan_open(struct json_scan *scan, const char *text, size_t len);
/* Starts walking a value a previous scan returned (already validated). */
int json_scan_open_slice(struct json_scan *scan, const struct json_slice *container);

/* The next member: for an object its key (a string slice) and value, for an
 * array its value (key may be NULL then). Returns 1 for a member, 0 at the
 * end (for an outer container: the whole text has now been validated), or
 * -EINVAL when the text is not valid JSON; after 0 or -EINVAL it keeps
 * returning the same. */
int json_scan_next(struct json_scan *scan, struct json_slice *key, struct json_slice *value);

/* Appends the decoded value of a string slice to out (no terminator).
 * Returns 0, -EINVAL when the slice is not a string, -EILSEQ when it holds
 * an escaped lone surrogate (not representable in UTF-8), or -ENOMEM. */
int json_scan_string(const struct json_slice *string, struct buf *out);

/* 1 when a string slice's value is exactly the len bytes at s. */
int json_scan_string_equals(const struct json_slice *string, const char *s, size_t len);

#endif
