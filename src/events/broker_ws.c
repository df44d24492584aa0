/* The realtime protocol on an upgraded broker connection: connection_init,
 * subscribe, unsubscribe and publish, and the fan-out of published events to
 * every matching subscription. A bad message gets an error message naming
 * its id; only protocol violations close the connection. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "broker"
#include "core/cause.h"
#include "core/encoding.h"
#include "core/json_scan.h"
#include "core/log.h"
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

/* A received message: the scanned request, its id when valid, and its
 * channel (decoded when escaped). */
struct message {
    struct events_request r;
    char id_text[EVENTS_MAX_ID_LENGTH + 1];
    const char *id; /* id_text, or NULL when the id is absent or invalid */
    size_t id_length;
    struct broker_publish publish; /* the channel; the events for a publish */
};

/* Checks the message's authorization object against the bytes it signs. */
static int authorize_message(struct broker_client *client, const struct message *m,
                             const struct buf *signed_body, char *cause, size_t cause_len)
{
    struct sigv4_header headers[MAX_AUTH_HEADERS];
    struct buf storage = BUF_INIT;
    const struct json_slice *auth = &m->r.authorization;
    int n = auth->type == JSON_SCAN_OBJECT
                ? broker_auth_headers_from_text(auth->text, auth->len, &storage, headers,
                                                MAX_AUTH_HEADERS)
                : -EINVAL;
    int rc;
    if (n < 0) {
        snprintf(cause, cause_len,
                 "You are not authorized to make this call. "
                 "(the message has no valid \"authorization\" object)");
        client->broker->stats.auth_failures++;
        rc = -EACCES;
    } else {
        rc = broker_authorize_event(client->broker, headers, (size_t)n, buf_bytes(signed_body),
                                    buf_length(signed_body), cause, cause_len);
    }
    secure_free_buf(&storage);
    return rc;
}

/* API-key authorization signs nothing: only SigV4 needs the signed body. */
static int signs_body(const struct message *m)
{
    struct json_scan scan;
    struct json_slice key, value;
    if (json_scan_open_slice(&scan, &m->r.authorization) < 0)
        return 1;
    while (json_scan_next(&scan, &key, &value) == 1)
        if (json_scan_string_equals(&key, "x-api-key", 9))
            return 0;
    return 1;
}

static struct broker_subscription *find_subscription(struct broker_client *client, const char *id,
                                                     size_t id_len)
{
    for (struct broker_subscription *s = client->subscriptions; s; s = s->next)
        if (s->id_length == id_len && memcmp(s->id, id, id_len) == 0)
            return s;
    return NULL;
}

static int check_id(struct broker_client *client, const struct message *m, const char *reply_type)
{
    if (m->id && events_id_valid(m->id, m->id_length))
        return 0;
    send_error(client, reply_type, NULL, "BadRequestException",
               "\"id\" must match ^[a-zA-Z0-9-_+]{1,128}$");
    return -EINVAL;
}

