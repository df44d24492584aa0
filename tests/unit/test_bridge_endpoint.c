/* The bridge endpoint driven in-process: a real loop, the real packet codec,
 * reassembler and outbox, and a scripted events service with a fake clock
 * in place of the events client (bridge_endpoint_ops). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "bridge/endpoint.h"
#include "bridge/packet.h"
#include "bridge/stream.h"
#include "core/buf.h"
#include "test.h"

#define MAX_PUBLISHES 256
#define CHANNEL_IN "/tether/app/stage/in"
#define CHANNEL_OUT "/tether/app/stage/w1/in"

/* ---- the scripted events service ---- */

struct publish {
    char channel[340];
    char *events[5];
    size_t count;
    events_publish_cb on_result;
    void *user;
    int answered;
};

struct fake {
    uint64_t now;
    int token; /* its address is the subscription handle */
    events_data_cb on_data;
    events_subscribe_cb on_result;
    void *user;
    int subscribes, unsubscribes;
    struct publish publishes[MAX_PUBLISHES];
    size_t publish_count;
};

static struct events_subscription *fake_sub(struct fake *f)
{
    return (struct events_subscription *)(void *)&f->token;
}

static int fake_subscribe(void *ctx, const char *channel, events_data_cb on_data,
                          events_subscribe_cb on_result, void *user,
                          struct events_subscription **out, char *cause, size_t cause_len)
{
    struct fake *f = ctx;
    (void)channel;
    (void)cause;
    (void)cause_len;
    f->on_data = on_data;
    f->on_result = on_result;
    f->user = user;
    f->subscribes++;
    *out = fake_sub(f);
    return 0;
}

static void fake_unsubscribe(void *ctx, struct events_subscription *sub)
{
    struct fake *f = ctx;
    (void)sub;
    f->unsubscribes++;
    f->on_data = NULL;
    f->on_result = NULL;
}

static int fake_publish(void *ctx, const char *channel, const char *const *events, size_t count,
                        events_publish_cb on_result, void *user, char *cause, size_t cause_len)
{
    struct fake *f = ctx;
    if (f->publish_count == MAX_PUBLISHES) {
        snprintf(cause, cause_len, "too many publishes in the test");
        return -ENOMEM;
    }
    struct publish *p = &f->publishes[f->publish_count++];
    snprintf(p->channel, sizeof(p->channel), "%s", channel);
    for (size_t i = 0; i < count; i++)
        p->events[i] = strdup(events[i]);
    p->count = count;
    p->on_result = on_result;
    p->user = user;
    return 0;
}

static uint64_t fake_now(void *ctx)
{
    return ((struct fake *)ctx)->now;
}

static const struct bridge_endpoint_ops fake_ops = {fake_subscribe, fake_unsubscribe, fake_publish,
                                                    fake_now, fake_now};

/* Answers every publish not answered yet, as the broker (status 0) or a lost
 * connection would. Returns how many were answered. */
static size_t answer_publishes(struct fake *f, int status)
{
    size_t n = 0, end = f->publish_count; /* answers may publish again */
    for (size_t i = 0; i < end; i++) {
        struct publish *p = &f->publishes[i];
        if (p->answered)
            continue;
        p->answered = 1;
        struct events_publish_result r = {.status = status, .cause = status ? "scripted" : NULL};
        r.successful_count = status ? 0 : p->count;
        p->on_result(p->user, &r);
        n++;
    }
    return n;
}

static void fake_free(struct fake *f)
{
    for (size_t i = 0; i < f->publish_count; i++)
        for (size_t k = 0; k < f->publishes[i].count; k++)
            free(f->publishes[i].events[k]);
}

static void confirm(struct fake *f, int status)
{
    f->on_result(f->user, fake_sub(f), status, status ? "subscribe failed: scripted" : NULL);
}

static void feed(struct fake *f, const char *json, size_t len)
{
    if (f->on_data)
        f->on_data(f->user, fake_sub(f), json, len);
}

/* Every packet published so far, decoded, in order. */
static size_t published_packets(struct fake *f, struct bridge_packet *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < f->publish_count; i++) {
        for (size_t k = 0; k < f->publishes[i].count && n < cap; k++) {
            char cause[200];
            const char *e = f->publishes[i].events[k];
            if (bridge_packet_decode(e, strlen(e), &out[n], cause, sizeof(cause)) == 0)
                n++;
        }
    }
    return n;
}

static void free_packets(struct bridge_packet *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bridge_packet_free(&p[i]);
}

/* ---- packets from the peer ---- */

struct packets {
    char *json[64];
    size_t len[64];
    size_t count;
};

static int collect(void *ctx, const char *json, size_t len)
{
    struct packets *p = ctx;
    if (p->count == 64)
        return -ENOSPC;
    p->json[p->count] = strndup(json, len);
    p->len[p->count++] = len;
    return 0;
}

static void packets_free(struct packets *p)
{
    for (size_t i = 0; i < p->count; i++)
        free(p->json[i]);
    memset(p, 0, sizeof(*p));
}

static char *pattern(size_t len)
{
    char *p = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)(i * 7 + i / 131);
    return p;
}

/* ---- the owner ---- */

struct owner {
    size_t messages;
    enum bridge_type type;
    char source[80], id[160], content_type[128];
    struct buf body;
    size_t chunks, finals, progress;
    struct buf streamed;
    size_t abandoned;
    char reason[200];
    int subscribed, reconnects, failures;
    struct bridge_endpoint **free_on_message; /* frees the endpoint from the callback */
    uint64_t sent_ms;
};

static void owner_message(void *ctx, const struct bridge_message *m)
{
    struct owner *o = ctx;
    o->messages++;
    o->type = m->type;
    snprintf(o->source, sizeof(o->source), "%s", m->source);
    snprintf(o->id, sizeof(o->id), "%s", m->id);
    snprintf(o->content_type, sizeof(o->content_type), "%s", m->content_type);
    o->sent_ms = m->sent_ms;
    buf_reset(&o->body);
    buf_append(&o->body, buf_bytes(m->body), buf_length(m->body));
    if (o->free_on_message) {
        bridge_endpoint_free(*o->free_on_message);
        *o->free_on_message = NULL;
    }
}

static void owner_chunk(void *ctx, const struct bridge_packet *p)
{
    struct owner *o = ctx;
    o->chunks++;
    o->finals += p->final;
    buf_append(&o->streamed, buf_bytes(&p->data), buf_length(&p->data));
}

