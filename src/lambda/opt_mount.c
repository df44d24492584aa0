/* A deployed function's layers at a real /opt: the sandbox's runtime is
 * started through `tether lambda __opt DIR PROGRAM ARGS...`, which gives
 * itself a private mount namespace (unshare CLONE_NEWNS, with CLONE_NEWUSER
 * when it is not root), bind-mounts DIR on /opt there, rewrites the layer
 * variables (PATH, LD_LIBRARY_PATH, NODE_PATH, PYTHONPATH) and the program
 * from DIR to /opt, and executes the program. Nothing outside that process
 * and its children sees the mount. When the kernel refuses (no user
 * namespaces, no /opt to mount on), the program runs as it is, with the
 * variables pointing at DIR: the relocated fallback docs/lambda.md
 * describes. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "lambda/lambda_internal.h"

#define OPT "/opt"

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int rc = n == (ssize_t)strlen(text) ? 0 : -EIO;
    close(fd);
    return rc;
}

/* A user namespace that maps only the caller's own ids, so a user who is not
 * root may mount in it and gains nothing else. */
static int own_user_namespace(void)
{
    char map[64];
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
        return -errno;
    snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
    int rc = write_text("/proc/self/uid_map", map);
    if (rc == 0)
        rc = write_text("/proc/self/setgroups", "deny");
    snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
    return rc == 0 ? write_text("/proc/self/gid_map", map) : rc;
}

static int mount_opt(const char *dir)
{
    struct stat st;
    if (stat(OPT, &st) < 0 || !S_ISDIR(st.st_mode))
        return -ENOENT;
    int rc = geteuid() == 0 && unshare(CLONE_NEWNS) == 0 ? 0 : own_user_namespace();
    if (rc < 0)
        return rc;
    /* Private first, so the bind mount never propagates to the host. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount(dir, OPT, NULL, MS_BIND | MS_REC, NULL) < 0)
        return -errno;
    return 0;
}

/* Every occurrence of dir in the variable becomes /opt. */
static void rewrite_variable(const char *name, const char *dir)
{
    const char *value = getenv(name);
    size_t dir_len = strlen(dir);
    if (!value || !strstr(value, dir))
        return;
    struct buf b = BUF_INIT;
    for (const char *p = value, *hit; *p; p = hit + dir_len) {
        hit = strstr(p, dir);
        if (!hit) {
            buf_append_str(&b, p);
            break;
        }
        buf_append(&b, p, (size_t)(hit - p));
        buf_append_str(&b, OPT);
    }
    if (buf_terminate(&b) == 0)
        setenv(name, buf_bytes(&b), 1);
    buf_free(&b);
}

int lambda_opt_exec(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: tether lambda __opt DIR PROGRAM [ARGS...]\n");
        return 2;
    }
    const char *dir = argv[2];
    char **program = argv + 3;
    char moved[4096];
    if (mount_opt(dir) == 0) {
        static const char *const names[] = {"PATH", "LD_LIBRARY_PATH", "NODE_PATH", "PYTHONPATH"};
        for (size_t i = 0; i < 4; i++)
            rewrite_variable(names[i], dir);
        size_t len = strlen(dir);
        if (strncmp(program[0], dir, len) == 0 && program[0][len] == '/') {
            snprintf(moved, sizeof(moved), OPT "%s", program[0] + len);
            program[0] = moved;
        }
    }
    /* tether's main ignores SIGPIPE; a runtime starts with the default. */
    signal(SIGPIPE, SIG_DFL);
    execvp(program[0], program);
    /* Lambda's words for a bootstrap that cannot be started. */
    fprintf(stderr, "fork/exec %s: %s\n", program[0], strerror(errno));
    return 127;
}

char **lambda_opt_argv(const char *self, const char *dir, char *const *argv)
{
    size_t n = 0;
    while (argv[n])
        n++;
    char **out = calloc(n + 5, sizeof(*out));
    if (!out)
        return NULL;
    out[0] = (char *)self;
    out[1] = (char *)"lambda";
    out[2] = (char *)"__opt";
    out[3] = (char *)dir;
    for (size_t i = 0; i < n; i++)
        out[4 + i] = argv[i];
    return out;
}
