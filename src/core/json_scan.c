#include "core/json_scan.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "core/encoding.h"

struct cursor {
    const unsigned char *p;
    const unsigned char *end;
    int depth;
    int validated; /* the text was scanned before: strings need no checks */
};

/* Bytes a string literal holds as they are and that JSON.stringify writes as
 * they are too: printable ASCII except the quote and the backslash. Bytes
 * from 0x80 up are checked as UTF-8 runs instead. */
static int plain_byte(unsigned char ch)
{
    return ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\';
}

/* Whether 8 bytes are all plain, tested at once. Subtracting 0x20 from each
 * byte, or 1 from each byte XORed with '"' or '\\', sets the top bit of a
 * byte below 0x20, a quote or a backslash; the word itself has it for a byte
 * from 0x80 up. A borrow can set the top bit of a plain byte too, but only
 * above a byte that set its own, so "all plain" is never wrong. Strings
 * are mostly plain, so this is where scanning spends its time. */
static int plain_word(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t w;
    memcpy(&w, p, sizeof(w));
    uint64_t special =
        (w - ones * 0x20) | ((w ^ (ones * '"')) - ones) | ((w ^ (ones * '\\')) - ones) | w;
    return (special & high) == 0;
}

static void skip_space(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int hex_value(unsigned char h)
{
    if (h >= '0' && h <= '9')
        return h - '0';
    if (h >= 'a' && h <= 'f')
        return h - 'a' + 10;
    if (h >= 'A' && h <= 'F')
        return h - 'A' + 10;
    return -1;
}

/* Reads the four hex digits after "\u"; -1 when they are not. */
static long hex4(const unsigned char *p, const unsigned char *end, int *lower_case)
{
    if (end - p < 4)
        return -1;
    long v = 0;
    *lower_case = 1;
    for (int i = 0; i < 4; i++) {
        int d = hex_value(p[i]);
        if (d < 0)
            return -1;
        if (p[i] >= 'A' && p[i] <= 'F')
            *lower_case = 0;
        v = v << 4 | d;
    }
    return v;
}

/* Whether JSON.stringify writes this code unit as the escape \u00xx (it has
 * no short form and is a control character). */
static int stringify_uses_u_escape(long v)
{
    return v < 0x20 && v != '\b' && v != '\f' && v != '\n' && v != '\r' && v != '\t';
}

/* One escape after its backslash; clears *canonical when JSON.stringify
 * would not have written it this way. */
static int escape(struct cursor *c, unsigned char *canonical)
{
    if (c->p >= c->end)
        return 0;
    unsigned char e = *c->p++;
    switch (e) {
    case '"':
    case '\\':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return 1;
    case '/':
        *canonical = 0;
        return 1;
    case 'u': {
        int lower_case;
        long v = hex4(c->p, c->end, &lower_case);
        if (v < 0)
            return 0;
        if (!lower_case || !stringify_uses_u_escape(v))
            *canonical = 0;
        c->p += 4;
        return 1;
    }
    default:
        return 0;
    }
}

static void string_slice(struct json_slice *out, const unsigned char *start,
                         const unsigned char *end, unsigned char escaped, unsigned char canonical)
{
    out->type = JSON_SCAN_STRING;
    out->text = (const char *)start;
    out->len = (size_t)(end - start);
    out->escaped = escaped;
    out->canonical = canonical;
}

/* A string in text scanned before (a slice walked again): only its end and
 * its escapes need finding, which memchr does far faster than checking
 * every byte. Bounds are still kept, so a slice that was not validated
 * cannot make it read outside the text. */
static int validated_string(struct cursor *c, struct json_slice *out)
{
    const unsigned char *start = c->p++;
    unsigned char escaped = 0, canonical = 1;
    for (;;) {
        const unsigned char *quote = memchr(c->p, '"', (size_t)(c->end - c->p));
        if (!quote)
            return 0;
        const unsigned char *backslash = memchr(c->p, '\\', (size_t)(quote - c->p));
        if (!backslash) {
            c->p = quote + 1;
            break;
        }
        escaped = 1;
        c->p = backslash + 1;
        if (!escape(c, &canonical))
            return 0;
    }
    string_slice(out, start, c->p, escaped, canonical);
    return 1;
}

static int string(struct cursor *c, struct json_slice *out)
{
    if (c->validated)
        return validated_string(c, out);
    const unsigned char *start = c->p++;
    unsigned char escaped = 0, canonical = 1;
    for (;;) {
        while (c->end - c->p >= 8 && plain_word(c->p))
            c->p += 8;
        while (c->p < c->end && plain_byte(*c->p))
            c->p++;
        if (c->p >= c->end)
            return 0;
        unsigned char ch = *c->p;
        if (ch == '"')
            break;
        if (ch == '\\') {
            c->p++;
            escaped = 1;
            if (!escape(c, &canonical))
                return 0;
        } else if (ch >= 0x80) {
            /* A UTF-8 sequence never holds an ASCII byte, so a run of high
             * bytes must be whole sequences on its own. */
            const unsigned char *run = c->p;
            while (c->p < c->end && *c->p >= 0x80)
                c->p++;
            if (!utf8_valid((const char *)run, (size_t)(c->p - run)))
                return 0;
        } else {
            return 0; /* a control character */
        }
    }
    c->p++;
    string_slice(out, start, c->p, escaped, canonical);
    return 1;
}

static int digits(struct cursor *c)
{
    const unsigned char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
        c->p++;
    return c->p > start;
}

static int number(struct cursor *c)
{
    if (c->p < c->end && *c->p == '-')
        c->p++;
    if (c->p < c->end && *c->p == '0')
        c->p++;
    else if (!digits(c))
        return 0;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (!digits(c))
            return 0;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (!digits(c))
            return 0;
    }
    return 1;
}

