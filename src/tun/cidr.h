/* IPv4 and IPv6 addresses and CIDR blocks as the tunnel's options give them
 * ("10.0.0.0/16", "2001:db8::/56", "10.0.0.1"). Parsing is strict: no
 * host bits under the prefix, no names, nothing after the prefix length. */
#ifndef TETHER_TUN_CIDR_H
#define TETHER_TUN_CIDR_H

#include <stddef.h>
#include <stdint.h>

#define TUN_CIDR_TEXT_MAX 50 /* "ffff:...:ffff/128" and a NUL */

struct tun_cidr {
    int family; /* 4 or 6 */
    uint8_t addr[16];
    uint8_t prefix;
};

/* 0, or -EINVAL with the cause in the caller's buffer. */
int tun_cidr_parse(const char *text, struct tun_cidr *out, char *cause, size_t cause_len);
/* A single address (no prefix). */
int tun_addr_parse(const char *text, int *family, uint8_t addr[16]);
int tun_cidr_contains(const struct tun_cidr *cidr, int family, const uint8_t *addr);
/* 1 when the two blocks share any address. */
int tun_cidr_overlap(const struct tun_cidr *a, const struct tun_cidr *b);
/* Clears the bits after the prefix (an interface address to its network). */
void tun_cidr_mask(struct tun_cidr *cidr);
void tun_cidr_format(const struct tun_cidr *cidr, char *out, size_t out_len);
void tun_addr_format(int family, const uint8_t *addr, char *out, size_t out_len);
/* addr + n (wrapping), for the "+1" fake peer and the "base + 2" resolver. */
void tun_addr_add(int family, const uint8_t *addr, uint32_t n, uint8_t *out);

#endif
