/* HTTP server, the answer side: status lines and headers, whole and streamed
 * answers (chunked, trailers), aborts, and the drain watch for back-pressure.
 * The reading side and connection lifetimes are in http_server.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "http"
#include "core/log.h"
#include "net/http_server_internal.h"

#define DRAIN_POLL_MS 5

void http_date_now(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 32, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static int status_has_body(int status)
{
    return !(status < 200 || status == 204 || status == 304);
}

void http_exchange_unlink_drain(struct http_exchange *ex)
{
    if (!ex->drain_listed)
        return;
    for (struct http_exchange **p = &ex->server->drain_list; *p; p = &(*p)->drain_next) {
        if (*p == ex) {
            *p = ex->drain_next;
            break;
        }
    }
    ex->drain_listed = 0;
    ex->drain_cb = NULL;
}

/* ---- writing ---- */

int http_server_write_text(struct http_connection *c, const void *data, size_t len)
{
    if (!c->conn || conn_is_closing(c->conn))
        return -EPIPE;
    return conn_write(c->conn, data, len);
}

/* Writes the status line and headers; content_length < 0 means streamed. */
static int write_head(struct http_exchange *ex, int status, const char *headers,
                      long long content_length)
{
    struct http_connection *c = ex->connection;
    const struct http_message *m = &c->reader->message;
    char date[32];
    http_date_now(date);
    /* A body we refused before the client sent it (no "100 Continue"), or
     * one too big to read and drop, leaves the stream out of step: close. */
    int refused_unsent = ex->expects_continue && !ex->continue_sent;
    int too_big_to_drop = ex->too_large && !ex->request_complete &&
                          c->reader->parser.content_length > HTTP_SERVER_MAX_DISCARD;
    ex->keep_alive = m->keep_alive && !refused_unsent && !too_big_to_drop && !ex->close_after &&
                     !c->server->closing && !m->upgrade;
    struct buf head = BUF_INIT;
    int rc = buf_printf(&head, "HTTP/1.1 %d %s\r\nDate: %s\r\n%s", status,
                        http_status_reason(status), date, headers ? headers : "");
    if (rc == 0 && content_length >= 0 && status_has_body(status))
        rc = buf_printf(&head, "Content-Length: %lld\r\n", content_length);
    if (rc == 0 && content_length < 0 && status_has_body(status)) {
        ex->chunked = m->http_major == 1 && m->http_minor >= 1;
        if (ex->chunked)
            rc = buf_append_str(&head, "Transfer-Encoding: chunked\r\n");
        else
            ex->keep_alive = 0; /* HTTP/1.0: the body ends with the connection */
    }
    if (rc == 0 && !ex->keep_alive)
        rc = buf_append_str(&head, "Connection: close\r\n");
    else if (rc == 0 && m->http_minor == 0)
        rc = buf_append_str(&head, "Connection: keep-alive\r\n");
    if (rc == 0)
        rc = buf_append_str(&head, "\r\n");
    if (rc == 0)
        rc = http_server_write_text(c, buf_bytes(&head), buf_length(&head));
    buf_free(&head);
    return rc;
}

/* 0 when an answer may start; -EPIPE when the connection is going (the
 * handler then hears of it through on_abort unless it answers anyway). */
static int answer_check(struct http_exchange *ex)
{
    if (ex->answer != HTTP_ANSWER_NONE || ex->handler_released)
        return -EALREADY;
    if (!ex->connection || !ex->connection->conn || conn_is_closing(ex->connection->conn))
        return -EPIPE;
    return 0;
}

/* The answer is complete: release the handler and move the connection on. */
static void answer_done(struct http_exchange *ex)
{
    ex->answer = HTTP_ANSWER_DONE;
    ex->handler_released = 1;
    http_exchange_unlink_drain(ex);
    struct http_connection *c = ex->connection;
    if (!c)
        return;
    if (!ex->keep_alive && c->conn) {
        http_connection_enter_state(c, HTTP_CONNECTION_CLOSING);
        conn_close(c->conn, 0, NULL);
        return;
    }
    if (ex->request_complete)
        http_connection_mark_ready(c);
}

int http_exchange_respond(struct http_exchange *ex, int status, const char *headers,
                          const void *body, size_t body_len)
{
    int rc = answer_check(ex);
    if (rc == -EALREADY)
        return rc;
    if (rc == 0)
        rc = write_head(ex, status, headers, (long long)body_len);
    if (rc == 0 && body_len > 0 && !ex->is_head && status_has_body(status))
        rc = http_server_write_text(ex->connection, body, body_len);
    answer_done(ex); /* answered as far as the handler is concerned, even if the client left */
    return rc;
}

int http_exchange_start_stream(struct http_exchange *ex, int status, const char *headers)
{
    int rc = answer_check(ex);
    if (rc < 0)
        return rc;
    rc = write_head(ex, status, headers, -1);
    /* On failure the connection is closing: on_abort tells the handler. */
    ex->answer = HTTP_ANSWER_STREAMING;
    return rc;
}

