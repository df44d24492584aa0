/* libFuzzer harness: the prelude of a streamed function URL answer (JSON,
 * then eight NUL bytes, then the body), as lambda/ reads it from a
 * function's response stream through lambda_url_prelude_feed.
 *
 * The stream arrives in pieces of any size; the first input byte picks how
 * the rest is cut (one piece, fixed-size pieces, or two cuts at the next
 * bytes' positions). Besides memory errors it checks that the outcome does
 * not depend on the cuts: the answer, the status, the headers and where the
 * body starts are the same as when the whole stream is fed at once; a body
 * offset never points past its piece; the prelude never grows past its cap. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lambda/url_event.h"

#define MAX_INPUT (LAMBDA_URL_PRELUDE_MAX + 4096)

struct outcome {
    int rc;             /* last answer: 0 (more needed), 1, -EINVAL, -EFBIG */
    size_t body_offset; /* in the whole stream, when rc == 1 */
    struct lambda_url_response response;
};

/* Feeds one piece; returns the answer and updates o when the prelude ends. */
static int feed_piece(struct lambda_url_prelude *p, const char *piece, size_t len, size_t start,
                      struct outcome *o)
{
    char cause[128];
    size_t offset = (size_t)-1;
    memset(cause, 'x', sizeof(cause));
    int rc = lambda_url_prelude_feed(p, piece, len, &offset, &o->response, cause, sizeof(cause));
    if (rc != 0 && rc != 1 && rc != -EINVAL && rc != -EFBIG && rc != -ENOMEM)
        abort();
    if (buf_length(&p->pending) > LAMBDA_URL_PRELUDE_MAX + 8)
        abort();
    if (rc == 1) {
        if (offset > len || !p->done)
            abort();
        o->body_offset = start + offset;
    }
    if (rc < 0 && rc != -ENOMEM && !memchr(cause, '\0', sizeof(cause)))
        abort();
    return rc;
}

/* Feeds the stream cut at cuts[0..n) (ascending, within len). */
static void run(const char *text, size_t len, const size_t *cuts, size_t n, struct outcome *o)
{
    struct lambda_url_prelude p;
    lambda_url_prelude_init(&p);
    lambda_url_response_init(&o->response);
    o->rc = 0;
    o->body_offset = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n && o->rc == 0; i++) {
        size_t end = i < n ? cuts[i] : len;
        o->rc = feed_piece(&p, text + start, end - start, start, o);
        start = end;
    }
    lambda_url_prelude_free(&p);
}

static size_t choose_cuts(const uint8_t *data, size_t size, size_t len, size_t *cuts, size_t cap)
{
    size_t mode = size > 0 ? data[0] % 3 : 0, n = 0;
    if (mode == 1) {
        size_t step = size > 1 ? (size_t)data[1] % 16 + 1 : 1;
        for (size_t at = step; at < len && n < cap; at += step)
            cuts[n++] = at;
    } else if (mode == 2 && size > 2 && len > 0) {
        size_t a = data[1] % (len + 1), b = data[2] % (len + 1);
        cuts[n++] = a < b ? a : b;
        cuts[n++] = a < b ? b : a;
    }
    return n;
}

static void compare(const struct outcome *whole, const struct outcome *cut)
{
    if (whole->rc != cut->rc)
        abort();
    if (whole->rc != 1)
        return;
    const struct lambda_url_response *a = &whole->response, *b = &cut->response;
    if (whole->body_offset != cut->body_offset || a->status != b->status ||
        buf_length(&a->headers) != buf_length(&b->headers) ||
        memcmp(buf_bytes(&a->headers), buf_bytes(&b->headers), buf_length(&a->headers)) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static size_t cuts[MAX_INPUT];
    if (size < 3 || size > MAX_INPUT)
        return 0;
    const char *text = (const char *)data + 3;
    size_t len = size - 3;
    struct outcome whole, cut;
    run(text, len, NULL, 0, &whole);
    size_t n = choose_cuts(data, size, len, cuts, sizeof(cuts) / sizeof(cuts[0]));
    run(text, len, cuts, n, &cut);
    compare(&whole, &cut);
    lambda_url_response_free(&whole.response);
    lambda_url_response_free(&cut.response);
    return 0;
}
