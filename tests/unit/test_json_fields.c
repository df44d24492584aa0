/* The one reader of JSON configuration fields: types, ranges, defaults kept
 * when a key is absent, unknown keys with and without a suggestion, and the
 * key path in every cause. */
#include <errno.h>
#include <stdlib.h>

#include "core/json_fields.h"
#include "test.h"

static char cause[512];

static json_t *load(const char *text)
{
    json_t *v = json_loads(text, JSON_ALLOW_NUL, NULL);
    CHECK(v != NULL);
    return v;
}

/* A root in file "f.json", and one without a file. */
static struct json_where in_file(void)
{
    cause[0] = '\0';
    return (struct json_where){"f.json", "", cause, sizeof(cause)};
}

static struct json_where no_file(void)
{
    cause[0] = '\0';
    return (struct json_where){NULL, "", cause, sizeof(cause)};
}

TEST(causes_name_file_and_path)
{
    struct json_where root = in_file();
    CHECK_INT(json_where_fail(&root, "must hold a %s", "JSON object"), -EINVAL);
    CHECK_STR(cause, "f.json: must hold a JSON object");
    struct json_where a = json_where_child(&root, "functions");
    struct json_where b = json_where_child(&a, "Api");
    CHECK_STR(b.path, "functions.Api");
    CHECK_INT(json_where_fail(&b, "bad"), -EINVAL);
    CHECK_STR(cause, "f.json: functions.Api: bad");
    struct json_where bare = no_file();
    CHECK_INT(json_where_fail(&bare, "plain"), -EINVAL);
    CHECK_STR(cause, "plain");
    struct json_where key = json_where_child(&bare, "region");
    json_where_fail(&key, "x");
    CHECK_STR(cause, "region: x");
}

TEST(long_paths_are_cut_not_overrun)
{
    struct json_where w = in_file();
    char key[400];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    struct json_where deep = json_where_child(&w, key);
    CHECK_INT(strlen(deep.path), JSON_FIELDS_MAX_PATH - 1);
    char small[16];
    deep.cause = small;
    deep.cause_len = sizeof(small);
    CHECK_INT(json_where_fail(&deep, "reason"), -EINVAL);
    CHECK_STR(small, "f.json: kkkkkkk");
}

TEST(unknown_keys_with_and_without_suggestion)
{
    static const char *const keys[] = {"timeout", "memory", NULL};
    json_t *o = load("{\"memory\": 1, \"tiemout\": 2}");
    struct json_where w = in_file();
    CHECK_INT(json_fields_check_keys(o, keys, 1, &w), -EINVAL);
    CHECK_STR(cause, "f.json: tiemout: unknown key (did you mean \"timeout\"?)");
    w = no_file();
    CHECK_INT(json_fields_check_keys(o, keys, 0, &w), -EINVAL);
    CHECK_STR(cause, "tiemout: unknown key");
    json_decref(o);
    /* Far from every allowed key, or too long to compare: no suggestion. */
    o = load("{\"colour\": 1}");
    w = in_file();
    CHECK_INT(json_fields_check_keys(o, keys, 1, &w), -EINVAL);
    CHECK_STR(cause, "f.json: colour: unknown key");
    json_decref(o);
    o = load("{\"timeouttimeouttimeouttimeouttimeout\": 1}");
    CHECK_INT(json_fields_check_keys(o, keys, 1, &w), -EINVAL);
    CHECK_STR(cause, "f.json: timeouttimeouttimeouttimeouttimeout: unknown key");
    json_decref(o);
    o = load("{\"timeout\": 1}");
    CHECK_INT(json_fields_check_keys(o, keys, 1, &w), 0);
    json_decref(o);
}

TEST(strings)
{
    json_t *o = load("{\"s\": \"v\", \"e\": \"\", \"n\": 3, \"z\": \"a\\u0000b\"}");
    struct json_where w = in_file();
    char *out = strdup("default");
    CHECK_INT(json_fields_string(o, "absent", 0, &out, &w), 0);
    CHECK_STR(out, "default");
    CHECK_INT(json_fields_string(o, "s", 0, &out, &w), 0); /* replaces the default */
    CHECK_STR(out, "v");
    CHECK_INT(json_fields_string(o, "absent", JSON_STRING_REQUIRED, &out, &w), -EINVAL);
    CHECK_STR(cause, "f.json: absent: is required");
    CHECK_INT(json_fields_string(o, "e", 0, &out, &w), 0);
    CHECK_STR(out, "");
    CHECK_INT(json_fields_string(o, "e", JSON_STRING_NONEMPTY, &out, &w), -EINVAL);
    CHECK_STR(cause, "f.json: e: must be a non-empty string");
    CHECK_INT(json_fields_string(o, "n", JSON_STRING_NONEMPTY, &out, &w), -EINVAL);
    CHECK_STR(cause, "f.json: n: must be a non-empty string");
    CHECK_INT(json_fields_string(o, "n", 0, &out, &w), -EINVAL);
    CHECK_STR(cause, "f.json: n: must be a string");
    CHECK_INT(json_fields_string(o, "z", JSON_STRING_NONEMPTY, &out, &w), -EINVAL);
    CHECK_STR(cause, "f.json: z: must not contain NUL characters");
    CHECK_STR(out, ""); /* a refused value leaves the old one */
    CHECK(json_fields_is_plain_string(json_object_get(o, "s")));
    CHECK(json_fields_is_plain_string(json_object_get(o, "e")));
    CHECK(!json_fields_is_plain_string(json_object_get(o, "z")));
    CHECK(!json_fields_is_plain_string(json_object_get(o, "n")));
    free(out);
    json_decref(o);
}

TEST(numbers_and_booleans)
{
    json_t *o = load("{\"t\": 900, \"big\": 901, \"neg\": -1, \"f\": 1.5, \"s\": \"3\", "
                     "\"huge\": 99999999999, \"yes\": true, \"no\": false, \"one\": 1}");
    struct json_where w = no_file();
    unsigned n = 20;
    CHECK_INT(json_fields_uint(o, "absent", 1, 900, &n, &w), 0);
    CHECK_INT(n, 20);
    CHECK_INT(json_fields_uint(o, "t", 1, 900, &n, &w), 0);
    CHECK_INT(n, 900);
    const char *bad[] = {"big", "neg", "f", "s", "huge"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[64];
        snprintf(want, sizeof(want), "%s: must be an integer from 1 to 900", bad[i]);
        CHECK_INT(json_fields_uint(o, bad[i], 1, 900, &n, &w), -EINVAL);
        CHECK_STR(cause, want);
        CHECK_INT(n, 900);
    }
    int b = 1;
    CHECK_INT(json_fields_bool(o, "absent", &b, &w), 0);
    CHECK_INT(b, 1);
    CHECK_INT(json_fields_bool(o, "no", &b, &w), 0);
    CHECK_INT(b, 0);
    CHECK_INT(json_fields_bool(o, "yes", &b, &w), 0);
    CHECK_INT(b, 1);
    CHECK_INT(json_fields_bool(o, "one", &b, &w), -EINVAL);
    CHECK_STR(cause, "one: must be true or false");
    json_decref(o);
}

RUN_TESTS("test_json_fields", TEST_ENTRY(causes_name_file_and_path),
          TEST_ENTRY(long_paths_are_cut_not_overrun),
          TEST_ENTRY(unknown_keys_with_and_without_suggestion), TEST_ENTRY(strings),
          TEST_ENTRY(numbers_and_booleans))
