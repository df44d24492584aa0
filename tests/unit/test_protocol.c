/* Unit tests for events/protocol: decoding AppSync Events messages, id
 * validation, the message writers and the signed bodies. The signed-body
 * expectations were produced with Node's JSON.stringify on JSON.parse of the
 * same message text and are hard-coded (octal escapes are UTF-8 bytes). */
#include <errno.h>
#include <jansson.h>

#include "core/buf.h"
#include "core/encoding.h"
#include "events/protocol.h"
#include "test.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int decode(const char *text, struct events_message *m)
{
    char cause[256] = "";
    int rc = events_message_decode(text, strlen(text), m, cause, sizeof(cause));
    if (rc < 0 && cause[0] == '\0')
        return -1000; /* a refusal must always say why */
    return rc;
}

static int str_is(const char *s, size_t len, const char *expected)
{
    return s && len == strlen(expected) && memcmp(s, expected, len) == 0;
}

static int buf_is(const struct buf *b, const char *expected)
{
    return buf_length(b) == strlen(expected) && memcmp(buf_bytes(b), expected, buf_length(b)) == 0;
}

static void report_buf(const struct buf *b, const char *expected, int line)
{
    fprintf(stderr, "  line %d: got [%.*s]\n  expected [%s]\n", line, (int)buf_length(b),
            buf_bytes(b), expected);
}

#define CHECK_BUF(b, expected)                                                                     \
    do {                                                                                           \
        if (!buf_is(b, expected)) {                                                                \
            report_buf(b, expected, __LINE__);                                                     \
            test_failures_in_current++;                                                            \
        }                                                                                          \
    } while (0)

struct type_case {
    const char *text;
    enum events_message_type type;
    const char *name;
};

static const struct type_case type_cases[] = {
    {"{\"type\":\"connection_init\"}", EVENTS_CONNECTION_INIT, "connection_init"},
    {"{\"type\":\"subscribe\",\"id\":\"s1\",\"channel\":\"/ns/*\",\"authorization\":{}}",
     EVENTS_SUBSCRIBE, "subscribe"},
    {"{\"type\":\"unsubscribe\",\"id\":\"s1\"}", EVENTS_UNSUBSCRIBE, "unsubscribe"},
    {"{\"type\":\"publish\",\"id\":\"p1\",\"channel\":\"/ns/a\",\"events\":[\"1\"]}",
     EVENTS_PUBLISH, "publish"},
    {"{\"type\":\"connection_ack\",\"connectionTimeoutMs\":300000}", EVENTS_CONNECTION_ACK,
     "connection_ack"},
    {"{\"type\":\"ka\"}", EVENTS_KA, "ka"},
    {"{\"type\":\"connection_error\",\"errors\":[]}", EVENTS_CONNECTION_ERROR, "connection_error"},
    {"{\"type\":\"subscribe_success\",\"id\":\"s1\"}", EVENTS_SUBSCRIBE_SUCCESS,
     "subscribe_success"},
    {"{\"type\":\"subscribe_error\",\"id\":\"s1\",\"errors\":[]}", EVENTS_SUBSCRIBE_ERROR,
     "subscribe_error"},
    {"{\"type\":\"data\",\"id\":\"s1\",\"event\":\"{}\"}", EVENTS_DATA, "data"},
    {"{\"type\":\"broadcast_error\",\"id\":\"s1\",\"errors\":[]}", EVENTS_BROADCAST_ERROR,
     "broadcast_error"},
    {"{\"type\":\"unsubscribe_success\",\"id\":\"s1\"}", EVENTS_UNSUBSCRIBE_SUCCESS,
     "unsubscribe_success"},
    {"{\"type\":\"unsubscribe_error\",\"id\":\"s1\",\"errors\":[]}", EVENTS_UNSUBSCRIBE_ERROR,
     "unsubscribe_error"},
    {"{\"type\":\"publish_success\",\"id\":\"p1\",\"successful\":[],\"failed\":[]}",
     EVENTS_PUBLISH_SUCCESS, "publish_success"},
    {"{\"type\":\"publish_error\",\"id\":\"p1\",\"errors\":[]}", EVENTS_PUBLISH_ERROR,
     "publish_error"},
    {"{\"type\":\"error\",\"errors\":[]}", EVENTS_ERROR, "error"},
};

