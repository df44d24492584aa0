/* The AppSync Events client: see client.h for the contract.
 *
 * Structure: the client owns at most one realtime link (struct ws_link: a conn,
 * the HTTP upgrade reader, then a WebSocket session) and at most one HTTP
 * publish link (struct http_link). A link that is dropped is detached at once
 * (active = 0, the client forgets it) but its memory lives until its conn
 * reports on_close, so a drop from inside a callback never frees what the
 * caller's stack still uses. The client's own memory is released only from a
 * close callback, once its timers and every link are gone. */
#include "events/client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LOG_MODULE "events"
#include "aws/sigv4.h"
#include "core/buf.h"
#include "core/encoding.h"
#include "core/log.h"
#include "core/random.h"
#include "events/channel.h"
#include "events/protocol.h"
#include "net/http.h"
#include "net/tls.h"
#include "net/url.h"
#include "net/ws.h"

#define ID_SIZE 37 /* a random UUID and its NUL */
#define CAUSE_SIZE 512
#define UPGRADE_MAX_HEADER_BYTES (32 * 1024)
#define UPGRADE_MAX_BODY_BYTES (64 * 1024)
#define HTTP_MAX_HEADER_BYTES (64 * 1024)
#define MIN_CONNECTION_TIMEOUT_MS 1000
#define MAX_CONNECTION_TIMEOUT_MS (24L * 3600 * 1000)
#define HTTP_PUBLISH_ATTEMPTS 2 /* a reused keep-alive connection may be closed under us */
#define IAM_ACCEPT "application/json, text/javascript"
#define IAM_CONTENT_ENCODING "amz-1.0"
#define IAM_CONTENT_TYPE "application/json; charset=UTF-8"

enum sub_state {
    SUB_WAITING, /* to be sent once the connection is READY */
    SUB_SENT,    /* subscribe sent, no answer yet */
    SUB_ACTIVE,  /* subscribe_success received */
};

struct events_subscription {
    struct events_client *client;
    struct events_subscription *prev, *next;
    enum sub_state state;
    int dead; /* unlinked, its failure being reported */
    char channel[CHANNEL_MAX_LENGTH + 1];
    char id[ID_SIZE]; /* fresh for every subscribe sent */
    uint64_t deadline;
    events_data_cb on_data;
    events_subscribe_cb on_result;
    void *user;
};

/* One publish, over either transport. */
struct publish {
    struct publish *next;
    char id[ID_SIZE];
    char channel[CHANNEL_MAX_LENGTH + 1];
    json_t *events; /* array of strings */
    int sent;       /* WebSocket: on the current link */
    int attempts;   /* HTTP: requests written */
    uint64_t deadline;
    events_publish_cb on_result;
    void *user;
};

struct publish_queue {
    struct publish *head, *tail;
};

struct ws_link {
    struct events_client *owner; /* valid until this link is freed */
    int active;                  /* owner->link == this */
    int upgraded;
    struct conn *conn;
    struct ws_session *ws;
    struct http_reader reader; /* the upgrade response */
    char key[25];
    char accept[29];
};

struct http_link {
    struct events_client *owner;
    int active; /* owner->http_link == this */
    int open;
    struct conn *conn;
    struct http_reader reader;
    unsigned responses;      /* answers completed on this connection */
    struct publish *current; /* the request in flight */
    size_t received;         /* bytes of its answer so far */
};

struct events_client {
    uv_loop_t *loop;
    struct conn_context *conns;
    int own_conns;
    struct tls_config *tls;
    struct url http;
    struct url realtime;
    char http_path[URL_MAX_PATH + 1]; /* "/event" when the URL names none */
    char *api_key;
    char *access_key_id;
    char *secret_access_key;
    char *session_token;
    char *region;
    int reconnect;
    uint32_t connect_timeout_ms;
    uint32_t request_timeout_ms;
    uint32_t backoff_base_ms;
    uint32_t backoff_cap_ms;
    events_state_cb on_state;
    void *user;

    enum events_client_state state;
    char last_error[CAUSE_SIZE];
    int started; /* the caller wants a realtime connection */
    int freed;
    unsigned attempt; /* consecutive failed connections, for backoff */
    uint64_t connection_timeout_ms;
    struct ws_link *link;
    struct http_link *http_link;
    struct events_subscription *subs;
    size_t sub_count;
    struct publish_queue ws_publishes;
    struct publish_queue http_queue;

    uv_timer_t connect_timer;   /* start of a connection to connection_ack */
    uv_timer_t keepalive_timer; /* silence longer than connectionTimeoutMs */
    uv_timer_t backoff_timer;   /* next reconnect */
    uv_timer_t request_timer;   /* earliest subscribe/publish deadline */
    uv_timer_t kick_timer;      /* sends what the API queued, from the loop */
    int timers_open;
    size_t links_open; /* links whose conn has not reported on_close */
};

static void link_lost(struct events_client *c, const char *cause);
static void maybe_release(struct events_client *c);
static void http_pump(struct events_client *c);
static void arm_request_timer(struct events_client *c);

static const char *const state_names[] = {
    [EVENTS_CLIENT_IDLE] = "idle",           [EVENTS_CLIENT_CONNECTING] = "connecting",
    [EVENTS_CLIENT_UPGRADING] = "upgrading", [EVENTS_CLIENT_INITIALIZING] = "initializing",
    [EVENTS_CLIENT_READY] = "ready",         [EVENTS_CLIENT_BACKOFF] = "backoff",
    [EVENTS_CLIENT_CLOSED] = "closed",
};

const char *events_client_state_name(enum events_client_state state)
{
    if ((size_t)state >= sizeof(state_names) / sizeof(state_names[0]))
        return "unknown";
    return state_names[state];
}

