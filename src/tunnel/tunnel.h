/* The VPC tunnel, transport part: a SOCKS5 proxy whose every CONNECT becomes
 * a forward through the SSH connection to the bastion (ssh/bastion.h), so
 * names and addresses are resolved and reached from inside the VPC.
 *
 * One libuv loop runs everything. tunnel_start copies the config's strings
 * (the bastion identity is borrowed and must outlive the tunnel). tunnel_stop
 * closes the listener, resets the open streams, disconnects from the bastion
 * and frees the tunnel once all of that is done; on_stopped runs last. */
#ifndef TETHER_TUNNEL_TUNNEL_H
#define TETHER_TUNNEL_TUNNEL_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "ssh/bastion.h"

struct tunnel_config {
    struct bastion_config bastion;
    const char *socks_host;        /* default 127.0.0.1 */
    uint16_t socks_port;           /* default 1080; 0 picks a free port */
    int socks_allow_remote;        /* listening on a non-loopback address needs this */
    const char *socks_user;        /* RFC 1929 auth when set ... */
    const char *socks_password;    /* ... with this password (wiped on stop) */
    size_t max_streams;            /* default 1024 */
    size_t max_streams_per_client; /* per client address; default 256 */
    uint32_t handshake_timeout_ms; /* SOCKS greeting to request; default 10000 */
    uint32_t open_timeout_ms;      /* request to channel open, link down included; default 15000 */
};

struct tunnel;

struct tunnel_callbacks {
    void (*on_bastion_state)(struct tunnel *tunnel, enum bastion_state old_state,
                             enum bastion_state new_state, const char *cause, void *user);
};

struct tunnel_stats {
    enum bastion_state state;
    size_t streams_open;
    uint64_t streams_total;
    uint64_t streams_failed; /* refused by the bastion, timed out or reset */
    uint64_t bytes_up;       /* client to VPC */
    uint64_t bytes_down;
    struct bastion_stats bastion;
};

int tunnel_start(uv_loop_t *loop, const struct tunnel_config *config,
                 const struct tunnel_callbacks *callbacks, void *user, struct tunnel **out,
                 char *cause, size_t cause_len);
/* "host:port" the SOCKS5 proxy listens on (port resolved when 0 was asked). */
const char *tunnel_socks_address(const struct tunnel *tunnel);
void tunnel_get_stats(const struct tunnel *tunnel, struct tunnel_stats *out);
void tunnel_stop(struct tunnel *tunnel, void (*on_stopped)(void *user), void *user);

#endif
