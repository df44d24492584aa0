/* Unit tests for net/ws: a WS_CLIENT and a WS_SERVER session wired
 * back-to-back (each one's writes land in a buffer the test feeds to the
 * other), plus hand-made frames for the protocol-error paths and the
 * opening-handshake helpers. It checks what RFC 6455 and ws.h require, not
 * how the codec happens to do it. */
#include <errno.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/encoding.h"
#include "net/ws.h"
#include "test.h"

struct peer {
    struct ws_session *session;
    struct buf out; /* everything this side wrote, not yet fed to the other */
    int messages;
    struct buf last; /* the last message received */
    int last_is_text;
    int closed;
    uint16_t close_code;
    int fail_writes;
    int echo; /* send every received message straight back */
};

static int peer_write(void *user, const void *data, size_t len)
{
    struct peer *p = user;
    if (p->fail_writes)
        return -1;
    return buf_append(&p->out, data, len);
}

static void peer_on_message(void *user, int is_text, const char *data, size_t len)
{
    struct peer *p = user;
    p->messages++;
    p->last_is_text = is_text;
    buf_reset(&p->last);
    buf_append(&p->last, data, len);
    if (p->echo)
        ws_send_text(p->session, data, len);
}

static void peer_on_closed(void *user, uint16_t code)
{
    struct peer *p = user;
    p->closed++;
    p->close_code = code;
}

static const struct ws_callbacks peer_callbacks = {peer_on_message, peer_on_closed};

static void peer_open(struct peer *p, enum ws_role role, size_t max_message)
{
    memset(p, 0, sizeof(*p));
    p->session = ws_session_new(role, max_message, &peer_callbacks, peer_write, p);
}

static void peer_close(struct peer *p)
{
    ws_session_free(p->session);
    buf_free(&p->out);
    buf_free(&p->last);
}

/* Feeds what `from` wrote to `to`, in chunks of `step` bytes (0: all at
 * once). Returns the first nonzero feed result, else 0. */
static int deliver(struct peer *from, struct peer *to, size_t step)
{
    size_t len = 0;
    char *data = buf_steal(&from->out, &len);
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0;) {
        size_t n = step && step < len - off ? step : len - off;
        rc = ws_session_feed(to->session, data + off, n);
        off += n;
    }
    free(data);
    return rc;
}

/* Delivers both ways until neither side has anything left to say. */
static int pump(struct peer *client, struct peer *server, size_t step)
{
    int rc = 0;
    for (int round = 0; round < 100; round++) {
        if (buf_length(&client->out) == 0 && buf_length(&server->out) == 0)
            return rc;
        int a = deliver(client, server, step);
        int b = deliver(server, client, step);
        if (!rc)
            rc = a ? a : b;
    }
    return -1000; /* still talking after 100 rounds */
}

static int last_is(const struct peer *p, const void *data, size_t len)
{
    return buf_length(&p->last) == len && (len == 0 || memcmp(buf_bytes(&p->last), data, len) == 0);
}

static int out_is(const struct peer *p, const void *data, size_t len)
{
    return buf_length(&p->out) == len && memcmp(buf_bytes(&p->out), data, len) == 0;
}

/* Whether everything p wrote is one unmasked close frame carrying code
 * (a reason after the code is allowed). */
static int out_is_close(const struct peer *p, uint16_t code)
{
    const uint8_t *b = (const uint8_t *)buf_bytes(&p->out);
    size_t len = buf_length(&p->out);
    return len >= 4 && b[0] == 0x88 && b[1] >= 2 && b[1] <= 125 && len == 2u + b[1] &&
           b[2] == code >> 8 && b[3] == (code & 0xff);
}

