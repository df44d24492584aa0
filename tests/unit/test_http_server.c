/* The generic HTTP server: a real server on 127.0.0.1 driven by a client
 * thread with blocking sockets, byte by byte as a peer would send them. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "net/http_server.h"
#include "test.h"

static struct http_server *server;
static uv_async_t done_async;
static uint16_t port;
static struct http_exchange *held; /* a long poll */
static size_t streamed_bytes;

/* ---- the server side ---- */

static void on_head(struct http_exchange *ex, void *user)
{
    (void)user;
    const struct http_message *m = http_exchange_request(ex);
    if (strcmp(m->path, "/stream-in") == 0) {
        streamed_bytes = 0;
        http_exchange_take_body(ex, HTTP_BODY_STREAM, 1 << 20);
    } else if (strcmp(m->path, "/small") == 0) {
        http_exchange_take_body(ex, HTTP_BODY_BUFFER, 10);
    } else if (strcmp(m->path, "/refuse") == 0) {
        http_exchange_respond(ex, 403, NULL, "no\n", 3);
    }
}

static void on_body(struct http_exchange *ex, const char *data, size_t len, void *user)
{
    (void)ex;
    (void)data;
    (void)user;
    streamed_bytes += len;
}

static void answer_text(struct http_exchange *ex, int status, const char *text)
{
    http_exchange_respond(ex, status, "Content-Type: text/plain\r\n", text, strlen(text));
}

/* An upgraded connection that echoes what it gets and closes on "bye". */
static struct conn *upgraded;
static int upgrade_closes;
static int upgraded_state_checks; /* conn states seen as expected */
static char upgrade_seen[256];

static void on_upgraded_data(void *user, const char *data, size_t len)
{
    (void)user;
    size_t have = strlen(upgrade_seen);
    if (have + len < sizeof(upgrade_seen))
        memcpy(upgrade_seen + have, data, len);
    upgraded_state_checks += conn_get_state(upgraded) == CONN_OPEN;
    conn_write(upgraded, data, len);
    if (strstr(upgrade_seen, "bye")) {
        conn_close(upgraded, 0, "bye");
        /* An orderly close drains the peer's input before the handle goes. */
        upgraded_state_checks += conn_get_state(upgraded) == CONN_LINGERING &&
                                 conn_is_closing(upgraded) &&
                                 strcmp(conn_state_name(CONN_LINGERING), "lingering") == 0;
    }
}

static void on_upgraded_close(void *user, int status, const char *cause)
{
    (void)user;
    (void)status;
    (void)cause;
    upgrade_closes++;
    upgraded = NULL;
}

static const struct http_upgrade_callbacks echo_callbacks = {on_upgraded_data, on_upgraded_close};

static void answer_upgrade(struct http_exchange *ex)
{
    struct conn *conn = http_exchange_upgrade(ex, "Upgrade: echo\r\nConnection: Upgrade\r\n",
                                              &echo_callbacks, NULL);
    if (conn) {
        upgraded = conn;
        upgrade_seen[0] = '\0';
    } else {
        answer_text(ex, 400, "not an upgrade\n");
    }
}

static void on_request(struct http_exchange *ex, void *user)
{
    (void)user;
    const struct http_message *m = http_exchange_request(ex);
    char text[256];
    if (strcmp(m->path, "/default-413") == 0 && http_exchange_body_too_large(ex))
        return; /* the server answers */
    if (http_exchange_body_too_large(ex)) {
        answer_text(ex, 413, "too big\n");
    } else if (strcmp(m->path, "/echo") == 0) {
        http_exchange_respond(ex, 200, NULL, buf_bytes(&m->body), buf_length(&m->body));
    } else if (strcmp(m->path, "/trust") == 0) {
        http_exchange_trust(ex);
        answer_text(ex, 200, http_exchange_trusted(ex) ? "trusted\n" : "not trusted\n");
    } else if (strcmp(m->path, "/upgrade") == 0) {
        answer_upgrade(ex);
    } else if (strcmp(m->path, "/close-after") == 0) {
        http_exchange_close_after(ex);
        answer_text(ex, 200, "last\n");
    } else if (strcmp(m->path, "/later") == 0) {
        held = ex;
    } else if (strcmp(m->path, "/release") == 0 && held) {
        answer_text(held, 200, "released\n");
        held = NULL;
        answer_text(ex, 200, "ok\n");
    } else if (strcmp(m->path, "/stream-in") == 0) {
        const char *trailer = http_exchange_trailer(ex, "X-Check");
        snprintf(text, sizeof(text), "%zu %s\n", streamed_bytes, trailer ? trailer : "-");
        answer_text(ex, 200, text);
    } else if (strcmp(m->path, "/stream-out") == 0) {
        http_exchange_start_stream(ex, 200, "Trailer: X-Done\r\n");
        http_exchange_write(ex, "abc", 3);
        http_exchange_write(ex, "defgh", 5);
        http_exchange_end_stream(ex, "X-Done: yes\r\n");
    } else {
        answer_text(ex, 404, "none\n");
    }
}

