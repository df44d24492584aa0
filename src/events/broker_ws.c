/* The realtime protocol on an upgraded broker connection: connection_init,
 * subscribe, unsubscribe and publish, and the fan-out of published events to
 * every matching subscription. A bad message gets an error message naming
 * its id; only protocol violations close the connection. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "broker"
#include "core/encoding.h"
#include "core/json_check.h"
#include "core/log.h"
#include "core/random.h"
#include "events/broker_internal.h"

#define MAX_AUTH_HEADERS 32

static void send_error(struct broker_client *client, const char *type, const char *id,
                       const char *error_type, const char *message)
{
    struct buf *out = &client->broker->scratch;
    buf_reset(out);
    events_write_error(out, type, id, error_type, message);
    broker_client_send(client, buf_bytes(out), buf_length(out));
}

static void send_simple(struct broker_client *client, const char *type, const char *id)
{
    struct buf *out = &client->broker->scratch;
    buf_reset(out);
    events_write_simple(out, type, id);
    broker_client_send(client, buf_bytes(out), buf_length(out));
}

/* Checks the message's authorization object against the bytes it signs. */
static int authorize_message(struct broker_client *client, const struct events_message *m,
                             const struct buf *signed_body, char *cause, size_t cause_len)
{
    struct sigv4_header headers[MAX_AUTH_HEADERS];
    int n = broker_auth_headers_from_json(m->authorization, headers, MAX_AUTH_HEADERS);
    if (n < 0) {
        snprintf(cause, cause_len,
                 "You are not authorized to make this call. "
                 "(the message has no \"authorization\" object)");
        client->broker->stats.auth_failures++;
        return -EACCES;
    }
    return broker_authorize_event(client->broker, headers, (size_t)n, buf_bytes(signed_body),
                                  buf_length(signed_body), cause, cause_len);
}

/* API-key authorization signs nothing: only SigV4 needs the signed body. */
static int signs_body(const struct events_message *m)
{
    return json_object_get(m->authorization, "x-api-key") == NULL;
}

static struct broker_subscription *find_subscription(struct broker_client *client, const char *id,
                                                     size_t id_len)
{
    for (struct broker_subscription *s = client->subscriptions; s; s = s->next)
        if (s->id_length == id_len && memcmp(s->id, id, id_len) == 0)
            return s;
    return NULL;
}

static int check_id(struct broker_client *client, const struct events_message *m,
                    const char *reply_type)
{
    if (m->id && events_id_valid(m->id, m->id_length))
        return 0;
    send_error(client, reply_type, NULL, "BadRequestException",
               "\"id\" must match ^[a-zA-Z0-9-_+]{1,128}$");
    return -EINVAL;
}

static int check_channel(struct broker_client *client, const struct events_message *m, int wildcard,
                         struct channel *channel, const char *reply_type)
{
    char cause[160];
    if (!m->channel) {
        send_error(client, reply_type, m->id, "BadRequestException", "\"channel\" is required");
        return -EINVAL;
    }
    if (channel_parse(m->channel, m->channel_length, wildcard, channel, cause, sizeof(cause)) < 0) {
        send_error(client, reply_type, m->id, "BadRequestException", cause);
        return -EINVAL;
    }
    if (!broker_namespace_exists(client->broker, channel)) {
        char ns[CHANNEL_MAX_SEGMENT_LENGTH + 1];
        channel_namespace(channel, ns);
        snprintf(cause, sizeof(cause), "namespace \"%s\" does not exist on this API", ns);
        send_error(client, reply_type, m->id, "NotFoundException", cause);
        return -ENOENT;
    }
    return 0;
}

static void handle_subscribe(struct broker_client *client, const struct events_message *m)
{
    struct channel channel;
    char cause[256];
    if (check_id(client, m, "subscribe_error") < 0 ||
        check_channel(client, m, 1, &channel, "subscribe_error") < 0)
        return;
    if (find_subscription(client, m->id, m->id_length)) {
        send_error(client, "subscribe_error", m->id, "DuplicatedOperationError",
                   "a subscription with this id already exists on this connection");
        return;
    }
    if (client->subscription_count >= EVENTS_MAX_SUBSCRIPTIONS) {
        send_error(client, "subscribe_error", m->id, "MaxSubscriptionsReachedError",
                   "at most 200 subscriptions per connection");
        return;
    }
    struct buf body = BUF_INIT;
    if (signs_body(m))
        events_signed_body_subscribe(&body, m->channel, m->channel_length);
    int rc = authorize_message(client, m, &body, cause, sizeof(cause));
    buf_free(&body);
    if (rc < 0) {
        send_error(client, "subscribe_error", m->id, "UnauthorizedException", cause);
        return;
    }
    struct broker_subscription *s = calloc(1, sizeof(*s));
    if (!s || sub_index_add(&client->broker->index, channel.path, &s->entry) < 0) {
        free(s);
        send_error(client, "subscribe_error", m->id, "SubscriptionProcessingError",
                   "out of memory");
        return;
    }
    s->client = client;
    memcpy(s->id, m->id, m->id_length);
    s->id_length = m->id_length;
    memcpy(s->channel, channel.path, sizeof(s->channel));
    s->next = client->subscriptions;
    client->subscriptions = s;
    client->subscription_count++;
    log_debug("%s: subscribed %s to %s", conn_peer_name(client->conn), s->id, s->channel);
    send_simple(client, "subscribe_success", m->id);
}