static void set_cause(char *cause, size_t cause_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_cause(char *cause, size_t cause_len, const char *fmt, ...)
{
    if (!cause || cause_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cause, cause_len, fmt, ap);
    va_end(ap);
}

/* The only place the state changes. The state callback may call back into
 * the client (even free it): callers re-check what they rely on afterwards. */
static void client_enter_state(struct events_client *c, enum events_client_state state,
                               const char *cause)
{
    enum events_client_state old = c->state;
    if (cause)
        snprintf(c->last_error, sizeof(c->last_error), "%s", cause);
    if (old == state && !cause)
        return;
    c->state = state;
    /* The states a user cares about at info level; the steps between at debug. */
    enum log_level level = state == EVENTS_CLIENT_READY || state == EVENTS_CLIENT_BACKOFF ||
                                   state == EVENTS_CLIENT_CLOSED
                               ? LOG_LEVEL_INFO
                               : LOG_LEVEL_DEBUG;
    if (log_enabled(level))
        log_write(level, LOG_MODULE, "realtime %s -> %s%s%s", events_client_state_name(old),
                  events_client_state_name(state), cause ? ": " : "", cause ? cause : "");
    if (c->on_state && !c->freed)
        c->on_state(c->user, state, cause);
}

enum events_client_state events_client_get_state(const struct events_client *c)
{
    return c->state;
}

const char *events_client_last_error(const struct events_client *c)
{
    return c->last_error;
}

/* ---- small helpers ---- */

static void queue_push(struct publish_queue *q, struct publish *p)
{
    p->next = NULL;
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = p;
}

static void queue_push_front(struct publish_queue *q, struct publish *p)
{
    p->next = q->head;
    q->head = p;
    if (!q->tail)
        q->tail = p;
}

static void queue_remove(struct publish_queue *q, struct publish *p)
{
    struct publish *prev = NULL;
    for (struct publish *it = q->head; it; prev = it, it = it->next) {
        if (it != p)
            continue;
        if (prev)
            prev->next = it->next;
        else
            q->head = it->next;
        if (q->tail == it)
            q->tail = prev;
        it->next = NULL;
        return;
    }
}

static uint64_t now_ms(const struct events_client *c)
{
    return uv_now(c->loop);
}

/* "T: M; T2: M2" from an AppSync errors array; *first_type gets the first
 * errorType (borrowed from the JSON). */
static void format_errors(const json_t *errors, char *out, size_t out_len, const char **first_type)
{
    size_t used = 0;
    out[0] = '\0';
    if (first_type)
        *first_type = NULL;
    for (size_t i = 0; i < json_array_size(errors) && used + 1 < out_len; i++) {
        json_t *e = json_array_get(errors, i);
        const char *type = json_string_value(json_object_get(e, "errorType"));
        const char *message = json_string_value(json_object_get(e, "message"));
        if (!type)
            type = json_string_value(json_object_get(e, "errorCode"));
        if (first_type && !*first_type)
            *first_type = type;
        int n = snprintf(out + used, out_len - used, "%s%s%s%s", i ? "; " : "",
                         type ? type : "Error", message ? ": " : "", message ? message : "");
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (!out[0])
        snprintf(out, out_len, "no error details given");
}

static int status_for_error_type(const char *type)
{
    if (type && (strstr(type, "Unauthorized") || strstr(type, "NotAuthorized") ||
                 strstr(type, "Forbidden") || strstr(type, "AccessDenied")))
        return -EACCES;
    return -EIO;
}

static int append_member(struct buf *out, const char *key, const char *value, int first)
{
    int rc = first ? 0 : buf_append_char(out, ',');
    if (rc == 0)
        rc = json_quote(out, key, strlen(key));
    if (rc == 0)
        rc = buf_append_char(out, ':');
    if (rc == 0)
        rc = json_quote(out, value, strlen(value));
    return rc;
}

/* ---- authorization ---- */

static void fill_sigv4_inputs(const struct events_client *c, struct sigv4_credentials *creds,
                              struct sigv4_params *params)
{
    creds->access_key_id = c->access_key_id;
    creds->secret_access_key = c->secret_access_key;
    creds->session_token = c->session_token;
    memset(params, 0, sizeof(*params));
    params->region = c->region;
    params->service = "appsync";
    params->timestamp = time(NULL);
    params->normalize_path = 1;
}

/* IAM over WebSocket: SigV4 over a synthetic POST https://HOST/event whose
 * body is `body` (connect "{}", or the subscribe/publish bytes). */
static int append_iam_auth(const struct events_client *c, struct buf *out, const char *body,
                           size_t body_len, char *cause, size_t cause_len)
{
    const struct sigv4_header headers[] = {
        {"accept", IAM_ACCEPT},
        {"content-encoding", IAM_CONTENT_ENCODING},
        {"content-type", IAM_CONTENT_TYPE},
        {"host", c->http.host_header},
    };
    struct sigv4_request req = {
        .method = "POST",
        .path = c->http_path,
        .headers = headers,
        .header_count = sizeof(headers) / sizeof(headers[0]),
        .body = body,
        .body_len = body_len,
    };
    struct sigv4_credentials creds;
    struct sigv4_params params;
    fill_sigv4_inputs(c, &creds, &params);
    struct sigv4_signed s;
    int rc = sigv4_sign(&req, &creds, &params, &s, cause, cause_len);
    if (rc < 0)
        return rc;
    rc = buf_append_char(out, '{');
    for (size_t i = 0; rc == 0 && i < req.header_count; i++)
        rc = append_member(out, headers[i].name, headers[i].value, i == 0);
    if (rc == 0)
        rc = append_member(out, "x-amz-date", s.amz_date, 0);
    if (rc == 0 && s.security_token)
        rc = append_member(out, "X-Amz-Security-Token", s.security_token, 0);
    if (rc == 0)
        rc = append_member(out, "Authorization", s.authorization, 0);
    if (rc == 0)
        rc = buf_append_char(out, '}');
    sigv4_signed_free(&s);
    if (rc < 0)
        set_cause(cause, cause_len, "out of memory");
    return rc;
}

/* Appends the JSON authorization object for a realtime message. */
static int append_auth(const struct events_client *c, struct buf *out, const char *body,
                       size_t body_len, char *cause, size_t cause_len)
{
    if (c->access_key_id)
        return append_iam_auth(c, out, body, body_len, cause, cause_len);
    int rc = buf_append_char(out, '{');
    if (rc == 0)
        rc = append_member(out, "host", c->http.host_header, 1);
    if (rc == 0)
        rc = append_member(out, "x-api-key", c->api_key, 0);
    if (rc == 0)
        rc = buf_append_char(out, '}');
    if (rc < 0)
        set_cause(cause, cause_len, "out of memory");
    return rc;
}

/* ---- the realtime link ---- */

static int ws_link_write(void *user, const void *data, size_t len)
{
    struct ws_link *l = user;
    return conn_write(l->conn, data, len);
}

/* Sends one text message. A failure closes the connection, whose on_close
 * then reports the loss: no user callback runs from here. */
static int link_send(struct events_client *c, const struct buf *message)
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

static void stop_link_timers(struct events_client *c)
{
    uv_timer_stop(&c->connect_timer);
    uv_timer_stop(&c->keepalive_timer);
}

/* Forgets the current link and closes it (gracefully when status is 0).
 * Subscriptions go back to waiting; nothing is reported here. */
static void detach_link(struct events_client *c, int status, const char *cause)
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
    for (struct events_subscription *s = c->subs; s; s = s->next)
        s->state = SUB_WAITING;
}

static void report_publish(struct publish *p, const struct events_publish_result *result)
{
    if (p->on_result)
        p->on_result(p->user, result);
    json_decref(p->events);
    free(p);
}

static void fail_publish(struct publish *p, int status, const char *error_type, const char *cause)
{
    struct events_publish_result r = {
        .status = status,
        .cause = cause,
        .error_type = error_type,
    };
    report_publish(p, &r);
}

/* Fails WebSocket publishes (only those sent on the lost link, or all), one at
 * a time so a callback may free the client. Returns -ECANCELED if it did. */
static int fail_ws_publishes(struct events_client *c, int only_sent, int status, const char *why)
{
    for (;;) {
        struct publish *p = c->ws_publishes.head;
        while (p && only_sent && !p->sent)
            p = p->next;
        if (!p)
            return 0;
        queue_remove(&c->ws_publishes, p);
        char cause[CAUSE_SIZE];
        snprintf(cause, sizeof(cause), "publish to %s failed: %s", p->channel, why);
        int was_freed = c->freed;
        fail_publish(p, status, NULL, cause);
        if (c->freed && !was_freed)
            return -ECANCELED;
    }
}

static uint32_t backoff_delay(const struct events_client *c)
{
    uint64_t ceiling = c->backoff_base_ms;
    for (unsigned i = 0; i < c->attempt && ceiling < c->backoff_cap_ms; i++)
        ceiling *= 2;
    if (ceiling > c->backoff_cap_ms)
        ceiling = c->backoff_cap_ms;
    return (uint32_t)random_below(ceiling + 1); /* full jitter: uniform in [0, ceiling] */
}

static void on_backoff_timer(uv_timer_t *timer);

/* After a lost or refused connection: wait and retry, or close for good. */
static void schedule_reconnect(struct events_client *c, const char *cause)
{
    if (!c->started || !c->reconnect) {
        client_enter_state(c, EVENTS_CLIENT_CLOSED, cause);
        if (c->freed || c->state != EVENTS_CLIENT_CLOSED || c->link)
            return;
        fail_ws_publishes(c, 0, -ENOTCONN, cause ? cause : "not connected");
        return;
    }
    uint32_t delay = backoff_delay(c);
    c->attempt++;
    uv_timer_start(&c->backoff_timer, on_backoff_timer, delay, 0);
    log_debug("reconnecting in %u ms (attempt %u)", delay, c->attempt);
    client_enter_state(c, EVENTS_CLIENT_BACKOFF, cause);
}

/* The realtime connection is gone (error, timeout, server close). */
static void link_lost(struct events_client *c, const char *cause)
{
    if (!c->link)
        return;
    char why[CAUSE_SIZE];
    snprintf(why, sizeof(why), "%s", cause ? cause : "connection closed");
    detach_link(c, -ECONNRESET, why);
    char publish_why[CAUSE_SIZE + 64];
    snprintf(publish_why, sizeof(publish_why), "connection lost before the answer (%s)", why);
    if (fail_ws_publishes(c, 1, -ECONNRESET, publish_why) < 0)
        return;
    if (c->freed || c->link)
        return; /* a callback freed or restarted the client */
    schedule_reconnect(c, why);
}

static void on_connect_timer(uv_timer_t *timer)
{
    struct events_client *c = timer->data;
    char cause[128];
    snprintf(cause, sizeof(cause), "no connection_ack within %u ms (stuck %s)",
             c->connect_timeout_ms, events_client_state_name(c->state));
    link_lost(c, cause);
}

static void on_keepalive_timer(uv_timer_t *timer)
{
    struct events_client *c = timer->data;
    char cause[128];
    snprintf(cause, sizeof(cause), "no message (keep-alive) from the server for %llu ms",
             (unsigned long long)c->connection_timeout_ms);
    link_lost(c, cause);
}

static void start_connect(struct events_client *c);

static void on_backoff_timer(uv_timer_t *timer)
{
    struct events_client *c = timer->data;
    if (c->started && !c->link)
        start_connect(c);
}

static const struct conn_callbacks ws_link_callbacks;

static void start_connect(struct events_client *c)
{
    uv_timer_stop(&c->backoff_timer);
    struct ws_link *l = calloc(1, sizeof(*l));
    if (!l) {
        schedule_reconnect(c, "out of memory");
        return;
    }
    l->owner = c;
    struct http_limits limits = {UPGRADE_MAX_HEADER_BYTES, UPGRADE_MAX_BODY_BYTES};
    http_reader_init(&l->reader, HTTP_RESPONSE, &limits);
    int rc = ws_new_client_key(l->key);
    if (rc == 0)
        rc =
            conn_connect(c->conns, c->realtime.host, c->realtime.port,
                         c->realtime.secure ? c->tls : NULL, NULL, &ws_link_callbacks, l, &l->conn);
    if (rc < 0) {
        http_reader_free(&l->reader);
        free(l);
        char cause[CAUSE_SIZE];
        snprintf(cause, sizeof(cause), "connecting to %s: %s", c->realtime.host_header,
                 uv_strerror(rc));
        schedule_reconnect(c, cause);
        return;
    }
    ws_accept_key(l->key, l->accept);
    l->active = 1;
    c->link = l;
    c->links_open++;
    uv_timer_start(&c->connect_timer, on_connect_timer, c->connect_timeout_ms, 0);
    log_debug("connecting to %s://%s%s", url_scheme_name(c->realtime.scheme),
              c->realtime.host_header, c->realtime.path);
    client_enter_state(c, EVENTS_CLIENT_CONNECTING, NULL);
}

static int write_upgrade_request(struct events_client *c, struct ws_link *l, char *cause,
                                 size_t cause_len)
{
    struct buf auth = BUF_INIT, encoded = BUF_INIT, request = BUF_INIT;
    char target[URL_MAX_PATH + URL_MAX_QUERY + 2];
    int rc = append_auth(c, &auth, "{}", 2, cause, cause_len);
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
        set_cause(cause, cause_len, "writing the upgrade request: %s", strerror(-rc));
    secure_wipe(auth.data, auth.cap);
    buf_free(&auth);
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
        link_lost(c, cause ? cause : uv_strerror(status));
        return;
    }
    char why[CAUSE_SIZE] = "";
    if (write_upgrade_request(c, l, why, sizeof(why)) < 0) {
        link_lost(c, why);
        return;
    }
    client_enter_state(c, EVENTS_CLIENT_UPGRADING, NULL);
}

