/* The broker's connections: accept, read HTTP, route POST /event (publish)
 * and GET /event/realtime (WebSocket upgrade), keep-alives, shutdown.
 * Realtime messages are handled in broker_ws.c, authorization in
 * broker_auth.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_MODULE "broker"
#include "core/encoding.h"
#include "core/log.h"
#include "events/broker_internal.h"

#define HTTP_MAX_HEADER_BYTES (32 * 1024)
#define HTTP_MAX_BODY_BYTES (EVENTS_MAX_PUBLISH_BYTES + 64 * 1024)
#define JSON_HEADERS "Content-Type: application/json\r\n"

static const char *const state_names[] = {"http", "websocket", "closing"};

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

void broker_client_send(struct broker_client *client, const char *text, size_t len)
{
    if (client->state != BROKER_CLIENT_WEBSOCKET || conn_is_closing(client->conn))
        return;
    if (ws_send_text(client->ws, text, len) < 0) {
        if (conn_is_closing(client->conn))
            client->broker->stats.dropped_slow_consumers++;
        broker_client_close(client, -EPIPE, "send failed");
    }
}

/* ---- HTTP ---- */

static void send_http(struct broker_client *client, int status, const char *headers,
                      const char *body, size_t body_len, int keep_alive)
{
    struct buf *out = &client->broker->scratch;
    buf_reset(out);
    char extra[256];
    snprintf(extra, sizeof(extra), "%s%s", headers ? headers : "",
             keep_alive ? "" : "Connection: close\r\n");
    http_write_response(out, status, extra, body, body_len);
    conn_write(client->conn, buf_bytes(out), buf_length(out));
    if (!keep_alive)
        broker_client_close(client, 0, NULL);
}

static void send_http_error(struct broker_client *client, int status, const char *error_type,
                            const char *message, int keep_alive)
{
    struct buf body = BUF_INIT;
    buf_append_str(&body, "{\"errors\":[{\"errorType\":");
    json_quote(&body, error_type, strlen(error_type));
    buf_append_str(&body, ",\"message\":");
    json_quote(&body, message, strlen(message));
    buf_append_str(&body, "}]}");
    char headers[160];
    snprintf(headers, sizeof(headers), JSON_HEADERS "x-amzn-ErrorType: %s\r\n", error_type);
    send_http(client, status, headers, buf_bytes(&body), buf_length(&body), keep_alive);
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

static void handle_http_publish(struct broker_client *client, const struct http_message *m)
{
    struct broker *broker = client->broker;
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
        send_http_error(client, 401, "UnauthorizedException", cause, m->keep_alive);
        return;
    }
    json_error_t err;
    json_t *root =
        json_loadb(buf_bytes(&m->body), buf_length(&m->body), JSON_REJECT_DUPLICATES, &err);
    json_t *channel_value = json_object_get(root, "channel");
    if (!json_is_object(root) || !json_is_string(channel_value)) {
        snprintf(cause, sizeof(cause),
                 "the body must be a JSON object with \"channel\" and \"events\"");
        send_http_error(client, 400, "BadRequestException", cause, m->keep_alive);
        json_decref(root);
        return;
    }
    struct broker_publish publish = {
        .channel = json_string_value(channel_value),
        .channel_length = json_string_length(channel_value),
        .events = json_object_get(root, "events"),
    };
    struct channel channel;
    const char *error_type;
    if (broker_publish_validate(broker, &publish, &channel, &error_type, cause, sizeof(cause)) <
        0) {
        send_http_error(client, publish_status_for(error_type), error_type, cause, m->keep_alive);
        json_decref(root);
        return;
    }
    struct buf body = BUF_INIT;
    buf_append_char(&body, '{');
    broker_publish_deliver(broker, &channel, publish.events, &body);
    buf_append_char(&body, '}');
    send_http(client, 200, JSON_HEADERS, buf_bytes(&body), buf_length(&body), m->keep_alive);
    buf_free(&body);
    json_decref(root);
}

/* Finds the auth JSON in a "header-<base64url>" subprotocol, if offered. */
static json_t *auth_from_subprotocols(const char *offered, int *has_events_protocol)
{
    json_t *auth = NULL;
    const char *p = offered ? offered : "";
    *has_events_protocol = 0;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',' && *end != ' ')
            end++;
        size_t len = (size_t)(end - p);
        if (len == strlen(EVENTS_SUBPROTOCOL) && strncmp(p, EVENTS_SUBPROTOCOL, len) == 0)
            *has_events_protocol = 1;
        else if (len > 7 && strncmp(p, "header-", 7) == 0 && !auth) {
            struct buf decoded = BUF_INIT;
            if (base64url_decode(&decoded, p + 7, len - 7) == 0)
                auth = json_loadb(buf_bytes(&decoded), buf_length(&decoded), 0, NULL);
            buf_free(&decoded);
        }
        p = end;
    }
    return auth;
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

