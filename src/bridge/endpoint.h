/* One end of the bridge protocol (docs/bridge-protocol.md), shared by the
 * bridge in Lambda (bridge_runtime/relay.c) and tether dev (dev/session.c),
 * which keep only what each message means to them. The endpoint owns the
 * rest: the subscription to its own channel; packet decode (our own echoed
 * packets are dropped); ordered reassembly, duplicate dropping and
 * whole-message assembly under caps (bridge/stream.h; stream_types come
 * chunk by chunk instead); the outbox (bridge/outbox.h); and the resend
 * policy: the pending request (the bridge's Next) is sent again under a fresh
 * id (a random UUID) after every reconnect, then every second until the
 * owner says the peer was heard from, because the peer may resubscribe
 * later and the broker keeps nothing for late subscribers.
 *
 * Every message but an answer (Response, Error) has an id of its own, so
 * Pings go through the reassembler like everything else: its duplicate drop
 * by (type, source, id, index) drops only true duplicates.
 *
 * Authentication (bridge/seal.h): with the stage's key the endpoint owns a
 * seal. Every packet it publishes is sealed for the channel it goes to, and
 * every packet it receives is opened for its own channel first, before the
 * reassembler, Ping handling or any callback sees it. Whatever does not open
 * (forged, altered, sealed for another channel, outside the replay window,
 * replayed, sealed more than 5 s before this endpoint was made, or not
 * sealed at all) is dropped and counted; the log line for
 * it is rate-limited so a flood cannot fill the log. Without a key (the
 * explicit insecure mode) packets stay as SST writes them.
 *
 * The events service and the clock are reached through bridge_endpoint_ops
 * so unit tests can script both. The endpoint borrows the events client
 * (which must outlive it) and owns everything else it holds. All calls happen
 * on the loop's thread; callbacks may call anything here, including
 * bridge_endpoint_free (no callback runs after it). */
#ifndef TETHER_BRIDGE_ENDPOINT_H
#define TETHER_BRIDGE_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "bridge/outbox.h"
#include "bridge/seal.h"
#include "bridge/stream.h"
#include "events/client.h"

/* ctx is bridge_endpoint_config.ops_ctx; subscribe and publish keep
 * events/client.h's contracts exactly. */
struct bridge_endpoint_ops {
    int (*subscribe)(void *ctx, const char *channel, events_data_cb on_data,
                     events_subscribe_cb on_result, void *user, struct events_subscription **out,
                     char *cause, size_t cause_len);
    void (*unsubscribe)(void *ctx, struct events_subscription *sub);
    bridge_publish_fn publish;
    uint64_t (*now_ms)(void *ctx);
    /* Optional: the wall clock sealed packets carry (ms since the epoch);
     * NULL is the real one (bridge_endpoint_wall_ms). */
    uint64_t (*wall_ms)(void *ctx);
};

/* A whole message; everything in it is borrowed for the call. */
struct bridge_message {
    enum bridge_type type;
    const char *source;
    const char *id;
    const char *content_type; /* "" unless the first packet named one */
    const struct buf *body;
    /* The sender's clock (ms since the epoch) in the sealed first packet:
     * when the peer sent the message, by its clock, not ours. 0 when not
     * known (the insecure mode, or the first packet's time was forgotten). */
    uint64_t sent_ms;
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
    /* The stage's bridge key (copied): every packet is sealed and opened
     * with it. NULL: the insecure mode, packets as SST writes them. */
    const struct bridge_key *key;
    const struct bridge_endpoint_ops *ops; /* tests */
    void *ops_ctx;
    const struct bridge_reassembly_limits *limits; /* NULL: the defaults */
    size_t max_message_bytes;                      /* one whole message; 0: limits (16 MiB) */
    size_t max_assembling_bytes;                   /* all of them; 0: limits (64 MiB) */
    unsigned stream_types;                         /* bit (1u << type) per streamed type */
    struct bridge_endpoint_callbacks callbacks;
    void *ctx;
};

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

/* As bridge_endpoint_send, and then cb(ctx, id, status) once the broker
 * acknowledged the batch holding the message's final packet (status 0) or
 * gave it up (-errno). Never called before this returns, nor after
 * bridge_endpoint_free: a message still on its way then is not reported.
 * When this returns < 0, cb is not called. */
int bridge_endpoint_send_notify(struct bridge_endpoint *endpoint, const char *channel,
                                enum bridge_type type, const char *id, const void *data, size_t len,
                                bridge_delivered_fn cb, void *ctx);

/* Sends a message and keeps it as the pending request (a new one replaces
 * the old), re-sent after reconnects as described above: first under id
 * (the owner's fresh one), each resend under a new random UUID. */
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
 * borrows the endpoint's outbox. */
struct bridge_endpoint_stream {
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
/* As bridge_endpoint_stream_close, with bridge_endpoint_send_notify's cb. */
int bridge_endpoint_stream_close_notify(struct bridge_endpoint_stream *stream,
                                        bridge_delivered_fn cb, void *ctx);
void bridge_endpoint_stream_free(struct bridge_endpoint_stream *stream);

/* Housekeeping now (the endpoint's timer calls it; tests with a fake clock
 * call it after moving the clock). */
void bridge_endpoint_tick(struct bridge_endpoint *endpoint);

/* Packets dropped because they did not open with the key. */
uint64_t bridge_endpoint_rejected(const struct bridge_endpoint *endpoint);
/* The real wall clock in ms since the epoch, as sealed packets carry it. */
uint64_t bridge_endpoint_wall_ms(void);

/* What is held, for tests and logs. */
size_t bridge_endpoint_held_bytes(const struct bridge_endpoint *endpoint);
size_t bridge_endpoint_assembling_bytes(const struct bridge_endpoint *endpoint);
size_t bridge_endpoint_assembling_count(const struct bridge_endpoint *endpoint);
size_t bridge_endpoint_queued(const struct bridge_endpoint *endpoint);
/* Batches of packets the broker has not acknowledged yet (bridge/outbox.h). */
size_t bridge_endpoint_unacknowledged(const struct bridge_endpoint *endpoint);

#endif