static void on_abort(struct http_exchange *ex, void *user)
{
    (void)user;
    if (ex == held)
        held = NULL;
}

static const struct http_server_callbacks callbacks = {
    .on_head = on_head,
    .on_body = on_body,
    .on_request = on_request,
    .on_abort = on_abort,
};

/* The server's own answers in a shape of the user's choosing. */
static void shape_error(int status, const char *why, struct buf *headers, struct buf *body,
                        void *user)
{
    (void)user;
    buf_append_str(headers, "Content-Type: application/x-test\r\nX-Shaped: yes\r\n");
    buf_printf(body, "[%d %s]", status, why);
}

static const struct http_server_callbacks shaping_callbacks = {
    .on_head = on_head,
    .on_body = on_body,
    .on_request = on_request,
    .on_abort = on_abort,
    .format_error = shape_error,
};

static void on_done(uv_async_t *async)
{
    http_server_close(server, NULL, NULL);
    uv_close((uv_handle_t *)async, NULL);
}

/* ---- the client side ---- */

static int connect_client(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_text(int fd, const char *text)
{
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        off += (size_t)n;
    }
}

/* Reads until `needle` has been seen (or EOF/timeout); returns what was read. */
static char *read_until(int fd, const char *needle, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    while (len + 1 < cap && !strstr(out, needle)) {
        ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        out[len] = '\0';
    }
    return out;
}

/* 1 when the peer closed (recv returns 0 within the timeout). */
static int closed_by_peer(int fd)
{
    char c;
    return recv(fd, &c, 1, 0) == 0;
}

static void test_keep_alive_and_pipelining(void)
{
    char got[4096];
    int fd = connect_client();
    send_text(fd, "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello");
    CHECK(strstr(read_until(fd, "hello", got, sizeof(got)), "HTTP/1.1 200 OK\r\n") != NULL);
    CHECK(strstr(got, "Content-Length: 5\r\n") != NULL);
    /* Two requests in one write: two answers, in order. */
    send_text(fd, "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\none"
                  "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\ntwo");
    read_until(fd, "two", got, sizeof(got));
    char *one = strstr(got, "one"), *two = strstr(got, "two");
    CHECK(one && two && one < two);
    close(fd);
}

static void test_long_poll(void)
{
    char got[4096];
    int a = connect_client(), b = connect_client();
    send_text(a, "GET /later HTTP/1.1\r\n\r\n");
    usleep(100 * 1000);
    send_text(b, "GET /release HTTP/1.1\r\n\r\n");
    CHECK(strstr(read_until(b, "ok\n", got, sizeof(got)), "200 OK") != NULL);
    CHECK(strstr(read_until(a, "released\n", got, sizeof(got)), "released\n") != NULL);
    close(a);
    close(b);
}

static void test_streams_both_ways(void)
{
    char got[4096];
    int fd = connect_client();
    send_text(fd,
              "POST /stream-in HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTrailer: X-Check\r\n\r\n"
              "4\r\nabcd\r\n6\r\nefghij\r\n0\r\nX-Other: 1\r\nX-Check: good\r\n\r\n");
    CHECK(strstr(read_until(fd, "good\n", got, sizeof(got)), "10 good\n") != NULL);
    send_text(fd, "GET /stream-out HTTP/1.1\r\n\r\n");
    read_until(fd, "X-Done: yes\r\n\r\n", got, sizeof(got));
    CHECK(strstr(got, "Transfer-Encoding: chunked\r\n") != NULL);
    CHECK(strstr(got, "\r\n\r\n3\r\nabc\r\n5\r\ndefgh\r\n0\r\nX-Done: yes\r\n\r\n") != NULL);
    close(fd);
}