/* A short, printable description of an HTTP error answer's body: its
 * AppSync errors when it has some, else its first bytes. */
static void describe_body(const struct http_message *m, char *out, size_t out_len)
{
    out[0] = '\0';
    size_t len = buf_length(&m->body);
    if (len == 0)
        return;
    json_t *root = json_loadb(buf_bytes(&m->body), len, 0, NULL);
    json_t *errors = json_object_get(root, "errors");
    if (json_is_array(errors) && json_array_size(errors) > 0) {
        format_errors(errors, out, out_len, NULL);
    } else {
        size_t n = 0;
        const char *body = buf_bytes(&m->body);
        for (size_t i = 0; i < len && n + 1 < out_len && n < 200; i++)
            out[n++] = (body[i] >= 0x20 && body[i] < 0x7f) ? body[i] : ' ';
        out[n] = '\0';
    }
    json_decref(root);
}

static int check_upgrade(struct events_client *c, struct ws_link *l, char *cause, size_t cause_len)
{
    const struct http_message *m = &l->reader.message;
    if (m->status != 101) {
        char body[300];
        describe_body(m, body, sizeof(body));
        set_cause(cause, cause_len, "WebSocket upgrade to %s refused: HTTP %d %s%s%s",
                  c->realtime.host_header, m->status, http_status_reason(m->status),
                  body[0] ? ": " : "", body);
        return -ECONNREFUSED;
    }
    if (!http_header_has_token(m, "upgrade", "websocket") ||
        !http_header_has_token(m, "connection", "upgrade")) {
        set_cause(cause, cause_len, "bad WebSocket upgrade answer: no Upgrade: websocket");
        return -EPROTO;
    }
    const char *accept = http_header_get(m, "sec-websocket-accept");
    if (!accept || strcmp(accept, l->accept) != 0) {
        set_cause(cause, cause_len, "bad WebSocket upgrade answer: Sec-WebSocket-Accept is %s",
                  accept ? "wrong" : "missing");
        return -EPROTO;
    }
    const char *protocol = http_header_get(m, "sec-websocket-protocol");
    if (!protocol || strcmp(protocol, EVENTS_SUBPROTOCOL) != 0) {
        set_cause(cause, cause_len,
                  "bad WebSocket upgrade answer: subprotocol is \"%.60s\", not " EVENTS_SUBPROTOCOL,
                  protocol ? protocol : "");
        return -EPROTO;
    }
    return 0;
}

static const struct ws_callbacks ws_session_callbacks;

static int send_simple(struct events_client *c, const char *type, const char *id)
{
    struct buf message = BUF_INIT;
    int rc = events_write_simple(&message, type, id);
    if (rc == 0)
        rc = link_send(c, &message);
    buf_free(&message);
    return rc;
}

static void upgrade_done(struct events_client *c, struct ws_link *l)
{
    l->upgraded = 1;
    l->ws = ws_session_new(WS_CLIENT, EVENTS_MAX_MESSAGE_BYTES, &ws_session_callbacks,
                           ws_link_write, l);
    if (!l->ws) {
        link_lost(c, "out of memory");
        return;
    }
    if (send_simple(c, "connection_init", NULL) < 0)
        return;
    client_enter_state(c, EVENTS_CLIENT_INITIALIZING, NULL);
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
            link_lost(c, cause);
            return;
        }
        if (l->reader.state != HTTP_READER_COMPLETE)
            return;
        if (check_upgrade(c, l, cause, sizeof(cause)) < 0) {
            link_lost(c, cause);
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
        link_lost(c, why);
    }
    ws_session_free(l->ws);
    http_reader_free(&l->reader);
    free(l);
    c->links_open--;
    maybe_release(c); /* c may be gone after this */
}

static const struct conn_callbacks ws_link_callbacks = {
    .on_open = ws_link_on_open,
    .on_data = ws_link_on_data,
    .on_close = ws_link_on_close,
};

/* ---- realtime messages ---- */

