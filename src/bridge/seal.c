#include "bridge/seal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/encoding.h"
#include "core/hashmap.h"
#include "core/random.h"

_Static_assert(BRIDGE_KEY_BYTES == CRYPTO_AES256_KEY_SIZE, "the bridge key is an AES-256 key");
_Static_assert(BRIDGE_SEAL_NONCE_BYTES == CRYPTO_GCM_NONCE_SIZE, "GCM's 96-bit nonce");
_Static_assert(BRIDGE_SEAL_TAG_BYTES == CRYPTO_GCM_TAG_SIZE, "GCM's full 128-bit tag");

/* ---- the key ---- */

#define KEY_PREFIX "tk1."
#define KEY_PREFIX_LENGTH 4
#define KEY_CHARS 43 /* 256 bits in 6-bit characters, unpadded */

int bridge_key_generate(struct bridge_key *out)
{
    return crypto_random(out->bytes, sizeof(out->bytes));
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Frees a buffer that held key bytes, overwriting them first. */
static void wipe_buf(struct buf *b)
{
    secure_wipe(b->data, b->cap);
    buf_free(b);
}

int bridge_key_parse(const char *text, size_t len, struct bridge_key *out, char *cause,
                     size_t cause_len)
{
    while (len > 0 && is_space(text[0])) {
        text++;
        len--;
    }
    while (len > 0 && is_space(text[len - 1]))
        len--;
    /* The causes describe what is wrong, never the text: it may be a key. */
    if (len < KEY_PREFIX_LENGTH || memcmp(text, KEY_PREFIX, KEY_PREFIX_LENGTH) != 0) {
        snprintf(cause, cause_len, "bridge key does not start with \"%s\"", KEY_PREFIX);
        return -EINVAL;
    }
    text += KEY_PREFIX_LENGTH;
    len -= KEY_PREFIX_LENGTH;
    if (memchr(text, '=', len)) {
        snprintf(cause, cause_len, "bridge key must not be padded with '='");
        return -EINVAL;
    }
    if (len != KEY_CHARS) {
        snprintf(cause, cause_len, "bridge key must have %d characters after \"%s\", not %zu",
                 KEY_CHARS, KEY_PREFIX, len);
        return -EINVAL;
    }
    struct buf raw = BUF_INIT;
    int rc = base64url_decode(&raw, text, len);
    if (rc == -ENOMEM) {
        snprintf(cause, cause_len, "out of memory");
        return rc;
    }
    /* The last character carries 4 bits of key and 2 that must be zero, so
     * that each key has exactly one text form. */
    if (rc < 0 || buf_length(&raw) != BRIDGE_KEY_BYTES ||
        !strchr("AEIMQUYcgkosw048", text[len - 1])) {
        wipe_buf(&raw);
        snprintf(cause, cause_len,
                 "bridge key is not %d bytes in base64url (A-Z a-z 0-9 - _, unpadded)",
                 BRIDGE_KEY_BYTES);
        return -EINVAL;
    }
    memcpy(out->bytes, buf_bytes(&raw), BRIDGE_KEY_BYTES);
    wipe_buf(&raw);
    return 0;
}

void bridge_key_format(const struct bridge_key *key, char out[BRIDGE_KEY_TEXT_SIZE])
{
    struct buf text = BUF_INIT;
    memcpy(out, KEY_PREFIX, KEY_PREFIX_LENGTH);
    out[KEY_PREFIX_LENGTH] = '\0';
    if (base64url_encode(&text, key->bytes, sizeof(key->bytes)) == 0 &&
        buf_length(&text) == KEY_CHARS) {
        memcpy(out + KEY_PREFIX_LENGTH, buf_bytes(&text), KEY_CHARS);
        out[KEY_PREFIX_LENGTH + KEY_CHARS] = '\0';
    } else {
        out[0] = '\0'; /* out of memory: an empty text no parser accepts */
    }
    wipe_buf(&text);
}

void bridge_key_wipe(struct bridge_key *key)
{
    secure_wipe(key->bytes, sizeof(key->bytes));
}

/* ---- the replay memory ---- */

/* An open-addressed set (linear probing) of the nonces accepted in the
 * window, each with the time after which the window refuses its packet
 * anyway, so it can be forgotten. expires 0 marks an empty slot. */
struct remembered {
    uint8_t nonce[BRIDGE_SEAL_NONCE_BYTES];
    uint64_t expires;
};

struct bridge_seal {
    struct bridge_key key;
    uint64_t window_ms;
    size_t max_remembered;
    uint64_t not_before_ms;
    struct remembered *slots;
    size_t slot_count; /* a power of two, at least twice count */
    size_t count;
    uint64_t earliest_expiry; /* of the entries; UINT64_MAX when there are none */
};

#define FIRST_SLOT_COUNT 1024

static size_t slot_of(const struct bridge_seal *seal, const uint8_t *nonce)
{
    return (size_t)hashmap_hash((const char *)nonce, BRIDGE_SEAL_NONCE_BYTES) &
           (seal->slot_count - 1);
}

/* The slot holding nonce, or the empty slot where it would go. */
static struct remembered *find_slot(const struct bridge_seal *seal, const uint8_t *nonce)
{
    size_t i = slot_of(seal, nonce);
    while (seal->slots[i].expires &&
           memcmp(seal->slots[i].nonce, nonce, BRIDGE_SEAL_NONCE_BYTES) != 0)
        i = (i + 1) & (seal->slot_count - 1);
    return &seal->slots[i];
}

static int is_remembered(const struct bridge_seal *seal, const uint8_t *nonce)
{
    return seal->count > 0 && find_slot(seal, nonce)->expires != 0;
}

/* Moves the entries that expire at or after keep_from into a table of
 * slot_count slots. */
static int rebuild(struct bridge_seal *seal, size_t slot_count, uint64_t keep_from)
{
    struct remembered *old = seal->slots;
    size_t old_count = seal->slot_count;
    seal->slots = calloc(slot_count, sizeof(*seal->slots));
    if (!seal->slots) {
        seal->slots = old;
        return -ENOMEM;
    }
    seal->slot_count = slot_count;
    seal->count = 0;
    seal->earliest_expiry = UINT64_MAX;
    for (size_t i = 0; i < old_count; i++) {
        if (old[i].expires == 0 || old[i].expires < keep_from)
            continue;
        *find_slot(seal, old[i].nonce) = old[i];
        seal->count++;
        if (old[i].expires < seal->earliest_expiry)
            seal->earliest_expiry = old[i].expires;
    }
    free(old);
    return 0;
}

static int remember(struct bridge_seal *seal, const uint8_t *nonce, uint64_t expires)
{
    if ((seal->count + 1) * 2 > seal->slot_count) {
        int rc = rebuild(seal, seal->slot_count ? seal->slot_count * 2 : FIRST_SLOT_COUNT, 0);
        if (rc < 0)
            return rc;
    }
    struct remembered *slot = find_slot(seal, nonce);
    memcpy(slot->nonce, nonce, BRIDGE_SEAL_NONCE_BYTES);
    slot->expires = expires;
    seal->count++;
    if (expires < seal->earliest_expiry)
        seal->earliest_expiry = expires;
    return 0;
}

void bridge_seal_sweep(struct bridge_seal *seal, uint64_t now_ms)
{
    /* Nothing to forget yet: no scan. A failed rebuild keeps every nonce,
     * which only refuses more. */
    if (seal->count == 0 || seal->earliest_expiry >= now_ms)
        return;
    (void)rebuild(seal, seal->slot_count, now_ms);
}

size_t bridge_seal_remembered(const struct bridge_seal *seal)
{
    return seal->count;
}

int bridge_seal_new(const struct bridge_key *key, const struct bridge_seal_limits *limits,
                    struct bridge_seal **out)
{
    struct bridge_seal *seal = calloc(1, sizeof(*seal));
    if (!seal)
        return -ENOMEM;
    seal->key = *key;
    seal->window_ms =
        limits && limits->window_ms ? limits->window_ms : BRIDGE_SEAL_DEFAULT_WINDOW_MS;
    /* ts + window must not wrap: a window of more than 2^62 ms is forever anyway. */
    if (seal->window_ms > (UINT64_C(1) << 62))
        seal->window_ms = UINT64_C(1) << 62;
    seal->max_remembered = limits && limits->max_remembered ? limits->max_remembered
                                                            : BRIDGE_SEAL_DEFAULT_MAX_REMEMBERED;
    seal->not_before_ms = limits ? limits->not_before_ms : 0;
    seal->earliest_expiry = UINT64_MAX;
    *out = seal;
    return 0;
}

void bridge_seal_free(struct bridge_seal *seal)
{
    if (!seal)
        return;
    bridge_key_wipe(&seal->key);
    free(seal->slots);
    free(seal);
}

/* ---- the associated data ---- */

/* The AAD starts with this label: it names the format and its version, so a
 * packet of another version or another use of the key never opens as this
 * one. Every field after it is length-prefixed or of fixed size, so no two
 * different packets have the same AAD. */
static const char aad_label[] = "tether bridge seal v1";

#define AAD_MAX                                                                                    \
    (4 + sizeof(aad_label) + 4 + BRIDGE_SEAL_MAX_CHANNEL + 4 + 4 + BRIDGE_MAX_SOURCE_LENGTH + 4 +  \
     BRIDGE_MAX_ID_LENGTH + 4 + 1 + 4 + sizeof(((struct bridge_packet *)0)->content_type) + 8)

struct aad {
    uint8_t bytes[AAD_MAX];
    size_t len;
};

static void put_u32(struct aad *a, uint32_t v)
{
    for (int shift = 24; shift >= 0; shift -= 8)
        a->bytes[a->len++] = (uint8_t)(v >> shift);
}

static void put_u64(struct aad *a, uint64_t v)
{
    put_u32(a, (uint32_t)(v >> 32));
    put_u32(a, (uint32_t)v);
}

/* Callers have checked len against the field's cap. */
static void put_text(struct aad *a, const char *text, size_t len)
{
    put_u32(a, (uint32_t)len);
    memcpy(a->bytes + a->len, text, len);
    a->len += len;
}

/* Everything that gives a packet its meaning except the data itself: the
 * data is encrypted, and GCM authenticates it with the AAD. */
static void build_aad(struct aad *a, const char *channel, uint64_t ts, enum bridge_type type,
                      const char *source, const char *id, uint32_t index, int final,
                      const char *content_type)
{
    a->len = 0;
    put_text(a, aad_label, strlen(aad_label));
    put_text(a, channel, strlen(channel));
    put_u32(a, (uint32_t)type);
    put_text(a, source, strlen(source));
    put_text(a, id, strlen(id));
    put_u32(a, index);
    a->bytes[a->len++] = final ? 1 : 0;
    put_text(a, content_type ? content_type : "", content_type ? strlen(content_type) : 0);
    put_u64(a, ts);
}

/* ---- sealing ---- */

/* A text field the receiver will read back exactly: within its cap, valid
 * UTF-8 (json_quote would replace anything else) and free of control
 * characters (the receiver refuses them). */
static int sendable_text(const char *text, size_t cap)
{
    size_t len = strnlen(text, cap + 1);
    if (len > cap || !utf8_valid(text, len))
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)text[i] < 0x20)
            return 0;
    return 1;
}

