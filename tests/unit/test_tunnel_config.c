/* The "tunnel" section of tether.json, its one reader (tunnel/tunnel_config.c). */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

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

TEST(tun_keys_are_read_here)
{
    struct tunnel_file_settings s;
    char cause[256] = "";
    CHECK_INT(parse("{\"tunnel\": {\"subnets\": [\"10.1.0.0/16\", \"2001:db8::/64\"], "
                    "\"dnsDomains\": [\"corp.example\"], \"dnsServer\": \"10.1.0.2\", "
                    "\"dnsAll\": true, \"tunMtu\": 9000}}",
                    &s, cause),
              0);
    CHECK_INT(s.subnet_count, 2);
    CHECK_STR(s.subnets[0], "10.1.0.0/16");
    CHECK_STR(s.subnets[1], "2001:db8::/64");
    CHECK_INT(s.dns_domain_count, 1);
    CHECK_STR(s.dns_domains[0], "corp.example");
    CHECK_STR(s.dns_server, "10.1.0.2");
    CHECK_INT(s.dns_all, 1);
    CHECK_STR(s.tun_mtu, "9000");
    tunnel_config_free(&s);
    CHECK_INT(parse("{\"tunnel\": {\"tunMtu\": \"1500\", \"dnsAll\": false}}", &s, cause), 0);
    CHECK_STR(s.tun_mtu, "1500");
    CHECK_INT(s.dns_all, 0);
    tunnel_config_free(&s);
}

TEST(tun_keys_wrong_types)
{
    struct tunnel_file_settings s;
    char cause[256] = "";
    CHECK_INT(parse("{\"tunnel\": {\"subnets\": \"10.0.0.0/8\"}}", &s, cause), -EINVAL);
    CHECK(strstr(cause, "\"tunnel.subnets\" must be an array of strings") != NULL);
    CHECK_INT(parse("{\"tunnel\": {\"dnsDomains\": [\"a\", 7]}}", &s, cause), -EINVAL);
    CHECK(strstr(cause, "\"tunnel.dnsDomains\" must be an array of strings") != NULL);
    CHECK(s.dns_domain_count == 0); /* nothing half-parsed is left */
    CHECK_INT(parse("{\"tunnel\": {\"dnsAll\": \"yes\"}}", &s, cause), -EINVAL);
    CHECK(strstr(cause, "\"tunnel.dnsAll\" must be true or false") != NULL);
    CHECK_INT(parse("{\"tunnel\": {\"tunMtu\": 1.5}}", &s, cause), -EINVAL);
    char many[4096] = "{\"tunnel\": {\"subnets\": [";
    for (int i = 0; i <= TUNNEL_FILE_LIST_MAX; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s\"10.%d.0.0/16\"",
                 i ? ", " : "", i);
    strcat(many, "]}}");
    CHECK_INT(parse(many, &s, cause), -EINVAL);
    CHECK(strstr(cause, "more than 64 entries") != NULL);
}

TEST(file_is_read_with_a_cap)
{
    char path[] = "/tmp/tunnel-config-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "{\"tunnel\": {\"host\": \"bastion\", \"subnets\": [\"10.1.0.0/16\"]}}";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    struct tunnel_file_settings s;
    char cause[256] = "";
    int found = 0;
    CHECK_INT(tunnel_config_load(path, &s, &found, cause, sizeof(cause)), 0);
    CHECK_INT(found, 1);
    CHECK_STR(s.host, "bastion");
    CHECK_STR(s.subnets[0], "10.1.0.0/16");
    tunnel_config_free(&s);
    /* Past 1 MiB the file is refused, whatever it holds. */
    CHECK(ftruncate(fd, 1024 * 1024 + 1) == 0);
    CHECK_INT(tunnel_config_load(path, &s, &found, cause, sizeof(cause)), -EFBIG);
    CHECK(strstr(cause, "larger than 1 MiB") != NULL);
    close(fd);
    unlink(path);
}

RUN_TESTS("tunnel_config", TEST_ENTRY(full_section), TEST_ENTRY(no_tunnel_section),
          TEST_ENTRY(unknown_key_names_file_and_key), TEST_ENTRY(wrong_types),
          TEST_ENTRY(syntax_errors_have_a_position), TEST_ENTRY(missing_file_is_not_an_error),
          TEST_ENTRY(tun_keys_are_read_here), TEST_ENTRY(tun_keys_wrong_types),
          TEST_ENTRY(file_is_read_with_a_cap))
