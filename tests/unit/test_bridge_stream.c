/* The bridge protocol: packet codec, chunking writer, and the reassembler's
 * ordering, dedup, caps and timeouts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/packet.h"
#include "bridge/stream.h"
#include "core/buf.h"
#include "test.h"

#define MAX_PACKETS 128

struct capture {
    char *packets[MAX_PACKETS];
    size_t lengths[MAX_PACKETS];
    size_t count;
};

static int capture_emit(void *ctx, const char *json, size_t len)
{
    struct capture *c = ctx;
    if (c->count >= MAX_PACKETS)
        return -1;
    c->packets[c->count] = malloc(len);
    memcpy(c->packets[c->count], json, len);
    c->lengths[c->count++] = len;
    return 0;
}

static void capture_free(struct capture *c)
{
    for (size_t i = 0; i < c->count; i++)
        free(c->packets[i]);
    memset(c, 0, sizeof(*c));
}

struct sink {
    struct buf body;
    size_t chunks;
    int finals;
    int abandoned;
    char abandon_reason[128];
};

static void sink_chunk(void *ctx, const struct bridge_packet *p)
{
    struct sink *s = ctx;
    buf_append(&s->body, buf_bytes(&p->data), buf_length(&p->data));
    s->chunks++;
    s->finals += p->final;
}

static void sink_abandon(void *ctx, enum bridge_type type, const char *source, const char *id,
                         const char *reason)
{
    struct sink *s = ctx;
    (void)type;
    (void)source;
    (void)id;
    s->abandoned++;
    snprintf(s->abandon_reason, sizeof(s->abandon_reason), "%s", reason);
}

static char *pattern(size_t len)
{
    char *p = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)(i * 31 + i / 7);
    return p;
}

/* Sends a body, decodes every packet and pushes them in the given order. */
static void round_trip(size_t len, const size_t *order, size_t *packets_out, struct sink *s)
{
    struct capture c = {0};
    char *body = pattern(len);
    CHECK_INT(bridge_send(BRIDGE_RESPONSE, "dev", "req-1", body, len, capture_emit, &c), 0);
    *packets_out = c.count;
    struct bridge_reassembler *r = bridge_reassembler_new(NULL, sink_chunk, sink_abandon, s);
    for (size_t i = 0; i < c.count; i++) {
        size_t k = order ? order[i] : i;
        struct bridge_packet p;
        char cause[128];
        CHECK_INT(bridge_packet_decode(c.packets[k], c.lengths[k], &p, cause, sizeof(cause)), 0);
        CHECK(c.lengths[k] < 240 * 1024);
        CHECK(bridge_reassembler_push(r, &p, 1000) >= 0);
        bridge_packet_free(&p);
    }
    CHECK_INT(buf_length(&s->body), len);
    CHECK(len == 0 || memcmp(buf_bytes(&s->body), body, len) == 0);
    CHECK_INT(s->finals, 1);
    CHECK_INT(bridge_reassembler_held_bytes(r), 0);
    bridge_reassembler_free(r);
    capture_free(&c);
    free(body);
}

TEST(empty_body_is_one_final_packet)
{
    struct sink s = {0};
    size_t n;
    round_trip(0, NULL, &n, &s);
    CHECK_INT(n, 1);
    buf_free(&s.body);
}

TEST(exactly_one_chunk)
{
    struct sink s = {0};
    size_t n;
    round_trip(BRIDGE_CHUNK_BYTES, NULL, &n, &s);
    CHECK_INT(n, 1);
    buf_free(&s.body);
}

TEST(one_byte_over_a_chunk)
{
    struct sink s = {0};
    size_t n;
    round_trip(BRIDGE_CHUNK_BYTES + 1, NULL, &n, &s);
    CHECK_INT(n, 2);
    buf_free(&s.body);
}

TEST(six_megabytes)
{
    struct sink s = {0};
    size_t n;
    round_trip(6 * 1024 * 1024, NULL, &n, &s);
    CHECK_INT(n, 48);
    CHECK_INT(s.chunks, 48);
    buf_free(&s.body);
}