static void remove_subscription(struct broker_client *client, struct broker_subscription *target)
{
    for (struct broker_subscription **p = &client->subscriptions; *p; p = &(*p)->next) {
        if (*p == target) {
            *p = target->next;
            break;
        }
    }
    sub_index_remove(&client->broker->index, &target->entry);
    client->subscription_count--;
    free(target);
}

static void handle_unsubscribe(struct broker_client *client, const struct events_message *m)
{
    if (check_id(client, m, "unsubscribe_error") < 0)
        return;
    struct broker_subscription *s = find_subscription(client, m->id, m->id_length);
    if (!s) {
        send_error(client, "unsubscribe_error", m->id, "UnknownOperationError",
                   "no subscription with this id on this connection");
        return;
    }
    remove_subscription(client, s);
    send_simple(client, "unsubscribe_success", m->id);
}

void broker_ws_drop_subscriptions(struct broker_client *client)
{
    while (client->subscriptions)
        remove_subscription(client, client->subscriptions);
}

int broker_publish_validate(struct broker *broker, const struct broker_publish *publish,
                            struct channel *channel, const char **error_type, char *cause,
                            size_t cause_len)
{
    *error_type = "BadRequestException";
    if (!publish->channel) {
        snprintf(cause, cause_len, "\"channel\" is required");
        return -EINVAL;
    }
    if (channel_parse(publish->channel, publish->channel_length, 0, channel, cause, cause_len) < 0)
        return -EINVAL;
    if (!broker_namespace_exists(broker, channel)) {
        char ns[CHANNEL_MAX_SEGMENT_LENGTH + 1];
        channel_namespace(channel, ns);
        *error_type = "NotFoundException";
        snprintf(cause, cause_len, "namespace \"%s\" does not exist on this API", ns);
        return -ENOENT;
    }
    size_t count = json_array_size(publish->events);
    if (!json_is_array(publish->events) || count == 0 || count > EVENTS_MAX_EVENTS_PER_PUBLISH) {
        snprintf(cause, cause_len, "\"events\" must be an array of 1 to %d JSON strings",
                 EVENTS_MAX_EVENTS_PER_PUBLISH);
        return -EINVAL;
    }
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        json_t *e = json_array_get(publish->events, i);
        if (!json_is_string(e)) {
            snprintf(cause, cause_len, "event %zu is not a string (events are stringified JSON)",
                     i);
            return -EINVAL;
        }
        total += json_string_length(e);
    }
    if (total > EVENTS_MAX_PUBLISH_BYTES) {
        *error_type = "PayloadTooLargeException";
        snprintf(cause, cause_len, "the events add up to %zu bytes; the limit is %d", total,
                 EVENTS_MAX_PUBLISH_BYTES);
        return -E2BIG;
    }
    return 0;
}

struct fanout {
    struct broker *broker;
    const char *quoted; /* the event as a JSON string literal */
    size_t quoted_len;
};

static void deliver_to(struct sub_entry *entry, void *ctx)
{
    struct broker_subscription *s = (struct broker_subscription *)entry;
    struct fanout *f = ctx;
    struct broker_client *client = s->client;
    if (client->state != BROKER_CLIENT_WEBSOCKET || conn_is_closing(client->conn))
        return;
    struct buf *out = &f->broker->scratch;
    buf_reset(out);
    events_write_data(out, s->id, s->id_length, f->quoted, f->quoted_len);
    broker_client_send(client, buf_bytes(out), buf_length(out));
    f->broker->stats.delivered++;
}

/* Why one event cannot be delivered, or NULL when it can. */
static const char *event_problem(const char *text, size_t len, const char **code)
{
    if (len > EVENTS_MAX_EVENT_BYTES) {
        *code = "PayloadTooLargeException";
        return "the event is larger than 240 KB";
    }
    if (!json_check(text, len)) {
        *code = "BadRequestException";
        return "the event is not valid JSON";
    }
    return NULL;
}

