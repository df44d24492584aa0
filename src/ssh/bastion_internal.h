/* Shared by bastion.c (connection life cycle, event loop glue),
 * bastion_session.c (libssh session: handshake, host key, login, warm-up) and
 * forward.c (channels). Not for use outside src/ssh/. */
#ifndef TETHER_SSH_BASTION_INTERNAL_H
#define TETHER_SSH_BASTION_INTERNAL_H

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include "core/buf.h"
#include "ssh/bastion.h"
#include "ssh/forward.h"

#define BASTION_CAUSE_MAX 512

struct forward {
    struct bastion *bastion;
    struct forward *prev, *next;
    enum forward_state state;
    ssh_channel channel; /* NULL while WAITING and after LOST */
    struct ssh_channel_callbacks_struct channel_callbacks;
    uint32_t channel_id; /* libssh's local id (predicted), to match open failures */
    char *host;
    uint16_t port;
    char origin_host[64];
    uint16_t origin_port;
    struct buf rx;  /* received, not yet taken; <= FORWARD_RX_LIMIT */
    size_t held;    /* bytes libssh still holds for us (rx was full) */
    int pulling;    /* inside ssh_channel_read: the data callback must not append */
    int remote_eof; /* EOF or CLOSE received */
    int remote_closed;
    int eof_sent;
    int want_write;
    int event_pending;
    int orphan; /* closed by its owner while OPENING: closed once the open resolves */
    int zombie; /* closed during dispatch: freed when dispatch ends */
    uint32_t failure_reason;
    char failure_description[200];
    struct forward_callbacks callbacks;
    void *user;
};

struct bastion_poll; /* the uv_poll of one connection's socket (bastion.c) */

struct bastion {
    uv_loop_t *loop;
    struct bastion_config config; /* strings below are copies */
    char *host, *user, *user_known_hosts, *tether_known_hosts, *fingerprint, *ciphers;
    char name[320];
    struct bastion_callbacks callbacks;
    void *user_data;
    enum bastion_state state;

    /* the current connection */
    uv_getaddrinfo_t resolve;
    int resolving;
    struct addrinfo *addresses, *next_address;
    int fd; /* ours: polled by libuv; libssh gets a dup */
    struct bastion_poll *poll;
    int poll_events;
    ssh_session session;
    ssh_event event;
    struct ssh_counter_struct counter;
    ssh_channel warm_channel;
    int warm_step;
    uint32_t channel_seq; /* ids libssh gave out on this session */
    int congested;        /* the SSH socket has unsent output */
    char last_error[BASTION_CAUSE_MAX];
    char accepted_key[4096]; /* "type base64" accepted this run */

    uv_timer_t timer; /* attempt deadline, backoff */
    uv_timer_t keepalive_timer;
    uv_idle_t idle; /* deferred dispatch */
    int idle_active;
    uint64_t keepalive_seen_bytes;
    uint32_t keepalive_misses;
    uint32_t attempt;
    int ever_ready;
    int dead; /* the session failed inside a call; handled from idle */
    int dispatching;

    struct forward *forwards;
    size_t forward_count;
    size_t opening_count;         /* forwards in FORWARD_OPENING: failures to look for */
    uint64_t total_in, total_out; /* finished connections */
    uint32_t connections;

    int closing;
    int handles_open;
    void (*on_closed)(void *user);
};

void bastion_enter_state(struct bastion *bastion, enum bastion_state state, const char *cause);
/* A step failed: the connection is torn down; fatal failures stop retrying. */
void bastion_fail_attempt(struct bastion *bastion, int fatal, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* After any libssh call made outside the poll callback: notices a dead
 * session, updates back-pressure and poll events, schedules dispatch. */
void bastion_after_call(struct bastion *bastion);
void bastion_schedule_dispatch(struct bastion *bastion);
/* Polls for input, and for output while libssh has unsent bytes. */
void bastion_poll_update(struct bastion *bastion);
/* Logged in (and warmed up): starts keep-alives and the waiting forwards. */
void bastion_enter_ready(struct bastion *bastion);
void bastion_start_warm_up_timer(struct bastion *bastion);

/* bastion_session.c */
int bastion_session_create(struct bastion *bastion, char *cause, size_t cause_len);
/* Advances HANDSHAKE / AUTHENTICATING / WARMING as far as it can. */
void bastion_session_step(struct bastion *bastion);
void bastion_session_destroy(struct bastion *bastion, int polite);
/* Ends the warm-up (done, refused or timed out) and enters READY. */
void bastion_session_finish_warm_up(struct bastion *bastion);

/* forward.c */
void forward_start_all(struct bastion *bastion);
/* OPEN forwards become LOST, OPENING ones wait again (or are LOST too with
 * include_waiting, as are WAITING ones). */
void forward_fail_all(struct bastion *bastion, const char *cause, int include_waiting);
/* Looks for channel-open failures libssh reported in its error string. */
void forward_capture_open_failure(struct bastion *bastion);
/* Resolves pending opens and runs on_event where needed. */
void forward_dispatch(struct bastion *bastion);

#endif
