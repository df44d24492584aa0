/* Load generator for bench/run: publish -> deliver latency and delivered
 * events/s of 1 KB events over loopback, against tether's broker (AppSync
 * Events over WebSocket, through the project's own network layer) or against
 * Redis pub/sub, plus idle memory per connection.
 *
 * Clients, kept lean so that the generator is not what limits a run:
 *   tether: conn.h connections, the HTTP upgrade written here and checked with
 *     http.h and ws_accept_key, frames sent through a ws.h client session
 *     (masked, as RFC 6455 requires) and received by read_frames() below;
 *   redis (--redis-client lean, the default): the same conn.h transport with a
 *     minimal RESP reader; --redis-client hiredis uses hiredis's async API on
 *     hiredis/adapters/libuv.h instead (slower: see read_resp's comment).
 * Both subscribers' paths do the same per message: find the fixed-width
 * "bench_ts" and "bench_seq" fields of the event, nothing else.
 *
 * One process, one libuv loop, one run:
 *   events_bench pubsub --target tether|redis --port P [--api-key K] --subscribers N
 *       connects N subscribers and one publisher, then
 *       1. latency: one event in flight at a time (publish, wait until every
 *          subscriber has it, publish the next); every delivery is a sample of
 *          (receive time - send time carried in the event), CLOCK_MONOTONIC;
 *       2. throughput: at most --window events published but not yet delivered
 *          to every subscriber; deliveries received during --duration seconds
 *          (after --warmup-s) divided by the duration.
 *       (--latency-only: only phase 1, so the server does a fixed amount of work)
 *       Prints: RESULT target=... subscribers=N p50_us=... p99_us=... events_per_s=...
 *       (with --pid, also the server's and the generator's CPU use during the
 *       throughput measurement)
 *   events_bench idle --target tether|redis --port P [--api-key K] --pid PID --connections N
 *       reads the server's VmRSS, opens N connections each holding one
 *       subscription, waits until they are idle, reads VmRSS again.
 *       Prints: RESULT target=... connections=N rss_before_kb=... rss_after_kb=... kb_per_conn=...
 *
 * Only 127.0.0.1. Every run ends by itself: a watchdog aborts on a stall
 * (no progress for --stall-s) or when --timeout-s is exceeded. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include "core/buf.h"
#include "core/encoding.h"
#include "events/protocol.h"
#include "net/conn.h"
#include "net/http.h"
#include "net/ws.h"

#define HOST "127.0.0.1"
#define EVENT_BYTES 1024 /* the event's JSON text */
#define DIGITS 20        /* fixed-width decimal fields in the event */
#define RING 1024        /* delivery counters, indexed by sequence number */
#define MAX_WINDOW 256
#define MAX_CONNECTING 64 /* connections being set up at once */
#define TETHER_CHANNEL "/default/bench"
#define REDIS_CHANNEL "bench"
#define REDIS_CHANNEL_LEN "5"
#define NS_PER_S 1000000000ull

enum target { TARGET_TETHER, TARGET_REDIS };
enum mode { MODE_PUBSUB, MODE_IDLE };
enum phase {
    PHASE_CONNECT,
    PHASE_SETTLE,
    PHASE_LATENCY,
    PHASE_THROUGHPUT,
    PHASE_DRAIN,
    PHASE_DONE
};

static const char *const phase_names[] = {"connect",    "settle", "latency",
                                          "throughput", "drain",  "done"};

struct options {
    enum mode mode;
    enum target target;
    int port;
    const char *api_key;
    int subscribers;
    int warmup_events;
    int latency_events;
    double warmup_s;
    double duration_s;
    int window;
    int connections;
    long pid;
    double settle_s;
    double stall_s;
    double timeout_s;
    int hiredis_client;
    int latency_only; /* no throughput phase (bench/run callgrind) */
};

struct client {
    int is_publisher;
    int ready;
    /* tether */
    struct conn *conn;
    struct http_reader http;
    int http_live;
    struct ws_session *ws; /* sends (masked frames); receiving is read_frames() */
    struct buf partial;    /* the start of a frame whose end has not arrived */
    char key[25];
    /* redis */
    redisAsyncContext *ac;
};

struct bench {
    struct options opt;
    uv_loop_t *loop;
    struct conn_context *conns;
    uv_timer_t watchdog;
    uv_timer_t step; /* settle pauses */
    uv_timer_t guard;
    struct client *subs;
    size_t nsubs;   /* subscribers (pubsub) or idle connections */
    size_t started; /* subscriber connections started */
    size_t ready;   /* subscribers subscribed */
    struct client pub;
    int finishing;
    size_t open_clients;
    enum phase phase;
    uint64_t start_ns, last_progress_ns;
    /* events */
    uint64_t next_seq;
    size_t in_flight;
    uint32_t delivered[RING];
    uint64_t latency_total; /* warm-up plus measured events */
    /* latency samples, ns */
    uint64_t *samples;
    size_t nsamples, samples_cap;
    /* throughput */
    uint64_t tp_measure_start, tp_measure_end;
    uint64_t tp_deliveries;
    int cpu_state; /* 0: not sampled, 1: start sampled, 2: both */
    uint64_t cpu_start_ns, cpu_end_ns;
    double server_cpu_start, server_cpu_end, own_cpu_start, own_cpu_end;
    uint64_t published;
    /* messages: templates patched in place before each send */
    char *pub_msg; /* tether: the publish message; redis: PUBLISH in RESP (lean) or the event */
    size_t pub_len;
    size_t ts_at, seq_at; /* offsets of the digit fields in pub_msg */
    char upgrade_prefix[1024];
    long rss_before_kb;
};

