/* Private to src/events/client*.c: the events client's shared structures and
 * the functions its files call on each other. Nothing outside those files may
 * include this header; the public contract is client.h.
 *
 * The files, one concern each:
 * - client.c: life cycle, configuration, the state machine (the only place
 *   the state changes), backoff, request deadlines, the kick timer.
 * - client_ws.c: the realtime link: connect, WebSocket upgrade,
 *   connection_init/ack, keep-alive watchdog, message dispatch.
 * - client_sub.c: subscriptions: subscribe/unsubscribe, their answers, data.
 * - client_publish.c: publish entries (checks, queues, results) and
 *   publishing over the realtime WebSocket.
 * - client_http.c: publishing over HTTP (through net/http_client).
 * - client_auth.c: authorization (API key or SigV4) for every request.
 *
 * Structure: the client owns at most one realtime link (struct ws_link: a conn,
 * the HTTP upgrade reader, then a WebSocket session) and at most one HTTP
 * client for publishes (net/http_client.h). A link that is dropped is
 * detached at once (active = 0, the client forgets it) but its memory lives
 * until its conn reports on_close, so a drop from inside a callback never
 * frees what the caller's stack still uses; the HTTP client, once freed,
 * reports its release the same way. links_open counts both. The client's own
 * memory is released only from a close callback, once its timers and every
 * link are gone. */
#ifndef TETHER_EVENTS_CLIENT_INTERNAL_H
#define TETHER_EVENTS_CLIENT_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <uv.h>

#include "core/buf.h"
#include "events/channel.h"
#include "events/client.h"
#include "events/protocol.h"
#include "net/conn.h"
#include "net/http.h"
#include "net/http_client.h"
#include "net/proxy.h"
#include "net/tls.h"
#include "net/url.h"
#include "net/ws.h"

#define ID_SIZE 37 /* a random UUID and its NUL */
#define CAUSE_SIZE 512

enum sub_state {
    SUB_WAITING, /* to be sent once the connection is READY */
    SUB_SENT,    /* subscribe sent, no answer yet */
    SUB_ACTIVE,  /* subscribe_success received */
};

struct events_subscription {
    struct events_client *client;
    TAILQ_ENTRY(events_subscription) link;
    enum sub_state state;
    int dead; /* unlinked, its failure being reported */
    char channel[CHANNEL_MAX_LENGTH + 1];
    char id[ID_SIZE]; /* fresh for every subscribe sent */
    uint64_t deadline;
    events_data_cb on_data;
    events_subscribe_cb on_result;
    void *user;
};

/* One publish, over either transport. */
struct publish {
    TAILQ_ENTRY(publish) link;
    char id[ID_SIZE];
    char channel[CHANNEL_MAX_LENGTH + 1];
    json_t *events; /* array of strings */
    int sent;       /* WebSocket: on the current link */
    uint64_t deadline;
    events_publish_cb on_result;
    void *user;
};

TAILQ_HEAD(publish_queue, publish);
TAILQ_HEAD(subscription_list, events_subscription);

struct ws_link {
    struct events_client *owner; /* valid until this link is freed */
    int active;                  /* owner->link == this */
    int upgraded;
    struct conn *conn;
    struct ws_session *ws;
    struct http_reader reader; /* the upgrade response */
    char key[25];
    char accept[29];
};

struct events_client {
    uv_loop_t *loop;
    struct conn_context *conns;
    int own_conns;
    struct tls_config *tls;
    struct url http; /* its path is "/event" when the URL names none */
    struct url realtime;
    char *api_key;
    char *access_key_id;
    char *secret_access_key;
    char *session_token;
    struct aws_credentials_provider *credentials; /* borrowed (config.credentials) */
    char *region;
    /* HTTPS_PROXY / HTTP_PROXY for each endpoint (net/proxy.h), read once. */
    struct proxy_config http_proxy;
    struct proxy_config realtime_proxy;
    int use_http_proxy;
    int use_realtime_proxy;
    int reconnect;
    uint32_t connect_timeout_ms;
    uint32_t request_timeout_ms;
    uint32_t backoff_base_ms;
    uint32_t backoff_cap_ms;
    events_state_cb on_state;
    void *user;

