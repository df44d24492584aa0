/* Parsing of the TUN path's options (see options.h). */
#include "tun/options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_subnet(struct tun_config *c, const char *arg, char *cause, size_t cause_len)
{
    struct tun_device_config *d = &c->device;
    if (d->route_count == TUN_DEVICE_MAX_ROUTES) {
        snprintf(cause, cause_len, "at most %d subnets", TUN_DEVICE_MAX_ROUTES);
        return -EINVAL;
    }
    struct tun_cidr cidr;
    if (tun_cidr_parse(arg, &cidr, cause, cause_len) < 0)
        return -EINVAL;
    if (cidr.prefix == 0) {
        snprintf(cause, cause_len, "%s would route everything into the VPC", arg);
        return -EINVAL;
    }
    for (size_t i = 0; i < d->route_count; i++) {
        if (tun_cidr_overlap(&d->routes[i], &cidr)) {
            snprintf(cause, cause_len, "%s overlaps another --subnet", arg);
            return -EINVAL;
        }
    }
    d->routes[d->route_count++] = cidr;
    return 0;
}

static int set_address(struct tun_config *c, const char *arg, char *cause, size_t cause_len)
{
    int family;
    uint8_t addr[16];
    if (tun_addr_parse(arg, &family, addr) < 0) {
        snprintf(cause, cause_len, "\"%s\" is not an IP address", arg);
        return -EINVAL;
    }
    uint8_t last = family == 4 ? addr[3] : addr[15];
    if (last == 0xff || last == 0xfe || (family == 4 && last == 0)) {
        snprintf(cause, cause_len,
                 "%s: the next address is used as the device's peer; pick one "
                 "that ends below .254",
                 arg);
        return -EINVAL;
    }
    memcpy(family == 4 ? c->device.addr4 : c->device.addr6, addr, family == 4 ? 4 : 16);
    return 0;
}

static int add_domain(struct tun_config *c, const char *arg, char *cause, size_t cause_len)
{
    struct tun_dns_config *d = &c->dns;
    if (d->domain_count == TUN_DNS_MAX_DOMAINS) {
        snprintf(cause, cause_len, "at most %d DNS domains", TUN_DNS_MAX_DOMAINS);
        return -EINVAL;
    }
    if (tun_dns_domain_valid(arg, d->domains[d->domain_count], TUN_DNS_NAME_MAX) < 0) {
        snprintf(cause, cause_len, "\"%.80s\" is not a domain name", arg);
        return -EINVAL;
    }
    d->domain_count++;
    return 0;
}

static int set_mtu(struct tun_config *c, const char *arg, char *cause, size_t cause_len)
{
    char *end;
    long value = strtol(arg, &end, 10);
    if (*end || end == arg || value < 1280 || value > (long)TUN_PACKET_MAX) {
        snprintf(cause, cause_len, "\"%.20s\" is not a number from 1280 to %u", arg,
                 TUN_PACKET_MAX);
        return -EINVAL;
    }
    c->device.mtu = (uint32_t)value;
    return 0;
}

/* The long names, in enum tun_option's order (TUN_LONG_OPTIONS has the same). */
static const char *const option_names[TUN_OPTION_COUNT] = {
    "subnet",     "tun-name", "tun-address", "tun-mtu",        "dns-domain",
    "dns-server", "dns-all",  "no-dns",      "tun-no-offload", "tun-hold-syn",
};

const char *tun_option_name(enum tun_option opt)
{
    size_t i = (size_t)opt - TUN_OPT_SUBNET;
    return i < TUN_OPTION_COUNT ? option_names[i] : "?";
}

int tun_option_set(struct tun_config *c, enum tun_option opt, const char *arg, char *cause,
                   size_t cause_len)
{
    switch (opt) {
    case TUN_OPT_SUBNET:
        return add_subnet(c, arg, cause, cause_len);
    case TUN_OPT_NAME:
        if (!tun_device_name_valid(arg)) {
            snprintf(cause, cause_len, "\"%.40s\" is not a valid interface name", arg);
            return -EINVAL;
        }
        snprintf(c->device.name, sizeof(c->device.name), "%s", arg);
        return 0;
    case TUN_OPT_ADDRESS:
        return set_address(c, arg, cause, cause_len);
    case TUN_OPT_MTU:
        c->mtu_given = 1;
        return set_mtu(c, arg, cause, cause_len);
    case TUN_OPT_DNS_DOMAIN:
        return add_domain(c, arg, cause, cause_len);
    case TUN_OPT_DNS_SERVER:
        if (tun_addr_parse(arg, &c->dns.resolver_family, c->dns.resolver) < 0) {
            snprintf(cause, cause_len, "\"%.60s\" is not an IP address", arg);
            c->dns.resolver_family = 0;
            return -EINVAL;
        }
        return 0;
    case TUN_OPT_DNS_ALL:
        c->dns.all = 1;
        return 0;
    case TUN_OPT_NO_DNS:
        c->dns.enabled = 0;
        return 0;
    case TUN_OPT_NO_OFFLOAD:
        c->device.offload = 0;
        return 0;
    case TUN_OPT_HOLD_SYN:
        c->hold_syn = 1;
        return 0;
    }
    snprintf(cause, cause_len, "unknown option");
    return -EINVAL;
}

/* tun_option_set with its cause after `prefix`, which names the option or key. */
static int set_after(struct tun_config *c, int opt, const char *arg, const char *prefix,
                     char *cause, size_t cause_len)
{
    char why[400];
    if (tun_option_set(c, (enum tun_option)opt, arg, why, sizeof(why)) == 0)
        return 0;
    snprintf(cause, cause_len, "%s%s", prefix, why);
    return -EINVAL;
}

int tun_options_apply(struct tun_config *c, int opt, const char *arg, char *cause, size_t cause_len)
{
    char prefix[40];
    snprintf(prefix, sizeof(prefix), "--%s: ", tun_option_name((enum tun_option)opt));
    return set_after(c, opt, arg, prefix, cause, cause_len);
}

/* ---- tether.json ---- */

static int apply_file_list(struct tun_config *c, int opt, char *const *values, size_t count,
                           const char *key, const char *path, char *cause, size_t cause_len)
{
    char prefix[512];
    snprintf(prefix, sizeof(prefix), "%s: \"tunnel.%s\": ", path, key);
    for (size_t i = 0; i < count; i++) {
        int rc = set_after(c, opt, values[i], prefix, cause, cause_len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int tun_options_apply_file(struct tun_config *c, const struct tunnel_file_settings *f,
                           const char *path, char *cause, size_t cause_len)
{
    int rc = 0;
    if (c->device.route_count == 0)
        rc = apply_file_list(c, TUN_OPT_SUBNET, f->subnets, f->subnet_count, "subnets", path, cause,
                             cause_len);
    if (rc == 0 && c->dns.domain_count == 0)
        rc = apply_file_list(c, TUN_OPT_DNS_DOMAIN, f->dns_domains, f->dns_domain_count,
                             "dnsDomains", path, cause, cause_len);
    if (rc == 0 && !c->dns.resolver_family && f->dns_server)
        rc = apply_file_list(c, TUN_OPT_DNS_SERVER, &f->dns_server, 1, "dnsServer", path, cause,
                             cause_len);
    if (rc == 0 && !c->mtu_given && f->tun_mtu)
        rc = apply_file_list(c, TUN_OPT_MTU, &f->tun_mtu, 1, "tunMtu", path, cause, cause_len);
    if (rc == 0 && f->dns_all)
        c->dns.all = 1;
    return rc;
}
