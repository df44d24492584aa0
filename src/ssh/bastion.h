/* The SSH connection to the bastion: libssh 0.10 in non-blocking mode, driven
 * by the caller's libuv loop (docs/tunnel.md explains why libssh and how).
 *
 * One TCP connection carries every forward (ssh/forward.h). The bastion
 * checks the server's host key (ssh/known_hosts.h), logs in with the
 * identity (ssh/identity.h), runs `true` once in a session channel so that
 * sshd switches its socket to TCP_NODELAY, and then stays READY. Keep-alives
 * notice a dead connection; a lost connection is reconnected with
 * exponential backoff and jitter while forwards that were open are failed
 * (FORWARD_LOST) and forwards not yet open wait for the next connection.
 *
 * Ownership: bastion_new copies every string of the config; the identity is
 * borrowed and must outlive the bastion. bastion_close frees the bastion once
 * its libuv handles are closed (on_closed then runs); forwards still open are
 * failed and stay owned by their callers, who must forward_close them. */
#ifndef TETHER_SSH_BASTION_H
#define TETHER_SSH_BASTION_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "ssh/identity.h"

enum bastion_state {
    BASTION_IDLE,           /* created, not started */
    BASTION_RESOLVING,      /* looking the host up */
    BASTION_CONNECTING,     /* TCP connect */
    BASTION_HANDSHAKE,      /* SSH version and key exchange, host key check */
    BASTION_AUTHENTICATING, /* public key authentication */
    BASTION_WARMING,        /* `exec true` once, so sshd sets TCP_NODELAY */
    BASTION_READY,          /* forwards can be opened */
    BASTION_BACKOFF,        /* waiting before the next attempt */
    BASTION_FAILED,         /* gave up: host key or authentication refused */
    BASTION_CLOSED,
};

struct bastion_config {
    const char *host;
    uint16_t port; /* default 22 */
    const char *user;
    const struct identity *identity;
    const char *user_known_hosts;     /* read only (~/.ssh/known_hosts); NULL: none */
    const char *tether_known_hosts;   /* read, and written when a key is accepted */
    const char *host_key_fingerprint; /* "SHA256:..." to accept on first contact */
    int accept_new_host_key;          /* trust on first use (and record) */
    int give_up_on_first_failure;     /* no retry before the first success */
    uint32_t connect_timeout_ms;      /* TCP + SSH handshake + login; default 15000 */
    uint32_t keepalive_interval_ms;   /* default 10000; 0 turns keep-alives off */
    uint32_t keepalive_count_max;     /* unanswered intervals before giving up; default 3 */
    uint32_t backoff_initial_ms;      /* default 250 */
    uint32_t backoff_max_ms;          /* default 30000 */
    int skip_warm_up;                 /* for bastions that refuse commands */
    const char *ciphers;              /* libssh list; default prefers AES-GCM */
};

struct bastion;

struct bastion_callbacks {
    /* Every state change. cause explains BACKOFF and FAILED (and is "" otherwise). */
    void (*on_state)(struct bastion *bastion, enum bastion_state old_state,
                     enum bastion_state new_state, const char *cause, void *user);
};

struct bastion_stats {
    uint64_t bytes_in; /* on the SSH socket, all connections */
    uint64_t bytes_out;
    uint32_t connections; /* successful logins */
    size_t forwards;      /* forwards that exist now */
};

int bastion_new(uv_loop_t *loop, const struct bastion_config *config,
                const struct bastion_callbacks *callbacks, void *user, struct bastion **out,
                char *cause, size_t cause_len);
void bastion_start(struct bastion *bastion);
void bastion_close(struct bastion *bastion, void (*on_closed)(void *user));
enum bastion_state bastion_get_state(const struct bastion *bastion);
const char *bastion_state_name(enum bastion_state state);
void bastion_get_stats(const struct bastion *bastion, struct bastion_stats *out);
/* "user@host:port" for messages. */
const char *bastion_name(const struct bastion *bastion);

#endif
