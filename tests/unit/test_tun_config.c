/* The TUN path's configuration: CIDR parsing, options and tether.json keys,
 * the DNS message helpers and the install round trip in a scratch root
 * (tun/cidr.c, tun/options.c, tun/dns_message.c, tun/install.c). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#include "tun/cidr.h"
#include "tun/dns.h"
#include "tun/install.h"
#include "tun/options.h"
#include "tun/policy.h"
#include "tun/privileged.h"
#include "tun/tun.h"

TEST(cidr_parse_strict)
{
    struct tun_cidr c;
    char cause[200];
    CHECK_INT(tun_cidr_parse("10.0.0.0/16", &c, cause, sizeof(cause)), 0);
    CHECK_INT(c.family, 4);
    CHECK_INT(c.prefix, 16);
    CHECK_INT(tun_cidr_parse("2001:db8::/56", &c, cause, sizeof(cause)), 0);
    CHECK_INT(c.family, 6);
    const char *bad[] = {"10.0.0.1/16", "10.0.0.0",     "10.0.0.0/33",   "10.0.0.0/",
                         "10.0.0.0/08", "10.0.0.0/16x", "ten/8",         "2001:db8::1/64",
                         "/8",          "10.0.0.0/-1",  "2001:db8::/129"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(tun_cidr_parse(bad[i], &c, cause, sizeof(cause)) == -EINVAL);
    char text[TUN_CIDR_TEXT_MAX];
    tun_cidr_parse("198.18.2.0/24", &c, cause, sizeof(cause));
    tun_cidr_format(&c, text, sizeof(text));
    CHECK_STR(text, "198.18.2.0/24");
}

TEST(cidr_contains_and_overlap)
{
    struct tun_cidr a, b;
    char cause[200];
    tun_cidr_parse("198.18.2.0/23", &a, cause, sizeof(cause));
    uint8_t in[4] = {198, 18, 3, 255}, out[4] = {198, 18, 4, 0};
    CHECK(tun_cidr_contains(&a, 4, in));
    CHECK(!tun_cidr_contains(&a, 4, out));
    CHECK(!tun_cidr_contains(&a, 6, in));
    tun_cidr_parse("198.18.3.0/24", &b, cause, sizeof(cause));
    CHECK(tun_cidr_overlap(&a, &b) && tun_cidr_overlap(&b, &a));
    tun_cidr_parse("198.18.4.0/24", &b, cause, sizeof(cause));
    CHECK(!tun_cidr_overlap(&a, &b));
    uint8_t sum[4];
    uint8_t base[4] = {10, 0, 0, 255};
    tun_addr_add(4, base, 2, sum);
    CHECK(sum[2] == 1 && sum[3] == 1);
}

TEST(options_apply_and_finish)
{
    struct tun_config c;
    char cause[512];
    tun_config_init(&c);
    CHECK_INT(tun_options_apply(&c, TUN_OPT_SUBNET, "10.0.0.0/16", cause, sizeof(cause)), 0);
    CHECK_INT(tun_options_apply(&c, TUN_OPT_SUBNET, "10.0.1.0/24", cause, sizeof(cause)),
              -EINVAL); /* overlaps */
    CHECK_INT(tun_options_apply(&c, TUN_OPT_SUBNET, "0.0.0.0/0", cause, sizeof(cause)), -EINVAL);
    CHECK_INT(tun_options_apply(&c, TUN_OPT_NAME, "../etc", cause, sizeof(cause)), -EINVAL);
    CHECK_INT(tun_options_apply(&c, TUN_OPT_NAME, "waytoolongname0123", cause, sizeof(cause)),
              -EINVAL);
    CHECK_INT(tun_options_apply(&c, TUN_OPT_MTU, "1000", cause, sizeof(cause)), -EINVAL);
    CHECK_INT(tun_options_apply(&c, TUN_OPT_DNS_DOMAIN, "Vpc.Internal.", cause, sizeof(cause)), 0);
    CHECK_STR(c.dns.domains[0], "vpc.internal");
    CHECK_INT(tun_options_apply(&c, TUN_OPT_DNS_DOMAIN, "bad domain", cause, sizeof(cause)),
              -EINVAL);
    CHECK_INT(tun_config_finish(&c, cause, sizeof(cause)), 0);
    CHECK(c.device.has_ipv4 && !c.device.has_ipv6);
    CHECK_INT(c.dns.resolver_family, 4);
    CHECK(c.dns.resolver[0] == 10 && c.dns.resolver[3] == 2); /* base + 2 */
    CHECK_INT(c.device.peer4[3], 254);
    /* The device's address must lie outside the subnets. */
    tun_config_init(&c);
    tun_options_apply(&c, TUN_OPT_SUBNET, "198.19.0.0/16", cause, sizeof(cause));
    tun_options_apply(&c, TUN_OPT_ADDRESS, "198.19.255.1", cause, sizeof(cause));
    CHECK_INT(tun_config_finish(&c, cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "--tun-address") != NULL);
    CHECK_INT(tun_options_apply(&c, TUN_OPT_ADDRESS, "10.0.0.255", cause, sizeof(cause)), -EINVAL);
}