TEST(test_decode_every_type)
{
    for (size_t i = 0; i < COUNT(type_cases); i++) {
        struct events_message m;
        int rc = decode(type_cases[i].text, &m);
        if (rc != 0 || m.type != type_cases[i].type || !m.type_name ||
            strcmp(m.type_name, type_cases[i].name) != 0) {
            fprintf(stderr, "  %s decoded as %d (rc %d)\n", type_cases[i].text, m.type, rc);
            CHECK(!"type not decoded");
        }
        events_message_free(&m);
        CHECK(m.root == NULL);
    }
}

TEST(test_type_names_round_trip)
{
    for (size_t i = 0; i < COUNT(type_cases); i++) {
        CHECK_INT(events_message_type_from_name(type_cases[i].name), type_cases[i].type);
        CHECK_STR(events_message_type_name(type_cases[i].type), type_cases[i].name);
    }
    CHECK_INT(events_message_type_from_name("nope"), EVENTS_UNKNOWN);
    CHECK_INT(events_message_type_from_name(""), EVENTS_UNKNOWN);
    CHECK_INT(events_message_type_from_name("KA"), EVENTS_UNKNOWN);
    CHECK_INT(events_message_type_from_name("unknown"), EVENTS_UNKNOWN);
    CHECK_STR(events_message_type_name(EVENTS_UNKNOWN), "unknown");
    CHECK_STR(events_message_type_name((enum events_message_type)999), "unknown");
}

TEST(test_decode_subscribe_fields)
{
    struct events_message m;
    CHECK_INT(decode("{\"type\":\"subscribe\",\"id\":\"sub-1\",\"channel\":\"/default/*\","
                     "\"authorization\":{\"x-api-key\":\"da2-key\",\"host\":\"example.com\"}}",
                     &m),
              0);
    CHECK_INT(m.type, EVENTS_SUBSCRIBE);
    CHECK(str_is(m.id, m.id_length, "sub-1"));
    CHECK(str_is(m.channel, m.channel_length, "/default/*"));
    CHECK(json_is_object(m.authorization));
    CHECK_STR(json_string_value(json_object_get(m.authorization, "x-api-key")), "da2-key");
    CHECK(m.events == NULL);
    CHECK(m.event == NULL);
    CHECK(m.errors == NULL);
    CHECK_INT(m.connection_timeout_ms, 0);
    events_message_free(&m);
}

TEST(test_decode_publish_fields)
{
    struct events_message m;
    CHECK_INT(decode("{\"type\":\"publish\",\"id\":\"pub-1\",\"channel\":\"/default/room\","
                     "\"events\":[\"{\\\"msg\\\":\\\"hi\\\"}\",\"42\"],"
                     "\"authorization\":{\"host\":\"h\"}}",
                     &m),
              0);
    CHECK_INT(m.type, EVENTS_PUBLISH);
    CHECK(str_is(m.id, m.id_length, "pub-1"));
    CHECK(str_is(m.channel, m.channel_length, "/default/room"));
    CHECK(json_is_array(m.events));
    CHECK_INT(json_array_size(m.events), 2);
    CHECK_STR(json_string_value(json_array_get(m.events, 0)), "{\"msg\":\"hi\"}");
    CHECK(json_is_object(m.authorization));
    events_message_free(&m);
}

