#include "bridge/endpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "endpoint"
#include "core/log.h"
#include "core/random.h"

#define TICK_MS 250
#define RESEND_MS 1000
#define MAX_PUBLISHES_IN_FLIGHT 8
/* At most one line about dropped packets this often: whoever can publish on
 * the channel must not be able to fill the log. */
#define REJECT_LOG_MS 10000
/* How far the peer's clock may be behind ours at our start (see make_parts). */
#define SEAL_CLOCK_ALLOWANCE_MS 5000

/* The pending request and where its resends stand. */
struct pending_request {
    int active;
    int resending; /* reconnected since the peer was last heard from */
    enum bridge_type type;
    char id[BRIDGE_MAX_ID_LENGTH + 1];
    char channel[340];
    struct buf body;
    unsigned resends;
    uint64_t last_sent_ms;
};

/* The sealed time of a message's first packet, kept until the whole
 * message is delivered (bridge_message.sent_ms). */
#define FIRST_SENT_SLOTS 32
struct first_sent {
    enum bridge_type type;
    char source[BRIDGE_MAX_SOURCE_LENGTH + 1];
    char id[BRIDGE_MAX_ID_LENGTH + 1];
    uint64_t ts; /* 0: a free slot */
};

struct bridge_endpoint {
    uv_loop_t *loop;
    struct bridge_endpoint_config config;
    char source[BRIDGE_MAX_SOURCE_LENGTH + 1];
    const struct bridge_endpoint_ops *ops;
    void *ops_ctx;
    struct events_subscription *subscription;
    char channel[340];        /* the one subscribed to: packets are opened for it */
    struct bridge_seal *seal; /* NULL: the insecure mode */
    uint64_t rejected;
    uint64_t rejected_unlogged; /* since the last line about them */
    uint64_t reject_logged_ms;
    int subscribed;      /* confirmed and not lost since */
    int subscribed_once; /* later confirmations are reconnects */
    struct bridge_reassembler *reassembler;
    struct bridge_outbox *outbox;
    struct pending_request request;
    struct first_sent first_sent[FIRST_SENT_SLOTS]; /* a ring: the oldest is reused */
    size_t next_first_sent;
    uv_timer_t timer;
    /* Owners may free the endpoint from its own callbacks: the parts are
     * then freed when the outermost dispatch returns, and no callback runs
     * after bridge_endpoint_free. */
    int dispatching;
    int freed;
};

/* ---- the real events service ---- */

static int events_subscribe(void *ctx, const char *channel, events_data_cb on_data,
                            events_subscribe_cb on_result, void *user,
                            struct events_subscription **out, char *cause, size_t cause_len)
{
    return events_client_subscribe(ctx, channel, on_data, on_result, user, out, cause, cause_len);
}

static void events_unsubscribe(void *ctx, struct events_subscription *sub)
{
    (void)ctx;
    events_client_unsubscribe(sub);
}

static int events_publish(void *ctx, const char *channel, const char *const *events, size_t count,
                          events_publish_cb on_result, void *user, char *cause, size_t cause_len)
{
    return events_client_publish(ctx, channel, events, count, on_result, user, cause, cause_len);
}

/* No now_ms: the real clock is the loop's (endpoint_now); no wall_ms: the
 * real wall clock (endpoint_wall). */
static const struct bridge_endpoint_ops events_ops = {events_subscribe, events_unsubscribe,
                                                      events_publish, NULL, NULL};

static uint64_t endpoint_now(const struct bridge_endpoint *e)
{
    return e->ops->now_ms ? e->ops->now_ms(e->ops_ctx) : uv_now(e->loop);
}

uint64_t bridge_endpoint_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A bridge_clock_fn for the writers: ctx is the endpoint. */
static uint64_t endpoint_wall(void *ctx)
{
    const struct bridge_endpoint *e = ctx;
    return e->ops->wall_ms ? e->ops->wall_ms(e->ops_ctx) : bridge_endpoint_wall_ms();
}

/* ---- receiving ---- */

static void on_abandon(void *ctx, enum bridge_type type, const char *source, const char *id,
                       const char *reason)
{
    struct bridge_endpoint *e = ctx;
    log_warn("%s %s from %s was incomplete: %s", bridge_type_name(type), id, source, reason);
    if (e->config.callbacks.on_abandon && !e->freed)
        e->config.callbacks.on_abandon(e->config.ctx, type, source, id, reason);
}