int bridge_seal_encode_with_nonce(const struct bridge_seal *seal, struct buf *out,
                                  const char *channel, uint64_t now_ms,
                                  const uint8_t nonce[BRIDGE_SEAL_NONCE_BYTES],
                                  enum bridge_type type, const char *source, const char *id,
                                  uint32_t index, int final, const void *data, size_t len,
                                  const char *content_type)
{
    struct bridge_packet_seal_fields sealed = {.ts = now_ms};
    memcpy(sealed.nonce, nonce, BRIDGE_SEAL_NONCE_BYTES);
    if ((unsigned)type >= BRIDGE_TYPE_COUNT || index >= BRIDGE_MAX_INDEX ||
        len > BRIDGE_CHUNK_BYTES || now_ms > BRIDGE_SEALED_MAX_TS ||
        strnlen(channel, BRIDGE_SEAL_MAX_CHANNEL + 1) > BRIDGE_SEAL_MAX_CHANNEL ||
        !sendable_text(source, BRIDGE_MAX_SOURCE_LENGTH) ||
        !sendable_text(id, BRIDGE_MAX_ID_LENGTH) ||
        (content_type &&
         !sendable_text(content_type, sizeof(((struct bridge_packet *)0)->content_type) - 1)))
        return -EINVAL;
    struct aad aad;
    build_aad(&aad, channel, now_ms, type, source, id, index, final, content_type);
    /* The ciphertext and tag go to a scratch block and are base64-encoded
     * once, straight into out. */
    uint8_t *sealed_data = malloc(len + BRIDGE_SEAL_TAG_BYTES);
    if (!sealed_data)
        return -ENOMEM;
    int rc = crypto_aes256gcm_seal(seal->key.bytes, nonce, aad.bytes, aad.len, data, len,
                                   sealed_data, sealed_data + len);
    size_t before = buf_length(out);
    if (rc == 0)
        rc = bridge_packet_encode_sealed(out, type, source, id, index, final, sealed_data,
                                         len + BRIDGE_SEAL_TAG_BYTES, content_type, &sealed);
    if (rc < 0 && out->data)
        out->len = out->start + before; /* no partial packet left behind */
    free(sealed_data);
    return rc;
}

