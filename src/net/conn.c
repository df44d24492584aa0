#include "net/conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "conn"
#include "core/log.h"
#include "net/proxy.h"

#define READ_BUFFER_SIZE (64 * 1024)
/* How long an orderly close keeps draining the peer's input. */
#define LINGER_MS 2000

struct conn_context {
    uv_loop_t *loop;
    /* Buffered output is flushed after each iteration's I/O callbacks (check)
     * and again right before the loop blocks (prepare), so bytes written from
     * timer or close callbacks never wait for the next wake-up. */
    uv_check_t flush_check;
    uv_prepare_t flush_prepare;
    struct conn *dirty; /* connections with unflushed output */
    char read_buffer[READ_BUFFER_SIZE];
    int read_buffer_busy;
    struct buf tls_plain; /* scratch for decrypted input */
};

/* A connection made through an HTTP proxy: from the TCP connect to the proxy
 * until it answers CONNECT. Plaintext written meanwhile waits in `held` (with
 * TLS it waits inside the TLS session, which starts once the tunnel is up). */
struct conn_tunnel {
    struct proxy_config proxy; /* its authorization is wiped with the tunnel */
    char target_host[256];
    uint16_t target_port;
    struct buf answer; /* the proxy's answer so far */
    struct buf held;
};

struct write_request {
    uv_write_t req;
    struct conn *conn;
    char *data;
    size_t len;
};

struct conn {
    uv_tcp_t tcp;
    struct conn_context *ctx;
    struct conn_callbacks callbacks;
    void *user;
    struct tls_session *tls;
    struct buf out;   /* unsent bytes (ciphertext when TLS) */
    size_t in_flight; /* bytes owned by a pending uv_write */
    size_t output_limit;
    enum conn_state state;
    /* Three facts that are independent of the state, so they stay bits:
     * `dirty`: listed in ctx->dirty (unflushed output), in any state;
     * `reading`: libuv is reading, which the owner switches off and on
     *   (back-pressure) in any state where bytes flow;
     * `resolve_pending`: a name lookup is in flight; libuv cannot cancel it
     *   at once, so it outlives a close and holds the memory until it
     *   returns (on_resolved then finishes the close). */
    int dirty;
    int reading;
    int resolve_pending;
    struct conn *next_dirty;
    uv_shutdown_t shutdown_req;
    uv_timer_t *linger_timer;
    int close_status;
    char close_cause[160];
    char peer[64];
    /* connect state */
    uv_getaddrinfo_t resolve;
    uv_connect_t connect_req;
    char server_name[256];
    uint16_t port;
    struct conn_tunnel *tunnel; /* set until the proxy's tunnel is up */
};

struct conn_listener {
    uv_tcp_t tcp;
    struct conn_context *ctx;
    struct tls_config *tls;
    conn_accept_cb on_accept;
    void *user;
    uint16_t port;
};

static const char *const state_names[] = {
    [CONN_RESOLVING] = "resolving", [CONN_CONNECTING] = "connecting",
    [CONN_TUNNELING] = "tunneling", [CONN_HANDSHAKING] = "handshaking",
    [CONN_OPEN] = "open",           [CONN_LINGERING] = "lingering",
    [CONN_CLOSING] = "closing",
};

const char *conn_state_name(enum conn_state state)
{
    return state_names[state];
}

enum conn_state conn_get_state(const struct conn *conn)
{
    return conn->state;
}

/* The one place the state changes. */
static void enter_state(struct conn *conn, enum conn_state state)
{
    if (conn->state == state)
        return;
    log_trace("%s: %s -> %s", conn->peer, state_names[conn->state], state_names[state]);
    conn->state = state;
}

/* TCP is up and the handle is not closing: bytes (a TLS handshake or a
 * CONNECT included) may be sent. */
static int can_send(const struct conn *conn)
{
    return conn->state >= CONN_TUNNELING && conn->state <= CONN_LINGERING &&
           !uv_is_closing((const uv_handle_t *)&conn->tcp);
}

