/* Fuzzes the bridge packet decoder, the reassembler and the bridge endpoint:
 * the input is a list of packets, one JSON text per line, pushed in order
 * into one reassembler with small caps (every chunk released must be in
 * index order), then fed as events from the peer to an endpoint with small
 * caps and a scripted events service (every whole message within its cap,
 * nothing held past teardown). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "bridge/endpoint.h"
#include "bridge/packet.h"
#include "bridge/stream.h"

#define MAX_MESSAGE 8192
#define MAX_ASSEMBLING 16384

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

/* ---- the endpoint, on a scripted events service ---- */

struct fake {
    uint64_t now;
    int token;
    events_data_cb on_data;
    events_subscribe_cb on_result;
    void *user;
};

static int fake_subscribe(void *ctx, const char *channel, events_data_cb on_data,
                          events_subscribe_cb on_result, void *user,
                          struct events_subscription **out, char *cause, size_t cause_len)
{
    struct fake *f = ctx;
    (void)channel;
    (void)cause;
    (void)cause_len;
    f->on_data = on_data;
    f->on_result = on_result;
    f->user = user;
    *out = (struct events_subscription *)(void *)&f->token;
    return 0;
}

static void fake_unsubscribe(void *ctx, struct events_subscription *sub)
{
    (void)sub;
    ((struct fake *)ctx)->on_data = NULL;
}

/* Refused at once: nothing stays in flight. */
static int fake_publish(void *ctx, const char *channel, const char *const *events, size_t count,
                        events_publish_cb on_result, void *user, char *cause, size_t cause_len)
{
    (void)ctx;
    (void)channel;
    (void)events;
    (void)count;
    (void)on_result;
    (void)user;
    snprintf(cause, cause_len, "no publishing while fuzzing");
    return -EIO;
}

static uint64_t fake_now(void *ctx)
{
    return ((struct fake *)ctx)->now;
}

static const struct bridge_endpoint_ops fake_ops = {fake_subscribe, fake_unsubscribe, fake_publish,
                                                    fake_now};

static void on_message(void *ctx, const struct bridge_message *m)
{
    (void)ctx;
    /* Assembled messages stay within MAX_MESSAGE; a one-packet message is
     * never held, so only the packet cap applies to it. */
    if (buf_length(m->body) > BRIDGE_CHUNK_BYTES)
        abort();
}

static void run_endpoint(const char *text, size_t size,
                         const struct bridge_reassembly_limits *limits)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop) < 0)
        return;
    struct fake f = {0};
    struct bridge_endpoint_config config = {
        .source = "self",
        .ops = &fake_ops,
        .ops_ctx = &f,
        .limits = limits,
        .max_message_bytes = MAX_MESSAGE,
        .max_assembling_bytes = MAX_ASSEMBLING,
        .stream_types = 1u << BRIDGE_TASK_COMPLETE,
        .callbacks = {.on_message = on_message, .on_chunk = on_chunk},
    };
    struct order_check check = {0};
    config.ctx = &check;
    struct bridge_endpoint *e;
    char cause[160];
    if (bridge_endpoint_new(&loop, &config, &e, cause, sizeof(cause)) == 0 &&
        bridge_endpoint_subscribe(e, "/fuzz/in", cause, sizeof(cause)) == 0) {
        f.on_result(f.user, (struct events_subscription *)(void *)&f.token, 0, NULL);
        while (size > 0 && f.on_data) {
            const char *newline = memchr(text, '\n', size);
            size_t line = newline ? (size_t)(newline - text) : size;
            /* Events arrive NUL-terminated, and may hold NUL bytes of their
             * own (a "\u0000" in the JSON string), so strndup would cut
             * them short of the length passed along. */
            char *event = malloc(line + 1);
            if (event) {
                memcpy(event, text, line);
                event[line] = '\0';
                f.on_data(f.user, (struct events_subscription *)(void *)&f.token, event, line);
            }
            free(event);
            f.now += 10;
            if (line % 3 == 0)
                bridge_endpoint_tick(e);
            if (bridge_endpoint_assembling_bytes(e) > MAX_ASSEMBLING)
                abort();
            size_t step = newline ? line + 1 : line;
            text += step;
            size -= step;
        }
        bridge_endpoint_free(e);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t total = size;
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
    run_endpoint((const char *)data, total, &limits);
    return 0;
}
