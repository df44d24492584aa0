/* known_hosts parsing and matching (ssh/known_hosts.c). The hashed lines were
 * made by OpenSSH's `ssh-keygen -H`. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#include "ssh/known_hosts.h"

#define ED1 "AAAAC3NzaC1lZDI1NTE5AAAAIBnuatSWq80+rghx7d5il1IQ7hTvq45cPW6EmeEKZtch"
#define ED2 "AAAAC3NzaC1lZDI1NTE5AAAAIGOH0vUR0zP3/jidbikechHLKzxhm+Xs+0GrEH093qt1"
#define EC1                                                                                        \
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDEacjv95eAlEom2HZLoMsjh6GzMKNA+65Xwv6qH" \
    "hiBXXPcdNx1AA/Fl7sWoT+uZ30lr4BNEsAENLdt4g0SIT54="

static enum known_hosts_result check(const char *text, const char *host, uint16_t port,
                                     const char *type, const char *key, struct known_hosts_hit *hit)
{
    enum known_hosts_result result = KNOWN_HOSTS_UNKNOWN;
    memset(hit, 0, sizeof(*hit));
    known_hosts_check_text(text, strlen(text), "kh", host, port, type, key, &result, hit);
    return result;
}

TEST(host_names)
{
    char name[64];
    known_hosts_host_name(name, sizeof(name), "203.0.113.7", 22);
    CHECK_STR(name, "203.0.113.7");
    known_hosts_host_name(name, sizeof(name), "bastion", 2222);
    CHECK_STR(name, "[bastion]:2222");
}

TEST(patterns)
{
    CHECK(known_hosts_pattern_match("*.example.com", 13, "a.example.com"));
    CHECK(known_hosts_pattern_match("*.EXAMPLE.com", 13, "a.example.COM"));
    CHECK(!known_hosts_pattern_match("*.example.com", 13, "example.com"));
    CHECK(known_hosts_pattern_match("10.0.0.?", 8, "10.0.0.7"));
    CHECK(!known_hosts_pattern_match("10.0.0.?", 8, "10.0.0.17"));
    CHECK(known_hosts_pattern_match("*", 1, "anything"));
    CHECK(known_hosts_pattern_match("a*b*c", 5, "aXXbYYc"));
    CHECK(!known_hosts_pattern_match("a*b*c", 5, "aXXbYY"));
    CHECK(known_hosts_pattern_match("[h]:2222", 8, "[h]:2222"));
}

TEST(match_changed_other_type_unknown)
{
    const char *text = "# comment\n"
                       "\n"
                       "other.example ssh-ed25519 " ED2 "\n"
                       "bastion,203.0.113.7 ssh-ed25519 " ED1 " comment here\n";
    struct known_hosts_hit hit;
    CHECK_INT(check(text, "203.0.113.7", 22, "ssh-ed25519", ED1, &hit), KNOWN_HOSTS_MATCH);
    CHECK_INT(hit.line, 4);
    CHECK_INT(check(text, "bastion", 22, "ssh-ed25519", ED2, &hit), KNOWN_HOSTS_CHANGED);
    CHECK_INT(hit.line, 4);
    CHECK_STR(hit.file, "kh");
    CHECK_INT(check(text, "bastion", 22, "ecdsa-sha2-nistp256", EC1, &hit), KNOWN_HOSTS_OTHER_TYPE);
    CHECK_STR(hit.key_type, "ssh-ed25519");
    CHECK_INT(check(text, "nobody.example", 22, "ssh-ed25519", ED1, &hit), KNOWN_HOSTS_UNKNOWN);
    /* Another port is another host. */
    CHECK_INT(check(text, "bastion", 2222, "ssh-ed25519", ED1, &hit), KNOWN_HOSTS_UNKNOWN);
}

TEST(a_match_beats_a_stale_line)
{
    const char *text = "h ssh-ed25519 " ED2 "\nh ssh-ed25519 " ED1 "\n";
    struct known_hosts_hit hit;
    CHECK_INT(check(text, "h", 22, "ssh-ed25519", ED1, &hit), KNOWN_HOSTS_MATCH);
    CHECK_INT(hit.line, 2);
}

TEST(negation_and_wildcards)
{
    const char *text = "*.vpc.example,!evil.vpc.example ssh-ed25519 " ED1 "\r\n";
    struct known_hosts_hit hit;
    CHECK_INT(check(text, "db.vpc.example", 22, "ssh-ed25519", ED1, &hit), KNOWN_HOSTS_MATCH);
    CHECK_INT(check(text, "evil.vpc.example", 22, "ssh-ed25519", ED1, &hit), KNOWN_HOSTS_UNKNOWN);
}

