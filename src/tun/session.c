/* One TCP flow of the TUN path: the forward through the bastion is opened
 * first (the application's SYN waits in the NAT table), then the SYN is
 * passed to the kernel, the listener accepts, and the relay runs between
 * the accepted socket and the forward.
 *
 * The relay is the SOCKS5 path's (tunnel/relay.h): the same flow control,
 * half-closes and byte counts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "tun"
#include "core/log.h"
#include "tun/tun_internal.h"
#include "tunnel/direct.h"

static const char *const state_names[] = {
    [TUN_SESSION_OPENING] = "opening", [TUN_SESSION_ACCEPTING] = "accepting",
    [TUN_SESSION_RELAY] = "relay",     [TUN_SESSION_REFUSED] = "refused",
    [TUN_SESSION_CLOSING] = "closing",
};

static const char *tun_session_state_name(enum tun_session_state state)
{
    return (unsigned)state <= TUN_SESSION_CLOSING ? state_names[state] : "?";
}

static void tun_session_enter_state(struct tun_session *s, enum tun_session_state state)
{
    if (s->state == state)
        return;
    log_trace("session %llu %s: %s -> %s", (unsigned long long)s->id, s->target,
              tun_session_state_name(s->state), tun_session_state_name(state));
    s->state = state;
}

/* ---- closing ---- */

static void on_handle_closed(uv_handle_t *handle)
{
    struct tun_session *s = handle->data;
    if (handle != (uv_handle_t *)&s->timer)
        free(handle); /* the accepted socket */
    if (--s->handles_open > 0)
        return;
    relay_free(&s->relay);
    tun_session_freed(s->tun, s);
}

void tun_session_close(struct tun_session *s, int reset, const char *why)
{
    if (s->state == TUN_SESSION_CLOSING)
        return;
    enum tun_session_state was = s->state;
    tun_session_enter_state(s, TUN_SESSION_CLOSING);
    log_debug("session %llu %s closed in state %s after %llu ms%s%s: %llu bytes up, %llu down",
              (unsigned long long)s->id, s->target, tun_session_state_name(was),
              (unsigned long long)(tun_now_ms() - s->started_ms), why ? ": " : "", why ? why : "",
              (unsigned long long)s->relay.bytes_up, (unsigned long long)s->relay.bytes_down);
    tun_engine_flow_attach(s->tun->engine, s->flow, NULL);
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    relay_close(&s->relay, &s->forward, s->tcp, reset, on_handle_closed);
}

static void on_accept_timeout(uv_timer_t *timer);

/* Without hold_syn the application is connected already: the refusal is a
 * reset of the accepted socket (now, or when it is accepted). */
static void refuse_connected(struct tun_session *s, const char *why)
{
    struct tun *t = s->tun;
    t->sessions_refused++;
    tunnel_direct_count_stream(t->tunnel, 1);
    log_info("connection to %s reset: %s", s->target, why);
    if (s->tcp) {
        tun_session_close(s, 1, why);
        return;
    }
    forward_close(s->forward);
    s->forward = NULL;
    tun_session_enter_state(s, TUN_SESSION_REFUSED);
    uv_timer_stop(&s->timer);
    uv_timer_start(&s->timer, on_accept_timeout, t->config.accept_timeout_ms, 0);
}

/* Answers the held SYN (RST or ICMP) and ends the session before accept. */
static void refuse(struct tun_session *s, enum tun_refusal how, const char *why)
{
    struct tun *t = s->tun;
    size_t len;
    if (!t->config.hold_syn) {
        refuse_connected(s, why);
        return;
    }
    if (tun_engine_flow_refuse(t->engine, s->flow, how, tun_now_ms(), t->write_buffer, &len) == 0 &&
        len)
        tun_write_packet(t, t->write_buffer, len, 0);
    t->sessions_refused++;
    tunnel_direct_count_stream(t->tunnel, 1);
    if (how != TUN_REFUSE_SILENT)
        log_info("connection to %s refused (%s): %s", s->target,
                 how == TUN_REFUSE_RESET ? "reset" : "unreachable", why);
    tun_session_close(s, 1, why);
}

