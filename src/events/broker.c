/* The broker's endpoints on net/http_server: POST /event (publish) and
 * GET /event/realtime (the WebSocket upgrade), then the realtime
 * connections' lifetime, keep-alives and shutdown. HTTP itself (keep-alive,
 * 100-continue, caps, lingering close) is the server's.
 * Realtime messages are handled in broker_ws.c, authorization in
 * broker_auth.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_MODULE "broker"
#include "core/encoding.h"
#include "core/fdlimit.h"
#include "core/log.h"
#include "core/random.h"
#include "events/broker_internal.h"
#include "net/http_server.h"

#define HTTP_MAX_HEADER_BYTES (32 * 1024)
/* A whole publish plus room for its JSON framing. */
#define HTTP_MAX_BODY_BYTES (EVENTS_MAX_PUBLISH_BYTES + 64 * 1024)
#define JSON_HEADERS "Content-Type: application/json\r\n"
/* What a connection that has not passed authorization may send as a body
 * outside a publish (an upgrade request has none). */
#define UNAUTHENTICATED_BODY_BYTES 4096
/* Slow requests (slowloris) from authorized HTTP clients, and idle
 * keep-alive connections, end after this. */
#define HTTP_TIMEOUT_MS 60000

static const char *const state_names[] = {"websocket", "closing"};

const char *broker_client_state_name(enum broker_client_state state)
{
    return state_names[state];
}

void broker_client_enter_state(struct broker_client *client, enum broker_client_state state)
{
    if (client->state == state)
        return;
    log_trace("%s: %s -> %s", conn_peer_name(client->conn), state_names[client->state],
              state_names[state]);
    client->state = state;
}

static uint64_t now_ms(struct broker *broker)
{
    return uv_now(broker->loop);
}

int broker_namespace_exists(const struct broker *broker, const struct channel *channel)
{
    for (size_t i = 0; i < broker->namespace_count; i++) {
        const char *ns = broker->namespaces[i];
        if (strlen(ns) == channel->namespace_length &&
            strncmp(ns, channel->path + 1, channel->namespace_length) == 0)
            return 1;
    }
    return 0;
}

void broker_client_close(struct broker_client *client, int status, const char *why)
{
    if (client->state == BROKER_CLIENT_CLOSING)
        return;
    if (why)
        log_debug("%s: closing: %s", conn_peer_name(client->conn), why);
    broker_client_enter_state(client, BROKER_CLIENT_CLOSING);
    conn_close(client->conn, status, why);
}

static int write_to_conn(void *user, const void *data, size_t len)
{
    struct broker_client *client = user;
    return conn_write(client->conn, data, len);
}

/* A failed send closes the client; a connection that was closing already
 * was a subscriber over its output limit. */
static void after_send(struct broker_client *client, int rc)
{
    if (rc < 0) {
        if (conn_is_closing(client->conn))
            client->broker->stats.dropped_slow_consumers++;
        broker_client_close(client, -EPIPE, "send failed");
    }
}

void broker_client_send(struct broker_client *client, const char *text, size_t len)
{
    if (client->state != BROKER_CLIENT_WEBSOCKET || conn_is_closing(client->conn))
        return;
    after_send(client, ws_send_text(client->ws, text, len));
}

void broker_client_send_frame(struct broker_client *client, const char *frame, size_t len)
{
    if (client->state != BROKER_CLIENT_WEBSOCKET || conn_is_closing(client->conn))
        return;
    after_send(client, ws_send_frame(client->ws, frame, len));
}

/* ---- HTTP, through net/http_server ---- */

/* AWS's error shape: {"errors":[{"errorType":...,"message":...}]}. */
static void write_error_body(struct buf *body, const char *error_type, const char *message)
{
    buf_append_str(body, "{\"errors\":[{\"errorType\":");
    json_quote(body, error_type, strlen(error_type));
    buf_append_str(body, ",\"message\":");
    json_quote(body, message, strlen(message));
    buf_append_str(body, "}]}");
}

static void write_error_headers(struct buf *headers, const char *error_type)
{
    buf_printf(headers, JSON_HEADERS "x-amzn-ErrorType: %s\r\n", error_type);
}

