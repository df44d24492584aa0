/* Starting child processes with a clean signal state.
 *
 * A child inherits ignored signals and the signal mask across exec: tether
 * ignores SIGPIPE (cli/main.c), and a thread may block signals, so a program
 * started with posix_spawn and no attributes would start with SIGPIPE
 * ignored (a shell pipeline in it would no longer stop on a closed pipe) or
 * with signals blocked. Every process tether starts with posix_spawn goes
 * through child_spawn.
 * (uv_spawn needs none: libuv resets every disposition and the mask in the
 * child itself; tests/integration/hostile-dev.test.mjs checks it.) */
#ifndef TETHER_CORE_CHILD_H
#define TETHER_CORE_CHILD_H

#include <spawn.h>
#include <stdatomic.h>
#include <stddef.h>

/* Initialises attr so the child starts with every signal at its default
 * disposition and none blocked; 0 or -errno. The caller destroys attr with
 * posix_spawnattr_destroy. */
int child_spawnattr_init(posix_spawnattr_t *attr);

/* posix_spawn (search: posix_spawnp, PATH lookup) with those attributes;
 * actions may be NULL. 0 with *pid set, or -errno. */
int child_spawn(pid_t *pid, const char *path, int search, const posix_spawn_file_actions_t *actions,
                char *const argv[], char *const envp[]);

/* A shell command run to its end: `/bin/sh -c command` with an empty
 * standard input, in cwd (NULL: ours). Each chunk it writes on standard
 * output goes to on_out, and standard error to on_err (NULL: discarded), or
 * to on_out too when merge_stderr is set. A callback that returns < 0 stops
 * the run with that error. The chunks are wiped after each callback (a
 * credential_process prints secrets). */
struct child_run {
    const char *command;
    const char *cwd;
    unsigned timeout_ms;
    int merge_stderr;
    int (*on_out)(void *ctx, const char *data, size_t len);
    int (*on_err)(void *ctx, const char *data, size_t len);
    void *ctx;
    /* Optional: the child's pid while it runs, 0 before and after, so
     * another thread can stop it. */
    _Atomic pid_t *running;
};

/* Blocks until the command ends (call it off the event loop): 0 with
 * *exit_status set (128 + N when signal N ended it), or -errno; after the
 * timeout or a callback's error the child is killed and waited for, and
 * *exit_status is set as well (-ETIMEDOUT for the timeout). */
int child_run(const struct child_run *run, int *exit_status);

#endif
