/* Absolute http://, https://, ws:// and wss:// URLs: the parts tether needs to
 * open a connection and write a request line.
 *
 * url_parse() fills a caller-owned struct url (fixed arrays, nothing to free).
 * It accepts scheme://host[:port][/path][?query][#fragment] with a registered
 * name, a dotted IPv4 address or a bracketed IPv6 address as host; user info
 * ("user@host"), percent-encoded hosts, empty or out-of-range ports, spaces and
 * control characters are refused with a reason in `cause`. The fragment is
 * dropped. Every part has a hard length cap (URL_MAX_*). */
#ifndef TETHER_NET_URL_H
#define TETHER_NET_URL_H

#include <stddef.h>
#include <stdint.h>

#define URL_MAX_LENGTH 4096 /* whole input */
#define URL_MAX_HOST 253    /* a DNS name; IPv6 literals are shorter */
#define URL_MAX_PATH 2048   /* path, without the query */
#define URL_MAX_QUERY 2048  /* query, without the '?' */
/* "[" host "]" ":" 65535 + NUL */
#define URL_MAX_HOST_HEADER (URL_MAX_HOST + 2 + 6 + 1)

enum url_scheme { URL_HTTP, URL_HTTPS, URL_WS, URL_WSS };

struct url {
    enum url_scheme scheme;
    int secure;    /* https or wss: TLS */
    int is_ipv6;   /* host was a bracketed IPv6 literal */
    uint16_t port; /* explicit, or the scheme's default (80/443) */
    int port_explicit;
    /* Lower-cased, without brackets: what to resolve and connect to, and the
     * TLS server name. */
    char host[URL_MAX_HOST + 1];
    /* The Host header value: host (bracketed for IPv6), with ":port" only when
     * the port is not the scheme's default. */
    char host_header[URL_MAX_HOST_HEADER];
    char path[URL_MAX_PATH + 1];   /* begins with '/'; "/" when the URL has none */
    char query[URL_MAX_QUERY + 1]; /* without '?'; "" when none */
};

/* Parses a NUL-terminated URL. Returns 0, or -EINVAL with a reason in cause
 * (truncated to cause_len, always NUL-terminated when cause_len > 0). */
int url_parse(const char *text, struct url *out, char *cause, size_t cause_len);

/* "http", "https", "ws" or "wss". */
const char *url_scheme_name(enum url_scheme scheme);
/* 80 for http and ws, 443 for https and wss. */
uint16_t url_default_port(enum url_scheme scheme);

/* Writes the request target (path, plus "?query" when there is one) into out;
 * returns 0, or -ENAMETOOLONG when out is too small. */
int url_target(const struct url *url, char *out, size_t out_len);

#endif
