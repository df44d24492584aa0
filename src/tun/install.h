/* `tether tunnel install` / `uninstall`: a root-owned copy of the tether
 * binary under PREFIX (default /opt/tether), the helper's policy beside it
 * (PREFIX/tun-policy, tun/policy.h: the subnets the user may route) and a
 * sudoers rule that lets one user run exactly `PREFIX/tether tun-helper *`
 * as root without a password (docs/tun.md explains the choice over setcap).
 *
 * On the real system every directory of PREFIX, from / down, must be
 * root's and writable by nobody else (a missing one is created 0755), and
 * the user must exist and have a plain lower-case name (no sudoers keyword
 * or alias). Install replaces the user's rules in the policy with the ones
 * given; uninstall drops them and deletes the policy when none are left.
 *
 * The rule is written to a temporary file beside its final place, checked
 * with `visudo -c -f` and only then renamed into /etc/sudoers.d; a rule
 * that does not pass is deleted. `root` installs into a scratch tree
 * (ROOT/opt/tether, ROOT/etc/sudoers.d) for tests; the files' contents
 * still name the real paths. Nothing here prints: a report of what was done
 * or the cause of a failure comes back in the caller's buffer. */
#ifndef TETHER_TUN_INSTALL_H
#define TETHER_TUN_INSTALL_H

#include <stddef.h>

#include "tun/cidr.h"

#define TUN_INSTALL_MAX_SUBNETS 64

struct tun_install_config {
    const char *root;   /* "" or NULL for the real system */
    const char *prefix; /* default /opt/tether */
    const char *user;   /* who may start the helper */
    const char *source; /* the binary to copy (default /proc/self/exe) */
    /* What the user may route (install only): none means nothing yet. */
    struct tun_cidr subnets[TUN_INSTALL_MAX_SUBNETS];
    size_t subnet_count;
    int dns_all; /* the user may use --dns-all */
};

/* 0 when every directory from / down to `dir` (itself included) is root's
 * and not writable by group or others and none is a symbolic link; a part
 * that does not exist yet is fine. -EPERM with the cause otherwise. */
int tun_install_path_trusted(const char *dir, char *cause, size_t cause_len);
/* Adds a subnet the user may route, refusing what the helper never routes;
 * 0 or -EINVAL / -EPERM with the cause. */
int tun_install_add_subnet(struct tun_install_config *config, const char *cidr, char *cause,
                           size_t cause_len);
/* The sudoers file for a prefix and user ("tether-alice"). */
int tun_install_rule_name(const char *prefix, const char *user, char *out, size_t out_len);
/* The rule's text. */
int tun_install_rule_text(const char *prefix, const char *user, char *out, size_t out_len);
int tun_install(const struct tun_install_config *config, char *report, size_t report_len);
int tun_uninstall(const struct tun_install_config *config, char *report, size_t report_len);
/* 1 when the helper and the user's rule are in place. */
int tun_install_present(const struct tun_install_config *config);

#endif