/* ---- relay ---- */

static void on_relay_bytes(struct relay *relay, uint64_t up, uint64_t down, void *user)
{
    struct tun_session *s = user;
    tunnel_direct_count_bytes(s->tun->tunnel, up, down);
}

static void on_relay_finished(struct relay *relay, int reset, const char *why, void *user)
{
    tun_session_close(user, reset, why);
}

static void relay_event(struct tun_session *s)
{
    if (forward_get_state(s->forward) == FORWARD_LOST) {
        tun_session_close(s, 1, "connection to the bastion lost");
        return;
    }
    relay_forward_event(&s->relay);
}

/* ---- opening ---- */

static void on_accept_timeout(uv_timer_t *timer)
{
    struct tun_session *s = timer->data;
    if (s->state == TUN_SESSION_ACCEPTING || s->state == TUN_SESSION_REFUSED)
        tun_session_close(s, 1, "the application's connection never reached the listener");
}

static void start_relay(struct tun_session *s);

static void await_accept(struct tun_session *s)
{
    tun_session_enter_state(s, TUN_SESSION_ACCEPTING);
    uv_timer_stop(&s->timer);
    uv_timer_start(&s->timer, on_accept_timeout, s->tun->config.accept_timeout_ms, 0);
}

static void pass_syn(struct tun_session *s)
{
    struct tun *t = s->tun;
    size_t len;
    int csum_partial;
    if (tun_engine_flow_open(t->engine, s->flow, tun_now_ms(), t->write_buffer, &len,
                             &csum_partial) < 0) {
        tun_session_close(s, 1, "the flow expired while its forward opened");
        return;
    }
    await_accept(s);
    tun_write_packet(t, t->write_buffer, len, csum_partial);
}

static void opening_event(struct tun_session *s)
{
    struct forward *f = s->forward;
    char why[300];
    if (forward_get_state(f) == FORWARD_OPEN) {
        if (s->tun->config.hold_syn)
            pass_syn(s);
        else if (s->tcp)
            start_relay(s);
        else
            await_accept(s);
    } else if (relay_forward_failure(f, why, sizeof(why))) {
        /* A refusal with reason 2 (connect failed) is what a closed port
         * gives: RST, like the host would; anything else reads as
         * unreachable, a lost bastion too. */
        int closed_port = forward_get_state(f) == FORWARD_REFUSED && forward_failure_reason(f) == 2;
        refuse(s, closed_port ? TUN_REFUSE_RESET : TUN_REFUSE_UNREACHABLE, why);
    }
}

static void on_forward_event(struct forward *f, void *user)
{
    struct tun_session *s = user;
    if (s->state == TUN_SESSION_OPENING)
        opening_event(s);
    else if (s->state == TUN_SESSION_RELAY)
        relay_event(s);
    else if (s->state == TUN_SESSION_ACCEPTING && forward_get_state(f) == FORWARD_LOST)
        tun_session_close(s, 1, "connection to the bastion lost");
}

static void on_open_timeout(uv_timer_t *timer)
{
    struct tun_session *s = timer->data;
    if (s->state == TUN_SESSION_OPENING)
        refuse(s, TUN_REFUSE_UNREACHABLE, "no channel in time");
}

static int describe_target(struct tun_session *s)
{
    int family;
    uint8_t addr[16], client[16];
    uint16_t client_port;
    int rc = tun_engine_flow_target(s->tun->engine, s->flow, &family, addr, &s->port, client,
                                    &client_port);
    if (rc < 0)
        return rc;
    tun_addr_format(family, addr, s->host, sizeof(s->host));
    snprintf(s->target, sizeof(s->target), family == 6 ? "[%s]:%u" : "%s:%u", s->host, s->port);
    return 0;
}

static void link_session(struct tun *t, struct tun_session *s)
{
    s->next = t->sessions;
    if (t->sessions)
        t->sessions->prev = s;
    t->sessions = s;
    t->session_count++;
    t->sessions_total++;
}

