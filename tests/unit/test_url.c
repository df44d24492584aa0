#include <errno.h>
#include <string.h>

#include "net/url.h"
#include "test.h"

static struct url parsed;
static char cause[200];

static int parse(const char *text)
{
    cause[0] = '\0';
    return url_parse(text, &parsed, cause, sizeof(cause));
}

TEST(test_http_defaults)
{
    CHECK_INT(parse("http://example.com"), 0);
    CHECK_INT(parsed.scheme, URL_HTTP);
    CHECK_INT(parsed.secure, 0);
    CHECK_INT(parsed.port, 80);
    CHECK_INT(parsed.port_explicit, 0);
    CHECK_STR(parsed.host, "example.com");
    CHECK_STR(parsed.host_header, "example.com");
    CHECK_STR(parsed.path, "/");
    CHECK_STR(parsed.query, "");
}

TEST(test_https_appsync_endpoint)
{
    CHECK_INT(parse("https://abc123.appsync-api.eu-west-1.amazonaws.com/event"), 0);
    CHECK_INT(parsed.scheme, URL_HTTPS);
    CHECK_INT(parsed.secure, 1);
    CHECK_INT(parsed.port, 443);
    CHECK_STR(parsed.host, "abc123.appsync-api.eu-west-1.amazonaws.com");
    CHECK_STR(parsed.host_header, "abc123.appsync-api.eu-west-1.amazonaws.com");
    CHECK_STR(parsed.path, "/event");
}

TEST(test_ws_and_wss)
{
    CHECK_INT(parse("ws://127.0.0.1:8080/event/realtime"), 0);
    CHECK_INT(parsed.scheme, URL_WS);
    CHECK_INT(parsed.secure, 0);
    CHECK_INT(parsed.port, 8080);
    CHECK_INT(parsed.port_explicit, 1);
    CHECK_STR(parsed.host, "127.0.0.1");
    CHECK_STR(parsed.host_header, "127.0.0.1:8080");
    CHECK_STR(parsed.path, "/event/realtime");

    CHECK_INT(parse("wss://h.example/event/realtime"), 0);
    CHECK_INT(parsed.scheme, URL_WSS);
    CHECK_INT(parsed.secure, 1);
    CHECK_INT(parsed.port, 443);
    CHECK_STR(url_scheme_name(parsed.scheme), "wss");
}

TEST(test_default_port_written_explicitly)
{
    /* An explicit default port is not repeated in the Host header. */
    CHECK_INT(parse("https://example.com:443/x"), 0);
    CHECK_INT(parsed.port_explicit, 1);
    CHECK_STR(parsed.host_header, "example.com");
    CHECK_INT(parse("http://example.com:443/x"), 0);
    CHECK_STR(parsed.host_header, "example.com:443");
    CHECK_INT(parse("wss://example.com:80/x"), 0);
    CHECK_STR(parsed.host_header, "example.com:80");
}

TEST(test_scheme_and_host_case)
{
    CHECK_INT(parse("HTTPS://Example.COM/Path"), 0);
    CHECK_INT(parsed.scheme, URL_HTTPS);
    CHECK_STR(parsed.host, "example.com");
    CHECK_STR(parsed.path, "/Path"); /* paths are case-sensitive */
}

TEST(test_ipv6)
{
    CHECK_INT(parse("http://[::1]:9000/event"), 0);
    CHECK_INT(parsed.is_ipv6, 1);
    CHECK_STR(parsed.host, "::1");
    CHECK_STR(parsed.host_header, "[::1]:9000");
    CHECK_INT(parsed.port, 9000);

    CHECK_INT(parse("wss://[2001:DB8::1]/event/realtime"), 0);
    CHECK_STR(parsed.host, "2001:db8::1");
    CHECK_STR(parsed.host_header, "[2001:db8::1]");
    CHECK_INT(parsed.port, 443);

    CHECK_INT(parse("http://[::ffff:192.0.2.1]/"), 0);
    CHECK_STR(parsed.host, "::ffff:192.0.2.1");
}

