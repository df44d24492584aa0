/* The Runtime API (2018-06-01) one sandbox's runtime talks to:
 *
 *   GET  /2018-06-01/runtime/invocation/next          long poll for work
 *   POST /2018-06-01/runtime/invocation/{id}/response buffered or streamed answer
 *   POST /2018-06-01/runtime/invocation/{id}/error    function error
 *   POST /2018-06-01/runtime/init/error               initialisation error
 *
 * Each sandbox has its own listener, so the server's user pointer is the
 * sandbox. Exchanges carry a struct runtime_request (or the parked-next
 * marker) as their user pointer. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_MODULE "lambda"
#include "core/encoding.h"
#include "core/log.h"
#include "lambda/lambda_internal.h"
#include "lambda/url_event.h"

#define API_PREFIX "/2018-06-01/runtime/"
#define JSON_TYPE "Content-Type: application/json\r\n"
#define ERROR_TYPE_HEADER "Lambda-Runtime-Function-Error-Type"
#define ERROR_BODY_TRAILER "Lambda-Runtime-Function-Error-Body"
#define RESPONSE_MODE_HEADER "Lambda-Runtime-Function-Response-Mode"

enum runtime_endpoint {
    RUNTIME_NEXT,
    RUNTIME_RESPONSE,
    RUNTIME_ERROR,
    RUNTIME_INIT_ERROR,
    RUNTIME_UNKNOWN,
};

struct runtime_request {
    enum runtime_endpoint endpoint;
    struct lambda_invocation *inv; /* referenced; NULL for init errors */
};

/* The user pointer of a parked GET /next. */
static char parked_next;

/* ---- answers ---- */

static void answer_error(struct http_exchange *ex, int status, const char *type,
                         const char *message)
{
    struct buf body = BUF_INIT;
    buf_append_str(&body, "{\"errorMessage\":");
    json_quote(&body, message, strlen(message));
    buf_append_str(&body, ",\"errorType\":");
    json_quote(&body, type, strlen(type));
    buf_append_char(&body, '}');
    http_exchange_respond(ex, status, JSON_TYPE, buf_bytes(&body), buf_length(&body));
    buf_free(&body);
}

/* The emulator routes with Go's chi, whose default for an unknown path is Go's
 * http.NotFound: plain text, with nosniff. */
static void answer_not_found(struct http_exchange *ex)
{
    static const char body[] = "404 page not found\n";
    http_exchange_respond(ex, 404,
                          "Content-Type: text/plain; charset=utf-8\r\n"
                          "X-Content-Type-Options: nosniff\r\n",
                          body, sizeof(body) - 1);
}

static void answer_accepted(struct http_exchange *ex)
{
    static const char ok[] = "{\"status\":\"OK\"}";
    http_exchange_respond(ex, 202, JSON_TYPE, ok, sizeof(ok) - 1);
}

static void answer_invalid_state(struct http_exchange *ex)
{
    answer_error(ex, 403, "InvalidStateTransition",
                 "State transition is not allowed in the current state of the invocation");
}

static void answer_too_large(struct http_exchange *ex)
{
    answer_error(ex, 413, "RequestEntityTooLarge",
                 "Exceeded maximum allowed payload size (6291556 bytes).");
}

/* Appends an optional header whose value came from a caller or from the
 * channel (tether dev); one that could split the head is left out. */
static int add_passed_header(struct buf *headers, const char *name, const char *value)
{
    if (!value || !*value)
        return 0; /* only non-empty ones, as Lambda does */
    if (!http_header_value_valid(value, strlen(value))) {
        log_warn("%s: control characters in the value, left out", name);
        return 0;
    }
    return buf_printf(headers, "%s: %s\r\n", name, value);
}

