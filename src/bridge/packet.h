/* The bridge protocol's envelope ("packet"): one per AppSync event, SST
 * compatible. JSON {"type":N,"source":S,"id":ID,"index":I,"data":BASE64,
 * "final":B}, stringified into the publish's events array.
 *
 * Design: docs/bridge-protocol.md. */
#ifndef TETHER_BRIDGE_PACKET_H
#define TETHER_BRIDGE_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum bridge_type {
    BRIDGE_INIT = 0,
    BRIDGE_PING = 1,
    BRIDGE_NEXT = 2,
    BRIDGE_RESPONSE = 3,
    BRIDGE_ERROR = 4,
    BRIDGE_REBOOT = 5,
    BRIDGE_INIT_ERROR = 6,
    BRIDGE_TASK_START = 7,
    BRIDGE_TASK_COMPLETE = 8,
};
#define BRIDGE_TYPE_COUNT 9

/* 128 KiB of raw bytes per packet: about 171 KiB after base64, under the
 * 240 KB event limit with room for the envelope. */
#define BRIDGE_CHUNK_BYTES (128 * 1024)
#define BRIDGE_MAX_ID_LENGTH 128
#define BRIDGE_MAX_SOURCE_LENGTH 64
/* Packets are numbered from 0; a message longer than this many chunks
 * (64 GiB) is refused. */
#define BRIDGE_MAX_INDEX (1u << 19)

struct bridge_packet {
    enum bridge_type type;
    char source[BRIDGE_MAX_SOURCE_LENGTH + 1]; /* "dev" or a worker id */
    char id[BRIDGE_MAX_ID_LENGTH + 1];
    uint32_t index;
    int final;
    /* Optional, on a message's first packet: the content type of a streamed
     * Response (tether extension; SST readers ignore it). */
    char content_type[128];
    struct buf data; /* decoded bytes, owned */
    /* The sender's clock sealed into the packet (bridge/seal.h), ms since the
     * epoch; 0 for an open packet. */
    uint64_t sealed_ms;
};

const char *bridge_type_name(enum bridge_type type);
void bridge_packet_init(struct bridge_packet *packet);
void bridge_packet_free(struct bridge_packet *packet);
/* Appends the packet's JSON text (data: len raw bytes, base64-encoded here).
 * content_type may be NULL. */
int bridge_packet_encode(struct buf *out, enum bridge_type type, const char *source, const char *id,
                         uint32_t index, int final, const void *data, size_t len,
                         const char *content_type);
/* Decodes one packet's JSON text. -EINVAL with a cause on anything malformed:
 * unknown type, ids too long or with control characters, bad base64, a chunk
 * larger than BRIDGE_CHUNK_BYTES. */
int bridge_packet_decode(const char *text, size_t len, struct bridge_packet *out, char *cause,
                         size_t cause_len);

/* A sealed packet (bridge/seal.h) is this envelope plus "v":1, "ts" (the
 * sender's clock, ms since the epoch) and "nonce" (base64 of 12 bytes); its
 * "data" is the ciphertext of up to BRIDGE_CHUNK_BYTES followed by a 16-byte
 * tag. Both forms go through one parser; bridge/seal.c uses this entry. */
#define BRIDGE_SEALED_VERSION 1
#define BRIDGE_SEALED_NONCE_BYTES 12
#define BRIDGE_SEALED_TAG_BYTES 16
/* 2^53 - 1: the largest integer a JavaScript number holds exactly. */
#define BRIDGE_SEALED_MAX_TS ((UINT64_C(1) << 53) - 1)

struct bridge_packet_seal_fields {
    uint64_t ts;
    uint8_t nonce[BRIDGE_SEALED_NONCE_BYTES];
};

/* Appends a sealed packet's JSON text: the open envelope with sealed_data
 * (ciphertext and tag, len bytes in all) as its data, then "v", "ts" and
 * "nonce". */
int bridge_packet_encode_sealed(struct buf *out, enum bridge_type type, const char *source,
                                const char *id, uint32_t index, int final, const void *sealed_data,
                                size_t len, const char *content_type,
                                const struct bridge_packet_seal_fields *sealed);
/* As bridge_packet_decode, and the sealed fields must be present and well
 * formed (-EINVAL otherwise); out->data gets the ciphertext and tag, still
 * to be opened. */
int bridge_packet_decode_sealed(const char *text, size_t len, struct bridge_packet *out,
                                struct bridge_packet_seal_fields *sealed, char *cause,
                                size_t cause_len);

#endif