static void owner_progress(void *ctx, const struct bridge_packet *p)
{
    (void)p;
    ((struct owner *)ctx)->progress++;
}

static void owner_abandon(void *ctx, enum bridge_type type, const char *source, const char *id,
                          const char *reason)
{
    struct owner *o = ctx;
    (void)type;
    (void)source;
    (void)id;
    o->abandoned++;
    snprintf(o->reason, sizeof(o->reason), "%s", reason);
}

static void owner_subscribed(void *ctx, int status, int reconnect, const char *cause)
{
    struct owner *o = ctx;
    (void)cause;
    if (status < 0)
        o->failures++;
    else if (reconnect)
        o->reconnects++;
    else
        o->subscribed++;
}

static void owner_free(struct owner *o)
{
    buf_free(&o->body);
    buf_free(&o->streamed);
}

/* ---- a test's world ---- */

struct world {
    uv_loop_t loop;
    struct fake fake;
    struct owner owner;
    struct bridge_endpoint *endpoint;
    struct bridge_reassembly_limits limits;
    struct bridge_endpoint_config config;
};

static void world_config(struct world *w)
{
    memset(w, 0, sizeof(*w));
    uv_loop_init(&w->loop);
    w->fake.now = 1000;
    bridge_reassembly_default_limits(&w->limits);
    w->config.source = "w1";
    w->config.ops = &fake_ops;
    w->config.ops_ctx = &w->fake;
    w->config.limits = &w->limits;
    w->config.callbacks.on_message = owner_message;
    w->config.callbacks.on_chunk = owner_chunk;
    w->config.callbacks.on_progress = owner_progress;
    w->config.callbacks.on_abandon = owner_abandon;
    w->config.callbacks.on_subscribed = owner_subscribed;
    w->config.ctx = &w->owner;
}

static void world_start(struct world *w)
{
    char cause[200];
    CHECK_INT(bridge_endpoint_new(&w->loop, &w->config, &w->endpoint, cause, sizeof(cause)), 0);
    CHECK_INT(bridge_endpoint_subscribe(w->endpoint, CHANNEL_OUT, cause, sizeof(cause)), 0);
    confirm(&w->fake, 0);
    CHECK_INT(w->owner.subscribed, 1);
}

/* Frees everything; what was in flight is answered the way the events client
 * answers when it is freed (-ECANCELED), after the endpoint is gone. */
static void world_end(struct world *w)
{
    bridge_endpoint_free(w->endpoint);
    answer_publishes(&w->fake, -ECANCELED);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&w->loop), 0);
    fake_free(&w->fake);
    owner_free(&w->owner);
}

/* A message from the peer "dev", cut into packets by the real writer. */
static void peer_message(struct packets *out, enum bridge_type type, const char *id,
                         const char *body, size_t len)
{
    CHECK_INT(bridge_send(type, "dev", id, body, len, collect, out), 0);
}

/* ---- tests ---- */

TEST(chunked_message_in_order_is_delivered_whole)
{
    struct world w;
    world_config(&w);
    world_start(&w);
    size_t len = 3 * BRIDGE_CHUNK_BYTES + 17;
    char *body = pattern(len);
    struct packets p = {0};
    peer_message(&p, BRIDGE_RESPONSE, "req-1", body, len);
    CHECK_INT(p.count, 4);
    for (size_t i = 0; i < p.count; i++)
        feed(&w.fake, p.json[i], p.len[i]);
    CHECK_INT(w.owner.messages, 1);
    CHECK_INT(w.owner.type, BRIDGE_RESPONSE);
    CHECK_STR(w.owner.source, "dev");
    CHECK_STR(w.owner.id, "req-1");
    CHECK_INT(buf_length(&w.owner.body), len);
    CHECK(memcmp(buf_bytes(&w.owner.body), body, len) == 0);
    CHECK_INT(w.owner.progress, 3); /* every chunk but the final one */
    CHECK_INT(bridge_endpoint_assembling_count(w.endpoint), 0);
    CHECK_INT(bridge_endpoint_assembling_bytes(w.endpoint), 0);
    packets_free(&p);
    free(body);
    world_end(&w);
}

TEST(chunked_message_out_of_order_is_delivered_whole)
{
    struct world w;
    world_config(&w);
    world_start(&w);
    size_t len = 4 * BRIDGE_CHUNK_BYTES;
    char *body = pattern(len);
    struct packets p = {0};
    peer_message(&p, BRIDGE_NEXT, "n-1", body, len);
    CHECK_INT(p.count, 4);
    const size_t order[] = {3, 1, 2, 0};
    for (size_t i = 0; i < 4; i++) {
        CHECK_INT(w.owner.messages, 0);
        feed(&w.fake, p.json[order[i]], p.len[order[i]]);
    }
    CHECK_INT(w.owner.messages, 1);
    CHECK_INT(buf_length(&w.owner.body), len);
    CHECK(memcmp(buf_bytes(&w.owner.body), body, len) == 0);
    CHECK_INT(bridge_endpoint_held_bytes(w.endpoint), 0);
    packets_free(&p);
    free(body);
    world_end(&w);
}

TEST(duplicates_and_own_packets_are_dropped_pings_included)
{
    struct world w;
    world_config(&w);
    world_start(&w);
    size_t len = BRIDGE_CHUNK_BYTES + 5;
    char *body = pattern(len);
    struct packets p = {0};
    peer_message(&p, BRIDGE_RESPONSE, "req-2", body, len);
    feed(&w.fake, p.json[0], p.len[0]);
    feed(&w.fake, p.json[0], p.len[0]);
    feed(&w.fake, p.json[1], p.len[1]);
    feed(&w.fake, p.json[1], p.len[1]);
    feed(&w.fake, p.json[0], p.len[0]);
    CHECK_INT(w.owner.messages, 1);
    CHECK_INT(buf_length(&w.owner.body), len);
    /* Every Ping has an id of its own: each fresh one counts, a repeated
     * one is a duplicate like any other message. */
    struct packets ping = {0};
    peer_message(&ping, BRIDGE_PING, "ping-1", NULL, 0);
    peer_message(&ping, BRIDGE_PING, "ping-2", NULL, 0);
    feed(&w.fake, ping.json[0], ping.len[0]);
    feed(&w.fake, ping.json[0], ping.len[0]);
    CHECK_INT(w.owner.messages, 2);
    feed(&w.fake, ping.json[1], ping.len[1]);
    CHECK_INT(w.owner.messages, 3);
    CHECK_INT(w.owner.type, BRIDGE_PING);
    CHECK_STR(w.owner.id, "ping-2");
    /* Our own packets (source "w1") echoed back are not messages. */
    struct packets own = {0};
    CHECK_INT(bridge_send(BRIDGE_INIT, "w1", "i-1", "{}", 2, collect, &own), 0);
    feed(&w.fake, own.json[0], own.len[0]);
    CHECK_INT(w.owner.messages, 3);
    /* Garbage is dropped. */
    feed(&w.fake, "{\"type\":99}", 11);
    CHECK_INT(w.owner.messages, 3);
    packets_free(&p);
    packets_free(&ping);
    packets_free(&own);
    free(body);
    world_end(&w);
}

