/* The TUN helper's policy and fixed refusals (see policy.h). */
#include "tun/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define POLICY_HEADER                                                                              \
    "# Written by `tether tunnel install`; `tether tunnel uninstall` removes it.\n"                \
    "# Which subnets each user may route through the TUN helper, and whether\n"                    \
    "# they may send every DNS name to it (docs/tun.md).\n"

/* ---- users ---- */

int tun_policy_user_valid(const char *user)
{
    size_t len = strlen(user);
    if (len == 0 || len > TUN_POLICY_USER_MAX)
        return 0;
    if (!((user[0] >= 'a' && user[0] <= 'z') || user[0] == '_'))
        return 0;
    /* Lower case only: sudoers keywords (ALL) and aliases are upper case,
     * and %group, #uid or a list cannot be written without the others. */
    return strspn(user, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

/* ---- parsing and writing ---- */

static int parse_rule(char *line, struct tun_policy_rule *rule)
{
    char *save = NULL;
    char *verb = strtok_r(line, " \t", &save);
    char *user = verb ? strtok_r(NULL, " \t", &save) : NULL;
    char *kind = user ? strtok_r(NULL, " \t", &save) : NULL;
    if (!kind || strcmp(verb, "allow") != 0 || !tun_policy_user_valid(user))
        return -EINVAL;
    memset(rule, 0, sizeof(*rule));
    snprintf(rule->user, sizeof(rule->user), "%s", user);
    char *value = NULL;
    if (strcmp(kind, "dns-all") == 0)
        rule->dns_all = 1;
    else if (strcmp(kind, "subnet") != 0 || !(value = strtok_r(NULL, " \t", &save)))
        return -EINVAL;
    char why[128];
    if (value && tun_cidr_parse(value, &rule->subnet, why, sizeof(why)) < 0)
        return -EINVAL;
    return strtok_r(NULL, " \t", &save) ? -EINVAL : 0;
}

/* A policy with one bad line is no policy: no rule of it is kept. */
static int policy_error(struct tun_policy *out, char *cause, size_t cause_len, size_t line,
                        const char *why)
{
    out->count = 0;
    snprintf(cause, cause_len, "line %zu: %s", line, why);
    return -EINVAL;
}

int tun_policy_parse(const char *text, size_t len, struct tun_policy *out, char *cause,
                     size_t cause_len)
{
    out->count = 0;
    if (len > TUN_POLICY_MAX_BYTES)
        return policy_error(out, cause, cause_len, 0, "the policy is too large");
    size_t number = 0;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t line_len = (nl ? (size_t)(nl - text) : len) - at;
        number++;
        char line[TUN_POLICY_LINE_MAX + 1];
        if (line_len > TUN_POLICY_LINE_MAX || memchr(text + at, '\0', line_len))
            return policy_error(out, cause, cause_len, number, "line too long or not text");
        memcpy(line, text + at, line_len);
        line[line_len] = '\0';
        at += line_len + 1;
        if (line[strspn(line, " \t")] == '\0' || line[0] == '#')
            continue;
        if (out->count == TUN_POLICY_MAX_RULES)
            return policy_error(out, cause, cause_len, number, "too many rules");
        if (parse_rule(line, &out->rules[out->count]) < 0)
            return policy_error(out, cause, cause_len, number,
                                "not `allow USER subnet CIDR` or `allow USER dns-all`");
        out->count++;
    }
    return 0;
}

int tun_policy_format(const struct tun_policy *p, char *out, size_t out_len)
{
    size_t used = (size_t)snprintf(out, out_len, "%s", POLICY_HEADER);
    for (size_t i = 0; i < p->count && used < out_len; i++) {
        const struct tun_policy_rule *r = &p->rules[i];
        char cidr[TUN_CIDR_TEXT_MAX];
        tun_cidr_format(&r->subnet, cidr, sizeof(cidr));
        used += (size_t)snprintf(out + used, out_len - used, "allow %s %s%s\n", r->user,
                                 r->dns_all ? "dns-all" : "subnet ", r->dns_all ? "" : cidr);
    }
    return used < out_len ? 0 : -ENAMETOOLONG;
}

static int same_rule(const struct tun_policy_rule *r, const char *user,
                     const struct tun_cidr *subnet, int dns_all)
{
    if (strcmp(r->user, user) != 0 || r->dns_all != dns_all)
        return 0;
    return dns_all || (r->subnet.family == subnet->family && r->subnet.prefix == subnet->prefix &&
                       memcmp(r->subnet.addr, subnet->addr, 16) == 0);
}

int tun_policy_add(struct tun_policy *p, const char *user, const struct tun_cidr *subnet,
                   int dns_all)
{
    if (!tun_policy_user_valid(user) || (!dns_all && !subnet))
        return -EINVAL;
    for (size_t i = 0; i < p->count; i++)
        if (same_rule(&p->rules[i], user, subnet, dns_all))
            return 0;
    if (p->count == TUN_POLICY_MAX_RULES)
        return -ENOSPC;
    struct tun_policy_rule *r = &p->rules[p->count++];
    memset(r, 0, sizeof(*r));
    snprintf(r->user, sizeof(r->user), "%s", user);
    r->dns_all = dns_all;
    if (!dns_all)
        r->subnet = *subnet;
    return 0;
}

size_t tun_policy_remove_user(struct tun_policy *p, const char *user)
{
    size_t kept = 0;
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->rules[i].user, user) != 0)
            p->rules[kept++] = p->rules[i];
    size_t dropped = p->count - kept;
    p->count = kept;
    return dropped;
}