/* tun_option_set's cause reads after the "--NAME: " the command line's parser
 * puts in front; the helper's tun_options_apply adds that prefix itself. */
TEST(option_causes_and_names)
{
    struct tun_config c;
    char cause[512];
    tun_config_init(&c);
    CHECK_INT(tun_option_set(&c, TUN_OPT_SUBNET, "0.0.0.0/0", cause, sizeof(cause)), -EINVAL);
    CHECK_STR(cause, "0.0.0.0/0 would route everything into the VPC");
    CHECK_INT(tun_option_set(&c, TUN_OPT_MTU, "1000", cause, sizeof(cause)), -EINVAL);
    CHECK_STR(cause, "\"1000\" is not a number from 1280 to 65535");
    CHECK_INT(tun_options_apply(&c, TUN_OPT_MTU, "1000", cause, sizeof(cause)), -EINVAL);
    CHECK_STR(cause, "--tun-mtu: \"1000\" is not a number from 1280 to 65535");
    CHECK_INT(tun_options_apply(&c, TUN_OPT_SUBNET, "10.0.0.0/33", cause, sizeof(cause)), -EINVAL);
    CHECK(strncmp(cause, "--subnet: ", 10) == 0 && !strstr(cause + 10, "--subnet"));
    /* The flags take no value. */
    CHECK_INT(tun_option_set(&c, TUN_OPT_NO_DNS, NULL, cause, sizeof(cause)), 0);
    CHECK_INT(c.dns.enabled, 0);
    CHECK_INT(tun_option_set(&c, TUN_OPT_HOLD_SYN, NULL, cause, sizeof(cause)), 0);
    CHECK_INT(c.hold_syn, 1);
    /* The names match the helper's getopt table, entry by entry. */
    const struct option longs[] = {TUN_LONG_OPTIONS};
    CHECK_INT(sizeof(longs) / sizeof(longs[0]), TUN_OPTION_COUNT);
    for (size_t i = 0; i < TUN_OPTION_COUNT; i++) {
        CHECK_STR(tun_option_name((enum tun_option)longs[i].val), longs[i].name);
        CHECK_INT(longs[i].val, TUN_OPT_SUBNET + (int)i);
    }
    CHECK_STR(tun_option_name((enum tun_option)0), "?");
}

/* The file's TUN keys, read by tunnel/tunnel_config.c, applied here. */
static int apply_text(struct tun_config *c, const char *text, char *cause, size_t cause_len)
{
    struct tunnel_file_settings file;
    int rc = tunnel_config_parse(text, strlen(text), "tether.json", &file, cause, cause_len);
    if (rc == 0)
        rc = tun_options_apply_file(c, &file, "tether.json", cause, cause_len);
    tunnel_config_free(&file);
    return rc;
}

