/* `tether dev`'s orchestration: what runs while a project's functions are
 * served on this machine. With the embedded defaults (no "events" endpoint in
 * tether.json) it starts the events broker and a local Lambda service whose
 * functions run the real bridge (tether-bridge); in every mode it starts the
 * workers (a local Lambda service running the handlers), the session that
 * serves invocations from the events channel (dev/session.h), the file
 * watcher that reloads workers when code changes, and the VPC tunnel when
 * tether.json has a "tunnel" section (dev/tunnel.h).
 *
 * The command (cli/cmd_dev.c) owns options and printing: this module reports
 * through callbacks and returns causes in caller buffers. docs/dev.md. */
#ifndef TETHER_DEV_DEV_H
#define TETHER_DEV_DEV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "dev/build.h"
#include "dev/config.h"
#include "dev/session.h"
#include "dev/state.h"
#include "dev/tunnel.h"

struct dev_callbacks {
    /* Forwarded from the session. With the embedded defaults the Lambda
     * service (function URLs, the Invoke API) opens only at DEV_SESSION_READY,
     * so a request is never taken before a session can hear its bridge:
     * dev_endpoints()'s lambda address and dev_function_url() are known from
     * that event on; when the service cannot open, the event is
     * DEV_SESSION_FAILED with the cause instead. After DEV_SESSION_REFUSED,
     * _DISPLACED and _FAILED the run is already stopping. */
    void (*on_event)(void *ctx, enum dev_session_event event, const char *detail);
    void (*on_invocation)(void *ctx, const struct dev_invocation_report *report);
    /* A changed file restarted a function's workers; ms since the change. */
    void (*on_reload)(void *ctx, const char *function_id, const char *path, double ms);
    /* Something worth a line of output ("AWS credentials from ..."). */
    void (*on_note)(void *ctx, const char *text);
    /* The VPC tunnel's state and counters, when tether.json has a "tunnel"
     * section (dev/tunnel.h); its failure does not stop the run. */
    void (*on_tunnel)(void *ctx, const struct dev_tunnel_report *report);
    /* A function's build finished (dev/build.h); a restart it causes is
     * reported through on_reload after this. */
    void (*on_build)(void *ctx, const struct dev_build_report *report);
    /* With --inspect: a worker of function_id started with its debugger on
     * 127.0.0.1:port; worker is the sandbox id. */
    void (*on_debugger)(void *ctx, const char *function_id, const char *worker, unsigned port);
};

struct dev_options {
    const struct dev_config *project; /* borrowed; outlives the run */
    const char *profile;              /* AWS profile for IAM to a remote events API */
    uint16_t port;                    /* embedded Lambda service port; 0 picks one */
    int inspect_port;                 /* 0: off; else the first of the workers' debugger ports */
    unsigned debug_timeout_s;         /* with inspect_port: every function's timeout, 1-900 */
    int force;                        /* take over the stage */
    /* No warm standbys (lambda/standby.h): a change restarts the workers,
     * as before there were any; for comparing the two (bench/reload). */
    int no_standby;
    /* The stage's bridge key (borrowed; outlives the run): packets and
     * presence are sealed with it, and with the embedded defaults the
     * bridges get it in their environment. NULL: the insecure mode
     * (--insecure-no-auth), which the caller has announced loudly. */
    const struct bridge_key *key;
    FILE *function_log; /* where function logs go */
    /* The invocation store and the inspector (dev/inspector.h): at most
     * history_count invocations and history_bytes kept (0: the defaults of
     * dev/inspector_store.h); inspector_port 0 picks a free port, -1 turns
     * the inspector off (the store and .tether/log/ stay bounded). */
    size_t history_count;
    size_t history_bytes;
    int inspector_port;
    struct dev_callbacks callbacks;
    void *ctx;
};

struct dev;

/* Starts everything. On failure (cause says why) the parts already started
 * are stopping: *out is set all the same (NULL only when out of memory), so
 * run the loop until it ends, then dev_free. */
int dev_start(uv_loop_t *loop, const struct dev_options *options, struct dev **out, char *cause,
              size_t cause_len);
/* The embedded defaults' endpoints, as .tether/dev.json gives them to
 * `tether invoke`; lambda "" in remote mode. */
const struct dev_state *dev_endpoints(const struct dev *dev);
/* A live function's URL on the embedded Lambda service; -ENOENT when none. */
int dev_function_url(const struct dev *dev, const char *function_id, char *out, size_t out_len);
/* The inspector's address with its token ("" when it is off). */
const char *dev_inspector_url(const struct dev *dev);
/* 1 when a warm standby waits to take over function_id's next invocation
 * (docs/dev.md, "Reload"); for the reload line. */
int dev_function_has_standby(const struct dev *dev, const char *function_id);
/* Mirrors each invocation in the project's .tether/log/ from now on, with the
 * store's limits (older records beyond them are removed). */
int dev_keep_records(struct dev *dev, char *cause, size_t cause_len);
/* A replay in remote mode, for the inspector: the event runs in the local
 * worker sandbox of remote worker WORKER (so with its Init environment) with
 * a new request id, without going through AWS; it is reported like any
 * invocation, with source "replay (local worker)", then done() runs once.
 * -ENOENT (unknown function, stopping), -EBUSY (that worker is busy),
 * -ENOMEM. */
typedef void (*dev_replay_done)(void *ctx, int success, const char *body, size_t len);
int dev_replay_local(struct dev *dev, const char *function, const char *worker, const void *event,
                     size_t len, dev_replay_done done, void *ctx);
/* Stops every part (idempotent); the loop ends when they have closed. */
void dev_stop(struct dev *dev);
/* After the loop ended. */
void dev_free(struct dev *dev);

#endif
