/* The events client's subscriptions: the list the client owns, the subscribe
 * messages sent for them (again after every reconnect), their answers and
 * deadlines, and data delivery. See client_internal.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "events"
#include "core/buf.h"
#include "core/cause.h"
#include "core/encoding.h"
#include "core/json_scan.h"
#include "core/log.h"
#include "core/random.h"
#include "events/client_internal.h"

struct events_subscription *events_client_sub_find(struct events_client *c, const char *id)
{
    if (!id)
        return NULL;
    for (struct events_subscription *s = TAILQ_FIRST(&c->subs); s; s = TAILQ_NEXT(s, link))
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

void events_client_sub_unlink(struct events_client *c, struct events_subscription *s)
{
    TAILQ_REMOVE(&c->subs, s, link);
    c->sub_count--;
}

void events_client_sub_fail(struct events_client *c, struct events_subscription *s, int status,
                            const char *fmt, ...)
{
    char cause[CAUSE_SIZE + 64];
    int n = snprintf(cause, sizeof(cause), "subscribe %s failed: ", s->channel);
    if (n > 0 && (size_t)n < sizeof(cause)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cause + n, sizeof(cause) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    events_client_sub_unlink(c, s);
    s->dead = 1;
    log_debug("%s", cause);
    if (s->on_result && !c->freed)
        s->on_result(s->user, s, status, cause);
    free(s);
}

void events_client_sub_send(struct events_client *c, struct events_subscription *s)
{
    struct buf body = BUF_INIT, message = BUF_INIT;
    char cause[CAUSE_SIZE] = "";
    random_uuid(s->id);
    int rc = events_signed_body_subscribe(&body, s->channel, strlen(s->channel));
    if (rc == 0)
        rc = events_client_ws_request(c, "subscribe", s->id, &body, &message, cause, sizeof(cause));
    buf_free(&body);
    if (rc < 0) {
        buf_free(&message);
        events_client_sub_fail(c, s, rc, "%s", cause[0] ? cause : strerror(-rc));
        return;
    }
    s->state = SUB_SENT;
    s->deadline = events_client_now_ms(c) + c->request_timeout_ms;
    log_debug("subscribing to %s (id %s)", s->channel, s->id);
    events_client_ws_send(c, &message);
    buf_free(&message);
}

void events_client_sub_on_answer(struct events_client *c, const struct events_message *m,
                                 struct events_subscription *s)
{
    if (m->type == EVENTS_SUBSCRIBE_SUCCESS) {
        s->state = SUB_ACTIVE;
        log_info("subscribed to %s", s->channel);
        events_client_arm_request_timer(c);
        if (s->on_result)
            s->on_result(s->user, s, 0, NULL);
        return;
    }
    char errors[CAUSE_SIZE];
    const char *type;
    events_client_format_errors(m->errors, errors, sizeof(errors), &type);
    events_client_sub_fail(c, s, events_client_error_status(type), "%s", errors);
    events_client_arm_request_timer(c);
}

void events_client_sub_deliver(struct events_client *c, const char *id, const char *event,
                               size_t event_len)
{
    struct events_subscription *s = events_client_sub_find(c, id);
    if (!s || s->state == SUB_WAITING) {
        log_debug("data for unknown subscription %s", id ? id : "(none)");
        return;
    }
    if (!event) {
        log_warn("data message for %s without an event string", s->channel);
        return;
    }
    if (s->on_data)
        s->on_data(s->user, s, event, event_len);
}

void events_client_sub_on_data(struct events_client *c, const struct events_message *m)
{
    events_client_sub_deliver(c, m->id, m->event, m->event_length);
}

/* The members of a data message that matter here. */
struct data_fields {
    struct json_slice type, id, event;
};

/* Collects type, id and event in one pass; 0 when the message is not a
 * plain data message (the caller then decodes it in full). */
