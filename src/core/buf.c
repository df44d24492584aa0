#include "core/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b)
{
    memset(b, 0, sizeof(*b));
}

void buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b);
}

void buf_reset(struct buf *b)
{
    b->start = 0;
    b->len = 0;
}

int buf_reserve(struct buf *b, size_t extra)
{
    if (b->start > 0 && b->start == b->len) {
        b->start = 0;
        b->len = 0;
    }
    if (b->cap - b->len >= extra)
        return 0;
    /* Compact first when the consumed prefix alone makes enough room. */
    if (b->start > 0 && b->cap - (b->len - b->start) >= extra && b->start >= b->cap / 2) {
        memmove(b->data, b->data + b->start, b->len - b->start);
        b->len -= b->start;
        b->start = 0;
        return 0;
    }
    size_t need = b->len + extra;
    if (need < b->len)
        return -ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (!data)
        return -ENOMEM;
    b->data = data;
    b->cap = cap;
    return 0;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    int rc = buf_reserve(b, len);
    if (rc < 0)
        return rc;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_append_char(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    int rc = buf_reserve(b, (size_t)n + 1);
    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len - b->start) {
        b->start = 0;
        b->len = 0;
        return;
    }
    b->start += n;
}

int buf_terminate(struct buf *b)
{
    int rc = buf_reserve(b, 1);
    if (rc < 0)
        return rc;
    b->data[b->len] = '\0';
    return 0;
}

char *buf_steal(struct buf *b, size_t *len_out)
{
    if (buf_terminate(b) < 0)
        return NULL;
    if (b->start > 0)
        memmove(b->data, b->data + b->start, b->len - b->start + 1);
    char *out = b->data;
    if (len_out)
        *len_out = b->len - b->start;
    buf_init(b);
    return out;
}

int buf_read_stream(struct buf *b, FILE *f, size_t max)
{
    char chunk[16384];
    size_t total = 0, n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (n > max - total)
            return -EFBIG;
        if (buf_append(b, chunk, n) < 0)
            return -ENOMEM;
        total += n;
    }
    return ferror(f) ? -EIO : 0;
}

int buf_read_file(struct buf *b, const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    int rc = buf_read_stream(b, f, max);
    fclose(f);
    return rc;
}
