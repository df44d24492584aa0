/* A client for Lambda's Runtime API (http://$AWS_LAMBDA_RUNTIME_API) on the
 * one HTTP client (net/http_client.h): one keep-alive HTTP/1.1 connection,
 * one request at a time, reconnecting when the service closed it. Request
 * bodies are sent whole or streamed with chunked encoding and trailers
 * (response streaming). The answer callback never runs inside the call that
 * made the request; runtime_client_free may be called from it. The call's
 * state is the HTTP client's (enum http_client_state). */
#ifndef TETHER_BRIDGE_RUNTIME_CLIENT_H
#define TETHER_BRIDGE_RUNTIME_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "net/conn.h"
#include "net/http.h"

struct runtime_client;

/* The answer: status < 0 is a transport failure (cause set), else the HTTP
 * status with the message (borrowed for the call). */
typedef void (*runtime_answer_cb)(void *ctx, int status, const struct http_message *message,
                                  const char *cause);

struct runtime_client *runtime_client_new(struct conn_context *conns, const char *host,
                                          uint16_t port);
void runtime_client_free(struct runtime_client *rc);

/* headers: "Name: value\r\n" lines or NULL. The body is copied. Returns
 * -EBUSY while another request is in progress. */
int runtime_client_request(struct runtime_client *rc, const char *method, const char *path,
                           const char *headers, const void *body, size_t len,
                           runtime_answer_cb on_answer, void *ctx);
/* Streaming POST: begin, any number of writes, then end with optional
 * trailers ("Name: value\r\n" lines); the answer arrives after end. */
int runtime_client_stream_begin(struct runtime_client *rc, const char *path, const char *headers,
                                runtime_answer_cb on_answer, void *ctx);
int runtime_client_stream_write(struct runtime_client *rc, const void *data, size_t len);
int runtime_client_stream_end(struct runtime_client *rc, const char *trailers);

/* The answer to GET /next written back as HTTP/1.1 text (status line,
 * headers, blank line, body): what the bridge relays as Next. */
int runtime_message_to_text(const struct http_message *message, struct buf *out);

#endif