/* A message's first packet opened: its sealed time is kept for the whole
 * message (only for first packets of messages, not Pings). */
static void note_first_sent(struct bridge_endpoint *e, const struct bridge_packet *p)
{
    if (!p->sealed_ms || p->index != 0 || p->type == BRIDGE_PING)
        return;
    struct first_sent *f = &e->first_sent[e->next_first_sent];
    e->next_first_sent = (e->next_first_sent + 1) % FIRST_SENT_SLOTS;
    f->type = p->type;
    snprintf(f->source, sizeof(f->source), "%s", p->source);
    snprintf(f->id, sizeof(f->id), "%s", p->id);
    f->ts = p->sealed_ms;
}

/* The sealed time noted for this whole message's first packet, forgotten
 * once taken; 0 when none. */
static uint64_t take_first_sent(struct bridge_endpoint *e, const struct bridge_packet *p)
{
    for (size_t i = 0; i < FIRST_SENT_SLOTS; i++) {
        struct first_sent *f = &e->first_sent[i];
        if (f->ts && f->type == p->type && strcmp(f->source, p->source) == 0 &&
            strcmp(f->id, p->id) == 0) {
            uint64_t ts = f->ts;
            f->ts = 0;
            return ts;
        }
    }
    return 0;
}

/* Streamed types come chunk by chunk; the others (assembled by the
 * reassembler) as progress and then one whole final packet. */
static void on_chunk(void *ctx, const struct bridge_packet *p)
{
    struct bridge_endpoint *e = ctx;
    if (e->freed)
        return;
    if ((e->config.stream_types >> (unsigned)p->type) & 1u) {
        if (e->config.callbacks.on_chunk)
            e->config.callbacks.on_chunk(e->config.ctx, p);
    } else if (!p->final) {
        if (e->config.callbacks.on_progress)
            e->config.callbacks.on_progress(e->config.ctx, p);
    } else {
        struct bridge_message m = {p->type,         p->source, p->id,
                                   p->content_type, &p->data,  take_first_sent(e, p)};
        e->config.callbacks.on_message(e->config.ctx, &m);
    }
}

static void finish_free(struct bridge_endpoint *e);

static void end_dispatch(struct bridge_endpoint *e)
{
    if (--e->dispatching == 0 && e->freed)
        finish_free(e);
}

/* Counts a packet that did not open and says so, at most once per
 * REJECT_LOG_MS with how many more there were. */
static void note_rejected(struct bridge_endpoint *e, const char *cause)
{
    uint64_t now = endpoint_now(e);
    e->rejected++;
    if (e->rejected > 1 && now - e->reject_logged_ms < REJECT_LOG_MS) {
        e->rejected_unlogged++;
        return;
    }
    if (e->rejected_unlogged)
        log_warn("dropping a packet that is not authentic: %s (and %llu more since the last "
                 "such line)",
                 cause, (unsigned long long)e->rejected_unlogged);
    else
        log_warn("dropping a packet that is not authentic: %s", cause);
    e->rejected_unlogged = 0;
    e->reject_logged_ms = now;
}

/* Decodes one event, and with a key opens it for our own channel. */
static int open_packet(struct bridge_endpoint *e, const char *event, size_t len,
                       struct bridge_packet *p)
{
    char cause[200];
    int rc = e->seal ? bridge_seal_decode(e->seal, e->channel, endpoint_wall(e), event, len, p,
                                          cause, sizeof(cause))
                     : bridge_packet_decode(event, len, p, cause, sizeof(cause));
    if (rc < 0 && e->seal)
        note_rejected(e, cause);
    else if (rc < 0)
        log_warn("dropping a malformed packet: %s", cause);
    return rc;
}

static void on_event(void *user, struct events_subscription *sub, const char *event, size_t len)
{
    struct bridge_endpoint *e = user;
    struct bridge_packet p;
    (void)sub;
    if (open_packet(e, event, len, &p) < 0)
        return;
    e->dispatching++;
    /* Our own packets, echoed on a channel we also publish to, go no
     * further. Every other message, Pings included, has an id of its own
     * (docs/bridge-protocol.md, "Ids"), so the reassembler's duplicate
     * drop by (type, source, id, index) never swallows a second Ping. */
    if (strcmp(p.source, e->source) != 0) {
        note_first_sent(e, &p);
        bridge_reassembler_push(e->reassembler, &p, endpoint_now(e));
    }
    bridge_packet_free(&p);
    end_dispatch(e);
}

