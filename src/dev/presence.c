#include "dev/presence.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_MODULE "dev"
#include "core/log.h"
#include "core/random.h"

enum presence_state {
    PRESENCE_SUBSCRIBING,
    PRESENCE_WAITING, /* hello sent, listening for "here" */
    PRESENCE_SERVING,
    PRESENCE_DONE, /* refused, displaced or failed */
};

struct dev_presence {
    struct events_client *client;
    struct events_subscription *subscription;
    char channel[320];
    char session[37];
    char host[128];
    int force;
    uint32_t wait_ms;
    enum presence_state state;
    uv_timer_t timer;
    dev_presence_cb on_event;
    void *ctx;
};

static void report(struct dev_presence *p, enum dev_presence_event event, const char *other)
{
    p->state = event == DEV_PRESENCE_CLEAR ? PRESENCE_SERVING : PRESENCE_DONE;
    uv_timer_stop(&p->timer);
    p->on_event(p->ctx, event, other);
}

static void announce(struct dev_presence *p, const char *type, int force)
{
    char event[512], cause[200];
    snprintf(event, sizeof(event),
             "{\"type\":\"%s\",\"session\":\"%s\",\"host\":\"%s\",\"pid\":%ld,\"force\":%s}", type,
             p->session, p->host, (long)getpid(), force ? "true" : "false");
    const char *events[] = {event};
    if (events_client_publish(p->client, p->channel, events, 1, NULL, NULL, cause, sizeof(cause)) <
        0)
        log_warn("presence: %s", cause);
}

static void describe(json_t *msg, char *out, size_t cap)
{
    const char *host = json_string_value(json_object_get(msg, "host"));
    json_int_t pid = json_integer_value(json_object_get(msg, "pid"));
    snprintf(out, cap, "%s (pid %lld)", host ? host : "another machine", (long long)pid);
}

static void on_hello(struct dev_presence *p, json_t *msg, const char *session)
{
    char other[200];
    describe(msg, other, sizeof(other));
    int force = json_is_true(json_object_get(msg, "force"));
    if (p->state == PRESENCE_SERVING) {
        if (force)
            report(p, DEV_PRESENCE_DISPLACED, other);
        else
            announce(p, "here", 0);
    } else if (p->state == PRESENCE_WAITING && !p->force) {
        /* Both starting at once: the smaller session id serves. */
        if (force || strcmp(session, p->session) < 0)
            report(p, DEV_PRESENCE_TAKEN, other);
        else
            announce(p, "here", 0);
    }
}

static void on_data(void *user, struct events_subscription *sub, const char *event, size_t len)
{
    struct dev_presence *p = user;
    (void)sub;
    json_t *msg = json_loadb(event, len, 0, NULL);
    const char *type = json_string_value(json_object_get(msg, "type"));
    const char *session = json_string_value(json_object_get(msg, "session"));
    if (type && session && strcmp(session, p->session) != 0) {
        if (strcmp(type, "hello") == 0) {
            on_hello(p, msg, session);
        } else if (strcmp(type, "here") == 0 && p->state == PRESENCE_WAITING && !p->force) {
            char other[200];
            describe(msg, other, sizeof(other));
            report(p, DEV_PRESENCE_TAKEN, other);
        }
    }
    json_decref(msg);
}

static void on_wait_over(uv_timer_t *timer)
{
    struct dev_presence *p = timer->data;
    if (p->state == PRESENCE_WAITING)
        report(p, DEV_PRESENCE_CLEAR, NULL);
}

static void on_subscribed(void *user, struct events_subscription *sub, int status,
                          const char *cause)
{
    struct dev_presence *p = user;
    (void)sub;
    if (status < 0) {
        p->subscription = NULL;
        if (p->state != PRESENCE_DONE)
            report(p, DEV_PRESENCE_FAILED, cause);
        return;
    }
    if (p->state != PRESENCE_SUBSCRIBING)
        return; /* resubscribed after a reconnect */
    p->state = PRESENCE_WAITING;
    announce(p, "hello", p->force);
    uv_timer_start(&p->timer, on_wait_over, p->wait_ms, 0);
}

static void free_presence(uv_handle_t *handle)
{
    free(handle->data);
}

int dev_presence_start(uv_loop_t *loop, struct events_client *client, const char *channel,
                       int force, uint32_t wait_ms, dev_presence_cb on_event, void *ctx,
                       struct dev_presence **out, char *cause, size_t cause_len)
{
    struct dev_presence *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->client = client;
    snprintf(p->channel, sizeof(p->channel), "%s", channel);
    random_uuid(p->session);
    if (gethostname(p->host, sizeof(p->host)) < 0)
        snprintf(p->host, sizeof(p->host), "unknown host");
    for (char *c = p->host; *c; c++)
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
            *c = '_';
    p->force = force;
    p->wait_ms = wait_ms;
    p->on_event = on_event;
    p->ctx = ctx;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    int rc = events_client_subscribe(client, channel, on_data, on_subscribed, p, &p->subscription,
                                     cause, cause_len);
    if (rc < 0) {
        uv_close((uv_handle_t *)&p->timer, free_presence);
        return rc;
    }
    *out = p;
    return 0;
}

void dev_presence_stop(struct dev_presence *p)
{
    if (!p)
        return;
    if (p->subscription)
        events_client_unsubscribe(p->subscription);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, free_presence);
}
