/* net/ws.h sessions: the part of RFC 6455 a session needs (framing,
 * masking, fragmentation, ping/pong, the closing handshake with its code and
 * reason checked, UTF-8 of text messages), for the CLI and the static bridge
 * alike; fuzzed by fuzz/fuzz_ws_frames.c.
 *
 * A session holds no buffer while it is idle: received bytes are kept only
 * while a frame is incomplete, fragments only while a message is, and
 * outgoing frames go to the write function as a header and the payload (a
 * client's masked payload is built in a buffer freed at once), so a broker
 * with thousands of quiet connections spends about 100 bytes on each. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/encoding.h"
#include "core/random.h"
#include "net/ws.h"

enum {
    OP_CONTINUATION = 0x0,
    OP_TEXT = 0x1,
    OP_BINARY = 0x2,
    OP_CLOSE = 0x8,
    OP_PING = 0x9,
    OP_PONG = 0xA,
};

struct ws_session {
    enum ws_role role;
    size_t max_message;
    struct ws_callbacks callbacks;
    ws_write_fn write;
    void *user;
    struct buf input;   /* bytes of an incomplete frame */
    struct buf message; /* fragments of an incomplete message */
    int message_opcode; /* 0 when no fragmented message is open */
    int close_sent;
    int close_received;
    int failed;
    int closed_reported;
};

struct ws_session *ws_session_new(enum ws_role role, size_t max_message_bytes,
                                  const struct ws_callbacks *callbacks, ws_write_fn write,
                                  void *user)
{
    struct ws_session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->role = role;
    s->max_message = max_message_bytes;
    s->callbacks = *callbacks;
    s->write = write;
    s->user = user;
    return s;
}

void ws_session_free(struct ws_session *s)
{
    if (!s)
        return;
    buf_free(&s->input);
    buf_free(&s->message);
    free(s);
}

static void report_closed(struct ws_session *s, uint16_t code)
{
    if (s->closed_reported)
        return;
    s->closed_reported = 1;
    if (s->callbacks.on_closed)
        s->callbacks.on_closed(s->user, code);
}

