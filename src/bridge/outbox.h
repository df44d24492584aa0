/* Publishing bridge packets: batches of up to 5 packets per publish (the
 * AppSync limit), a bounded number of publishes in flight (so a 6 MB answer
 * does not pile up in one connection's buffer), and each batch kept until the
 * broker acknowledges it and sent again after a lost connection (receivers
 * drop duplicates). Used by the bridge endpoint.
 *
 * The outbox publishes through a bridge_publish_fn (the events client's
 * events_client_publish, or a test's), whose context must outlive it, and
 * owns the packets queued in it. */
#ifndef TETHER_BRIDGE_OUTBOX_H
#define TETHER_BRIDGE_OUTBOX_H

#include <stddef.h>

#include "events/client.h"

struct bridge_outbox;

/* Called once the broker acknowledged the batch that holds a message's final
 * packet (status 0), or once that batch was given up (-errno: refused, or
 * too many attempts). Never called after the outbox is freed or silenced. */
typedef void (*bridge_delivered_fn)(void *ctx, const char *id, int status);

/* Publishes 1-5 events to a channel, with events_client_publish's contract:
 * 0 when accepted (on_result then runs exactly once, at the latest when the
 * service is freed), or -errno with cause and no callback. */
typedef int (*bridge_publish_fn)(void *ctx, const char *channel, const char *const *events,
                                 size_t count, events_publish_cb on_result, void *user, char *cause,
                                 size_t cause_len);

/* Where bridge_outbox_emit sends: pass as the emit context of a writer. */
struct bridge_outbox_target {
    struct bridge_outbox *outbox;
    const char *channel; /* copied when a packet is queued */
};

/* Starts not ready: nothing is published before bridge_outbox_set_ready. */
struct bridge_outbox *bridge_outbox_new(bridge_publish_fn publish, void *publish_ctx,
                                        size_t max_in_flight);
/* Drops what is queued; publishes in flight finish without retry. */
void bridge_outbox_free(struct bridge_outbox *outbox);
/* A bridge_emit_fn: ctx is a struct bridge_outbox_target. */
int bridge_outbox_emit(void *ctx, const char *packet_json, size_t len);
/* Queues the batch being filled (call after each message). */
void bridge_outbox_flush(struct bridge_outbox *outbox);
/* Publishing waits while the connection is not ready (subscribed). */
void bridge_outbox_set_ready(struct bridge_outbox *outbox, int ready);
/* Asks for cb(ctx, id, status) when the batch holding the packet emitted
 * last is acknowledged or given up. -ENOENT when that batch is already done
 * (nothing emitted, or its publish failed at once), -ENOSPC when it has a
 * note for each of its packets already. */
int bridge_outbox_notify(struct bridge_outbox *outbox, bridge_delivered_fn cb, void *ctx,
                         const char *id);
/* Tells the notes of batches whose publish failed at once (-EIO); the
 * owner calls it from its timer, outside any send. */
void bridge_outbox_report_failed(struct bridge_outbox *outbox);
/* No note is called any more (the owner is going away). */
void bridge_outbox_silence(struct bridge_outbox *outbox);
size_t bridge_outbox_queued(const struct bridge_outbox *outbox);
/* Packets not acknowledged by the broker yet, in batches: being filled,
 * queued, or published and waiting for their answers. */
size_t bridge_outbox_unacknowledged(const struct bridge_outbox *outbox);

#endif