int bridge_seal_encode(const struct bridge_seal *seal, struct buf *out, const char *channel,
                       uint64_t now_ms, enum bridge_type type, const char *source, const char *id,
                       uint32_t index, int final, const void *data, size_t len,
                       const char *content_type)
{
    uint8_t nonce[BRIDGE_SEAL_NONCE_BYTES];
    int rc = random_bytes(nonce, sizeof(nonce));
    if (rc < 0)
        return rc;
    return bridge_seal_encode_with_nonce(seal, out, channel, now_ms, nonce, type, source, id, index,
                                         final, data, len, content_type);
}

/* ---- opening ---- */

/* The checks that need no decryption: the window, replays, room to remember. */
static int check_fresh(struct bridge_seal *seal, uint64_t now_ms,
                       const struct bridge_packet_seal_fields *sealed, char *cause,
                       size_t cause_len)
{
    uint64_t skew = sealed->ts > now_ms ? sealed->ts - now_ms : now_ms - sealed->ts;
    if (skew > seal->window_ms) {
        snprintf(cause, cause_len,
                 "sealed packet's time is %llu ms %s this clock (the window is %llu ms)",
                 (unsigned long long)skew, sealed->ts > now_ms ? "ahead of" : "behind",
                 (unsigned long long)seal->window_ms);
        return -ETIME;
    }
    if (sealed->ts < seal->not_before_ms) {
        snprintf(cause, cause_len, "sealed packet is %llu ms older than this receiver",
                 (unsigned long long)(seal->not_before_ms - sealed->ts));
        return -ETIME;
    }
    if (is_remembered(seal, sealed->nonce)) {
        snprintf(cause, cause_len, "sealed packet replayed (its nonce was already accepted)");
        return -EALREADY;
    }
    if (seal->count >= seal->max_remembered)
        bridge_seal_sweep(seal, now_ms);
    if (seal->count >= seal->max_remembered) {
        snprintf(cause, cause_len,
                 "replay memory is full (%zu packets in the window): refused until some age out",
                 seal->count);
        return -ENOSPC;
    }
    return 0;
}

