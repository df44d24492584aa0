/* Shared between the broker's files (broker.c: HTTP routes on
 * net/http_server, the upgrade and realtime connections;
 * broker_ws.c: realtime messages; broker_auth.c: authorization). Not for use
 * outside src/events/broker*.c. */
#ifndef TETHER_EVENTS_BROKER_INTERNAL_H
#define TETHER_EVENTS_BROKER_INTERNAL_H

#include "aws/sigv4.h"
#include "events/broker.h"
#include "events/channel.h"
#include "events/protocol.h"
#include "events/sub_index.h"
#include "net/conn.h"
#include "net/http.h"
#include "net/ws.h"

/* A realtime client: a connection net/http_server has switched to the
 * WebSocket protocol (HTTP requests never become clients). */
enum broker_client_state {
    BROKER_CLIENT_WEBSOCKET, /* upgraded to the realtime protocol */
    BROKER_CLIENT_CLOSING,
};

struct broker_client;
struct http_server;

struct broker_subscription {
    struct sub_entry entry; /* first: the index hands entries back */
    struct broker_client *client;
    struct broker_subscription *next; /* the client's list */
    size_t id_length;
    char id[EVENTS_MAX_ID_LENGTH + 1];
    char channel[CHANNEL_MAX_LENGTH + 1];
};

struct broker_client {
    struct broker *broker;
    struct conn *conn; /* handed over by http_exchange_upgrade; valid until closed */
    enum broker_client_state state;
    struct ws_session *ws;
    struct broker_subscription *subscriptions;
    size_t subscription_count;
    uint64_t connected_at_ms;
    struct broker_client *prev, *next;
};

struct broker {
    uv_loop_t *loop;
    struct conn_context *conns;
    struct http_server *http; /* the one listener: HTTP publish and the upgrade */
    struct tls_config *tls;
    uv_timer_t keepalive_timer;
    struct sub_index index;
    struct broker_client *clients;
    struct broker_stats stats;
    /* configuration (owned copies) */
    char **namespaces;
    size_t namespace_count;
    char **api_keys;
    size_t api_key_count;
    struct broker_iam_identity *identities;
    size_t identity_count;
    char *region;
    uint32_t keepalive_ms;
    uint32_t connection_timeout_ms;
    uint32_t max_connection_age_s;
    size_t output_limit;
    size_t max_connections;
    uint32_t auth_timeout_ms;
    size_t max_unauthenticated;
    int stopping;
    struct buf scratch; /* one outgoing message at a time */
    struct buf frame;   /* one outgoing data frame, shared by subscribers */
    /* Publish identifiers: a random base and a counter (unique, cheap). */
    uint8_t identifier_base[16];
    uint64_t identifier_count;
};

void broker_client_enter_state(struct broker_client *client, enum broker_client_state state);
const char *broker_client_state_name(enum broker_client_state state);
/* Sends one text message (WebSocket) and counts a failure as a close. */
void broker_client_send(struct broker_client *client, const char *text, size_t len);
/* The same for a whole frame built once for several clients (ws.h). */
void broker_client_send_frame(struct broker_client *client, const char *frame, size_t len);
void broker_client_close(struct broker_client *client, int status, const char *why);
int broker_namespace_exists(const struct broker *broker, const struct channel *channel);

/* broker_ws.c */
void broker_ws_on_message(struct broker_client *client, const char *text, size_t len);
void broker_ws_drop_subscriptions(struct broker_client *client);
/* A publish (WebSocket or HTTP): the channel and the events as received,
 * then, once validated, each event as JSON text and as a JSON string
 * literal. Both point into the received message when they can (an event
 * without escapes is its own text; one escaped as JSON.stringify escapes is
 * its own literal) and into storage otherwise. */
struct broker_event {
    const char *text;
    size_t len;
    struct json_slice quoted;
};
struct broker_publish {
    const char *channel; /* NULL when the request has none */
    size_t channel_length;
    struct json_slice events;
    struct broker_event list[EVENTS_MAX_EVENTS_PER_PUBLISH];
    size_t count;
    struct buf storage;
};
/* Reads the request's channel into publish (decoded into storage when it is
 * escaped). Returns 0, or -EINVAL when the channel cannot be decoded. */
int broker_publish_init(struct broker_publish *publish, const struct events_request *request);
void broker_publish_free(struct broker_publish *publish);
/* Validates the channel and the events, filling publish->list. */
int broker_publish_validate(struct broker *broker, struct broker_publish *publish,
                            struct channel *channel, const char **error_type, char *cause,
                            size_t cause_len);
/* Delivers the valid events; appends "successful":[...],"failed":[...] (no braces). */
int broker_publish_deliver(struct broker *broker, const struct channel *channel,
                           const struct broker_publish *publish, struct buf *result);

/* broker_auth.c. Checks a set of auth headers (the WebSocket authorization
 * object, or real HTTP headers) and the body they sign. Returns 0 or -EACCES
 * with cause set. */
struct broker_auth_request {
    const struct sigv4_header *headers;
    size_t header_count;
    const char *method;
    const char *path;
    const char *query;
    const void *body;
    size_t body_len;
};
int broker_authorize(struct broker *broker, const struct broker_auth_request *request, char *cause,
                     size_t cause_len);
/* What can be checked of an HTTP publish before its body arrives, so that
 * a stranger cannot make the broker hold a body: an API key is checked in
 * full (*complete set), a SigV4 request must name a configured identity
 * and a fresh date (its signature is checked with the body). Returns 0 or
 * -EACCES with cause set. */
int broker_authorize_head(struct broker *broker, const struct broker_auth_request *request,
                          int *complete, char *cause, size_t cause_len);
/* The realtime protocol's checks (connect, subscribe, publish): each signs
 * the request POST /event with the given body. */
int broker_authorize_event(struct broker *broker, const struct sigv4_header *headers,
                           size_t header_count, const void *body, size_t body_len, char *cause,
                           size_t cause_len);
/* Collects the string members of an authorization object (a JSON text: the
 * "header-" subprotocol's, or a slice of a message) as headers, decoded into
 * storage, which must outlive them. Returns the count, or -EINVAL when the
 * text is not a JSON object, names a header twice, or has more than cap. */
int broker_auth_headers_from_text(const char *text, size_t len, struct buf *storage,
                                  struct sigv4_header *out, size_t cap);

#endif
