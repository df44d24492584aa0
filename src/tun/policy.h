/* What the sudo-run TUN helper may do for whom: the root-owned policy that
 * `tether tunnel install` writes, and the checks the helper makes whatever
 * the policy says.
 *
 * The policy lives beside the helper (PREFIX/tun-policy, 0644, root's) and
 * is a few lines of text, at most TUN_POLICY_MAX_BYTES, one rule a line:
 *
 *   # comment
 *   allow alice subnet 10.20.0.0/16
 *   allow alice dns-all
 *
 * A user may route a subnet only inside one of their `subnet` rules and may
 * use --dns-all only with a `dns-all` rule; a user without rules may do
 * nothing. Anything the parser does not know makes the whole policy
 * invalid, and the helper then refuses every request (fail closed).
 *
 * Whatever the policy allows, tun_policy_check_fixed refuses the requests
 * that would take more than a VPC's traffic: short prefixes, loopback,
 * link-local, multicast and reserved blocks, overlap with the host's own
 * networks and gateways, device addresses outside 100.64.0.0/10 and
 * fd00::/8, and device names other than "tether" plus a short suffix.
 *
 * Nothing here prints; causes come back in the caller's buffer. */
#ifndef TETHER_TUN_POLICY_H
#define TETHER_TUN_POLICY_H

#include <stddef.h>

#include "tun/cidr.h"
#include "tun/tun.h"

#define TUN_POLICY_FILE "tun-policy"
#define TUN_POLICY_MAX_BYTES 65536
#define TUN_POLICY_MAX_RULES 512
#define TUN_POLICY_LINE_MAX 128
#define TUN_POLICY_USER_MAX 32
/* The host networks and gateways the helper reads from the kernel. */
#define TUN_HOST_NETWORKS_MAX 512

struct tun_policy_rule {
    char user[TUN_POLICY_USER_MAX + 1];
    int dns_all; /* a `dns-all` rule; otherwise a `subnet` rule */
    struct tun_cidr subnet;
};

struct tun_policy {
    size_t count;
    struct tun_policy_rule rules[TUN_POLICY_MAX_RULES];
};

struct tun_host_networks {
    size_t count;
    struct tun_cidr nets[TUN_HOST_NETWORKS_MAX];
};

/* 1 for a name fit for a sudoers rule and the policy: [a-z_][a-z0-9_-]*,
 * at most 32 bytes, and not a sudoers keyword such as ALL. */
int tun_policy_user_valid(const char *user);
/* 0, or -EINVAL naming the offending line. */
int tun_policy_parse(const char *text, size_t len, struct tun_policy *out, char *cause,
                     size_t cause_len);
/* The policy's text (a header comment and one line a rule); 0 or
 * -ENAMETOOLONG when out is too small. */
int tun_policy_format(const struct tun_policy *policy, char *out, size_t out_len);
/* Adds a rule (a duplicate is kept once); 0 or -ENOSPC / -EINVAL. */
int tun_policy_add(struct tun_policy *policy, const char *user, const struct tun_cidr *subnet,
                   int dns_all);
/* Drops every rule of `user`; how many were dropped. */
size_t tun_policy_remove_user(struct tun_policy *policy, const char *user);
/* Reads the file at `path`, which must be a regular file owned by root (or
 * by the caller's euid, which for the helper is root) and not writable by
 * group or others (else -EPERM); opened without following a symbolic
 * link; a missing file is an empty policy when missing_ok, else -ENOENT. */
int tun_policy_load(const char *path, int missing_ok, struct tun_policy *out, char *cause,
                    size_t cause_len);

/* 0 when `user` may make this request: each route inside one of their
 * subnets, --dns-all and top-level DNS domains ("com") only with their
 * dns-all rule; -EPERM with the cause. */
int tun_policy_allows(const struct tun_policy *policy, const char *user,
                      const struct tun_config *config, char *cause, size_t cause_len);

/* The checks no policy lifts (see above). 0 or -EPERM with the cause. */
int tun_policy_route_allowed(const struct tun_cidr *route, char *cause, size_t cause_len);
int tun_policy_address_allowed(int family, const uint8_t *addr, char *cause, size_t cause_len);
/* "tether" and at most 4 of [a-z0-9]. */
int tun_policy_device_name_allowed(const char *name);
/* Every route, device address and peer of the request against the fixed
 * rules above and against `host` (its networks and gateways). */
int tun_policy_check_fixed(const struct tun_config *config, const struct tun_host_networks *host,
                           char *cause, size_t cause_len);

#endif
