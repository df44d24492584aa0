/* The Runtime API client (see runtime_client.h): the calls the bridge makes,
 * on the one HTTP client (net/http_client.h). */
#include "bridge_runtime/runtime_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/http_client.h"

/* GET /next may carry a 6 MB event; Lambda answers little else. */
#define ANSWER_MAX_BODY_BYTES (7 * 1024 * 1024)

/* The call's state is the HTTP client's own (http_client_state); this only
 * adds the Runtime API's limits and names it in transport failures. */
struct runtime_client {
    struct http_client *http;
    runtime_answer_cb on_answer;
    void *ctx;
};

static void on_http_answer(void *user, int status, const struct http_message *m, const char *cause)
{
    struct runtime_client *rc = user;
    runtime_answer_cb cb = rc->on_answer;
    rc->on_answer = NULL;
    char why[512];
    if (status < 0)
        snprintf(why, sizeof(why), "Runtime API: %s", cause ? cause : "request failed");
    if (cb)
        cb(rc->ctx, status, m, status < 0 ? why : NULL);
}

struct runtime_client *runtime_client_new(struct conn_context *conns, const char *host,
                                          uint16_t port)
{
    struct runtime_client *rc = calloc(1, sizeof(*rc));
    if (!rc)
        return NULL;
    struct http_client_config config = {.host = host, .port = port};
    config.limits.max_body_bytes = ANSWER_MAX_BODY_BYTES;
    if (http_client_new(conns, &config, &rc->http) < 0) {
        free(rc);
        return NULL;
    }
    return rc;
}

void runtime_client_free(struct runtime_client *rc)
{
    if (!rc)
        return;
    http_client_free(rc->http); /* its memory goes once the connection has closed */
    free(rc);
}

int runtime_client_request(struct runtime_client *rc, const char *method, const char *path,
                           const char *headers, const void *body, size_t len,
                           runtime_answer_cb on_answer, void *ctx)
{
    struct http_client_request request = {method, path, headers, body, len};
    int err = http_client_request(rc->http, &request, on_http_answer, rc);
    if (err == 0) {
        rc->on_answer = on_answer;
        rc->ctx = ctx;
    }
    return err;
}

int runtime_client_stream_begin(struct runtime_client *rc, const char *path, const char *headers,
                                runtime_answer_cb on_answer, void *ctx)
{
    struct http_client_request request = {"POST", path, headers, NULL, 0};
    int err = http_client_stream_begin(rc->http, &request, on_http_answer, rc);
    if (err == 0) {
        rc->on_answer = on_answer;
        rc->ctx = ctx;
    }
    return err;
}

int runtime_client_stream_write(struct runtime_client *rc, const void *data, size_t len)
{
    return http_client_stream_write(rc->http, data, len);
}

int runtime_client_stream_end(struct runtime_client *rc, const char *trailers)
{
    return http_client_stream_end(rc->http, trailers);
}

int runtime_message_to_text(const struct http_message *m, struct buf *out)
{
    int err = buf_printf(out, "HTTP/%u.%u %d %s\r\n", m->http_major, m->http_minor, m->status,
                         http_status_reason(m->status));
    /* The body is written whole, so the framing headers are written anew. */
    for (size_t i = 0; err == 0 && i < m->header_count; i++) {
        const char *name = m->headers[i].name;
        if (strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Transfer-Encoding") == 0)
            continue;
        err = buf_printf(out, "%s: %s\r\n", name, m->headers[i].value);
    }
    if (err == 0)
        err = buf_printf(out, "Content-Length: %zu\r\n\r\n", buf_length(&m->body));
    if (err == 0)
        err = buf_append(out, buf_bytes(&m->body), buf_length(&m->body));
    return err;
}