TEST(a_message_whose_chunks_stop_expires)
{
    struct world w;
    world_config(&w);
    world_start(&w);
    size_t len = 3 * BRIDGE_CHUNK_BYTES;
    char *body = pattern(len);
    struct packets p = {0};
    peer_message(&p, BRIDGE_RESPONSE, "req-3", body, len);
    feed(&w.fake, p.json[0], p.len[0]); /* assembled */
    feed(&w.fake, p.json[2], p.len[2]); /* held, out of order */
    CHECK_INT(bridge_endpoint_assembling_bytes(w.endpoint), BRIDGE_CHUNK_BYTES);
    CHECK_INT(bridge_endpoint_held_bytes(w.endpoint), BRIDGE_CHUNK_BYTES);
    w.fake.now += w.limits.idle_timeout_ms - 1;
    bridge_endpoint_tick(w.endpoint);
    CHECK_INT(w.owner.abandoned, 0);
    w.fake.now += 2;
    bridge_endpoint_tick(w.endpoint);
    CHECK_INT(w.owner.abandoned, 1);
    CHECK(strstr(w.owner.reason, "waiting for packet 1") != NULL);
    CHECK_INT(bridge_endpoint_assembling_bytes(w.endpoint), 0);
    CHECK_INT(bridge_endpoint_assembling_count(w.endpoint), 0);
    CHECK_INT(bridge_endpoint_held_bytes(w.endpoint), 0);
    /* The missing packet, too late: nothing is delivered. */
    feed(&w.fake, p.json[1], p.len[1]);
    feed(&w.fake, p.json[2], p.len[2]);
    CHECK_INT(w.owner.messages, 0);
    packets_free(&p);
    free(body);
    world_end(&w);
}

TEST(caps_on_message_size_and_held_bytes)
{
    struct world w;
    world_config(&w);
    w.config.max_message_bytes = 2 * BRIDGE_CHUNK_BYTES;
    w.limits.max_held_per_message = BRIDGE_CHUNK_BYTES;
    world_start(&w);
    size_t len = 3 * BRIDGE_CHUNK_BYTES;
    char *body = pattern(len);
    /* Too big once assembled: refused at the chunk that crosses the cap. */
    struct packets big = {0};
    peer_message(&big, BRIDGE_RESPONSE, "big", body, len);
    for (size_t i = 0; i < big.count; i++)
        feed(&w.fake, big.json[i], big.len[i]);
    CHECK_INT(w.owner.messages, 0);
    CHECK_INT(w.owner.abandoned, 1);
    CHECK(strstr(w.owner.reason, "larger than") != NULL);
    CHECK_INT(bridge_endpoint_assembling_bytes(w.endpoint), 0);
    /* Too much held out of order: refused, and later packets are ignored. */
    struct packets early = {0};
    peer_message(&early, BRIDGE_RESPONSE, "early", body, len);
    feed(&w.fake, early.json[2], early.len[2]);
    feed(&w.fake, early.json[1], early.len[1]);
    CHECK_INT(w.owner.abandoned, 2);
    CHECK(strstr(w.owner.reason, "out of order") != NULL);
    CHECK_INT(bridge_endpoint_held_bytes(w.endpoint), 0);
    feed(&w.fake, early.json[0], early.len[0]);
    CHECK_INT(w.owner.messages, 0);
    CHECK_INT(bridge_endpoint_assembling_bytes(w.endpoint), 0);
    /* A message within the caps still goes through. */
    struct packets ok = {0};
    peer_message(&ok, BRIDGE_RESPONSE, "ok", body, BRIDGE_CHUNK_BYTES + 1);
    feed(&w.fake, ok.json[1], ok.len[1]);
    feed(&w.fake, ok.json[0], ok.len[0]);
    CHECK_INT(w.owner.messages, 1);
    CHECK_INT(buf_length(&w.owner.body), BRIDGE_CHUNK_BYTES + 1);
    packets_free(&big);
    packets_free(&early);
    packets_free(&ok);
    free(body);
    world_end(&w);
}

TEST(messages_in_progress_are_capped)
{
    struct world w;
    world_config(&w);
    w.limits.max_messages = 2;
    world_start(&w);
    size_t len = 2 * BRIDGE_CHUNK_BYTES;
    char *body = pattern(len);
    struct packets p[3];
    memset(p, 0, sizeof(p));
    const char *ids[3] = {"m-0", "m-1", "m-2"};
    for (int i = 0; i < 3; i++) {
        peer_message(&p[i], BRIDGE_NEXT, ids[i], body, len);
        feed(&w.fake, p[i].json[0], p[i].len[0]);
        w.fake.now += 1;
    }
    /* The least recently active one made room for the third. */
    CHECK_INT(w.owner.abandoned, 1);
    CHECK(strstr(w.owner.reason, "too many messages") != NULL);
    CHECK_INT(bridge_endpoint_assembling_count(w.endpoint), 2);
    CHECK_INT(bridge_endpoint_assembling_bytes(w.endpoint), 2 * BRIDGE_CHUNK_BYTES);
    /* The two kept ones complete. */
    for (int i = 1; i < 3; i++)
        feed(&w.fake, p[i].json[1], p[i].len[1]);
    CHECK_INT(w.owner.messages, 2);
    CHECK_INT(w.owner.abandoned, 1);
    CHECK_STR(w.owner.id, "m-2");
    CHECK_INT(bridge_endpoint_assembling_count(w.endpoint), 0);
    for (int i = 0; i < 3; i++)
        packets_free(&p[i]);
    free(body);
    world_end(&w);
}

