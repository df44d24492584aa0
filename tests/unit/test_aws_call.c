/* One signed AWS call (aws/call.c) against a scripted HTTP peer on
 * 127.0.0.1 in a thread: what is sent (target, headers, a signature the
 * verifier of aws/sigv4.c accepts for the service's scope), the endpoint
 * rules it follows, the cap on answers, transport failures, and the error
 * fields read from the three protocols' error answers (awsJson, restJson,
 * query XML). The same request compared with the official SDK's and checked
 * with AWS's own signer is in tests/integration/aws-invoke.test.mjs. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aws/call.h"
#include "aws/sigv4.h"
#include "net/http.h"
#include "test.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static struct aws_credentials creds;
static char cause[600];

/* ---- the peer: accepts one connection, records the request, answers ---- */

struct peer {
    int listen_fd;
    uint16_t port;
    char answer[4096]; /* the whole HTTP answer to write */
    struct http_reader reader;
    int got_request;
    pthread_t thread;
};

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    int fd = accept(p->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    const struct http_limits limits = {64 * 1024, 1024 * 1024};
    http_reader_init(&p->reader, HTTP_REQUEST, &limits);
    char data[8192];
    ssize_t n;
    while (p->reader.state == HTTP_READER_READING && (n = read(fd, data, sizeof(data))) > 0)
        if (http_reader_feed(&p->reader, data, (size_t)n) < 0)
            break;
    p->got_request = p->reader.state == HTTP_READER_COMPLETE;
    size_t left = strlen(p->answer);
    const char *at = p->answer;
    while (left > 0 && (n = write(fd, at, left)) > 0) {
        at += n;
        left -= (size_t)n;
    }
    close(fd);
    return NULL;
}

/* head: the status line and headers, each ending in CRLF; the peer adds
 * Content-Length and the body. */
static void peer_start(struct peer *p, const char *head, const char *body)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->answer, sizeof(p->answer), "%sContent-Length: %zu\r\n\r\n%s", head, strlen(body),
             body);
    p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (bind(p->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(p->listen_fd, 4) < 0 ||
        getsockname(p->listen_fd, (struct sockaddr *)&a, &len) < 0)
        exit(1);
    p->port = ntohs(a.sin_port);
    pthread_create(&p->thread, NULL, peer_main, p);
}

/* Waits for the peer's one exchange; the recorded request stays readable
 * until peer_free. */
static void peer_stop(struct peer *p)
{
    pthread_join(p->thread, NULL);
    close(p->listen_fd);
}

static void peer_free(struct peer *p)
{
    http_reader_free(&p->reader);
}

static int lookup(void *ctx, const char *id, char *secret, size_t secret_cap, char *token,
                  size_t token_cap)
{
    (void)ctx;
    if (strcmp(id, "AKIDEXAMPLE") != 0)
        return -ENOENT;
    snprintf(secret, secret_cap, "%s", SECRET);
    snprintf(token, token_cap, "%s", "the-session-token");
    return 0;
}

/* The recorded request verified for this scope by aws/sigv4.c's verifier. */
static int verify(const struct http_message *m, const char *region, const char *service)
{
    struct sigv4_header headers[HTTP_MAX_HEADERS];
    for (size_t i = 0; i < m->header_count; i++)
        headers[i] = (struct sigv4_header){m->headers[i].name, m->headers[i].value};
    struct sigv4_request req = {
        m->method,           m->path, m->query, headers, m->header_count, buf_bytes(&m->body),
        buf_length(&m->body)};
    struct sigv4_verify_params params = {
        .region = region, .service = service, .now = time(NULL), .normalize_path = 1};
    return sigv4_verify(&req, &params, lookup, NULL, cause, sizeof(cause));
}

