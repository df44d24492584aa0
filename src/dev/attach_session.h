/* The attaching side of one `tether dev` run, for a tether.json with an
 * "aws" section (docs/deploy.md): the session's marker, the AWS
 * credentials, the events API when tether.json names none, the deployed
 * counterparts of the live functions ("deployed", else aws.stack's logical
 * ids), the TETHER_* settings the bridge layer gets, the leftovers of a
 * crashed session restored first; attaching once the dev session is ready;
 * restoring everything after the loop. It wires dev/attach.c (the AWS
 * calls, on threads) to the loop through dev/attach_loop.c, and prints
 * nothing: what people see comes through the callbacks, on the loop.
 *
 * Life: attach_session_new before the loop (it may block: AWS calls), with
 * *out NULL when tether.json has no "aws"; attach_session_begin when the
 * dev session is ready (once); attach_session_stop on a signal;
 * attach_session_finish after uv_run returned (restores and waits, then
 * frees). */
#ifndef TETHER_DEV_ATTACH_SESSION_H
#define TETHER_DEV_ATTACH_SESSION_H

#include <stddef.h>
#include <uv.h>

#include "bridge/seal.h"
#include "dev/attach.h"
#include "dev/config.h"

struct attach_session_callbacks {
    /* Each function's progress (dev/attach.h), on the loop. */
    void (*on_report)(void *ctx, const struct attach_report *report);
    /* One line for the live view. */
    void (*on_info)(void *ctx, const char *message);
    void (*on_problem)(void *ctx, const char *message);
    void *ctx;
};

struct attach_session_options {
    uv_loop_t *loop;
    /* The project; its "events" is filled in when tether.json names none
     * (the AppSync API tether-APP, found or created). Borrowed. */
    struct dev_config *project;
    const struct bridge_key *key; /* the stage's key; NULL: --insecure-no-auth */
    const char *profile;          /* --profile; NULL: aws.profile, else the chain */
    unsigned timeout_s;           /* --debug-timeout given: attached functions' timeout */
    int force;                    /* take functions over from another session */
    struct attach_session_callbacks cb;
};

struct attach_session;

/* 0 with *out (NULL without "aws"), or -errno with cause. */
int attach_session_new(const struct attach_session_options *options, struct attach_session **out,
                       char *cause, size_t cause_len);
/* Starts attaching (the first call only): 0, or -errno when it cannot. */
int attach_session_begin(struct attach_session *s);
void attach_session_stop(struct attach_session *s);
/* Restores every function attached, waits, frees s (NULL is fine).
 * Returns 1 when a restore failed (the live view has said which), else 0. */
int attach_session_finish(struct attach_session *s);

#endif
