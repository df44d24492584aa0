/* The packet engine (see engine.h): classification, NAT readdressing and
 * the local answers. One lock guards the NAT table and the counters. */
#include "tun/engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "tun"
#include "core/log.h"

struct tun_engine {
    struct tun_engine_config config;
    struct nat_table *nat;
    pthread_mutex_t lock;
    atomic_int link_up;
    struct tun_engine_stats stats;
};

static const char *const action_names[] = {
    [TUN_ACTION_DROP] = "drop", [TUN_ACTION_FORWARD] = "forward", [TUN_ACTION_REPLY] = "reply",
    [TUN_ACTION_OPEN] = "open", [TUN_ACTION_DNS] = "dns",
};

static const char *const drop_names[] = {
    [TUN_DROP_NONE] = "none",
    [TUN_DROP_MALFORMED] = "malformed",
    [TUN_DROP_NOT_OURS] = "not for a VPC subnet",
    [TUN_DROP_NO_FLOW] = "no such flow",
    [TUN_DROP_TABLE_FULL] = "NAT table full",
    [TUN_DROP_WAITING] = "flow still opening",
    [TUN_DROP_SYN_TOO_BIG] = "SYN too big",
    [TUN_DROP_PROTOCOL] = "unsupported protocol",
};

const char *tun_action_name(enum tun_action action)
{
    return (unsigned)action <= TUN_ACTION_DNS ? action_names[action] : "?";
}

const char *tun_drop_reason_name(enum tun_drop_reason reason)
{
    return (unsigned)reason < TUN_DROP_COUNT ? drop_names[reason] : "?";
}

int tun_engine_new(const struct tun_engine_config *config, struct tun_engine **out)
{
    struct tun_engine *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->config = *config;
    if (e->config.subnet_count > TUN_MAX_SUBNETS)
        e->config.subnet_count = TUN_MAX_SUBNETS;
    int rc = nat_new(config->max_flows, &config->timeouts, &e->nat);
    if (rc < 0) {
        free(e);
        return rc;
    }
    pthread_mutex_init(&e->lock, NULL);
    *out = e;
    return 0;
}