static void flush_dirty(uv_check_t *check);
static void flush_dirty_before_poll(uv_prepare_t *prepare);
static void start_reading(struct conn *conn);
static int flush_now(struct conn *conn);

struct conn_context *conn_context_new(uv_loop_t *loop)
{
    struct conn_context *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return NULL;
    ctx->loop = loop;
    uv_check_init(loop, &ctx->flush_check);
    ctx->flush_check.data = ctx;
    uv_check_start(&ctx->flush_check, flush_dirty);
    uv_unref((uv_handle_t *)&ctx->flush_check);
    uv_prepare_init(loop, &ctx->flush_prepare);
    ctx->flush_prepare.data = ctx;
    uv_prepare_start(&ctx->flush_prepare, flush_dirty_before_poll);
    uv_unref((uv_handle_t *)&ctx->flush_prepare);
    return ctx;
}

static void free_context(uv_handle_t *handle)
{
    struct conn_context *ctx = handle->data;
    buf_free(&ctx->tls_plain);
    free(ctx);
}

void conn_context_free(struct conn_context *ctx)
{
    if (!ctx)
        return;
    uv_check_stop(&ctx->flush_check);
    uv_prepare_stop(&ctx->flush_prepare);
    uv_close((uv_handle_t *)&ctx->flush_prepare, NULL);
    /* Handles close in order: the context is freed with the last one. */
    uv_close((uv_handle_t *)&ctx->flush_check, free_context);
}

uv_loop_t *conn_context_loop(struct conn_context *ctx)
{
    return ctx->loop;
}

static struct conn *conn_new(struct conn_context *ctx)
{
    struct conn *conn = calloc(1, sizeof(*conn));
    if (!conn)
        return NULL;
    conn->ctx = ctx;
    conn->output_limit = CONN_DEFAULT_OUTPUT_LIMIT;
    uv_tcp_init(ctx->loop, &conn->tcp);
    conn->tcp.data = conn;
    return conn;
}

static void mark_dirty(struct conn *conn)
{
    if (conn->dirty)
        return;
    conn->dirty = 1;
    conn->next_dirty = conn->ctx->dirty;
    conn->ctx->dirty = conn;
}

static void tunnel_free(struct conn *conn)
{
    struct conn_tunnel *t = conn->tunnel;
    if (!t)
        return;
    conn->tunnel = NULL;
    proxy_config_wipe(&t->proxy);
    buf_free(&t->answer);
    buf_free(&t->held);
    free(t);
}

static void on_handle_closed(uv_handle_t *handle)
{
    struct conn *conn = handle->data;
    if (conn->callbacks.on_close)
        conn->callbacks.on_close(conn, conn->close_status,
                                 conn->close_cause[0] ? conn->close_cause : NULL);
    tunnel_free(conn);
    tls_session_free(conn->tls);
    buf_free(&conn->out);
    free(conn);
}

static void unlink_dirty(struct conn *conn)
{
    if (!conn->dirty)
        return;
    for (struct conn **p = &conn->ctx->dirty; *p; p = &(*p)->next_dirty) {
        if (*p == conn) {
            *p = conn->next_dirty;
            break;
        }
    }
    conn->dirty = 0;
}

/* Closes the handle now; pending writes are cancelled by libuv. */
static void close_handle(struct conn *conn)
{
    unlink_dirty(conn);
    enter_state(conn, CONN_CLOSING);
    if (conn->resolve_pending)
        return; /* on_resolved sees CONN_CLOSING and comes back here */
    if (conn->linger_timer) {
        uv_timer_stop(conn->linger_timer);
        uv_close((uv_handle_t *)conn->linger_timer, (uv_close_cb)free);
        conn->linger_timer = NULL;
    }
    if (!uv_is_closing((uv_handle_t *)&conn->tcp))
        uv_close((uv_handle_t *)&conn->tcp, on_handle_closed);
}

static void on_linger_timeout(uv_timer_t *timer)
{
    close_handle(timer->data);
}