TEST(test_bad_ipv6)
{
    CHECK_INT(parse("http://[::1/event"), -EINVAL);
    CHECK(strstr(cause, "']'") != NULL);
    CHECK_INT(parse("http://[not-v6]/"), -EINVAL);
    CHECK_INT(parse("http://[]/"), -EINVAL);
    CHECK_INT(parse("http://[::1]x/"), -EINVAL);
    CHECK_INT(parse("http://[fe80::1%25eth0]/"), -EINVAL);
    CHECK_INT(parse("http://[::1]:/"), -EINVAL);
}

TEST(test_query_and_fragment)
{
    CHECK_INT(parse("https://h/event?a=1&b=2#frag"), 0);
    CHECK_STR(parsed.path, "/event");
    CHECK_STR(parsed.query, "a=1&b=2");
    char target[64];
    CHECK_INT(url_target(&parsed, target, sizeof(target)), 0);
    CHECK_STR(target, "/event?a=1&b=2");

    CHECK_INT(parse("https://h?x=y"), 0);
    CHECK_STR(parsed.path, "/");
    CHECK_STR(parsed.query, "x=y");

    CHECK_INT(parse("https://h#only-fragment"), 0);
    CHECK_STR(parsed.path, "/");
    CHECK_STR(parsed.query, "");
    CHECK_INT(url_target(&parsed, target, sizeof(target)), 0);
    CHECK_STR(target, "/");
    CHECK_INT(url_target(&parsed, target, 1), -ENAMETOOLONG);
}

TEST(test_percent_escapes)
{
    CHECK_INT(parse("http://h/a%20b"), 0);
    CHECK_STR(parsed.path, "/a%20b");
    CHECK_INT(parse("http://h/a%2"), -EINVAL);
    CHECK(strstr(cause, "percent") != NULL);
    CHECK_INT(parse("http://h/a%zz"), -EINVAL);
    CHECK_INT(parse("http://h/?q=%"), -EINVAL);
}

TEST(test_rejects_bad_scheme)
{
    CHECK_INT(parse("ftp://example.com/"), -EINVAL);
    CHECK(strstr(cause, "http://") != NULL);
    CHECK_INT(parse("example.com/event"), -EINVAL);
    CHECK_INT(parse("http:/example.com"), -EINVAL);
    CHECK_INT(parse(""), -EINVAL);
    CHECK_STR(cause, "empty URL");
    CHECK_INT(url_parse(NULL, &parsed, cause, sizeof(cause)), -EINVAL);
}

TEST(test_rejects_bad_hosts)
{
    CHECK_INT(parse("http:///event"), -EINVAL);
    CHECK_STR(cause, "URL has no host");
    CHECK_INT(parse("http://:80/"), -EINVAL);
    CHECK_INT(parse("http://user:pw@example.com/"), -EINVAL);
    CHECK(strstr(cause, "user@host") != NULL);
    CHECK_INT(parse("http://exa mple.com/"), -EINVAL);
    CHECK_INT(parse("http://ex%41mple.com/"), -EINVAL);
    CHECK_INT(parse("http://.example.com/"), -EINVAL);
    CHECK_INT(parse("http://a..b/"), -EINVAL);
    CHECK_INT(parse("http://a:1:2/"), -EINVAL);
}

TEST(test_rejects_bad_ports)
{
    CHECK_INT(parse("http://h:0/"), -EINVAL);
    CHECK(strstr(cause, "range") != NULL);
    CHECK_INT(parse("http://h:65536/"), -EINVAL);
    CHECK_INT(parse("http://h:123456/"), -EINVAL);
    CHECK_INT(parse("http://h:-1/"), -EINVAL);
    CHECK_INT(parse("http://h:8a/"), -EINVAL);
    CHECK_INT(parse("http://h:/"), -EINVAL);
    CHECK_STR(cause, "missing port number after ':'");
    CHECK_INT(parse("http://h:65535/"), 0);
    CHECK_INT(parsed.port, 65535);
    CHECK_INT(parse("http://h:1"), 0);
    CHECK_INT(parsed.port, 1);
}

