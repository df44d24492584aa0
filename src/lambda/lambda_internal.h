/* Inside the local Lambda service: how its parts hold each other.
 *
 *   service (service.c)   the main port, routing, start and stop
 *   function (pool.c)     a configured function: its sandboxes and queues
 *   sandbox (sandbox.c)   one runtime process with its own Runtime API port
 *   invocation            one request's event, result and log tail
 *     (invocation.c)
 *   runtime_api.c         the Runtime API a sandbox talks to
 *   invoke_api.c          POST /2015-03-31/functions/NAME/invocations
 *   function_url.c        function URLs (events built in url_event.c)
 *
 * Ownership. The service owns its functions; a function owns its sandboxes
 * (a list) and queues. Invocations are reference counted: the function holds
 * one from submission until the invocation is done (queued, bound to a
 * starting sandbox, or running), and whoever waits for the answer (a caller:
 * an Invoke API or function URL exchange) holds one until it has answered or
 * its client went away. A sandbox points to its current invocation without a
 * reference of its own: the function's reference covers it. */
#ifndef TETHER_LAMBDA_INTERNAL_H
#define TETHER_LAMBDA_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "core/buf.h"
#include "lambda/config.h"
#include "lambda/lambda.h"
#include "lambda/logs.h"
#include "net/conn.h"
#include "net/http_server.h"

/* Invoke request bodies: RequestResponse and Event. */
#define LAMBDA_SYNC_PAYLOAD_MAX (6u * 1024 * 1024)
#define LAMBDA_ASYNC_PAYLOAD_MAX (1024u * 1024)
/* What the Runtime API accepts as a buffered answer or error; the number is
 * the one in AWS's message "Exceeded maximum allowed payload size (6291556
 * bytes)." */
#define LAMBDA_RESPONSE_MAX 6291556u
#define LAMBDA_STREAM_MAX (200u * 1024 * 1024)
#define LAMBDA_KILL_GRACE_MS 500
#define LAMBDA_STREAM_HIGH_WATER (1024u * 1024)
#define LAMBDA_STREAM_LOW_WATER (256u * 1024)
#define LAMBDA_FINISHING_GRACE_MS 100

struct lambda_function;
struct lambda_sandbox;
struct lambda_invocation;

/* ---- invocations ---- */

enum lambda_invocation_kind {
    LAMBDA_INVOCATION_SYNC,  /* Invoke, RequestResponse */
    LAMBDA_INVOCATION_EVENT, /* Invoke, Event: nobody waits */
    LAMBDA_INVOCATION_URL,   /* a function URL request */
};

enum lambda_invocation_state {
    LAMBDA_INVOCATION_QUEUED,  /* waiting for a sandbox (or bound to one that starts) */
    LAMBDA_INVOCATION_RUNNING, /* handed to a runtime by /next */
    LAMBDA_INVOCATION_DONE,    /* outcome known, caller told */
};

enum lambda_outcome {
    LAMBDA_OUTCOME_NONE,
    LAMBDA_OUTCOME_SUCCESS,
    LAMBDA_OUTCOME_ERROR,     /* a function error: X-Amz-Function-Error: Unhandled */
    LAMBDA_OUTCOME_CANCELLED, /* the service is stopping */
};

/* Whoever waits for an invocation. finish() is called once, when the outcome
 * is known. Streaming callers also get the answer as the runtime streams it:
 * stream_data returns 1 when the caller cannot take more yet; the caller then
 * calls lambda_invocation_resume_stream() once it can. */
struct lambda_caller_ops {
    void (*finish)(struct lambda_invocation *inv, void *caller);
    void (*stream_begin)(struct lambda_invocation *inv, void *caller, const char *content_type);
    int (*stream_data)(struct lambda_invocation *inv, void *caller, const char *data, size_t len);
};

