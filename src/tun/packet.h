/* A strict parser for the IP packets read from the TUN device, and the
 * builders for the few packets tether writes on its own (TCP RST, ICMP and
 * ICMPv6 errors and echo replies, UDP answers).
 *
 * tun_packet_parse never allocates and never reads past `len`: every length
 * field is checked against the bytes actually present before it is used, and
 * the result points into the caller's buffer (valid while the buffer is).
 * Fragments, jumbograms and IPv6 extension-header chains longer than
 * TUN_PACKET_MAX_EXT_HEADERS are refused rather than half understood. */
#ifndef TETHER_TUN_PACKET_H
#define TETHER_TUN_PACKET_H

#include <stddef.h>
#include <stdint.h>

/* The largest packet the device may carry (its MTU is capped at this). */
#define TUN_PACKET_MAX 65535u
#define TUN_PACKET_MAX_EXT_HEADERS 4

#define TUN_PROTO_ICMP 1
#define TUN_PROTO_TCP 6
#define TUN_PROTO_UDP 17
#define TUN_PROTO_ICMPV6 58

#define TUN_TCP_FIN 0x01
#define TUN_TCP_SYN 0x02
#define TUN_TCP_RST 0x04
#define TUN_TCP_PSH 0x08
#define TUN_TCP_ACK 0x10

enum tun_parse_error {
    TUN_PARSE_OK = 0,
    TUN_PARSE_TRUNCATED,    /* shorter than a header or than a length field says */
    TUN_PARSE_BAD_VERSION,  /* not IPv4 or IPv6 */
    TUN_PARSE_BAD_HEADER,   /* a header field out of range */
    TUN_PARSE_BAD_CHECKSUM, /* IPv4 header checksum */
    TUN_PARSE_FRAGMENT,     /* fragments are not reassembled */
    TUN_PARSE_EXT_HEADERS,  /* IPv6 extension chain too long or unsupported */
    TUN_PARSE_TOO_BIG,      /* above TUN_PACKET_MAX, or a jumbogram */
    TUN_PARSE_ERROR_COUNT,
};

struct tun_packet {
    uint8_t *data;
    size_t len;      /* the IP packet (trailing bytes past its length are ignored) */
    int family;      /* 4 or 6 */
    size_t addr_len; /* 4 or 16 */
    uint8_t *src, *dst;
    uint8_t proto;    /* the upper-layer protocol after extension headers */
    size_t l4_offset; /* where the TCP/UDP/ICMP header starts */
    size_t l4_len;    /* its header and payload */
    /* TCP and UDP */
    uint16_t src_port, dst_port;
    /* TCP */
    uint8_t tcp_flags;
    uint32_t seq, ack;
    size_t l4_header_len;
    size_t payload_len;
    /* ICMP and ICMPv6 */
    uint8_t icmp_type, icmp_code;
    /* Set by the caller: the TCP checksum field holds only the pseudo-header
     * sum (checksum offload), which readdressing then keeps consistent. */
    int csum_partial;
};

/* 0, or -enum tun_parse_error. */
int tun_packet_parse(uint8_t *data, size_t len, struct tun_packet *out);
const char *tun_parse_error_name(int error);

/* Rewrites source and destination address and port of a parsed TCP packet
 * in place, updating the TCP checksum (and IPv4's) incrementally; with
 * csum_partial only the addresses enter the (pseudo-header) sum. Addresses
 * are addr_len bytes, ports in host order. */
void tun_packet_readdress(struct tun_packet *p, const uint8_t *src, uint16_t src_port,
                          const uint8_t *dst, uint16_t dst_port);

/* The builders write into out (out_cap bytes) and return the packet's length,
 * or 0 when it does not fit. */

/* RST|ACK answering the given TCP packet (a SYN nobody will accept). */
size_t tun_build_tcp_reset(const struct tun_packet *to, uint8_t *out, size_t out_cap);
/* ICMP destination unreachable (IPv4 type 3 with `code`) or ICMPv6 (type 1
 * with `code`) quoting the offending packet, sent from `from` (the original
 * destination, or the tunnel's own address). */
size_t tun_build_unreachable(const struct tun_packet *to, uint8_t code, uint8_t *out,
                             size_t out_cap);
/* Echo reply to an echo request (ICMP type 8 or ICMPv6 type 128). */
size_t tun_build_echo_reply(const struct tun_packet *request, uint8_t *out, size_t out_cap);
/* A UDP datagram from (src, src_port) to (dst, dst_port). */
size_t tun_build_udp(int family, const uint8_t *src, uint16_t src_port, const uint8_t *dst,
                     uint16_t dst_port, const void *payload, size_t payload_len, uint8_t *out,
                     size_t out_cap);

/* ICMP codes for tun_build_unreachable, per family. */
#define TUN_ICMP4_HOST_UNREACHABLE 1
#define TUN_ICMP4_PORT_UNREACHABLE 3
#define TUN_ICMP6_ADDR_UNREACHABLE 3
#define TUN_ICMP6_PORT_UNREACHABLE 4

#endif