void tun_session_open(struct tun *t, struct nat_handle flow)
{
    struct tun_session *s = calloc(1, sizeof(*s));
    if (!s)
        return; /* the SYN is retransmitted; the flow expires */
    s->tun = t;
    s->flow = flow;
    s->id = ++t->next_session_id;
    s->started_ms = tun_now_ms();
    static const struct relay_callbacks relay_callbacks = {on_relay_bytes, on_relay_finished};
    relay_init(&s->relay, &relay_ssh_forward_ops, &relay_callbacks, s, t->read_buffer,
               sizeof(t->read_buffer));
    uv_timer_init(t->loop, &s->timer);
    s->timer.data = s;
    s->handles_open = 1;
    link_session(t, s);
    struct bastion *b = tunnel_bastion(t->tunnel);
    if (describe_target(s) < 0 || tun_engine_flow_attach(t->engine, flow, s) < 0) {
        tun_session_close(s, 1, "the flow is gone");
        return;
    }
    static const struct forward_callbacks callbacks = {on_forward_event};
    if (!b || forward_open(b, s->host, s->port, "127.0.0.1", 0, &callbacks, s, &s->forward) < 0) {
        refuse(s, TUN_REFUSE_UNREACHABLE, "the bastion connection has failed");
        return;
    }
    uv_timer_start(&s->timer, on_open_timeout, tunnel_open_timeout_ms(t->tunnel), 0);
    log_debug("session %llu: %s opening", (unsigned long long)s->id, s->target);
}

/* ---- accepting ---- */

static void close_stray(uv_tcp_t *tcp)
{
    tcp->data = NULL;
    relay_close_socket(tcp, 1, (uv_close_cb)free);
}

static uint16_t peer_port(uv_tcp_t *tcp)
{
    struct sockaddr_storage addr;
    int len = sizeof(addr);
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&addr, &len) < 0)
        return 0;
    if (addr.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return ntohs(((struct sockaddr_in *)&addr)->sin_port);
}

static void attach(struct tun_session *s, uv_tcp_t *tcp)
{
    s->tcp = tcp;
    tcp->data = s;
    s->handles_open++;
    uv_tcp_nodelay(tcp, 1);
}

/* Both ends are there: the accepted socket and the open forward. */
static void start_relay(struct tun_session *s)
{
    uv_timer_stop(&s->timer);
    tun_session_enter_state(s, TUN_SESSION_RELAY);
    tunnel_direct_count_stream(s->tun->tunnel, 0);
    log_debug("session %llu %s relaying after %llu ms", (unsigned long long)s->id, s->target,
              (unsigned long long)(tun_now_ms() - s->started_ms));
    relay_start(&s->relay, (uv_stream_t *)s->tcp, s->forward);
}

void tun_session_accepted(struct tun *t, uv_tcp_t *tcp)
{
    struct sockaddr_storage local;
    int len = sizeof(local);
    int family =
        uv_tcp_getsockname(tcp, (struct sockaddr *)&local, &len) == 0 && local.ss_family == AF_INET6
            ? 6
            : 4;
    uint16_t port = peer_port(tcp);
    struct tun_session *s = port ? tun_engine_session_by_port(t->engine, family, port) : NULL;
    if (!s && port && !t->config.hold_syn) {
        /* The kernel may have answered the SYN before the loop saw the
         * engine's open request: take the queued requests first. */
        tun_process_events(t);
        s = tun_engine_session_by_port(t->engine, family, port);
    }
    /* Without hold_syn the accept may come while the forward still opens. */
    int early = s && s->state == TUN_SESSION_OPENING && !t->config.hold_syn;
    int awaited = s && (s->state == TUN_SESSION_ACCEPTING || s->state == TUN_SESSION_REFUSED);
    if (!s || (!awaited && !early) || s->tcp) {
        log_debug("accepted a connection from NAT port %u that no session waits for", port);
        close_stray(tcp);
        return;
    }
    attach(s, tcp);
    if (s->state == TUN_SESSION_REFUSED)
        tun_session_close(s, 1, "the bastion could not connect");
    else if (s->state == TUN_SESSION_ACCEPTING)
        start_relay(s);
}
