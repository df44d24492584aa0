/* Unit tests for net/http: the incremental HTTP/1.1 reader with its caps, the
 * header helpers and the response writer. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "net/http.h"
#include "test.h"

static const struct http_limits default_limits = {8192, 65536};

static const char post_request[] = "POST /event?api=1&x=y HTTP/1.1\r\n"
                                   "Host: example.com\r\n"
                                   "Content-Type: application/json\r\n"
                                   "X-Padded:   value with spaces  \t\r\n"
                                   "Content-Length: 28\r\n"
                                   "\r\n"
                                   "{\"channel\":\"/a\",\"events\":[]}";

static const char get_request[] = "GET /health HTTP/1.1\r\n"
                                  "Host: example.com\r\n"
                                  "\r\n";

static const char upgrade_request[] = "GET /event/realtime HTTP/1.1\r\n"
                                      "Host: example.com\r\n"
                                      "Upgrade: websocket\r\n"
                                      "Connection: Upgrade\r\n"
                                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                      "Sec-WebSocket-Version: 13\r\n"
                                      "Sec-WebSocket-Protocol: aws-appsync-event-ws, header-abc\r\n"
                                      "\r\n";

/* The first bytes of a masked WebSocket frame, as a client sends them right
 * after its upgrade request. */
static const char ws_bytes[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";

#define LEN(s) (sizeof(s) - 1)

static void check_post_message(const struct http_message *m)
{
    CHECK_INT(m->is_request, 1);
    CHECK_STR(m->method, "POST");
    CHECK_STR(m->target, "/event?api=1&x=y");
    CHECK_STR(m->path, "/event");
    CHECK_STR(m->query, "api=1&x=y");
    CHECK_INT(m->http_major, 1);
    CHECK_INT(m->http_minor, 1);
    CHECK_INT(m->header_count, 4);
    CHECK_STR(http_header_get(m, "Host"), "example.com");
    CHECK_STR(http_header_get(m, "Content-Type"), "application/json");
    CHECK_STR(http_header_get(m, "X-Padded"), "value with spaces");
    CHECK_STR(http_header_get(m, "Content-Length"), "28");
    CHECK_INT(buf_length(&m->body), 28);
    CHECK(memcmp(buf_bytes(&m->body), "{\"channel\":\"/a\",\"events\":[]}", 28) == 0);
    CHECK_INT(m->upgrade, 0);
    CHECK_INT(m->keep_alive, 1);
}

TEST(test_request_with_headers_and_body)
{
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &default_limits);
    CHECK_INT(r.state, HTTP_READER_READING);
    CHECK_INT(http_reader_feed(&r, post_request, LEN(post_request)), LEN(post_request));
    CHECK_INT(r.state, HTTP_READER_COMPLETE);
    check_post_message(&r.message);
    /* A complete reader takes nothing more until reset. */
    CHECK_INT(http_reader_feed(&r, get_request, LEN(get_request)), 0);
    http_reader_free(&r);
}

TEST(test_request_without_query)
{
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &default_limits);
    CHECK_INT(http_reader_feed(&r, get_request, LEN(get_request)), LEN(get_request));
    CHECK_INT(r.state, HTTP_READER_COMPLETE);
    CHECK_STR(r.message.method, "GET");
    CHECK_STR(r.message.target, "/health");
    CHECK_STR(r.message.path, "/health");
    CHECK_STR(r.message.query, "");
    CHECK_INT(buf_length(&r.message.body), 0);
    CHECK_INT(r.message.header_count, 1);
    http_reader_free(&r);
}

TEST(test_byte_at_a_time)
{
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &default_limits);
    size_t i = 0;
    for (; i < LEN(post_request); i++) {
        if (http_reader_feed(&r, post_request + i, 1) != 1) {
            CHECK(!"a byte was not consumed");
            break;
        }
        if (r.state == HTTP_READER_COMPLETE)
            break;
    }
    CHECK_INT(i, LEN(post_request) - 1); /* completes on the very last byte */
    CHECK_INT(r.state, HTTP_READER_COMPLETE);
    check_post_message(&r.message);
    http_reader_free(&r);
}