/* ---- sending ---- */

/* Flushes what was emitted, then asks for cb when its last batch is done
 * (a publish failing at once is told from the timer, not inside the
 * caller's send). */
static int flush_notify(struct bridge_outbox *outbox, int rc, bridge_delivered_fn cb, void *ctx,
                        const char *id)
{
    bridge_outbox_flush(outbox);
    if (rc == 0 && cb)
        rc = bridge_outbox_notify(outbox, cb, ctx, id);
    return rc;
}

int bridge_endpoint_send_notify(struct bridge_endpoint *e, const char *channel,
                                enum bridge_type type, const char *id, const void *data, size_t len,
                                bridge_delivered_fn cb, void *ctx)
{
    struct bridge_outbox_target target = {e->outbox, channel};
    int rc = bridge_send_sealed(e->seal, channel, endpoint_wall, e, type, e->source, id, data, len,
                                bridge_outbox_emit, &target);
    rc = flush_notify(e->outbox, rc, cb, ctx, id);
    if (rc < 0)
        log_warn("cannot send %s %s: %s", bridge_type_name(type), id, strerror(-rc));
    return rc;
}

int bridge_endpoint_send(struct bridge_endpoint *e, const char *channel, enum bridge_type type,
                         const char *id, const void *data, size_t len)
{
    return bridge_endpoint_send_notify(e, channel, type, id, data, len, NULL, NULL);
}

static void resend_request(struct bridge_endpoint *e)
{
    struct pending_request *q = &e->request;
    char id[37];
    q->resends++;
    q->last_sent_ms = endpoint_now(e);
    /* A fresh message id, as for every message but an answer: the peer's
     * reassembler drops repeated ids (SST's keys by id alone and would wait
     * forever on one it has seen). The peer tells invocations apart by what
     * the request carries, not by its message id. */
    random_uuid(id);
    log_debug("sending %s %s again as %s", bridge_type_name(q->type), q->id, id);
    bridge_endpoint_send(e, q->channel, q->type, id, buf_bytes(&q->body), buf_length(&q->body));
}

int bridge_endpoint_request(struct bridge_endpoint *e, const char *channel, enum bridge_type type,
                            const char *id, const void *data, size_t len)
{
    struct pending_request *q = &e->request;
    buf_reset(&q->body);
    if (buf_append(&q->body, data, len) < 0)
        return -ENOMEM;
    q->active = 1;
    q->resending = 0;
    q->resends = 0;
    q->type = type;
    snprintf(q->id, sizeof(q->id), "%s", id);
    snprintf(q->channel, sizeof(q->channel), "%s", channel);
    q->last_sent_ms = endpoint_now(e);
    return bridge_endpoint_send(e, channel, type, id, data, len);
}

void bridge_endpoint_request_heard(struct bridge_endpoint *e)
{
    e->request.resending = 0;
}

void bridge_endpoint_request_end(struct bridge_endpoint *e)
{
    e->request.active = 0;
    e->request.resending = 0;
    buf_free(&e->request.body); /* a 6 MB Next is not kept between invocations */
}

unsigned bridge_endpoint_request_resends(const struct bridge_endpoint *e)
{
    return e->request.active ? e->request.resends : 0;
}

void bridge_endpoint_stream_init(struct bridge_endpoint *e, struct bridge_endpoint_stream *s,
                                 const char *channel, enum bridge_type type, const char *id)
{
    snprintf(s->channel, sizeof(s->channel), "%s", channel);
    s->target.outbox = e->outbox;
    s->target.channel = s->channel;
    bridge_writer_init(&s->writer, type, e->source, id, bridge_outbox_emit, &s->target);
    if (e->seal)
        bridge_writer_seal(&s->writer, e->seal, s->channel, endpoint_wall, e);
}

void bridge_endpoint_stream_content_type(struct bridge_endpoint_stream *s, const char *type)
{
    snprintf(s->writer.content_type, sizeof(s->writer.content_type), "%s", type ? type : "");
}

