/* Shared by tunnel.c (listener, limits, stats), socks5_session.c (the SOCKS5
 * handshake of one client) and stream.c (opening the forward and relaying).
 * Not for use outside src/tunnel/. */
#ifndef TETHER_TUNNEL_TUNNEL_INTERNAL_H
#define TETHER_TUNNEL_TUNNEL_INTERNAL_H

#include <stdint.h>

#include <uv.h>

#include "core/buf.h"
#include "ssh/bastion.h"
#include "ssh/forward.h"
#include "tunnel/relay.h"
#include "tunnel/socks5.h"
#include "tunnel/tunnel.h"

/* Reads from clients go through one loop-wide buffer this large; the bytes
 * the forward cannot take at once stay with the stream's relay (at most one
 * read). */
#define TUNNEL_READ_SIZE (256u * 1024)
/* The handshake's input: greeting + auth + request + some pipelined data. */
#define STREAM_HANDSHAKE_BUFFER 2048

enum stream_state {
    STREAM_GREETING, /* waiting for the method list */
    STREAM_AUTH,     /* waiting for RFC 1929 user and password */
    STREAM_REQUEST,  /* waiting for the CONNECT request */
    STREAM_OPENING,  /* the forward is opening (or waiting for the bastion) */
    STREAM_RELAY,    /* bytes flow both ways */
    STREAM_REFUSING, /* a refusal reply is being written; closed once it is */
    STREAM_CLOSING,  /* handles closing; freed when they are */
};

struct tunnel_stream {
    struct tunnel *tunnel;
    struct tunnel_stream *prev, *next;
    uint64_t id;
    enum stream_state state;
    uv_tcp_t tcp;
    uv_timer_t timer; /* handshake and open deadlines */
    int handles_open;
    char peer_ip[48];
    uint16_t peer_port;
    uint64_t started_ms;

    uint8_t in[STREAM_HANDSHAKE_BUFFER];
    size_t in_len;
    size_t writes_in_flight;
    char target[SOCKS5_HOST_MAX + 8]; /* "host:port" */
    char target_host[SOCKS5_HOST_MAX];
    uint16_t target_port;

    struct forward *forward;
    struct relay relay; /* once the forward is open; initialised at accept */
};

struct tunnel {
    uv_loop_t *loop;
    struct tunnel_config config;
    char *socks_host, *socks_user, *socks_password;
    char socks_address[80];
    struct bastion *bastion;
    uv_tcp_t listener;
    int listening;
    struct tunnel_callbacks callbacks;
    void *user;

    struct tunnel_stream *streams;
    size_t stream_count;
    uint64_t next_stream_id;
    uint64_t streams_total, streams_failed, bytes_up, bytes_down;
    char read_buffer[TUNNEL_READ_SIZE];

    int stopping;
    int pending_closes; /* listener, bastion, streams */
    void (*on_stopped)(void *user);
    void *stopped_user;
};

/* tunnel.c */
void tunnel_stream_freed(struct tunnel *tunnel, struct tunnel_stream *stream);

/* socks5_session.c */
void socks5_session_start(struct tunnel_stream *stream);

/* stream.c */
/* Prepares the stream's relay (before the handshake queues data into it). */
void stream_init_relay(struct tunnel_stream *stream);
void stream_enter_state(struct tunnel_stream *stream, enum stream_state state);
/* Opens the forward for stream->target_host:port (the request was parsed). */
void stream_open_forward(struct tunnel_stream *stream);
/* Sends a few handshake bytes in order; -errno when the client is gone. */
int stream_send_small(struct tunnel_stream *stream, const void *data, size_t len);
/* Sends a SOCKS5 reply, then closes once it is written. */
void stream_refuse(struct tunnel_stream *stream, uint8_t reply, const char *why);
/* reset: RST instead of FIN, dropping unsent bytes. */
void stream_close(struct tunnel_stream *stream, int reset, const char *why);

#endif
