/* The bastion connection's life cycle and its glue to the libuv loop:
 * resolve, TCP connect, hand the socket to libssh, pump libssh whenever the
 * socket is ready, keep-alives, backoff and reconnect. The SSH steps
 * themselves (handshake, host key, login, warm-up) are in bastion_session.c;
 * channels in forward.c. */
#include "ssh/bastion.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOG_MODULE "bastion"
#include "core/log.h"
#include "core/random.h"
#include "ssh/bastion_internal.h"

/* ssh_send_keepalive is declared with the server API but works for clients. */
#include <libssh/server.h>

/* libssh reads its socket 4 KiB at a time, one read per poll: up to 1 MiB is
 * taken per loop wakeup before other sockets get their turn. */
#define PUMP_READS_MAX 256
#define WARM_UP_TIMEOUT_MS 3000

struct bastion_poll {
    uv_poll_t handle;
    struct bastion *bastion;
};

static int libssh_users;

static const char *const state_names[] = {
    [BASTION_IDLE] = "idle",
    [BASTION_RESOLVING] = "resolving",
    [BASTION_CONNECTING] = "connecting",
    [BASTION_HANDSHAKE] = "handshake",
    [BASTION_AUTHENTICATING] = "authenticating",
    [BASTION_WARMING] = "warming up",
    [BASTION_READY] = "ready",
    [BASTION_BACKOFF] = "backoff",
    [BASTION_FAILED] = "failed",
    [BASTION_CLOSED] = "closed",
};

const char *bastion_state_name(enum bastion_state state)
{
    return (unsigned)state < sizeof(state_names) / sizeof(state_names[0]) ? state_names[state]
                                                                          : "?";
}

enum bastion_state bastion_get_state(const struct bastion *bastion)
{
    return bastion->state;
}

const char *bastion_name(const struct bastion *bastion)
{
    return bastion->name;
}

void bastion_get_stats(const struct bastion *bastion, struct bastion_stats *out)
{
    out->bytes_in = bastion->total_in + (bastion->session ? bastion->counter.in_bytes : 0);
    out->bytes_out = bastion->total_out + (bastion->session ? bastion->counter.out_bytes : 0);
    out->connections = bastion->connections;
    out->forwards = bastion->forward_count;
}

void bastion_enter_state(struct bastion *bastion, enum bastion_state state, const char *cause)
{
    enum bastion_state old = bastion->state;
    if (old == state)
        return;
    bastion->state = state;
    log_debug("%s: %s -> %s%s%s", bastion->name, bastion_state_name(old), bastion_state_name(state),
              cause && *cause ? ": " : "", cause ? cause : "");
    if (bastion->callbacks.on_state)
        bastion->callbacks.on_state(bastion, old, state, cause ? cause : "", bastion->user_data);
}

/* ---- libssh's log, routed into ours ---- */

static void libssh_log(int priority, const char *function, const char *message, void *userdata)
{
    /* libssh logs routine events as warnings; what matters reaches us as
     * errors from its calls, so its own log is for debugging only. */
    if (priority <= SSH_LOG_WARN)
        log_write(LOG_LEVEL_DEBUG, "libssh", "%s", message);
    else
        log_write(LOG_LEVEL_TRACE, "libssh", "%s: %s", function, message);
}

static void libssh_acquire(void)
{
    if (libssh_users++ == 0) {
        ssh_init();
        ssh_set_log_callback(libssh_log);
        ssh_set_log_level(log_enabled(LOG_LEVEL_TRACE)   ? SSH_LOG_PROTOCOL
                          : log_enabled(LOG_LEVEL_DEBUG) ? SSH_LOG_WARN
                                                         : SSH_LOG_NOLOG);
    }
}

static void libssh_release(void)
{
    if (--libssh_users == 0)
        ssh_finalize();
}

/* ---- the socket's poll handle ---- */

static void on_poll(uv_poll_t *handle, int status, int events);

static void poll_box_closed(uv_handle_t *handle)
{
    struct bastion_poll *box = handle->data;
    struct bastion *bastion = box->bastion;
    free(box);
    bastion->handles_open--;
    if (bastion->closing && bastion->handles_open == 0 && !bastion->resolving)
        bastion_close(bastion, bastion->on_closed); /* finishes freeing */
}

