/* A forward: one "direct-tcpip" channel through the bastion (RFC 4254 7.2),
 * i.e. a TCP connection the bastion opens to host:port on our behalf. The
 * host may be a name: the bastion resolves it.
 *
 * Flow control, both ways, with bounded memory:
 * - to the bastion: forward_write accepts at most what the channel's window
 *   allows, and nothing while the SSH socket still has unsent output. A
 *   caller with more to send sets forward_want_write and waits for on_event.
 * - from the bastion: received bytes collect in the forward (at most
 *   FORWARD_RX_LIMIT); beyond that libssh keeps them and does not widen the
 *   channel window, so the bastion stops sending. forward_take hands the
 *   bytes over; take again after writing them out.
 *
 * Callbacks: on_event runs from the loop (never inside libssh, never from
 * within a forward_* call) whenever something may have changed: the open
 * completed or failed, data or EOF arrived, the window opened (if wanted), or
 * the connection died. Check forward_get_state and friends there.
 *
 * Ownership: the caller owns the forward from forward_open until
 * forward_close, which may be called in any state (also from on_event) and
 * after which no callback runs. The host string is copied. */
#ifndef TETHER_SSH_FORWARD_H
#define TETHER_SSH_FORWARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"

struct bastion;
struct forward;

enum forward_state {
    FORWARD_WAITING, /* the bastion is not connected; opens when it is */
    FORWARD_OPENING, /* channel open sent, no answer yet */
    FORWARD_OPEN,
    FORWARD_REFUSED, /* the bastion refused: see forward_failure_* */
    FORWARD_LOST,    /* the SSH connection died while the forward was open */
};

#define FORWARD_RX_LIMIT (1024u * 1024)

struct forward_callbacks {
    void (*on_event)(struct forward *forward, void *user);
};

/* origin: the address of the local client, told to the bastion (informative). */
int forward_open(struct bastion *bastion, const char *host, uint16_t port, const char *origin_host,
                 uint16_t origin_port, const struct forward_callbacks *callbacks, void *user,
                 struct forward **out);
enum forward_state forward_get_state(const struct forward *forward);
/* FORWARD_REFUSED: the RFC 4254 reason code (0 if unknown) and the bastion's
 * description; also the cause of FORWARD_LOST. */
uint32_t forward_failure_reason(const struct forward *forward);
const char *forward_failure_description(const struct forward *forward);

/* Moves the received bytes into *out, which must be empty (its storage is
 * reused); returns how many. */
size_t forward_take(struct forward *forward, struct buf *out);
/* 1 once the bastion sent EOF (or closed) and every byte before it was taken. */
int forward_remote_eof(const struct forward *forward);
/* 1 once the bastion closed the channel: nothing more can be sent. */
int forward_remote_closed(const struct forward *forward);
/* Sends up to len bytes; returns how many were accepted (possibly 0) or
 * -EPIPE when this forward can no longer send. */
ssize_t forward_write(struct forward *forward, const void *data, size_t len);
/* Asks for on_event when forward_write can accept bytes again. */
void forward_want_write(struct forward *forward, int want);
/* Half-close: no more bytes to the bastion; receiving goes on. */
int forward_send_eof(struct forward *forward);
void forward_close(struct forward *forward);

#endif
