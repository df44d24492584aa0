#include "events/protocol.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/cause.h"
#include "core/encoding.h"

static const char *const type_names[] = {
    [EVENTS_UNKNOWN] = "unknown",
    [EVENTS_CONNECTION_INIT] = "connection_init",
    [EVENTS_SUBSCRIBE] = "subscribe",
    [EVENTS_UNSUBSCRIBE] = "unsubscribe",
    [EVENTS_PUBLISH] = "publish",
    [EVENTS_CONNECTION_ACK] = "connection_ack",
    [EVENTS_KA] = "ka",
    [EVENTS_CONNECTION_ERROR] = "connection_error",
    [EVENTS_SUBSCRIBE_SUCCESS] = "subscribe_success",
    [EVENTS_SUBSCRIBE_ERROR] = "subscribe_error",
    [EVENTS_DATA] = "data",
    [EVENTS_BROADCAST_ERROR] = "broadcast_error",
    [EVENTS_UNSUBSCRIBE_SUCCESS] = "unsubscribe_success",
    [EVENTS_UNSUBSCRIBE_ERROR] = "unsubscribe_error",
    [EVENTS_PUBLISH_SUCCESS] = "publish_success",
    [EVENTS_PUBLISH_ERROR] = "publish_error",
    [EVENTS_ERROR] = "error",
};

#define TYPE_COUNT (sizeof(type_names) / sizeof(type_names[0]))

enum events_message_type events_message_type_from_name(const char *name)
{
    for (size_t i = 1; i < TYPE_COUNT; i++)
        if (strcmp(type_names[i], name) == 0)
            return (enum events_message_type)i;
    return EVENTS_UNKNOWN;
}

const char *events_message_type_name(enum events_message_type type)
{
    return (size_t)type < TYPE_COUNT ? type_names[type] : "unknown";
}

int events_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > EVENTS_MAX_ID_LENGTH)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '+';
        if (!ok)
            return 0;
    }
    return 1;
}

static const char *string_field(json_t *root, const char *key, size_t *len)
{
    json_t *v = json_object_get(root, key);
    if (!json_is_string(v))
        return NULL;
    if (len)
        *len = json_string_length(v);
    return json_string_value(v);
}

int events_message_decode(const char *text, size_t len, struct events_message *out, char *cause,
                          size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    json_error_t err;
    /* Events are JSON strings, so nesting beyond this is never needed here. */
    out->root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!out->root)
        return cause_set(cause, cause_len, -EINVAL, "message is not valid JSON: %s", err.text);
    if (!json_is_object(out->root)) {
        snprintf(cause, cause_len, "message is not a JSON object");
        events_message_free(out);
        return -EINVAL;
    }
    size_t type_len = 0;
    out->type_name = string_field(out->root, "type", &type_len);
    if (!out->type_name) {
        snprintf(cause, cause_len, "message has no \"type\"");
        events_message_free(out);
        return -EINVAL;
    }
    /* A type with an embedded NUL names no known type. */
    out->type = strlen(out->type_name) == type_len ? events_message_type_from_name(out->type_name)
                                                   : EVENTS_UNKNOWN;
    out->id = string_field(out->root, "id", &out->id_length);
    out->channel = string_field(out->root, "channel", &out->channel_length);
    out->event = string_field(out->root, "event", &out->event_length);
    out->events = json_object_get(out->root, "events");
    out->authorization = json_object_get(out->root, "authorization");
    out->errors = json_object_get(out->root, "errors");
    json_t *timeout = json_object_get(out->root, "connectionTimeoutMs");
    if (!timeout) {
        json_t *payload = json_object_get(out->root, "payload");
        timeout = json_object_get(payload, "connectionTimeoutMs");
    }
    if (json_is_integer(timeout))
        out->connection_timeout_ms = (long)json_integer_value(timeout);
    return 0;
}

/* The type a "type" string names; a name too long for any type, or holding
 * an escaped NUL, names none. */
static enum events_message_type type_of(const struct json_slice *name)
{
    char text[32];
    struct buf decoded = BUF_INIT;
    enum events_message_type type = EVENTS_UNKNOWN;
    if (json_scan_string(name, &decoded) == 0 && buf_length(&decoded) > 0 &&
        buf_length(&decoded) < sizeof(text)) {
        memcpy(text, buf_bytes(&decoded), buf_length(&decoded));
        text[buf_length(&decoded)] = '\0';
        if (strlen(text) == buf_length(&decoded))
            type = events_message_type_from_name(text);
    }
    buf_free(&decoded);
    return type;
}

