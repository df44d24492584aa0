#include "net/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/cause.h"
#include "net/hostport.h"

struct scheme_info {
    const char *name;
    enum url_scheme scheme;
    int secure;
    uint16_t default_port;
};

static const struct scheme_info schemes[] = {
    {"http", URL_HTTP, 0, 80},
    {"https", URL_HTTPS, 1, 443},
    {"ws", URL_WS, 0, 80},
    {"wss", URL_WSS, 1, 443},
};

#define SCHEME_COUNT (sizeof(schemes) / sizeof(schemes[0]))

const char *url_scheme_name(enum url_scheme scheme)
{
    for (size_t i = 0; i < SCHEME_COUNT; i++)
        if (schemes[i].scheme == scheme)
            return schemes[i].name;
    return "?";
}

uint16_t url_default_port(enum url_scheme scheme)
{
    return scheme == URL_HTTPS || scheme == URL_WSS ? 443 : 80;
}

/* Reads "scheme://" and returns the length consumed, or -1. */
static int parse_scheme(const char *text, struct url *out)
{
    const char *sep = strstr(text, "://");
    if (!sep)
        return -1;
    size_t len = (size_t)(sep - text);
    for (size_t i = 0; i < SCHEME_COUNT; i++) {
        if (strlen(schemes[i].name) == len && strncasecmp(text, schemes[i].name, len) == 0) {
            out->scheme = schemes[i].scheme;
            out->secure = schemes[i].secure;
            out->port = schemes[i].default_port;
            return (int)(len + 3);
        }
    }
    return -1;
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

/* The port after the host, read by the one port parser (net/hostport.h). */
static int parse_port(const char *text, size_t len, struct url *out, char *cause, size_t cause_len)
{
    char digits[8]; /* longer than any port: a longer text is refused */
    if (len == 0)
        return cause_set(cause, cause_len, -EINVAL, "missing port number after ':'");
    snprintf(digits, sizeof(digits), "%.*s", (int)(len < 7 ? len : 7), text);
    if (hostport_parse_port(digits, 0, &out->port, cause, cause_len) < 0)
        return -EINVAL;
    out->port_explicit = 1;
    return 0;
}

static void lower_copy(char *out, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[len] = '\0';
}

/* "[v6]" optionally followed by ":port"; len covers the whole authority. */
static int parse_ipv6_authority(const char *text, size_t len, struct url *out, char *cause,
                                size_t cause_len)
{
    const char *close = memchr(text, ']', len);
    if (!close)
        return cause_set(cause, cause_len, -EINVAL, "IPv6 address is missing its closing ']'");
    size_t host_len = (size_t)(close - text - 1);
    if (host_len == 0 || host_len >= INET6_ADDRSTRLEN)
        return cause_set(cause, cause_len, -EINVAL, "invalid IPv6 address");
    char literal[INET6_ADDRSTRLEN];
    memcpy(literal, text + 1, host_len);
    literal[host_len] = '\0';
    struct in6_addr addr;
    if (inet_pton(AF_INET6, literal, &addr) != 1)
        return cause_set(cause, cause_len, -EINVAL, "invalid IPv6 address");
    lower_copy(out->host, literal, host_len);
    out->is_ipv6 = 1;
    size_t rest = len - (size_t)(close + 1 - text);
    if (rest == 0)
        return 0;
    if (close[1] != ':')
        return cause_set(cause, cause_len, -EINVAL, "unexpected characters after the IPv6 address");
    return parse_port(close + 2, rest - 1, out, cause, cause_len);
}

static int parse_name_authority(const char *text, size_t len, struct url *out, char *cause,
                                size_t cause_len)
{
    const char *colon = memchr(text, ':', len);
    size_t host_len = colon ? (size_t)(colon - text) : len;
    if (host_len == 0)
        return cause_set(cause, cause_len, -EINVAL, "URL has no host");
    if (host_len > URL_MAX_HOST)
        return cause_set(cause, cause_len, -EINVAL,
                         "host name too long (more than 253 characters)");
    for (size_t i = 0; i < host_len; i++)
        if (!is_name_char(text[i]))
            return cause_set(cause, cause_len, -EINVAL,
                             "host contains a character that is not allowed");
    if (text[0] == '.' || memmem(text, host_len, "..", 2))
        return cause_set(cause, cause_len, -EINVAL, "host has an empty label");
    lower_copy(out->host, text, host_len);
    if (!colon)
        return 0;
    return parse_port(colon + 1, len - host_len - 1, out, cause, cause_len);
}

static int parse_authority(const char *text, size_t len, struct url *out, char *cause,
                           size_t cause_len)
{
    if (len == 0)
        return cause_set(cause, cause_len, -EINVAL, "URL has no host");
    if (memchr(text, '@', len))
        return cause_set(cause, cause_len, -EINVAL,
                         "user information (user@host) is not supported in URLs");
    if (text[0] == '[')
        return parse_ipv6_authority(text, len, out, cause, cause_len);
    return parse_name_authority(text, len, out, cause, cause_len);
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Visible ASCII only, with well-formed percent escapes. */
static int check_component(const char *text, size_t len, char *cause, size_t cause_len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= 0x20 || c >= 0x7f)
            return cause_set(cause, cause_len, -EINVAL,
                             "URL contains a space, control or non-ASCII character "
                             "(percent-encode it)");
        if (c == '%' && (i + 2 >= len || !is_hex(text[i + 1]) || !is_hex(text[i + 2])))
            return cause_set(cause, cause_len, -EINVAL, "URL contains a malformed percent escape");
    }
    return 0;
}

