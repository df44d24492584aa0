/* The relay: bytes between one local TCP socket and one forward through the
 * bastion (ssh/forward.h), both ways, for as long as either side has some.
 * SOCKS5 streams (tunnel/stream.c) and TUN sessions (tun/session.c) both
 * relay through it once their forward is open.
 *
 * Flow control, with bounded memory:
 * - up (socket to forward): the socket is read only while the forward takes
 *   everything read; the rest of one read waits in `up` (at most the size of
 *   the shared read buffer) and reading stops until relay_forward_event finds
 *   the forward writable again.
 * - down (forward to socket): the forward is drained only while no write to
 *   the socket is in flight; `down` holds that one write. Beyond that the
 *   forward keeps its own bounded buffer and closes the SSH window.
 * Half-closes pass through: the socket's EOF becomes the forward's EOF once
 * every byte before it was taken, and the forward's EOF becomes
 * shutdown(SHUT_WR) on the socket once every byte before it was written.
 *
 * The forward is reached through `struct relay_forward_ops`, so a test can
 * drive the relay with a fake forward and no sshd; relay_ssh_forward_ops is
 * the real one.
 *
 * Ownership: the owner embeds the relay, keeps the socket and the forward,
 * and closes both. While the relay runs, socket->data points to the relay
 * (relay_stop puts the owner's value back). The relay calls on_finished once,
 * after which it does nothing more; the owner then calls relay_close (or
 * relay_stop and closes the socket and the forward itself), and calls
 * relay_free after the socket's close callback (a cancelled write still
 * refers to the relay until then). */
#ifndef TETHER_TUNNEL_RELAY_H
#define TETHER_TUNNEL_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "core/buf.h"

struct forward;

/* The forward side, with the signatures and meanings of ssh/forward.h:
 * relay_ssh_forward_ops is those functions themselves; a test's fake casts
 * the handle to its own type. */
struct relay_forward_ops {
    ssize_t (*write)(struct forward *forward, const void *data, size_t len); /* or -errno */
    void (*want_write)(struct forward *forward, int want);
    int (*send_eof)(struct forward *forward);
    size_t (*take)(struct forward *forward, struct buf *out); /* out is empty */
    int (*remote_eof)(const struct forward *forward);    /* EOF and every byte before it taken */
    int (*remote_closed)(const struct forward *forward); /* nothing more can be sent */
};

extern const struct relay_forward_ops relay_ssh_forward_ops;

enum relay_state {
    RELAY_IDLE,     /* initialised, not started */
    RELAY_RUNNING,  /* bytes may move */
    RELAY_FINISHED, /* on_finished ran (or relay_stop): nothing moves any more */
};

enum relay_up_state {
    RELAY_UP_READING, /* the socket is read; `up` is empty */
    RELAY_UP_BLOCKED, /* bytes wait in `up` for the forward; the socket is not read */
    RELAY_UP_EOF,     /* the socket's EOF was read; bytes still wait in `up` */
    RELAY_UP_DONE,    /* EOF passed on to the forward */
};

enum relay_down_state {
    RELAY_DOWN_IDLE,     /* waiting for bytes from the forward */
    RELAY_DOWN_WRITING,  /* one write to the socket in flight */
    RELAY_DOWN_SHUTTING, /* the forward's EOF: shutdown(SHUT_WR) in flight */
    RELAY_DOWN_DONE,     /* the socket's sending side is shut */
};

struct relay;

struct relay_callbacks {
    /* Bytes moved: `up` read from the socket, `down` handed to the socket. */
    void (*on_bytes)(struct relay *relay, uint64_t up, uint64_t down, void *user);
    /* Both directions ended (reset 0, why NULL), the forward closed with
     * nothing left to write (reset 0, why set), or an error (reset 1). */
    void (*on_finished)(struct relay *relay, int reset, const char *why, void *user);
};

struct relay {
    enum relay_state state;
    enum relay_up_state up_state;
    enum relay_down_state down_state;
    uv_stream_t *socket;
    void *socket_owner_data; /* socket->data before relay_start */
    struct forward *forward;
    const struct relay_forward_ops *ops;
    const struct relay_callbacks *callbacks;
    void *user;
    char *read_buffer; /* shared by the owner's relays; reused at once */
    size_t read_buffer_size;
    struct buf up;   /* read, not yet taken by the forward */
    struct buf down; /* being written to the socket */
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    uint64_t bytes_up, bytes_down;
};

/* The cause, for logs and refusals, of a forward that will not open
 * (refused, or the bastion lost): `why`; NULL while it opens or is open. */
const char *relay_forward_failure(const struct forward *forward, char *why, size_t len);

void relay_init(struct relay *relay, const struct relay_forward_ops *ops,
                const struct relay_callbacks *callbacks, void *user, char *read_buffer,
                size_t read_buffer_size);
/* Bytes the owner read before the relay started (a SOCKS client's data sent
 * ahead of the reply); they go up first. At most read_buffer_size in all:
 * 0, or -ENOBUFS / -ENOMEM. */
int relay_queue_up(struct relay *relay, const void *data, size_t len);
/* Starts moving bytes; the socket must not be reading. */
void relay_start(struct relay *relay, uv_stream_t *socket, struct forward *forward);
/* Call from the forward's on_event while the relay runs. */
void relay_forward_event(struct relay *relay);
/* Stops reading and gives socket->data back; no callback runs afterwards. */
void relay_stop(struct relay *relay);
/* relay_stop, then closes the owner's forward (*forward becomes NULL) and,
 * when there is one, its socket (relay_close_socket). */
void relay_close(struct relay *relay, struct forward **forward, uv_tcp_t *socket, int reset,
                 uv_close_cb on_closed);
/* Closes a socket, with an RST when `reset` is set. libuv refuses the reset
 * while a shutdown is pending (UV_EINVAL): the handle is then closed plainly,
 * since its owner is freed only from on_closed. */
void relay_close_socket(uv_tcp_t *socket, int reset, uv_close_cb on_closed);
void relay_free(struct relay *relay);

const char *relay_state_name(enum relay_state state);
const char *relay_up_state_name(enum relay_up_state state);
const char *relay_down_state_name(enum relay_down_state state);

#endif