int bridge_seal_decode(struct bridge_seal *seal, const char *channel, uint64_t now_ms,
                       const char *text, size_t len, struct bridge_packet *out, char *cause,
                       size_t cause_len)
{
    struct bridge_packet_seal_fields sealed;
    int rc = bridge_packet_decode_sealed(text, len, out, &sealed, cause, cause_len);
    if (rc < 0)
        return rc;
    if (strnlen(channel, BRIDGE_SEAL_MAX_CHANNEL + 1) > BRIDGE_SEAL_MAX_CHANNEL) {
        snprintf(cause, cause_len, "channel name longer than %d bytes", BRIDGE_SEAL_MAX_CHANNEL);
        rc = -EINVAL;
    }
    if (rc == 0)
        rc = check_fresh(seal, now_ms, &sealed, cause, cause_len);
    if (rc == 0) {
        struct aad aad;
        build_aad(&aad, channel, sealed.ts, out->type, out->source, out->id, out->index, out->final,
                  out->content_type);
        /* The parser guarantees at least a tag's worth of data. */
        uint8_t *body = (uint8_t *)buf_bytes(&out->data);
        size_t body_len = buf_length(&out->data) - BRIDGE_SEAL_TAG_BYTES;
        rc = crypto_aes256gcm_open(seal->key.bytes, sealed.nonce, aad.bytes, aad.len, body,
                                   body_len, body + body_len, body);
        if (rc == -EBADMSG)
            snprintf(cause, cause_len,
                     "sealed packet does not open with the bridge key (forged, altered, or "
                     "sealed for another channel)");
        else if (rc < 0)
            snprintf(cause, cause_len, "decryption failed");
        else
            out->data.len -= BRIDGE_SEAL_TAG_BYTES;
    }
    if (rc == 0)
        out->sealed_ms = sealed.ts;
    if (rc == 0) {
        rc = remember(seal, sealed.nonce, sealed.ts + seal->window_ms);
        if (rc < 0)
            snprintf(cause, cause_len, "out of memory for the replay memory");
    }
    if (rc < 0)
        bridge_packet_free(out);
    return rc;
}
