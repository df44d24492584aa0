/* bench/live/payload.c: what one 6 MiB body costs each step of the live path
 * inside one process, through the real functions: base64, AES-256-GCM, the
 * sealed packet writer and reader, the events layer's data messages and
 * publish bodies, and a whole bridge endpoint sending to another one (the
 * writer, outbox, reader and reassembler, with a scripted events service in
 * between that hands the published events straight to the receiver).
 *
 * Built by bench/live/payload against libtether.a (OpenSSL: tether dev) and
 * libtether-bridge.a (mbedTLS: the static bridge). For each step it prints
 * the best of BENCH_REPEAT (7) runs in CPU ms per 6 MiB; run under callgrind
 * (the script's BENCH_INSTRUCTIONS=1) the step_* functions' inclusive costs
 * are instruction counts, which a busy machine does not move. Only public
 * functions are used, so the same file builds against an older tree for a
 * before/after table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "bridge/endpoint.h"
#include "bridge/packet.h"
#include "bridge/seal.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/encoding.h"
#include "events/protocol.h"

#define BODY_BYTES (6u * 1024 * 1024)
#define CHANNEL "/tether/bench/stage/in"
#define MAX_EVENTS 256

static uint8_t *body;
static struct bridge_key key;

/* ---- measuring ---- */

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "payload: %s failed: %d\n", what, rc);
    exit(1);
}

static void measure_as(const char *name, void (*step)(void), int repeat, double scale,
                       const char *unit);

/* Runs step `repeat` times and prints its best CPU time. Under callgrind
 * (bench/live/payload with BENCH_INSTRUCTIONS=1) each step_* function's
 * inclusive cost is its instruction count. */
static void measure(const char *name, void (*step)(void), int repeat)
{
    measure_as(name, step, repeat, 1.0, "");
}

/* The same, the time multiplied by scale and labelled with unit. */
static void measure_as(const char *name, void (*step)(void), int repeat, double scale,
                       const char *unit)
{
    double best_ms = 1e18;
    for (int i = 0; i < repeat; i++) {
        double t0 = cpu_ms();
        step();
        double t1 = cpu_ms();
        if (t1 - t0 < best_ms)
            best_ms = t1 - t0;
    }
    printf("%-34s %9.2f%s\n", name, best_ms * scale, unit);
    fflush(stdout);
}

/* ---- the steps ---- */

