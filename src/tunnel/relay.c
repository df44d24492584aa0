/* The relay between a TCP socket and a forward (see relay.h). */
#include "tunnel/relay.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ssh/forward.h"

const struct relay_forward_ops relay_ssh_forward_ops = {
    forward_write, forward_want_write, forward_send_eof,
    forward_take,  forward_remote_eof, forward_remote_closed,
};

const char *relay_forward_failure(const struct forward *f, char *why, size_t len)
{
    enum forward_state state = forward_get_state(f);
    if (state == FORWARD_REFUSED)
        snprintf(why, len, "the bastion could not connect: %s (reason %u)",
                 forward_failure_description(f), forward_failure_reason(f));
    else if (state == FORWARD_LOST)
        snprintf(why, len, "no connection to the bastion: %s", forward_failure_description(f));
    return state == FORWARD_REFUSED || state == FORWARD_LOST ? why : NULL;
}

/* ---- states ---- */

const char *relay_state_name(enum relay_state state)
{
    static const char *const names[] = {"idle", "running", "finished"};
    return (unsigned)state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

const char *relay_up_state_name(enum relay_up_state state)
{
    static const char *const names[] = {"reading", "blocked", "eof", "done"};
    return (unsigned)state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

const char *relay_down_state_name(enum relay_down_state state)
{
    static const char *const names[] = {"idle", "writing", "shutting", "done"};
    return (unsigned)state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

/* ---- life cycle ---- */

void relay_init(struct relay *r, const struct relay_forward_ops *ops,
                const struct relay_callbacks *callbacks, void *user, char *read_buffer,
                size_t read_buffer_size)
{
    memset(r, 0, sizeof(*r));
    r->ops = ops;
    r->callbacks = callbacks;
    r->user = user;
    r->read_buffer = read_buffer;
    r->read_buffer_size = read_buffer_size;
    buf_init(&r->up);
    buf_init(&r->down);
}

int relay_queue_up(struct relay *r, const void *data, size_t len)
{
    if (buf_length(&r->up) + len > r->read_buffer_size)
        return -ENOBUFS;
    return buf_append(&r->up, data, len) < 0 ? -ENOMEM : 0;
}

/* Ends the relay once; the owner closes everything from on_finished. */
static void finish(struct relay *r, int reset, const char *why)
{
    if (r->state != RELAY_RUNNING)
        return;
    r->state = RELAY_FINISHED;
    uv_read_stop(r->socket);
    r->callbacks->on_finished(r, reset, why, r->user);
}

void relay_stop(struct relay *r)
{
    if (r->socket) {
        uv_read_stop(r->socket);
        r->socket->data = r->socket_owner_data;
    }
    r->state = RELAY_FINISHED;
}

void relay_close_socket(uv_tcp_t *socket, int reset, uv_close_cb on_closed)
{
    uv_read_stop((uv_stream_t *)socket);
    if (!reset || uv_tcp_close_reset(socket, on_closed) < 0)
        uv_close((uv_handle_t *)socket, on_closed);
}

void relay_close(struct relay *r, struct forward **forward, uv_tcp_t *socket, int reset,
                 uv_close_cb on_closed)
{
    relay_stop(r);
    forward_close(*forward);
    *forward = NULL;
    if (socket)
        relay_close_socket(socket, reset, on_closed);
}

void relay_free(struct relay *r)
{
    buf_free(&r->up);
    buf_free(&r->down);
}

/* Both directions done: a clean end. The forward closed while nothing is
 * left to write to the socket: nothing more can go up either. */
static void maybe_finish(struct relay *r)
{
    if (r->state != RELAY_RUNNING || r->down_state != RELAY_DOWN_DONE)
        return;
    if (r->up_state == RELAY_UP_DONE)
        finish(r, 0, NULL);
    else if (r->ops->remote_closed(r->forward))
        finish(r, 0, "the bastion closed the channel");
}

/* ---- up: socket to forward ---- */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct relay *r = handle->data;
    buf->base = r->read_buffer;
    buf->len = r->read_buffer_size;
}

static void on_read(uv_stream_t *socket, ssize_t nread, const uv_buf_t *buf);

static void read_on(struct relay *r)
{
    r->up_state = RELAY_UP_READING;
    int rc = uv_read_start(r->socket, on_alloc, on_read);
    if (rc < 0)
        finish(r, 1, uv_strerror(rc));
}

static void send_eof(struct relay *r)
{
    r->up_state = RELAY_UP_DONE;
    r->ops->send_eof(r->forward);
}

/* Sends what waits in `up`; reading resumes (or EOF follows) once it is gone. */
static void push_up(struct relay *r)
{
    while (buf_length(&r->up) > 0) {
        ssize_t n = r->ops->write(r->forward, buf_bytes(&r->up), buf_length(&r->up));
        if (n < 0) {
            finish(r, 1, "the bastion closed the channel");
            return;
        }
        if (n == 0) {
            r->ops->want_write(r->forward, 1);
            return;
        }
        buf_consume(&r->up, (size_t)n);
    }
    r->ops->want_write(r->forward, 0);
    if (r->up_state == RELAY_UP_EOF)
        send_eof(r);
    else
        read_on(r);
}

static void on_socket_eof(struct relay *r)
{
    uv_read_stop(r->socket);
    if (buf_length(&r->up) == 0)
        send_eof(r);
    else
        r->up_state = RELAY_UP_EOF;
    maybe_finish(r);
}

static void on_read(uv_stream_t *socket, ssize_t nread, const uv_buf_t *buf)
{
    struct relay *r = socket->data;
    if (nread == 0 || r->state != RELAY_RUNNING)
        return;
    if (nread == UV_EOF) {
        on_socket_eof(r);
        return;
    }
    if (nread < 0) {
        finish(r, 1, uv_strerror((int)nread));
        return;
    }
    r->bytes_up += (uint64_t)nread;
    if (r->callbacks->on_bytes)
        r->callbacks->on_bytes(r, (uint64_t)nread, 0, r->user);
    ssize_t n = r->ops->write(r->forward, buf->base, (size_t)nread);
    if (n < 0) {
        finish(r, 1, "the bastion closed the channel");
        return;
    }
    if (n < nread) {
        /* The shared read buffer is reused at once: keep the rest and stop
         * reading until the forward took it. */
        if (buf_append(&r->up, buf->base + n, (size_t)(nread - n)) < 0) {
            finish(r, 1, "out of memory");
            return;
        }
        r->up_state = RELAY_UP_BLOCKED;
        uv_read_stop(r->socket);
        r->ops->want_write(r->forward, 1);
    }
}

/* ---- down: forward to socket ---- */

static void pull_down(struct relay *r);

static void on_written(uv_write_t *req, int status)
{
    struct relay *r = req->data;
    if (r->state != RELAY_RUNNING)
        return;
    r->down_state = RELAY_DOWN_IDLE;
    if (status < 0) {
        finish(r, 1, uv_strerror(status));
        return;
    }
    pull_down(r);
    maybe_finish(r);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct relay *r = req->data;
    if (r->state != RELAY_RUNNING)
        return;
    r->down_state = RELAY_DOWN_DONE;
    maybe_finish(r);
}

/* Writes what the forward received (one write in flight); passes the
 * forward's EOF on once everything before it is written. */
static void pull_down(struct relay *r)
{
    if (r->state != RELAY_RUNNING || r->down_state != RELAY_DOWN_IDLE)
        return;
    buf_reset(&r->down);
    size_t n = r->ops->take(r->forward, &r->down);
    if (n > 0) {
        uv_buf_t buf = uv_buf_init(buf_bytes(&r->down), (unsigned)n);
        r->write_req.data = r;
        int rc = uv_write(&r->write_req, r->socket, &buf, 1, on_written);
        if (rc < 0) {
            finish(r, 1, uv_strerror(rc));
            return;
        }
        r->down_state = RELAY_DOWN_WRITING;
        r->bytes_down += n;
        if (r->callbacks->on_bytes)
            r->callbacks->on_bytes(r, 0, n, r->user);
    } else if (r->ops->remote_eof(r->forward)) {
        r->shutdown_req.data = r;
        r->down_state = uv_shutdown(&r->shutdown_req, r->socket, on_shutdown) < 0
                            ? RELAY_DOWN_DONE
                            : RELAY_DOWN_SHUTTING;
    }
}

/* ---- running ---- */

void relay_start(struct relay *r, uv_stream_t *socket, struct forward *forward)
{
    r->socket = socket;
    r->forward = forward;
    r->socket_owner_data = socket->data;
    socket->data = r;
    r->state = RELAY_RUNNING;
    r->down_state = RELAY_DOWN_IDLE;
    if (buf_length(&r->up) > 0) {
        r->up_state = RELAY_UP_BLOCKED;
        push_up(r);
    } else {
        read_on(r);
    }
    pull_down(r);
    maybe_finish(r);
}

void relay_forward_event(struct relay *r)
{
    if (r->state != RELAY_RUNNING)
        return;
    if (r->up_state == RELAY_UP_BLOCKED || r->up_state == RELAY_UP_EOF)
        push_up(r);
    pull_down(r);
    maybe_finish(r);
}
