/* Packet builders for the TUN unit tests: well-formed IPv4/IPv6 TCP, UDP
 * and ICMP packets with correct checksums, computed here independently of
 * the code under test (a plain RFC 1071 sum). */
#ifndef TETHER_TEST_TUN_PACKETS_H
#define TETHER_TEST_TUN_PACKETS_H

#include <stdint.h>
#include <string.h>

static uint16_t tp_sum(const uint8_t *p, size_t len, uint32_t sum)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)(p[len - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

static void tp_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* 1 when the L4 checksum over the pseudo-header verifies (ICMPv4: none). */
static int tp_l4_checksum_ok(const uint8_t *pkt, int family, size_t l4_off, size_t l4_len,
                             uint8_t proto)
{
    uint32_t sum = 0;
    if (!(family == 4 && proto == 1)) {
        size_t alen = family == 4 ? 4 : 16;
        const uint8_t *src = family == 4 ? pkt + 12 : pkt + 8;
        sum = tp_sum(src, 2 * alen, 0);
        sum += proto + (uint32_t)l4_len;
    }
    return tp_sum(pkt + l4_off, l4_len, sum) == 0xffff;
}

static int tp_ipv4_header_ok(const uint8_t *pkt)
{
    return tp_sum(pkt, (size_t)(pkt[0] & 15) * 4, 0) == 0xffff;
}

static void tp_fix_l4(uint8_t *pkt, int family, size_t l4_off, size_t l4_len, uint8_t proto,
                      size_t csum_off)
{
    tp_put16(pkt + l4_off + csum_off, 0);
    uint32_t sum = 0;
    if (!(family == 4 && proto == 1)) {
        size_t alen = family == 4 ? 4 : 16;
        const uint8_t *src = family == 4 ? pkt + 12 : pkt + 8;
        sum = tp_sum(src, 2 * alen, 0);
        sum += proto + (uint32_t)l4_len;
    }
    tp_put16(pkt + l4_off + csum_off, (uint16_t)~tp_sum(pkt + l4_off, l4_len, sum));
}

/* An IP header for `l4_len` bytes of `proto`; returns its length. */
static size_t tp_ip(uint8_t *pkt, int family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                    size_t l4_len)
{
    if (family == 4) {
        memset(pkt, 0, 20);
        pkt[0] = 0x45;
        tp_put16(pkt + 2, (uint16_t)(20 + l4_len));
        tp_put16(pkt + 4, 0x1234);
        pkt[8] = 64;
        pkt[9] = proto;
        memcpy(pkt + 12, src, 4);
        memcpy(pkt + 16, dst, 4);
        tp_put16(pkt + 10, (uint16_t)~tp_sum(pkt, 20, 0));
        return 20;
    }
    memset(pkt, 0, 40);
    pkt[0] = 0x60;
    tp_put16(pkt + 4, (uint16_t)l4_len);
    pkt[6] = proto;
    pkt[7] = 64;
    memcpy(pkt + 8, src, 16);
    memcpy(pkt + 24, dst, 16);
    return 40;
}

static size_t tp_tcp(uint8_t *pkt, int family, const uint8_t *src, uint16_t sport,
                     const uint8_t *dst, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack,
                     const char *payload)
{
    size_t plen = payload ? strlen(payload) : 0;
    size_t ip = tp_ip(pkt, family, src, dst, 6, 20 + plen);
    uint8_t *t = pkt + ip;
    memset(t, 0, 20);
    tp_put16(t, sport);
    tp_put16(t + 2, dport);
    t[4] = (uint8_t)(seq >> 24), t[5] = (uint8_t)(seq >> 16), t[6] = (uint8_t)(seq >> 8),
    t[7] = (uint8_t)seq;
    t[8] = (uint8_t)(ack >> 24), t[9] = (uint8_t)(ack >> 16), t[10] = (uint8_t)(ack >> 8),
    t[11] = (uint8_t)ack;
    t[12] = 5 << 4;
    t[13] = flags;
    tp_put16(t + 14, 65535);
    if (plen)
        memcpy(t + 20, payload, plen);
    tp_fix_l4(pkt, family, ip, 20 + plen, 6, 16);
    return ip + 20 + plen;
}

static size_t tp_udp(uint8_t *pkt, int family, const uint8_t *src, uint16_t sport,
                     const uint8_t *dst, uint16_t dport, const void *payload, size_t plen)
{
    size_t ip = tp_ip(pkt, family, src, dst, 17, 8 + plen);
    uint8_t *u = pkt + ip;
    tp_put16(u, sport);
    tp_put16(u + 2, dport);
    tp_put16(u + 4, (uint16_t)(8 + plen));
    memcpy(u + 8, payload, plen);
    tp_fix_l4(pkt, family, ip, 8 + plen, 17, 6);
    return ip + 8 + plen;
}

static size_t tp_echo(uint8_t *pkt, int family, const uint8_t *src, const uint8_t *dst)
{
    uint8_t proto = family == 4 ? 1 : 58;
    size_t ip = tp_ip(pkt, family, src, dst, proto, 16);
    uint8_t *i = pkt + ip;
    memset(i, 0, 16);
    i[0] = family == 4 ? 8 : 128;
    tp_put16(i + 4, 77);
    tp_put16(i + 6, 1);
    memcpy(i + 8, "pingdata", 8);
    tp_fix_l4(pkt, family, ip, 16, proto, 2);
    return ip + 16;
}

#endif