TEST(streamed_types_come_chunk_by_chunk)
{
    struct world w;
    world_config(&w);
    w.config.stream_types = 1u << BRIDGE_RESPONSE;
    world_start(&w);
    size_t len = 2 * BRIDGE_CHUNK_BYTES + 3;
    char *body = pattern(len);
    struct packets p = {0};
    peer_message(&p, BRIDGE_RESPONSE, "s-1", body, len);
    feed(&w.fake, p.json[0], p.len[0]);
    CHECK_INT(w.owner.chunks, 1);
    feed(&w.fake, p.json[2], p.len[2]);
    CHECK_INT(w.owner.chunks, 1); /* waits for its turn */
    feed(&w.fake, p.json[1], p.len[1]);
    CHECK_INT(w.owner.chunks, 3);
    CHECK_INT(w.owner.finals, 1);
    CHECK_INT(w.owner.messages, 0);
    CHECK_INT(buf_length(&w.owner.streamed), len);
    CHECK(memcmp(buf_bytes(&w.owner.streamed), body, len) == 0);
    /* Other types are still whole messages. */
    struct packets err = {0};
    peer_message(&err, BRIDGE_ERROR, "s-1", "{}", 2);
    feed(&w.fake, err.json[0], err.len[0]);
    CHECK_INT(w.owner.messages, 1);
    CHECK_INT(w.owner.type, BRIDGE_ERROR);
    packets_free(&p);
    packets_free(&err);
    free(body);
    world_end(&w);
}

TEST(nothing_is_published_before_the_subscription_is_confirmed)
{
    struct world w;
    world_config(&w);
    char cause[200];
    CHECK_INT(bridge_endpoint_new(&w.loop, &w.config, &w.endpoint, cause, sizeof(cause)), 0);
    CHECK_INT(bridge_endpoint_subscribe(w.endpoint, CHANNEL_OUT, cause, sizeof(cause)), 0);
    CHECK_INT(bridge_endpoint_send(w.endpoint, CHANNEL_IN, BRIDGE_INIT, "i-1", "{}", 2), 0);
    CHECK_INT(w.fake.publish_count, 0);
    CHECK_INT(bridge_endpoint_queued(w.endpoint), 1);
    CHECK(!bridge_endpoint_subscribed(w.endpoint));
    confirm(&w.fake, 0);
    CHECK(bridge_endpoint_subscribed(w.endpoint));
    CHECK_INT(w.fake.publish_count, 1);
    CHECK_STR(w.fake.publishes[0].channel, CHANNEL_IN);
    CHECK_INT(bridge_endpoint_queued(w.endpoint), 0);
    /* Published but not answered yet: still unacknowledged. */
    CHECK_INT(bridge_endpoint_unacknowledged(w.endpoint), 1);
    CHECK_INT(answer_publishes(&w.fake, 0), 1);
    CHECK_INT(bridge_endpoint_unacknowledged(w.endpoint), 0);
    world_end(&w);
}

TEST(the_outbox_retries_a_failed_publish)
{
    struct world w;
    world_config(&w);
    world_start(&w);
    CHECK_INT(bridge_endpoint_send(w.endpoint, CHANNEL_IN, BRIDGE_INIT, "i-2", "{\"a\":1}", 7), 0);
    CHECK_INT(w.fake.publish_count, 1);
    /* The connection dropped before the answer: the same batch goes again. */
    CHECK_INT(answer_publishes(&w.fake, -ECONNRESET), 1);
    CHECK_INT(w.fake.publish_count, 2);
    CHECK_STR(w.fake.publishes[1].events[0], w.fake.publishes[0].events[0]);
    /* While the connection is down, nothing is published... */
    bridge_endpoint_events_state(w.endpoint, EVENTS_CLIENT_BACKOFF);
    CHECK_INT(answer_publishes(&w.fake, -ECONNRESET), 1);
    CHECK_INT(w.fake.publish_count, 2);
    CHECK_INT(bridge_endpoint_queued(w.endpoint), 1);
    /* ...until the subscription is back. */
    confirm(&w.fake, 0);
    CHECK_INT(w.owner.reconnects, 1);
    CHECK_INT(w.fake.publish_count, 3);
    CHECK_INT(answer_publishes(&w.fake, 0), 1);
    CHECK_INT(w.fake.publish_count, 3);
    /* A refusal (not a lost connection) is not retried. */
    CHECK_INT(bridge_endpoint_send(w.endpoint, CHANNEL_IN, BRIDGE_INIT, "i-3", "{}", 2), 0);
    CHECK_INT(answer_publishes(&w.fake, -EACCES), 1);
    CHECK_INT(w.fake.publish_count, 4);
    world_end(&w);
}

/* Answers one publish (the i-th), as the broker would. */
static void answer_one(struct fake *f, size_t i, int status)
{
    struct publish *p = &f->publishes[i];
    CHECK(!p->answered);
    p->answered = 1;
    struct events_publish_result r = {.status = status, .cause = status ? "scripted" : NULL};
    r.successful_count = status ? 0 : p->count;
    p->on_result(p->user, &r);
}

struct delivery {
    int calls, status;
    char id[160];
    struct bridge_endpoint **free_endpoint; /* frees it from the note */
};

static void on_delivered(void *ctx, const char *id, int status)
{
    struct delivery *d = ctx;
    d->calls++;
    d->status = status;
    snprintf(d->id, sizeof(d->id), "%s", id);
    if (d->free_endpoint) {
        bridge_endpoint_free(*d->free_endpoint);
        *d->free_endpoint = NULL;
    }
}