TEST(test_every_split_point)
{
    for (size_t split = 0; split <= LEN(post_request); split++) {
        struct http_reader r;
        http_reader_init(&r, HTTP_REQUEST, &default_limits);
        ssize_t a = http_reader_feed(&r, post_request, split);
        ssize_t b = http_reader_feed(&r, post_request + split, LEN(post_request) - split);
        if (a != (ssize_t)split || b != (ssize_t)(LEN(post_request) - split) ||
            r.state != HTTP_READER_COMPLETE) {
            fprintf(stderr, "  split at %zu: fed %zd + %zd, state %d\n", split, a, b, r.state);
            CHECK(!"split request not read");
            http_reader_free(&r);
            break; /* one report is enough */
        } else {
            check_post_message(&r.message);
        }
        http_reader_free(&r);
    }
}

TEST(test_pipelined_requests)
{
    char both[1024];
    snprintf(both, sizeof(both), "%s%s", post_request, get_request);
    size_t total = strlen(both);
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &default_limits);
    ssize_t n = http_reader_feed(&r, both, total);
    CHECK_INT(n, LEN(post_request));
    CHECK_INT(r.state, HTTP_READER_COMPLETE);
    check_post_message(&r.message);
    http_reader_reset(&r);
    CHECK_INT(r.state, HTTP_READER_READING);
    CHECK_INT(r.message.header_count, 0);
    CHECK_INT(http_reader_feed(&r, both + n, total - (size_t)n), LEN(get_request));
    CHECK_INT(r.state, HTTP_READER_COMPLETE);
    CHECK_STR(r.message.method, "GET");
    CHECK_STR(r.message.path, "/health");
    CHECK_INT(r.message.header_count, 1);
    CHECK_INT(buf_length(&r.message.body), 0);
    http_reader_free(&r);
}

TEST(test_pipelined_byte_at_a_time)
{
    char both[1024];
    snprintf(both, sizeof(both), "%s%s%s", get_request, post_request, get_request);
    size_t total = strlen(both);
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &default_limits);
    int completed = 0;
    for (size_t i = 0; i < total;) {
        ssize_t n = http_reader_feed(&r, both + i, 1);
        if (n < 0) {
            CHECK(!"reader failed");
            break;
        }
        i += (size_t)n;
        if (r.state == HTTP_READER_COMPLETE) {
            if (completed == 1)
                check_post_message(&r.message);
            completed++;
            http_reader_reset(&r);
        } else if (n == 0) {
            CHECK(!"reader stalled");
            break;
        }
    }
    CHECK_INT(completed, 3);
    http_reader_free(&r);
}

