/* The NAT table (see nat.h): hash chains by flow, a direct array by NAT
 * port, round-robin port allocation with a rest period. */
#include "tun/nat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "tun"
#include "core/log.h"
#include "tun/packet.h"

#define PORT_SPACE 65536u

struct nat_family_ports {
    struct nat_entry **by_port; /* PORT_SPACE slots */
    uint32_t *released_s;       /* when each port was last released (seconds) */
    uint32_t cursor;
};

struct nat_table {
    struct nat_entry **buckets;
    size_t bucket_mask;
    size_t count, max_entries;
    uint32_t next_generation;
    struct nat_timeouts timeouts;
    struct nat_family_ports ports[2]; /* IPv4, IPv6 */
};

static const char *const state_names[] = {
    [NAT_OPENING] = "opening",
    [NAT_OPEN] = "open",
    [NAT_HALF_CLOSED] = "half-closed",
    [NAT_CLOSED] = "closed",
};

const char *nat_state_name(enum nat_state state)
{
    return (unsigned)state < NAT_STATE_COUNT ? state_names[state] : "?";
}

void nat_enter_state(struct nat_table *nat, struct nat_entry *e, enum nat_state state,
                     uint64_t now_ms)
{
    if (e->state == state)
        return;
    log_trace("flow %u (port %u): %s -> %s", e->generation, e->nat_port, nat_state_name(e->state),
              nat_state_name(state));
    e->state = state;
    e->state_ms = now_ms;
}

static struct nat_family_ports *ports_of(struct nat_table *nat, int family)
{
    return &nat->ports[family == 6];
}

static int init_ports(struct nat_family_ports *p)
{
    p->by_port = calloc(PORT_SPACE, sizeof(*p->by_port));
    p->released_s = calloc(PORT_SPACE, sizeof(*p->released_s));
    p->cursor = NAT_PORT_FIRST;
    return p->by_port && p->released_s ? 0 : -ENOMEM;
}

int nat_new(size_t max_entries, const struct nat_timeouts *timeouts, struct nat_table **out)
{
    struct nat_table *nat = calloc(1, sizeof(*nat));
    if (!nat)
        return -ENOMEM;
    size_t buckets = 64;
    while (buckets < max_entries && buckets < (1u << 20))
        buckets <<= 1;
    nat->buckets = calloc(buckets, sizeof(*nat->buckets));
    nat->bucket_mask = buckets - 1;
    nat->max_entries = max_entries;
    nat->timeouts = *timeouts;
    if (!nat->buckets || init_ports(&nat->ports[0]) < 0 || init_ports(&nat->ports[1]) < 0) {
        nat_free(nat);
        return -ENOMEM;
    }
    *out = nat;
    return 0;
}

void nat_free(struct nat_table *nat)
{
    if (!nat)
        return;
    for (size_t i = 0; nat->buckets && i <= nat->bucket_mask; i++) {
        struct nat_entry *e = nat->buckets[i];
        while (e) {
            struct nat_entry *next = e->hash_next;
            free(e->syn);
            free(e);
            e = next;
        }
    }
    for (int f = 0; f < 2; f++) {
        free(nat->ports[f].by_port);
        free(nat->ports[f].released_s);
    }
    free(nat->buckets);
    free(nat);
}

static size_t hash_key(const struct nat_table *nat, const struct nat_key *k)
{
    uint64_t h = 1469598103934665603ull ^ k->family;
    size_t addr_len = k->family == 4 ? 4 : 16;
    for (size_t i = 0; i < addr_len; i++)
        h = (h ^ k->src[i] ^ ((uint64_t)k->dst[i] << 8)) * 1099511628211ull;
    h = (h ^ k->src_port ^ ((uint64_t)k->dst_port << 16)) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29)) & nat->bucket_mask;
}

static int same_key(const struct nat_key *a, const struct nat_key *b)
{
    size_t addr_len = a->family == 4 ? 4 : 16;
    return a->family == b->family && a->src_port == b->src_port && a->dst_port == b->dst_port &&
           memcmp(a->src, b->src, addr_len) == 0 && memcmp(a->dst, b->dst, addr_len) == 0;
}

struct nat_entry *nat_lookup(struct nat_table *nat, const struct nat_key *key)
{
    for (struct nat_entry *e = nat->buckets[hash_key(nat, key)]; e; e = e->hash_next)
        if (same_key(&e->key, key))
            return e;
    return NULL;
}

struct nat_entry *nat_by_port(struct nat_table *nat, int family, uint16_t nat_port)
{
    return ports_of(nat, family)->by_port[nat_port];
}

