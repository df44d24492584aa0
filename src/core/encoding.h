/* Text encodings used across tether: base64 (RFC 4648 standard and URL-safe
 * alphabets), lower-case hex, and JSON string literals written exactly as
 * JavaScript's JSON.stringify writes them (SigV4 over WebSocket messages signs
 * those bytes, so the broker must rebuild them identically).
 *
 * Output goes into a caller-owned struct buf; decoders refuse malformed input
 * with -EINVAL and leave no partial output behind. */
#ifndef TETHER_CORE_ENCODING_H
#define TETHER_CORE_ENCODING_H

#include <stddef.h>

#include "core/buf.h"

int base64_encode(struct buf *out, const void *data, size_t len);
/* Accepts padded or unpadded input; rejects characters outside the alphabet. */
int base64_decode(struct buf *out, const char *text, size_t len);
/* base64_decode straight into caller memory (a reassembly buffer, say):
 * dst must have room for base64_decoded_max(len) bytes (-ENOBUFS, nothing
 * written, otherwise); *written gets the decoded length. On -EINVAL dst may
 * hold garbage up to that room, never beyond it. */
size_t base64_decoded_max(size_t text_len);
int base64_decode_to(void *dst, size_t cap, const char *text, size_t len, size_t *written);
/* URL-safe alphabet ('-', '_'), no '=' padding. */
int base64url_encode(struct buf *out, const void *data, size_t len);
int base64url_decode(struct buf *out, const char *text, size_t len);
size_t base64_encoded_length(size_t raw_len);

/* Writes 2*len lower-case hex digits plus a NUL into `out` (size >= 2*len+1). */
void hex_encode(char *out, const void *data, size_t len);

/* Appends `text` as a quoted JSON string literal, escaped as JSON.stringify
 * does: \" \\ \b \f \n \r \t, other control characters as \u00xx (lower-case
 * hex), everything else (including '/' and valid UTF-8) verbatim. Invalid UTF-8
 * bytes are written as \ufffd so the output is always valid JSON. */
int json_quote(struct buf *out, const char *text, size_t len);

/* Whether text is well-formed UTF-8 (no overlongs, no surrogates). */
int utf8_valid(const char *text, size_t len);

/* Appends code point cp (at most 0x10FFFF; the caller has checked it) as
 * UTF-8: what JSON's \u escapes and XML's character references decode to. */
int utf8_append(struct buf *out, unsigned long cp);

/* Compares in time that depends only on the lengths: 1 if equal, else 0. */
int constant_time_equal(const void *a, size_t a_len, const void *b, size_t b_len);

/* Overwrites memory the compiler may not optimise away (for secrets). */
void secure_wipe(void *data, size_t len);
/* Wipes then frees a string (NULL is fine). */
void secure_free_string(char *s);
/* Wipes a buffer's whole storage, then frees it. */
void secure_free_buf(struct buf *b);

#endif
