/* The packet engine: what to do with one IP packet read from the TUN device.
 *
 * TCP to a VPC subnet is readdressed through the NAT table (tun/nat.h) to
 * tether's listener on the TUN address, so the kernel's own TCP terminates
 * it; the listener's replies are readdressed back. A new flow's SYN goes to
 * the listener at once, so the handshake overlaps the channel's round trip
 * as with `ssh -L` (a refusal then resets the connection). With hold_syn
 * the SYN waits until the forward is open, so an unreachable or closed VPC
 * port is reported as it would be without the tunnel (RST: "connection
 * refused"; ICMP: "no route to host"), ~0.1 ms later per connection.
 * ICMP echo to a VPC address is answered locally while the bastion link is
 * up, with host-unreachable while it is down. UDP to port 53 of a VPC
 * address goes to the DNS forwarder; other UDP gets ICMP port unreachable.
 * Everything else is dropped and counted.
 *
 * Threads: tun_engine_process runs on the engine thread; the tun_engine_flow_*
 * and tun_engine_expire calls run on the libuv loop. Each takes the engine's
 * lock itself; none calls back into the engine with it held except the
 * expire callback, which must not call tun_engine_*.
 *
 * Ownership: the engine copies its config. Sessions are the caller's
 * pointers, attached to flows and handed back, never dereferenced. */
#ifndef TETHER_TUN_ENGINE_H
#define TETHER_TUN_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "tun/cidr.h"
#include "tun/nat.h"
#include "tun/packet.h"

#define TUN_MAX_SUBNETS 64

struct tun_engine_config {
    int has_ipv4, has_ipv6;
    uint8_t tun4[4], fake4[4]; /* the device's address and its peer (fake client) */
    uint8_t tun6[16], fake6[16];
    uint16_t listen_port4, listen_port6; /* the kernel listener on tun4 / tun6 */
    struct tun_cidr subnets[TUN_MAX_SUBNETS];
    size_t subnet_count;
    size_t max_flows;
    struct nat_timeouts timeouts;
    int dns_enabled; /* UDP to port 53 of a VPC address goes to the forwarder */
    int hold_syn;    /* keep a new flow's SYN until its forward is open (see below) */
};

enum tun_action {
    TUN_ACTION_DROP,    /* nothing to write; see drop */
    TUN_ACTION_FORWARD, /* the packet was readdressed in place: write it back */
    TUN_ACTION_REPLY,   /* an answer was built in the reply buffer: write that */
    TUN_ACTION_OPEN,    /* a new flow: open its forward (see handle); with hold_syn the
                           SYN is held, else it was readdressed: write it back too */
    TUN_ACTION_DNS,     /* a DNS query over UDP: see packet */
};

enum tun_drop_reason {
    TUN_DROP_NONE,
    TUN_DROP_MALFORMED,  /* the parser refused it */
    TUN_DROP_NOT_OURS,   /* neither to a VPC subnet nor a listener reply */
    TUN_DROP_NO_FLOW,    /* a listener reply for a flow that is gone */
    TUN_DROP_TABLE_FULL, /* no NAT entry or port left */
    TUN_DROP_WAITING,    /* a non-SYN segment while the flow opens */
    TUN_DROP_SYN_TOO_BIG,
    TUN_DROP_PROTOCOL, /* neither TCP, UDP nor ICMP echo */
    TUN_DROP_COUNT,
};

struct tun_verdict {
    enum tun_action action;
    enum tun_drop_reason drop;
    int parse_error;          /* for TUN_DROP_MALFORMED */
    struct nat_handle handle; /* TUN_ACTION_OPEN */
    size_t reply_len;         /* TUN_ACTION_REPLY: bytes in the reply buffer */
    struct tun_packet packet; /* as parsed (points into the caller's buffer) */
};

struct tun_engine_stats {
    uint64_t packets_in, packets_out, bytes_in;
    uint64_t flows_opened, flows_refused, rst_sent, icmp_sent, echo_answered, dns_queries;
    uint64_t drops[TUN_DROP_COUNT];
    uint64_t parse_errors[TUN_PARSE_ERROR_COUNT];
    size_t flows;
};

struct tun_engine;

int tun_engine_new(const struct tun_engine_config *config, struct tun_engine **out);
void tun_engine_free(struct tun_engine *engine);
const char *tun_action_name(enum tun_action action);
const char *tun_drop_reason_name(enum tun_drop_reason reason);
/* Whether the bastion link is up (answers ICMP echo); any thread. */
void tun_engine_set_link_up(struct tun_engine *engine, int up);

/* Engine thread. `packet` may be rewritten in place; the reply buffer must
 * hold TUN_PACKET_MAX bytes. csum_partial: the device handed the packet
 * with checksum offload (its TCP checksum is a pseudo-header sum); the
 * verdict's packet keeps that flag for the write. */
void tun_engine_process(struct tun_engine *engine, uint8_t *packet, size_t len, int csum_partial,
                        uint64_t now_ms, uint8_t *reply, struct tun_verdict *out);

/* Loop thread. The original destination of a flow, for its forward. */
int tun_engine_flow_target(struct tun_engine *engine, struct nat_handle handle, int *family,
                           uint8_t addr[16], uint16_t *port, uint8_t client[16],
                           uint16_t *client_port);
/* Attaches the caller's session to the flow (NULL detaches). -ENOENT if gone. */
int tun_engine_flow_attach(struct tun_engine *engine, struct nat_handle handle, void *session);
/* The forward is open: returns the held SYN readdressed to the listener in
 * out (TUN_PACKET_MAX bytes) to be written to the device (*csum_partial
 * says how its checksum stands). */
int tun_engine_flow_open(struct tun_engine *engine, struct nat_handle handle, uint64_t now_ms,
                         uint8_t *out, size_t *out_len, int *csum_partial);
enum tun_refusal {
    TUN_REFUSE_RESET,       /* the VPC host refused: TCP RST */
    TUN_REFUSE_UNREACHABLE, /* no answer, or no bastion: ICMP unreachable */
    TUN_REFUSE_SILENT,      /* shutting down */
};
/* The forward failed: removes the flow and builds the answer to the held
 * SYN in out (*out_len 0 when there is nothing to send). */
int tun_engine_flow_refuse(struct tun_engine *engine, struct nat_handle handle,
                           enum tun_refusal how, uint64_t now_ms, uint8_t *out, size_t *out_len);
/* The session attached to the flow whose NAT port the listener saw. */
void *tun_engine_session_by_port(struct tun_engine *engine, int family, uint16_t nat_port);
/* Removes flows past their timeouts; expire() is told of each attached session. */
size_t tun_engine_expire(struct tun_engine *engine, uint64_t now_ms,
                         void (*expire)(void *session, void *user), void *user);
void tun_engine_get_stats(struct tun_engine *engine, struct tun_engine_stats *out);

#endif