static struct buf text;    /* base64 of body */
static struct buf decoded; /* base64 decoded again */
static uint8_t *sealed_body;
static uint8_t tag[CRYPTO_GCM_TAG_SIZE];
static const uint8_t nonce[CRYPTO_GCM_NONCE_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static struct bridge_seal *sender, *receiver;
static struct buf packets[MAX_EVENTS]; /* sealed packets of body */
static size_t packet_count;
static struct buf messages[MAX_EVENTS]; /* those packets as data messages */

static void step_base64_encode(void)
{
    buf_reset(&text);
    int rc = base64_encode(&text, body, BODY_BYTES);
    if (rc < 0)
        die("base64_encode", rc);
}

static void step_base64_decode(void)
{
    buf_reset(&decoded);
    int rc = base64_decode(&decoded, buf_bytes(&text), buf_length(&text));
    if (rc < 0 || buf_length(&decoded) != BODY_BYTES || memcmp(buf_bytes(&decoded), body, 64))
        die("base64_decode", rc);
}

static void step_gcm_seal(void)
{
    for (size_t off = 0; off < BODY_BYTES; off += BRIDGE_CHUNK_BYTES) {
        int rc = crypto_aes256gcm_seal(key.bytes, nonce, "aad", 3, body + off, BRIDGE_CHUNK_BYTES,
                                       sealed_body + off, tag);
        if (rc < 0)
            die("crypto_aes256gcm_seal", rc);
    }
}

static void step_gcm_open(void)
{
    /* Only the last chunk's tag was kept: open that one and decrypt the rest
     * with a failing tag check, which costs the same decryption. */
    for (size_t off = 0; off < BODY_BYTES; off += BRIDGE_CHUNK_BYTES) {
        int rc = crypto_aes256gcm_open(key.bytes, nonce, "aad", 3, sealed_body + off,
                                       BRIDGE_CHUNK_BYTES, tag, buf_bytes(&decoded) + off);
        if (rc < 0 && !(rc == -EBADMSG && off + BRIDGE_CHUNK_BYTES < BODY_BYTES))
            die("crypto_aes256gcm_open", rc);
    }
}

static void step_seal_encode(void)
{
    packet_count = 0;
    for (size_t off = 0; off < BODY_BYTES; off += BRIDGE_CHUNK_BYTES) {
        struct buf *p = &packets[packet_count];
        buf_reset(p);
        int rc = bridge_seal_encode(sender, p, CHANNEL, bridge_endpoint_wall_ms(), BRIDGE_NEXT,
                                    "0123456789abcdef0123456789abcdef", "request-id",
                                    (uint32_t)packet_count, off + BRIDGE_CHUNK_BYTES == BODY_BYTES,
                                    body + off, BRIDGE_CHUNK_BYTES, NULL);
        if (rc < 0)
            die("bridge_seal_encode", rc);
        packet_count++;
    }
}

static void step_seal_decode(void)
{
    /* A fresh receiver each time: the replay memory would refuse a repeat. */
    bridge_seal_free(receiver);
    if (bridge_seal_new(&key, NULL, &receiver) < 0)
        die("bridge_seal_new", -ENOMEM);
    for (size_t i = 0; i < packet_count; i++) {
        struct bridge_packet p;
        char cause[200];
        int rc =
            bridge_seal_decode(receiver, CHANNEL, bridge_endpoint_wall_ms(), buf_bytes(&packets[i]),
                               buf_length(&packets[i]), &p, cause, sizeof(cause));
        if (rc < 0 || buf_length(&p.data) != BRIDGE_CHUNK_BYTES ||
            memcmp(buf_bytes(&p.data), body + i * BRIDGE_CHUNK_BYTES, BRIDGE_CHUNK_BYTES) != 0) {
            fprintf(stderr, "payload: %s\n", rc < 0 ? cause : "wrong bytes");
            die("bridge_seal_decode", rc);
        }
        bridge_packet_free(&p);
    }
}

/* The fixed cost per packet: SMALL_PACKETS packets of 1 KB (a small
 * invocation's Next or Response), sealed and opened. */
#define SMALL_PACKETS 1000
static void step_small_packets(void)
{
    struct bridge_seal *opener;
    struct buf text_buf = BUF_INIT;
    if (bridge_seal_new(&key, NULL, &opener) < 0)
        die("bridge_seal_new", -ENOMEM);
    for (unsigned i = 0; i < SMALL_PACKETS; i++) {
        char id[32], cause[200];
        struct bridge_packet p;
        snprintf(id, sizeof(id), "small-%u", i);
        buf_reset(&text_buf);
        int rc = bridge_seal_encode(sender, &text_buf, CHANNEL, bridge_endpoint_wall_ms(),
                                    BRIDGE_RESPONSE, "dev", id, 0, 1, body, 1024, NULL);
        if (rc == 0)
            rc =
                bridge_seal_decode(opener, CHANNEL, bridge_endpoint_wall_ms(), buf_bytes(&text_buf),
                                   buf_length(&text_buf), &p, cause, sizeof(cause));
        if (rc < 0)
            die("small packets", rc);
        bridge_packet_free(&p);
    }
    buf_free(&text_buf);
    bridge_seal_free(opener);
}

/* What the broker sends a subscriber for each packet (not a cost of the
 * bridge or dev; prepared once). */
static void make_data_messages(void)
{
    for (size_t i = 0; i < packet_count; i++) {
        struct buf quoted = BUF_INIT;
        buf_reset(&messages[i]);
        if (json_quote(&quoted, buf_bytes(&packets[i]), buf_length(&packets[i])) < 0 ||
            events_write_data(&messages[i], "sub-1", 5, buf_bytes(&quoted), buf_length(&quoted)) <
                0)
            die("events_write_data", -ENOMEM);
        buf_free(&quoted);
    }
}

static void step_data_decode(void)
{
    for (size_t i = 0; i < packet_count; i++) {
        struct events_message m;
        char cause[200];
        int rc = events_message_decode(buf_bytes(&messages[i]), buf_length(&messages[i]), &m, cause,
                                       sizeof(cause));
        if (rc < 0 || !m.event || m.event_length != buf_length(&packets[i]))
            die("events_message_decode", rc);
        events_message_free(&m);
    }
}

static void step_publish_body(void)
{
    for (size_t i = 0; i < packet_count; i += EVENTS_MAX_EVENTS_PER_PUBLISH) {
        json_t *events = json_array();
        for (size_t k = i; k < packet_count && k < i + EVENTS_MAX_EVENTS_PER_PUBLISH; k++)
            json_array_append_new(events,
                                  json_stringn(buf_bytes(&packets[k]), buf_length(&packets[k])));
        struct buf signed_body = BUF_INIT;
        int rc = events_signed_body_publish(&signed_body, CHANNEL, strlen(CHANNEL), events);
        if (rc < 0)
            die("events_signed_body_publish", rc);
        buf_free(&signed_body);
        json_decref(events);
    }
}

/* ---- two endpoints and a scripted events service ---- */

struct service {
    events_data_cb on_data; /* the receiver's subscription */
    void *on_data_user;
    events_subscribe_cb on_subscribed[2];
    void *subscribed_user[2];
    int subscribes;
    char *events[MAX_EVENTS]; /* published, not delivered yet */
    size_t event_count;
    events_publish_cb on_result[MAX_EVENTS];
    void *result_user[MAX_EVENTS];
    size_t result_count;
    size_t received;
};

static struct service service;
static uv_loop_t loop;
static struct bridge_endpoint *ends[2]; /* sender, receiver */

static int service_subscribe(void *ctx, const char *channel, events_data_cb on_data,
                             events_subscribe_cb on_result, void *user,
                             struct events_subscription **out, char *cause, size_t cause_len)
{
    struct service *s = ctx;
    (void)cause;
    (void)cause_len;
    if (strcmp(channel, CHANNEL) == 0) {
        s->on_data = on_data;
        s->on_data_user = user;
    }
    s->on_subscribed[s->subscribes] = on_result;
    s->subscribed_user[s->subscribes++] = user;
    *out = (struct events_subscription *)(void *)s;
    return 0;
}

static void service_unsubscribe(void *ctx, struct events_subscription *sub)
{
    (void)ctx;
    (void)sub;
}

/* Keeps the events as a broker would (a copy) and answers from the pump. */
static int service_publish(void *ctx, const char *channel, const char *const *events, size_t count,
                           events_publish_cb on_result, void *user, char *cause, size_t cause_len)
{
    struct service *s = ctx;
    (void)channel;
    if (s->event_count + count > MAX_EVENTS || s->result_count == MAX_EVENTS) {
        snprintf(cause, cause_len, "too many events");
        return -ENOSPC;
    }
    for (size_t i = 0; i < count; i++)
        s->events[s->event_count++] = strdup(events[i]);
    s->on_result[s->result_count] = on_result;
    s->result_user[s->result_count++] = user;
    return 0;
}

static const struct bridge_endpoint_ops service_ops = {service_subscribe, service_unsubscribe,
                                                       service_publish, NULL, NULL};

static void on_message(void *ctx, const struct bridge_message *m)
{
    struct service *s = ctx;
    if (m->type == BRIDGE_NEXT && buf_length(m->body) == BODY_BYTES &&
        memcmp(buf_bytes(m->body), body, BODY_BYTES) == 0)
        s->received++;
}

static void make_endpoints(void)
{
    uv_loop_init(&loop);
    static const char *const sources[2] = {"0123456789abcdef0123456789abcdef", "dev"};
    for (int i = 0; i < 2; i++) {
        struct bridge_endpoint_config config = {
            .source = sources[i],
            .key = &key,
            .ops = &service_ops,
            .ops_ctx = &service,
            .callbacks = {.on_message = on_message},
            .ctx = &service,
        };
        char cause[200];
        if (bridge_endpoint_new(&loop, &config, &ends[i], cause, sizeof(cause)) < 0 ||
            bridge_endpoint_subscribe(ends[i], i ? CHANNEL : CHANNEL "/w", cause, sizeof(cause)) <
                0)
            die("bridge_endpoint_new", -EINVAL);
    }
    for (int i = 0; i < service.subscribes; i++)
        service.on_subscribed[i](service.subscribed_user[i], NULL, 0, NULL);
}

/* The sender's outbox keeps a few publishes in flight: answer them until
 * all is published, delivering each event to the receiver on the way. */
static void step_endpoints(void)
{
    /* A new message id each time: the receiver drops repeated ones. */
    static unsigned round;
    char id[32];
    snprintf(id, sizeof(id), "request-%u", round++);
    size_t before = service.received;
    int rc = bridge_endpoint_send(ends[0], CHANNEL, BRIDGE_NEXT, id, body, BODY_BYTES);
    if (rc < 0)
        die("bridge_endpoint_send", rc);
    while (service.result_count > 0) {
        for (size_t i = 0; i < service.event_count; i++) {
            service.on_data(service.on_data_user, NULL, service.events[i],
                            strlen(service.events[i]));
            free(service.events[i]);
        }
        service.event_count = 0;
        size_t n = service.result_count;
        events_publish_cb cbs[MAX_EVENTS];
        void *users[MAX_EVENTS];
        memcpy(cbs, service.on_result, n * sizeof(cbs[0]));
        memcpy(users, service.result_user, n * sizeof(users[0]));
        service.result_count = 0;
        for (size_t i = 0; i < n; i++) {
            struct events_publish_result r = {.status = 0, .successful_count = 1};
            cbs[i](users[i], &r);
        }
    }
    if (service.received != before + 1)
        die("endpoint round (the body did not arrive whole)", -EIO);
}

int main(int argc, char **argv)
{
    int repeat = getenv("BENCH_REPEAT") ? atoi(getenv("BENCH_REPEAT")) : 7;
    const char *label = argc > 1 ? argv[1] : "payload";
    body = malloc(BODY_BYTES);
    sealed_body = malloc(BODY_BYTES);
    if (!body || !sealed_body)
        die("malloc", -ENOMEM);
    /* Not compressible, not constant: what a real body costs. */
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < BODY_BYTES; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        body[i] = (uint8_t)x;
    }
    memset(key.bytes, 7, sizeof(key.bytes));
    if (bridge_seal_new(&key, NULL, &sender) < 0)
        die("bridge_seal_new", -ENOMEM);
    printf("%s: per 6 MiB body, best of %d\n", label, repeat);
    printf("%-34s %9s\n", "step", "CPU ms");
    measure("base64 encode", step_base64_encode, repeat);
    measure("base64 decode", step_base64_decode, repeat);
    measure("AES-256-GCM seal (48 chunks)", step_gcm_seal, repeat);
    measure("AES-256-GCM open (48 chunks)", step_gcm_open, repeat);
    measure("sealed packets: write", step_seal_encode, repeat);
    measure("sealed packets: read and open", step_seal_decode, repeat);
    make_data_messages();
    measure("events: data messages read", step_data_decode, repeat);
    measure("events: publish bodies written", step_publish_body, repeat);
    measure_as("1 KB packet: seal, then open", step_small_packets, repeat, 1000.0 / SMALL_PACKETS,
               " us each");
    make_endpoints();
    measure("endpoint to endpoint (whole hop)", step_endpoints, repeat);

    for (int i = 0; i < 2; i++)
        bridge_endpoint_free(ends[i]);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    for (size_t i = 0; i < MAX_EVENTS; i++) {
        buf_free(&packets[i]);
        buf_free(&messages[i]);
    }
    bridge_seal_free(sender);
    bridge_seal_free(receiver);
    buf_free(&text);
    buf_free(&decoded);
    free(body);
    free(sealed_body);
    return 0;
}