static struct bench B;

static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "events_bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void progress(void)
{
    B.last_progress_ns = now_ns();
}

static void put_digits(char *at, uint64_t value)
{
    for (int i = DIGITS - 1; i >= 0; i--) {
        at[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

/* The 20 digits that follow key (skipping at most 5 quote/colon/backslash
 * characters); 0 or -1. This is all a subscriber parses of a message. */
static int digits_after(const char *data, size_t len, const char *key, size_t key_len,
                        uint64_t *out, const char **rest)
{
    /* The fields sit near the start: a plain scan beats memmem's set-up here. */
    const char *end = data + len, *p = data;
    while ((p = memchr(p, key[0], (size_t)(end - p))) != NULL) {
        if ((size_t)(end - p) >= key_len && memcmp(p, key, key_len) == 0)
            break;
        p++;
    }
    if (!p)
        return -1;
    p += key_len;
    for (int skip = 0; p < end && (*p < '0' || *p > '9') && skip < 5; skip++)
        p++;
    if (end - p < DIGITS)
        return -1;
    uint64_t v = 0;
    for (int i = 0; i < DIGITS; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *out = v;
    *rest = p + DIGITS;
    return 0;
}

/* ---- the measurement ---- */

static void finish(void);
static void publish_one(void);

static void record_sample(uint64_t ns)
{
    if (B.nsamples == B.samples_cap) {
        size_t cap = B.samples_cap ? B.samples_cap * 2 : 65536;
        uint64_t *grown = realloc(B.samples, cap * sizeof(*grown));
        if (!grown)
            fatal("out of memory");
        B.samples = grown;
        B.samples_cap = cap;
    }
    B.samples[B.nsamples++] = ns;
}

static void fill_window(void)
{
    while (B.phase == PHASE_THROUGHPUT && B.in_flight < (size_t)B.opt.window)
        publish_one();
}

static void start_throughput(uint64_t now)
{
    B.phase = PHASE_THROUGHPUT;
    B.tp_measure_start = now + (uint64_t)(B.opt.warmup_s * NS_PER_S);
    B.tp_measure_end = B.tp_measure_start + (uint64_t)(B.opt.duration_s * NS_PER_S);
    fill_window();
}

static void event_complete(uint64_t now)
{
    B.in_flight--;
    switch (B.phase) {
    case PHASE_LATENCY:
        if (B.next_seq < B.latency_total)
            publish_one();
        else if (B.opt.latency_only)
            finish();
        else
            start_throughput(now);
        break;
    case PHASE_THROUGHPUT:
        if (now < B.tp_measure_end) {
            fill_window();
            break;
        }
        B.phase = PHASE_DRAIN;
        if (B.in_flight == 0)
            finish();
        break;
    case PHASE_DRAIN:
        if (B.in_flight == 0)
            finish();
        break;
    default:
        fatal("an event completed in phase %s", phase_names[B.phase]);
    }
}

/* CPU seconds (user + system) the server has used so far. */
static double server_cpu_seconds(void)
{
    char path[64], text[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", B.opt.pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    /* Fields after the command name (which may hold spaces): state is 3, utime 14, stime 15. */
    const char *p = strrchr(text, ')');
    unsigned long utime, stime;
    if (!p ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double own_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void sample_cpu(uint64_t now, uint64_t *at, double *server, double *own)
{
    *at = now;
    *server = B.opt.pid ? server_cpu_seconds() : -1;
    *own = own_cpu_seconds();
    B.cpu_state++;
}

/* One subscriber received one event (payload: the data message or the raw
 * event; both carry the fixed-width "bench_ts" and "bench_seq" fields). */
static void on_delivery(const char *data, size_t len)
{
    uint64_t now = now_ns();
    uint64_t ts, seq;
    const char *rest;
    if (digits_after(data, len, "bench_ts", 8, &ts, &rest) < 0 ||
        digits_after(rest, (size_t)(data + len - rest), "bench_seq", 9, &seq, &rest) < 0)
        fatal("a delivery without timestamp: %.*s", (int)(len < 200 ? len : 200), data);
    if (seq >= B.next_seq || B.next_seq - seq > RING)
        fatal("unexpected sequence number %" PRIu64 " (next %" PRIu64 ")", seq, B.next_seq);
    B.last_progress_ns = now;
    if (B.phase == PHASE_LATENCY) {
        if (seq >= (uint64_t)B.opt.warmup_events)
            record_sample(now - ts);
    } else if (now >= B.tp_measure_start) {
        if (now < B.tp_measure_end) {
            if (B.cpu_state == 0)
                sample_cpu(now, &B.cpu_start_ns, &B.server_cpu_start, &B.own_cpu_start);
            B.tp_deliveries++;
        } else if (B.cpu_state == 1) {
            sample_cpu(now, &B.cpu_end_ns, &B.server_cpu_end, &B.own_cpu_end);
        }
    }
    if (++B.delivered[seq % RING] == B.nsubs)
        event_complete(now);
}

/* ---- tether: the AppSync Events realtime protocol ---- */

static const struct conn_callbacks tether_conn_callbacks;
static const struct ws_callbacks tether_ws_callbacks;

static int tether_write(void *user, const void *data, size_t len)
{
    struct client *c = user;
    return conn_write(c->conn, data, len);
}

static void tether_connect(struct client *c)
{
    struct http_limits limits = {16 * 1024, 16 * 1024};
    http_reader_init(&c->http, HTTP_RESPONSE, &limits);
    c->http_live = 1;
    int rc = conn_connect_via(B.conns, HOST, (uint16_t)B.opt.port, NULL, NULL, NULL,
                              &tether_conn_callbacks, c, &c->conn);
    if (rc < 0)
        fatal("connect: %s", strerror(-rc));
    B.open_clients++;
}

static void tether_on_open(struct conn *conn, int status, const char *cause)
{
    struct client *c = conn_user(conn);
    if (status < 0)
        fatal("tether: %s", cause ? cause : "connect failed");
    if (ws_new_client_key(c->key) < 0)
        fatal("no randomness for Sec-WebSocket-Key");
    char request[1200];
    int n = snprintf(request, sizeof(request), "%sSec-WebSocket-Key: %s\r\n\r\n", B.upgrade_prefix,
                     c->key);
    conn_write(conn, request, (size_t)n);
}

static void client_ready(struct client *c);

static void tether_upgraded(struct client *c)
{
    const struct http_message *m = &c->http.message;
    char expected[29];
    ws_accept_key(c->key, expected);
    const char *accept = http_header_get(m, "sec-websocket-accept");
    const char *protocol = http_header_get(m, "sec-websocket-protocol");
    if (m->status != 101)
        fatal("tether: upgrade answered %d: %.*s", m->status, (int)buf_length(&m->body),
              buf_bytes(&m->body));
    if (!accept || strcmp(accept, expected) != 0 || !protocol ||
        strcmp(protocol, EVENTS_SUBPROTOCOL) != 0)
        fatal("tether: bad upgrade response headers");
    http_reader_free(&c->http);
    c->http_live = 0;
    c->ws =
        ws_session_new(WS_CLIENT, EVENTS_MAX_MESSAGE_BYTES, &tether_ws_callbacks, tether_write, c);
    if (!c->ws)
        fatal("out of memory");
    if (c->is_publisher) {
        client_ready(c);
        return;
    }
    struct buf subscribe = BUF_INIT, key = BUF_INIT;
    json_quote(&key, B.opt.api_key, strlen(B.opt.api_key));
    buf_printf(&subscribe,
               "{\"type\":\"subscribe\",\"id\":\"s1\",\"channel\":\"" TETHER_CHANNEL
               "\",\"authorization\":{\"host\":\"" HOST ":%d\",\"x-api-key\":%.*s}}",
               B.opt.port, (int)buf_length(&key), buf_bytes(&key));
    if (ws_send_text(c->ws, buf_bytes(&subscribe), buf_length(&subscribe)) < 0)
        fatal("tether: sending subscribe failed");
    buf_free(&subscribe);
    buf_free(&key);
}

static int starts_with(const char *data, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(data, prefix, n) == 0;
}

static void tether_on_message(void *user, int is_text, const char *data, size_t len)
{
    struct client *c = user;
    if (starts_with(data, len, "{\"type\":\"data\"")) {
        on_delivery(data, len);
        return;
    }
    if (starts_with(data, len, "{\"type\":\"ka\"") ||
        starts_with(data, len, "{\"type\":\"publish_success\""))
        return;
    if (!c->ready && !c->is_publisher && memmem(data, len, "\"subscribe_success\"", 19)) {
        client_ready(c);
        return;
    }
    fatal("tether: unexpected message: %.*s", (int)(len < 300 ? len : 300), data);
}

typedef size_t (*stream_reader)(struct client *c, const char *data, size_t len);

/* Hands received bytes to a reader that takes whole messages only, keeping
 * the incomplete tail for the next read. */
static void feed_stream(struct client *c, const char *data, size_t len, stream_reader reader)
{
    struct buf *partial = &c->partial;
    if (buf_length(partial) == 0) {
        /* Fast path: whole messages straight from the read buffer. */
        size_t used = reader(c, data, len);
        if (used < len && buf_append(partial, data + used, len - used) < 0)
            fatal("out of memory");
        return;
    }
    if (buf_append(partial, data, len) < 0)
        fatal("out of memory");
    buf_consume(partial, reader(c, buf_bytes(partial), buf_length(partial)));
    if (buf_length(partial) == 0)
        buf_reset(partial);
}

/* The receive side of the subscribers' and the publisher's WebSockets: a
 * lean frame reader instead of ws_session_feed, so that the load generator
 * stays cheap per message (wslay validates UTF-8 byte by byte, which made it
 * the generator's main cost). The broker sends each message as one unmasked
 * frame; anything else ends the run. Returns the bytes consumed (whole
 * frames only). */
static size_t read_frames(struct client *c, const char *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t at = 0;
    while (len - at >= 2) {
        const unsigned char *h = p + at;
        size_t header = 2;
        uint64_t size = h[1] & 0x7f;
        if (size == 126) {
            if (len - at < 4)
                break;
            size = (uint64_t)h[2] << 8 | h[3];
            header = 4;
        } else if (size == 127) {
            if (len - at < 10)
                break;
            size = 0;
            for (int i = 2; i < 10; i++)
                size = size << 8 | h[i];
            header = 10;
        }
        if (h[1] & 0x80)
            fatal("tether: the broker sent a masked frame");
        if (size > EVENTS_MAX_MESSAGE_BYTES)
            fatal("tether: a %" PRIu64 "-byte frame", size);
        if (len - at - header < size)
            break;
        const char *payload = data + at + header;
        int fin = h[0] & 0x80, opcode = h[0] & 0x0f;
        at += header + (size_t)size;
        if (opcode == 0x1 && fin)
            tether_on_message(c, 1, payload, (size_t)size);
        else if (opcode == 0x8) {
            if (!B.finishing)
                fatal("tether: the broker closed the WebSocket");
        } else if (opcode == 0x9 || opcode == 0xa) {
            /* ping/pong: the broker keeps connections alive with "ka" messages instead */
        } else {
            fatal("tether: unexpected frame (opcode %d, fin %d)", opcode, fin != 0);
        }
    }
    return at;
}

static void tether_on_data(struct conn *conn, const char *data, size_t len)
{
    struct client *c = conn_user(conn);
    if (!c->ws) {
        ssize_t n = http_reader_feed(&c->http, data, len);
        if (n < 0)
            fatal("tether: bad upgrade response: %s", c->http.error);
        if (c->http.state != HTTP_READER_COMPLETE)
            return;
        data += n;
        len -= (size_t)n;
        tether_upgraded(c);
    }
    feed_stream(c, data, len, read_frames);
}

static void tether_on_ws_closed(void *user, uint16_t code)
{
    if (!B.finishing)
        fatal("tether: websocket closed by the broker (code %u)", code);
}

static void client_closed(void);

static void tether_on_close(struct conn *conn, int status, const char *cause)
{
    struct client *c = conn_user(conn);
    if (!B.finishing)
        fatal("tether: connection closed: %s", cause ? cause : "(no cause)");
    ws_session_free(c->ws);
    c->ws = NULL;
    buf_free(&c->partial);
    if (c->http_live)
        http_reader_free(&c->http);
    c->http_live = 0;
    c->conn = NULL;
    client_closed();
}

static const struct conn_callbacks tether_conn_callbacks = {tether_on_open, tether_on_data,
                                                            tether_on_close};
static const struct ws_callbacks tether_ws_callbacks = {tether_on_message, tether_on_ws_closed};

static void tether_prepare(void)
{
    /* header-<base64url of the auth headers> subprotocol, as the clients send it */
    struct buf auth = BUF_INIT, key = BUF_INIT, encoded = BUF_INIT;
    json_quote(&key, B.opt.api_key, strlen(B.opt.api_key));
    buf_printf(&auth, "{\"host\":\"" HOST ":%d\",\"x-api-key\":%.*s}", B.opt.port,
               (int)buf_length(&key), buf_bytes(&key));
    base64url_encode(&encoded, buf_bytes(&auth), buf_length(&auth));
    int n = snprintf(B.upgrade_prefix, sizeof(B.upgrade_prefix),
                     "GET /event/realtime HTTP/1.1\r\nHost: " HOST ":%d\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: " EVENTS_SUBPROTOCOL ", header-%.*s\r\n",
                     B.opt.port, (int)buf_length(&encoded), buf_bytes(&encoded));
    if (n < 0 || (size_t)n >= sizeof(B.upgrade_prefix))
        fatal("API key too long");
    buf_free(&auth);
    buf_free(&encoded);
    buf_free(&key);
}

static void tether_close(struct client *c)
{
    if (!c->conn)
        return;
    if (c->ws)
        ws_send_close(c->ws, 1000, "done");
    conn_close(c->conn, 0, NULL);
}

/* ---- redis ---- */

static void redis_on_connect(const redisAsyncContext *ac, int status)
{
    if (status != REDIS_OK)
        fatal("redis: connect: %s", ac->errstr);
}

static void redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    struct client *c = ac->data;
    if (!B.finishing)
        fatal("redis: disconnected: %s", ac->errstr);
    c->ac = NULL;
    client_closed();
}

static void redis_on_message(redisAsyncContext *ac, void *r, void *privdata)
{
    struct client *c = privdata;
    redisReply *reply = r;
    if (!reply) /* disconnecting */
        return;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
        fatal("redis: unexpected reply type %d", reply->type);
    const redisReply *kind = reply->element[0], *payload = reply->element[2];
    if (kind->len == 7 && memcmp(kind->str, "message", 7) == 0)
        on_delivery(payload->str, payload->len);
    else if (kind->len == 9 && memcmp(kind->str, "subscribe", 9) == 0)
        client_ready(c);
    else
        fatal("redis: unexpected %.*s", (int)kind->len, kind->str);
}

static void redis_on_publisher_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct client *c = privdata;
    redisReply *reply = r;
    if (!reply)
        return;
    if (reply->type == REDIS_REPLY_ERROR)
        fatal("redis: %s", reply->str);
    if (!c->ready) /* the PING that tells the publisher is connected */
        client_ready(c);
}

/* Lean Redis clients (the default): the same transport as tether's
 * clients (conn.h) and a minimal RESP2 reader for the replies a subscriber
 * gets, [kind, channel, payload-or-count], instead of hiredis's reader and
 * its libuv adapter (which re-registers the socket with epoll after every
 * read). --redis-client hiredis selects the hiredis path. The publisher
 * likewise writes a ready-made PUBLISH command and reads the ":N" replies. */

/* An integer line (":12\r\n", "$1024\r\n", "*3\r\n") at p; returns the byte
 * after it, or NULL when the line is not complete yet. */
static const char *resp_number(const char *p, const char *end, long long *out)
{
    long long v = 0;
    int negative = 0;
    const char *q = p + 1;
    if (q < end && *q == '-') {
        negative = 1;
        q++;
    }
    for (; q < end && *q >= '0' && *q <= '9'; q++)
        v = v * 10 + (*q - '0');
    if (end - q < 2)
        return NULL;
    if (q[0] != '\r' || q[1] != '\n')
        fatal("redis: malformed reply line");
    *out = negative ? -v : v;
    return q + 2;
}

static size_t read_resp(struct client *c, const char *data, size_t len)
{
    const char *end = data + len, *p = data;
    while (p < end) {
        if (*p == '-')
            fatal("redis: %.*s", (int)(end - p < 200 ? end - p : 200), p);
        if (*p == ':' || *p == '+') { /* the publisher's replies: PUBLISH count, PONG */
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl)
                break;
            if (*p == '+' && c->is_publisher)
                client_ready(c);
            p = nl + 1;
            continue;
        }
        if (*p != '*')
            fatal("redis: unexpected reply type '%c'", *p);
        long long count;
        const char *q = resp_number(p, end, &count);
        if (!q)
            break;
        if (count != 3)
            fatal("redis: a %lld-element reply", count);
        const char *kind = NULL, *payload = NULL;
        long long kind_len = 0, payload_len = 0;
        int i;
        for (i = 0; i < 3 && q < end; i++) {
            long long n;
            const char *item = resp_number(q, end, &n);
            if (!item)
                break;
            if (*q == ':') {
                q = item;
                continue;
            }
            if (*q != '$' || n < 0)
                fatal("redis: unexpected reply item '%c'", *q);
            if (end - item < n + 2)
                break;
            if (i == 0) {
                kind = item;
                kind_len = n;
            } else if (i == 2) {
                payload = item;
                payload_len = n;
            }
            q = item + n + 2;
        }
        if (i < 3)
            break; /* incomplete */
        p = q;
        if (kind_len == 7 && memcmp(kind, "message", 7) == 0 && payload)
            on_delivery(payload, (size_t)payload_len);
        else if (kind_len == 9 && memcmp(kind, "subscribe", 9) == 0)
            client_ready(c);
        else
            fatal("redis: unexpected %.*s", (int)kind_len, kind ? kind : "");
    }
    return (size_t)(p - data);
}

static void lean_redis_on_open(struct conn *conn, int status, const char *cause)
{
    static const char subscribe[] =
        "*2\r\n$9\r\nSUBSCRIBE\r\n$" REDIS_CHANNEL_LEN "\r\n" REDIS_CHANNEL "\r\n";
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    struct client *c = conn_user(conn);
    if (status < 0)
        fatal("redis: %s", cause ? cause : "connect failed");
    if (c->is_publisher)
        conn_write(conn, ping, sizeof(ping) - 1);
    else
        conn_write(conn, subscribe, sizeof(subscribe) - 1);
}

static void lean_redis_on_data(struct conn *conn, const char *data, size_t len)
{
    feed_stream(conn_user(conn), data, len, read_resp);
}

static void lean_redis_on_close(struct conn *conn, int status, const char *cause)
{
    struct client *c = conn_user(conn);
    if (!B.finishing)
        fatal("redis: connection closed: %s", cause ? cause : "(no cause)");
    buf_free(&c->partial);
    c->conn = NULL;
    client_closed();
}

static const struct conn_callbacks lean_redis_callbacks = {lean_redis_on_open, lean_redis_on_data,
                                                           lean_redis_on_close};

static void redis_connect(struct client *c)
{
    if (!B.opt.hiredis_client) {
        int rc = conn_connect_via(B.conns, HOST, (uint16_t)B.opt.port, NULL, NULL, NULL,
                                  &lean_redis_callbacks, c, &c->conn);
        if (rc < 0)
            fatal("connect: %s", strerror(-rc));
        B.open_clients++;
        return;
    }
    c->ac = redisAsyncConnect(HOST, B.opt.port);
    if (!c->ac || c->ac->err)
        fatal("redis: %s", c->ac ? c->ac->errstr : "out of memory");
    c->ac->data = c;
    if (redisLibuvAttach(c->ac, B.loop) != REDIS_OK)
        fatal("redis: cannot attach to libuv");
    redisAsyncSetConnectCallback(c->ac, redis_on_connect);
    redisAsyncSetDisconnectCallback(c->ac, redis_on_disconnect);
    int rc = c->is_publisher
                 ? redisAsyncCommand(c->ac, redis_on_publisher_reply, c, "PING")
                 : redisAsyncCommand(c->ac, redis_on_message, c, "SUBSCRIBE %s", REDIS_CHANNEL);
    if (rc != REDIS_OK)
        fatal("redis: cannot queue a command");
    B.open_clients++;
}

static void redis_close(struct client *c)
{
    if (c->conn)
        conn_close(c->conn, 0, NULL);
    else if (c->ac)
        redisAsyncDisconnect(c->ac);
}

/* ---- publishing ---- */

static void prepare_messages(void)
{
    char event[EVENT_BYTES + 1];
    char zeros[DIGITS + 1];
    memset(zeros, '0', DIGITS);
    zeros[DIGITS] = '\0';
    int n = snprintf(event, sizeof(event), "{\"bench_ts\":\"%s\",\"bench_seq\":\"%s\",\"pad\":\"",
                     zeros, zeros);
    memset(event + n, 'x', (size_t)(EVENT_BYTES - n - 2));
    memcpy(event + EVENT_BYTES - 2, "\"}", 3);
    struct buf msg = BUF_INIT;
    if (B.opt.target == TARGET_TETHER) {
        struct buf key = BUF_INIT;
        json_quote(&key, B.opt.api_key, strlen(B.opt.api_key));
        buf_append_str(&msg, "{\"type\":\"publish\",\"id\":\"p1\",\"channel\":\"" TETHER_CHANNEL
                             "\",\"events\":[");
        json_quote(&msg, event, EVENT_BYTES);
        buf_printf(&msg, "],\"authorization\":{\"host\":\"" HOST ":%d\",\"x-api-key\":%.*s}}",
                   B.opt.port, (int)buf_length(&key), buf_bytes(&key));
        buf_free(&key);
    } else if (B.opt.hiredis_client) {
        buf_append(&msg, event, EVENT_BYTES);
    } else {
        buf_printf(&msg,
                   "*3\r\n$7\r\nPUBLISH\r\n$" REDIS_CHANNEL_LEN "\r\n" REDIS_CHANNEL "\r\n$%d\r\n",
                   EVENT_BYTES);
        buf_append(&msg, event, EVENT_BYTES);
        buf_append_str(&msg, "\r\n");
    }
    B.pub_msg = buf_steal(&msg, &B.pub_len);
    const char *rest;
    uint64_t v;
    if (digits_after(B.pub_msg, B.pub_len, "bench_ts", 8, &v, &rest) < 0)
        fatal("bad template");
    B.ts_at = (size_t)(rest - B.pub_msg) - DIGITS;
    if (digits_after(rest, B.pub_len - (size_t)(rest - B.pub_msg), "bench_seq", 9, &v, &rest) < 0)
        fatal("bad template");
    B.seq_at = (size_t)(rest - B.pub_msg) - DIGITS;
}

static void publish_one(void)
{
    uint64_t seq = B.next_seq++;
    B.delivered[seq % RING] = 0;
    B.in_flight++;
    B.published++;
    put_digits(B.pub_msg + B.seq_at, seq);
    put_digits(B.pub_msg + B.ts_at, now_ns());
    if (B.opt.target == TARGET_TETHER) {
        if (ws_send_text(B.pub.ws, B.pub_msg, B.pub_len) < 0)
            fatal("tether: publish failed");
        conn_flush(B.pub.conn); /* now, not at the end of this loop iteration */
    } else if (!B.opt.hiredis_client) {
        if (conn_write(B.pub.conn, B.pub_msg, B.pub_len) < 0)
            fatal("redis: publish failed");
        conn_flush(B.pub.conn);
    } else {
        if (redisAsyncCommand(B.pub.ac, redis_on_publisher_reply, &B.pub, "PUBLISH %s %b",
                              REDIS_CHANNEL, B.pub_msg, B.pub_len) != REDIS_OK)
            fatal("redis: publish failed");
        redisAsyncHandleWrite(B.pub.ac); /* now, not when the loop next polls */
    }
}

/* ---- connections and phases ---- */

static void connect_client(struct client *c)
{
    if (B.opt.target == TARGET_TETHER)
        tether_connect(c);
    else
        redis_connect(c);
}

static void connect_more(void)
{
    while (B.started < B.nsubs && B.started - B.ready < MAX_CONNECTING)
        connect_client(&B.subs[B.started++]);
}

static long read_rss_kb(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        fatal("cannot read %s: %s", path, strerror(errno));
    long kb = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    if (kb < 0)
        fatal("no VmRSS in %s", path);
    return kb;
}

static void on_settled(uv_timer_t *timer)
{
    progress();
    if (B.opt.mode == MODE_IDLE) {
        long after = read_rss_kb(B.opt.pid);
        printf("RESULT target=%s connections=%zu rss_before_kb=%ld rss_after_kb=%ld "
               "kb_per_conn=%.2f\n",
               B.opt.target == TARGET_TETHER ? "tether" : "redis", B.nsubs, B.rss_before_kb, after,
               (double)(after - B.rss_before_kb) / (double)B.nsubs);
        fflush(stdout);
        finish();
        return;
    }
    B.phase = PHASE_LATENCY;
    publish_one();
}

static void all_ready(void)
{
    B.phase = PHASE_SETTLE;
    uv_timer_start(&B.step, on_settled, (uint64_t)(B.opt.settle_s * 1000), 0);
}

static void client_ready(struct client *c)
{
    if (c->ready)
        return;
    c->ready = 1;
    progress();
    if (!c->is_publisher) {
        B.ready++;
        connect_more();
    }
    if (B.ready == B.nsubs && (B.opt.mode == MODE_IDLE || B.pub.ready))
        all_ready();
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double percentile_us(double p)
{
    if (B.nsamples == 0)
        return 0;
    size_t i = (size_t)(p * (double)(B.nsamples - 1) + 0.5);
    return (double)B.samples[i] / 1000.0;
}

static void report_pubsub(void)
{
    qsort(B.samples, B.nsamples, sizeof(*B.samples), compare_u64);
    double rate = (double)B.tp_deliveries / B.opt.duration_s;
    double wall = B.cpu_state == 2 ? (double)(B.cpu_end_ns - B.cpu_start_ns) / 1e9 : 0;
    double server_pct = wall > 0 && B.server_cpu_start >= 0 && B.server_cpu_end >= 0
                            ? 100 * (B.server_cpu_end - B.server_cpu_start) / wall
                            : -1;
    double own_pct = wall > 0 ? 100 * (B.own_cpu_end - B.own_cpu_start) / wall : -1;
    /* Server CPU time per delivered event: what the server spends, however
     * much of the machine it got (the machine may be shared). */
    double server_us = server_pct >= 0 && B.tp_deliveries
                           ? (B.server_cpu_end - B.server_cpu_start) * 1e6 / (double)B.tp_deliveries
                           : -1;
    printf("RESULT target=%s subscribers=%zu p50_us=%.1f p99_us=%.1f events_per_s=%.0f "
           "server_cpu_pct=%.0f loadgen_cpu_pct=%.0f server_cpu_us_per_delivery=%.3f "
           "samples=%zu published=%" PRIu64 "\n",
           B.opt.target == TARGET_TETHER ? "tether" : "redis", B.nsubs, percentile_us(0.50),
           percentile_us(0.99), rate, server_pct, own_pct, server_us, B.nsamples, B.published);
    fflush(stdout);
}

static void on_guard(uv_timer_t *timer)
{
    fprintf(stderr, "events_bench: connections did not close in time; exiting anyway\n");
    exit(0);
}

static void client_closed(void)
{
    if (--B.open_clients > 0)
        return;
    if (B.conns) {
        conn_context_free(B.conns);
        B.conns = NULL;
    }
    uv_close((uv_handle_t *)&B.guard, NULL);
}

static void close_client(struct client *c)
{
    if (B.opt.target == TARGET_TETHER)
        tether_close(c);
    else
        redis_close(c);
}

static void finish(void)
{
    if (B.finishing)
        return;
    B.finishing = 1;
    B.phase = PHASE_DONE;
    if (B.opt.mode == MODE_PUBSUB)
        report_pubsub();
    uv_close((uv_handle_t *)&B.watchdog, NULL);
    uv_close((uv_handle_t *)&B.step, NULL);
    /* Bounded: connections that do not close within 5 s are left to exit(). */
    uv_timer_start(&B.guard, on_guard, 5000, 0);
    uv_unref((uv_handle_t *)&B.guard);
    if (B.opt.mode == MODE_PUBSUB)
        close_client(&B.pub);
    for (size_t i = 0; i < B.started; i++)
        close_client(&B.subs[i]);
    if (B.open_clients == 0)
        client_closed();
}

static void on_watchdog(uv_timer_t *timer)
{
    uint64_t now = now_ns();
    if (now - B.last_progress_ns > (uint64_t)(B.opt.stall_s * NS_PER_S))
        fatal("no progress for %.0f s in phase %s (%zu/%zu subscribers ready, %zu events in "
              "flight)",
              B.opt.stall_s, phase_names[B.phase], B.ready, B.nsubs, B.in_flight);
    if (now - B.start_ns > (uint64_t)(B.opt.timeout_s * NS_PER_S))
        fatal("run exceeded %.0f s in phase %s", B.opt.timeout_s, phase_names[B.phase]);
}

/* ---- command line ---- */

static void usage(void)
{
    fprintf(stderr,
            "usage: events_bench pubsub|idle --target tether|redis --port PORT [options]\n"
            "       events_bench free-port\n"
            "  --api-key KEY         tether API key\n"
            "  --subscribers N       pubsub: subscriber connections (default 1)\n"
            "  --warmup-events N     pubsub: latency events not measured (default 200)\n"
            "  --latency-events N    pubsub: measured latency events (default 2000)\n"
            "  --warmup-s S          pubsub: throughput warm-up (default 0.5)\n"
            "  --duration S          pubsub: throughput measurement (default 3)\n"
            "  --window N            pubsub: events in flight at most (default 64)\n"
            "  --latency-only        pubsub: end after the latency events (a fixed workload)\n"
            "  --connections N       idle: connections to open (default 2000)\n"
            "  --pid PID             the server (idle: its RSS; pubsub: its CPU use)\n"
            "  --settle-s S          pause once connected (default 0.2 pubsub, 1 idle)\n"
            "  --stall-s S           give up after S seconds without progress (default 10)\n"
            "  --timeout-s S         give up after S seconds (default 120)\n"
            "  --redis-client lean|hiredis\n"
            "                        the Redis client code (default lean: see the source)\n");
    exit(2);
}

static double number(const char *text, double min, double max)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || v < min || v > max) {
        fprintf(stderr, "events_bench: bad number %s (%g..%g)\n", text, min, max);
        exit(2);
    }
    return v;
}

static void parse_options(int argc, char **argv, struct options *o)
{
    enum {
        O_TARGET = 1,
        O_PORT,
        O_KEY,
        O_SUBS,
        O_WEV,
        O_LEV,
        O_WS,
        O_DUR,
        O_WIN,
        O_CONNS,
        O_PID,
        O_SETTLE,
        O_TIMEOUT,
        O_REDIS_CLIENT,
        O_STALL,
        O_LATENCY_ONLY,
    };
    static const struct option longopts[] = {
        {"target", required_argument, 0, O_TARGET},
        {"port", required_argument, 0, O_PORT},
        {"api-key", required_argument, 0, O_KEY},
        {"subscribers", required_argument, 0, O_SUBS},
        {"warmup-events", required_argument, 0, O_WEV},
        {"latency-events", required_argument, 0, O_LEV},
        {"warmup-s", required_argument, 0, O_WS},
        {"duration", required_argument, 0, O_DUR},
        {"window", required_argument, 0, O_WIN},
        {"connections", required_argument, 0, O_CONNS},
        {"pid", required_argument, 0, O_PID},
        {"settle-s", required_argument, 0, O_SETTLE},
        {"timeout-s", required_argument, 0, O_TIMEOUT},
        {"redis-client", required_argument, 0, O_REDIS_CLIENT},
        {"stall-s", required_argument, 0, O_STALL},
        {"latency-only", no_argument, 0, O_LATENCY_ONLY},
        {0, 0, 0, 0},
    };
    if (argc < 2)
        usage();
    if (strcmp(argv[1], "pubsub") == 0)
        o->mode = MODE_PUBSUB;
    else if (strcmp(argv[1], "idle") == 0)
        o->mode = MODE_IDLE;
    else
        usage();
    *o = (struct options){.mode = o->mode,
                          .target = TARGET_TETHER,
                          .subscribers = 1,
                          .warmup_events = 200,
                          .latency_events = 2000,
                          .warmup_s = 0.5,
                          .duration_s = 3,
                          .window = 64,
                          .connections = 2000,
                          .settle_s = o->mode == MODE_IDLE ? 1.0 : 0.2,
                          .stall_s = 10,
                          .timeout_s = 120};
    int target_set = 0, opt;
    optind = 2;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case O_TARGET:
            if (strcmp(optarg, "tether") == 0)
                o->target = TARGET_TETHER;
            else if (strcmp(optarg, "redis") == 0)
                o->target = TARGET_REDIS;
            else
                usage();
            target_set = 1;
            break;
        case O_PORT:
            o->port = (int)number(optarg, 1, 65535);
            break;
        case O_KEY:
            o->api_key = optarg;
            break;
        case O_SUBS:
            o->subscribers = (int)number(optarg, 1, 10000);
            break;
        case O_WEV:
            o->warmup_events = (int)number(optarg, 0, 1e6);
            break;
        case O_LEV:
            o->latency_events = (int)number(optarg, 1, 1e7);
            break;
        case O_WS:
            o->warmup_s = number(optarg, 0, 60);
            break;
        case O_DUR:
            o->duration_s = number(optarg, 0.1, 600);
            break;
        case O_WIN:
            o->window = (int)number(optarg, 1, MAX_WINDOW);
            break;
        case O_CONNS:
            o->connections = (int)number(optarg, 1, 100000);
            break;
        case O_PID:
            o->pid = (long)number(optarg, 1, 1e9);
            break;
        case O_SETTLE:
            o->settle_s = number(optarg, 0, 60);
            break;
        case O_TIMEOUT:
            o->timeout_s = number(optarg, 1, 3600);
            break;
        case O_STALL:
            o->stall_s = number(optarg, 1, 3600);
            break;
        case O_LATENCY_ONLY:
            o->latency_only = 1;
            break;
        case O_REDIS_CLIENT:
            if (strcmp(optarg, "lean") == 0)
                o->hiredis_client = 0;
            else if (strcmp(optarg, "hiredis") == 0)
                o->hiredis_client = 1;
            else
                usage();
            break;
        default:
            usage();
        }
    }
    if (optind != argc || !target_set || !o->port)
        usage();
    if (o->target == TARGET_TETHER && !o->api_key)
        fatal("--api-key is required for tether");
    if (o->mode == MODE_IDLE && !o->pid)
        fatal("--pid is required for idle");
}

/* Prints a TCP port on 127.0.0.1 that is free right now (for redis-server). */
static int print_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof(addr);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
        fatal("no free port: %s", strerror(errno));
    printf("%u\n", ntohs(addr.sin_port));
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "free-port") == 0)
        return print_free_port();
    parse_options(argc, argv, &B.opt);
    B.loop = uv_default_loop();
    B.start_ns = now_ns();
    progress();
    uv_timer_init(B.loop, &B.watchdog);
    uv_timer_init(B.loop, &B.step);
    uv_timer_init(B.loop, &B.guard);
    uv_timer_start(&B.watchdog, on_watchdog, 200, 200);
    B.conns = conn_context_new(B.loop);
    if (!B.conns)
        fatal("out of memory");
    if (B.opt.target == TARGET_TETHER)
        tether_prepare();
    B.nsubs = (size_t)(B.opt.mode == MODE_IDLE ? B.opt.connections : B.opt.subscribers);
    B.subs = calloc(B.nsubs, sizeof(*B.subs));
    if (!B.subs)
        fatal("out of memory");
    if (B.opt.mode == MODE_IDLE) {
        B.rss_before_kb = read_rss_kb(B.opt.pid);
    } else {
        B.latency_total = (uint64_t)B.opt.warmup_events + (uint64_t)B.opt.latency_events;
        prepare_messages();
        B.pub.is_publisher = 1;
        connect_client(&B.pub);
    }
    connect_more();
    uv_run(B.loop, UV_RUN_DEFAULT);
    if (!B.finishing)
        fatal("the loop ended before the run did");
    uv_loop_close(B.loop);
    free(B.subs);
    free(B.samples);
    free(B.pub_msg);
    return 0;
}
