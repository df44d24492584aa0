/* The HTTP server's private structures, shared by http_server.c (reading,
 * connections) and http_server_answer.c (writing answers). Not for users of
 * the server: see http_server.h. */
#ifndef TETHER_NET_HTTP_SERVER_INTERNAL_H
#define TETHER_NET_HTTP_SERVER_INTERNAL_H

#include "net/http_server.h"

enum http_connection_state {
    HTTP_CONNECTION_READING_HEAD, /* idle keep-alive or a head arriving */
    HTTP_CONNECTION_READING_BODY, /* head handled, body arriving */
    HTTP_CONNECTION_WAITING,      /* request read, answer pending */
    HTTP_CONNECTION_UPGRADED,     /* switched protocols: bytes go to the upgrade callbacks */
    HTTP_CONNECTION_CLOSING,
};

enum http_answer_state {
    HTTP_ANSWER_NONE,
    HTTP_ANSWER_STREAMING,
    HTTP_ANSWER_DONE,
};

struct http_connection;

struct http_exchange {
    struct http_connection *connection; /* NULL once the connection is gone */
    struct http_server *server;
    void *user;
    enum http_body_mode body_mode;
    enum http_answer_state answer;
    size_t body_cap;
    size_t body_received;
    size_t body_buffered; /* bytes of a buffered body already counted */
    size_t header_count_at_head;
    int too_large;
    int body_paused;
    int request_complete;
    int handler_released; /* answered, aborted or told on_abort */
    int chunked;          /* streamed answer uses chunked framing */
    int is_head;
    int keep_alive;
    int expects_continue; /* "Expect: 100-continue" and the body is still to come */
    int continue_sent;
    int close_after; /* http_exchange_close_after(): no keep-alive */
    int upgraded;    /* answered with 101: the connection switches once the request is done */
    /* drain watch */
    void (*drain_cb)(struct http_exchange *ex, void *user);
    void *drain_user;
    size_t drain_low;
    struct http_exchange *drain_next;
    int drain_listed;
};

struct http_connection {
    struct http_server *server;
    struct conn *conn;
    /* Allocated apart so that an upgraded connection, which reads no more
     * HTTP, gives it back (NULL from then on): a realtime connection's
     * resident memory matters to the broker. */
    struct http_reader *reader;
    enum http_connection_state state;
    struct buf input;
    struct http_exchange *ex;
    uv_timer_t timer;
    struct http_connection *next;
    struct http_connection *prev;
    struct http_connection *ready_next;
    int ready;
    int paused;
    size_t discarded;
    /* Set by http_exchange_upgrade (on_close non-NULL from then on): the
     * connection's owner after the switch, told when it closes. */
    struct http_upgrade_callbacks upgrade;
    void *upgrade_user;
    char peer_ip[64];
    /* Untrusted connections are listed in the order they were accepted,
     * which is also the order of their deadlines. */
    int untrusted;
    uint64_t accepted_ms;
    struct http_connection *untrusted_prev, *untrusted_next;
};

struct http_server {
    struct conn_context *ctx;
    struct http_server_config config;
    char name[96];
    struct http_server_callbacks callbacks;
    void *user;
    struct conn_listener *listener;
    uint16_t port;
    struct http_connection *connections;
    size_t connection_count;
    struct http_connection *ready;
    uv_idle_t ready_idle;
    uv_timer_t drain_timer;
    struct http_exchange *drain_list;
    int check_host; /* listening on loopback: only loopback Hosts */
    uv_timer_t untrusted_timer;
    struct http_connection *untrusted_head, *untrusted_tail;
    size_t untrusted_count;
    int handles_open;
    int closing;
    void (*on_closed)(void *user);
    void *closed_user;
};

void http_connection_enter_state(struct http_connection *c, enum http_connection_state state);
/* Queues the connection to go on reading at the next loop turn. */
void http_connection_mark_ready(struct http_connection *c);
/* The header text and body of an answer the server writes itself. */
void http_server_error_answer(struct http_server *server, int status, const char *why,
                              struct buf *headers, struct buf *body);
int http_server_write_text(struct http_connection *c, const void *data, size_t len);
void http_exchange_unlink_drain(struct http_exchange *ex);
void http_server_on_drain_timer(uv_timer_t *timer);

#endif