int http_exchange_write(struct http_exchange *ex, const void *data, size_t len)
{
    if (ex->answer != HTTP_ANSWER_STREAMING)
        return -EALREADY;
    struct http_connection *c = ex->connection;
    if (!c || !c->conn || conn_is_closing(c->conn))
        return -EPIPE;
    if (len == 0 || ex->is_head)
        return 0;
    int rc = 0;
    if (ex->chunked) {
        char size_line[24];
        int n = snprintf(size_line, sizeof(size_line), "%zx\r\n", len);
        rc = http_server_write_text(c, size_line, (size_t)n);
    }
    if (rc == 0)
        rc = http_server_write_text(c, data, len);
    if (rc == 0 && ex->chunked)
        rc = http_server_write_text(c, "\r\n", 2);
    return rc;
}

int http_exchange_end_stream(struct http_exchange *ex, const char *trailers)
{
    if (ex->answer != HTTP_ANSWER_STREAMING)
        return -EALREADY;
    struct http_connection *c = ex->connection;
    int rc = 0;
    if (c && c->conn && ex->chunked && !ex->is_head) {
        rc = http_server_write_text(c, "0\r\n", 3);
        if (rc == 0 && trailers)
            rc = http_server_write_text(c, trailers, strlen(trailers));
        if (rc == 0)
            rc = http_server_write_text(c, "\r\n", 2);
    }
    answer_done(ex);
    return rc;
}

void http_exchange_abort(struct http_exchange *ex, const char *why)
{
    if (ex->handler_released)
        return;
    ex->answer = HTTP_ANSWER_DONE;
    ex->handler_released = 1;
    http_exchange_unlink_drain(ex);
    struct http_connection *c = ex->connection;
    if (c && c->conn) {
        log_debug("%s %s: answer aborted: %s", c->server->name, conn_peer_name(c->conn),
                  why ? why : "by the handler");
        http_connection_enter_state(c, HTTP_CONNECTION_CLOSING);
        conn_close(c->conn, 0, why);
    }
}

int http_exchange_answer_started(const struct http_exchange *ex)
{
    return ex->answer != HTTP_ANSWER_NONE;
}

void http_exchange_close_after(struct http_exchange *ex)
{
    ex->close_after = 1;
}

struct conn *http_exchange_upgrade(struct http_exchange *ex, const char *headers,
                                   const struct http_upgrade_callbacks *callbacks, void *user)
{
    if (answer_check(ex) < 0 || !ex->connection->reader->message.upgrade)
        return NULL;
    struct http_connection *c = ex->connection;
    struct buf head = BUF_INIT;
    int rc = buf_printf(&head, "HTTP/1.1 101 %s\r\n%s\r\n", http_status_reason(101),
                        headers ? headers : "");
    if (rc == 0)
        rc = http_server_write_text(c, buf_bytes(&head), buf_length(&head));
    buf_free(&head);
    if (rc < 0) {
        /* The connection is closing: the exchange ends as if answered. */
        answer_done(ex);
        return NULL;
    }
    c->upgrade = *callbacks;
    c->upgrade_user = user;
    ex->upgraded = 1;
    ex->keep_alive = 1; /* the connection goes on, in the new protocol */
    answer_done(ex);
    return c->conn;
}

size_t http_exchange_pending_output(const struct http_exchange *ex)
{
    if (!ex->connection || !ex->connection->conn)
        return 0;
    return conn_pending_output(ex->connection->conn);
}

void http_exchange_on_drain(struct http_exchange *ex, size_t low,
                            void (*cb)(struct http_exchange *ex, void *user), void *user)
{
    if (ex->handler_released)
        return;
    ex->drain_cb = cb;
    ex->drain_user = user;
    ex->drain_low = low;
    if (!ex->drain_listed) {
        ex->drain_listed = 1;
        ex->drain_next = ex->server->drain_list;
        ex->server->drain_list = ex;
    }
    if (!uv_is_active((uv_handle_t *)&ex->server->drain_timer))
        uv_timer_start(&ex->server->drain_timer, http_server_on_drain_timer, DRAIN_POLL_MS,
                       DRAIN_POLL_MS);
}

/* ---- drain watch ---- */

void http_server_on_drain_timer(uv_timer_t *timer)
{
    struct http_server *server = timer->data;
    /* One pass: an exchange whose callback asks again waits for the next tick. */
    struct http_exchange *list = server->drain_list;
    server->drain_list = NULL;
    struct http_exchange *keep = NULL;
    while (list) {
        struct http_exchange *ex = list;
        list = ex->drain_next;
        ex->drain_listed = 0;
        if (http_exchange_pending_output(ex) > ex->drain_low) {
            ex->drain_next = keep;
            ex->drain_listed = 1;
            keep = ex;
            continue;
        }
        void (*cb)(struct http_exchange *, void *) = ex->drain_cb;
        ex->drain_cb = NULL;
        /* Exchanges are freed only in on_conn_close (a later loop phase) or
         * when finished (the ready idle), so the rest of `list` stays valid. */
        if (cb)
            cb(ex, ex->drain_user);
    }
    while (keep) {
        struct http_exchange *ex = keep;
        keep = ex->drain_next;
        ex->drain_next = server->drain_list;
        server->drain_list = ex;
    }
    if (!server->drain_list)
        uv_timer_stop(timer);
}
