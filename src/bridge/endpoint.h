/* One end of the bridge protocol (docs/bridge-protocol.md), shared by the
 * bridge in Lambda (bridge_runtime/relay.c) and tether dev (dev/session.c).
 * Each of them keeps only its protocol logic (what an Init, a Next, a Ping or
 * a Response means to it); the endpoint owns everything between that logic
 * and the events channel:
 *
 * - the subscription to the endpoint's own channel, and knowing when the
 *   connection is usable (subscribed) and when it was lost;
 * - packet decode; packets carrying the endpoint's own source are dropped;
 * - ordered reassembly (bridge/stream.h) into whole messages, delivered with
 *   their type, source, id and body; types listed in stream_types are
 *   delivered chunk by chunk instead, as they come in order;
 * - duplicate handling: the reassembler drops repeated packets by (type,
 *   source, id, index); Pings are heartbeats that repeat their id, so they
 *   bypass it and are delivered every time;
 * - caps on what is held: out-of-order bytes and messages in progress (the
 *   reassembler's limits), the size of one whole message being assembled,
 *   and the bytes of all of them; a message over a cap is abandoned and its
 *   owner told (a one-packet message is never held: the packet cap of
 *   BRIDGE_CHUNK_BYTES is its only limit);
 * - the outbox (bridge/outbox.h): batched, paced publishes, retried after a
 *   lost connection;
 * - the resend policy: a request (the bridge's Next) is kept until its owner
 *   ends it; after every reconnect it is sent again under a fresh message id
 *   ("<id>.r<n>") at once and then every resend_interval_ms, until the owner
 *   says the peer was heard from (the other side may resubscribe later than
 *   this one, and the broker keeps nothing for late subscribers);
 * - housekeeping: expiry of partial messages and of remembered ones, and the
 *   resend clock, from one timer.
 *
 * The events service and the clock are reached through bridge_endpoint_ops,
 * so unit tests can script both; the real ones wrap an events client
 * (bridge_endpoint_config.events) and the loop's clock.
 *
 * Where the coming work slots in:
 * - Authenticating every message (a per-session key): in on_event(), after
 *   decode and before anything is reassembled, the endpoint will check each
 *   packet against the expected peer (Init/Next only from the stage's
 *   bridges, Response/Error/Ping only from the session that owns the stage)
 *   and drop the rest; the owner then only configures who is expected.
 * - Fresh ids for Ping/Init/Next/Reboot/InitError (SST's reassembler keys by
 *   id): the reassembly and duplicate keys already are (type, source, id), so
 *   only the Ping bypass (a heartbeat with a repeated id) goes away, and a
 *   resend becomes just another fresh id instead of "<id>.r<n>".
 *
 * Ownership: the endpoint borrows the events client (which must outlive it)
 * and owns its subscription, outbox, reassembler and everything held. All
 * calls happen on the loop's thread; callbacks may call any function here,
 * bridge_endpoint_free included (no callback runs after it). */
#ifndef TETHER_BRIDGE_ENDPOINT_H
#define TETHER_BRIDGE_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "bridge/outbox.h"
#include "bridge/stream.h"
#include "events/client.h"

/* How the endpoint reaches the events service and the clock. ctx is
 * bridge_endpoint_config.ops_ctx. subscribe and publish follow
 * events/client.h exactly (a subscribe result after every reconnect; one
 * publish callback per accepted publish, at the latest when the service is
 * freed). */
struct bridge_endpoint_ops {
    int (*subscribe)(void *ctx, const char *channel, events_data_cb on_data,
                     events_subscribe_cb on_result, void *user, struct events_subscription **out,
                     char *cause, size_t cause_len);
    void (*unsubscribe)(void *ctx, struct events_subscription *sub);
    bridge_publish_fn publish;
    uint64_t (*now_ms)(void *ctx);
};

/* A whole message; everything in it is borrowed for the call. */
struct bridge_message {
    enum bridge_type type;
    const char *source;
    const char *id;
    const char *content_type; /* "" unless the first packet named one */
    const struct buf *body;
};

struct bridge_endpoint_callbacks {
    /* A whole message (types not in stream_types). */
    void (*on_message)(void *ctx, const struct bridge_message *message);
    /* Optional: each in-order chunk of a stream_types message; packet->final
     * marks its end. */
    void (*on_chunk)(void *ctx, const struct bridge_packet *packet);
    /* Optional: a chunk of a message being assembled arrived (liveness for
     * owners that time their peer out while a big message comes in). */
    void (*on_progress)(void *ctx, const struct bridge_packet *packet);
    /* Optional: a message was given up (incomplete for too long, or over a
     * cap). The endpoint already logged it. */
    void (*on_abandon)(void *ctx, enum bridge_type type, const char *source, const char *id,
                       const char *reason);
    /* The subscription's result: status 0 each time it is confirmed
     * (reconnect is 1 from the second time on), or a failure, after which the
     * endpoint is not subscribed any more. */
    void (*on_subscribed)(void *ctx, int status, int reconnect, const char *cause);
};

