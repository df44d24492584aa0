#include <errno.h>
#include <string.h>

#include "net/hostport.h"
#include "test.h"

static struct hostport hp;
static char cause[200];

static int parse(const char *text, unsigned flags)
{
    cause[0] = '\0';
    return hostport_parse(text, flags, &hp, cause, sizeof(cause));
}

TEST(test_name_and_ipv4)
{
    CHECK_INT(parse("127.0.0.1:7070", 0), 0);
    CHECK_STR(hp.host, "127.0.0.1");
    CHECK_INT(hp.port, 7070);
    CHECK_INT(hp.is_ipv6, 0);
    CHECK_INT(parse("localhost:1", 0), 0);
    CHECK_STR(hp.host, "localhost");
    CHECK_INT(hp.port, 1);
    CHECK_INT(parse("bastion.example.com:65535", 0), 0);
    CHECK_INT(hp.port, 65535);
}

TEST(test_ipv6_in_brackets)
{
    CHECK_INT(parse("[::1]:1080", 0), 0);
    CHECK_STR(hp.host, "::1");
    CHECK_INT(hp.port, 1080);
    CHECK_INT(hp.is_ipv6, 1);
    CHECK_INT(parse("[fe80::1%eth0]:22", 0), 0);
    CHECK_STR(hp.host, "fe80::1%eth0");
}

TEST(test_ipv6_without_brackets_is_refused)
{
    CHECK_INT(parse("::1:7070", 0), -EINVAL);
    CHECK(strstr(cause, "brackets") != NULL);
}

TEST(test_port_range)
{
    CHECK_INT(parse("127.0.0.1:0", 0), -EINVAL);
    CHECK(strstr(cause, "out of range 1-65535") != NULL);
    CHECK_INT(parse("127.0.0.1:0", HOSTPORT_ALLOW_PORT_0), 0);
    CHECK_INT(hp.port, 0);
    CHECK_INT(parse("127.0.0.1:65536", HOSTPORT_ALLOW_PORT_0), -EINVAL);
    CHECK(strstr(cause, "out of range 0-65535") != NULL);
    CHECK_INT(parse("127.0.0.1:70000", 0), -EINVAL);
    CHECK(strstr(cause, "70000") != NULL);
    /* Digits only: no sign, no space, no wrap-around of a huge number. */
    CHECK_INT(parse("h:-1", 0), -EINVAL);
    CHECK_INT(parse("h:+80", 0), -EINVAL);
    CHECK_INT(parse("h: 80", 0), -EINVAL);
    CHECK_INT(parse("h:80x", 0), -EINVAL);
    CHECK_INT(parse("h:4294967376", 0), -EINVAL);
    CHECK_INT(parse("h:", 0), -EINVAL);
}

TEST(test_malformed)
{
    CHECK_INT(parse("nonsense", 0), -EINVAL);
    CHECK(strstr(cause, "HOST:PORT") != NULL);
    CHECK_INT(parse(":7070", 0), -EINVAL);
    CHECK(strstr(cause, "host is missing") != NULL);
    CHECK_INT(parse("[]:7070", 0), -EINVAL);
    CHECK_INT(parse("a b:80", 0), -EINVAL);
    CHECK_INT(parse("[::1:80", 0), -EINVAL);
    CHECK_INT(parse("", 0), -EINVAL);
    CHECK_INT(parse(NULL, 0), -EINVAL);
}

TEST(test_failure_leaves_output_alone)
{
    CHECK_INT(parse("example.com:443", 0), 0);
    CHECK_INT(parse("[::1]:99999", 0), -EINVAL);
    CHECK_STR(hp.host, "example.com");
    CHECK_INT(hp.port, 443);
}

TEST(test_host_length_cap)
{
    char text[HOSTPORT_MAX_HOST + 16];
    memset(text, 'a', HOSTPORT_MAX_HOST);
    strcpy(text + HOSTPORT_MAX_HOST, ":80");
    CHECK_INT(parse(text, 0), 0);
    CHECK_INT(strlen(hp.host), HOSTPORT_MAX_HOST);
    memset(text, 'a', HOSTPORT_MAX_HOST + 1);
    strcpy(text + HOSTPORT_MAX_HOST + 1, ":80");
    CHECK_INT(parse(text, 0), -EINVAL);
}

TEST(test_format)
{
    char out[300];
    CHECK_INT(parse("[::1]:7070", 0), 0);
    hostport_format(&hp, out, sizeof(out));
    CHECK_STR(out, "[::1]:7070");
    CHECK_INT(parse("127.0.0.1:80", 0), 0);
    hostport_format(&hp, out, sizeof(out));
    CHECK_STR(out, "127.0.0.1:80");
}

/* A port alone: the same digits-only rule and range, nothing else taken. */
TEST(test_port_alone)
{
    uint16_t port = 7;
    CHECK_INT(hostport_parse_port("2222", 0, &port, cause, sizeof(cause)), 0);
    CHECK_INT(port, 2222);
    CHECK_INT(hostport_parse_port("65535", 0, &port, cause, sizeof(cause)), 0);
    CHECK_INT(port, 65535);
    const char *bad[] = {"70000", "0", "", "-1", "+22", " 22", "22 ", "0x16", "22:", "100000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        port = 7;
        CHECK_INT(hostport_parse_port(bad[i], 0, &port, cause, sizeof(cause)), -EINVAL);
        CHECK_INT(port, 7);
    }
    CHECK_INT(hostport_parse_port("0", HOSTPORT_ALLOW_PORT_0, &port, cause, sizeof(cause)), 0);
    CHECK_INT(port, 0);
    CHECK_INT(hostport_parse_port("70000", 0, &port, cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "out of range") != NULL);
}

RUN_TESTS("hostport", TEST_ENTRY(test_name_and_ipv4), TEST_ENTRY(test_ipv6_in_brackets),
          TEST_ENTRY(test_ipv6_without_brackets_is_refused), TEST_ENTRY(test_port_range),
          TEST_ENTRY(test_malformed), TEST_ENTRY(test_failure_leaves_output_alone),
          TEST_ENTRY(test_host_length_cap), TEST_ENTRY(test_format), TEST_ENTRY(test_port_alone))
