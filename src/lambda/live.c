/* Live invocations for tether dev: an invocation relayed from Lambda runs in
 * the sandbox that serves its remote worker, and its outcome goes back
 * through plain callbacks (lambda.h), not the Invoke API. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "lambda"
#include "core/log.h"
#include "lambda/lambda_internal.h"

struct live_caller {
    struct lambda_live_callbacks callbacks;
    void *ctx;
};

static void live_finish(struct lambda_invocation *inv, void *caller)
{
    struct live_caller *c = caller;
    int success = inv->outcome == LAMBDA_OUTCOME_SUCCESS;
    const char *type = success ? NULL : (inv->error_type[0] ? inv->error_type : "Unhandled");
    /* A streamed answer was handed on as it came: nothing more to send. */
    const char *body = inv->stream_started && success ? "" : buf_bytes(&inv->result);
    size_t len = inv->stream_started && success ? 0 : buf_length(&inv->result);
    if (c->callbacks.on_finish)
        c->callbacks.on_finish(c->ctx, success, type, body ? body : "", len);
    free(c);
}

static void live_stream_begin(struct lambda_invocation *inv, void *caller, const char *content_type)
{
    struct live_caller *c = caller;
    (void)inv;
    if (c->callbacks.on_stream_begin)
        c->callbacks.on_stream_begin(c->ctx, content_type);
}

static int live_stream_data(struct lambda_invocation *inv, void *caller, const char *data,
                            size_t len)
{
    struct live_caller *c = caller;
    (void)inv;
    if (c->callbacks.on_stream_data)
        c->callbacks.on_stream_data(c->ctx, data, len);
    return 0; /* the events channel takes everything: no back-pressure here */
}

static const struct lambda_caller_ops live_ops = {live_finish, live_stream_begin, live_stream_data};

static void fill(struct lambda_invocation *inv, const struct lambda_live_request *req)
{
    snprintf(inv->request_id, sizeof(inv->request_id), "%s", req->request_id);
    /* Lambda always sends a trace id; when the relayed Next had none, the
     * invocation keeps the one it was made with rather than an empty one. */
    if (req->trace_id && *req->trace_id)
        snprintf(inv->trace_id, sizeof(inv->trace_id), "%s", req->trace_id);
    snprintf(inv->arn, sizeof(inv->arn), "%s", req->function_arn ? req->function_arn : "");
    snprintf(inv->affinity, sizeof(inv->affinity), "%s", req->affinity);
    if (req->deadline_epoch_ms) {
        inv->deadline_epoch_ms = req->deadline_epoch_ms;
        inv->deadline_given = 1;
    }
    if (req->client_context) {
        free(inv->client_context);
        inv->client_context = strdup(req->client_context);
    }
    if (req->cognito_identity)
        inv->cognito_identity = strdup(req->cognito_identity);
    inv->env_override = req->env_override;
}

int lambda_service_invoke_live(struct lambda_service *s, const struct lambda_live_request *req,
                               const struct lambda_live_callbacks *callbacks, void *ctx)
{
    struct lambda_function *f =
        lambda_service_find_function(s, req->function, strlen(req->function));
    if (!f)
        return -ENOENT;
    struct lambda_invocation *inv = lambda_invocation_new(f, LAMBDA_INVOCATION_SYNC);
    struct live_caller *c = calloc(1, sizeof(*c));
    if (!inv || !c || buf_append(&inv->payload, req->payload, req->payload_len) < 0) {
        free(c);
        if (inv)
            lambda_invocation_unref(inv);
        return -ENOMEM;
    }
    fill(inv, req);
    c->callbacks = *callbacks;
    c->ctx = ctx;
    lambda_invocation_set_caller(inv, &live_ops, c);
    int rc = lambda_function_submit_live(f, inv);
    inv->env_override = NULL; /* copied by the sandbox, if one started */
    if (rc < 0) {
        lambda_invocation_detach_caller(inv);
        free(c);
    }
    lambda_invocation_unref(inv); /* the function holds its own reference */
    return rc;
}

int lambda_service_restart_function(struct lambda_service *s, const char *function, const char *why)
{
    struct lambda_function *f = lambda_service_find_function(s, function, strlen(function));
    if (!f)
        return -ENOENT;
    lambda_function_stop_sandboxes(f, why);
    return 0;
}

int lambda_service_stop_worker(struct lambda_service *s, const char *function, const char *affinity,
                               const char *why)
{
    struct lambda_function *f = lambda_service_find_function(s, function, strlen(function));
    if (!f)
        return -ENOENT;
    lambda_function_stop_affine(f, affinity, why);
    return 0;
}
