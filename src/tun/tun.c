/* The TUN path's life cycle (see tun.h): the device, the engine thread, the
 * kernel listeners the NAT points at, the DNS forwarder and a one-second
 * sweep that expires NAT entries and tells the engine whether the bastion
 * is up. */
#include "tun/tun.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "tun"
#include "core/log.h"
#include "tun/tun_internal.h"
#include "tunnel/direct.h"

uint64_t tun_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void tun_write_packet(struct tun *t, const uint8_t *packet, size_t len, int csum_partial)
{
    struct tun_offload meta = {0, 0, 0};
    struct tun_packet p;
    if (csum_partial && tun_packet_parse((uint8_t *)packet, len, &p) == 0) {
        meta.csum_partial = 1;
        meta.csum_start = (uint16_t)p.l4_offset;
        meta.csum_offset = 16; /* TCP */
    }
    ssize_t n = tun_device_write(&t->device, packet, len, meta.csum_partial ? &meta : NULL);
    if (n < 0)
        log_debug("writing a %zu-byte packet to %s: %s", len, t->device.name, strerror((int)-n));
}

/* ---- configuration ---- */

void tun_config_init(struct tun_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->device.name, sizeof(c->device.name), "%s", TUN_DEFAULT_NAME);
    c->device.mtu = TUN_DEFAULT_MTU;
    c->device.offload = 1;
    /* 100.127.255.253 with peer .254, and fd00:7465:7468::1 with ::2: outside
     * the ranges AWS gives VPCs; --tun-address picks others. */
    static const uint8_t addr4[4] = {100, 127, 255, 253};
    static const uint8_t addr6[16] = {0xfd, 0, 0x74, 0x65, 0x74, 0x68, 0, 0,
                                      0,    0, 0,    0,    0,    0,    0, 1};
    memcpy(c->device.addr4, addr4, 4);
    memcpy(c->device.addr6, addr6, 16);
    c->device_fd = c->dns_fd4 = c->dns_fd6 = -1;
    c->max_flows = 16384;
    c->accept_timeout_ms = 10000;
    c->timeouts.opening_ms = 60000;
    c->timeouts.established_ms = 7440000; /* 2 h 4 min, RFC 5382 REQ-5 */
    c->timeouts.half_closed_ms = 240000;  /* RFC 5382's transitory 4 min */
    c->timeouts.closed_ms = 10000;
    c->dns.enabled = 1;
    c->dns.resolver_port = 53;
    c->dns.timeout_ms = 5000;
}

static int check_outside_subnets(const struct tun_config *c, int family, const uint8_t *addr,
                                 char *cause, size_t cause_len)
{
    for (size_t i = 0; i < c->device.route_count; i++) {
        if (!tun_cidr_contains(&c->device.routes[i], family, addr))
            continue;
        char a[64], s[TUN_CIDR_TEXT_MAX];
        tun_addr_format(family, addr, a, sizeof(a));
        tun_cidr_format(&c->device.routes[i], s, sizeof(s));
        snprintf(cause, cause_len,
                 "the tunnel's own address %s (or its peer) lies inside --subnet %s; pick "
                 "another with --tun-address",
                 a, s);
        return -EINVAL;
    }
    return 0;
}

static void pick_resolver(struct tun_config *c)
{
    if (c->dns.resolver_family)
        return;
    for (size_t i = 0; i < c->device.route_count; i++) {
        const struct tun_cidr *r = &c->device.routes[i];
        if (r->family == 4 && r->prefix <= 30) {
            c->dns.resolver_family = 4;
            tun_addr_add(4, r->addr, 2, c->dns.resolver);
            return;
        }
    }
}

