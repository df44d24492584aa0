/* HTTP/1.1 server, the reading side: connections, requests, bodies,
 * timeouts and the server's lifetime. Answers are written by
 * http_server_answer.c; http_server.h has the contract with handlers. */
#include "net/http_server.h"
#include "net/http_server_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LOG_MODULE "http"
#include "core/log.h"

#define DEFAULT_MAX_HEADER_BYTES (32u * 1024)
#define DEFAULT_MAX_BODY_BYTES (1024u * 1024)
#define DEFAULT_MAX_CONNECTIONS 256
#define DEFAULT_TIMEOUT_MS 60000
#define INPUT_SLACK (64u * 1024) /* unread input kept beyond a head */

static const char *const connection_state_names[] = {"reading-head", "reading-body", "waiting",
                                                     "upgraded", "closing"};

static const char *http_connection_state_name(enum http_connection_state state)
{
    return connection_state_names[state];
}

void http_connection_enter_state(struct http_connection *c, enum http_connection_state state)
{
    if (c->state == state)
        return;
    log_trace("%s %s: %s -> %s", c->server->name, c->conn ? conn_peer_name(c->conn) : "?",
              http_connection_state_name(c->state), http_connection_state_name(state));
    c->state = state;
}

static void process_input(struct http_connection *c);
static void tell_too_large(struct http_connection *c);
static void finish_exchange_if_done(struct http_connection *c);
static void maybe_free_server(struct http_server *server);

/* ---- small helpers ---- */

static void restart_timer(struct http_connection *c, uint64_t timeout_ms);
static void on_ready_idle(uv_idle_t *idle);

void http_connection_mark_ready(struct http_connection *c)
{
    struct http_server *server = c->server;
    if (c->ready || !c->conn)
        return;
    c->ready = 1;
    c->ready_next = server->ready;
    server->ready = c;
    uv_idle_start(&server->ready_idle, on_ready_idle);
}

static void unlink_ready(struct http_connection *c)
{
    if (!c->ready)
        return;
    for (struct http_connection **p = &c->server->ready; *p; p = &(*p)->ready_next) {
        if (*p == c) {
            *p = c->ready_next;
            break;
        }
    }
    c->ready = 0;
}

static void exchange_free(struct http_exchange *ex)
{
    if (!ex)
        return;
    http_exchange_unlink_drain(ex);
    free(ex);
}

/* ---- request accessors ---- */

const struct http_message *http_exchange_request(const struct http_exchange *ex)
{
    static const struct http_message empty;
    return ex->connection ? &ex->connection->reader->message : &empty;
}

const char *http_exchange_trailer(const struct http_exchange *ex, const char *name)
{
    if (!ex->connection)
        return NULL;
    const struct http_message *m = &ex->connection->reader->message;
    for (size_t i = ex->header_count_at_head; i < m->header_count; i++)
        if (strcasecmp(m->headers[i].name, name) == 0)
            return m->headers[i].value;
    return NULL;
}

const char *http_exchange_peer_ip(const struct http_exchange *ex)
{
    return ex->connection ? ex->connection->peer_ip : "";
}

uint16_t http_exchange_local_port(const struct http_exchange *ex)
{
    return ex->server->port;
}

/* ---- untrusted connections ---- */

static void untrusted_unlink(struct http_connection *c)
{
    struct http_server *server = c->server;
    if (!c->untrusted)
        return;
    if (c->untrusted_prev)
        c->untrusted_prev->untrusted_next = c->untrusted_next;
    else
        server->untrusted_head = c->untrusted_next;
    if (c->untrusted_next)
        c->untrusted_next->untrusted_prev = c->untrusted_prev;
    else
        server->untrusted_tail = c->untrusted_prev;
    c->untrusted_prev = c->untrusted_next = NULL;
    c->untrusted = 0;
    server->untrusted_count--;
}

static void on_untrusted_timer(uv_timer_t *timer);

