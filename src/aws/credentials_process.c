/* Running a credential_process and reading its JSON (see
 * credentials_process.h). */
#include "aws/credentials_process.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/child.h"
#include "core/encoding.h"

extern char **environ;

static const char *json_member_string(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int aws_credentials_parse_process_output(const char *json, size_t len, struct aws_credentials *out,
                                         char *cause, size_t cause_len)
{
    json_error_t error;
    json_t *root = json_loadb(json, len, 0, &error);
    int rc = -EINVAL;
    if (!json_is_object(root)) {
        snprintf(cause, cause_len, "credential_process printed no JSON object (%s)",
                 root ? "not an object" : error.text);
        goto out;
    }
    json_t *version = json_object_get(root, "Version");
    if (!json_is_integer(version) || json_integer_value(version) != 1) {
        snprintf(cause, cause_len, "credential_process output: \"Version\" must be 1");
        goto out;
    }
    const char *id = json_member_string(root, "AccessKeyId");
    const char *secret = json_member_string(root, "SecretAccessKey");
    const char *token = json_member_string(root, "SessionToken");
    const char *expiration = json_member_string(root, "Expiration");
    if (!id || !secret) {
        snprintf(cause, cause_len,
                 "credential_process output lacks \"AccessKeyId\" or \"SecretAccessKey\"");
        goto out;
    }
    char why[160];
    if (aws_credentials_set(out, id, secret, token, why, sizeof(why)) < 0) {
        snprintf(cause, cause_len, "credential_process output: %s", why);
        goto out;
    }
    if (expiration && aws_parse_iso8601(expiration, &out->expiration) < 0) {
        aws_credentials_wipe(out);
        snprintf(cause, cause_len, "credential_process output: bad \"Expiration\" \"%.40s\"",
                 expiration);
        goto out;
    }
    rc = 0;
out:
    /* The parsed strings held secrets too. */
    if (root) {
        json_t *s = json_object_get(root, "SecretAccessKey");
        if (json_is_string(s))
            secure_wipe((char *)json_string_value(s), json_string_length(s));
        s = json_object_get(root, "SessionToken");
        if (json_is_string(s))
            secure_wipe((char *)json_string_value(s), json_string_length(s));
    }
    json_decref(root);
    return rc;
}

/* ---- running it ---- */

struct child_output {
    char *out;
    size_t out_len;
    char err[AWS_PROCESS_MAX_STDERR + 1];
    size_t err_len;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads one ready pipe; returns 0 at EOF, 1 while open, -errno. */
static int drain(int fd, char *buf, size_t cap, size_t *len, int *overflow)
{
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : -errno;
    if (n == 0)
        return 0;
    size_t room = cap - *len;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(buf + *len, chunk, take);
    *len += take;
    if (take < (size_t)n)
        *overflow = 1;
    secure_wipe(chunk, sizeof(chunk));
    return 1;
}

/* Collects both pipes until they close or the deadline passes. */
static int collect(int out_fd, int err_fd, unsigned timeout_ms, struct child_output *o)
{
    long long deadline = now_ms() + timeout_ms;
    int out_open = 1, err_open = 1, overflow = 0;
    while (out_open || err_open) {
        struct pollfd fds[2] = {{out_open ? out_fd : -1, POLLIN, 0},
                                {err_open ? err_fd : -1, POLLIN, 0}};
        long long left = deadline - now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        int n = poll(fds, 2, (int)left);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n <= 0)
            continue;
        if (out_open && fds[0].revents) {
            out_open = drain(out_fd, o->out, AWS_PROCESS_MAX_OUTPUT, &o->out_len, &overflow) > 0;
            if (overflow)
                return -EFBIG;
        }
        if (err_open && fds[1].revents) {
            int ignored = 0;
            err_open = drain(err_fd, o->err, AWS_PROCESS_MAX_STDERR, &o->err_len, &ignored) > 0;
        }
    }
    return 0;
}

static int spawn(const char *command, int out_pipe[2], int err_pipe[2], pid_t *pid)
{
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
    posix_spawn_file_actions_addclose(&actions, err_pipe[0]);
    char *argv[] = {"sh", "-c", (char *)command, NULL};
    /* Default signals and an empty mask: tether ignores SIGPIPE itself. */
    int rc = child_spawn(pid, "/bin/sh", 0, &actions, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

/* Runs the command; on success o->out holds its standard output. */
static int run(const char *command, unsigned timeout_ms, struct child_output *o, int *exit_status)
{
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(err_pipe, O_CLOEXEC) < 0) {
        int err = errno;
        close(out_pipe[0]);
        close(out_pipe[1]);
        return -err;
    }
    pid_t pid;
    int rc = spawn(command, out_pipe, err_pipe, &pid);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (rc == 0) {
        rc = collect(out_pipe[0], err_pipe[0], timeout_ms, o);
        if (rc < 0)
            kill(pid, SIGKILL);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    close(out_pipe[0]);
    close(err_pipe[0]);
    return rc;
}

/* The first line of what the process said on stderr, printable. */
static void first_line(const struct child_output *o, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < o->err_len && o->err[i] != '\n' && n + 1 < cap && n < 200; i++)
        out[n++] = o->err[i] >= 0x20 && o->err[i] < 0x7f ? o->err[i] : ' ';
    out[n] = '\0';
}

int aws_credentials_from_process(const char *command, unsigned timeout_ms,
                                 struct aws_credentials *out, char *cause, size_t cause_len)
{
    struct child_output o = {0};
    int exit_status = 0;
    o.out = malloc(AWS_PROCESS_MAX_OUTPUT);
    if (!o.out)
        return -ENOMEM;
    if (!timeout_ms)
        timeout_ms = AWS_CREDENTIALS_PROCESS_TIMEOUT_MS;
    int rc = run(command, timeout_ms, &o, &exit_status);
    char said[220];
    first_line(&o, said, sizeof(said));
    if (rc == -ETIMEDOUT)
        snprintf(cause, cause_len, "credential_process did not finish within %u ms", timeout_ms);
    else if (rc == -EFBIG)
        snprintf(cause, cause_len, "credential_process printed more than %d bytes",
                 AWS_PROCESS_MAX_OUTPUT);
    else if (rc < 0)
        snprintf(cause, cause_len, "cannot run credential_process: %s", strerror(-rc));
    else if (exit_status != 0) {
        snprintf(cause, cause_len, "credential_process exited with status %d%s%s", exit_status,
                 said[0] ? ": " : "", said);
        rc = -EIO;
    } else {
        rc = aws_credentials_parse_process_output(o.out, o.out_len, out, cause, cause_len);
    }
    secure_wipe(o.out, AWS_PROCESS_MAX_OUTPUT);
    free(o.out);
    return rc;
}
