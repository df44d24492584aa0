/* The events client's realtime link (struct ws_link): connect, the WebSocket
 * upgrade, connection_init and connection_ack, the connect and keep-alive
 * watchdogs, and the dispatch of every message the server sends. What the
 * messages mean for subscriptions and publishes is in client_sub.c and
 * client_publish.c. See client_internal.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "events"
#include "core/buf.h"
#include "core/cause.h"
#include "core/encoding.h"
#include "core/log.h"
#include "events/client_internal.h"

#define UPGRADE_MAX_HEADER_BYTES (32 * 1024)
#define UPGRADE_MAX_BODY_BYTES (64 * 1024)
#define MIN_CONNECTION_TIMEOUT_MS 1000
#define MAX_CONNECTION_TIMEOUT_MS (24L * 3600 * 1000)
/* Unsent bytes this client may queue on its own connection. tether dev
 * publishes a 6 MB answer as about 8.4 MB of base64 packets in one go, so
 * the connection default (8 MiB, a server's cap for slow peers) would cut
 * the connection in the middle of every large answer. */
#define LINK_OUTPUT_LIMIT (32u * 1024 * 1024)

static const struct conn_callbacks ws_link_callbacks;
static const struct ws_callbacks ws_session_callbacks;

/* ---- sending ---- */

static int ws_link_write(void *user, const void *data, size_t len)
{
    struct ws_link *l = user;
    return conn_write(l->conn, data, len);
}

int events_client_ws_send(struct events_client *c, const struct buf *message)
{
    struct ws_link *l = c->link;
    if (!l || !l->ws || conn_is_closing(l->conn))
        return -ENOTCONN;
    if (log_enabled(LOG_LEVEL_TRACE))
        log_trace("send %.*s", (int)(buf_length(message) > 300 ? 300 : buf_length(message)),
                  buf_bytes(message));
    if (ws_send_text(l->ws, buf_bytes(message), buf_length(message)) < 0) {
        conn_close(l->conn, -EPIPE, "sending on the WebSocket failed");
        return -EPIPE;
    }
    return 0;
}

int events_client_ws_send_simple(struct events_client *c, const char *type, const char *id)
{
    struct buf message = BUF_INIT;
    int rc = events_write_simple(&message, type, id);
    if (rc == 0)
        rc = events_client_ws_send(c, &message);
    buf_free(&message);
    return rc;
}

int events_client_ws_request(const struct events_client *c, const char *type, const char *id,
                             const struct buf *signed_body, struct buf *out, char *cause,
                             size_t cause_len)
{
    /* The message carries the signed body's members as they were signed:
     * {"type":T,"id":I,<members of the body>,"authorization":{...}}. */
    const char *body = buf_bytes(signed_body);
    size_t len = buf_length(signed_body);
    if (len < 2 || body[0] != '{' || body[len - 1] != '}')
        return -EINVAL;
    int rc = buf_printf(out, "{\"type\":\"%s\",\"id\":", type);
    if (rc == 0)
        rc = json_quote(out, id, strlen(id));
    if (rc == 0 && len > 2)
        rc = buf_append_char(out, ',');
    if (rc == 0)
        rc = buf_append(out, body + 1, len - 2);
    if (rc == 0)
        rc = buf_append_str(out, ",\"authorization\":");
    if (rc == 0)
        rc = events_client_auth_append_json(c, out, body, len, cause, cause_len);
    if (rc == 0)
        rc = buf_append_char(out, '}');
    return rc;
}

void events_client_ws_send_waiting(struct events_client *c)
{
    struct ws_link *l = c->link;
    for (;;) {
        struct events_subscription *s = TAILQ_FIRST(&c->subs);
        while (s && s->state != SUB_WAITING)
            s = TAILQ_NEXT(s, link);
        if (!s)
            break;
        events_client_sub_send(c, s);
        if (c->freed || c->link != l || conn_is_closing(l->conn))
            return;
    }
    for (;;) {
        struct publish *p = TAILQ_FIRST(&c->ws_publishes);
        while (p && p->sent)
            p = TAILQ_NEXT(p, link);
        if (!p)
            break;
        events_client_publish_ws_send(c, p);
        if (c->freed || c->link != l || conn_is_closing(l->conn))
            return;
    }
    events_client_arm_request_timer(c);
}

