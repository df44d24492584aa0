/* The NAT table of the packet engine: one entry per TCP flow from the host
 * to a VPC address, keyed by the flow's addresses and ports, each with its
 * own NAT port. The engine rewrites
 *
 *   client:cport -> vpc:vport    into   fake:nat_port -> tun:listen_port
 *   tun:listen_port -> fake:nat_port   back into   vpc:vport -> client:cport
 *
 * so the kernel's TCP terminates the flow on tether's listener, and the
 * accepted socket's peer port (nat_port) finds the original destination.
 *
 * Entries are found by flow (hash chains) or by (family, nat_port) (a direct
 * array). NAT ports are handed out round-robin and a released port rests
 * NAT_PORT_REST_MS before it is used again, longer than the kernel's
 * TIME_WAIT, so a new flow never meets the old socket.
 *
 * The table is not thread-safe: the caller (tun/engine.h) holds a lock.
 * Ownership: the table owns its entries and their SYN copies; `session` is
 * the caller's pointer, never dereferenced here. */
#ifndef TETHER_TUN_NAT_H
#define TETHER_TUN_NAT_H

#include <stddef.h>
#include <stdint.h>

#define NAT_PORT_FIRST 1024u
#define NAT_PORT_REST_MS 120000u
#define NAT_SYN_MAX 256u /* a SYN with more (TCP Fast Open data) is dropped */

enum nat_state {
    NAT_OPENING,     /* SYN held while the forward through the bastion opens */
    NAT_OPEN,        /* SYN passed to the kernel: the flow is live */
    NAT_HALF_CLOSED, /* a FIN went one way */
    NAT_CLOSED,      /* FIN both ways, or RST: lingers for the last ACKs */
    NAT_STATE_COUNT,
};

struct nat_key {
    uint8_t family; /* 4 or 6 */
    uint8_t src[16], dst[16];
    uint16_t src_port, dst_port;
};

struct nat_entry {
    struct nat_key key;
    uint16_t nat_port;
    uint32_t generation; /* tells a reused slot from the entry a session knew */
    enum nat_state state;
    uint8_t fin_from_client, fin_from_server;
    uint64_t created_ms, last_ms, state_ms;
    uint8_t *syn; /* the held SYN while NAT_OPENING */
    uint16_t syn_len;
    uint8_t syn_csum_partial;
    void *session;
    struct nat_entry *hash_next;
};

/* A reference to an entry that survives its removal (check with nat_get). */
struct nat_handle {
    uint8_t family;
    uint16_t nat_port;
    uint32_t generation;
};

struct nat_timeouts {
    uint32_t opening_ms;     /* no answer from the bastion (normally ended sooner) */
    uint32_t established_ms; /* idle; RFC 5382 asks for at least 2 h 4 min */
    uint32_t half_closed_ms; /* idle after one FIN */
    uint32_t closed_ms;      /* after FIN both ways or RST */
};

struct nat_table;

/* max_entries: a hard cap on live flows (both families together). */
int nat_new(size_t max_entries, const struct nat_timeouts *timeouts, struct nat_table **out);
void nat_free(struct nat_table *nat);

const char *nat_state_name(enum nat_state state);
void nat_enter_state(struct nat_table *nat, struct nat_entry *entry, enum nat_state state,
                     uint64_t now_ms);

struct nat_entry *nat_lookup(struct nat_table *nat, const struct nat_key *key);
struct nat_entry *nat_by_port(struct nat_table *nat, int family, uint16_t nat_port);
/* -ENOSPC when the table (or the port space) is full, -ENOMEM. */
int nat_create(struct nat_table *nat, const struct nat_key *key, uint64_t now_ms,
               struct nat_entry **out);
/* Stores a copy of the SYN (replacing an earlier one); -EMSGSIZE if too big. */
int nat_hold_syn(struct nat_entry *entry, const uint8_t *packet, size_t len, int csum_partial);
void nat_remove(struct nat_table *nat, struct nat_entry *entry, uint64_t now_ms);

struct nat_handle nat_handle_of(const struct nat_entry *entry);
/* The entry the handle names, or NULL once it was removed. */
struct nat_entry *nat_get(struct nat_table *nat, struct nat_handle handle);

/* Notes a packet of the flow: its TCP flags move the state along. */
void nat_track(struct nat_table *nat, struct nat_entry *entry, uint8_t tcp_flags, int from_client,
               uint64_t now_ms);

/* Calls expire for every entry past its timeout (the callback may look at it
 * but must not remove it), then removes those entries. Returns how many. */
size_t nat_expire(struct nat_table *nat, uint64_t now_ms,
                  void (*expire)(struct nat_entry *entry, void *user), void *user);

size_t nat_count(const struct nat_table *nat);

#endif
