/* The "tunnel" section of tether.json (tunnel/tunnel_config.c). */
#include <errno.h>
#include <stdlib.h>

#include "test.h"

#include "tunnel/tunnel_config.h"

static int parse(const char *text, struct tunnel_file_settings *out, char *cause)
{
    return tunnel_config_parse(text, strlen(text), "tether.json", out, cause, 256);
}

TEST(full_section)
{
    struct tunnel_file_settings s;
    char cause[256] = "";
    setenv("HOME", "/home/dev", 1);
    CHECK_INT(parse("{\"app\": {\"name\": \"x\"}, \"tunnel\": {\"host\": \"203.0.113.7\", "
                    "\"user\": \"ec2-user\", \"key\": \"~/.ssh/bastion\", \"port\": 2222, "
                    "\"socks\": \"127.0.0.1:1081\", \"hostKeyFingerprint\": \"SHA256:abc\"}}",
                    &s, cause),
              0);
    CHECK_STR(s.host, "203.0.113.7");
    CHECK_STR(s.user, "ec2-user");
    CHECK_STR(s.key, "/home/dev/.ssh/bastion");
    CHECK_INT(s.port, 2222);
    CHECK_STR(s.socks, "127.0.0.1:1081");
    CHECK_STR(s.host_key_fingerprint, "SHA256:abc");
    tunnel_config_free(&s);
}

TEST(no_tunnel_section)
{
    struct tunnel_file_settings s;
    char cause[256] = "";
    CHECK_INT(parse("{\"events\": {}}", &s, cause), 0);
    CHECK(s.host == NULL && s.port == 0);
}

TEST(unknown_key_names_file_and_key)
{
    struct tunnel_file_settings s;
    char cause[256] = "";
    CHECK_INT(parse("{\"tunnel\": {\"host\": \"h\", \"hots\": \"x\"}}", &s, cause), -EINVAL);
    CHECK(strstr(cause, "tether.json: unknown key \"tunnel.hots\"") != NULL);
    CHECK(s.host == NULL); /* nothing half-parsed is left */
}

TEST(wrong_types)
{
    struct tunnel_file_settings s;
    char cause[256] = "";
    CHECK_INT(parse("{\"tunnel\": {\"port\": \"22\"}}", &s, cause), -EINVAL);
    CHECK(strstr(cause, "\"tunnel.port\" must be an integer") != NULL);
    CHECK_INT(parse("{\"tunnel\": {\"port\": 70000}}", &s, cause), -EINVAL);
    CHECK_INT(parse("{\"tunnel\": {\"host\": 7}}", &s, cause), -EINVAL);
    CHECK(strstr(cause, "\"tunnel.host\" must be a non-empty string") != NULL);
    CHECK_INT(parse("{\"tunnel\": {\"host\": \"\"}}", &s, cause), -EINVAL);
    CHECK_INT(parse("{\"tunnel\": {\"host\": \"a\\u0000b\"}}", &s, cause), -EINVAL);
    CHECK_INT(parse("{\"tunnel\": []}", &s, cause), -EINVAL);
    CHECK_INT(parse("[]", &s, cause), -EINVAL);
}

TEST(syntax_errors_have_a_position)
{
    struct tunnel_file_settings s;
    char cause[256] = "";
    CHECK_INT(parse("{\"tunnel\": {\"host\": }", &s, cause), -EINVAL);
    CHECK(strncmp(cause, "tether.json:1:", 14) == 0);
    CHECK_INT(parse("{\"tunnel\": {}, \"tunnel\": {}}", &s, cause), -EINVAL); /* duplicate */
}

TEST(missing_file_is_not_an_error)
{
    struct tunnel_file_settings s;
    char cause[256] = "";
    int found = 1;
    CHECK_INT(tunnel_config_load("/nonexistent/tether.json", &s, &found, cause, sizeof(cause)), 0);
    CHECK_INT(found, 0);
}

RUN_TESTS("tunnel_config", TEST_ENTRY(full_section), TEST_ENTRY(no_tunnel_section),
          TEST_ENTRY(unknown_key_names_file_and_key), TEST_ENTRY(wrong_types),
          TEST_ENTRY(syntax_errors_have_a_position), TEST_ENTRY(missing_file_is_not_an_error))