TEST(hashed_entries)
{
    const char *text =
        "|1|wpXGoD3KGTcy48xVi3pNXg47W9g=|dPoYBTDK2QuN2D/XF/bi/ow3Z58= ssh-ed25519 " ED1 "\n"
        "|1|jYyJyvXjCvZcdHplklNE4Zyth60=|zIZjiFYC+YUK0uzU01FRhF5b4Bs= ssh-ed25519 " ED2 "\n";
    struct known_hosts_hit hit;
    CHECK_INT(check(text, "203.0.113.7", 22, "ssh-ed25519", ED1, &hit), KNOWN_HOSTS_MATCH);
    CHECK_INT(hit.line, 1);
    CHECK_INT(check(text, "bastion.example", 2222, "ssh-ed25519", ED2, &hit), KNOWN_HOSTS_MATCH);
    CHECK_INT(hit.line, 2);
    CHECK_INT(check(text, "bastion.example", 2222, "ssh-ed25519", ED1, &hit), KNOWN_HOSTS_CHANGED);
    CHECK_INT(check(text, "bastion.example", 22, "ssh-ed25519", ED2, &hit), KNOWN_HOSTS_UNKNOWN);
}

TEST(markers)
{
    const char *text = "@cert-authority * ssh-ed25519 " ED2 "\n"
                       "@revoked * ssh-ed25519 " ED1 "\n"
                       "h ssh-ed25519 " ED1 "\n";
    struct known_hosts_hit hit;
    CHECK_INT(check(text, "h", 22, "ssh-ed25519", ED1, &hit), KNOWN_HOSTS_REVOKED);
    CHECK_INT(hit.line, 2);
    /* A CA line is no host key: ED2 for h is simply a changed key. */
    CHECK_INT(check(text, "h", 22, "ssh-ed25519", ED2, &hit), KNOWN_HOSTS_CHANGED);
}

TEST(malformed_lines_are_skipped)
{
    const char *text = "justonefield\n"
                       "host ssh-ed25519\n"
                       "@revoked\n"
                       "|1|nobar ssh-ed25519 " ED1 "\n"
                       "|1|!!!|??? ssh-ed25519 " ED1 "\n"
                       "h ssh-ed25519 not-base64!\n";
    struct known_hosts_hit hit;
    CHECK_INT(check(text, "h", 22, "ssh-ed25519", ED1, &hit), KNOWN_HOSTS_CHANGED);
    CHECK_INT(hit.line, 6);
    CHECK_INT(check(text, "x", 22, "ssh-ed25519", ED1, &hit), KNOWN_HOSTS_UNKNOWN);
}

TEST(append_then_check_file)
{
    char dir[] = "/tmp/tether-known-hosts-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof(path), "%s/a/b/known_hosts", dir);
    char cause[256] = "";
    enum known_hosts_result result = KNOWN_HOSTS_UNKNOWN;
    struct known_hosts_hit hit = {0};
    CHECK_INT(known_hosts_check_file(path, "h", 2222, "ssh-ed25519", ED1, &result, &hit, cause,
                                     sizeof(cause)),
              0); /* missing file: nothing known */
    CHECK_INT(result, KNOWN_HOSTS_UNKNOWN);
    CHECK_INT(known_hosts_append(path, "h", 2222, "ssh-ed25519", ED1, cause, sizeof(cause)), 0);
    CHECK_INT(known_hosts_append(path, "g", 22, "ssh-ed25519", ED2, cause, sizeof(cause)), 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_INT(known_hosts_check_file(path, "h", 2222, "ssh-ed25519", ED1, &result, &hit, cause,
                                     sizeof(cause)),
              0);
    CHECK_INT(result, KNOWN_HOSTS_MATCH);
    CHECK_STR(hit.file, path);
    result = KNOWN_HOSTS_UNKNOWN;
    known_hosts_check_file(path, "g", 22, "ssh-ed25519", ED1, &result, &hit, cause, sizeof(cause));
    CHECK_INT(result, KNOWN_HOSTS_CHANGED);
    CHECK_INT(hit.line, 2);
    char command[300];
    snprintf(command, sizeof(command), "rm -rf %s", dir);
    CHECK(system(command) == 0);
}

RUN_TESTS("known_hosts", TEST_ENTRY(host_names), TEST_ENTRY(patterns),
          TEST_ENTRY(match_changed_other_type_unknown), TEST_ENTRY(a_match_beats_a_stale_line),
          TEST_ENTRY(negation_and_wildcards), TEST_ENTRY(hashed_entries), TEST_ENTRY(markers),
          TEST_ENTRY(malformed_lines_are_skipped), TEST_ENTRY(append_then_check_file))