    enum events_client_state state;
    char last_error[CAUSE_SIZE];
    int started; /* the caller wants a realtime connection */
    int freed;
    unsigned attempt; /* consecutive failed connections, for backoff */
    uint64_t connection_timeout_ms;
    struct ws_link *link;
    struct http_client *http_client; /* made on the first HTTP publish */
    struct publish *http_current;    /* the HTTP publish in flight */
    struct subscription_list subs;   /* newest first */
    size_t sub_count;
    struct publish_queue ws_publishes;
    struct publish_queue http_queue;

    uv_timer_t connect_timer;   /* start of a connection to connection_ack */
    uv_timer_t keepalive_timer; /* silence longer than connectionTimeoutMs */
    uv_timer_t backoff_timer;   /* next reconnect */
    uv_timer_t request_timer;   /* earliest subscribe/publish deadline */
    uv_timer_t kick_timer;      /* sends what the API queued, from the loop */
    int timers_open;
    size_t links_open; /* links whose conn has not reported on_close */
};

static inline uint64_t events_client_now_ms(const struct events_client *c)
{
    return uv_now(c->loop);
}

/* ---- client.c ---- */

/* The only place the state changes. The state callback may call back into
 * the client (even free it): callers re-check what they rely on afterwards. */
void events_client_enter_state(struct events_client *c, enum events_client_state state,
                               const char *cause);
/* "T: M; T2: M2" from an AppSync errors array; *first_type gets the first
 * errorType (borrowed from the JSON). */
void events_client_format_errors(const json_t *errors, char *out, size_t out_len,
                                 const char **first_type);
/* -EACCES for an errorType that means "not authorized", else -EIO. */
int events_client_error_status(const char *type);
/* After a lost or refused connection: wait and retry, or close for good. */
void events_client_schedule_reconnect(struct events_client *c, const char *cause);
/* Runs the request timer for the earliest subscribe/publish deadline. */
void events_client_arm_request_timer(struct events_client *c);
/* API calls queue their work and kick: it is done from the loop, so no user
 * callback ever runs inside the call that asked for it. */
void events_client_kick(struct events_client *c);
/* Frees the client once it is freed and its timers and links are closed. */
void events_client_maybe_release(struct events_client *c);

/* ---- client_ws.c ---- */

/* Opens a new realtime link (or schedules a retry when that fails at once). */
void events_client_ws_connect(struct events_client *c);
/* Forgets the current link and closes it (gracefully when status is 0).
 * Subscriptions go back to waiting; nothing is reported here. */
void events_client_ws_detach(struct events_client *c, int status, const char *cause);
/* The realtime connection is gone (error, timeout, server close). */
void events_client_ws_lost(struct events_client *c, const char *cause);
/* Sends one text message. A failure closes the connection, whose on_close
 * then reports the loss: no user callback runs from here. */
int events_client_ws_send(struct events_client *c, const struct buf *message);
/* Sends a message with only a type and an optional id. */
int events_client_ws_send_simple(struct events_client *c, const char *type, const char *id);
/* Builds a subscribe or publish message: type, id, the members of the
 * signed body (as signed) and the authorization of that body. */
int events_client_ws_request(const struct events_client *c, const char *type, const char *id,
                             const struct buf *signed_body, struct buf *out, char *cause,
                             size_t cause_len);
/* Sends what waited for READY. Stops if a callback drops the link. */
void events_client_ws_send_waiting(struct events_client *c);

/* ---- client_sub.c ---- */

struct events_subscription *events_client_sub_find(struct events_client *c, const char *id);
void events_client_sub_unlink(struct events_client *c, struct events_subscription *s);
/* Removes a subscription and reports why: "subscribe CHANNEL failed: " and
 * the formatted reason (also logged at debug level); the handle dies
 * afterwards. */
