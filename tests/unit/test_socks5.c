/* SOCKS5 parser and reply encoding (tunnel/socks5.c). */
#include <errno.h>

#include "test.h"

#include "tunnel/socks5.h"

/* Every strict prefix of a complete message must ask for more bytes. */
static int prefixes_need_more_request(const uint8_t *msg, size_t len)
{
    struct socks5_request r;
    for (size_t i = 0; i < len; i++)
        if (socks5_parse_request(msg, i, &r, NULL, NULL) != SOCKS5_NEED_MORE)
            return 0;
    return 1;
}

TEST(greeting_no_auth)
{
    const uint8_t msg[] = {5, 1, 0};
    struct socks5_greeting g;
    CHECK_INT(socks5_parse_greeting(msg, 0, &g, NULL), SOCKS5_NEED_MORE);
    CHECK_INT(socks5_parse_greeting(msg, 1, &g, NULL), SOCKS5_NEED_MORE);
    CHECK_INT(socks5_parse_greeting(msg, 2, &g, NULL), SOCKS5_NEED_MORE);
    CHECK_INT(socks5_parse_greeting(msg, 3, &g, NULL), 3);
    CHECK_INT(g.method_count, 1);
    CHECK(socks5_greeting_offers(&g, SOCKS5_METHOD_NONE));
    CHECK(!socks5_greeting_offers(&g, SOCKS5_METHOD_USERPASS));
}

TEST(greeting_several_methods_and_pipelined_bytes)
{
    const uint8_t msg[] = {5, 3, 0, 1, 2, 5, 1, 0};
    struct socks5_greeting g;
    CHECK_INT(socks5_parse_greeting(msg, sizeof(msg), &g, NULL), 5);
    CHECK(socks5_greeting_offers(&g, SOCKS5_METHOD_USERPASS));
}

TEST(greeting_rejects_bad_version_and_zero_methods)
{
    const char *error = NULL;
    struct socks5_greeting g;
    const uint8_t socks4[] = {4, 1, 0, 80, 127, 0, 0, 1, 0};
    CHECK_INT(socks5_parse_greeting(socks4, sizeof(socks4), &g, &error), SOCKS5_INVALID);
    CHECK_STR(error, "SOCKS4 is not supported");
    const uint8_t http[] = "GET / HTTP/1.1\r\n";
    CHECK_INT(socks5_parse_greeting(http, 1, &g, &error), SOCKS5_INVALID);
    const uint8_t none[] = {5, 0};
    CHECK_INT(socks5_parse_greeting(none, 2, &g, &error), SOCKS5_INVALID);
    CHECK_STR(error, "greeting offers no methods");
}

TEST(greeting_255_methods)
{
    uint8_t msg[2 + 255];
    msg[0] = 5;
    msg[1] = 255;
    for (int i = 0; i < 255; i++)
        msg[2 + i] = (uint8_t)i;
    struct socks5_greeting g;
    CHECK_INT(socks5_parse_greeting(msg, sizeof(msg) - 1, &g, NULL), SOCKS5_NEED_MORE);
    CHECK_INT(socks5_parse_greeting(msg, sizeof(msg), &g, NULL), SOCKS5_GREETING_MAX);
}

TEST(userpass)
{
    const uint8_t msg[] = {1, 3, 'b', 'o', 'b', 2, 'p', 'w'};
    struct socks5_userpass up;
    for (size_t i = 0; i < sizeof(msg); i++)
        CHECK_INT(socks5_parse_userpass(msg, i, &up, NULL), SOCKS5_NEED_MORE);
    CHECK_INT(socks5_parse_userpass(msg, sizeof(msg), &up, NULL), 8);
    CHECK_INT(up.user_len, 3);
    CHECK(memcmp(up.user, "bob", 3) == 0);
    CHECK_INT(up.password_len, 2);
    CHECK(memcmp(up.password, "pw", 2) == 0);
}

TEST(userpass_rejects)
{
    struct socks5_userpass up;
    const char *error = NULL;
    const uint8_t bad_version[] = {5, 1, 'a', 1, 'b'};
    CHECK_INT(socks5_parse_userpass(bad_version, 5, &up, &error), SOCKS5_INVALID);
    const uint8_t empty_user[] = {1, 0, 1, 'b'};
    CHECK_INT(socks5_parse_userpass(empty_user, 4, &up, &error), SOCKS5_INVALID);
    CHECK_STR(error, "empty user name");
    const uint8_t empty_password[] = {1, 1, 'a', 0};
    CHECK_INT(socks5_parse_userpass(empty_password, 4, &up, &error), SOCKS5_INVALID);
    CHECK_STR(error, "empty password");
}