/* ---- loading ---- */

static int read_capped(int fd, char *buf, size_t cap, size_t *len)
{
    *len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + *len, cap - *len);
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        *len += (size_t)n;
        if (*len == cap)
            return -EFBIG;
    }
}

int tun_policy_load(const char *path, int missing_ok, struct tun_policy *out, char *cause,
                    size_t cause_len)
{
    out->count = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        int rc = -errno;
        if (rc == -ENOENT && missing_ok)
            return 0;
        snprintf(cause, cause_len, "cannot read the TUN policy %s: %s", path, strerror(-rc));
        return rc;
    }
    struct stat st;
    int rc = fstat(fd, &st) < 0 ? -errno : 0;
    /* The helper runs as root, so for it the owner must be root; the
     * installer staging a package (--root) as another user reads its own. */
    int owner_ok = st.st_uid == 0 || st.st_uid == geteuid();
    if (rc == 0 && (!S_ISREG(st.st_mode) || !owner_ok || (st.st_mode & 022))) {
        snprintf(cause, cause_len,
                 "the TUN policy %s is not a regular file owned by root and writable only by it",
                 path);
        rc = -EPERM;
    }
    char *text = rc == 0 ? malloc(TUN_POLICY_MAX_BYTES + 1) : NULL;
    size_t len = 0;
    if (rc == 0 && !text)
        rc = -ENOMEM;
    if (rc == 0 && (rc = read_capped(fd, text, TUN_POLICY_MAX_BYTES + 1, &len)) < 0)
        snprintf(cause, cause_len, "cannot read the TUN policy %s: %s", path, strerror(-rc));
    char why[256];
    if (rc == 0 && (rc = tun_policy_parse(text, len, out, why, sizeof(why))) < 0)
        snprintf(cause, cause_len, "the TUN policy %s is invalid (%s)", path, why);
    free(text);
    close(fd);
    if (rc < 0)
        out->count = 0;
    return rc;
}

/* ---- checking a request against the policy ---- */

static int user_may_route(const struct tun_policy *p, const char *user, const struct tun_cidr *r)
{
    for (size_t i = 0; i < p->count; i++) {
        const struct tun_policy_rule *rule = &p->rules[i];
        if (!rule->dns_all && strcmp(rule->user, user) == 0 && rule->subnet.prefix <= r->prefix &&
            tun_cidr_contains(&rule->subnet, r->family, r->addr))
            return 1;
    }
    return 0;
}

