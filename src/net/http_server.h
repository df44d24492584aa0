/* A generic HTTP/1.1 server on conn.h: one listener, one http_reader per
 * connection, keep-alive, answers that may come later (long polls) or be
 * streamed (chunked transfer encoding with trailers), request bodies either
 * buffered under a per-request cap or streamed to the handler as they arrive.
 *
 * Exchanges. Every request becomes a struct http_exchange, owned by the server.
 * The handler sees it through the callbacks below and answers it with exactly
 * one of http_exchange_respond(), http_exchange_start_stream() ...
 * http_exchange_end_stream(), or http_exchange_abort(). The handler may keep
 * the pointer until the first of: its answer is complete (respond, end_stream,
 * abort), or on_abort is called (client gone, server closing). After that it
 * must not touch the exchange again; the server frees it at a safe point
 * (never inside a call the handler made).
 *
 * Bodies. In on_head the handler picks, with http_exchange_take_body():
 *   HTTP_BODY_BUFFER  the body is collected into request->body (the default);
 *   HTTP_BODY_STREAM  each piece goes to on_body (borrowed, valid during the
 *                     call), request->body stays empty;
 * with a cap on the whole body. A body over its cap is never stored: the
 * handler gets on_request with http_exchange_body_too_large() set and answers
 * (usually 413); if it does not, the server answers 413. Either way the rest
 * of that body is read and dropped (up to HTTP_SERVER_MAX_DISCARD bytes, then
 * the connection is closed), so the client can read its answer.
 * "Expect: 100-continue" is answered after on_head unless the handler has
 * already answered; a connection whose body was refused before it was sent is
 * closed after the answer.
 *
 * Bad input (malformed HTTP, oversized head, timeouts) gets a 4xx answer and
 * closes that one connection; nothing else is affected. The body of that
 * answer (and of the server's own 413) is plain text unless the user shapes
 * it with callbacks.format_error (the broker writes AWS's JSON errors).
 *
 * Upgrades. A handler may answer a request that asks for a protocol switch
 * with http_exchange_upgrade(): the server writes "101 Switching Protocols"
 * and from then on hands every byte the client sends, starting with those it
 * had already read after the request, to the upgrade callbacks. The
 * connection stays the server's: it counts against max_connections and
 * http_server_close() closes it. Pipelined requests are
 * read one at a time: input that arrives while an answer is pending is kept up
 * to a small cap, then reading pauses. Output goes through conn_write, so a
 * client that does not read is disconnected at the output limit; streaming
 * handlers should use http_exchange_pending_output()/http_exchange_on_drain()
 * to slow their source down instead. */
#ifndef TETHER_NET_HTTP_SERVER_H
#define TETHER_NET_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "net/conn.h"
#include "net/http.h"

#define HTTP_SERVER_MAX_DISCARD (64u * 1024 * 1024)

struct http_server;
struct http_exchange;

enum http_body_mode {
    HTTP_BODY_BUFFER,
    HTTP_BODY_STREAM,
};

struct http_server_callbacks {
    /* The request line and headers are in; the body has not been delivered
     * yet. May answer at once (the body is then dropped), choose the body
     * mode, keep the exchange for later, or do nothing. Optional: without
     * it every body is buffered under the server's cap. */
    void (*on_head)(struct http_exchange *ex, void *user);
    /* HTTP_BODY_STREAM only: the next piece of the body. */
    void (*on_body)(struct http_exchange *ex, const char *data, size_t len, void *user);
    /* The whole request (and any trailers) is in, or the body was too large.
     * Not called when the handler already answered. Required. */
    void (*on_request)(struct http_exchange *ex, void *user);
    /* The exchange ends before the handler's answer was complete: the client
     * closed, the connection failed, or the server is closing. Optional. */
    void (*on_abort)(struct http_exchange *ex, void *user);
    /* Shapes the answers the server writes itself (malformed or oversized
     * requests, timeouts, a refused body): appends "Name: value\r\n" header
     * text (at least Content-Type) and the body. Optional: the default is
     * text/plain with `why` as the body. */
    void (*format_error)(int status, const char *why, struct buf *headers, struct buf *body,
                         void *user);
};

/* The connection after http_exchange_upgrade(): bytes arrive here instead of
 * going to the HTTP reader. */
struct http_upgrade_callbacks {
    /* What the client sent (borrowed, valid during the call). */
    void (*on_data)(void *user, const char *data, size_t len);
    /* The connection is closed (status 0 orderly, else -errno) and the conn
     * handed out by http_exchange_upgrade() is gone. Called once. */
    void (*on_close)(void *user, int status, const char *cause);
};

struct http_server_config {
    const char *name;         /* for logs: "lambda", "runtime 1f3a..." */
    const char *host;         /* an IP address */
    uint16_t port;            /* 0 picks a free port: see http_server_port() */
    size_t max_header_bytes;  /* request line + headers (and trailers); default 32 KiB */
    size_t max_body_bytes;    /* default cap for bodies; default 1 MiB */
    size_t max_connections;   /* default 256; more are closed at once */
    size_t output_limit;      /* per connection; default CONN_DEFAULT_OUTPUT_LIMIT */
    uint64_t head_timeout_ms; /* idle keep-alive and reading a head; default 60 s, 0 none */
    uint64_t body_timeout_ms; /* silence while reading a body; default 60 s, 0 none */
    struct tls_config *tls;   /* NULL: plain TCP; borrowed, must outlive the server */
    /* Host check: a server listening on a loopback address answers only
     * requests whose Host names loopback (http_host_is_loopback with this
     * server's port; a request without Host is taken), others get 403, so
     * a web page cannot reach it by DNS rebinding. any_host turns that off. */
    int any_host;
    /* Unauthenticated connections. With untrusted_timeout_ms set, every new
     * connection is untrusted until a handler calls http_exchange_trust()
     * (for example once a request passed authorization); one still
     * untrusted that long after it was accepted is closed (408 when a
     * request was under way), and beyond max_untrusted of them new
     * connections are refused at once (503) while trusted ones carry on.
     * 0: every connection is trusted from the start. */
    uint64_t untrusted_timeout_ms;
    size_t max_untrusted; /* default max_connections / 4 */
};

