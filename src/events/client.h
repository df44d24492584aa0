/* AppSync Events client: one realtime WebSocket (subscribe, publish) plus an
 * HTTP publish connection, on the caller's libuv loop. It talks to AWS AppSync
 * Events and to tether's embedded broker alike. Protocol facts:
 * docs/events-protocol.md.
 *
 * Threads and blocking: every function must be called on the loop's thread;
 * none blocks. Callbacks run on that loop. subscribe, unsubscribe and the
 * publish calls never run a callback before they return (their work is done
 * from the loop); start reports its state change at once, and free cancels
 * publishes (below).
 * Any callback may call any function here, events_client_free included.
 *
 * Ownership:
 * - events_client_new() copies everything it needs from the config (strings
 *   included; the secret key and session token are wiped when freed). The
 *   config and its strings may be freed as soon as it returns.
 * - The client owns its subscriptions (struct events_subscription). A
 *   subscription handle stays valid until events_client_unsubscribe(), until
 *   its result callback reports a failure (the handle is invalid once that
 *   callback returns), or until events_client_free().
 * - Strings and JSON handed to callbacks (event text, causes, results) are
 *   borrowed for the duration of the call only: copy what you keep.
 * - events_client_free() may be called from any callback. After it returns no
 *   state, data or subscribe callback runs again; publish callbacks still
 *   pending run during events_client_free() itself with status -ECANCELED, so
 *   every accepted publish gets exactly one callback. Memory is released
 *   asynchronously: run the loop until it has no more work.
 *
 * Errors: functions return 0 or a negative errno; a human-readable reason
 * goes into `cause` (truncated to cause_len, always NUL-terminated). */
#ifndef TETHER_EVENTS_CLIENT_H
#define TETHER_EVENTS_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "net/conn.h"

struct aws_credentials_provider;

/* Answers of HTTP publishes larger than this are refused. */
#define EVENTS_CLIENT_MAX_HTTP_RESPONSE (2u * 1024 * 1024)
#define EVENTS_CLIENT_DEFAULT_TIMEOUT_MS 15000
#define EVENTS_CLIENT_DEFAULT_BACKOFF_BASE_MS 100
#define EVENTS_CLIENT_DEFAULT_BACKOFF_CAP_MS 30000

/* The realtime connection's life. Every change is logged and reported through
 * config.on_state. */
enum events_client_state {
    EVENTS_CLIENT_IDLE,         /* created, events_client_start() not called yet */
    EVENTS_CLIENT_CONNECTING,   /* resolving, TCP, TLS */
    EVENTS_CLIENT_UPGRADING,    /* WebSocket upgrade sent, waiting for 101 */
    EVENTS_CLIENT_INITIALIZING, /* connection_init sent, waiting for connection_ack */
    EVENTS_CLIENT_READY,        /* acknowledged: subscriptions and publishes flow */
    EVENTS_CLIENT_BACKOFF,      /* connection lost or refused; waiting to retry */
    EVENTS_CLIENT_CLOSED,       /* lost with reconnect off */
};

struct events_client;
struct events_subscription;

/* state: the new state; cause: why a connection ended (BACKOFF, CLOSED after
 * a failure), else NULL. */
typedef void (*events_state_cb)(void *user, enum events_client_state state, const char *cause);

struct events_client_config {
    /* http(s)://HOST[:PORT]/event. Its host (with :port when not the default)
     * is the `host` every authorization names; a URL without a path means
     * /event. Required. */
    const char *http_url;
    /* ws(s)://HOST[:PORT]/event/realtime; NULL derives it from http_url (see
     * events_client_realtime_url). */
    const char *realtime_url;
    /* Authorization: an API key, or IAM credentials (SigV4, service appsync)
     * with their region: fixed keys, or a provider (aws/credentials_provider.h)
     * asked for the current credentials at every signature, so refreshed
     * credentials are used as soon as they exist. Exactly one of api_key,
     * access_key_id and credentials. The provider is borrowed: it must
     * outlive the client's memory (see events_client_free). */
    const char *api_key;
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* optional */
    struct aws_credentials_provider *credentials;
    const char *region;
    /* TLS for https/wss: CA bundle (PEM) to trust, NULL for the system store.
     * insecure = 1 turns certificate verification off (tests only).
     * Proxies: HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment are
     * read by events_client_new and used for both endpoints (net/proxy.h). */
    const char *ca_file;
    int insecure;
    /* 1: after a lost or refused connection, retry with exponential backoff
     * and full jitter, and resubscribe every subscription. 0: go CLOSED. */
    int reconnect;
    uint32_t connect_timeout_ms; /* start to connection_ack; 0: 15000 */
    uint32_t request_timeout_ms; /* subscribe and publish answers; 0: 15000 */
    uint32_t backoff_base_ms;    /* 0: 100 */
    uint32_t backoff_cap_ms;     /* 0: 30000 */
    /* Optional: connections are made in this context (it must outlive the
     * client's memory, see events_client_free); NULL makes a private one. */
    struct conn_context *conn_context;
    events_state_cb on_state; /* optional */
    void *user;
};

/* Fills defaults: reconnect on, verification on, default timeouts. */
void events_client_config_init(struct events_client_config *config);

