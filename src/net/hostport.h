/* HOST:PORT, the one parser of it for the command line and the subsystems
 * (--listen, --socks, a tunnel's bastion).
 *
 * hostport_parse() fills a caller-owned struct hostport (a fixed array,
 * nothing to free). HOST is a name, a dotted IPv4 address or an IPv6 address
 * in brackets ("[::1]:7070"); the brackets are removed in `host`. An IPv6
 * address without brackets is refused: "::1:7070" could mean two things.
 * PORT is decimal, 1-65535, or 0 too with HOSTPORT_ALLOW_PORT_0 (a listener
 * that lets the system pick). On failure `out` is untouched and `cause` says
 * why in a phrase that reads after "--listen: ". */
#ifndef TETHER_NET_HOSTPORT_H
#define TETHER_NET_HOSTPORT_H

#include <stddef.h>
#include <stdint.h>

#define HOSTPORT_MAX_HOST 253 /* a DNS name; IPv6 literals are shorter */

enum hostport_flags {
    HOSTPORT_ALLOW_PORT_0 = 1 << 0,
};

struct hostport {
    char host[HOSTPORT_MAX_HOST + 1]; /* without brackets */
    uint16_t port;
    int is_ipv6; /* given in brackets */
};

/* 0, or -EINVAL with the reason in cause. */
int hostport_parse(const char *text, unsigned flags, struct hostport *out, char *cause,
                   size_t cause_len);

/* A port alone ("--port 2222"), by the same rules as the PORT of HOST:PORT:
 * 0, or -EINVAL with the reason in cause and *port untouched. */
int hostport_parse_port(const char *text, unsigned flags, uint16_t *port, char *cause,
                        size_t cause_len);

/* Writes "host:port", or "[host]:port" for IPv6, into out (NUL-terminated,
 * truncated to out_len). Returns what snprintf returns. */
int hostport_format(const struct hostport *hp, char *out, size_t out_len);

#endif