TEST(delivery_is_told_once_the_final_packet_is_acknowledged)
{
    struct world w;
    struct delivery d = {0};
    world_config(&w);
    world_start(&w);
    /* Seven packets: two batches; only the second holds the final one. */
    size_t len = 6 * BRIDGE_CHUNK_BYTES + 10;
    char *body = pattern(len);
    CHECK_INT(bridge_endpoint_send_notify(w.endpoint, CHANNEL_IN, BRIDGE_RESPONSE, "r-1", body, len,
                                          on_delivered, &d),
              0);
    free(body);
    CHECK_INT(w.fake.publish_count, 2);
    CHECK_INT(d.calls, 0); /* not before the broker said so */
    answer_one(&w.fake, 0, 0);
    CHECK_INT(d.calls, 0); /* the first batch is not the end of the message */
    answer_one(&w.fake, 1, -ECONNRESET);
    CHECK_INT(d.calls, 0); /* a lost connection: the batch goes again */
    CHECK_INT(w.fake.publish_count, 3);
    answer_one(&w.fake, 2, 0);
    CHECK_INT(d.calls, 1);
    CHECK_INT(d.status, 0);
    CHECK_STR(d.id, "r-1");
    /* A refused batch is told as such, once. */
    struct delivery refused = {0};
    CHECK_INT(bridge_endpoint_send_notify(w.endpoint, CHANNEL_IN, BRIDGE_ERROR, "r-2", "{}", 2,
                                          on_delivered, &refused),
              0);
    CHECK_INT(answer_publishes(&w.fake, -EACCES), 1);
    CHECK_INT(refused.calls, 1);
    CHECK_INT(refused.status, -EACCES);
    CHECK_INT(d.calls, 1);
    world_end(&w);
}

TEST(no_delivery_is_told_after_the_endpoint_is_freed)
{
    struct world w;
    world_config(&w);
    world_start(&w);
    struct delivery d = {0};
    CHECK_INT(bridge_endpoint_send_notify(w.endpoint, CHANNEL_IN, BRIDGE_RESPONSE, "r-3", "{}", 2,
                                          on_delivered, &d),
              0);
    world_end(&w); /* frees, then answers what was in flight with -ECANCELED */
    CHECK_INT(d.calls, 0);

    /* Two answers in flight; the first one's note frees the endpoint: the
     * second is not told. */
    world_config(&w);
    world_start(&w);
    bridge_endpoint_events_state(w.endpoint, EVENTS_CLIENT_BACKOFF); /* hold them back */
    struct delivery first = {.free_endpoint = &w.endpoint}, second = {0};
    CHECK_INT(bridge_endpoint_send_notify(w.endpoint, CHANNEL_IN, BRIDGE_RESPONSE, "r-4", "{}", 2,
                                          on_delivered, &first),
              0);
    CHECK_INT(bridge_endpoint_send_notify(w.endpoint, CHANNEL_IN, BRIDGE_RESPONSE, "r-5", "{}", 2,
                                          on_delivered, &second),
              0);
    confirm(&w.fake, 0);
    CHECK_INT(answer_publishes(&w.fake, 0), (int)w.fake.publish_count);
    CHECK_INT(first.calls, 1);
    CHECK_INT(second.calls, 0);
    CHECK(w.endpoint == NULL);
    world_end(&w);
}

/* The Next's ids published so far, comma-separated. */
static void published_ids(struct world *w, char *out, size_t cap)
{
    struct bridge_packet p[64];
    size_t n = published_packets(&w->fake, p, 64);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (p[i].type == BRIDGE_NEXT)
            snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? "," : "", p[i].id);
    free_packets(p, n);
}

/* Whether text is a random UUID in random_uuid's form. */
static int is_uuid(const char *text)
{
    if (strlen(text) != 36)
        return 0;
    for (size_t i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : !strchr("0123456789abcdef", text[i]))
            return 0;
    }
    return 1;
}

/* The Next's ids published so far are first and then resends ids that are
 * all fresh UUIDs, none seen twice: a peer keying by id alone (SST) takes
 * each as a new message. */
static void check_resend_ids(struct world *w, const char *first, size_t resends)
{
    struct bridge_packet p[64];
    size_t n = published_packets(&w->fake, p, 64), nexts = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i].type != BRIDGE_NEXT)
            continue;
        if (nexts++ == 0) {
            CHECK_STR(p[i].id, first);
            continue;
        }
        CHECK(is_uuid(p[i].id));
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(p[i].id, p[j].id) != 0);
    }
    CHECK_INT(nexts, resends + 1);
    free_packets(p, n);
}

TEST(a_request_is_resent_after_a_reconnect_until_heard)
{
    struct world w;
    char ids[1000];
    world_config(&w);
    world_start(&w);
    const char next[] = "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: req-9\r\n\r\n{}";
    CHECK_INT(bridge_endpoint_request(w.endpoint, CHANNEL_IN, BRIDGE_NEXT, "req-9", next,
                                      sizeof(next) - 1),
              0);
    /* Without a reconnect it is sent once: a silent peer is the owner's
     * no-dev timeout to judge, not a reason to repeat. */
    for (int i = 0; i < 20; i++) {
        w.fake.now += 500;
        bridge_endpoint_tick(w.endpoint);
    }
    published_ids(&w, ids, sizeof(ids));
    CHECK_STR(ids, "req-9");
    /* A reconnect: sent again at once under a fresh id... */
    bridge_endpoint_events_state(w.endpoint, EVENTS_CLIENT_BACKOFF);
    confirm(&w.fake, 0);
    check_resend_ids(&w, "req-9", 1);
    /* ...and every second while the peer (resubscribing late) says nothing. */
    w.fake.now += 999;
    bridge_endpoint_tick(w.endpoint);
    CHECK_INT(bridge_endpoint_request_resends(w.endpoint), 1);
    w.fake.now += 1;
    bridge_endpoint_tick(w.endpoint);
    w.fake.now += 1000;
    bridge_endpoint_tick(w.endpoint);
    check_resend_ids(&w, "req-9", 3);
    /* Not while the connection is down again. */
    bridge_endpoint_events_state(w.endpoint, EVENTS_CLIENT_BACKOFF);
    w.fake.now += 5000;
    bridge_endpoint_tick(w.endpoint);
    CHECK_INT(bridge_endpoint_request_resends(w.endpoint), 3);
    confirm(&w.fake, 0);
    CHECK_INT(bridge_endpoint_request_resends(w.endpoint), 4);
    /* Heard from: no more resends... */
    bridge_endpoint_request_heard(w.endpoint);
    w.fake.now += 5000;
    bridge_endpoint_tick(w.endpoint);
    CHECK_INT(bridge_endpoint_request_resends(w.endpoint), 4);
    /* ...until the next reconnect. */
    bridge_endpoint_events_state(w.endpoint, EVENTS_CLIENT_BACKOFF);
    confirm(&w.fake, 0);
    CHECK_INT(bridge_endpoint_request_resends(w.endpoint), 5);
    /* Ended: forgotten, never sent again. */
    bridge_endpoint_request_end(w.endpoint);
    bridge_endpoint_events_state(w.endpoint, EVENTS_CLIENT_BACKOFF);
    confirm(&w.fake, 0);
    w.fake.now += 5000;
    bridge_endpoint_tick(w.endpoint);
    check_resend_ids(&w, "req-9", 5);
    /* Every resend carries the whole request. */
    struct bridge_packet p[64];
    size_t n = published_packets(&w.fake, p, 64);
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(buf_length(&p[i].data), sizeof(next) - 1);
        CHECK_STR(p[i].source, "w1");
    }
    free_packets(p, n);
    world_end(&w);
}