TEST(reverse_order_is_released_in_order)
{
    struct sink s = {0};
    size_t order[5] = {4, 3, 2, 1, 0};
    size_t n;
    round_trip(4 * BRIDGE_CHUNK_BYTES + 10, order, &n, &s);
    CHECK_INT(n, 5);
    buf_free(&s.body);
}

static struct bridge_packet make_packet(enum bridge_type type, const char *id, uint32_t index,
                                        int final, const char *data)
{
    struct bridge_packet p;
    bridge_packet_init(&p);
    p.type = type;
    snprintf(p.source, sizeof(p.source), "worker1");
    snprintf(p.id, sizeof(p.id), "%s", id);
    p.index = index;
    p.final = final;
    buf_append_str(&p.data, data);
    return p;
}

static int push(struct bridge_reassembler *r, enum bridge_type type, const char *id, uint32_t index,
                int final, const char *data, uint64_t now)
{
    struct bridge_packet p = make_packet(type, id, index, final, data);
    int rc = bridge_reassembler_push(r, &p, now);
    bridge_packet_free(&p);
    return rc;
}

TEST(duplicates_are_dropped_before_and_after_completion)
{
    struct sink s = {0};
    struct bridge_reassembler *r = bridge_reassembler_new(NULL, sink_chunk, sink_abandon, &s);
    CHECK_INT(push(r, BRIDGE_NEXT, "a", 0, 0, "one", 0), BRIDGE_PUSH_ACCEPTED);
    CHECK_INT(push(r, BRIDGE_NEXT, "a", 0, 0, "one", 1), BRIDGE_PUSH_DUPLICATE);
    CHECK_INT(push(r, BRIDGE_NEXT, "a", 2, 1, "three", 2), BRIDGE_PUSH_ACCEPTED);
    CHECK_INT(push(r, BRIDGE_NEXT, "a", 2, 1, "three", 3), BRIDGE_PUSH_DUPLICATE);
    CHECK_INT(push(r, BRIDGE_NEXT, "a", 1, 0, "two", 4), BRIDGE_PUSH_ACCEPTED);
    buf_terminate(&s.body);
    CHECK_STR(buf_bytes(&s.body), "onetwothree");
    CHECK_INT(s.finals, 1);
    /* After completion every packet of that message is a duplicate. */
    CHECK_INT(push(r, BRIDGE_NEXT, "a", 0, 0, "one", 5), BRIDGE_PUSH_DUPLICATE);
    CHECK_INT(s.chunks, 3);
    bridge_reassembler_free(r);
    buf_free(&s.body);
}

TEST(same_id_different_types_are_separate_messages)
{
    struct sink s = {0};
    struct bridge_reassembler *r = bridge_reassembler_new(NULL, sink_chunk, sink_abandon, &s);
    CHECK_INT(push(r, BRIDGE_PING, "req", 0, 1, "", 0), BRIDGE_PUSH_ACCEPTED);
    CHECK_INT(push(r, BRIDGE_RESPONSE, "req", 0, 1, "ok", 0), BRIDGE_PUSH_ACCEPTED);
    CHECK_INT(s.finals, 2);
    bridge_reassembler_free(r);
    buf_free(&s.body);
}

TEST(missing_packet_times_out)
{
    struct sink s = {0};
    struct bridge_reassembly_limits limits;
    bridge_reassembly_default_limits(&limits);
    limits.idle_timeout_ms = 100;
    struct bridge_reassembler *r = bridge_reassembler_new(&limits, sink_chunk, sink_abandon, &s);
    CHECK_INT(push(r, BRIDGE_RESPONSE, "x", 0, 0, "a", 0), BRIDGE_PUSH_ACCEPTED);
    CHECK_INT(push(r, BRIDGE_RESPONSE, "x", 2, 1, "c", 10), BRIDGE_PUSH_ACCEPTED);
    bridge_reassembler_expire(r, 50);
    CHECK_INT(s.abandoned, 0);
    bridge_reassembler_expire(r, 200);
    CHECK_INT(s.abandoned, 1);
    CHECK(strstr(s.abandon_reason, "waiting for packet 1") != NULL);
    CHECK_INT(bridge_reassembler_held_bytes(r), 0);
    /* The late packet is now a duplicate of an abandoned message. */
    CHECK_INT(push(r, BRIDGE_RESPONSE, "x", 1, 0, "b", 210), BRIDGE_PUSH_DUPLICATE);
    bridge_reassembler_free(r);
    buf_free(&s.body);
}

