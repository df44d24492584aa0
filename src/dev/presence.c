#include "dev/presence.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_MODULE "dev"
#include "bridge/endpoint.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/random.h"

/* A message this much older than our own start is a replay, not a
 * newcomer (the allowance is for clocks of two machines that differ a
 * little). */
#define PRESENCE_CLOCK_ALLOWANCE_MS 2000

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
    struct bridge_seal *seal; /* NULL: the insecure mode */
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

/* Publishes one presence message, sealed when there is a key. to: the
 * session a "here" answers (NULL for a hello). */
static void announce(struct dev_presence *p, const char *type, int force, const char *to)
{
    char event[640], cause[200], id[37];
    uint64_t now = bridge_endpoint_wall_ms();
    snprintf(event, sizeof(event),
             "{\"type\":\"%s\",\"session\":\"%s\",\"to\":\"%s\",\"host\":\"%s\","
             "\"pid\":%ld,\"force\":%s}",
             type, p->session, to ? to : "", p->host, (long)getpid(), force ? "true" : "false");
    struct buf sealed = BUF_INIT;
    const char *events[] = {event};
    int rc = 0;
    if (p->seal) {
        random_uuid(id);
        rc = bridge_seal_encode(p->seal, &sealed, p->channel, now, BRIDGE_PING, p->session, id, 0,
                                1, event, strlen(event), NULL);
        events[0] = rc == 0 && buf_terminate(&sealed) == 0 ? buf_bytes(&sealed) : NULL;
        if (!events[0])
            snprintf(cause, sizeof(cause), "cannot seal the %s message: %s", type, strerror(-rc));
    }
    if (!events[0] || events_client_publish(p->client, p->channel, events, 1, NULL, NULL, cause,
                                            sizeof(cause)) < 0)
        log_warn("presence: %s", cause);
    buf_free(&sealed);
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
            announce(p, "here", 0, session);
    } else if (p->state == PRESENCE_WAITING && !p->force) {
        /* Both starting at once: the smaller session id serves. */
        if (force || strcmp(session, p->session) < 0)
            report(p, DEV_PRESENCE_TAKEN, other);
        else
            announce(p, "here", 0, session);
    }
}

/* The presence JSON of one event: opened with the key when there is one.
 * NULL when it does not open. */
static json_t *open_event(struct dev_presence *p, const char *event, size_t len)
{
    if (!p->seal)
        return json_loadb(event, len, 0, NULL);
    struct bridge_packet packet;
    char cause[200];
    json_t *msg = NULL;
    bridge_packet_init(&packet);
    if (bridge_seal_decode(p->seal, p->channel, bridge_endpoint_wall_ms(), event, len, &packet,
                           cause, sizeof(cause)) == 0)
        msg = json_loadb(buf_bytes(&packet.data), buf_length(&packet.data), 0, NULL);
    else
        log_debug("presence: dropping a message that does not open: %s", cause);
    bridge_packet_free(&packet);
    return msg;
}

static void on_data(void *user, struct events_subscription *sub, const char *event, size_t len)
{
    struct dev_presence *p = user;
    (void)sub;
    json_t *msg = open_event(p, event, len);
    const char *type = json_string_value(json_object_get(msg, "type"));
    const char *session = json_string_value(json_object_get(msg, "session"));
    const char *to = json_string_value(json_object_get(msg, "to"));
    if (type && session && strcmp(session, p->session) != 0) {
        if (strcmp(type, "hello") == 0) {
            on_hello(p, msg, session);
        } else if (strcmp(type, "here") == 0 && (!to || strcmp(to, p->session) != 0)) {
            log_debug("presence: ignoring an answer to another session's hello");
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
    announce(p, "hello", p->force, NULL);
    uv_timer_start(&p->timer, on_wait_over, p->wait_ms, 0);
}

static void free_presence(uv_handle_t *handle)
{
    struct dev_presence *p = handle->data;
    bridge_seal_free(p->seal);
    free(p);
}

int dev_presence_start(uv_loop_t *loop, struct events_client *client, const char *channel,
                       const struct bridge_key *key, int force, uint32_t wait_ms,
                       dev_presence_cb on_event, void *ctx, struct dev_presence **out, char *cause,
                       size_t cause_len)
{
    struct dev_presence *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    /* A sealed message from before this session started is a replay (a
     * captured --force hello, say), whatever the replay memory says. */
    uint64_t now = bridge_endpoint_wall_ms();
    struct bridge_seal_limits limits = {.not_before_ms = now - PRESENCE_CLOCK_ALLOWANCE_MS};
    if (key && bridge_seal_new(key, &limits, &p->seal) < 0) {
        free(p);
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
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