TEST(test_upgrade_stops_after_headers)
{
    char input[1024];
    memcpy(input, upgrade_request, LEN(upgrade_request));
    memcpy(input + LEN(upgrade_request), ws_bytes, LEN(ws_bytes));
    size_t total = LEN(upgrade_request) + LEN(ws_bytes);
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &default_limits);
    ssize_t n = http_reader_feed(&r, input, total);
    /* The WebSocket bytes stay with the caller. */
    CHECK_INT(n, LEN(upgrade_request));
    CHECK_INT(r.state, HTTP_READER_COMPLETE);
    CHECK_INT(r.message.upgrade, 1);
    CHECK_STR(r.message.method, "GET");
    CHECK_STR(r.message.path, "/event/realtime");
    CHECK_STR(http_header_get(&r.message, "sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
    CHECK(http_header_has_token(&r.message, "Connection", "upgrade"));
    CHECK(http_header_has_token(&r.message, "Upgrade", "websocket"));
    CHECK(http_header_has_token(&r.message, "Sec-WebSocket-Protocol", "aws-appsync-event-ws"));
    CHECK(http_header_has_token(&r.message, "Sec-WebSocket-Protocol", "header-abc"));
    CHECK_INT(buf_length(&r.message.body), 0);
    CHECK_INT(http_reader_feed(&r, input + n, total - (size_t)n), 0);
    http_reader_free(&r);
}

TEST(test_upgrade_byte_at_a_time)
{
    char input[1024];
    memcpy(input, upgrade_request, LEN(upgrade_request));
    memcpy(input + LEN(upgrade_request), ws_bytes, LEN(ws_bytes));
    size_t total = LEN(upgrade_request) + LEN(ws_bytes);
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &default_limits);
    size_t consumed = 0;
    while (consumed < total && r.state == HTTP_READER_READING) {
        ssize_t n = http_reader_feed(&r, input + consumed, 1);
        if (n != 1) {
            CHECK(!"byte not consumed before completion");
            break;
        }
        consumed++;
    }
    CHECK_INT(consumed, LEN(upgrade_request));
    CHECK_INT(r.state, HTTP_READER_COMPLETE);
    CHECK_INT(r.message.upgrade, 1);
    CHECK_INT(http_reader_feed(&r, input + consumed, 1), 0);
    http_reader_free(&r);
}

static void expect_error(const char *input, size_t len, const struct http_limits *limits,
                         int status, int line)
{
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, limits);
    ssize_t n = http_reader_feed(&r, input, len);
    if (n != -1 || r.state != HTTP_READER_ERROR || r.http_status_for_error != status ||
        r.error[0] == '\0') {
        fprintf(stderr, "  line %d: fed %zd, state %d, status %d (wanted %d), error \"%s\"\n", line,
                n, r.state, r.http_status_for_error, status, r.error);
        test_failures_in_current++;
    }
    /* Once failed, the reader stays failed. */
    if (http_reader_feed(&r, get_request, LEN(get_request)) != -1) {
        fprintf(stderr, "  line %d: reader accepted input after an error\n", line);
        test_failures_in_current++;
    }
    http_reader_free(&r);
}

#define EXPECT_ERROR(input, len, limits, status) expect_error(input, len, limits, status, __LINE__)

TEST(test_oversize_headers)
{
    const struct http_limits small = {256, 1024};
    char input[2048];
    char big[600];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(input, sizeof(input), "GET / HTTP/1.1\r\nX-Big: %s\r\n\r\n", big);
    EXPECT_ERROR(input, strlen(input), &small, 431);
    /* A long target counts too. */
    snprintf(input, sizeof(input), "GET /%s HTTP/1.1\r\n\r\n", big);
    EXPECT_ERROR(input, strlen(input), &small, 431);
    /* Many small headers add up. */
    size_t off = (size_t)snprintf(input, sizeof(input), "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 40; i++)
        off += (size_t)snprintf(input + off, sizeof(input) - off, "X-H%d: abcdefgh\r\n", i);
    snprintf(input + off, sizeof(input) - off, "\r\n");
    EXPECT_ERROR(input, strlen(input), &small, 431);
    /* The same request fits a larger cap. */
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &default_limits);
    CHECK_INT(http_reader_feed(&r, input, strlen(input)), strlen(input));
    CHECK_INT(r.message.header_count, 40);
    http_reader_free(&r);
}

TEST(test_oversize_headers_byte_at_a_time)
{
    const struct http_limits small = {128, 1024};
    char input[1024];
    char big[300];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(input, sizeof(input), "GET / HTTP/1.1\r\nX-Big: %s\r\n\r\n", big);
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &small);
    ssize_t n = 0;
    for (size_t i = 0; i < strlen(input) && n >= 0; i++)
        n = http_reader_feed(&r, input + i, 1);
    CHECK_INT(n, -1);
    CHECK_INT(r.http_status_for_error, 431);
    http_reader_free(&r);
}

