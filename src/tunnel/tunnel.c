/* The tunnel: the SOCKS5 listener, stream limits and statistics, and the
 * bastion connection every stream goes through. */
#include "tunnel/tunnel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "tunnel"
#include "core/encoding.h"
#include "core/log.h"
#include "tunnel/tunnel_internal.h"

static void maybe_stopped(struct tunnel *t)
{
    if (!t->stopping || t->pending_closes > 0)
        return;
    void (*on_stopped)(void *) = t->on_stopped;
    void *user = t->stopped_user;
    if (t->socks_password)
        secure_wipe(t->socks_password, strlen(t->socks_password));
    free(t->socks_password);
    free(t->socks_user);
    free(t->socks_host);
    free(t);
    if (on_stopped)
        on_stopped(user);
}

void tunnel_stream_freed(struct tunnel *t, struct tunnel_stream *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        t->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    t->stream_count--;
    free(s);
    if (t->stopping) {
        t->pending_closes--;
        maybe_stopped(t);
    }
}

/* ---- accepting clients ---- */

static size_t streams_from(const struct tunnel *t, const char *ip)
{
    size_t n = 0;
    for (const struct tunnel_stream *s = t->streams; s; s = s->next)
        n += strcmp(s->peer_ip, ip) == 0;
    return n;
}

static uint16_t port_of(const struct sockaddr_storage *addr)
{
    return ntohs(addr->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)addr)->sin6_port
                                             : ((const struct sockaddr_in *)addr)->sin_port);
}

static void describe_peer(struct tunnel_stream *s)
{
    struct sockaddr_storage addr;
    int len = sizeof(addr);
    strcpy(s->peer_ip, "?");
    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&addr, &len) < 0)
        return;
    uv_ip_name((struct sockaddr *)&addr, s->peer_ip, sizeof(s->peer_ip));
    s->peer_port = port_of(&addr);
}

static void on_handshake_timeout(uv_timer_t *timer)
{
    struct tunnel_stream *s = timer->data;
    stream_close(s, 1, "SOCKS handshake not finished in time");
}

static void free_rejected(uv_handle_t *handle)
{
    free(handle->data); /* the stream that never started */
}

static void reject(uv_tcp_t *tcp, const char *why)
{
    log_warn("refusing a SOCKS client: %s", why);
    relay_close_socket(tcp, 1, free_rejected);
}

static void accept_stream(struct tunnel *t, struct tunnel_stream *s)
{
    s->tunnel = t;
    s->id = ++t->next_stream_id;
    s->state = STREAM_GREETING;
    s->started_ms = uv_now(t->loop);
    s->timer.data = s;
    s->handles_open = 2;
    uv_timer_init(t->loop, &s->timer);
    uv_tcp_nodelay(&s->tcp, 1);
    stream_init_relay(s);
    s->next = t->streams;
    if (t->streams)
        t->streams->prev = s;
    t->streams = s;
    t->stream_count++;
    t->streams_total++;
    uv_timer_start(&s->timer, on_handshake_timeout, t->config.handshake_timeout_ms, 0);
    socks5_session_start(s);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct tunnel *t = server->data;
    if (status < 0 || t->stopping)
        return;
    struct tunnel_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return;
    uv_tcp_init(t->loop, &s->tcp);
    s->tcp.data = s;
    if (uv_accept(server, (uv_stream_t *)&s->tcp) < 0) {
        uv_close((uv_handle_t *)&s->tcp, free_rejected);
        return;
    }
    describe_peer(s);
    char why[160];
    if (t->stream_count >= t->config.max_streams) {
        snprintf(why, sizeof(why), "%zu streams open (--max-streams)", t->stream_count);
        reject(&s->tcp, why);
        return;
    }
    if (streams_from(t, s->peer_ip) >= t->config.max_streams_per_client) {
        snprintf(why, sizeof(why), "%s has %zu streams open (--max-streams-per-client)", s->peer_ip,
                 t->config.max_streams_per_client);
        reject(&s->tcp, why);
        return;
    }
    accept_stream(t, s);
}

/* ---- the listener ---- */

static int is_loopback(const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr) >> 24) == 127;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
    return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
}

static int start_listener(struct tunnel *t, char *cause, size_t cause_len)
{
    struct sockaddr_storage addr;
    const char *host = t->socks_host;
    int v6 = strchr(host, ':') != NULL;
    int rc = v6 ? uv_ip6_addr(host, t->config.socks_port, (struct sockaddr_in6 *)&addr)
                : uv_ip4_addr(host, t->config.socks_port, (struct sockaddr_in *)&addr);
    if (rc < 0) {
        snprintf(cause, cause_len, "--socks: \"%s\" is not an IP address", host);
        return -EINVAL;
    }
    if (!is_loopback((struct sockaddr *)&addr) && !t->config.socks_allow_remote) {
        snprintf(cause, cause_len,
                 "--socks %s is not a loopback address: anyone who reaches it could use the "
                 "tunnel into your VPC; pass --socks-allow-remote (and set --socks-user) if "
                 "that is what you want",
                 host);
        return -EPERM;
    }
    uv_tcp_init(t->loop, &t->listener);
    t->listener.data = t;
    t->listening = 1;
    if ((rc = uv_tcp_bind(&t->listener, (struct sockaddr *)&addr, 0)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&t->listener, 511, on_connection)) < 0) {
        snprintf(cause, cause_len, "cannot listen on %s%s%s:%u: %s", v6 ? "[" : "", host,
                 v6 ? "]" : "", t->config.socks_port, uv_strerror(rc));
        return rc;
    }
    int len = sizeof(addr);
    uv_tcp_getsockname(&t->listener, (struct sockaddr *)&addr, &len);
    snprintf(t->socks_address, sizeof(t->socks_address), v6 ? "[%s]:%u" : "%s:%u", host,
             port_of(&addr));
    return 0;
}