struct bridge_endpoint_config {
    const char *source; /* ours, in every packet we send: "dev" or the worker id */
    /* The real events service (borrowed), used when ops is NULL. */
    struct events_client *events;
    const struct bridge_endpoint_ops *ops; /* tests */
    void *ops_ctx;
    const struct bridge_reassembly_limits *limits; /* NULL: the defaults */
    size_t max_message_bytes;                      /* one whole message; 0: 16 MiB */
    size_t max_assembling_bytes;                   /* all of them; 0: 64 MiB */
    unsigned stream_types;                         /* bit (1u << type) per streamed type */
    uint32_t resend_interval_ms;                   /* 0: 1000 */
    uint32_t tick_ms;                              /* housekeeping period; 0: 250 */
    size_t max_publishes_in_flight;                /* 0: 8 */
    struct bridge_endpoint_callbacks callbacks;
    void *ctx;
};

#define BRIDGE_ENDPOINT_DEFAULT_MAX_MESSAGE (16u * 1024 * 1024)
#define BRIDGE_ENDPOINT_DEFAULT_MAX_ASSEMBLING (64u * 1024 * 1024)
#define BRIDGE_ENDPOINT_DEFAULT_RESEND_MS 1000

struct bridge_endpoint;

/* Makes an endpoint (nothing is sent or subscribed yet). Publishing waits
 * until the subscription is confirmed. */
int bridge_endpoint_new(uv_loop_t *loop, const struct bridge_endpoint_config *config,
                        struct bridge_endpoint **out, char *cause, size_t cause_len);
/* Unsubscribes, drops what is queued or held (at once, or when the callback
 * it is called from returns), and releases the memory once the loop has
 * closed the timer (run the loop). NULL is ignored. */
void bridge_endpoint_free(struct bridge_endpoint *endpoint);

int bridge_endpoint_subscribe(struct bridge_endpoint *endpoint, const char *channel, char *cause,
                              size_t cause_len);
void bridge_endpoint_unsubscribe(struct bridge_endpoint *endpoint);
int bridge_endpoint_subscribed(const struct bridge_endpoint *endpoint);
/* Forward the events client's state changes here (its on_state belongs to
 * the owner): a lost connection pauses publishing until resubscribed. */
void bridge_endpoint_events_state(struct bridge_endpoint *endpoint, enum events_client_state state);

/* Sends a whole message to a channel (queued in the outbox). */
int bridge_endpoint_send(struct bridge_endpoint *endpoint, const char *channel,
                         enum bridge_type type, const char *id, const void *data, size_t len);

/* Sends a message and keeps it as the pending request (one at a time; a new
 * one replaces the old), re-sent after reconnects as described above. */
int bridge_endpoint_request(struct bridge_endpoint *endpoint, const char *channel,
                            enum bridge_type type, const char *id, const void *data, size_t len);
/* The peer answered the pending request: no more resends until the next
 * reconnect. */
void bridge_endpoint_request_heard(struct bridge_endpoint *endpoint);
/* The request is over: forget it. */
void bridge_endpoint_request_end(struct bridge_endpoint *endpoint);
/* How many times the pending request was re-sent (0 when none). */
unsigned bridge_endpoint_request_resends(const struct bridge_endpoint *endpoint);

/* A message sent as it is produced (a streamed Response): every write goes
 * out at once as one or more packets; close sends the final one. The stream
 * borrows the endpoint. */
struct bridge_endpoint_stream {
    struct bridge_endpoint *endpoint;
    char channel[340];
    struct bridge_outbox_target target;
    struct bridge_writer writer;
};
void bridge_endpoint_stream_init(struct bridge_endpoint *endpoint,
                                 struct bridge_endpoint_stream *stream, const char *channel,
                                 enum bridge_type type, const char *id);
/* The content type sent on the first packet. */
void bridge_endpoint_stream_content_type(struct bridge_endpoint_stream *stream, const char *type);
int bridge_endpoint_stream_write(struct bridge_endpoint_stream *stream, const void *data,
                                 size_t len);
int bridge_endpoint_stream_close(struct bridge_endpoint_stream *stream);
void bridge_endpoint_stream_free(struct bridge_endpoint_stream *stream);

/* Housekeeping now (the endpoint's timer calls it; tests with a fake clock
 * call it after moving the clock). */
void bridge_endpoint_tick(struct bridge_endpoint *endpoint);

/* What is held, for tests and logs. */
size_t bridge_endpoint_held_bytes(const struct bridge_endpoint *endpoint);
size_t bridge_endpoint_assembling_bytes(const struct bridge_endpoint *endpoint);
size_t bridge_endpoint_assembling_count(const struct bridge_endpoint *endpoint);
size_t bridge_endpoint_queued(const struct bridge_endpoint *endpoint);
/* Batches of packets the broker has not acknowledged yet (bridge/outbox.h). */
size_t bridge_endpoint_unacknowledged(const struct bridge_endpoint *endpoint);

#endif
