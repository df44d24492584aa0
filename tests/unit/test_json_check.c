/* The no-allocation JSON validator agrees with the grammar: every valid form
 * accepted, every near miss refused, nesting capped. */
#include <stdlib.h>
#include <string.h>

#include "core/json_check.h"
#include "test.h"

static int ok(const char *s)
{
    return json_check(s, strlen(s));
}

TEST(accepts_valid_values)
{
    static const char *const valid[] = {
        "0",
        "-0",
        "1.5",
        "-12.25e+3",
        "1E-2",
        "true",
        "false",
        "null",
        "\"\"",
        "\"a\\\"b\"",
        "\"\\u00e9\\n\\t\\/\"",
        "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
        "[]",
        "{}",
        " [1, 2 ,3] ",
        "{\"a\":{\"b\":[true,null,{}]}}",
        "\"\\ud800\"",
        "\t\n{\"k\" : \"v\"}\r\n",
    };
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        if (!ok(valid[i]))
            fprintf(stderr, "  refused: %s\n", valid[i]);
        CHECK(ok(valid[i]));
    }
}

TEST(refuses_invalid_values)
{
    static const char *const invalid[] = {
        "",
        " ",
        "01",
        "1.",
        ".5",
        "+1",
        "1e",
        "-",
        "tru",
        "nul",
        "True",
        "\"abc",
        "\"\\x\"",
        "\"\\u12g4\"",
        "\"a\nb\"",
        "[1,]",
        "[,1]",
        "{\"a\"}",
        "{\"a\":}",
        "{a:1}",
        "{\"a\":1,}",
        "[1 2]",
        "1 2",
        "{}x",
        "\"\xc3\x28\"",
        "\"\xed\xa0\x80\"",
        "[",
        "{",
        "NaN",
        "Infinity",
    };
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        if (ok(invalid[i]))
            fprintf(stderr, "  accepted: %s\n", invalid[i]);
        CHECK(!ok(invalid[i]));
    }
    CHECK(!json_check("1\0", 2));
}

TEST(nesting_is_capped)
{
    size_t depth = JSON_CHECK_MAX_DEPTH + 1;
    char *deep = malloc(depth * 2 + 1);
    for (size_t i = 0; i < depth; i++) {
        deep[i] = '[';
        deep[depth + i] = ']';
    }
    CHECK(!json_check(deep, depth * 2));
    CHECK(json_check(deep + 1, (depth - 1) * 2));
    free(deep);
}

RUN_TESTS("json_check", TEST_ENTRY(accepts_valid_values), TEST_ENTRY(refuses_invalid_values),
          TEST_ENTRY(nesting_is_capped))