/* ---- losing the link ---- */

static void stop_link_timers(struct events_client *c)
{
    uv_timer_stop(&c->connect_timer);
    uv_timer_stop(&c->keepalive_timer);
}

void events_client_ws_detach(struct events_client *c, int status, const char *cause)
{
    struct ws_link *l = c->link;
    if (!l)
        return;
    c->link = NULL;
    l->active = 0;
    stop_link_timers(c);
    if (status == 0 && l->ws && !ws_session_finished(l->ws))
        ws_send_close(l->ws, 1000, "");
    conn_close(l->conn, status, cause);
    for (struct events_subscription *s = TAILQ_FIRST(&c->subs); s; s = TAILQ_NEXT(s, link))
        s->state = SUB_WAITING;
}

void events_client_ws_lost(struct events_client *c, const char *cause)
{
    if (!c->link)
        return;
    char why[CAUSE_SIZE];
    snprintf(why, sizeof(why), "%s", cause ? cause : "connection closed");
    events_client_ws_detach(c, -ECONNRESET, why);
    char publish_why[CAUSE_SIZE + 64];
    snprintf(publish_why, sizeof(publish_why), "connection lost before the answer (%s)", why);
    if (events_client_publish_ws_fail(c, 1, -ECONNRESET, publish_why) < 0)
        return;
    if (c->freed || c->link)
        return; /* a callback freed or restarted the client */
    events_client_schedule_reconnect(c, why);
}

/* ---- watchdogs ---- */

static void on_connect_timer(uv_timer_t *timer)
{
    struct events_client *c = timer->data;
    char cause[128];
    snprintf(cause, sizeof(cause), "no connection_ack within %u ms (stuck %s)",
             c->connect_timeout_ms, events_client_state_name(c->state));
    events_client_ws_lost(c, cause);
}

static void on_keepalive_timer(uv_timer_t *timer)
{
    struct events_client *c = timer->data;
    char cause[128];
    snprintf(cause, sizeof(cause), "no message (keep-alive) from the server for %llu ms",
             (unsigned long long)c->connection_timeout_ms);
    events_client_ws_lost(c, cause);
}

static void restart_keepalive(struct events_client *c)
{
    uv_timer_start(&c->keepalive_timer, on_keepalive_timer, c->connection_timeout_ms, 0);
}

/* ---- connect and upgrade ---- */

void events_client_ws_connect(struct events_client *c)
{
    uv_timer_stop(&c->backoff_timer);
    struct ws_link *l = calloc(1, sizeof(*l));
    if (!l) {
        events_client_schedule_reconnect(c, "out of memory");
        return;
    }
    l->owner = c;
    struct http_limits limits = {UPGRADE_MAX_HEADER_BYTES, UPGRADE_MAX_BODY_BYTES};
    http_reader_init(&l->reader, HTTP_RESPONSE, &limits);
    int rc = ws_new_client_key(l->key);
    if (rc == 0)
        rc = conn_connect_via(
            c->conns, c->realtime.host, c->realtime.port, c->realtime.secure ? c->tls : NULL, NULL,
            c->use_realtime_proxy ? &c->realtime_proxy : NULL, &ws_link_callbacks, l, &l->conn);
    if (rc == 0)
        conn_set_output_limit(l->conn, LINK_OUTPUT_LIMIT);
    if (rc < 0) {
        http_reader_free(&l->reader);
        free(l);
        char cause[CAUSE_SIZE];
        snprintf(cause, sizeof(cause), "connecting to %s: %s", c->realtime.host_header,
                 uv_strerror(rc));
        events_client_schedule_reconnect(c, cause);
        return;
    }
    ws_accept_key(l->key, l->accept);
    l->active = 1;
    c->link = l;
    c->links_open++;
    uv_timer_start(&c->connect_timer, on_connect_timer, c->connect_timeout_ms, 0);
    log_debug("connecting to %s://%s%s", url_scheme_name(c->realtime.scheme),
              c->realtime.host_header, c->realtime.path);
    events_client_enter_state(c, EVENTS_CLIENT_CONNECTING, NULL);
}

