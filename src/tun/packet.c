/* IP packet parsing and the packets tether builds itself. Every read of a
 * header field is preceded by a check that the bytes exist (see packet.h). */
#include "tun/packet.h"

#include <string.h>

#include "tun/checksum.h"

static const char *const parse_error_names[] = {
    [TUN_PARSE_OK] = "ok",
    [TUN_PARSE_TRUNCATED] = "truncated",
    [TUN_PARSE_BAD_VERSION] = "not IPv4 or IPv6",
    [TUN_PARSE_BAD_HEADER] = "bad header",
    [TUN_PARSE_BAD_CHECKSUM] = "bad IPv4 header checksum",
    [TUN_PARSE_FRAGMENT] = "fragment",
    [TUN_PARSE_EXT_HEADERS] = "IPv6 extension headers",
    [TUN_PARSE_TOO_BIG] = "too big",
};

const char *tun_parse_error_name(int error)
{
    unsigned e = (unsigned)(error < 0 ? -error : error);
    return e < TUN_PARSE_ERROR_COUNT ? parse_error_names[e] : "?";
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* ---- parsing ---- */

static int parse_ipv4(struct tun_packet *p)
{
    const uint8_t *h = p->data;
    size_t header_len = (size_t)(h[0] & 0x0f) * 4;
    if (header_len < 20)
        return -TUN_PARSE_BAD_HEADER;
    if (header_len > p->len)
        return -TUN_PARSE_TRUNCATED;
    size_t total = get16(h + 2);
    if (total < header_len)
        return -TUN_PARSE_BAD_HEADER;
    if (total > p->len)
        return -TUN_PARSE_TRUNCATED;
    if ((get16(h + 6) & 0x3fff) != 0) /* MF set or a fragment offset */
        return -TUN_PARSE_FRAGMENT;
    if (tun_csum_finish(tun_csum_add(0, h, header_len)) != 0)
        return -TUN_PARSE_BAD_CHECKSUM;
    p->len = total;
    p->family = 4;
    p->addr_len = 4;
    p->src = p->data + 12;
    p->dst = p->data + 16;
    p->proto = h[9];
    p->l4_offset = header_len;
    return 0;
}

static int is_extension_header(uint8_t next)
{
    return next == 0 || next == 43 || next == 60; /* hop-by-hop, routing, destination */
}

static int parse_ipv6(struct tun_packet *p)
{
    const uint8_t *h = p->data;
    if (p->len < 40)
        return -TUN_PARSE_TRUNCATED;
    size_t payload = get16(h + 4);
    if (payload == 0)
        return -TUN_PARSE_TOO_BIG; /* a jumbogram, or nothing to carry */
    if (40 + payload > p->len)
        return -TUN_PARSE_TRUNCATED;
    p->len = 40 + payload;
    p->family = 6;
    p->addr_len = 16;
    p->src = p->data + 8;
    p->dst = p->data + 24;
    uint8_t next = h[6];
    size_t offset = 40;
    for (int count = 0; is_extension_header(next); count++) {
        if (count == TUN_PACKET_MAX_EXT_HEADERS)
            return -TUN_PARSE_EXT_HEADERS;
        if (offset + 8 > p->len)
            return -TUN_PARSE_TRUNCATED;
        size_t ext_len = ((size_t)h[offset + 1] + 1) * 8;
        if (offset + ext_len > p->len)
            return -TUN_PARSE_TRUNCATED;
        next = h[offset];
        offset += ext_len;
    }
    if (next == 44)
        return -TUN_PARSE_FRAGMENT;
    p->proto = next;
    p->l4_offset = offset;
    return 0;
}

static int parse_tcp(struct tun_packet *p)
{
    const uint8_t *t = p->data + p->l4_offset;
    if (p->l4_len < 20)
        return -TUN_PARSE_TRUNCATED;
    size_t header_len = (size_t)(t[12] >> 4) * 4;
    if (header_len < 20)
        return -TUN_PARSE_BAD_HEADER;
    if (header_len > p->l4_len)
        return -TUN_PARSE_TRUNCATED;
    p->src_port = get16(t);
    p->dst_port = get16(t + 2);
    p->seq = get32(t + 4);
    p->ack = get32(t + 8);
    p->tcp_flags = t[13];
    p->l4_header_len = header_len;
    p->payload_len = p->l4_len - header_len;
    return 0;
}

static int parse_udp(struct tun_packet *p)
{
    const uint8_t *u = p->data + p->l4_offset;
    if (p->l4_len < 8)
        return -TUN_PARSE_TRUNCATED;
    size_t length = get16(u + 4);
    if (length < 8)
        return -TUN_PARSE_BAD_HEADER;
    if (length > p->l4_len)
        return -TUN_PARSE_TRUNCATED;
    p->src_port = get16(u);
    p->dst_port = get16(u + 2);
    p->l4_header_len = 8;
    p->payload_len = length - 8;
    return 0;
}

static int parse_icmp(struct tun_packet *p)
{
    if (p->l4_len < 8)
        return -TUN_PARSE_TRUNCATED;
    p->icmp_type = p->data[p->l4_offset];
    p->icmp_code = p->data[p->l4_offset + 1];
    p->l4_header_len = 8;
    p->payload_len = p->l4_len - 8;
    return 0;
}

int tun_packet_parse(uint8_t *data, size_t len, struct tun_packet *out)
{
    memset(out, 0, sizeof(*out)); /* csum_partial too: the caller sets it after */
    if (len > TUN_PACKET_MAX)
        return -TUN_PARSE_TOO_BIG;
    if (len < 20)
        return -TUN_PARSE_TRUNCATED;
    out->data = data;
    out->len = len;
    int rc;
    switch (data[0] >> 4) {
    case 4:
        rc = parse_ipv4(out);
        break;
    case 6:
        rc = parse_ipv6(out);
        break;
    default:
        return -TUN_PARSE_BAD_VERSION;
    }
    if (rc < 0)
        return rc;
    out->l4_len = out->len - out->l4_offset;
    switch (out->proto) {
    case TUN_PROTO_TCP:
        return parse_tcp(out);
    case TUN_PROTO_UDP:
        return parse_udp(out);
    case TUN_PROTO_ICMP:
        return out->family == 4 ? parse_icmp(out) : 0;
    case TUN_PROTO_ICMPV6:
        return out->family == 6 ? parse_icmp(out) : 0;
    default:
        return 0;
    }
}

/* ---- readdressing ---- */

void tun_packet_readdress(struct tun_packet *p, const uint8_t *src, uint16_t src_port,
                          const uint8_t *dst, uint16_t dst_port)
{
    uint8_t *tcp = p->data + p->l4_offset;
    uint8_t *tcp_csum = tcp + 16;
    uint8_t ports[4];
    put16(ports, src_port);
    put16(ports + 2, dst_port);
    /* The addresses are in the pseudo-header (TCP checksum) and, for IPv4,
     * in the IP header checksum too. */
    if (p->csum_partial) {
        tun_csum_replace_seed(tcp_csum, p->src, src, p->addr_len);
        tun_csum_replace_seed(tcp_csum, p->dst, dst, p->addr_len);
    } else {
        tun_csum_replace(tcp_csum, p->src, src, p->addr_len);
        tun_csum_replace(tcp_csum, p->dst, dst, p->addr_len);
        tun_csum_replace(tcp_csum, tcp, ports, 4);
    }
    if (p->family == 4) {
        tun_csum_replace(p->data + 10, p->src, src, 4);
        tun_csum_replace(p->data + 10, p->dst, dst, 4);
    }
    memcpy(p->src, src, p->addr_len);
    memcpy(p->dst, dst, p->addr_len);
    memcpy(tcp, ports, 4);
    p->src_port = src_port;
    p->dst_port = dst_port;
}

/* ---- building ---- */

/* Writes an IP header (no options, no extension headers); returns its length. */
static size_t put_ip_header(uint8_t *out, int family, const uint8_t *src, const uint8_t *dst,
                            uint8_t proto, size_t l4_len)
{
    if (family == 4) {
        memset(out, 0, 20);
        out[0] = 0x45;
        put16(out + 2, (uint16_t)(20 + l4_len));
        put16(out + 6, 0x4000); /* don't fragment */
        out[8] = 64;
        out[9] = proto;
        memcpy(out + 12, src, 4);
        memcpy(out + 16, dst, 4);
        put16(out + 10, tun_csum_finish(tun_csum_add(0, out, 20)));
        return 20;
    }
    memset(out, 0, 40);
    out[0] = 0x60;
    put16(out + 4, (uint16_t)l4_len);
    out[6] = proto;
    out[7] = 64;
    memcpy(out + 8, src, 16);
    memcpy(out + 24, dst, 16);
    return 40;
}

static size_t ip_header_len(int family)
{
    return family == 4 ? 20 : 40;
}

/* Sets the checksum at l4 + csum_offset over the pseudo-header (except for
 * ICMPv4, which has none). */
static void finish_l4_checksum(uint8_t *packet, int family, uint8_t proto, size_t csum_offset)
{
    size_t ip_len = ip_header_len(family);
    size_t addr_len = family == 4 ? 4 : 16;
    uint8_t *l4 = packet + ip_len;
    size_t l4_len = family == 4 ? get16(packet + 2) - ip_len : get16(packet + 4);
    uint32_t sum = proto == TUN_PROTO_ICMP
                       ? 0
                       : tun_csum_pseudo(packet + ip_len - 2 * addr_len, packet + ip_len - addr_len,
                                         addr_len, proto, (uint32_t)l4_len);
    put16(l4 + csum_offset, 0);
    uint16_t csum = tun_csum_finish(tun_csum_add(sum, l4, l4_len));
    if (proto == TUN_PROTO_UDP && csum == 0)
        csum = 0xffff;
    put16(l4 + csum_offset, csum);
}

size_t tun_build_tcp_reset(const struct tun_packet *to, uint8_t *out, size_t out_cap)
{
    size_t ip_len = ip_header_len(to->family);
    if (out_cap < ip_len + 20)
        return 0;
    put_ip_header(out, to->family, to->dst, to->src, TUN_PROTO_TCP, 20);
    uint8_t *t = out + ip_len;
    memset(t, 0, 20);
    put16(t, to->dst_port);
    put16(t + 2, to->src_port);
    uint32_t ack = to->seq + (uint32_t)to->payload_len;
    if (to->tcp_flags & TUN_TCP_SYN)
        ack++;
    if (to->tcp_flags & TUN_TCP_FIN)
        ack++;
    if (to->tcp_flags & TUN_TCP_ACK) {
        put32(t + 4, to->ack); /* RFC 793: seq = the segment's ACK, no ACK flag */
        t[13] = TUN_TCP_RST;
    } else {
        put32(t + 8, ack);
        t[13] = TUN_TCP_RST | TUN_TCP_ACK;
    }
    t[12] = 5 << 4;
    finish_l4_checksum(out, to->family, TUN_PROTO_TCP, 16);
    return ip_len + 20;
}

size_t tun_build_unreachable(const struct tun_packet *to, uint8_t code, uint8_t *out,
                             size_t out_cap)
{
    size_t ip_len = ip_header_len(to->family);
    /* RFC 792: the IP header and 8 bytes; RFC 4443: as much as fits in the
     * IPv6 minimum MTU. */
    size_t quote = to->family == 4 ? to->l4_offset + 8 : 1280 - 48;
    if (quote > to->len)
        quote = to->len;
    if (out_cap < ip_len + 8 + quote)
        return 0;
    uint8_t proto = to->family == 4 ? TUN_PROTO_ICMP : TUN_PROTO_ICMPV6;
    put_ip_header(out, to->family, to->dst, to->src, proto, 8 + quote);
    uint8_t *icmp = out + ip_len;
    memset(icmp, 0, 8);
    icmp[0] = to->family == 4 ? 3 : 1;
    icmp[1] = code;
    memcpy(icmp + 8, to->data, quote);
    finish_l4_checksum(out, to->family, proto, 2);
    return ip_len + 8 + quote;
}

size_t tun_build_echo_reply(const struct tun_packet *request, uint8_t *out, size_t out_cap)
{
    size_t ip_len = ip_header_len(request->family);
    if (out_cap < ip_len + request->l4_len)
        return 0;
    uint8_t proto = request->family == 4 ? TUN_PROTO_ICMP : TUN_PROTO_ICMPV6;
    put_ip_header(out, request->family, request->dst, request->src, proto, request->l4_len);
    memcpy(out + ip_len, request->data + request->l4_offset, request->l4_len);
    out[ip_len] = request->family == 4 ? 0 : 129;
    out[ip_len + 1] = 0;
    finish_l4_checksum(out, request->family, proto, 2);
    return ip_len + request->l4_len;
}

size_t tun_build_udp(int family, const uint8_t *src, uint16_t src_port, const uint8_t *dst,
                     uint16_t dst_port, const void *payload, size_t payload_len, uint8_t *out,
                     size_t out_cap)
{
    size_t ip_len = ip_header_len(family);
    if (payload_len > 65535 - 8 - ip_len || out_cap < ip_len + 8 + payload_len)
        return 0;
    put_ip_header(out, family, src, dst, TUN_PROTO_UDP, 8 + payload_len);
    uint8_t *u = out + ip_len;
    put16(u, src_port);
    put16(u + 2, dst_port);
    put16(u + 4, (uint16_t)(8 + payload_len));
    memcpy(u + 8, payload, payload_len);
    finish_l4_checksum(out, family, TUN_PROTO_UDP, 6);
    return ip_len + 8 + payload_len;
}
