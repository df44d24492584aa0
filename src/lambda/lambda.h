/* `tether lambda`: a local AWS Lambda service. One port serves the Invoke API
 * and function URLs; every sandbox (one runtime process) gets its own
 * Runtime API on a port of 127.0.0.1. docs/lambda.md has the design.
 *
 * The service borrows the configuration (which must outlive it) and owns
 * everything else: sandboxes, their processes, connections. It runs on the
 * given loop; lambda_service_stop() stops accepting, kills every sandbox and
 * frees the service, then calls on_stopped. */
#ifndef TETHER_LAMBDA_LAMBDA_H
#define TETHER_LAMBDA_LAMBDA_H

#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "lambda/config.h"

struct lambda_service;

struct lambda_service_options {
    const char *host; /* an IP address to listen on */
    uint16_t port;    /* 0 picks a free port */
    FILE *log_out;    /* function logs and START/END/REPORT lines (default stdout) */
    /* Optional: each line written to log_out, also handed over with the
     * request id of the invocation its sandbox was running (NULL between
     * invocations), so a caller can tie lines to requests that run at once. */
    void (*on_log)(void *user, const char *function, const char *request_id, const char *line,
                   size_t len);
    /* Overrides the configuration's idle_timeout when > 0 (milliseconds). */
    uint64_t idle_timeout_ms;
    /* A sandbox of a function with a debug_port started with its own
     * debugger port (lambda/config.h); may be NULL. */
    void (*on_debugger)(void *user, const char *function, const char *sandbox_id, unsigned port);
    void *user; /* passed to on_log and on_debugger */
    /* Serves the Lambda control plane (CreateFunction, layers, tags ...:
     * docs/lambda.md) beside the Invoke API: tether lambda, not tether dev. */
    int control_plane;
    /* With the control plane: keep deployed functions and layers in
     * STATE_DIR/.tether/ across restarts (NULL: in memory only). */
    const char *state_dir;
};

/* `tether lambda __opt DIR PROGRAM ARGS...` (argv[0] "lambda"): runs a
 * sandbox's program with DIR mounted at /opt when the kernel allows
 * (opt_mount.c); returns only when the program cannot be executed. */
int lambda_opt_exec(int argc, char **argv);

int lambda_service_start(uv_loop_t *loop, const struct lambda_config *config,
                         const struct lambda_service_options *options, struct lambda_service **out,
                         char *cause, size_t cause_len);
uint16_t lambda_service_port(const struct lambda_service *service);
/* Prints the endpoints (plain text, or one JSON line) to out. */
void lambda_service_describe(const struct lambda_service *service, FILE *out, int json);
void lambda_service_stop(struct lambda_service *service, void (*on_stopped)(void *user),
                         void *user);

/* ---- live invocations (tether dev) ----
 * An invocation relayed from a real (or embedded) Lambda: it keeps the
 * request id, deadline, ARN, trace id and client context that Lambda sent,
 * and runs in the sandbox serving its remote worker (`affinity`), started
 * with that worker's environment. */
struct lambda_live_request {
    const char *function; /* a configured function's name */
    const char *request_id;
    uint64_t deadline_epoch_ms;
    const char *function_arn;     /* "" or NULL: the function's own */
    const char *trace_id;         /* may be NULL */
    const char *client_context;   /* may be NULL */
    const char *cognito_identity; /* may be NULL */
    const void *payload;
    size_t payload_len;
    const char *affinity;      /* the remote worker id */
    char *const *env_override; /* NAME=value, NULL-terminated; copied */
};

struct lambda_live_callbacks {
    /* A streamed answer: content type, then the bytes as they come. */
    void (*on_stream_begin)(void *ctx, const char *content_type);
    void (*on_stream_data)(void *ctx, const char *data, size_t len);
    /* The outcome, once: success with the answer (empty when it was streamed),
     * or a function error with its type and error JSON. Arguments live for
     * the call. After it, no callback runs for this invocation. */
    void (*on_finish)(void *ctx, int success, const char *error_type, const char *body, size_t len);
};

/* 0, or -ENOENT (no such function), -EBUSY (that worker already has an
 * invocation waiting), -ESHUTDOWN, -ENOMEM. */
int lambda_service_invoke_live(struct lambda_service *service,
                               const struct lambda_live_request *req,
                               const struct lambda_live_callbacks *callbacks, void *ctx);
/* The function URL of a function with "url": true ("http://HOST:PORT/url/NAME/");
 * -ENOENT otherwise. */
int lambda_service_function_url(const struct lambda_service *service, const char *function,
                                char *out, size_t out_len);
/* Stops a function's sandboxes so the next invocation runs new code;
 * -ENOENT for an unknown function. */
int lambda_service_restart_function(struct lambda_service *service, const char *function,
                                    const char *why);
/* Stops the sandboxes serving one remote worker (`affinity`) of a function,
 * when tether dev forgets that worker; -ENOENT for an unknown function. */
int lambda_service_stop_worker(struct lambda_service *service, const char *function,
                               const char *affinity, const char *why);

#endif