/* The field a member's key names, or NULL for a member the broker skips. */
static struct json_slice *request_field(struct events_request *r, const struct json_slice *key)
{
    static const struct {
        const char *name;
        size_t offset;
    } fields[] = {
        {"type", offsetof(struct events_request, type_name)},
        {"id", offsetof(struct events_request, id)},
        {"channel", offsetof(struct events_request, channel)},
        {"events", offsetof(struct events_request, events)},
        {"authorization", offsetof(struct events_request, authorization)},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (json_scan_string_equals(key, fields[i].name, strlen(fields[i].name)))
            return (struct json_slice *)((char *)r + fields[i].offset);
    return NULL;
}

int events_request_scan(const char *text, size_t len, struct events_request *out, char *cause,
                        size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    struct json_scan scan;
    struct json_slice key, value;
    int rc;
    if (json_scan_open(&scan, text, len) < 0 || scan.close != '}')
        return cause_set(cause, cause_len, -EINVAL, "message is not a JSON object");
    while ((rc = json_scan_next(&scan, &key, &value)) == 1) {
        struct json_slice *field = request_field(out, &key);
        if (!field)
            continue;
        /* Two values for one field would let two readers see two messages. */
        if (field->type != JSON_SCAN_INVALID)
            return cause_set(cause, cause_len, -EINVAL, "message gives \"%.*s\" twice",
                             (int)(key.len - 2), key.text + 1);
        *field = value;
    }
    if (rc < 0)
        return cause_set(cause, cause_len, -EINVAL, "message is not valid JSON");
    if (out->type_name.type == JSON_SCAN_STRING)
        out->type = type_of(&out->type_name);
    return 0;
}

int events_request_id(const struct events_request *r, char out[EVENTS_MAX_ID_LENGTH + 1],
                      size_t *len)
{
    /* A valid id needs no escapes; one written with escapes is decoded. */
    struct buf decoded = BUF_INIT;
    int rc = -EINVAL;
    if (r->id.type == JSON_SCAN_STRING && r->id.len <= 6 * EVENTS_MAX_ID_LENGTH + 2 &&
        json_scan_string(&r->id, &decoded) == 0 &&
        events_id_valid(buf_bytes(&decoded), buf_length(&decoded))) {
        memcpy(out, buf_bytes(&decoded), buf_length(&decoded));
        out[buf_length(&decoded)] = '\0';
        *len = buf_length(&decoded);
        rc = 0;
    }
    buf_free(&decoded);
    return rc;
}

void events_message_free(struct events_message *message)
{
    json_decref(message->root);
    memset(message, 0, sizeof(*message));
}

static int append_type_and_id(struct buf *out, const char *type, const char *id)
{
    int rc = buf_append_str(out, "{\"type\":");
    if (rc == 0)
        rc = json_quote(out, type, strlen(type));
    if (rc == 0 && id) {
        rc = buf_append_str(out, ",\"id\":");
        if (rc == 0)
            rc = json_quote(out, id, strlen(id));
    }
    return rc;
}

int events_write_simple(struct buf *out, const char *type, const char *id)
{
    int rc = append_type_and_id(out, type, id);
    return rc ? rc : buf_append_char(out, '}');
}

int events_write_error(struct buf *out, const char *type, const char *id, const char *error_type,
                       const char *message)
{
    int rc = append_type_and_id(out, type, id);
    if (rc == 0)
        rc = buf_append_str(out, ",\"errors\":[{\"errorType\":");
    if (rc == 0)
        rc = json_quote(out, error_type, strlen(error_type));
    if (rc == 0)
        rc = buf_append_str(out, ",\"message\":");
    if (rc == 0)
        rc = json_quote(out, message, strlen(message));
    return rc ? rc : buf_append_str(out, "}]}");
}

int events_write_connection_ack(struct buf *out, long connection_timeout_ms)
{
    /* Amplify reads the top-level field, the Swift client reads payload's. */
    return buf_printf(out,
                      "{\"type\":\"connection_ack\",\"connectionTimeoutMs\":%ld,"
                      "\"payload\":{\"connectionTimeoutMs\":%ld}}",
                      connection_timeout_ms, connection_timeout_ms);
}

int events_write_data(struct buf *out, const char *id, size_t id_len, const char *quoted_event,
                      size_t quoted_len)
{
    int rc = buf_reserve(out, id_len + quoted_len + 40);
    if (rc < 0)
        return rc;
    /* Ids are [a-zA-Z0-9-_+] only, so they need no escaping. */
    buf_append_str(out, "{\"type\":\"data\",\"id\":\"");
    buf_append(out, id, id_len);
    buf_append_str(out, "\",\"event\":");
    buf_append(out, quoted_event, quoted_len);
    return buf_append_char(out, '}');
}

int events_signed_body_subscribe(struct buf *out, const char *channel, size_t channel_len)
{
    int rc = buf_append_str(out, "{\"channel\":");
    if (rc == 0)
        rc = json_quote(out, channel, channel_len);
    return rc ? rc : buf_append_char(out, '}');
}

static int signed_body_publish_start(struct buf *out, const char *channel, size_t channel_len)
{
    int rc = buf_append_str(out, "{\"channel\":");
    if (rc == 0)
        rc = json_quote(out, channel, channel_len);
    return rc ? rc : buf_append_str(out, ",\"events\":[");
}

int events_signed_body_publish(struct buf *out, const char *channel, size_t channel_len,
                               const json_t *events)
{
    for (size_t i = 0; i < json_array_size(events); i++)
        if (!json_is_string(json_array_get(events, i)))
            return -EINVAL; /* events are stringified JSON: nothing else can be signed */
    int rc = signed_body_publish_start(out, channel, channel_len);
    for (size_t i = 0; rc == 0 && i < json_array_size(events); i++) {
        json_t *e = json_array_get(events, i);
        if (i > 0)
            rc = buf_append_char(out, ',');
        if (rc == 0)
            rc = json_quote(out, json_string_value(e), json_string_length(e));
    }
    return rc ? rc : buf_append_str(out, "]}");
}

int events_signed_body_publish_quoted(struct buf *out, const char *channel, size_t channel_len,
                                      const struct json_slice *quoted_events, size_t count)
{
    int rc = signed_body_publish_start(out, channel, channel_len);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        if (i > 0)
            rc = buf_append_char(out, ',');
        if (rc == 0)
            rc = buf_append(out, quoted_events[i].text, quoted_events[i].len);
    }
    return rc ? rc : buf_append_str(out, "]}");
}