void tun_config_release(struct tun_config *c)
{
    int *fds[] = {&c->device_fd, &c->dns_fd4, &c->dns_fd6};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

int tun_config_finish(struct tun_config *c, char *cause, size_t cause_len)
{
    struct tun_device_config *d = &c->device;
    if (d->route_count == 0) {
        snprintf(cause, cause_len, "no --subnet given");
        return -EINVAL;
    }
    d->has_ipv4 = d->has_ipv6 = 0;
    for (size_t i = 0; i < d->route_count; i++) {
        d->has_ipv4 |= d->routes[i].family == 4;
        d->has_ipv6 |= d->routes[i].family == 6;
    }
    tun_addr_add(4, d->addr4, 1, d->peer4);
    tun_addr_add(6, d->addr6, 1, d->peer6);
    int rc = 0;
    if (d->has_ipv4 && ((rc = check_outside_subnets(c, 4, d->addr4, cause, cause_len)) < 0 ||
                        (rc = check_outside_subnets(c, 4, d->peer4, cause, cause_len)) < 0))
        return rc;
    if (d->has_ipv6 && ((rc = check_outside_subnets(c, 6, d->addr6, cause, cause_len)) < 0 ||
                        (rc = check_outside_subnets(c, 6, d->peer6, cause, cause_len)) < 0))
        return rc;
    pick_resolver(c);
    if (c->dns.enabled && (c->dns.domain_count > 0 || c->dns.all) && !c->dns.resolver_family) {
        snprintf(cause, cause_len,
                 "no IPv4 subnet to take the VPC resolver from: give --dns-server");
        return -EINVAL;
    }
    return 0;
}

/* ---- the engine thread ---- */

static void queue_event(struct tun *t, const struct tun_verdict *v)
{
    pthread_mutex_lock(&t->queue_lock);
    if (t->queue_count == TUN_EVENT_QUEUE) {
        t->queue_dropped++;
        pthread_mutex_unlock(&t->queue_lock);
        return; /* a SYN is sent again; a DNS query is asked again */
    }
    struct tun_event *ev = &t->queue[(t->queue_head + t->queue_count) % TUN_EVENT_QUEUE];
    t->queue_count++;
    ev->kind = v->action;
    ev->flow = v->handle;
    if (v->action == TUN_ACTION_DNS) {
        const struct tun_packet *p = &v->packet;
        ev->peer.family = p->family;
        memcpy(ev->peer.client, p->src, p->addr_len);
        memcpy(ev->peer.server, p->dst, p->addr_len);
        ev->peer.client_port = p->src_port;
        ev->query_len = (uint16_t)p->payload_len;
        memcpy(ev->query, p->data + p->l4_offset + 8, p->payload_len);
    }
    pthread_mutex_unlock(&t->queue_lock);
    uv_async_send(&t->wake);
}

static void handle_verdict(struct tun *t, uint8_t *packet, uint8_t *reply,
                           const struct tun_offload *meta, const struct tun_verdict *v)
{
    switch (v->action) {
    case TUN_ACTION_FORWARD:
        /* Headers keep their lengths, so the offload offsets stay right. */
        tun_device_write(&t->device, packet, v->packet.len, v->packet.csum_partial ? meta : NULL);
        break;
    case TUN_ACTION_REPLY:
        tun_device_write(&t->device, reply, v->reply_len, NULL);
        break;
    case TUN_ACTION_OPEN:
        /* The loop is woken first: the channel's round trip is what the
         * connection waits for, so it starts while the kernel (in this
         * thread's write) answers the SYN, not after. */
        queue_event(t, v);
        if (!t->config.hold_syn) /* the SYN was readdressed: the kernel answers it now */
            tun_device_write(&t->device, packet, v->packet.len,
                             v->packet.csum_partial ? meta : NULL);
        break;
    case TUN_ACTION_DNS:
        if (v->packet.payload_len <= TUN_DNS_QUERY_MAX)
            queue_event(t, v);
        break;
    default:
        if (v->drop == TUN_DROP_MALFORMED)
            log_trace("dropped a packet: %s", tun_parse_error_name(v->parse_error));
        break;
    }
}

static void *engine_thread(void *arg)
{
    struct tun *t = arg;
    uint8_t *packet = malloc(TUN_PACKET_MAX);
    uint8_t *reply = malloc(TUN_PACKET_MAX);
    while (packet && reply && !atomic_load(&t->thread_stop)) {
        struct tun_offload meta;
        ssize_t n = tun_device_read(&t->device, packet, TUN_PACKET_MAX, &meta);
        if (n == -EAGAIN || n == -EINTR) {
            tun_device_wait(&t->device, t->stop_fd);
            continue;
        }
        if (n < 0) {
            log_error("reading %s: %s; the TUN path stops", t->device.name, strerror((int)-n));
            break;
        }
        struct tun_verdict v;
        tun_engine_process(t->engine, packet, (size_t)n, meta.csum_partial, tun_now_ms(), reply,
                           &v);
        handle_verdict(t, packet, reply, &meta, &v);
    }
    free(packet);
    free(reply);
    return NULL;
}

/* ---- the loop's side ---- */

static int take_event(struct tun *t, struct tun_event *out)
{
    pthread_mutex_lock(&t->queue_lock);
    int got = t->queue_count > 0;
    if (got) {
        *out = t->queue[t->queue_head];
        t->queue_head = (t->queue_head + 1) % TUN_EVENT_QUEUE;
        t->queue_count--;
    }
    pthread_mutex_unlock(&t->queue_lock);
    return got;
}

void tun_process_events(struct tun *t)
{
    struct tun_event *ev = malloc(sizeof(*ev));
    while (ev && !t->stopping && take_event(t, ev)) {
        if (ev->kind == TUN_ACTION_OPEN)
            tun_session_open(t, ev->flow);
        else if (t->dns)
            tun_dns_query_from_device(t->dns, &ev->peer, ev->query, ev->query_len);
    }
    free(ev);
}

static void on_wake(uv_async_t *async)
{
    tun_process_events(async->data);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct tun *t = server->data;
    if (status < 0 || t->stopping)
        return;
    uv_tcp_t *tcp = calloc(1, sizeof(*tcp));
    if (!tcp)
        return;
    uv_tcp_init(t->loop, tcp);
    if (uv_accept(server, (uv_stream_t *)tcp) < 0) {
        uv_close((uv_handle_t *)tcp, (uv_close_cb)free);
        return;
    }
    tun_session_accepted(t, tcp);
}

/* The engine's expire callback runs under its lock and must not call back
 * into the engine, which closing a session does: it only marks the session,
 * and the sessions are closed once the lock is released. A mark on the
 * session itself needs no list, so every expired session is closed however
 * many expire at once. */
static void on_session_expired(void *session, void *user)
{
    struct tun_session *s = session;
    size_t *marked = user;
    s->expired = 1;
    (*marked)++;
}

size_t tun_expire_sessions(struct tun *t, uint64_t now_ms)
{
    size_t marked = 0;
    tun_engine_expire(t->engine, now_ms, on_session_expired, &marked);
    size_t closed = 0;
    /* Closing frees nothing at once (the handles close first), so the list
     * stays whole while it is walked. */
    for (struct tun_session *s = t->sessions; s && closed < marked; s = s->next) {
        if (!s->expired)
            continue;
        s->expired = 0;
        closed++;
        tun_session_close(s, 1, "NAT entry expired");
    }
    return closed;
}

/* Every TUN_SWEEP_MS: the bastion's state for the engine (ping answers);
 * every TUN_EXPIRE_EVERY sweeps: NAT expiry. */
static void on_sweep(uv_timer_t *timer)
{
    struct tun *t = timer->data;
    struct bastion *b = tunnel_bastion(t->tunnel);
    tun_engine_set_link_up(t->engine, b && bastion_get_state(b) == BASTION_READY);
    if (++t->sweeps % TUN_EXPIRE_EVERY != 0)
        return;
    tun_expire_sessions(t, tun_now_ms());
}

static int listen_on(struct tun *t, uv_tcp_t *tcp, int family, const uint8_t *addr, uint16_t *port,
                     char *cause, size_t cause_len)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    char text[64];
    tun_addr_format(family, addr, text, sizeof(text));
    if (family == 4)
        uv_ip4_addr(text, 0, (struct sockaddr_in *)&ss);
    else
        uv_ip6_addr(text, 0, (struct sockaddr_in6 *)&ss);
    uv_tcp_init(t->loop, tcp);
    tcp->data = t;
    int rc = uv_tcp_bind(tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)tcp, 4096, on_connection);
    int len = sizeof(ss);
    if (rc == 0)
        rc = uv_tcp_getsockname(tcp, (struct sockaddr *)&ss, &len);
    if (rc < 0) {
        snprintf(cause, cause_len, "cannot listen on %s: %s", text, uv_strerror(rc));
        return rc;
    }
    *port = ntohs(family == 4 ? ((struct sockaddr_in *)&ss)->sin_port
                              : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

static int open_device(struct tun *t, char *cause, size_t cause_len)
{
    const struct tun_config *c = &t->config;
    if (c->device_fd >= 0) {
        int rc = tun_device_adopt(c->device_fd, c->device.name, &t->device);
        t->config.device_fd = -1;
        if (rc < 0)
            snprintf(cause, cause_len, "the helper's TUN device %s: %s", c->device.name,
                     strerror(-rc));
        return rc;
    }
    return tun_device_open(&c->device, &t->device, cause, cause_len);
}

static int start_listeners(struct tun *t, struct tun_engine_config *ec, char *cause,
                           size_t cause_len)
{
    const struct tun_device_config *d = &t->config.device;
    int rc = 0;
    if ((t->listening4 = d->has_ipv4))
        rc = listen_on(t, &t->listener4, 4, d->addr4, &ec->listen_port4, cause, cause_len);
    if (rc == 0 && (t->listening6 = d->has_ipv6))
        rc = listen_on(t, &t->listener6, 6, d->addr6, &ec->listen_port6, cause, cause_len);
    return rc;
}

static void engine_config(const struct tun *t, struct tun_engine_config *ec)
{
    const struct tun_device_config *d = &t->config.device;
    memset(ec, 0, sizeof(*ec));
    ec->has_ipv4 = d->has_ipv4;
    ec->has_ipv6 = d->has_ipv6;
    memcpy(ec->tun4, d->addr4, 4);
    memcpy(ec->fake4, d->peer4, 4);
    memcpy(ec->tun6, d->addr6, 16);
    memcpy(ec->fake6, d->peer6, 16);
    ec->subnet_count = d->route_count;
    memcpy(ec->subnets, d->routes, d->route_count * sizeof(d->routes[0]));
    ec->max_flows = t->config.max_flows;
    ec->timeouts = t->config.timeouts;
    ec->dns_enabled = t->config.dns.enabled;
    ec->hold_syn = t->config.hold_syn;
}

static void dns_reply(const struct tun_dns_peer *peer, const uint8_t *answer, size_t len,
                      void *user)
{
    struct tun *t = user;
    size_t n = tun_build_udp(peer->family, peer->server, 53, peer->client, peer->client_port,
                             answer, len, t->write_buffer, sizeof(t->write_buffer));
    if (n)
        tun_write_packet(t, t->write_buffer, n, 0);
}

static int start_engine(struct tun *t, char *cause, size_t cause_len)
{
    struct tun_engine_config ec;
    engine_config(t, &ec);
    int rc = start_listeners(t, &ec, cause, cause_len);
    if (rc < 0)
        return rc;
    if ((rc = tun_engine_new(&ec, &t->engine)) < 0) {
        snprintf(cause, cause_len, "out of memory");
        return rc;
    }
    t->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->stop_fd < 0 || pthread_create(&t->thread, NULL, engine_thread, t) != 0) {
        snprintf(cause, cause_len, "cannot start the engine thread: %s", strerror(errno));
        return -EAGAIN;
    }
    t->thread_started = 1;
    return 0;
}

