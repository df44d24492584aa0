/* libFuzzer harness: bytes from a client into an HTTP_REQUEST reader with
 * small caps. The first input byte picks how the rest is cut into 1-3 pieces
 * (as reads from a socket would be), the next two where; after each complete
 * message the reader is reset and reading goes on, as for pipelined requests. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"

static const struct http_limits limits = {1024, 4096};

/* Touches what a complete message exposes so ASan sees every field. */
static void inspect(const struct http_message *m)
{
    volatile size_t sink = 0;
    sink += strlen(m->method) + strlen(m->target) + strlen(m->path) + strlen(m->query);
    for (size_t i = 0; i < m->header_count; i++)
        sink += strlen(m->headers[i].name) + strlen(m->headers[i].value);
    sink += buf_length(&m->body);
    sink += http_header_get(m, "host") != NULL;
    sink += http_header_has_token(m, "Connection", "upgrade");
    (void)sink;
}

/* Returns 0 to go on, -1 once the reader has failed. */
static int feed_piece(struct http_reader *r, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = http_reader_feed(r, p, len);
        if (n < 0)
            return -1;
        if ((size_t)n > len)
            abort(); /* consumed more than it was given */
        p += n;
        len -= (size_t)n;
        if (r->state == HTTP_READER_COMPLETE) {
            inspect(&r->message);
            if (r->message.upgrade)
                return -1; /* the rest belongs to another protocol */
            http_reader_reset(r);
        } else if (n == 0) {
            abort(); /* a reading reader must make progress */
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t pieces = data[0] % 3 + 1;
    const char *text = (const char *)data + 3;
    size_t len = size - 3;
    size_t cut1 = len ? data[1] % (len + 1) : 0;
    size_t cut2 = len ? data[2] % (len + 1) : 0;
    if (cut2 < cut1) {
        size_t t = cut1;
        cut1 = cut2;
        cut2 = t;
    }
    size_t bounds[4] = {0, len, len, len};
    if (pieces >= 2)
        bounds[1] = cut1;
    if (pieces == 3)
        bounds[2] = cut2;
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &limits);
    for (size_t i = 0; i < 3; i++)
        if (feed_piece(&r, text + bounds[i], bounds[i + 1] - bounds[i]) < 0)
            break;
    if (r.state == HTTP_READER_READING)
        http_reader_finish(&r);
    http_reader_free(&r);
    return 0;
}