static int literal(struct cursor *c, const char *word, size_t len)
{
    if ((size_t)(c->end - c->p) < len || memcmp(c->p, word, len) != 0)
        return 0;
    c->p += len;
    return 1;
}

static int value(struct cursor *c, struct json_slice *out);

/* The members of an object or array, after its opening bracket. */
static int members(struct cursor *c, unsigned char close, int keyed)
{
    if (++c->depth > JSON_SCAN_MAX_DEPTH)
        return 0;
    struct json_slice ignored;
    skip_space(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        c->depth--;
        return 1;
    }
    for (;;) {
        if (keyed) {
            skip_space(c);
            if (c->p >= c->end || *c->p != '"' || !string(c, &ignored))
                return 0;
            skip_space(c);
            if (c->p >= c->end || *c->p != ':')
                return 0;
            c->p++;
        }
        if (!value(c, &ignored))
            return 0;
        skip_space(c);
        if (c->p >= c->end)
            return 0;
        if (*c->p == close)
            break;
        if (*c->p != ',')
            return 0;
        c->p++;
    }
    c->p++;
    c->depth--;
    return 1;
}

static int value(struct cursor *c, struct json_slice *out)
{
    skip_space(c);
    if (c->p >= c->end)
        return 0;
    const unsigned char *start = c->p;
    int ok;
    switch (*c->p) {
    case '{':
    case '[':
        out->type = *c->p == '{' ? JSON_SCAN_OBJECT : JSON_SCAN_ARRAY;
        c->p++;
        ok = members(c, *start == '{' ? '}' : ']', *start == '{');
        break;
    case '"':
        return string(c, out);
    case 't':
        out->type = JSON_SCAN_TRUE;
        ok = literal(c, "true", 4);
        break;
    case 'f':
        out->type = JSON_SCAN_FALSE;
        ok = literal(c, "false", 5);
        break;
    case 'n':
        out->type = JSON_SCAN_NULL;
        ok = literal(c, "null", 4);
        break;
    default:
        out->type = JSON_SCAN_NUMBER;
        ok = number(c);
    }
    out->text = (const char *)start;
    out->len = (size_t)(c->p - start);
    out->escaped = 0;
    out->canonical = 0;
    return ok;
}

int json_scan_valid(const char *text, size_t len)
{
    struct cursor c = {(const unsigned char *)text, (const unsigned char *)text + len, 0, 0};
    struct json_slice ignored;
    if (!value(&c, &ignored))
        return 0;
    skip_space(&c);
    return c.p == c.end;
}

static int open_at(struct json_scan *scan, const char *text, size_t len, int outer)
{
    struct cursor c = {(const unsigned char *)text, (const unsigned char *)text + len, 0, 0};
    skip_space(&c);
    if (c.p >= c.end || (*c.p != '{' && *c.p != '['))
        return -EINVAL;
    scan->close = *c.p == '{' ? '}' : ']';
    scan->p = c.p + 1;
    scan->end = c.end;
    scan->outer = (unsigned char)outer;
    scan->state = 0;
    return 0;
}

int json_scan_open(struct json_scan *scan, const char *text, size_t len)
{
    return open_at(scan, text, len, 1);
}

int json_scan_open_slice(struct json_scan *scan, const struct json_slice *container)
{
    if (container->type != JSON_SCAN_OBJECT && container->type != JSON_SCAN_ARRAY)
        return -EINVAL;
    return open_at(scan, container->text, container->len, 0);
}

enum { SCAN_BEFORE_FIRST, SCAN_AFTER_MEMBER, SCAN_DONE, SCAN_FAILED };