TEST(a_stream_goes_out_as_it_is_written)
{
    struct world w;
    world_config(&w);
    w.config.source = "dev";
    world_start(&w);
    struct bridge_endpoint_stream s;
    bridge_endpoint_stream_init(w.endpoint, &s, CHANNEL_OUT, BRIDGE_RESPONSE, "req-s");
    bridge_endpoint_stream_content_type(&s, "text/plain");
    CHECK_INT(bridge_endpoint_stream_write(&s, "hello ", 6), 0);
    CHECK_INT(w.fake.publish_count, 1);
    CHECK_INT(bridge_endpoint_stream_write(&s, "world", 5), 0);
    CHECK_INT(bridge_endpoint_stream_close(&s), 0);
    CHECK_INT(bridge_endpoint_stream_write(&s, "late", 4), -EPIPE);
    bridge_endpoint_stream_free(&s);
    struct bridge_packet p[8];
    size_t n = published_packets(&w.fake, p, 8);
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK_STR(p[0].content_type, "text/plain");
        CHECK_STR(p[0].source, "dev");
        CHECK_INT(p[0].index, 0);
        CHECK_INT(p[2].index, 2);
        CHECK_INT(p[2].final, 1);
        CHECK_INT(p[1].final, 0);
    }
    free_packets(p, n);
    world_end(&w);
}

TEST(teardown_with_everything_in_flight)
{
    struct world w;
    world_config(&w);
    world_start(&w);
    size_t len = 3 * BRIDGE_CHUNK_BYTES;
    char *body = pattern(len);
    struct packets p = {0};
    peer_message(&p, BRIDGE_RESPONSE, "half", body, len);
    feed(&w.fake, p.json[0], p.len[0]);
    feed(&w.fake, p.json[2], p.len[2]);
    /* A request, a big message partly in flight and partly queued. */
    CHECK_INT(bridge_endpoint_request(w.endpoint, CHANNEL_IN, BRIDGE_NEXT, "r", "x", 1), 0);
    for (int i = 0; i < 12; i++)
        bridge_endpoint_send(w.endpoint, CHANNEL_IN, BRIDGE_RESPONSE, "big", body, len);
    CHECK(bridge_endpoint_queued(w.endpoint) > 0);
    CHECK(bridge_endpoint_assembling_bytes(w.endpoint) > 0);
    CHECK(bridge_endpoint_held_bytes(w.endpoint) > 0);
    size_t before = w.fake.unsubscribes;
    /* world_end frees it, answers the publishes in flight afterwards, and
     * runs the loop until the memory is gone (ASan checks the rest). */
    world_end(&w);
    CHECK_INT(w.fake.unsubscribes, before + 1);
    CHECK_INT(w.owner.abandoned, 0); /* no callback after free */
    packets_free(&p);
    free(body);
}

TEST(the_owner_may_free_it_from_a_callback)
{
    struct world w;
    world_config(&w);
    w.owner.free_on_message = &w.endpoint;
    world_start(&w);
    size_t len = 2 * BRIDGE_CHUNK_BYTES + 1;
    char *body = pattern(len);
    struct packets a = {0}, b = {0};
    peer_message(&a, BRIDGE_NEXT, "first", body, len);
    peer_message(&b, BRIDGE_NEXT, "second", body, 10);
    feed(&w.fake, b.json[0], b.len[0]); /* whole at once: freed from on_message */
    CHECK(w.endpoint == NULL);
    CHECK_INT(w.owner.messages, 1);
    CHECK_INT(w.fake.unsubscribes, 1);
    feed(&w.fake, a.json[0], a.len[0]); /* nobody listens any more */
    CHECK_INT(w.owner.messages, 1);
    world_end(&w);
    packets_free(&a);
    packets_free(&b);
    free(body);
}

TEST(a_failed_subscription_is_reported)
{
    struct world w;
    world_config(&w);
    char cause[200];
    CHECK_INT(bridge_endpoint_new(&w.loop, &w.config, &w.endpoint, cause, sizeof(cause)), 0);
    CHECK_INT(bridge_endpoint_subscribe(w.endpoint, CHANNEL_OUT, cause, sizeof(cause)), 0);
    confirm(&w.fake, -EACCES);
    CHECK_INT(w.owner.failures, 1);
    CHECK(!bridge_endpoint_subscribed(w.endpoint));
    /* It may subscribe again. */
    CHECK_INT(bridge_endpoint_subscribe(w.endpoint, CHANNEL_OUT, cause, sizeof(cause)), 0);
    CHECK_INT(w.fake.subscribes, 2);
    world_end(&w);
}

TEST(an_incomplete_configuration_is_refused)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct bridge_endpoint_config config = {.source = "dev"};
    struct bridge_endpoint *e = NULL;
    char cause[200] = "";
    CHECK_INT(bridge_endpoint_new(&loop, &config, &e, cause, sizeof(cause)), -EINVAL);
    CHECK(cause[0] != '\0');
    CHECK(e == NULL);
    CHECK_INT(uv_loop_close(&loop), 0);
}

/* ---- sealed packets (bridge/seal.h) ---- */

static void test_key(struct bridge_key *key, uint8_t fill)
{
    memset(key->bytes, fill, sizeof(key->bytes));
}

static uint64_t world_clock(void *ctx)
{
    return ((struct world *)ctx)->fake.now;
}

/* A message from the peer "dev", sealed under key for channel at the
 * peer's clock now_ms. */
static void sealed_message(struct packets *out, const struct bridge_key *key, const char *channel,
                           uint64_t *now_ms, enum bridge_type type, const char *id,
                           const char *body, size_t len)
{
    struct bridge_seal *seal = NULL;
    CHECK_INT(bridge_seal_new(key, NULL, &seal), 0);
    struct world clock_only;
    clock_only.fake.now = *now_ms;
    CHECK_INT(bridge_send_sealed(seal, channel, world_clock, &clock_only, type, "dev", id, body,
                                 len, collect, out),
              0);
    bridge_seal_free(seal);
}