static void on_shutdown_done(uv_shutdown_t *req, int status)
{
    if (status < 0 && status != UV_ECANCELED)
        close_handle(req->data);
}

/* An orderly close: send what is buffered, shut down the sending side, and
 * read (and drop) what the peer still sends until it closes too. Closing with
 * unread input would make the kernel answer with a reset, which can destroy
 * our last bytes (an error answer, a WebSocket close frame) before the peer
 * reads them. */
static void start_linger(struct conn *conn)
{
    conn->shutdown_req.data = conn;
    conn->linger_timer = malloc(sizeof(*conn->linger_timer));
    if (!conn->linger_timer ||
        uv_shutdown(&conn->shutdown_req, (uv_stream_t *)&conn->tcp, on_shutdown_done) < 0) {
        close_handle(conn);
        return;
    }
    uv_timer_init(conn->ctx->loop, conn->linger_timer);
    conn->linger_timer->data = conn;
    uv_timer_start(conn->linger_timer, on_linger_timeout, LINGER_MS, 0);
    start_reading(conn);
}

void conn_close(struct conn *conn, int status, const char *cause)
{
    if (conn_is_closing(conn))
        return;
    conn->close_status = status;
    if (cause)
        snprintf(conn->close_cause, sizeof(conn->close_cause), "%s", cause);
    /* An orderly close sends what is buffered first; an error close does not wait. */
    if (status == 0 && can_send(conn)) {
        /* Closing from here on: writes are refused, and a failed flush
         * keeps this close's status. */
        enter_state(conn, CONN_LINGERING);
        if (buf_length(&conn->out) > 0)
            flush_now(conn);
        if (can_send(conn)) {
            start_linger(conn);
            return;
        }
    }
    if (conn->reading) {
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = 0;
    }
    close_handle(conn);
}

int conn_is_closing(const struct conn *conn)
{
    return conn->state == CONN_LINGERING || conn->state == CONN_CLOSING;
}

static void fail(struct conn *conn, int status, const char *cause)
{
    if (!conn_is_closing(conn)) {
        conn->close_status = status;
        snprintf(conn->close_cause, sizeof(conn->close_cause), "%s", cause);
    }
    if (conn->reading) {
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = 0;
    }
    close_handle(conn);
}

static void on_write_done(uv_write_t *req, int status)
{
    struct write_request *wr = (struct write_request *)req;
    struct conn *conn = wr->conn;
    conn->in_flight -= wr->len;
    free(wr->data);
    free(wr);
    if (status < 0) {
        if (status != UV_ECANCELED)
            fail(conn, status, uv_strerror(status));
        return;
    }
    if (buf_length(&conn->out) > 0) {
        flush_now(conn);
        return;
    }
    /* A lingering close ends through its shutdown and input drain. */
}

/* Hands buffered bytes to the kernel: a direct try_write first, the rest
 * through one uv_write that takes over the buffer's storage. */
static int flush_now(struct conn *conn)
{
    if (conn->in_flight > 0 || buf_length(&conn->out) == 0)
        return 0;
    uv_buf_t b = uv_buf_init(buf_bytes(&conn->out), (unsigned)buf_length(&conn->out));
    int n = uv_try_write((uv_stream_t *)&conn->tcp, &b, 1);
    if (n < 0 && n != UV_EAGAIN) {
        fail(conn, n, uv_strerror(n));
        return n;
    }
    if (n > 0)
        buf_consume(&conn->out, (size_t)n);
    if (buf_length(&conn->out) == 0)
        return 0;
    struct write_request *wr = calloc(1, sizeof(*wr));
    if (!wr) {
        fail(conn, -ENOMEM, "out of memory");
        return -ENOMEM;
    }
    wr->conn = conn;
    wr->data = buf_steal(&conn->out, &wr->len);
    /* buf_steal moved the unread bytes to the front of the storage. */
    conn->in_flight += wr->len;
    b = uv_buf_init(wr->data, (unsigned)wr->len);
    int rc = uv_write(&wr->req, (uv_stream_t *)&conn->tcp, &b, 1, on_write_done);
    if (rc < 0) {
        conn->in_flight -= wr->len;
        free(wr->data);
        free(wr);
        fail(conn, rc, uv_strerror(rc));
        return rc;
    }
    return 0;
}

