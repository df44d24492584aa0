/* AppSync Events WebSocket messages: decoding what arrives and writing what
 * goes out. Used by the broker (client-to-server types, scanned in one pass
 * by events_request_scan) and the client library (server-to-client types,
 * events_message_decode). Facts: docs/events-protocol.md.
 *
 * A decoded message owns its jansson tree; the string pointers in it borrow
 * from that tree and live until events_message_free(). A scanned request
 * borrows the text it was scanned from. */
#ifndef TETHER_EVENTS_PROTOCOL_H
#define TETHER_EVENTS_PROTOCOL_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/json_scan.h"

#define EVENTS_MAX_ID_LENGTH 128
#define EVENTS_MAX_EVENT_BYTES (240 * 1024)
#define EVENTS_MAX_EVENTS_PER_PUBLISH 5
#define EVENTS_MAX_PUBLISH_BYTES (1200 * 1024)
#define EVENTS_MAX_SUBSCRIPTIONS 200
#define EVENTS_CONNECTION_TIMEOUT_MS 300000
#define EVENTS_KEEPALIVE_MS 60000
/* A WebSocket message holds at most one publish plus its authorization. */
#define EVENTS_MAX_MESSAGE_BYTES (EVENTS_MAX_PUBLISH_BYTES + 64 * 1024)
#define EVENTS_SUBPROTOCOL "aws-appsync-event-ws"

enum events_message_type {
    EVENTS_UNKNOWN = 0,
    /* client to server */
    EVENTS_CONNECTION_INIT,
    EVENTS_SUBSCRIBE,
    EVENTS_UNSUBSCRIBE,
    EVENTS_PUBLISH,
    /* server to client */
    EVENTS_CONNECTION_ACK,
    EVENTS_KA,
    EVENTS_CONNECTION_ERROR,
    EVENTS_SUBSCRIBE_SUCCESS,
    EVENTS_SUBSCRIBE_ERROR,
    EVENTS_DATA,
    EVENTS_BROADCAST_ERROR,
    EVENTS_UNSUBSCRIBE_SUCCESS,
    EVENTS_UNSUBSCRIBE_ERROR,
    EVENTS_PUBLISH_SUCCESS,
    EVENTS_PUBLISH_ERROR,
    EVENTS_ERROR,
};

struct events_message {
    json_t *root;
    enum events_message_type type;
    const char *type_name;
    const char *id; /* NULL when absent */
    size_t id_length;
    const char *channel; /* subscribe, publish */
    size_t channel_length;
    json_t *events;        /* publish: array of strings */
    json_t *authorization; /* subscribe, publish: object */
    const char *event;     /* data: the event's JSON text */
    size_t event_length;
    json_t *errors;             /* *_error, error: array */
    long connection_timeout_ms; /* connection_ack, 0 when absent */
};

/* Decodes one message. Returns 0, or -EINVAL (cause says why) when the text
 * is not a JSON object with a string "type". Unknown types decode with
 * type EVENTS_UNKNOWN; fields a type needs are checked by its handler. */
int events_message_decode(const char *text, size_t len, struct events_message *out, char *cause,
                          size_t cause_len);
void events_message_free(struct events_message *message);
enum events_message_type events_message_type_from_name(const char *name);

/* A message to the broker, or the body of an HTTP publish (the same shape
 * without "type"), scanned once: the fields the broker reads, as slices of
 * the text (type JSON_SCAN_INVALID when absent). Other members are validated
 * and skipped. */
struct events_request {
    enum events_message_type type; /* EVENTS_UNKNOWN unless "type" names one */
    struct json_slice type_name;
    struct json_slice id;
    struct json_slice channel;
    struct json_slice events;
    struct json_slice authorization;
};
/* Returns 0, or -EINVAL (cause says why) when the text is not valid JSON,
 * not an object, or gives one of the fields above twice. */
int events_request_scan(const char *text, size_t len, struct events_request *out, char *cause,
                        size_t cause_len);
/* The request's "id" when it is a string matching ^[a-zA-Z0-9-_+]{1,128}$,
 * copied NUL-terminated into out; otherwise -EINVAL. */
int events_request_id(const struct events_request *request, char out[EVENTS_MAX_ID_LENGTH + 1],
                      size_t *len);
const char *events_message_type_name(enum events_message_type type);

/* ^[a-zA-Z0-9-_+]{1,128}$ */
int events_id_valid(const char *id, size_t len);

/* Writers: append one complete message (JSON text) to out. id may be NULL. */
int events_write_simple(struct buf *out, const char *type, const char *id);
int events_write_error(struct buf *out, const char *type, const char *id, const char *error_type,
                       const char *message);
int events_write_connection_ack(struct buf *out, long connection_timeout_ms);
/* {"type":"data","id":ID,"event":QUOTED}: quoted_event is already a JSON
 * string literal (json_quote), so fan-out quotes each event once. */
int events_write_data(struct buf *out, const char *id, size_t id_len, const char *quoted_event,
                      size_t quoted_len);

/* The bytes a client signs for a WebSocket subscribe or publish, exactly as
 * JSON.stringify writes {"channel":C} and {"channel":C,"events":[...]}. */
int events_signed_body_subscribe(struct buf *out, const char *channel, size_t channel_len);
int events_signed_body_publish(struct buf *out, const char *channel, size_t channel_len,
                               const json_t *events);
/* The same bytes from events that are already JSON string literals in the
 * form json_quote writes (the broker has them as received when they are). */
int events_signed_body_publish_quoted(struct buf *out, const char *channel, size_t channel_len,
                                      const struct json_slice *quoted_events, size_t count);

#endif
