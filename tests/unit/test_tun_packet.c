/* The TUN packet parser, checksums and packet builders (tun/packet.c,
 * tun/checksum.c). */
#include <errno.h>

#include "test.h"
#include "test_tun_packets.h"

#include "tun/checksum.h"
#include "tun/packet.h"

static const uint8_t client4[4] = {198, 19, 255, 1}, vpc4[4] = {198, 18, 2, 2};
static const uint8_t client6[16] = {0x20, 1, 0, 2, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t vpc6[16] = {0x20, 1, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2};

TEST(checksum_matches_rfc1071_example)
{
    /* RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2. */
    const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    CHECK_INT(tun_csum_finish(tun_csum_add(0, data, sizeof(data))), (uint16_t)~0xddf2);
    const uint8_t odd[] = {0x01};
    CHECK_INT(tun_csum_finish(tun_csum_add(0, odd, 1)), (uint16_t)~0x0100);
}

TEST(incremental_update_equals_full_recompute)
{
    uint8_t pkt[128];
    for (uint32_t seed = 1; seed < 200; seed++) {
        uint8_t src[4] = {(uint8_t)seed, 2, 3, (uint8_t)(seed * 7)};
        size_t len = tp_tcp(pkt, 4, src, (uint16_t)(seed * 131), vpc4, 5432, TUN_TCP_ACK, seed,
                            seed * 3, seed % 2 ? "x" : "hello");
        struct tun_packet p;
        CHECK_INT(tun_packet_parse(pkt, len, &p), 0);
        uint8_t new_src[4] = {10, (uint8_t)(seed * 5), 255, 254};
        uint8_t new_dst[4] = {(uint8_t)(255 - seed), 0, 0, 1};
        tun_packet_readdress(&p, new_src, (uint16_t)(seed * 17), new_dst, (uint16_t)~seed);
        CHECK(tp_ipv4_header_ok(pkt));
        CHECK(tp_l4_checksum_ok(pkt, 4, 20, len - 20, 6));
        CHECK_INT(pkt[12], 10);
        CHECK_INT(p.dst_port, (uint16_t)~seed);
    }
}

TEST(incremental_update_ipv6)
{
    uint8_t pkt[128];
    size_t len = tp_tcp(pkt, 6, client6, 40000, vpc6, 8080, TUN_TCP_SYN, 1000, 0, NULL);
    struct tun_packet p;
    CHECK_INT(tun_packet_parse(pkt, len, &p), 0);
    CHECK_INT(p.family, 6);
    CHECK_INT(p.tcp_flags, TUN_TCP_SYN);
    uint8_t a[16] = {0xfd, 0, 1}, b[16] = {0xfd, 0, 2};
    a[15] = 0xff;
    tun_packet_readdress(&p, a, 1024, b, 33333);
    CHECK(tp_l4_checksum_ok(pkt, 6, 40, len - 40, 6));
    CHECK(memcmp(pkt + 8, a, 16) == 0);
}

TEST(partial_checksum_keeps_the_pseudo_header_sum)
{
    /* With offload, the field holds the pseudo-header sum; after
     * readdressing it must be the new addresses' pseudo-header sum. */
    uint8_t pkt[128];
    for (int family = 4; family <= 6; family += 2) {
        const uint8_t *src = family == 4 ? client4 : client6, *dst = family == 4 ? vpc4 : vpc6;
        size_t alen = family == 4 ? 4 : 16, ip = family == 4 ? 20 : 40;
        size_t len = tp_tcp(pkt, family, src, 40000, dst, 5432, TUN_TCP_ACK, 1, 1, "payload");
        uint16_t seed = tun_csum_finish(tun_csum_pseudo(src, dst, alen, 6, (uint32_t)(len - ip)));
        seed = (uint16_t)~seed;
        tp_put16(pkt + ip + 16, seed);
        struct tun_packet p;
        CHECK_INT(tun_packet_parse(pkt, len, &p), 0);
        p.csum_partial = 1;
        uint8_t a[16], b[16];
        memset(a, 0x5a, sizeof(a));
        memset(b, 0xa5, sizeof(b));
        tun_packet_readdress(&p, a, 1111, b, 2222);
        uint16_t want =
            (uint16_t)~tun_csum_finish(tun_csum_pseudo(a, b, alen, 6, (uint32_t)(len - ip)));
        uint16_t got = (uint16_t)(pkt[ip + 16] << 8 | pkt[ip + 17]);
        CHECK(got == want || (got == 0 && want == 0xffff) || (got == 0xffff && want == 0));
        /* Completing the sum over the segment, as the kernel would, verifies. */
        tp_put16(pkt + ip + 16, (uint16_t)~tp_sum(pkt + ip, len - ip, 0));
        CHECK(tp_l4_checksum_ok(pkt, family, ip, len - ip, 6));
        if (family == 4)
            CHECK(tp_ipv4_header_ok(pkt));
    }
}

TEST(parses_tcp_fields)
{
    uint8_t pkt[128];
    size_t len = tp_tcp(pkt, 4, client4, 40000, vpc4, 5432, TUN_TCP_SYN | TUN_TCP_ACK, 0x01020304,
                        0xa0b0c0d0, "data");
    struct tun_packet p;
    CHECK_INT(tun_packet_parse(pkt, len, &p), 0);
    CHECK_INT(p.proto, TUN_PROTO_TCP);
    CHECK_INT(p.src_port, 40000);
    CHECK_INT(p.dst_port, 5432);
    CHECK_INT(p.seq, 0x01020304);
    CHECK_INT(p.ack, 0xa0b0c0d0u);
    CHECK_INT(p.payload_len, 4);
    CHECK_INT(p.l4_offset, 20);
    /* Trailing bytes past the IP length are ignored. */
    CHECK_INT(tun_packet_parse(pkt, len + 10, &p), 0);
    CHECK_INT(p.len, len);
}

TEST(every_truncation_is_refused)
{
    uint8_t pkt[128];
    size_t len = tp_tcp(pkt, 4, client4, 1, vpc4, 2, TUN_TCP_ACK, 1, 1, "abc");
    struct tun_packet p;
    for (size_t i = 0; i < len; i++)
        CHECK(tun_packet_parse(pkt, i, &p) < 0);
    len = tp_tcp(pkt, 6, client6, 1, vpc6, 2, TUN_TCP_ACK, 1, 1, "abc");
    for (size_t i = 0; i < len; i++)
        CHECK(tun_packet_parse(pkt, i, &p) < 0);
}

TEST(bad_headers_are_refused)
{
    uint8_t pkt[128];
    struct tun_packet p;
    size_t len = tp_tcp(pkt, 4, client4, 1, vpc4, 2, TUN_TCP_ACK, 1, 1, NULL);
    pkt[0] = 0x55;
    CHECK_INT(tun_packet_parse(pkt, len, &p), -TUN_PARSE_BAD_VERSION);
    pkt[0] = 0x44; /* IHL 4 */
    CHECK_INT(tun_packet_parse(pkt, len, &p), -TUN_PARSE_BAD_HEADER);
    pkt[0] = 0x4f; /* IHL 15: 60 bytes, more than there are */
    CHECK_INT(tun_packet_parse(pkt, len, &p), -TUN_PARSE_TRUNCATED);
    len = tp_tcp(pkt, 4, client4, 1, vpc4, 2, TUN_TCP_ACK, 1, 1, NULL);
    pkt[10] ^= 1;
    CHECK_INT(tun_packet_parse(pkt, len, &p), -TUN_PARSE_BAD_CHECKSUM);
    len = tp_tcp(pkt, 4, client4, 1, vpc4, 2, TUN_TCP_ACK, 1, 1, NULL);
    pkt[32] = 0x40; /* TCP data offset 4 */
    CHECK_INT(tun_packet_parse(pkt, len, &p), -TUN_PARSE_BAD_HEADER);
    pkt[32] = 0xf0; /* 60 bytes of TCP header in 20 */
    CHECK_INT(tun_packet_parse(pkt, len, &p), -TUN_PARSE_TRUNCATED);
    CHECK(tun_packet_parse(pkt, TUN_PACKET_MAX + 1, &p) == -TUN_PARSE_TOO_BIG);
    CHECK_STR(tun_parse_error_name(-TUN_PARSE_FRAGMENT), "fragment");
}

TEST(fragments_are_refused)
{
    uint8_t pkt[128];
    struct tun_packet p;
    size_t len = tp_tcp(pkt, 4, client4, 1, vpc4, 2, TUN_TCP_ACK, 1, 1, NULL);
    pkt[6] = 0x20; /* MF */
    tp_put16(pkt + 10, 0);
    tp_put16(pkt + 10, (uint16_t)~tp_sum(pkt, 20, 0));
    CHECK_INT(tun_packet_parse(pkt, len, &p), -TUN_PARSE_FRAGMENT);
    len = tp_tcp(pkt, 6, client6, 1, vpc6, 2, TUN_TCP_ACK, 1, 1, NULL);
    pkt[6] = 44;
    CHECK_INT(tun_packet_parse(pkt, len, &p), -TUN_PARSE_FRAGMENT);
}

TEST(ipv6_extension_headers)
{
    uint8_t pkt[256];
    struct tun_packet p;
    /* One hop-by-hop header (8 bytes) before TCP. */
    size_t len = tp_tcp(pkt, 6, client6, 1, vpc6, 2, TUN_TCP_ACK, 1, 1, NULL);
    memmove(pkt + 48, pkt + 40, len - 40);
    memset(pkt + 40, 0, 8);
    pkt[40] = 6;
    pkt[6] = 0;
    tp_put16(pkt + 4, (uint16_t)(len - 40 + 8));
    CHECK_INT(tun_packet_parse(pkt, len + 8, &p), 0);
    CHECK_INT(p.l4_offset, 48);
    CHECK_INT(p.proto, TUN_PROTO_TCP);
    /* A chain longer than the cap. */
    memset(pkt + 40, 0, 8 * 6);
    for (int i = 0; i < 6; i++)
        pkt[40 + 8 * i] = 60;
    tp_put16(pkt + 4, 8 * 6 + 20);
    CHECK_INT(tun_packet_parse(pkt, 40 + 8 * 6 + 20, &p), -TUN_PARSE_EXT_HEADERS);
    /* An extension header whose length runs past the packet. */
    pkt[41] = 200;
    CHECK_INT(tun_packet_parse(pkt, 40 + 8 * 6 + 20, &p), -TUN_PARSE_TRUNCATED);
    tp_put16(pkt + 4, 0); /* jumbogram */
    CHECK_INT(tun_packet_parse(pkt, 40 + 8 * 6 + 20, &p), -TUN_PARSE_TOO_BIG);
}

TEST(udp_length_checked)
{
    uint8_t pkt[128];
    struct tun_packet p;
    size_t len = tp_udp(pkt, 4, client4, 5353, vpc4, 53, "q", 1);
    CHECK_INT(tun_packet_parse(pkt, len, &p), 0);
    CHECK_INT(p.payload_len, 1);
    tp_put16(pkt + 24, 7);
    CHECK_INT(tun_packet_parse(pkt, len, &p), -TUN_PARSE_BAD_HEADER);
    tp_put16(pkt + 24, 100);
    CHECK_INT(tun_packet_parse(pkt, len, &p), -TUN_PARSE_TRUNCATED);
}

TEST(reset_answers_a_syn)
{
    uint8_t pkt[128], out[TUN_PACKET_MAX];
    size_t len = tp_tcp(pkt, 4, client4, 40000, vpc4, 5432, TUN_TCP_SYN, 1000, 0, NULL);
    struct tun_packet syn, rst;
    CHECK_INT(tun_packet_parse(pkt, len, &syn), 0);
    size_t n = tun_build_tcp_reset(&syn, out, sizeof(out));
    CHECK_INT(n, 40);
    CHECK_INT(tun_packet_parse(out, n, &rst), 0);
    CHECK_INT(rst.tcp_flags, TUN_TCP_RST | TUN_TCP_ACK);
    CHECK_INT(rst.ack, 1001);
    CHECK_INT(rst.src_port, 5432);
    CHECK_INT(rst.dst_port, 40000);
    CHECK(memcmp(rst.src, vpc4, 4) == 0);
    CHECK(tp_l4_checksum_ok(out, 4, 20, 20, 6));
    CHECK_INT(tun_build_tcp_reset(&syn, out, 39), 0);
    /* A segment with ACK gets seq = its ack and no ACK flag. */
    len = tp_tcp(pkt, 6, client6, 40000, vpc6, 5432, TUN_TCP_ACK, 5, 77, "x");
    CHECK_INT(tun_packet_parse(pkt, len, &syn), 0);
    n = tun_build_tcp_reset(&syn, out, sizeof(out));
    CHECK_INT(tun_packet_parse(out, n, &rst), 0);
    CHECK_INT(rst.tcp_flags, TUN_TCP_RST);
    CHECK_INT(rst.seq, 77);
    CHECK(tp_l4_checksum_ok(out, 6, 40, 20, 6));
}

TEST(unreachable_and_echo)
{
    uint8_t pkt[128], out[TUN_PACKET_MAX];
    struct tun_packet p, r;
    size_t len = tp_udp(pkt, 4, client4, 5000, vpc4, 9999, "hello", 5);
    CHECK_INT(tun_packet_parse(pkt, len, &p), 0);
    size_t n = tun_build_unreachable(&p, TUN_ICMP4_PORT_UNREACHABLE, out, sizeof(out));
    CHECK_INT(n, 20 + 8 + 20 + 8);
    CHECK_INT(tun_packet_parse(out, n, &r), 0);
    CHECK_INT(r.icmp_type, 3);
    CHECK_INT(r.icmp_code, 3);
    CHECK(tp_l4_checksum_ok(out, 4, 20, n - 20, 1));
    len = tp_udp(pkt, 6, client6, 5000, vpc6, 9999, "hello", 5);
    CHECK_INT(tun_packet_parse(pkt, len, &p), 0);
    n = tun_build_unreachable(&p, TUN_ICMP6_PORT_UNREACHABLE, out, sizeof(out));
    CHECK_INT(n, 40 + 8 + len);
    CHECK_INT(tun_packet_parse(out, n, &r), 0);
    CHECK_INT(r.icmp_type, 1);
    CHECK(tp_l4_checksum_ok(out, 6, 40, n - 40, 58));
    for (int family = 4; family <= 6; family += 2) {
        len = tp_echo(pkt, family, family == 4 ? client4 : client6, family == 4 ? vpc4 : vpc6);
        CHECK_INT(tun_packet_parse(pkt, len, &p), 0);
        n = tun_build_echo_reply(&p, out, sizeof(out));
        CHECK_INT(n, len);
        CHECK_INT(tun_packet_parse(out, n, &r), 0);
        CHECK_INT(r.icmp_type, family == 4 ? 0 : 129);
        size_t ip = family == 4 ? 20 : 40;
        CHECK(tp_l4_checksum_ok(out, family, ip, n - ip, family == 4 ? 1 : 58));
        CHECK(memcmp(out + ip + 8, "pingdata", 8) == 0);
    }
}

TEST(udp_builder)
{
    uint8_t out[TUN_PACKET_MAX];
    struct tun_packet p;
    size_t n = tun_build_udp(4, vpc4, 53, client4, 5353, "answer", 6, out, sizeof(out));
    CHECK_INT(tun_packet_parse(out, n, &p), 0);
    CHECK_INT(p.payload_len, 6);
    CHECK(tp_l4_checksum_ok(out, 4, 20, n - 20, 17));
    n = tun_build_udp(6, vpc6, 53, client6, 5353, "answer", 6, out, sizeof(out));
    CHECK(tp_l4_checksum_ok(out, 6, 40, n - 40, 17));
    CHECK_INT(tun_build_udp(4, vpc4, 53, client4, 1, "x", 1, out, 20), 0);
}

RUN_TESTS("tun_packet", TEST_ENTRY(checksum_matches_rfc1071_example),
          TEST_ENTRY(incremental_update_equals_full_recompute), TEST_ENTRY(incremental_update_ipv6),
          TEST_ENTRY(partial_checksum_keeps_the_pseudo_header_sum), TEST_ENTRY(parses_tcp_fields),
          TEST_ENTRY(every_truncation_is_refused), TEST_ENTRY(bad_headers_are_refused),
          TEST_ENTRY(fragments_are_refused), TEST_ENTRY(ipv6_extension_headers),
          TEST_ENTRY(udp_length_checked), TEST_ENTRY(reset_answers_a_syn),
          TEST_ENTRY(unreachable_and_echo), TEST_ENTRY(udp_builder))