static int authorize_connect(struct broker_client *client, const struct http_message *m,
                             json_t *auth_object, char *cause, size_t cause_len)
{
    struct sigv4_header headers[HTTP_MAX_HEADERS];
    int n = auth_object ? broker_auth_headers_from_json(auth_object, headers, HTTP_MAX_HEADERS)
                        : (int)headers_of(m, headers, HTTP_MAX_HEADERS);
    if (n < 0) {
        snprintf(cause, cause_len, "the authorization header object is malformed");
        return -EACCES;
    }
    struct broker_auth_request auth = {
        .headers = headers,
        .header_count = (size_t)n,
        .method = "POST",
        .path = "/event",
        .query = "",
        .body = "{}",
        .body_len = 2,
    };
    return broker_authorize(client->broker, &auth, cause, cause_len);
}

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

static void handle_upgrade(struct broker_client *client, const struct http_message *m)
{
    const char *key = http_header_get(m, "sec-websocket-key");
    const char *version = http_header_get(m, "sec-websocket-version");
    if (!key || strlen(key) > 64 || !http_header_has_token(m, "upgrade", "websocket") || !version ||
        strcmp(version, "13") != 0) {
        send_http_error(client, 400, "BadRequestException",
                        "expected a WebSocket upgrade (version 13)", 0);
        return;
    }
    int has_protocol;
    json_t *auth =
        auth_from_subprotocols(http_header_get(m, "sec-websocket-protocol"), &has_protocol);
    if (!has_protocol) {
        json_decref(auth);
        send_http_error(client, 400, "BadRequestException",
                        "the WebSocket subprotocol " EVENTS_SUBPROTOCOL " is required", 0);
        return;
    }
    char accept[29];
    ws_accept_key(key, accept);
    struct buf *out = &client->broker->scratch;
    buf_reset(out);
    buf_printf(out,
               "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: " EVENTS_SUBPROTOCOL "\r\n\r\n",
               accept);
    conn_write(client->conn, buf_bytes(out), buf_length(out));
    client->ws =
        ws_session_new(WS_SERVER, EVENTS_MAX_MESSAGE_BYTES, &ws_callbacks, write_to_conn, client);
    if (!client->ws) {
        json_decref(auth);
        broker_client_close(client, -ENOMEM, "out of memory");
        return;
    }
    broker_client_enter_state(client, BROKER_CLIENT_WEBSOCKET);
    char cause[256];
    if (authorize_connect(client, m, auth, cause, sizeof(cause)) < 0)
        send_connection_error(client, "UnauthorizedException", cause);
    else
        log_debug("%s: realtime connection open", conn_peer_name(client->conn));
    json_decref(auth);
}

static void route_request(struct broker_client *client, const struct http_message *m)
{
    log_trace("%s: %s %s", conn_peer_name(client->conn), m->method, m->target);
    if (strcmp(m->path, "/event/realtime") == 0) {
        if (m->upgrade && strcmp(m->method, "GET") == 0)
            handle_upgrade(client, m);
        else
            send_http_error(client, 426, "BadRequestException",
                            "this endpoint takes WebSocket connections", m->keep_alive);
    } else if (strcmp(m->path, "/event") == 0) {
        if (strcmp(m->method, "POST") == 0)
            handle_http_publish(client, m);
        else
            send_http_error(client, 405, "BadRequestException", "use POST to publish",
                            m->keep_alive);
    } else {
        send_http_error(client, 404, "NotFoundException", "no such endpoint", m->keep_alive);
    }
}

/* A client that sent "Expect: 100-continue" waits for this before sending
 * its body (curl does so for bodies over 1 MiB). */
static void answer_expect_continue(struct broker_client *client)
{
    static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (client->continue_sent || !client->http->headers_complete ||
        !http_header_has_token(&client->http->message, "expect", "100-continue"))
        return;
    client->continue_sent = 1;
    conn_write(client->conn, continue_line, sizeof(continue_line) - 1);
}

static void feed_http(struct broker_client *client, const char *data, size_t len)
{
    while (len > 0 && client->state == BROKER_CLIENT_HTTP) {
        ssize_t n = http_reader_feed(client->http, data, len);
        if (n < 0) {
            struct http_reader *r = client->http;
            send_http_error(client, r->http_status_for_error, "BadRequestException", r->error, 0);
            return;
        }
        data += n;
        len -= (size_t)n;
        if (client->http->state != HTTP_READER_COMPLETE) {
            answer_expect_continue(client);
            return;
        }
        client->continue_sent = 0;
        route_request(client, &client->http->message);
        if (client->state == BROKER_CLIENT_WEBSOCKET) {
            http_reader_free(client->http);
            free(client->http);
            client->http = NULL;
            if (len > 0 && ws_session_feed(client->ws, data, len) < 0)
                broker_client_close(client, -EPROTO, "websocket protocol error");
            return;
        }
        http_reader_reset(client->http);
    }
}

