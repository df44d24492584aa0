/* The TUN helper's policy (tun/policy.c): the file's parser and writer,
 * what a user's rules allow, and the refusals no policy lifts. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#include "tun/options.h"
#include "tun/policy.h"

static struct tun_policy policy;
static char cause[512];

static int parse(const char *text)
{
    return tun_policy_parse(text, strlen(text), &policy, cause, sizeof(cause));
}

static struct tun_cidr cidr(const char *text)
{
    struct tun_cidr c;
    CHECK_INT(tun_cidr_parse(text, &c, cause, sizeof(cause)), 0);
    return c;
}

/* A request as the helper sees it after its options: routes, addresses. */
static void request(struct tun_config *c, const char *const *subnets, const char *addr4)
{
    tun_config_init(c);
    for (size_t i = 0; subnets[i]; i++)
        CHECK_INT(tun_option_set(c, TUN_OPT_SUBNET, subnets[i], cause, sizeof(cause)), 0);
    if (addr4)
        CHECK_INT(tun_option_set(c, TUN_OPT_ADDRESS, addr4, cause, sizeof(cause)), 0);
    c->dns.enabled = 0;
    CHECK_INT(tun_config_finish(c, cause, sizeof(cause)), 0);
}

TEST(parse_rules_comments_and_blank_lines)
{
    CHECK_INT(parse("# tether\n\nallow alice subnet 10.20.0.0/16\n  \nallow alice dns-all\n"
                    "allow bob subnet fd12:3456::/48"),
              0);
    CHECK_INT(policy.count, 3);
    CHECK_STR(policy.rules[0].user, "alice");
    CHECK_INT(policy.rules[0].subnet.prefix, 16);
    CHECK_INT(policy.rules[1].dns_all, 1);
    CHECK_INT(policy.rules[2].subnet.family, 6);
    CHECK_INT(parse(""), 0);
    CHECK_INT(policy.count, 0);
}

TEST(parse_refuses_anything_unknown)
{
    static const char *const bad[] = {
        "allow alice subnet 10.20.0.1/16\n", /* host bits */
        "allow alice subnet\n",
        "allow alice subnet 10.0.0.0/16 extra\n",
        "allow ALL subnet 10.0.0.0/16\n",
        "allow %admin dns-all\n",
        "allow alice everything\n",
        "deny alice dns-all\n",
        "allow alice dns-all now\n",
        "allow\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT(parse(bad[i]), -EINVAL);
        CHECK_INT(policy.count, 0);
        CHECK(strstr(cause, "line 1") != NULL);
    }
    /* Good lines before a bad one are not kept either. */
    CHECK_INT(parse("allow alice dns-all\nallow bob subnet 10.0.0.0/8\naltow bob dns-all\n"),
              -EINVAL);
    CHECK_INT(policy.count, 0);
    CHECK(strstr(cause, "line 3") != NULL);
    /* A NUL inside, an overlong line, too many rules, too many bytes. */
    CHECK_INT(tun_policy_parse("allow a\0lice dns-all\n", 21, &policy, cause, sizeof(cause)),
              -EINVAL);
    char *big = malloc(TUN_POLICY_MAX_BYTES + 2);
    memset(big, 'a', TUN_POLICY_LINE_MAX + 1);
    big[TUN_POLICY_LINE_MAX + 1] = '\0';
    CHECK_INT(parse(big), -EINVAL);
    size_t n = 0;
    for (int i = 0; i <= TUN_POLICY_MAX_RULES; i++)
        n += (size_t)snprintf(big + n, TUN_POLICY_MAX_BYTES + 2 - n, "allow u%d dns-all\n", i);
    CHECK_INT(parse(big), -EINVAL);
    CHECK(strstr(cause, "too many rules") != NULL);
    memset(big, '\n', TUN_POLICY_MAX_BYTES + 1);
    CHECK_INT(tun_policy_parse(big, TUN_POLICY_MAX_BYTES + 1, &policy, cause, sizeof(cause)),
              -EINVAL);
    free(big);
}

TEST(format_add_remove_round_trip)
{
    struct tun_policy p = {0};
    struct tun_cidr a = cidr("10.20.0.0/16"), b = cidr("2001:db8:1::/48");
    CHECK_INT(tun_policy_add(&p, "alice", &a, 0), 0);
    CHECK_INT(tun_policy_add(&p, "alice", &a, 0), 0); /* kept once */
    CHECK_INT(tun_policy_add(&p, "bob", &b, 0), 0);
    CHECK_INT(tun_policy_add(&p, "alice", NULL, 1), 0);
    CHECK_INT(tun_policy_add(&p, "ALL", NULL, 1), -EINVAL);
    CHECK_INT(p.count, 3);
    char text[1024];
    CHECK_INT(tun_policy_format(&p, text, sizeof(text)), 0);
    CHECK(strstr(text, "allow alice subnet 10.20.0.0/16\nallow bob subnet 2001:db8:1::/48\n"
                       "allow alice dns-all\n") != NULL);
    CHECK_INT(parse(text), 0);
    CHECK_INT(policy.count, 3);
    CHECK_INT(tun_policy_remove_user(&p, "alice"), 2);
    CHECK_INT(p.count, 1);
    CHECK_STR(p.rules[0].user, "bob");
    CHECK_INT(tun_policy_format(&p, text, 20), -ENAMETOOLONG);
}

