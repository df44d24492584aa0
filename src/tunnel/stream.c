/* One SOCKS5 client after its request: opening the forward, the reply, and
 * then the relay (tunnel/relay.h: flow control and half-closes) between the
 * client's socket and the forward. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "tunnel"
#include "core/log.h"
#include "tunnel/tunnel_internal.h"

static const char *const state_names[] = {
    [STREAM_GREETING] = "greeting", [STREAM_AUTH] = "auth",   [STREAM_REQUEST] = "request",
    [STREAM_OPENING] = "opening",   [STREAM_RELAY] = "relay", [STREAM_REFUSING] = "refusing",
    [STREAM_CLOSING] = "closing",
};

static const char *stream_state_name(enum stream_state state)
{
    return (unsigned)state < sizeof(state_names) / sizeof(state_names[0]) ? state_names[state]
                                                                          : "?";
}

void stream_enter_state(struct tunnel_stream *s, enum stream_state state)
{
    if (s->state == state)
        return;
    log_trace("stream %llu (%s:%u): %s -> %s", (unsigned long long)s->id, s->peer_ip, s->peer_port,
              stream_state_name(s->state), stream_state_name(state));
    s->state = state;
}

/* ---- closing ---- */

static void on_handle_closed(uv_handle_t *handle)
{
    struct tunnel_stream *s = handle->data;
    if (--s->handles_open > 0)
        return;
    relay_free(&s->relay);
    tunnel_stream_freed(s->tunnel, s);
}

void stream_close(struct tunnel_stream *s, int reset, const char *why)
{
    if (s->state == STREAM_CLOSING)
        return;
    int was_relaying = s->state == STREAM_RELAY;
    stream_enter_state(s, STREAM_CLOSING);
    uint64_t ms = uv_now(s->tunnel->loop) - s->started_ms;
    if (was_relaying)
        log_debug("stream %llu %s closed%s%s after %llu ms: %llu bytes up, %llu down",
                  (unsigned long long)s->id, s->target, why ? ": " : "", why ? why : "",
                  (unsigned long long)ms, (unsigned long long)s->relay.bytes_up,
                  (unsigned long long)s->relay.bytes_down);
    else if (why)
        log_debug("stream %llu from %s:%u closed: %s", (unsigned long long)s->id, s->peer_ip,
                  s->peer_port, why);
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    relay_close(&s->relay, &s->forward, &s->tcp, reset, on_handle_closed);
}

/* ---- small handshake writes ---- */

struct small_write {
    uv_write_t req;
    struct tunnel_stream *stream;
    char data[16];
};

static void on_small_written(uv_write_t *req, int status)
{
    struct small_write *w = (struct small_write *)req;
    struct tunnel_stream *s = w->stream;
    free(w);
    s->writes_in_flight--;
    if (s->state == STREAM_REFUSING && s->writes_in_flight == 0)
        stream_close(s, 0, NULL);
    else if (status < 0 && s->state != STREAM_CLOSING)
        stream_close(s, 1, uv_strerror(status));
}

int stream_send_small(struct tunnel_stream *s, const void *data, size_t len)
{
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
    int n = s->writes_in_flight ? UV_EAGAIN : uv_try_write((uv_stream_t *)&s->tcp, &buf, 1);
    if (n == (int)len)
        return 0;
    if (n < 0 && n != UV_EAGAIN) {
        stream_close(s, 1, uv_strerror(n));
        return n;
    }
    size_t sent = n > 0 ? (size_t)n : 0;
    struct small_write *w = calloc(1, sizeof(*w));
    if (!w || len - sent > sizeof(w->data)) {
        free(w);
        stream_close(s, 1, "out of memory");
        return -ENOMEM;
    }
    w->stream = s;
    memcpy(w->data, (const char *)data + sent, len - sent);
    buf = uv_buf_init(w->data, (unsigned)(len - sent));
    int rc = uv_write(&w->req, (uv_stream_t *)&s->tcp, &buf, 1, on_small_written);
    if (rc < 0) {
        free(w);
        stream_close(s, 1, uv_strerror(rc));
        return rc;
    }
    s->writes_in_flight++;
    return 0;
}