TEST(finished_messages_are_forgotten_later)
{
    struct sink s = {0};
    struct bridge_reassembly_limits limits;
    bridge_reassembly_default_limits(&limits);
    limits.remember_done_ms = 100;
    struct bridge_reassembler *r = bridge_reassembler_new(&limits, sink_chunk, sink_abandon, &s);
    push(r, BRIDGE_RESPONSE, "x", 0, 1, "a", 0);
    CHECK_INT(bridge_reassembler_message_count(r), 1);
    bridge_reassembler_expire(r, 150);
    CHECK_INT(bridge_reassembler_message_count(r), 0);
    CHECK_INT(s.abandoned, 0);
    bridge_reassembler_free(r);
    buf_free(&s.body);
}

TEST(held_bytes_are_capped_per_message)
{
    struct sink s = {0};
    struct bridge_reassembly_limits limits;
    bridge_reassembly_default_limits(&limits);
    limits.max_held_per_message = 8;
    struct bridge_reassembler *r = bridge_reassembler_new(&limits, sink_chunk, sink_abandon, &s);
    CHECK_INT(push(r, BRIDGE_RESPONSE, "x", 1, 0, "12345", 0), BRIDGE_PUSH_ACCEPTED);
    CHECK_INT(push(r, BRIDGE_RESPONSE, "x", 2, 0, "67890", 0), -E2BIG);
    CHECK_INT(s.abandoned, 1);
    CHECK_INT(bridge_reassembler_held_bytes(r), 0);
    /* Other messages are unaffected. */
    CHECK_INT(push(r, BRIDGE_RESPONSE, "y", 0, 1, "fine", 0), BRIDGE_PUSH_ACCEPTED);
    CHECK_INT(s.finals, 1);
    bridge_reassembler_free(r);
    buf_free(&s.body);
}

TEST(message_count_is_capped)
{
    struct sink s = {0};
    struct bridge_reassembly_limits limits;
    bridge_reassembly_default_limits(&limits);
    limits.max_messages = 4;
    struct bridge_reassembler *r = bridge_reassembler_new(&limits, sink_chunk, sink_abandon, &s);
    char id[8];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "m%d", i);
        push(r, BRIDGE_RESPONSE, id, 0, 0, "x", (uint64_t)i);
    }
    CHECK(bridge_reassembler_message_count(r) <= 4);
    CHECK_INT(s.abandoned, 6);
    bridge_reassembler_free(r);
    buf_free(&s.body);
}

/* A reassembler whose streamed messages may release at most cap bytes. */
static struct bridge_reassembler *with_stream_cap(struct sink *s, size_t cap, unsigned assembled)
{
    struct bridge_reassembly_limits limits;
    bridge_reassembly_default_limits(&limits);
    CHECK_INT(limits.max_stream_bytes, 20u * 1024 * 1024);
    limits.max_stream_bytes = cap;
    limits.assemble_types = assembled;
    return bridge_reassembler_new(&limits, sink_chunk, sink_abandon, s);
}

/* Streamed (not assembled) messages are released chunk by chunk and never
 * held whole, but what one message releases is still capped: past the cap
 * it is abandoned, the rest of it dropped, and other messages go on. */
