/* Function URLs: an HTTP request becomes a payload-format-2.0 event, the
 * function's answer becomes the HTTP response. Served on the main port under
 * /url/NAME/... and, when configured, on a port of the function's own.
 *
 * Buffered functions answer once; streaming functions (config "streaming")
 * are relayed as the runtime sends: the JSON prelude of an
 * "application/vnd.awslambda.http-integration-response" stream becomes the
 * status and headers, the rest goes out with chunked encoding. The relay
 * pauses the runtime's upload while the client's connection has more than
 * LAMBDA_STREAM_HIGH_WATER bytes unsent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_MODULE "lambda"
#include "core/log.h"
#include "lambda/lambda_internal.h"
#include "lambda/url_event.h"

#define JSON_TYPE "Content-Type: application/json\r\n"

struct url_request {
    const struct lambda_route *route; /* first: see struct lambda_route */
    struct lambda_function *function;
    struct http_exchange *ex;
    char *raw_path;
    struct lambda_invocation *inv; /* referenced while we wait for it */
    int answered;                  /* the exchange is finished: do not touch it */
    int head_sent;                 /* a streamed answer has started */
    int prelude_mode;
    struct lambda_url_prelude prelude;
};

static const struct lambda_route url_route;
static const struct lambda_caller_ops buffered_caller;
static const struct lambda_caller_ops streaming_caller;

static void request_free(struct url_request *req)
{
    if (req->inv)
        lambda_invocation_unref(req->inv);
    lambda_url_prelude_free(&req->prelude);
    free(req->raw_path);
    free(req);
}

static void answer_message(struct url_request *req, int status, const char *message)
{
    char body[128];
    int n = snprintf(body, sizeof(body), "{\"message\":\"%s\"}", message);
    http_exchange_respond(req->ex, status, JSON_TYPE, body, (size_t)n);
    req->answered = 1;
}

void lambda_function_url_head(struct lambda_function *f, struct http_exchange *ex,
                              const char *raw_path)
{
    struct url_request *req = calloc(1, sizeof(*req));
    if (req)
        req->raw_path = strdup(raw_path);
    if (!req || !req->raw_path) {
        free(req);
        http_exchange_respond(ex, 500, NULL, NULL, 0);
        return;
    }
    req->route = &url_route;
    req->function = f;
    req->ex = ex;
    lambda_url_prelude_init(&req->prelude);
    /* Function URLs take the synchronous payload limit, 6 MB. */
    http_exchange_take_body(ex, HTTP_BODY_BUFFER, LAMBDA_SYNC_PAYLOAD_MAX);
    http_exchange_set_user(ex, req);
}

/* ---- the request becomes an event ---- */

static int build_event(struct url_request *req, struct lambda_invocation *inv)
{
    const struct http_message *m = http_exchange_request(req->ex);
    char protocol[16];
    snprintf(protocol, sizeof(protocol), "HTTP/%u.%u", m->http_major, m->http_minor);
    struct lambda_url_request event = {
        .method = m->method,
        .raw_path = req->raw_path,
        .raw_query = m->query,
        .protocol = protocol,
        .source_ip = http_exchange_peer_ip(req->ex),
        .headers = m->headers,
        .header_count = m->header_count,
        .body = buf_bytes(&m->body),
        .body_len = buf_length(&m->body),
        .request_id = inv->request_id,
        .trace_id = inv->trace_id,
        .time_epoch_ms = lambda_now_epoch_ms(),
        .url_id = req->function->url_id,
        .region = req->function->service->config->region,
        .port = http_exchange_local_port(req->ex),
    };
    return lambda_url_event_build(&event, &inv->payload);
}

static void on_request(struct http_exchange *ex, void *request)
{
    struct url_request *req = request;
    (void)ex;
    if (http_exchange_body_too_large(req->ex)) {
        answer_message(req, 413, "Request Entity Too Large");
        request_free(req);
        return;
    }
    struct lambda_invocation *inv = lambda_invocation_new(req->function, LAMBDA_INVOCATION_URL);
    if (!inv || build_event(req, inv) < 0) {
        lambda_invocation_unref(inv);
        answer_message(req, 500, "Internal Server Error");
        request_free(req);
        return;
    }
    req->inv = inv;
    lambda_invocation_set_caller(
        inv, req->function->config->streaming ? &streaming_caller : &buffered_caller, req);
    /* May finish (and free req) before it returns. */
    int rc = lambda_function_submit(req->function, inv);
    if (rc < 0) {
        lambda_invocation_set_caller(inv, NULL, NULL);
        answer_message(req, rc == -EAGAIN ? 429 : 503,
                       rc == -EAGAIN ? "Too Many Requests" : "Service Unavailable");
        request_free(req);
    }
}

static void on_abort(struct http_exchange *ex, void *request)
{
    struct url_request *req = request;
    (void)ex;
    if (req->inv)
        lambda_invocation_detach_caller(req->inv);
    request_free(req);
}

static const struct lambda_route url_route = {
    .on_request = on_request,
    .on_abort = on_abort,
};

/* ---- buffered answers ---- */

