/* libFuzzer harness: url_parse, which reads every endpoint URL tether is
 * given (tether.json, --events, the Events API's answers, proxies).
 *
 * Besides memory errors it checks the parser's contract: 0 or -EINVAL with a
 * terminated cause; on failure the struct is left zeroed; on success every
 * part is a terminated string within its cap, the path begins with '/', the
 * port is not 0, and writing the URL back out from its parts (scheme, Host
 * header, target) parses to the same host, port, path and query. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/url.h"

#define MAX_INPUT (URL_MAX_LENGTH + 16)

static void check_terminated(const char *field, size_t cap)
{
    if (!memchr(field, '\0', cap))
        abort();
}

static void check_parts(const struct url *u)
{
    check_terminated(u->host, sizeof(u->host));
    check_terminated(u->host_header, sizeof(u->host_header));
    check_terminated(u->path, sizeof(u->path));
    check_terminated(u->query, sizeof(u->query));
    if (!u->host[0] || u->path[0] != '/' || u->port == 0)
        abort();
    if (u->secure != (u->scheme == URL_HTTPS || u->scheme == URL_WSS))
        abort();
    if (!u->port_explicit && u->port != url_default_port(u->scheme))
        abort();
}

/* scheme://host_header + target must mean the same URL. */
static void check_round_trip(const struct url *u)
{
    static char target[URL_MAX_PATH + URL_MAX_QUERY + 2];
    static char text[URL_MAX_HOST_HEADER + sizeof(target) + 8];
    struct url again;
    char cause[128];
    if (url_target(u, target, sizeof(target)) != 0)
        abort();
    int n = snprintf(text, sizeof(text), "%s://%s%s", url_scheme_name(u->scheme), u->host_header,
                     target);
    if (n < 0 || (size_t)n >= sizeof(text))
        abort();
    if (strlen(text) > URL_MAX_LENGTH)
        return; /* the parts fit their caps, the whole may not */
    if (url_parse(text, &again, cause, sizeof(cause)) != 0)
        abort();
    if (again.scheme != u->scheme || again.port != u->port || again.is_ipv6 != u->is_ipv6 ||
        strcmp(again.host, u->host) != 0 || strcmp(again.path, u->path) != 0 ||
        strcmp(again.query, u->query) != 0 || strcmp(again.host_header, u->host_header) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[MAX_INPUT + 1];
    static const struct url zero;
    struct url u;
    char cause[128];
    if (size > MAX_INPUT)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    memset(cause, 'x', sizeof(cause));
    int rc = url_parse(text, &u, cause, sizeof(cause));
    if (rc != 0 && rc != -EINVAL)
        abort();
    if (rc != 0) {
        check_terminated(cause, sizeof(cause));
        if (memcmp(&u, &zero, sizeof(u)) != 0)
            abort();
        return 0;
    }
    check_parts(&u);
    check_round_trip(&u);
    return 0;
}
