/* The VPC tunnel inside `tether dev`: when tether.json has a "tunnel"
 * section, dev runs the same tunnel as `tether tunnel` (tunnel/runner.h) in
 * its own loop. SOCKS5 always; the TUN device too when the section routes
 * subnets and the device can be opened (as root, or through the helper
 * `sudo tether tunnel install` installs), else SOCKS5 only, said once.
 *
 * The tunnel never ends dev: a bad section, an unreachable or refusing
 * bastion or a lost connection is reported (state "failed" or
 * "reconnecting") while the functions keep running. Workers reach the VPC
 * through the TUN device with no settings, or through the SOCKS5 proxy
 * (dev_tunnel_proxy_url, given to them as ALL_PROXY by dev/dev.c).
 * docs/dev.md, "The tunnel inside dev". */
#ifndef TETHER_DEV_TUNNEL_H
#define TETHER_DEV_TUNNEL_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* What the live view shows; the strings live until the next report. */
struct dev_tunnel_report {
    const char *state;   /* "connecting", "connected", "reconnecting", "failed" */
    const char *bastion; /* "user@host" */
    const char *socks;   /* "127.0.0.1:1080"; NULL when the proxy did not start */
    const char *tun;     /* the TUN device, or NULL (SOCKS5 only) */
    const char *cause;   /* why it failed or reconnects, or NULL */
    size_t streams_open;
    uint64_t streams_total;
    uint64_t bytes_up; /* from the workers to the VPC */
    uint64_t bytes_down;
};

struct dev_tunnel_callbacks {
    /* A state change, or changed counters (at most every few seconds). */
    void (*on_report)(void *ctx, const struct dev_tunnel_report *report);
    /* Said once: the TUN device is not installed (what to run), or the
     * DNS registration of the TUN path. */
    void (*on_note)(void *ctx, const char *text);
};

struct dev_tunnel;

/* Starts the tunnel of the "tunnel" section in config_path. Never fails for
 * the tunnel's own reasons (those are reported as "failed"): -ENOMEM only. */
int dev_tunnel_start(uv_loop_t *loop, const char *config_path,
                     const struct dev_tunnel_callbacks *callbacks, void *ctx,
                     struct dev_tunnel **out);
/* "socks5h://127.0.0.1:PORT" when workers need the proxy (the tunnel runs
 * without a TUN device), else NULL. */
const char *dev_tunnel_proxy_url(const struct dev_tunnel *tunnel);
/* Idempotent; the loop ends once the tunnel has closed. */
void dev_tunnel_stop(struct dev_tunnel *tunnel);
/* After the loop ended. */
void dev_tunnel_free(struct dev_tunnel *tunnel);

#endif