/* Arms the one timer for the oldest untrusted connection's deadline. */
static void arm_untrusted_timer(struct http_server *server)
{
    struct http_connection *oldest = server->untrusted_head;
    if (!oldest || server->closing) {
        uv_timer_stop(&server->untrusted_timer);
        return;
    }
    uint64_t now = uv_now(conn_context_loop(server->ctx));
    uint64_t deadline = oldest->accepted_ms + server->config.untrusted_timeout_ms;
    uv_timer_start(&server->untrusted_timer, on_untrusted_timer,
                   deadline > now ? deadline - now : 0, 0);
}

static void untrusted_add(struct http_connection *c)
{
    struct http_server *server = c->server;
    c->untrusted = 1;
    c->accepted_ms = uv_now(conn_context_loop(server->ctx));
    c->untrusted_prev = server->untrusted_tail;
    if (server->untrusted_tail)
        server->untrusted_tail->untrusted_next = c;
    else
        server->untrusted_head = c;
    server->untrusted_tail = c;
    server->untrusted_count++;
    if (!uv_is_active((uv_handle_t *)&server->untrusted_timer))
        arm_untrusted_timer(server);
}

void http_exchange_trust(struct http_exchange *ex)
{
    if (ex->connection)
        untrusted_unlink(ex->connection);
}

int http_exchange_trusted(const struct http_exchange *ex)
{
    return ex->connection && !ex->connection->untrusted;
}

void http_exchange_set_user(struct http_exchange *ex, void *user)
{
    ex->user = user;
}

void *http_exchange_user(const struct http_exchange *ex)
{
    return ex->user;
}

void http_exchange_take_body(struct http_exchange *ex, enum http_body_mode mode, size_t max_bytes)
{
    ex->body_mode = mode;
    ex->body_cap = max_bytes ? max_bytes : ex->server->config.max_body_bytes;
}

int http_exchange_body_too_large(const struct http_exchange *ex)
{
    return ex->too_large;
}

void http_exchange_pause_body(struct http_exchange *ex)
{
    ex->body_paused = 1;
    if (ex->connection && ex->connection->conn) {
        conn_pause_reading(ex->connection->conn);
        ex->connection->paused = 1;
    }
}

void http_exchange_resume_body(struct http_exchange *ex)
{
    if (!ex->body_paused)
        return;
    ex->body_paused = 0;
    if (ex->connection)
        http_connection_mark_ready(ex->connection);
}

/* ---- reading requests ---- */

/* The header text (at least Content-Type) and body of an answer the server
 * writes itself: the user's shape, or plain text. */
void http_server_error_answer(struct http_server *server, int status, const char *why,
                              struct buf *headers, struct buf *body)
{
    if (server->callbacks.format_error) {
        server->callbacks.format_error(status, why, headers, body, server->user);
        return;
    }
    buf_append_str(headers, "Content-Type: text/plain\r\n");
    buf_printf(body, "%s\n", why);
}

/* Writes a whole "Connection: close" answer outside any exchange. */
static void write_error_answer(struct http_connection *c, int status, const char *why)
{
    struct buf headers = BUF_INIT, body = BUF_INIT, out = BUF_INIT;
    char date[32];
    http_date_now(date);
    int rc = buf_printf(&headers, "Date: %s\r\nConnection: close\r\n", date);
    http_server_error_answer(c->server, status, why, &headers, &body);
    if (rc == 0 && buf_terminate(&headers) == 0 &&
        http_write_response(&out, status, buf_bytes(&headers), buf_bytes(&body),
                            buf_length(&body)) == 0)
        conn_write(c->conn, buf_bytes(&out), buf_length(&out));
    buf_free(&headers);
    buf_free(&body);
    buf_free(&out);
}

/* Answers a protocol error itself and closes the connection; a handler that
 * still holds the exchange is told through on_abort. */