static void on_data(struct conn *conn, const char *data, size_t len)
{
    struct broker_client *client = conn_user(conn);
    if (client->state == BROKER_CLIENT_HTTP)
        feed_http(client, data, len);
    else if (client->state == BROKER_CLIENT_WEBSOCKET) {
        if (ws_session_feed(client->ws, data, len) < 0)
            broker_client_close(client, -EPROTO, "websocket protocol error");
    }
}

static void unlink_client(struct broker *broker, struct broker_client *client)
{
    if (client->prev)
        client->prev->next = client->next;
    else
        broker->clients = client->next;
    if (client->next)
        client->next->prev = client->prev;
    broker->stats.connections--;
}

static void finish_stop(struct broker *broker);

static void on_close(struct conn *conn, int status, const char *cause)
{
    struct broker_client *client = conn_user(conn);
    struct broker *broker = client->broker;
    if (status == -ENOBUFS) {
        broker->stats.dropped_slow_consumers++;
        log_warn("%s: disconnected a slow subscriber: %s", conn_peer_name(conn), cause);
    } else if (status < 0) {
        log_debug("%s: connection ended: %s", conn_peer_name(conn), cause ? cause : "error");
    }
    broker_ws_drop_subscriptions(client);
    unlink_client(broker, client);
    if (client->http) {
        http_reader_free(client->http);
        free(client->http);
    }
    ws_session_free(client->ws);
    free(client);
    if (broker->stopping && !broker->clients)
        finish_stop(broker);
}

static const struct conn_callbacks client_callbacks = {NULL, on_data, on_close};

static void on_accept(struct conn_listener *listener, struct conn *conn)
{
    struct broker *broker = conn_listener_user(listener);
    struct broker_client *client = calloc(1, sizeof(*client));
    struct http_reader *http = calloc(1, sizeof(*http));
    if (!client || !http || broker->stats.connections >= broker->max_connections) {
        free(client);
        free(http);
        conn_set_callbacks(conn, &(struct conn_callbacks){0}, NULL);
        log_warn("%s: refused: connection limit (%zu) reached", conn_peer_name(conn),
                 broker->max_connections);
        conn_close(conn, -EMFILE, "connection limit reached");
        return;
    }
    struct http_limits limits = {HTTP_MAX_HEADER_BYTES, HTTP_MAX_BODY_BYTES};
    http_reader_init(http, HTTP_REQUEST, &limits);
    client->http = http;
    client->broker = broker;
    client->conn = conn;
    client->connected_at_ms = now_ms(broker);
    client->next = broker->clients;
    if (broker->clients)
        broker->clients->prev = client;
    broker->clients = client;
    broker->stats.connections++;
    conn_set_output_limit(conn, broker->output_limit);
    conn_set_callbacks(conn, &client_callbacks, client);
}

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
    tls_config_free(broker->tls);
    conn_context_free(broker->conns);
    free(broker);
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
        rc = sub_index_init(&broker->index);
    if (rc == 0 && !(broker->conns = conn_context_new(loop)))
        rc = -ENOMEM;
    if (rc == 0 && config->tls_cert_file && config->tls_key_file)
        rc = tls_config_new_server(config->tls_cert_file, config->tls_key_file, &broker->tls, cause,
                                   cause_len);
    if (rc == 0)
        rc = conn_listen(broker->conns, config->listen_host ? config->listen_host : "127.0.0.1",
                         config->listen_port, broker->tls, on_accept, broker, &broker->listener,
                         cause, cause_len);
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
    return conn_listener_port(broker->listener);
}

void broker_get_stats(const struct broker *broker, struct broker_stats *out)
{
    *out = broker->stats;
    out->subscriptions = 0;
    for (const struct broker_client *c = broker->clients; c; c = c->next)
        out->subscriptions += c->subscription_count;
}

static void on_timer_closed(uv_handle_t *handle)
{
    free_broker(handle->data);
}

static void finish_stop(struct broker *broker)
{
    uv_close((uv_handle_t *)&broker->keepalive_timer, on_timer_closed);
}

void broker_stop(struct broker *broker)
{
    if (broker->stopping)
        return;
    broker->stopping = 1;
    uv_timer_stop(&broker->keepalive_timer);
    conn_listener_close(broker->listener);
    if (!broker->clients) {
        finish_stop(broker);
        return;
    }
    for (struct broker_client *c = broker->clients; c; c = c->next) {
        if (c->state == BROKER_CLIENT_WEBSOCKET)
            ws_send_close(c->ws, 1001, "broker shutting down");
        broker_client_close(c, 0, "broker shutting down");
    }
}