/* Without descriptors from the helper, bind port 53 here (as root). */
static void bind_dns(struct tun *t)
{
    struct tun_config *c = &t->config;
    const struct tun_device_config *d = &c->device;
    char cause[256];
    if (c->dns_fd4 < 0 && d->has_ipv4 &&
        (c->dns_fd4 = tun_dns_bind(4, d->addr4, cause, sizeof(cause))) < 0)
        log_warn("%s: the forwarder answers only queries sent to VPC addresses", cause);
    if (c->dns_fd6 < 0 && d->has_ipv6 &&
        (c->dns_fd6 = tun_dns_bind(6, d->addr6, cause, sizeof(cause))) < 0)
        log_debug("%s", cause);
}

static int start_dns(struct tun *t, char *cause, size_t cause_len)
{
    struct tun_config *c = &t->config;
    if (!c->dns.enabled)
        return 0;
    bind_dns(t);
    int rc = tun_dns_start(t->loop, tunnel_bastion(t->tunnel), &c->dns, c->dns_fd4, c->dns_fd6,
                           dns_reply, t, &t->dns, cause, cause_len);
    c->dns_fd4 = c->dns_fd6 = -1;
    return rc;
}

static void log_started(const struct tun *t)
{
    const struct tun_device_config *d = &t->config.device;
    char routes[512] = "", one[TUN_CIDR_TEXT_MAX + 2];
    for (size_t i = 0; i < d->route_count; i++) {
        tun_cidr_format(&d->routes[i], one, sizeof(one));
        if (strlen(routes) + strlen(one) + 3 < sizeof(routes))
            strcat(strcat(routes, i ? ", " : ""), one);
    }
    log_info("TUN device %s (MTU %u) routes %s through the tunnel", t->device.name, d->mtu, routes);
}

