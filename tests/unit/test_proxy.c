/* net/proxy.c (proxy URLs, NO_PROXY, the environment, CONNECT) and the
 * tunnel in net/conn.c, against an in-process stand-in proxy. The real proxy
 * (tinyproxy) is exercised by tests/integration/cloud*.test.mjs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "core/buf.h"
#include "net/conn.h"
#include "net/proxy.h"
#include "test.h"

static struct proxy_config proxy;
static char cause[300];

TEST(test_parse_plain_and_default_port)
{
    CHECK_INT(proxy_parse_url("http://proxy.corp:3128", &proxy, cause, sizeof(cause)), 0);
    CHECK_STR(proxy.host, "proxy.corp");
    CHECK_INT(proxy.port, 3128);
    CHECK_STR(proxy.authorization, "");
    CHECK_STR(proxy.display, "http://proxy.corp:3128");
    CHECK_INT(proxy_parse_url("Proxy.Corp", &proxy, cause, sizeof(cause)), 0);
    CHECK_STR(proxy.host, "proxy.corp");
    CHECK_INT(proxy.port, 80);
    CHECK_INT(proxy_parse_url("HTTP://10.0.0.1:8080/", &proxy, cause, sizeof(cause)), 0);
    CHECK_STR(proxy.host, "10.0.0.1");
    CHECK_INT(proxy_parse_url("http://[::1]:3128", &proxy, cause, sizeof(cause)), 0);
    CHECK_STR(proxy.host, "::1");
    CHECK_STR(proxy.display, "http://[::1]:3128");
}

TEST(test_parse_credentials_become_basic_auth)
{
    /* user "me", password "p@ss:w" percent-encoded in the URL */
    CHECK_INT(proxy_parse_url("http://me:p%40ss%3Aw@proxy:3128", &proxy, cause, sizeof(cause)), 0);
    CHECK_STR(proxy.authorization, "Basic bWU6cEBzczp3"); /* base64("me:p@ss:w") */
    CHECK_STR(proxy.display, "http://proxy:3128");        /* no secret in logs */
    CHECK_INT(proxy_parse_url("http://onlyuser@proxy:1", &proxy, cause, sizeof(cause)), 0);
    CHECK_STR(proxy.authorization, "Basic b25seXVzZXI6"); /* "onlyuser:" */
    proxy_config_wipe(&proxy);
    CHECK_STR(proxy.authorization, "");
}

TEST(test_parse_refuses_other_schemes_and_garbage)
{
    CHECK_INT(proxy_parse_url("https://proxy:443", &proxy, cause, sizeof(cause)), -ENOTSUP);
    CHECK(strstr(cause, "only http://") != NULL);
    CHECK_INT(proxy_parse_url("socks5://proxy:1080", &proxy, cause, sizeof(cause)), -ENOTSUP);
    CHECK_INT(proxy_parse_url("http://proxy:99999", &proxy, cause, sizeof(cause)), -EINVAL);
    CHECK_INT(proxy_parse_url("http://proxy:", &proxy, cause, sizeof(cause)), -EINVAL);
    CHECK_INT(proxy_parse_url("http://", &proxy, cause, sizeof(cause)), -EINVAL);
    CHECK_INT(proxy_parse_url("http://a b:80", &proxy, cause, sizeof(cause)), -EINVAL);
    CHECK_INT(proxy_parse_url("http://u:%zz@proxy:80", &proxy, cause, sizeof(cause)), -EINVAL);
}

TEST(test_no_proxy_names)
{
    CHECK_INT(proxy_no_proxy_match("example.com", "example.com", 443), 1);
    CHECK_INT(proxy_no_proxy_match("example.com", "api.example.com", 443), 1);
    CHECK_INT(proxy_no_proxy_match("example.com", "badexample.com", 443), 0);
    CHECK_INT(proxy_no_proxy_match(".example.com", "example.com", 443), 1);
    CHECK_INT(proxy_no_proxy_match(".example.com", "a.b.example.com", 443), 1);
    CHECK_INT(proxy_no_proxy_match("*.example.com", "a.example.com", 443), 1);
    CHECK_INT(proxy_no_proxy_match("EXAMPLE.com.", "Api.Example.COM.", 443), 1);
    CHECK_INT(proxy_no_proxy_match("foo.com, bar.com ,baz.com", "x.bar.com", 1), 1);
    CHECK_INT(proxy_no_proxy_match("foo.com bar.com", "bar.com", 1), 1);
    CHECK_INT(proxy_no_proxy_match("foo.com", "bar.com", 1), 0);
    CHECK_INT(proxy_no_proxy_match("*", "anything.at.all", 1), 1);
    CHECK_INT(proxy_no_proxy_match("", "example.com", 1), 0);
    CHECK_INT(proxy_no_proxy_match(NULL, "example.com", 1), 0);
    CHECK_INT(proxy_no_proxy_match(",,", "example.com", 1), 0);
    /* A name never matches an address, and loopback is not implicit. */
    CHECK_INT(proxy_no_proxy_match("localhost", "127.0.0.1", 80), 0);
    CHECK_INT(proxy_no_proxy_match("example.com", "127.0.0.1", 80), 0);
}

