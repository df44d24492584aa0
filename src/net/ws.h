/* WebSocket sessions (RFC 6455, net/ws_builtin.c), plus the
 * opening-handshake helpers. Transport-agnostic: the owner feeds received
 * bytes in with ws_session_feed() and supplies a write function that takes
 * every outgoing byte (normally conn_write); a frame may reach it in more
 * than one call.
 *
 * Messages handed to on_message are borrowed for the duration of the call. */
#ifndef TETHER_NET_WS_H
#define TETHER_NET_WS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct ws_session;

struct ws_callbacks {
    /* A complete text (or binary) message. */
    void (*on_message)(void *user, int is_text, const char *data, size_t len);
    /* The session has ended: close handshake done, protocol error, or oversized
     * message. code is the close code received or sent (1000 normal, 1002
     * protocol error, 1009 message too big...). */
    void (*on_closed)(void *user, uint16_t code);
};

typedef int (*ws_write_fn)(void *user, const void *data, size_t len);

enum ws_role { WS_SERVER, WS_CLIENT };

struct ws_session *ws_session_new(enum ws_role role, size_t max_message_bytes,
                                  const struct ws_callbacks *callbacks, ws_write_fn write,
                                  void *user);
void ws_session_free(struct ws_session *session);
/* Processes received bytes: calls on_message for each complete message and
 * sends control replies (pong, close). Returns 0, or -EPROTO when the session
 * must end (on_closed has been called). */
int ws_session_feed(struct ws_session *session, const char *data, size_t len);
int ws_send_text(struct ws_session *session, const char *data, size_t len);
int ws_send_ping(struct ws_session *session);
/* Starts the closing handshake. */
int ws_send_close(struct ws_session *session, uint16_t code, const char *reason);
/* A frame built once and sent to many sessions (a server's frames are not
 * masked, so every subscriber of a broadcast gets the same bytes):
 * ws_frame_header writes the header of a final frame with this opcode (1 is
 * text) and payload length, and returns its size; ws_send_frame writes the
 * header and payload, already joined, on a server session that may still
 * send. Returns 0 or -EPIPE. */
#define WS_MAX_FRAME_HEADER 10
#define WS_OPCODE_TEXT 1
size_t ws_frame_header(uint8_t out[WS_MAX_FRAME_HEADER], int opcode, int masked, size_t len);
int ws_send_frame(struct ws_session *session, const void *frame, size_t len);
/* 1 once no more messages can be sent or received. */
int ws_session_finished(const struct ws_session *session);

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (28 chars + NUL). */
void ws_accept_key(const char *client_key, char out[29]);
/* A fresh random Sec-WebSocket-Key (24 chars + NUL). */
int ws_new_client_key(char out[25]);

#endif
