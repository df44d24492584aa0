/* The events client's HTTP publishes: POSTs to the HTTP endpoint over one
 * keep-alive connection (struct http_link), one request at a time, in order;
 * a reused connection closed under a request is retried once on a new one.
 * See client_internal.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "events"
#include "core/buf.h"
#include "core/log.h"
#include "events/client_internal.h"

#define HTTP_MAX_HEADER_BYTES (64 * 1024)
#define HTTP_PUBLISH_ATTEMPTS 2 /* a reused keep-alive connection may be closed under us */

static const struct conn_callbacks http_link_callbacks;

void events_client_http_describe_body(const struct http_message *m, char *out, size_t out_len)
{
    out[0] = '\0';
    size_t len = buf_length(&m->body);
    if (len == 0)
        return;
    json_t *root = json_loadb(buf_bytes(&m->body), len, 0, NULL);
    json_t *errors = json_object_get(root, "errors");
    if (json_is_array(errors) && json_array_size(errors) > 0) {
        events_client_format_errors(errors, out, out_len, NULL);
    } else {
        size_t n = 0;
        const char *body = buf_bytes(&m->body);
        for (size_t i = 0; i < len && n + 1 < out_len && n < 200; i++)
            out[n++] = (body[i] >= 0x20 && body[i] < 0x7f) ? body[i] : ' ';
        out[n] = '\0';
    }
    json_decref(root);
}

static struct http_link *http_link_open(struct events_client *c, char *cause, size_t cause_len)
{
    struct http_link *h = calloc(1, sizeof(*h));
    if (!h) {
        events_client_set_cause(cause, cause_len, "out of memory");
        return NULL;
    }
    h->owner = c;
    struct http_limits limits = {HTTP_MAX_HEADER_BYTES, EVENTS_CLIENT_MAX_HTTP_RESPONSE};
    http_reader_init(&h->reader, HTTP_RESPONSE, &limits);
    int rc = conn_connect_via(c->conns, c->http.host, c->http.port, c->http.secure ? c->tls : NULL,
                              NULL, c->use_http_proxy ? &c->http_proxy : NULL, &http_link_callbacks,
                              h, &h->conn);
    if (rc < 0) {
        http_reader_free(&h->reader);
        free(h);
        events_client_set_cause(cause, cause_len, "connecting to %s: %s", c->http.host_header,
                                uv_strerror(rc));
        return NULL;
    }
    h->active = 1;
    c->http_link = h;
    c->links_open++;
    log_debug("connecting to %s://%s for HTTP publishes", url_scheme_name(c->http.scheme),
              c->http.host_header);
    return h;
}

void events_client_http_drop(struct events_client *c, int status, const char *cause)
{
    struct http_link *h = c->http_link;
    if (!h)
        return;
    c->http_link = NULL;
    h->active = 0;
    conn_close(h->conn, status, cause);
}

void events_client_http_fail_queue(struct events_client *c, int status, const char *why)
{
    while (c->http_queue.head) {
        struct publish *p = c->http_queue.head;
        events_client_publish_queue_remove(&c->http_queue, p);
        char cause[CAUSE_SIZE + 64];
        snprintf(cause, sizeof(cause), "publish to %s failed: %s", p->channel, why);
        events_client_publish_fail(p, status, NULL, cause);
    }
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
        rc = events_client_auth_append_http(c, out, &body, cause, cause_len);
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
        events_client_publish_fail(p, rc, NULL, why);
        return rc;
    }
    h->current = p;
    h->received = 0;
    p->attempts++;
    log_debug("publishing %zu event(s) to %s over HTTP", json_array_size(p->events), p->channel);
    return 0;
}

void events_client_http_pump(struct events_client *c)
{
    while (!c->freed && c->http_queue.head) {
        struct http_link *h = c->http_link;
        if (h && (h->current || !h->open || conn_is_closing(h->conn)))
            return;
        if (!h) {
            char cause[CAUSE_SIZE];
            if (!http_link_open(c, cause, sizeof(cause)))
                events_client_http_fail_queue(c, -ECONNREFUSED, cause);
            return; /* on_open pumps again */
        }
        struct publish *p = c->http_queue.head;
        events_client_publish_queue_remove(&c->http_queue, p);
        http_send(c, h, p);
    }
    if (!c->freed)
        events_client_arm_request_timer(c);
}

