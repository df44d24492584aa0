/* Fuzzes opening sealed packets (bridge/seal.h) with a fixed key, channel
 * and clock. An input starting with '{' is a packet: whatever it is, decode
 * either refuses it with one of the documented errors and a cause, leaving
 * no data behind, or opens it into a packet within every cap, which a second
 * decode then refuses as a replay. Any other input describes a packet to
 * seal (type, index, final, then source, id and content type separated by
 * NULs, then the data): either encode refuses it, or the receiver opens it
 * into exactly the fields and data that were sealed, so both ends always
 * compute the same associated data.
 *
 * The seeds in fuzz/corpus/fuzz_bridge_open/ are packets sealed with this
 * key by tests/integration/lib/seal.mjs, so mutations that keep them
 * authentic (spacing, key order, escapes) reach the success path. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/packet.h"
#include "bridge/seal.h"

#define CHANNEL "/tether/dev/fuzz"
#define NOW 1760000000000ull

static struct bridge_key fuzz_key(void)
{
    struct bridge_key key;
    for (size_t i = 0; i < sizeof(key.bytes); i++)
        key.bytes[i] = (uint8_t)(i + 1);
    return key;
}

static struct bridge_seal *new_seal(void)
{
    struct bridge_key key = fuzz_key();
    struct bridge_seal *seal = NULL;
    if (bridge_seal_new(&key, NULL, &seal) < 0)
        abort();
    return seal;
}

static int documented(int rc)
{
    return rc == -EINVAL || rc == -EBADMSG || rc == -ETIME || rc == -EALREADY || rc == -ENOSPC ||
           rc == -ENOMEM;
}

static void open_packet(const char *text, size_t len)
{
    struct bridge_seal *seal = new_seal();
    struct bridge_packet p;
    char cause[256] = "";
    int rc = bridge_seal_decode(seal, CHANNEL, NOW, text, len, &p, cause, sizeof(cause));
    if (rc < 0) {
        if (!documented(rc) || cause[0] == '\0' || p.data.data || bridge_seal_remembered(seal))
            abort();
    } else {
        if (rc != 0 || (unsigned)p.type >= BRIDGE_TYPE_COUNT || p.index >= BRIDGE_MAX_INDEX ||
            buf_length(&p.data) > BRIDGE_CHUNK_BYTES || bridge_seal_remembered(seal) != 1)
            abort();
        bridge_packet_free(&p);
        if (bridge_seal_decode(seal, CHANNEL, NOW, text, len, &p, cause, sizeof(cause)) !=
            -EALREADY)
            abort();
    }
    bridge_seal_free(seal);
}

/* The next NUL-terminated field of the input, or NULL at its end. */
static const char *next_text(const uint8_t **p, const uint8_t *end, char *out, size_t cap)
{
    const uint8_t *nul = memchr(*p, '\0', (size_t)(end - *p));
    if (!nul || (size_t)(nul - *p) >= cap)
        return NULL;
    memcpy(out, *p, (size_t)(nul - *p) + 1);
    *p = nul + 1;
    return out;
}

static void seal_and_open(const uint8_t *data, size_t size)
{
    if (size < 4)
        return;
    enum bridge_type type = (enum bridge_type)(data[0] % (BRIDGE_TYPE_COUNT + 1));
    uint32_t index = (uint32_t)data[1] << 8 | data[2];
    int final = data[3] & 1;
    const uint8_t *p = data + 4, *end = data + size;
    char source[256], id[256], ct[256];
    if (!next_text(&p, end, source, sizeof(source)) || !next_text(&p, end, id, sizeof(id)) ||
        !next_text(&p, end, ct, sizeof(ct)))
        return;
    size_t len = (size_t)(end - p);
    struct bridge_seal *seal = new_seal();
    struct buf text = BUF_INIT;
    int rc =
        bridge_seal_encode(seal, &text, CHANNEL, NOW, type, source, id, index, final, p, len, ct);
    if (rc < 0) {
        if (rc != -EINVAL || buf_length(&text) != 0)
            abort();
    } else {
        struct bridge_packet out;
        char cause[256] = "";
        if (bridge_seal_decode(seal, CHANNEL, NOW, buf_bytes(&text), buf_length(&text), &out, cause,
                               sizeof(cause)) != 0)
            abort();
        if (out.type != type || strcmp(out.source, source) != 0 || strcmp(out.id, id) != 0 ||
            out.index != index || out.final != final || strcmp(out.content_type, ct) != 0 ||
            buf_length(&out.data) != len || (len && memcmp(buf_bytes(&out.data), p, len) != 0))
            abort();
        bridge_packet_free(&out);
    }
    buf_free(&text);
    bridge_seal_free(seal);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == '{')
        open_packet((const char *)data, size);
    else
        seal_and_open(data, size);
    return 0;
}