TEST(policy_allows_only_the_users_subnets)
{
    CHECK_INT(parse("allow alice subnet 10.20.0.0/16\nallow bob subnet 10.30.0.0/16\n"
                    "allow bob dns-all\n"),
              0);
    struct tun_config c;
    static const char *const inside[] = {"10.20.0.0/24", "10.20.5.0/24", NULL};
    request(&c, inside, NULL);
    CHECK_INT(tun_policy_allows(&policy, "alice", &c, cause, sizeof(cause)), 0);
    CHECK_INT(tun_policy_allows(&policy, "bob", &c, cause, sizeof(cause)), -EPERM);
    CHECK_INT(tun_policy_allows(&policy, "carol", &c, cause, sizeof(cause)), -EPERM);
    static const char *const wider[] = {"10.20.0.0/15", NULL};
    request(&c, wider, NULL);
    CHECK_INT(tun_policy_allows(&policy, "alice", &c, cause, sizeof(cause)), -EPERM);
    CHECK(strstr(cause, "10.20.0.0/15") != NULL);
    /* --dns-all (from the command line or a tether.json) needs its rule. */
    request(&c, inside, NULL);
    c.dns.enabled = c.dns.all = 1;
    CHECK_INT(tun_policy_allows(&policy, "alice", &c, cause, sizeof(cause)), -EPERM);
    CHECK(strstr(cause, "--dns-all") != NULL);
    static const char *const bobs[] = {"10.30.1.0/24", NULL};
    request(&c, bobs, NULL);
    c.dns.enabled = c.dns.all = 1;
    CHECK_INT(tun_policy_allows(&policy, "bob", &c, cause, sizeof(cause)), 0);
    /* A top-level domain is nearly --dns-all: it needs the same rule. */
    request(&c, inside, NULL);
    c.dns.enabled = 1;
    CHECK_INT(tun_option_set(&c, TUN_OPT_DNS_DOMAIN, "vpc.internal", cause, sizeof(cause)), 0);
    CHECK_INT(tun_policy_allows(&policy, "alice", &c, cause, sizeof(cause)), 0);
    CHECK_INT(tun_option_set(&c, TUN_OPT_DNS_DOMAIN, "com.", cause, sizeof(cause)), 0);
    CHECK_INT(tun_policy_allows(&policy, "alice", &c, cause, sizeof(cause)), -EPERM);
    CHECK(strstr(cause, "top-level domain \"com\"") != NULL);
    request(&c, bobs, NULL);
    c.dns.enabled = 1;
    CHECK_INT(tun_option_set(&c, TUN_OPT_DNS_DOMAIN, "com", cause, sizeof(cause)), 0);
    CHECK_INT(tun_policy_allows(&policy, "bob", &c, cause, sizeof(cause)), 0);
    /* An empty policy allows nothing. */
    CHECK_INT(parse(""), 0);
    CHECK_INT(tun_policy_allows(&policy, "bob", &c, cause, sizeof(cause)), -EPERM);
}

TEST(routes_never_allowed)
{
    static const char *const refused[] = {
        "0.0.0.0/1",      "128.0.0.0/1",        "10.0.0.0/7",    "127.0.0.0/8",  "127.0.0.1/32",
        "169.254.0.0/16", "169.254.169.254/32", "224.0.0.0/4",   "239.1.0.0/16", "240.0.0.0/8",
        "0.0.0.0/8",      "2000::/3",           "2001:db8::/31", "::1/128",      "fe80::/10",
        "fe80::1/128",    "ff02::/16",          "::ffff:0:0/96", "::/128",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        struct tun_cidr r = cidr(refused[i]);
        CHECK_INT(tun_policy_route_allowed(&r, cause, sizeof(cause)), -EPERM);
    }
    static const char *const fine[] = {"10.0.0.0/8", "172.31.0.0/16", "192.168.7.0/24",
                                       "2001:db8::/32", "fd00:1::/48"};
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        struct tun_cidr r = cidr(fine[i]);
        CHECK_INT(tun_policy_route_allowed(&r, cause, sizeof(cause)), 0);
    }
}

