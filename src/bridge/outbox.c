#include "bridge/outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "outbox"
#include "core/log.h"

#define PUBLISH_BATCH 5
#define MAX_ATTEMPTS 20
#define NOTE_ID_MAX 128 /* BRIDGE_MAX_ID_LENGTH */

/* Who wants to hear when a message whose final packet is in a batch was
 * delivered; a message has at least one packet, so a batch needs at most one
 * note per packet. */
struct note {
    bridge_delivered_fn cb;
    void *ctx;
    char id[NOTE_ID_MAX + 1];
};

struct batch {
    struct batch *next;
    struct batch *flight_prev, *flight_next; /* while published, not answered */
    struct bridge_outbox *outbox;
    char channel[340];
    char *events[PUBLISH_BATCH];
    size_t count;
    int attempts;
    struct note notes[PUBLISH_BATCH];
    size_t note_count;
};

struct bridge_outbox {
    bridge_publish_fn publish;
    void *publish_ctx;
    size_t max_in_flight;
    int ready;
    struct batch *head, *tail; /* waiting to be published */
    struct batch *filling;
    struct batch *flying; /* published, waiting for their answers */
    size_t in_flight;
    size_t queued;
    struct batch *last; /* holds the packet emitted last; NULL once it is done */
    /* Notes of batches whose publish failed at once, told later (never
     * inside the send that queued them): bridge_outbox_report_failed. */
    struct note failed[PUBLISH_BATCH * 4];
    size_t failed_count;
    int silent, busy, doomed;
};

struct bridge_outbox *bridge_outbox_new(bridge_publish_fn publish, void *publish_ctx,
                                        size_t max_in_flight)
{
    struct bridge_outbox *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->publish = publish;
    o->publish_ctx = publish_ctx;
    o->max_in_flight = max_in_flight;
    return o;
}

static void free_batch(struct batch *b)
{
    if (b->outbox && b->outbox->last == b)
        b->outbox->last = NULL;
    for (size_t i = 0; i < b->count; i++)
        free(b->events[i]);
    free(b);
}

static void pump(struct bridge_outbox *o);

/* Tells those waiting for the messages whose final packets were in a
 * finished batch. A note may free the outbox's owner and so the outbox:
 * bridge_outbox_free then only silences it while busy, and the last one out
 * frees it. Returns 1 when the outbox is gone. */
static void really_free(struct bridge_outbox *o);

static int call_notes(struct bridge_outbox *o, const struct note *notes, size_t n, int status)
{
    o->busy++;
    for (size_t i = 0; i < n && !o->silent; i++)
        notes[i].cb(notes[i].ctx, notes[i].id, status);
    if (--o->busy == 0 && o->doomed) {
        really_free(o);
        return 1;
    }
    return 0;
}

static void requeue_front(struct bridge_outbox *o, struct batch *b)
{
    b->next = o->head;
    o->head = b;
    if (!o->tail)
        o->tail = b;
    o->queued++;
}

static void on_published(void *user, const struct events_publish_result *result)
{
    struct batch *b = user;
    struct bridge_outbox *o = b->outbox;
    if (!o) { /* the outbox is gone */
        free_batch(b);
        return;
    }
    if (b->flight_prev)
        b->flight_prev->flight_next = b->flight_next;
    else
        o->flying = b->flight_next;
    if (b->flight_next)
        b->flight_next->flight_prev = b->flight_prev;
    b->flight_prev = b->flight_next = NULL;
    o->in_flight--;
    int transient = result->status == -ECONNRESET || result->status == -ETIMEDOUT ||
                    result->status == -ECANCELED || result->status == -EPIPE;
    if (transient && b->attempts < MAX_ATTEMPTS) {
        log_debug("publish to %s will be retried: %s", b->channel, result->cause);
        requeue_front(o, b);
    } else {
        if (result->status < 0)
            log_warn("publishing to %s failed: %s", b->channel, result->cause);
        struct note notes[PUBLISH_BATCH];
        size_t n = b->note_count;
        memcpy(notes, b->notes, sizeof(notes));
        free_batch(b);
        /* A note may free the outbox: pump first. */
        pump(o);
        call_notes(o, notes, n, result->status);
        return;
    }
    pump(o);
}