static int write_upgrade_request(struct events_client *c, struct ws_link *l, char *cause,
                                 size_t cause_len)
{
    struct buf auth = BUF_INIT, encoded = BUF_INIT, request = BUF_INIT;
    char target[URL_MAX_PATH + URL_MAX_QUERY + 2];
    int rc = events_client_auth_append_json(c, &auth, "{}", 2, cause, cause_len);
    if (rc == 0)
        rc = base64url_encode(&encoded, buf_bytes(&auth), buf_length(&auth));
    if (rc == 0)
        rc = buf_terminate(&encoded);
    if (rc == 0)
        rc = url_target(&c->realtime, target, sizeof(target));
    if (rc == 0)
        rc = buf_printf(&request,
                        "GET %s HTTP/1.1\r\n"
                        "Host: %s\r\n"
                        "Upgrade: websocket\r\n"
                        "Connection: Upgrade\r\n"
                        "Sec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Protocol: %s, header-%s\r\n"
                        "User-Agent: tether\r\n"
                        "\r\n",
                        target, c->realtime.host_header, l->key, EVENTS_SUBPROTOCOL,
                        buf_bytes(&encoded));
    if (rc == 0)
        rc = conn_write(l->conn, buf_bytes(&request), buf_length(&request));
    if (rc < 0 && !cause[0])
        cause_set(cause, cause_len, rc, "writing the upgrade request: %s", strerror(-rc));
    secure_free_buf(&auth);
    buf_free(&encoded);
    buf_free(&request);
    return rc;
}

static void ws_link_on_open(struct conn *conn, int status, const char *cause)
{
    struct ws_link *l = conn_user(conn);
    struct events_client *c = l->owner;
    if (!l->active)
        return;
    if (status < 0) {
        events_client_ws_lost(c, cause ? cause : uv_strerror(status));
        return;
    }
    char why[CAUSE_SIZE] = "";
    if (write_upgrade_request(c, l, why, sizeof(why)) < 0) {
        events_client_ws_lost(c, why);
        return;
    }
    events_client_enter_state(c, EVENTS_CLIENT_UPGRADING, NULL);
}

static int check_upgrade(struct events_client *c, struct ws_link *l, char *cause, size_t cause_len)
{
    const struct http_message *m = &l->reader.message;
    if (m->status != 101) {
        char body[300];
        events_client_http_describe_body(m, body, sizeof(body));
        return cause_set(cause, cause_len, -ECONNREFUSED,
                         "WebSocket upgrade to %s refused: HTTP %d %s%s%s", c->realtime.host_header,
                         m->status, http_status_reason(m->status), body[0] ? ": " : "", body);
    }
    if (!http_header_has_token(m, "upgrade", "websocket") ||
        !http_header_has_token(m, "connection", "upgrade"))
        return cause_set(cause, cause_len, -EPROTO,
                         "bad WebSocket upgrade answer: no Upgrade: websocket");
    const char *accept = http_header_get(m, "sec-websocket-accept");
    if (!accept || strcmp(accept, l->accept) != 0)
        return cause_set(cause, cause_len, -EPROTO,
                         "bad WebSocket upgrade answer: Sec-WebSocket-Accept is %s",
                         accept ? "wrong" : "missing");
    const char *protocol = http_header_get(m, "sec-websocket-protocol");
    if (!protocol || strcmp(protocol, EVENTS_SUBPROTOCOL) != 0)
        return cause_set(
            cause, cause_len, -EPROTO,
            "bad WebSocket upgrade answer: subprotocol is \"%.60s\", not " EVENTS_SUBPROTOCOL,
            protocol ? protocol : "");
    return 0;
}

static void upgrade_done(struct events_client *c, struct ws_link *l)
{
    l->upgraded = 1;
    l->ws = ws_session_new(WS_CLIENT, EVENTS_MAX_MESSAGE_BYTES, &ws_session_callbacks,
                           ws_link_write, l);
    if (!l->ws) {
        events_client_ws_lost(c, "out of memory");
        return;
    }
    if (events_client_ws_send_simple(c, "connection_init", NULL) < 0)
        return;
    events_client_enter_state(c, EVENTS_CLIENT_INITIALIZING, NULL);
}