struct lambda_invocation {
    int refs;
    struct lambda_function *function;
    enum lambda_invocation_kind kind;
    enum lambda_invocation_state state;
    char request_id[37];
    char trace_id[128];
    /* Live invocations (tether dev) relay what the real Lambda sent: */
    char arn[256];             /* the invoked ARN; "" uses the function's */
    char *cognito_identity;    /* owned; NULL when absent */
    char affinity[64];         /* runs only in the sandbox serving this key */
    int deadline_given;        /* deadline_epoch_ms came with the invocation */
    char *const *env_override; /* borrowed until the sandbox starts: NAME=value */
    struct buf payload;
    char *client_context; /* decoded JSON, or NULL */
    struct lambda_invocation *queue_next;
    struct lambda_sandbox *sandbox; /* bound to or running in */
    int started;                    /* START was logged */
    uint64_t start_ns;              /* uv_hrtime() at dispatch */
    uint64_t deadline_epoch_ms;
    int responding;                 /* a /response or /error for it is being read */
    int streaming;                  /* the runtime streams its answer */
    int stream_started;             /* the caller got stream_begin */
    size_t streamed_bytes;          /* bytes of a streamed answer seen so far */
    struct http_exchange *upstream; /* the runtime's streaming POST, for back-pressure */
    struct lambda_log_tail tail;
    enum lambda_outcome outcome;
    struct buf result; /* the answer, or the error JSON */
    char error_type[128];
    const struct lambda_caller_ops *caller_ops;
    void *caller;
};

const char *lambda_invocation_state_name(enum lambda_invocation_state state);
struct lambda_invocation *lambda_invocation_new(struct lambda_function *function,
                                                enum lambda_invocation_kind kind);
void lambda_invocation_ref(struct lambda_invocation *inv);
void lambda_invocation_unref(struct lambda_invocation *inv);
void lambda_invocation_enter_state(struct lambda_invocation *inv,
                                   enum lambda_invocation_state state);
void lambda_invocation_set_caller(struct lambda_invocation *inv,
                                  const struct lambda_caller_ops *ops, void *caller);
/* The caller is gone: the invocation runs on, its answer is dropped. */
void lambda_invocation_detach_caller(struct lambda_invocation *inv);
void lambda_invocation_succeed(struct lambda_invocation *inv);
/* Fails with a ready error body (copied) and type. */
void lambda_invocation_fail(struct lambda_invocation *inv, const char *error_type, const char *body,
                            size_t body_len);
/* Fails with {"errorMessage": message, "errorType": error_type}. */
void lambda_invocation_fail_message(struct lambda_invocation *inv, const char *error_type,
                                    const char *message);
void lambda_invocation_cancel(struct lambda_invocation *inv);
/* Streamed answers from the runtime. stream_data returns 1: pause the source. */
void lambda_invocation_stream_begin(struct lambda_invocation *inv, const char *content_type);
int lambda_invocation_stream_data(struct lambda_invocation *inv, const char *data, size_t len);
void lambda_invocation_resume_stream(struct lambda_invocation *inv);
/* Appends a log line to the invocation's tail (with a newline). */
void lambda_invocation_log(struct lambda_invocation *inv, const char *line, size_t len);

/* ---- sandboxes ---- */

enum lambda_sandbox_state {
    LAMBDA_SANDBOX_STARTING,  /* spawned; the runtime initialises */
    LAMBDA_SANDBOX_IDLE,      /* waiting in GET /next */
    LAMBDA_SANDBOX_BUSY,      /* running an invocation */
    LAMBDA_SANDBOX_FINISHING, /* answered; the runtime has not asked for more yet */
    LAMBDA_SANDBOX_STOPPING,  /* being killed */
    LAMBDA_SANDBOX_EXITED,    /* process gone; handles closing */
};

struct lambda_sandbox {
    struct lambda_function *function;
    struct lambda_sandbox *next;
    enum lambda_sandbox_state state;
    char id[33];
    char log_stream[128];
    uv_process_t process;
    uv_pipe_t out_pipe;
    uv_pipe_t err_pipe;
    struct lambda_line_splitter out_lines;
    struct lambda_line_splitter err_lines;
    uv_timer_t timer; /* init deadline, invocation deadline, idle reaping, kill escalation */
    struct http_server *runtime_api;
    uint16_t runtime_port;
    uint16_t debug_port;                /* 0: no debugger; else its own (lambda_function_config) */
    struct http_exchange *waiting_next; /* a parked GET /next */
    struct lambda_invocation *current;  /* BUSY: the running invocation */
    struct lambda_invocation *bound;    /* STARTING: the invocation this cold start is for */
    char last_request_id[37];
    char affinity[64];   /* "" for the shared pool; else the remote worker it serves */
    char **env_override; /* owned: applied last to its environment */
    uint64_t spawned_ns;
    double init_ms; /* < 0 until the runtime first asks for work */
    int init_reported;
    unsigned memory_mb; /* last peak-memory reading */
    int handles_open;
    int process_running;
    int linked;          /* in the function's list */
    unsigned generation; /* the function's generation (its code and configuration) it runs */
};