TEST(test_decode_server_messages)
{
    struct events_message m;
    CHECK_INT(decode("{\"type\":\"connection_ack\",\"connectionTimeoutMs\":300000}", &m), 0);
    CHECK_INT(m.connection_timeout_ms, 300000);
    events_message_free(&m);
    /* Some servers put the timeout under payload. */
    CHECK_INT(
        decode("{\"type\":\"connection_ack\",\"payload\":{\"connectionTimeoutMs\":120000}}", &m),
        0);
    CHECK_INT(m.connection_timeout_ms, 120000);
    events_message_free(&m);
    CHECK_INT(decode("{\"type\":\"connection_ack\"}", &m), 0);
    CHECK_INT(m.connection_timeout_ms, 0);
    events_message_free(&m);
    CHECK_INT(decode("{\"type\":\"connection_ack\",\"connectionTimeoutMs\":\"5\"}", &m), 0);
    CHECK_INT(m.connection_timeout_ms, 0);
    events_message_free(&m);

    CHECK_INT(decode("{\"type\":\"data\",\"id\":\"s1\",\"event\":\"{\\\"a\\\":1}\"}", &m), 0);
    CHECK_INT(m.type, EVENTS_DATA);
    CHECK(str_is(m.event, m.event_length, "{\"a\":1}"));
    events_message_free(&m);

    CHECK_INT(decode("{\"type\":\"subscribe_error\",\"id\":\"s1\",\"errors\":[{\"errorType\":"
                     "\"UnauthorizedException\",\"message\":\"no\"}]}",
                     &m),
              0);
    CHECK_INT(m.type, EVENTS_SUBSCRIBE_ERROR);
    CHECK(json_is_array(m.errors));
    CHECK_STR(json_string_value(json_object_get(json_array_get(m.errors, 0), "errorType")),
              "UnauthorizedException");
    events_message_free(&m);
}

TEST(test_decode_unknown_type)
{
    struct events_message m;
    CHECK_INT(decode("{\"type\":\"start\",\"id\":\"x\"}", &m), 0);
    CHECK_INT(m.type, EVENTS_UNKNOWN);
    CHECK_STR(m.type_name, "start");
    events_message_free(&m);
    CHECK_INT(decode("{\"type\":\"\"}", &m), 0);
    CHECK_INT(m.type, EVENTS_UNKNOWN);
    events_message_free(&m);
}

TEST(test_decode_type_with_embedded_nul_is_unknown)
{
    /* "ka\u0000x" is not the type "ka": only the whole string may match. */
    struct events_message m;
    CHECK_INT(decode("{\"type\":\"ka\\u0000x\"}", &m), 0);
    CHECK_INT(m.type, EVENTS_UNKNOWN);
    events_message_free(&m);
    CHECK_INT(decode("{\"type\":\"subscribe\\u0000\",\"id\":\"a\",\"channel\":\"/a\"}", &m), 0);
    CHECK_INT(m.type, EVENTS_UNKNOWN);
    events_message_free(&m);
}

TEST(test_decode_wrongly_typed_fields)
{
    struct events_message m;
    CHECK_INT(decode("{\"type\":\"subscribe\",\"id\":7,\"channel\":[\"/a\"]}", &m), 0);
    CHECK_INT(m.type, EVENTS_SUBSCRIBE);
    CHECK(m.id == NULL);
    CHECK(m.channel == NULL);
    events_message_free(&m);
}

TEST(test_decode_missing_type)
{
    static const char *const texts[] = {
        "{}",
        "{\"id\":\"x\"}",
        "{\"type\":42}",
        "{\"type\":null}",
        "{\"type\":{\"name\":\"ka\"}}",
        "{\"type\":[\"ka\"]}",
        "{\"Type\":\"ka\"}",
        "{\"payload\":{\"type\":\"ka\"}}",
    };
    for (size_t i = 0; i < COUNT(texts); i++) {
        struct events_message m;
        if (decode(texts[i], &m) != -EINVAL) {
            fprintf(stderr, "  accepted %s\n", texts[i]);
            CHECK(!"message without a string type accepted");
        }
        CHECK(m.root == NULL);
    }
}

TEST(test_decode_non_object)
{
    static const char *const texts[] = {
        "[]", "[{\"type\":\"ka\"}]", "\"ka\"", "42", "null", "true",
    };
    for (size_t i = 0; i < COUNT(texts); i++) {
        struct events_message m;
        if (decode(texts[i], &m) != -EINVAL) {
            fprintf(stderr, "  accepted %s\n", texts[i]);
            CHECK(!"non-object accepted");
        }
        CHECK(m.root == NULL);
    }
}

