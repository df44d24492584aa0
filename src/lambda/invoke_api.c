/* The Invoke API: POST /2015-03-31/functions/{FunctionName}/invocations.
 *
 * FunctionName may be a name, "name:qualifier", a partial ARN
 * ("123456789012:function:name") or a full ARN, URL-encoded. Only $LATEST
 * exists here. The Runtime Interface Emulator's route, with the name
 * "function", reaches the only (or first) function. SigV4 signatures are
 * accepted without being checked. */
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

#define INVOKE_PREFIX "/2015-03-31/functions/"
#define INVOKE_SUFFIX "/invocations"
#define CLIENT_CONTEXT_MAX 3583

enum invoke_type {
    INVOKE_REQUEST_RESPONSE,
    INVOKE_EVENT,
    INVOKE_DRY_RUN,
};

struct invoke_request {
    const struct lambda_route *route; /* first: see struct lambda_route */
    struct lambda_service *service;
    struct lambda_function *function;
    enum invoke_type type;
    int tail;
    char *client_context;
    struct lambda_invocation *inv; /* referenced while we wait for it */
    struct http_exchange *ex;
};

static const struct lambda_route invoke_route;

/* ---- naming ---- */

static int valid_qualifier(const char *qualifier)
{
    return !qualifier || !*qualifier || strcmp(qualifier, "$LATEST") == 0;
}

/* Splits a decoded FunctionName into name and qualifier, accepting the ARN forms. */
static void split_function_name(char *text, const char **name, const char **qualifier)
{
    char *p = text;
    if (strncmp(p, "arn:", 4) == 0) { /* arn:aws:lambda:REGION:ACCOUNT:function:NAME[:Q] */
        for (int colons = 0; *p && colons < 6; p++)
            if (*p == ':')
                colons++;
    } else {
        char *f = strstr(p, ":function:"); /* ACCOUNT:function:NAME[:Q] */
        if (f)
            p = f + strlen(":function:");
    }
    char *colon = strchr(p, ':');
    if (colon)
        *colon = '\0';
    *name = p;
    *qualifier = colon ? colon + 1 : NULL;
}

static struct lambda_function *find_function(struct lambda_service *s, const char *name)
{
    struct lambda_function *f = lambda_service_find_function(s, name, strlen(name));
    /* The Runtime Interface Emulator's fixed route. */
    if (!f && strcmp(name, "function") == 0)
        f = lambda_service_next_function(s, NULL);
    return f;
}

static void answer_not_found(struct lambda_service *s, struct http_exchange *ex, const char *name,
                             const char *qualifier)
{
    char message[400];
    snprintf(message, sizeof(message), "Function not found: arn:aws:lambda:%s:%s:function:%s%s%s",
             s->config->region, s->config->account_id, name, qualifier ? ":" : "",
             qualifier ? qualifier : "");
    lambda_answer_service_error(ex, 404, "ResourceNotFoundException", message);
}

/* Finds the function the path names (answers 404 itself when there is none). */
static struct lambda_function *resolve(struct lambda_service *s, struct http_exchange *ex)
{
    const struct http_message *m = http_exchange_request(ex);
    const char *encoded = m->path + strlen(INVOKE_PREFIX);
    size_t len = strlen(encoded);
    size_t suffix = strlen(INVOKE_SUFFIX);
    if (len <= suffix || strcmp(encoded + len - suffix, INVOKE_SUFFIX) != 0 || len > 512) {
        lambda_answer_service_error(ex, 404, "UnknownOperationException", "Unknown operation");
        return NULL;
    }
    struct buf decoded = BUF_INIT;
    if (lambda_url_decode_component(&decoded, encoded, len - suffix) < 0 ||
        buf_terminate(&decoded) < 0) {
        buf_free(&decoded);
        lambda_answer_service_error(ex, 500, "ServiceException", "out of memory");
        return NULL;
    }
    const char *name, *qualifier;
    split_function_name(buf_bytes(&decoded), &name, &qualifier);
    /* ?Qualifier= wins over nothing; both must be $LATEST here. */
    const char *q = strstr(m->query, "Qualifier=");
    char query_qualifier[64] = "";
    if (q && (q == m->query || q[-1] == '&'))
        snprintf(query_qualifier, sizeof(query_qualifier), "%.*s", (int)strcspn(q + 10, "&"),
                 q + 10);
    if (!qualifier && query_qualifier[0])
        qualifier = strcmp(query_qualifier, "%24LATEST") == 0 ? "$LATEST" : query_qualifier;
    struct lambda_function *f = valid_qualifier(qualifier) ? find_function(s, name) : NULL;
    if (!f)
        answer_not_found(s, ex, name, qualifier);
    buf_free(&decoded);
    return f;
}

/* ---- headers ---- */