static int poll_open(struct bastion *bastion, int fd)
{
    struct bastion_poll *box = calloc(1, sizeof(*box));
    if (!box)
        return -ENOMEM;
    box->bastion = bastion;
    int rc = uv_poll_init_socket(bastion->loop, &box->handle, fd);
    if (rc < 0) {
        free(box);
        return rc;
    }
    box->handle.data = box;
    bastion->poll = box;
    bastion->poll_events = 0;
    bastion->handles_open++;
    return 0;
}

static void poll_set(struct bastion *bastion, int events)
{
    if (!bastion->poll || bastion->poll_events == events)
        return;
    bastion->poll_events = events;
    if (events)
        uv_poll_start(&bastion->poll->handle, events, on_poll);
    else
        uv_poll_stop(&bastion->poll->handle);
}

/* Stops polling, closes our descriptor (libssh closes its own copy). */
static void poll_close(struct bastion *bastion)
{
    if (bastion->poll) {
        uv_poll_stop(&bastion->poll->handle);
        uv_close((uv_handle_t *)&bastion->poll->handle, poll_box_closed);
        bastion->poll = NULL;
    }
    if (bastion->fd >= 0)
        close(bastion->fd);
    bastion->fd = -1;
}

/* Which socket events libssh needs now: always input; output when it has
 * bytes the kernel did not take yet. */
void bastion_poll_update(struct bastion *bastion)
{
    if (!bastion->session)
        return;
    int want_write = bastion->state == BASTION_READY
                         ? bastion->congested
                         : (ssh_get_poll_flags(bastion->session) & SSH_WRITE_PENDING) != 0;
    poll_set(bastion, UV_READABLE | (want_write ? UV_WRITABLE : 0));
}

/* ---- tearing a connection down ---- */

static void teardown_connection(struct bastion *bastion, int polite)
{
    if (bastion->resolving)
        uv_cancel((uv_req_t *)&bastion->resolve); /* on_resolved sees the state moved on */
    if (bastion->addresses)
        uv_freeaddrinfo(bastion->addresses);
    bastion->addresses = bastion->next_address = NULL;
    uv_timer_stop(&bastion->keepalive_timer);
    if (bastion->session) {
        bastion->total_in += bastion->counter.in_bytes;
        bastion->total_out += bastion->counter.out_bytes;
    }
    bastion_session_destroy(bastion, polite);
    poll_close(bastion);
    bastion->congested = 0;
}

static uint32_t backoff_delay(struct bastion *bastion)
{
    uint64_t delay = bastion->config.backoff_initial_ms;
    for (uint32_t i = 0; i < bastion->attempt && delay < bastion->config.backoff_max_ms; i++)
        delay *= 2;
    if (delay > bastion->config.backoff_max_ms)
        delay = bastion->config.backoff_max_ms;
    /* Jitter: anywhere in [delay/2, delay), so clients that lost the same
     * bastion do not come back in lockstep. */
    return (uint32_t)(delay / 2 + random_below(delay / 2 + 1));
}

static void attempt_begin(struct bastion *bastion);

static void on_backoff_done(uv_timer_t *timer)
{
    struct bastion *bastion = timer->data;
    if (bastion->state == BASTION_BACKOFF)
        attempt_begin(bastion);
}

void bastion_fail_attempt(struct bastion *bastion, int fatal, const char *fmt, ...)
{
    char cause[BASTION_CAUSE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cause, sizeof(cause), fmt, ap);
    va_end(ap);
    int give_up = fatal || (bastion->config.give_up_on_first_failure && !bastion->ever_ready);
    uv_timer_stop(&bastion->timer);
    forward_fail_all(bastion, cause, give_up);
    teardown_connection(bastion, 0);
    if (give_up) {
        bastion_enter_state(bastion, BASTION_FAILED, cause);
    } else {
        uint32_t delay = backoff_delay(bastion);
        bastion->attempt++;
        char with_delay[BASTION_CAUSE_MAX + 64];
        snprintf(with_delay, sizeof(with_delay), "%s; retrying in %.1f s", cause, delay / 1000.0);
        bastion_enter_state(bastion, BASTION_BACKOFF, with_delay);
        uv_timer_start(&bastion->timer, on_backoff_done, delay, 0);
    }
    bastion_schedule_dispatch(bastion);
}

/* ---- resolve and TCP connect ---- */