static int scan_data(const char *text, size_t len, struct data_fields *f)
{
    struct json_scan scan;
    struct json_slice key, value;
    memset(f, 0, sizeof(*f));
    if (json_scan_open(&scan, text, len) < 0)
        return 0;
    int rc;
    for (key.type = JSON_SCAN_INVALID; (rc = json_scan_next(&scan, &key, &value)) == 1;
         key.type = JSON_SCAN_INVALID) {
        struct json_slice *slot = json_scan_string_equals(&key, "type", 4)    ? &f->type
                                  : json_scan_string_equals(&key, "id", 2)    ? &f->id
                                  : json_scan_string_equals(&key, "event", 5) ? &f->event
                                                                              : NULL;
        if (slot && slot->type != JSON_SCAN_INVALID)
            return 0; /* twice: the full decoder refuses it */
        if (slot)
            *slot = value;
    }
    return rc == 0 && json_scan_string_equals(&f->type, "data", 4) &&
           f->id.type == JSON_SCAN_STRING && !f->id.escaped &&
           f->id.len - 2 <= EVENTS_MAX_ID_LENGTH && f->event.type == JSON_SCAN_STRING;
}

int events_client_sub_read_data(struct events_client *c, const char *text, size_t len)
{
    struct data_fields f;
    if (!scan_data(text, len, &f))
        return 0;
    char id[EVENTS_MAX_ID_LENGTH + 1];
    memcpy(id, f.id.text + 1, f.id.len - 2);
    id[f.id.len - 2] = '\0';
    /* The event is unescaped once, into memory of its own: the subscriber
     * reads it as JSON text. An event jansson would refuse (an escaped lone
     * surrogate) is left to the full decoder, which refuses it. */
    struct buf event = BUF_INIT;
    if (json_scan_string(&f.event, &event) < 0) {
        buf_free(&event);
        return 0;
    }
    events_client_sub_deliver(c, id, buf_length(&event) ? buf_bytes(&event) : "",
                              buf_length(&event));
    buf_free(&event);
    return 1;
}

int events_client_sub_expire(struct events_client *c, uint64_t now)
{
    for (struct events_subscription *s = TAILQ_FIRST(&c->subs); s; s = TAILQ_NEXT(s, link)) {
        if (s->state != SUB_SENT || s->deadline > now)
            continue;
        if (c->link && c->state == EVENTS_CLIENT_READY)
            events_client_ws_send_simple(c, "unsubscribe", s->id);
        if (!s->dead && !c->freed)
            events_client_sub_fail(c, s, -ETIMEDOUT, "no answer within %u ms",
                                   c->request_timeout_ms);
        return 1;
    }
    return 0;
}

/* ---- the API ---- */

int events_client_subscribe(struct events_client *c, const char *channel, events_data_cb on_data,
                            events_subscribe_cb on_result, void *user,
                            struct events_subscription **out, char *cause, size_t cause_len)
{
    if (c->freed)
        return cause_set(cause, cause_len, -EINVAL, "the client is closing");
    struct channel parsed;
    char why[200];
    if (!channel || channel_parse(channel, strlen(channel), 1, &parsed, why, sizeof(why)) < 0)
        return cause_set(cause, cause_len, -EINVAL, "subscribe %s failed: %s",
                         channel ? channel : "(null)", channel ? why : "no channel");
    if (c->sub_count >= EVENTS_MAX_SUBSCRIPTIONS)
        return cause_set(cause, cause_len, -E2BIG,
                         "subscribe %s failed: at most %d subscriptions per connection",
                         parsed.path, EVENTS_MAX_SUBSCRIPTIONS);
    struct events_subscription *s = calloc(1, sizeof(*s));
    if (!s)
        return cause_set(cause, cause_len, -ENOMEM, "out of memory");
    s->client = c;
    snprintf(s->channel, sizeof(s->channel), "%s", parsed.path);
    s->on_data = on_data;
    s->on_result = on_result;
    s->user = user;
    s->state = SUB_WAITING;
    TAILQ_INSERT_HEAD(&c->subs, s, link);
    c->sub_count++;
    if (out)
        *out = s;
    events_client_kick(c);
    return 0;
}

void events_client_unsubscribe(struct events_subscription *s)
{
    if (!s || s->dead)
        return;
    struct events_client *c = s->client;
    events_client_sub_unlink(c, s);
    s->dead = 1;
    if (s->state != SUB_WAITING && c->link && c->state == EVENTS_CLIENT_READY) {
        log_debug("unsubscribing from %s (id %s)", s->channel, s->id);
        events_client_ws_send_simple(c, "unsubscribe", s->id);
    }
    free(s);
    if (!c->freed)
        events_client_arm_request_timer(c);
}