static void clear_env(void)
{
    const char *names[] = {"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA",
                           "AWS_CONFIG_FILE",  "HTTP_PROXY",
                           "HTTPS_PROXY",      "http_proxy"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        unsetenv(names[i]);
    setenv("AWS_CONFIG_FILE", "/nonexistent/tether-test-config", 1);
}

/* ---- what is sent ---- */

TEST(test_signed_request)
{
    clear_env();
    struct peer p;
    peer_start(&p,
               "HTTP/1.1 200 OK\r\nx-amzn-RequestId: req-1\r\nX-Amz-Function-Error: Unhandled\r\n",
               "{\"ok\":true}");
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u/base/", p.port);
    setenv("AWS_ENDPOINT_URL_LAMBDA", endpoint, 1);
    const struct aws_context ctx = {&creds, "eu-west-1", NULL};
    const char body[] = "{\"key\":\"value\"}";
    const struct aws_request r = {
        .service = &aws_service_lambda,
        .method = "POST",
        .path = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A1%3Afunction%3Af/"
                "invocations",
        .query = "Qualifier=live",
        .content_type = "application/json",
        .headers = "X-Amz-Invocation-Type: RequestResponse\r\nX-Amz-Log-Type: None\r\n",
        .body = body,
        .body_len = strlen(body)};
    struct aws_answer a;
    CHECK_INT(aws_call(&ctx, &r, &a, cause, sizeof(cause)), 0);
    peer_stop(&p);
    CHECK(p.got_request);
    const struct http_message *m = &p.reader.message;
    CHECK_STR(m->method, "POST");
    CHECK_STR(m->target, "/base/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A1%3Afunction"
                         "%3Af/invocations?Qualifier=live");
    CHECK_STR(http_header_get(m, "content-type"), "application/json");
    CHECK_STR(http_header_get(m, "x-amz-invocation-type"), "RequestResponse");
    CHECK_STR(http_header_get(m, "x-amz-security-token"), "the-session-token");
    CHECK(strstr(http_header_get(m, "authorization"), "Credential=AKIDEXAMPLE/") != NULL);
    CHECK(strstr(http_header_get(m, "authorization"), "/eu-west-1/lambda/aws4_request") != NULL);
    CHECK(strstr(http_header_get(m, "authorization"), "x-amz-invocation-type") != NULL);
    CHECK_INT(buf_length(&m->body), strlen(body));
    CHECK_INT(verify(m, "eu-west-1", "lambda"), 0);
    CHECK_INT(verify(m, "us-east-1", "lambda"), -EACCES);
    CHECK_INT(a.status, 200);
    CHECK_INT(buf_length(&a.body), 11);
    CHECK_STR(a.request_id, "req-1");
    CHECK_STR(a.function_error, "Unhandled");
    CHECK_STR(a.error_code, "");
    CHECK_INT(aws_answer_error(&a, "Lambda Invoke", cause, sizeof(cause)), 0);
    aws_answer_free(&a);
    peer_free(&p);
}

TEST(test_global_service_and_explicit_endpoint)
{
    clear_env();
    struct peer p;
    peer_start(&p, "HTTP/1.1 200 OK\r\n", "");
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u", p.port);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1/never", 1);
    /* IAM is signed for us-east-1 whatever the region; the request's own
     * endpoint wins over the environment; no content type, no body. */
    const struct aws_context ctx = {&creds, "ap-southeast-2", NULL};
    const struct aws_request r = {.service = &aws_service_iam,
                                  .method = "GET",
                                  .query = "Action=ListRoles",
                                  .endpoint = endpoint};
    struct aws_answer a;
    CHECK_INT(aws_call(&ctx, &r, &a, cause, sizeof(cause)), 0);
    peer_stop(&p);
    const struct http_message *m = &p.reader.message;
    CHECK_STR(m->target, "/?Action=ListRoles");
    CHECK(http_header_get(m, "content-type") == NULL);
    CHECK_INT(verify(m, "us-east-1", "iam"), 0);
    CHECK_INT(a.status, 200);
    aws_answer_free(&a);
    peer_free(&p);
}