TEST(request_ipv4)
{
    const uint8_t msg[] = {5, 1, 0, 1, 198, 18, 2, 2, 0x1f, 0x90};
    struct socks5_request r;
    char host[SOCKS5_HOST_MAX];
    CHECK(prefixes_need_more_request(msg, sizeof(msg)));
    CHECK_INT(socks5_parse_request(msg, sizeof(msg), &r, NULL, NULL), 10);
    CHECK_INT(r.command, SOCKS5_CMD_CONNECT);
    CHECK_INT(r.port, 8080);
    CHECK_INT(socks5_request_host(&r, host), 0);
    CHECK_STR(host, "198.18.2.2");
}

TEST(request_ipv6)
{
    const uint8_t msg[] = {5, 1, 0, 4, 0x20, 0x01, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 80};
    struct socks5_request r;
    char host[SOCKS5_HOST_MAX];
    CHECK(prefixes_need_more_request(msg, sizeof(msg)));
    CHECK_INT(socks5_parse_request(msg, sizeof(msg), &r, NULL, NULL), 22);
    CHECK_INT(socks5_request_host(&r, host), 0);
    CHECK_STR(host, "2001:2:0:2::2");
    CHECK_INT(r.port, 80);
}

TEST(request_domain)
{
    const uint8_t msg[] = {5, 1, 0, 3, 7, 'd', 'b', '.', 'v', 'p', 'c', '1', 0x15, 0x38, 0xaa};
    struct socks5_request r;
    char host[SOCKS5_HOST_MAX];
    CHECK(prefixes_need_more_request(msg, 14));
    CHECK_INT(socks5_parse_request(msg, sizeof(msg), &r, NULL, NULL), 14);
    CHECK_INT(socks5_request_host(&r, host), 0);
    CHECK_STR(host, "db.vpc1");
    CHECK_INT(r.port, 5432);
}

TEST(request_longest_domain)
{
    uint8_t msg[SOCKS5_REQUEST_MAX];
    msg[0] = 5, msg[1] = 1, msg[2] = 0, msg[3] = 3, msg[4] = 255;
    memset(msg + 5, 'a', 255);
    msg[260] = 0, msg[261] = 22;
    struct socks5_request r;
    char host[SOCKS5_HOST_MAX];
    CHECK_INT(socks5_parse_request(msg, sizeof(msg), &r, NULL, NULL), SOCKS5_REQUEST_MAX);
    CHECK_INT(socks5_request_host(&r, host), 0);
    CHECK_INT(strlen(host), 255);
}

TEST(request_domain_with_nul_is_refused_as_host)
{
    const uint8_t msg[] = {5, 1, 0, 3, 3, 'a', 0, 'b', 0, 80};
    struct socks5_request r;
    char host[SOCKS5_HOST_MAX];
    CHECK_INT(socks5_parse_request(msg, sizeof(msg), &r, NULL, NULL), 10);
    CHECK_INT(socks5_request_host(&r, host), -EINVAL);
}

TEST(request_errors_carry_reply_codes)
{
    struct socks5_request r;
    int reply = 99;
    const char *error = NULL;
    const uint8_t bad_version[] = {4, 1, 0, 1};
    CHECK_INT(socks5_parse_request(bad_version, 4, &r, &reply, &error), SOCKS5_INVALID);
    CHECK_INT(reply, -1);
    const uint8_t bad_command[] = {5, 9, 0, 1};
    CHECK_INT(socks5_parse_request(bad_command, 2, &r, &reply, &error), SOCKS5_INVALID);
    CHECK_INT(reply, SOCKS5_REPLY_COMMAND_NOT_SUPPORTED);
    const uint8_t bad_reserved[] = {5, 1, 7, 1};
    CHECK_INT(socks5_parse_request(bad_reserved, 3, &r, &reply, &error), SOCKS5_INVALID);
    CHECK_INT(reply, SOCKS5_REPLY_GENERAL_FAILURE);
    const uint8_t bad_atyp[] = {5, 1, 0, 2, 1, 2, 3, 4, 0, 80};
    CHECK_INT(socks5_parse_request(bad_atyp, 4, &r, &reply, &error), SOCKS5_INVALID);
    CHECK_INT(reply, SOCKS5_REPLY_ADDRESS_TYPE_NOT_SUPPORTED);
    const uint8_t empty_domain[] = {5, 1, 0, 3, 0, 0, 80};
    CHECK_INT(socks5_parse_request(empty_domain, 7, &r, &reply, &error), SOCKS5_INVALID);
    CHECK_STR(error, "empty domain name");
}