static size_t build_headers(char *out, size_t size, int count)
{
    size_t off = (size_t)snprintf(out, size, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < count; i++)
        off += (size_t)snprintf(out + off, size - off, "X-%d: v\r\n", i);
    off += (size_t)snprintf(out + off, size - off, "\r\n");
    return off;
}

TEST(test_too_many_headers)
{
    const struct http_limits roomy = {65536, 1024};
    static char input[8192];
    size_t len = build_headers(input, sizeof(input), HTTP_MAX_HEADERS);
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &roomy);
    CHECK_INT(http_reader_feed(&r, input, len), len);
    CHECK_INT(r.state, HTTP_READER_COMPLETE);
    CHECK_INT(r.message.header_count, HTTP_MAX_HEADERS);
    CHECK_STR(http_header_get(&r.message, "X-63"), "v");
    http_reader_free(&r);
    len = build_headers(input, sizeof(input), HTTP_MAX_HEADERS + 1);
    EXPECT_ERROR(input, len, &roomy, 431);
    len = build_headers(input, sizeof(input), 500);
    EXPECT_ERROR(input, len, &roomy, 431);
}

TEST(test_body_over_cap)
{
    const struct http_limits small = {4096, 16};
    const char declared[] = "POST /event HTTP/1.1\r\nContent-Length: 17\r\n\r\n01234567890123456";
    EXPECT_ERROR(declared, LEN(declared), &small, 413);
    /* Refused from the headers alone, before any body byte arrives. */
    const char headers_only[] = "POST /event HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n";
    EXPECT_ERROR(headers_only, LEN(headers_only), &small, 413);
    const char chunked[] = "POST /event HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n";
    EXPECT_ERROR(chunked, LEN(chunked), &small, 413);
    /* Exactly at the cap is fine. */
    const char at_cap[] = "POST /event HTTP/1.1\r\nContent-Length: 16\r\n\r\n0123456789012345";
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &small);
    CHECK_INT(http_reader_feed(&r, at_cap, LEN(at_cap)), LEN(at_cap));
    CHECK_INT(r.state, HTTP_READER_COMPLETE);
    CHECK_INT(buf_length(&r.message.body), 16);
    http_reader_free(&r);
}

TEST(test_chunked_body)
{
    const char chunked[] = "POST /event HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &default_limits);
    CHECK_INT(http_reader_feed(&r, chunked, LEN(chunked)), LEN(chunked));
    CHECK_INT(r.state, HTTP_READER_COMPLETE);
    CHECK_INT(buf_length(&r.message.body), 11);
    CHECK(memcmp(buf_bytes(&r.message.body), "hello world", 11) == 0);
    http_reader_free(&r);
}

TEST(test_malformed)
{
    static const char *const inputs[] = {
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
        "GET / HTTP/9.9.9\r\n\r\n",
        "GET / FTP/1.1\r\n\r\n",
        "\x01\x02\x03\x04",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
        EXPECT_ERROR(inputs[i], strlen(inputs[i]), &default_limits, 400);
}

TEST(test_keep_alive)
{
    const char close_req[] = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
    const char http10[] = "GET / HTTP/1.0\r\n\r\n";
    const char http10_ka[] = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &default_limits);
    http_reader_feed(&r, close_req, LEN(close_req));
    CHECK_INT(r.message.keep_alive, 0);
    http_reader_free(&r);
    http_reader_init(&r, HTTP_REQUEST, &default_limits);
    http_reader_feed(&r, http10, LEN(http10));
    CHECK_INT(r.message.keep_alive, 0);
    CHECK_INT(r.message.http_minor, 0);
    http_reader_free(&r);
    http_reader_init(&r, HTTP_REQUEST, &default_limits);
    http_reader_feed(&r, http10_ka, LEN(http10_ka));
    CHECK_INT(r.message.keep_alive, 1);
    http_reader_free(&r);
}

