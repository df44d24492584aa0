/* The HTTP client against a scripted server on 127.0.0.1 in the same loop:
 * each request path makes the server answer in one way (whole, chunked,
 * oversized, cut short, never, garbage ...), and the server counts the
 * connections it accepted, so keep-alive reuse is observable. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/conn.h"
#include "net/http.h"
#include "net/http_client.h"
#include "net/tls.h"
#include "test.h"

static uv_loop_t *loop;
static struct conn_context *ctx;
static struct conn_listener *listener;
static uint16_t port;
static int accepts;
static int vanish_count;
static char last_request_body[256];
static char last_trailer[64];

/* ---- the scripted server ---- */

struct peer {
    struct http_reader reader;
};

static void reply(struct conn *conn, const char *text)
{
    conn_write(conn, text, strlen(text));
}

static void answer(struct conn *conn, const struct http_message *m)
{
    const char *path = m->path;
    snprintf(last_request_body, sizeof(last_request_body), "%.*s", (int)buf_length(&m->body),
             buf_bytes(&m->body));
    const char *trailer = http_header_get(m, "X-Check");
    snprintf(last_trailer, sizeof(last_trailer), "%s", trailer ? trailer : "");
    char text[512];
    if (strcmp(path, "/hello") == 0) {
        reply(conn, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Test: yes\r\n\r\nhello");
    } else if (strcmp(path, "/echo") == 0) {
        snprintf(text, sizeof(text), "HTTP/1.1 201 Created\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(last_request_body), last_request_body);
        reply(conn, text);
    } else if (strcmp(path, "/chunked") == 0) {
        reply(conn, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n");
    } else if (strcmp(path, "/big") == 0) {
        reply(conn, "HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n");
        char body[4096];
        memset(body, 'x', sizeof(body));
        conn_write(conn, body, sizeof(body));
    } else if (strcmp(path, "/cut") == 0) {
        reply(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
        conn_close(conn, 0, NULL);
    } else if (strcmp(path, "/until-close") == 0) {
        reply(conn, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close");
        conn_close(conn, 0, NULL);
    } else if (strcmp(path, "/close") == 0) {
        reply(conn, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    } else if (strcmp(path, "/vanish-once") == 0 && vanish_count++ == 0) {
        conn_close(conn, 0, NULL); /* as a server closing an idle keep-alive connection */
    } else if (strcmp(path, "/vanish-once") == 0) {
        reply(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    } else if (strcmp(path, "/garbage") == 0) {
        reply(conn, "NOT HTTP AT ALL\r\n\r\n");
    } else if (strcmp(path, "/silent") != 0) {
        reply(conn, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    }
}

static void peer_on_data(struct conn *conn, const char *data, size_t len)
{
    struct peer *p = conn_user(conn);
    while (len > 0) {
        ssize_t n = http_reader_feed(&p->reader, data, len);
        if (n < 0) {
            conn_close(conn, -EPROTO, NULL);
            return;
        }
        data += n;
        len -= (size_t)n;
        if (p->reader.state != HTTP_READER_COMPLETE)
            return;
        answer(conn, &p->reader.message);
        http_reader_reset(&p->reader);
    }
}

static void peer_on_close(struct conn *conn, int status, const char *cause)
{
    (void)status;
    (void)cause;
    struct peer *p = conn_user(conn);
    http_reader_free(&p->reader);
    free(p);
}

static const struct conn_callbacks peer_callbacks = {NULL, peer_on_data, peer_on_close};

static void on_accept(struct conn_listener *l, struct conn *conn)
{
    (void)l;
    accepts++;
    struct peer *p = calloc(1, sizeof(*p));
    struct http_limits limits = {64 * 1024, 1 << 20};
    http_reader_init(&p->reader, HTTP_REQUEST, &limits);
    conn_set_callbacks(conn, &peer_callbacks, p);
}

static void server_start(struct tls_config *tls)
{
    loop = uv_default_loop();
    ctx = conn_context_new(loop);
    char cause[200];
    CHECK_INT(
        conn_listen(ctx, "127.0.0.1", 0, tls, on_accept, NULL, &listener, cause, sizeof(cause)), 0);
    port = conn_listener_port(listener);
    accepts = 0;
    vanish_count = 0;
}

static void drain(void)
{
    for (int i = 0; i < 100 && uv_run(loop, UV_RUN_NOWAIT); i++)
        ;
}

static void server_stop(void)
{
    conn_listener_close(listener);
    drain();
    conn_context_free(ctx);
    uv_run(loop, UV_RUN_DEFAULT);
}

/* ---- the client side ---- */

struct result {
    int done;
    int status;
    char body[8192];
    char header[64];
    char cause[400];
};

static void on_answer(void *user, int status, const struct http_message *m, const char *cause)
{
    struct result *r = user;
    r->done = 1;
    r->status = status;
    if (m) {
        snprintf(r->body, sizeof(r->body), "%.*s", (int)buf_length(&m->body), buf_bytes(&m->body));
        const char *h = http_header_get(m, "X-Test");
        snprintf(r->header, sizeof(r->header), "%s", h ? h : "");
    }
    snprintf(r->cause, sizeof(r->cause), "%s", cause ? cause : "");
}

static void wait_for(struct result *r)
{
    for (int i = 0; !r->done && i < 100000; i++)
        uv_run(loop, UV_RUN_ONCE);
}

static struct http_client *client_new(uint32_t timeout_ms, int retry)
{
    struct http_client_config config = {.host = "127.0.0.1", .port = port};
    config.limits.max_body_bytes = 1024;
    config.timeout_ms = timeout_ms;
    config.retry_on_reused = retry;
    struct http_client *c = NULL;
    CHECK_INT(http_client_new(ctx, &config, &c), 0);
    return c;
}

static void get(struct http_client *c, const char *target, struct result *r)
{
    memset(r, 0, sizeof(*r));
    struct http_client_request req = {"GET", target, NULL, NULL, 0};
    CHECK_INT(http_client_request(c, &req, on_answer, r), 0);
    CHECK(!r->done); /* never from inside the call */
    wait_for(r);
    CHECK(r->done);
}

TEST(get_and_keep_alive_reuse)
{
    server_start(NULL);
    struct http_client *c = client_new(0, 0);
    struct result r;
    get(c, "/hello", &r);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "hello");
    CHECK_STR(r.header, "yes");
    CHECK(http_client_connected(c));
    get(c, "/chunked", &r);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "abcdefgh");
    get(c, "/nothing-here", &r);
    CHECK_INT(r.status, 404);
    CHECK_INT(accepts, 1); /* three requests, one connection */
    http_client_free(c);
    server_stop();
}

TEST(post_with_body_and_busy)
{
    server_start(NULL);
    struct http_client *c = client_new(0, 0);
    struct result r = {0};
    struct http_client_request req = {"POST", "/echo", "Content-Type: text/plain\r\n", "ping", 4};
    CHECK_INT(http_client_request(c, &req, on_answer, &r), 0);
    CHECK_INT(http_client_state(c), HTTP_CLIENT_WAITING);
    CHECK_INT(http_client_request(c, &req, on_answer, &r), -EBUSY);
    wait_for(&r);
    CHECK_INT(r.status, 201);
    CHECK_STR(r.body, "ping");
    CHECK_STR(http_client_state_name(http_client_state(c)), "idle");
    http_client_free(c);
    server_stop();
}

TEST(streamed_body_with_trailers)
{
    server_start(NULL);
    struct http_client *c = client_new(0, 0);
    struct result r = {0};
    struct http_client_request req = {"POST", "/echo", "Trailer: X-Check\r\n", NULL, 0};
    CHECK_INT(http_client_stream_begin(c, &req, on_answer, &r), 0);
    CHECK_STR(http_client_state_name(http_client_state(c)), "streaming");
    CHECK_INT(http_client_stream_write(c, "str", 3), 0);
    CHECK_INT(http_client_stream_write(c, "", 0), 0);
    CHECK_INT(http_client_stream_write(c, "eamed", 5), 0);
    CHECK_INT(http_client_stream_end(c, "X-Check: done\r\n"), 0);
    CHECK_INT(http_client_stream_write(c, "late", 4), -EPIPE);
    wait_for(&r);
    CHECK_INT(r.status, 201);
    CHECK_STR(r.body, "streamed");
    CHECK_STR(last_trailer, "done");
    http_client_free(c);
    server_stop();
}

TEST(body_over_the_cap_is_a_clean_error)
{
    server_start(NULL);
    struct http_client *c = client_new(0, 0);
    struct result r;
    get(c, "/big", &r);
    CHECK_INT(r.status, -EPROTO);
    CHECK(strstr(r.cause, "bad HTTP answer") != NULL);
    get(c, "/hello", &r); /* the client recovers on a new connection */
    CHECK_INT(r.status, 200);
    CHECK_INT(accepts, 2);
    http_client_free(c);
    server_stop();
}

TEST(server_closes_early_and_close_delimited_bodies)
{
    server_start(NULL);
    struct http_client *c = client_new(0, 0);
    struct result r;
    get(c, "/cut", &r);
    CHECK_INT(r.status, -ECONNRESET);
    CHECK(strstr(r.cause, "closed before the answer") != NULL);
    get(c, "/until-close", &r);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "until close");
    get(c, "/close", &r); /* Connection: close: the next request opens anew */
    CHECK_INT(r.status, 204);
    get(c, "/hello", &r);
    CHECK_INT(r.status, 200);
    CHECK_INT(accepts, 4);
    get(c, "/garbage", &r);
    CHECK_INT(r.status, -EPROTO);
    http_client_free(c);
    server_stop();
}

TEST(timeout_and_cancel)
{
    server_start(NULL);
    struct http_client *c = client_new(100, 0);
    struct result r;
    get(c, "/silent", &r);
    CHECK_INT(r.status, -ETIMEDOUT);
    CHECK_STR(r.cause, "no answer within 100 ms");
    get(c, "/hello", &r);
    CHECK_INT(r.status, 200);
    memset(&r, 0, sizeof(r));
    struct http_client_request req = {"GET", "/silent", NULL, NULL, 0};
    CHECK_INT(http_client_request(c, &req, on_answer, &r), 0);
    http_client_cancel(c, -ECANCELED, "test");
    CHECK_INT(http_client_state(c), HTTP_CLIENT_IDLE);
    drain();
    CHECK(!r.done); /* a cancelled request is never answered */
    http_client_free(c);
    server_stop();
}

TEST(reused_connection_closed_retry)
{
    server_start(NULL);
    struct http_client *c = client_new(0, 1);
    struct result r;
    get(c, "/hello", &r);
    get(c, "/vanish-once", &r); /* closed on a reused connection: sent again */
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "ok");
    CHECK_INT(accepts, 2);
    http_client_free(c);
    server_stop();

    server_start(NULL); /* without retry_on_reused the loss is reported */
    c = client_new(0, 0);
    get(c, "/hello", &r);
    get(c, "/vanish-once", &r);
    CHECK_INT(r.status, -ECONNRESET);
    http_client_free(c);
    server_stop();
}

static int released;
static void on_released(void *user)
{
    (void)user;
    released++;
}

static struct http_client *to_free;

static void free_in_callback(void *user, int status, const struct http_message *m,
                             const char *cause)
{
    on_answer(user, status, m, cause);
    http_client_free(to_free);
}

TEST(free_from_the_callback_and_refused)
{
    server_start(NULL);
    struct http_client_config config = {.host = "127.0.0.1", .port = port};
    config.on_released = on_released;
    released = 0;
    struct http_client *c = NULL;
    CHECK_INT(http_client_new(ctx, &config, &c), 0);
    struct result r = {0};
    struct http_client_request req = {"GET", "/hello", NULL, NULL, 0};
    to_free = c;
    CHECK_INT(http_client_request(c, &req, free_in_callback, &r), 0);
    wait_for(&r);
    CHECK_STR(r.body, "hello");
    drain();
    CHECK_INT(released, 1); /* once its connection has closed */
    server_stop();

    /* Nothing listens: a transport failure with the connect error. */
    server_start(NULL);
    uint16_t closed_port = port;
    conn_listener_close(listener);
    drain();
    config.port = closed_port;
    config.on_released = NULL;
    CHECK_INT(http_client_new(ctx, &config, &c), 0);
    get(c, "/hello", &r);
    CHECK_INT(r.status, -ECONNREFUSED);
    http_client_free(c);
    drain();
    conn_context_free(ctx);
    uv_run(loop, UV_RUN_DEFAULT);
}

/* ---- TLS, with a CA and a certificate made by the openssl tool ---- */

static int make_certificates(const char *dir)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout ca-key.pem -out ca.pem -days 2 -subj '/CN=test CA' "
             "-addext basicConstraints=critical,CA:TRUE "
             "-addext keyUsage=critical,keyCertSign,cRLSign && "
             "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > ext && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout key.pem -out cert.csr -subj /CN=server && "
             "openssl x509 -req -in cert.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial "
             "-out cert.pem -days 2 -extfile ext",
             dir);
    strcat(cmd, " >/dev/null 2>&1");
    return system(cmd);
}

TEST(https_with_verification)
{
    char dir[] = "/tmp/test_http_client.XXXXXX";
    if (!mkdtemp(dir) || make_certificates(dir) != 0) {
        fprintf(stderr, "  openssl could not make certificates\n");
        CHECK(0);
        return;
    }
    char cert[128], key[128], ca[128], cause[200];
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    struct tls_config *server_tls = NULL, *client_tls = NULL, *other_tls = NULL;
    CHECK_INT(tls_config_new_server(cert, key, &server_tls, cause, sizeof(cause)), 0);
    CHECK_INT(tls_config_new_client(ca, 1, &client_tls, cause, sizeof(cause)), 0);
    CHECK_INT(tls_config_new_client(cert, 1, &other_tls, cause, sizeof(cause)), 0);
    server_start(server_tls);
    struct http_client_config config = {.host = "127.0.0.1", .port = port, .tls = client_tls};
    struct http_client *c = NULL;
    CHECK_INT(http_client_new(ctx, &config, &c), 0);
    struct result r;
    get(c, "/hello", &r);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "hello");
    get(c, "/chunked", &r);
    CHECK_STR(r.body, "abcdefgh");
    CHECK_INT(accepts, 1);
    http_client_free(c);
    /* A certificate that does not chain to the trusted CA is refused. */
    config.tls = other_tls;
    CHECK_INT(http_client_new(ctx, &config, &c), 0);
    get(c, "/hello", &r);
    CHECK(r.status < 0);
    http_client_free(c);
    server_stop();
    tls_config_free(server_tls);
    tls_config_free(client_tls);
    tls_config_free(other_tls);
    char rm[200];
    snprintf(rm, sizeof(rm), "rm -rf %s", dir);
    CHECK_INT(system(rm), 0);
}

/* ---- the blocking form, on its own loop in a thread of its own ---- */

static void copy_answer(void *user, int status, const struct http_message *m, const char *cause)
{
    on_answer(user, status, m, cause);
}

TEST(run_blocking)
{
    /* The server runs on this thread's loop, so the blocking call goes to a
     * helper process: a fork keeps the test simple and the loops apart. */
    server_start(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct http_client_config config = {.host = "127.0.0.1", .port = port};
        struct http_client_request req = {"POST", "/echo", NULL, "abc", 3};
        struct result r = {0};
        char cause[200];
        int rc = http_client_run(&config, &req, copy_answer, &r, cause, sizeof(cause));
        struct result r2 = {0};
        config.timeout_ms = 100;
        req.target = "/silent";
        int rc2 = http_client_run(&config, &req, copy_answer, &r2, cause, sizeof(cause));
        int ok = rc == 0 && r.status == 201 && strcmp(r.body, "abc") == 0 && rc2 == -ETIMEDOUT &&
                 strstr(cause, "no answer within 100 ms");
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    for (int i = 0; i < 2000 && waitpid(pid, &status, WNOHANG) == 0; i++)
        uv_run(loop, UV_RUN_NOWAIT), usleep(1000);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    server_stop();
}

int main(void)
{
    static const struct test_case cases[] = {
        TEST_ENTRY(get_and_keep_alive_reuse),
        TEST_ENTRY(post_with_body_and_busy),
        TEST_ENTRY(streamed_body_with_trailers),
        TEST_ENTRY(body_over_the_cap_is_a_clean_error),
        TEST_ENTRY(server_closes_early_and_close_delimited_bodies),
        TEST_ENTRY(timeout_and_cancel),
        TEST_ENTRY(reused_connection_closed_retry),
        TEST_ENTRY(free_from_the_callback_and_refused),
        TEST_ENTRY(https_with_verification),
        TEST_ENTRY(run_blocking),
    };
    return test_run_all("http_client", cases, sizeof(cases) / sizeof(cases[0]));
}