void stream_refuse(struct tunnel_stream *s, uint8_t reply, const char *why)
{
    uint8_t message[SOCKS5_REPLY_SIZE];
    socks5_encode_reply(message, reply);
    s->tunnel->streams_failed++;
    log_info("SOCKS request %s from %s:%u refused (%s): %s", s->target[0] ? s->target : "(none)",
             s->peer_ip, s->peer_port, socks5_reply_name(reply), why);
    if (stream_send_small(s, message, sizeof(message)) < 0)
        return;
    if (s->writes_in_flight)
        stream_enter_state(s, STREAM_REFUSING);
    else
        stream_close(s, 0, NULL);
}

/* ---- relay ---- */

static void on_relay_bytes(struct relay *relay, uint64_t up, uint64_t down, void *user)
{
    struct tunnel_stream *s = user;
    s->tunnel->bytes_up += up;
    s->tunnel->bytes_down += down;
}

static void on_relay_finished(struct relay *relay, int reset, const char *why, void *user)
{
    stream_close(user, reset, why);
}

void stream_init_relay(struct tunnel_stream *s)
{
    static const struct relay_callbacks callbacks = {on_relay_bytes, on_relay_finished};
    relay_init(&s->relay, &relay_ssh_forward_ops, &callbacks, s, s->tunnel->read_buffer,
               sizeof(s->tunnel->read_buffer));
}

static void relay_event(struct tunnel_stream *s)
{
    if (forward_get_state(s->forward) == FORWARD_LOST) {
        s->tunnel->streams_failed++;
        log_info("stream %llu %s reset: %s", (unsigned long long)s->id, s->target,
                 forward_failure_description(s->forward));
        stream_close(s, 1, "connection to the bastion lost");
        return;
    }
    relay_forward_event(&s->relay);
}

/* ---- opening ---- */

static void start_relay(struct tunnel_stream *s)
{
    uv_timer_stop(&s->timer);
    uint8_t reply[SOCKS5_REPLY_SIZE];
    socks5_encode_reply(reply, SOCKS5_REPLY_SUCCEEDED);
    if (stream_send_small(s, reply, sizeof(reply)) < 0)
        return;
    stream_enter_state(s, STREAM_RELAY);
    log_debug("stream %llu %s open after %llu ms", (unsigned long long)s->id, s->target,
              (unsigned long long)(uv_now(s->tunnel->loop) - s->started_ms));
    relay_start(&s->relay, (uv_stream_t *)&s->tcp, s->forward);
}

static void opening_event(struct tunnel_stream *s)
{
    struct forward *f = s->forward;
    char why[300];
    if (forward_get_state(f) == FORWARD_OPEN)
        start_relay(s);
    else if (relay_forward_failure(f, why, sizeof(why)))
        stream_refuse(s,
                      forward_get_state(f) == FORWARD_LOST
                          ? SOCKS5_REPLY_GENERAL_FAILURE
                          : socks5_reply_for_ssh_failure(forward_failure_reason(f),
                                                         forward_failure_description(f)),
                      why);
}

static void on_forward_event(struct forward *f, void *user)
{
    struct tunnel_stream *s = user;
    if (s->state == STREAM_OPENING)
        opening_event(s);
    else if (s->state == STREAM_RELAY)
        relay_event(s);
}

static void on_open_timeout(uv_timer_t *timer)
{
    struct tunnel_stream *s = timer->data;
    if (s->state != STREAM_OPENING)
        return;
    char why[200];
    snprintf(why, sizeof(why), "no channel within %u ms (bastion %s)",
             s->tunnel->config.open_timeout_ms,
             bastion_state_name(bastion_get_state(s->tunnel->bastion)));
    stream_refuse(s, SOCKS5_REPLY_TTL_EXPIRED, why);
}

void stream_open_forward(struct tunnel_stream *s)
{
    static const struct forward_callbacks callbacks = {on_forward_event};
    int rc = forward_open(s->tunnel->bastion, s->target_host, s->target_port, s->peer_ip,
                          s->peer_port, &callbacks, s, &s->forward);
    if (rc < 0) {
        stream_refuse(s, SOCKS5_REPLY_GENERAL_FAILURE, "the bastion connection has failed");
        return;
    }
    uv_timer_start(&s->timer, on_open_timeout, s->tunnel->config.open_timeout_ms, 0);
    if (bastion_get_state(s->tunnel->bastion) != BASTION_READY)
        log_debug("stream %llu %s waits for the bastion (%s)", (unsigned long long)s->id, s->target,
                  bastion_state_name(bastion_get_state(s->tunnel->bastion)));
}
