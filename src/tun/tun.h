/* The TUN path of the VPC tunnel: traffic to the VPC subnets is routed into
 * a TUN device, the packet engine (tun/engine.h) turns each TCP flow into a
 * connection the kernel accepts on tether's listener, and each connection
 * rides the tunnel's SSH transport as a forward to its original destination.
 * A DNS forwarder on the device's address (tun/dns.h) answers for the VPC's
 * private domains through the same transport.
 *
 * One libuv loop runs the sessions and the DNS forwarder; the engine runs
 * in a thread of its own that only reads, readdresses and writes packets
 * (docs/tun.md says why and what it measured).
 *
 * Ownership: tun_start copies the config; the tunnel is borrowed and must
 * stay running until on_stopped of tun_stop has run. Descriptors passed in
 * the config (device_fd, dns_fd) become the TUN path's and are closed by it. */
#ifndef TETHER_TUN_TUN_H
#define TETHER_TUN_TUN_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "tun/cidr.h"
#include "tun/device.h"
#include "tun/dns.h"
#include "tun/engine.h"

struct tunnel;

struct tun_config {
    struct tun_device_config device; /* name, addresses, MTU, routes = the subnets */
    int device_fd;                   /* >= 0: opened by the privileged helper */
    int dns_fd4, dns_fd6;            /* >= 0: UDP sockets bound to port 53 by the helper */
    size_t max_flows;                /* default 16384 */
    uint32_t accept_timeout_ms;      /* SYN passed to the kernel -> accepted; default 10000 */
    int hold_syn; /* SYN waits for the forward: refusals look like the host's (tun/engine.h) */
    struct nat_timeouts timeouts; /* defaults in tun.c */
    struct tun_dns_config dns;
    int mtu_given; /* --tun-mtu was set (even to the default): tether.json's tunMtu yields */
};

struct tun;

/* Fills the defaults for everything but the subnets. */
void tun_config_init(struct tun_config *config);
/* Checks what only the whole config tells (the addresses outside the
 * subnets, a resolver for DNS; each value was checked as it was set, by
 * tun_option_set) and completes it (peers, resolver); 0 or -EINVAL. */
int tun_config_finish(struct tun_config *config, char *cause, size_t cause_len);

/* Closes the descriptors in the config (device_fd, dns_fd4, dns_fd6) when
 * tun_start will not run to take them; they are -1 afterwards. */
void tun_config_release(struct tun_config *config);

int tun_start(uv_loop_t *loop, struct tunnel *tunnel, const struct tun_config *config,
              struct tun **out, char *cause, size_t cause_len);
const char *tun_device_name(const struct tun *tun);
/* Resets every session, stops the engine and the DNS forwarder and closes
 * the device (which takes its routes with it); on_stopped runs last. */
void tun_stop(struct tun *tun, void (*on_stopped)(void *user), void *user);

#endif
