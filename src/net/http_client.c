/* The HTTP/1.1 client (see http_client.h).
 *
 * A connection that is dropped (keep-alive refused, a bad answer, a timeout,
 * a cancel) is detached at once: c->conn forgets it, and its late callbacks
 * only count it closed. The client's memory is released only from an
 * outermost callback (or http_client_free itself), once it is freed, no
 * callback of the caller is running and every connection and the timer have
 * closed, so nothing on the stack ever points into freed memory. */
#include "net/http_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "http"
#include "core/cause.h"
#include "core/encoding.h"
#include "core/log.h"

#define DEFAULT_MAX_BODY_BYTES (1024 * 1024)
#define MAX_ATTEMPTS 2 /* the first try and one retry on a new connection */
#define CAUSE_LEN 400

enum timer_phase { TIMER_NONE, TIMER_READY, TIMER_CLOSING };

struct http_client {
    struct conn_context *conns;
    struct http_client_config config; /* host, host_header, proxy point below */
    char host[HTTP_CLIENT_MAX_HOST + 1];
    char host_header[HTTP_CLIENT_MAX_HOST + 10];
    struct proxy_config proxy;
    enum http_client_state state;
    struct conn *conn;     /* the connection requests go to, or NULL */
    int conn_open;         /* its on_open reported success */
    unsigned conn_answers; /* answers read on it: more than 0 means reused */
    size_t conns_open;     /* connections, current or dropped, not yet closed */
    struct http_reader reader;
    struct buf pending;  /* bytes written before the connection opened */
    struct buf retained; /* the whole request, kept for one retry */
    unsigned attempts;
    size_t received; /* bytes of the current answer */
    http_client_answer_cb on_answer;
    void *user;
    uv_timer_t timer;
    enum timer_phase timer_phase;
    int delivering; /* inside the caller's answer callback */
    int freed;
};

static const struct conn_callbacks callbacks;

