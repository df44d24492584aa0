/* The TUN path's command-line options and tether.json keys, shared by every
 * command that runs it (`tether tunnel --subnet ...`, the privileged helper).
 *
 *   --subnet CIDR        route this VPC block into the tunnel (repeatable)
 *   --tun-name NAME      the device (default "tether")
 *   --tun-address ADDR   the device's IPv4 or IPv6 address (peer = ADDR + 1)
 *   --tun-mtu N          default 65535
 *   --dns-domain DOMAIN  a VPC-private domain for the DNS forwarder (repeatable)
 *   --dns-server ADDR    the VPC resolver (default: first IPv4 subnet + 2)
 *   --dns-all            forward every name, not only the domains
 *   --no-dns             no DNS forwarder
 *   --tun-no-offload     no checksum offload (IFF_VNET_HDR) on the device
 *   --tun-hold-syn       answer a SYN only once the VPC host did (tun/engine.h)
 *
 * In tether.json's "tunnel" section: "subnets": [...], "dnsDomains": [...],
 * "dnsServer", "dnsAll", "tunMtu".
 *
 * Only the checks of the values live here: `tether tunnel` declares these
 * options, with their help, in its option table (cli/cmd_tunnel.c), and the
 * privileged helper reads them with the getopt entries below. Nothing here
 * prints; errors come back with their cause. */
#ifndef TETHER_TUN_OPTIONS_H
#define TETHER_TUN_OPTIONS_H

#include <stddef.h>

#include "tun/tun.h"
#include "tunnel/tunnel_config.h"

enum tun_option {
    TUN_OPT_SUBNET = 0x1000,
    TUN_OPT_NAME,
    TUN_OPT_ADDRESS,
    TUN_OPT_MTU,
    TUN_OPT_DNS_DOMAIN,
    TUN_OPT_DNS_SERVER,
    TUN_OPT_DNS_ALL,
    TUN_OPT_NO_DNS,
    TUN_OPT_NO_OFFLOAD,
    TUN_OPT_HOLD_SYN,
};
#define TUN_OPTION_COUNT (TUN_OPT_HOLD_SYN - TUN_OPT_SUBNET + 1)

/* Entries for a getopt_long table (struct option), in this order. Only the
 * privileged helper (tun/privileged.c) parses with getopt: it runs as root
 * and must accept exactly these options and --connect, which the table
 * parser of the commands (cli/args.h, with its --help and --log-level)
 * would widen; `tether tunnel` declares the same options in its table. */
// clang-format off
#define TUN_LONG_OPTIONS                                        \
    {"subnet", required_argument, 0, TUN_OPT_SUBNET},           \
    {"tun-name", required_argument, 0, TUN_OPT_NAME},           \
    {"tun-address", required_argument, 0, TUN_OPT_ADDRESS},     \
    {"tun-mtu", required_argument, 0, TUN_OPT_MTU},             \
    {"dns-domain", required_argument, 0, TUN_OPT_DNS_DOMAIN},   \
    {"dns-server", required_argument, 0, TUN_OPT_DNS_SERVER},   \
    {"dns-all", no_argument, 0, TUN_OPT_DNS_ALL},               \
    {"no-dns", no_argument, 0, TUN_OPT_NO_DNS},                 \
    {"tun-no-offload", no_argument, 0, TUN_OPT_NO_OFFLOAD},     \
    {"tun-hold-syn", no_argument, 0, TUN_OPT_HOLD_SYN}
// clang-format on

/* Sets one option's value (NULL for the options without one) after checking
 * it; 0, or -EINVAL with a cause that reads after "--NAME: ". The command
 * line's table (cli/cmd_tunnel.c) and the tether.json keys use it. */
int tun_option_set(struct tun_config *config, enum tun_option opt, const char *arg, char *cause,
                   size_t cause_len);
/* The option's long name without "--" ("subnet"). */
const char *tun_option_name(enum tun_option opt);
/* tun_option_set for a getopt code from TUN_LONG_OPTIONS (the privileged
 * helper's strict getopt loop): the cause starts with "--NAME: ". */
int tun_options_apply(struct tun_config *config, int opt, const char *arg, char *cause,
                      size_t cause_len);
/* Applies the TUN keys of tether.json's "tunnel" section, as its one reader
 * (tunnel/tunnel_config.h) found them in `path`; values the command line
 * already set win. 0 or -EINVAL with a cause naming the file and key. */
int tun_options_apply_file(struct tun_config *config, const struct tunnel_file_settings *file,
                           const char *path, char *cause, size_t cause_len);

#endif
