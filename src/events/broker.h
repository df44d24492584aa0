/* The embedded AppSync Events broker: HTTP publish on POST /event and the
 * realtime WebSocket on /event/realtime, on one port, on the caller's libuv
 * loop. Protocol: docs/events-protocol.md; design: docs/broker.md.
 *
 * broker_start copies what it needs from the config (strings included); the
 * broker owns its connections and frees them in broker_stop. */
#ifndef TETHER_EVENTS_BROKER_H
#define TETHER_EVENTS_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct broker_iam_identity {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL: none required */
};

struct broker_config {
    const char *listen_host;       /* default 127.0.0.1 */
    uint16_t listen_port;          /* 0 picks a free port */
    const char *const *namespaces; /* default: "tether", "default" */
    size_t namespace_count;
    const char *const *api_keys;
    size_t api_key_count;
    const struct broker_iam_identity *iam_identities;
    size_t iam_identity_count;
    const char *region;        /* for SigV4 checks; default us-east-1 */
    const char *tls_cert_file; /* both set: serve TLS */
    const char *tls_key_file;
    uint32_t keepalive_ms;          /* default 60000 */
    uint32_t connection_timeout_ms; /* told to clients; default 300000 */
    uint32_t max_connection_age_s;  /* default 86400 (AWS: 24 h) */
    size_t subscriber_output_limit; /* bytes queued per connection; default 8 MiB */
    size_t max_connections;         /* default 10000 */
    /* A connection must pass authorization (an authorized WebSocket upgrade
     * or HTTP publish) this soon after it is accepted or it is closed. */
    uint32_t auth_timeout_ms; /* default 10000 */
    /* Connections not yet authorized; more are refused at once. Default:
     * the least of 1024, a quarter of max_connections and a quarter of the
     * descriptor limit. */
    size_t max_unauthenticated;
};

struct broker_stats {
    size_t connections;
    size_t subscriptions;
    uint64_t published;
    uint64_t delivered;
    uint64_t dropped_slow_consumers;
    uint64_t auth_failures;
};

struct broker;

int broker_start(uv_loop_t *loop, const struct broker_config *config, struct broker **out,
                 char *cause, size_t cause_len);
uint16_t broker_port(const struct broker *broker);
void broker_get_stats(const struct broker *broker, struct broker_stats *out);
/* Closes the listener and every connection; frees the broker once they are
 * closed (run the loop until it returns). */
void broker_stop(struct broker *broker);

#endif