int lambda_runtime_api_send_next(struct http_exchange *ex, struct lambda_invocation *inv)
{
    struct buf headers = BUF_INIT;
    /* The invoked ARN and the trace id may come from the channel too. */
    const char *arn = inv->arn[0] && http_header_value_valid(inv->arn, strlen(inv->arn))
                          ? inv->arn
                          : inv->function->arn;
    int rc = buf_printf(&headers,
                        JSON_TYPE "Lambda-Runtime-Aws-Request-Id: %s\r\n"
                                  "Lambda-Runtime-Deadline-Ms: %llu\r\n"
                                  "Lambda-Runtime-Invoked-Function-Arn: %s\r\n",
                        inv->request_id, (unsigned long long)inv->deadline_epoch_ms, arn);
    if (rc == 0)
        rc = add_passed_header(&headers, "Lambda-Runtime-Trace-Id", inv->trace_id);
    if (rc == 0)
        rc = add_passed_header(&headers, "Lambda-Runtime-Client-Context", inv->client_context);
    if (rc == 0)
        rc = add_passed_header(&headers, "Lambda-Runtime-Cognito-Identity", inv->cognito_identity);
    if (rc == 0)
        rc = buf_terminate(&headers);
    if (rc == 0)
        rc = http_exchange_respond(ex, 200, buf_bytes(&headers), buf_bytes(&inv->payload),
                                   buf_length(&inv->payload));
    buf_free(&headers);
    return rc;
}

/* ---- routing ---- */

/* Splits ".../invocation/{id}/response" etc.; id is percent-decoded. */
static enum runtime_endpoint parse_endpoint(const char *path, char *id, size_t id_len)
{
    id[0] = '\0';
    if (strncmp(path, API_PREFIX, strlen(API_PREFIX)) != 0)
        return RUNTIME_UNKNOWN;
    const char *rest = path + strlen(API_PREFIX);
    if (strcmp(rest, "invocation/next") == 0)
        return RUNTIME_NEXT;
    if (strcmp(rest, "init/error") == 0)
        return RUNTIME_INIT_ERROR;
    if (strncmp(rest, "invocation/", 11) != 0)
        return RUNTIME_UNKNOWN;
    rest += 11;
    const char *slash = strchr(rest, '/');
    if (!slash || slash == rest || (size_t)(slash - rest) >= id_len / 2)
        return RUNTIME_UNKNOWN;
    struct buf decoded = BUF_INIT;
    if (lambda_url_decode_component(&decoded, rest, (size_t)(slash - rest)) < 0 ||
        buf_length(&decoded) >= id_len) {
        buf_free(&decoded);
        return RUNTIME_UNKNOWN;
    }
    memcpy(id, buf_bytes(&decoded), buf_length(&decoded));
    id[buf_length(&decoded)] = '\0';
    buf_free(&decoded);
    if (strcmp(slash, "/response") == 0)
        return RUNTIME_RESPONSE;
    if (strcmp(slash, "/error") == 0)
        return RUNTIME_ERROR;
    return RUNTIME_UNKNOWN;
}

/* A runtime that asks for work while its invocation is unanswered gets that
 * invocation again, with the same request id, headers and body: AWS's runtime
 * interface emulator does so, and a runtime that lost its connection mid-poll
 * recovers its work instead of failing. */
static void resend_current(struct lambda_sandbox *sb, struct http_exchange *ex)
{
    struct lambda_invocation *inv = sb->current;
    if (!inv || inv->state != LAMBDA_INVOCATION_RUNNING) {
        answer_invalid_state(ex);
        return;
    }
    log_debug("%s %s: /next again while it runs; sent again", inv->function->config->name,
              inv->request_id);
    lambda_runtime_api_send_next(ex, inv);
}

static void handle_next(struct lambda_sandbox *sb, struct http_exchange *ex)
{
    if (sb->waiting_next) {
        answer_invalid_state(ex); /* one long poll at a time */
        return;
    }
    switch (sb->state) {
    case LAMBDA_SANDBOX_BUSY:
        resend_current(sb, ex);
        return;
    case LAMBDA_SANDBOX_STARTING:
    case LAMBDA_SANDBOX_FINISHING:
        sb->waiting_next = ex;
        http_exchange_set_user(ex, &parked_next);
        lambda_sandbox_ready(sb);
        return;
    default:
        /* Stopping: park it unanswered; the process is about to go. */
        sb->waiting_next = ex;
        http_exchange_set_user(ex, &parked_next);
        return;
    }
}

