/* The VPC DNS forwarder: answers DNS over UDP on the TUN device's address,
 * forwarding queries for the VPC's domains (or all of them, with `all`) over
 * TCP through the tunnel to the VPC's resolver (by default the first IPv4
 * subnet's base + 2, where AWS puts it). Other names are answered REFUSED,
 * so the system's resolver moves on to its next server. Queries sent
 * through the device to port 53 of a VPC address go to that address,
 * whatever the name.
 *
 * Upstream, one TCP connection (a forward) per resolver carries every
 * pending query (RFC 7766 pipelining) under ids of its own; a lost
 * connection is reopened and its queries sent again once. Every query has a
 * deadline (SERVFAIL after it) and the number pending is capped.
 *
 * Ownership: tun_dns_start copies the config and takes the descriptors; the
 * bastion is borrowed for the forwarder's life. Answers for queries that
 * came through the device are handed to the reply callback as UDP payloads,
 * valid only during the call. */
#ifndef TETHER_TUN_DNS_H
#define TETHER_TUN_DNS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define TUN_DNS_MAX_DOMAINS 16
#define TUN_DNS_NAME_MAX 255    /* presentation form, NUL included */
#define TUN_DNS_QUERY_MAX 1232u /* larger queries are dropped */
#define TUN_DNS_MAX_SERVERS 4
#define TUN_DNS_MAX_PENDING 512

struct tun_dns_config {
    int enabled;
    int all; /* forward every name, not just the domains */
    char domains[TUN_DNS_MAX_DOMAINS][TUN_DNS_NAME_MAX];
    size_t domain_count;
    int resolver_family; /* 0: none set (tun_config_finish picks base + 2) */
    uint8_t resolver[16];
    uint16_t resolver_port;
    uint32_t timeout_ms; /* default 5000 */
};

struct tun_dns_stats {
    uint64_t queries, forwarded, refused, answered, failed, dropped;
};

/* Where an answer to a query that came through the device goes. */
struct tun_dns_peer {
    int family;
    uint8_t client[16], server[16];
    uint16_t client_port;
};

struct bastion;
struct tun_dns;

typedef void (*tun_dns_reply_fn)(const struct tun_dns_peer *peer, const uint8_t *answer, size_t len,
                                 void *user);

/* fd4/fd6: bound UDP sockets (or -1: none for that family). */
int tun_dns_start(uv_loop_t *loop, struct bastion *bastion, const struct tun_dns_config *config,
                  int fd4, int fd6, tun_dns_reply_fn reply, void *user, struct tun_dns **out,
                  char *cause, size_t cause_len);
/* A UDP socket bound to addr:53 (needs root or CAP_NET_BIND_SERVICE);
 * the descriptor, or -errno with the cause. */
int tun_dns_bind(int family, const uint8_t *addr, char *cause, size_t cause_len);
/* A query that arrived through the device, for peer->server. */
void tun_dns_query_from_device(struct tun_dns *dns, const struct tun_dns_peer *peer,
                               const uint8_t *query, size_t len);
void tun_dns_get_stats(const struct tun_dns *dns, struct tun_dns_stats *out);
void tun_dns_stop(struct tun_dns *dns, void (*on_stopped)(void *user), void *user);

/* Message helpers (dns_message.c), exposed for the tests. */
/* The first question's name in lower-case presentation form ("db.vpc.internal");
 * 0, or -EINVAL for a message that is not a single well-formed question. */
int tun_dns_question_name(const uint8_t *msg, size_t len, char *name, size_t name_len,
                          size_t *question_end);
/* 1 when name equals a domain or ends in "." + domain (case-insensitive). */
int tun_dns_name_in_domain(const char *name, const char *domain);
/* An answer with rcode (2 SERVFAIL, 5 REFUSED) echoing the question; returns
 * its length or 0. */
size_t tun_dns_build_error(const uint8_t *query, size_t len, uint8_t rcode, uint8_t *out,
                           size_t out_cap);
/* Cuts an answer to its header and question with TC set, for UDP clients
 * whose limit it exceeds; returns the new length or 0. */
size_t tun_dns_truncate(uint8_t *answer, size_t len);
/* Checks and normalises a domain option ("vpc.internal", "Corp.Example."). */
int tun_dns_domain_valid(const char *domain, char *out, size_t out_len);

#endif
