#include "bridge_runtime/runtime_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_MODULE "runtime"
#include "core/log.h"

/* GET /next may carry a 6 MB event; Lambda answers little else. */
#define ANSWER_MAX_HEADER_BYTES (64 * 1024)
#define ANSWER_MAX_BODY_BYTES (7 * 1024 * 1024)

enum runtime_client_state {
    RUNTIME_IDLE,
    RUNTIME_CONNECTING,
    RUNTIME_SENDING, /* streaming a body */
    RUNTIME_WAITING, /* request sent, reading the answer */
};

struct runtime_client {
    struct conn_context *conns;
    char host[256];
    uint16_t port;
    struct conn *conn;
    int connected;
    enum runtime_client_state state;
    struct http_reader reader;
    struct buf request; /* held until the connection is open */
    runtime_answer_cb on_answer;
    void *ctx;
    int freeing;
};

static void answer(struct runtime_client *rc, int status, const struct http_message *m,
                   const char *cause)
{
    runtime_answer_cb cb = rc->on_answer;
    rc->on_answer = NULL;
    rc->state = RUNTIME_IDLE;
    if (cb)
        cb(rc->ctx, status, m, cause);
}

static void on_data(struct conn *conn, const char *data, size_t len)
{
    struct runtime_client *rc = conn_user(conn);
    if (rc->state != RUNTIME_WAITING && rc->state != RUNTIME_SENDING)
        return;
    ssize_t n = http_reader_feed(&rc->reader, data, len);
    if (n < 0) {
        char cause[200];
        snprintf(cause, sizeof(cause), "bad answer from the Runtime API: %s", rc->reader.error);
        conn_close(conn, -EPROTO, cause);
        return;
    }
    if (rc->reader.state != HTTP_READER_COMPLETE)
        return;
    if (!rc->reader.message.keep_alive)
        conn_close(conn, 0, NULL);
    answer(rc, rc->reader.message.status, &rc->reader.message, NULL);
    http_reader_reset(&rc->reader);
}

static void on_open(struct conn *conn, int status, const char *cause)
{
    struct runtime_client *rc = conn_user(conn);
    if (status < 0)
        return; /* on_close reports it */
    rc->connected = 1;
    if (buf_length(&rc->request) > 0) {
        conn_write(conn, buf_bytes(&rc->request), buf_length(&rc->request));
        buf_reset(&rc->request);
    }
    if (rc->state == RUNTIME_CONNECTING)
        rc->state = RUNTIME_WAITING;
    (void)cause;
}

static void on_close(struct conn *conn, int status, const char *cause)
{
    struct runtime_client *rc = conn_user(conn);
    if (rc->conn == conn) {
        rc->conn = NULL;
        rc->connected = 0;
    }
    if (rc->freeing) {
        http_reader_free(&rc->reader);
        buf_free(&rc->request);
        free(rc);
        return;
    }
    http_reader_finish(&rc->reader);
    if (rc->state != RUNTIME_IDLE) {
        char why[256];
        snprintf(why, sizeof(why), "Runtime API connection lost: %s",
                 cause ? cause : "closed by the service");
        http_reader_reset(&rc->reader);
        answer(rc, status < 0 ? status : -ECONNRESET, NULL, why);
    }
}

static const struct conn_callbacks callbacks = {on_open, on_data, on_close};

struct runtime_client *runtime_client_new(struct conn_context *conns, const char *host,
                                          uint16_t port)
{
    struct runtime_client *rc = calloc(1, sizeof(*rc));
    if (!rc)
        return NULL;
    rc->conns = conns;
    snprintf(rc->host, sizeof(rc->host), "%s", host);
    rc->port = port;
    struct http_limits limits = {ANSWER_MAX_HEADER_BYTES, ANSWER_MAX_BODY_BYTES};
    http_reader_init(&rc->reader, HTTP_RESPONSE, &limits);
    return rc;
}

void runtime_client_free(struct runtime_client *rc)
{
    if (!rc)
        return;
    rc->on_answer = NULL;
    if (rc->conn) {
        rc->freeing = 1;
        conn_close(rc->conn, 0, NULL);
        return;
    }
    http_reader_free(&rc->reader);
    buf_free(&rc->request);
    free(rc);
}

/* Sends bytes now, or keeps them until the connection is open. */
static int send_bytes(struct runtime_client *rc, const void *data, size_t len)
{
    if (rc->connected)
        return conn_write(rc->conn, data, len);
    return buf_append(&rc->request, data, len);
}

static int start(struct runtime_client *rc, runtime_answer_cb on_answer, void *ctx)
{
    if (rc->state != RUNTIME_IDLE)
        return -EBUSY;
    rc->on_answer = on_answer;
    rc->ctx = ctx;
    http_reader_reset(&rc->reader);
    if (rc->conn && !conn_is_closing(rc->conn))
        return 0;
    rc->connected = 0;
    rc->state = RUNTIME_CONNECTING;
    return conn_connect(rc->conns, rc->host, rc->port, NULL, NULL, &callbacks, rc, &rc->conn);
}

static int write_head(struct runtime_client *rc, const char *method, const char *path,
                      const char *headers, const char *framing)
{
    struct buf head = BUF_INIT;
    int rc_ = buf_printf(&head, "%s %s HTTP/1.1\r\nHost: %s:%u\r\n%s%s\r\n", method, path, rc->host,
                         rc->port, headers ? headers : "", framing);
    if (rc_ == 0)
        rc_ = send_bytes(rc, buf_bytes(&head), buf_length(&head));
    buf_free(&head);
    return rc_;
}

int runtime_client_request(struct runtime_client *rc, const char *method, const char *path,
                           const char *headers, const void *body, size_t len,
                           runtime_answer_cb on_answer, void *ctx)
{
    int err = start(rc, on_answer, ctx);
    if (err < 0)
        return err;
    char framing[64];
    snprintf(framing, sizeof(framing), "Content-Length: %zu\r\n", len);
    err = write_head(rc, method, path, headers, framing);
    if (err == 0 && len > 0)
        err = send_bytes(rc, body, len);
    if (rc->state != RUNTIME_CONNECTING)
        rc->state = RUNTIME_WAITING;
    return err;
}

int runtime_client_stream_begin(struct runtime_client *rc, const char *path, const char *headers,
                                runtime_answer_cb on_answer, void *ctx)
{
    int err = start(rc, on_answer, ctx);
    if (err < 0)
        return err;
    err = write_head(rc, "POST", path, headers, "Transfer-Encoding: chunked\r\n");
    rc->state = RUNTIME_SENDING;
    return err;
}

int runtime_client_stream_write(struct runtime_client *rc, const void *data, size_t len)
{
    if (rc->state != RUNTIME_SENDING)
        return -EPIPE;
    if (len == 0)
        return 0; /* an empty chunk would end the body */
    char size[24];
    int n = snprintf(size, sizeof(size), "%zx\r\n", len);
    int err = send_bytes(rc, size, (size_t)n);
    if (err == 0)
        err = send_bytes(rc, data, len);
    if (err == 0)
        err = send_bytes(rc, "\r\n", 2);
    return err;
}

int runtime_client_stream_end(struct runtime_client *rc, const char *trailers)
{
    if (rc->state != RUNTIME_SENDING)
        return -EPIPE;
    int err = send_bytes(rc, "0\r\n", 3);
    if (err == 0 && trailers)
        err = send_bytes(rc, trailers, strlen(trailers));
    if (err == 0)
        err = send_bytes(rc, "\r\n", 2);
    rc->state = RUNTIME_WAITING;
    return err;
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