static int check_channel(struct broker_client *client, const struct message *m, int wildcard,
                         struct channel *channel, const char *reply_type)
{
    char cause[160];
    const struct broker_publish *p = &m->publish;
    if (!p->channel) {
        send_error(client, reply_type, m->id, "BadRequestException", "\"channel\" is required");
        return -EINVAL;
    }
    if (channel_parse(p->channel, p->channel_length, wildcard, channel, cause, sizeof(cause)) < 0) {
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

static void handle_subscribe(struct broker_client *client, const struct message *m)
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
        events_signed_body_subscribe(&body, m->publish.channel, m->publish.channel_length);
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

static void handle_unsubscribe(struct broker_client *client, const struct message *m)
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

int broker_publish_init(struct broker_publish *publish, const struct events_request *request)
{
    memset(publish, 0, sizeof(*publish));
    publish->events = request->events;
    const struct json_slice *c = &request->channel;
    if (c->type != JSON_SCAN_STRING)
        return 0;
    if (!c->escaped) {
        publish->channel = c->text + 1;
        publish->channel_length = c->len - 2;
        return 0;
    }
    /* A few bytes at most: decoding never lengthens a string. */
    if (buf_reserve(&publish->storage, c->len) < 0 || json_scan_string(c, &publish->storage) < 0) {
        buf_free(&publish->storage);
        return -EINVAL;
    }
    publish->channel = buf_bytes(&publish->storage);
    publish->channel_length = buf_length(&publish->storage);
    return 0;
}

void broker_publish_free(struct broker_publish *publish)
{
    buf_free(&publish->storage);
}

/* Reads the events array into publish->list: each event's text, and its
 * string literal as json_quote writes it. Returns 0, or -EINVAL with cause. */
static int read_events(struct broker_publish *p, char *cause, size_t cause_len)
{
    struct json_scan scan;
    struct json_slice e;
    size_t index = 0, not_string = 0, strings = 0;
    if (json_scan_open_slice(&scan, &p->events) < 0 || scan.close != ']')
        index = EVENTS_MAX_EVENTS_PER_PUBLISH + 1;
    while (index <= EVENTS_MAX_EVENTS_PER_PUBLISH && json_scan_next(&scan, NULL, &e) == 1) {
        if (index < EVENTS_MAX_EVENTS_PER_PUBLISH) {
            p->list[index].quoted = e;
            if (e.type == JSON_SCAN_STRING && strings++ == index)
                not_string = index + 1;
        }
        index++;
    }
    if (index == 0 || index > EVENTS_MAX_EVENTS_PER_PUBLISH)
        return cause_set(cause, cause_len, -EINVAL,
                         "\"events\" must be an array of 1 to %d JSON strings",
                         EVENTS_MAX_EVENTS_PER_PUBLISH);
    if (not_string < index)
        return cause_set(cause, cause_len, -EINVAL,
                         "event %zu is not a string (events are stringified JSON)", not_string);
    p->count = index;
    /* Texts and re-quoted literals are never longer than the literals they
     * come from, so storage does not move once reserved. */
    size_t channel_bytes = buf_length(&p->storage);
    if (buf_reserve(&p->storage, 2 * p->events.len) < 0)
        return cause_set(cause, cause_len, -ENOMEM, "out of memory");
    if (p->channel && channel_bytes)
        p->channel = buf_bytes(&p->storage);
    for (size_t i = 0; i < p->count; i++) {
        struct broker_event *ev = &p->list[i];
        size_t at = buf_length(&p->storage);
        if (!ev->quoted.escaped) {
            ev->text = ev->quoted.text + 1;
            ev->len = ev->quoted.len - 2;
        } else if (json_scan_string(&ev->quoted, &p->storage) < 0) {
            return cause_set(cause, cause_len, -EINVAL,
                             "event %zu holds a lone surrogate (not valid Unicode)", i);
        } else {
            ev->text = buf_bytes(&p->storage) + at;
            ev->len = buf_length(&p->storage) - at;
        }
        if (!ev->quoted.canonical) {
            at = buf_length(&p->storage);
            json_quote(&p->storage, ev->text, ev->len);
            ev->quoted.text = buf_bytes(&p->storage) + at;
            ev->quoted.len = buf_length(&p->storage) - at;
        }
    }
    return 0;
}

int broker_publish_validate(struct broker *broker, struct broker_publish *publish,
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
    if (read_events(publish, cause, cause_len) < 0)
        return -EINVAL;
    size_t total = 0;
    for (size_t i = 0; i < publish->count; i++)
        total += publish->list[i].len;
    if (total > EVENTS_MAX_PUBLISH_BYTES) {
        *error_type = "PayloadTooLargeException";
        snprintf(cause, cause_len, "the events add up to %zu bytes; the limit is %d", total,
                 EVENTS_MAX_PUBLISH_BYTES);
        return -E2BIG;
    }
    return 0;
}

/* One event on its way to the matching subscriptions: the data frame is
 * built once per subscription id (a server's frames are not masked, so every
 * subscriber with that id gets the same bytes). */
struct fanout {
    struct broker *broker;
    const struct json_slice *quoted;
    char frame_id[EVENTS_MAX_ID_LENGTH + 1];
    size_t frame_id_length; /* 0: no frame built yet */
};

static void build_data_frame(struct fanout *f, const struct broker_subscription *s)
{
    struct buf *frame = &f->broker->frame;
    /* {"type":"data","id":"ID","event":QUOTED} */
    size_t payload = 32 + s->id_length + f->quoted->len;
    uint8_t header[WS_MAX_FRAME_HEADER];
    size_t n = ws_frame_header(header, WS_OPCODE_TEXT, 0, payload);
    buf_reset(frame);
    buf_append(frame, header, n);
    events_write_data(frame, s->id, s->id_length, f->quoted->text, f->quoted->len);
    memcpy(f->frame_id, s->id, s->id_length);
    f->frame_id_length = s->id_length;
}

static void deliver_to(struct sub_entry *entry, void *ctx)
{
    struct broker_subscription *s = (struct broker_subscription *)entry;
    struct fanout *f = ctx;
    struct broker_client *client = s->client;
    if (client->state != BROKER_CLIENT_WEBSOCKET || conn_is_closing(client->conn))
        return;
    if (f->frame_id_length != s->id_length || memcmp(f->frame_id, s->id, s->id_length) != 0)
        build_data_frame(f, s);
    broker_client_send_frame(client, buf_bytes(&f->broker->frame), buf_length(&f->broker->frame));
    f->broker->stats.delivered++;
}

/* Why one event cannot be delivered, or NULL when it can. */
static const char *event_problem(const struct broker_event *e, const char **code)
{
    if (e->len > EVENTS_MAX_EVENT_BYTES) {
        *code = "PayloadTooLargeException";
        return "the event is larger than 240 KB";
    }
    if (!json_scan_valid(e->text, e->len)) {
        *code = "BadRequestException";
        return "the event is not valid JSON";
    }
    return NULL;
}

/* {"identifier":"ID","index":N without the closing brace, after a comma
 * when the list has entries. An index is below EVENTS_MAX_EVENTS_PER_PUBLISH,
 * one digit. */
_Static_assert(EVENTS_MAX_EVENTS_PER_PUBLISH <= 10, "an event's index is one digit");

static void append_result_start(struct buf *list, const char *identifier, size_t index)
{
    if (buf_length(list) > 0)
        buf_append_char(list, ',');
    buf_append_str(list, "{\"identifier\":\"");
    buf_append_str(list, identifier);
    buf_append_str(list, "\",\"index\":");
    buf_append_char(list, (char)('0' + index));
}

static void append_failed(struct buf *failed, const char *identifier, size_t index,
                          const char *code, const char *message)
{
    append_result_start(failed, identifier, index);
    buf_append_str(failed, ",\"code\":");
    json_quote(failed, code, strlen(code));
    buf_append_str(failed, ",\"message\":");
    json_quote(failed, message, strlen(message));
    buf_append_char(failed, '}');
}

/* A publish identifier in the form of a random UUID (AWS answers UUIDs):
 * the broker's random base with a counter mixed into its last 8 bytes. The
 * protocol needs identifiers to be unique, not unpredictable, and one
 * getrandom call per event cost more than the rest of a small publish. */
static void next_identifier(struct broker *broker, char out[37])
{
    uint8_t b[16];
    uint64_t n = ++broker->identifier_count;
    memcpy(b, broker->identifier_base, sizeof(b));
    for (int i = 0; i < 8; i++)
        b[15 - i] ^= (uint8_t)(n >> (8 * i));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = '\0';
}

int broker_publish_deliver(struct broker *broker, const struct channel *channel,
                           const struct broker_publish *publish, struct buf *result)
{
    struct buf successful = BUF_INIT, failed = BUF_INIT;
    for (size_t i = 0; i < publish->count; i++) {
        const struct broker_event *e = &publish->list[i];
        char identifier[37];
        next_identifier(broker, identifier);
        const char *code = NULL;
        const char *problem = event_problem(e, &code);
        if (problem) {
            append_failed(&failed, identifier, i, code, problem);
            continue;
        }
        struct fanout f = {.broker = broker, .quoted = &e->quoted};
        sub_index_match(&broker->index, channel, deliver_to, &f);
        broker->stats.published++;
        append_result_start(&successful, identifier, i);
        buf_append_char(&successful, '}');
    }
    buf_append_str(result, "\"successful\":[");
    buf_append(result, buf_bytes(&successful), buf_length(&successful));
    buf_append_str(result, "],\"failed\":[");
    buf_append(result, buf_bytes(&failed), buf_length(&failed));
    int rc = buf_append_str(result, "]");
    buf_free(&successful);
    buf_free(&failed);
    return rc;
}

static void handle_publish(struct broker_client *client, struct message *m)
{
    struct broker *broker = client->broker;
    struct broker_publish *publish = &m->publish;
    char cause[256];
    const char *error_type;
    struct channel channel;
    if (check_id(client, m, "publish_error") < 0)
        return;
    if (broker_publish_validate(broker, publish, &channel, &error_type, cause, sizeof(cause)) < 0) {
        send_error(client, "publish_error", m->id, error_type, cause);
        return;
    }
    struct buf body = BUF_INIT;
    struct json_slice quoted[EVENTS_MAX_EVENTS_PER_PUBLISH];
    for (size_t i = 0; i < publish->count; i++)
        quoted[i] = publish->list[i].quoted;
    if (signs_body(m))
        events_signed_body_publish_quoted(&body, publish->channel, publish->channel_length, quoted,
                                          publish->count);
    int rc = authorize_message(client, m, &body, cause, sizeof(cause));
    buf_free(&body);
    if (rc < 0) {
        send_error(client, "publish_error", m->id, "UnauthorizedException", cause);
        return;
    }
    struct buf *reply = &broker->scratch;
    buf_reset(reply);
    buf_append_str(reply, "{\"type\":\"publish_success\",\"id\":\"");
    buf_append(reply, m->id, m->id_length);
    buf_append_str(reply, "\",");
    broker_publish_deliver(broker, &channel, publish, reply);
    buf_append_char(reply, '}');
    broker_client_send(client, buf_bytes(reply), buf_length(reply));
}

/* The type name of an unsupported message, for the error (decoded). */
static void unsupported(struct broker_client *client, const struct message *m)
{
    char cause[200];
    struct buf name = BUF_INIT;
    json_scan_string(&m->r.type_name, &name);
    snprintf(cause, sizeof(cause), "unsupported message type \"%.*s\"",
             (int)(buf_length(&name) < 120 ? buf_length(&name) : 120), buf_bytes(&name));
    buf_free(&name);
    send_error(client, "error", m->id, "UnsupportedOperation", cause);
}

static void handle_message(struct broker_client *client, struct message *m)
{
    switch (m->r.type) {
    case EVENTS_CONNECTION_INIT: {
        struct buf *out = &client->broker->scratch;
        buf_reset(out);
        events_write_connection_ack(out, client->broker->connection_timeout_ms);
        broker_client_send(client, buf_bytes(out), buf_length(out));
        break;
    }
    case EVENTS_SUBSCRIBE:
        handle_subscribe(client, m);
        break;
    case EVENTS_UNSUBSCRIBE:
        handle_unsubscribe(client, m);
        break;
    case EVENTS_PUBLISH:
        handle_publish(client, m);
        break;
    default:
        unsupported(client, m);
    }
}

void broker_ws_on_message(struct broker_client *client, const char *text, size_t len)
{
    struct message m;
    char cause[200];
    if (events_request_scan(text, len, &m.r, cause, sizeof(cause)) < 0) {
        send_error(client, "error", NULL, "BadRequestException", cause);
        return;
    }
    if (m.r.type_name.type != JSON_SCAN_STRING) {
        send_error(client, "error", NULL, "BadRequestException", "message has no \"type\"");
        return;
    }
    m.id = events_request_id(&m.r, m.id_text, &m.id_length) == 0 ? m.id_text : NULL;
    if (broker_publish_init(&m.publish, &m.r) < 0) {
        send_error(client, "error", m.id, "BadRequestException",
                   "the channel holds a lone surrogate (not valid Unicode)");
    } else {
        handle_message(client, &m);
    }
    broker_publish_free(&m.publish);
}