static int parse_path_and_query(const char *text, struct url *out, char *cause, size_t cause_len)
{
    size_t end = strcspn(text, "#");
    size_t path_len = strcspn(text, "?#");
    if (check_component(text, end, cause, cause_len) < 0)
        return -EINVAL;
    if (path_len > URL_MAX_PATH)
        return cause_set(cause, cause_len, -EINVAL, "URL path too long");
    if (path_len == 0) {
        strcpy(out->path, "/");
    } else {
        memcpy(out->path, text, path_len);
        out->path[path_len] = '\0';
    }
    if (path_len < end) {
        size_t query_len = end - path_len - 1;
        if (query_len > URL_MAX_QUERY)
            return cause_set(cause, cause_len, -EINVAL, "URL query too long");
        memcpy(out->query, text + path_len + 1, query_len);
        out->query[query_len] = '\0';
    }
    return 0;
}

static void make_host_header(struct url *out)
{
    const char *open = out->is_ipv6 ? "[" : "";
    const char *close = out->is_ipv6 ? "]" : "";
    if (out->port == url_default_port(out->scheme))
        snprintf(out->host_header, sizeof(out->host_header), "%s%s%s", open, out->host, close);
    else
        snprintf(out->host_header, sizeof(out->host_header), "%s%s%s:%u", open, out->host, close,
                 out->port);
}

int url_parse(const char *text, struct url *out, char *cause, size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    if (!text || !*text)
        return cause_set(cause, cause_len, -EINVAL, "empty URL");
    if (strlen(text) > URL_MAX_LENGTH)
        return cause_set(cause, cause_len, -EINVAL, "URL too long");
    int consumed = parse_scheme(text, out);
    if (consumed < 0)
        return cause_set(cause, cause_len, -EINVAL,
                         "URL must start with http://, https://, ws:// or wss://");
    const char *authority = text + consumed;
    size_t authority_len = strcspn(authority, "/?#");
    int rc = parse_authority(authority, authority_len, out, cause, cause_len);
    if (rc == 0)
        rc = parse_path_and_query(authority + authority_len, out, cause, cause_len);
    if (rc < 0) {
        /* Leave nothing half-filled behind. */
        memset(out, 0, sizeof(*out));
        return rc;
    }
    make_host_header(out);
    return 0;
}

int url_target(const struct url *url, char *out, size_t out_len)
{
    int n = url->query[0] ? snprintf(out, out_len, "%s?%s", url->path, url->query)
                          : snprintf(out, out_len, "%s", url->path);
    return n < 0 || (size_t)n >= out_len ? -ENAMETOOLONG : 0;
}