TEST(addresses_and_names_never_allowed)
{
    uint8_t a[16];
    int family;
    CHECK_INT(tun_addr_parse("100.127.255.253", &family, a), 0);
    CHECK_INT(tun_policy_address_allowed(family, a, cause, sizeof(cause)), 0);
    CHECK_INT(tun_addr_parse("100.128.0.1", &family, a), 0);
    CHECK_INT(tun_policy_address_allowed(family, a, cause, sizeof(cause)), -EPERM);
    CHECK_INT(tun_addr_parse("198.19.255.1", &family, a), 0);
    CHECK_INT(tun_policy_address_allowed(family, a, cause, sizeof(cause)), -EPERM);
    CHECK_INT(tun_addr_parse("fd00:7465:7468::1", &family, a), 0);
    CHECK_INT(tun_policy_address_allowed(family, a, cause, sizeof(cause)), 0);
    CHECK_INT(tun_addr_parse("fe80::1", &family, a), 0);
    CHECK_INT(tun_policy_address_allowed(family, a, cause, sizeof(cause)), -EPERM);
    CHECK(tun_policy_device_name_allowed("tether"));
    CHECK(tun_policy_device_name_allowed("tether0"));
    CHECK(tun_policy_device_name_allowed("tetherab12"));
    CHECK(!tun_policy_device_name_allowed("tetherab123"));
    CHECK(!tun_policy_device_name_allowed("2"));
    CHECK(!tun_policy_device_name_allowed("eth0"));
    CHECK(!tun_policy_device_name_allowed("tether-x"));
    CHECK(!tun_policy_device_name_allowed("tetherA"));
}

TEST(fixed_checks_against_the_hosts_networks)
{
    struct tun_host_networks host = {0};
    host.nets[host.count++] = cidr("192.168.1.0/24"); /* eth0's network */
    host.nets[host.count++] = cidr("10.9.9.1/32");    /* a gateway */
    struct tun_config c;
    static const char *const ok[] = {"10.20.0.0/16", NULL};
    request(&c, ok, NULL);
    CHECK_INT(tun_policy_check_fixed(&c, &host, cause, sizeof(cause)), 0);
    static const char *const lan[] = {"192.168.0.0/16", NULL};
    request(&c, lan, NULL);
    CHECK_INT(tun_policy_check_fixed(&c, &host, cause, sizeof(cause)), -EPERM);
    CHECK(strstr(cause, "192.168.1.0/24") != NULL);
    static const char *const gateway[] = {"10.9.0.0/16", NULL};
    request(&c, gateway, NULL);
    CHECK_INT(tun_policy_check_fixed(&c, &host, cause, sizeof(cause)), -EPERM);
    static const char *const metadata[] = {"169.254.169.254/32", NULL};
    request(&c, metadata, NULL);
    CHECK_INT(tun_policy_check_fixed(&c, &host, cause, sizeof(cause)), -EPERM);
    /* The device's address must be CGNAT space, and not the host's. */
    request(&c, ok, "198.19.255.1");
    CHECK_INT(tun_policy_check_fixed(&c, &host, cause, sizeof(cause)), -EPERM);
    host.nets[host.count++] = cidr("100.64.0.0/10");
    request(&c, ok, NULL);
    CHECK_INT(tun_policy_check_fixed(&c, &host, cause, sizeof(cause)), -EPERM);
    host.count--;
    snprintf(c.device.name, sizeof(c.device.name), "2");
    CHECK_INT(tun_policy_check_fixed(&c, &host, cause, sizeof(cause)), -EPERM);
}

TEST(load_checks_the_files_owner_and_mode)
{
    char dir[] = "/tmp/tun-policy-XXXXXX", path[64], link[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/tun-policy", dir);
    snprintf(link, sizeof(link), "%s/link", dir);
    CHECK_INT(tun_policy_load(path, 1, &policy, cause, sizeof(cause)), 0);
    CHECK_INT(tun_policy_load(path, 0, &policy, cause, sizeof(cause)), -ENOENT);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, "allow alice dns-all\n", 20) == 20);
    close(fd);
    CHECK_INT(chmod(path, 0644), 0);
    CHECK_INT(tun_policy_load(path, 0, &policy, cause, sizeof(cause)), 0);
    CHECK_INT(policy.count, 1);
    CHECK_INT(chmod(path, 0664), 0);
    CHECK_INT(tun_policy_load(path, 0, &policy, cause, sizeof(cause)), -EPERM);
    CHECK_INT(policy.count, 0);
    CHECK_INT(chmod(path, 0644), 0);
    CHECK_INT(symlink(path, link), 0);
    CHECK(tun_policy_load(link, 0, &policy, cause, sizeof(cause)) < 0);
    unlink(link);
    unlink(path);
    rmdir(dir);
}

RUN_TESTS("tun_policy", TEST_ENTRY(parse_rules_comments_and_blank_lines),
          TEST_ENTRY(parse_refuses_anything_unknown), TEST_ENTRY(format_add_remove_round_trip),
          TEST_ENTRY(policy_allows_only_the_users_subnets), TEST_ENTRY(routes_never_allowed),
          TEST_ENTRY(addresses_and_names_never_allowed),
          TEST_ENTRY(fixed_checks_against_the_hosts_networks),
          TEST_ENTRY(load_checks_the_files_owner_and_mode))