const char *http_client_state_name(enum http_client_state state)
{
    static const char *const names[] = {"idle", "streaming", "waiting"};
    return (unsigned)state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

/* The only place the state changes. */
static void set_state(struct http_client *c, enum http_client_state state)
{
    if (c->state != state)
        log_trace("%s: %s -> %s", c->host_header, http_client_state_name(c->state),
                  http_client_state_name(state));
    c->state = state;
}

enum http_client_state http_client_state(const struct http_client *c)
{
    return c->state;
}

int http_client_connected(const struct http_client *c)
{
    return c->conn != NULL && c->conn_open;
}

/* ---- life cycle ---- */

static void maybe_release(struct http_client *c)
{
    if (!c->freed || c->delivering || c->conns_open > 0 || c->timer_phase != TIMER_NONE)
        return;
    void (*on_released)(void *) = c->config.on_released;
    void *user = c->config.released_user;
    http_reader_free(&c->reader);
    buf_free(&c->pending);
    buf_free(&c->retained);
    proxy_config_wipe(&c->proxy);
    free(c);
    if (on_released)
        on_released(user);
}

static void on_timer_closed(uv_handle_t *handle)
{
    struct http_client *c = handle->data;
    c->timer_phase = TIMER_NONE;
    maybe_release(c);
}

static int copy_config(struct http_client *c, const struct http_client_config *config)
{
    if (!config->host || !config->host[0] || strlen(config->host) > HTTP_CLIENT_MAX_HOST ||
        config->port == 0)
        return -EINVAL;
    c->config = *config;
    snprintf(c->host, sizeof(c->host), "%s", config->host);
    c->config.host = c->host;
    if (config->host_header)
        snprintf(c->host_header, sizeof(c->host_header), "%s", config->host_header);
    else
        snprintf(c->host_header, sizeof(c->host_header), strchr(c->host, ':') ? "[%s]:%u" : "%s:%u",
                 c->host, (unsigned)config->port);
    c->config.host_header = c->host_header;
    if (config->proxy) {
        c->proxy = *config->proxy;
        c->config.proxy = &c->proxy;
    }
    if (!c->config.limits.max_header_bytes)
        c->config.limits.max_header_bytes = HTTP_CLIENT_DEFAULT_MAX_HEADER_BYTES;
    if (!c->config.limits.max_body_bytes)
        c->config.limits.max_body_bytes = DEFAULT_MAX_BODY_BYTES;
    return 0;
}

int http_client_new(struct conn_context *conns, const struct http_client_config *config,
                    struct http_client **out)
{
    struct http_client *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    int rc = copy_config(c, config);
    if (rc < 0) {
        proxy_config_wipe(&c->proxy);
        free(c);
        return rc;
    }
    c->conns = conns;
    http_reader_init(&c->reader, HTTP_RESPONSE, &c->config.limits);
    *out = c;
    return 0;
}

/* ---- the connection ---- */

static int open_conn(struct http_client *c)
{
    c->conn_open = 0;
    c->conn_answers = 0;
    int rc = conn_connect_via(c->conns, c->host, c->config.port, c->config.tls, NULL,
                              c->config.proxy, &callbacks, c, &c->conn);
    if (rc < 0) {
        c->conn = NULL;
        return rc;
    }
    c->conns_open++;
    log_debug("connecting to %s%s", c->host_header, c->config.tls ? " (TLS)" : "");
    return 0;
}

/* Forgets the connection and closes it; its on_close only counts it. */
static void drop_conn(struct http_client *c, int status, const char *cause)
{
    struct conn *conn = c->conn;
    if (!conn)
        return;
    c->conn = NULL;
    c->conn_open = 0;
    conn_close(conn, status, cause);
}

static int send_bytes(struct http_client *c, const void *data, size_t len)
{
    if (c->conn_open)
        return conn_write(c->conn, data, len);
    return buf_append(&c->pending, data, len);
}

/* ---- the timer ---- */

static void on_timeout(uv_timer_t *timer);

static void arm_timer(struct http_client *c)
{
    if (!c->config.timeout_ms)
        return;
    if (c->timer_phase == TIMER_NONE) {
        uv_timer_init(conn_context_loop(c->conns), &c->timer);
        c->timer.data = c;
        c->timer_phase = TIMER_READY;
    }
    uv_timer_start(&c->timer, on_timeout, c->config.timeout_ms, 0);
}

static void stop_timer(struct http_client *c)
{
    if (c->timer_phase == TIMER_READY)
        uv_timer_stop(&c->timer);
}

/* ---- answers ---- */

/* Ends the request in progress and reports its outcome. */
static void deliver(struct http_client *c, int status, const struct http_message *m,
                    const char *cause)
{
    http_client_answer_cb cb = c->on_answer;
    void *user = c->user;
    c->on_answer = NULL;
    stop_timer(c);
    set_state(c, HTTP_CLIENT_IDLE);
    buf_free(&c->retained);
    buf_free(&c->pending);
    c->delivering = 1;
    if (cb)
        cb(user, status, m, cause);
    c->delivering = 0;
    /* The message was borrowed for the callback only; a request the callback
     * started cannot have received a byte yet. */
    if (c->config.wipe_answers && c->reader.message.body.data)
        secure_wipe(c->reader.message.body.data, c->reader.message.body.cap);
    http_reader_reset(&c->reader);
}

static void complete(struct http_client *c, int clean)
{
    /* An answer that came before the streamed body ended leaves the
     * connection mid-request: it cannot carry another one. */
    int keep = clean && c->reader.message.keep_alive && c->state == HTTP_CLIENT_WAITING;
    if (keep)
        c->conn_answers++;
    else
        drop_conn(c, 0, NULL);
    deliver(c, c->reader.message.status, &c->reader.message, NULL);
}

static int may_retry(const struct http_client *c)
{
    return c->config.retry_on_reused && c->state == HTTP_CLIENT_WAITING &&
           buf_length(&c->retained) > 0 && c->conn_answers > 0 && c->received == 0 &&
           c->attempts < MAX_ATTEMPTS;
}

/* Sends the retained request again on a new connection. */
static void retry(struct http_client *c)
{
    log_debug("keep-alive connection to %s closed before answering; retrying on a new one",
              c->host_header);
    c->attempts++;
    int rc = open_conn(c);
    if (rc == 0)
        rc = buf_append(&c->pending, buf_bytes(&c->retained), buf_length(&c->retained));
    if (rc < 0) {
        char why[CAUSE_LEN];
        snprintf(why, sizeof(why), "reconnecting to %s: %s", c->host_header, uv_strerror(rc));
        drop_conn(c, rc, why);
        deliver(c, rc, NULL, why);
    }
}

/* The request's connection closed before its answer was complete. */
static void lost(struct http_client *c, int was_open, int status, const char *cause)
{
    if (was_open && may_retry(c)) {
        retry(c);
        return;
    }
    if (c->reader.state == HTTP_READER_READING && c->reader.message.status > 0) {
        http_reader_finish(&c->reader); /* a body delimited by the close */
        if (c->reader.state == HTTP_READER_COMPLETE) {
            deliver(c, c->reader.message.status, &c->reader.message, NULL);
            return;
        }
    }
    char why[CAUSE_LEN];
    if (was_open)
        snprintf(why, sizeof(why), "connection closed before the answer (%s)",
                 cause ? cause : "connection closed");
    else
        snprintf(why, sizeof(why), "%s", cause ? cause : "connection failed");
    deliver(c, status < 0 ? status : -ECONNRESET, NULL, why);
}

/* ---- connection callbacks ---- */

static void on_open(struct conn *conn, int status, const char *cause)
{
    struct http_client *c = conn_user(conn);
    (void)cause;
    if (conn != c->conn || status < 0)
        return; /* a failure is reported by on_close, which follows */
    c->conn_open = 1;
    if (buf_length(&c->pending) > 0)
        conn_write(conn, buf_bytes(&c->pending), buf_length(&c->pending));
    buf_free(&c->pending);
}

static void on_data(struct conn *conn, const char *data, size_t len)
{
    struct http_client *c = conn_user(conn);
    if (conn != c->conn)
        return;
    if (c->state == HTTP_CLIENT_IDLE) {
        drop_conn(c, -EPROTO, "unexpected data from the HTTP server");
        return;
    }
    c->received += len;
    ssize_t n = http_reader_feed(&c->reader, data, len);
    if (n < 0) {
        char why[CAUSE_LEN];
        snprintf(why, sizeof(why), "bad HTTP answer: %s", c->reader.error);
        drop_conn(c, -EPROTO, why);
        deliver(c, -EPROTO, NULL, why);
    } else if (c->reader.state == HTTP_READER_COMPLETE) {
        complete(c, (size_t)n == len);
    }
    maybe_release(c);
}

static void on_close(struct conn *conn, int status, const char *cause)
{
    struct http_client *c = conn_user(conn);
    c->conns_open--;
    if (conn == c->conn) {
        int was_open = c->conn_open;
        c->conn = NULL;
        c->conn_open = 0;
        if (c->state != HTTP_CLIENT_IDLE)
            lost(c, was_open, status, cause);
    }
    maybe_release(c);
}

static const struct conn_callbacks callbacks = {on_open, on_data, on_close};

static void on_timeout(uv_timer_t *timer)
{
    struct http_client *c = timer->data;
    if (c->state == HTTP_CLIENT_IDLE)
        return;
    char why[80];
    snprintf(why, sizeof(why), "no answer within %u ms", (unsigned)c->config.timeout_ms);
    drop_conn(c, -ETIMEDOUT, why);
    deliver(c, -ETIMEDOUT, NULL, why);
    maybe_release(c);
}

/* ---- requests ---- */

static int start(struct http_client *c, http_client_answer_cb on_answer, void *user)
{
    if (c->freed)
        return -EINVAL;
    if (c->state != HTTP_CLIENT_IDLE)
        return -EBUSY;
    if (c->conn && conn_is_closing(c->conn))
        drop_conn(c, 0, NULL); /* the server closed it between requests */
    if (!c->conn) {
        int rc = open_conn(c);
        if (rc < 0)
            return rc;
    }
    c->on_answer = on_answer;
    c->user = user;
    c->received = 0;
    c->attempts = 1;
    arm_timer(c);
    return 0;
}

static int format_head(const struct http_client *c, const struct http_client_request *r,
                       const char *framing, struct buf *out)
{
    return buf_printf(out, "%s %s HTTP/1.1\r\nHost: %s\r\n%s%s\r\n", r->method, r->target,
                      c->host_header, r->headers ? r->headers : "", framing);
}

/* A request that could not be written is dropped without a callback. */
static int abandon(struct http_client *c, int rc)
{
    http_client_cancel(c, rc, "writing the request failed");
    return rc;
}

int http_client_request(struct http_client *c, const struct http_client_request *r,
                        http_client_answer_cb on_answer, void *user)
{
    int rc = start(c, on_answer, user);
    if (rc < 0)
        return rc;
    char framing[48];
    snprintf(framing, sizeof(framing), "Content-Length: %zu\r\n", r->body_len);
    set_state(c, HTTP_CLIENT_WAITING);
    if (c->config.retry_on_reused) {
        /* Kept whole, to be sent again on a new connection. */
        rc = format_head(c, r, framing, &c->retained);
        if (rc == 0 && r->body_len)
            rc = buf_append(&c->retained, r->body, r->body_len);
        if (rc == 0)
            rc = send_bytes(c, buf_bytes(&c->retained), buf_length(&c->retained));
        return rc < 0 ? abandon(c, rc) : 0;
    }
    /* No retry: the body (up to 6 MB on the bridge's path) is copied once,
     * into the connection's output, not first into a copy of the request. */
    struct buf head = BUF_INIT;
    rc = format_head(c, r, framing, &head);
    if (rc == 0)
        rc = send_bytes(c, buf_bytes(&head), buf_length(&head));
    buf_free(&head);
    if (rc == 0 && r->body_len)
        rc = send_bytes(c, r->body, r->body_len);
    return rc < 0 ? abandon(c, rc) : 0;
}

int http_client_stream_begin(struct http_client *c, const struct http_client_request *r,
                             http_client_answer_cb on_answer, void *user)
{
    int rc = start(c, on_answer, user);
    if (rc < 0)
        return rc;
    set_state(c, HTTP_CLIENT_STREAMING);
    struct buf head = BUF_INIT;
    rc = format_head(c, r, "Transfer-Encoding: chunked\r\n", &head);
    if (rc == 0)
        rc = send_bytes(c, buf_bytes(&head), buf_length(&head));
    buf_free(&head);
    return rc < 0 ? abandon(c, rc) : 0;
}

int http_client_stream_write(struct http_client *c, const void *data, size_t len)
{
    if (c->state != HTTP_CLIENT_STREAMING)
        return -EPIPE;
    if (len == 0)
        return 0; /* an empty chunk would end the body */
    char size[24];
    int n = snprintf(size, sizeof(size), "%zx\r\n", len);
    int rc = send_bytes(c, size, (size_t)n);
    if (rc == 0)
        rc = send_bytes(c, data, len);
    if (rc == 0)
        rc = send_bytes(c, "\r\n", 2);
    return rc;
}

int http_client_stream_end(struct http_client *c, const char *trailers)
{
    if (c->state != HTTP_CLIENT_STREAMING)
        return -EPIPE;
    int rc = send_bytes(c, "0\r\n", 3);
    if (rc == 0 && trailers)
        rc = send_bytes(c, trailers, strlen(trailers));
    if (rc == 0)
        rc = send_bytes(c, "\r\n", 2);
    set_state(c, HTTP_CLIENT_WAITING);
    return rc;
}

void http_client_cancel(struct http_client *c, int status, const char *cause)
{
    if (c->state == HTTP_CLIENT_IDLE)
        return;
    c->on_answer = NULL;
    stop_timer(c);
    drop_conn(c, status, cause);
    set_state(c, HTTP_CLIENT_IDLE);
    buf_free(&c->retained);
    buf_free(&c->pending);
    http_reader_reset(&c->reader);
}

void http_client_free(struct http_client *c)
{
    if (!c || c->freed)
        return;
    c->freed = 1;
    c->on_answer = NULL;
    drop_conn(c, 0, NULL);
    if (c->timer_phase == TIMER_READY) {
        c->timer_phase = TIMER_CLOSING;
        uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    }
    maybe_release(c);
}

/* ---- one blocking request ---- */

struct run {
    struct http_client *client;
    http_client_answer_cb on_answer;
    void *user;
    int done;
    int status;
    char cause[CAUSE_LEN];
};

static void run_on_answer(void *user, int status, const struct http_message *m, const char *cause)
{
    struct run *r = user;
    r->done = 1;
    r->status = status;
    if (status >= 0)
        r->on_answer(r->user, status, m, NULL);
    else
        snprintf(r->cause, sizeof(r->cause), "%s", cause ? cause : "request failed");
    http_client_free(r->client); /* the loop ends once its connection has closed */
    r->client = NULL;
}

int http_client_run(const struct http_client_config *config,
                    const struct http_client_request *request, http_client_answer_cb on_answer,
                    void *user, char *cause, size_t cause_len)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop) < 0)
        return cause_set(cause, cause_len, -ENOMEM, "out of memory");
    struct run r = {.on_answer = on_answer, .user = user};
    struct conn_context *ctx = conn_context_new(&loop);
    int rc = ctx ? http_client_new(ctx, config, &r.client) : -ENOMEM;
    if (rc == 0)
        rc = http_client_request(r.client, request, run_on_answer, &r);
    if (rc < 0) {
        snprintf(r.cause, sizeof(r.cause), "connecting to %s:%u: %s", config->host,
                 (unsigned)config->port, uv_strerror(rc));
        http_client_free(r.client);
        r.client = NULL;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (ctx)
        conn_context_free(ctx);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (rc == 0 && !r.done)
        rc = -EIO;
    else if (rc == 0 && r.status < 0)
        rc = r.status;
    if (rc < 0)
        snprintf(cause, cause_len, "%s", r.cause[0] ? r.cause : "no answer");
    return rc;
}