static void finish_http_publish(struct publish *p, const struct http_message *m)
{
    json_t *root = json_loadb(buf_bytes(&m->body), buf_length(&m->body), 0, NULL);
    char cause[CAUSE_SIZE + 64];
    if (m->status >= 200 && m->status < 300) {
        if (json_is_object(root)) {
            events_client_publish_report_success(p, root);
        } else {
            snprintf(cause, sizeof(cause), "publish to %s: unreadable answer (HTTP %d)", p->channel,
                     m->status);
            events_client_publish_fail(p, -EPROTO, NULL, cause);
        }
        json_decref(root);
        return;
    }
    char errors[CAUSE_SIZE];
    const char *type = NULL;
    json_t *list = json_object_get(root, "errors");
    if (json_is_array(list) && json_array_size(list) > 0)
        events_client_format_errors(list, errors, sizeof(errors), &type);
    else
        events_client_http_describe_body(m, errors, sizeof(errors));
    int status = m->status == 401 || m->status == 403 ? -EACCES : events_client_error_status(type);
    snprintf(cause, sizeof(cause), "publish to %s failed: HTTP %d%s%s", p->channel, m->status,
             errors[0] ? ": " : "", errors);
    log_debug("%s", cause);
    events_client_publish_fail(p, status, type, cause);
    json_decref(root);
}

static void http_link_on_open(struct conn *conn, int status, const char *cause)
{
    struct http_link *h = conn_user(conn);
    if (!h->active || status < 0)
        return; /* a failure is handled by on_close, which follows */
    h->open = 1;
    events_client_http_pump(h->owner);
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
            events_client_http_drop(c, 0, NULL);
    }
    if (!c->freed)
        events_client_http_pump(c);
}

static void http_link_on_data(struct conn *conn, const char *data, size_t len)
{
    struct http_link *h = conn_user(conn);
    struct events_client *c = h->owner;
    if (!h->active)
        return;
    if (!h->current) {
        events_client_http_drop(c, -EPROTO, "unexpected data from the HTTP server");
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
        events_client_http_drop(c, -EPROTO, cause);
        events_client_publish_fail(p, -EPROTO, NULL, cause);
        if (!c->freed)
            events_client_http_pump(c);
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
        events_client_publish_queue_push_front(&c->http_queue, p);
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
    events_client_publish_fail(p, -ECONNRESET, NULL, cause);
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
            events_client_http_fail_queue(c, status < 0 ? status : -ECONNRESET, why);
        if (!c->freed)
            events_client_http_pump(c);
    }
    http_reader_free(&h->reader);
    free(h);
    c->links_open--;
    events_client_maybe_release(c); /* c may be gone after this */
}

static const struct conn_callbacks http_link_callbacks = {
    .on_open = http_link_on_open,
    .on_data = http_link_on_data,
    .on_close = http_link_on_close,
};

/* ---- deadlines ---- */

int events_client_http_current_deadline(const struct events_client *c, uint64_t *deadline)
{
    const struct http_link *h = c->http_link;
    if (!h || !h->current)
        return 0;
    *deadline = h->current->deadline;
    return 1;
}

int events_client_http_expire(struct events_client *c, uint64_t now)
{
    char cause[CAUSE_SIZE];
    uint64_t deadline;
    if (events_client_http_current_deadline(c, &deadline) && deadline <= now) {
        struct publish *p = c->http_link->current;
        c->http_link->current = NULL;
        snprintf(cause, sizeof(cause), "publish to %s failed: no HTTP answer within %u ms",
                 p->channel, c->request_timeout_ms);
        events_client_http_drop(c, -ETIMEDOUT, cause);
        events_client_publish_fail(p, -ETIMEDOUT, NULL, cause);
        return 1;
    }
    for (struct publish *p = c->http_queue.head; p; p = p->next) {
        if (p->deadline > now)
            continue;
        events_client_publish_queue_remove(&c->http_queue, p);
        snprintf(cause, sizeof(cause), "publish to %s failed: no HTTP connection within %u ms",
                 p->channel, c->request_timeout_ms);
        /* A connection that has not opened by now is abandoned: the next
         * publish starts a fresh one. */
        if (c->http_link && !c->http_link->open)
            events_client_http_drop(c, -ETIMEDOUT, cause);
        events_client_publish_fail(p, -ETIMEDOUT, NULL, cause);
        return 1;
    }
    return 0;
}

/* ---- the API ---- */

int events_client_publish_http(struct events_client *c, const char *channel,
                               const char *const *events, size_t event_count,
                               events_publish_cb on_result, void *user, char *cause,
                               size_t cause_len)
{
    if (c->freed) {
        events_client_set_cause(cause, cause_len, "the client is closing");
        return -EINVAL;
    }
    struct publish *p;
    int rc = events_client_publish_new(channel, events, event_count, on_result, user, &p, cause,
                                       cause_len);
    if (rc < 0)
        return rc;
    p->deadline = events_client_now_ms(c) + c->request_timeout_ms;
    events_client_publish_queue_push(&c->http_queue, p);
    events_client_arm_request_timer(c);
    events_client_kick(c);
    return 0;
}