static void ws_link_on_data(struct conn *conn, const char *data, size_t len)
{
    struct ws_link *l = conn_user(conn);
    struct events_client *c = l->owner;
    if (!l->active)
        return;
    if (!l->upgraded) {
        ssize_t n = http_reader_feed(&l->reader, data, len);
        char cause[CAUSE_SIZE];
        if (n < 0) {
            snprintf(cause, sizeof(cause), "bad WebSocket upgrade answer: %s", l->reader.error);
            events_client_ws_lost(c, cause);
            return;
        }
        if (l->reader.state != HTTP_READER_COMPLETE)
            return;
        if (check_upgrade(c, l, cause, sizeof(cause)) < 0) {
            events_client_ws_lost(c, cause);
            return;
        }
        upgrade_done(c, l);
        if (!l->active)
            return;
        data += n;
        len -= (size_t)n;
        if (len == 0)
            return;
    }
    /* A protocol error is reported through on_closed. */
    ws_session_feed(l->ws, data, len);
}

static void ws_link_on_close(struct conn *conn, int status, const char *cause)
{
    struct ws_link *l = conn_user(conn);
    struct events_client *c = l->owner;
    if (l->active) {
        char why[CAUSE_SIZE];
        snprintf(why, sizeof(why), "%s", cause ? cause : "connection closed by the server");
        if (!l->upgraded && l->reader.state == HTTP_READER_READING &&
            l->reader.message.status > 0) {
            /* An error answer whose body ended with the connection. */
            http_reader_finish(&l->reader);
            if (l->reader.state == HTTP_READER_COMPLETE)
                check_upgrade(c, l, why, sizeof(why));
        }
        events_client_ws_lost(c, why);
    }
    ws_session_free(l->ws);
    http_reader_free(&l->reader);
    free(l);
    c->links_open--;
    events_client_maybe_release(c); /* c may be gone after this */
}

static const struct conn_callbacks ws_link_callbacks = {
    .on_open = ws_link_on_open,
    .on_data = ws_link_on_data,
    .on_close = ws_link_on_close,
};

/* ---- realtime messages ---- */

static void on_connection_ack(struct events_client *c, const struct events_message *m)
{
    if (c->state != EVENTS_CLIENT_INITIALIZING) {
        log_debug("ignoring connection_ack in state %s", events_client_state_name(c->state));
        return;
    }
    long timeout =
        m->connection_timeout_ms > 0 ? m->connection_timeout_ms : EVENTS_CONNECTION_TIMEOUT_MS;
    if (timeout < MIN_CONNECTION_TIMEOUT_MS)
        timeout = MIN_CONNECTION_TIMEOUT_MS;
    if (timeout > MAX_CONNECTION_TIMEOUT_MS)
        timeout = MAX_CONNECTION_TIMEOUT_MS;
    c->connection_timeout_ms = (uint64_t)timeout;
    c->attempt = 0;
    uv_timer_stop(&c->connect_timer);
    restart_keepalive(c);
    struct ws_link *l = c->link;
    events_client_enter_state(c, EVENTS_CLIENT_READY, NULL);
    if (c->freed || c->link != l || c->state != EVENTS_CLIENT_READY)
        return;
    events_client_ws_send_waiting(c);
}

static void on_error_message(struct events_client *c, const struct events_message *m)
{
    char errors[CAUSE_SIZE], cause[CAUSE_SIZE + 64];
    const char *type;
    events_client_format_errors(m->errors, errors, sizeof(errors), &type);
    struct events_subscription *s = events_client_sub_find(c, m->id);
    struct publish *p = events_client_publish_ws_find(c, m->id);
    if (s && s->state == SUB_SENT) {
        events_client_sub_fail(c, s, events_client_error_status(type), "%s", errors);
    } else if (p) {
        TAILQ_REMOVE(&c->ws_publishes, p, link);
        events_client_publish_fail(p, events_client_error_status(type), type, "%s", errors);
    } else if (c->state != EVENTS_CLIENT_READY) {
        snprintf(cause, sizeof(cause), "server error during the handshake: %s", errors);
        events_client_ws_lost(c, cause);
        return;
    } else {
        log_warn("server error%s%s: %s", m->id ? " for id " : "", m->id ? m->id : "", errors);
    }
    if (!c->freed)
        events_client_arm_request_timer(c);
}