static void feed_all(struct world *w, const struct packets *p)
{
    for (size_t i = 0; i < p->count; i++)
        feed(&w->fake, p->json[i], p->len[i]);
}

static void sealed_world(struct world *w, struct bridge_key *key)
{
    world_config(w);
    test_key(key, 0x5a);
    w->config.key = key;
    world_start(w);
}

TEST(sealed_messages_round_trip)
{
    struct world w;
    struct bridge_key key;
    sealed_world(&w, &key);
    size_t len = 2 * BRIDGE_CHUNK_BYTES + 5;
    char *body = pattern(len);
    struct packets p = {0};
    w.fake.now += 500; /* sealed 1.5 s before it arrives, by the sender's clock */
    uint64_t sealed_at = w.fake.now;
    sealed_message(&p, &key, CHANNEL_OUT, &w.fake.now, BRIDGE_RESPONSE, "req-1", body, len);
    w.fake.now += 1500;
    feed_all(&w, &p);
    CHECK_INT(w.owner.messages, 1);
    CHECK(w.owner.sent_ms == sealed_at); /* its first packet's time, for the owner */
    CHECK_INT(buf_length(&w.owner.body), len);
    CHECK(buf_length(&w.owner.body) == len && memcmp(buf_bytes(&w.owner.body), body, len) == 0);
    CHECK_INT(bridge_endpoint_rejected(w.endpoint), 0);
    /* What it sends opens with the key for the channel it went to, and
     * carries no plaintext. */
    const char secret[] = "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI";
    CHECK_INT(bridge_endpoint_send(w.endpoint, CHANNEL_IN, BRIDGE_INIT, "init-1", secret,
                                   sizeof(secret) - 1),
              0);
    struct bridge_endpoint_stream stream;
    bridge_endpoint_stream_init(w.endpoint, &stream, CHANNEL_IN, BRIDGE_RESPONSE, "req-2");
    CHECK_INT(bridge_endpoint_stream_write(&stream, "streamed", 8), 0);
    CHECK_INT(bridge_endpoint_stream_close(&stream), 0);
    bridge_endpoint_stream_free(&stream);
    struct bridge_seal *peer = NULL;
    CHECK_INT(bridge_seal_new(&key, NULL, &peer), 0);
    size_t opened = 0;
    for (size_t i = 0; i < w.fake.publish_count; i++) {
        struct publish *pub = &w.fake.publishes[i];
        CHECK_STR(pub->channel, CHANNEL_IN);
        for (size_t k = 0; k < pub->count; k++) {
            struct bridge_packet out;
            char cause[200];
            CHECK(strstr(pub->events[k], "wJalr") == NULL);
            CHECK(strstr(pub->events[k], "\"nonce\"") != NULL);
            int rc = bridge_seal_decode(peer, CHANNEL_IN, w.fake.now, pub->events[k],
                                        strlen(pub->events[k]), &out, cause, sizeof(cause));
            CHECK_INT(rc, 0);
            if (rc == 0 && out.type == BRIDGE_INIT)
                CHECK(buf_length(&out.data) == sizeof(secret) - 1 &&
                      memcmp(buf_bytes(&out.data), secret, sizeof(secret) - 1) == 0);
            if (rc == 0)
                opened++;
            bridge_packet_free(&out);
        }
    }
    CHECK(opened >= 3); /* the Init, and the stream's data and final packets */
    bridge_seal_free(peer);
    packets_free(&p);
    free(body);
    world_end(&w);
}

TEST(unauthentic_packets_are_dropped_before_anything_sees_them)
{
    struct world w;
    struct bridge_key key, other;
    sealed_world(&w, &key);
    test_key(&other, 0xa5);
    struct packets p = {0};
    /* Forged: sealed under another key. A Ping would be proof of life, a
     * non-final chunk would count as progress: neither may get through. */
    sealed_message(&p, &other, CHANNEL_OUT, &w.fake.now, BRIDGE_PING, "req-1", "", 0);
    char *body = pattern(BRIDGE_CHUNK_BYTES + 1);
    sealed_message(&p, &other, CHANNEL_OUT, &w.fake.now, BRIDGE_RESPONSE, "req-1", body,
                   BRIDGE_CHUNK_BYTES + 1);
    /* Not sealed at all, as SST writes them. */
    peer_message(&p, BRIDGE_PING, "req-1", "", 0);
    peer_message(&p, BRIDGE_RESPONSE, "req-1", body, BRIDGE_CHUNK_BYTES + 1);
    /* Sealed with the right key, but for another channel. */
    sealed_message(&p, &key, CHANNEL_IN, &w.fake.now, BRIDGE_RESPONSE, "req-1", "x", 1);
    feed_all(&w, &p);
    CHECK_INT(bridge_endpoint_rejected(w.endpoint), p.count);
    /* Sealed with the right key, far outside the replay window. */
    uint64_t old = w.fake.now;
    size_t fed = p.count + 1;
    packets_free(&p);
    w.fake.now += BRIDGE_SEAL_DEFAULT_WINDOW_MS + 60000;
    sealed_message(&p, &key, CHANNEL_OUT, &old, BRIDGE_RESPONSE, "req-1", "x", 1);
    feed_all(&w, &p);
    CHECK_INT(bridge_endpoint_rejected(w.endpoint), fed);
    CHECK_INT(w.owner.messages, 0);
    CHECK_INT(w.owner.chunks, 0);
    CHECK_INT(w.owner.progress, 0);
    CHECK_INT(bridge_endpoint_held_bytes(w.endpoint), 0);
    CHECK_INT(bridge_endpoint_assembling_count(w.endpoint), 0);
    /* One altered byte in a genuine packet. */
    packets_free(&p);
    sealed_message(&p, &key, CHANNEL_OUT, &w.fake.now, BRIDGE_RESPONSE, "req-2", "hello", 5);
    char *data = strstr(p.json[0], "\"data\":\"");
    CHECK(data != NULL);
    if (data)
        data[8] = data[8] == 'A' ? 'B' : 'A';
    feed_all(&w, &p);
    CHECK_INT(bridge_endpoint_rejected(w.endpoint), fed + 1);
    CHECK_INT(w.owner.messages, 0);
    packets_free(&p);
    free(body);
    world_end(&w);
}

