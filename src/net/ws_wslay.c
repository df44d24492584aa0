/* net/ws.h sessions on wslay (the tether CLI). */
#include "net/ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wslay/wslay.h>

#include "core/random.h"

struct ws_session {
    wslay_event_context_ptr ctx;
    struct ws_callbacks callbacks;
    ws_write_fn write;
    void *user;
    const char *input; /* bytes being fed, read by recv_callback */
    size_t input_len;
    int closed_reported;
    uint16_t close_code;
};

static ssize_t recv_callback(wslay_event_context_ptr ctx, uint8_t *out, size_t len, int flags,
                             void *user_data)
{
    struct ws_session *s = user_data;
    (void)flags;
    if (s->input_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < s->input_len ? len : s->input_len;
    memcpy(out, s->input, n);
    s->input += n;
    s->input_len -= n;
    return (ssize_t)n;
}

static ssize_t send_callback(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                             int flags, void *user_data)
{
    struct ws_session *s = user_data;
    (void)flags;
    if (s->write(s->user, data, len) < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static int genmask_callback(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user_data)
{
    (void)ctx;
    (void)user_data;
    return random_bytes(buf, len) < 0 ? -1 : 0;
}

static void report_closed(struct ws_session *s, uint16_t code)
{
    if (s->closed_reported)
        return;
    s->closed_reported = 1;
    s->close_code = code;
    if (s->callbacks.on_closed)
        s->callbacks.on_closed(s->user, code);
}

static void on_msg_recv(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                        void *user_data)
{
    struct ws_session *s = user_data;
    (void)ctx;
    if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME) {
        if (s->callbacks.on_message && !s->closed_reported)
            s->callbacks.on_message(s->user, arg->opcode == WSLAY_TEXT_FRAME,
                                    (const char *)arg->msg, arg->msg_length);
    } else if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        s->close_code = arg->status_code ? arg->status_code : 1005;
    }
}

struct ws_session *ws_session_new(enum ws_role role, size_t max_message_bytes,
                                  const struct ws_callbacks *callbacks, ws_write_fn write,
                                  void *user)
{
    struct ws_session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    struct wslay_event_callbacks cb = {
        .recv_callback = recv_callback,
        .send_callback = send_callback,
        .genmask_callback = genmask_callback,
        .on_msg_recv_callback = on_msg_recv,
    };
    int rc = role == WS_SERVER ? wslay_event_context_server_init(&s->ctx, &cb, s)
                               : wslay_event_context_client_init(&s->ctx, &cb, s);
    if (rc != 0) {
        free(s);
        return NULL;
    }
    wslay_event_config_set_max_recv_msg_length(s->ctx, max_message_bytes);
    s->callbacks = *callbacks;
    s->write = write;
    s->user = user;
    return s;
}

void ws_session_free(struct ws_session *session)
{
    if (!session)
        return;
    wslay_event_context_free(session->ctx);
    free(session);
}

static int pump_output(struct ws_session *s)
{
    if (wslay_event_want_write(s->ctx) && wslay_event_send(s->ctx) != 0)
        return -EPIPE;
    return 0;
}

int ws_session_feed(struct ws_session *s, const char *data, size_t len)
{
    s->input = data;
    s->input_len = len;
    int rc = wslay_event_recv(s->ctx);
    s->input = NULL;
    s->input_len = 0;
    if (rc != 0) {
        report_closed(s, 1002);
        return -EPROTO;
    }
    if (pump_output(s) < 0) {
        report_closed(s, 1006);
        return -EPROTO;
    }
    /* wslay stops reading after a close frame, a protocol error, or an
     * oversized message (having queued the matching close frame). */
    if (!wslay_event_get_read_enabled(s->ctx)) {
        uint16_t code = s->close_code;
        if (!code && !wslay_event_get_close_received(s->ctx)) {
            /* Read disabled without a close from the peer: report the code
             * wslay sent (1009 too big, 1007 bad UTF-8, 1002 bad frame). */
            code = wslay_event_get_status_code_sent(s->ctx);
            if (code == 0 || code == WSLAY_CODE_NO_STATUS_RCVD)
                code = 1002;
        }
        report_closed(s, code ? code : 1000);
        return wslay_event_get_close_received(s->ctx) ? 0 : -EPROTO;
    }
    return 0;
}

static int queue(struct ws_session *s, uint8_t opcode, const void *data, size_t len)
{
    struct wslay_event_msg msg = {opcode, data, len};
    if (wslay_event_queue_msg(s->ctx, &msg) != 0)
        return -EPIPE;
    return pump_output(s);
}

int ws_send_text(struct ws_session *s, const char *data, size_t len)
{
    return queue(s, WSLAY_TEXT_FRAME, data, len);
}

int ws_send_ping(struct ws_session *s)
{
    return queue(s, WSLAY_PING, NULL, 0);
}

int ws_send_close(struct ws_session *s, uint16_t code, const char *reason)
{
    size_t reason_len = reason ? strlen(reason) : 0;
    if (reason_len > 123)
        reason_len = 123; /* control frames carry at most 125 bytes */
    if (wslay_event_queue_close(s->ctx, code, (const uint8_t *)reason, reason_len) != 0)
        return -EPIPE;
    return pump_output(s);
}

int ws_session_finished(const struct ws_session *s)
{
    return s->closed_reported || wslay_event_get_close_sent(s->ctx) ||
           (!wslay_event_want_read(s->ctx) && !wslay_event_want_write(s->ctx));
}
