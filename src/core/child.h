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

/* Initialises attr so the child starts with every signal at its default
 * disposition and none blocked; 0 or -errno. The caller destroys attr with
 * posix_spawnattr_destroy. */
int child_spawnattr_init(posix_spawnattr_t *attr);

/* posix_spawn (search: posix_spawnp, PATH lookup) with those attributes;
 * actions may be NULL. 0 with *pid set, or -errno. */
int child_spawn(pid_t *pid, const char *path, int search, const posix_spawn_file_actions_t *actions,
                char *const argv[], char *const envp[]);

#endif
