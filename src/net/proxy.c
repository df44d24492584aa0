/* Proxy settings from the environment, NO_PROXY matching, and the CONNECT
 * exchange (see proxy.h). The tunnel itself is run by conn.c. */
#include "net/proxy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cause.h"
#include "core/encoding.h"
#include "core/percent.h"
#include "net/hostport.h"

/* ---- proxy URLs ---- */

/* Percent-decodes text[0..len) into out (NUL-terminated); -EINVAL when it
 * does not fit or has a bad escape. The decoded copy is wiped: it holds
 * credentials. */
static int unescape_userinfo(const char *text, size_t len, char *out, size_t cap)
{
    struct buf b = BUF_INIT;
    int rc = percent_decode(&b, text, len, PERCENT_STRICT);
    size_t n = buf_length(&b);
    if (rc == 0 && n + 1 > cap)
        rc = -EINVAL;
    if (rc == 0) {
        memcpy(out, buf_bytes(&b), n);
        out[n] = '\0';
    }
    secure_free_buf(&b);
    return rc < 0 ? -EINVAL : 0;
}

static int make_authorization(struct proxy_config *p, const char *userinfo, size_t len, char *cause,
                              size_t cause_len)
{
    char decoded[PROXY_MAX_USERINFO + 1];
    const char *colon = memchr(userinfo, ':', len);
    size_t user_len = colon ? (size_t)(colon - userinfo) : len;
    char user[PROXY_MAX_USERINFO + 1], password[PROXY_MAX_USERINFO + 1] = "";
    int rc = unescape_userinfo(userinfo, user_len, user, sizeof(user));
    if (rc == 0 && colon)
        rc = unescape_userinfo(colon + 1, len - user_len - 1, password, sizeof(password));
    int n = rc == 0 ? snprintf(decoded, sizeof(decoded), "%s:%s", user, password) : -1;
    secure_wipe(user, sizeof(user));
    secure_wipe(password, sizeof(password));
    if (n < 0 || (size_t)n >= sizeof(decoded)) {
        secure_wipe(decoded, sizeof(decoded));
        return cause_set(cause, cause_len, -EINVAL,
                         "the proxy's user name and password are malformed or too long");
    }
    struct buf b = BUF_INIT;
    rc = buf_append_str(&b, "Basic ");
    if (rc == 0)
        rc = base64_encode(&b, decoded, (size_t)n);
    if (rc == 0 && buf_length(&b) > PROXY_MAX_AUTHORIZATION)
        rc = -EINVAL;
    if (rc == 0)
        snprintf(p->authorization, sizeof(p->authorization), "%.*s", (int)buf_length(&b),
                 buf_bytes(&b));
    secure_wipe(decoded, sizeof(decoded));
    secure_free_buf(&b);
    if (rc < 0)
        snprintf(cause, cause_len, "the proxy's user name and password are too long");
    return rc < 0 ? -EINVAL : 0;
}

/* host[:port] or [v6][:port], the port 80 when none is given, read by the
 * one HOST:PORT parser (net/hostport.h). */
static int parse_host_port(struct proxy_config *p, const char *s, size_t len)
{
    char text[PROXY_MAX_HOST + 16], why[120];
    if (len + sizeof(":80") > sizeof(text))
        return -EINVAL;
    memcpy(text, s, len);
    text[len] = '\0';
    const char *colon = strrchr(text, ':'), *bracket = strrchr(text, ']');
    if (!colon || (bracket && colon < bracket))
        strcat(text, ":80");
    struct hostport hp;
    if (hostport_parse(text, 0, &hp, why, sizeof(why)) < 0)
        return -EINVAL;
    for (size_t i = 0, n = strlen(hp.host); i <= n; i++) /* the NUL too */
        p->host[i] = (char)tolower((unsigned char)hp.host[i]);
    p->port = hp.port;
    return 0;
}

