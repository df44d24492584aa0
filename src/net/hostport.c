#include "net/hostport.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/cause.h"

/* Decimal digits only (no sign, no spaces): the port after the last colon,
 * or a port given alone. */
int hostport_parse_port(const char *text, unsigned flags, uint16_t *port, char *cause,
                        size_t cause_len)
{
    unsigned long value = 0;
    size_t digits = strspn(text, "0123456789");
    if (digits == 0 || text[digits] != '\0' || digits > 5)
        return cause_set(cause, cause_len, -EINVAL, "\"%s\" is not a port number", text);
    for (size_t i = 0; i < digits; i++)
        value = value * 10 + (unsigned long)(text[i] - '0');
    unsigned long lowest = flags & HOSTPORT_ALLOW_PORT_0 ? 0 : 1;
    if (value < lowest || value > 65535)
        return cause_set(cause, cause_len, -EINVAL, "port %lu is out of range %lu-65535", value,
                         lowest);
    *port = (uint16_t)value;
    return 0;
}

/* The host part, text[0..len): bracketed IPv6, or a name or IPv4 address
 * without colons, brackets, spaces or control characters. */
static int parse_host(const char *text, size_t len, struct hostport *hp, char *cause,
                      size_t cause_len)
{
    hp->is_ipv6 = len >= 2 && text[0] == '[' && text[len - 1] == ']';
    if (hp->is_ipv6) {
        text++;
        len -= 2;
    }
    if (len == 0)
        return cause_set(cause, cause_len, -EINVAL, "the host is missing (HOST:PORT)");
    if (len > HOSTPORT_MAX_HOST)
        return cause_set(cause, cause_len, -EINVAL, "the host is longer than %d characters",
                         HOSTPORT_MAX_HOST);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        int colon_ok = hp->is_ipv6 && (ch == ':' || ch == '.' || ch == '%');
        if (ch <= ' ' || ch == 0x7f || ch == '[' || ch == ']' || ch == '/' ||
            (ch == ':' && !colon_ok))
            return cause_set(cause, cause_len, -EINVAL,
                             ch == ':' ? "put an IPv6 address in brackets: [ADDRESS]:PORT"
                                       : "the host contains a character a host cannot have");
    }
    memcpy(hp->host, text, len);
    hp->host[len] = '\0';
    return 0;
}

int hostport_parse(const char *text, unsigned flags, struct hostport *out, char *cause,
                   size_t cause_len)
{
    const char *colon = text ? strrchr(text, ':') : NULL;
    if (!colon)
        return cause_set(cause, cause_len, -EINVAL, "\"%s\" is not HOST:PORT", text ? text : "");
    struct hostport hp = {0};
    int rc = hostport_parse_port(colon + 1, flags, &hp.port, cause, cause_len);
    if (rc == 0)
        rc = parse_host(text, (size_t)(colon - text), &hp, cause, cause_len);
    if (rc == 0)
        *out = hp;
    return rc;
}

int hostport_format(const struct hostport *hp, char *out, size_t out_len)
{
    return snprintf(out, out_len, hp->is_ipv6 ? "[%s]:%u" : "%s:%u", hp->host, hp->port);
}
