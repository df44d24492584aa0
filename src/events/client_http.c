/* The events client's HTTP publishes: POSTs to the HTTP endpoint through one
 * net/http_client (keep-alive, one request at a time, in order; a reused
 * connection closed under a request is retried once on a new one). See
 * client_internal.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "events"
#include "core/buf.h"
#include "core/cause.h"
#include "core/log.h"
#include "events/client_internal.h"

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

static void http_client_released(void *user)
{
    struct events_client *c = user;
    c->links_open--;
    events_client_maybe_release(c); /* c may be gone after this */
}

/* The HTTP client, made on the first HTTP publish. */
static int http_client_ready(struct events_client *c)
{
    if (c->http_client)
        return 0;
    struct http_client_config config = {.host = c->http.host, .port = c->http.port};
    config.host_header = c->http.host_header;
    config.tls = c->http.secure ? c->tls : NULL;
    config.proxy = c->use_http_proxy ? &c->http_proxy : NULL;
    config.limits.max_body_bytes = EVENTS_CLIENT_MAX_HTTP_RESPONSE;
    config.retry_on_reused = 1; /* a publish the server never saw is safe to send again */
    config.on_released = http_client_released;
    config.released_user = c;
    int rc = http_client_new(c->conns, &config, &c->http_client);
    if (rc == 0)
        c->links_open++;
    return rc;
}

void events_client_http_close(struct events_client *c)
{
    struct http_client *h = c->http_client;
    c->http_client = NULL;
    http_client_free(h); /* http_client_released follows once it has closed */
}

void events_client_http_fail_queue(struct events_client *c, int status, const char *why)
{
    struct publish *p;
    while ((p = TAILQ_FIRST(&c->http_queue))) {
        TAILQ_REMOVE(&c->http_queue, p, link);
        events_client_publish_fail(p, status, NULL, "%s", why);
    }
}

/* The body and the headers of a publish (authorization included). */
static int build_request(const struct events_client *c, const struct publish *p,
                         struct buf *headers, struct buf *body, char *cause, size_t cause_len)
{
    int rc = events_signed_body_publish(body, p->channel, strlen(p->channel), p->events);
    if (rc == 0)
        rc = buf_append_str(headers, "Content-Type: application/json\r\n"
                                     "Accept: application/json\r\n"
                                     "User-Agent: tether\r\n");
    if (rc == 0)
        rc = events_client_auth_append_http(c, headers, body, cause, cause_len);
    return rc;
}

static void finish_http_publish(struct publish *p, const struct http_message *m)
{
    json_t *root = json_loadb(buf_bytes(&m->body), buf_length(&m->body), 0, NULL);
    if (m->status >= 200 && m->status < 300) {
        if (json_is_object(root)) {
            events_client_publish_report_success(p, root);
        } else {
            events_client_publish_fail(p, -EPROTO, NULL, "unreadable answer (HTTP %d)", m->status);
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
    events_client_publish_fail(p, status, type, "HTTP %d%s%s", m->status, errors[0] ? ": " : "",
                               errors);
    json_decref(root);
}

static void on_http_answer(void *user, int status, const struct http_message *m, const char *cause)
{
    struct events_client *c = user;
    struct publish *p = c->http_current;
    c->http_current = NULL;
    if (status >= 0) {
        finish_http_publish(p, m);
    } else {
        events_client_publish_fail(p, status, NULL, "%s", cause);
    }
    if (!c->freed)
        events_client_http_pump(c);
}

/* Hands a publish to the HTTP client; a failure is reported at once. */
static void http_send(struct events_client *c, struct publish *p)
{
    struct buf headers = BUF_INIT, body = BUF_INIT;
    char cause[CAUSE_SIZE] = "", target[URL_MAX_PATH + URL_MAX_QUERY + 2];
    url_target(&c->http, target, sizeof(target)); /* sized for the longest */
    int rc = build_request(c, p, &headers, &body, cause, sizeof(cause));
    if (rc == 0) {
        struct http_client_request request = {"POST", target, buf_bytes(&headers), buf_bytes(&body),
                                              buf_length(&body)};
        rc = http_client_request(c->http_client, &request, on_http_answer, c);
        if (rc < 0)
            cause_set(cause, sizeof(cause), rc, "connecting to %s: %s", c->http.host_header,
                      uv_strerror(rc));
    }
    buf_free(&headers);
    buf_free(&body);
    if (rc < 0) {
        events_client_publish_fail(p, rc, NULL, "%s", cause[0] ? cause : strerror(-rc));
        return;
    }
    c->http_current = p;
    log_debug("publishing %zu event(s) to %s over HTTP", json_array_size(p->events), p->channel);
}

void events_client_http_pump(struct events_client *c)
{
    while (!c->freed && !TAILQ_EMPTY(&c->http_queue) && !c->http_current) {
        if (http_client_ready(c) < 0) {
            events_client_http_fail_queue(c, -ENOMEM, "out of memory");
            return;
        }
        struct publish *p = TAILQ_FIRST(&c->http_queue);
        TAILQ_REMOVE(&c->http_queue, p, link);
        http_send(c, p);
    }
    if (!c->freed)
        events_client_arm_request_timer(c);
}

/* ---- deadlines ---- */

int events_client_http_current_deadline(const struct events_client *c, uint64_t *deadline)
{
    if (!c->http_current)
        return 0;
    *deadline = c->http_current->deadline;
    return 1;
}

int events_client_http_expire(struct events_client *c, uint64_t now)
{
    char cause[CAUSE_SIZE];
    struct publish *p = c->http_current;
    if (p && p->deadline <= now) {
        c->http_current = NULL;
        snprintf(cause, sizeof(cause), "no HTTP %s within %u ms",
                 http_client_connected(c->http_client) ? "answer" : "connection",
                 c->request_timeout_ms);
        http_client_cancel(c->http_client, -ETIMEDOUT, cause);
        events_client_publish_fail(p, -ETIMEDOUT, NULL, "%s", cause);
        return 1;
    }
    for (p = TAILQ_FIRST(&c->http_queue); p; p = TAILQ_NEXT(p, link)) {
        if (p->deadline > now)
            continue;
        TAILQ_REMOVE(&c->http_queue, p, link);
        events_client_publish_fail(p, -ETIMEDOUT, NULL, "no HTTP connection within %u ms",
                                   c->request_timeout_ms);
        return 1;
    }
    return 0;
}
