/* The privileged part of the TUN path, and the two ways to reach it.
 *
 * It does only this: create the TUN device with its address and routes,
 * bind the DNS forwarder's port 53 on the device's address, and register
 * the VPC domains with systemd-resolved. Everything else (SSH, the packet
 * engine, the relay) runs without privileges.
 *
 * - As root, `tether tunnel --subnet` (tun_acquire) does it in-process.
 * - Otherwise tun_acquire runs the installed helper (`tether tunnel install`)
 *   through `sudo -n /opt/tether/tether tun-helper ...` (the prefix comes
 *   from TETHER_TUN_PREFIX when set, for tests). The
 *   helper parses its arguments strictly (tun_helper_main), does the setup,
 *   passes the descriptors back over an abstract Unix socket (no file is
 *   written; the listener's owner is checked to be the invoking user) and
 *   exits: the device lives exactly as long as the unprivileged process
 *   holding its descriptor.
 *
 * Ownership: the descriptors tun_acquire stores in the config are the
 * caller's (tun_start takes them, tun_config_release closes them). */
#ifndef TETHER_TUN_PRIVILEGED_H
#define TETHER_TUN_PRIVILEGED_H

#include <stddef.h>

#include "tun/tun.h"

#define TUN_DEFAULT_PREFIX "/opt/tether"
#define TUN_HELPER_COMMAND "tun-helper"
#define TUN_PREFIX_MAX 128

/* Checks an install prefix: absolute, [A-Za-z0-9/_-] only, no "//" or "..". */
int tun_prefix_valid(const char *prefix);
/* What a command calls before tun_start: as root, the setup in-process;
 * otherwise through the installed helper, or -EPERM with the cause saying
 * exactly what to run (install_command, e.g. "sudo tether tunnel install").
 * On success the descriptors are stored in the config (device_fd, dns_fd4,
 * dns_fd6) for tun_start, and note tells what became of DNS registration. */
int tun_acquire(struct tun_config *config, const char *install_command, char *note, size_t note_len,
                char *cause, size_t cause_len);
/* The helper's own main (argv[0] is TUN_HELPER_COMMAND); exit status. */
int tun_helper_main(int argc, char **argv);

#endif