static void flush_all(struct conn_context *ctx)
{
    while (ctx->dirty) {
        struct conn *conn = ctx->dirty;
        ctx->dirty = conn->next_dirty;
        conn->dirty = 0;
        if (can_send(conn))
            flush_now(conn);
    }
}

static void flush_dirty(uv_check_t *check)
{
    flush_all(check->data);
}

static void flush_dirty_before_poll(uv_prepare_t *prepare)
{
    flush_all(prepare->data);
}

void conn_flush(struct conn *conn)
{
    unlink_dirty(conn);
    if (can_send(conn))
        flush_now(conn);
}

static int append_output(struct conn *conn, const void *data, size_t len)
{
    if (conn->tls)
        return tls_session_write(conn->tls, data, len, &conn->out);
    if (conn->tunnel)
        return buf_append(&conn->tunnel->held, data, len);
    return buf_append(&conn->out, data, len);
}

int conn_write(struct conn *conn, const void *data, size_t len)
{
    if (conn_is_closing(conn))
        return -EPIPE;
    if (buf_length(&conn->out) + conn->in_flight + len > conn->output_limit) {
        log_debug("%s: output limit %zu bytes exceeded, closing", conn->peer, conn->output_limit);
        fail(conn, -ENOBUFS, "peer is not reading: output buffer limit exceeded");
        return -ENOBUFS;
    }
    int rc = append_output(conn, data, len);
    if (rc < 0) {
        fail(conn, rc, "out of memory");
        return rc;
    }
    if (buf_length(&conn->out) > 0)
        mark_dirty(conn);
    return 0;
}

size_t conn_pending_output(const struct conn *conn)
{
    return buf_length(&conn->out) + conn->in_flight;
}

static void alloc_read(uv_handle_t *handle, size_t suggested, uv_buf_t *out)
{
    struct conn *conn = handle->data;
    struct conn_context *ctx = conn->ctx;
    (void)suggested;
    /* One shared buffer: libuv reads into it and calls on_read before any other alloc. */
    *out = uv_buf_init(ctx->read_buffer, sizeof(ctx->read_buffer));
}

static void deliver(struct conn *conn, const char *data, size_t len)
{
    if (len > 0 && conn->callbacks.on_data && !conn_is_closing(conn))
        conn->callbacks.on_data(conn, data, len);
}

static void open_done(struct conn *conn)
{
    if (conn->state >= CONN_OPEN)
        return;
    enter_state(conn, CONN_OPEN);
    if (conn->callbacks.on_open)
        conn->callbacks.on_open(conn, 0, NULL);
    if (buf_length(&conn->out) > 0)
        mark_dirty(conn);
}

/* Hands decrypted bytes to the owner. They are copied out of the shared
 * scratch buffer first: the callback may feed another TLS connection. */
static void deliver_plain(struct conn *conn, struct buf *plain)
{
    if (buf_length(plain) == 0)
        return;
    size_t n = buf_length(plain);
    char *copy = buf_steal(plain, NULL);
    deliver(conn, copy, n);
    free(copy);
}

static void on_tls_input(struct conn *conn, const char *data, size_t len)
{
    struct buf *plain = &conn->ctx->tls_plain;
    char cause[200];
    buf_reset(plain);
    int rc = tls_session_feed(conn->tls, data, len, plain, &conn->out, cause, sizeof(cause));
    if (buf_length(&conn->out) > 0)
        mark_dirty(conn);
    if (rc < 0) {
        if (rc == -EPIPE)
            deliver_plain(conn, plain); /* last data and close_notify in one read */
        if (conn->state == CONN_HANDSHAKING && conn->callbacks.on_open)
            conn->callbacks.on_open(conn, rc, cause);
        fail(conn, rc, cause);
        return;
    }
    if (conn->state == CONN_HANDSHAKING && tls_session_established(conn->tls))
        open_done(conn);
    deliver_plain(conn, plain);
}

