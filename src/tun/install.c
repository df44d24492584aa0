/* Installing the privileged helper (see install.h). */
#include "tun/install.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/child.h"
#include "tun/policy.h"
#include "tun/privileged.h"

#define PATH_LEN 512
#define COPY_CHUNK 65536

static const char *visudo_path(void)
{
    static const char *const paths[] = {"/usr/sbin/visudo", "/sbin/visudo", "/usr/bin/visudo"};
    for (size_t i = 0; i < 3; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

static int trusted_dir(const char *dir, char *cause, size_t cause_len)
{
    struct stat st;
    if (lstat(dir, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (S_ISDIR(st.st_mode) && st.st_uid == 0 && !(st.st_mode & 022))
        return 0;
    snprintf(cause, cause_len,
             "%s is %s: the helper's directory and every one above it must be root's and "
             "writable by no one else",
             dir,
             S_ISLNK(st.st_mode)    ? "a symbolic link"
             : !S_ISDIR(st.st_mode) ? "not a directory"
             : st.st_uid != 0       ? "not owned by root"
                                    : "writable by group or others");
    return -EPERM;
}

int tun_install_path_trusted(const char *dir, char *cause, size_t cause_len)
{
    char copy[PATH_LEN];
    if (dir[0] != '/' || strlen(dir) >= sizeof(copy)) {
        snprintf(cause, cause_len, "%.100s is not an absolute path", dir);
        return -EPERM;
    }
    snprintf(copy, sizeof(copy), "%s", dir);
    int rc = trusted_dir("/", cause, cause_len);
    for (char *slash = copy + 1; rc == 0 && *slash; slash++) {
        if (*slash != '/')
            continue;
        *slash = '\0';
        rc = trusted_dir(copy, cause, cause_len);
        *slash = '/';
    }
    if (rc == 0 && strcmp(copy, "/") != 0)
        rc = trusted_dir(copy, cause, cause_len);
    if (rc < 0 && rc != -EPERM) {
        snprintf(cause, cause_len, "cannot check %s: %s", dir, strerror(-rc));
        rc = -EPERM;
    }
    return rc;
}

int tun_install_add_subnet(struct tun_install_config *c, const char *text, char *cause,
                           size_t cause_len)
{
    if (c->subnet_count == TUN_INSTALL_MAX_SUBNETS) {
        snprintf(cause, cause_len, "at most %d subnets", TUN_INSTALL_MAX_SUBNETS);
        return -EINVAL;
    }
    struct tun_cidr cidr;
    if (tun_cidr_parse(text, &cidr, cause, cause_len) < 0)
        return -EINVAL;
    int rc = tun_policy_route_allowed(&cidr, cause, cause_len);
    if (rc == 0)
        c->subnets[c->subnet_count++] = cidr;
    return rc;
}

int tun_install_rule_name(const char *prefix, const char *user, char *out, size_t out_len)
{
    const char *base = strrchr(prefix, '/');
    base = base ? base + 1 : prefix;
    int n = snprintf(out, out_len, "%s-%s", base, user);
    return n > 0 && (size_t)n < out_len ? 0 : -ENAMETOOLONG;
}

int tun_install_rule_text(const char *prefix, const char *user, char *out, size_t out_len)
{
    int n = snprintf(out, out_len,
                     "# Written by `tether tunnel install`; `tether tunnel uninstall` removes it.\n"
                     "# %s may run only the TUN helper as root: it creates the TUN device,\n"
                     "# its routes and DNS registration, hands them back and exits.\n"
                     "Defaults!%s/tether env_reset\n"
                     "%s ALL=(root) NOPASSWD: %s/tether %s *\n",
                     user, prefix, user, prefix, TUN_HELPER_COMMAND);
    return n > 0 && (size_t)n < out_len ? 0 : -ENAMETOOLONG;
}

struct install_paths {
    char dir[PATH_LEN], binary[PATH_LEN], binary_tmp[PATH_LEN];
    char policy[PATH_LEN], policy_tmp[PATH_LEN];
    char sudoers_dir[PATH_LEN], rule[PATH_LEN], rule_tmp[PATH_LEN];
};

static int make_paths(const struct tun_install_config *c, struct install_paths *p, char *report,
                      size_t report_len)
{
    const char *root = c->root ? c->root : "";
    const char *prefix = c->prefix ? c->prefix : TUN_DEFAULT_PREFIX;
    char rule_name[128];
    if (!tun_prefix_valid(prefix) || !tun_policy_user_valid(c->user) ||
        tun_install_rule_name(prefix, c->user, rule_name, sizeof(rule_name)) < 0) {
        snprintf(report, report_len, "bad prefix \"%s\" or user name \"%s\"", prefix, c->user);
        return -EINVAL;
    }
    if (!getpwnam(c->user)) {
        snprintf(report, report_len, "there is no user \"%s\" on this system", c->user);
        return -EINVAL;
    }
    snprintf(p->dir, sizeof(p->dir), "%s%s", root, prefix);
    snprintf(p->binary, sizeof(p->binary), "%s/tether", p->dir);
    snprintf(p->binary_tmp, sizeof(p->binary_tmp), "%s/.tether.new", p->dir);
    snprintf(p->policy, sizeof(p->policy), "%s/%s", p->dir, TUN_POLICY_FILE);
    snprintf(p->policy_tmp, sizeof(p->policy_tmp), "%s/.%s.new", p->dir, TUN_POLICY_FILE);
    snprintf(p->sudoers_dir, sizeof(p->sudoers_dir), "%s/etc/sudoers.d", root);
    snprintf(p->rule, sizeof(p->rule), "%s/%s", p->sudoers_dir, rule_name);
    snprintf(p->rule_tmp, sizeof(p->rule_tmp), "%s/.%s.new", p->sudoers_dir, rule_name);
    return 0;
}

/* One directory: an existing one is left as it is (the trust check judged
 * it); a new one gets 0755 whatever the umask. */
static int make_dir(const char *path)
{
    if (mkdir(path, 0700) < 0)
        return errno == EEXIST ? 0 : -errno;
    return chmod(path, 0755) < 0 ? -errno : 0;
}

/* mkdir -p, each new directory 0755 (and root's, as root made it). */
static int make_dirs(const char *path)
{
    char copy[PATH_LEN];
    snprintf(copy, sizeof(copy), "%s", path);
    int rc = 0;
    for (char *slash = copy + 1; rc == 0 && *slash; slash++) {
        if (*slash != '/')
            continue;
        *slash = '\0';
        rc = make_dir(copy);
        *slash = '/';
    }
    return rc == 0 ? make_dir(copy) : rc;
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    int rc = in < 0 || out < 0 ? -errno : 0;
    char *chunk = rc == 0 ? malloc(COPY_CHUNK) : NULL;
    ssize_t n = 0;
    while (chunk && (n = read(in, chunk, COPY_CHUNK)) > 0)
        if (write(out, chunk, (size_t)n) != n) {
            rc = -EIO;
            break;
        }
    if (n < 0 || (rc == 0 && !chunk))
        rc = n < 0 ? -errno : -ENOMEM;
    free(chunk);
    if (rc == 0 && geteuid() == 0 && fchown(out, 0, 0) < 0)
        rc = -errno;
    if (rc == 0 && fchmod(out, mode) < 0)
        rc = -errno;
    if (out >= 0 && close(out) < 0 && rc == 0)
        rc = -errno;
    if (in >= 0)
        close(in);
    return rc;
}

static int write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    int rc = write(fd, text, len) == (ssize_t)len ? 0 : -EIO;
    if (rc == 0 && geteuid() == 0 && fchown(fd, 0, 0) < 0)
        rc = -errno;
    if (rc == 0 && fchmod(fd, mode) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* visudo -c -f FILE: 0 when the rule parses. */
static int check_rule(const char *path)
{
    const char *visudo = visudo_path();
    if (!visudo)
        return -ENOENT;
    char *argv[] = {(char *)visudo, "-c", "-q", "-f", (char *)path, NULL};
    char *env[] = {NULL};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = child_spawn(&pid, visudo, 0, &actions, argv, env);
    posix_spawn_file_actions_destroy(&actions);
    if (rc < 0)
        return rc;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EINVAL;
}

static int install_binary(const struct tun_install_config *c, const struct install_paths *p,
                          char *report, size_t report_len)
{
    const char *source = c->source ? c->source : "/proc/self/exe";
    int rc = make_dirs(p->dir);
    if (rc == 0)
        rc = copy_file(source, p->binary_tmp, 0755);
    if (rc == 0 && rename(p->binary_tmp, p->binary) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(p->binary_tmp);
        snprintf(report, report_len, "cannot install %s: %s", p->binary, strerror(-rc));
    }
    return rc;
}

static int install_rule(const struct tun_install_config *c, const struct install_paths *p,
                        char *report, size_t report_len)
{
    const char *prefix = c->prefix ? c->prefix : TUN_DEFAULT_PREFIX;
    char text[1024];
    int rc = tun_install_rule_text(prefix, c->user, text, sizeof(text));
    if (rc == 0)
        rc = make_dirs(p->sudoers_dir);
    if (rc == 0)
        rc = write_text(p->rule_tmp, text, 0440);
    if (rc == 0 && (rc = check_rule(p->rule_tmp)) < 0) {
        unlink(p->rule_tmp);
        snprintf(report, report_len, "%s",
                 rc == -ENOENT ? "visudo is missing (install sudo); no rule written"
                               : "visudo refused the sudoers rule; deleted it");
        return rc;
    }
    if (rc == 0 && rename(p->rule_tmp, p->rule) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(p->rule_tmp);
        snprintf(report, report_len, "cannot write %s: %s", p->rule, strerror(-rc));
    }
    return rc;
}

/* The policy with `c`'s rules for its user (none: the file goes when no
 * user has any), written beside its final place and renamed over it. */
static int store_policy(const struct tun_install_config *c, const struct install_paths *p,
                        int install, char *report, size_t report_len)
{
    struct tun_policy *policy = calloc(1, sizeof(*policy));
    char *text = malloc(TUN_POLICY_MAX_BYTES);
    char why[512] = "out of memory";
    int rc = policy && text ? tun_policy_load(p->policy, 1, policy, why, sizeof(why)) : -ENOMEM;
    if (rc == 0) {
        tun_policy_remove_user(policy, c->user);
        for (size_t i = 0; install && rc == 0 && i < c->subnet_count; i++)
            rc = tun_policy_add(policy, c->user, &c->subnets[i], 0);
        if (rc == 0 && install && c->dns_all)
            rc = tun_policy_add(policy, c->user, NULL, 1);
        snprintf(why, sizeof(why), "%s", rc < 0 ? strerror(-rc) : "");
    }
    if (rc == 0 && policy->count == 0 && unlink(p->policy) < 0 && errno != ENOENT)
        rc = -errno;
    if (rc == 0 && policy->count > 0 &&
        (rc = tun_policy_format(policy, text, TUN_POLICY_MAX_BYTES)) == 0 &&
        (rc = write_text(p->policy_tmp, text, 0644)) == 0 && rename(p->policy_tmp, p->policy) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(p->policy_tmp);
        snprintf(report, report_len, "cannot update the TUN policy %s: %s", p->policy,
                 why[0] ? why : strerror(-rc));
    }
    free(policy);
    free(text);
    return rc;
}

/* On the real system: the prefix and every directory above it. */
static int check_trust(const struct tun_install_config *c, const struct install_paths *p,
                       char *report, size_t report_len)
{
    if (c->root && *c->root)
        return 0; /* a staging tree for a package: its owner is the packager */
    char why[512];
    int rc = tun_install_path_trusted(p->dir, why, sizeof(why));
    if (rc < 0)
        snprintf(report, report_len, "refusing to install the helper: %s", why);
    return rc;
}

static void report_installed(const struct tun_install_config *c, const struct install_paths *p,
                             char *report, size_t report_len)
{
    int n = snprintf(report, report_len,
                     "installed %s (root, 0755), %s (0440, checked by visudo) and %s (0644): %s "
                     "may route ",
                     p->binary, p->rule, p->policy, c->user);
    for (size_t i = 0; i < c->subnet_count && n > 0 && (size_t)n < report_len; i++) {
        char text[TUN_CIDR_TEXT_MAX];
        tun_cidr_format(&c->subnets[i], text, sizeof(text));
        n += snprintf(report + n, report_len - (size_t)n, "%s%s", i ? ", " : "", text);
    }
    if (n > 0 && (size_t)n < report_len)
        snprintf(report + n, report_len - (size_t)n, "%s%s",
                 c->subnet_count ? "" : "no subnet yet (add --subnet CIDR)",
                 c->dns_all ? "; --dns-all allowed" : "");
}

int tun_install(const struct tun_install_config *c, char *report, size_t report_len)
{
    struct install_paths p;
    int rc = make_paths(c, &p, report, report_len);
    if (rc == 0)
        rc = check_trust(c, &p, report, report_len);
    if (rc == 0)
        rc = install_binary(c, &p, report, report_len);
    if (rc == 0)
        rc = check_trust(c, &p, report, report_len);
    if (rc == 0)
        rc = store_policy(c, &p, 1, report, report_len);
    if (rc == 0 && (rc = install_rule(c, &p, report, report_len)) < 0)
        unlink(p.binary);
    if (rc == 0)
        report_installed(c, &p, report, report_len);
    return rc;
}

int tun_uninstall(const struct tun_install_config *c, char *report, size_t report_len)
{
    struct install_paths p;
    int rc = make_paths(c, &p, report, report_len);
    if (rc < 0)
        return rc;
    struct stat st;
    int had_policy = stat(p.policy, &st) == 0;
    char why[1024] = "";
    int policy_rc = store_policy(c, &p, 0, why, sizeof(why));
    int removed = 0;
    const char *paths[] = {p.rule, p.rule_tmp, p.binary, p.binary_tmp};
    for (size_t i = 0; i < 4; i++) {
        if (unlink(paths[i]) == 0)
            removed++;
        else if (errno != ENOENT)
            rc = -errno;
    }
    if (rmdir(p.dir) < 0 && errno != ENOENT && errno != ENOTEMPTY)
        rc = -errno;
    if (policy_rc < 0)
        snprintf(report, report_len, "%s", why);
    else if (rc < 0)
        snprintf(report, report_len, "could not remove everything: %s", strerror(-rc));
    else
        snprintf(report, report_len,
                 removed || had_policy ? "removed %s, %s and %s's rules in %s"
                                       : "nothing was installed",
                 p.binary, p.rule, c->user, p.policy);
    return rc < 0 ? rc : policy_rc;
}

int tun_install_present(const struct tun_install_config *c)
{
    struct install_paths p;
    char report[256];
    if (make_paths(c, &p, report, sizeof(report)) < 0)
        return 0;
    struct stat st;
    return stat(p.binary, &st) == 0 && st.st_uid == 0 && !(st.st_mode & 022) &&
           stat(p.rule, &st) == 0;
}