static void fail_connection(struct http_connection *c, int status, const char *why)
{
    struct http_server *server = c->server;
    struct http_exchange *ex = c->ex;
    log_debug("%s %s: %d %s", server->name, c->conn ? conn_peer_name(c->conn) : "?", status, why);
    if (!c->conn || c->state == HTTP_CONNECTION_CLOSING)
        return;
    int answered = ex && ex->answer != HTTP_ANSWER_NONE;
    /* After a protocol switch the stream is no longer HTTP: an HTTP answer
     * written into it would reach the new protocol's peer as garbage. */
    if (!answered && c->state != HTTP_CONNECTION_UPGRADED)
        write_error_answer(c, status, why);
    http_connection_enter_state(c, HTTP_CONNECTION_CLOSING);
    if (ex && !ex->handler_released) {
        ex->handler_released = 1;
        ex->answer = HTTP_ANSWER_DONE;
        http_exchange_unlink_drain(ex);
        if (server->callbacks.on_abort)
            server->callbacks.on_abort(ex, server->user);
    }
    conn_close(c->conn, answered ? -EPROTO : 0, why);
}

static int head_complete(const struct http_reader *reader)
{
    /* http_reader fills target (and method) when the head is complete. */
    return reader->message.target != NULL;
}

/* A loopback server answers only Hosts that name loopback; see
 * http_server_config.any_host. Returns 0, or -EACCES after refusing. */
static int check_host(struct http_connection *c)
{
    struct http_server *server = c->server;
    const char *host = http_header_get(&c->reader->message, "Host");
    if (!server->check_host || !host || http_host_is_loopback(host, server->port))
        return 0;
    char why[160];
    snprintf(why, sizeof(why),
             "Host \"%.60s\" is not this server: it answers only localhost, 127.0.0.1 or [::1]",
             host);
    fail_connection(c, 403, why);
    return -EACCES;
}

