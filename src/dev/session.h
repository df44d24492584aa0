/* The dev session: answers every invocation the bridges relay by running it
 * on the developer's machine. Protocol: docs/bridge-protocol.md.
 *
 * It subscribes to /{ns}/{app}/{stage}/in (only after making sure no other
 * session serves the stage), records each remote sandbox's Init (function
 * and environment), answers each Next with a Ping at once and every second
 * while the invocation runs (each under a fresh id, declaring heartbeats;
 * only Response and Error carry the request id), runs it in the local worker that mirrors that
 * remote sandbox (a sandbox of the `workers` Lambda service, started with the
 * remote environment plus TETHER_DEV=true), and sends back Response or Error
 * (streamed answers as they come). A Next for an unknown sandbox gets a
 * Reboot, and runs once the Init arrives.
 *
 * Every Init and Next may come from an attacker who can publish on the
 * channel: sources must have a bridge worker id's form, an Init must name a
 * live function of tether.json, its environment goes through
 * lambda_environment_override_allowed (lambda/environment.h), and a function
 * gets at most its `concurrency` of workers (docs/dev.md, "What an Init may
 * do"). A refused Init's Nexts are answered with an InitError.
 *
 * The bridge protocol's mechanics (subscription, reassembly, duplicates,
 * outbox, expiry) are the bridge endpoint's (bridge/endpoint.h); this file
 * keeps only what dev does with each message.
 *
 * The session borrows the project config and the workers service (both must
 * outlive it) and owns its events client and endpoint. dev_session_stop may
 * be called from the session's own callbacks; it frees the session. */
#ifndef TETHER_DEV_SESSION_H
#define TETHER_DEV_SESSION_H

#include <stdint.h>

#include <uv.h>

#include "bridge/seal.h"
#include "dev/config.h"
#include "events/client.h"
#include "lambda/lambda.h"

enum dev_session_event {
    DEV_SESSION_READY,       /* subscribed: invocations are served */
    DEV_SESSION_REFUSED,     /* another session serves this stage (detail: who) */
    DEV_SESSION_DISPLACED,   /* a newer session took over (--force) */
    DEV_SESSION_FAILED,      /* cannot subscribe (detail: why) */
    DEV_SESSION_EVENTS_LOST, /* the events connection dropped; retrying */
    DEV_SESSION_EVENTS_BACK,
    DEV_SESSION_WORKER_NEW, /* a remote sandbox said Init (detail: "Function worker") */
};

struct dev_invocation_report {
    const char *function;
    const char *request_id;
    const char *worker;
    const char *source; /* "GET /path" for function URLs, else the event's source */
    int success;
    const char *error_type; /* NULL on success */
    const char *error_message;
    const char *event; /* the event JSON, for the record */
    size_t event_len;
    const char *answer; /* the answer or error JSON */
    size_t answer_len;
    double duration_ms; /* from handing the event to the local worker to its answer */
    /* When the bridge sent the Next (by the bridge's clock, from its sealed
     * first packet; 0 when not known) and when dev had all of it (dev's
     * clock), ms since the epoch; 0 for an invocation without a Next. */
    uint64_t next_sent_ms;
    uint64_t next_received_ms;
    /* The environment names the worker's Init carried, each line ending in
     * '\n' (never values): those taken, and those the Init filter
     * (lambda_environment_override_allowed) dropped. NULL when not known
     * (an invocation that did not come through an Init). */
    const char *env_taken;
    const char *env_dropped;
    /* The Next's Lambda-Runtime-Invoked-Function-Arn (the function in AWS
     * that was invoked, as the peer sent it); NULL or "" when not known. */
    const char *function_arn;
};

struct dev_session_callbacks {
    void (*on_event)(void *ctx, enum dev_session_event event, const char *detail);
    void (*on_invocation)(void *ctx, const struct dev_invocation_report *report);
    /* Optional: the broker acknowledged the answer (Response or Error) to
     * REQUEST_ID at delivered_ms (dev's clock, ms since the epoch), after
     * its on_invocation; status < 0 when the answer was given up instead
     * (delivered_ms is then 0). Not called after dev_session_stop. */
    void (*on_delivered)(void *ctx, const char *request_id, int status, uint64_t delivered_ms);
};

struct dev_session_options {
    const struct dev_config *project;
    struct lambda_service *workers; /* one function per live function in the project */
    const struct events_client_config *events;
    int force;
    const struct bridge_key *key; /* copied by the endpoint and presence; NULL: insecure */
    uint32_t presence_wait_ms;    /* default 800 */
    struct dev_session_callbacks callbacks;
    void *ctx;
};

/* The session's life. It changes in one place, logged at debug level. */
enum dev_session_state {
    DEV_SESSION_CHECKING,    /* asking whether another session serves the stage */
    DEV_SESSION_SUBSCRIBING, /* the stage is ours; subscribing to its channel */
    DEV_SESSION_SERVING,     /* subscribed: invocations are served */
    DEV_SESSION_ENDED,       /* refused, displaced or failed: the owner should stop it */
    DEV_SESSION_STOPPED,     /* dev_session_stop ran */
};

struct dev_session;

const char *dev_session_state_name(enum dev_session_state state);

int dev_session_start(uv_loop_t *loop, const struct dev_session_options *options,
                      struct dev_session **out, char *cause, size_t cause_len);
/* Restarts the local workers of a function (after a code change). */
void dev_session_reload(struct dev_session *session, const char *function_id);
void dev_session_stop(struct dev_session *session);

#endif
