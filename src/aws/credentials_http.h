/* One blocking HTTP(S) request for the credential sources that ask a service
 * (STS AssumeRole): it runs a private libuv loop on the calling thread, so it
 * may be called from any thread but never from inside another loop's
 * callback. HTTPS_PROXY / HTTP_PROXY / NO_PROXY apply (net/proxy.h); TLS
 * verifies against AWS_CA_BUNDLE when set, else the system store.
 *
 * Ownership: the request's strings are borrowed for the call; the response
 * body is owned by the response and freed (wiped: it may hold credentials)
 * by aws_http_response_free. */
#ifndef TETHER_AWS_CREDENTIALS_HTTP_H
#define TETHER_AWS_CREDENTIALS_HTTP_H

#include <stddef.h>

#include "core/buf.h"

#define AWS_HTTP_MAX_RESPONSE (256 * 1024)
#define AWS_HTTP_TIMEOUT_MS 15000

struct aws_http_request {
    const char *url;  /* http(s)://host[:port]/path */
    const char *head; /* the whole request head: request line, headers, blank line */
    const void *body;
    size_t body_len;
    unsigned timeout_ms; /* 0: AWS_HTTP_TIMEOUT_MS */
};

struct aws_http_response {
    int status;
    struct buf body;
};

int aws_http_send(const struct aws_http_request *request, struct aws_http_response *response,
                  char *cause, size_t cause_len);
void aws_http_response_free(struct aws_http_response *response);

#endif