int proxy_parse_url(const char *text, struct proxy_config *out, char *cause, size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    const char *s = text;
    const char *sep = strstr(s, "://");
    if (sep) {
        if ((size_t)(sep - s) != 4 || strncasecmp(s, "http", 4) != 0)
            return cause_set(cause, cause_len, -ENOTSUP,
                             "proxy scheme \"%.*s\" is not supported (only http:// proxies are)",
                             (int)(sep - s > 16 ? 16 : sep - s), s);
        s = sep + 3;
    }
    size_t len = strcspn(s, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '@')
            at = s + i;
    if (at && make_authorization(out, s, (size_t)(at - s), cause, cause_len) < 0)
        return -EINVAL;
    const char *authority = at ? at + 1 : s;
    if (parse_host_port(out, authority, (size_t)(s + len - authority)) < 0) {
        proxy_config_wipe(out);
        return cause_set(cause, cause_len, -EINVAL,
                         "bad proxy address (expected http://[user:password@]host:port)");
    }
    int v6 = strchr(out->host, ':') != NULL;
    snprintf(out->display, sizeof(out->display), "http://%s%s%s:%u", v6 ? "[" : "", out->host,
             v6 ? "]" : "", out->port);
    return 0;
}

void proxy_config_wipe(struct proxy_config *proxy)
{
    secure_wipe(proxy->authorization, sizeof(proxy->authorization));
}

/* ---- NO_PROXY ---- */

struct ip_address {
    int family; /* AF_INET or AF_INET6, 0 for a name */
    unsigned char bytes[16];
};

static void parse_ip(const char *text, struct ip_address *out)
{
    out->family = 0;
    if (inet_pton(AF_INET, text, out->bytes) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, text, out->bytes) == 1)
        out->family = AF_INET6;
}

static int prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

/* An entry that is an IP address or a CIDR network. -1: not one. */
static int match_ip_entry(const char *entry, const struct ip_address *target)
{
    char addr[64];
    const char *slash = strchr(entry, '/');
    size_t addr_len = slash ? (size_t)(slash - entry) : strlen(entry);
    if (addr_len >= sizeof(addr))
        return -1;
    memcpy(addr, entry, addr_len);
    addr[addr_len] = '\0';
    struct ip_address net;
    parse_ip(addr, &net);
    if (!net.family)
        return -1;
    unsigned max_bits = net.family == AF_INET ? 32 : 128, bits = max_bits;
    if (slash) {
        char *end;
        unsigned long v = strtoul(slash + 1, &end, 10);
        if (*end || end == slash + 1 || v > max_bits)
            return 0; /* a malformed network matches nothing */
        bits = (unsigned)v;
    }
    if (target->family != net.family)
        return 0;
    return prefix_equal(target->bytes, net.bytes, bits);
}

static int match_name_entry(const char *entry, const char *host)
{
    if (strncmp(entry, "*.", 2) == 0)
        entry += 1;
    if (entry[0] == '.')
        entry++;
    size_t elen = strlen(entry), hlen = strlen(host);
    while (elen > 0 && entry[elen - 1] == '.')
        elen--;
    if (elen == 0 || elen > hlen)
        return 0;
    if (strncasecmp(host + hlen - elen, entry, elen) != 0)
        return 0;
    return hlen == elen || host[hlen - elen - 1] == '.';
}

/* A port in a NO_PROXY entry; 0 (any port) when it is not a valid one. */
static uint16_t port_or_any(const char *text)
{
    uint16_t port = 0;
    char why[80];
    return hostport_parse_port(text, 0, &port, why, sizeof(why)) == 0 ? port : 0;
}

/* Splits "host:port" / "[v6]:port" / "v6" into entry host and port (0: any). */
static void split_entry_port(char *entry, uint16_t *port)
{
    *port = 0;
    if (entry[0] == '[') {
        char *close = strchr(entry, ']');
        if (!close)
            return;
        if (close[1] == ':')
            *port = port_or_any(close + 2);
        *close = '\0';
        memmove(entry, entry + 1, strlen(entry + 1) + 1);
        return;
    }
    char *colon = strchr(entry, ':');
    if (!colon || strchr(colon + 1, ':'))
        return; /* no port, or a bare IPv6 address */
    *port = port_or_any(colon + 1);
    if (*port)
        *colon = '\0';
}

static int match_entry(char *entry, const char *host, const struct ip_address *ip, uint16_t port)
{
    if (strcmp(entry, "*") == 0)
        return 1;
    uint16_t entry_port;
    split_entry_port(entry, &entry_port);
    if (entry_port && entry_port != port)
        return 0;
    int ip_match = match_ip_entry(entry, ip);
    if (ip_match >= 0)
        return ip_match;
    return !ip->family && match_name_entry(entry, host);
}