/* The server's own answers (malformed requests, oversized heads) in AWS's
 * shape, as every broker error is. */
static void json_error_shape(int status, const char *why, struct buf *headers, struct buf *body,
                             void *user)
{
    (void)status;
    (void)user;
    write_error_headers(headers, "BadRequestException");
    write_error_body(body, "BadRequestException", why);
}

static void send_http_error(struct http_exchange *ex, int status, const char *error_type,
                            const char *message)
{
    struct buf headers = BUF_INIT, body = BUF_INIT;
    write_error_headers(&headers, error_type);
    buf_terminate(&headers);
    write_error_body(&body, error_type, message);
    http_exchange_respond(ex, status, buf_bytes(&headers), buf_bytes(&body), buf_length(&body));
    buf_free(&headers);
    buf_free(&body);
}

static size_t headers_of(const struct http_message *m, struct sigv4_header *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < m->header_count && n < cap; i++, n++) {
        out[n].name = m->headers[i].name;
        out[n].value = m->headers[i].value;
    }
    return n;
}

static int publish_status_for(const char *error_type)
{
    if (strcmp(error_type, "UnauthorizedException") == 0)
        return 401;
    if (strcmp(error_type, "PayloadTooLargeException") == 0)
        return 413;
    if (strcmp(error_type, "NotFoundException") == 0)
        return 404;
    return 400;
}

static void handle_http_publish(struct broker *broker, struct http_exchange *ex,
                                const struct http_message *m)
{
    char cause[256];
    struct sigv4_header headers[HTTP_MAX_HEADERS];
    struct broker_auth_request auth = {
        .headers = headers,
        .header_count = headers_of(m, headers, HTTP_MAX_HEADERS),
        .method = m->method,
        .path = m->path,
        .query = m->query,
        .body = buf_bytes(&m->body),
        .body_len = buf_length(&m->body),
    };
    if (broker_authorize(broker, &auth, cause, sizeof(cause)) < 0) {
        send_http_error(ex, 401, "UnauthorizedException", cause);
        return;
    }
    http_exchange_trust(ex);
    struct events_request request;
    struct broker_publish publish;
    struct channel channel;
    const char *error_type;
    if (events_request_scan(buf_bytes(&m->body), buf_length(&m->body), &request, cause,
                            sizeof(cause)) < 0 ||
        request.channel.type != JSON_SCAN_STRING || broker_publish_init(&publish, &request) < 0) {
        send_http_error(ex, 400, "BadRequestException",
                        "the body must be a JSON object with \"channel\" and \"events\"");
        return;
    }
    if (broker_publish_validate(broker, &publish, &channel, &error_type, cause, sizeof(cause)) <
        0) {
        send_http_error(ex, publish_status_for(error_type), error_type, cause);
        broker_publish_free(&publish);
        return;
    }
    struct buf body = BUF_INIT;
    buf_append_char(&body, '{');
    broker_publish_deliver(broker, &channel, &publish, &body);
    buf_append_char(&body, '}');
    http_exchange_respond(ex, 200, JSON_HEADERS, buf_bytes(&body), buf_length(&body));
    buf_free(&body);
    broker_publish_free(&publish);
}

/* Finds the auth JSON in a "header-<base64url>" subprotocol, if offered,
 * decoded into out (left empty when none is, or it is not JSON). */
static void auth_from_subprotocols(const char *offered, int *has_events_protocol, struct buf *out)
{
    const char *p = offered ? offered : "";
    int found = 0;
    *has_events_protocol = 0;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',' && *end != ' ')
            end++;
        size_t len = (size_t)(end - p);
        if (len == strlen(EVENTS_SUBPROTOCOL) && strncmp(p, EVENTS_SUBPROTOCOL, len) == 0) {
            *has_events_protocol = 1;
        } else if (len > 7 && strncmp(p, "header-", 7) == 0 && !found) {
            found = 1;
            if (base64url_decode(out, p + 7, len - 7) < 0 ||
                !json_scan_valid(buf_bytes(out), buf_length(out)))
                buf_reset(out);
        }
        p = end;
    }
}