static int parse_type(const struct http_message *m, enum invoke_type *type)
{
    const char *value = http_header_get(m, "X-Amz-Invocation-Type");
    *type = INVOKE_REQUEST_RESPONSE;
    if (!value || strcmp(value, "RequestResponse") == 0)
        return 0;
    if (strcmp(value, "Event") == 0)
        *type = INVOKE_EVENT;
    else if (strcmp(value, "DryRun") == 0)
        *type = INVOKE_DRY_RUN;
    else
        return -EINVAL;
    return 0;
}

/* X-Amz-Client-Context: base64 of a JSON object, at most 3583 characters.
 * Kept re-serialised on one line, as it becomes a header for the runtime. */
static int parse_client_context(const struct http_message *m, char **out)
{
    const char *value = http_header_get(m, "X-Amz-Client-Context");
    *out = NULL;
    if (!value || !*value)
        return 0;
    if (strlen(value) > CLIENT_CONTEXT_MAX)
        return -E2BIG;
    struct buf decoded = BUF_INIT;
    int rc = base64_decode(&decoded, value, strlen(value));
    json_t *json = rc == 0 ? json_loadb(buf_bytes(&decoded), buf_length(&decoded), 0, NULL) : NULL;
    buf_free(&decoded);
    if (!json_is_object(json)) {
        json_decref(json);
        return -EINVAL;
    }
    *out = json_dumps(json, JSON_COMPACT);
    json_decref(json);
    return *out ? 0 : -ENOMEM;
}

static int validate_headers(struct invoke_request *req, struct http_exchange *ex)
{
    const struct http_message *m = http_exchange_request(ex);
    const char *log_type = http_header_get(m, "X-Amz-Log-Type");
    if (parse_type(m, &req->type) < 0) {
        lambda_answer_service_error(ex, 400, "InvalidParameterValueException",
                                    "X-Amz-Invocation-Type must be RequestResponse, Event or "
                                    "DryRun");
        return -EINVAL;
    }
    if (log_type && strcmp(log_type, "None") != 0 && strcmp(log_type, "Tail") != 0) {
        lambda_answer_service_error(ex, 400, "InvalidParameterValueException",
                                    "X-Amz-Log-Type must be None or Tail");
        return -EINVAL;
    }
    req->tail = log_type && strcmp(log_type, "Tail") == 0 && req->type == INVOKE_REQUEST_RESPONSE;
    int rc = parse_client_context(m, &req->client_context);
    if (rc < 0) {
        lambda_answer_service_error(ex, 400, "InvalidRequestContentException",
                                    rc == -E2BIG ? "Client context must be at most 3583 bytes"
                                                 : "Client context must be a valid "
                                                   "Base64-encoded JSON object.");
        return rc;
    }
    return 0;
}

/* ---- the request ---- */

static void request_free(struct invoke_request *req)
{
    if (req->inv)
        lambda_invocation_unref(req->inv);
    free(req->client_context);
    free(req);
}

void lambda_invoke_api_head(struct lambda_service *s, struct http_exchange *ex)
{
    const struct http_message *m = http_exchange_request(ex);
    if (strcmp(m->method, "POST") != 0) {
        lambda_answer_service_error(ex, 405, "MethodNotAllowedException", "Invoke takes POST");
        return;
    }
    struct lambda_function *f = resolve(s, ex);
    if (!f || lambda_control_check_invoke(f, ex) < 0)
        return;
    struct invoke_request *req = calloc(1, sizeof(*req));
    if (!req) {
        lambda_answer_service_error(ex, 500, "ServiceException", "out of memory");
        return;
    }
    req->route = &invoke_route;
    req->service = s;
    req->function = f;
    req->ex = ex;
    if (validate_headers(req, ex) < 0) {
        request_free(req);
        return;
    }
    http_exchange_take_body(ex, HTTP_BODY_BUFFER,
                            req->type == INVOKE_EVENT ? LAMBDA_ASYNC_PAYLOAD_MAX
                                                      : LAMBDA_SYNC_PAYLOAD_MAX);
    http_exchange_set_user(ex, req);
}

static int check_payload(struct http_exchange *ex, const struct buf *body)
{
    if (buf_length(body) == 0)
        return 0;
    json_error_t error;
    /* Any JSON value, as Lambda takes it: also integers beyond 64 bits and \u0000. */
    json_t *json = json_loadb(buf_bytes(body), buf_length(body),
                              JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &error);
    if (json) {
        json_decref(json);
        return 0;
    }
    char message[300];
    snprintf(message, sizeof(message), "Could not parse request body into json: %s", error.text);
    lambda_answer_service_error(ex, 400, "InvalidRequestContentException", message);
    return -EINVAL;
}

static void answer_too_large(struct invoke_request *req, struct http_exchange *ex)
{
    char message[160];
    snprintf(message, sizeof(message),
             "Request must be smaller than %u bytes for the InvokeFunction operation",
             req->type == INVOKE_EVENT ? LAMBDA_ASYNC_PAYLOAD_MAX : LAMBDA_SYNC_PAYLOAD_MAX);
    lambda_answer_service_error(ex, 413, "RequestTooLargeException", message);
}

