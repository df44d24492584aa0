/* Function URLs: events (payload format 2.0), answers, streamed preludes. */
#include <errno.h>
#include <jansson.h>

#include "core/encoding.h"
#include "lambda/url_event.h"
#include "test.h"

static json_t *event_for(const struct http_header *headers, size_t count, const char *method,
                         const char *path, const char *query, const char *body, size_t body_len)
{
    struct lambda_url_request req = {
        .method = method,
        .raw_path = path,
        .raw_query = query,
        .protocol = "HTTP/1.1",
        .source_ip = "127.0.0.1",
        .headers = headers,
        .header_count = count,
        .body = body,
        .body_len = body_len,
        .request_id = "req-1",
        .trace_id = "Root=1-abc",
        .time_epoch_ms = 1583348638390ull,
        .url_id = "abcdefabcdefabcdefabcdefabcdef12",
        .region = "us-east-1",
        .port = 9001,
    };
    struct buf out = BUF_INIT;
    CHECK_INT(lambda_url_event_build(&req, &out), 0);
    json_error_t error;
    json_t *event = json_loadb(buf_bytes(&out), buf_length(&out), 0, &error);
    if (!event)
        fprintf(stderr, "  event is not JSON: %s\n  %.*s\n", error.text, (int)buf_length(&out),
                buf_bytes(&out));
    buf_free(&out);
    return event;
}

static const char *get_string(json_t *object, const char *path)
{
    char copy[128];
    snprintf(copy, sizeof(copy), "%s", path);
    json_t *at = object;
    for (char *save = NULL, *key = strtok_r(copy, ".", &save); key && at;
         key = strtok_r(NULL, ".", &save))
        at = json_object_get(at, key);
    return json_string_value(at);
}

TEST(event_shape)
{
    struct http_header headers[] = {
        {"Host", "127.0.0.1:9001"}, {"User-Agent", "curl/8"}, {"X-Multi", "a"},
        {"x-multi", "b"},           {"Cookie", "a=1; b=2"},   {"Content-Type", "text/plain"},
        {"Cookie", "c=3"},
    };
    json_t *e = event_for(headers, 7, "POST", "/my/path", "p=1&p=2&q=a%20b&flag", "hello", 5);
    CHECK(e != NULL);
    if (!e)
        return;
    CHECK_STR(get_string(e, "version"), "2.0");
    CHECK_STR(get_string(e, "routeKey"), "$default");
    CHECK_STR(get_string(e, "rawPath"), "/my/path");
    CHECK_STR(get_string(e, "rawQueryString"), "p=1&p=2&q=a%20b&flag");
    CHECK_STR(get_string(e, "headers.host"), "127.0.0.1:9001");
    CHECK_STR(get_string(e, "headers.x-multi"), "a,b");
    CHECK_STR(get_string(e, "headers.content-type"), "text/plain");
    CHECK_STR(get_string(e, "headers.x-forwarded-for"), "127.0.0.1");
    CHECK_STR(get_string(e, "headers.x-forwarded-proto"), "http");
    CHECK_STR(get_string(e, "headers.x-forwarded-port"), "9001");
    CHECK_STR(get_string(e, "headers.x-amzn-trace-id"), "Root=1-abc");
    CHECK(json_object_get(json_object_get(e, "headers"), "cookie") == NULL);
    json_t *cookies = json_object_get(e, "cookies");
    CHECK_INT(json_array_size(cookies), 3);
    CHECK_STR(json_string_value(json_array_get(cookies, 0)), "a=1");
    CHECK_STR(json_string_value(json_array_get(cookies, 2)), "c=3");
    CHECK_STR(get_string(e, "queryStringParameters.p"), "1,2");
    CHECK_STR(get_string(e, "queryStringParameters.q"), "a b");
    CHECK_STR(get_string(e, "queryStringParameters.flag"), "");
    CHECK_STR(get_string(e, "requestContext.accountId"), "anonymous");
    CHECK_STR(get_string(e, "requestContext.apiId"), "abcdefabcdefabcdefabcdefabcdef12");
    CHECK_STR(get_string(e, "requestContext.domainName"),
              "abcdefabcdefabcdefabcdefabcdef12.lambda-url.us-east-1.on.aws");
    CHECK_STR(get_string(e, "requestContext.http.method"), "POST");
    CHECK_STR(get_string(e, "requestContext.http.path"), "/my/path");
    CHECK_STR(get_string(e, "requestContext.http.protocol"), "HTTP/1.1");
    CHECK_STR(get_string(e, "requestContext.http.sourceIp"), "127.0.0.1");
    CHECK_STR(get_string(e, "requestContext.http.userAgent"), "curl/8");
    CHECK_STR(get_string(e, "requestContext.requestId"), "req-1");
    CHECK_STR(get_string(e, "requestContext.stage"), "$default");
    CHECK_STR(get_string(e, "requestContext.time"), "04/Mar/2020:19:03:58 +0000");
    CHECK_INT(
        json_integer_value(json_object_get(json_object_get(e, "requestContext"), "timeEpoch")),
        1583348638390ll);
    CHECK_STR(get_string(e, "body"), "hello");
    CHECK(json_is_false(json_object_get(e, "isBase64Encoded")));
    CHECK(json_is_null(json_object_get(e, "pathParameters")));
    CHECK(json_is_null(json_object_get(e, "stageVariables")));
    json_decref(e);
}