const char *lambda_sandbox_state_name(enum lambda_sandbox_state state);
void lambda_sandbox_enter_state(struct lambda_sandbox *sb, enum lambda_sandbox_state state);
/* Starts a runtime process for `bound` (may be NULL). On failure `bound` is
 * left untouched and cause says why. */
int lambda_sandbox_start(struct lambda_function *function, struct lambda_invocation *bound,
                         char *cause, size_t cause_len);
/* Hands inv to the parked /next (state IDLE -> BUSY). */
void lambda_sandbox_dispatch(struct lambda_sandbox *sb, struct lambda_invocation *inv);
/* The current invocation is done: drain output, log END and REPORT. */
void lambda_sandbox_end_invocation(struct lambda_sandbox *sb, struct lambda_invocation *inv);
/* The runtime asks for work (GET /next parked in sb->waiting_next). */
void lambda_sandbox_ready(struct lambda_sandbox *sb);
/* SIGTERM to the process group, SIGKILL after LAMBDA_KILL_GRACE_MS. */
void lambda_sandbox_stop(struct lambda_sandbox *sb, const char *why);
/* Fails the bound invocation of a sandbox whose runtime reported an init error. */
void lambda_sandbox_init_failed(struct lambda_sandbox *sb, const char *error_type, const char *body,
                                size_t body_len);
/* Writes a log line for the sandbox's function (and its current invocation's tail). */
void lambda_sandbox_log(struct lambda_sandbox *sb, struct lambda_invocation *inv, const char *line,
                        size_t len);

/* The command that runs argv with dir at /opt (opt_mount.c): self, "lambda",
 * "__opt", dir, then argv's words (borrowed); free() the array only. */
char **lambda_opt_argv(const char *self, const char *dir, char *const *argv);

/* The Runtime API server callbacks (user: the sandbox). */
extern const struct http_server_callbacks lambda_runtime_api_callbacks;
/* Answers a parked GET /next with inv. */
int lambda_runtime_api_send_next(struct http_exchange *ex, struct lambda_invocation *inv);

/* ---- functions ---- */

struct lambda_function {
    struct lambda_service *service;
    const struct lambda_function_config *config;
    char arn[256];
    char url_id[33];
    struct lambda_sandbox *sandboxes;
    struct lambda_invocation *sync_head, *sync_tail;
    struct lambda_invocation *async_head, *async_tail;
    size_t sync_count;
    size_t async_count;
    struct http_server *url_server; /* its own port for the function URL, if configured */
    uv_timer_t grace_timer;         /* a cold start waiting for a finishing sandbox */
    int grace_over;
    /* Functions made through the control plane (deploy.c) are allocated one
     * by one and listed from the service; configured ones have none. */
    struct lambda_function *next;
    struct lambda_deployment *deployment;
    /* Bumped when new code or configuration is installed: sandboxes of an
     * older generation take no new work (pool.c, lambda_function_retire). */
    unsigned generation;
};

/* 0, -EAGAIN when the queue is full (throttled), -ESHUTDOWN when stopping.
 * On success the function holds a reference to inv. */
int lambda_function_submit(struct lambda_function *function, struct lambda_invocation *inv);
/* Runs a live invocation in the sandbox serving inv->affinity: at once when
 * it waits for work, when it next asks otherwise, or in a new sandbox
 * started with inv->env_override. The function's concurrency does not apply:
 * the remote side decides it. 0, -EBUSY (that sandbox already has one
 * waiting), -ESHUTDOWN. */
int lambda_function_submit_live(struct lambda_function *function, struct lambda_invocation *inv);
/* New code or configuration is installed: idle sandboxes of older
 * generations stop now, busy ones when they finish. */
void lambda_function_retire(struct lambda_function *function, const char *why);
/* Stops every sandbox (new code on the next invocation). */
void lambda_function_stop_sandboxes(struct lambda_function *function, const char *why);
/* Stops the sandboxes serving one remote worker (affinity, not ""). */
void lambda_function_stop_affine(struct lambda_function *function, const char *affinity,
                                 const char *why);
