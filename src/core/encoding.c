#include "core/encoding.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t base64_encoded_length(size_t raw_len)
{
    return (raw_len + 2) / 3 * 4;
}

static int encode(struct buf *out, const unsigned char *in, size_t len, const char *alphabet,
                  int pad)
{
    int rc = buf_reserve(out, base64_encoded_length(len) + 1);
    if (rc < 0)
        return rc;
    char *p = out->data + out->len;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *p++ = alphabet[v >> 18 & 63];
        *p++ = alphabet[v >> 12 & 63];
        *p++ = alphabet[v >> 6 & 63];
        *p++ = alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        *p++ = alphabet[v >> 18 & 63];
        *p++ = alphabet[v >> 12 & 63];
        if (i + 1 < len)
            *p++ = alphabet[v >> 6 & 63];
        else if (pad)
            *p++ = '=';
        if (pad)
            *p++ = '=';
    }
    out->len = (size_t)(p - out->data);
    return 0;
}

/* Each character's 6-bit value in the low bits, and in the high bits what
 * keeps it out of an alphabet: S, only in the standard one ('+', '/'); U,
 * only in the URL-safe one ('-', '_'); X, in neither. One load per
 * character and no branch: a group of four holding a character the
 * alphabet refuses shows that alphabet's refusal bit in the OR of its
 * entries. */
#define S 0x40
#define U 0x80
#define X (S | U)
#define REFUSED_BY_STD 0x80 /* U */
#define REFUSED_BY_URL 0x40 /* S */
// clang-format off
static const uint8_t b64_values[256] = {
      X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,
      X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,
      X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X, S|62,   X, U|62,   X, S|63,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61,   X,   X,   X,   X,   X,   X,
      X,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25,   X,   X,   X,   X, U|63,
      X,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
     41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51,   X,   X,   X,   X,   X,
      X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,
      X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,
      X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,
      X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,
      X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,
      X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,
      X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,
      X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,   X,
};
// clang-format on
#undef S
#undef U
#undef X

/* The text without its padding, checked as the decoders accept it: padding
 * only completes the last group of four, and a lone character in the last
 * group carries no whole byte. -EINVAL otherwise. */
static int unpadded_length(const char *text, size_t len, size_t *out)
{
    size_t padding = 0;
    while (len > 0 && text[len - 1] == '=') {
        len--;
        padding++;
    }
    if (len % 4 == 1 || padding > 2 || (padding > 0 && (len + padding) % 4 != 0))
        return -EINVAL;
    *out = len;
    return 0;
}

/* Decodes len characters (padding already removed) into dst, which has room
 * for len / 4 * 3 + 2 bytes; returns the bytes written or -EINVAL. Whole
 * groups are decoded four characters at a time; the bits below the last
 * whole byte of a short final group are ignored, as they always were. */
static long decode_into(uint8_t *dst, const char *text, size_t len, unsigned refused)
{
    const uint8_t *values = b64_values;
    const unsigned char *s = (const unsigned char *)text;
    uint8_t *p = dst;
    unsigned bad = 0;
    size_t whole = len / 4 * 4;
    for (size_t i = 0; i < whole; i += 4) {
        unsigned a = values[s[i]], b = values[s[i + 1]], c = values[s[i + 2]], d = values[s[i + 3]];
        bad |= a | b | c | d;
        uint32_t v = (uint32_t)(a & 63) << 18 | (uint32_t)(b & 63) << 12 | (uint32_t)(c & 63) << 6 |
                     (d & 63);
        p[0] = (uint8_t)(v >> 16);
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)v;
        p += 3;
    }
    if (len > whole) { /* two or three characters: one or two bytes */
        unsigned a = values[s[whole]], b = values[s[whole + 1]];
        unsigned c = len - whole == 3 ? values[s[whole + 2]] : 0;
        bad |= a | b | c;
        uint32_t v = (uint32_t)(a & 63) << 18 | (uint32_t)(b & 63) << 12 | (uint32_t)(c & 63) << 6;
        *p++ = (uint8_t)(v >> 16);
        if (len - whole == 3)
            *p++ = (uint8_t)(v >> 8);
    }
    if (bad & refused)
        return -EINVAL;
    return (long)(p - dst);
}

static int decode(struct buf *out, const char *text, size_t len, int url)
{
    if (unpadded_length(text, len, &len) < 0)
        return -EINVAL;
    int rc = buf_reserve(out, len / 4 * 3 + 3);
    if (rc < 0)
        return rc;
    long n = decode_into((uint8_t *)out->data + out->len, text, len,
                         url ? REFUSED_BY_URL : REFUSED_BY_STD);
    if (n < 0)
        return -EINVAL; /* out->len is untouched: nothing partial is left */
    out->len += (size_t)n;
    return 0;
}

size_t base64_decoded_max(size_t text_len)
{
    return text_len / 4 * 3 + 2;
}