static void send_connection_error(struct broker_client *client, const char *error_type,
                                  const char *message)
{
    struct buf *out = &client->broker->scratch;
    buf_reset(out);
    events_write_error(out, "connection_error", NULL, error_type, message);
    broker_client_send(client, buf_bytes(out), buf_length(out));
    ws_send_close(client->ws, 1000, "unauthorized");
    broker_client_close(client, 0, message);
}

/* The auth object (decoded from the subprotocol) when there is one, else
 * the request's own headers. */
static int authorize_connect(struct broker *broker, const struct http_message *m,
                             const struct buf *auth_object, char *cause, size_t cause_len)
{
    struct sigv4_header headers[HTTP_MAX_HEADERS];
    struct buf storage = BUF_INIT;
    int n = buf_length(auth_object)
                ? broker_auth_headers_from_text(buf_bytes(auth_object), buf_length(auth_object),
                                                &storage, headers, HTTP_MAX_HEADERS)
                : (int)headers_of(m, headers, HTTP_MAX_HEADERS);
    int rc;
    if (n < 0) {
        snprintf(cause, cause_len, "the authorization header object is malformed");
        rc = -EACCES;
    } else {
        rc = broker_authorize_event(broker, headers, (size_t)n, "{}", 2, cause, cause_len);
    }
    secure_free_buf(&storage);
    return rc;
}

/* ---- upgraded (realtime) connections ---- */

static void on_ws_message(void *user, int is_text, const char *data, size_t len)
{
    struct broker_client *client = user;
    if (!is_text) {
        broker_client_close(client, -EPROTO, "binary messages are not part of the protocol");
        return;
    }
    broker_ws_on_message(client, data, len);
}

static void on_ws_closed(void *user, uint16_t code)
{
    struct broker_client *client = user;
    char why[64];
    snprintf(why, sizeof(why), "websocket closed (code %u)", code);
    broker_client_close(client, 0, why);
}

static const struct ws_callbacks ws_callbacks = {on_ws_message, on_ws_closed};

static void on_client_data(void *user, const char *data, size_t len)
{
    struct broker_client *client = user;
    if (client->state != BROKER_CLIENT_WEBSOCKET)
        return;
    if (ws_session_feed(client->ws, data, len) < 0)
        broker_client_close(client, -EPROTO, "websocket protocol error");
}

static void on_client_closed(void *user, int status, const char *cause)
{
    struct broker_client *client = user;
    struct broker *broker = client->broker;
    if (status == -ENOBUFS) {
        broker->stats.dropped_slow_consumers++;
        log_warn("%s: disconnected a slow subscriber: %s", conn_peer_name(client->conn), cause);
    } else if (status < 0) {
        log_debug("%s: connection ended: %s", conn_peer_name(client->conn),
                  cause ? cause : "error");
    }
    broker_ws_drop_subscriptions(client);
    if (client->prev)
        client->prev->next = client->next;
    else
        broker->clients = client->next;
    if (client->next)
        client->next->prev = client->prev;
    ws_session_free(client->ws);
    free(client);
}

static const struct http_upgrade_callbacks client_callbacks = {on_client_data, on_client_closed};

/* Switches the exchange's connection to the realtime protocol; the new
 * client is linked into the broker's list. */
static struct broker_client *open_client(struct broker *broker, struct http_exchange *ex,
                                         const char *key)
{
    struct broker_client *client = calloc(1, sizeof(*client));
    if (client)
        client->ws = ws_session_new(WS_SERVER, EVENTS_MAX_MESSAGE_BYTES, &ws_callbacks,
                                    write_to_conn, client);
    if (!client || !client->ws) {
        free(client);
        send_http_error(ex, 500, "InternalFailureException", "out of memory");
        return NULL;
    }
    char accept[29], headers[256];
    ws_accept_key(key, accept);
    snprintf(headers, sizeof(headers),
             "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
             "Sec-WebSocket-Protocol: " EVENTS_SUBPROTOCOL "\r\n",
             accept);
    client->conn = http_exchange_upgrade(ex, headers, &client_callbacks, client);
    if (!client->conn) {
        ws_session_free(client->ws);
        free(client);
        return NULL;
    }
    client->broker = broker;
    client->connected_at_ms = now_ms(broker);
    client->next = broker->clients;
    if (broker->clients)
        broker->clients->prev = client;
    broker->clients = client;
    return client;
}