TEST(test_decode_invalid_json)
{
    static const char *const texts[] = {
        "",
        " ",
        "{",
        "{\"type\":\"ka\"",
        "{\"type\":\"ka\"}x",
        "{\"type\":\"ka\"}{}",
        "{'type':'ka'}",
        "{type:\"ka\"}",
        "{\"type\":\"ka\",}",
        "{\"type\":\"k\xff\"}",
        "{\"type\":\"ka\",\"id\":\"\\ud800\"}",
        "{\"type\":\"ka\",\"n\":NaN}",
        "{\"type\":\"k\na\"}",
    };
    for (size_t i = 0; i < COUNT(texts); i++) {
        struct events_message m;
        if (decode(texts[i], &m) != -EINVAL) {
            fprintf(stderr, "  accepted invalid JSON %s\n", texts[i]);
            CHECK(!"invalid JSON accepted");
        }
        CHECK(m.root == NULL);
    }
}

TEST(test_decode_uses_only_len_bytes)
{
    const char *text = "{\"type\":\"ka\"}garbage";
    struct events_message m;
    char cause[128];
    CHECK_INT(events_message_decode(text, 13, &m, cause, sizeof(cause)), 0);
    CHECK_INT(m.type, EVENTS_KA);
    events_message_free(&m);
    CHECK_INT(events_message_decode(text, 12, &m, cause, sizeof(cause)), -EINVAL);
}

TEST(test_decode_rejects_duplicate_keys)
{
    static const char *const texts[] = {
        "{\"type\":\"ka\",\"type\":\"ka\"}",
        "{\"type\":\"subscribe\",\"id\":\"a\",\"id\":\"b\",\"channel\":\"/a\"}",
        "{\"type\":\"subscribe\",\"id\":\"a\",\"channel\":\"/a\",\"channel\":\"/b\"}",
        "{\"type\":\"publish\",\"id\":\"a\",\"channel\":\"/a\",\"events\":[],\"events\":[]}",
        "{\"type\":\"publish\",\"authorization\":{\"host\":\"a\",\"host\":\"b\"}}",
    };
    for (size_t i = 0; i < COUNT(texts); i++) {
        struct events_message m;
        if (decode(texts[i], &m) != -EINVAL) {
            fprintf(stderr, "  accepted duplicate keys in %s\n", texts[i]);
            CHECK(!"duplicate keys accepted");
        }
        CHECK(m.root == NULL);
    }
}

TEST(test_id_validation)
{
    char id[200];
    memset(id, 'a', sizeof(id));
    CHECK_INT(events_id_valid(id, 1), 1);
    CHECK_INT(events_id_valid(id, 128), 1);
    CHECK_INT(events_id_valid(id, 129), 0);
    CHECK_INT(events_id_valid(id, 0), 0);
    CHECK_INT(events_id_valid("", 0), 0);
    const char *all = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_+";
    CHECK_INT(events_id_valid(all, strlen(all)), 1);
    CHECK_INT(events_id_valid("6c7b7b5e-1f0a-4e0a-9d3b-0c1e2f3a4b5c", 36), 1);
    static const char *const bad[] = {
        "a b", "a/b", "a.b", "a*b", "a=b", "a\"b", "a\\b", "a:b", "\303\251", "a\nb", "a~b", "a#b",
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        if (events_id_valid(bad[i], strlen(bad[i]))) {
            fprintf(stderr, "  accepted id \"%s\"\n", bad[i]);
            CHECK(!"invalid id accepted");
        }
    }
    CHECK_INT(events_id_valid("a\0b", 3), 0);
    /* A bad character in the last allowed position still counts. */
    id[127] = '!';
    CHECK_INT(events_id_valid(id, 128), 0);
}

