/* Growable byte buffer.
 *
 * A buf owns its storage (data is malloc'd, freed by buf_free). The bytes
 * before `start` have been consumed; buf_bytes()/buf_length() give the unread
 * part. Every buffer that holds peer input must be checked against a cap by
 * its owner before appending: buf itself only refuses allocations that fail. */
#ifndef TETHER_CORE_BUF_H
#define TETHER_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct buf {
    char *data;
    size_t start; /* first unread byte */
    size_t len;   /* end of written bytes */
    size_t cap;
};

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

void buf_init(struct buf *b);
void buf_free(struct buf *b);
/* Drops all content but keeps the storage. */
void buf_reset(struct buf *b);
/* Makes room for `extra` more bytes; 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_append_char(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Marks `n` unread bytes as consumed; storage is compacted lazily. */
void buf_consume(struct buf *b, size_t n);
/* Appends a NUL without counting it, so the content can be used as a C string. */
int buf_terminate(struct buf *b);
/* Hands the storage to the caller (who frees it) and leaves b empty. The
 * returned string is NUL-terminated; *len_out (if given) gets its length. */
char *buf_steal(struct buf *b, size_t *len_out);
/* Appends what f gives up to its end, at most max bytes: 0; -EFBIG when there
 * is more (reading stops there); -EIO on a read error; -ENOMEM. */
int buf_read_stream(struct buf *b, FILE *f, size_t max);
/* The same for the file at path; -errno when it cannot be opened. */
int buf_read_file(struct buf *b, const char *path, size_t max);

static inline char *buf_bytes(const struct buf *b)
{
    return b->data ? b->data + b->start : NULL;
}
static inline size_t buf_length(const struct buf *b)
{
    return b->len - b->start;
}

#endif