/* The target host without brackets or a trailing dot, lower-cased. */
static int normalize_host(const char *host, char *out, size_t cap)
{
    size_t len = strlen(host);
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;
    }
    while (len > 0 && host[len - 1] == '.')
        len--;
    if (len == 0 || len >= cap)
        return -EINVAL;
    for (size_t i = 0; i < len; i++)
        out[i] = (char)tolower((unsigned char)host[i]);
    out[len] = '\0';
    return 0;
}

int proxy_no_proxy_match(const char *list, const char *host, uint16_t port)
{
    char target[PROXY_MAX_HOST + 1];
    if (!list || normalize_host(host, target, sizeof(target)) < 0)
        return 0;
    struct ip_address ip;
    parse_ip(target, &ip);
    size_t total = strnlen(list, PROXY_MAX_NO_PROXY);
    size_t i = 0;
    while (i < total) {
        size_t start = i;
        while (i < total && !strchr(", \t\r\n", list[i]))
            i++;
        size_t len = i - start;
        i++;
        char entry[PROXY_MAX_HOST + 16];
        if (len == 0 || len >= sizeof(entry))
            continue;
        memcpy(entry, list + start, len);
        entry[len] = '\0';
        if (match_entry(entry, target, &ip, port))
            return 1;
    }
    return 0;
}

/* ---- the environment ---- */

static const char *env_first(const char *a, const char *b)
{
    const char *v = getenv(a);
    if (v && *v)
        return v;
    v = getenv(b);
    return v && *v ? v : NULL;
}

int proxy_from_env(int secure, const char *host, uint16_t port, struct proxy_config *out,
                   char *cause, size_t cause_len)
{
    const char *name = secure ? "HTTPS_PROXY" : "HTTP_PROXY";
    const char *url =
        secure ? env_first("https_proxy", "HTTPS_PROXY") : env_first("http_proxy", "HTTP_PROXY");
    if (!url)
        return 0;
    if (proxy_no_proxy_match(env_first("no_proxy", "NO_PROXY"), host, port))
        return 0;
    char why[200];
    int rc = proxy_parse_url(url, out, why, sizeof(why));
    if (rc < 0)
        return cause_set(cause, cause_len, rc, "%s: %s", name, why);
    return 1;
}

/* ---- CONNECT ---- */

int proxy_write_connect(struct buf *out, const struct proxy_config *proxy, const char *host,
                        uint16_t port)
{
    int v6 = strchr(host, ':') != NULL;
    const char *open = v6 ? "[" : "", *close = v6 ? "]" : "";
    int rc = buf_printf(out, "CONNECT %s%s%s:%u HTTP/1.1\r\nHost: %s%s%s:%u\r\n", open, host, close,
                        port, open, host, close, port);
    if (rc == 0 && proxy->authorization[0])
        rc = buf_printf(out, "Proxy-Authorization: %s\r\n", proxy->authorization);
    if (rc == 0)
        rc = buf_append_str(out, "User-Agent: tether\r\n\r\n");
    return rc;
}

static const char *find_head_end(const char *data, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (data[i] == '\n' && data[i + 1] == '\n')
            return data + i + 2;
        if (i + 3 < len && memcmp(data + i, "\r\n\r\n", 4) == 0)
            return data + i + 4;
    }
    return NULL;
}

ssize_t proxy_read_connect_response(const char *data, size_t len, int *status, char *reason,
                                    size_t reason_len)
{
    const char *end = find_head_end(data, len);
    if (!end)
        return len > PROXY_MAX_RESPONSE_HEAD ? -EPROTO : 0;
    if ((size_t)(end - data) > PROXY_MAX_RESPONSE_HEAD)
        return -EPROTO;
    /* "HTTP/1.x NNN reason" */
    if (end - data < 12 || strncmp(data, "HTTP/1.", 7) != 0 || data[8] != ' ')
        return -EPROTO;
    for (int i = 9; i < 12; i++)
        if (!isdigit((unsigned char)data[i]))
            return -EPROTO;
    if (data[12] != ' ' && data[12] != '\r' && data[12] != '\n')
        return -EPROTO;
    *status = (data[9] - '0') * 100 + (data[10] - '0') * 10 + (data[11] - '0');
    size_t n = 0;
    for (const char *p = data + 12; p < end && *p != '\r' && *p != '\n'; p++) {
        if (n + 1 < reason_len && (n > 0 || *p != ' ') && *p >= 0x20 && *p < 0x7f)
            reason[n++] = *p;
    }
    if (reason_len > 0)
        reason[n] = '\0';
    return end - data;
}