TEST(request_bind_and_udp_parse_for_a_clean_refusal)
{
    const uint8_t bind[] = {5, 2, 0, 1, 0, 0, 0, 0, 0, 0};
    const uint8_t udp[] = {5, 3, 0, 1, 0, 0, 0, 0, 0, 0};
    struct socks5_request r;
    CHECK_INT(socks5_parse_request(bind, sizeof(bind), &r, NULL, NULL), 10);
    CHECK_INT(r.command, SOCKS5_CMD_BIND);
    CHECK_INT(socks5_parse_request(udp, sizeof(udp), &r, NULL, NULL), 10);
    CHECK_INT(r.command, SOCKS5_CMD_UDP_ASSOCIATE);
}

TEST(encoders)
{
    uint8_t two[2];
    socks5_encode_method(two, SOCKS5_METHOD_NO_ACCEPTABLE);
    CHECK(two[0] == 5 && two[1] == 0xff);
    socks5_encode_userpass_status(two, 0);
    CHECK(two[0] == 1 && two[1] == 1);
    socks5_encode_userpass_status(two, 1);
    CHECK(two[0] == 1 && two[1] == 0);
    uint8_t reply[SOCKS5_REPLY_SIZE];
    CHECK_INT(socks5_encode_reply(reply, SOCKS5_REPLY_CONNECTION_REFUSED), 10);
    const uint8_t expected[] = {5, 5, 0, 1, 0, 0, 0, 0, 0, 0};
    CHECK(memcmp(reply, expected, 10) == 0);
    CHECK_STR(socks5_reply_name(SOCKS5_REPLY_TTL_EXPIRED), "TTL expired");
    CHECK_STR(socks5_reply_name(0x42), "unassigned");
}

TEST(ssh_failure_mapping)
{
    CHECK_INT(socks5_reply_for_ssh_failure(2, "Connection refused"),
              SOCKS5_REPLY_CONNECTION_REFUSED);
    CHECK_INT(socks5_reply_for_ssh_failure(2, "No route to host"), SOCKS5_REPLY_HOST_UNREACHABLE);
    CHECK_INT(socks5_reply_for_ssh_failure(2, "Network is unreachable"),
              SOCKS5_REPLY_NETWORK_UNREACHABLE);
    CHECK_INT(socks5_reply_for_ssh_failure(2, "Connection timed out"), SOCKS5_REPLY_TTL_EXPIRED);
    CHECK_INT(socks5_reply_for_ssh_failure(2, "Name or service not known"),
              SOCKS5_REPLY_HOST_UNREACHABLE);
    CHECK_INT(socks5_reply_for_ssh_failure(2, "open failed"), SOCKS5_REPLY_HOST_UNREACHABLE);
    CHECK_INT(socks5_reply_for_ssh_failure(1, "open failed"), SOCKS5_REPLY_NOT_ALLOWED);
    CHECK_INT(socks5_reply_for_ssh_failure(4, "no more sessions"), SOCKS5_REPLY_GENERAL_FAILURE);
    CHECK_INT(socks5_reply_for_ssh_failure(2, NULL), SOCKS5_REPLY_HOST_UNREACHABLE);
}

RUN_TESTS("socks5", TEST_ENTRY(greeting_no_auth),
          TEST_ENTRY(greeting_several_methods_and_pipelined_bytes),
          TEST_ENTRY(greeting_rejects_bad_version_and_zero_methods),
          TEST_ENTRY(greeting_255_methods), TEST_ENTRY(userpass), TEST_ENTRY(userpass_rejects),
          TEST_ENTRY(request_ipv4), TEST_ENTRY(request_ipv6), TEST_ENTRY(request_domain),
          TEST_ENTRY(request_longest_domain),
          TEST_ENTRY(request_domain_with_nul_is_refused_as_host),
          TEST_ENTRY(request_errors_carry_reply_codes),
          TEST_ENTRY(request_bind_and_udp_parse_for_a_clean_refusal), TEST_ENTRY(encoders),
          TEST_ENTRY(ssh_failure_mapping))