static void on_attempt_timeout(uv_timer_t *timer)
{
    struct bastion *bastion = timer->data;
    if (bastion->state == BASTION_WARMING) {
        log_info("%s: `exec true` did not finish in %u ms; going on without it", bastion->name,
                 WARM_UP_TIMEOUT_MS);
        bastion_session_finish_warm_up(bastion);
        return;
    }
    bastion_fail_attempt(bastion, 0, "no connection to %s within %u ms (stuck in %s)",
                         bastion->name, bastion->config.connect_timeout_ms,
                         bastion_state_name(bastion->state));
}

static void set_socket_options(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

static void connect_next(struct bastion *bastion, int last_error)
{
    while (bastion->next_address) {
        struct addrinfo *ai = bastion->next_address;
        bastion->next_address = ai->ai_next;
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last_error = errno;
            continue;
        }
        set_socket_options(fd);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
            last_error = errno;
            close(fd);
            continue;
        }
        bastion->fd = fd;
        if (poll_open(bastion, fd) < 0) {
            close(fd);
            bastion->fd = -1;
            last_error = ENOMEM;
            continue;
        }
        bastion_enter_state(bastion, BASTION_CONNECTING, NULL);
        poll_set(bastion, UV_WRITABLE);
        return;
    }
    bastion_fail_attempt(bastion, 0, "cannot connect to %s: %s", bastion->name,
                         strerror(last_error ? last_error : EHOSTUNREACH));
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct bastion *bastion = req->data;
    bastion->resolving = 0;
    if (bastion->closing || bastion->state != BASTION_RESOLVING) {
        if (res)
            uv_freeaddrinfo(res);
        if (bastion->closing && bastion->handles_open == 0)
            bastion_close(bastion, bastion->on_closed);
        return;
    }
    if (status < 0) {
        bastion_fail_attempt(bastion, 0, "cannot resolve %s: %s", bastion->host,
                             uv_strerror(status));
        return;
    }
    bastion->addresses = bastion->next_address = res;
    connect_next(bastion, 0);
}

static void attempt_begin(struct bastion *bastion)
{
    if (bastion->resolving) { /* the last lookup is still running in libuv's pool */
        uv_timer_start(&bastion->timer, on_backoff_done, 100, 0);
        return;
    }
    uv_timer_start(&bastion->timer, on_attempt_timeout, bastion->config.connect_timeout_ms, 0);
    bastion_enter_state(bastion, BASTION_RESOLVING, NULL);
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[8];
    snprintf(port, sizeof(port), "%u", bastion->config.port);
    bastion->resolve.data = bastion;
    int rc =
        uv_getaddrinfo(bastion->loop, &bastion->resolve, on_resolved, bastion->host, port, &hints);
    if (rc < 0) {
        bastion_fail_attempt(bastion, 0, "cannot resolve %s: %s", bastion->host, uv_strerror(rc));
        return;
    }
    bastion->resolving = 1;
}

static void tcp_connected(struct bastion *bastion)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(bastion->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == EINPROGRESS)
        return;
    if (err) {
        poll_close(bastion);
        connect_next(bastion, err);
        return;
    }
    uv_freeaddrinfo(bastion->addresses);
    bastion->addresses = bastion->next_address = NULL;
    char cause[BASTION_CAUSE_MAX];
    if (bastion_session_create(bastion, cause, sizeof(cause)) < 0) {
        bastion_fail_attempt(bastion, 0, "%s", cause);
        return;
    }
    bastion_enter_state(bastion, BASTION_HANDSHAKE, NULL);
    bastion_session_step(bastion);
}

/* ---- the READY connection: pumping libssh ---- */

static int session_broken(struct bastion *bastion)
{
    if (!bastion->session)
        return 1;
    int status = ssh_get_status(bastion->session);
    return !ssh_is_connected(bastion->session) || (status & (SSH_CLOSED | SSH_CLOSED_ERROR));
}

static void lost(struct bastion *bastion)
{
    char why[BASTION_CAUSE_MAX] = "";
    if (bastion->session) {
        /* Copy first: asking for the disconnect message overwrites the error. */
        snprintf(why, sizeof(why), "%s", ssh_get_error(bastion->session));
        const char *message = ssh_get_disconnect_message(bastion->session);
        if (message && *message)
            snprintf(why, sizeof(why), "the bastion disconnected: %s", message);
    }
    if (!why[0] || strcmp(why, "Socket error: disconnected") == 0)
        snprintf(why, sizeof(why), "the bastion closed the connection");
    bastion_fail_attempt(bastion, 0, "connection to %s lost: %s", bastion->name, why);
}