/* ---- life cycle ---- */

static void on_bastion_state(struct bastion *b, enum bastion_state old_state,
                             enum bastion_state new_state, const char *cause, void *user)
{
    struct tunnel *t = user;
    if (t->callbacks.on_bastion_state)
        t->callbacks.on_bastion_state(t, old_state, new_state, cause, t->user);
}

static void apply_defaults(struct tunnel_config *c)
{
    if (!c->max_streams)
        c->max_streams = 1024;
    if (!c->max_streams_per_client)
        c->max_streams_per_client = 256;
    if (!c->handshake_timeout_ms)
        c->handshake_timeout_ms = 10000;
    if (!c->open_timeout_ms)
        c->open_timeout_ms = 15000;
}

static int copy_strings(struct tunnel *t, const struct tunnel_config *config)
{
    t->socks_host = strdup(config->socks_host ? config->socks_host : "127.0.0.1");
    if (config->socks_user) {
        t->socks_user = strdup(config->socks_user);
        t->socks_password = strdup(config->socks_password ? config->socks_password : "");
        if (!t->socks_user || !t->socks_password)
            return -ENOMEM;
    }
    return t->socks_host ? 0 : -ENOMEM;
}

int tunnel_start(uv_loop_t *loop, const struct tunnel_config *config,
                 const struct tunnel_callbacks *callbacks, void *user, struct tunnel **out,
                 char *cause, size_t cause_len)
{
    struct tunnel *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->loop = loop;
    t->config = *config;
    apply_defaults(&t->config);
    if (callbacks)
        t->callbacks = *callbacks;
    t->user = user;
    int rc = copy_strings(t, config);
    if (rc < 0) {
        snprintf(cause, cause_len, "out of memory");
        goto fail;
    }
    static const struct bastion_callbacks bastion_callbacks = {on_bastion_state};
    rc = bastion_new(loop, &config->bastion, &bastion_callbacks, t, &t->bastion, cause, cause_len);
    if (rc < 0)
        goto fail;
    rc = start_listener(t, cause, cause_len);
    if (rc < 0)
        goto fail;
    log_info("SOCKS5 proxy on %s%s, through %s", t->socks_address,
             t->socks_user ? " (user/password required)" : "", bastion_name(t->bastion));
    bastion_start(t->bastion);
    *out = t;
    return 0;
fail:
    /* Handles were never started for I/O: stop synchronously-ish by running
     * the normal shutdown, the caller runs the loop to finish it. */
    tunnel_stop(t, NULL, NULL);
    return rc;
}

const char *tunnel_socks_address(const struct tunnel *t)
{
    return t->socks_address;
}

void tunnel_get_stats(const struct tunnel *t, struct tunnel_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->state = t->bastion ? bastion_get_state(t->bastion) : BASTION_CLOSED;
    out->streams_open = t->stream_count;
    out->streams_total = t->streams_total;
    out->streams_failed = t->streams_failed;
    out->bytes_up = t->bytes_up;
    out->bytes_down = t->bytes_down;
    if (t->bastion)
        bastion_get_stats(t->bastion, &out->bastion);
}

static void on_listener_closed(uv_handle_t *handle)
{
    struct tunnel *t = handle->data;
    t->pending_closes--;
    maybe_stopped(t);
}

static void on_bastion_closed(void *user)
{
    struct tunnel *t = user;
    t->bastion = NULL;
    t->pending_closes--;
    maybe_stopped(t);
}

void tunnel_stop(struct tunnel *t, void (*on_stopped)(void *user), void *user)
{
    if (t->stopping)
        return;
    t->stopping = 1;
    t->on_stopped = on_stopped;
    t->stopped_user = user;
    t->pending_closes = 1; /* released at the end of this function */
    if (t->listening) {
        t->pending_closes++;
        uv_close((uv_handle_t *)&t->listener, on_listener_closed);
    }
    for (struct tunnel_stream *s = t->streams; s; s = s->next) {
        t->pending_closes++;
        stream_close(s, 1, "tether is shutting down");
    }
    if (t->bastion) {
        t->pending_closes++;
        bastion_close(t->bastion, on_bastion_closed);
    }
    t->pending_closes--;
    maybe_stopped(t);
}