static struct events_subscription *find_sub(struct events_client *c, const char *id)
{
    if (!id)
        return NULL;
    for (struct events_subscription *s = c->subs; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

static struct publish *find_ws_publish(struct events_client *c, const char *id)
{
    if (!id)
        return NULL;
    for (struct publish *p = c->ws_publishes.head; p; p = p->next)
        if (p->sent && strcmp(p->id, id) == 0)
            return p;
    return NULL;
}

static void sub_unlink(struct events_client *c, struct events_subscription *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        c->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    c->sub_count--;
}

/* Removes a subscription and reports why; the handle dies afterwards. */
static void sub_fail(struct events_client *c, struct events_subscription *s, int status,
                     const char *cause)
{
    sub_unlink(c, s);
    s->dead = 1;
    log_debug("%s", cause);
    if (s->on_result && !c->freed)
        s->on_result(s->user, s, status, cause);
    free(s);
}

static void send_subscribe(struct events_client *c, struct events_subscription *s)
{
    struct buf body = BUF_INIT, message = BUF_INIT;
    char cause[CAUSE_SIZE] = "";
    random_uuid(s->id);
    int rc = events_signed_body_subscribe(&body, s->channel, strlen(s->channel));
    if (rc == 0)
        rc = buf_append_str(&message, "{\"type\":\"subscribe\",\"id\":");
    if (rc == 0)
        rc = json_quote(&message, s->id, strlen(s->id));
    if (rc == 0)
        rc = buf_append_str(&message, ",\"channel\":");
    if (rc == 0)
        rc = json_quote(&message, s->channel, strlen(s->channel));
    if (rc == 0)
        rc = buf_append_str(&message, ",\"authorization\":");
    if (rc == 0)
        rc = append_auth(c, &message, buf_bytes(&body), buf_length(&body), cause, sizeof(cause));
    if (rc == 0)
        rc = buf_append_char(&message, '}');
    buf_free(&body);
    if (rc < 0) {
        buf_free(&message);
        char why[CAUSE_SIZE + 64];
        snprintf(why, sizeof(why), "subscribe %s failed: %s", s->channel,
                 cause[0] ? cause : strerror(-rc));
        sub_fail(c, s, rc, why);
        return;
    }
    s->state = SUB_SENT;
    s->deadline = now_ms(c) + c->request_timeout_ms;
    log_debug("subscribing to %s (id %s)", s->channel, s->id);
    link_send(c, &message);
    buf_free(&message);
}

static int append_events_array(struct buf *out, const json_t *events)
{
    int rc = buf_append_char(out, '[');
    for (size_t i = 0; rc == 0 && i < json_array_size(events); i++) {
        json_t *e = json_array_get(events, i);
        if (i > 0)
            rc = buf_append_char(out, ',');
        if (rc == 0)
            rc = json_quote(out, json_string_value(e), json_string_length(e));
    }
    return rc ? rc : buf_append_char(out, ']');
}

static void send_ws_publish(struct events_client *c, struct publish *p)
{
    struct buf body = BUF_INIT, message = BUF_INIT;
    char cause[CAUSE_SIZE] = "";
    random_uuid(p->id);
    int rc = events_signed_body_publish(&body, p->channel, strlen(p->channel), p->events);
    if (rc == 0)
        rc = buf_append_str(&message, "{\"type\":\"publish\",\"id\":");
    if (rc == 0)
        rc = json_quote(&message, p->id, strlen(p->id));
    if (rc == 0)
        rc = buf_append_str(&message, ",\"channel\":");
    if (rc == 0)
        rc = json_quote(&message, p->channel, strlen(p->channel));
    if (rc == 0)
        rc = buf_append_str(&message, ",\"events\":");
    if (rc == 0)
        rc = append_events_array(&message, p->events);
    if (rc == 0)
        rc = buf_append_str(&message, ",\"authorization\":");
    if (rc == 0)
        rc = append_auth(c, &message, buf_bytes(&body), buf_length(&body), cause, sizeof(cause));
    if (rc == 0)
        rc = buf_append_char(&message, '}');
    buf_free(&body);
    if (rc < 0) {
        buf_free(&message);
        queue_remove(&c->ws_publishes, p);
        char why[CAUSE_SIZE + 64];
        snprintf(why, sizeof(why), "publish to %s failed: %s", p->channel,
                 cause[0] ? cause : strerror(-rc));
        fail_publish(p, rc, NULL, why);
        return;
    }
    p->sent = 1;
    log_debug("publishing %zu event(s) to %s over WebSocket (id %s)", json_array_size(p->events),
              p->channel, p->id);
    link_send(c, &message);
    buf_free(&message);
}

/* Sends what waited for READY. Stops if a callback drops the link. */
static void send_waiting(struct events_client *c)
{
    struct ws_link *l = c->link;
    for (;;) {
        struct events_subscription *s = c->subs;
        while (s && s->state != SUB_WAITING)
            s = s->next;
        if (!s)
            break;
        send_subscribe(c, s);
        if (c->freed || c->link != l || conn_is_closing(l->conn))
            return;
    }
    for (;;) {
        struct publish *p = c->ws_publishes.head;
        while (p && p->sent)
            p = p->next;
        if (!p)
            break;
        send_ws_publish(c, p);
        if (c->freed || c->link != l || conn_is_closing(l->conn))
            return;
    }
    arm_request_timer(c);
}

static void restart_keepalive(struct events_client *c)
{
    uv_timer_start(&c->keepalive_timer, on_keepalive_timer, c->connection_timeout_ms, 0);
}

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
    client_enter_state(c, EVENTS_CLIENT_READY, NULL);
    if (c->freed || c->link != l || c->state != EVENTS_CLIENT_READY)
        return;
    send_waiting(c);
}

static void on_subscribe_answer(struct events_client *c, const struct events_message *m,
                                struct events_subscription *s)
{
    if (m->type == EVENTS_SUBSCRIBE_SUCCESS) {
        s->state = SUB_ACTIVE;
        log_info("subscribed to %s", s->channel);
        arm_request_timer(c);
        if (s->on_result)
            s->on_result(s->user, s, 0, NULL);
        return;
    }
    char errors[CAUSE_SIZE], cause[CAUSE_SIZE + 64];
    const char *type;
    format_errors(m->errors, errors, sizeof(errors), &type);
    snprintf(cause, sizeof(cause), "subscribe %s failed: %s", s->channel, errors);
    sub_fail(c, s, status_for_error_type(type), cause);
    arm_request_timer(c);
}

static size_t array_size_or_zero(const json_t *a)
{
    return json_is_array(a) ? json_array_size(a) : 0;
}

/* Reports a publish answer: arrays of successful and failed events (the
 * publish_success message or the HTTP 200 body). */
static void report_publish_success(struct publish *p, const json_t *root)
{
    const json_t *successful = json_object_get(root, "successful");
    const json_t *failed = json_object_get(root, "failed");
    struct events_publish_result r = {
        .status = 0,
        .successful = json_is_array(successful) ? successful : NULL,
        .failed = json_is_array(failed) ? failed : NULL,
        .successful_count = array_size_or_zero(successful),
        .failed_count = array_size_or_zero(failed),
    };
    char cause[CAUSE_SIZE];
    if (r.failed_count > 0) {
        json_t *first = json_array_get(failed, 0);
        const char *message = json_string_value(json_object_get(first, "message"));
        const char *code = json_string_value(json_object_get(first, "code"));
        snprintf(cause, sizeof(cause), "publish to %s: %zu of %zu event(s) failed%s%s%s%s",
                 p->channel, r.failed_count, r.failed_count + r.successful_count,
                 code || message ? ": " : "", code ? code : "", code && message ? " " : "",
                 message ? message : "");
        r.cause = cause;
    }
    report_publish(p, &r);
}

static void on_publish_answer(struct events_client *c, const struct events_message *m,
                              struct publish *p)
{
    queue_remove(&c->ws_publishes, p);
    arm_request_timer(c);
    if (m->type == EVENTS_PUBLISH_SUCCESS) {
        report_publish_success(p, m->root);
        return;
    }
    char errors[CAUSE_SIZE], cause[CAUSE_SIZE + 64];
    const char *type;
    format_errors(m->errors, errors, sizeof(errors), &type);
    snprintf(cause, sizeof(cause), "publish to %s failed: %s", p->channel, errors);
    log_debug("%s", cause);
    fail_publish(p, status_for_error_type(type), type, cause);
}

static void on_data_message(struct events_client *c, const struct events_message *m)
{
    struct events_subscription *s = find_sub(c, m->id);
    if (!s || s->state == SUB_WAITING) {
        log_debug("data for unknown subscription %s", m->id ? m->id : "(none)");
        return;
    }
    if (!m->event) {
        log_warn("data message for %s without an event string", s->channel);
        return;
    }
    if (s->on_data)
        s->on_data(s->user, s, m->event, m->event_length);
}

static void on_error_message(struct events_client *c, const struct events_message *m)
{
    char errors[CAUSE_SIZE], cause[CAUSE_SIZE + 64];
    const char *type;
    format_errors(m->errors, errors, sizeof(errors), &type);
    struct events_subscription *s = find_sub(c, m->id);
    struct publish *p = find_ws_publish(c, m->id);
    if (s && s->state == SUB_SENT) {
        snprintf(cause, sizeof(cause), "subscribe %s failed: %s", s->channel, errors);
        sub_fail(c, s, status_for_error_type(type), cause);
    } else if (p) {
        queue_remove(&c->ws_publishes, p);
        snprintf(cause, sizeof(cause), "publish to %s failed: %s", p->channel, errors);
        log_debug("%s", cause);
        fail_publish(p, status_for_error_type(type), type, cause);
    } else if (c->state != EVENTS_CLIENT_READY) {
        snprintf(cause, sizeof(cause), "server error during the handshake: %s", errors);
        link_lost(c, cause);
        return;
    } else {
        log_warn("server error%s%s: %s", m->id ? " for id " : "", m->id ? m->id : "", errors);
    }
    if (!c->freed)
        arm_request_timer(c);
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
        format_errors(m->errors, errors, sizeof(errors), NULL);
        snprintf(cause, sizeof(cause), "connection refused by the server: %s", errors);
        link_lost(c, cause);
        break;
    }
    case EVENTS_SUBSCRIBE_SUCCESS:
    case EVENTS_SUBSCRIBE_ERROR: {
        struct events_subscription *s = find_sub(c, m->id);
        if (s && s->state == SUB_SENT)
            on_subscribe_answer(c, m, s);
        else
            log_debug("%s for unknown id %s", m->type_name, m->id ? m->id : "(none)");
        break;
    }
    case EVENTS_DATA:
        on_data_message(c, m);
        break;
    case EVENTS_BROADCAST_ERROR: {
        char errors[CAUSE_SIZE];
        struct events_subscription *s = find_sub(c, m->id);
        format_errors(m->errors, errors, sizeof(errors), NULL);
        log_warn("broadcast error on %s: %s", s ? s->channel : "unknown subscription", errors);
        break;
    }
    case EVENTS_PUBLISH_SUCCESS:
    case EVENTS_PUBLISH_ERROR: {
        struct publish *p = find_ws_publish(c, m->id);
        if (p)
            on_publish_answer(c, m, p);
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
    struct events_message m;
    char cause[CAUSE_SIZE];
    if (events_message_decode(data, len, &m, cause, sizeof(cause)) < 0) {
        char why[CAUSE_SIZE + 64];
        snprintf(why, sizeof(why), "bad message from the server: %s", cause);
        link_lost(c, why);
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
    link_lost(l->owner, cause);
}

static const struct ws_callbacks ws_session_callbacks = {
    .on_message = ws_on_message,
    .on_closed = ws_on_closed,
};

/* ---- deadlines ---- */

static int http_current_deadline(const struct events_client *c, uint64_t *deadline)
{
    const struct http_link *h = c->http_link;
    if (!h || !h->current)
        return 0;
    *deadline = h->current->deadline;
    return 1;
}

static void consider(uint64_t *earliest, int *any, uint64_t deadline)
{
    if (!*any || deadline < *earliest)
        *earliest = deadline;
    *any = 1;
}

static void on_request_timer(uv_timer_t *timer);

static void arm_request_timer(struct events_client *c)
{
    if (c->freed)
        return;
    uint64_t earliest = 0, deadline;
    int any = 0;
    for (const struct events_subscription *s = c->subs; s; s = s->next)
        if (s->state == SUB_SENT)
            consider(&earliest, &any, s->deadline);
    for (const struct publish *p = c->ws_publishes.head; p; p = p->next)
        consider(&earliest, &any, p->deadline);
    for (const struct publish *p = c->http_queue.head; p; p = p->next)
        consider(&earliest, &any, p->deadline);
    if (http_current_deadline(c, &deadline))
        consider(&earliest, &any, deadline);
    if (!any) {
        uv_timer_stop(&c->request_timer);
        return;
    }
    uint64_t now = now_ms(c);
    uv_timer_start(&c->request_timer, on_request_timer, earliest > now ? earliest - now : 0, 0);
}

static void http_link_drop(struct events_client *c, int status, const char *cause);

/* Fails the first overdue request; returns 1 if there was one. */
static int expire_one(struct events_client *c, uint64_t now)
{
    char cause[CAUSE_SIZE];
    for (struct events_subscription *s = c->subs; s; s = s->next) {
        if (s->state != SUB_SENT || s->deadline > now)
            continue;
        snprintf(cause, sizeof(cause), "subscribe %s failed: no answer within %u ms", s->channel,
                 c->request_timeout_ms);
        if (c->link && c->state == EVENTS_CLIENT_READY)
            send_simple(c, "unsubscribe", s->id);
        if (!s->dead && !c->freed)
            sub_fail(c, s, -ETIMEDOUT, cause);
        return 1;
    }
    for (struct publish *p = c->ws_publishes.head; p; p = p->next) {
        if (p->deadline > now)
            continue;
        queue_remove(&c->ws_publishes, p);
        snprintf(cause, sizeof(cause), "publish to %s failed: %s within %u ms", p->channel,
                 p->sent ? "no answer" : "not connected", c->request_timeout_ms);
        fail_publish(p, -ETIMEDOUT, NULL, cause);
        return 1;
    }
    uint64_t deadline;
    if (http_current_deadline(c, &deadline) && deadline <= now) {
        struct publish *p = c->http_link->current;
        c->http_link->current = NULL;
        snprintf(cause, sizeof(cause), "publish to %s failed: no HTTP answer within %u ms",
                 p->channel, c->request_timeout_ms);
        http_link_drop(c, -ETIMEDOUT, cause);
        fail_publish(p, -ETIMEDOUT, NULL, cause);
        return 1;
    }
    for (struct publish *p = c->http_queue.head; p; p = p->next) {
        if (p->deadline > now)
            continue;
        queue_remove(&c->http_queue, p);
        snprintf(cause, sizeof(cause), "publish to %s failed: no HTTP connection within %u ms",
                 p->channel, c->request_timeout_ms);
        /* A connection that has not opened by now is abandoned: the next
         * publish starts a fresh one. */
        if (c->http_link && !c->http_link->open)
            http_link_drop(c, -ETIMEDOUT, cause);
        fail_publish(p, -ETIMEDOUT, NULL, cause);
        return 1;
    }
    return 0;
}

static void on_request_timer(uv_timer_t *timer)
{
    struct events_client *c = timer->data;
    uint64_t now = now_ms(c);
    while (!c->freed && expire_one(c, now))
        ;
    if (c->freed)
        return;
    arm_request_timer(c);
    http_pump(c);
}

/* API calls queue their work and kick: it is done from the loop, so no user
 * callback ever runs inside the call that asked for it. */
static void on_kick_timer(uv_timer_t *timer)
{
    struct events_client *c = timer->data;
    if (c->state == EVENTS_CLIENT_READY && c->link)
        send_waiting(c);
    if (!c->freed)
        http_pump(c);
}

static void kick(struct events_client *c)
{
    uv_timer_start(&c->kick_timer, on_kick_timer, 0, 0);
}

/* ---- subscriptions ---- */

int events_client_subscribe(struct events_client *c, const char *channel, events_data_cb on_data,
                            events_subscribe_cb on_result, void *user,
                            struct events_subscription **out, char *cause, size_t cause_len)
{
    if (c->freed) {
        set_cause(cause, cause_len, "the client is closing");
        return -EINVAL;
    }
    struct channel parsed;
    char why[200];
    if (!channel || channel_parse(channel, strlen(channel), 1, &parsed, why, sizeof(why)) < 0) {
        set_cause(cause, cause_len, "subscribe %s failed: %s", channel ? channel : "(null)",
                  channel ? why : "no channel");
        return -EINVAL;
    }
    if (c->sub_count >= EVENTS_MAX_SUBSCRIPTIONS) {
        set_cause(cause, cause_len, "subscribe %s failed: at most %d subscriptions per connection",
                  parsed.path, EVENTS_MAX_SUBSCRIPTIONS);
        return -E2BIG;
    }
    struct events_subscription *s = calloc(1, sizeof(*s));
    if (!s) {
        set_cause(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    s->client = c;
    snprintf(s->channel, sizeof(s->channel), "%s", parsed.path);
    s->on_data = on_data;
    s->on_result = on_result;
    s->user = user;
    s->state = SUB_WAITING;
    s->next = c->subs;
    if (c->subs)
        c->subs->prev = s;
    c->subs = s;
    c->sub_count++;
    if (out)
        *out = s;
    kick(c);
    return 0;
}

void events_client_unsubscribe(struct events_subscription *s)
{
    if (!s || s->dead)
        return;
    struct events_client *c = s->client;
    sub_unlink(c, s);
    s->dead = 1;
    if (s->state != SUB_WAITING && c->link && c->state == EVENTS_CLIENT_READY) {
        log_debug("unsubscribing from %s (id %s)", s->channel, s->id);
        send_simple(c, "unsubscribe", s->id);
    }
    free(s);
    if (!c->freed)
        arm_request_timer(c);
}

const char *events_subscription_channel(const struct events_subscription *s)
{
    return s->channel;
}

/* ---- publishing ---- */

/* Checks a publish and builds its queue entry. */
static int publish_new(const char *channel, const char *const *events, size_t event_count,
                       events_publish_cb on_result, void *user, struct publish **out, char *cause,
                       size_t cause_len)
{
    struct channel parsed;
    char why[200];
    if (!channel || channel_parse(channel, strlen(channel), 0, &parsed, why, sizeof(why)) < 0) {
        set_cause(cause, cause_len, "publish to %s failed: %s", channel ? channel : "(null)",
                  channel ? why : "no channel");
        return -EINVAL;
    }
    if (event_count < 1 || event_count > EVENTS_MAX_EVENTS_PER_PUBLISH) {
        set_cause(cause, cause_len, "publish to %s failed: %zu events given, 1 to %d allowed",
                  parsed.path, event_count, EVENTS_MAX_EVENTS_PER_PUBLISH);
        return -EINVAL;
    }
    json_t *array = json_array();
    size_t total = 0;
    for (size_t i = 0; array && i < event_count; i++) {
        size_t len = events[i] ? strlen(events[i]) : 0;
        json_error_t error;
        json_t *check = events[i] ? json_loadb(events[i], len, JSON_DECODE_ANY, &error) : NULL;
        json_decref(check);
        total += len;
        if (!check || len > EVENTS_MAX_EVENT_BYTES || total > EVENTS_MAX_PUBLISH_BYTES) {
            if (!check)
                set_cause(cause, cause_len, "publish to %s failed: event %zu is not JSON: %s",
                          parsed.path, i + 1, events[i] ? error.text : "missing");
            else
                set_cause(cause, cause_len,
                          "publish to %s failed: events too large (%d bytes per event, %d in all)",
                          parsed.path, EVENTS_MAX_EVENT_BYTES, EVENTS_MAX_PUBLISH_BYTES);
            json_decref(array);
            return -EINVAL;
        }
        if (json_array_append_new(array, json_stringn(events[i], len)) < 0) {
            json_decref(array);
            array = NULL;
        }
    }
    struct publish *p = array ? calloc(1, sizeof(*p)) : NULL;
    if (!p) {
        json_decref(array);
        set_cause(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    snprintf(p->channel, sizeof(p->channel), "%s", parsed.path);
    p->events = array;
    p->on_result = on_result;
    p->user = user;
    *out = p;
    return 0;
}

int events_client_publish(struct events_client *c, const char *channel, const char *const *events,
                          size_t event_count, events_publish_cb on_result, void *user, char *cause,
                          size_t cause_len)
{
    if (c->freed) {
        set_cause(cause, cause_len, "the client is closing");
        return -EINVAL;
    }
    struct publish *p;
    int rc = publish_new(channel, events, event_count, on_result, user, &p, cause, cause_len);
    if (rc < 0)
        return rc;
    p->deadline = now_ms(c) + c->request_timeout_ms;
    queue_push(&c->ws_publishes, p);
    if (c->state != EVENTS_CLIENT_READY)
        log_debug("publish to %s queued: the realtime connection is %s", p->channel,
                  events_client_state_name(c->state));
    arm_request_timer(c);
    kick(c);
    return 0;
}

int events_client_publish_http(struct events_client *c, const char *channel,
                               const char *const *events, size_t event_count,
                               events_publish_cb on_result, void *user, char *cause,
                               size_t cause_len)
{
    if (c->freed) {
        set_cause(cause, cause_len, "the client is closing");
        return -EINVAL;
    }
    struct publish *p;
    int rc = publish_new(channel, events, event_count, on_result, user, &p, cause, cause_len);
    if (rc < 0)
        return rc;
    p->deadline = now_ms(c) + c->request_timeout_ms;
    queue_push(&c->http_queue, p);
    arm_request_timer(c);
    kick(c);
    return 0;
}

/* ---- HTTP publish ---- */

static const struct conn_callbacks http_link_callbacks;

static struct http_link *http_link_open(struct events_client *c, char *cause, size_t cause_len)
{
    struct http_link *h = calloc(1, sizeof(*h));
    if (!h) {
        set_cause(cause, cause_len, "out of memory");
        return NULL;
    }
    h->owner = c;
    struct http_limits limits = {HTTP_MAX_HEADER_BYTES, EVENTS_CLIENT_MAX_HTTP_RESPONSE};
    http_reader_init(&h->reader, HTTP_RESPONSE, &limits);
    int rc = conn_connect(c->conns, c->http.host, c->http.port, c->http.secure ? c->tls : NULL,
                          NULL, &http_link_callbacks, h, &h->conn);
    if (rc < 0) {
        http_reader_free(&h->reader);
        free(h);
        set_cause(cause, cause_len, "connecting to %s: %s", c->http.host_header, uv_strerror(rc));
        return NULL;
    }
    h->active = 1;
    c->http_link = h;
    c->links_open++;
    log_debug("connecting to %s://%s for HTTP publishes", url_scheme_name(c->http.scheme),
              c->http.host_header);
    return h;
}

/* Forgets the HTTP connection and closes it; its current request (if any)
 * must have been taken by the caller. */
static void http_link_drop(struct events_client *c, int status, const char *cause)
{
    struct http_link *h = c->http_link;
    if (!h)
        return;
    c->http_link = NULL;
    h->active = 0;
    conn_close(h->conn, status, cause);
}

/* Fails every queued HTTP publish (a callback may free the client). */
static void fail_http_queue(struct events_client *c, int status, const char *why)
{
    while (c->http_queue.head) {
        struct publish *p = c->http_queue.head;
        queue_remove(&c->http_queue, p);
        char cause[CAUSE_SIZE + 64];
        snprintf(cause, sizeof(cause), "publish to %s failed: %s", p->channel, why);
        fail_publish(p, status, NULL, cause);
    }
}

static int append_http_auth(const struct events_client *c, struct buf *out, const struct buf *body,
                            char *cause, size_t cause_len)
{
    if (!c->access_key_id)
        return buf_printf(out, "x-api-key: %s\r\n", c->api_key);
    const struct sigv4_header headers[] = {
        {"content-type", "application/json"},
        {"host", c->http.host_header},
    };
    struct sigv4_request req = {
        .method = "POST",
        .path = c->http_path,
        .query = c->http.query,
        .headers = headers,
        .header_count = sizeof(headers) / sizeof(headers[0]),
        .body = buf_bytes(body),
        .body_len = buf_length(body),
    };
    struct sigv4_credentials creds;
    struct sigv4_params params;
    fill_sigv4_inputs(c, &creds, &params);
    struct sigv4_signed s;
    int rc = sigv4_sign(&req, &creds, &params, &s, cause, cause_len);
    if (rc < 0)
        return rc;
    struct sigv4_header add[4];
    size_t n = sigv4_signed_headers_to_add(&s, add);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = buf_printf(out, "%s: %s\r\n", add[i].name, add[i].value);
    sigv4_signed_free(&s);
    return rc;
}

static int build_http_request(const struct events_client *c, const struct publish *p,
                              struct buf *out, char *cause, size_t cause_len)
{
    struct buf body = BUF_INIT;
    int rc = events_signed_body_publish(&body, p->channel, strlen(p->channel), p->events);
    if (rc == 0)
        rc = buf_printf(out,
                        "POST %s%s%s HTTP/1.1\r\n"
                        "Host: %s\r\n"
                        "Content-Type: application/json\r\n"
                        "Accept: application/json\r\n"
                        "Content-Length: %zu\r\n"
                        "User-Agent: tether\r\n",
                        c->http_path, c->http.query[0] ? "?" : "", c->http.query,
                        c->http.host_header, buf_length(&body));
    if (rc == 0)
        rc = append_http_auth(c, out, &body, cause, cause_len);
    if (rc == 0)
        rc = buf_append_str(out, "\r\n");
    if (rc == 0)
        rc = buf_append(out, buf_bytes(&body), buf_length(&body));
    buf_free(&body);
    return rc;
}

/* Writes the next queued publish on an open, idle connection. */
static int http_send(struct events_client *c, struct http_link *h, struct publish *p)
{
    struct buf request = BUF_INIT;
    char cause[CAUSE_SIZE] = "";
    int rc = build_http_request(c, p, &request, cause, sizeof(cause));
    if (rc == 0)
        rc = conn_write(h->conn, buf_bytes(&request), buf_length(&request));
    buf_free(&request);
    if (rc < 0) {
        char why[CAUSE_SIZE + 64];
        snprintf(why, sizeof(why), "publish to %s failed: %s", p->channel,
                 cause[0] ? cause : strerror(-rc));
        fail_publish(p, rc, NULL, why);
        return rc;
    }
    h->current = p;
    h->received = 0;
    p->attempts++;
    log_debug("publishing %zu event(s) to %s over HTTP", json_array_size(p->events), p->channel);
    return 0;
}

static void http_pump(struct events_client *c)
{
    while (!c->freed && c->http_queue.head) {
        struct http_link *h = c->http_link;
        if (h && (h->current || !h->open || conn_is_closing(h->conn)))
            return;
        if (!h) {
            char cause[CAUSE_SIZE];
            if (!http_link_open(c, cause, sizeof(cause)))
                fail_http_queue(c, -ECONNREFUSED, cause);
            return; /* on_open pumps again */
        }
        struct publish *p = c->http_queue.head;
        queue_remove(&c->http_queue, p);
        http_send(c, h, p);
    }
    if (!c->freed)
        arm_request_timer(c);
}

static void finish_http_publish(struct publish *p, const struct http_message *m)
{
    json_t *root = json_loadb(buf_bytes(&m->body), buf_length(&m->body), 0, NULL);
    char cause[CAUSE_SIZE + 64];
    if (m->status >= 200 && m->status < 300) {
        if (json_is_object(root)) {
            report_publish_success(p, root);
        } else {
            snprintf(cause, sizeof(cause), "publish to %s: unreadable answer (HTTP %d)", p->channel,
                     m->status);
            fail_publish(p, -EPROTO, NULL, cause);
        }
        json_decref(root);
        return;
    }
    char errors[CAUSE_SIZE];
    const char *type = NULL;
    json_t *list = json_object_get(root, "errors");
    if (json_is_array(list) && json_array_size(list) > 0)
        format_errors(list, errors, sizeof(errors), &type);
    else
        describe_body(m, errors, sizeof(errors));
    int status = m->status == 401 || m->status == 403 ? -EACCES : status_for_error_type(type);
    snprintf(cause, sizeof(cause), "publish to %s failed: HTTP %d%s%s", p->channel, m->status,
             errors[0] ? ": " : "", errors);
    log_debug("%s", cause);
    fail_publish(p, status, type, cause);
    json_decref(root);
}

static void http_link_on_open(struct conn *conn, int status, const char *cause)
{
    struct http_link *h = conn_user(conn);
    if (!h->active || status < 0)
        return; /* a failure is handled by on_close, which follows */
    h->open = 1;
    http_pump(h->owner);
}

static void http_answer_done(struct events_client *c, struct http_link *h, int clean)
{
    struct publish *p = h->current;
    h->current = NULL;
    h->responses++;
    int keep = clean && h->reader.message.keep_alive;
    finish_http_publish(p, &h->reader.message);
    if (h->active) {
        if (keep)
            http_reader_reset(&h->reader);
        else
            http_link_drop(c, 0, NULL);
    }
    if (!c->freed)
        http_pump(c);
}

static void http_link_on_data(struct conn *conn, const char *data, size_t len)
{
    struct http_link *h = conn_user(conn);
    struct events_client *c = h->owner;
    if (!h->active)
        return;
    if (!h->current) {
        http_link_drop(c, -EPROTO, "unexpected data from the HTTP server");
        return;
    }
    h->received += len;
    ssize_t n = http_reader_feed(&h->reader, data, len);
    if (n < 0) {
        struct publish *p = h->current;
        h->current = NULL;
        char cause[CAUSE_SIZE];
        snprintf(cause, sizeof(cause), "publish to %s failed: bad HTTP answer: %s", p->channel,
                 h->reader.error);
        http_link_drop(c, -EPROTO, cause);
        fail_publish(p, -EPROTO, NULL, cause);
        if (!c->freed)
            http_pump(c);
        return;
    }
    if (h->reader.state == HTTP_READER_COMPLETE)
        http_answer_done(c, h, (size_t)n == len);
}

/* The connection closed with a request in flight: retry it once if a reused
 * keep-alive connection was closed before answering, else fail it. */
static void http_link_lost_current(struct events_client *c, struct http_link *h, const char *why)
{
    struct publish *p = h->current;
    if (h->received == 0 && h->responses > 0 && p->attempts < HTTP_PUBLISH_ATTEMPTS) {
        h->current = NULL;
        log_debug("keep-alive connection closed before answering; retrying on a new one");
        queue_push_front(&c->http_queue, p);
        return;
    }
    if (h->reader.state == HTTP_READER_READING && h->reader.message.status > 0) {
        http_reader_finish(&h->reader); /* a body delimited by the close */
        if (h->reader.state == HTTP_READER_COMPLETE) {
            http_answer_done(c, h, 0);
            return;
        }
    }
    h->current = NULL;
    char cause[CAUSE_SIZE + 64];
    snprintf(cause, sizeof(cause), "publish to %s failed: connection closed before the answer (%s)",
             p->channel, why);
    fail_publish(p, -ECONNRESET, NULL, cause);
}

static void http_link_on_close(struct conn *conn, int status, const char *cause)
{
    struct http_link *h = conn_user(conn);
    struct events_client *c = h->owner;
    if (h->active) {
        const char *why = cause ? cause : "connection closed";
        c->http_link = NULL;
        h->active = 0;
        if (h->current)
            http_link_lost_current(c, h, why);
        else if (!h->open && !c->freed)
            fail_http_queue(c, status < 0 ? status : -ECONNRESET, why);
        if (!c->freed)
            http_pump(c);
    }
    http_reader_free(&h->reader);
    free(h);
    c->links_open--;
    maybe_release(c); /* c may be gone after this */
}

static const struct conn_callbacks http_link_callbacks = {
    .on_open = http_link_on_open,
    .on_data = http_link_on_data,
    .on_close = http_link_on_close,
};

/* ---- life cycle ---- */

void events_client_config_init(struct events_client_config *config)
{
    memset(config, 0, sizeof(*config));
    config->reconnect = 1;
    config->connect_timeout_ms = EVENTS_CLIENT_DEFAULT_TIMEOUT_MS;
    config->request_timeout_ms = EVENTS_CLIENT_DEFAULT_TIMEOUT_MS;
    config->backoff_base_ms = EVENTS_CLIENT_DEFAULT_BACKOFF_BASE_MS;
    config->backoff_cap_ms = EVENTS_CLIENT_DEFAULT_BACKOFF_CAP_MS;
}

/* Values that go into HTTP headers: printable ASCII, no line breaks. */
static int header_safe(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

static int parse_urls(struct events_client *c, const struct events_client_config *config,
                      char *cause, size_t cause_len)
{
    char why[200];
    if (!config->http_url) {
        set_cause(cause, cause_len, "no HTTP endpoint URL given");
        return -EINVAL;
    }
    if (url_parse(config->http_url, &c->http, why, sizeof(why)) < 0 ||
        (c->http.scheme != URL_HTTP && c->http.scheme != URL_HTTPS)) {
        set_cause(cause, cause_len, "bad HTTP endpoint %s: %s", config->http_url,
                  c->http.host[0] ? "must be http:// or https://" : why);
        return -EINVAL;
    }
    snprintf(c->http_path, sizeof(c->http_path), "%s",
             strcmp(c->http.path, "/") == 0 ? "/event" : c->http.path);
    char derived[URL_MAX_LENGTH + 1];
    const char *realtime = config->realtime_url;
    if (!realtime) {
        if (events_client_realtime_url(config->http_url, derived, sizeof(derived), cause,
                                       cause_len) < 0)
            return -EINVAL;
        realtime = derived;
    }
    if (url_parse(realtime, &c->realtime, why, sizeof(why)) < 0 ||
        (c->realtime.scheme != URL_WS && c->realtime.scheme != URL_WSS)) {
        set_cause(cause, cause_len, "bad realtime URL %s: %s", realtime,
                  c->realtime.host[0] ? "must be ws:// or wss://" : why);
        return -EINVAL;
    }
    return 0;
}

static int check_auth(const struct events_client_config *config, char *cause, size_t cause_len)
{
    if (!config->api_key == !config->access_key_id) {
        set_cause(cause, cause_len, "give either an API key or IAM credentials");
        return -EINVAL;
    }
    if (config->api_key && !header_safe(config->api_key)) {
        set_cause(cause, cause_len, "the API key must be printable ASCII");
        return -EINVAL;
    }
    if (config->access_key_id &&
        (!header_safe(config->access_key_id) || !header_safe(config->secret_access_key) ||
         (config->session_token && config->session_token[0] &&
          !header_safe(config->session_token)))) {
        set_cause(cause, cause_len,
                  "IAM credentials need an access key id and a secret access key "
                  "(printable ASCII)");
        return -EINVAL;
    }
    if (config->access_key_id && (!config->region || !header_safe(config->region))) {
        set_cause(cause, cause_len, "IAM authorization needs a region");
        return -EINVAL;
    }
    return 0;
}

static char *copy_string(const char *s, int *failed)
{
    if (!s || !*s)
        return NULL;
    char *copy = strdup(s);
    if (!copy)
        *failed = 1;
    return copy;
}

static void wipe_string(char *s)
{
    if (s)
        secure_wipe(s, strlen(s));
    free(s);
}

static void release(struct events_client *c)
{
    free(c->api_key);
    free(c->access_key_id);
    wipe_string(c->secret_access_key);
    wipe_string(c->session_token);
    free(c->region);
    tls_config_free(c->tls);
    if (c->own_conns)
        conn_context_free(c->conns);
    free(c);
}

static void maybe_release(struct events_client *c)
{
    if (c->freed && c->timers_open == 0 && c->links_open == 0)
        release(c);
}

static int copy_config(struct events_client *c, const struct events_client_config *config,
                       char *cause, size_t cause_len)
{
    int failed = 0;
    c->api_key = copy_string(config->api_key, &failed);
    c->access_key_id = copy_string(config->access_key_id, &failed);
    c->secret_access_key = copy_string(config->secret_access_key, &failed);
    c->session_token = copy_string(config->session_token, &failed);
    c->region = copy_string(config->region, &failed);
    if (failed) {
        set_cause(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    c->reconnect = config->reconnect;
    c->connect_timeout_ms =
        config->connect_timeout_ms ? config->connect_timeout_ms : EVENTS_CLIENT_DEFAULT_TIMEOUT_MS;
    c->request_timeout_ms =
        config->request_timeout_ms ? config->request_timeout_ms : EVENTS_CLIENT_DEFAULT_TIMEOUT_MS;
    c->backoff_base_ms =
        config->backoff_base_ms ? config->backoff_base_ms : EVENTS_CLIENT_DEFAULT_BACKOFF_BASE_MS;
    c->backoff_cap_ms =
        config->backoff_cap_ms ? config->backoff_cap_ms : EVENTS_CLIENT_DEFAULT_BACKOFF_CAP_MS;
    if (c->backoff_cap_ms < c->backoff_base_ms)
        c->backoff_cap_ms = c->backoff_base_ms;
    c->on_state = config->on_state;
    c->user = config->user;
    return 0;
}

static int setup_transport(struct events_client *c, const struct events_client_config *config,
                           char *cause, size_t cause_len)
{
    if (c->http.secure || c->realtime.secure) {
        int rc =
            tls_config_new_client(config->ca_file, !config->insecure, &c->tls, cause, cause_len);
        if (rc < 0)
            return rc;
    }
    if (config->conn_context) {
        c->conns = config->conn_context;
        return 0;
    }
    c->conns = conn_context_new(c->loop);
    if (!c->conns) {
        set_cause(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    c->own_conns = 1;
    return 0;
}

/* Signs a connect once, so bad credentials fail here and not on every retry. */
static int check_signing(const struct events_client *c, char *cause, size_t cause_len)
{
    struct buf auth = BUF_INIT;
    char why[CAUSE_SIZE] = "";
    int rc = append_auth(c, &auth, "{}", 2, why, sizeof(why));
    secure_wipe(auth.data, auth.cap);
    buf_free(&auth);
    if (rc < 0)
        set_cause(cause, cause_len, "cannot sign requests: %s", why);
    return rc < 0 ? -EINVAL : 0;
}

static void init_timer(struct events_client *c, uv_timer_t *timer)
{
    uv_timer_init(c->loop, timer);
    timer->data = c;
    c->timers_open++;
}

int events_client_new(uv_loop_t *loop, const struct events_client_config *config,
                      struct events_client **out, char *cause, size_t cause_len)
{
    struct events_client *c = calloc(1, sizeof(*c));
    if (!c) {
        set_cause(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    c->loop = loop;
    c->state = EVENTS_CLIENT_IDLE;
    c->connection_timeout_ms = EVENTS_CONNECTION_TIMEOUT_MS;
    int rc = parse_urls(c, config, cause, cause_len);
    if (rc == 0)
        rc = check_auth(config, cause, cause_len);
    if (rc == 0)
        rc = copy_config(c, config, cause, cause_len);
    if (rc == 0)
        rc = setup_transport(c, config, cause, cause_len);
    if (rc == 0)
        rc = check_signing(c, cause, cause_len);
    if (rc < 0) {
        release(c);
        return rc;
    }
    init_timer(c, &c->connect_timer);
    init_timer(c, &c->keepalive_timer);
    init_timer(c, &c->backoff_timer);
    init_timer(c, &c->request_timer);
    init_timer(c, &c->kick_timer);
    log_debug("client for %s://%s%s (realtime %s://%s%s), %s auth", url_scheme_name(c->http.scheme),
              c->http.host_header, c->http_path, url_scheme_name(c->realtime.scheme),
              c->realtime.host_header, c->realtime.path, c->access_key_id ? "IAM" : "API key");
    *out = c;
    return 0;
}

int events_client_start(struct events_client *c)
{
    if (c->freed)
        return -EINVAL;
    c->started = 1;
    if (c->link)
        return 0;
    start_connect(c);
    return 0;
}

void events_client_stop(struct events_client *c)
{
    if (c->freed)
        return;
    c->started = 0;
    uv_timer_stop(&c->backoff_timer);
    detach_link(c, 0, NULL);
    client_enter_state(c, EVENTS_CLIENT_CLOSED, NULL);
    if (!c->freed)
        fail_ws_publishes(c, 0, -ECANCELED, "the client was stopped");
}

static void on_timer_closed(uv_handle_t *handle)
{
    struct events_client *c = handle->data;
    c->timers_open--;
    maybe_release(c);
}

static void fail_all_publishes(struct events_client *c)
{
    struct http_link *h = c->http_link;
    if (h && h->current) {
        struct publish *p = h->current;
        h->current = NULL;
        char cause[CAUSE_SIZE];
        snprintf(cause, sizeof(cause), "publish to %s failed: the client was freed", p->channel);
        fail_publish(p, -ECANCELED, NULL, cause);
    }
    fail_http_queue(c, -ECANCELED, "the client was freed");
    while (c->ws_publishes.head) {
        struct publish *p = c->ws_publishes.head;
        queue_remove(&c->ws_publishes, p);
        char cause[CAUSE_SIZE];
        snprintf(cause, sizeof(cause), "publish to %s failed: the client was freed", p->channel);
        fail_publish(p, -ECANCELED, NULL, cause);
    }
}

void events_client_free(struct events_client *c)
{
    if (!c || c->freed)
        return;
    c->freed = 1;
    c->started = 0;
    detach_link(c, 0, NULL);
    while (c->subs) {
        struct events_subscription *s = c->subs;
        sub_unlink(c, s);
        free(s);
    }
    /* Publish callbacks may call the API; c->freed makes every call a no-op. */
    fail_all_publishes(c);
    struct http_link *h = c->http_link;
    if (h)
        http_link_drop(c, h->open ? 0 : -ECANCELED, NULL);
    uv_timer_t *timers[] = {&c->connect_timer, &c->keepalive_timer, &c->backoff_timer,
                            &c->request_timer, &c->kick_timer};
    for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++)
        uv_close((uv_handle_t *)timers[i], on_timer_closed);
}

/* ---- helpers ---- */

int events_client_realtime_url(const char *http_url, char *out, size_t out_len, char *cause,
                               size_t cause_len)
{
    struct url u;
    char why[200];
    if (url_parse(http_url, &u, why, sizeof(why)) < 0) {
        set_cause(cause, cause_len, "bad HTTP endpoint %s: %s", http_url ? http_url : "", why);
        return -EINVAL;
    }
    if (u.scheme != URL_HTTP && u.scheme != URL_HTTPS) {
        set_cause(cause, cause_len, "bad HTTP endpoint %s: must be http:// or https://", http_url);
        return -EINVAL;
    }
    char host[URL_MAX_HOST + 32];
    const char *api = strstr(u.host, ".appsync-api.");
    if (api)
        snprintf(host, sizeof(host), "%.*s.appsync-realtime-api.%s", (int)(api - u.host), u.host,
                 api + strlen(".appsync-api."));
    else
        snprintf(host, sizeof(host), "%s", u.host);
    char port[8] = "";
    if (u.port != url_default_port(u.scheme))
        snprintf(port, sizeof(port), ":%u", u.port);
    int n = snprintf(out, out_len, "%s://%s%s%s%s/event/realtime", u.secure ? "wss" : "ws",
                     u.is_ipv6 ? "[" : "", host, u.is_ipv6 ? "]" : "", port);
    if (n < 0 || (size_t)n >= out_len) {
        set_cause(cause, cause_len, "realtime URL too long");
        return -ENAMETOOLONG;
    }
    return 0;
}

int events_client_region_from_url(const char *http_url, char *out, size_t out_len)
{
    struct url u;
    char why[8];
    if (url_parse(http_url, &u, why, sizeof(why)) < 0)
        return -EINVAL;
    const char *api = strstr(u.host, ".appsync-api.");
    if (!api)
        api = strstr(u.host, ".appsync-realtime-api.");
    if (!api)
        return -ENOENT;
    const char *region = strchr(api + 1, '.') + 1;
    const char *end = strchr(region, '.');
    if (!end || end == region || strncmp(end, ".amazonaws.com", 14) != 0)
        return -ENOENT;
    int n = snprintf(out, out_len, "%.*s", (int)(end - region), region);
    return n < 0 || (size_t)n >= out_len ? -ENAMETOOLONG : 0;
}

static const char *env_nonempty(const char *name)
{
    const char *value = getenv(name);
    return value && *value ? value : NULL;
}

int events_client_config_iam_from_env(struct events_client_config *config, const char *region,
                                      char *region_buf, size_t region_buf_len, char *cause,
                                      size_t cause_len)
{
    config->access_key_id = env_nonempty("AWS_ACCESS_KEY_ID");
    config->secret_access_key = env_nonempty("AWS_SECRET_ACCESS_KEY");
    config->session_token = env_nonempty("AWS_SESSION_TOKEN");
    if (!config->access_key_id || !config->secret_access_key) {
        set_cause(cause, cause_len,
                  "IAM authorization needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
                  "environment");
        return -EINVAL;
    }
    if (!region || !*region)
        region = env_nonempty("AWS_REGION");
    if (!region)
        region = env_nonempty("AWS_DEFAULT_REGION");
    if (!region && config->http_url &&
        events_client_region_from_url(config->http_url, region_buf, region_buf_len) == 0)
        region = region_buf;
    if (!region) {
        set_cause(cause, cause_len,
                  "IAM authorization needs a region: --region, AWS_REGION or AWS_DEFAULT_REGION");
        return -EINVAL;
    }
    config->region = region;
    return 0;
}