static void answer_buffered(struct url_request *req, struct lambda_invocation *inv)
{
    struct lambda_url_response response;
    char cause[200];
    lambda_url_response_init(&response);
    if (lambda_url_response_map(buf_bytes(&inv->result), buf_length(&inv->result), &response, cause,
                                sizeof(cause)) < 0) {
        log_warn("%s %s: function URL answer refused: %s", req->function->config->name,
                 inv->request_id, cause);
        answer_message(req, 502, "Internal Server Error");
    } else {
        buf_terminate(&response.headers); /* handed over as a C string */
        http_exchange_respond(req->ex, response.status, buf_bytes(&response.headers),
                              buf_bytes(&response.body), buf_length(&response.body));
        req->answered = 1;
    }
    lambda_url_response_free(&response);
}

static void finish(struct lambda_invocation *inv, void *caller)
{
    struct url_request *req = caller;
    if (req->answered) {
        /* already answered (a broken stream) */
    } else if (req->head_sent) {
        /* A stream that fails after its head can only be cut short. */
        if (inv->outcome == LAMBDA_OUTCOME_SUCCESS)
            http_exchange_end_stream(req->ex, NULL);
        else
            http_exchange_abort(req->ex, "the function failed mid-stream");
    } else if (inv->outcome == LAMBDA_OUTCOME_CANCELLED) {
        answer_message(req, 503, "Service Unavailable");
    } else if (inv->outcome != LAMBDA_OUTCOME_SUCCESS || inv->stream_started) {
        /* A function error, or a stream that ended inside its prelude. */
        answer_message(req, 502, "Internal Server Error");
    } else {
        answer_buffered(req, inv);
    }
    request_free(req);
}

static const struct lambda_caller_ops buffered_caller = {
    .finish = finish,
};

/* ---- streamed answers ---- */

static void stream_begin(struct lambda_invocation *inv, void *caller, const char *content_type)
{
    struct url_request *req = caller;
    (void)inv;
    size_t n = strlen(LAMBDA_URL_STREAM_CONTENT_TYPE);
    if (strncasecmp(content_type, LAMBDA_URL_STREAM_CONTENT_TYPE, n) == 0) {
        req->prelude_mode = 1;
        return;
    }
    /* The runtime chose this type: it must not split the answer's head. */
    char type[201], headers[256];
    if (http_header_value_clean(type, sizeof(type), content_type) == 0)
        snprintf(type, sizeof(type), "application/octet-stream");
    snprintf(headers, sizeof(headers), "Content-Type: %s\r\n", type);
    http_exchange_start_stream(req->ex, 200, headers);
    req->head_sent = 1;
}

static void on_drained(struct http_exchange *ex, void *user)
{
    struct url_request *req = user;
    (void)ex;
    if (req->inv)
        lambda_invocation_resume_stream(req->inv);
}

/* Takes the prelude off the front; returns the bytes of body left, or -1
 * when the stream cannot be answered (502 sent). */
static ssize_t take_prelude(struct url_request *req, const char **data, size_t len)
{
    struct lambda_url_response head;
    char cause[200];
    size_t offset = 0;
    lambda_url_response_init(&head);
    int rc =
        lambda_url_prelude_feed(&req->prelude, *data, len, &offset, &head, cause, sizeof(cause));
    if (rc == 1) {
        buf_terminate(&head.headers);
        http_exchange_start_stream(req->ex, head.status, buf_bytes(&head.headers));
        req->head_sent = 1;
        *data += offset;
    } else if (rc < 0) {
        log_warn("%s: bad streaming prelude: %s", req->function->config->name, cause);
        answer_message(req, 502, "Internal Server Error");
    }
    lambda_url_response_free(&head);
    if (rc < 0)
        return -1;
    return rc == 1 ? (ssize_t)(len - offset) : 0;
}

static int stream_data(struct lambda_invocation *inv, void *caller, const char *data, size_t len)
{
    struct url_request *req = caller;
    (void)inv;
    if (req->answered)
        return 0;
    if (req->prelude_mode && !req->prelude.done) {
        ssize_t left = take_prelude(req, &data, len);
        if (left <= 0)
            return 0;
        len = (size_t)left;
    }
    if (http_exchange_write(req->ex, data, len) < 0)
        return 0; /* the client is gone; on_abort follows */
    if (http_exchange_pending_output(req->ex) > LAMBDA_STREAM_HIGH_WATER) {
        http_exchange_on_drain(req->ex, LAMBDA_STREAM_LOW_WATER, on_drained, req);
        return 1;
    }
    return 0;
}

static const struct lambda_caller_ops streaming_caller = {
    .finish = finish,
    .stream_begin = stream_begin,
    .stream_data = stream_data,
};

/* ---- a port of the function's own ---- */

static void own_on_head(struct http_exchange *ex, void *user)
{
    const char *target = http_exchange_request(ex)->target;
    char *raw = strndup(target, strcspn(target, "?"));
    if (!raw || raw[0] != '/') {
        free(raw);
        http_exchange_respond(ex, 400, NULL, NULL, 0);
        return;
    }
    lambda_function_url_head(user, ex, raw);
    free(raw);
}

static void own_on_request(struct http_exchange *ex, void *user)
{
    (void)user;
    struct url_request *req = http_exchange_user(ex);
    if (req)
        on_request(ex, req);
}

static void own_on_abort(struct http_exchange *ex, void *user)
{
    (void)user;
    struct url_request *req = http_exchange_user(ex);
    if (req)
        on_abort(ex, req);
}

const struct http_server_callbacks lambda_function_url_callbacks = {
    .on_head = own_on_head,
    .on_request = own_on_request,
    .on_abort = own_on_abort,
};