/* The invocation a /response or /error names, or an answer saying why not. */
static struct lambda_invocation *invocation_for(struct lambda_sandbox *sb, struct http_exchange *ex,
                                                const char *id)
{
    struct lambda_invocation *inv = sb->current;
    if (inv && strcmp(inv->request_id, id) == 0) {
        if (inv->responding || inv->state != LAMBDA_INVOCATION_RUNNING) {
            answer_invalid_state(ex);
            return NULL;
        }
        return inv;
    }
    if (sb->last_request_id[0] && strcmp(sb->last_request_id, id) == 0)
        answer_invalid_state(ex); /* answered already (or timed out) */
    else
        answer_error(ex, 400, "InvalidRequestID", "Invalid request ID");
    return NULL;
}

static struct runtime_request *request_new(struct http_exchange *ex, enum runtime_endpoint e,
                                           struct lambda_invocation *inv)
{
    struct runtime_request *req = calloc(1, sizeof(*req));
    if (!req) {
        answer_error(ex, 500, "ServiceException", "out of memory");
        return NULL;
    }
    req->endpoint = e;
    req->inv = inv;
    if (inv) {
        lambda_invocation_ref(inv);
        inv->responding = 1;
    }
    http_exchange_set_user(ex, req);
    return req;
}

/* Whether an answer is relayed as it comes. The mode header says so; without
 * one, a function whose URL streams (invoke mode RESPONSE_STREAM) that posts
 * the integration-response type streams too: aws-lambda-go's lambdaurl posts
 * its prelude, NULs and body chunked with that type and no mode header. */
static int streams(const struct lambda_invocation *inv, const char *mode, const char *type)
{
    size_t n = strlen(LAMBDA_URL_STREAM_CONTENT_TYPE);
    if (mode)
        return strcasecmp(mode, "streaming") == 0;
    return inv->function->config->streaming && type &&
           strncasecmp(type, LAMBDA_URL_STREAM_CONTENT_TYPE, n) == 0;
}

static void handle_response_head(struct lambda_sandbox *sb, struct http_exchange *ex,
                                 const char *id)
{
    const struct http_message *m = http_exchange_request(ex);
    const char *mode = http_header_get(m, RESPONSE_MODE_HEADER);
    if (mode && strcasecmp(mode, "streaming") != 0 && strcasecmp(mode, "buffered") != 0) {
        answer_error(ex, 400, "InvalidFunctionResponseMode", "Invalid function response mode");
        return;
    }
    struct lambda_invocation *inv = invocation_for(sb, ex, id);
    if (!inv || !request_new(ex, RUNTIME_RESPONSE, inv))
        return;
    const char *type = http_header_get(m, "Content-Type");
    if (streams(inv, mode, type)) {
        http_exchange_take_body(ex, HTTP_BODY_STREAM, LAMBDA_STREAM_MAX);
        inv->upstream = ex;
        lambda_invocation_stream_begin(inv, type ? type : "application/octet-stream");
    } else {
        http_exchange_take_body(ex, HTTP_BODY_BUFFER, LAMBDA_RESPONSE_MAX);
    }
}

static void on_head(struct http_exchange *ex, void *user)
{
    struct lambda_sandbox *sb = user;
    const struct http_message *m = http_exchange_request(ex);
    char id[128];
    enum runtime_endpoint endpoint = parse_endpoint(m->path, id, sizeof(id));
    int is_get = strcmp(m->method, "GET") == 0, is_post = strcmp(m->method, "POST") == 0;
    if (endpoint == RUNTIME_UNKNOWN) {
        answer_not_found(ex);
    } else if ((endpoint == RUNTIME_NEXT && !is_get) || (endpoint != RUNTIME_NEXT && !is_post)) {
        answer_error(ex, 405, "MethodNotAllowed", "Method not allowed for this endpoint");
    } else if (endpoint == RUNTIME_NEXT) {
        handle_next(sb, ex);
    } else if (endpoint == RUNTIME_RESPONSE) {
        handle_response_head(sb, ex, id);
    } else if (endpoint == RUNTIME_ERROR) {
        struct lambda_invocation *inv = invocation_for(sb, ex, id);
        if (inv && request_new(ex, RUNTIME_ERROR, inv))
            http_exchange_take_body(ex, HTTP_BODY_BUFFER, LAMBDA_RESPONSE_MAX);
    } else if (sb->state != LAMBDA_SANDBOX_STARTING) {
        answer_invalid_state(ex); /* init errors only before the first /next */
    } else if (request_new(ex, RUNTIME_INIT_ERROR, NULL)) {
        http_exchange_take_body(ex, HTTP_BODY_BUFFER, LAMBDA_RESPONSE_MAX);
    }
}

