/* The events client's publishes: checking a publish and building its entry,
 * the queues, reporting results (exactly one callback per accepted publish),
 * and publishing over the realtime WebSocket: send, answer, failure and
 * deadline. HTTP publishes are sent by client_http.c. See client_internal.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "events"
#include "core/buf.h"
#include "core/cause.h"
#include "core/encoding.h"
#include "core/json_check.h"
#include "core/log.h"
#include "core/random.h"
#include "events/client_internal.h"

/* ---- entries and results ---- */

int events_client_publish_new(const char *channel, const char *const *events, size_t event_count,
                              events_publish_cb on_result, void *user, struct publish **out,
                              char *cause, size_t cause_len)
{
    struct channel parsed;
    char why[200];
    if (!channel || channel_parse(channel, strlen(channel), 0, &parsed, why, sizeof(why)) < 0)
        return cause_set(cause, cause_len, -EINVAL, "publish to %s failed: %s",
                         channel ? channel : "(null)", channel ? why : "no channel");
    if (event_count < 1 || event_count > EVENTS_MAX_EVENTS_PER_PUBLISH)
        return cause_set(cause, cause_len, -EINVAL,
                         "publish to %s failed: %zu events given, 1 to %d allowed", parsed.path,
                         event_count, EVENTS_MAX_EVENTS_PER_PUBLISH);
    json_t *array = json_array();
    size_t total = 0;
    for (size_t i = 0; array && i < event_count; i++) {
        size_t len = events[i] ? strlen(events[i]) : 0;
        /* Checked as the broker checks it, without building a tree: an
         * event may be a bridge packet of 171 KB. */
        int valid = events[i] && json_check(events[i], len);
        total += len;
        if (!valid || len > EVENTS_MAX_EVENT_BYTES || total > EVENTS_MAX_PUBLISH_BYTES) {
            if (!valid)
                cause_set(cause, cause_len, -EINVAL, "publish to %s failed: event %zu is %s",
                          parsed.path, i + 1, events[i] ? "not JSON" : "missing");
            else
                cause_set(cause, cause_len, -EINVAL,
                          "publish to %s failed: events too large (%d bytes per event, %d in all)",
                          parsed.path, EVENTS_MAX_EVENT_BYTES, EVENTS_MAX_PUBLISH_BYTES);
            json_decref(array);
            return -EINVAL;
        }
        /* Valid JSON is valid UTF-8 (its strings are checked, the rest is
         * ASCII): no second check of the whole event. */
        if (json_array_append_new(array, json_stringn_nocheck(events[i], len)) < 0) {
            json_decref(array);
            array = NULL;
        }
    }
    struct publish *p = array ? calloc(1, sizeof(*p)) : NULL;
    if (!p) {
        json_decref(array);
        return cause_set(cause, cause_len, -ENOMEM, "out of memory");
    }
    snprintf(p->channel, sizeof(p->channel), "%s", parsed.path);
    p->events = array;
    p->on_result = on_result;
    p->user = user;
    *out = p;
    return 0;
}

static void report_publish(struct publish *p, const struct events_publish_result *result)
{
    if (p->on_result)
        p->on_result(p->user, result);
    json_decref(p->events);
    free(p);
}