TEST(event_without_query_cookies_or_body)
{
    struct http_header headers[] = {{"X-Amzn-Trace-Id", "Root=1-client"}};
    json_t *e = event_for(headers, 1, "GET", "/", "", "", 0);
    CHECK(e != NULL);
    if (!e)
        return;
    CHECK(json_object_get(e, "cookies") == NULL);
    CHECK(json_object_get(e, "queryStringParameters") == NULL);
    CHECK(json_object_get(e, "body") == NULL);
    CHECK_STR(get_string(e, "rawQueryString"), "");
    /* The client's trace header is kept, not replaced. */
    CHECK_STR(get_string(e, "headers.x-amzn-trace-id"), "Root=1-client");
    CHECK_STR(get_string(e, "requestContext.http.userAgent"), "");
    json_decref(e);
}

TEST(binary_bodies_are_base64)
{
    struct http_header octet[] = {{"Content-Type", "application/octet-stream"}};
    json_t *e = event_for(octet, 1, "POST", "/", "", "abc", 3);
    CHECK_STR(get_string(e, "body"), "YWJj");
    CHECK(json_is_true(json_object_get(e, "isBase64Encoded")));
    json_decref(e);
    struct http_header json_type[] = {{"Content-Type", "application/json"}};
    const char invalid_utf8[] = {'a', (char)0xff, 'b', 0};
    e = event_for(json_type, 1, "POST", "/", "", invalid_utf8, 4);
    CHECK_STR(get_string(e, "body"), "Yf9iAA==");
    CHECK(json_is_true(json_object_get(e, "isBase64Encoded")));
    json_decref(e);
    CHECK(lambda_url_body_is_binary("image/png", "x", 1));
    CHECK(lambda_url_body_is_binary(" Application/PDF; q=1", "x", 1));
    CHECK(!lambda_url_body_is_binary("application/json; charset=utf-8", "{}", 2));
    CHECK(!lambda_url_body_is_binary(NULL, "plain", 5));
    CHECK(!lambda_url_body_is_binary("text/plain", "h\xc3\xa9llo", 6));
}

