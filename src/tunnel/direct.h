/* What the TUN path (src/tun/) needs from a running tunnel: its bastion, to
 * open forwards of its own, and its counters, so `tether tunnel`'s status
 * shows TUN streams too. The tunnel keeps ownership of everything; the
 * pointers are valid until tunnel_stop. */
#ifndef TETHER_TUNNEL_DIRECT_H
#define TETHER_TUNNEL_DIRECT_H

#include <stdint.h>

#include <uv.h>

#include "ssh/bastion.h"
#include "tunnel/tunnel.h"

struct bastion *tunnel_bastion(struct tunnel *tunnel);
/* The tunnel's open_timeout_ms (request to channel open). */
uint32_t tunnel_open_timeout_ms(const struct tunnel *tunnel);
/* Adds a direct stream's traffic to the tunnel's statistics. */
void tunnel_direct_count_stream(struct tunnel *tunnel, int failed);
void tunnel_direct_count_bytes(struct tunnel *tunnel, uint64_t up, uint64_t down);

#endif