static void update_congestion(struct bastion *bastion)
{
    if (!bastion->session)
        return;
    /* Flushes what it can; SSH_AGAIN: the kernel would not take everything. */
    bastion->congested = ssh_blocking_flush(bastion->session, 0) == SSH_AGAIN;
}

static void after_io(struct bastion *bastion)
{
    if (bastion->state == BASTION_READY) {
        forward_capture_open_failure(bastion);
        if (session_broken(bastion)) {
            lost(bastion);
            return;
        }
        update_congestion(bastion);
        bastion_poll_update(bastion);
    }
    forward_dispatch(bastion);
}

static void pump(struct bastion *bastion)
{
    for (int i = 0; i < PUMP_READS_MAX; i++) {
        uint64_t before = bastion->counter.in_bytes;
        int rc = ssh_event_dopoll(bastion->event, 0);
        forward_capture_open_failure(bastion);
        if (rc == SSH_ERROR || session_broken(bastion)) {
            lost(bastion);
            return;
        }
        if (rc == SSH_AGAIN || bastion->counter.in_bytes == before)
            break;
    }
    after_io(bastion);
}

static void on_poll(uv_poll_t *handle, int status, int events)
{
    struct bastion_poll *box = handle->data;
    struct bastion *bastion = box->bastion;
    switch (bastion->state) {
    case BASTION_CONNECTING:
        tcp_connected(bastion);
        break;
    case BASTION_HANDSHAKE:
    case BASTION_AUTHENTICATING:
    case BASTION_WARMING:
        bastion_session_step(bastion);
        break;
    case BASTION_READY:
        pump(bastion);
        break;
    default:
        poll_set(bastion, 0);
        break;
    }
}

static void on_idle(uv_idle_t *idle)
{
    struct bastion *bastion = idle->data;
    uv_idle_stop(idle);
    bastion->idle_active = 0;
    if (bastion->dead) {
        bastion->dead = 0;
        if (bastion->state == BASTION_READY) {
            lost(bastion);
            return;
        }
    }
    after_io(bastion);
}

void bastion_schedule_dispatch(struct bastion *bastion)
{
    if (bastion->idle_active || bastion->closing)
        return;
    bastion->idle_active = 1;
    uv_idle_start(&bastion->idle, on_idle);
}

void bastion_after_call(struct bastion *bastion)
{
    if (!bastion->session || bastion->state != BASTION_READY)
        return;
    forward_capture_open_failure(bastion);
    if (session_broken(bastion))
        bastion->dead = 1;
    bastion_schedule_dispatch(bastion);
}

/* ---- keep-alives ---- */

static void on_keepalive(uv_timer_t *timer)
{
    struct bastion *bastion = timer->data;
    if (bastion->state != BASTION_READY || !bastion->session)
        return;
    if (bastion->counter.in_bytes != bastion->keepalive_seen_bytes) {
        bastion->keepalive_seen_bytes = bastion->counter.in_bytes; /* traffic proves life */
        bastion->keepalive_misses = 0;
        return;
    }
    if (++bastion->keepalive_misses > bastion->config.keepalive_count_max) {
        bastion_fail_attempt(bastion, 0, "no answer from %s for %.0f s (keep-alive)", bastion->name,
                             bastion->keepalive_misses *
                                 (bastion->config.keepalive_interval_ms / 1000.0));
        return;
    }
    /* libssh sends a new keepalive@openssh.com request only when the previous
     * one's answer was collected; the first call may just collect it, so a
     * second call makes sure one request is in flight. */
    ssh_send_keepalive(bastion->session);
    ssh_send_keepalive(bastion->session);
    bastion_after_call(bastion);
}

void bastion_enter_ready(struct bastion *bastion)
{
    uv_timer_stop(&bastion->timer);
    bastion->attempt = 0;
    bastion->ever_ready = 1;
    bastion->keepalive_seen_bytes = bastion->counter.in_bytes;
    bastion->keepalive_misses = 0;
    if (bastion->config.keepalive_interval_ms)
        uv_timer_start(&bastion->keepalive_timer, on_keepalive,
                       bastion->config.keepalive_interval_ms,
                       bastion->config.keepalive_interval_ms);
    bastion_enter_state(bastion, BASTION_READY, NULL);
    forward_start_all(bastion);
    bastion_poll_update(bastion);
    bastion_schedule_dispatch(bastion);
}