static void test_body_caps(void)
{
    char got[4096];
    /* Too large by Content-Length: answered at once, the body is read and dropped,
     * and the connection goes on. */
    int fd = connect_client();
    send_text(fd, "POST /small HTTP/1.1\r\nContent-Length: 20\r\n\r\n");
    CHECK(strstr(read_until(fd, "too big\n", got, sizeof(got)), "413") != NULL);
    send_text(fd, "01234567890123456789POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nok");
    CHECK(strstr(read_until(fd, "\r\n\r\nok", got, sizeof(got)), "200 OK") != NULL);
    close(fd);
    /* With Expect: 100-continue the body is refused before it is sent. */
    fd = connect_client();
    send_text(fd, "POST /small HTTP/1.1\r\nContent-Length: 20\r\nExpect: 100-continue\r\n\r\n");
    read_until(fd, "too big\n", got, sizeof(got));
    CHECK(strstr(got, "100 Continue") == NULL);
    CHECK(strstr(got, "413") != NULL && strstr(got, "Connection: close") != NULL);
    CHECK(closed_by_peer(fd));
    close(fd);
    /* Accepted bodies get 100 Continue first. */
    fd = connect_client();
    send_text(fd, "POST /echo HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
    CHECK(strstr(read_until(fd, "\r\n\r\n", got, sizeof(got)), "HTTP/1.1 100 Continue") != NULL);
    send_text(fd, "hi");
    CHECK(strstr(read_until(fd, "\r\n\r\nhi", got, sizeof(got)), "200 OK") != NULL);
    close(fd);
    /* A chunked body over the cap. */
    fd = connect_client();
    send_text(fd, "POST /small HTTP/1.1\r\nTransfer-Encoding: "
                  "chunked\r\n\r\nf\r\n0123456789abcde\r\n0\r\n\r\n");
    CHECK(strstr(read_until(fd, "too big\n", got, sizeof(got)), "413") != NULL);
    close(fd);
}

static void test_bad_input_closes_one_connection(void)
{
    char got[4096];
    int good = connect_client(), bad = connect_client();
    send_text(bad, "NONSENSE\r\n\r\n");
    CHECK(strstr(read_until(bad, "\n\n", got, sizeof(got)), "400 Bad Request") != NULL);
    CHECK(closed_by_peer(bad));
    send_text(good, "POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nok");
    CHECK(strstr(read_until(good, "\r\n\r\nok", got, sizeof(got)), "200 OK") != NULL);
    /* An answer at the head (before the body) and HTTP/1.0 without keep-alive. */
    send_text(good, "GET /refuse HTTP/1.0\r\n\r\n");
    CHECK(strstr(read_until(good, "no\n", got, sizeof(got)), "403 Forbidden") != NULL);
    CHECK(strstr(got, "Connection: close") != NULL);
    CHECK(closed_by_peer(good));
    close(good);
    close(bad);
    /* An oversized head. */
    int big = connect_client();
    send_text(big, "GET / HTTP/1.1\r\nX-Big: ");
    char filler[1024];
    memset(filler, 'a', sizeof(filler) - 1);
    filler[sizeof(filler) - 1] = '\0';
    for (int i = 0; i < 40; i++)
        send_text(big, filler);
    CHECK(strstr(read_until(big, "\n\n", got, sizeof(got)), "431") != NULL);
    close(big);
}

static void test_upgrade(void)
{
    char got[4096];
    /* Bytes sent with the request reach the new owner, then the rest. */
    int fd = connect_client();
    send_text(fd, "GET /upgrade HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly ");
    read_until(fd, "early ", got, sizeof(got));
    static const char head[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n";
    CHECK(strncmp(got, head, sizeof(head) - 1) == 0);
    CHECK(strstr(got, "Content-Length") == NULL && strstr(got, "Date:") == NULL);
    CHECK(strstr(got, "\r\n\r\nearly ") != NULL);
    send_text(fd, "GET / HTTP/1.1\r\n\r\n"); /* not HTTP any more: echoed */
    CHECK(strstr(read_until(fd, "\r\n\r\n", got, sizeof(got)), "GET / HTTP/1.1\r\n\r\n") != NULL);
    send_text(fd, "bye");
    read_until(fd, "bye", got, sizeof(got));
    CHECK(closed_by_peer(fd));
    close(fd);
    /* The hook refuses a request that did not ask to switch; HTTP goes on. */
    fd = connect_client();
    send_text(fd, "GET /upgrade HTTP/1.1\r\n\r\n");
    CHECK(strstr(read_until(fd, "upgrade\n", got, sizeof(got)), "400 Bad Request") != NULL);
    send_text(fd, "POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nok");
    CHECK(strstr(read_until(fd, "\r\n\r\nok", got, sizeof(got)), "200 OK") != NULL);
    close(fd);
    /* An upgraded connection open when the server closes is closed by it. */
    fd = connect_client();
    send_text(fd, "GET /upgrade HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nhi");
    read_until(fd, "hi", got, sizeof(got));
    CHECK(strstr(got, "\r\n\r\nhi") != NULL);
}

static void test_close_after_and_error_shape(void)
{
    char got[4096];
    /* close_after: the answer says so and the connection ends, although the
     * client asked for keep-alive and the body never came. */
    int fd = connect_client();
    send_text(fd, "POST /close-after HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    read_until(fd, "last\n", got, sizeof(got));
    CHECK(strstr(got, "200 OK") != NULL && strstr(got, "Connection: close\r\n") != NULL);
    CHECK(closed_by_peer(fd));
    close(fd);
    /* The server's own answers take the user's shape. */
    fd = connect_client();
    send_text(fd, "NONSENSE\r\n\r\n");
    read_until(fd, "]", got, sizeof(got));
    CHECK(strstr(got, "HTTP/1.1 400 Bad Request\r\n") != NULL);
    CHECK(strstr(got, "Content-Type: application/x-test\r\nX-Shaped: yes\r\n") != NULL);
    CHECK(strstr(got, "\r\n\r\n[400 malformed HTTP") != NULL);
    CHECK(closed_by_peer(fd));
    close(fd);
    /* ... the default 413 too, when the handler leaves it to the server. */
    fd = connect_client();
    send_text(fd, "POST /default-413 HTTP/1.1\r\nContent-Length: 5000000\r\n\r\n");
    CHECK(strstr(read_until(fd, "]", got, sizeof(got)), "[413 request body too large]") != NULL);
    close(fd);
}

/* A loopback server answers only Hosts that name loopback (DNS rebinding). */
static void test_host_check(void)
{
    char got[4096], request[200];
    int fd = connect_client();
    send_text(fd, "GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n");
    CHECK(strstr(read_until(fd, "\r\n\r\n", got, sizeof(got)), "HTTP/1.1 200 OK") != NULL);
    snprintf(request, sizeof(request), "GET /echo HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n", port);
    send_text(fd, request);
    CHECK(strstr(read_until(fd, "\r\n\r\n", got, sizeof(got)), "HTTP/1.1 200 OK") != NULL);
    send_text(fd, "GET /echo HTTP/1.1\r\n\r\n"); /* no Host: no browser sent it */
    CHECK(strstr(read_until(fd, "\r\n\r\n", got, sizeof(got)), "HTTP/1.1 200 OK") != NULL);
    send_text(fd, "GET /echo HTTP/1.1\r\nHost: evil.example\r\n\r\n");
    CHECK(strstr(read_until(fd, "not this server", got, sizeof(got)), "HTTP/1.1 403") != NULL);
    CHECK(closed_by_peer(fd));
    close(fd);
    fd = connect_client();
    send_text(fd, "GET /echo HTTP/1.1\r\nHost: localhost:1\r\n\r\n"); /* another port */
    CHECK(strstr(read_until(fd, "\r\n\r\n", got, sizeof(got)), "HTTP/1.1 403") != NULL);
    close(fd);
}

static double seconds_since(const struct timeval *start)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_usec - start->tv_usec) / 1e6;
}

/* Untrusted connections: a deadline (300 ms here) and a cap (2 here);
 * a trusted one is not affected. */
static void test_untrusted(void)
{
    char got[4096];
    struct timeval start;
    int trusted = connect_client();
    send_text(trusted, "GET /trust HTTP/1.1\r\nHost: localhost\r\n\r\n");
    CHECK(strstr(read_until(trusted, "trusted\n", got, sizeof(got)), "\r\n\r\ntrusted") != NULL);
    gettimeofday(&start, NULL);
    int idle = connect_client();
    int slow = connect_client();
    send_text(slow, "GET /echo HTTP/1.1\r\nHost: loc"); /* a head that never ends */
    int refused = connect_client();
    CHECK(strstr(read_until(refused, "\r\n\r\n", got, sizeof(got)), "HTTP/1.1 503") != NULL);
    CHECK(closed_by_peer(refused));
    CHECK(seconds_since(&start) < 0.3); /* at once */
    CHECK(closed_by_peer(idle));
    CHECK(strstr(read_until(slow, "\r\n\r\n", got, sizeof(got)), "HTTP/1.1 408") != NULL);
    CHECK(closed_by_peer(slow));
    double waited = seconds_since(&start);
    CHECK(waited >= 0.25 && waited < 2.0); /* the deadline, not the 5 s head timeout */
    send_text(trusted, "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nstill");
    CHECK(strstr(read_until(trusted, "still", got, sizeof(got)), "HTTP/1.1 200 OK") != NULL);
    close(trusted);
    close(idle);
    close(slow);
    close(refused);
}

static void (*scenario)(void);

static void *client_main(void *arg)
{
    (void)arg;
    scenario();
    uv_async_send(&done_async);
    return NULL;
}

/* Set by a test for its server: untrusted connections' deadline and cap. */
static uint64_t untrusted_timeout_ms;
static size_t max_untrusted;

/* Runs one client scenario against a fresh server on its own loop. */
static void run_with_server_using(const struct http_server_callbacks *cbs, void (*client)(void))
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct conn_context *ctx = conn_context_new(&loop);
    struct http_server_config config = {
        .name = "test",
        .host = "127.0.0.1",
        .max_header_bytes = 16 * 1024,
        .head_timeout_ms = 5000,
        .body_timeout_ms = 5000,
        .untrusted_timeout_ms = untrusted_timeout_ms,
        .max_untrusted = max_untrusted,
    };
    char cause[200];
    CHECK_INT(http_server_start(ctx, &config, cbs, NULL, &server, cause, sizeof(cause)), 0);
    port = http_server_port(server);
    uv_async_init(&loop, &done_async, on_done);
    scenario = client;
    pthread_t thread;
    pthread_create(&thread, NULL, client_main, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    pthread_join(thread, NULL);
    conn_context_free(ctx);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&loop), 0);
}

