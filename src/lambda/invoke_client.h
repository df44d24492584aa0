/* A client of the Lambda Invoke API (what `tether invoke` uses against the
 * embedded Lambda service of `tether dev`): one synchronous RequestResponse
 * invocation, POST /2015-03-31/functions/NAME/invocations, run to the end on
 * a private loop on the calling thread (net/http_client.h's http_client_run).
 *
 * Ownership: the request's strings and event are borrowed for the call; the
 * answer's body is owned by the answer until lambda_invoke_answer_free. */
#ifndef TETHER_LAMBDA_INVOKE_CLIENT_H
#define TETHER_LAMBDA_INVOKE_CLIENT_H

#include <stddef.h>

#include "core/buf.h"

/* The largest answer: a response of 6291556 bytes, or a little error JSON. */
#define LAMBDA_INVOKE_MAX_ANSWER (8u * 1024 * 1024)

struct lambda_invoke_request {
    const char *endpoint; /* http://host:port of the Invoke API (https is not served) */
    const char *function; /* its name; percent-encoded into the path */
    const void *event;
    size_t event_len;
    unsigned timeout_ms; /* the whole call */
};

struct lambda_invoke_answer {
    int status;          /* the HTTP status */
    int function_error;  /* a 200 whose body is the function's error (X-Amz-Function-Error) */
    char error_type[96]; /* a service error's x-amzn-ErrorType, else "" */
    char message[400];   /* a service error's Message (or message), else "" */
    struct buf body;
};

/* 0 with the service's answer (any status), else a transport failure:
 * -EINVAL (an endpoint that is not http://; cause says what is wrong with it), -ECONNREFUSED
 * (nothing listens), -ETIMEDOUT, -EPROTO (not HTTP), or another -errno; cause says why. */
int lambda_invoke(const struct lambda_invoke_request *request, struct lambda_invoke_answer *out,
                  char *cause, size_t cause_len);
void lambda_invoke_answer_free(struct lambda_invoke_answer *answer);

#endif
