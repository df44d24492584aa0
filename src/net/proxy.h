/* HTTP proxies for outgoing connections, the way curl, the AWS SDKs and most
 * command-line tools read them from the environment: HTTPS_PROXY for https://
 * and wss:// targets, HTTP_PROXY for http:// and ws:// (the lower-case forms
 * first, then the upper-case ones), and NO_PROXY for the exceptions.
 *
 * Every connection through a proxy is a CONNECT tunnel (RFC 9110 9.3.6), for
 * plain targets too, so one code path serves the WebSocket and HTTP alike;
 * TLS to the target runs inside the tunnel. Only http:// proxies are
 * supported (no TLS to the proxy itself, no SOCKS). Proxy credentials come
 * from the proxy URL's userinfo (percent-decoded) and are sent as Basic auth.
 *
 * NO_PROXY: a list separated by commas or white space. Each entry is one of
 *   *                   no proxy for any host
 *   example.com         that host and every host below it (www.example.com)
 *   .example.com        the same (a leading dot, or "*.", is ignored)
 *   192.168.1.7, ::1    that IP address (IPv6 with or without brackets)
 *   10.0.0.0/8, fd00::/8  every IP address in that network (CIDR)
 *   host:port, [::1]:8443  the same, only for that port
 * Names are matched without regard to case and a trailing dot; a name never
 * matches an IP address (no resolution takes place). Loopback addresses are
 * not exempt unless listed (as in curl; Go exempts them).
 *
 * Ownership: struct proxy_config is a value; its authorization field holds a
 * secret, so callers wipe it with proxy_config_wipe once done. */
#ifndef TETHER_NET_PROXY_H
#define TETHER_NET_PROXY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"

#define PROXY_MAX_HOST 253
#define PROXY_MAX_USERINFO 512              /* user:password, decoded */
#define PROXY_MAX_AUTHORIZATION 700         /* "Basic " + base64 of the userinfo */
#define PROXY_MAX_NO_PROXY 4096             /* bytes of NO_PROXY considered */
#define PROXY_MAX_RESPONSE_HEAD (16 * 1024) /* the proxy's answer to CONNECT */

struct proxy_config {
    char host[PROXY_MAX_HOST + 1]; /* without brackets */
    uint16_t port;
    char authorization[PROXY_MAX_AUTHORIZATION + 1]; /* "Basic ..." or "" */
    char display[PROXY_MAX_HOST + 24];               /* "http://host:port": no credentials */
};

/* Parses "[http://][user[:password]@]host[:port][/]" (default port 80).
 * -ENOTSUP for another scheme (https://, socks5://), -EINVAL otherwise. */
int proxy_parse_url(const char *text, struct proxy_config *out, char *cause, size_t cause_len);

/* 1 when the NO_PROXY list exempts host:port, else 0. host may be a name or
 * an IP literal (brackets allowed). */
int proxy_no_proxy_match(const char *list, const char *host, uint16_t port);

/* The proxy to use for a connection to host:port (secure: an https/wss
 * target), from the environment. 1 and *out filled: use it; 0: connect
 * directly; -EINVAL/-ENOTSUP with cause: the variable is malformed. */
int proxy_from_env(int secure, const char *host, uint16_t port, struct proxy_config *out,
                   char *cause, size_t cause_len);

void proxy_config_wipe(struct proxy_config *proxy);

/* Appends the CONNECT request for host:port (IPv6 literals are bracketed). */
int proxy_write_connect(struct buf *out, const struct proxy_config *proxy, const char *host,
                        uint16_t port);

/* Reads the proxy's answer to CONNECT from the start of data: returns the
 * length of its head (status line and headers, up to the blank line) with
 * *status set, 0 when more bytes are needed, or -EPROTO (malformed, or a
 * head over PROXY_MAX_RESPONSE_HEAD). Bytes after the head belong to the
 * tunnel. reason gets the status line's reason phrase (printable only). */
ssize_t proxy_read_connect_response(const char *data, size_t len, int *status, char *reason,
                                    size_t reason_len);

#endif