static void on_body(struct http_exchange *ex, const char *data, size_t len, void *user)
{
    struct runtime_request *req = http_exchange_user(ex);
    (void)user;
    if (req && req->endpoint == RUNTIME_RESPONSE && req->inv &&
        lambda_invocation_stream_data(req->inv, data, len) == 1)
        http_exchange_pause_body(ex);
}

/* ---- complete requests ---- */

/* An error body as posted, or one made from the type when none was sent. */
/* The error type: the header, else the body's "errorType" (Node's runtime
 * client sends no header on invocation errors), else "Unhandled". */
static void error_type_of(const char *header, const char *body, size_t len, char *out, size_t cap)
{
    if (header && *header) {
        snprintf(out, cap, "%s", header);
        return;
    }
    json_t *parsed = len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *type = json_string_value(json_object_get(parsed, "errorType"));
    snprintf(out, cap, "%s", type && *type ? type : "Unhandled");
    json_decref(parsed);
}

static void fail_with_posted(struct lambda_invocation *inv, const char *header_type,
                             const char *body, size_t len)
{
    char type[128];
    error_type_of(header_type, body, len, type, sizeof(type));
    if (len > 0) {
        lambda_invocation_fail(inv, type, body, len);
        return;
    }
    lambda_invocation_fail_message(inv, type, "Unknown application error occurred");
}

static void finish_streamed(struct http_exchange *ex, struct lambda_invocation *inv)
{
    const char *type = http_exchange_trailer(ex, ERROR_TYPE_HEADER);
    if (!type || !*type) {
        lambda_invocation_succeed(inv);
        return;
    }
    /* A failure mid-stream: the error JSON travels base64-encoded in a trailer. */
    const char *encoded = http_exchange_trailer(ex, ERROR_BODY_TRAILER);
    struct buf body = BUF_INIT;
    if (!encoded || base64_decode(&body, encoded, strlen(encoded)) < 0)
        buf_reset(&body);
    fail_with_posted(inv, type, buf_bytes(&body), buf_length(&body));
    buf_free(&body);
}

/* The wording of AWS's runtime interface emulator
 * (lambda/rapi/handler/invocationresponse.go, aws-lambda-runtime-interface-
 * emulator): "Response payload size (N bytes) exceeded maximum allowed payload
 * size (6291556 bytes)." N is the size the runtime declared; a chunked answer
 * is cut at the cap before its end, so its size is not known and the message
 * keeps the older wording without it. */
static void fail_too_large(struct lambda_invocation *inv, const struct http_message *m)
{
    unsigned long long cap = inv->streaming ? LAMBDA_STREAM_MAX : LAMBDA_RESPONSE_MAX;
    const char *declared = http_header_get(m, "Content-Length");
    char *end = NULL;
    unsigned long long size = declared ? strtoull(declared, &end, 10) : 0;
    char message[160];
    if (declared && end != declared && *end == '\0' && size > cap)
        snprintf(message, sizeof(message),
                 "Response payload size (%llu bytes) exceeded maximum allowed payload size "
                 "(%llu bytes).",
                 size, cap);
    else
        snprintf(message, sizeof(message),
                 "Response payload size exceeded maximum allowed payload size (%llu bytes).", cap);
    lambda_invocation_fail_message(inv, "Function.ResponseSizeTooLarge", message);
}