void bastion_start_warm_up_timer(struct bastion *bastion)
{
    uv_timer_start(&bastion->timer, on_attempt_timeout, WARM_UP_TIMEOUT_MS, 0);
}

/* ---- life cycle ---- */

static char *copy_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void apply_defaults(struct bastion_config *c)
{
    if (!c->port)
        c->port = 22;
    if (!c->connect_timeout_ms)
        c->connect_timeout_ms = 15000;
    if (!c->keepalive_count_max)
        c->keepalive_count_max = 3;
    if (!c->backoff_initial_ms)
        c->backoff_initial_ms = 250;
    if (!c->backoff_max_ms)
        c->backoff_max_ms = 30000;
}

int bastion_new(uv_loop_t *loop, const struct bastion_config *config,
                const struct bastion_callbacks *callbacks, void *user, struct bastion **out,
                char *cause, size_t cause_len)
{
    if (!config->host || !*config->host || !config->user || !*config->user || !config->identity) {
        snprintf(cause, cause_len, "the bastion needs a host, a user and a key");
        return -EINVAL;
    }
    struct bastion *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->loop = loop;
    b->config = *config;
    apply_defaults(&b->config);
    /* The config points at the bastion's own copies. */
    b->config.host = b->host = strdup(config->host);
    b->config.user = b->user = strdup(config->user);
    b->config.user_known_hosts = b->user_known_hosts = copy_or_null(config->user_known_hosts);
    b->config.tether_known_hosts = b->tether_known_hosts = copy_or_null(config->tether_known_hosts);
    b->config.host_key_fingerprint = b->fingerprint = copy_or_null(config->host_key_fingerprint);
    b->config.ciphers = b->ciphers = copy_or_null(config->ciphers);
    snprintf(b->name, sizeof(b->name), "%s@%s:%u", b->user, b->host, b->config.port);
    if (callbacks)
        b->callbacks = *callbacks;
    b->user_data = user;
    b->fd = -1;
    uv_timer_init(loop, &b->timer);
    uv_timer_init(loop, &b->keepalive_timer);
    uv_idle_init(loop, &b->idle);
    b->timer.data = b->keepalive_timer.data = b->idle.data = b;
    b->handles_open = 3;
    libssh_acquire();
    *out = b;
    return 0;
}

void bastion_start(struct bastion *bastion)
{
    if (bastion->state == BASTION_IDLE)
        attempt_begin(bastion);
}

static void on_handle_closed(uv_handle_t *handle)
{
    struct bastion *bastion = handle->data;
    bastion->handles_open--;
    if (bastion->handles_open == 0 && !bastion->resolving)
        bastion_close(bastion, bastion->on_closed);
}

static void bastion_free(struct bastion *bastion)
{
    void (*on_closed)(void *) = bastion->on_closed;
    void *user = bastion->user_data;
    /* Forwards not closed by their owners stay valid but orphaned. */
    for (struct forward *f = bastion->forwards; f; f = f->next)
        f->bastion = NULL;
    free(bastion->host);
    free(bastion->user);
    free(bastion->user_known_hosts);
    free(bastion->tether_known_hosts);
    free(bastion->fingerprint);
    free(bastion->ciphers);
    free(bastion);
    libssh_release();
    if (on_closed)
        on_closed(user);
}

void bastion_close(struct bastion *bastion, void (*on_closed)(void *user))
{
    if (bastion->closing) { /* called again from a close callback */
        if (bastion->handles_open == 0 && !bastion->resolving)
            bastion_free(bastion);
        return;
    }
    bastion->closing = 1;
    bastion->on_closed = on_closed;
    uv_timer_stop(&bastion->timer);
    uv_idle_stop(&bastion->idle);
    forward_fail_all(bastion, "tether is shutting down", 1);
    teardown_connection(bastion, 1);
    bastion_enter_state(bastion, BASTION_CLOSED, NULL);
    uv_close((uv_handle_t *)&bastion->timer, on_handle_closed);
    uv_close((uv_handle_t *)&bastion->keepalive_timer, on_handle_closed);
    uv_close((uv_handle_t *)&bastion->idle, on_handle_closed);
}