static void handle_upgrade(struct broker *broker, struct http_exchange *ex,
                           const struct http_message *m)
{
    const char *key = http_header_get(m, "sec-websocket-key");
    const char *version = http_header_get(m, "sec-websocket-version");
    /* A refused upgrade ends the connection (the client may already be
     * sending WebSocket frames). */
    http_exchange_close_after(ex);
    if (!key || strlen(key) > 64 || !http_header_has_token(m, "upgrade", "websocket") || !version ||
        strcmp(version, "13") != 0) {
        send_http_error(ex, 400, "BadRequestException",
                        "expected a WebSocket upgrade (version 13)");
        return;
    }
    int has_protocol;
    struct buf auth = BUF_INIT;
    auth_from_subprotocols(http_header_get(m, "sec-websocket-protocol"), &has_protocol, &auth);
    if (!has_protocol) {
        secure_free_buf(&auth);
        send_http_error(ex, 400, "BadRequestException",
                        "the WebSocket subprotocol " EVENTS_SUBPROTOCOL " is required");
        return;
    }
    /* Checked before the switch (the request is gone after it); a refusal is
     * told in the realtime protocol, as AWS does. */
    char cause[256];
    int authorized = authorize_connect(broker, m, &auth, cause, sizeof(cause));
    secure_free_buf(&auth);
    if (authorized == 0)
        http_exchange_trust(ex);
    struct broker_client *client = open_client(broker, ex, key);
    if (!client)
        return;
    if (authorized < 0)
        send_connection_error(client, "UnauthorizedException", cause);
    else
        log_debug("%s: realtime connection open", conn_peer_name(client->conn));
}

static void on_request(struct http_exchange *ex, void *user)
{
    struct broker *broker = user;
    const struct http_message *m = http_exchange_request(ex);
    if (http_exchange_body_too_large(ex)) {
        /* The rest of that body is not read: the connection ends. */
        http_exchange_close_after(ex);
        send_http_error(ex, 413, "BadRequestException", "request body too large");
        return;
    }
    if (strcmp(m->path, "/event/realtime") == 0) {
        if (m->upgrade && strcmp(m->method, "GET") == 0)
            handle_upgrade(broker, ex, m);
        else
            send_http_error(ex, 426, "BadRequestException",
                            "this endpoint takes WebSocket connections");
    } else if (strcmp(m->path, "/event") == 0) {
        if (strcmp(m->method, "POST") == 0)
            handle_http_publish(broker, ex, m);
        else
            send_http_error(ex, 405, "BadRequestException", "use POST to publish");
    } else {
        send_http_error(ex, 404, "NotFoundException", "no such endpoint");
    }
}

/* Before the body: a connection that has not passed authorization yet may
 * make the broker hold a publish's body only when the head already shows
 * authorization (see broker_authorize_head); any other body it sends is
 * kept small. Everything else is routed once the request is complete. */
static void on_head(struct http_exchange *ex, void *user)
{
    struct broker *broker = user;
    const struct http_message *m = http_exchange_request(ex);
    if (http_exchange_trusted(ex))
        return;
    if (strcmp(m->path, "/event") != 0 || strcmp(m->method, "POST") != 0) {
        http_exchange_take_body(ex, HTTP_BODY_BUFFER, UNAUTHENTICATED_BODY_BYTES);
        return;
    }
    char cause[256];
    struct sigv4_header headers[HTTP_MAX_HEADERS];
    struct broker_auth_request auth = {
        .headers = headers,
        .header_count = headers_of(m, headers, HTTP_MAX_HEADERS),
    };
    int complete;
    if (broker_authorize_head(broker, &auth, &complete, cause, sizeof(cause)) < 0) {
        http_exchange_close_after(ex);
        send_http_error(ex, 401, "UnauthorizedException", cause);
        return;
    }
    if (complete)
        http_exchange_trust(ex);
}

static const struct http_server_callbacks http_callbacks = {
    .on_head = on_head,
    .on_request = on_request,
    .format_error = json_error_shape,
};