/* After the closing bracket: an outer container must end the text. */
static int finish(struct json_scan *scan, struct cursor *c)
{
    c->p++;
    if (scan->outer) {
        skip_space(c);
        if (c->p != c->end) {
            scan->state = SCAN_FAILED;
            return -EINVAL;
        }
    }
    scan->p = c->p;
    scan->state = SCAN_DONE;
    return 0;
}

int json_scan_next(struct json_scan *scan, struct json_slice *key, struct json_slice *value_out)
{
    if (scan->state == SCAN_DONE)
        return 0;
    if (scan->state == SCAN_FAILED)
        return -EINVAL;
    /* The container itself is depth 1, as json_scan_valid counts it. */
    struct cursor c = {scan->p, scan->end, 1, !scan->outer};
    int keyed = scan->close == '}';
    struct json_slice key_slice;
    skip_space(&c);
    if (c.p < c.end && *c.p == scan->close && scan->state == SCAN_BEFORE_FIRST)
        return finish(scan, &c);
    if (scan->state == SCAN_AFTER_MEMBER) {
        if (c.p < c.end && *c.p == scan->close)
            return finish(scan, &c);
        if (c.p >= c.end || *c.p != ',')
            goto fail;
        c.p++;
    }
    if (keyed) {
        skip_space(&c);
        if (c.p >= c.end || *c.p != '"' || !string(&c, &key_slice))
            goto fail;
        skip_space(&c);
        if (c.p >= c.end || *c.p != ':')
            goto fail;
        c.p++;
        if (key)
            *key = key_slice;
    }
    if (!value(&c, value_out))
        goto fail;
    scan->p = c.p;
    scan->state = SCAN_AFTER_MEMBER;
    return 1;
fail:
    scan->state = SCAN_FAILED;
    return -EINVAL;
}

/* Decodes "\uXXXX" (and its low half when it starts a surrogate pair) at p,
 * which the scan has validated. Returns the bytes used, or 0 for a lone
 * surrogate. */
static size_t unicode_escape(const unsigned char *p, const unsigned char *end, unsigned long *cp)
{
    int lower_case;
    long v = hex4(p + 2, end, &lower_case);
    if (v >= 0xDC00 && v <= 0xDFFF)
        return 0;
    if (v < 0xD800 || v > 0xDBFF) {
        *cp = (unsigned long)v;
        return 6;
    }
    if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
        return 0;
    long low = hex4(p + 8, end, &lower_case);
    if (low < 0xDC00 || low > 0xDFFF)
        return 0;
    *cp = 0x10000 + ((unsigned long)(v - 0xD800) << 10) + (unsigned long)(low - 0xDC00);
    return 12;
}

static char short_escape_value(unsigned char e)
{
    switch (e) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return (char)e; /* " \ / */
    }
}

static int decode_escaped(const unsigned char *p, const unsigned char *end, struct buf *out)
{
    int rc = buf_reserve(out, (size_t)(end - p));
    while (rc == 0 && p < end) {
        const unsigned char *run = p;
        p = memchr(p, '\\', (size_t)(end - p));
        if (!p)
            p = end;
        if ((rc = buf_append(out, run, (size_t)(p - run))) < 0 || p >= end)
            break;
        if (p[1] == 'u') {
            unsigned long cp;
            size_t used = unicode_escape(p, end, &cp);
            if (used == 0)
                return -EILSEQ;
            rc = utf8_append(out, cp);
            p += used;
        } else {
            rc = buf_append_char(out, short_escape_value(p[1]));
            p += 2;
        }
    }
    return rc;
}

int json_scan_string(const struct json_slice *string_slice, struct buf *out)
{
    if (string_slice->type != JSON_SCAN_STRING || string_slice->len < 2)
        return -EINVAL;
    const unsigned char *p = (const unsigned char *)string_slice->text + 1;
    const unsigned char *end = (const unsigned char *)string_slice->text + string_slice->len - 1;
    if (!string_slice->escaped)
        return buf_append(out, p, (size_t)(end - p));
    size_t before = out->len;
    int rc = decode_escaped(p, end, out);
    if (rc < 0)
        out->len = before; /* no partial output */
    return rc;
}

int json_scan_string_equals(const struct json_slice *string_slice, const char *s, size_t len)
{
    if (string_slice->type != JSON_SCAN_STRING || string_slice->len < 2)
        return 0;
    if (!string_slice->escaped)
        return string_slice->len - 2 == len && memcmp(string_slice->text + 1, s, len) == 0;
    struct buf decoded = BUF_INIT;
    int equal = json_scan_string(string_slice, &decoded) == 0 && buf_length(&decoded) == len &&
                memcmp(buf_bytes(&decoded), s, len) == 0;
    buf_free(&decoded);
    return equal;
}