static void answer_throttled(struct http_exchange *ex, int rc)
{
    static const char body[] = "{\"Reason\":\"ReservedFunctionConcurrentInvocationLimitExceeded\","
                               "\"Type\":\"User\",\"message\":\"Rate Exceeded.\"}";
    if (rc == -ESHUTDOWN) {
        lambda_answer_service_error(ex, 503, "ServiceException", "The service is stopping");
        return;
    }
    http_exchange_respond(ex, 429,
                          "Content-Type: application/json\r\n"
                          "x-amzn-ErrorType: TooManyRequestsException\r\n",
                          body, sizeof(body) - 1);
}

static struct lambda_invocation *make_invocation(struct invoke_request *req,
                                                 struct http_exchange *ex)
{
    const struct http_message *m = http_exchange_request(ex);
    struct lambda_invocation *inv =
        lambda_invocation_new(req->function, req->type == INVOKE_EVENT ? LAMBDA_INVOCATION_EVENT
                                                                       : LAMBDA_INVOCATION_SYNC);
    if (!inv)
        return NULL;
    const char *trace = http_header_get(m, "X-Amzn-Trace-Id");
    if (trace && *trace)
        snprintf(inv->trace_id, sizeof(inv->trace_id), "%s", trace);
    inv->client_context = req->client_context;
    req->client_context = NULL;
    int rc = buf_length(&m->body)
                 ? buf_append(&inv->payload, buf_bytes(&m->body), buf_length(&m->body))
                 : buf_append_str(&inv->payload, "{}");
    if (rc < 0) {
        lambda_invocation_unref(inv);
        return NULL;
    }
    return inv;
}

static void answer_event(struct http_exchange *ex, struct lambda_invocation *inv)
{
    char headers[128];
    snprintf(headers, sizeof(headers), "x-amzn-RequestId: %s\r\n", inv->request_id);
    http_exchange_respond(ex, 202, headers, NULL, 0);
}

static const struct lambda_caller_ops invoke_caller;

static void on_request(struct http_exchange *ex, void *request)
{
    struct invoke_request *req = request;
    const struct http_message *m = http_exchange_request(ex);
    if (http_exchange_body_too_large(ex)) {
        answer_too_large(req, ex);
    } else if (check_payload(ex, &m->body) == 0 && req->type == INVOKE_DRY_RUN) {
        http_exchange_respond(ex, 204, NULL, NULL, 0);
    } else if (!http_exchange_answer_started(ex)) {
        struct lambda_invocation *inv = make_invocation(req, ex);
        if (!inv) {
            lambda_answer_service_error(ex, 500, "ServiceException", "out of memory");
        } else if (req->type == INVOKE_EVENT) {
            int rc = lambda_function_submit(req->function, inv);
            if (rc < 0)
                answer_throttled(ex, rc);
            else
                answer_event(ex, inv);
            lambda_invocation_unref(inv);
        } else {
            req->inv = inv;
            lambda_invocation_set_caller(inv, &invoke_caller, req);
            /* May finish (and free req) before it returns. */
            int rc = lambda_function_submit(req->function, inv);
            if (rc < 0) {
                lambda_invocation_set_caller(inv, NULL, NULL);
                answer_throttled(ex, rc);
                request_free(req);
            }
            return;
        }
    }
    request_free(req);
}

static void on_abort(struct http_exchange *ex, void *request)
{
    struct invoke_request *req = request;
    (void)ex;
    if (req->inv)
        lambda_invocation_detach_caller(req->inv);
    request_free(req);
}

static const struct lambda_route invoke_route = {
    .on_request = on_request,
    .on_abort = on_abort,
};

/* ---- the answer ---- */

static void finish(struct lambda_invocation *inv, void *caller)
{
    struct invoke_request *req = caller;
    struct http_exchange *ex = req->ex;
    if (inv->outcome == LAMBDA_OUTCOME_CANCELLED) {
        lambda_answer_service_error(ex, 503, "ServiceException", "The service is stopping");
        request_free(req);
        return;
    }
    struct buf headers = BUF_INIT;
    buf_printf(&headers,
               "Content-Type: application/json\r\nX-Amz-Executed-Version: $LATEST\r\n"
               "x-amzn-RequestId: %s\r\nX-Amzn-Trace-Id: %s\r\n",
               inv->request_id, inv->trace_id);
    if (inv->outcome == LAMBDA_OUTCOME_ERROR)
        buf_append_str(&headers, "X-Amz-Function-Error: Unhandled\r\n");
    if (req->tail) {
        buf_append_str(&headers, "X-Amz-Log-Result: ");
        base64_encode(&headers, inv->tail.data, inv->tail.len);
        buf_append_str(&headers, "\r\n");
    }
    buf_terminate(&headers); /* handed over as a C string */
    http_exchange_respond(ex, 200, buf_bytes(&headers), buf_bytes(&inv->result),
                          buf_length(&inv->result));
    buf_free(&headers);
    request_free(req);
}

static const struct lambda_caller_ops invoke_caller = {
    .finish = finish,
};
