/* A TCP connection on the libuv loop, optionally wrapped in TLS, with
 * batched, bounded output.
 *
 * Reads: plaintext reaches callbacks.on_data as a borrowed slice valid only
 * during the call (it may point into a buffer shared by every connection).
 * Writes: conn_write() copies the bytes into the connection's output buffer;
 * buffered output is flushed after the loop's I/O callbacks and again just
 * before it blocks, so one write syscall carries the many small messages of
 * an iteration and nothing waits for the next wake-up.
 * When unsent output exceeds the connection's limit the connection is closed
 * with -ENOBUFS: a slow peer never makes the process buffer without bound.
 *
 * Lifetime: the conn_context owns nothing but its shared buffers and must
 * outlive its connections. A connection is freed by the library after
 * callbacks.on_close returns; until then conn_close() may be called any number
 * of times and writes after it are dropped. */
#ifndef TETHER_NET_CONN_H
#define TETHER_NET_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "core/buf.h"
#include "net/tls.h"

struct conn;
struct conn_context;
struct proxy_config;

/* Where a connection is in its life. Client connections go RESOLVING ->
 * CONNECTING -> (TUNNELING, through a proxy) -> (HANDSHAKING, with TLS) ->
 * OPEN; accepted ones start at HANDSHAKING or OPEN. An orderly close goes
 * through LINGERING (output shut down, the peer's input drained until it
 * closes or a timeout), an error close straight to CLOSING; on_close follows
 * CLOSING. conn_is_closing() is true in both. */
enum conn_state {
    CONN_RESOLVING,
    CONN_CONNECTING,
    CONN_TUNNELING,
    CONN_HANDSHAKING,
    CONN_OPEN,
    CONN_LINGERING,
    CONN_CLOSING,
};

const char *conn_state_name(enum conn_state state);

struct conn_callbacks {
    /* Client connections: TCP (and TLS) established, or failed (status < 0). */
    void (*on_open)(struct conn *conn, int status, const char *cause);
    void (*on_data)(struct conn *conn, const char *data, size_t len);
    /* Called once; status is 0 for an orderly close, else -errno. */
    void (*on_close)(struct conn *conn, int status, const char *cause);
};

#define CONN_DEFAULT_OUTPUT_LIMIT (8u * 1024 * 1024)

struct conn_context *conn_context_new(uv_loop_t *loop);
/* Connections still open when the context is freed are the caller's bug. */
void conn_context_free(struct conn_context *ctx);
uv_loop_t *conn_context_loop(struct conn_context *ctx);

/* Starts connecting to host:port (a name is resolved first). tls may be NULL;
 * with TLS, server_name is the SNI/verification name (default: host).
 * Through an HTTP proxy (net/proxy.h; NULL: direct) it is TCP to the proxy, a
 * CONNECT tunnel to host:port, then TLS (if any) inside it; on_open
 * reports once the tunnel (and TLS) is up, or the proxy's refusal (-EACCES
 * for 407 or 401, -ECONNREFUSED for other answers, -EPROTO for garbage). The proxy
 * settings are copied. */
int conn_connect_via(struct conn_context *ctx, const char *host, uint16_t port,
                     struct tls_config *tls, const char *server_name,
                     const struct proxy_config *proxy, const struct conn_callbacks *callbacks,
                     void *user, struct conn **out);

struct conn_listener;
typedef void (*conn_accept_cb)(struct conn_listener *listener, struct conn *conn);
/* Listens on host:port (port 0 picks one: see conn_listener_port). Accepted
 * connections start without callbacks: the accept callback must call
 * conn_set_callbacks before returning. */
int conn_listen(struct conn_context *ctx, const char *host, uint16_t port, struct tls_config *tls,
                conn_accept_cb on_accept, void *user, struct conn_listener **out, char *cause,
                size_t cause_len);
uint16_t conn_listener_port(const struct conn_listener *listener);
void *conn_listener_user(const struct conn_listener *listener);
void conn_listener_close(struct conn_listener *listener);

void conn_set_callbacks(struct conn *conn, const struct conn_callbacks *callbacks, void *user);
void *conn_user(const struct conn *conn);
void conn_set_output_limit(struct conn *conn, size_t limit);
/* Copies len bytes into the output buffer. Returns -EPIPE once closing. */
int conn_write(struct conn *conn, const void *data, size_t len);
/* Sends what is buffered now instead of at the end of this loop iteration. */
void conn_flush(struct conn *conn);
/* Bytes accepted by conn_write but not yet handed to the kernel. */
size_t conn_pending_output(const struct conn *conn);
/* Flushes buffered output (best effort), then closes. */
void conn_close(struct conn *conn, int status, const char *cause);
int conn_is_closing(const struct conn *conn);
enum conn_state conn_get_state(const struct conn *conn);
/* Stops/starts reading (back-pressure). */
void conn_pause_reading(struct conn *conn);
void conn_resume_reading(struct conn *conn);
/* "ip:port" of the peer. */
const char *conn_peer_name(const struct conn *conn);

#endif