static void finish_response(struct http_exchange *ex, struct runtime_request *req)
{
    struct lambda_invocation *inv = req->inv;
    const struct http_message *m = http_exchange_request(ex);
    if (http_exchange_body_too_large(ex)) {
        fail_too_large(inv, m);
        answer_too_large(ex);
        return;
    }
    if (inv->state != LAMBDA_INVOCATION_RUNNING) {
        if (strcmp(inv->error_type, "Function.ResponseSizeTooLarge") == 0)
            answer_too_large(ex);
        else
            answer_invalid_state(ex);
        return;
    }
    if (inv->streaming) {
        finish_streamed(ex, inv);
    } else if (buf_append(&inv->result, buf_bytes(&m->body), buf_length(&m->body)) < 0) {
        lambda_invocation_fail_message(inv, "Runtime.OutOfMemory", "out of memory");
    } else {
        lambda_invocation_succeed(inv);
    }
    answer_accepted(ex);
}

static void finish_error(struct http_exchange *ex, struct runtime_request *req)
{
    const struct http_message *m = http_exchange_request(ex);
    if (http_exchange_body_too_large(ex)) {
        answer_too_large(ex);
        return;
    }
    if (req->inv->state != LAMBDA_INVOCATION_RUNNING) {
        answer_invalid_state(ex);
        return;
    }
    fail_with_posted(req->inv, http_header_get(m, ERROR_TYPE_HEADER), buf_bytes(&m->body),
                     buf_length(&m->body));
    answer_accepted(ex);
}

static void finish_init_error(struct http_exchange *ex, struct lambda_sandbox *sb)
{
    const struct http_message *m = http_exchange_request(ex);
    if (http_exchange_body_too_large(ex)) {
        answer_too_large(ex);
        return;
    }
    if (sb->state != LAMBDA_SANDBOX_STARTING) {
        answer_invalid_state(ex);
        return;
    }
    answer_accepted(ex);
    const char *type = http_header_get(m, ERROR_TYPE_HEADER);
    struct buf body = BUF_INIT;
    if (buf_length(&m->body) > 0)
        buf_append(&body, buf_bytes(&m->body), buf_length(&m->body));
    else
        buf_printf(&body, "{\"errorMessage\":\"Unknown init error\",\"errorType\":\"%s\"}",
                   "Runtime.Unknown");
    lambda_sandbox_init_failed(sb, type ? type : "Runtime.Unknown", buf_bytes(&body),
                               buf_length(&body));
    buf_free(&body);
}

static void request_free(struct http_exchange *ex, struct runtime_request *req)
{
    if (req->inv) {
        if (req->inv->upstream == ex)
            req->inv->upstream = NULL;
        lambda_invocation_unref(req->inv);
    }
    free(req);
}

static void on_request(struct http_exchange *ex, void *user)
{
    struct lambda_sandbox *sb = user;
    struct runtime_request *req = http_exchange_user(ex);
    if (!req || (void *)req == (void *)&parked_next)
        return;
    if (req->endpoint == RUNTIME_RESPONSE)
        finish_response(ex, req);
    else if (req->endpoint == RUNTIME_ERROR)
        finish_error(ex, req);
    else
        finish_init_error(ex, sb);
    request_free(ex, req);
}

static void on_abort(struct http_exchange *ex, void *user)
{
    struct lambda_sandbox *sb = user;
    void *req = http_exchange_user(ex);
    if (req == &parked_next) {
        if (sb->waiting_next == ex) {
            sb->waiting_next = NULL;
            /* The runtime dropped its long poll: give it no more work until
             * it asks again (or its process ends). */
            if (sb->state == LAMBDA_SANDBOX_IDLE)
                lambda_sandbox_enter_state(sb, LAMBDA_SANDBOX_FINISHING);
        }
        return;
    }
    if (!req)
        return;
    struct runtime_request *r = req;
    /* An answer cut off: the invocation stays open; its deadline or the
     * runtime's exit decides how it ends, and the runtime may post again. */
    if (r->inv && r->inv->state == LAMBDA_INVOCATION_RUNNING)
        r->inv->responding = 0;
    request_free(ex, r);
}

const struct http_server_callbacks lambda_runtime_api_callbacks = {
    .on_head = on_head,
    .on_body = on_body,
    .on_request = on_request,
    .on_abort = on_abort,
};
