/* Sealed packets: the live channel's authentication and privacy
 * (docs/bridge-protocol.md, "Sealed packets"; docs/security.md).
 *
 * The bridge and `tether dev` share one secret per stage, the bridge key (32
 * random bytes). Every packet either side sends is sealed with it:
 * AES-256-GCM under a fresh random 96-bit nonce, the packet's data encrypted
 * (Init carries credentials and environment, Next and Response carry the
 * payloads) and every other field that gives the packet its meaning bound as
 * associated data: the format version, the channel it was published to, type,
 * source, id, index, final, content type and the sender's clock. A packet
 * that does not open with the key, was published to another channel, names a
 * time outside the replay window, or repeats a nonce already seen inside the
 * window is dropped before anything else looks at it.
 *
 * On the wire a sealed packet is the ordinary envelope (bridge/packet.h) plus
 * "v":1, "ts":<sender's time, ms since the epoch> and "nonce":<base64 of 12
 * bytes>; "data" is the base64 of ciphertext followed by the 16-byte tag.
 * Without a key (the explicit, loudly logged insecure mode) packets stay as
 * SST writes them.
 *
 * The seal owns the key (wiped on free) and the replay memory: the nonces of
 * the packets it accepted in the last window, at most max_remembered of them
 * (when full, new packets are refused until old ones age out: fail closed).
 * One seal per endpoint; not thread-safe. Returns 0 or -errno with a cause. */
#ifndef TETHER_BRIDGE_SEAL_H
#define TETHER_BRIDGE_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/packet.h"
#include "core/buf.h"

#define BRIDGE_KEY_BYTES 32
/* The key's text form: "tk1." then the 32 bytes in unpadded base64url (43
 * characters); a NUL makes 48. */
#define BRIDGE_KEY_TEXT_SIZE 48
#define BRIDGE_SEAL_NONCE_BYTES BRIDGE_SEALED_NONCE_BYTES /* 12 */
#define BRIDGE_SEAL_TAG_BYTES BRIDGE_SEALED_TAG_BYTES     /* 16 */
/* The longest channel name a packet can be sealed for. */
#define BRIDGE_SEAL_MAX_CHANNEL 1024
/* A packet's time may differ from the receiver's clock by this much. */
#define BRIDGE_SEAL_DEFAULT_WINDOW_MS (5 * 60 * 1000)
#define BRIDGE_SEAL_DEFAULT_MAX_REMEMBERED (1u << 18)

struct bridge_key {
    uint8_t bytes[BRIDGE_KEY_BYTES];
};

/* A new key from the operating system's CSPRNG. */
int bridge_key_generate(struct bridge_key *out);
/* Parses the text form; surrounding ASCII whitespace (a file's newline) is
 * ignored. -EINVAL with a cause that never echoes the text. */
int bridge_key_parse(const char *text, size_t len, struct bridge_key *out, char *cause,
                     size_t cause_len);
/* Writes the text form and a NUL into out (BRIDGE_KEY_TEXT_SIZE bytes). */
void bridge_key_format(const struct bridge_key *key, char out[BRIDGE_KEY_TEXT_SIZE]);
/* Overwrites the key with zeros in a way the compiler keeps. */
void bridge_key_wipe(struct bridge_key *key);

struct bridge_seal_limits {
    uint64_t window_ms;    /* 0: BRIDGE_SEAL_DEFAULT_WINDOW_MS */
    size_t max_remembered; /* 0: BRIDGE_SEAL_DEFAULT_MAX_REMEMBERED */
    /* 0: none. Packets sealed earlier than this are refused (-ETIME): a
     * receiver that started after that time never saw them, so they are
     * replays its new replay memory cannot know about (a restarted dev). */
    uint64_t not_before_ms;
};

struct bridge_seal;

/* Copies the key. limits may be NULL (the defaults). */
int bridge_seal_new(const struct bridge_key *key, const struct bridge_seal_limits *limits,
                    struct bridge_seal **out);
void bridge_seal_free(struct bridge_seal *seal); /* NULL is ignored */

/* Appends one sealed packet's JSON text, as bridge_packet_encode does for an
 * open one; channel is where it will be published, now_ms the sender's
 * clock. -EINVAL (nothing appended) for what the receiver would refuse or
 * read back differently: more than BRIDGE_CHUNK_BYTES of data, a source,
 * id or content type over its cap, with control characters or invalid
 * UTF-8, an unknown type, an index from BRIDGE_MAX_INDEX, a time beyond
 * BRIDGE_SEALED_MAX_TS, a channel longer than BRIDGE_SEAL_MAX_CHANNEL. */
int bridge_seal_encode(const struct bridge_seal *seal, struct buf *out, const char *channel,
                       uint64_t now_ms, enum bridge_type type, const char *source, const char *id,
                       uint32_t index, int final, const void *data, size_t len,
                       const char *content_type);

/* bridge_seal_encode with a nonce the caller chooses, for reproducible test
 * vectors only: two packets sealed under one key with the same nonce give
 * away both plaintexts and the key's authentication, so everything else
 * calls bridge_seal_encode, which draws a fresh random nonce. */
int bridge_seal_encode_with_nonce(const struct bridge_seal *seal, struct buf *out,
                                  const char *channel, uint64_t now_ms,
                                  const uint8_t nonce[BRIDGE_SEAL_NONCE_BYTES],
                                  enum bridge_type type, const char *source, const char *id,
                                  uint32_t index, int final, const void *data, size_t len,
                                  const char *content_type);

/* Decodes and opens one packet that arrived on channel at the receiver's
 * now_ms; out gets the plaintext data. Errors, each with a cause:
 * -EINVAL malformed (as bridge_packet_decode, or seal fields missing or
 * malformed: an open packet is not authentic), -EBADMSG does not open with
 * the key (forged, altered, or sealed for another channel), -ETIME outside
 * the replay window, -EALREADY a nonce already accepted (replayed), -ENOSPC
 * the replay memory is full. Only a packet that opened is remembered. */
int bridge_seal_decode(struct bridge_seal *seal, const char *channel, uint64_t now_ms,
                       const char *text, size_t len, struct bridge_packet *out, char *cause,
                       size_t cause_len);

/* Forgets remembered nonces older than the window (the owner's housekeeping
 * timer calls it; decode also sweeps when the memory is full). */
void bridge_seal_sweep(struct bridge_seal *seal, uint64_t now_ms);
size_t bridge_seal_remembered(const struct bridge_seal *seal);

#endif