TEST(utf8_validation)
{
    CHECK(utf8_valid("", 0));
    CHECK(utf8_valid("\xe2\x82\xac \xf0\x9f\x98\x80", 8));
    CHECK(!utf8_valid("\xc0\xaf", 2));         /* overlong */
    CHECK(!utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!utf8_valid("\xe2\x82", 2));         /* cut short */
    CHECK(!utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
}

TEST(decode_component)
{
    struct buf out = BUF_INIT;
    CHECK_INT(lambda_url_decode_component(&out, "a%20b+c%2Fd%zz%4", 16), 0);
    buf_terminate(&out);
    CHECK_STR(buf_bytes(&out), "a b+c/d%zz%4");
    buf_free(&out);
}

TEST(time_format)
{
    char out[32];
    lambda_url_time_format(1584039838000ull, out);
    CHECK_STR(out, "12/Mar/2020:19:03:58 +0000");
}

static int map(const char *payload, struct lambda_url_response *r, char *why)
{
    lambda_url_response_init(r);
    return lambda_url_response_map(payload, strlen(payload), r, why, 200);
}

TEST(structured_answer)
{
    struct lambda_url_response r;
    char why[200];
    CHECK_INT(map("{\"statusCode\":201,\"headers\":{\"X-A\":\"1\",\"X-N\":5,\"Content-Type\":"
                  "\"text/plain\",\"Content-Length\":\"999\",\"Transfer-Encoding\":\"chunked\"},"
                  "\"cookies\":[\"a=1; Path=/\",\"b=2\"],\"body\":\"hi\"}",
                  &r, why),
              0);
    buf_terminate(&r.headers);
    CHECK_INT(r.status, 201);
    CHECK_STR(buf_bytes(&r.headers), "X-A: 1\r\nX-N: 5\r\nContent-Type: text/plain\r\n"
                                     "Set-Cookie: a=1; Path=/\r\nSet-Cookie: b=2\r\n");
    CHECK_INT(buf_length(&r.body), 2);
    CHECK(memcmp(buf_bytes(&r.body), "hi", 2) == 0);
    lambda_url_response_free(&r);
}

TEST(base64_answer_and_defaults)
{
    struct lambda_url_response r;
    char why[200];
    CHECK_INT(
        map("{\"statusCode\":\"200\",\"body\":\"AAEC/w==\",\"isBase64Encoded\":true}", &r, why), 0);
    buf_terminate(&r.headers);
    CHECK_INT(r.status, 200);
    CHECK_STR(buf_bytes(&r.headers), "Content-Type: application/json\r\n");
    CHECK_INT(buf_length(&r.body), 4);
    CHECK(memcmp(buf_bytes(&r.body), "\x00\x01\x02\xff", 4) == 0);
    lambda_url_response_free(&r);
    /* No body at all. */
    CHECK_INT(map("{\"statusCode\":204.0,\"headers\":{\"X-R\":0.1,\"X-B\":true}}", &r, why), 0);
    buf_terminate(&r.headers);
    CHECK_STR(buf_bytes(&r.headers), "X-R: 0.1\r\nX-B: true\r\nContent-Type: application/json\r\n");
    CHECK_INT(r.status, 204);
    CHECK_INT(buf_length(&r.body), 0);
    lambda_url_response_free(&r);
}

TEST(shortcut_answers)
{
    struct lambda_url_response r;
    char why[200];
    /* Also JSON jansson is strict about by default: huge integers, \u0000. */
    const char *payloads[] = {
        "{\"message\":\"hi\"}", "[1,2]", "\"text\"", "42", "null", "123456789012345678901234567890",
        "{\"s\":\"a\\u0000b\"}"};
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        CHECK_INT(map(payloads[i], &r, why), 0);
        buf_terminate(&r.headers);
        buf_terminate(&r.body);
        CHECK_INT(r.status, 200);
        CHECK_STR(buf_bytes(&r.headers), "Content-Type: application/json\r\n");
        CHECK_STR(buf_bytes(&r.body), payloads[i]);
        lambda_url_response_free(&r);
    }
}

TEST(bad_answers_are_refused)
{
    struct lambda_url_response r;
    char why[200];
    CHECK_INT(map("not json", &r, why), -EINVAL);
    lambda_url_response_free(&r);
    CHECK_INT(map("{\"statusCode\":99}", &r, why), -EINVAL);
    lambda_url_response_free(&r);
    CHECK_INT(map("{\"statusCode\":\"abc\"}", &r, why), -EINVAL);
    lambda_url_response_free(&r);
    /* Header injection. */
    CHECK_INT(map("{\"statusCode\":200,\"headers\":{\"X\":\"a\\r\\nSet-Cookie: evil\"}}", &r, why),
              -EINVAL);
    lambda_url_response_free(&r);
    CHECK_INT(map("{\"statusCode\":200,\"headers\":{\"Bad Name\":\"a\"}}", &r, why), -EINVAL);
    lambda_url_response_free(&r);
    CHECK_INT(map("{\"statusCode\":200,\"cookies\":[1]}", &r, why), -EINVAL);
    lambda_url_response_free(&r);
    CHECK_INT(map("{\"statusCode\":200,\"body\":\"%%%\",\"isBase64Encoded\":true}", &r, why),
              -EINVAL);
    lambda_url_response_free(&r);
}

