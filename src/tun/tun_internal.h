/* Shared by tun.c (life cycle, engine thread, listeners, timer) and
 * session.c (one TCP flow: its forward, the accepted socket, the relay).
 * Not for use outside src/tun/. */
#ifndef TETHER_TUN_TUN_INTERNAL_H
#define TETHER_TUN_TUN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <uv.h>

#include "core/buf.h"
#include "ssh/forward.h"
#include "tun/tun.h"
#include "tunnel/relay.h"

#define TUN_READ_SIZE (256u * 1024)
#define TUN_EVENT_QUEUE 1024
#define TUN_SWEEP_MS 100
#define TUN_EXPIRE_EVERY 10

enum tun_session_state {
    TUN_SESSION_OPENING,   /* the forward is opening; the SYN is held */
    TUN_SESSION_ACCEPTING, /* SYN passed to the kernel; waiting for accept */
    TUN_SESSION_RELAY,     /* bytes flow both ways */
    TUN_SESSION_REFUSED,   /* the forward failed before the accept, which resets the socket */
    TUN_SESSION_CLOSING,   /* handles closing; freed when they are */
};

struct tun_session {
    struct tun *tun;
    struct tun_session *prev, *next;
    uint64_t id;
    enum tun_session_state state;
    struct nat_handle flow;
    char target[64]; /* "addr:port" / "[addr]:port" for logs */
    char host[48];
    uint16_t port;
    uint64_t started_ms;
    uv_timer_t timer;
    uv_tcp_t *tcp; /* the accepted socket, once there is one */
    int handles_open;
    int expired; /* its NAT entry expired: tun_expire_sessions closes it */
    struct forward *forward;
    struct relay relay; /* between the accepted socket and the forward */
};

/* Work the engine thread hands to the loop. */
struct tun_event {
    int kind; /* TUN_ACTION_OPEN or TUN_ACTION_DNS */
    struct nat_handle flow;
    struct tun_dns_peer peer;
    uint16_t query_len;
    uint8_t query[TUN_DNS_QUERY_MAX];
};

struct tun {
    uv_loop_t *loop;
    struct tunnel *tunnel;
    struct tun_config config;
    struct tun_device device;
    struct tun_engine *engine;
    struct tun_dns *dns;

    uv_tcp_t listener4, listener6;
    int listening4, listening6;
    uv_timer_t sweep_timer;
    uint64_t sweeps;
    uv_async_t wake;

    pthread_t thread;
    int thread_started;
    int stop_fd; /* eventfd that ends the engine thread's poll */
    atomic_int thread_stop;

    pthread_mutex_t queue_lock;
    struct tun_event *queue; /* ring of TUN_EVENT_QUEUE */
    size_t queue_head, queue_count;
    uint64_t queue_dropped;

    struct tun_session *sessions;
    size_t session_count;
    uint64_t next_session_id, sessions_total, sessions_refused;
    char read_buffer[TUN_READ_SIZE];
    uint8_t write_buffer[TUN_PACKET_MAX];

    int stopping;
    int pending_closes;
    void (*on_stopped)(void *user);
    void *stopped_user;
};

uint64_t tun_now_ms(void);
/* Handles what the engine thread queued (open requests, DNS queries). */
void tun_process_events(struct tun *tun);
/* Closes the session of every NAT entry past its timeout (however many);
 * returns how many were closed. The sweep timer calls it. */
size_t tun_expire_sessions(struct tun *tun, uint64_t now_ms);
/* Writes one packet to the device from the loop thread. */
void tun_write_packet(struct tun *tun, const uint8_t *packet, size_t len, int csum_partial);

/* session.c */
/* A new flow's SYN is held: open its forward. */
void tun_session_open(struct tun *tun, struct nat_handle flow);
/* The listener accepted `tcp` (ownership passes to the session or is closed). */
void tun_session_accepted(struct tun *tun, uv_tcp_t *tcp);
void tun_session_close(struct tun_session *session, int reset, const char *why);
/* tun.c: the session's handles are closed; unlink and free it. */
void tun_session_freed(struct tun *tun, struct tun_session *session);

#endif