TEST(test_rejects_bad_characters)
{
    CHECK_INT(parse("http://h/a b"), -EINVAL);
    CHECK_INT(parse("http://h/a\tb"), -EINVAL);
    CHECK_INT(parse("http://h/\xc3\xa9"), -EINVAL);
    CHECK_INT(parse("http://h/ok?bad\x7f"), -EINVAL);
}

TEST(test_length_caps)
{
    static char text[URL_MAX_LENGTH + 64];
    /* A 253-character host is the longest accepted. */
    strcpy(text, "http://");
    memset(text + 7, 'a', URL_MAX_HOST);
    text[7 + URL_MAX_HOST] = '\0';
    CHECK_INT(parse(text), 0);
    CHECK_INT(strlen(parsed.host), URL_MAX_HOST);
    strcat(text, "a");
    CHECK_INT(parse(text), -EINVAL);
    CHECK(strstr(cause, "too long") != NULL);

    strcpy(text, "http://h/");
    memset(text + 9, 'p', URL_MAX_PATH);
    text[9 + URL_MAX_PATH] = '\0';
    CHECK_INT(parse(text), -EINVAL);
    CHECK_STR(cause, "URL path too long");
    text[9 + URL_MAX_PATH - 1] = '\0'; /* exactly URL_MAX_PATH with the '/' */
    CHECK_INT(parse(text), 0);

    strcpy(text, "http://h/?");
    memset(text + 10, 'q', URL_MAX_QUERY + 1);
    text[10 + URL_MAX_QUERY + 1] = '\0';
    CHECK_INT(parse(text), -EINVAL);
    CHECK_STR(cause, "URL query too long");

    memset(text, 'x', sizeof(text) - 1);
    memcpy(text, "http://h/", 9);
    text[sizeof(text) - 1] = '\0';
    CHECK_INT(parse(text), -EINVAL);
    CHECK_STR(cause, "URL too long");
}

TEST(test_failure_leaves_nothing_behind)
{
    CHECK_INT(parse("http://good.example:81/p"), 0);
    CHECK_INT(parse("http://good.example:0/p"), -EINVAL);
    CHECK_STR(parsed.host, "");
    CHECK_STR(parsed.host_header, "");
    CHECK_INT(parsed.port, 0);
}

TEST(test_small_cause_buffer)
{
    char tiny[8];
    CHECK_INT(url_parse("nope", &parsed, tiny, sizeof(tiny)), -EINVAL);
    CHECK_INT(strlen(tiny), 7);
    CHECK_INT(url_parse("nope", &parsed, NULL, 0), -EINVAL);
}

TEST(test_default_ports)
{
    CHECK_INT(url_default_port(URL_HTTP), 80);
    CHECK_INT(url_default_port(URL_WS), 80);
    CHECK_INT(url_default_port(URL_HTTPS), 443);
    CHECK_INT(url_default_port(URL_WSS), 443);
    CHECK_STR(url_scheme_name(URL_HTTP), "http");
    CHECK_STR(url_scheme_name(URL_HTTPS), "https");
    CHECK_STR(url_scheme_name(URL_WS), "ws");
}

RUN_TESTS("url", TEST_ENTRY(test_http_defaults), TEST_ENTRY(test_https_appsync_endpoint),
          TEST_ENTRY(test_ws_and_wss), TEST_ENTRY(test_default_port_written_explicitly),
          TEST_ENTRY(test_scheme_and_host_case), TEST_ENTRY(test_ipv6), TEST_ENTRY(test_bad_ipv6),
          TEST_ENTRY(test_query_and_fragment), TEST_ENTRY(test_percent_escapes),
          TEST_ENTRY(test_rejects_bad_scheme), TEST_ENTRY(test_rejects_bad_hosts),
          TEST_ENTRY(test_rejects_bad_ports), TEST_ENTRY(test_rejects_bad_characters),
          TEST_ENTRY(test_length_caps), TEST_ENTRY(test_failure_leaves_nothing_behind),
          TEST_ENTRY(test_small_cause_buffer), TEST_ENTRY(test_default_ports))