int tun_start(uv_loop_t *loop, struct tunnel *tunnel, const struct tun_config *config,
              struct tun **out, char *cause, size_t cause_len)
{
    struct tun *t = calloc(1, sizeof(*t));
    t->queue = t ? calloc(TUN_EVENT_QUEUE, sizeof(*t->queue)) : NULL;
    if (!t || !t->queue) {
        free(t);
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    t->loop = loop;
    t->tunnel = tunnel;
    t->config = *config;
    t->device.fd = -1;
    t->stop_fd = -1;
    pthread_mutex_init(&t->queue_lock, NULL);
    uv_async_init(loop, &t->wake, on_wake);
    t->wake.data = t;
    uv_timer_init(loop, &t->sweep_timer);
    t->sweep_timer.data = t;
    int rc = open_device(t, cause, cause_len);
    if (rc == 0)
        rc = start_engine(t, cause, cause_len);
    if (rc == 0)
        rc = start_dns(t, cause, cause_len);
    if (rc < 0) {
        tun_stop(t, NULL, NULL);
        return rc;
    }
    uv_timer_start(&t->sweep_timer, on_sweep, 0, TUN_SWEEP_MS);
    log_started(t);
    *out = t;
    return 0;
}

const char *tun_device_name(const struct tun *t)
{
    return t->device.name;
}

/* ---- stopping ---- */

static void maybe_stopped(struct tun *t)
{
    if (!t->stopping || t->pending_closes > 0)
        return;
    void (*on_stopped)(void *) = t->on_stopped;
    void *user = t->stopped_user;
    tun_engine_free(t->engine);
    tun_config_release(&t->config); /* descriptors a failed start never took */
    pthread_mutex_destroy(&t->queue_lock);
    free(t->queue);
    free(t);
    if (on_stopped)
        on_stopped(user);
}

void tun_session_freed(struct tun *t, struct tun_session *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        t->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    t->session_count--;
    free(s);
    if (t->stopping) {
        t->pending_closes--;
        maybe_stopped(t);
    }
}

static void on_closed(uv_handle_t *handle)
{
    struct tun *t = handle->data;
    t->pending_closes--;
    maybe_stopped(t);
}

static void on_dns_stopped(void *user)
{
    struct tun *t = user;
    t->dns = NULL;
    t->pending_closes--;
    maybe_stopped(t);
}

static void close_handle(struct tun *t, uv_handle_t *handle)
{
    t->pending_closes++;
    handle->data = t;
    uv_close(handle, on_closed);
}

static void stop_thread(struct tun *t)
{
    if (t->thread_started) {
        atomic_store(&t->thread_stop, 1);
        uint64_t one = 1;
        if (write(t->stop_fd, &one, sizeof(one)) < 0)
            log_debug("waking the engine thread: %s", strerror(errno));
        pthread_join(t->thread, NULL);
        t->thread_started = 0;
    }
    if (t->stop_fd >= 0)
        close(t->stop_fd);
    t->stop_fd = -1;
}

static void log_summary(struct tun *t)
{
    if (!t->engine)
        return;
    struct tun_engine_stats s;
    tun_engine_get_stats(t->engine, &s);
    log_info("TUN engine: %llu packets in, %llu out; %llu flows opened, %llu refused; "
             "%llu RST and %llu ICMP sent, %llu pings answered, %llu DNS queries; drops: "
             "malformed %llu, not for the VPC %llu, no flow %llu, table full %llu, other %llu",
             (unsigned long long)s.packets_in, (unsigned long long)s.packets_out,
             (unsigned long long)s.flows_opened, (unsigned long long)s.flows_refused,
             (unsigned long long)s.rst_sent, (unsigned long long)s.icmp_sent,
             (unsigned long long)s.echo_answered, (unsigned long long)s.dns_queries,
             (unsigned long long)s.drops[TUN_DROP_MALFORMED],
             (unsigned long long)s.drops[TUN_DROP_NOT_OURS],
             (unsigned long long)s.drops[TUN_DROP_NO_FLOW],
             (unsigned long long)s.drops[TUN_DROP_TABLE_FULL],
             (unsigned long long)(s.drops[TUN_DROP_WAITING] + s.drops[TUN_DROP_SYN_TOO_BIG] +
                                  s.drops[TUN_DROP_PROTOCOL]));
    if (!t->dns)
        return;
    struct tun_dns_stats d;
    tun_dns_get_stats(t->dns, &d);
    log_info("TUN DNS: %llu queries, %llu forwarded to the VPC, %llu answered, %llu refused, "
             "%llu failed, %llu dropped",
             (unsigned long long)d.queries, (unsigned long long)d.forwarded,
             (unsigned long long)d.answered, (unsigned long long)d.refused,
             (unsigned long long)d.failed, (unsigned long long)d.dropped);
}

void tun_stop(struct tun *t, void (*on_stopped)(void *user), void *user)
{
    if (t->stopping)
        return;
    log_summary(t);
    t->stopping = 1;
    t->on_stopped = on_stopped;
    t->stopped_user = user;
    t->pending_closes = 1; /* released at the end of this function */
    for (struct tun_session *s = t->sessions; s; s = s->next) {
        t->pending_closes++;
        tun_session_close(s, 1, "tether is shutting down");
    }
    stop_thread(t);
    /* Closing the device removes it with its addresses and routes. */
    tun_device_close(&t->device);
    if (t->dns) {
        t->pending_closes++;
        tun_dns_stop(t->dns, on_dns_stopped, t);
    }
    close_handle(t, (uv_handle_t *)&t->wake);
    close_handle(t, (uv_handle_t *)&t->sweep_timer);
    if (t->listening4)
        close_handle(t, (uv_handle_t *)&t->listener4);
    if (t->listening6)
        close_handle(t, (uv_handle_t *)&t->listener6);
    t->pending_closes--;
    maybe_stopped(t);
}