TEST(test_bad_requests_and_transport)
{
    clear_env();
    const struct aws_context ctx = {&creds, "eu-west-1", NULL};
    struct aws_request r = {.service = &aws_service_lambda,
                            .method = "GET",
                            .path = "/x",
                            .headers = "X-Bad: a\r\nBroken\r\n",
                            .endpoint = "http://127.0.0.1:1/"};
    struct aws_answer a;
    CHECK_INT(aws_call(&ctx, &r, &a, cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "header") != NULL);
    r.headers = "X-Evil: a\rb\r\n";
    CHECK_INT(aws_call(&ctx, &r, &a, cause, sizeof(cause)), -EINVAL);
    r.headers = NULL;
    r.endpoint = "ftp://127.0.0.1/";
    CHECK_INT(aws_call(&ctx, &r, &a, cause, sizeof(cause)), -EINVAL);
    /* Nothing listens on port 1: a transport error naming the service. */
    r.endpoint = "http://127.0.0.1:1/";
    CHECK_INT(aws_call(&ctx, &r, &a, cause, sizeof(cause)), -ECONNREFUSED);
    CHECK(strstr(cause, "Lambda http://127.0.0.1:1/") != NULL);
    /* No region for a regional service. */
    const struct aws_context no_region = {&creds, NULL, NULL};
    r.endpoint = NULL;
    CHECK_INT(aws_call(&no_region, &r, &a, cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "no region") != NULL);
}

TEST(test_answer_cap)
{
    clear_env();
    struct peer p;
    peer_start(&p, "HTTP/1.1 200 OK\r\n",
               "0123456789012345678901234567890123456789012345678901234567890123456789"
               "012345678901234567890123456789");
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u/", p.port);
    const struct aws_context ctx = {&creds, "eu-west-1", NULL};
    const struct aws_request r = {.service = &aws_service_lambda,
                                  .method = "GET",
                                  .path = "/",
                                  .max_answer = 64,
                                  .endpoint = endpoint};
    struct aws_answer a;
    CHECK(aws_call(&ctx, &r, &a, cause, sizeof(cause)) < 0);
    peer_stop(&p);
    peer_free(&p);
    CHECK_INT(buf_length(&a.body), 0);
    aws_answer_free(&a);
}

/* ---- errors from the three protocols ---- */

/* The answer's error fields after one call that gets `answer`. */
static int call_for_error(const char *head, const char *body, struct aws_answer *a)
{
    struct peer p;
    peer_start(&p, head, body);
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u/", p.port);
    const struct aws_context ctx = {&creds, "us-east-1", NULL};
    const struct aws_request r = {
        .service = &aws_service_appsync, .method = "GET", .path = "/v2/apis", .endpoint = endpoint};
    int rc = aws_call(&ctx, &r, a, cause, sizeof(cause));
    peer_stop(&p);
    peer_free(&p);
    return rc;
}

/* One error answer and what must be read from it. */
struct error_case {
    const char *what;
    const char *head; /* status line and headers */
    const char *body;
    const char *code, *message, *request_id;
    const char *operation;
    int rc;            /* aws_answer_error's */
    const char *cause; /* its cause */
};

