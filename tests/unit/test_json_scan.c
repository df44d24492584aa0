/* core/json_scan: validity (the same verdicts as core/json_check), walking
 * members as slices, decoding strings, and the canonical-quoting flag. */
#include <errno.h>

#include "core/encoding.h"
#include "core/json_check.h"
#include "core/json_scan.h"
#include "test.h"

static int valid(const char *text)
{
    return json_scan_valid(text, strlen(text));
}

TEST(test_validity_matches_json_check)
{
    static const char *const texts[] = {
        "{}", "[]", "0", "-0.5e+3", "\"a\"", " true ", "null", "[1,[2,{\"a\":[]}]]",
        "\"\\ud83d\\ude00\"", "\"\\udc00\"", "\"\xc3\xa9\"", "{\"a\":1,\"a\":2}",
        /* invalid */
        "", " ", "{", "[1,]", "{,}", "{\"a\"}", "{\"a\":}", "01", "1.", ".5", "1e", "-", "+1",
        "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\x01\"", "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"", "\"\xf5\x80\x80\x80\"", "[1]x", "{\"a\":1}}", "[1 2]", "'a'"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        if (valid(texts[i]) != json_check(texts[i], strlen(texts[i])))
            fprintf(stderr, "  disagreement on %s\n", texts[i]);
        CHECK_INT(valid(texts[i]), json_check(texts[i], strlen(texts[i])));
    }
    CHECK(valid("[1]"));
    CHECK(!valid("[1,]"));
}

TEST(test_depth_cap)
{
    char text[2 * (JSON_SCAN_MAX_DEPTH + 1) + 1];
    size_t n = JSON_SCAN_MAX_DEPTH;
    memset(text, '[', n);
    memset(text + n, ']', n);
    CHECK(json_scan_valid(text, 2 * n));
    n++;
    memset(text, '[', n);
    memset(text + n, ']', n);
    CHECK(!json_scan_valid(text, 2 * n));
}

TEST(test_walk_object)
{
    const char *text = " {\"type\":\"publish\", \"events\":[\"{\\\"a\\\":1}\", 2],\"n\":-1.5, "
                       "\"o\":{\"k\":null}} ";
    struct json_scan scan;
    struct json_slice key, value;
    CHECK_INT(json_scan_open(&scan, text, strlen(text)), 0);
    CHECK_INT(json_scan_next(&scan, &key, &value), 1);
    CHECK(json_scan_string_equals(&key, "type", 4));
    CHECK_INT(value.type, JSON_SCAN_STRING);
    CHECK(json_scan_string_equals(&value, "publish", 7));
    CHECK(!value.escaped && value.canonical);

    CHECK_INT(json_scan_next(&scan, &key, &value), 1);
    CHECK(json_scan_string_equals(&key, "events", 6));
    CHECK_INT(value.type, JSON_SCAN_ARRAY);
    struct json_scan events;
    struct json_slice event;
    CHECK_INT(json_scan_open_slice(&events, &value), 0);
    CHECK_INT(json_scan_next(&events, NULL, &event), 1);
    CHECK_INT(event.type, JSON_SCAN_STRING);
    CHECK(event.escaped && event.canonical);
    struct buf decoded = BUF_INIT;
    CHECK_INT(json_scan_string(&event, &decoded), 0);
    CHECK_INT(buf_length(&decoded), 7);
    CHECK(memcmp(buf_bytes(&decoded), "{\"a\":1}", 7) == 0);
    buf_free(&decoded);
    CHECK_INT(json_scan_next(&events, NULL, &event), 1);
    CHECK_INT(event.type, JSON_SCAN_NUMBER);
    CHECK_INT(event.len, 1);
    CHECK_INT(json_scan_next(&events, NULL, &event), 0);
    CHECK_INT(json_scan_next(&events, NULL, &event), 0);

    CHECK_INT(json_scan_next(&scan, &key, &value), 1);
    CHECK_INT(value.type, JSON_SCAN_NUMBER);
    CHECK(value.len == 4 && memcmp(value.text, "-1.5", 4) == 0);
    CHECK_INT(json_scan_next(&scan, &key, &value), 1);
    CHECK_INT(value.type, JSON_SCAN_OBJECT);
    CHECK(value.len == 10 && memcmp(value.text, "{\"k\":null}", 10) == 0);
    CHECK_INT(json_scan_next(&scan, &key, &value), 0);
}

/* Members before the error are yielded; the error comes where the text
 * stops being JSON, and it sticks. */