int bridge_endpoint_stream_write(struct bridge_endpoint_stream *s, const void *data, size_t len)
{
    int rc = bridge_writer_write(&s->writer, data, len);
    if (rc == 0)
        rc = bridge_writer_flush(&s->writer);
    bridge_outbox_flush(s->target.outbox);
    return rc;
}

int bridge_endpoint_stream_close_notify(struct bridge_endpoint_stream *s, bridge_delivered_fn cb,
                                        void *ctx)
{
    int rc = bridge_writer_close(&s->writer);
    return flush_notify(s->target.outbox, rc, cb, ctx, s->writer.id);
}

int bridge_endpoint_stream_close(struct bridge_endpoint_stream *s)
{
    return bridge_endpoint_stream_close_notify(s, NULL, NULL);
}

void bridge_endpoint_stream_free(struct bridge_endpoint_stream *s)
{
    bridge_writer_free(&s->writer);
}

/* ---- subscription and connection ---- */

static void on_subscribed(void *user, struct events_subscription *sub, int status,
                          const char *cause)
{
    struct bridge_endpoint *e = user;
    int reconnect = 0;
    (void)sub;
    if (status < 0) {
        log_debug("%s", cause); /* the owner reports it */
        e->subscription = NULL; /* the client dropped it */
        e->subscribed = 0;
    } else {
        reconnect = e->subscribed_once;
        e->subscribed_once = e->subscribed = 1;
        bridge_outbox_set_ready(e->outbox, 1);
        /* The peer may have missed the request while either side was away,
         * and may come back after us: send it now and keep at it until
         * heard. */
        if (reconnect && e->request.active) {
            e->request.resending = 1;
            resend_request(e);
        }
    }
    e->dispatching++;
    if (e->config.callbacks.on_subscribed)
        e->config.callbacks.on_subscribed(e->config.ctx, status < 0 ? status : 0, reconnect,
                                          status < 0 ? cause : NULL);
    end_dispatch(e);
}

int bridge_endpoint_subscribe(struct bridge_endpoint *e, const char *channel, char *cause,
                              size_t cause_len)
{
    if (e->subscription)
        return -EALREADY;
    if (strlen(channel) >= sizeof(e->channel)) {
        snprintf(cause, cause_len, "channel name too long: %s", channel);
        return -EINVAL;
    }
    snprintf(e->channel, sizeof(e->channel), "%s", channel);
    return e->ops->subscribe(e->ops_ctx, channel, on_event, on_subscribed, e, &e->subscription,
                             cause, cause_len);
}

void bridge_endpoint_unsubscribe(struct bridge_endpoint *e)
{
    if (e->subscription)
        e->ops->unsubscribe(e->ops_ctx, e->subscription);
    e->subscription = NULL;
    e->subscribed = 0;
    bridge_outbox_set_ready(e->outbox, 0);
}

int bridge_endpoint_subscribed(const struct bridge_endpoint *e)
{
    return e->subscribed;
}

void bridge_endpoint_events_state(struct bridge_endpoint *e, enum events_client_state state)
{
    if (state == EVENTS_CLIENT_BACKOFF || state == EVENTS_CLIENT_CLOSED) {
        e->subscribed = 0;
        bridge_outbox_set_ready(e->outbox, 0);
    }
}

/* ---- housekeeping ---- */

void bridge_endpoint_tick(struct bridge_endpoint *e)
{
    if (e->freed)
        return;
    uint64_t now = endpoint_now(e);
    e->dispatching++;
    bridge_reassembler_expire(e->reassembler, now);
    if (e->seal)
        bridge_seal_sweep(e->seal, endpoint_wall(e));
    bridge_outbox_report_failed(e->outbox);
    end_dispatch(e);
    if (e->freed)
        return;
    struct pending_request *q = &e->request;
    if (q->active && q->resending && e->subscribed && now - q->last_sent_ms >= RESEND_MS)
        resend_request(e);
}

static void on_timer(uv_timer_t *timer)
{
    bridge_endpoint_tick(timer->data);
}

/* ---- life ---- */