TEST(test_response_with_body)
{
    const char response[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "Content-Length: 15\r\n\r\n{\"ok\":\"yes!!\"}x";
    struct http_reader r;
    http_reader_init(&r, HTTP_RESPONSE, &default_limits);
    CHECK_INT(http_reader_feed(&r, response, LEN(response)), LEN(response));
    CHECK_INT(r.state, HTTP_READER_COMPLETE);
    CHECK_INT(r.message.is_request, 0);
    CHECK_INT(r.message.status, 200);
    CHECK_STR(http_header_get(&r.message, "content-type"), "application/json");
    CHECK_INT(buf_length(&r.message.body), 15);
    http_reader_free(&r);
}

TEST(test_response_switching_protocols)
{
    const char response[] = "HTTP/1.1 101 Switching Protocols\r\n"
                            "Upgrade: websocket\r\n"
                            "Connection: Upgrade\r\n"
                            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                            "\r\n";
    char input[512];
    memcpy(input, response, LEN(response));
    memcpy(input + LEN(response), "\x81\x02hi", 4);
    struct http_reader r;
    http_reader_init(&r, HTTP_RESPONSE, &default_limits);
    CHECK_INT(http_reader_feed(&r, input, LEN(response) + 4), LEN(response));
    CHECK_INT(r.state, HTTP_READER_COMPLETE);
    CHECK_INT(r.message.status, 101);
    CHECK_INT(r.message.upgrade, 1);
    CHECK_STR(http_header_get(&r.message, "SEC-WEBSOCKET-ACCEPT"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    http_reader_free(&r);
}

TEST(test_response_ended_by_close)
{
    const char response[] = "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody until close";
    struct http_reader r;
    http_reader_init(&r, HTTP_RESPONSE, &default_limits);
    CHECK_INT(http_reader_feed(&r, response, LEN(response)), LEN(response));
    CHECK_INT(r.state, HTTP_READER_READING);
    http_reader_finish(&r);
    CHECK_INT(r.state, HTTP_READER_COMPLETE);
    CHECK_INT(buf_length(&r.message.body), 16);
    CHECK(memcmp(buf_bytes(&r.message.body), "body until close", 16) == 0);
    http_reader_free(&r);
}

TEST(test_header_lookup)
{
    const char request[] = "GET / HTTP/1.1\r\n"
                           "Content-Type: text/plain\r\n"
                           "X-Empty:\r\n"
                           "x-dup: first\r\n"
                           "X-Dup: second\r\n"
                           "\r\n";
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &default_limits);
    CHECK_INT(http_reader_feed(&r, request, LEN(request)), LEN(request));
    const struct http_message *m = &r.message;
    CHECK_STR(http_header_get(m, "content-type"), "text/plain");
    CHECK_STR(http_header_get(m, "CONTENT-TYPE"), "text/plain");
    CHECK_STR(http_header_get(m, "Content-Type"), "text/plain");
    CHECK_STR(http_header_get(m, "X-DUP"), "first");
    CHECK_STR(http_header_get(m, "x-empty"), "");
    CHECK(http_header_get(m, "Content") == NULL);
    CHECK(http_header_get(m, "Content-Type-X") == NULL);
    CHECK(http_header_get(m, "Missing") == NULL);
    http_reader_free(&r);
}

TEST(test_has_token)
{
    const char request[] = "GET / HTTP/1.1\r\n"
                           "Connection: keep-alive, Upgrade\r\n"
                           "Accept-Encoding: gzip,\tdeflate ,br\r\n"
                           "X-List: first\r\n"
                           "x-list: second , third\r\n"
                           "X-Empty:\r\n"
                           "\r\n";
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &default_limits);
    CHECK_INT(http_reader_feed(&r, request, LEN(request)), LEN(request));
    const struct http_message *m = &r.message;
    CHECK_INT(http_header_has_token(m, "Connection", "upgrade"), 1);
    CHECK_INT(http_header_has_token(m, "connection", "Keep-Alive"), 1);
    CHECK_INT(http_header_has_token(m, "Connection", "close"), 0);
    CHECK_INT(http_header_has_token(m, "Connection", "Upgrad"), 0);
    CHECK_INT(http_header_has_token(m, "Connection", "keep"), 0);
    CHECK_INT(http_header_has_token(m, "Connection", "keep-alive, Upgrade"), 0);
    CHECK_INT(http_header_has_token(m, "Accept-Encoding", "gzip"), 1);
    CHECK_INT(http_header_has_token(m, "Accept-Encoding", "deflate"), 1);
    CHECK_INT(http_header_has_token(m, "Accept-Encoding", "br"), 1);
    /* Every header line with the name is searched. */
    CHECK_INT(http_header_has_token(m, "X-List", "first"), 1);
    CHECK_INT(http_header_has_token(m, "X-List", "third"), 1);
    CHECK_INT(http_header_has_token(m, "X-List", "second"), 1);
    CHECK_INT(http_header_has_token(m, "X-Empty", "x"), 0);
    CHECK_INT(http_header_has_token(m, "Missing", "x"), 0);
    http_reader_free(&r);
}

TEST(test_write_response)
{
    struct buf out = BUF_INIT;
    CHECK_INT(http_write_response(&out, 200, "Content-Type: application/json\r\n", "{}", 2), 0);
    const char expected[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "Content-Length: 2\r\n\r\n{}";
    CHECK_INT(buf_length(&out), LEN(expected));
    CHECK(memcmp(buf_bytes(&out), expected, LEN(expected)) == 0);
    buf_reset(&out);
    CHECK_INT(http_write_response(&out, 431, NULL, NULL, 0), 0);
    const char expected2[] = "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                             "Content-Length: 0\r\n\r\n";
    CHECK_INT(buf_length(&out), LEN(expected2));
    CHECK(memcmp(buf_bytes(&out), expected2, LEN(expected2)) == 0);
    /* What we write, we can read back. */
    buf_reset(&out);
    http_write_response(&out, 413, "Connection: close\r\n", "too big", 7);
    struct http_reader r;
    http_reader_init(&r, HTTP_RESPONSE, &default_limits);
    CHECK_INT(http_reader_feed(&r, buf_bytes(&out), buf_length(&out)), buf_length(&out));
    CHECK_INT(r.message.status, 413);
    CHECK_INT(buf_length(&r.message.body), 7);
    http_reader_free(&r);
    buf_free(&out);
}

TEST(test_status_reasons)
{
    CHECK_STR(http_status_reason(101), "Switching Protocols");
    CHECK_STR(http_status_reason(200), "OK");
    CHECK_STR(http_status_reason(400), "Bad Request");
    CHECK_STR(http_status_reason(413), "Payload Too Large");
    CHECK_STR(http_status_reason(431), "Request Header Fields Too Large");
    CHECK_STR(http_status_reason(999), "Unknown");
}

/* Runs fn in a child process: a reader bug that aborts (http-parser asserts)
 * then fails this one test instead of killing the whole suite. */
static int survives(int (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0)
        _exit(fn() ? 0 : 1);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return 0;
    if (WIFSIGNALED(status))
        fprintf(stderr, "  child died with signal %d\n", WTERMSIG(status));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The peer closes mid-body: the reader is reset for the next exchange (as the
 * bridge's runtime client does) and must read the next response normally. */
static int reset_after_truncated_response(void)
{
    const char partial[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    const char next[] = "HTTP/1.1 204 No Content\r\n\r\n";
    struct http_reader r;
    http_reader_init(&r, HTTP_RESPONSE, &default_limits);
    int ok = http_reader_feed(&r, partial, LEN(partial)) == (ssize_t)LEN(partial);
    http_reader_finish(&r);
    ok = ok && r.state != HTTP_READER_COMPLETE; /* a truncated body is not a message */
    http_reader_reset(&r);
    ok = ok && http_reader_feed(&r, next, LEN(next)) == (ssize_t)LEN(next) &&
         r.state == HTTP_READER_COMPLETE && r.message.status == 204;
    http_reader_free(&r);
    return ok;
}

static int reset_after_malformed_request(void)
{
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &default_limits);
    int ok = http_reader_feed(&r, "GARBAGE\r\n\r\n", 11) == -1;
    http_reader_reset(&r);
    ok = ok && http_reader_feed(&r, get_request, LEN(get_request)) == (ssize_t)LEN(get_request) &&
         r.state == HTTP_READER_COMPLETE && strcmp(r.message.path, "/health") == 0;
    http_reader_free(&r);
    return ok;
}

TEST(test_reset_after_truncated_response)
{
    CHECK(survives(reset_after_truncated_response));
}

TEST(test_reset_after_error)
{
    CHECK(survives(reset_after_malformed_request));
}

TEST(test_reset_between_requests_frees_everything)
{
    /* Reusing one reader for many requests must not leak (checked by ASan). */
    struct http_reader r;
    http_reader_init(&r, HTTP_REQUEST, &default_limits);
    for (int i = 0; i < 50; i++) {
        const char *req = i % 2 ? post_request : get_request;
        size_t len = strlen(req);
        CHECK_INT(http_reader_feed(&r, req, len), len);
        CHECK_INT(r.state, HTTP_READER_COMPLETE);
        http_reader_reset(&r);
    }
    http_reader_free(&r);
}

TEST(test_header_name_valid)
{
    CHECK(http_header_name_valid("X-Custom_1", 10));
    CHECK(http_header_name_valid("!#$%&'*+-.^_`|~", 15));
    CHECK(!http_header_name_valid("", 0));
    CHECK(!http_header_name_valid("Bad Name", 8));
    CHECK(!http_header_name_valid("Bad:Name", 8));
    CHECK(!http_header_name_valid("X\r\nSet-Cookie", 14));
    CHECK(!http_header_name_valid("X\xc3\xa9", 3));
}

TEST(test_header_value_valid)
{
    CHECK(http_header_value_valid("text/html; charset=utf-8", 24));
    CHECK(http_header_value_valid("a\tb", 3));
    CHECK(http_header_value_valid("caf\xc3\xa9", 5)); /* obs-text stays legal */
    CHECK(http_header_value_valid("", 0));
    CHECK(!http_header_value_valid("a\r\nSet-Cookie: x=1", 19));
    CHECK(!http_header_value_valid("a\nb", 3));
    CHECK(!http_header_value_valid("a\0b", 3));
    CHECK(!http_header_value_valid("a\x01b", 3));
    CHECK(!http_header_value_valid("a\x7f", 2));
}

TEST(test_header_value_clean)
{
    char out[16];
    CHECK_INT(http_header_value_clean(out, sizeof(out), "TypeError"), 9);
    CHECK_STR(out, "TypeError");
    /* A split attempt becomes one harmless value. */
    CHECK_INT(http_header_value_clean(out, sizeof(out), "E\r\nX-Evil: 1"), 10);
    CHECK_STR(out, "EX-Evil: 1");
    CHECK_INT(http_header_value_clean(out, sizeof(out), "  \tpadded\x01\x7f  "), 6);
    CHECK_STR(out, "padded");
    /* Cut to the buffer, always terminated. */
    CHECK_INT(http_header_value_clean(out, sizeof(out), "0123456789abcdefghij"), 15);
    CHECK_STR(out, "0123456789abcde");
    CHECK_INT(http_header_value_clean(out, sizeof(out), NULL), 0);
    CHECK_STR(out, "");
    CHECK_INT(http_header_value_clean(out, sizeof(out), "\r\n"), 0);
    CHECK_STR(out, "");
}

TEST(test_host_is_loopback)
{
    CHECK(http_host_is_loopback("localhost", 7070));
    CHECK(http_host_is_loopback("LOCALHOST:7070", 7070));
    CHECK(http_host_is_loopback("localhost.", 7070));
    CHECK(http_host_is_loopback("abc.lambda-url.localhost:7070", 7070));
    CHECK(http_host_is_loopback("127.0.0.1", 7070));
    CHECK(http_host_is_loopback("127.0.0.1:7070", 7070));
    CHECK(http_host_is_loopback("127.1.2.3:7070", 7070));
    CHECK(http_host_is_loopback("[::1]", 7070));
    CHECK(http_host_is_loopback("[::1]:7070", 7070));
    /* Names an attacker controls, and other ports, are refused. */
    CHECK(!http_host_is_loopback("evil.example", 7070));
    CHECK(!http_host_is_loopback("evil.example:7070", 7070));
    CHECK(!http_host_is_loopback("localhost.evil.example", 7070));
    CHECK(!http_host_is_loopback("evillocalhost", 7070));
    CHECK(!http_host_is_loopback("127.0.0.1.evil.example", 7070));
    CHECK(!http_host_is_loopback("127.0.0.1:7071", 7070));
    CHECK(!http_host_is_loopback("localhost:7070x", 7070));
    CHECK(!http_host_is_loopback("localhost:", 7070));
    CHECK(!http_host_is_loopback("10.0.0.1:7070", 7070));
    CHECK(!http_host_is_loopback("[::2]:7070", 7070));
    CHECK(!http_host_is_loopback("[::1]x", 7070));
    CHECK(!http_host_is_loopback("[::1", 7070));
    CHECK(!http_host_is_loopback("", 7070));
    CHECK(!http_host_is_loopback(NULL, 7070));
}

TEST(test_address_is_loopback)
{
    CHECK(http_address_is_loopback("127.0.0.1"));
    CHECK(http_address_is_loopback("::1"));
    CHECK(http_address_is_loopback("localhost"));
    CHECK(!http_address_is_loopback("0.0.0.0"));
    CHECK(!http_address_is_loopback("::"));
    CHECK(!http_address_is_loopback("192.168.1.2"));
    CHECK(!http_address_is_loopback(NULL));
}

RUN_TESTS("http", TEST_ENTRY(test_request_with_headers_and_body),
          TEST_ENTRY(test_request_without_query), TEST_ENTRY(test_byte_at_a_time),
          TEST_ENTRY(test_every_split_point), TEST_ENTRY(test_pipelined_requests),
          TEST_ENTRY(test_pipelined_byte_at_a_time), TEST_ENTRY(test_upgrade_stops_after_headers),
          TEST_ENTRY(test_upgrade_byte_at_a_time), TEST_ENTRY(test_oversize_headers),
          TEST_ENTRY(test_oversize_headers_byte_at_a_time), TEST_ENTRY(test_too_many_headers),
          TEST_ENTRY(test_body_over_cap), TEST_ENTRY(test_chunked_body), TEST_ENTRY(test_malformed),
          TEST_ENTRY(test_keep_alive), TEST_ENTRY(test_response_with_body),
          TEST_ENTRY(test_response_switching_protocols), TEST_ENTRY(test_response_ended_by_close),
          TEST_ENTRY(test_header_lookup), TEST_ENTRY(test_has_token),
          TEST_ENTRY(test_write_response), TEST_ENTRY(test_status_reasons),
          TEST_ENTRY(test_reset_after_truncated_response), TEST_ENTRY(test_reset_after_error),
          TEST_ENTRY(test_reset_between_requests_frees_everything),
          TEST_ENTRY(test_header_name_valid), TEST_ENTRY(test_header_value_valid),
          TEST_ENTRY(test_header_value_clean), TEST_ENTRY(test_host_is_loopback),
          TEST_ENTRY(test_address_is_loopback))