static void on_keepalive(uv_timer_t *timer)
{
    struct broker *broker = timer->data;
    static const char ka[] = "{\"type\":\"ka\"}";
    uint64_t max_age_ms = (uint64_t)broker->max_connection_age_s * 1000;
    for (struct broker_client *c = broker->clients; c; c = c->next) {
        if (c->state != BROKER_CLIENT_WEBSOCKET)
            continue;
        if (now_ms(broker) - c->connected_at_ms >= max_age_ms) {
            ws_send_close(c->ws, 1000, "maximum connection duration reached");
            broker_client_close(c, 0, "maximum connection duration reached");
            continue;
        }
        broker_client_send(c, ka, sizeof(ka) - 1);
    }
}

static char *copy_string(const char *s)
{
    return s ? strdup(s) : NULL;
}

static char **copy_strings(const char *const *list, size_t count)
{
    char **out = calloc(count ? count : 1, sizeof(*out));
    for (size_t i = 0; out && i < count; i++)
        out[i] = strdup(list[i]);
    return out;
}

/* Well below the connection and descriptor limits, so that strangers who
 * never authenticate cannot take every slot from honest clients. */
static size_t default_max_unauthenticated(const struct broker *b)
{
    size_t n = 1024;
    if (b->max_connections / 4 < n)
        n = b->max_connections / 4;
    if (fd_limit_current() / 4 < n)
        n = fd_limit_current() / 4;
    return n ? n : 1;
}

static int copy_config(struct broker *b, const struct broker_config *c)
{
    static const char *const default_namespaces[] = {"tether", "default"};
    const char *const *ns = c->namespace_count ? c->namespaces : default_namespaces;
    b->namespace_count = c->namespace_count ? c->namespace_count : 2;
    b->namespaces = copy_strings(ns, b->namespace_count);
    b->api_key_count = c->api_key_count;
    b->api_keys = copy_strings(c->api_keys, c->api_key_count);
    b->identity_count = c->iam_identity_count;
    b->identities =
        calloc(c->iam_identity_count ? c->iam_identity_count : 1, sizeof(*b->identities));
    for (size_t i = 0; b->identities && i < c->iam_identity_count; i++) {
        b->identities[i].access_key_id = copy_string(c->iam_identities[i].access_key_id);
        b->identities[i].secret_access_key = copy_string(c->iam_identities[i].secret_access_key);
        b->identities[i].session_token = copy_string(c->iam_identities[i].session_token);
    }
    b->region = strdup(c->region ? c->region : "us-east-1");
    b->keepalive_ms = c->keepalive_ms ? c->keepalive_ms : EVENTS_KEEPALIVE_MS;
    b->connection_timeout_ms =
        c->connection_timeout_ms ? c->connection_timeout_ms : EVENTS_CONNECTION_TIMEOUT_MS;
    b->max_connection_age_s = c->max_connection_age_s ? c->max_connection_age_s : 86400;
    b->output_limit =
        c->subscriber_output_limit ? c->subscriber_output_limit : CONN_DEFAULT_OUTPUT_LIMIT;
    b->max_connections = c->max_connections ? c->max_connections : 10000;
    b->auth_timeout_ms = c->auth_timeout_ms ? c->auth_timeout_ms : 10000;
    b->max_unauthenticated =
        c->max_unauthenticated ? c->max_unauthenticated : default_max_unauthenticated(b);
    return b->namespaces && b->api_keys && b->identities && b->region ? 0 : -ENOMEM;
}

static void free_config(struct broker *b)
{
    for (size_t i = 0; b->namespaces && i < b->namespace_count; i++)
        free(b->namespaces[i]);
    for (size_t i = 0; b->api_keys && i < b->api_key_count; i++) {
        secure_wipe(b->api_keys[i], strlen(b->api_keys[i]));
        free(b->api_keys[i]);
    }
    for (size_t i = 0; b->identities && i < b->identity_count; i++) {
        free((char *)b->identities[i].access_key_id);
        char *secret = (char *)b->identities[i].secret_access_key;
        if (secret)
            secure_wipe(secret, strlen(secret));
        free(secret);
        free((char *)b->identities[i].session_token);
    }
    free(b->namespaces);
    free(b->api_keys);
    free(b->identities);
    free(b->region);
}