TEST(test_no_proxy_addresses_and_networks)
{
    CHECK_INT(proxy_no_proxy_match("127.0.0.1", "127.0.0.1", 80), 1);
    CHECK_INT(proxy_no_proxy_match("127.0.0.1", "127.0.0.2", 80), 0);
    CHECK_INT(proxy_no_proxy_match("10.0.0.0/8", "10.200.3.4", 80), 1);
    CHECK_INT(proxy_no_proxy_match("10.0.0.0/8", "11.0.0.1", 80), 0);
    CHECK_INT(proxy_no_proxy_match("192.168.1.0/25", "192.168.1.127", 80), 1);
    CHECK_INT(proxy_no_proxy_match("192.168.1.0/25", "192.168.1.128", 80), 0);
    CHECK_INT(proxy_no_proxy_match("0.0.0.0/0", "8.8.8.8", 80), 1);
    CHECK_INT(proxy_no_proxy_match("10.0.0.0/33", "10.0.0.1", 80), 0); /* malformed */
    CHECK_INT(proxy_no_proxy_match("::1", "::1", 80), 1);
    CHECK_INT(proxy_no_proxy_match("[::1]", "[::1]", 80), 1);
    CHECK_INT(proxy_no_proxy_match("fd00::/8", "fd12:3456::1", 80), 1);
    CHECK_INT(proxy_no_proxy_match("fd00::/8", "fe80::1", 80), 0);
    CHECK_INT(proxy_no_proxy_match("10.0.0.0/8", "example.com", 80), 0);
    CHECK_INT(proxy_no_proxy_match("10.0.0.0/8", "::ffff:1.2.3.4", 80), 0);
}

TEST(test_no_proxy_ports)
{
    CHECK_INT(proxy_no_proxy_match("example.com:8443", "example.com", 8443), 1);
    CHECK_INT(proxy_no_proxy_match("example.com:8443", "example.com", 443), 0);
    CHECK_INT(proxy_no_proxy_match("127.0.0.1:7070", "127.0.0.1", 7070), 1);
    CHECK_INT(proxy_no_proxy_match("127.0.0.1:7070", "127.0.0.1", 7071), 0);
    CHECK_INT(proxy_no_proxy_match("[::1]:7070", "::1", 7070), 1);
    CHECK_INT(proxy_no_proxy_match("[::1]:7070", "::1", 80), 0);
}