void events_client_publish_fail(struct publish *p, int status, const char *error_type,
                                const char *fmt, ...)
{
    char cause[CAUSE_SIZE + 64];
    int n = snprintf(cause, sizeof(cause), "publish to %s failed: ", p->channel);
    if (n > 0 && (size_t)n < sizeof(cause)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cause + n, sizeof(cause) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    log_debug("%s", cause);
    struct events_publish_result r = {
        .status = status,
        .cause = cause,
        .error_type = error_type,
    };
    report_publish(p, &r);
}

static size_t array_size_or_zero(const json_t *a)
{
    return json_is_array(a) ? json_array_size(a) : 0;
}

void events_client_publish_report_success(struct publish *p, const json_t *root)
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

/* ---- over the WebSocket ---- */

int events_client_publish_ws_fail(struct events_client *c, int only_sent, int status,
                                  const char *why)
{
    for (;;) {
        struct publish *p = TAILQ_FIRST(&c->ws_publishes);
        while (p && only_sent && !p->sent)
            p = TAILQ_NEXT(p, link);
        if (!p)
            return 0;
        TAILQ_REMOVE(&c->ws_publishes, p, link);
        int was_freed = c->freed;
        events_client_publish_fail(p, status, NULL, "%s", why);
        if (c->freed && !was_freed)
            return -ECANCELED;
    }
}

struct publish *events_client_publish_ws_find(struct events_client *c, const char *id)
{
    if (!id)
        return NULL;
    for (struct publish *p = TAILQ_FIRST(&c->ws_publishes); p; p = TAILQ_NEXT(p, link))
        if (p->sent && strcmp(p->id, id) == 0)
            return p;
    return NULL;
}

void events_client_publish_ws_send(struct events_client *c, struct publish *p)
{
    struct buf body = BUF_INIT, message = BUF_INIT;
    char cause[CAUSE_SIZE] = "";
    random_uuid(p->id);
    int rc = events_signed_body_publish(&body, p->channel, strlen(p->channel), p->events);
    if (rc == 0)
        rc = events_client_ws_request(c, "publish", p->id, &body, &message, cause, sizeof(cause));
    buf_free(&body);
    if (rc < 0) {
        buf_free(&message);
        TAILQ_REMOVE(&c->ws_publishes, p, link);
        events_client_publish_fail(p, rc, NULL, "%s", cause[0] ? cause : strerror(-rc));
        return;
    }
    p->sent = 1;
    log_debug("publishing %zu event(s) to %s over WebSocket (id %s)", json_array_size(p->events),
              p->channel, p->id);
    events_client_ws_send(c, &message);
    buf_free(&message);
}

void events_client_publish_ws_on_answer(struct events_client *c, const struct events_message *m,
                                        struct publish *p)
{
    TAILQ_REMOVE(&c->ws_publishes, p, link);
    events_client_arm_request_timer(c);
    if (m->type == EVENTS_PUBLISH_SUCCESS) {
        events_client_publish_report_success(p, m->root);
        return;
    }
    char errors[CAUSE_SIZE];
    const char *type;
    events_client_format_errors(m->errors, errors, sizeof(errors), &type);
    events_client_publish_fail(p, events_client_error_status(type), type, "%s", errors);
}

int events_client_publish_ws_expire(struct events_client *c, uint64_t now)
{
    for (struct publish *p = TAILQ_FIRST(&c->ws_publishes); p; p = TAILQ_NEXT(p, link)) {
        if (p->deadline > now)
            continue;
        TAILQ_REMOVE(&c->ws_publishes, p, link);
        events_client_publish_fail(p, -ETIMEDOUT, NULL, "%s within %u ms",
                                   p->sent ? "no answer" : "not connected", c->request_timeout_ms);
        return 1;
    }
    return 0;
}

/* Queues a publish for either transport; the kick timer sends it. */
static int enqueue(struct events_client *c, struct publish_queue *queue, const char *channel,
                   const char *const *events, size_t event_count, events_publish_cb on_result,
                   void *user, char *cause, size_t cause_len)
{
    if (c->freed)
        return cause_set(cause, cause_len, -EINVAL, "the client is closing");
    struct publish *p;
    int rc = events_client_publish_new(channel, events, event_count, on_result, user, &p, cause,
                                       cause_len);
    if (rc < 0)
        return rc;
    p->deadline = events_client_now_ms(c) + c->request_timeout_ms;
    TAILQ_INSERT_TAIL(queue, p, link);
    events_client_arm_request_timer(c);
    events_client_kick(c);
    return 0;
}

int events_client_publish(struct events_client *c, const char *channel, const char *const *events,
                          size_t event_count, events_publish_cb on_result, void *user, char *cause,
                          size_t cause_len)
{
    int rc = enqueue(c, &c->ws_publishes, channel, events, event_count, on_result, user, cause,
                     cause_len);
    if (rc == 0 && c->state != EVENTS_CLIENT_READY)
        log_debug("publish to %s queued: the realtime connection is %s", channel,
                  events_client_state_name(c->state));
    return rc;
}

int events_client_publish_http(struct events_client *c, const char *channel,
                               const char *const *events, size_t event_count,
                               events_publish_cb on_result, void *user, char *cause,
                               size_t cause_len)
{
    return enqueue(c, &c->http_queue, channel, events, event_count, on_result, user, cause,
                   cause_len);
}
