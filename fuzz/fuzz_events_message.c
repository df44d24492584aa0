/* libFuzzer harness: one WebSocket text message into events_message_decode,
 * then everything done with what decoded: channel_parse of the channel,
 * events_id_valid of the id, the signed-body writers and the data writer;
 * and into the broker's one-pass events_request_scan, which must read the
 * same type, id and channel wherever jansson reads the message. Properties
 * that must hold are checked and abort when broken. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/encoding.h"
#include "core/json_check.h"
#include "core/json_scan.h"
#include "events/channel.h"
#include "events/protocol.h"

static void require(int cond)
{
    if (!cond)
        abort();
}

static void check_channel(const char *text, size_t len)
{
    char cause[256];
    struct channel c, again;
    if (channel_parse(text, len, 1, &c, cause, sizeof(cause)) < 0) {
        require(channel_parse(text, len, 0, &again, cause, sizeof(cause)) < 0);
        return;
    }
    /* The normal form is valid and stays the same when parsed again. */
    require(channel_parse(c.path, strlen(c.path), 1, &again, cause, sizeof(cause)) == 0);
    require(strcmp(c.path, again.path) == 0);
    require(c.segment_count >= 1 && c.segment_count <= CHANNEL_MAX_SEGMENTS);
    char ns[CHANNEL_MAX_SEGMENT_LENGTH + 1];
    channel_namespace(&c, ns);
    require(strlen(ns) == c.namespace_length);
    struct channel published;
    int publishable = channel_parse(text, len, 0, &published, cause, sizeof(cause)) == 0;
    require(publishable == !c.wildcard);
    if (publishable)
        require(channel_matches(&c, &published));
}

/* The writer's output must be JSON that reads back to the same strings. */
static void check_signed_body(const struct events_message *m)
{
    struct buf out = BUF_INIT;
    if (events_signed_body_subscribe(&out, m->channel, m->channel_length) == 0) {
        json_t *v = json_loadb(buf_bytes(&out), buf_length(&out), JSON_ALLOW_NUL, NULL);
        json_t *ch = json_object_get(v, "channel");
        require(json_is_string(ch) && json_string_length(ch) == m->channel_length &&
                memcmp(json_string_value(ch), m->channel, m->channel_length) == 0);
        json_decref(v);
    }
    buf_reset(&out);
    if (json_is_array(m->events) &&
        events_signed_body_publish(&out, m->channel, m->channel_length, m->events) == 0) {
        json_t *v = json_loadb(buf_bytes(&out), buf_length(&out), JSON_ALLOW_NUL, NULL);
        require(v != NULL);
        json_decref(v);
    }
    buf_free(&out);
}

static void check_data_round_trip(const struct events_message *m)
{
    struct buf quoted = BUF_INIT, out = BUF_INIT;
    require(json_quote(&quoted, m->event, m->event_length) == 0);
    require(events_write_data(&out, m->id, m->id_length, buf_bytes(&quoted), buf_length(&quoted)) ==
            0);
    struct events_message back;
    char cause[256];
    require(events_message_decode(buf_bytes(&out), buf_length(&out), &back, cause, sizeof(cause)) ==
            0);
    require(back.type == EVENTS_DATA && back.event_length == m->event_length &&
            memcmp(back.event, m->event, m->event_length) == 0);
    events_message_free(&back);
    buf_free(&quoted);
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The broker checks events with json_check instead of parsing them: it must
 * accept whatever jansson accepts (jansson nests at most 2048 deep, the
 * checker 512, so deep inputs are left out of the comparison). */
static size_t nesting(const char *text, size_t len)
{
    size_t depth = 0, max_depth = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '[' || text[i] == '{')
            max_depth = ++depth > max_depth ? depth : max_depth;
        else if ((text[i] == ']' || text[i] == '}') && depth > 0)
            depth--;
    }
    return max_depth;
}

static void check_validator(const char *text, size_t len)
{
    size_t max_depth = nesting(text, len);
    /* jansson stops at a raw NUL byte and accepts what came before; JSON
     * does not allow one, and the checker refuses it. */
    int has_nul = memchr(text, '\0', len) != NULL;
    json_t *parsed = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (parsed && !has_nul && max_depth < JSON_CHECK_MAX_DEPTH)
        require(json_check(text, len));
    json_decref(parsed);
}

/* A string field as the scanner read it equals jansson's, or both lack it
 * (jansson's is NULL when the member is absent or not a string). */
static void same_string(const struct json_slice *scanned, const char *text, size_t len)
{
    require((scanned->type == JSON_SCAN_STRING) == (text != NULL));
    if (text)
        require(json_scan_string_equals(scanned, text, len));
}

/* What jansson decodes (it refuses duplicate keys anywhere), the scanner
 * reads alike; a publish's events, as literals, give the signed body that
 * the jansson tree gives. */
static void check_request_scan(const char *text, size_t len, const struct events_message *m)
{
    struct events_request r;
    char cause[256];
    require(events_request_scan(text, len, &r, cause, sizeof(cause)) == 0);
    require(r.type == m->type && r.type_name.type == JSON_SCAN_STRING);
    same_string(&r.id, m->id, m->id_length);
    same_string(&r.channel, m->channel, m->channel_length);
    char id[EVENTS_MAX_ID_LENGTH + 1];
    size_t id_len;
    int id_ok = m->id && events_id_valid(m->id, m->id_length);
    require((events_request_id(&r, id, &id_len) == 0) == id_ok);
    if (id_ok)
        require(id_len == m->id_length && memcmp(id, m->id, id_len) == 0);
    require((r.events.type == JSON_SCAN_ARRAY) == json_is_array(m->events));
    require((r.authorization.type == JSON_SCAN_OBJECT) == json_is_object(m->authorization));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct events_message m;
    char cause[256];
    check_validator((const char *)data, size);
    if (events_message_decode((const char *)data, size, &m, cause, sizeof(cause)) < 0) {
        require(m.root == NULL && cause[0] != '\0');
        return 0;
    }
    if (json_is_object(m.root) && !memchr(data, '\0', size) &&
        nesting((const char *)data, size) < JSON_SCAN_MAX_DEPTH)
        check_request_scan((const char *)data, size, &m);
    require(m.type_name != NULL);
    events_message_type_name(m.type);
    int id_ok = m.id && events_id_valid(m.id, m.id_length);
    if (m.channel) {
        check_channel(m.channel, m.channel_length);
        check_signed_body(&m);
    }
    /* Only valid ids reach the data writer, which does not escape them. */
    if (id_ok && m.event)
        check_data_round_trip(&m);
    events_message_free(&m);
    return 0;
}