/* TCP (or the proxy's tunnel) is up: start TLS, or the connection is open. */
static void begin_session(struct conn *conn)
{
    if (conn->tls) {
        enter_state(conn, CONN_HANDSHAKING);
        tls_session_start(conn->tls, &conn->out);
        flush_now(conn);
    } else {
        open_done(conn);
    }
}

static void tunnel_failed(struct conn *conn, int status, const char *cause)
{
    if (conn->callbacks.on_open)
        conn->callbacks.on_open(conn, status, cause);
    fail(conn, status, cause);
}

/* The tunnel is up: what the proxy sent after its answer belongs to the
 * target, and plaintext written meanwhile goes out now. */
static void tunnel_open(struct conn *conn, size_t head_len)
{
    struct conn_tunnel *t = conn->tunnel;
    size_t rest_len = buf_length(&t->answer) - head_len;
    char *rest = rest_len ? malloc(rest_len) : NULL;
    if (rest_len && !rest) {
        tunnel_failed(conn, -ENOMEM, "out of memory");
        return;
    }
    if (rest)
        memcpy(rest, buf_bytes(&t->answer) + head_len, rest_len);
    int rc = buf_append(&conn->out, buf_bytes(&t->held), buf_length(&t->held));
    log_debug("tunnel to %s:%u through %s is up", t->target_host, t->target_port, t->proxy.display);
    tunnel_free(conn);
    if (rc < 0) {
        free(rest);
        tunnel_failed(conn, -ENOMEM, "out of memory");
        return;
    }
    if (buf_length(&conn->out) > 0)
        mark_dirty(conn);
    begin_session(conn);
    if (rest && !conn_is_closing(conn)) {
        if (conn->tls)
            on_tls_input(conn, rest, rest_len);
        else
            deliver(conn, rest, rest_len);
    }
    free(rest);
}

static void on_tunnel_input(struct conn *conn, const char *data, size_t len)
{
    struct conn_tunnel *t = conn->tunnel;
    char cause[600], reason[96];
    int status = 0;
    if (buf_append(&t->answer, data, len) < 0) {
        tunnel_failed(conn, -ENOMEM, "out of memory");
        return;
    }
    ssize_t n = proxy_read_connect_response(buf_bytes(&t->answer), buf_length(&t->answer), &status,
                                            reason, sizeof(reason));
    if (n == 0)
        return;
    if (n < 0) {
        snprintf(cause, sizeof(cause), "proxy %s sent a malformed answer to CONNECT %s:%u",
                 t->proxy.display, t->target_host, t->target_port);
        tunnel_failed(conn, -EPROTO, cause);
        return;
    }
    if (status / 100 != 2) {
        /* 407 is the standard answer; some proxies (tinyproxy) send 401. */
        int auth = status == 407 || status == 401;
        snprintf(cause, sizeof(cause), "proxy %s refused CONNECT %s:%u: %d %s%s", t->proxy.display,
                 t->target_host, t->target_port, status, reason,
                 !auth ? ""
                 : t->proxy.authorization[0]
                     ? " (check the user name and password in the proxy URL)"
                     : " (put user:password@ in the proxy URL)");
        tunnel_failed(conn, auth ? -EACCES : -ECONNREFUSED, cause);
        return;
    }
    tunnel_open(conn, (size_t)n);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b)
{
    struct conn *conn = stream->data;
    if (nread == 0)
        return;
    if (conn->state == CONN_LINGERING) {
        if (nread < 0)
            close_handle(conn); /* the peer closed too: done */
        return;                 /* input after our close is dropped */
    }
    if (nread < 0) {
        if (nread == UV_EOF)
            fail(conn, 0, "connection closed by peer");
        else
            fail(conn, (int)nread, uv_strerror((int)nread));
        return;
    }
    if (conn->tunnel)
        on_tunnel_input(conn, b->base, (size_t)nread);
    else if (conn->tls)
        on_tls_input(conn, b->base, (size_t)nread);
    else
        deliver(conn, b->base, (size_t)nread);
}