static void clear_proxy_env(void)
{
    const char *names[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
                           "HTTPS_PROXY", "no_proxy",   "NO_PROXY"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        unsetenv(names[i]);
}

TEST(test_environment)
{
    clear_proxy_env();
    CHECK_INT(proxy_from_env(1, "api.example.com", 443, &proxy, cause, sizeof(cause)), 0);
    setenv("HTTPS_PROXY", "http://upper:1", 1);
    CHECK_INT(proxy_from_env(1, "api.example.com", 443, &proxy, cause, sizeof(cause)), 1);
    CHECK_STR(proxy.host, "upper");
    setenv("https_proxy", "http://lower:2", 1);
    CHECK_INT(proxy_from_env(1, "api.example.com", 443, &proxy, cause, sizeof(cause)), 1);
    CHECK_STR(proxy.host, "lower");
    /* Plain targets read HTTP_PROXY only. */
    CHECK_INT(proxy_from_env(0, "api.example.com", 80, &proxy, cause, sizeof(cause)), 0);
    setenv("HTTP_PROXY", "http://plain:3", 1);
    CHECK_INT(proxy_from_env(0, "api.example.com", 80, &proxy, cause, sizeof(cause)), 1);
    CHECK_STR(proxy.host, "plain");
    setenv("NO_PROXY", "example.com", 1);
    CHECK_INT(proxy_from_env(1, "api.example.com", 443, &proxy, cause, sizeof(cause)), 0);
    setenv("no_proxy", "other.com", 1); /* the lower-case form wins */
    CHECK_INT(proxy_from_env(1, "api.example.com", 443, &proxy, cause, sizeof(cause)), 1);
    setenv("https_proxy", "socks5://x:1", 1);
    CHECK_INT(proxy_from_env(1, "api.example.com", 443, &proxy, cause, sizeof(cause)), -ENOTSUP);
    CHECK(strncmp(cause, "HTTPS_PROXY: ", 13) == 0);
    setenv("https_proxy", "", 1); /* empty counts as unset */
    CHECK_INT(proxy_from_env(1, "api.example.com", 443, &proxy, cause, sizeof(cause)), 1);
    CHECK_STR(proxy.host, "upper");
    clear_proxy_env();
}

TEST(test_connect_request)
{
    struct buf b = BUF_INIT;
    CHECK_INT(proxy_parse_url("http://u:p@proxy:3128", &proxy, cause, sizeof(cause)), 0);
    CHECK_INT(proxy_write_connect(&b, &proxy, "abc.appsync-api.eu-west-1.amazonaws.com", 443), 0);
    buf_terminate(&b);
    CHECK_STR(buf_bytes(&b), "CONNECT abc.appsync-api.eu-west-1.amazonaws.com:443 HTTP/1.1\r\n"
                             "Host: abc.appsync-api.eu-west-1.amazonaws.com:443\r\n"
                             "Proxy-Authorization: Basic dTpw\r\n"
                             "User-Agent: tether\r\n\r\n");
    buf_reset(&b);
    proxy_config_wipe(&proxy);
    CHECK_INT(proxy_write_connect(&b, &proxy, "::1", 8443), 0);
    buf_terminate(&b);
    CHECK(strncmp(buf_bytes(&b), "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\nUser", 50) ==
          0);
    buf_free(&b);
}

TEST(test_connect_response)
{
    int status = 0;
    char reason[64];
    const char *ok = "HTTP/1.1 200 Connection established\r\nProxy-Agent: x\r\n\r\nTLS";
    CHECK_INT(proxy_read_connect_response(ok, strlen(ok), &status, reason, sizeof(reason)),
              (long)(strlen(ok) - 3));
    CHECK_INT(status, 200);
    CHECK_STR(reason, "Connection established");
    CHECK_INT(proxy_read_connect_response(ok, 20, &status, reason, sizeof(reason)), 0);
    const char *denied = "HTTP/1.0 407 Proxy Authentication Required\n\n";
    CHECK_INT(proxy_read_connect_response(denied, strlen(denied), &status, reason, sizeof(reason)),
              (long)strlen(denied));
    CHECK_INT(status, 407);
    const char *bad = "SSH-2.0-OpenSSH\r\n\r\n";
    CHECK_INT(proxy_read_connect_response(bad, strlen(bad), &status, reason, sizeof(reason)),
              -EPROTO);
    char *huge = malloc(PROXY_MAX_RESPONSE_HEAD + 10);
    memset(huge, 'a', PROXY_MAX_RESPONSE_HEAD + 10);
    CHECK_INT(proxy_read_connect_response(huge, PROXY_MAX_RESPONSE_HEAD + 10, &status, reason,
                                          sizeof(reason)),
              -EPROTO);
    free(huge);
}

/* ---- the tunnel in conn.c, against a stand-in proxy ---- */

struct fake_proxy {
    const char *answer; /* sent after the CONNECT head */
    struct buf seen;    /* everything the client sent */
    struct conn *peer;
    int answered;
};

struct client_state {
    int open_status;
    int opened;
    struct buf received;
    char cause[300];
    int closed;
};

static void proxy_on_data(struct conn *conn, const char *data, size_t len)
{
    struct fake_proxy *fp = conn_user(conn);
    buf_append(&fp->seen, data, len);
    buf_terminate(&fp->seen);
    if (!fp->answered && strstr(buf_bytes(&fp->seen), "\r\n\r\n")) {
        fp->answered = 1;
        conn_write(conn, fp->answer, strlen(fp->answer));
    }
}

static void proxy_on_close(struct conn *conn, int status, const char *why)
{
    struct fake_proxy *fp = conn_user(conn);
    fp->peer = NULL;
}

static const struct conn_callbacks proxy_callbacks = {NULL, proxy_on_data, proxy_on_close};

static void proxy_on_accept(struct conn_listener *l, struct conn *conn)
{
    struct fake_proxy *fp = conn_listener_user(l);
    fp->peer = conn;
    conn_set_callbacks(conn, &proxy_callbacks, fp);
}

static void client_on_open(struct conn *conn, int status, const char *why)
{
    struct client_state *s = conn_user(conn);
    s->opened = 1;
    s->open_status = status;
    if (why)
        snprintf(s->cause, sizeof(s->cause), "%s", why);
}

static void client_on_data(struct conn *conn, const char *data, size_t len)
{
    struct client_state *s = conn_user(conn);
    buf_append(&s->received, data, len);
    buf_terminate(&s->received);
}

static void client_on_close(struct conn *conn, int status, const char *why)
{
    struct client_state *s = conn_user(conn);
    s->closed = 1;
}

static const struct conn_callbacks client_callbacks = {client_on_open, client_on_data,
                                                       client_on_close};

static void run_until(uv_loop_t *loop, int *flag)
{
    for (int i = 0; i < 2000 && !*flag; i++)
        uv_run(loop, UV_RUN_ONCE);
}

/* Runs one tunnelled connection; the client writes "ping" before it opens. */
static void tunnel_round(const char *answer, const char *userinfo, struct fake_proxy *fp,
                         struct client_state *cs)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct conn_context *ctx = conn_context_new(&loop);
    struct conn_listener *listener;
    fp->answer = answer;
    CHECK_INT(conn_listen(ctx, "127.0.0.1", 0, NULL, proxy_on_accept, fp, &listener, cause,
                          sizeof(cause)),
              0);
    char url[200];
    snprintf(url, sizeof(url), "http://%s127.0.0.1:%u", userinfo, conn_listener_port(listener));
    struct proxy_config p;
    CHECK_INT(proxy_parse_url(url, &p, cause, sizeof(cause)), 0);
    struct conn *client;
    CHECK_INT(conn_connect_via(ctx, "target.example", 8080, NULL, NULL, &p, &client_callbacks, cs,
                               &client),
              0);
    proxy_config_wipe(&p);
    conn_write(client, "ping", 4);
    run_until(&loop, &cs->opened);
    if (cs->open_status == 0) {
        for (int i = 0; i < 200 && !strstr(buf_bytes(&fp->seen), "ping"); i++)
            uv_run(&loop, UV_RUN_ONCE);
        conn_close(client, 0, NULL);
    }
    run_until(&loop, &cs->closed);
    if (fp->peer)
        conn_close(fp->peer, 0, NULL);
    conn_listener_close(listener);
    uv_run(&loop, UV_RUN_DEFAULT);
    conn_context_free(ctx);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

TEST(test_tunnel_established)
{
    struct fake_proxy fp = {0};
    struct client_state cs = {0};
    buf_append_str(&fp.seen, "");
    buf_terminate(&fp.seen);
    tunnel_round("HTTP/1.1 200 Connection established\r\n\r\nhello", "me:pw@", &fp, &cs);
    CHECK_INT(cs.open_status, 0);
    const char *seen = buf_bytes(&fp.seen);
    CHECK(strncmp(seen, "CONNECT target.example:8080 HTTP/1.1\r\n", 38) == 0);
    CHECK(strstr(seen, "Proxy-Authorization: Basic bWU6cHc=\r\n") != NULL);
    /* What the client wrote before the tunnel was up follows the CONNECT head. */
    const char *end = strstr(seen, "\r\n\r\n");
    CHECK(end && strcmp(end + 4, "ping") == 0);
    /* Bytes the proxy sent right after its answer reach the client. */
    CHECK(cs.received.data && strcmp(buf_bytes(&cs.received), "hello") == 0);
    buf_free(&fp.seen);
    buf_free(&cs.received);
}

TEST(test_tunnel_refused)
{
    struct fake_proxy fp = {0};
    struct client_state cs = {0};
    buf_append_str(&fp.seen, "");
    buf_terminate(&fp.seen);
    tunnel_round("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", "", &fp, &cs);
    CHECK_INT(cs.open_status, -EACCES);
    CHECK(strstr(cs.cause, "407 Proxy Authentication Required") != NULL);
    CHECK(strstr(cs.cause, "user:password@") != NULL);
    /* Nothing the client wrote was sent to the proxy. */
    CHECK(strstr(buf_bytes(&fp.seen), "ping") == NULL);
    CHECK(cs.received.len == 0);
    buf_free(&fp.seen);
    buf_free(&cs.received);

    struct fake_proxy fp2 = {0};
    struct client_state cs2 = {0};
    buf_append_str(&fp2.seen, "");
    buf_terminate(&fp2.seen);
    tunnel_round("HTTP/1.1 403 Forbidden\r\n\r\n", "", &fp2, &cs2);
    CHECK_INT(cs2.open_status, -ECONNREFUSED);
    CHECK(strstr(cs2.cause, "refused CONNECT target.example:8080: 403 Forbidden") != NULL);
    buf_free(&fp2.seen);
    buf_free(&cs2.received);
}

RUN_TESTS("test_proxy", TEST_ENTRY(test_parse_plain_and_default_port),
          TEST_ENTRY(test_parse_credentials_become_basic_auth),
          TEST_ENTRY(test_parse_refuses_other_schemes_and_garbage), TEST_ENTRY(test_no_proxy_names),
          TEST_ENTRY(test_no_proxy_addresses_and_networks), TEST_ENTRY(test_no_proxy_ports),
          TEST_ENTRY(test_environment), TEST_ENTRY(test_connect_request),
          TEST_ENTRY(test_connect_response), TEST_ENTRY(test_tunnel_established),
          TEST_ENTRY(test_tunnel_refused))