/* Parses writer output strictly; NULL when it is not one JSON object. */
static json_t *load(const struct buf *b)
{
    json_t *v = json_loadb(buf_bytes(b), buf_length(b), JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

TEST(test_write_simple)
{
    struct buf out = BUF_INIT;
    CHECK_INT(events_write_simple(&out, "ka", NULL), 0);
    CHECK_BUF(&out, "{\"type\":\"ka\"}");
    buf_reset(&out);
    CHECK_INT(events_write_simple(&out, "subscribe_success", "sub-1"), 0);
    CHECK_BUF(&out, "{\"type\":\"subscribe_success\",\"id\":\"sub-1\"}");
    json_t *v = load(&out);
    CHECK(v != NULL);
    CHECK_STR(json_string_value(json_object_get(v, "id")), "sub-1");
    json_decref(v);
    /* Whatever the id holds, the output stays valid JSON. */
    buf_reset(&out);
    CHECK_INT(events_write_simple(&out, "unsubscribe_success", "we\"ird\\id\n"), 0);
    v = load(&out);
    CHECK(v != NULL);
    CHECK_STR(json_string_value(json_object_get(v, "id")), "we\"ird\\id\n");
    json_decref(v);
    buf_free(&out);
}

TEST(test_write_error)
{
    struct buf out = BUF_INIT;
    const char *message = "channel \"/a b\" is not valid:\n\tsegment 2 \303\251";
    CHECK_INT(events_write_error(&out, "subscribe_error", "s-1", "BadRequestException", message),
              0);
    json_t *v = load(&out);
    CHECK(v != NULL);
    CHECK_STR(json_string_value(json_object_get(v, "type")), "subscribe_error");
    CHECK_STR(json_string_value(json_object_get(v, "id")), "s-1");
    json_t *errors = json_object_get(v, "errors");
    CHECK(json_is_array(errors) && json_array_size(errors) == 1);
    json_t *e = json_array_get(errors, 0);
    CHECK_STR(json_string_value(json_object_get(e, "errorType")), "BadRequestException");
    CHECK_STR(json_string_value(json_object_get(e, "message")), message);
    json_decref(v);
    /* And the decoder reads it back. */
    struct events_message m;
    char cause[128];
    CHECK_INT(events_message_decode(buf_bytes(&out), buf_length(&out), &m, cause, sizeof(cause)),
              0);
    CHECK_INT(m.type, EVENTS_SUBSCRIBE_ERROR);
    CHECK(str_is(m.id, m.id_length, "s-1"));
    CHECK(json_array_size(m.errors) == 1);
    events_message_free(&m);
    buf_reset(&out);
    CHECK_INT(events_write_error(&out, "error", NULL, "UnsupportedOperation", "x"), 0);
    CHECK_BUF(&out, "{\"type\":\"error\",\"errors\":[{\"errorType\":\"UnsupportedOperation\","
                    "\"message\":\"x\"}]}");
    buf_free(&out);
}

TEST(test_write_connection_ack)
{
    struct buf out = BUF_INIT;
    CHECK_INT(events_write_connection_ack(&out, 300000), 0);
    json_t *v = load(&out);
    CHECK(v != NULL);
    CHECK_STR(json_string_value(json_object_get(v, "type")), "connection_ack");
    json_decref(v);
    struct events_message m;
    char cause[128];
    CHECK_INT(events_message_decode(buf_bytes(&out), buf_length(&out), &m, cause, sizeof(cause)),
              0);
    CHECK_INT(m.type, EVENTS_CONNECTION_ACK);
    CHECK_INT(m.connection_timeout_ms, 300000);
    events_message_free(&m);
    buf_free(&out);
}

TEST(test_write_data_round_trips)
{
    static const char *const events[] = {
        "{\"msg\":\"hello\"}", "plain", "", "line\nbreak \"q\" \\ \303\251\360\237\230\200",
        "\001\037\177",
    };
    for (size_t i = 0; i < COUNT(events); i++) {
        struct buf quoted = BUF_INIT, out = BUF_INIT;
        json_quote(&quoted, events[i], strlen(events[i]));
        buf_append_str(&out, "prefix|"); /* writers append */
        CHECK_INT(events_write_data(&out, "sub-9", 5, buf_bytes(&quoted), buf_length(&quoted)), 0);
        CHECK(memcmp(buf_bytes(&out), "prefix|", 7) == 0);
        buf_consume(&out, 7);
        struct events_message m;
        char cause[128];
        CHECK_INT(
            events_message_decode(buf_bytes(&out), buf_length(&out), &m, cause, sizeof(cause)), 0);
        CHECK_INT(m.type, EVENTS_DATA);
        CHECK(str_is(m.id, m.id_length, "sub-9"));
        CHECK(str_is(m.event, m.event_length, events[i]));
        events_message_free(&m);
        buf_free(&quoted);
        buf_free(&out);
    }
}

TEST(test_write_data_exact)
{
    struct buf out = BUF_INIT;
    CHECK_INT(events_write_data(&out, "abc", 3, "\"{\\\"a\\\":1}\"", 11), 0);
    CHECK_BUF(&out, "{\"type\":\"data\",\"id\":\"abc\",\"event\":\"{\\\"a\\\":1}\"}");
    buf_free(&out);
}

/* The publish message used for the signed-body tests: escapes of every kind,
 * including \/ and \u sequences that JSON.stringify writes differently. */
static const char tricky_publish[] =
    "{\"type\":\"publish\",\"id\":\"pub-1\",\"channel\":\"\\/default\\/r\\u006fom\",\"events\":["
    "\"{\\\"a\\\":1,\\\"b\\\":\\\"x\\\\\\\"y\\\"}\",\"line\\nbreak\\ttab\",\"\\u00e9\\u4e2d"
    "\\ud83d\\ude00\",\"\\u2028\\u2029\",\"\\u0000\\u001f\\u007f\",\"\\/slash\",\"back\\\\slash\","
    "\"\\b\\f\\r\",\"\"],\"authorization\":{\"host\":\"example.com\"}}";

/* JSON.stringify({channel: m.channel, events: m.events}) for the above. */
static const char tricky_publish_signed[] =
    "{\"channel\":\"/default/room\",\"events\":[\"{\\\"a\\\":1,\\\"b\\\":\\\"x\\\\\\\"y\\\"}\","
    "\"line\\nbreak\\ttab\",\"\303\251\344\270\255\360\237\230\200\",\"\342\200\250\342\200\251\","
    "\"\\u0000\\u001f\177\",\"/slash\",\"back\\\\slash\",\"\\b\\f\\r\",\"\"]}";

TEST(test_signed_body_publish_matches_json_stringify)
{
    struct events_message m;
    CHECK_INT(decode(tricky_publish, &m), 0);
    CHECK_INT(m.type, EVENTS_PUBLISH);
    struct buf out = BUF_INIT;
    CHECK_INT(events_signed_body_publish(&out, m.channel, m.channel_length, m.events), 0);
    CHECK_BUF(&out, tricky_publish_signed);
    json_t *v = json_loadb(buf_bytes(&out), buf_length(&out), JSON_ALLOW_NUL, NULL);
    CHECK(json_equal(json_object_get(v, "events"), m.events));
    json_decref(v);
    buf_free(&out);
    events_message_free(&m);
}

TEST(test_signed_body_subscribe_matches_json_stringify)
{
    struct events_message m;
    CHECK_INT(
        decode("{\"type\":\"subscribe\",\"id\":\"s1\",\"channel\":\"\\/ns\\/\\u0061b\\/*\"}", &m),
        0);
    struct buf out = BUF_INIT;
    CHECK_INT(events_signed_body_subscribe(&out, m.channel, m.channel_length), 0);
    CHECK_BUF(&out, "{\"channel\":\"/ns/ab/*\"}");
    buf_free(&out);
    events_message_free(&m);
}

TEST(test_signed_body_escapes_channel)
{
    /* Not a valid channel, but the writer must still match JSON.stringify. */
    const char channel[] = "a\"b\\c\n";
    json_t *events = json_array();
    struct buf out = BUF_INIT;
    CHECK_INT(events_signed_body_publish(&out, channel, sizeof(channel) - 1, events), 0);
    CHECK_BUF(&out, "{\"channel\":\"a\\\"b\\\\c\\n\",\"events\":[]}");
    buf_reset(&out);
    CHECK_INT(events_signed_body_subscribe(&out, channel, sizeof(channel) - 1), 0);
    CHECK_BUF(&out, "{\"channel\":\"a\\\"b\\\\c\\n\"}");
    buf_free(&out);
    json_decref(events);
}

TEST(test_signed_body_publish_single_event)
{
    json_t *events = json_pack("[s]", "{\"n\":1}");
    struct buf out = BUF_INIT;
    CHECK_INT(events_signed_body_publish(&out, "/default/x", 10, events), 0);
    CHECK_BUF(&out, "{\"channel\":\"/default/x\",\"events\":[\"{\\\"n\\\":1}\"]}");
    buf_free(&out);
    json_decref(events);
}

TEST(test_signed_body_publish_non_string_event)
{
    /* JSON.stringify({channel:"/a",events:[1]}) is {"channel":"/a","events":[1]}.
     * The writer must either produce exactly that or refuse; silently signing
     * [""] would make the signature cover bytes no client ever sent. */
    json_t *events = json_pack("[i]", 1);
    struct buf out = BUF_INIT;
    int rc = events_signed_body_publish(&out, "/a", 2, events);
    CHECK(rc < 0 || buf_is(&out, "{\"channel\":\"/a\",\"events\":[1]}"));
    if (rc == 0 && !buf_is(&out, "{\"channel\":\"/a\",\"events\":[1]}"))
        report_buf(&out, "{\"channel\":\"/a\",\"events\":[1]} or an error", __LINE__);
    buf_free(&out);
    json_decref(events);
}

/* ---- the broker's one-pass reading (events_request_scan) ---- */

static int slice_is(const struct json_slice *s, const char *expected_literal)
{
    return s->len == strlen(expected_literal) && memcmp(s->text, expected_literal, s->len) == 0;
}

TEST(test_request_scan_publish)
{
    const char *text = "{\"authorization\":{\"x-api-key\":\"k\"},\"unknown\":[{\"a\":1}],"
                       "\"type\":\"publish\",\"id\":\"p\\u002d1\",\"channel\":\"/default/a\","
                       "\"events\":[\"{\\\"a\\\":1}\",\"2\"]}";
    struct events_request r;
    char cause[128];
    CHECK_INT(events_request_scan(text, strlen(text), &r, cause, sizeof(cause)), 0);
    CHECK_INT(r.type, EVENTS_PUBLISH);
    CHECK(slice_is(&r.channel, "\"/default/a\""));
    CHECK_INT(r.events.type, JSON_SCAN_ARRAY);
    CHECK(slice_is(&r.events, "[\"{\\\"a\\\":1}\",\"2\"]"));
    CHECK(slice_is(&r.authorization, "{\"x-api-key\":\"k\"}"));
    char id[EVENTS_MAX_ID_LENGTH + 1];
    size_t id_len = 0;
    CHECK_INT(events_request_id(&r, id, &id_len), 0); /* escaped, decoded: "p-1" */
    CHECK_STR(id, "p-1");
    CHECK_INT(id_len, 3);
}

TEST(test_request_scan_refusals)
{
    static const char *const bad[] = {"[]", "\"x\"", "{\"type\":\"publish\"",
                                      "{\"type\":\"publish\"} x",
                                      "{\"type\":\"publish\",\"type\":\"subscribe\"}",
                                      /* the same key written two ways is still the same key */
                                      "{\"channel\":\"/a\",\"\\u0063hannel\":\"/b\"}",
                                      "{\"authorization\":{},\"authorization\":{}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct events_request r;
        char cause[128] = "";
        CHECK_INT(events_request_scan(bad[i], strlen(bad[i]), &r, cause, sizeof(cause)), -EINVAL);
        CHECK(cause[0] != '\0');
    }
}

TEST(test_request_scan_types_and_ids)
{
    static const struct {
        const char *text;
        enum events_message_type type;
        int id_ok;
    } cases[] = {
        {"{\"type\":\"subscribe\",\"id\":\"a_B+9-\"}", EVENTS_SUBSCRIBE, 1},
        {"{\"type\":\"sub\\u0000scribe\",\"id\":\"a b\"}", EVENTS_UNKNOWN, 0},
        {"{\"type\":\"\",\"id\":7}", EVENTS_UNKNOWN, 0},
        {"{\"type\":1}", EVENTS_UNKNOWN, 0},
        {"{\"type\":\"connection_init\",\"id\":\"\"}", EVENTS_CONNECTION_INIT, 0},
        {"{\"channel\":\"/a\",\"events\":[]}", EVENTS_UNKNOWN, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct events_request r;
        char cause[128], id[EVENTS_MAX_ID_LENGTH + 1];
        size_t id_len;
        CHECK_INT(
            events_request_scan(cases[i].text, strlen(cases[i].text), &r, cause, sizeof(cause)), 0);
        CHECK_INT(r.type, cases[i].type);
        CHECK_INT(events_request_id(&r, id, &id_len) == 0, cases[i].id_ok);
    }
    /* 128 characters is the longest id. */
    char text[300], id[EVENTS_MAX_ID_LENGTH + 1];
    size_t id_len;
    for (size_t n = 128; n <= 129; n++) {
        int len = snprintf(text, sizeof(text), "{\"id\":\"%0*d\"}", (int)n, 0);
        struct events_request r;
        char cause[128];
        CHECK_INT(events_request_scan(text, (size_t)len, &r, cause, sizeof(cause)), 0);
        CHECK_INT(events_request_id(&r, id, &id_len) == 0, n == 128);
    }
}

/* Quoted events give the bytes the jansson writer gives for their values. */
TEST(test_signed_body_publish_quoted_matches)
{
    json_t *events = json_pack("[s,s]", "{\"n\":1}", "line\nbreak \xc3\xa9");
    struct buf expected = BUF_INIT, out = BUF_INIT, quoted = BUF_INIT;
    CHECK_INT(events_signed_body_publish(&expected, "/default/x", 10, events), 0);
    struct json_slice literals[2];
    size_t at[2];
    for (size_t i = 0; i < 2; i++) {
        at[i] = buf_length(&quoted);
        json_quote(&quoted, json_string_value(json_array_get(events, i)),
                   json_string_length(json_array_get(events, i)));
    }
    for (size_t i = 0; i < 2; i++) {
        literals[i].type = JSON_SCAN_STRING;
        literals[i].text = buf_bytes(&quoted) + at[i];
        literals[i].len = (i + 1 < 2 ? at[i + 1] : buf_length(&quoted)) - at[i];
    }
    CHECK_INT(events_signed_body_publish_quoted(&out, "/default/x", 10, literals, 2), 0);
    CHECK(buf_length(&out) == buf_length(&expected) &&
          memcmp(buf_bytes(&out), buf_bytes(&expected), buf_length(&out)) == 0);
    buf_free(&expected);
    buf_free(&out);
    buf_free(&quoted);
    json_decref(events);
}

RUN_TESTS(
    "protocol", TEST_ENTRY(test_decode_every_type), TEST_ENTRY(test_type_names_round_trip),
    TEST_ENTRY(test_decode_subscribe_fields), TEST_ENTRY(test_decode_publish_fields),
    TEST_ENTRY(test_decode_server_messages), TEST_ENTRY(test_decode_unknown_type),
    TEST_ENTRY(test_decode_type_with_embedded_nul_is_unknown),
    TEST_ENTRY(test_decode_wrongly_typed_fields), TEST_ENTRY(test_decode_missing_type),
    TEST_ENTRY(test_decode_non_object), TEST_ENTRY(test_decode_invalid_json),
    TEST_ENTRY(test_decode_uses_only_len_bytes), TEST_ENTRY(test_decode_rejects_duplicate_keys),
    TEST_ENTRY(test_id_validation), TEST_ENTRY(test_write_simple), TEST_ENTRY(test_write_error),
    TEST_ENTRY(test_write_connection_ack), TEST_ENTRY(test_write_data_round_trips),
    TEST_ENTRY(test_write_data_exact), TEST_ENTRY(test_signed_body_publish_matches_json_stringify),
    TEST_ENTRY(test_signed_body_subscribe_matches_json_stringify),
    TEST_ENTRY(test_signed_body_escapes_channel), TEST_ENTRY(test_signed_body_publish_single_event),
    TEST_ENTRY(test_signed_body_publish_non_string_event), TEST_ENTRY(test_request_scan_publish),
    TEST_ENTRY(test_request_scan_refusals), TEST_ENTRY(test_request_scan_types_and_ids),
    TEST_ENTRY(test_signed_body_publish_quoted_matches))
