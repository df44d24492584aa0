/* The one HTTP/1.1 client: requests to one origin (host:port, plain or TLS,
 * directly or through an HTTP proxy's CONNECT tunnel) over a keep-alive
 * connection (net/conn.h), one request at a time, answers read by the capped
 * reader of net/http.h. Every HTTP client in tether is this one: events
 * publishes over HTTP, STS, the bridge's Runtime API calls, `tether invoke`.
 *
 * A request is sent whole (Content-Length) or streamed (chunked, with
 * optional trailers). The connection is kept for the next request when the
 * server allows it and reopened when it is gone. The answer (or a transport
 * failure) is reported once per request through the callback, never from
 * inside the call that made the request.
 *
 * Ownership: the client copies its configuration (the proxy settings too)
 * except tls, which is borrowed and must outlive the client; request strings
 * and bodies are copied during the call. The answer's message is borrowed for
 * the callback only. http_client_free may be called at any time, from a
 * callback too; the memory goes once the connection has closed, after which
 * config.on_released (if any) runs. */
#ifndef TETHER_NET_HTTP_CLIENT_H
#define TETHER_NET_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "net/conn.h"
#include "net/http.h"
#include "net/proxy.h"
#include "net/tls.h"

#define HTTP_CLIENT_MAX_HOST 255
#define HTTP_CLIENT_DEFAULT_MAX_HEADER_BYTES (64 * 1024)

/* The request's phase; the connection is tracked apart (it outlives requests). */
enum http_client_state {
    HTTP_CLIENT_IDLE,      /* no request in progress */
    HTTP_CLIENT_STREAMING, /* the head is written, the body is being streamed */
    HTTP_CLIENT_WAITING,   /* the request is complete; reading the answer */
};

/* status < 0: a transport failure (-ETIMEDOUT, -EPROTO, -ECONNRESET, a
 * connect error ...) with cause set; else the HTTP status and the message. */
typedef void (*http_client_answer_cb)(void *user, int status, const struct http_message *message,
                                      const char *cause);

struct http_client_config {
    const char *host;                 /* a name or an IP literal without brackets */
    uint16_t port;                    /* required */
    const char *host_header;          /* the Host header; NULL: "host:port" */
    struct tls_config *tls;           /* NULL: plain HTTP (borrowed) */
    const struct proxy_config *proxy; /* NULL: connect directly */
    struct http_limits limits;        /* 0 fields: 64 KiB of head, 1 MiB of body */
    uint32_t timeout_ms;              /* request start to complete answer; 0: none */
    /* A request written on a reused keep-alive connection that the server
     * closes before any byte of the answer is sent once more on a new
     * connection. Only for requests the server may receive twice; never for
     * streamed ones. */
    int retry_on_reused;
    int wipe_answers;                /* answers may hold secrets: wipe each body once delivered */
    void (*on_released)(void *user); /* after http_client_free, once all is closed */
    void *released_user;
};

struct http_client_request {
    const char *method;  /* "GET", "POST" ... */
    const char *target;  /* path with optional ?query */
    const char *headers; /* "Name: value\r\n" lines or NULL (not Host, not framing) */
    const void *body;
    size_t body_len;
};

struct http_client;

int http_client_new(struct conn_context *conns, const struct http_client_config *config,
                    struct http_client **out);
void http_client_free(struct http_client *client);

/* Starts a request. Returns -EBUSY while another is in progress, or a connect
 * error (no callback follows). */
int http_client_request(struct http_client *client, const struct http_client_request *request,
                        http_client_answer_cb on_answer, void *user);
/* A request whose body is streamed: begin (body fields ignored), any number
 * of writes, then end with optional trailers ("Name: value\r\n" lines). */
int http_client_stream_begin(struct http_client *client, const struct http_client_request *request,
                             http_client_answer_cb on_answer, void *user);
int http_client_stream_write(struct http_client *client, const void *data, size_t len);
int http_client_stream_end(struct http_client *client, const char *trailers);
/* Drops the request in progress without calling its callback; the
 * connection is closed (its state is unknown). */
void http_client_cancel(struct http_client *client, int status, const char *cause);

enum http_client_state http_client_state(const struct http_client *client);
const char *http_client_state_name(enum http_client_state state);
/* Whether a connection is open (not merely being opened). */
int http_client_connected(const struct http_client *client);

/* One request to the end on a private loop on the calling thread (never
 * from inside another loop's callback). Returns 0 once on_answer got the
 * HTTP answer, or -errno with cause (a transport failure). */
int http_client_run(const struct http_client_config *config,
                    const struct http_client_request *request, http_client_answer_cb on_answer,
                    void *user, char *cause, size_t cause_len);

#endif
