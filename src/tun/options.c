/* Parsing of the TUN path's options (see options.h). */
#include "tun/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static int add_subnet(struct tun_config *c, const char *arg, char *cause, size_t cause_len)
{
    struct tun_device_config *d = &c->device;
    if (d->route_count == TUN_DEVICE_MAX_ROUTES) {
        snprintf(cause, cause_len, "at most %d subnets", TUN_DEVICE_MAX_ROUTES);
        return -EINVAL;
    }
    struct tun_cidr cidr;
    char why[200];
    if (tun_cidr_parse(arg, &cidr, why, sizeof(why)) < 0) {
        snprintf(cause, cause_len, "--subnet: %s", why);
        return -EINVAL;
    }
    if (cidr.prefix == 0) {
        snprintf(cause, cause_len, "--subnet %s would route everything into the VPC", arg);
        return -EINVAL;
    }
    for (size_t i = 0; i < d->route_count; i++) {
        if (tun_cidr_overlap(&d->routes[i], &cidr)) {
            snprintf(cause, cause_len, "--subnet %s overlaps another --subnet", arg);
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
        snprintf(cause, cause_len, "--tun-address: \"%s\" is not an IP address", arg);
        return -EINVAL;
    }
    uint8_t last = family == 4 ? addr[3] : addr[15];
    if (last == 0xff || last == 0xfe || (family == 4 && last == 0)) {
        snprintf(cause, cause_len,
                 "--tun-address %s: the next address is used as the device's peer; pick one "
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
        snprintf(cause, cause_len, "--dns-domain: \"%.80s\" is not a domain name", arg);
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
        snprintf(cause, cause_len, "--tun-mtu must be a number from 1280 to %u", TUN_PACKET_MAX);
        return -EINVAL;
    }
    c->device.mtu = (uint32_t)value;
    return 0;
}

int tun_options_apply(struct tun_config *c, int opt, const char *arg, char *cause, size_t cause_len)
{
    switch (opt) {
    case TUN_OPT_SUBNET:
        return add_subnet(c, arg, cause, cause_len);
    case TUN_OPT_NAME:
        if (!tun_device_name_valid(arg)) {
            snprintf(cause, cause_len, "--tun-name: \"%.40s\" is not a valid interface name", arg);
            return -EINVAL;
        }
        snprintf(c->device.name, sizeof(c->device.name), "%s", arg);
        return 0;
    case TUN_OPT_ADDRESS:
        return set_address(c, arg, cause, cause_len);
    case TUN_OPT_MTU:
        return set_mtu(c, arg, cause, cause_len);
    case TUN_OPT_DNS_DOMAIN:
        return add_domain(c, arg, cause, cause_len);
    case TUN_OPT_DNS_SERVER:
        if (tun_addr_parse(arg, &c->dns.resolver_family, c->dns.resolver) < 0) {
            snprintf(cause, cause_len, "--dns-server: \"%.60s\" is not an IP address", arg);
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
    default:
        snprintf(cause, cause_len, "unknown option");
        return -EINVAL;
    }
}

/* ---- tether.json ---- */

int tun_options_file_key(const char *key)
{
    static const char *const keys[] = {"subnets", "dnsDomains", "dnsServer", "dnsAll", "tunMtu"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(key, keys[i]) == 0)
            return 1;
    return 0;
}

static int apply_array(struct tun_config *c, json_t *array, int opt, const char *key,
                       const char *path, char *cause, size_t cause_len)
{
    if (!json_is_array(array)) {
        snprintf(cause, cause_len, "%s: \"tunnel.%s\" must be an array of strings", path, key);
        return -EINVAL;
    }
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item)
    {
        if (!json_is_string(item)) {
            snprintf(cause, cause_len, "%s: \"tunnel.%s\" must be an array of strings", path, key);
            return -EINVAL;
        }
        int rc = tun_options_apply(c, opt, json_string_value(item), cause, cause_len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int apply_string(struct tun_config *c, json_t *value, int opt, const char *key,
                        const char *path, char *cause, size_t cause_len)
{
    char text[32];
    if (json_is_integer(value)) {
        snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(value));
        return tun_options_apply(c, opt, text, cause, cause_len);
    }
    if (!json_is_string(value)) {
        snprintf(cause, cause_len, "%s: \"tunnel.%s\" must be a string", path, key);
        return -EINVAL;
    }
    return tun_options_apply(c, opt, json_string_value(value), cause, cause_len);
}

static int apply_section(struct tun_config *c, json_t *t, const char *path, char *cause,
                         size_t cause_len)
{
    json_t *v;
    int rc = 0;
    if (c->device.route_count == 0 && (v = json_object_get(t, "subnets")))
        rc = apply_array(c, v, TUN_OPT_SUBNET, "subnets", path, cause, cause_len);
    if (rc == 0 && c->dns.domain_count == 0 && (v = json_object_get(t, "dnsDomains")))
        rc = apply_array(c, v, TUN_OPT_DNS_DOMAIN, "dnsDomains", path, cause, cause_len);
    if (rc == 0 && !c->dns.resolver_family && (v = json_object_get(t, "dnsServer")))
        rc = apply_string(c, v, TUN_OPT_DNS_SERVER, "dnsServer", path, cause, cause_len);
    if (rc == 0 && (v = json_object_get(t, "tunMtu")))
        rc = apply_string(c, v, TUN_OPT_MTU, "tunMtu", path, cause, cause_len);
    if (rc == 0 && (v = json_object_get(t, "dnsAll")) && json_is_true(v))
        c->dns.all = 1;
    return rc;
}

int tun_options_load_file(struct tun_config *c, const char *path, char *cause, size_t cause_len)
{
    json_error_t error;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    json_t *root = json_loadf(f, 0, &error);
    fclose(f);
    if (!root) {
        snprintf(cause, cause_len, "%s:%d: %s", path, error.line, error.text);
        return -EINVAL;
    }
    json_t *section = json_object_get(root, "tunnel");
    int rc = json_is_object(section) ? apply_section(c, section, path, cause, cause_len) : 0;
    json_decref(root);
    return rc;
}