TEST(test_walk_errors)
{
    static const char *const bad[] = {"{\"a\":1,}", "{\"a\":1} x", "{\"a\":1",
                                      "{\"a\" 1}",  "[1,,2]",      "{\"a\":[}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct json_scan scan;
        struct json_slice key, value;
        CHECK_INT(json_scan_open(&scan, bad[i], strlen(bad[i])), 0);
        int rc;
        while ((rc = json_scan_next(&scan, &key, &value)) == 1)
            ;
        CHECK_INT(rc, -EINVAL);
        CHECK_INT(json_scan_next(&scan, &key, &value), -EINVAL);
    }
    struct json_scan scan;
    CHECK_INT(json_scan_open(&scan, "\"s\"", 3), -EINVAL);
    CHECK_INT(json_scan_open(&scan, "", 0), -EINVAL);
}

/* The slice of the one string in "[literal]"; it points into a static copy
 * that the next call overwrites. */
static struct json_slice one_string(const char *literal)
{
    static char text[256];
    snprintf(text, sizeof(text), "[%s]", literal);
    struct json_scan scan;
    struct json_slice value = {0};
    if (json_scan_open(&scan, text, strlen(text)) < 0 || json_scan_next(&scan, NULL, &value) != 1)
        value.type = JSON_SCAN_INVALID;
    return value;
}

/* canonical means "json_quote of the value gives these bytes back". */
TEST(test_canonical)
{
    static const struct {
        const char *literal;
        int canonical;
    } cases[] = {
        {"\"plain\"", 1},
        {"\"q\\\" b\\\\ \\b\\f\\n\\r\\t\"", 1},
        {"\"\\u0000\\u001f\\u0001\"", 1},
        {"\"\xc3\xa9\xe2\x80\xa8 /\"", 1},
        {"\"\\/\"", 0},
        {"\"\\u001F\"", 0},
        {"\"\\u0008\"", 0},
        {"\"\\u000a\"", 0},
        {"\"\\u0041\"", 0},
        {"\"\\u00e9\"", 0},
        {"\"\\ud83d\\ude00\"", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct json_slice s = one_string(cases[i].literal);
        CHECK_INT(s.type, JSON_SCAN_STRING);
        CHECK_INT(s.canonical, cases[i].canonical);
        struct buf decoded = BUF_INIT, quoted = BUF_INIT;
        CHECK_INT(json_scan_string(&s, &decoded), 0);
        json_quote(&quoted, buf_bytes(&decoded), buf_length(&decoded));
        int same = buf_length(&quoted) == s.len && memcmp(buf_bytes(&quoted), s.text, s.len) == 0;
        CHECK_INT(same, cases[i].canonical);
        buf_free(&decoded);
        buf_free(&quoted);
    }
}

TEST(test_decode)
{
    struct json_slice s = one_string("\"a\\u00e9\\ud83d\\ude00\\/\\u0000z\"");
    struct buf out = BUF_INIT;
    buf_append_str(&out, "kept");
    CHECK_INT(json_scan_string(&s, &out), 0);
    const char expected[] = "kepta\xc3\xa9\xf0\x9f\x98\x80/\0z";
    CHECK_INT(buf_length(&out), sizeof(expected) - 1);
    CHECK(memcmp(buf_bytes(&out), expected, sizeof(expected) - 1) == 0);
    /* A lone surrogate has no UTF-8 form: refused, nothing appended. */
    static const char *const lone[] = {"\"x\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
                                       "\"\\ud800\\ud800\""};
    for (size_t i = 0; i < sizeof(lone) / sizeof(lone[0]); i++) {
        struct json_slice l = one_string(lone[i]);
        size_t before = buf_length(&out);
        CHECK_INT(json_scan_string(&l, &out), -EILSEQ);
        CHECK_INT(buf_length(&out), before);
        CHECK(!l.canonical);
    }
    struct json_slice number = {.type = JSON_SCAN_NUMBER, .text = "1", .len = 1};
    CHECK_INT(json_scan_string(&number, &out), -EINVAL);
    buf_free(&out);
}

int main(void)
{
    static const struct test_case cases[] = {
        TEST_ENTRY(test_validity_matches_json_check),
        TEST_ENTRY(test_depth_cap),
        TEST_ENTRY(test_walk_object),
        TEST_ENTRY(test_walk_errors),
        TEST_ENTRY(test_canonical),
        TEST_ENTRY(test_decode),
    };
    return test_run_all("json_scan", cases, sizeof(cases) / sizeof(cases[0]));
}
