/* `tether tunnel install` / `uninstall`: a root-owned copy of the tether
 * binary under PREFIX (default /opt/tether) and a sudoers rule that lets
 * one user run exactly `PREFIX/tether tun-helper *` as root without a
 * password (docs/tun.md explains the choice over setcap).
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

struct tun_install_config {
    const char *root;   /* "" or NULL for the real system */
    const char *prefix; /* default /opt/tether */
    const char *user;   /* who may start the helper */
    const char *source; /* the binary to copy (default /proc/self/exe) */
};

/* 1 when the user's name is acceptable in a sudoers rule and file name. */
int tun_install_user_valid(const char *user);
/* The sudoers file for a prefix and user ("tether-alice"). */
int tun_install_rule_name(const char *prefix, const char *user, char *out, size_t out_len);
/* The rule's text. */
int tun_install_rule_text(const char *prefix, const char *user, char *out, size_t out_len);
int tun_install(const struct tun_install_config *config, char *report, size_t report_len);
int tun_uninstall(const struct tun_install_config *config, char *report, size_t report_len);
/* 1 when the helper and the user's rule are in place. */
int tun_install_present(const struct tun_install_config *config);

#endif