static void deliver_head(struct http_connection *c)
{
    struct http_server *server = c->server;
    if (check_host(c) < 0)
        return;
    struct http_exchange *ex = calloc(1, sizeof(*ex));
    if (!ex) {
        fail_connection(c, 500, "out of memory");
        return;
    }
    const struct http_message *m = &c->reader->message;
    ex->connection = c;
    ex->server = server;
    ex->body_mode = HTTP_BODY_BUFFER;
    ex->body_cap = server->config.max_body_bytes;
    ex->header_count_at_head = m->header_count;
    ex->is_head = strcmp(m->method, "HEAD") == 0;
    ex->keep_alive = m->keep_alive;
    ex->expects_continue = http_header_has_token(m, "Expect", "100-continue") &&
                           c->reader->state != HTTP_READER_COMPLETE;
    c->ex = ex;
    c->discarded = 0;
    http_connection_enter_state(c, HTTP_CONNECTION_READING_BODY);
    restart_timer(c, server->config.body_timeout_ms);
    log_trace("%s %s: %s %s", server->name, conn_peer_name(c->conn), m->method, m->target);
    if (server->callbacks.on_head)
        server->callbacks.on_head(ex, server->user);
    if (c->state == HTTP_CONNECTION_CLOSING || ex->answer != HTTP_ANSWER_NONE)
        return;
    int has_length = (c->reader->parser.flags & F_CONTENTLENGTH) != 0;
    if (has_length && c->reader->parser.content_length + buf_length(&m->body) > ex->body_cap) {
        ex->too_large = 1;
        tell_too_large(c);
        return;
    }
    if (ex->expects_continue) {
        ex->continue_sent = 1;
        http_server_write_text(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
}

static void tell_too_large(struct http_connection *c)
{
    struct http_server *server = c->server;
    struct http_exchange *ex = c->ex;
    if (ex->handler_released)
        return;
    server->callbacks.on_request(ex, server->user);
    if (c->state == HTTP_CONNECTION_CLOSING || ex->answer != HTTP_ANSWER_NONE)
        return;
    struct buf headers = BUF_INIT, body = BUF_INIT;
    http_server_error_answer(server, 413, "request body too large", &headers, &body);
    buf_terminate(&headers);
    http_exchange_respond(ex, 413, buf_bytes(&headers), buf_bytes(&body), buf_length(&body));
    buf_free(&headers);
    buf_free(&body);
}

/* Moves body bytes the reader collected to where the mode says they go. */
static void deliver_body(struct http_connection *c)
{
    struct http_exchange *ex = c->ex;
    struct buf *body = &c->reader->message.body;
    /* Buffered bodies grow in place; only bytes not seen before are new. */
    size_t n = buf_length(body) - ex->body_buffered;
    if (n == 0)
        return;
    ex->body_received += n;
    if (ex->handler_released || ex->too_large) {
        c->discarded += n;
        buf_reset(body);
        ex->body_buffered = 0;
        return;
    }
    if (ex->body_received > ex->body_cap) {
        ex->too_large = 1;
        c->discarded += n;
        buf_reset(body);
        ex->body_buffered = 0;
        tell_too_large(c);
        return;
    }
    if (ex->body_mode == HTTP_BODY_BUFFER)
        ex->body_buffered = buf_length(body);
    if (ex->body_mode == HTTP_BODY_STREAM) {
        /* The reader appends to message.body; stream mode hands the bytes on
         * and empties it, so only one read's worth is ever held. Handlers
         * cannot reach the reader from on_body, so the bytes stay put. */
        c->server->callbacks.on_body(ex, buf_bytes(body), n, c->server->user);
        buf_reset(body);
    }
}

static void deliver_complete(struct http_connection *c)
{
    struct http_server *server = c->server;
    struct http_exchange *ex = c->ex;
    ex->request_complete = 1;
    http_connection_enter_state(c, HTTP_CONNECTION_WAITING);
    uv_timer_stop(&c->timer);
    if (ex->too_large && !ex->handler_released && ex->answer == HTTP_ANSWER_NONE)
        tell_too_large(c);
    else if (!ex->handler_released && ex->answer == HTTP_ANSWER_NONE)
        server->callbacks.on_request(ex, server->user);
    if (c->state != HTTP_CONNECTION_CLOSING)
        finish_exchange_if_done(c);
}

/* Feeds buffered input to the reader; returns 1 to go on, 0 to stop. */
static int feed_once(struct http_connection *c)
{
    if (c->state != HTTP_CONNECTION_READING_HEAD && c->state != HTTP_CONNECTION_READING_BODY)
        return 0;
    if (c->ex && c->ex->body_paused)
        return 0;
    size_t available = buf_length(&c->input);
    const char *bytes = buf_bytes(&c->input);
    if (available == 0 || !bytes)
        return 0;
    /* A head is fed on its own, so on_head decides about the body before any
     * of it is parsed, and trailers are never mistaken for head fields. */
    if (!c->ex) {
        const char *end = memmem(bytes, available, "\r\n\r\n", 4);
        if (end)
            available = (size_t)(end - bytes) + 4;
    }
    ssize_t n = http_reader_feed(c->reader, bytes, available);
    if (n < 0) {
        int status = c->reader->http_status_for_error ? c->reader->http_status_for_error : 400;
        fail_connection(c, status, c->reader->error);
        return 0;
    }
    buf_consume(&c->input, (size_t)n);
    if (!c->ex && head_complete(c->reader)) {
        deliver_head(c);
        if (c->state == HTTP_CONNECTION_CLOSING)
            return 0;
    }
    if (c->ex) {
        deliver_body(c);
        if (c->state == HTTP_CONNECTION_CLOSING || !c->conn)
            return 0;
        if (c->discarded > HTTP_SERVER_MAX_DISCARD) {
            fail_connection(c, 413, "request body too large");
            return 0;
        }
    }
    if (c->reader->state == HTTP_READER_COMPLETE && c->ex) {
        deliver_complete(c);
        return c->state == HTTP_CONNECTION_READING_HEAD;
    }
    return n > 0;
}

static void update_reading(struct http_connection *c)
{
    if (!c->conn || c->state == HTTP_CONNECTION_CLOSING)
        return;
    size_t cap = c->server->config.max_header_bytes + INPUT_SLACK;
    int pause = buf_length(&c->input) > cap || (c->ex && c->ex->body_paused);
    if (pause && !c->paused) {
        conn_pause_reading(c->conn);
        c->paused = 1;
    } else if (!pause && c->paused) {
        conn_resume_reading(c->conn);
        c->paused = 0;
    }
}

/* The exchange is over once the request is read and the answer complete. */
static void finish_exchange_if_done(struct http_connection *c)
{
    struct http_exchange *ex = c->ex;
    if (!ex || !ex->request_complete || ex->answer != HTTP_ANSWER_DONE)
        return;
    if (c->state == HTTP_CONNECTION_CLOSING || !c->conn)
        return;
    int upgraded = ex->upgraded;
    exchange_free(ex);
    c->ex = NULL;
    http_reader_reset(c->reader);
    if (upgraded) {
        /* No HTTP from now on: no head or idle timeout either, the new
         * protocol has its own. The reader's and the input's memory go. */
        uv_timer_stop(&c->timer);
        http_reader_free(c->reader);
        free(c->reader);
        c->reader = NULL;
        if (buf_length(&c->input) == 0)
            buf_free(&c->input);
        http_connection_enter_state(c, HTTP_CONNECTION_UPGRADED);
        return;
    }
    http_connection_enter_state(c, HTTP_CONNECTION_READING_HEAD);
    restart_timer(c, c->server->config.head_timeout_ms);
}

/* Hands input kept since the switch (read with the request, or while the
 * upgrade was pending) to the new owner, in order. */
static void deliver_upgraded(struct http_connection *c)
{
    while (c->conn && c->state == HTTP_CONNECTION_UPGRADED && buf_length(&c->input) > 0) {
        size_t n = buf_length(&c->input);
        char *bytes = buf_steal(&c->input, NULL);
        if (!bytes) {
            fail_connection(c, 500, "out of memory");
            return;
        }
        c->upgrade.on_data(c->upgrade_user, bytes, n);
        free(bytes);
    }
}

static void process_input(struct http_connection *c)
{
    finish_exchange_if_done(c);
    while (c->conn && feed_once(c))
        ;
    if (c->conn && c->state == HTTP_CONNECTION_UPGRADED)
        deliver_upgraded(c);
    update_reading(c);
}

static void on_ready_idle(uv_idle_t *idle)
{
    struct http_server *server = idle->data;
    struct http_connection *list = server->ready;
    server->ready = NULL;
    uv_idle_stop(idle);
    while (list) {
        struct http_connection *c = list;
        list = c->ready_next;
        c->ready = 0;
        c->ready_next = NULL;
        if (c->conn)
            process_input(c);
    }
}

/* ---- connections ---- */

static void on_timer(uv_timer_t *timer)
{
    struct http_connection *c = timer->data;
    if (!c->conn || c->state == HTTP_CONNECTION_CLOSING)
        return;
    if (c->state == HTTP_CONNECTION_READING_HEAD) {
        if (buf_length(&c->input) == 0 && c->reader->header_bytes == 0) {
            http_connection_enter_state(c, HTTP_CONNECTION_CLOSING);
            conn_close(c->conn, 0, "idle");
        } else {
            fail_connection(c, 408, "request head not received in time");
        }
    } else if (c->state == HTTP_CONNECTION_READING_BODY) {
        fail_connection(c, 408, "request body stalled");
    }
}

/* Closes one connection that did not become trusted in time. */
static void expire_untrusted(struct http_connection *c)
{
    untrusted_unlink(c);
    if (!c->conn || c->state == HTTP_CONNECTION_CLOSING)
        return;
    int idle = c->state == HTTP_CONNECTION_READING_HEAD && buf_length(&c->input) == 0 &&
               c->reader && c->reader->header_bytes == 0;
    if (idle || c->state == HTTP_CONNECTION_UPGRADED) {
        http_connection_enter_state(c, HTTP_CONNECTION_CLOSING);
        conn_close(c->conn, 0, "not authenticated in time");
        return;
    }
    fail_connection(c, 408, "not authenticated in time");
}

static void on_untrusted_timer(uv_timer_t *timer)
{
    struct http_server *server = timer->data;
    uint64_t now = uv_now(conn_context_loop(server->ctx));
    while (server->untrusted_head &&
           server->untrusted_head->accepted_ms + server->config.untrusted_timeout_ms <= now)
        expire_untrusted(server->untrusted_head);
    arm_untrusted_timer(server);
}

static void restart_timer(struct http_connection *c, uint64_t timeout_ms)
{
    if (timeout_ms == 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, timeout_ms, 0);
}

static void on_data(struct conn *conn, const char *data, size_t len)
{
    struct http_connection *c = conn_user(conn);
    if (c->state == HTTP_CONNECTION_CLOSING)
        return;
    if (c->state == HTTP_CONNECTION_UPGRADED && buf_length(&c->input) == 0) {
        c->upgrade.on_data(c->upgrade_user, data, len); /* the hot path: no copy */
        return;
    }
    if (buf_append(&c->input, data, len) < 0) {
        fail_connection(c, 500, "out of memory");
        return;
    }
    if (c->state == HTTP_CONNECTION_READING_BODY)
        restart_timer(c, c->server->config.body_timeout_ms);
    process_input(c);
}

static void on_connection_freed(uv_handle_t *handle)
{
    struct http_connection *c = handle->data;
    struct http_server *server = c->server;
    if (c->reader) {
        http_reader_free(c->reader);
        free(c->reader);
    }
    buf_free(&c->input);
    free(c);
    server->connection_count--;
    maybe_free_server(server);
}

static void on_conn_close(struct conn *conn, int status, const char *cause)
{
    struct http_connection *c = conn_user(conn);
    struct http_server *server = c->server;
    log_trace("%s %s: closed (%s)", server->name, conn_peer_name(conn), cause ? cause : "ok");
    http_connection_enter_state(c, HTTP_CONNECTION_CLOSING);
    c->conn = NULL;
    unlink_ready(c);
    untrusted_unlink(c);
    struct http_exchange *ex = c->ex;
    if (ex && !ex->handler_released) {
        ex->handler_released = 1;
        http_exchange_unlink_drain(ex);
        if (server->callbacks.on_abort)
            server->callbacks.on_abort(ex, server->user);
    }
    exchange_free(ex);
    c->ex = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        server->connections = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->upgrade.on_close)
        c->upgrade.on_close(c->upgrade_user, status, cause);
    uv_close((uv_handle_t *)&c->timer, on_connection_freed);
}

static const struct conn_callbacks connection_callbacks = {
    .on_data = on_data,
    .on_close = on_conn_close,
};

static void refuse_connection(struct conn *conn, const char *why)
{
    static const struct conn_callbacks none = {0};
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n";
    conn_set_callbacks(conn, &none, NULL);
    conn_write(conn, busy, sizeof(busy) - 1);
    conn_close(conn, 0, why);
}

static void set_peer_ip(struct http_connection *c)
{
    snprintf(c->peer_ip, sizeof(c->peer_ip), "%s", conn_peer_name(c->conn));
    char *colon = strrchr(c->peer_ip, ':');
    if (colon)
        *colon = '\0';
}

static void on_accept(struct conn_listener *listener, struct conn *conn)
{
    struct http_server *server = conn_listener_user(listener);
    if (server->closing || server->connection_count >= server->config.max_connections) {
        log_debug("%s: refusing %s: connection limit", server->name, conn_peer_name(conn));
        refuse_connection(conn, "connection limit");
        return;
    }
    if (server->config.untrusted_timeout_ms &&
        server->untrusted_count >= server->config.max_untrusted) {
        log_debug("%s: refusing %s: unauthenticated connection limit", server->name,
                  conn_peer_name(conn));
        refuse_connection(conn, "unauthenticated connection limit");
        return;
    }
    struct http_connection *c = calloc(1, sizeof(*c));
    struct http_reader *reader = calloc(1, sizeof(*reader));
    if (!c || !reader) {
        free(c);
        free(reader);
        refuse_connection(conn, "out of memory");
        return;
    }
    c->reader = reader;
    struct http_limits limits = {
        .max_header_bytes = server->config.max_header_bytes,
        /* Caps are applied per exchange (deliver_body); the reader only ever
         * holds one read's worth of body beyond them. */
        .max_body_bytes = SIZE_MAX / 4,
    };
    http_reader_init(c->reader, HTTP_REQUEST, &limits);
    c->server = server;
    c->conn = conn;
    c->state = HTTP_CONNECTION_READING_HEAD;
    uv_timer_init(conn_context_loop(server->ctx), &c->timer);
    c->timer.data = c;
    set_peer_ip(c);
    c->next = server->connections;
    if (c->next)
        c->next->prev = c;
    server->connections = c;
    server->connection_count++;
    conn_set_callbacks(conn, &connection_callbacks, c);
    conn_set_output_limit(conn, server->config.output_limit);
    restart_timer(c, server->config.head_timeout_ms);
    if (server->config.untrusted_timeout_ms)
        untrusted_add(c);
}

/* ---- the server ---- */

static void apply_defaults(struct http_server_config *c)
{
    if (!c->max_header_bytes)
        c->max_header_bytes = DEFAULT_MAX_HEADER_BYTES;
    if (!c->max_body_bytes)
        c->max_body_bytes = DEFAULT_MAX_BODY_BYTES;
    if (!c->max_connections)
        c->max_connections = DEFAULT_MAX_CONNECTIONS;
    if (!c->output_limit)
        c->output_limit = CONN_DEFAULT_OUTPUT_LIMIT;
    if (!c->max_untrusted)
        c->max_untrusted = c->max_connections / 4 ? c->max_connections / 4 : 1;
}

static void on_server_handle_closed(uv_handle_t *handle)
{
    struct http_server *server = handle->data;
    server->handles_open--;
    maybe_free_server(server);
}

static void maybe_free_server(struct http_server *server)
{
    if (!server->closing || server->connection_count > 0 || server->handles_open > 0)
        return;
    void (*on_closed)(void *) = server->on_closed;
    void *user = server->closed_user;
    free(server);
    if (on_closed)
        on_closed(user);
}

int http_server_start(struct conn_context *ctx, const struct http_server_config *config,
                      const struct http_server_callbacks *callbacks, void *user,
                      struct http_server **out, char *cause, size_t cause_len)
{
    struct http_server *server = calloc(1, sizeof(*server));
    if (!server) {
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    server->ctx = ctx;
    server->config = *config;
    apply_defaults(&server->config);
    snprintf(server->name, sizeof(server->name), "%s", config->name ? config->name : "http");
    server->config.name = server->name;
    server->callbacks = *callbacks;
    server->user = user;
    int rc = conn_listen(ctx, config->host, config->port, config->tls, on_accept, server,
                         &server->listener, cause, cause_len);
    if (rc < 0) {
        free(server);
        return rc;
    }
    server->port = conn_listener_port(server->listener);
    uv_loop_t *loop = conn_context_loop(ctx);
    uv_idle_init(loop, &server->ready_idle);
    server->ready_idle.data = server;
    uv_timer_init(loop, &server->drain_timer);
    server->drain_timer.data = server;
    uv_timer_init(loop, &server->untrusted_timer);
    server->untrusted_timer.data = server;
    server->handles_open = 3;
    server->check_host = !config->any_host && http_address_is_loopback(config->host);
    *out = server;
    return 0;
}

uint16_t http_server_port(const struct http_server *server)
{
    return server->port;
}

size_t http_server_connection_count(const struct http_server *server)
{
    return server->connection_count;
}

void http_server_close(struct http_server *server, void (*on_closed)(void *user), void *user)
{
    if (server->closing)
        return;
    server->closing = 1;
    server->on_closed = on_closed;
    server->closed_user = user;
    conn_listener_close(server->listener);
    server->listener = NULL;
    for (struct http_connection *c = server->connections; c; c = c->next) {
        if (c->conn && c->state != HTTP_CONNECTION_CLOSING) {
            http_connection_enter_state(c, HTTP_CONNECTION_CLOSING);
            conn_close(c->conn, 0, "server closing");
        }
    }
    uv_close((uv_handle_t *)&server->ready_idle, on_server_handle_closed);
    uv_close((uv_handle_t *)&server->drain_timer, on_server_handle_closed);
    uv_close((uv_handle_t *)&server->untrusted_timer, on_server_handle_closed);
}