int base64_decode_to(void *dst, size_t cap, const char *text, size_t len, size_t *written)
{
    if (cap < base64_decoded_max(len))
        return -ENOBUFS;
    if (unpadded_length(text, len, &len) < 0)
        return -EINVAL;
    long n = decode_into(dst, text, len, REFUSED_BY_STD);
    if (n < 0)
        return -EINVAL;
    *written = (size_t)n;
    return 0;
}

int base64_encode(struct buf *out, const void *data, size_t len)
{
    return encode(out, data, len, b64_std, 1);
}

int base64_decode(struct buf *out, const char *text, size_t len)
{
    return decode(out, text, len, 0);
}

int base64url_encode(struct buf *out, const void *data, size_t len)
{
    return encode(out, data, len, b64_url, 0);
}

int base64url_decode(struct buf *out, const char *text, size_t len)
{
    return decode(out, text, len, 1);
}

void hex_encode(char *out, const void *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *in = data;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not valid. */
static size_t utf8_sequence_length(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

/* Tests on 8 bytes at once: they tell whether any byte of a word matches,
 * not which one, so a word that matches is looked at byte by byte. */
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

static uint64_t load_word(const unsigned char *s)
{
    uint64_t w;
    memcpy(&w, s, sizeof(w));
    return w;
}

/* Non-zero when some byte of w is below n (1 <= n <= 0x80). */
static uint64_t any_below(uint64_t w, unsigned n)
{
    return (w - ONES * n) & ~w & HIGHS;
}

/* How many bytes from s on are plain ASCII (below 0x80). */
static size_t ascii_prefix(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i + 8 <= len && (load_word(s + i) & HIGHS) == 0)
        i += 8;
    while (i < len && s[i] < 0x80)
        i++;
    return i;
}

/* How many bytes from s on json_quote copies as they are: printable ASCII
 * other than '"' and '\\' (DEL too, as JSON.stringify does). */
static size_t plain_prefix(const unsigned char *s, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w = load_word(s + i);
        if ((w & HIGHS) || any_below(w, 0x20) || any_below(w ^ (ONES * '"'), 1) ||
            any_below(w ^ (ONES * '\\'), 1))
            break;
    }
    while (i < len && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\')
        i++;
    return i;
}

int utf8_append(struct buf *out, unsigned long cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | cp >> 6);
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | cp >> 12);
        b[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | cp >> 18);
        b[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        b[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return buf_append(out, b, n);
}

int utf8_valid(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        i += ascii_prefix(s + i, len - i);
        if (i == len)
            break;
        size_t n = utf8_sequence_length(s + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

/* The control characters JSON.stringify writes in short form. */
static const char *const short_escapes[0x20] = {
    ['\b'] = "\\b", ['\f'] = "\\f", ['\n'] = "\\n", ['\r'] = "\\r", ['\t'] = "\\t",
};

int json_quote(struct buf *out, const char *text, size_t len)
{
    int rc = buf_reserve(out, len + 2);
    if (rc < 0)
        return rc;
    out->data[out->len++] = '"';
    const unsigned char *s = (const unsigned char *)text;
    size_t run_start = 0;
    for (size_t i = 0; i < len;) {
        i += plain_prefix(s + i, len - i);
        if (i == len)
            break;
        unsigned char c = s[i];
        const char *escape = NULL;
        char unicode[8];
        size_t step = 1;
        if (c == '"')
            escape = "\\\"";
        else if (c == '\\')
            escape = "\\\\";
        else if (c < 0x20) {
            escape = short_escapes[c];
            if (!escape) {
                snprintf(unicode, sizeof(unicode), "\\u%04x", c);
                escape = unicode;
            }
        } else if (c >= 0x80) {
            step = utf8_sequence_length(s + i, len - i);
            if (step == 0) {
                escape = "\\ufffd";
                step = 1;
            }
        }
        if (escape) {
            if ((rc = buf_append(out, s + run_start, i - run_start)) < 0 ||
                (rc = buf_append_str(out, escape)) < 0)
                return rc;
            run_start = i + step;
        }
        i += step;
    }
    if ((rc = buf_append(out, s + run_start, len - run_start)) < 0)
        return rc;
    return buf_append_char(out, '"');
}

int constant_time_equal(const void *a, size_t a_len, const void *b, size_t b_len)
{
    if (a_len != b_len)
        return 0;
    const volatile unsigned char *x = a, *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < a_len; i++)
        diff |= x[i] ^ y[i];
    return diff == 0;
}

void secure_wipe(void *data, size_t len)
{
    volatile unsigned char *p = data;
    for (size_t i = 0; p && i < len; i++)
        p[i] = 0;
}

void secure_free_string(char *s)
{
    if (s)
        secure_wipe(s, strlen(s));
    free(s);
}

void secure_free_buf(struct buf *b)
{
    secure_wipe(b->data, b->cap);
    buf_free(b);
}