TEST(streamed_bytes_are_capped_per_message)
{
    struct sink s = {0};
    struct bridge_reassembler *r = with_stream_cap(&s, 10, 0);
    CHECK_INT(push(r, BRIDGE_RESPONSE, "x", 0, 0, "12345", 0), BRIDGE_PUSH_ACCEPTED);
    CHECK_INT(push(r, BRIDGE_RESPONSE, "x", 1, 0, "67890", 0), BRIDGE_PUSH_ACCEPTED);
    CHECK_INT(s.chunks, 2);
    CHECK_INT(push(r, BRIDGE_RESPONSE, "x", 2, 1, "!", 0), -E2BIG);
    CHECK_INT(s.abandoned, 1);
    CHECK(strstr(s.abandon_reason, "streamed message is larger") != NULL);
    CHECK_INT(s.chunks, 2);
    CHECK_INT(s.finals, 0);
    /* The rest of it is noise now. */
    CHECK_INT(push(r, BRIDGE_RESPONSE, "x", 3, 1, "?", 0), BRIDGE_PUSH_DUPLICATE);
    /* Held packets are counted when their turn comes. */
    CHECK_INT(push(r, BRIDGE_RESPONSE, "y", 1, 1, "abcdefgh", 0), BRIDGE_PUSH_ACCEPTED);
    CHECK_INT(push(r, BRIDGE_RESPONSE, "y", 0, 0, "abc", 0), -E2BIG);
    CHECK_INT(s.abandoned, 2);
    CHECK_INT(bridge_reassembler_held_bytes(r), 0);
    /* Exactly the cap passes; other messages are unaffected. */
    CHECK_INT(push(r, BRIDGE_RESPONSE, "z", 0, 0, "12345", 0), BRIDGE_PUSH_ACCEPTED);
    CHECK_INT(push(r, BRIDGE_RESPONSE, "z", 1, 1, "67890", 0), BRIDGE_PUSH_ACCEPTED);
    CHECK_INT(s.finals, 1);
    CHECK_INT(s.abandoned, 2);
    bridge_reassembler_free(r);
    /* Assembled types keep their own cap (max_message_bytes), not this one. */
    r = with_stream_cap(&s, 4, 1u << BRIDGE_NEXT);
    int pushed = push(r, BRIDGE_NEXT, "n", 0, 0, "12345", 0);
    pushed |= push(r, BRIDGE_NEXT, "n", 1, 1, "67890", 0);
    CHECK_INT(pushed, BRIDGE_PUSH_ACCEPTED);
    CHECK_INT(s.abandoned, 2);
    CHECK_INT(s.finals, 2);
    bridge_reassembler_free(r);
    buf_free(&s.body);
}

TEST(packet_encoding_is_sst_shaped)
{
    struct buf out = BUF_INIT;
    CHECK_INT(bridge_packet_encode(&out, BRIDGE_NEXT, "w1", "id\"1", 3, 1, "hi", 2, NULL), 0);
    buf_terminate(&out);
    CHECK_STR(buf_bytes(&out),
              "{\"type\":2,\"source\":\"w1\",\"id\":\"id\\\"1\",\"index\":3,\"data\":\"aGk=\","
              "\"final\":true}");
    buf_free(&out);
}

/* The envelope is read as JSON, whatever way a sender writes it: escapes in
 * keys and values, whitespace, members in any order, unknown members (even
 * nested ones) ignored. */
TEST(packets_are_read_as_json)
{
    static const char *const good[] = {
        "{\"t\\u0079pe\":2,\"source\":\"a\",\"id\":\"b\\\"c\",\"data\":\"aGk\\u003d\"}",
        " {\r\n \"data\" : \"aGk=\" , \"id\":\"b\\\"c\",\"x\":{\"y\":[1,{\"type\":5}]},"
        "\"source\":\"a\",\"index\":-0,\"type\":2 }\n",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct bridge_packet p;
        char cause[128] = "";
        int rc = bridge_packet_decode(good[i], strlen(good[i]), &p, cause, sizeof(cause));
        if (rc != 0)
            fprintf(stderr, "  refused (%s): %s\n", cause, good[i]);
        CHECK_INT(rc, 0);
        CHECK_INT(p.type, BRIDGE_NEXT);
        CHECK_STR(p.source, "a");
        CHECK_STR(p.id, "b\"c");
        CHECK_INT(p.index, 0);
        CHECK_INT(p.final, 1);
        CHECK_INT(buf_length(&p.data), 2);
        CHECK(memcmp(buf_bytes(&p.data), "hi", 2) == 0);
        bridge_packet_free(&p);
    }
}

