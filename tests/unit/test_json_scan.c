/* core/json_scan: validity, walking
 * members as slices, decoding strings, and the canonical-quoting flag. */
#include <errno.h>

#include "core/encoding.h"
#include "core/json_scan.h"
#include "test.h"

static int valid(const char *text)
{
    return json_scan_valid(text, strlen(text));
}

TEST(test_validity)
{
    static const char *const good[] = {"{}",
                                       "[]",
                                       "0",
                                       "-0.5e+3",
                                       "\"a\"",
                                       " true ",
                                       "null",
                                       "[1,[2,{\"a\":[]}]]",
                                       "\"\\ud83d\\ude00\"",
                                       "\"\\udc00\"",
                                       "\"\xc3\xa9\"",
                                       "{\"a\":1,\"a\":2}",
                                       "1e400"};
    static const char *const bad[] = {"",
                                      " ",
                                      "{",
                                      "[1,]",
                                      "{,}",
                                      "{\"a\"}",
                                      "{\"a\":}",
                                      "01",
                                      "1.",
                                      ".5",
                                      "1e",
                                      "-",
                                      "+1",
                                      "tru",
                                      "nul",
                                      "\"abc",
                                      "\"\\x\"",
                                      "\"\\u12\"",
                                      "\"\x01\"",
                                      "\"\xc0\xaf\"",
                                      "\"\xed\xa0\x80\"",
                                      "\"\xf5\x80\x80\x80\"",
                                      "[1]x",
                                      "{\"a\":1}}",
                                      "[1 2]",
                                      "'a'"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!valid(good[i]))
            fprintf(stderr, "  refused %s\n", good[i]);
        CHECK(valid(good[i]));
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (valid(bad[i]))
            fprintf(stderr, "  accepted %s\n", bad[i]);
        CHECK(!valid(bad[i]));
    }
}

/* Strings are scanned 8 bytes at a time: every kind of special byte, at
 * every offset of a long string, must still be seen. */
TEST(test_special_bytes_at_every_offset)
{
    static const char *const specials[] = {"\"", "\\n", "\x01", "\x1f", "\xc3\xa9", "\xff", "\x7f"};
    for (size_t k = 0; k < sizeof(specials) / sizeof(specials[0]); k++) {
        for (size_t at = 0; at < 24; at++) {
            char text[64];
            size_t n = 0;
            text[n++] = '"';
            for (size_t i = 0; i < at; i++)
                text[n++] = 'a';
            n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", specials[k]);
            while (n < 40)
                text[n++] = 'b';
            text[n++] = '"';
            /* The quote ends the string early; raw controls and 0xff are
             * not allowed; an escape, é and DEL are. */
            int expected = k == 1 || k == 4 || k == 6;
            if (json_scan_valid(text, n) != expected)
                fprintf(stderr, "  special %zu at %zu: wrong verdict\n", k, at);
            CHECK_INT(json_scan_valid(text, n), expected);
        }
    }
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

/* A walk into a slice finds strings by their ends and escapes only; it must
 * give the same slices and flags as the first, checking walk. */
TEST(test_walk_into_slice_matches)
{
    const char *text =
        "[[\"a\\\\\", \"\\\"q\\\"\", \"\\/\", \"\\u00e9\", \"\xc3\xa9\", \"\\n\", 1, "
        "{\"k\\\\\":[\"]\"]}]]";
    struct json_scan outer, first, again;
    struct json_slice list, a, b;
    CHECK_INT(json_scan_open(&outer, text, strlen(text)), 0);
    CHECK_INT(json_scan_next(&outer, NULL, &list), 1);
    CHECK_INT(json_scan_open(&first, list.text, list.len), 0);
    CHECK_INT(json_scan_open_slice(&again, &list), 0);
    static const int canonical[] = {1, 1, 0, 0, 1, 1};
    for (int i = 0;; i++) {
        int rc = json_scan_next(&first, NULL, &a);
        CHECK_INT(json_scan_next(&again, NULL, &b), rc);
        if (rc != 1)
            break;
        CHECK(a.type == b.type && a.text == b.text && a.len == b.len);
        CHECK(a.escaped == b.escaped && a.canonical == b.canonical);
        if (i < 6)
            CHECK_INT(b.canonical, canonical[i]);
    }
    CHECK_INT(json_scan_next(&outer, NULL, &list), 0);
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
        TEST_ENTRY(test_validity),
        TEST_ENTRY(test_special_bytes_at_every_offset),
        TEST_ENTRY(test_depth_cap),
        TEST_ENTRY(test_walk_object),
        TEST_ENTRY(test_walk_into_slice_matches),
        TEST_ENTRY(test_walk_errors),
        TEST_ENTRY(test_canonical),
        TEST_ENTRY(test_decode),
    };
    return test_run_all("json_scan", cases, sizeof(cases) / sizeof(cases[0]));
}