static int user_may_dns_all(const struct tun_policy *p, const char *user)
{
    for (size_t i = 0; i < p->count; i++)
        if (p->rules[i].dns_all && strcmp(p->rules[i].user, user) == 0)
            return 1;
    return 0;
}

static int check_routes(const struct tun_policy *p, const char *user, const struct tun_config *c,
                        char *cause, size_t cause_len)
{
    for (size_t i = 0; i < c->device.route_count; i++) {
        if (user_may_route(p, user, &c->device.routes[i]))
            continue;
        char text[TUN_CIDR_TEXT_MAX];
        tun_cidr_format(&c->device.routes[i], text, sizeof(text));
        snprintf(cause, cause_len,
                 "the TUN policy does not let %s route %s (as root: tether tunnel install --user "
                 "%s --subnet CIDR)",
                 user, text, user);
        return -EPERM;
    }
    return 0;
}

/* --dns-all, and a top-level domain, which sends every name under it for
 * every user of the host to this user's forwarder (nearly --dns-all),
 * need the user's dns-all rule. */
static int check_dns(const struct tun_policy *p, const char *user, const struct tun_config *c,
                     char *cause, size_t cause_len)
{
    if (!c->dns.enabled || user_may_dns_all(p, user))
        return 0;
    for (size_t i = 0; i < c->dns.domain_count; i++) {
        if (strchr(c->dns.domains[i], '.'))
            continue;
        snprintf(cause, cause_len,
                 "the TUN policy does not let %s register the top-level domain \"%s\" (every "
                 "user's .%s names would go to the tunnel): it needs --allow-dns-all",
                 user, c->dns.domains[i], c->dns.domains[i]);
        return -EPERM;
    }
    if (c->dns.all) {
        snprintf(cause, cause_len,
                 "the TUN policy does not let %s use --dns-all (as root: tether tunnel install "
                 "--user %s --allow-dns-all ...)",
                 user, user);
        return -EPERM;
    }
    return 0;
}

int tun_policy_allows(const struct tun_policy *p, const char *user, const struct tun_config *c,
                      char *cause, size_t cause_len)
{
    int rc = check_routes(p, user, c, cause, cause_len);
    return rc < 0 ? rc : check_dns(p, user, c, cause, cause_len);
}

/* ---- what no policy lifts ---- */

struct block {
    int family;
    const char *text;
    const char *what;
};

/* Blocks no route may touch: they are the host's own, or not unicast. */
static const struct block forbidden[] = {
    {4, "0.0.0.0/8", "\"this network\""},
    {4, "127.0.0.0/8", "loopback"},
    {4, "169.254.0.0/16", "link-local (instance metadata)"},
    {4, "224.0.0.0/4", "multicast"},
    {4, "240.0.0.0/4", "reserved"},
    {6, "::/128", "the unspecified address"},
    {6, "::1/128", "loopback"},
    {6, "::ffff:0:0/96", "IPv4-mapped"},
    {6, "fe80::/10", "link-local"},
    {6, "ff00::/8", "multicast"},
};

static void block_cidr(const struct block *b, struct tun_cidr *out)
{
    char why[64];
    tun_cidr_parse(b->text, out, why, sizeof(why));
}

static int refuse_route(const struct tun_cidr *route, const char *why, char *cause,
                        size_t cause_len)
{
    char text[TUN_CIDR_TEXT_MAX];
    tun_cidr_format(route, text, sizeof(text));
    snprintf(cause, cause_len, "the TUN helper never routes %s: %s", text, why);
    return -EPERM;
}

int tun_policy_route_allowed(const struct tun_cidr *route, char *cause, size_t cause_len)
{
    int shortest = route->family == 4 ? 8 : 32;
    if (route->prefix < shortest) {
        char why[64];
        snprintf(why, sizeof(why), "prefixes shorter than /%d take more than a VPC", shortest);
        return refuse_route(route, why, cause, cause_len);
    }
    for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
        struct tun_cidr block;
        block_cidr(&forbidden[i], &block);
        if (tun_cidr_overlap(&block, route)) {
            char why[96];
            snprintf(why, sizeof(why), "it overlaps %s (%s)", forbidden[i].text, forbidden[i].what);
            return refuse_route(route, why, cause, cause_len);
        }
    }
    return 0;
}

