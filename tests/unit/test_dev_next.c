/* Tests for src/dev/next: the Next message a bridge relays (the Runtime API's
 * whole answer to GET /next) parsed back into what the local worker sees. */
#include <errno.h>
#include <string.h>

#include "dev/next.h"
#include "test.h"

static char cause[200];

static int parse(const char *text, struct dev_next *out)
{
    cause[0] = '\0';
    return dev_next_parse(text, strlen(text), out, cause, sizeof(cause));
}

/* A Next whose request id header has the given value (NULL: no header). */
static int parse_with_id(const char *id, struct dev_next *out)
{
    char text[1024];
    snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\n%s%s%sContent-Length: 2\r\n\r\n{}",
             id ? "Lambda-Runtime-Aws-Request-Id: " : "", id ? id : "", id ? "\r\n" : "");
    return parse(text, out);
}

TEST(test_every_field)
{
    struct dev_next n;
    CHECK_INT(parse("HTTP/1.1 200 OK\r\n"
                    "Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n"
                    "Lambda-Runtime-Deadline-Ms: 1542409706888\r\n"
                    "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-2:1:function:f\r\n"
                    "Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700\r\n"
                    "Lambda-Runtime-Client-Context: {\"client\":{}}\r\n"
                    "Content-Length: 17\r\n\r\n{\"hello\":\"world\"}",
                    &n),
              0);
    CHECK_STR(n.request_id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
    CHECK(n.deadline_epoch_ms == 1542409706888ull);
    CHECK_STR(n.function_arn, "arn:aws:lambda:us-east-2:1:function:f");
    CHECK_STR(n.trace_id, "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700");
    CHECK_STR(n.client_context, "{\"client\":{}}");
    CHECK(n.cognito_identity == NULL);
    CHECK_INT(buf_length(&n.body), 17);
    CHECK(memcmp(buf_bytes(&n.body), "{\"hello\":\"world\"}", 17) == 0);
    dev_next_free(&n);
}

TEST(test_not_a_200_answer)
{
    struct dev_next n;
    CHECK_INT(parse("HTTP/1.1 500 Internal Server Error\r\n"
                    "Lambda-Runtime-Aws-Request-Id: abc\r\nContent-Length: 0\r\n\r\n",
                    &n),
              -EINVAL);
    CHECK(strstr(cause, "200") != NULL);
    CHECK_INT(parse("not HTTP at all\r\n\r\n", &n), -EINVAL);
    CHECK(cause[0] != '\0');
}

TEST(test_missing_or_oversized_request_id)
{
    struct dev_next n;
    char long_id[200];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    CHECK_INT(parse_with_id(NULL, &n), -EINVAL);
    CHECK(strstr(cause, "request id") != NULL);
    CHECK_INT(parse_with_id(long_id, &n), -EINVAL);
    long_id[128] = '\0';
    CHECK_INT(parse_with_id(long_id, &n), 0);
    CHECK_STR(n.request_id, long_id);
    dev_next_free(&n);
}

/* Found by fuzz/fuzz_dev_next: an empty request id was accepted. dev keeps
 * answers by request id and takes an empty id for a free slot, so a repeated
 * Next would run the invocation twice; and an id with a control character
 * goes into packets the bridge refuses, so the answer would be lost. */
TEST(test_empty_or_control_request_id)
{
    struct dev_next n;
    CHECK_INT(parse_with_id("", &n), -EINVAL);
    CHECK(strstr(cause, "request id") != NULL);
    CHECK_INT(parse_with_id("a\tb", &n), -EINVAL);
    CHECK_INT(parse_with_id("a\x7f", &n), -EINVAL);
    CHECK_INT(parse_with_id("a b", &n), 0);
    CHECK_STR(n.request_id, "a b");
    dev_next_free(&n);
}

/* A request id goes into dev's JSON reports, which refuse text that is not
 * UTF-8: such an id is refused here, a whole UTF-8 one is kept. */
TEST(test_request_id_not_utf8)
{
    struct dev_next n;
    CHECK_INT(parse_with_id("abc\xc3", &n), -EINVAL);
    CHECK_INT(parse_with_id("\xff\xfe", &n), -EINVAL);
    CHECK_INT(parse_with_id("caf\xc3\xa9", &n), 0);
    CHECK_STR(n.request_id, "caf\xc3\xa9");
    dev_next_free(&n);
}

RUN_TESTS("dev_next", TEST_ENTRY(test_every_field), TEST_ENTRY(test_not_a_200_answer),
          TEST_ENTRY(test_missing_or_oversized_request_id),
          TEST_ENTRY(test_empty_or_control_request_id), TEST_ENTRY(test_request_id_not_utf8))
