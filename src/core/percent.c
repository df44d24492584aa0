#include "core/percent.h"

#include <errno.h>
#include <string.h>

int percent_is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int percent_encode(struct buf *out, const char *text, size_t len, const char *keep)
{
    static const char digits[] = "0123456789ABCDEF";
    int rc = buf_reserve(out, len * 3);
    for (size_t i = 0; i < len && rc == 0; i++) {
        unsigned char c = (unsigned char)text[i];
        if (percent_is_unreserved(c) || (c && keep && strchr(keep, c))) {
            rc = buf_append_char(out, (char)c);
        } else {
            char esc[3] = {'%', digits[c >> 4], digits[c & 15]};
            rc = buf_append(out, esc, sizeof(esc));
        }
    }
    return rc < 0 ? -ENOMEM : 0;
}

int percent_decode(struct buf *out, const char *text, size_t len, enum percent_decode_mode mode)
{
    if (buf_reserve(out, len) < 0)
        return -ENOMEM;
    size_t before = out->len; /* after buf_reserve, which may move the data */
    for (size_t i = 0; i < len; i++) {
        int hi = text[i] == '%' && len - i >= 3 ? hex_value(text[i + 1]) : -1;
        int lo = hi >= 0 ? hex_value(text[i + 2]) : -1;
        char c = text[i];
        if (lo >= 0) {
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '%' && mode == PERCENT_STRICT) {
            out->len = before;
            return -EINVAL;
        }
        out->data[out->len++] = c; /* reserved above: decoding never grows */
    }
    return 0;
}
