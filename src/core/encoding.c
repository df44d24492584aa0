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

static int decode_char(char c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

static int decode(struct buf *out, const char *text, size_t len, int url)
{
    size_t padding = 0;
    while (len > 0 && text[len - 1] == '=') {
        len--;
        padding++;
    }
    /* Padding only completes the last group of four. */
    if (len % 4 == 1 || padding > 2 || (padding > 0 && (len + padding) % 4 != 0))
        return -EINVAL;
    int rc = buf_reserve(out, len / 4 * 3 + 3);
    if (rc < 0)
        return rc;
    size_t before = out->len; /* after reserve, which may compact */
    unsigned char *p = (unsigned char *)out->data + out->len;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = decode_char(text[i], url);
        if (v < 0) {
            out->len = before;
            return -EINVAL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *p++ = (unsigned char)(acc >> bits);
        }
    }
    out->len = (size_t)((char *)p - out->data);
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

int utf8_valid(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
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
