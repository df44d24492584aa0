/* CIDR parsing and matching for --subnet and the tunnel's own addresses. */
#include "tun/cidr.h"

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tun_addr_parse(const char *text, int *family, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (strchr(text, ':')) {
        *family = 6;
        return inet_pton(AF_INET6, text, addr) == 1 ? 0 : -EINVAL;
    }
    *family = 4;
    return inet_pton(AF_INET, text, addr) == 1 ? 0 : -EINVAL;
}

static int parse_prefix(const char *text, int max)
{
    if (!*text || strlen(text) > 3)
        return -1;
    int value = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        value = value * 10 + (*p - '0');
    }
    if (text[0] == '0' && text[1])
        return -1; /* "/08" */
    return value <= max ? value : -1;
}

static int host_bits_set(const struct tun_cidr *c)
{
    size_t len = c->family == 4 ? 4 : 16;
    for (size_t i = 0; i < len; i++) {
        int bits_in_byte = (int)c->prefix - (int)i * 8;
        uint8_t mask = bits_in_byte >= 8   ? 0xff
                       : bits_in_byte <= 0 ? 0
                                           : (uint8_t)(0xff << (8 - bits_in_byte));
        if (c->addr[i] & (uint8_t)~mask)
            return 1;
    }
    return 0;
}

void tun_cidr_mask(struct tun_cidr *c)
{
    size_t len = c->family == 4 ? 4 : 16;
    for (size_t i = 0; i < len; i++) {
        int bits_in_byte = (int)c->prefix - (int)i * 8;
        if (bits_in_byte <= 0)
            c->addr[i] = 0;
        else if (bits_in_byte < 8)
            c->addr[i] &= (uint8_t)(0xff << (8 - bits_in_byte));
    }
}

int tun_cidr_parse(const char *text, struct tun_cidr *out, char *cause, size_t cause_len)
{
    char copy[TUN_CIDR_TEXT_MAX];
    memset(out, 0, sizeof(*out));
    const char *slash = strchr(text, '/');
    if (!slash || strlen(text) >= sizeof(copy) || (size_t)(slash - text) >= sizeof(copy)) {
        snprintf(cause, cause_len, "\"%.60s\" is not a CIDR block (like 10.0.0.0/16)", text);
        return -EINVAL;
    }
    memcpy(copy, text, (size_t)(slash - text));
    copy[slash - text] = '\0';
    if (tun_addr_parse(copy, &out->family, out->addr) < 0) {
        snprintf(cause, cause_len, "\"%s\": \"%s\" is not an IP address", text, copy);
        return -EINVAL;
    }
    int prefix = parse_prefix(slash + 1, out->family == 4 ? 32 : 128);
    if (prefix < 0) {
        snprintf(cause, cause_len, "\"%s\": bad prefix length", text);
        return -EINVAL;
    }
    out->prefix = (uint8_t)prefix;
    if (host_bits_set(out)) {
        snprintf(cause, cause_len, "\"%s\" has bits set after the /%d prefix", text, prefix);
        return -EINVAL;
    }
    return 0;
}

int tun_cidr_contains(const struct tun_cidr *c, int family, const uint8_t *addr)
{
    if (c->family != family)
        return 0;
    int bits = c->prefix;
    size_t whole = (size_t)bits / 8;
    if (memcmp(c->addr, addr, whole) != 0)
        return 0;
    if (bits % 8 == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - bits % 8));
    return (c->addr[whole] & mask) == (addr[whole] & mask);
}

int tun_cidr_overlap(const struct tun_cidr *a, const struct tun_cidr *b)
{
    if (a->family != b->family)
        return 0;
    return a->prefix <= b->prefix ? tun_cidr_contains(a, b->family, b->addr)
                                  : tun_cidr_contains(b, a->family, a->addr);
}

void tun_addr_format(int family, const uint8_t *addr, char *out, size_t out_len)
{
    char text[INET6_ADDRSTRLEN];
    if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, text, sizeof(text)))
        strcpy(text, "?");
    snprintf(out, out_len, "%s", text);
}

void tun_cidr_format(const struct tun_cidr *c, char *out, size_t out_len)
{
    char text[INET6_ADDRSTRLEN];
    tun_addr_format(c->family, c->addr, text, sizeof(text));
    snprintf(out, out_len, "%s/%u", text, c->prefix);
}

void tun_addr_add(int family, const uint8_t *addr, uint32_t n, uint8_t *out)
{
    size_t len = family == 4 ? 4 : 16;
    uint32_t carry = n;
    memmove(out, addr, len);
    for (size_t i = len; i-- > 0 && carry;) {
        carry += out[i];
        out[i] = (uint8_t)carry;
        carry >>= 8;
    }
}
