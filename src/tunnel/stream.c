/* One SOCKS5 client after its request: opening the forward, the reply, and
 * the relay between the client's socket and the forward.
 *
 * Flow control: the client is read only while the forward accepts
 * everything read (the rest of one read waits in `up`, reading stops); the
 * forward is drained only while the previous write to the client finished
 * (one write in flight, its bytes in `down`). Memory per stream is thus one
 * read plus one write plus the forward's own cap (ssh/forward.h).
 * Half-closes pass through: the client's EOF becomes the channel's EOF and
 * the bastion's EOF becomes shutdown(SHUT_WR) on the client's socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "tunnel"
#include "core/log.h"
#include "tunnel/tunnel_internal.h"

static const char *const state_names[] = {
    [STREAM_GREETING] = "greeting", [STREAM_AUTH] = "auth",   [STREAM_REQUEST] = "request",
    [STREAM_OPENING] = "opening",   [STREAM_RELAY] = "relay", [STREAM_CLOSING] = "closing",
};

const char *stream_state_name(enum stream_state state)
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
    buf_free(&s->up);
    buf_free(&s->down);
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
                  (unsigned long long)ms, (unsigned long long)s->bytes_up,
                  (unsigned long long)s->bytes_down);
    else if (why)
        log_debug("stream %llu from %s:%u closed: %s", (unsigned long long)s->id, s->peer_ip,
                  s->peer_port, why);
    forward_close(s->forward);
    s->forward = NULL;
    uv_read_stop((uv_stream_t *)&s->tcp);
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    /* A reset is refused while a shutdown is pending (UV_EINVAL): then the
     * handle must still be closed, or the tunnel never finishes stopping. */
    if (!reset || uv_tcp_close_reset(&s->tcp, on_handle_closed) < 0)
        uv_close((uv_handle_t *)&s->tcp, on_handle_closed);
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
    if (s->close_after_write && s->writes_in_flight == 0)
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
        s->close_after_write = 1;
    else
        stream_close(s, 0, NULL);
}

/* ---- relay ---- */

static void relay_read_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct tunnel_stream *s = handle->data;
    buf->base = s->tunnel->read_buffer;
    buf->len = sizeof(s->tunnel->read_buffer);
}

static void relay_read(uv_stream_t *tcp, ssize_t nread, const uv_buf_t *buf);
static void maybe_finish(struct tunnel_stream *s);

static void start_reading(struct tunnel_stream *s)
{
    if (s->reading || s->local_eof || s->state != STREAM_RELAY)
        return;
    s->reading = 1;
    uv_read_start((uv_stream_t *)&s->tcp, relay_read_alloc, relay_read);
}

static void stop_reading(struct tunnel_stream *s)
{
    if (!s->reading)
        return;
    s->reading = 0;
    uv_read_stop((uv_stream_t *)&s->tcp);
}

/* Sends what waits in `up`; resumes reading once it is all gone. */
static void push_up(struct tunnel_stream *s)
{
    while (buf_length(&s->up) > 0) {
        ssize_t n = forward_write(s->forward, buf_bytes(&s->up), buf_length(&s->up));
        if (n < 0) {
            stream_close(s, 1, "the bastion closed the channel");
            return;
        }
        if (n == 0) {
            forward_want_write(s->forward, 1);
            return;
        }
        buf_consume(&s->up, (size_t)n);
    }
    forward_want_write(s->forward, 0);
    if (s->local_eof)
        forward_send_eof(s->forward);
    else
        start_reading(s);
}

