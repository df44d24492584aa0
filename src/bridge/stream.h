/* Sending and receiving bridge messages as streams of packets.
 *
 * Writer: cuts a body into BRIDGE_CHUNK_BYTES packets as it is written and
 * always ends with a packet marked final (an empty one when the body ended
 * exactly on a chunk boundary or was empty).
 *
 * Reassembler: takes packets in any order, possibly duplicated, and releases
 * each message's chunks strictly in index order, as soon as they are in
 * order, so a consumer can read a body before its last chunk arrives. Early
 * packets are held under per-message and total byte caps; duplicates (same
 * source, type, id and index — also after the message completed) are
 * dropped; messages that stop arriving are abandoned after an idle timeout.
 * Messages of the assemble_types are also collected, under their own caps,
 * and released whole as their final packet. */
#ifndef TETHER_BRIDGE_STREAM_H
#define TETHER_BRIDGE_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/packet.h"
#include "core/hashmap.h"

/* Publishes one packet (JSON text, valid only during the call). */
typedef int (*bridge_emit_fn)(void *ctx, const char *packet_json, size_t len);
/* The sender's clock for sealed packets: ms since the epoch. */
typedef uint64_t (*bridge_clock_fn)(void *ctx);

struct bridge_seal; /* bridge/seal.h */

struct bridge_writer {
    enum bridge_type type;
    char source[BRIDGE_MAX_SOURCE_LENGTH + 1];
    char id[BRIDGE_MAX_ID_LENGTH + 1];
    uint32_t next_index;
    struct buf pending; /* < BRIDGE_CHUNK_BYTES raw bytes */
    struct buf scratch; /* one encoded packet */
    bridge_emit_fn emit;
    void *ctx;
    int closed;
    char content_type[128]; /* sent on the first packet when set */
    /* Set by bridge_writer_seal; borrowed. No seal: packets stay open. */
    const struct bridge_seal *seal;
    const char *channel;
    bridge_clock_fn clock;
    void *clock_ctx;
};

void bridge_writer_init(struct bridge_writer *w, enum bridge_type type, const char *source,
                        const char *id, bridge_emit_fn emit, void *ctx);
/* From now on every packet is sealed (bridge/seal.h) for channel at the
 * time clock gives. seal and channel are borrowed: they must outlive the
 * writer. A NULL seal keeps packets open. -EINVAL without channel or clock. */
int bridge_writer_seal(struct bridge_writer *w, const struct bridge_seal *seal, const char *channel,
                       bridge_clock_fn clock, void *clock_ctx);
/* Emits every complete chunk; errors from emit are returned. */
int bridge_writer_write(struct bridge_writer *w, const void *data, size_t len);
/* Emits what is pending now, even less than a chunk (streamed answers). */
int bridge_writer_flush(struct bridge_writer *w);
/* Emits what is left, marked final. Further writes are refused. */
int bridge_writer_close(struct bridge_writer *w);
void bridge_writer_free(struct bridge_writer *w);
/* A whole message at once: init, write, close, free. */
int bridge_send(enum bridge_type type, const char *source, const char *id, const void *data,
                size_t len, bridge_emit_fn emit, void *ctx);
/* The same, sealed as bridge_writer_seal says (a NULL seal: open). */
int bridge_send_sealed(const struct bridge_seal *seal, const char *channel, bridge_clock_fn clock,
                       void *clock_ctx, enum bridge_type type, const char *source, const char *id,
                       const void *data, size_t len, bridge_emit_fn emit, void *ctx);

struct bridge_reassembly_limits {
    size_t max_held_per_message; /* out-of-order bytes held for one message */
    size_t max_held_total;
    uint64_t idle_timeout_ms;  /* abandon a message with no packet for this long */
    uint64_t remember_done_ms; /* how long finished messages are remembered (dedup) */
    size_t max_messages;       /* in progress + remembered */
    unsigned assemble_types;   /* bit (1u << type) per type released whole; default none */
    size_t max_message_bytes;  /* one assembled message */
    size_t max_assembled_total;
};

/* Called for each in-order chunk; packet->final marks the message's end.
 * For assemble_types, the final packet carries the whole body and the first
 * packet's content type. The packet (and its data) is valid only during the
 * call. */
typedef void (*bridge_chunk_fn)(void *ctx, const struct bridge_packet *packet);
/* A message was given up (timed out, or over a cap): the consumer should
 * fail whatever waited for it. */
typedef void (*bridge_abandon_fn)(void *ctx, enum bridge_type type, const char *source,
                                  const char *id, const char *reason);

struct bridge_reassembler;

struct bridge_reassembler *bridge_reassembler_new(const struct bridge_reassembly_limits *limits,
                                                  bridge_chunk_fn on_chunk,
                                                  bridge_abandon_fn on_abandon, void *ctx);
void bridge_reassembler_free(struct bridge_reassembler *r);
void bridge_reassembly_default_limits(struct bridge_reassembly_limits *limits);

enum bridge_push_result {
    BRIDGE_PUSH_ACCEPTED = 0, /* delivered, or held until its turn */
    BRIDGE_PUSH_DUPLICATE = 1,
};
/* Takes the packet's data (the packet is left empty). Returns a push result,
 * or -E2BIG when a cap was exceeded (the message is abandoned). */
int bridge_reassembler_push(struct bridge_reassembler *r, struct bridge_packet *packet,
                            uint64_t now_ms);
/* Abandons messages idle for longer than the timeout; forgets old finished ones. */
void bridge_reassembler_expire(struct bridge_reassembler *r, uint64_t now_ms);
size_t bridge_reassembler_held_bytes(const struct bridge_reassembler *r);
size_t bridge_reassembler_message_count(const struct bridge_reassembler *r);
/* Bytes collected for assemble_types messages not finished yet, and how
 * many such messages there are. */
size_t bridge_reassembler_assembled_bytes(const struct bridge_reassembler *r);
size_t bridge_reassembler_assembling_count(const struct bridge_reassembler *r);

#endif