TEST(options_from_tether_json)
{
    const char *text = "{\"tunnel\": {\"host\": \"x\", \"subnets\": [\"10.1.0.0/16\", "
                       "\"2001:db8::/64\"], \"dnsDomains\": [\"corp.example\"], \"tunMtu\": 9000}}";
    struct tun_config c;
    char cause[512];
    tun_config_init(&c);
    CHECK_INT(apply_text(&c, text, cause, sizeof(cause)), 0);
    CHECK_INT(c.device.route_count, 2);
    CHECK_INT(c.device.mtu, 9000);
    CHECK_STR(c.dns.domains[0], "corp.example");
    /* The command line's subnets (and MTU) win over the file's. */
    tun_config_init(&c);
    tun_options_apply(&c, TUN_OPT_SUBNET, "10.9.0.0/16", cause, sizeof(cause));
    tun_options_apply(&c, TUN_OPT_MTU, "1500", cause, sizeof(cause));
    CHECK_INT(apply_text(&c, text, cause, sizeof(cause)), 0);
    CHECK_INT(c.device.route_count, 1);
    CHECK_INT(c.device.mtu, 1500);
    /* Also when the command line gives the default value itself. */
    tun_config_init(&c);
    tun_options_apply(&c, TUN_OPT_MTU, "65535", cause, sizeof(cause));
    CHECK_INT(apply_text(&c, text, cause, sizeof(cause)), 0);
    CHECK_INT(c.device.mtu, 65535);
    tun_config_init(&c);
    CHECK_INT(apply_text(&c, "{\"tunnel\": {\"subnets\": \"10.0.0.0/8\"}}", cause, sizeof(cause)),
              -EINVAL);
    CHECK(strstr(cause, "tunnel.subnets") != NULL);
    /* A value the TUN path refuses names the file and the key. */
    tun_config_init(&c);
    CHECK_INT(apply_text(&c, "{\"tunnel\": {\"subnets\": [\"0.0.0.0/0\"]}}", cause, sizeof(cause)),
              -EINVAL);
    CHECK(strstr(cause, "tether.json: \"tunnel.subnets\"") != NULL);
    tun_config_init(&c);
    CHECK_INT(apply_text(&c, "{\"tunnel\": {\"tunMtu\": \"100\"}}", cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "tunnel.tunMtu") != NULL);
    /* No file, no section: nothing changes. */
    tun_config_init(&c);
    CHECK_INT(apply_text(&c, "{}", cause, sizeof(cause)), 0);
    CHECK_INT(c.device.route_count, 0);
    CHECK_INT(c.device.mtu, TUN_DEFAULT_MTU);
}

static size_t make_query(uint8_t *out, const char *name, uint16_t id)
{
    memset(out, 0, 12);
    out[0] = (uint8_t)(id >> 8), out[1] = (uint8_t)id;
    out[2] = 0x01; /* RD */
    out[5] = 1;
    size_t n = 12;
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        out[n++] = (uint8_t)len;
        memcpy(out + n, p, len);
        n += len;
        p += len + (dot ? 1 : 0);
    }
    out[n++] = 0;
    out[n++] = 0, out[n++] = 1, out[n++] = 0, out[n++] = 1;
    return n;
}

TEST(dns_question_and_errors)
{
    uint8_t q[300], a[300];
    char name[TUN_DNS_NAME_MAX];
    size_t end;
    size_t len = make_query(q, "DB.Vpc.Internal", 0xbeef);
    CHECK_INT(tun_dns_question_name(q, len, name, sizeof(name), &end), 0);
    CHECK_STR(name, "db.vpc.internal");
    CHECK_INT(end, len);
    CHECK(tun_dns_name_in_domain(name, "vpc.internal"));
    CHECK(tun_dns_name_in_domain("vpc.internal", "vpc.internal"));
    CHECK(!tun_dns_name_in_domain("evilvpc.internal", "vpc.internal"));
    CHECK(!tun_dns_name_in_domain("internal", "vpc.internal"));
    for (size_t i = 0; i < len; i++)
        CHECK(tun_dns_question_name(q, i, name, sizeof(name), &end) < 0);
    size_t n = tun_dns_build_error(q, len, 5, a, sizeof(a));
    CHECK_INT(n, len);
    CHECK(a[0] == 0xbe && a[1] == 0xef);
    CHECK_INT(a[2] & 0x80, 0x80);
    CHECK_INT(a[3] & 0x0f, 5);
    /* A compression pointer in a question, a response, two questions. */
    q[12] = 0xc0;
    CHECK(tun_dns_question_name(q, len, name, sizeof(name), &end) < 0);
    len = make_query(q, "a.b", 1);
    q[2] |= 0x80;
    CHECK(tun_dns_question_name(q, len, name, sizeof(name), &end) < 0);
    q[2] &= 0x7f;
    q[5] = 2;
    CHECK(tun_dns_question_name(q, len, name, sizeof(name), &end) < 0);
    /* Truncation keeps header and question, sets TC. */
    len = make_query(q, "x.vpc.internal", 7);
    memcpy(a, q, len);
    a[7] = 3; /* pretend answers follow */
    memset(a + len, 0xaa, 100);
    n = tun_dns_truncate(a, len + 100);
    CHECK_INT(n, len);
    CHECK(a[2] & 0x02);
    CHECK_INT(a[7], 0);
    char domain[TUN_DNS_NAME_MAX];
    CHECK_INT(tun_dns_domain_valid("a..b", domain, sizeof(domain)), -EINVAL);
    CHECK_INT(tun_dns_domain_valid("", domain, sizeof(domain)), -EINVAL);
    CHECK_INT(tun_dns_domain_valid("ec2.internal", domain, sizeof(domain)), 0);
}