int tun_policy_address_allowed(int family, const uint8_t *addr, char *cause, size_t cause_len)
{
    struct tun_cidr range;
    char why[64], text[64];
    tun_cidr_parse(family == 4 ? "100.64.0.0/10" : "fd00::/8", &range, why, sizeof(why));
    if (tun_cidr_contains(&range, family, addr))
        return 0;
    tun_addr_format(family, addr, text, sizeof(text));
    snprintf(cause, cause_len,
             "the TUN device's address %s (or its peer) is outside %s, the only range the TUN "
             "helper gives a device",
             text, family == 4 ? "100.64.0.0/10" : "fd00::/8");
    return -EPERM;
}

int tun_policy_device_name_allowed(const char *name)
{
    size_t len = strlen(name), base = strlen(TUN_DEFAULT_NAME);
    return strncmp(name, TUN_DEFAULT_NAME, base) == 0 && len <= base + 4 &&
           strspn(name + base, "abcdefghijklmnopqrstuvwxyz0123456789") == len - base;
}

/* The host network or gateway that `cidr` overlaps, or NULL. */
static const struct tun_cidr *host_overlap(const struct tun_host_networks *host,
                                           const struct tun_cidr *cidr)
{
    for (size_t i = 0; i < host->count; i++)
        if (tun_cidr_overlap(&host->nets[i], cidr))
            return &host->nets[i];
    return NULL;
}

static int refuse_host_overlap(const struct tun_cidr *mine, const struct tun_cidr *theirs,
                               char *cause, size_t cause_len)
{
    char a[TUN_CIDR_TEXT_MAX], b[TUN_CIDR_TEXT_MAX];
    tun_cidr_format(mine, a, sizeof(a));
    tun_cidr_format(theirs, b, sizeof(b));
    snprintf(cause, cause_len,
             "the TUN helper never routes %s: it overlaps %s, a network or gateway of this host", a,
             b);
    return -EPERM;
}

static int check_address(int family, const uint8_t *addr, const struct tun_host_networks *host,
                         char *cause, size_t cause_len)
{
    int rc = tun_policy_address_allowed(family, addr, cause, cause_len);
    struct tun_cidr self = {.family = family, .prefix = family == 4 ? 32 : 128};
    memcpy(self.addr, addr, family == 4 ? 4 : 16);
    const struct tun_cidr *theirs = rc == 0 ? host_overlap(host, &self) : NULL;
    return theirs ? refuse_host_overlap(&self, theirs, cause, cause_len) : rc;
}

int tun_policy_check_fixed(const struct tun_config *c, const struct tun_host_networks *host,
                           char *cause, size_t cause_len)
{
    const struct tun_device_config *d = &c->device;
    if (!tun_policy_device_name_allowed(d->name)) {
        snprintf(cause, cause_len,
                 "the TUN helper names its device \"%s\" plus at most 4 of [a-z0-9], not \"%.20s\"",
                 TUN_DEFAULT_NAME, d->name);
        return -EPERM;
    }
    for (size_t i = 0; i < d->route_count; i++) {
        int rc = tun_policy_route_allowed(&d->routes[i], cause, cause_len);
        if (rc < 0)
            return rc;
        const struct tun_cidr *theirs = host_overlap(host, &d->routes[i]);
        if (theirs)
            return refuse_host_overlap(&d->routes[i], theirs, cause, cause_len);
    }
    int rc = 0;
    if (d->has_ipv4 && ((rc = check_address(4, d->addr4, host, cause, cause_len)) < 0 ||
                        (rc = check_address(4, d->peer4, host, cause, cause_len)) < 0))
        return rc;
    if (d->has_ipv6 && ((rc = check_address(6, d->addr6, host, cause, cause_len)) < 0 ||
                        (rc = check_address(6, d->peer6, host, cause, cause_len)) < 0))
        return rc;
    return 0;
}
