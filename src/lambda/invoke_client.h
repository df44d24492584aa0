/* The one client of the Lambda Invoke API: one synchronous RequestResponse
 * invocation, POST /2015-03-31/functions/FUNCTION/invocations[?Qualifier=Q],
 * sent through aws/call.h's aws_call (a private loop on the calling thread,
 * so any thread but never inside another loop's callback). Two targets:
 *
 * - tether's own Lambda service (the embedded one of `tether dev`, or
 *   `tether lambda`): `aws` NULL, `endpoint` its http://host:port; unsigned.
 * - AWS Lambda: `aws` set (credentials, region, profile); signed with SigV4
 *   (service "lambda"); the endpoint is `endpoint` when given, else
 *   aws/endpoint.h's rules (AWS_ENDPOINT_URL_LAMBDA, ~/.aws/config, then
 *   https://lambda.REGION.amazonaws.com/).
 *
 * The request is what the AWS SDKs send for Invoke (the same path, query,
 * X-Amz-Invocation-Type and Content-Type: application/octet-stream).
 *
 * Ownership: the request's strings and event are borrowed for the call; the
 * answer's body is owned by the answer until lambda_invoke_answer_free. */
#ifndef TETHER_LAMBDA_INVOKE_CLIENT_H
#define TETHER_LAMBDA_INVOKE_CLIENT_H

#include <stddef.h>

#include "aws/call.h"
#include "core/buf.h"

/* The largest answer: a response of 6291556 bytes, or a little error JSON. */
#define LAMBDA_INVOKE_MAX_ANSWER (8u * 1024 * 1024)
#define LAMBDA_INVOKE_MAX_FUNCTION 170 /* a function ARN with a qualifier */
#define LAMBDA_INVOKE_MAX_QUALIFIER 128

struct lambda_invoke_request {
    const char *endpoint; /* tether's service: http://host:port; AWS: NULL or an override */
    const char *function; /* a name, or in AWS an ARN; percent-encoded into the path */
    const void *event;
    size_t event_len;
    unsigned timeout_ms;           /* the whole call */
    const char *qualifier;         /* a version or alias; NULL: none */
    const struct aws_context *aws; /* NULL: tether's own service, unsigned */
};

struct lambda_invoke_answer {
    int status;           /* the HTTP status */
    int function_error;   /* a 200 whose body is the function's error (X-Amz-Function-Error) */
    char error_type[128]; /* a service error's code (x-amzn-ErrorType ...), else "" */
    char message[512];    /* a service error's message, else "" */
    char request_id[128]; /* x-amzn-RequestId, else "" */
    struct buf body;
};

/* 0 with the service's answer (any status), else a transport failure:
 * -EINVAL (a bad endpoint, function or qualifier; cause says what is wrong),
 * -ECONNREFUSED (nothing listens), -ETIMEDOUT, -EPROTO (not HTTP), or
 * another -errno; cause says why. */
int lambda_invoke(const struct lambda_invoke_request *request, struct lambda_invoke_answer *out,
                  char *cause, size_t cause_len);
void lambda_invoke_answer_free(struct lambda_invoke_answer *answer);

/* Whether FUNCTION is a Lambda function ARN,
 * arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] (a 12-digit
 * account, a name and qualifier of Lambda's characters); 0 with its region
 * in out, else -EINVAL. For ARNs from a peer (a relayed Next) too. */
int lambda_invoke_arn_region(const char *function, char *out, size_t out_len);

#endif