static void start_reading(struct conn *conn)
{
    if (conn->reading || conn->state == CONN_CLOSING)
        return;
    if (uv_read_start((uv_stream_t *)&conn->tcp, alloc_read, on_read) == 0)
        conn->reading = 1;
}

void conn_pause_reading(struct conn *conn)
{
    if (conn->reading) {
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = 0;
    }
}

void conn_resume_reading(struct conn *conn)
{
    start_reading(conn);
}

static void name_peer(struct conn *conn)
{
    struct sockaddr_storage addr;
    int len = sizeof(addr);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&conn->tcp, (struct sockaddr *)&addr, &len) == 0) {
        if (addr.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&addr, host, sizeof(host));
            port = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&addr, host, sizeof(host));
            port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
        }
    }
    snprintf(conn->peer, sizeof(conn->peer), "%s:%d", host, port);
}

static void on_connected(uv_connect_t *req, int status)
{
    struct conn *conn = req->data;
    if (conn->state == CONN_CLOSING) {
        close_handle(conn);
        return;
    }
    if (status < 0) {
        char cause[400];
        if (conn->tunnel)
            snprintf(cause, sizeof(cause), "connecting to proxy %s: %s",
                     conn->tunnel->proxy.display, uv_strerror(status));
        else
            snprintf(cause, sizeof(cause), "connecting to %s:%u: %s", conn->server_name, conn->port,
                     uv_strerror(status));
        if (conn->callbacks.on_open)
            conn->callbacks.on_open(conn, status, cause);
        fail(conn, status, cause);
        return;
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    name_peer(conn);
    start_reading(conn);
    if (conn->tunnel) {
        enter_state(conn, CONN_TUNNELING);
        struct conn_tunnel *t = conn->tunnel;
        if (proxy_write_connect(&conn->out, &t->proxy, t->target_host, t->target_port) < 0) {
            tunnel_failed(conn, -ENOMEM, "out of memory");
            return;
        }
        flush_now(conn);
        return;
    }
    begin_session(conn);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct conn *conn = req->data;
    conn->resolve_pending = 0;
    if (status == 0 && conn->state != CONN_CLOSING) {
        conn->connect_req.data = conn;
        status = uv_tcp_connect(&conn->connect_req, &conn->tcp, res->ai_addr, on_connected);
        if (status == 0) {
            enter_state(conn, CONN_CONNECTING);
            uv_freeaddrinfo(res);
            return;
        }
    }
    uv_freeaddrinfo(res);
    if (conn->state == CONN_CLOSING) {
        close_handle(conn);
        return;
    }
    char cause[400];
    if (conn->tunnel)
        snprintf(cause, sizeof(cause), "resolving proxy %s: %s", conn->tunnel->proxy.display,
                 uv_strerror(status));
    else
        snprintf(cause, sizeof(cause), "resolving %s: %s", conn->server_name, uv_strerror(status));
    if (conn->callbacks.on_open)
        conn->callbacks.on_open(conn, status, cause);
    fail(conn, status, cause);
}

static int tunnel_new(struct conn *conn, const struct proxy_config *proxy, const char *host,
                      uint16_t port)
{
    struct conn_tunnel *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->proxy = *proxy;
    snprintf(t->target_host, sizeof(t->target_host), "%s", host);
    t->target_port = port;
    conn->tunnel = t;
    return 0;
}

int conn_connect_via(struct conn_context *ctx, const char *host, uint16_t port,
                     struct tls_config *tls, const char *server_name,
                     const struct proxy_config *proxy, const struct conn_callbacks *callbacks,
                     void *user, struct conn **out)
{
    struct conn *conn = conn_new(ctx);
    if (!conn)
        return -ENOMEM;
    conn->callbacks = *callbacks;
    conn->user = user;
    conn->port = port;
    snprintf(conn->server_name, sizeof(conn->server_name), "%s", server_name ? server_name : host);
    snprintf(conn->peer, sizeof(conn->peer), "%.50s:%u", host, port);
    if ((tls && !(conn->tls = tls_session_new(tls, conn->server_name))) ||
        (proxy && tunnel_new(conn, proxy, host, port) < 0)) {
        tls_session_free(conn->tls);
        uv_close((uv_handle_t *)&conn->tcp, (uv_close_cb)free);
        return -ENOMEM;
    }
    char port_text[8];
    snprintf(port_text, sizeof(port_text), "%u", proxy ? proxy->port : port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    conn->resolve.data = conn;
    conn->resolve_pending = 1;
    int rc = uv_getaddrinfo(ctx->loop, &conn->resolve, on_resolved, proxy ? proxy->host : host,
                            port_text, &hints);
    if (rc < 0) {
        conn->resolve_pending = 0;
        tunnel_free(conn);
        tls_session_free(conn->tls);
        uv_close((uv_handle_t *)&conn->tcp, (uv_close_cb)free);
        return rc;
    }
    *out = conn;
    return 0;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct conn_listener *listener = server->data;
    if (status < 0) {
        log_warn("accept failed: %s", uv_strerror(status));
        return;
    }
    struct conn *conn = conn_new(listener->ctx);
    if (!conn)
        return;
    if (uv_accept(server, (uv_stream_t *)&conn->tcp) < 0) {
        uv_close((uv_handle_t *)&conn->tcp, (uv_close_cb)free);
        return;
    }
    if (listener->tls && !(conn->tls = tls_session_new(listener->tls, NULL))) {
        uv_close((uv_handle_t *)&conn->tcp, (uv_close_cb)free);
        return;
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    name_peer(conn);
    enter_state(conn, conn->tls ? CONN_HANDSHAKING : CONN_OPEN);
    listener->on_accept(listener, conn);
    start_reading(conn);
}

int conn_listen(struct conn_context *ctx, const char *host, uint16_t port, struct tls_config *tls,
                conn_accept_cb on_accept, void *user, struct conn_listener **out, char *cause,
                size_t cause_len)
{
    struct sockaddr_storage addr;
    int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
    if (rc < 0)
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
    if (rc < 0) {
        snprintf(cause, cause_len, "not an IP address: %s", host);
        return -EINVAL;
    }
    struct conn_listener *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->ctx = ctx;
    l->tls = tls;
    l->on_accept = on_accept;
    l->user = user;
    uv_tcp_init(ctx->loop, &l->tcp);
    l->tcp.data = l;
    rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
    if (rc < 0) {
        snprintf(cause, cause_len, "listening on %s:%u: %s", host, port, uv_strerror(rc));
        uv_close((uv_handle_t *)&l->tcp, (uv_close_cb)free);
        return rc;
    }
    int len = sizeof(addr);
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&addr, &len);
    l->port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                               : ((struct sockaddr_in *)&addr)->sin_port);
    *out = l;
    return 0;
}

uint16_t conn_listener_port(const struct conn_listener *listener)
{
    return listener->port;
}

void *conn_listener_user(const struct conn_listener *listener)
{
    return listener->user;
}

void conn_listener_close(struct conn_listener *listener)
{
    uv_close((uv_handle_t *)&listener->tcp, (uv_close_cb)free);
}

void conn_set_callbacks(struct conn *conn, const struct conn_callbacks *callbacks, void *user)
{
    conn->callbacks = *callbacks;
    conn->user = user;
}

void *conn_user(const struct conn *conn)
{
    return conn->user;
}

void conn_set_output_limit(struct conn *conn, size_t limit)
{
    conn->output_limit = limit;
}

const char *conn_peer_name(const struct conn *conn)
{
    return conn->peer;
}
