/* Invocations: identity, outcome, streamed answers, log tails. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "lambda"
#include "core/encoding.h"
#include "core/log.h"
#include "core/random.h"
#include "lambda/lambda_internal.h"

static const char *const invocation_state_names[] = {"queued", "running", "done"};

const char *lambda_invocation_state_name(enum lambda_invocation_state state)
{
    return invocation_state_names[state];
}

void lambda_invocation_enter_state(struct lambda_invocation *inv,
                                   enum lambda_invocation_state state)
{
    if (inv->state == state)
        return;
    log_debug("%s %s: %s -> %s", inv->function->config->name, inv->request_id,
              invocation_state_names[inv->state], invocation_state_names[state]);
    inv->state = state;
}

/* X-Ray's format: Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=0 */
static void make_trace_id(char *out, size_t out_len)
{
    unsigned char random[20];
    char root[25], parent[17];
    random_bytes(random, sizeof(random));
    hex_encode(root, random, 12);
    hex_encode(parent, random + 12, 8);
    snprintf(out, out_len, "Root=1-%08lx-%s;Parent=%s;Sampled=0", (unsigned long)time(NULL), root,
             parent);
}

struct lambda_invocation *lambda_invocation_new(struct lambda_function *function,
                                                enum lambda_invocation_kind kind)
{
    struct lambda_invocation *inv = calloc(1, sizeof(*inv));
    if (!inv)
        return NULL;
    inv->refs = 1;
    inv->function = function;
    inv->kind = kind;
    inv->state = LAMBDA_INVOCATION_QUEUED;
    random_uuid(inv->request_id);
    make_trace_id(inv->trace_id, sizeof(inv->trace_id));
    buf_init(&inv->payload);
    buf_init(&inv->result);
    return inv;
}

void lambda_invocation_ref(struct lambda_invocation *inv)
{
    inv->refs++;
}

void lambda_invocation_unref(struct lambda_invocation *inv)
{
    if (!inv || --inv->refs > 0)
        return;
    buf_free(&inv->payload);
    buf_free(&inv->result);
    free(inv->client_context);
    free(inv->cognito_identity);
    free(inv);
}

void lambda_invocation_set_caller(struct lambda_invocation *inv,
                                  const struct lambda_caller_ops *ops, void *caller)
{
    inv->caller_ops = ops;
    inv->caller = caller;
}

void lambda_invocation_detach_caller(struct lambda_invocation *inv)
{
    inv->caller_ops = NULL;
    inv->caller = NULL;
    /* Nobody reads a stream now: let the runtime finish sending it. */
    if (inv->upstream)
        http_exchange_resume_body(inv->upstream);
}

static void complete(struct lambda_invocation *inv, enum lambda_outcome outcome)
{
    if (inv->state == LAMBDA_INVOCATION_DONE)
        return;
    /* The function's reference (taken at submission, dropped last here)
     * keeps inv alive while the caller drops its own. */
    inv->outcome = outcome;
    lambda_invocation_enter_state(inv, LAMBDA_INVOCATION_DONE);
    if (inv->sandbox)
        lambda_sandbox_end_invocation(inv->sandbox, inv);
    const struct lambda_caller_ops *ops = inv->caller_ops;
    void *caller = inv->caller;
    inv->caller_ops = NULL;
    inv->caller = NULL;
    if (ops)
        ops->finish(inv, caller);
    else if (outcome == LAMBDA_OUTCOME_ERROR)
        log_info("%s %s: nobody waits for it; it failed with %s", inv->function->config->name,
                 inv->request_id, inv->error_type);
    lambda_invocation_unref(inv);
}

void lambda_invocation_succeed(struct lambda_invocation *inv)
{
    complete(inv, LAMBDA_OUTCOME_SUCCESS);
}

void lambda_invocation_fail(struct lambda_invocation *inv, const char *error_type, const char *body,
                            size_t body_len)
{
    if (inv->state == LAMBDA_INVOCATION_DONE)
        return;
    buf_reset(&inv->result);
    if (buf_append(&inv->result, body, body_len) < 0)
        buf_reset(&inv->result);
    snprintf(inv->error_type, sizeof(inv->error_type), "%s", error_type ? error_type : "");
    complete(inv, LAMBDA_OUTCOME_ERROR);
}

void lambda_invocation_fail_message(struct lambda_invocation *inv, const char *error_type,
                                    const char *message)
{
    struct buf body = BUF_INIT;
    int rc = buf_append_str(&body, "{\"errorMessage\":");
    if (rc == 0)
        rc = json_quote(&body, message, strlen(message));
    if (rc == 0 && error_type) {
        rc = buf_append_str(&body, ",\"errorType\":");
        if (rc == 0)
            rc = json_quote(&body, error_type, strlen(error_type));
    }
    if (rc == 0)
        rc = buf_append_char(&body, '}');
    lambda_invocation_fail(inv, error_type, rc == 0 ? buf_bytes(&body) : "{}",
                           rc == 0 ? buf_length(&body) : 2);
    buf_free(&body);
}

void lambda_invocation_cancel(struct lambda_invocation *inv)
{
    complete(inv, LAMBDA_OUTCOME_CANCELLED);
}

void lambda_invocation_stream_begin(struct lambda_invocation *inv, const char *content_type)
{
    inv->streaming = 1;
    if (inv->caller_ops && inv->caller_ops->stream_begin) {
        inv->stream_started = 1;
        inv->caller_ops->stream_begin(inv, inv->caller, content_type);
    }
}

int lambda_invocation_stream_data(struct lambda_invocation *inv, const char *data, size_t len)
{
    inv->streamed_bytes += len;
    if (inv->state == LAMBDA_INVOCATION_DONE)
        return 0;
    if (inv->stream_started && inv->caller_ops && inv->caller_ops->stream_data)
        return inv->caller_ops->stream_data(inv, inv->caller, data, len);
    if (inv->stream_started)
        return 0; /* the streaming caller went away: drop */
    /* A caller that wants the whole answer (Invoke): buffer, with the
     * synchronous cap. */
    if (buf_length(&inv->result) + len > LAMBDA_RESPONSE_MAX) {
        lambda_invocation_fail_message(
            inv, "Function.ResponseSizeTooLarge",
            "Response payload size exceeded maximum allowed payload size (6291556 bytes).");
        return 0;
    }
    if (buf_append(&inv->result, data, len) < 0)
        lambda_invocation_fail_message(inv, "Runtime.OutOfMemory", "out of memory");
    return 0;
}

void lambda_invocation_resume_stream(struct lambda_invocation *inv)
{
    if (inv->upstream)
        http_exchange_resume_body(inv->upstream);
}

void lambda_invocation_log(struct lambda_invocation *inv, const char *line, size_t len)
{
    lambda_log_tail_append(&inv->tail, line, len);
    lambda_log_tail_append(&inv->tail, "\n", 1);
}