/* Appends one client-to-server frame (masked with a fixed key). */
static void masked_frame(struct buf *out, uint8_t first_byte, const void *payload, size_t len)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t header[14];
    size_t n = 0;
    header[n++] = first_byte;
    if (len < 126) {
        header[n++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        header[n++] = 0x80 | 126;
        header[n++] = (uint8_t)(len >> 8);
        header[n++] = (uint8_t)len;
    } else {
        header[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            header[n++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    memcpy(header + n, key, 4);
    n += 4;
    buf_append(out, header, n);
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++)
        buf_append_char(out, (char)(p[i] ^ key[i % 4]));
}

TEST(test_sessions_start_open)
{
    struct peer client, server;
    peer_open(&client, WS_CLIENT, 1024);
    peer_open(&server, WS_SERVER, 1024);
    CHECK(client.session != NULL);
    CHECK(server.session != NULL);
    CHECK_INT(ws_session_finished(client.session), 0);
    CHECK_INT(ws_session_finished(server.session), 0);
    /* Nothing is written before anything is sent. */
    CHECK_INT(buf_length(&client.out), 0);
    CHECK_INT(buf_length(&server.out), 0);
    peer_close(&client);
    peer_close(&server);
}

TEST(test_text_both_ways)
{
    struct peer client, server;
    peer_open(&client, WS_CLIENT, 1 << 16);
    peer_open(&server, WS_SERVER, 1 << 16);
    CHECK_INT(ws_send_text(client.session, "{\"type\":\"connection_init\"}", 26), 0);
    CHECK_INT(pump(&client, &server, 0), 0);
    CHECK_INT(server.messages, 1);
    CHECK_INT(server.last_is_text, 1);
    CHECK(last_is(&server, "{\"type\":\"connection_init\"}", 26));
    CHECK_INT(ws_send_text(server.session, "{\"type\":\"connection_ack\"}", 25), 0);
    CHECK_INT(pump(&client, &server, 0), 0);
    CHECK_INT(client.messages, 1);
    CHECK_INT(client.last_is_text, 1);
    CHECK(last_is(&client, "{\"type\":\"connection_ack\"}", 25));
    /* UTF-8 text and an empty message. */
    CHECK_INT(ws_send_text(client.session, "caf\303\251 \360\237\230\200", 10), 0);
    CHECK_INT(pump(&client, &server, 0), 0);
    CHECK(last_is(&server, "caf\303\251 \360\237\230\200", 10));
    CHECK_INT(ws_send_text(server.session, "", 0), 0);
    CHECK_INT(pump(&client, &server, 0), 0);
    CHECK_INT(client.messages, 2);
    CHECK(last_is(&client, "", 0));
    CHECK_INT(client.closed + server.closed, 0);
    peer_close(&client);
    peer_close(&server);
}

TEST(test_client_frames_are_masked)
{
    struct peer client, server;
    peer_open(&client, WS_CLIENT, 1024);
    peer_open(&server, WS_SERVER, 1024);
    ws_send_text(client.session, "Hello", 5);
    CHECK_INT(buf_length(&client.out), 2 + 4 + 5);
    CHECK_INT((uint8_t)buf_bytes(&client.out)[0], 0x81);
    CHECK_INT((uint8_t)buf_bytes(&client.out)[1], 0x85);
    ws_send_text(server.session, "Hello", 5);
    CHECK(out_is(&server, "\x81\x05Hello", 7));
    peer_close(&client);
    peer_close(&server);
}

TEST(test_several_messages_in_one_feed)
{
    struct peer client, server;
    peer_open(&client, WS_CLIENT, 1024);
    peer_open(&server, WS_SERVER, 1024);
    ws_send_text(client.session, "one", 3);
    ws_send_text(client.session, "two", 3);
    ws_send_text(client.session, "three", 5);
    CHECK_INT(pump(&client, &server, 0), 0);
    CHECK_INT(server.messages, 3);
    CHECK(last_is(&server, "three", 5));
    peer_close(&client);
    peer_close(&server);
}

static char *pattern(size_t len)
{
    char *p = malloc(len);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)('a' + (i * 7 + i / 1000) % 26);
    return p;
}

TEST(test_large_message_both_ways)
{
    const size_t big = 1 << 20;
    struct peer client, server;
    peer_open(&client, WS_CLIENT, 2 * big);
    peer_open(&server, WS_SERVER, 2 * big);
    char *data = pattern(big);
    CHECK_INT(ws_send_text(client.session, data, big), 0);
    CHECK_INT(pump(&client, &server, 0), 0);
    CHECK_INT(server.messages, 1);
    CHECK(last_is(&server, data, big));
    CHECK_INT(ws_send_text(server.session, data, big), 0);
    CHECK_INT(pump(&client, &server, 64 * 1024), 0); /* in 64 KiB pieces */
    CHECK_INT(client.messages, 1);
    CHECK(last_is(&client, data, big));
    CHECK_INT(server.closed + client.closed, 0);
    free(data);
    peer_close(&client);
    peer_close(&server);
}

TEST(test_message_exactly_at_limit)
{
    struct peer client, server;
    peer_open(&client, WS_CLIENT, 1 << 16);
    peer_open(&server, WS_SERVER, 1024);
    char *data = pattern(1024);
    CHECK_INT(ws_send_text(client.session, data, 1024), 0);
    CHECK_INT(pump(&client, &server, 0), 0);
    CHECK_INT(server.messages, 1);
    CHECK_INT(server.closed, 0);
    free(data);
    peer_close(&client);
    peer_close(&server);
}

TEST(test_ping_pong)
{
    struct peer client, server;
    peer_open(&client, WS_CLIENT, 1024);
    peer_open(&server, WS_SERVER, 1024);
    CHECK_INT(ws_send_ping(client.session), 0);
    CHECK_INT(deliver(&client, &server, 0), 0);
    /* The server answers with an (unmasked, empty) pong on its own. */
    CHECK(out_is(&server, "\x8a\x00", 2));
    CHECK_INT(deliver(&server, &client, 0), 0);
    CHECK_INT(ws_send_ping(server.session), 0);
    CHECK(out_is(&server, "\x89\x00", 2));
    CHECK_INT(deliver(&server, &client, 0), 0);
    /* The client's pong is masked: 0x8a, mask bit + length 0, 4-byte key. */
    CHECK_INT(buf_length(&client.out), 6);
    CHECK_INT((uint8_t)buf_bytes(&client.out)[0], 0x8a);
    CHECK_INT((uint8_t)buf_bytes(&client.out)[1], 0x80);
    CHECK_INT(pump(&client, &server, 0), 0);
    /* Control frames are not messages. */
    CHECK_INT(client.messages + server.messages, 0);
    CHECK_INT(client.closed + server.closed, 0);
    peer_close(&client);
    peer_close(&server);
}

TEST(test_rfc6455_example_frames)
{
    struct peer client, server;
    peer_open(&client, WS_CLIENT, 1024);
    peer_open(&server, WS_SERVER, 1024);
    /* RFC 6455 section 5.7: a masked "Hello" from a client. */
    CHECK_INT(ws_session_feed(server.session, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11),
              0);
    CHECK_INT(server.messages, 1);
    CHECK(last_is(&server, "Hello", 5));
    /* A masked ping with body "Hello" gets an unmasked pong echoing it. */
    CHECK_INT(ws_session_feed(server.session, "\x89\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11),
              0);
    CHECK(out_is(&server, "\x8a\x05Hello", 7));
    /* An unmasked "Hello" to a client, whole and fragmented. */
    CHECK_INT(ws_session_feed(client.session, "\x81\x05\x48\x65\x6c\x6c\x6f", 7), 0);
    CHECK_INT(client.messages, 1);
    CHECK(last_is(&client, "Hello", 5));
    CHECK_INT(ws_session_feed(client.session, "\x01\x03\x48\x65\x6c", 5), 0);
    CHECK_INT(client.messages, 1);
    CHECK_INT(ws_session_feed(client.session, "\x80\x02\x6c\x6f", 4), 0);
    CHECK_INT(client.messages, 2);
    CHECK(last_is(&client, "Hello", 5));
    /* A 256-byte binary message in one unmasked frame (16-bit length). */
    struct buf frame = BUF_INIT;
    buf_append(&frame, "\x82\x7e\x01\x00", 4);
    for (int i = 0; i < 256; i++)
        buf_append_char(&frame, (char)i);
    CHECK_INT(ws_session_feed(client.session, buf_bytes(&frame), buf_length(&frame)), 0);
    CHECK_INT(client.messages, 3);
    CHECK_INT(client.last_is_text, 0);
    CHECK_INT(buf_length(&client.last), 256);
    CHECK_INT((uint8_t)buf_bytes(&client.last)[255], 255);
    buf_free(&frame);
    CHECK_INT(client.closed + server.closed, 0);
    peer_close(&client);
    peer_close(&server);
}

TEST(test_binary_message_to_server)
{
    struct peer server;
    peer_open(&server, WS_SERVER, 1024);
    struct buf frame = BUF_INIT;
    masked_frame(&frame, 0x82, "\x00\x01\xff", 3);
    CHECK_INT(ws_session_feed(server.session, buf_bytes(&frame), buf_length(&frame)), 0);
    CHECK_INT(server.messages, 1);
    CHECK_INT(server.last_is_text, 0);
    CHECK(last_is(&server, "\x00\x01\xff", 3));
    buf_free(&frame);
    peer_close(&server);
}

TEST(test_close_handshake_client_initiated)
{
    struct peer client, server;
    peer_open(&client, WS_CLIENT, 1024);
    peer_open(&server, WS_SERVER, 1024);
    CHECK_INT(ws_send_close(client.session, 1000, "bye"), 0);
    CHECK_INT(ws_session_finished(client.session), 1);
    CHECK_INT(deliver(&client, &server, 0), 0);
    CHECK_INT(server.closed, 1);
    CHECK_INT(server.close_code, 1000);
    CHECK_INT(ws_session_finished(server.session), 1);
    /* The server answers with a close frame echoing the code. */
    CHECK(out_is_close(&server, 1000));
    CHECK_INT(deliver(&server, &client, 0), 0);
    CHECK_INT(client.closed, 1);
    CHECK_INT(client.close_code, 1000);
    CHECK_INT(pump(&client, &server, 0), 0);
    CHECK_INT(client.closed, 1); /* reported once */
    CHECK_INT(server.closed, 1);
    /* Nothing more goes out once closed. */
    CHECK(ws_send_text(client.session, "late", 4) < 0 || buf_length(&client.out) == 0);
    peer_close(&client);
    peer_close(&server);
}

TEST(test_close_handshake_server_initiated)
{
    struct peer client, server;
    peer_open(&client, WS_CLIENT, 1024);
    peer_open(&server, WS_SERVER, 1024);
    CHECK_INT(ws_send_close(server.session, 1001, "going away"), 0);
    CHECK_INT(pump(&client, &server, 0), 0);
    CHECK_INT(client.closed, 1);
    CHECK_INT(client.close_code, 1001);
    CHECK_INT(server.closed, 1);
    CHECK_INT(server.close_code, 1001);
    CHECK_INT(ws_session_finished(client.session), 1);
    CHECK_INT(ws_session_finished(server.session), 1);
    peer_close(&client);
    peer_close(&server);
}

TEST(test_ping_crossing_our_close_is_not_an_error)
{
    /* The server starts closing while the client's keep-alive ping is still
     * in flight: the ping must not turn a clean close into a protocol error. */
    struct peer client, server;
    peer_open(&client, WS_CLIENT, 1024);
    peer_open(&server, WS_SERVER, 1024);
    CHECK_INT(ws_send_close(server.session, 1000, NULL), 0);
    CHECK_INT(ws_send_ping(client.session), 0);
    int rc = deliver(&client, &server, 0);
    /* ws.h: -EPROTO only once on_closed has been called. */
    CHECK(rc == 0 || server.closed == 1);
    CHECK_INT(rc, 0);
    CHECK_INT(pump(&client, &server, 0), 0);
    CHECK_INT(server.closed, 1);
    CHECK_INT(server.close_code, 1000);
    CHECK_INT(client.closed, 1);
    CHECK_INT(client.close_code, 1000);
    peer_close(&client);
    peer_close(&server);
}

TEST(test_close_without_status_code)
{
    struct peer server;
    peer_open(&server, WS_SERVER, 1024);
    struct buf frame = BUF_INIT;
    masked_frame(&frame, 0x88, "", 0);
    CHECK_INT(ws_session_feed(server.session, buf_bytes(&frame), buf_length(&frame)), 0);
    CHECK_INT(server.closed, 1);
    CHECK_INT(server.close_code, 1005);
    buf_free(&frame);
    peer_close(&server);
}

TEST(test_message_over_max_size)
{
    struct peer client, server;
    peer_open(&client, WS_CLIENT, 1 << 16);
    peer_open(&server, WS_SERVER, 1024);
    char *data = pattern(1025);
    CHECK_INT(ws_send_text(client.session, data, 1025), 0);
    CHECK_INT(deliver(&client, &server, 0), -EPROTO);
    CHECK_INT(server.messages, 0);
    CHECK_INT(server.closed, 1);
    CHECK_INT(server.close_code, 1009);
    CHECK_INT(ws_session_finished(server.session), 1);
    /* The server tells the client why: a close frame with 1009. */
    CHECK(out_is_close(&server, 1009));
    deliver(&server, &client, 0);
    CHECK_INT(client.closed, 1);
    CHECK_INT(client.close_code, 1009);
    free(data);
    peer_close(&client);
    peer_close(&server);
}

TEST(test_fragmented_message_over_max_size)
{
    struct peer server;
    peer_open(&server, WS_SERVER, 1024);
    char *data = pattern(600);
    struct buf frames = BUF_INIT;
    masked_frame(&frames, 0x01, data, 600); /* text, not final */
    masked_frame(&frames, 0x80, data, 600); /* continuation, final */
    CHECK_INT(ws_session_feed(server.session, buf_bytes(&frames), buf_length(&frames)), -EPROTO);
    CHECK_INT(server.messages, 0);
    CHECK_INT(server.closed, 1);
    CHECK_INT(server.close_code, 1009);
    buf_free(&frames);
    free(data);
    peer_close(&server);
}

TEST(test_unmasked_frame_to_server_is_protocol_error)
{
    struct peer server;
    peer_open(&server, WS_SERVER, 1024);
    CHECK_INT(ws_session_feed(server.session, "\x81\x05Hello", 7), -EPROTO);
    CHECK_INT(server.messages, 0);
    CHECK_INT(server.closed, 1);
    CHECK_INT(server.close_code, 1002);
    CHECK_INT(ws_session_finished(server.session), 1);
    /* The close frame on the wire says 1002 as well. */
    CHECK(out_is_close(&server, 1002));
    peer_close(&server);
}

TEST(test_masked_frame_to_client_is_protocol_error)
{
    struct peer client;
    peer_open(&client, WS_CLIENT, 1024);
    struct buf frame = BUF_INIT;
    masked_frame(&frame, 0x81, "Hello", 5);
    CHECK_INT(ws_session_feed(client.session, buf_bytes(&frame), buf_length(&frame)), -EPROTO);
    CHECK_INT(client.messages, 0);
    CHECK_INT(client.closed, 1);
    CHECK_INT(client.close_code, 1002);
    buf_free(&frame);
    peer_close(&client);
}

TEST(test_reserved_bits_and_opcodes_are_protocol_errors)
{
    static const uint8_t first_bytes[] = {0xc1, 0xa1, 0x91, 0x83, 0x8b, 0x80};
    for (size_t i = 0; i < sizeof(first_bytes); i++) {
        struct peer server;
        peer_open(&server, WS_SERVER, 1024);
        struct buf frame = BUF_INIT;
        masked_frame(&frame, first_bytes[i], "x", 1);
        int rc = ws_session_feed(server.session, buf_bytes(&frame), buf_length(&frame));
        if (rc != -EPROTO || server.messages != 0 || server.closed != 1 ||
            server.close_code != 1002) {
            fprintf(stderr, "  first byte 0x%02x: rc %d, %d messages, closed %d code %u\n",
                    first_bytes[i], rc, server.messages, server.closed, server.close_code);
            CHECK(!"bad frame not treated as a protocol error");
        }
        buf_free(&frame);
        peer_close(&server);
    }
}

TEST(test_invalid_utf8_text_closes_with_1007)
{
    struct peer server;
    peer_open(&server, WS_SERVER, 1024);
    struct buf frame = BUF_INIT;
    masked_frame(&frame, 0x81, "ok\xff", 3);
    CHECK_INT(ws_session_feed(server.session, buf_bytes(&frame), buf_length(&frame)), -EPROTO);
    CHECK_INT(server.messages, 0);
    CHECK_INT(server.closed, 1);
    CHECK_INT(server.close_code, 1007);
    CHECK(out_is_close(&server, 1007));
    buf_free(&frame);
    peer_close(&server);
}

TEST(test_byte_at_a_time)
{
    struct peer client, server;
    peer_open(&client, WS_CLIENT, 1 << 17);
    peer_open(&server, WS_SERVER, 1 << 17);
    /* 7-bit, 16-bit and 64-bit payload lengths, with a ping in between. */
    static const size_t sizes[] = {5, 125, 126, 300, 65535, 70000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *data = pattern(sizes[i]);
        CHECK_INT(ws_send_text(client.session, data, sizes[i]), 0);
        if (i == 2)
            ws_send_ping(client.session);
        CHECK_INT(pump(&client, &server, 1), 0);
        CHECK_INT(server.messages, (int)i + 1);
        CHECK(last_is(&server, data, sizes[i]));
        CHECK_INT(ws_send_text(server.session, data, sizes[i]), 0);
        CHECK_INT(pump(&client, &server, 1), 0);
        CHECK_INT(client.messages, (int)i + 1);
        CHECK(last_is(&client, data, sizes[i]));
        free(data);
    }
    CHECK_INT(ws_send_close(client.session, 1000, NULL), 0);
    CHECK_INT(pump(&client, &server, 1), 0);
    CHECK_INT(server.close_code, 1000);
    CHECK_INT(client.close_code, 1000);
    peer_close(&client);
    peer_close(&server);
}

TEST(test_reply_from_message_callback)
{
    /* A broker answers from inside on_message. */
    struct peer client, server;
    peer_open(&client, WS_CLIENT, 1024);
    peer_open(&server, WS_SERVER, 1024);
    server.echo = 1;
    ws_send_text(client.session, "ping?", 5);
    ws_send_text(client.session, "again", 5);
    CHECK_INT(pump(&client, &server, 0), 0);
    CHECK_INT(client.messages, 2);
    CHECK(last_is(&client, "again", 5));
    peer_close(&client);
    peer_close(&server);
}

TEST(test_write_failure_is_reported)
{
    struct peer client;
    peer_open(&client, WS_CLIENT, 1024);
    client.fail_writes = 1;
    CHECK(ws_send_text(client.session, "x", 1) < 0);
    peer_close(&client);
}

TEST(test_close_reason_is_capped)
{
    /* A control frame carries at most 125 bytes: code + 123 of reason. */
    struct peer server;
    peer_open(&server, WS_SERVER, 1024);
    char reason[300];
    memset(reason, 'r', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    CHECK_INT(ws_send_close(server.session, 1000, reason), 0);
    CHECK(out_is_close(&server, 1000));
    peer_close(&server);
}

/* Close codes that are reserved (1004-1006, 1015) or unassigned cannot be
 * sent, and a close reason is UTF-8 text (RFC 6455 sections 5.5.1, 7.4). */
TEST(test_bad_close_frames_are_protocol_errors)
{
    static const struct {
        const char *payload;
        size_t len;
        uint16_t expected;
    } cases[] = {
        {"\x03\xec", 2, 1002},         /* 1004 */
        {"\x03\xee", 2, 1002},         /* 1006 */
        {"\x03\xf7", 2, 1002},         /* 1015 */
        {"\x03\xe7", 2, 1002},         /* 999 */
        {"\x13\x88", 2, 1002},         /* 5000 */
        {"\x03\xe8\xc3\x28", 4, 1007}, /* 1000, reason not UTF-8 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct peer server;
        peer_open(&server, WS_SERVER, 1024);
        struct buf frame = BUF_INIT;
        masked_frame(&frame, 0x88, cases[i].payload, cases[i].len);
        CHECK_INT(ws_session_feed(server.session, buf_bytes(&frame), buf_length(&frame)), -EPROTO);
        CHECK_INT(server.close_code, cases[i].expected);
        CHECK(out_is_close(&server, cases[i].expected));
        buf_free(&frame);
        peer_close(&server);
    }
    /* A private-use code with a UTF-8 reason is a normal close. */
    struct peer server;
    peer_open(&server, WS_SERVER, 1024);
    struct buf frame = BUF_INIT;
    masked_frame(&frame, 0x88, "\x0f\xa0\xc3\xa9", 4); /* 4000 */
    CHECK_INT(ws_session_feed(server.session, buf_bytes(&frame), buf_length(&frame)), 0);
    CHECK_INT(server.close_code, 4000);
    buf_free(&frame);
    peer_close(&server);
}

/* One frame built with ws_frame_header reaches several clients as the same
 * message; a session that has sent its close refuses it. */
TEST(test_prepared_frame_to_many)
{
    const char *text = "{\"type\":\"data\"}";
    size_t sizes[] = {strlen(text), 126, 70000};
    for (size_t k = 0; k < 3; k++) {
        struct buf payload = BUF_INIT, frame = BUF_INIT;
        for (size_t i = 0; i < sizes[k]; i++)
            buf_append_char(&payload, text[i % strlen(text)]);
        uint8_t header[WS_MAX_FRAME_HEADER];
        size_t n = ws_frame_header(header, WS_OPCODE_TEXT, 0, sizes[k]);
        buf_append(&frame, header, n);
        buf_append(&frame, buf_bytes(&payload), sizes[k]);
        for (int c = 0; c < 2; c++) {
            struct peer client, server;
            peer_open(&client, WS_CLIENT, 100000);
            peer_open(&server, WS_SERVER, 100000);
            CHECK_INT(ws_send_frame(server.session, buf_bytes(&frame), buf_length(&frame)), 0);
            CHECK_INT(pump(&client, &server, c ? 7 : 0), 0);
            CHECK_INT(client.messages, 1);
            CHECK(client.last_is_text);
            CHECK(last_is(&client, buf_bytes(&payload), sizes[k]));
            /* Client sessions mask their frames: a shared frame is for servers. */
            CHECK_INT(ws_send_frame(client.session, buf_bytes(&frame), buf_length(&frame)), -EPIPE);
            CHECK_INT(ws_send_close(server.session, 1000, NULL), 0);
            CHECK_INT(ws_send_frame(server.session, buf_bytes(&frame), buf_length(&frame)), -EPIPE);
            peer_close(&client);
            peer_close(&server);
        }
        buf_free(&payload);
        buf_free(&frame);
    }
}

TEST(test_accept_key)
{
    char out[29];
    /* RFC 6455 sections 1.3 and 4.2.2 (checked against openssl, Node and
     * Python's SHA-1 + base64 of key + GUID). */
    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
    CHECK_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK_INT(strlen(out), 28);
}

TEST(test_new_client_key)
{
    char a[25], b[25];
    CHECK_INT(ws_new_client_key(a), 0);
    CHECK_INT(ws_new_client_key(b), 0);
    CHECK_INT(strlen(a), 24);
    CHECK(strcmp(a, b) != 0);
    struct buf raw = BUF_INIT;
    CHECK_INT(base64_decode(&raw, a, 24), 0);
    CHECK_INT(buf_length(&raw), 16);
    buf_free(&raw);
}

RUN_TESTS("ws", TEST_ENTRY(test_sessions_start_open), TEST_ENTRY(test_text_both_ways),
          TEST_ENTRY(test_client_frames_are_masked), TEST_ENTRY(test_several_messages_in_one_feed),
          TEST_ENTRY(test_large_message_both_ways), TEST_ENTRY(test_message_exactly_at_limit),
          TEST_ENTRY(test_ping_pong), TEST_ENTRY(test_rfc6455_example_frames),
          TEST_ENTRY(test_binary_message_to_server),
          TEST_ENTRY(test_close_handshake_client_initiated),
          TEST_ENTRY(test_close_handshake_server_initiated),
          TEST_ENTRY(test_ping_crossing_our_close_is_not_an_error),
          TEST_ENTRY(test_close_without_status_code), TEST_ENTRY(test_message_over_max_size),
          TEST_ENTRY(test_fragmented_message_over_max_size),
          TEST_ENTRY(test_unmasked_frame_to_server_is_protocol_error),
          TEST_ENTRY(test_masked_frame_to_client_is_protocol_error),
          TEST_ENTRY(test_reserved_bits_and_opcodes_are_protocol_errors),
          TEST_ENTRY(test_invalid_utf8_text_closes_with_1007), TEST_ENTRY(test_byte_at_a_time),
          TEST_ENTRY(test_reply_from_message_callback), TEST_ENTRY(test_write_failure_is_reported),
          TEST_ENTRY(test_close_reason_is_capped),
          TEST_ENTRY(test_bad_close_frames_are_protocol_errors),
          TEST_ENTRY(test_prepared_frame_to_many), TEST_ENTRY(test_accept_key),
          TEST_ENTRY(test_new_client_key))
