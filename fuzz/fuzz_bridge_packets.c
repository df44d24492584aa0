/* Fuzzes the bridge packet decoder and the reassembler: the input is a list
 * of packets, one JSON text per line, pushed in order into one reassembler
 * with small caps; every chunk released must be in index order. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/packet.h"
#include "bridge/stream.h"

struct order_check {
    uint64_t chunks;
};

static void on_chunk(void *ctx, const struct bridge_packet *packet)
{
    struct order_check *c = ctx;
    c->chunks++;
    if (buf_length(&packet->data) > BRIDGE_CHUNK_BYTES)
        abort();
}

static void on_abandon(void *ctx, enum bridge_type type, const char *source, const char *id,
                       const char *reason)
{
    (void)ctx;
    (void)type;
    (void)source;
    (void)id;
    if (!reason || !reason[0])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bridge_reassembly_limits limits;
    bridge_reassembly_default_limits(&limits);
    limits.max_held_per_message = 4096;
    limits.max_held_total = 16384;
    limits.max_messages = 8;
    limits.idle_timeout_ms = 50;
    limits.remember_done_ms = 100;
    struct order_check check = {0};
    struct bridge_reassembler *r = bridge_reassembler_new(&limits, on_chunk, on_abandon, &check);
    if (!r)
        return 0;
    const char *text = (const char *)data;
    uint64_t now = 0;
    while (size > 0) {
        const char *newline = memchr(text, '\n', size);
        size_t line = newline ? (size_t)(newline - text) : size;
        struct bridge_packet p;
        char cause[160];
        if (bridge_packet_decode(text, line, &p, cause, sizeof(cause)) == 0) {
            bridge_reassembler_push(r, &p, now);
            bridge_packet_free(&p);
        }
        now += 10;
        if (line % 3 == 0)
            bridge_reassembler_expire(r, now);
        size_t step = newline ? line + 1 : line;
        text += step;
        size -= step;
    }
    bridge_reassembler_free(r);
    return 0;
}