TEST(a_replayed_sealed_packet_is_dropped)
{
    struct world w;
    struct bridge_key key;
    sealed_world(&w, &key);
    struct packets p = {0};
    /* A captured Ping played again is stopped by the seal's replay memory
     * before the reassembler's duplicate check sees it. */
    sealed_message(&p, &key, CHANNEL_OUT, &w.fake.now, BRIDGE_PING, "req-1", "", 0);
    feed_all(&w, &p);
    CHECK_INT(w.owner.messages, 1);
    w.fake.now += 1000;
    bridge_endpoint_tick(w.endpoint);
    feed_all(&w, &p);
    feed_all(&w, &p);
    CHECK_INT(w.owner.messages, 1);
    CHECK_INT(bridge_endpoint_rejected(w.endpoint), 2);
    /* A fresh Ping (a new nonce, a new id) counts. */
    packets_free(&p);
    sealed_message(&p, &key, CHANNEL_OUT, &w.fake.now, BRIDGE_PING, "ping-2", "", 0);
    feed_all(&w, &p);
    CHECK_INT(w.owner.messages, 2);
    packets_free(&p);
    world_end(&w);
}

/* Lines in a file that contain needle. */
static size_t lines_with(const char *path, const char *needle, char *last, size_t last_len)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    size_t n = 0;
    while (f && fgets(line, sizeof(line), f))
        if (strstr(line, needle)) {
            n++;
            snprintf(last, last_len, "%s", line);
        }
    if (f)
        fclose(f);
    return n;
}

TEST(a_flood_of_forged_packets_makes_one_log_line_per_period)
{
    struct world w;
    struct bridge_key key, other;
    sealed_world(&w, &key);
    test_key(&other, 0xa5);
    struct packets p = {0};
    for (int i = 0; i < 50; i++)
        sealed_message(&p, &other, CHANNEL_OUT, &w.fake.now, BRIDGE_PING, "flood", "", 0);
    char path[] = "/tmp/tether-endpoint-log-XXXXXX", last[1024] = "";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    feed_all(&w, &p);
    w.fake.now += 10000; /* the next period: one more line, with the count */
    feed(&w.fake, p.json[0], p.len[0]);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    CHECK_INT(bridge_endpoint_rejected(w.endpoint), 51);
    CHECK_INT(lines_with(path, "not authentic", last, sizeof(last)), 2);
    CHECK(strstr(last, "and 49 more") != NULL);
    unlink(path);
    packets_free(&p);
    world_end(&w);
}

TEST(packets_sealed_before_the_endpoint_existed_are_dropped)
{
    /* A restarted receiver has an empty replay memory: what was captured
     * before it started must not open all the same. */
    struct world w;
    struct bridge_key key;
    world_config(&w);
    w.fake.now = 1000000;
    test_key(&key, 0x5a);
    w.config.key = &key;
    world_start(&w);
    struct packets p = {0};
    uint64_t captured = w.fake.now - 60000, recent = w.fake.now - 2000;
    sealed_message(&p, &key, CHANNEL_OUT, &captured, BRIDGE_RESPONSE, "old", "x", 1);
    feed_all(&w, &p);
    CHECK_INT(w.owner.messages, 0);
    CHECK_INT(bridge_endpoint_rejected(w.endpoint), 1);
    packets_free(&p);
    /* A peer whose clock is a little behind is not refused. */
    sealed_message(&p, &key, CHANNEL_OUT, &recent, BRIDGE_RESPONSE, "new", "x", 1);
    feed_all(&w, &p);
    CHECK_INT(w.owner.messages, 1);
    packets_free(&p);
    world_end(&w);
}

TEST(without_a_key_packets_stay_open)
{
    struct world w;
    world_config(&w);
    world_start(&w);
    struct packets p = {0};
    peer_message(&p, BRIDGE_RESPONSE, "req-1", "plain", 5);
    feed_all(&w, &p);
    CHECK_INT(w.owner.messages, 1);
    CHECK(w.owner.sent_ms == 0); /* no sealed time to give */
    CHECK_INT(bridge_endpoint_send(w.endpoint, CHANNEL_IN, BRIDGE_INIT, "i", "visible", 7), 0);
    CHECK_INT(answer_publishes(&w.fake, 0), 1);
    struct bridge_packet out[4];
    size_t n = published_packets(&w.fake, out, 4);
    CHECK_INT(n, 1);
    CHECK(n == 1 && buf_length(&out[0].data) == 7 &&
          memcmp(buf_bytes(&out[0].data), "visible", 7) == 0);
    CHECK(strstr(w.fake.publishes[0].events[0], "nonce") == NULL);
    free_packets(out, n);
    packets_free(&p);
    world_end(&w);
}

RUN_TESTS("bridge_endpoint", TEST_ENTRY(chunked_message_in_order_is_delivered_whole),
          TEST_ENTRY(chunked_message_out_of_order_is_delivered_whole),
          TEST_ENTRY(duplicates_and_own_packets_are_dropped_pings_included),
          TEST_ENTRY(a_message_whose_chunks_stop_expires),
          TEST_ENTRY(caps_on_message_size_and_held_bytes),
          TEST_ENTRY(messages_in_progress_are_capped),
          TEST_ENTRY(streamed_types_come_chunk_by_chunk),
          TEST_ENTRY(nothing_is_published_before_the_subscription_is_confirmed),
          TEST_ENTRY(the_outbox_retries_a_failed_publish),
          TEST_ENTRY(a_request_is_resent_after_a_reconnect_until_heard),
          TEST_ENTRY(a_stream_goes_out_as_it_is_written),
          TEST_ENTRY(teardown_with_everything_in_flight),
          TEST_ENTRY(the_owner_may_free_it_from_a_callback),
          TEST_ENTRY(a_failed_subscription_is_reported),
          TEST_ENTRY(an_incomplete_configuration_is_refused),
          TEST_ENTRY(sealed_messages_round_trip),
          TEST_ENTRY(unauthentic_packets_are_dropped_before_anything_sees_them),
          TEST_ENTRY(a_replayed_sealed_packet_is_dropped),
          TEST_ENTRY(a_flood_of_forged_packets_makes_one_log_line_per_period),
          TEST_ENTRY(packets_sealed_before_the_endpoint_existed_are_dropped),
          TEST_ENTRY(without_a_key_packets_stay_open),
          TEST_ENTRY(delivery_is_told_once_the_final_packet_is_acknowledged),
          TEST_ENTRY(no_delivery_is_told_after_the_endpoint_is_freed))
