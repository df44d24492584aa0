/* One signed call to an AWS API: the sending path every AWS client in tether
 * shares (STS, Lambda Invoke, and the control-plane clients built on it).
 *
 * aws_call resolves the endpoint (aws/endpoint.h) unless the request names
 * one, joins the endpoint's path with the request's (as the SDKs do: the
 * endpoint's trailing '/' dropped, the request path appended), signs with
 * SigV4 (aws/sigv4.h; the service's signing name, the region from the
 * context, us-east-1 for global services), and sends it with net/http_client:
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY apply; TLS verifies against
 * AWS_CA_BUNDLE when set, else the system store. The answer's body is capped
 * (max_answer) and the transport copy of it wiped, since answers may hold
 * secrets (STS credentials, function payloads).
 *
 * Threads: blocking, on a private loop on the calling thread
 * (http_client_run), so it may run on any thread but never inside another
 * loop's callback.
 *
 * Ownership: everything in the context and the request is borrowed for the
 * call; the answer's body is owned by the answer until aws_answer_free. */
#ifndef TETHER_AWS_CALL_H
#define TETHER_AWS_CALL_H

#include <stddef.h>

#include "aws/credentials.h"
#include "aws/endpoint.h"
#include "core/buf.h"

#define AWS_CALL_DEFAULT_TIMEOUT_MS 30000
#define AWS_CALL_DEFAULT_MAX_ANSWER (1024 * 1024)
#define AWS_CALL_MAX_HEADERS 16 /* extra headers in one request */

struct aws_context {
    /* NULL: the request is sent unsigned, for tether's own services (the
     * embedded Lambda service), which take no signature. */
    const struct aws_credentials *credentials;
    const char *region;  /* NULL: only for global services and STS */
    const char *profile; /* the profile for endpoint settings; NULL: the selected one */
};

struct aws_request {
    const struct aws_service *service;
    const char *method;
    const char *path;         /* already percent-encoded; NULL: "/" */
    const char *query;        /* without '?', or NULL */
    const char *content_type; /* NULL: no body */
    const char *headers;      /* extra "Name: value\r\n" lines, signed too; or NULL */
    const void *body;
    size_t body_len;
    unsigned timeout_ms;  /* 0: 30000 */
    size_t max_answer;    /* 0: 1 MiB; a hard cap */
    const char *endpoint; /* NULL: aws_endpoint_resolve */
};

struct aws_answer {
    int status; /* HTTP status */
    struct buf body;
    /* For a non-2xx answer: x-amzn-ErrorType, else JSON __type / code,
     * else XML <Code>, cleaned as the SDKs do (before ':', after '#'); ""
     * when none. */
    char error_code[128];
    char message[512];    /* JSON message / Message, XML <Message> */
    char request_id[128]; /* x-amzn-RequestId / x-amz-request-id / XML <RequestId> */
    /* X-Amz-Function-Error of a Lambda Invoke answer, else "". */
    char function_error[64];
};

/* 0 when an HTTP answer arrived (any status: callers look at status and
 * error_code), else a transport -errno with cause: -EINVAL for a bad
 * endpoint or request, -ECONNREFUSED, -ETIMEDOUT, -EPROTO (not HTTP, or an
 * answer over max_answer) ... */
int aws_call(const struct aws_context *ctx, const struct aws_request *request,
             struct aws_answer *out, char *cause, size_t cause_len);
void aws_answer_free(struct aws_answer *answer);

/* For a non-2xx answer: "AppSync CreateApi: BadRequestException: <message>
 * (HTTP 400)" into cause and -EIO, or -EACCES for AccessDenied*, -ENOENT for
 * ResourceNotFoundException / NoSuchEntity, -EBUSY for
 * ResourceConflictException, -EEXIST for *AlreadyExists* / ConflictException,
 * so callers can branch. 0 (cause untouched) for a 2xx answer. */
int aws_answer_error(const struct aws_answer *answer, const char *operation, char *cause,
                     size_t cause_len);

/* Reads the error fields of an answer from its headers and body (what
 * aws_call does); for tests and for callers with their own transport. */
struct http_message;
void aws_answer_read_error(struct aws_answer *answer, const struct http_message *message);

#endif