size_t ws_frame_header(uint8_t out[WS_MAX_FRAME_HEADER], int opcode, int masked, size_t len)
{
    size_t n = 0;
    uint8_t mask_bit = masked ? 0x80 : 0;
    out[n++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        out[n++] = (uint8_t)(mask_bit | len);
    } else if (len <= 0xFFFF) {
        out[n++] = (uint8_t)(mask_bit | 126);
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = (uint8_t)(mask_bit | 127);
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    return n;
}

/* A client's frame: header, key and masked payload, built in one buffer that
 * lives for this call only. */
static int write_masked(struct ws_session *s, const uint8_t *header, size_t header_len,
                        const void *data, size_t len)
{
    uint8_t key[4];
    if (random_bytes(key, sizeof(key)) < 0)
        return -EIO;
    struct buf frame = BUF_INIT;
    if (buf_reserve(&frame, header_len + 4 + len) < 0)
        return -ENOMEM;
    buf_append(&frame, header, header_len);
    buf_append(&frame, key, 4);
    unsigned char *out = (unsigned char *)frame.data + frame.len;
    const unsigned char *in = data;
    for (size_t i = 0; i < len; i++)
        out[i] = in[i] ^ key[i & 3];
    frame.len += len;
    int rc = s->write(s->user, buf_bytes(&frame), buf_length(&frame));
    buf_free(&frame);
    return rc;
}

static int send_frame(struct ws_session *s, int opcode, const void *data, size_t len)
{
    if (s->close_sent)
        return -EPIPE;
    uint8_t header[WS_MAX_FRAME_HEADER];
    size_t n = ws_frame_header(header, opcode, s->role == WS_CLIENT, len);
    if (opcode == OP_CLOSE)
        s->close_sent = 1;
    int rc;
    if (s->role == WS_CLIENT)
        rc = write_masked(s, header, n, data, len);
    else if ((rc = s->write(s->user, header, n)) >= 0 && len > 0)
        rc = s->write(s->user, data, len);
    return rc < 0 ? -EPIPE : 0;
}

int ws_send_frame(struct ws_session *s, const void *frame, size_t len)
{
    if (s->role != WS_SERVER || s->close_sent || s->failed)
        return -EPIPE;
    return s->write(s->user, frame, len) < 0 ? -EPIPE : 0;
}

static int fail(struct ws_session *s, uint16_t code)
{
    s->failed = 1;
    uint8_t payload[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    if (!s->close_sent)
        send_frame(s, OP_CLOSE, payload, 2);
    report_closed(s, code);
    return -EPROTO;
}

/* Codes an endpoint may send in a close frame (RFC 6455 section 7.4):
 * 1004-1006 and 1015 are reserved for reporting, never sent. */
static int close_code_sendable(uint16_t code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

static int on_close_frame(struct ws_session *s, const unsigned char *payload, size_t len)
{
    uint16_t code = len >= 2 ? (uint16_t)(payload[0] << 8 | payload[1]) : 1005;
    if (len == 1 || (len >= 2 && !close_code_sendable(code)))
        return fail(s, 1002);
    if (len > 2 && !utf8_valid((const char *)payload + 2, len - 2))
        return fail(s, 1007); /* the reason is UTF-8 text */
    s->close_received = 1;
    if (!s->close_sent) {
        /* Echo the code and reason back, completing the closing handshake
         * (the peer may check that its reason came back). */
        send_frame(s, OP_CLOSE, payload, len);
    }
    report_closed(s, code);
    return 0;
}

/* UTF-8 validity of a text message. Messages are mostly ASCII, which is
 * skipped 8 bytes at a time; the rest is checked from the first word that
 * holds a byte from 0x80 up (a character boundary: the byte before is
 * ASCII). */
static int text_valid(const char *text, size_t len)
{
    size_t i = 0;
    for (; len - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, text + i, sizeof(w));
        if (w & 0x8080808080808080u)
            break;
    }
    return utf8_valid(text + i, len - i);
}

static int on_data_frame(struct ws_session *s, int opcode, int fin, const char *payload, size_t len)
{
    if (opcode == OP_CONTINUATION && !s->message_opcode)
        return fail(s, 1002); /* continuation with no message open */
    if (opcode != OP_CONTINUATION && s->message_opcode)
        return fail(s, 1002); /* new message before the last one ended */
    if (buf_length(&s->message) + len > s->max_message)
        return fail(s, 1009);
    if (opcode != OP_CONTINUATION)
        s->message_opcode = opcode;
    if (!fin || buf_length(&s->message) > 0) {
        if (buf_append(&s->message, payload, len) < 0)
            return fail(s, 1011);
        if (!fin)
            return 0;
        payload = buf_bytes(&s->message);
        len = buf_length(&s->message);
    } /* else unfragmented: delivered straight from the input buffer */
    int is_text = s->message_opcode == OP_TEXT;
    s->message_opcode = 0;
    if (is_text && !text_valid(payload, len))
        return fail(s, 1007);
    if (s->callbacks.on_message)
        s->callbacks.on_message(s->user, is_text, payload, len);
    buf_free(&s->message);
    return 0;
}

static int on_frame(struct ws_session *s, int opcode, int fin, char *payload, size_t len)
{
    switch (opcode) {
    case OP_CLOSE:
        return on_close_frame(s, (unsigned char *)payload, len);
    case OP_PING:
        if (s->close_sent)
            return 0; /* closing: a pong is no longer allowed */
        if (send_frame(s, OP_PONG, payload, len) < 0) {
            s->failed = 1;
            report_closed(s, 1006);
            return -EPROTO;
        }
        return 0;
    case OP_PONG:
        return 0;
    case OP_CONTINUATION:
    case OP_TEXT:
    case OP_BINARY:
        return on_data_frame(s, opcode, fin, payload, len);
    default:
        return fail(s, 1002);
    }
}

/* XORs the payload with the 4-byte key, 8 bytes at a time where it can (a
 * whole number of keys per word keeps the key's phase). */
static void unmask(unsigned char *payload, size_t len, const unsigned char key[4])
{
    unsigned char key8[8];
    memcpy(key8, key, 4);
    memcpy(key8 + 4, key, 4);
    uint64_t k;
    memcpy(&k, key8, sizeof(k));
    size_t i = 0;
    for (; len - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, payload + i, sizeof(w));
        w ^= k;
        memcpy(payload + i, &w, sizeof(w));
    }
    for (; i < len; i++)
        payload[i] ^= key[i & 3];
}

/* Parses one frame at the front of the input: its size, or 0 when more
 * bytes are needed, or -EPROTO (the session has failed). */
static ssize_t parse_frame(struct ws_session *s)
{
    unsigned char *p = (unsigned char *)buf_bytes(&s->input);
    size_t avail = buf_length(&s->input);
    if (avail < 2)
        return 0;
    int fin = p[0] >> 7, rsv = (p[0] >> 4) & 7, opcode = p[0] & 15;
    int masked = p[1] >> 7;
    uint64_t len = p[1] & 127;
    size_t header = 2;
    if (rsv || masked != (s->role == WS_SERVER))
        return fail(s, 1002);
    if (opcode >= 8 && (!fin || len > 125))
        return fail(s, 1002);
    if (len == 126) {
        if (avail < 4)
            return 0;
        len = (uint64_t)p[2] << 8 | p[3];
        header = 4;
    } else if (len == 127) {
        if (avail < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        header = 10;
        if (len >> 63)
            return fail(s, 1002);
    }
    if (len > s->max_message)
        return fail(s, 1009);
    size_t total = header + (masked ? 4 : 0) + (size_t)len;
    if (avail < total)
        return 0;
    unsigned char *payload = p + header + (masked ? 4 : 0);
    if (masked)
        unmask(payload, (size_t)len, p + header);
    int rc = on_frame(s, opcode, fin, (char *)payload, (size_t)len);
    return rc < 0 ? rc : (ssize_t)total;
}

int ws_session_feed(struct ws_session *s, const char *data, size_t len)
{
    if (s->failed || s->close_received)
        return s->failed ? -EPROTO : 0;
    if (buf_append(&s->input, data, len) < 0)
        return fail(s, 1011);
    for (;;) {
        ssize_t n = parse_frame(s);
        if (n < 0)
            return -EPROTO;
        if (n == 0 || s->close_received)
            break;
        buf_consume(&s->input, (size_t)n);
    }
    /* Idle sessions keep no storage. */
    if (s->close_received || buf_length(&s->input) == 0)
        buf_free(&s->input);
    return 0;
}

int ws_send_text(struct ws_session *s, const char *data, size_t len)
{
    return send_frame(s, OP_TEXT, data, len);
}

int ws_send_ping(struct ws_session *s)
{
    return send_frame(s, OP_PING, NULL, 0);
}

int ws_send_close(struct ws_session *s, uint16_t code, const char *reason)
{
    char payload[125];
    size_t reason_len = reason ? strlen(reason) : 0;
    if (reason_len > 123)
        reason_len = 123;
    payload[0] = (char)(code >> 8);
    payload[1] = (char)code;
    if (reason_len)
        memcpy(payload + 2, reason, reason_len);
    return send_frame(s, OP_CLOSE, payload, 2 + reason_len);
}

int ws_session_finished(const struct ws_session *s)
{
    return s->closed_reported || s->close_sent || s->failed;
}
