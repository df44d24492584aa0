/* The SOCKS5 handshake of one client: method selection, optional RFC 1929
 * login, then the request. Input collects in the stream's fixed buffer and is
 * parsed as it arrives (tunnel/socks5.c); bytes a client sends after its
 * request without waiting for the reply are kept and relayed once open. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LOG_MODULE "socks5"
#include "core/encoding.h"
#include "core/log.h"
#include "tunnel/tunnel_internal.h"

static void handshake_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct tunnel_stream *s = handle->data;
    buf->base = (char *)s->in + s->in_len;
    buf->len = sizeof(s->in) - s->in_len;
}

static int handle_greeting(struct tunnel_stream *s, const uint8_t *data, size_t len)
{
    struct socks5_greeting greeting;
    const char *error = NULL;
    int rc = socks5_parse_greeting(data, len, &greeting, &error);
    if (rc == SOCKS5_NEED_MORE)
        return rc;
    if (rc < 0) {
        stream_close(s, 1, error);
        return rc;
    }
    int want_auth = s->tunnel->socks_user != NULL;
    uint8_t method = want_auth ? SOCKS5_METHOD_USERPASS : SOCKS5_METHOD_NONE;
    uint8_t answer[2];
    if (!socks5_greeting_offers(&greeting, method)) {
        socks5_encode_method(answer, SOCKS5_METHOD_NO_ACCEPTABLE);
        stream_send_small(s, answer, sizeof(answer));
        stream_close(s, 0,
                     want_auth ? "client does not offer username/password authentication"
                               : "client offers no method without authentication");
        return SOCKS5_INVALID;
    }
    socks5_encode_method(answer, method);
    if (stream_send_small(s, answer, sizeof(answer)) < 0)
        return SOCKS5_INVALID;
    stream_enter_state(s, want_auth ? STREAM_AUTH : STREAM_REQUEST);
    return rc;
}

static int handle_auth(struct tunnel_stream *s, const uint8_t *data, size_t len)
{
    struct socks5_userpass login;
    const char *error = NULL;
    int rc = socks5_parse_userpass(data, len, &login, &error);
    if (rc == SOCKS5_NEED_MORE)
        return rc;
    if (rc < 0) {
        stream_close(s, 1, error);
        return rc;
    }
    const struct tunnel *t = s->tunnel;
    /* Both compared in full, in time independent of where they differ. */
    int user_ok =
        constant_time_equal(login.user, login.user_len, t->socks_user, strlen(t->socks_user));
    int password_ok = constant_time_equal(login.password, login.password_len, t->socks_password,
                                          strlen(t->socks_password));
    uint8_t status[2];
    socks5_encode_userpass_status(status, user_ok & password_ok);
    if (!(user_ok & password_ok)) {
        stream_send_small(s, status, sizeof(status));
        stream_close(s, 0, "wrong SOCKS user name or password");
        return SOCKS5_INVALID;
    }
    if (stream_send_small(s, status, sizeof(status)) < 0)
        return SOCKS5_INVALID;
    stream_enter_state(s, STREAM_REQUEST);
    return rc;
}

static int handle_request(struct tunnel_stream *s, const uint8_t *data, size_t len)
{
    struct socks5_request request;
    int reply = -1;
    const char *error = NULL;
    int rc = socks5_parse_request(data, len, &request, &reply, &error);
    if (rc == SOCKS5_NEED_MORE)
        return rc;
    if (rc < 0) {
        if (reply >= 0)
            stream_refuse(s, (uint8_t)reply, error);
        else
            stream_close(s, 1, error);
        return rc;
    }
    if (request.command != SOCKS5_CMD_CONNECT) {
        stream_refuse(s, SOCKS5_REPLY_COMMAND_NOT_SUPPORTED,
                      request.command == SOCKS5_CMD_BIND ? "BIND is not supported"
                                                         : "UDP ASSOCIATE is not supported");
        return SOCKS5_INVALID;
    }
    if (socks5_request_host(&request, s->target_host) < 0) {
        stream_refuse(s, SOCKS5_REPLY_HOST_UNREACHABLE, "the host name holds control bytes");
        return SOCKS5_INVALID;
    }
    s->target_port = request.port;
    int v6 = request.address_type == SOCKS5_ATYP_IPV6;
    snprintf(s->target, sizeof(s->target), v6 ? "[%s]:%u" : "%s:%u", s->target_host, request.port);
    return rc;
}

/* Parses what has arrived; returns how many bytes were used, or -1 when the
 * stream was closed. */
static int parse_input(struct tunnel_stream *s)
{
    size_t at = 0;
    while (s->state == STREAM_GREETING || s->state == STREAM_AUTH || s->state == STREAM_REQUEST) {
        const uint8_t *data = s->in + at;
        size_t len = s->in_len - at;
        int rc;
        enum stream_state before = s->state;
        if (before == STREAM_GREETING)
            rc = handle_greeting(s, data, len);
        else if (before == STREAM_AUTH)
            rc = handle_auth(s, data, len);
        else
            rc = handle_request(s, data, len);
        if (rc == SOCKS5_NEED_MORE)
            break;
        if (rc < 0)
            return -1;
        at += (size_t)rc;
        if (before == STREAM_REQUEST) {
            stream_enter_state(s, STREAM_OPENING);
            break;
        }
    }
    return (int)at;
}

static void on_handshake_read(uv_stream_t *tcp, ssize_t nread, const uv_buf_t *buf)
{
    struct tunnel_stream *s = tcp->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        stream_close(
            s, 1, nread == UV_EOF ? "client left during the handshake" : uv_strerror((int)nread));
        return;
    }
    s->in_len += (size_t)nread;
    int used = parse_input(s);
    if (used < 0)
        return;
    memmove(s->in, s->in + used, s->in_len - (size_t)used);
    s->in_len -= (size_t)used;
    if (s->state == STREAM_OPENING) {
        uv_read_stop(tcp);
        /* Data sent ahead of our reply goes out once the forward is open
         * (it is less than the handshake buffer, well under the cap). */
        if (s->in_len && relay_queue_up(&s->relay, s->in, s->in_len) < 0) {
            stream_close(s, 1, "out of memory");
            return;
        }
        s->in_len = 0;
        stream_open_forward(s);
    } else if (s->in_len == sizeof(s->in)) {
        stream_close(s, 1, "handshake message too long");
    }
}

void socks5_session_start(struct tunnel_stream *s)
{
    stream_enter_state(s, STREAM_GREETING);
    uv_read_start((uv_stream_t *)&s->tcp, handshake_alloc, on_handshake_read);
}