static void handle_message(struct events_client *c, const struct events_message *m)
{
    switch (m->type) {
    case EVENTS_CONNECTION_ACK:
        on_connection_ack(c, m);
        break;
    case EVENTS_KA:
        break;
    case EVENTS_CONNECTION_ERROR: {
        char errors[CAUSE_SIZE], cause[CAUSE_SIZE + 64];
        events_client_format_errors(m->errors, errors, sizeof(errors), NULL);
        snprintf(cause, sizeof(cause), "connection refused by the server: %s", errors);
        events_client_ws_lost(c, cause);
        break;
    }
    case EVENTS_SUBSCRIBE_SUCCESS:
    case EVENTS_SUBSCRIBE_ERROR: {
        struct events_subscription *s = events_client_sub_find(c, m->id);
        if (s && s->state == SUB_SENT)
            events_client_sub_on_answer(c, m, s);
        else
            log_debug("%s for unknown id %s", m->type_name, m->id ? m->id : "(none)");
        break;
    }
    case EVENTS_DATA:
        events_client_sub_on_data(c, m);
        break;
    case EVENTS_BROADCAST_ERROR: {
        char errors[CAUSE_SIZE];
        struct events_subscription *s = events_client_sub_find(c, m->id);
        events_client_format_errors(m->errors, errors, sizeof(errors), NULL);
        log_warn("broadcast error on %s: %s", s ? s->channel : "unknown subscription", errors);
        break;
    }
    case EVENTS_PUBLISH_SUCCESS:
    case EVENTS_PUBLISH_ERROR: {
        struct publish *p = events_client_publish_ws_find(c, m->id);
        if (p)
            events_client_publish_ws_on_answer(c, m, p);
        else
            log_debug("%s for unknown id %s", m->type_name, m->id ? m->id : "(none)");
        break;
    }
    case EVENTS_ERROR:
        on_error_message(c, m);
        break;
    case EVENTS_UNSUBSCRIBE_SUCCESS:
    case EVENTS_UNSUBSCRIBE_ERROR:
        log_debug("%s for id %s", m->type_name, m->id ? m->id : "(none)");
        break;
    default:
        log_debug("ignoring message of type %s", m->type_name);
        break;
    }
}

static void ws_on_message(void *user, int is_text, const char *data, size_t len)
{
    struct ws_link *l = user;
    struct events_client *c = l->owner;
    if (!l->active || c->freed)
        return;
    if (log_enabled(LOG_LEVEL_TRACE))
        log_trace("recv %.*s", (int)(len > 300 ? 300 : len), data);
    if (events_client_sub_read_data(c, data, len)) {
        /* The callback may have dropped the link or freed the client. */
        if (c->link == l && !c->freed && c->state == EVENTS_CLIENT_READY)
            restart_keepalive(c); /* any message proves the connection alive */
        return;
    }
    struct events_message m;
    char cause[CAUSE_SIZE];
    if (events_message_decode(data, len, &m, cause, sizeof(cause)) < 0) {
        char why[CAUSE_SIZE + 64];
        snprintf(why, sizeof(why), "bad message from the server: %s", cause);
        events_client_ws_lost(c, why);
        return;
    }
    if (c->state == EVENTS_CLIENT_READY)
        restart_keepalive(c); /* any message proves the connection alive */
    handle_message(c, &m);
    events_message_free(&m);
}

static void ws_on_closed(void *user, uint16_t code)
{
    struct ws_link *l = user;
    if (!l->active)
        return;
    char cause[96];
    if (code == 1009)
        snprintf(cause, sizeof(cause), "message from the server too big (over %u bytes)",
                 (unsigned)EVENTS_MAX_MESSAGE_BYTES);
    else if (code == 1002)
        snprintf(cause, sizeof(cause), "WebSocket protocol error");
    else
        snprintf(cause, sizeof(cause), "server closed the WebSocket (code %u)", code);
    events_client_ws_lost(l->owner, cause);
}

static const struct ws_callbacks ws_session_callbacks = {
    .on_message = ws_on_message,
    .on_closed = ws_on_closed,
};