static void free_broker(struct broker *broker)
{
    free_config(broker);
    sub_index_free(&broker->index);
    buf_free(&broker->scratch);
    buf_free(&broker->frame);
    tls_config_free(broker->tls);
    conn_context_free(broker->conns);
    free(broker);
}

static int start_http(struct broker *broker, const struct broker_config *config, char *cause,
                      size_t cause_len)
{
    /* Realtime connections have their own keep-alive once upgraded; the
     * HTTP timeouts apply before that and to HTTP publishes. */
    struct http_server_config http = {
        .name = "broker",
        .host = config->listen_host ? config->listen_host : "127.0.0.1",
        .port = config->listen_port,
        .max_header_bytes = HTTP_MAX_HEADER_BYTES,
        .max_body_bytes = HTTP_MAX_BODY_BYTES,
        .max_connections = broker->max_connections,
        .output_limit = broker->output_limit,
        .head_timeout_ms = HTTP_TIMEOUT_MS,
        .body_timeout_ms = HTTP_TIMEOUT_MS,
        .tls = broker->tls,
        .untrusted_timeout_ms = broker->auth_timeout_ms,
        .max_untrusted = broker->max_unauthenticated,
    };
    return http_server_start(broker->conns, &http, &http_callbacks, broker, &broker->http, cause,
                             cause_len);
}

int broker_start(uv_loop_t *loop, const struct broker_config *config, struct broker **out,
                 char *cause, size_t cause_len)
{
    struct broker *broker = calloc(1, sizeof(*broker));
    if (!broker)
        return -ENOMEM;
    broker->loop = loop;
    int rc = copy_config(broker, config);
    if (rc == 0)
        rc = random_bytes(broker->identifier_base, sizeof(broker->identifier_base));
    if (rc == 0)
        rc = sub_index_init(&broker->index);
    if (rc == 0 && !(broker->conns = conn_context_new(loop)))
        rc = -ENOMEM;
    if (rc == 0 && config->tls_cert_file && config->tls_key_file)
        rc = tls_config_new_server(config->tls_cert_file, config->tls_key_file, &broker->tls, cause,
                                   cause_len);
    if (rc == 0)
        rc = start_http(broker, config, cause, cause_len);
    if (rc < 0) {
        if (rc == -ENOMEM)
            snprintf(cause, cause_len, "out of memory");
        free_broker(broker);
        return rc;
    }
    uv_timer_init(loop, &broker->keepalive_timer);
    broker->keepalive_timer.data = broker;
    uv_timer_start(&broker->keepalive_timer, on_keepalive, broker->keepalive_ms,
                   broker->keepalive_ms);
    *out = broker;
    return 0;
}

uint16_t broker_port(const struct broker *broker)
{
    return http_server_port(broker->http);
}

void broker_get_stats(const struct broker *broker, struct broker_stats *out)
{
    *out = broker->stats;
    out->connections = http_server_connection_count(broker->http);
    out->subscriptions = 0;
    for (const struct broker_client *c = broker->clients; c; c = c->next)
        out->subscriptions += c->subscription_count;
}

static void on_timer_closed(uv_handle_t *handle)
{
    free_broker(handle->data);
}

/* Every connection is closed and the HTTP server is gone. */
static void on_http_closed(void *user)
{
    struct broker *broker = user;
    uv_close((uv_handle_t *)&broker->keepalive_timer, on_timer_closed);
}

void broker_stop(struct broker *broker)
{
    if (broker->stopping)
        return;
    broker->stopping = 1;
    uv_timer_stop(&broker->keepalive_timer);
    /* Realtime clients hear why (1001) before the server closes the rest. */
    for (struct broker_client *c = broker->clients; c; c = c->next) {
        if (c->state == BROKER_CLIENT_WEBSOCKET)
            ws_send_close(c->ws, 1001, "broker shutting down");
        broker_client_close(c, 0, "broker shutting down");
    }
    http_server_close(broker->http, on_http_closed, broker);
}