void events_client_sub_fail(struct events_client *c, struct events_subscription *s, int status,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void events_client_sub_send(struct events_client *c, struct events_subscription *s);
/* subscribe_success or subscribe_error for a subscription in SUB_SENT. */
void events_client_sub_on_answer(struct events_client *c, const struct events_message *m,
                                 struct events_subscription *s);
void events_client_sub_on_data(struct events_client *c, const struct events_message *m);
/* Hands one event to the subscription with this id (the subscriber's
 * callback); event NULL: the data message had none. */
void events_client_sub_deliver(struct events_client *c, const char *id, const char *event,
                               size_t event_len);
/* The fast path for the bulk of what arrives: a data message read in one
 * pass of core/json_scan, its event unescaped once and delivered, without
 * a jansson tree around an event of up to 240 KB. Returns 1 when it was a
 * data message and was delivered, 0 when the caller must decode it in full
 * (another type, or anything unusual, which the full decoder judges). */
int events_client_sub_read_data(struct events_client *c, const char *text, size_t len);
/* Fails the first overdue subscribe; returns 1 if there was one. */
int events_client_sub_expire(struct events_client *c, uint64_t now);

/* ---- client_publish.c ---- */

/* Checks a publish and builds its queue entry. */
int events_client_publish_new(const char *channel, const char *const *events, size_t event_count,
                              events_publish_cb on_result, void *user, struct publish **out,
                              char *cause, size_t cause_len);
/* Reports a publish answer: arrays of successful and failed events (the
 * publish_success message or the HTTP 200 body). Frees p. */
void events_client_publish_report_success(struct publish *p, const json_t *root);
/* Reports a failure whose cause is "publish to CHANNEL failed: " and the
 * formatted reason (also logged at debug level), and frees p. */
void events_client_publish_fail(struct publish *p, int status, const char *error_type,
                                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Fails WebSocket publishes (only those sent on the lost link, or all), one at
 * a time so a callback may free the client. Returns -ECANCELED if it did. */
int events_client_publish_ws_fail(struct events_client *c, int only_sent, int status,
                                  const char *why);
/* The WebSocket publish sent with this id, or NULL. */
struct publish *events_client_publish_ws_find(struct events_client *c, const char *id);
void events_client_publish_ws_send(struct events_client *c, struct publish *p);
/* publish_success or publish_error for a sent WebSocket publish. */
void events_client_publish_ws_on_answer(struct events_client *c, const struct events_message *m,
                                        struct publish *p);
/* Fails the first overdue WebSocket publish; returns 1 if there was one. */
int events_client_publish_ws_expire(struct events_client *c, uint64_t now);

/* ---- client_http.c ---- */

/* Hands the next queued HTTP publish to the HTTP client when it is free. */
void events_client_http_pump(struct events_client *c);
/* Frees the HTTP client (its publish in flight, if any, must have been taken
 * by the caller); links_open drops once it has closed. */
void events_client_http_close(struct events_client *c);
/* Fails every queued HTTP publish (a callback may free the client). */
void events_client_http_fail_queue(struct events_client *c, int status, const char *why);
/* The deadline of the request in flight; returns 0 when there is none. */
int events_client_http_current_deadline(const struct events_client *c, uint64_t *deadline);
/* Fails the first overdue HTTP publish; returns 1 if there was one. */
int events_client_http_expire(struct events_client *c, uint64_t now);
/* A short, printable description of an HTTP error answer's body: its
 * AppSync errors when it has some, else its first bytes. */
void events_client_http_describe_body(const struct http_message *m, char *out, size_t out_len);

/* ---- client_auth.c ---- */

/* Whether requests are signed with SigV4 (IAM keys or a provider). */
int events_client_auth_is_iam(const struct events_client *c);
/* Checks the config's credentials: exactly one of an API key, IAM keys and a
 * credentials provider; printable ASCII; a region for IAM. */
int events_client_auth_check_config(const struct events_client_config *config, char *cause,
                                    size_t cause_len);
/* Signs a connect once, so bad credentials fail here and not on every retry. */
int events_client_auth_check_signing(const struct events_client *c, char *cause, size_t cause_len);
/* Appends the JSON authorization object for a realtime message whose signed
 * body is `body` (connect "{}", or the subscribe/publish bytes). */
int events_client_auth_append_json(const struct events_client *c, struct buf *out, const char *body,
                                   size_t body_len, char *cause, size_t cause_len);
/* Appends the authorization header lines of an HTTP publish of `body`. */
int events_client_auth_append_http(const struct events_client *c, struct buf *out,
                                   const struct buf *body, char *cause, size_t cause_len);

#endif