static void append_failed(struct buf *failed, const char *identifier, size_t index,
                          const char *code, const char *message)
{
    if (buf_length(failed) > 0)
        buf_append_char(failed, ',');
    buf_printf(failed, "{\"identifier\":\"%s\",\"index\":%zu,\"code\":", identifier, index);
    json_quote(failed, code, strlen(code));
    buf_append_str(failed, ",\"message\":");
    json_quote(failed, message, strlen(message));
    buf_append_char(failed, '}');
}

int broker_publish_deliver(struct broker *broker, const struct channel *channel,
                           const json_t *events, struct buf *result)
{
    struct buf successful = BUF_INIT, failed = BUF_INIT, quoted = BUF_INIT;
    for (size_t i = 0; i < json_array_size(events); i++) {
        json_t *e = json_array_get(events, i);
        const char *text = json_string_value(e);
        size_t len = json_string_length(e);
        char identifier[37];
        random_uuid(identifier);
        const char *code = NULL;
        const char *problem = event_problem(text, len, &code);
        if (problem) {
            append_failed(&failed, identifier, i, code, problem);
            continue;
        }
        buf_reset(&quoted);
        json_quote(&quoted, text, len);
        struct fanout f = {broker, buf_bytes(&quoted), buf_length(&quoted)};
        sub_index_match(&broker->index, channel, deliver_to, &f);
        broker->stats.published++;
        if (buf_length(&successful) > 0)
            buf_append_char(&successful, ',');
        buf_printf(&successful, "{\"identifier\":\"%s\",\"index\":%zu}", identifier, i);
    }
    buf_append_str(result, "\"successful\":[");
    buf_append(result, buf_bytes(&successful), buf_length(&successful));
    buf_append_str(result, "],\"failed\":[");
    buf_append(result, buf_bytes(&failed), buf_length(&failed));
    int rc = buf_append_str(result, "]");
    buf_free(&successful);
    buf_free(&failed);
    buf_free(&quoted);
    return rc;
}

static void handle_publish(struct broker_client *client, const struct events_message *m)
{
    struct broker *broker = client->broker;
    char cause[256];
    const char *error_type;
    struct channel channel;
    if (check_id(client, m, "publish_error") < 0)
        return;
    struct broker_publish publish = {m->channel, m->channel_length, m->events};
    if (broker_publish_validate(broker, &publish, &channel, &error_type, cause, sizeof(cause)) <
        0) {
        send_error(client, "publish_error", m->id, error_type, cause);
        return;
    }
    struct buf body = BUF_INIT;
    if (signs_body(m))
        events_signed_body_publish(&body, m->channel, m->channel_length, m->events);
    int rc = authorize_message(client, m, &body, cause, sizeof(cause));
    buf_free(&body);
    if (rc < 0) {
        send_error(client, "publish_error", m->id, "UnauthorizedException", cause);
        return;
    }
    struct buf reply = BUF_INIT;
    buf_append_str(&reply, "{\"type\":\"publish_success\",\"id\":\"");
    buf_append(&reply, m->id, m->id_length);
    buf_append_str(&reply, "\",");
    broker_publish_deliver(broker, &channel, m->events, &reply);
    buf_append_char(&reply, '}');
    broker_client_send(client, buf_bytes(&reply), buf_length(&reply));
    buf_free(&reply);
}

void broker_ws_on_message(struct broker_client *client, const char *text, size_t len)
{
    struct events_message m;
    char cause[200];
    if (events_message_decode(text, len, &m, cause, sizeof(cause)) < 0) {
        send_error(client, "error", NULL, "BadRequestException", cause);
        return;
    }
    switch (m.type) {
    case EVENTS_CONNECTION_INIT: {
        struct buf *out = &client->broker->scratch;
        buf_reset(out);
        events_write_connection_ack(out, client->broker->connection_timeout_ms);
        broker_client_send(client, buf_bytes(out), buf_length(out));
        break;
    }
    case EVENTS_SUBSCRIBE:
        handle_subscribe(client, &m);
        break;
    case EVENTS_UNSUBSCRIBE:
        handle_unsubscribe(client, &m);
        break;
    case EVENTS_PUBLISH:
        handle_publish(client, &m);
        break;
    default:
        snprintf(cause, sizeof(cause), "unsupported message type \"%s\"", m.type_name);
        send_error(client, "error", m.id && events_id_valid(m.id, m.id_length) ? m.id : NULL,
                   "UnsupportedOperation", cause);
    }
    events_message_free(&m);
}
