/* Starting child processes with a clean signal state.
 *
 * A child inherits ignored signals and the signal mask across exec: tether
 * ignores SIGPIPE (cli/main.c), and a thread may block signals, so a program
 * started with posix_spawn and no attributes would start with SIGPIPE
 * ignored (a shell pipeline in it would no longer stop on a closed pipe) or
 * with signals blocked. Every posix_spawn in tether passes these attributes.
 * (uv_spawn needs none: libuv resets every disposition and the mask in the
 * child itself; tests/integration/hostile-dev.test.mjs checks it.) */
#ifndef TETHER_CORE_CHILD_H
#define TETHER_CORE_CHILD_H

#include <spawn.h>

/* Initialises attr so the child starts with every signal at its default
 * disposition and none blocked; 0 or -errno. The caller destroys attr with
 * posix_spawnattr_destroy. */
int child_spawnattr_init(posix_spawnattr_t *attr);

#endif
