/* libFuzzer harness: bytes as one packet read from the TUN device, through
 * the parser, the builders and the whole engine (NAT included); DNS queries
 * also go through the forwarder's message helpers. The first
 * byte picks how many packets the rest is cut into (as consecutive reads),
 * so flows can be opened, answered and closed within one input; the engine
 * is kept across inputs so its table fills and expires too. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tun/dns.h"
#include "tun/engine.h"
#include "tun/packet.h"

static struct tun_engine *engine, *early; /* hold_syn on and off */
static uint8_t reply[TUN_PACKET_MAX];
static uint8_t packet[TUN_PACKET_MAX];
static uint64_t now;

static void setup(void)
{
    struct tun_engine_config c;
    memset(&c, 0, sizeof(c));
    c.has_ipv4 = c.has_ipv6 = 1;
    const uint8_t tun4[4] = {198, 19, 255, 1}, fake4[4] = {198, 19, 255, 2};
    memcpy(c.tun4, tun4, 4);
    memcpy(c.fake4, fake4, 4);
    c.tun6[0] = 0x20, c.tun6[1] = 1, c.tun6[15] = 1;
    c.fake6[0] = 0x20, c.fake6[1] = 1, c.fake6[15] = 2;
    c.listen_port4 = c.listen_port6 = 7777;
    c.subnet_count = 2;
    c.subnets[0].family = 4;
    c.subnets[0].addr[0] = 198;
    c.subnets[0].prefix = 8;
    c.subnets[1].family = 6;
    c.subnets[1].addr[0] = 0x20;
    c.subnets[1].prefix = 8;
    c.max_flows = 64;
    c.timeouts.opening_ms = 100;
    c.timeouts.established_ms = 1000;
    c.timeouts.half_closed_ms = 500;
    c.timeouts.closed_ms = 50;
    c.dns_enabled = 1;
    c.hold_syn = 1;
    tun_engine_new(&c, &engine);
    tun_engine_set_link_up(engine, 1);
    c.hold_syn = 0;
    tun_engine_new(&c, &early);
}

/* What the loop does with a verdict: open, refuse, or nothing. */
static void follow_up(const struct tun_verdict *v, uint8_t selector)
{
    size_t len;
    if (v->action == TUN_ACTION_OPEN) {
        int partial;
        if (selector & 1)
            tun_engine_flow_open(engine, v->handle, now, reply, &len, &partial);
        else
            tun_engine_flow_refuse(engine, v->handle,
                                   selector & 2 ? TUN_REFUSE_RESET : TUN_REFUSE_UNREACHABLE, now,
                                   reply, &len);
    }
    if (v->action == TUN_ACTION_DNS) {
        /* The forwarder's message helpers on the query. */
        const uint8_t *q = v->packet.data + v->packet.l4_offset + 8;
        size_t q_len = v->packet.payload_len, end;
        char name[TUN_DNS_NAME_MAX];
        static uint8_t copy[TUN_PACKET_MAX];
        if (tun_dns_question_name(q, q_len, name, sizeof(name), &end) == 0)
            tun_dns_name_in_domain(name, "vpc.internal");
        tun_dns_build_error(q, q_len, 2, reply, TUN_DNS_QUERY_MAX);
        memcpy(copy, q, q_len);
        tun_dns_truncate(copy, q_len);
    }
    struct tun_packet p;
    if (v->action == TUN_ACTION_DROP && v->drop != TUN_DROP_MALFORMED &&
        tun_packet_parse(packet, v->packet.len, &p) == 0) {
        tun_build_unreachable(&p, 3, reply, sizeof(reply));
        if (p.proto == TUN_PROTO_TCP)
            tun_build_tcp_reset(&p, reply, sizeof(reply));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!engine)
        setup();
    if (size < 1)
        return 0;
    size_t pieces = (data[0] & 3) + 1;
    data++, size--;
    size_t piece = size / pieces;
    for (size_t i = 0; i < pieces; i++) {
        size_t len = i + 1 == pieces ? size - piece * i : piece;
        if (len > sizeof(packet))
            len = sizeof(packet);
        memcpy(packet, data + piece * i, len);
        struct tun_verdict v;
        /* Odd lengths pretend the device handed the packet with checksum offload. */
        static uint8_t copy[TUN_PACKET_MAX];
        memcpy(copy, packet, len);
        tun_engine_process(engine, packet, len, (int)(len & 1), now, reply, &v);
        follow_up(&v, len ? packet[len - 1] : 0);
        tun_engine_process(early, copy, len, (int)(len & 1), now, reply, &v);
        now += 7;
    }
    tun_engine_expire(engine, now, NULL, NULL);
    tun_engine_expire(early, now, NULL, NULL);
    return 0;
}