/* Checks the config and makes an idle client; no I/O yet. */
int events_client_new(uv_loop_t *loop, const struct events_client_config *config,
                      struct events_client **out, char *cause, size_t cause_len);
/* Starts (or, from BACKOFF or CLOSED, restarts at once) the realtime
 * connection. HTTP publishes need no start. Returns 0 or -EINVAL after free. */
int events_client_start(struct events_client *client);
/* See "Ownership" above. NULL is ignored. */
void events_client_free(struct events_client *client);

const char *events_client_state_name(enum events_client_state state);
/* Why the last connection ended ("" if none); valid until the next change. */
const char *events_client_last_error(const struct events_client *client);

/* ---- subscriptions ---- */

/* A data event: `event` is the event's JSON text (len bytes, NUL-terminated). */
typedef void (*events_data_cb)(void *user, struct events_subscription *sub, const char *event,
                               size_t len);
/* The answer to each subscribe sent: status 0 on subscribe_success (again
 * after every reconnect), or a failure, after which the subscription is gone:
 * -EACCES (the server said Unauthorized), -EIO (another subscribe_error or
 * error), -ETIMEDOUT (no answer within request_timeout_ms). cause reads like
 * "subscribe /tether/x failed: UnauthorizedException: ...". */
typedef void (*events_subscribe_cb)(void *user, struct events_subscription *sub, int status,
                                    const char *cause);

/* Subscribes to a channel (wildcard "/ns/a/" + "*" allowed). The subscribe is
 * sent once the connection is READY, and again after every reconnect. Fails
 * at once (-EINVAL) for a malformed channel, -E2BIG past 200 subscriptions. */
int events_client_subscribe(struct events_client *client, const char *channel,
                            events_data_cb on_data, events_subscribe_cb on_result, void *user,
                            struct events_subscription **out, char *cause, size_t cause_len);
/* Stops delivery at once (no callback for this subscription runs after it
 * returns), tells the server, and frees the handle. Safe inside callbacks. */
void events_client_unsubscribe(struct events_subscription *sub);

/* ---- publishing ---- */

struct events_publish_result {
    /* 0: the server answered with success (some events may still have
     * failed: see failed_count). Otherwise -EACCES (unauthorized), -EIO (the
     * server refused: publish_error, error, or non-2xx HTTP), -EPROTO
     * (unreadable answer), -ETIMEDOUT, -ECONNRESET (connection lost before
     * the answer; the events may or may not have been delivered),
     * -ECANCELED (freed), or another -errno from the network. */
    int status;
    const char *cause;      /* set when status < 0 or failed_count > 0 */
    const char *error_type; /* server's first errorType, or NULL */
    size_t successful_count;
    size_t failed_count;
    /* The server's arrays of {identifier, index} (and for failures, code and
     * message) when status is 0; NULL otherwise. */
    const json_t *successful;
    const json_t *failed;
};

typedef void (*events_publish_cb)(void *user, const struct events_publish_result *result);

/* Publishes 1-5 events (each a JSON text, up to 240 KB, 1.2 MB in all) to a
 * channel (no wildcard). Returns 0 when accepted: on_result (may be NULL) is
 * then called exactly once. Returns -EINVAL (bad channel or event) or -ENOMEM
 * with cause set and no callback.
 *
 * events_client_publish goes over the realtime WebSocket (queued until READY,
 * failing after request_timeout_ms); events_client_publish_http POSTs to the
 * HTTP endpoint over a keep-alive connection shared by later publishes (one
 * request at a time, in order). */
int events_client_publish(struct events_client *client, const char *channel,
                          const char *const *events, size_t event_count,
                          events_publish_cb on_result, void *user, char *cause, size_t cause_len);
int events_client_publish_http(struct events_client *client, const char *channel,
                               const char *const *events, size_t event_count,
                               events_publish_cb on_result, void *user, char *cause,
                               size_t cause_len);

/* ---- helpers ---- */

/* The realtime URL that goes with an HTTP endpoint: http -> ws, https -> wss,
 * same host and port (AWS's "X.appsync-api.R.amazonaws.com" becomes
 * "X.appsync-realtime-api.R.amazonaws.com"), path /event/realtime. */
int events_client_realtime_url(const char *http_url, char *out, size_t out_len, char *cause,
                               size_t cause_len);
/* Fills the IAM fields of a config the way AWS tools find credentials:
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (optional)
 * when set (the config then borrows the environment's strings, as before);
 * otherwise the rest of the standard chain (aws/credentials.h: AWS_PROFILE,
 * the shared files, source_profile/role_arn, credential_process) through a
 * process-wide provider that lives until exit (config->credentials). The
 * region: `region` if given, else AWS_REGION, AWS_DEFAULT_REGION, the
 * endpoint's host (config->http_url must be set first), or the profile's
 * `region`. -EINVAL with cause when something is missing. */
int events_client_config_iam_from_env(struct events_client_config *config, const char *region,
                                      char *region_buf, size_t region_buf_len, char *cause,
                                      size_t cause_len);
/* The region in an AWS endpoint's host (X.appsync-api.REGION.amazonaws.com);
 * -ENOENT for other hosts. */
int events_client_region_from_url(const char *http_url, char *out, size_t out_len);

#endif