/* The next port after the cursor that is free and rested. */
static int allocate_port(struct nat_family_ports *p, uint64_t now_ms, uint16_t *out)
{
    uint32_t now_s = (uint32_t)(now_ms / 1000);
    uint32_t rest_s = NAT_PORT_REST_MS / 1000;
    for (uint32_t tries = 0; tries < PORT_SPACE - NAT_PORT_FIRST; tries++) {
        uint32_t port = p->cursor;
        p->cursor = port + 1 >= PORT_SPACE ? NAT_PORT_FIRST : port + 1;
        if (p->by_port[port])
            continue;
        if (p->released_s[port] && now_s - p->released_s[port] < rest_s)
            continue;
        *out = (uint16_t)port;
        return 0;
    }
    return -ENOSPC;
}

int nat_create(struct nat_table *nat, const struct nat_key *key, uint64_t now_ms,
               struct nat_entry **out)
{
    if (nat->count >= nat->max_entries)
        return -ENOSPC;
    struct nat_family_ports *p = ports_of(nat, key->family);
    uint16_t port;
    if (allocate_port(p, now_ms, &port) < 0)
        return -ENOSPC;
    struct nat_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->key = *key;
    e->nat_port = port;
    e->generation = ++nat->next_generation;
    e->state = NAT_OPENING;
    e->created_ms = e->last_ms = e->state_ms = now_ms;
    size_t b = hash_key(nat, key);
    e->hash_next = nat->buckets[b];
    nat->buckets[b] = e;
    p->by_port[port] = e;
    nat->count++;
    *out = e;
    return 0;
}

int nat_hold_syn(struct nat_entry *e, const uint8_t *packet, size_t len, int csum_partial)
{
    if (len > NAT_SYN_MAX)
        return -EMSGSIZE;
    if (!e->syn && !(e->syn = malloc(NAT_SYN_MAX)))
        return -ENOMEM;
    memcpy(e->syn, packet, len);
    e->syn_len = (uint16_t)len;
    e->syn_csum_partial = (uint8_t)(csum_partial != 0);
    return 0;
}

void nat_remove(struct nat_table *nat, struct nat_entry *e, uint64_t now_ms)
{
    struct nat_entry **link = &nat->buckets[hash_key(nat, &e->key)];
    while (*link && *link != e)
        link = &(*link)->hash_next;
    if (*link)
        *link = e->hash_next;
    struct nat_family_ports *p = ports_of(nat, e->key.family);
    p->by_port[e->nat_port] = NULL;
    p->released_s[e->nat_port] = (uint32_t)(now_ms / 1000) ? (uint32_t)(now_ms / 1000) : 1;
    nat->count--;
    free(e->syn);
    free(e);
}

struct nat_handle nat_handle_of(const struct nat_entry *e)
{
    struct nat_handle h = {e->key.family, e->nat_port, e->generation};
    return h;
}

struct nat_entry *nat_get(struct nat_table *nat, struct nat_handle h)
{
    if (h.family != 4 && h.family != 6)
        return NULL;
    struct nat_entry *e = nat_by_port(nat, h.family, h.nat_port);
    return e && e->generation == h.generation ? e : NULL;
}

void nat_track(struct nat_table *nat, struct nat_entry *e, uint8_t flags, int from_client,
               uint64_t now_ms)
{
    e->last_ms = now_ms;
    if (e->state == NAT_OPENING || e->state == NAT_CLOSED)
        return;
    if (flags & TUN_TCP_RST) {
        nat_enter_state(nat, e, NAT_CLOSED, now_ms);
        return;
    }
    if (flags & TUN_TCP_FIN) {
        if (from_client)
            e->fin_from_client = 1;
        else
            e->fin_from_server = 1;
    }
    if (e->fin_from_client && e->fin_from_server)
        nat_enter_state(nat, e, NAT_CLOSED, now_ms);
    else if (e->fin_from_client || e->fin_from_server)
        nat_enter_state(nat, e, NAT_HALF_CLOSED, now_ms);
}

static int expired(const struct nat_table *nat, const struct nat_entry *e, uint64_t now_ms)
{
    const struct nat_timeouts *t = &nat->timeouts;
    switch (e->state) {
    case NAT_OPENING:
        return now_ms - e->state_ms >= t->opening_ms;
    case NAT_OPEN:
        return now_ms - e->last_ms >= t->established_ms;
    case NAT_HALF_CLOSED:
        return now_ms - e->last_ms >= t->half_closed_ms;
    case NAT_CLOSED:
        return now_ms - e->state_ms >= t->closed_ms;
    default:
        return 1;
    }
}

size_t nat_expire(struct nat_table *nat, uint64_t now_ms,
                  void (*expire)(struct nat_entry *entry, void *user), void *user)
{
    size_t removed = 0;
    for (size_t i = 0; i <= nat->bucket_mask; i++) {
        struct nat_entry *e = nat->buckets[i];
        while (e) {
            struct nat_entry *next = e->hash_next;
            if (expired(nat, e, now_ms)) {
                if (expire)
                    expire(e, user);
                nat_remove(nat, e, now_ms);
                removed++;
            }
            e = next;
        }
    }
    return removed;
}

size_t nat_count(const struct nat_table *nat)
{
    return nat->count;
}