static void publish(struct bridge_outbox *o, struct batch *b)
{
    char cause[256];
    b->attempts++;
    b->outbox = o;
    if (o->publish(o->publish_ctx, b->channel, (const char *const *)b->events, b->count,
                   on_published, b, cause, sizeof(cause)) < 0) {
        log_warn("cannot publish to %s: %s", b->channel, cause);
        for (size_t i = 0; i < b->note_count; i++)
            if (o->failed_count < sizeof(o->failed) / sizeof(o->failed[0]))
                o->failed[o->failed_count++] = b->notes[i];
        free_batch(b);
        return;
    }
    b->flight_next = o->flying;
    if (o->flying)
        o->flying->flight_prev = b;
    o->flying = b;
    o->in_flight++;
}

static void pump(struct bridge_outbox *o)
{
    while (o->ready && o->head && o->in_flight < o->max_in_flight) {
        struct batch *b = o->head;
        o->head = b->next;
        if (!o->head)
            o->tail = NULL;
        b->next = NULL;
        o->queued--;
        publish(o, b);
    }
}

void bridge_outbox_flush(struct bridge_outbox *o)
{
    struct batch *b = o->filling;
    if (!b)
        return;
    o->filling = NULL;
    if (o->tail)
        o->tail->next = b;
    else
        o->head = b;
    o->tail = b;
    o->queued++;
    pump(o);
}

int bridge_outbox_emit(void *ctx, const char *json, size_t len)
{
    struct bridge_outbox_target *t = ctx;
    struct bridge_outbox *o = t->outbox;
    if (o->filling && strcmp(o->filling->channel, t->channel) != 0)
        bridge_outbox_flush(o);
    if (!o->filling) {
        if (!(o->filling = calloc(1, sizeof(*o->filling))))
            return -ENOMEM;
        snprintf(o->filling->channel, sizeof(o->filling->channel), "%s", t->channel);
    }
    char *copy = strndup(json, len);
    if (!copy)
        return -ENOMEM;
    o->filling->events[o->filling->count++] = copy;
    o->filling->outbox = o;
    o->last = o->filling;
    if (o->filling->count == PUBLISH_BATCH)
        bridge_outbox_flush(o);
    return 0;
}

void bridge_outbox_set_ready(struct bridge_outbox *o, int ready)
{
    o->ready = ready;
    pump(o);
}

int bridge_outbox_notify(struct bridge_outbox *o, bridge_delivered_fn cb, void *ctx, const char *id)
{
    struct batch *b = o->last;
    if (!b)
        return -ENOENT;
    if (b->note_count == PUBLISH_BATCH)
        return -ENOSPC;
    struct note *n = &b->notes[b->note_count++];
    n->cb = cb;
    n->ctx = ctx;
    snprintf(n->id, sizeof(n->id), "%s", id);
    return 0;
}

void bridge_outbox_report_failed(struct bridge_outbox *o)
{
    struct note notes[sizeof(o->failed) / sizeof(o->failed[0])];
    size_t n = o->failed_count;
    memcpy(notes, o->failed, n * sizeof(notes[0]));
    o->failed_count = 0;
    if (n)
        call_notes(o, notes, n, -EIO);
}

void bridge_outbox_silence(struct bridge_outbox *o)
{
    o->silent = 1;
}

size_t bridge_outbox_queued(const struct bridge_outbox *o)
{
    return o->queued + (o->filling ? 1 : 0);
}

size_t bridge_outbox_unacknowledged(const struct bridge_outbox *o)
{
    return o->queued + o->in_flight + (o->filling ? 1 : 0);
}

void bridge_outbox_free(struct bridge_outbox *o)
{
    if (!o)
        return;
    o->silent = 1;
    if (o->busy) { /* inside a note: the last one out frees it */
        o->doomed = 1;
        return;
    }
    really_free(o);
}

static void really_free(struct bridge_outbox *o)
{
    o->last = NULL;
    while (o->head) {
        struct batch *b = o->head;
        o->head = b->next;
        free_batch(b);
    }
    if (o->filling)
        free_batch(o->filling);
    /* Batches in flight are freed by their callbacks (the client calls them
     * all, with -ECANCELED at the latest when it is freed); they must not
     * find the outbox any more. */
    for (struct batch *b = o->flying; b; b = b->flight_next)
        b->outbox = NULL;
    free(o);
}