static void relay_read(uv_stream_t *tcp, ssize_t nread, const uv_buf_t *buf)
{
    struct tunnel_stream *s = tcp->data;
    if (nread == 0 || s->state != STREAM_RELAY)
        return;
    if (nread == UV_EOF) {
        s->local_eof = 1;
        stop_reading(s);
        if (buf_length(&s->up) == 0)
            forward_send_eof(s->forward);
        maybe_finish(s);
        return;
    }
    if (nread < 0) {
        stream_close(s, 1, uv_strerror((int)nread));
        return;
    }
    s->bytes_up += (uint64_t)nread;
    s->tunnel->bytes_up += (uint64_t)nread;
    /* Bytes already waiting go first (reading stops while any wait, so this
     * only guards the order). */
    ssize_t n = buf_length(&s->up) ? 0 : forward_write(s->forward, buf->base, (size_t)nread);
    if (n < 0) {
        stream_close(s, 1, "the bastion closed the channel");
        return;
    }
    if (n < nread) {
        /* The shared read buffer is reused at once: keep the rest, stop
         * reading until the forward took it. */
        if (buf_append(&s->up, buf->base + n, (size_t)(nread - n)) < 0) {
            stream_close(s, 1, "out of memory");
            return;
        }
        stop_reading(s);
        forward_want_write(s->forward, 1);
    }
}

static void pull_down(struct tunnel_stream *s);

static void on_down_written(uv_write_t *req, int status)
{
    struct tunnel_stream *s = req->data;
    s->writing = 0;
    if (s->state != STREAM_RELAY)
        return;
    if (status < 0) {
        stream_close(s, 1, uv_strerror(status));
        return;
    }
    pull_down(s);
    maybe_finish(s);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct tunnel_stream *s = req->data;
    s->shutdown_done = 1;
    if (s->state == STREAM_RELAY)
        maybe_finish(s);
}

/* Writes what the forward received (one write in flight); passes the
 * bastion's EOF on once everything before it is written. */
static void pull_down(struct tunnel_stream *s)
{
    if (s->writing || s->shutdown_started || s->state != STREAM_RELAY)
        return;
    buf_reset(&s->down);
    size_t n = forward_take(s->forward, &s->down);
    if (n > 0) {
        uv_buf_t buf = uv_buf_init(buf_bytes(&s->down), (unsigned)n);
        s->down_req.data = s;
        int rc = uv_write(&s->down_req, (uv_stream_t *)&s->tcp, &buf, 1, on_down_written);
        if (rc < 0) {
            stream_close(s, 1, uv_strerror(rc));
            return;
        }
        s->writing = 1;
        s->bytes_down += n;
        s->tunnel->bytes_down += n;
    } else if (forward_remote_eof(s->forward)) {
        s->shutdown_started = 1;
        s->shutdown_req.data = s;
        if (uv_shutdown(&s->shutdown_req, (uv_stream_t *)&s->tcp, on_shutdown) < 0)
            s->shutdown_done = 1;
    }
}

static void maybe_finish(struct tunnel_stream *s)
{
    if (s->state != STREAM_RELAY)
        return;
    int down_done = s->shutdown_done && !s->writing;
    int up_done = s->local_eof && buf_length(&s->up) == 0;
    if (down_done && up_done)
        stream_close(s, 0, NULL);
    else if (down_done && s->forward && forward_remote_closed(s->forward))
        /* The bastion closed the channel: nothing more can go up. */
        stream_close(s, 0, "the bastion closed the channel");
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
    if (buf_length(&s->up) > 0)
        push_up(s);
    if (s->state != STREAM_RELAY)
        return;
    pull_down(s);
    maybe_finish(s);
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
    if (buf_length(&s->up) > 0)
        push_up(s);
    else
        start_reading(s);
    if (s->state == STREAM_RELAY)
        pull_down(s);
}

static void opening_event(struct tunnel_stream *s)
{
    struct forward *f = s->forward;
    char why[300];
    switch (forward_get_state(f)) {
    case FORWARD_OPEN:
        start_relay(s);
        break;
    case FORWARD_REFUSED:
        snprintf(why, sizeof(why), "the bastion could not connect: %s (reason %u)",
                 forward_failure_description(f), forward_failure_reason(f));
        stream_refuse(
            s,
            socks5_reply_for_ssh_failure(forward_failure_reason(f), forward_failure_description(f)),
            why);
        break;
    case FORWARD_LOST:
        snprintf(why, sizeof(why), "no connection to the bastion: %s",
                 forward_failure_description(f));
        stream_refuse(s, SOCKS5_REPLY_GENERAL_FAILURE, why);
        break;
    default:
        break;
    }
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