static void run_with_server(void (*client)(void))
{
    run_with_server_using(&callbacks, client);
}

TEST(keep_alive_and_pipelining)
{
    run_with_server(test_keep_alive_and_pipelining);
}

TEST(long_poll)
{
    run_with_server(test_long_poll);
}

TEST(streams_both_ways)
{
    run_with_server(test_streams_both_ways);
}

TEST(body_caps)
{
    run_with_server(test_body_caps);
}

TEST(bad_input_closes_one_connection)
{
    run_with_server(test_bad_input_closes_one_connection);
}

TEST(upgrade)
{
    upgrade_closes = 0;
    upgraded_state_checks = 0;
    run_with_server(test_upgrade);
    CHECK(upgraded_state_checks >= 3); /* open for every delivery, then lingering */
    /* One closed by "bye", one by the server closing. */
    CHECK_INT(upgrade_closes, 2);
    CHECK(upgraded == NULL);
}

TEST(close_after_and_error_shape)
{
    run_with_server_using(&shaping_callbacks, test_close_after_and_error_shape);
}

TEST(host_check)
{
    run_with_server(test_host_check);
}

TEST(untrusted_deadline_and_cap)
{
    untrusted_timeout_ms = 300;
    max_untrusted = 2;
    run_with_server(test_untrusted);
    untrusted_timeout_ms = 0;
    max_untrusted = 0;
}

RUN_TESTS("test_http_server", TEST_ENTRY(keep_alive_and_pipelining), TEST_ENTRY(long_poll),
          TEST_ENTRY(streams_both_ways), TEST_ENTRY(body_caps),
          TEST_ENTRY(bad_input_closes_one_connection), TEST_ENTRY(upgrade),
          TEST_ENTRY(close_after_and_error_shape), TEST_ENTRY(host_check),
          TEST_ENTRY(untrusted_deadline_and_cap))