static const struct error_case error_cases[] = {
    {"restJson: the type header (before ':') and the body's message",
     "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
     "x-amzn-ErrorType: ResourceNotFoundException:http://internal.amazon.com/coral/"
     "com.amazonaws.lambda/\r\nx-amzn-RequestId: r-404\r\n",
     "{\"Type\":\"User\",\"message\":\"Function not found: arn:aws:x\"}",
     "ResourceNotFoundException", "Function not found: arn:aws:x", "r-404", "Lambda Invoke",
     -ENOENT, "Lambda Invoke: ResourceNotFoundException: Function not found: arn:aws:x (HTTP 404)"},
    {"awsJson: __type after '#', Message capitalised, white space first",
     "HTTP/1.1 400 Bad Request\r\n",
     "\n {\"__type\":\"com.amazonaws.appsync#BadRequestException\",\"Message\":\"name is "
     "invalid\"}",
     "BadRequestException", "name is invalid", "", "AppSync CreateApi", -EIO,
     "AppSync CreateApi: BadRequestException: name is invalid (HTTP 400)"},
    {"a type header with a namespace and a URL: the SDKs' cleaning",
     "HTTP/1.1 400 Bad Request\r\nX-Amzn-ErrorType: aws.protocoltests.restjson#InvalidGreeting:"
     "http://internal.amazon.com/coral/\r\n",
     "{\"message\":\"Hi\"}", "InvalidGreeting", "Hi", "", "Lambda Invoke", -EIO,
     "Lambda Invoke: InvalidGreeting: Hi (HTTP 400)"},
    {"control bytes in a message never reach a terminal", "HTTP/1.1 500 Internal Server Error\r\n",
     "{\"code\":\"ServiceException\",\"message\":\"red \\u001b[31mtext\\nline\"}",
     "ServiceException", "red [31mtextline", "", "Lambda Invoke", -EIO,
     "Lambda Invoke: ServiceException: red [31mtextline (HTTP 500)"},
    {"restJson with only \"code\"", "HTTP/1.1 409 Conflict\r\n",
     "{\"code\":\"ConflictException\",\"message\":\"exists\"}", "ConflictException", "exists", "",
     "AppSync CreateApi", -EEXIST, "AppSync CreateApi: ConflictException: exists (HTTP 409)"},
    {"the query protocol: XML ErrorResponse with an entity in the message",
     "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\n",
     "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n"
     "  <Error><Type>Sender</Type><Code>AccessDenied</Code>\n"
     "  <Message>User: a is not authorized &amp; denied</Message></Error>\n"
     "  <RequestId>4d3c-xml</RequestId>\n</ErrorResponse>\n",
     "AccessDenied", "User: a is not authorized & denied", "4d3c-xml", "IAM PutRolePolicy", -EACCES,
     "IAM PutRolePolicy: AccessDenied: User: a is not authorized & denied (HTTP 403)"},
    {"a body that is neither: the status alone", "HTTP/1.1 502 Bad Gateway\r\n", "no idea", "", "",
     "", "CloudFormation DescribeStacks", -EIO, "CloudFormation DescribeStacks: error (HTTP 502)"},
};

TEST(test_errors)
{
    clear_env();
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const struct error_case *c = &error_cases[i];
        struct aws_answer a;
        int failures = test_failures_in_current;
        CHECK_INT(call_for_error(c->head, c->body, &a), 0);
        CHECK_STR(a.error_code, c->code);
        CHECK_STR(a.message, c->message);
        CHECK_STR(a.request_id, c->request_id);
        CHECK_INT(aws_answer_error(&a, c->operation, cause, sizeof(cause)), c->rc);
        CHECK_STR(cause, c->cause);
        if (test_failures_in_current != failures)
            fprintf(stderr, "  in the case: %s\n", c->what);
        aws_answer_free(&a);
    }
}

TEST(test_error_errnos)
{
    struct aws_answer a = {.status = 409};
    const struct {
        const char *code;
        int rc;
    } cases[] = {{"AccessDeniedException", -EACCES},    {"NoSuchEntity", -ENOENT},
                 {"ResourceConflictException", -EBUSY}, {"EntityAlreadyExists", -EEXIST},
                 {"AlreadyExistsException", -EEXIST},   {"ThrottlingException", -EIO}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(a.error_code, sizeof(a.error_code), "%s", cases[i].code);
        CHECK_INT(aws_answer_error(&a, "X Y", cause, sizeof(cause)), cases[i].rc);
    }
}

int main(void)
{
    aws_credentials_set(&creds, "AKIDEXAMPLE", SECRET, "the-session-token", cause, sizeof(cause));
    static const struct test_case cases[] = {
        TEST_ENTRY(test_signed_request),
        TEST_ENTRY(test_global_service_and_explicit_endpoint),
        TEST_ENTRY(test_bad_requests_and_transport),
        TEST_ENTRY(test_answer_cap),
        TEST_ENTRY(test_errors),
        TEST_ENTRY(test_error_errnos),
    };
    return test_run_all("test_aws_call", cases, sizeof(cases) / sizeof(cases[0]));
}