static int make_parts(struct bridge_endpoint *e)
{
    struct bridge_reassembly_limits limits;
    if (e->config.limits)
        limits = *e->config.limits;
    else
        bridge_reassembly_default_limits(&limits);
    limits.assemble_types = ~e->config.stream_types;
    if (e->config.max_message_bytes)
        limits.max_message_bytes = e->config.max_message_bytes;
    if (e->config.max_assembling_bytes)
        limits.max_assembled_total = e->config.max_assembling_bytes;
    e->reassembler = bridge_reassembler_new(&limits, on_chunk, on_abandon, e);
    e->outbox = bridge_outbox_new(e->ops->publish, e->ops_ctx, MAX_PUBLISHES_IN_FLIGHT);
    /* Packets sealed before this endpoint existed were never meant for it:
     * they are replays (of a dev that was restarted, say), refused even
     * though its new replay memory has not seen them. The allowance is for
     * the clocks of two machines that differ a little. */
    struct bridge_seal_limits seal_limits = {0};
    uint64_t now = endpoint_wall(e);
    seal_limits.not_before_ms = now > SEAL_CLOCK_ALLOWANCE_MS ? now - SEAL_CLOCK_ALLOWANCE_MS : 0;
    if (e->config.key && bridge_seal_new(e->config.key, &seal_limits, &e->seal) < 0)
        return -ENOMEM;
    e->config.key = NULL; /* the seal has its copy */
    return e->reassembler && e->outbox ? 0 : -ENOMEM;
}

static void free_parts(struct bridge_endpoint *e)
{
    bridge_seal_free(e->seal);
    bridge_outbox_free(e->outbox);
    bridge_reassembler_free(e->reassembler);
    buf_free(&e->request.body);
}

int bridge_endpoint_new(uv_loop_t *loop, const struct bridge_endpoint_config *config,
                        struct bridge_endpoint **out, char *cause, size_t cause_len)
{
    if (!config->callbacks.on_message || !config->source ||
        strlen(config->source) > BRIDGE_MAX_SOURCE_LENGTH || (!config->ops && !config->events)) {
        snprintf(cause, cause_len, "bridge endpoint: incomplete configuration");
        return -EINVAL;
    }
    struct bridge_endpoint *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    e->loop = loop;
    e->config = *config;
    snprintf(e->source, sizeof(e->source), "%s", config->source);
    e->ops = config->ops ? config->ops : &events_ops;
    e->ops_ctx = config->ops ? config->ops_ctx : config->events;
    if (make_parts(e) < 0) {
        free_parts(e);
        free(e);
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    uv_timer_init(loop, &e->timer);
    e->timer.data = e;
    uv_timer_start(&e->timer, on_timer, TICK_MS, TICK_MS);
    uv_unref((uv_handle_t *)&e->timer);
    *out = e;
    return 0;
}

static void free_endpoint(uv_handle_t *handle)
{
    free(handle->data);
}

static void finish_free(struct bridge_endpoint *e)
{
    free_parts(e);
    uv_close((uv_handle_t *)&e->timer, free_endpoint);
}

void bridge_endpoint_free(struct bridge_endpoint *e)
{
    if (!e || e->freed)
        return;
    bridge_endpoint_unsubscribe(e);
    uv_timer_stop(&e->timer);
    /* The owner is going away: no delivery note may reach it any more, even
     * while the outbox lives on until the current callback returns. */
    bridge_outbox_silence(e->outbox);
    e->freed = 1;
    if (!e->dispatching)
        finish_free(e);
}

uint64_t bridge_endpoint_rejected(const struct bridge_endpoint *e)
{
    return e->rejected;
}

size_t bridge_endpoint_held_bytes(const struct bridge_endpoint *e)
{
    return bridge_reassembler_held_bytes(e->reassembler);
}

size_t bridge_endpoint_assembling_bytes(const struct bridge_endpoint *e)
{
    return bridge_reassembler_assembled_bytes(e->reassembler);
}

size_t bridge_endpoint_assembling_count(const struct bridge_endpoint *e)
{
    return bridge_reassembler_assembling_count(e->reassembler);
}

size_t bridge_endpoint_queued(const struct bridge_endpoint *e)
{
    return bridge_outbox_queued(e->outbox);
}

size_t bridge_endpoint_unacknowledged(const struct bridge_endpoint *e)
{
    return bridge_outbox_unacknowledged(e->outbox);
}