/* Starts listening. The server keeps pointers to config->name (copied) only;
 * ctx and loop must outlive it. */
int http_server_start(struct conn_context *ctx, const struct http_server_config *config,
                      const struct http_server_callbacks *callbacks, void *user,
                      struct http_server **out, char *cause, size_t cause_len);
uint16_t http_server_port(const struct http_server *server);
size_t http_server_connection_count(const struct http_server *server);
/* Stops listening and closes every connection; exchanges still waiting for an
 * answer get on_abort. The server is freed once its last connection and
 * handle are closed, then on_closed(user) runs (may be NULL). Idempotent. */
void http_server_close(struct http_server *server, void (*on_closed)(void *user), void *user);

/* ---- the request ---- */
const struct http_message *http_exchange_request(const struct http_exchange *ex);
/* A trailer sent after a chunked body (NULL when absent); valid in on_request. */
const char *http_exchange_trailer(const struct http_exchange *ex, const char *name);
/* The client's address without the port ("127.0.0.1"). */
const char *http_exchange_peer_ip(const struct http_exchange *ex);
uint16_t http_exchange_local_port(const struct http_exchange *ex);
/* Marks the exchange's connection as trusted (see untrusted_timeout_ms):
 * no deadline and no longer counted against max_untrusted. Idempotent. */
void http_exchange_trust(struct http_exchange *ex);
int http_exchange_trusted(const struct http_exchange *ex);
void http_exchange_set_user(struct http_exchange *ex, void *user);
void *http_exchange_user(const struct http_exchange *ex);
/* In on_head: how to take the body and its cap (0: the server's default). */
void http_exchange_take_body(struct http_exchange *ex, enum http_body_mode mode, size_t max_bytes);
int http_exchange_body_too_large(const struct http_exchange *ex);
/* Back-pressure for streamed bodies: stop/restart delivering on_body. */
void http_exchange_pause_body(struct http_exchange *ex);
void http_exchange_resume_body(struct http_exchange *ex);

/* ---- the answer ----
 * `headers` is "Name: value\r\n" text (may be NULL) without Content-Length,
 * Transfer-Encoding or Connection: the server writes those (and Date).
 * Each returns 0, -EPIPE when the connection is gone (the exchange is then
 * finished as if answered), or -EALREADY when an answer was already started. */
int http_exchange_respond(struct http_exchange *ex, int status, const char *headers,
                          const void *body, size_t body_len);
/* Chunked answer (HTTP/1.0 clients: the body ends with the connection). Put
 * "Trailer: A, B\r\n" in headers to announce trailers. */
int http_exchange_start_stream(struct http_exchange *ex, int status, const char *headers);
int http_exchange_write(struct http_exchange *ex, const void *data, size_t len);
/* Ends a streamed answer; trailers: "Name: value\r\n" text or NULL. */
int http_exchange_end_stream(struct http_exchange *ex, const char *trailers);
/* Closes the connection at once: a streamed answer stops without its final
 * chunk so the client sees it was cut short. Finishes the exchange. */
void http_exchange_abort(struct http_exchange *ex, const char *why);
int http_exchange_answer_started(const struct http_exchange *ex);
/* Before answering: the connection ends after this answer ("Connection:
 * close"), whether or not the rest of the request has arrived. For refusals
 * that leave the client's stream in an unknown state. */
void http_exchange_close_after(struct http_exchange *ex);
/* Answers a protocol-switch request (the request's `upgrade` is set) with
 * "HTTP/1.1 101 Switching Protocols", the given header text (as for
 * respond, but written as is: no Date) and the blank line, and hands the
 * connection to `callbacks`. Finishes the exchange. Returns the connection
 * for the caller's writes and conn_close(), valid until callbacks->on_close;
 * NULL (with nothing written) when the request did not ask for an upgrade,
 * an answer was already started, or the connection is gone. Bytes the client
 * sent after the request reach callbacks->on_data only after this returns. */
struct conn *http_exchange_upgrade(struct http_exchange *ex, const char *headers,
                                   const struct http_upgrade_callbacks *callbacks, void *user);
/* Bytes written to this exchange's connection and not yet sent. */
size_t http_exchange_pending_output(const struct http_exchange *ex);
/* Calls cb once pending output falls to `low` bytes or less (checked every
 * few milliseconds). Replaces an earlier request; cleared when the exchange
 * finishes or aborts (cb is then not called). */
void http_exchange_on_drain(struct http_exchange *ex, size_t low,
                            void (*cb)(struct http_exchange *ex, void *user), void *user);

/* "Date: ..." value for now, RFC 7231 IMF-fixdate. */
void http_date_now(char out[32]);

#endif