static int exists(const char *dir, const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s%s", dir, rel);
    return access(path, F_OK) == 0;
}

TEST(install_round_trip_in_scratch_root)
{
    char root[] = "/tmp/tun-install-XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char source[600];
    snprintf(source, sizeof(source), "%s/source-binary", root);
    FILE *f = fopen(source, "w");
    fputs("#!/bin/sh\n", f);
    fclose(f);
    struct tun_install_config c = {root, "/opt/tether", "nobody", source, {{0}}, 0, 0};
    char report[1024];
    int visudo = access("/usr/sbin/visudo", X_OK) == 0;
    int rc = tun_install(&c, report, sizeof(report));
    if (!visudo) {
        CHECK_INT(rc, -ENOENT);
        CHECK(!exists(root, "/opt/tether/tether"));
    } else {
        CHECK_INT(rc, 0);
        CHECK(exists(root, "/opt/tether/tether"));
        CHECK(exists(root, "/etc/sudoers.d/tether-nobody"));
        struct stat st;
        char path[600];
        snprintf(path, sizeof(path), "%s/etc/sudoers.d/tether-nobody", root);
        CHECK_INT(stat(path, &st), 0);
        CHECK_INT(st.st_mode & 0777, 0440);
        snprintf(path, sizeof(path), "%s/opt/tether/tether", root);
        CHECK_INT(stat(path, &st), 0);
        CHECK_INT(st.st_mode & 0777, 0755);
        CHECK(tun_install_present(&c) == (geteuid() == 0));
    }
    CHECK_INT(tun_uninstall(&c, report, sizeof(report)), 0);
    CHECK(!exists(root, "/opt/tether/tether"));
    CHECK(!exists(root, "/opt/tether"));
    CHECK(!exists(root, "/etc/sudoers.d/tether-nobody"));
    CHECK_INT(tun_uninstall(&c, report, sizeof(report)), 0);
    CHECK_STR(report, "nothing was installed");
    unlink(source);
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/etc/sudoers.d", root);
    rmdir(dir);
    snprintf(dir, sizeof(dir), "%s/etc", root);
    rmdir(dir);
    snprintf(dir, sizeof(dir), "%s/opt", root);
    rmdir(dir);
    CHECK_INT(rmdir(root), 0);
}

TEST(install_rule_and_names)
{
    char text[1024], name[64];
    CHECK_INT(tun_install_rule_text("/opt/tether", "bob", text, sizeof(text)), 0);
    CHECK(strstr(text, "bob ALL=(root) NOPASSWD: /opt/tether/tether tun-helper *\n") != NULL);
    CHECK_INT(tun_install_rule_name("/opt/tether-test", "bob", name, sizeof(name)), 0);
    CHECK_STR(name, "tether-test-bob");
    CHECK(!tun_policy_user_valid("bob smith"));
    CHECK(!tun_policy_user_valid("ALL,root"));
    CHECK(!tun_policy_user_valid("-x"));
    CHECK(!tun_policy_user_valid("ALL"));
    CHECK(!tun_policy_user_valid("%wheel"));
    CHECK(!tun_policy_user_valid("Bob"));
    CHECK(tun_policy_user_valid("ec2-user"));
    CHECK(!tun_prefix_valid("opt/tether"));
    CHECK(!tun_prefix_valid("/opt/../etc"));
    CHECK(!tun_prefix_valid("/opt/te ther"));
    CHECK(tun_prefix_valid("/opt/tether"));
}

RUN_TESTS("tun_config", TEST_ENTRY(cidr_parse_strict), TEST_ENTRY(cidr_contains_and_overlap),
          TEST_ENTRY(options_apply_and_finish), TEST_ENTRY(option_causes_and_names),
          TEST_ENTRY(options_from_tether_json), TEST_ENTRY(dns_question_and_errors),
          TEST_ENTRY(install_round_trip_in_scratch_root), TEST_ENTRY(install_rule_and_names))