void tun_engine_free(struct tun_engine *e)
{
    if (!e)
        return;
    nat_free(e->nat);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

void tun_engine_set_link_up(struct tun_engine *e, int up)
{
    atomic_store(&e->link_up, up);
}

/* ---- classification ---- */

static int in_subnets(const struct tun_engine *e, const struct tun_packet *p)
{
    for (size_t i = 0; i < e->config.subnet_count; i++)
        if (tun_cidr_contains(&e->config.subnets[i], p->family, p->dst))
            return 1;
    return 0;
}

static const uint8_t *tun_addr(const struct tun_engine *e, int family)
{
    return family == 4 ? e->config.tun4 : e->config.tun6;
}

static const uint8_t *fake_addr(const struct tun_engine *e, int family)
{
    return family == 4 ? e->config.fake4 : e->config.fake6;
}

static uint16_t listen_port(const struct tun_engine *e, int family)
{
    return family == 4 ? e->config.listen_port4 : e->config.listen_port6;
}

static int family_enabled(const struct tun_engine *e, int family)
{
    return family == 4 ? e->config.has_ipv4 : e->config.has_ipv6;
}

/* A segment from our listener to the fake client. */
static int is_listener_reply(const struct tun_engine *e, const struct tun_packet *p)
{
    return p->proto == TUN_PROTO_TCP && p->src_port == listen_port(e, p->family) &&
           memcmp(p->src, tun_addr(e, p->family), p->addr_len) == 0 &&
           memcmp(p->dst, fake_addr(e, p->family), p->addr_len) == 0;
}

static void key_of(const struct tun_packet *p, struct nat_key *k)
{
    memset(k, 0, sizeof(*k));
    k->family = (uint8_t)p->family;
    memcpy(k->src, p->src, p->addr_len);
    memcpy(k->dst, p->dst, p->addr_len);
    k->src_port = p->src_port;
    k->dst_port = p->dst_port;
}

static void drop(struct tun_engine *e, struct tun_verdict *v, enum tun_drop_reason reason)
{
    v->action = TUN_ACTION_DROP;
    v->drop = reason;
    e->stats.drops[reason]++;
}

static void reply(struct tun_verdict *v, size_t len)
{
    v->action = len ? TUN_ACTION_REPLY : TUN_ACTION_DROP;
    v->reply_len = len;
}

/* ---- TCP ---- */

static void tcp_from_listener(struct tun_engine *e, struct tun_packet *p, uint64_t now,
                              struct tun_verdict *v)
{
    struct nat_entry *entry = nat_by_port(e->nat, p->family, p->dst_port);
    if (!entry) {
        drop(e, v, TUN_DROP_NO_FLOW);
        return;
    }
    nat_track(e->nat, entry, p->tcp_flags, 0, now);
    tun_packet_readdress(p, entry->key.dst, entry->key.dst_port, entry->key.src,
                         entry->key.src_port);
    v->action = TUN_ACTION_FORWARD;
}

static void tcp_new_flow(struct tun_engine *e, struct tun_packet *p, const struct nat_key *key,
                         uint64_t now, struct tun_verdict *v)
{
    struct nat_entry *entry;
    if (nat_create(e->nat, key, now, &entry) < 0) {
        drop(e, v, TUN_DROP_TABLE_FULL);
        return;
    }
    v->handle = nat_handle_of(entry);
    if (!e->config.hold_syn) {
        /* The kernel answers the SYN while the forward opens. */
        nat_enter_state(e->nat, entry, NAT_OPEN, now);
        e->stats.flows_opened++;
        tun_packet_readdress(p, fake_addr(e, p->family), entry->nat_port, tun_addr(e, p->family),
                             listen_port(e, p->family));
        v->action = TUN_ACTION_OPEN;
        return;
    }
    if (nat_hold_syn(entry, p->data, p->len, p->csum_partial) < 0) {
        nat_remove(e->nat, entry, now);
        drop(e, v, TUN_DROP_SYN_TOO_BIG);
        return;
    }
    v->action = TUN_ACTION_OPEN;
}

static void tcp_from_client(struct tun_engine *e, struct tun_packet *p, uint64_t now,
                            uint8_t *reply_buf, struct tun_verdict *v)
{
    struct nat_key key;
    key_of(p, &key);
    struct nat_entry *entry = nat_lookup(e->nat, &key);
    int syn = (p->tcp_flags & (TUN_TCP_SYN | TUN_TCP_ACK | TUN_TCP_RST)) == TUN_TCP_SYN;
    if (entry && syn && entry->state == NAT_CLOSED) {
        /* The application reuses the port for a new connection. */
        nat_remove(e->nat, entry, now);
        entry = NULL;
    }
    if (!entry) {
        if (syn)
            tcp_new_flow(e, p, &key, now, v);
        else if (p->tcp_flags & TUN_TCP_RST)
            drop(e, v, TUN_DROP_NO_FLOW);
        else {
            e->stats.rst_sent++;
            reply(v, tun_build_tcp_reset(p, reply_buf, TUN_PACKET_MAX));
        }
        return;
    }
    if (entry->state == NAT_OPENING) {
        if (syn && nat_hold_syn(entry, p->data, p->len, p->csum_partial) == 0)
            v->action = TUN_ACTION_DROP; /* a retransmitted SYN: keep the newest */
        else
            drop(e, v, TUN_DROP_WAITING);
        return;
    }
    nat_track(e->nat, entry, p->tcp_flags, 1, now);
    tun_packet_readdress(p, fake_addr(e, p->family), entry->nat_port, tun_addr(e, p->family),
                         listen_port(e, p->family));
    v->action = TUN_ACTION_FORWARD;
}

/* ---- UDP and ICMP ---- */

static uint8_t port_unreachable_code(int family)
{
    return family == 4 ? TUN_ICMP4_PORT_UNREACHABLE : TUN_ICMP6_PORT_UNREACHABLE;
}

static uint8_t host_unreachable_code(int family)
{
    return family == 4 ? TUN_ICMP4_HOST_UNREACHABLE : TUN_ICMP6_ADDR_UNREACHABLE;
}

static void udp_to_vpc(struct tun_engine *e, struct tun_packet *p, uint8_t *reply_buf,
                       struct tun_verdict *v)
{
    if (p->dst_port == 53 && e->config.dns_enabled) {
        e->stats.dns_queries++;
        v->action = TUN_ACTION_DNS;
        return;
    }
    e->stats.icmp_sent++;
    reply(v, tun_build_unreachable(p, port_unreachable_code(p->family), reply_buf, TUN_PACKET_MAX));
}

static void icmp_to_vpc(struct tun_engine *e, struct tun_packet *p, uint8_t *reply_buf,
                        struct tun_verdict *v)
{
    int echo = p->family == 4 ? p->icmp_type == 8 : p->icmp_type == 128;
    if (!echo || p->icmp_code != 0) {
        drop(e, v, TUN_DROP_PROTOCOL);
        return;
    }
    if (atomic_load(&e->link_up)) {
        e->stats.echo_answered++;
        reply(v, tun_build_echo_reply(p, reply_buf, TUN_PACKET_MAX));
    } else {
        e->stats.icmp_sent++;
        reply(v, tun_build_unreachable(p, host_unreachable_code(p->family), reply_buf,
                                       TUN_PACKET_MAX));
    }
}

static void classify(struct tun_engine *e, struct tun_packet *p, uint64_t now, uint8_t *reply_buf,
                     struct tun_verdict *v)
{
    if (!family_enabled(e, p->family)) {
        drop(e, v, TUN_DROP_NOT_OURS);
        return;
    }
    if (is_listener_reply(e, p)) {
        tcp_from_listener(e, p, now, v);
        return;
    }
    if (!in_subnets(e, p)) {
        drop(e, v, TUN_DROP_NOT_OURS);
        return;
    }
    switch (p->proto) {
    case TUN_PROTO_TCP:
        tcp_from_client(e, p, now, reply_buf, v);
        break;
    case TUN_PROTO_UDP:
        udp_to_vpc(e, p, reply_buf, v);
        break;
    case TUN_PROTO_ICMP:
    case TUN_PROTO_ICMPV6:
        icmp_to_vpc(e, p, reply_buf, v);
        break;
    default:
        drop(e, v, TUN_DROP_PROTOCOL);
        break;
    }
}

void tun_engine_process(struct tun_engine *e, uint8_t *packet, size_t len, int csum_partial,
                        uint64_t now_ms, uint8_t *reply_buf, struct tun_verdict *v)
{
    memset(v, 0, sizeof(*v));
    pthread_mutex_lock(&e->lock);
    e->stats.packets_in++;
    e->stats.bytes_in += len;
    int rc = tun_packet_parse(packet, len, &v->packet);
    if (rc < 0) {
        v->parse_error = -rc;
        e->stats.parse_errors[-rc]++;
        drop(e, v, TUN_DROP_MALFORMED);
    } else {
        v->packet.csum_partial = csum_partial && v->packet.proto == TUN_PROTO_TCP;
        classify(e, &v->packet, now_ms, reply_buf, v);
    }
    if (v->action == TUN_ACTION_FORWARD || v->action == TUN_ACTION_REPLY)
        e->stats.packets_out++;
    pthread_mutex_unlock(&e->lock);
}

/* ---- the loop's side ---- */

int tun_engine_flow_target(struct tun_engine *e, struct nat_handle handle, int *family,
                           uint8_t addr[16], uint16_t *port, uint8_t client[16],
                           uint16_t *client_port)
{
    pthread_mutex_lock(&e->lock);
    struct nat_entry *entry = nat_get(e->nat, handle);
    if (entry) {
        *family = entry->key.family;
        memcpy(addr, entry->key.dst, 16);
        *port = entry->key.dst_port;
        memcpy(client, entry->key.src, 16);
        *client_port = entry->key.src_port;
    }
    pthread_mutex_unlock(&e->lock);
    return entry ? 0 : -ENOENT;
}

int tun_engine_flow_attach(struct tun_engine *e, struct nat_handle handle, void *session)
{
    pthread_mutex_lock(&e->lock);
    struct nat_entry *entry = nat_get(e->nat, handle);
    if (entry)
        entry->session = session;
    pthread_mutex_unlock(&e->lock);
    return entry ? 0 : -ENOENT;
}

int tun_engine_flow_open(struct tun_engine *e, struct nat_handle handle, uint64_t now_ms,
                         uint8_t *out, size_t *out_len, int *csum_partial)
{
    int rc = -ENOENT;
    *out_len = 0;
    *csum_partial = 0;
    pthread_mutex_lock(&e->lock);
    struct nat_entry *entry = nat_get(e->nat, handle);
    struct tun_packet p;
    if (entry && entry->state == NAT_OPENING && entry->syn &&
        tun_packet_parse(memcpy(out, entry->syn, entry->syn_len), entry->syn_len, &p) == 0) {
        p.csum_partial = *csum_partial = entry->syn_csum_partial;
        tun_packet_readdress(&p, fake_addr(e, p.family), entry->nat_port, tun_addr(e, p.family),
                             listen_port(e, p.family));
        *out_len = p.len;
        free(entry->syn);
        entry->syn = NULL;
        nat_enter_state(e->nat, entry, NAT_OPEN, now_ms);
        entry->last_ms = now_ms;
        e->stats.flows_opened++;
        e->stats.packets_out++;
        rc = 0;
    }
    pthread_mutex_unlock(&e->lock);
    return rc;
}

static size_t build_refusal(struct tun_engine *e, const struct nat_entry *entry,
                            enum tun_refusal how, uint8_t *out)
{
    struct tun_packet syn;
    uint8_t copy[NAT_SYN_MAX];
    if (how == TUN_REFUSE_SILENT || !entry->syn)
        return 0;
    memcpy(copy, entry->syn, entry->syn_len);
    if (tun_packet_parse(copy, entry->syn_len, &syn) < 0)
        return 0;
    if (how == TUN_REFUSE_RESET) {
        e->stats.rst_sent++;
        return tun_build_tcp_reset(&syn, out, TUN_PACKET_MAX);
    }
    e->stats.icmp_sent++;
    return tun_build_unreachable(&syn, host_unreachable_code(syn.family), out, TUN_PACKET_MAX);
}

int tun_engine_flow_refuse(struct tun_engine *e, struct nat_handle handle, enum tun_refusal how,
                           uint64_t now_ms, uint8_t *out, size_t *out_len)
{
    *out_len = 0;
    pthread_mutex_lock(&e->lock);
    struct nat_entry *entry = nat_get(e->nat, handle);
    if (entry) {
        *out_len = build_refusal(e, entry, how, out);
        e->stats.flows_refused++;
        nat_remove(e->nat, entry, now_ms);
    }
    pthread_mutex_unlock(&e->lock);
    return entry ? 0 : -ENOENT;
}

void *tun_engine_session_by_port(struct tun_engine *e, int family, uint16_t nat_port)
{
    pthread_mutex_lock(&e->lock);
    struct nat_entry *entry = nat_by_port(e->nat, family, nat_port);
    void *session = entry ? entry->session : NULL;
    pthread_mutex_unlock(&e->lock);
    return session;
}

struct expire_context {
    void (*expire)(void *session, void *user);
    void *user;
};

static void on_entry_expired(struct nat_entry *entry, void *user)
{
    struct expire_context *c = user;
    log_debug("flow %u (port %u) expired in state %s", entry->generation, entry->nat_port,
              nat_state_name(entry->state));
    if (entry->session && c->expire)
        c->expire(entry->session, c->user);
}

size_t tun_engine_expire(struct tun_engine *e, uint64_t now_ms,
                         void (*expire)(void *session, void *user), void *user)
{
    struct expire_context c = {expire, user};
    pthread_mutex_lock(&e->lock);
    size_t n = nat_expire(e->nat, now_ms, on_entry_expired, &c);
    pthread_mutex_unlock(&e->lock);
    return n;
}

void tun_engine_get_stats(struct tun_engine *e, struct tun_engine_stats *out)
{
    pthread_mutex_lock(&e->lock);
    *out = e->stats;
    out->flows = nat_count(e->nat);
    pthread_mutex_unlock(&e->lock);
}
