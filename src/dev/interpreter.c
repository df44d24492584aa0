#include "dev/interpreter.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/child.h"

#define VERSION_OUTPUT_MAX 128
#define VERSION_WAIT_MS 5000

extern char **environ;

int dev_interpreter_parse(enum dev_runtime runtime, const char *text, char *out, size_t out_len)
{
    unsigned major = 0, minor = 0;
    if (runtime == DEV_RUNTIME_NODE && sscanf(text, "v%u.", &major) == 1)
        snprintf(out, out_len, "%u", major);
    else if (runtime == DEV_RUNTIME_PYTHON && sscanf(text, "Python %u.%u", &major, &minor) == 2)
        snprintf(out, out_len, "%u.%u", major, minor);
    else
        return -EINVAL;
    return 0;
}

/* Runs `program --version` and keeps the first VERSION_OUTPUT_MAX bytes of
 * what it prints (Python 2 printed it on stderr, so both are read). */
static int run_version(const char *program, char *out, size_t out_len)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    char *argv[] = {(char *)program, "--version", NULL};
    pid_t pid;
    int rc = child_spawn(&pid, program, 1, &actions, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    size_t used = 0;
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    while (rc == 0 && used + 1 < out_len && poll(&p, 1, VERSION_WAIT_MS) > 0) {
        ssize_t n = read(fds[0], out + used, out_len - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    out[used] = '\0';
    close(fds[0]);
    if (rc == 0) {
        kill(pid, SIGKILL); /* harmless once it has exited; ends one that hangs */
        waitpid(pid, NULL, 0);
    }
    return rc;
}

void dev_interpreter_check(const struct dev_config *c, void (*warn)(void *ctx, const char *text),
                           void *ctx)
{
    static const char *const programs[] = {
        [DEV_RUNTIME_NODE] = "node", [DEV_RUNTIME_PYTHON] = "python3"};
    char local[2][16] = {"", ""};
    int asked[2] = {0, 0};
    for (size_t i = 0; i < c->function_count; i++) {
        const struct dev_function *f = &c->functions[i];
        char declared[16], output[VERSION_OUTPUT_MAX], text[512];
        if (!f->live || f->runtime == DEV_RUNTIME_PROVIDED ||
            dev_runtime_version(f->runtime_name, declared, sizeof(declared)) < 0)
            continue;
        if (!asked[f->runtime]) {
            asked[f->runtime] = 1;
            if (run_version(programs[f->runtime], output, sizeof(output)) == 0)
                dev_interpreter_parse(f->runtime, output, local[f->runtime],
                                      sizeof(local[f->runtime]));
        }
        if (!local[f->runtime][0] || strcmp(local[f->runtime], declared) == 0)
            continue;
        snprintf(text, sizeof(text),
                 "function %s declares %s, but the local %s is version %s: it runs with %s %s "
                 "here",
                 f->id, f->runtime_name, programs[f->runtime], local[f->runtime],
                 f->runtime == DEV_RUNTIME_NODE ? "Node.js" : "Python", local[f->runtime]);
        warn(ctx, text);
    }
}
