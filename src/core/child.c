#include "core/child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/encoding.h"

extern char **environ;

int child_spawnattr_init(posix_spawnattr_t *attr)
{
    int rc = posix_spawnattr_init(attr);
    if (rc != 0)
        return -rc;
    sigset_t all, none;
    sigfillset(&all);
    /* These two cannot be caught or ignored, so they need no reset. */
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    sigemptyset(&none);
    rc = posix_spawnattr_setsigdefault(attr, &all);
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(attr, &none);
    if (rc == 0)
        rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    if (rc != 0) {
        posix_spawnattr_destroy(attr);
        return -rc;
    }
    return 0;
}

int child_spawn(pid_t *pid, const char *path, int search, const posix_spawn_file_actions_t *actions,
                char *const argv[], char *const envp[])
{
    posix_spawnattr_t attr;
    int rc = child_spawnattr_init(&attr);
    if (rc < 0)
        return rc;
    rc = search ? posix_spawnp(pid, path, actions, &attr, argv, envp)
                : posix_spawn(pid, path, actions, &attr, argv, envp);
    posix_spawnattr_destroy(&attr);
    return -rc;
}

static long long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads one ready pipe into its callback: 0 at its end, 1 while open,
 * or the callback's or read's error. */
static int drain(int fd, int (*sink)(void *, const char *, size_t), void *ctx)
{
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : -errno;
    if (n == 0)
        return 0;
    int rc = sink ? sink(ctx, chunk, (size_t)n) : 0;
    secure_wipe(chunk, sizeof(chunk));
    return rc < 0 ? rc : 1;
}

/* Reads both pipes (err_fd < 0: one) until they close or the deadline. */
static int collect(const struct child_run *r, int out_fd, int err_fd)
{
    long long deadline = monotonic_ms() + r->timeout_ms;
    int out_open = 1, err_open = err_fd >= 0;
    while (out_open || err_open) {
        struct pollfd fds[2] = {{out_open ? out_fd : -1, POLLIN, 0},
                                {err_open ? err_fd : -1, POLLIN, 0}};
        long long left = deadline - monotonic_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        int n = poll(fds, 2, (int)left);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n <= 0)
            continue;
        if (out_open && fds[0].revents) {
            int rc = drain(out_fd, r->on_out, r->ctx);
            if (rc < 0)
                return rc;
            out_open = rc;
        }
        if (err_open && fds[1].revents) {
            int rc = drain(err_fd, r->on_err, r->ctx);
            if (rc < 0)
                return rc;
            err_open = rc;
        }
    }
    return 0;
}

static void close_pair(int p[2])
{
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
}

int child_run(const struct child_run *r, int *exit_status)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) < 0 || (!r->merge_stderr && pipe2(err, O_CLOEXEC) < 0)) {
        int rc = -errno;
        close_pair(out);
        return rc;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, r->merge_stderr ? out[1] : err[1], 2);
    if (r->cwd)
        posix_spawn_file_actions_addchdir_np(&actions, r->cwd);
    char *argv[] = {"sh", "-c", (char *)r->command, NULL};
    pid_t pid = 0;
    int rc = child_spawn(&pid, "/bin/sh", 0, &actions, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    out[1] = -1;
    if (err[1] >= 0) {
        close(err[1]);
        err[1] = -1;
    }
    if (rc == 0) {
        if (r->running)
            *r->running = pid;
        rc = collect(r, out[0], err[0]);
        if (rc < 0)
            kill(pid, SIGKILL);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (r->running)
            *r->running = 0;
        *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    close_pair(out);
    close_pair(err);
    return rc;
}