TEST(bad_packets_are_refused)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"type\":9,\"source\":\"a\",\"id\":\"b\"}",
        "{\"type\":-1,\"source\":\"a\",\"id\":\"b\"}",
        "{\"type\":\"2\",\"source\":\"a\",\"id\":\"b\"}",
        "{\"type\":2,\"id\":\"b\"}",
        "{\"type\":2,\"source\":\"a\"}",
        "{\"type\":2,\"source\":\"a\",\"id\":\"b\",\"index\":-1}",
        "{\"type\":2,\"source\":\"a\",\"id\":\"b\",\"index\":1.5}",
        "{\"type\":2,\"source\":\"a\",\"id\":\"b\",\"final\":1}",
        "{\"type\":2,\"source\":\"a\",\"id\":\"b\",\"data\":\"!!!\"}",
        "{\"type\":2,\"source\":\"a\",\"id\":\"b\\n\"}",
        "{\"type\":2,\"source\":\"a\",\"id\":\"b\",\"type\":3}",
        "{\"type\":2,\"source\":\"a\",\"id\":\"b\",\"id\":\"c\"}",
        "{\"type\":2,\"source\":\"a\",\"id\":\"b\",\"t\\u0079pe\":3}",
        "{\"type\":2e0,\"source\":\"a\",\"id\":\"b\"}",
        "{\"type\":2.0,\"source\":\"a\",\"id\":\"b\"}",
        "{\"type\":99999999999999999999,\"source\":\"a\",\"id\":\"b\"}",
        "{\"type\":2,\"source\":\"a\",\"id\":\"b\",\"final\":null}",
        "{\"type\":2,\"source\":\"a\",\"id\":\"b\"} x",
        "{\"type\":2,\"source\":\"a\",\"id\":\"b\",\"data\":\"aGk=\"",
        "{\"type\":2,\"source\":\"a\",\"id\":\"b\\u0000\"}",
        "[{\"type\":2,\"source\":\"a\",\"id\":\"b\"}]",
        "{\"type\":2,\"source\":\"a\",\"id\":\"b\",\"data\":\"aGk=\\ud800\"}",
        "{\"type\":2,\"source\":\"a\",\"id\":\"b\",\"data\":7}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bridge_packet p;
        char cause[128] = "";
        int rc = bridge_packet_decode(bad[i], strlen(bad[i]), &p, cause, sizeof(cause));
        if (rc != -EINVAL)
            fprintf(stderr, "  accepted: %s\n", bad[i]);
        CHECK_INT(rc, -EINVAL);
        CHECK(cause[0] != '\0');
    }
    char long_id[300];
    memset(long_id, 'a', 200);
    long_id[200] = '\0';
    char text[400];
    snprintf(text, sizeof(text), "{\"type\":2,\"source\":\"a\",\"id\":\"%s\"}", long_id);
    struct bridge_packet p;
    char cause[128];
    CHECK_INT(bridge_packet_decode(text, strlen(text), &p, cause, sizeof(cause)), -EINVAL);
}

RUN_TESTS("bridge_stream", TEST_ENTRY(empty_body_is_one_final_packet),
          TEST_ENTRY(exactly_one_chunk), TEST_ENTRY(one_byte_over_a_chunk),
          TEST_ENTRY(six_megabytes), TEST_ENTRY(reverse_order_is_released_in_order),
          TEST_ENTRY(duplicates_are_dropped_before_and_after_completion),
          TEST_ENTRY(same_id_different_types_are_separate_messages),
          TEST_ENTRY(missing_packet_times_out), TEST_ENTRY(finished_messages_are_forgotten_later),
          TEST_ENTRY(held_bytes_are_capped_per_message), TEST_ENTRY(message_count_is_capped),
          TEST_ENTRY(streamed_bytes_are_capped_per_message),
          TEST_ENTRY(packet_encoding_is_sst_shaped), TEST_ENTRY(packets_are_read_as_json),
          TEST_ENTRY(bad_packets_are_refused))
