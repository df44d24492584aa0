/* The NAT table and the packet engine (tun/nat.c, tun/engine.c): flows are
 * readdressed to the listener and back, SYNs are held until the forward
 * opens, refusals answer the application, entries expire. */
#include <errno.h>

#include "test.h"
#include "test_tun_packets.h"

#include "tun/engine.h"
#include "tun/nat.h"
#include "tun/tun_internal.h"

static const uint8_t tun4[4] = {198, 19, 255, 1}, fake4[4] = {198, 19, 255, 2};
static const uint8_t vpc4[4] = {198, 18, 2, 2}, other4[4] = {198, 18, 9, 9};
static const uint8_t tun6[16] = {0x20, 1, 0, 2, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t fake6[16] = {0x20, 1, 0, 2, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t vpc6[16] = {0x20, 1, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2};
static uint8_t reply[TUN_PACKET_MAX];

static const struct nat_timeouts timeouts = {1000, 50000, 20000, 3000};

static struct tun_engine *new_engine(size_t max_flows)
{
    struct tun_engine_config c;
    memset(&c, 0, sizeof(c));
    c.has_ipv4 = c.has_ipv6 = 1;
    memcpy(c.tun4, tun4, 4);
    memcpy(c.fake4, fake4, 4);
    memcpy(c.tun6, tun6, 16);
    memcpy(c.fake6, fake6, 16);
    c.listen_port4 = 7777;
    c.listen_port6 = 8888;
    c.subnet_count = 2;
    c.subnets[0].family = 4;
    memcpy(c.subnets[0].addr, vpc4, 3);
    c.subnets[0].prefix = 24;
    c.subnets[1].family = 6;
    memcpy(c.subnets[1].addr, vpc6, 8);
    c.subnets[1].prefix = 64;
    c.max_flows = max_flows;
    c.timeouts = timeouts;
    c.dns_enabled = 1;
    c.hold_syn = 1;
    struct tun_engine *e = NULL;
    CHECK_INT(tun_engine_new(&c, &e), 0);
    return e;
}

static struct tun_verdict process(struct tun_engine *e, uint8_t *pkt, size_t len, uint64_t now)
{
    struct tun_verdict v;
    tun_engine_process(e, pkt, len, 0, now, reply, &v);
    return v;
}

/* Opens a flow: SYN held, forward "opened", SYN passed on. Returns the NAT port. */
static uint16_t open_flow(struct tun_engine *e, int family, uint16_t sport, uint64_t now)
{
    uint8_t pkt[128], out[TUN_PACKET_MAX];
    const uint8_t *src = family == 4 ? tun4 : tun6, *dst = family == 4 ? vpc4 : vpc6;
    size_t len = tp_tcp(pkt, family, src, sport, dst, 5432, TUN_TCP_SYN, 100, 0, NULL);
    struct tun_verdict v = process(e, pkt, len, now);
    CHECK_INT(v.action, TUN_ACTION_OPEN);
    static int session;
    CHECK_INT(tun_engine_flow_attach(e, v.handle, &session), 0);
    size_t out_len;
    int partial;
    CHECK_INT(tun_engine_flow_open(e, v.handle, now, out, &out_len, &partial), 0);
    CHECK_INT(partial, 0);
    struct tun_packet p;
    CHECK_INT(tun_packet_parse(out, out_len, &p), 0);
    CHECK(memcmp(p.src, family == 4 ? fake4 : fake6, p.addr_len) == 0);
    CHECK(memcmp(p.dst, family == 4 ? tun4 : tun6, p.addr_len) == 0);
    CHECK_INT(p.dst_port, family == 4 ? 7777 : 8888);
    CHECK_INT(p.tcp_flags, TUN_TCP_SYN);
    size_t ip = family == 4 ? 20 : 40;
    CHECK(tp_l4_checksum_ok(out, family, ip, out_len - ip, 6));
    CHECK(tun_engine_session_by_port(e, family, p.src_port) == &session);
    return p.src_port;
}

TEST(nat_ports_round_robin_and_rest)
{
    struct nat_table *nat;
    CHECK_INT(nat_new(4, &timeouts, &nat), 0);
    struct nat_key k;
    memset(&k, 0, sizeof(k));
    k.family = 4;
    struct nat_entry *a, *b, *c;
    k.src_port = 1;
    CHECK_INT(nat_create(nat, &k, 1000, &a), 0);
    k.src_port = 2;
    CHECK_INT(nat_create(nat, &k, 1000, &b), 0);
    CHECK_INT(b->nat_port, a->nat_port + 1);
    CHECK(nat_lookup(nat, &k) == b);
    CHECK(nat_by_port(nat, 4, b->nat_port) == b);
    CHECK(nat_by_port(nat, 6, b->nat_port) == NULL);
    struct nat_handle h = nat_handle_of(b);
    uint16_t freed = b->nat_port;
    nat_remove(nat, b, 2000);
    CHECK(nat_get(nat, h) == NULL);
    CHECK(nat_lookup(nat, &k) == NULL);
    k.src_port = 3;
    CHECK_INT(nat_create(nat, &k, 3000, &c), 0);
    CHECK(c->nat_port != freed); /* the released port rests */
    k.src_port = 4;
    struct nat_entry *d, *e;
    CHECK_INT(nat_create(nat, &k, 3000, &d), 0);
    k.src_port = 5;
    CHECK_INT(nat_create(nat, &k, 3000, &e), 0);
    k.src_port = 6;
    CHECK_INT(nat_create(nat, &k, 3000, &e), -ENOSPC); /* the cap */
    CHECK_INT(nat_count(nat), 4);
    nat_free(nat);
}

TEST(nat_states_follow_flags)
{
    struct nat_table *nat;
    CHECK_INT(nat_new(16, &timeouts, &nat), 0);
    struct nat_key k;
    memset(&k, 0, sizeof(k));
    k.family = 6;
    struct nat_entry *e;
    CHECK_INT(nat_create(nat, &k, 0, &e), 0);
    CHECK_STR(nat_state_name(e->state), "opening");
    nat_enter_state(nat, e, NAT_OPEN, 10);
    nat_track(nat, e, TUN_TCP_ACK, 1, 20);
    CHECK_INT(e->state, NAT_OPEN);
    nat_track(nat, e, TUN_TCP_FIN | TUN_TCP_ACK, 0, 30);
    CHECK_INT(e->state, NAT_HALF_CLOSED);
    nat_track(nat, e, TUN_TCP_FIN | TUN_TCP_ACK, 1, 40);
    CHECK_INT(e->state, NAT_CLOSED);
    CHECK_INT(nat_expire(nat, 40 + timeouts.closed_ms - 1, NULL, NULL), 0);
    CHECK_INT(nat_expire(nat, 40 + timeouts.closed_ms, NULL, NULL), 1);
    CHECK_INT(nat_count(nat), 0);
    nat_free(nat);
}

TEST(engine_round_trip_ipv4_and_ipv6)
{
    struct tun_engine *e = new_engine(64);
    for (int family = 4; family <= 6; family += 2) {
        const uint8_t *client = family == 4 ? tun4 : tun6, *vpc = family == 4 ? vpc4 : vpc6;
        const uint8_t *fake = family == 4 ? fake4 : fake6;
        uint16_t listen = family == 4 ? 7777 : 8888;
        size_t ip = family == 4 ? 20 : 40;
        uint16_t nat_port = open_flow(e, family, 40000, 1000);
        /* Application -> VPC data goes to the listener. */
        uint8_t pkt[256];
        size_t len = tp_tcp(pkt, family, client, 40000, vpc, 5432, TUN_TCP_ACK, 101, 1, "SELECT");
        struct tun_verdict v = process(e, pkt, len, 1001);
        CHECK_INT(v.action, TUN_ACTION_FORWARD);
        CHECK_INT(v.packet.src_port, nat_port);
        CHECK_INT(v.packet.dst_port, listen);
        CHECK(tp_l4_checksum_ok(pkt, family, ip, len - ip, 6));
        /* The listener's answer goes back as if from the VPC host. */
        len = tp_tcp(pkt, family, client, listen, fake, nat_port, TUN_TCP_ACK, 1, 107, "row");
        v = process(e, pkt, len, 1002);
        CHECK_INT(v.action, TUN_ACTION_FORWARD);
        CHECK(memcmp(pkt + (family == 4 ? 12 : 8), vpc, family == 4 ? 4 : 16) == 0);
        CHECK_INT(v.packet.src_port, 5432);
        CHECK_INT(v.packet.dst_port, 40000);
        CHECK(tp_l4_checksum_ok(pkt, family, ip, len - ip, 6));
        if (family == 4)
            CHECK(tp_ipv4_header_ok(pkt));
    }
    struct tun_engine_stats stats;
    tun_engine_get_stats(e, &stats);
    CHECK_INT(stats.flows, 2);
    CHECK_INT(stats.flows_opened, 2);
    tun_engine_free(e);
}

TEST(engine_holds_syn_and_refuses)
{
    struct tun_engine *e = new_engine(64);
    uint8_t pkt[128], out[TUN_PACKET_MAX];
    size_t len = tp_tcp(pkt, 4, tun4, 41000, vpc4, 9, TUN_TCP_SYN, 500, 0, NULL);
    struct tun_verdict v = process(e, pkt, len, 0);
    CHECK_INT(v.action, TUN_ACTION_OPEN);
    struct nat_handle h = v.handle;
    /* A retransmitted SYN is kept, not opened again; data waits. */
    v = process(e, pkt, len, 10);
    CHECK_INT(v.action, TUN_ACTION_DROP);
    len = tp_tcp(pkt, 4, tun4, 41000, vpc4, 9, TUN_TCP_ACK, 501, 1, "x");
    CHECK_INT(process(e, pkt, len, 11).drop, TUN_DROP_WAITING);
    size_t out_len;
    CHECK_INT(tun_engine_flow_refuse(e, h, TUN_REFUSE_RESET, 20, out, &out_len), 0);
    struct tun_packet rst;
    CHECK_INT(tun_packet_parse(out, out_len, &rst), 0);
    CHECK_INT(rst.tcp_flags, TUN_TCP_RST | TUN_TCP_ACK);
    CHECK_INT(rst.ack, 501);
    CHECK(memcmp(rst.src, vpc4, 4) == 0);
    CHECK_INT(tun_engine_flow_refuse(e, h, TUN_REFUSE_RESET, 20, out, &out_len), -ENOENT);
    /* Unreachable: ICMP host unreachable quoting the SYN. */
    len = tp_tcp(pkt, 6, tun6, 41000, vpc6, 9, TUN_TCP_SYN, 500, 0, NULL);
    v = process(e, pkt, len, 30);
    CHECK_INT(tun_engine_flow_refuse(e, v.handle, TUN_REFUSE_UNREACHABLE, 40, out, &out_len), 0);
    CHECK_INT(tun_packet_parse(out, out_len, &rst), 0);
    CHECK_INT(rst.icmp_type, 1);
    CHECK_INT(rst.icmp_code, TUN_ICMP6_ADDR_UNREACHABLE);
    tun_engine_free(e);
}

TEST(engine_resets_unknown_segments)
{
    struct tun_engine *e = new_engine(64);
    uint8_t pkt[128];
    size_t len = tp_tcp(pkt, 4, tun4, 42000, vpc4, 80, TUN_TCP_ACK, 9, 99, "stale");
    struct tun_verdict v = process(e, pkt, len, 0);
    CHECK_INT(v.action, TUN_ACTION_REPLY);
    struct tun_packet rst;
    CHECK_INT(tun_packet_parse(reply, v.reply_len, &rst), 0);
    CHECK_INT(rst.tcp_flags, TUN_TCP_RST);
    CHECK_INT(rst.seq, 99);
    len = tp_tcp(pkt, 4, tun4, 42000, vpc4, 80, TUN_TCP_RST, 9, 0, NULL);
    CHECK_INT(process(e, pkt, len, 0).drop, TUN_DROP_NO_FLOW);
    /* A listener reply for a port nobody has. */
    len = tp_tcp(pkt, 4, tun4, 7777, fake4, 60000, TUN_TCP_ACK, 1, 1, NULL);
    CHECK_INT(process(e, pkt, len, 0).drop, TUN_DROP_NO_FLOW);
    /* Outside the subnets. */
    len = tp_tcp(pkt, 4, tun4, 1, other4, 80, TUN_TCP_SYN, 1, 0, NULL);
    CHECK_INT(process(e, pkt, len, 0).drop, TUN_DROP_NOT_OURS);
    tun_engine_free(e);
}

TEST(engine_udp_icmp_dns)
{
    struct tun_engine *e = new_engine(64);
    uint8_t pkt[128];
    size_t len = tp_udp(pkt, 4, tun4, 5000, vpc4, 53, "query", 5);
    CHECK_INT(process(e, pkt, len, 0).action, TUN_ACTION_DNS);
    len = tp_udp(pkt, 4, tun4, 5000, vpc4, 123, "ntp", 3);
    struct tun_verdict v = process(e, pkt, len, 0);
    CHECK_INT(v.action, TUN_ACTION_REPLY);
    struct tun_packet r;
    CHECK_INT(tun_packet_parse(reply, v.reply_len, &r), 0);
    CHECK_INT(r.icmp_type, 3);
    CHECK_INT(r.icmp_code, 3);
    len = tp_echo(pkt, 6, tun6, vpc6);
    v = process(e, pkt, len, 0);
    CHECK_INT(tun_packet_parse(reply, v.reply_len, &r), 0);
    CHECK_INT(r.icmp_type, 1); /* link down: unreachable */
    tun_engine_set_link_up(e, 1);
    v = process(e, pkt, len, 0);
    CHECK_INT(tun_packet_parse(reply, v.reply_len, &r), 0);
    CHECK_INT(r.icmp_type, 129);
    tun_engine_free(e);
}

TEST(engine_table_full_and_expiry)
{
    struct tun_engine *e = new_engine(2);
    open_flow(e, 4, 1, 0);
    open_flow(e, 4, 2, 0);
    uint8_t pkt[128];
    size_t len = tp_tcp(pkt, 4, tun4, 3, vpc4, 5432, TUN_TCP_SYN, 1, 0, NULL);
    CHECK_INT(process(e, pkt, len, 0).drop, TUN_DROP_TABLE_FULL);
    CHECK_INT(tun_engine_expire(e, timeouts.established_ms - 1, NULL, NULL), 0);
    CHECK_INT(tun_engine_expire(e, timeouts.established_ms, NULL, NULL), 2);
    CHECK_INT(process(e, pkt, len, timeouts.established_ms).action, TUN_ACTION_OPEN);
    tun_engine_free(e);
}

static void count_expired(void *session, void *user)
{
    (*(int *)user)++;
}

TEST(engine_closed_flow_lingers_then_goes)
{
    struct tun_engine *e = new_engine(8);
    uint16_t nat_port = open_flow(e, 4, 50000, 0);
    uint8_t pkt[128];
    size_t len = tp_tcp(pkt, 4, tun4, 50000, vpc4, 5432, TUN_TCP_FIN | TUN_TCP_ACK, 1, 1, NULL);
    process(e, pkt, len, 100);
    len = tp_tcp(pkt, 4, tun4, 7777, fake4, nat_port, TUN_TCP_FIN | TUN_TCP_ACK, 1, 2, NULL);
    process(e, pkt, len, 100);
    /* The last ACK still passes. */
    len = tp_tcp(pkt, 4, tun4, 50000, vpc4, 5432, TUN_TCP_ACK, 2, 2, NULL);
    CHECK_INT(process(e, pkt, len, 200).action, TUN_ACTION_FORWARD);
    /* A new SYN on the same ports replaces the closed flow. */
    len = tp_tcp(pkt, 4, tun4, 50000, vpc4, 5432, TUN_TCP_SYN, 9000, 0, NULL);
    CHECK_INT(process(e, pkt, len, 300).action, TUN_ACTION_OPEN);
    int expired = 0;
    CHECK_INT(tun_engine_expire(e, 300 + timeouts.opening_ms, count_expired, &expired), 1);
    CHECK_INT(expired, 0); /* no session was attached to it */
    tun_engine_free(e);
}

TEST(engine_early_accept_passes_the_syn_at_once)
{
    struct tun_engine_config c;
    memset(&c, 0, sizeof(c));
    c.has_ipv4 = 1;
    memcpy(c.tun4, tun4, 4);
    memcpy(c.fake4, fake4, 4);
    c.listen_port4 = 7777;
    c.subnet_count = 1;
    c.subnets[0].family = 4;
    memcpy(c.subnets[0].addr, vpc4, 3);
    c.subnets[0].prefix = 24;
    c.max_flows = 8;
    c.timeouts = timeouts;
    struct tun_engine *e = NULL;
    CHECK_INT(tun_engine_new(&c, &e), 0);
    uint8_t pkt[128];
    size_t len = tp_tcp(pkt, 4, tun4, 43000, vpc4, 5432, TUN_TCP_SYN, 7, 0, NULL);
    struct tun_verdict v = process(e, pkt, len, 0);
    CHECK_INT(v.action, TUN_ACTION_OPEN);
    /* Readdressed in place, to be written back with the open request. */
    CHECK(memcmp(pkt + 12, fake4, 4) == 0);
    CHECK(memcmp(pkt + 16, tun4, 4) == 0);
    CHECK_INT(v.packet.dst_port, 7777);
    CHECK(tp_l4_checksum_ok(pkt, 4, 20, len - 20, 6));
    /* A retransmitted SYN follows the same way. */
    len = tp_tcp(pkt, 4, tun4, 43000, vpc4, 5432, TUN_TCP_SYN, 7, 0, NULL);
    CHECK_INT(process(e, pkt, len, 1).action, TUN_ACTION_FORWARD);
    tun_engine_free(e);
}

TEST(engine_counts_malformed)
{
    struct tun_engine *e = new_engine(8);
    uint8_t pkt[128];
    size_t len = tp_tcp(pkt, 4, tun4, 1, vpc4, 2, TUN_TCP_SYN, 1, 0, NULL);
    CHECK_INT(process(e, pkt, len - 1, 0).drop, TUN_DROP_MALFORMED);
    pkt[0] = 0x30;
    CHECK_INT(process(e, pkt, len, 0).drop, TUN_DROP_MALFORMED);
    struct tun_engine_stats stats;
    tun_engine_get_stats(e, &stats);
    CHECK_INT(stats.drops[TUN_DROP_MALFORMED], 2);
    CHECK_INT(stats.parse_errors[TUN_PARSE_TRUNCATED], 1);
    CHECK_INT(stats.parse_errors[TUN_PARSE_BAD_VERSION], 1);
    CHECK_STR(tun_drop_reason_name(TUN_DROP_TABLE_FULL), "NAT table full");
    CHECK_STR(tun_action_name(TUN_ACTION_OPEN), "open");
    tun_engine_free(e);
}

/* ---- the sweep (tun/tun.c, tun_expire_sessions) ---- */

#define SWEEP_FLOWS 700 /* well over the 256 the sweep once closed at most */

/* A session as tun_session_open leaves it while its forward opens (no
 * forward here: the bastion is not part of this test), attached to the
 * flow a SYN from port `sport` opened. */
static void open_session(struct tun *t, uint16_t sport)
{
    uint8_t pkt[128];
    size_t len = tp_tcp(pkt, 4, tun4, sport, vpc4, 5432, TUN_TCP_SYN, 100, 0, NULL);
    struct tun_verdict v;
    tun_engine_process(t->engine, pkt, len, 0, 0, reply, &v);
    CHECK_INT(v.action, TUN_ACTION_OPEN);
    struct tun_session *s = calloc(1, sizeof(*s));
    s->tun = t;
    s->flow = v.handle;
    s->state = TUN_SESSION_OPENING;
    uv_timer_init(t->loop, &s->timer);
    s->timer.data = s;
    s->handles_open = 1;
    s->next = t->sessions;
    if (t->sessions)
        t->sessions->prev = s;
    t->sessions = s;
    t->session_count++;
    CHECK_INT(tun_engine_flow_attach(t->engine, v.handle, s), 0);
}

TEST(sweep_closes_every_expired_session)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct tun *t = calloc(1, sizeof(*t));
    t->loop = &loop;
    t->device.fd = -1;
    t->engine = new_engine(4096);
    for (uint16_t i = 0; i < SWEEP_FLOWS; i++)
        open_session(t, (uint16_t)(20000 + i));
    CHECK_INT(t->session_count, SWEEP_FLOWS);
    /* Not yet past the opening timeout: nothing goes. */
    CHECK_INT(tun_expire_sessions(t, 999), 0);
    CHECK_INT(t->session_count, SWEEP_FLOWS);
    /* Past it: every entry expires in one sweep, and with it every session. */
    CHECK_INT(tun_expire_sessions(t, 1000), SWEEP_FLOWS);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(t->session_count, 0);
    CHECK(t->sessions == NULL);
    struct tun_engine_stats stats;
    tun_engine_get_stats(t->engine, &stats);
    CHECK_INT(stats.flows, 0);
    CHECK_INT(uv_loop_close(&loop), 0); /* no handle left open */
    tun_engine_free(t->engine);
    free(t);
}

RUN_TESTS("tun_nat", TEST_ENTRY(nat_ports_round_robin_and_rest),
          TEST_ENTRY(nat_states_follow_flags), TEST_ENTRY(engine_round_trip_ipv4_and_ipv6),
          TEST_ENTRY(engine_holds_syn_and_refuses), TEST_ENTRY(engine_resets_unknown_segments),
          TEST_ENTRY(engine_udp_icmp_dns), TEST_ENTRY(engine_table_full_and_expiry),
          TEST_ENTRY(engine_closed_flow_lingers_then_goes),
          TEST_ENTRY(engine_early_accept_passes_the_syn_at_once),
          TEST_ENTRY(engine_counts_malformed), TEST_ENTRY(sweep_closes_every_expired_session))