TEST(prelude_across_pieces)
{
    struct lambda_url_prelude p;
    struct lambda_url_response head;
    char why[200];
    lambda_url_prelude_init(&p);
    lambda_url_response_init(&head);
    const char stream[] = "{\"statusCode\":202,\"headers\":{\"X-S\":\"1\"},\"cookies\":[\"c=1\"]}"
                          "\0\0\0\0\0\0\0\0body";
    size_t len = sizeof(stream) - 1, offset = 0;
    /* One byte at a time up to the separator. */
    size_t i = 0;
    int rc = 0;
    for (; i < len && rc == 0; i++)
        rc = lambda_url_prelude_feed(&p, stream + i, 1, &offset, &head, why, sizeof(why));
    CHECK_INT(rc, 1);
    CHECK_INT(i, len - 4);
    CHECK_INT(offset, 1);
    buf_terminate(&head.headers);
    CHECK_INT(head.status, 202);
    CHECK_STR(buf_bytes(&head.headers),
              "X-S: 1\r\nSet-Cookie: c=1\r\nContent-Type: application/octet-stream\r\n");
    lambda_url_prelude_free(&p);
    lambda_url_response_free(&head);
}

TEST(prelude_in_one_piece_and_errors)
{
    struct lambda_url_prelude p;
    struct lambda_url_response head;
    char why[200];
    size_t offset = 0;
    lambda_url_prelude_init(&p);
    lambda_url_response_init(&head);
    const char stream[] = "{}\0\0\0\0\0\0\0\0rest";
    CHECK_INT(
        lambda_url_prelude_feed(&p, stream, sizeof(stream) - 1, &offset, &head, why, sizeof(why)),
        1);
    CHECK_INT(offset, 10);
    CHECK_INT(head.status, 200);
    lambda_url_prelude_free(&p);
    lambda_url_response_free(&head);
    /* Fewer than 8 NULs are part of the prelude (and make it invalid JSON). */
    lambda_url_prelude_init(&p);
    lambda_url_response_init(&head);
    const char bad[] = "{}\0\0\0x\0\0\0\0\0\0\0\0";
    CHECK_INT(lambda_url_prelude_feed(&p, bad, sizeof(bad) - 1, &offset, &head, why, sizeof(why)),
              -EINVAL);
    lambda_url_prelude_free(&p);
    lambda_url_response_free(&head);
    /* A prelude that never ends is capped. */
    lambda_url_prelude_init(&p);
    lambda_url_response_init(&head);
    char *big = malloc(LAMBDA_URL_PRELUDE_MAX + 10);
    memset(big, ' ', LAMBDA_URL_PRELUDE_MAX + 10);
    CHECK_INT(lambda_url_prelude_feed(&p, big, LAMBDA_URL_PRELUDE_MAX + 10, &offset, &head, why,
                                      sizeof(why)),
              -EFBIG);
    free(big);
    lambda_url_prelude_free(&p);
    lambda_url_response_free(&head);
}

RUN_TESTS("test_lambda_url", TEST_ENTRY(event_shape),
          TEST_ENTRY(event_without_query_cookies_or_body), TEST_ENTRY(binary_bodies_are_base64),
          TEST_ENTRY(utf8_validation), TEST_ENTRY(decode_component), TEST_ENTRY(time_format),
          TEST_ENTRY(structured_answer), TEST_ENTRY(base64_answer_and_defaults),
          TEST_ENTRY(shortcut_answers), TEST_ENTRY(bad_answers_are_refused),
          TEST_ENTRY(prelude_across_pieces), TEST_ENTRY(prelude_in_one_piece_and_errors))