/* Gives queued invocations to idle sandboxes and starts new ones. */
void lambda_function_kick(struct lambda_function *function);
/* A sandbox asks for work: its bound invocation, the queue's head, or idle. */
void lambda_function_sandbox_ready(struct lambda_function *function, struct lambda_sandbox *sb);
/* A sandbox left the pool (its process ended). */
void lambda_function_sandbox_gone(struct lambda_function *function, struct lambda_sandbox *sb);
/* Cancels everything queued (service stopping). */
void lambda_function_cancel_queued(struct lambda_function *function);
size_t lambda_function_live_sandboxes(const struct lambda_function *function);

/* ---- the service ---- */

enum lambda_service_state {
    LAMBDA_SERVICE_RUNNING,
    LAMBDA_SERVICE_STOPPING,
};

struct lambda_service {
    uv_loop_t *loop;
    struct conn_context *conns;
    const struct lambda_config *config;
    FILE *log_out;
    void (*on_debugger)(void *user, const char *function, const char *sandbox_id, unsigned port);
    void (*on_log)(void *user, const char *function, const char *request_id, const char *line,
                   size_t len);
    void *user; /* the options' user, for both */
    char host[64];
    uint64_t idle_timeout_ms;
    struct http_server *api;
    struct lambda_function *functions; /* the configured ones, an array */
    size_t function_count;
    struct lambda_function *deployed; /* made through the control plane (deploy.c), a list */
    struct lambda_function *removed;  /* deleted ones, kept until the service stops */
    struct lambda_control *control;   /* NULL: the control plane is off (tether dev) */
    enum lambda_service_state state;
    size_t sandboxes_alive; /* allocated, not yet freed */
    size_t servers_open;    /* servers and timers still open (each closes asynchronously) */
    void (*on_stopped)(void *user);
    void *stopped_user;
};

/* Every function by name (configured ones first), or NULL; and a walk
 * over all of them: pass NULL for the first. Deleted ones are not found. */
struct lambda_function *lambda_service_find_function(struct lambda_service *service,
                                                     const char *name, size_t len);
struct lambda_function *lambda_service_next_function(struct lambda_service *service,
                                                     struct lambda_function *f);
/* A sandbox or server is gone: a stopping service finishes once all are. */
void lambda_service_check_stopped(struct lambda_service *service);
uint64_t lambda_now_epoch_ms(void);
/* "2020-03-12T19:03:58.123Z" */
void lambda_iso_time(uint64_t epoch_ms, char out[32]);

/* Per-exchange state on the main port starts with a route, so the service's
 * server callbacks can pass each event to the right module. */
struct lambda_route {
    void (*on_body)(struct http_exchange *ex, void *request, const char *data, size_t len);
    void (*on_request)(struct http_exchange *ex, void *request);
    void (*on_abort)(struct http_exchange *ex, void *request);
};

/* Routes a request head on the main port; path without the query. */
void lambda_invoke_api_head(struct lambda_service *service, struct http_exchange *ex);
void lambda_function_url_head(struct lambda_function *function, struct http_exchange *ex,
                              const char *raw_path);
extern const struct http_server_callbacks lambda_function_url_callbacks; /* user: function */
/* ---- the control plane (control_api.c, deploy.c): tether lambda only ---- */
struct lambda_control;
/* Makes the control's private folder, reads its credentials and, with a
 * state folder (NULL: none), what it kept. */
int lambda_control_new(struct lambda_service *service, const char *state_dir, char *cause,
                       size_t cause_len);
/* Requests on the main port that are control-plane operations: 1 when the
 * request was taken (answered now or later), 0 when it is not one. */
int lambda_control_head(struct lambda_service *service, struct http_exchange *ex);
/* 0 when the function may be invoked; otherwise answers 409 itself, as AWS
 * does for a function that is Pending or Failed. */
int lambda_control_check_invoke(struct lambda_function *function, struct http_exchange *ex);
/* The service stops: changes in progress are dropped. */
void lambda_control_stop(struct lambda_service *service);
/* Frees every deployed function and removes the private folder. */
void lambda_control_free(struct lambda_service *service);
/* A deployed function's sandbox is gone: folders no sandbox uses go. */
void lambda_deploy_sandbox_gone(struct lambda_function *function);
/* Sets up a function (its ARN, timers) for the service. */
void lambda_function_init(struct lambda_service *service, struct lambda_function *function,
                          const struct lambda_function_config *config);

/* Answers a service error: x-amzn-ErrorType and {"Type":"User","Message":...}. */
void lambda_answer_service_error(struct http_exchange *ex, int status, const char *error_type,
                                 const char *message);

#endif
