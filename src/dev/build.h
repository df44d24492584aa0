/* tether dev's build step (docs/dev.md "TypeScript and builds").
 *
 * Two kinds of function are built before their workers run:
 * - a Node.js function whose handler is TypeScript (.ts, .mts, .cts) and
 *   that runs on tether's shim is bundled by esbuild into
 *   .tether/build/<function>/, through one long-lived build server
 *   (runtimes/node/build-server.mjs) holding an incremental context per
 *   function; its workers then run the bundle (dev_build_handler);
 * - a function with a "build" command in tether.json runs it with /bin/sh -c
 *   in the project directory (through core/child.h), with a time limit.
 *
 * This module owns the server process and the command runs; it reports each
 * finished build through a callback and says whether the function's workers
 * must restart. Causes go into caller buffers; nothing here prints. */
#ifndef TETHER_DEV_BUILD_H
#define TETHER_DEV_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "dev/config.h"

#define DEV_BUILD_COMMAND_TIMEOUT_S 600
#define DEV_BUILD_MAX_OUTPUT (16 * 1024) /* the end of a command's output that is kept */

struct dev_build_report {
    const char *function_id;
    int ok;
    /* The error (a bundle), or the command's output (its last
     * DEV_BUILD_MAX_OUTPUT bytes) with the reason it failed; may be "". */
    const char *text;
    double build_ms;
    /* The changed file that started it (relative to the project), and ms
     * since the watcher saw it; NULL and 0 for the builds at start. */
    const char *path;
    double since_change_ms;
    /* The workers must restart: after every bundle (a failed one makes them
     * fail as a broken deployment would) and after a command that succeeded
     * (a failed one leaves the last good build serving). */
    int restart;
};

struct dev_build_callbacks {
    void (*on_built)(void *ctx, const struct dev_build_report *report);
    /* Every build asked for at start has reported. */
    void (*on_ready)(void *ctx);
};

struct dev_build;

/* Decides which live functions are built, and starts building them (the
 * builds at start report, then on_ready follows; with nothing to build,
 * on_ready is called from the loop). home is tether's own directory
 * (runtimes/, tools/). */
int dev_build_start(uv_loop_t *loop, const struct dev_config *project, const char *home,
                    const struct dev_build_callbacks *callbacks, void *ctx, struct dev_build **out,
                    char *cause, size_t cause_len);
/* Whether changes to this function go through the build (then its workers
 * restart when on_built says so, not on every change). */
int dev_build_handles(const struct dev_build *build, const char *function_id);
/* The handler the function's workers run: the bundle's for a bundled
 * function, else NULL (the handler in tether.json). Lives as long as build. */
const char *dev_build_handler(const struct dev_build *build, const char *function_id);
/* Changed files (relative to the project), as the watcher reports them. */
void dev_build_changed(struct dev_build *build, const char *const *paths, size_t count,
                       uint64_t first_event_ns);
/* Stops the server and abandons running commands (they are killed);
 * idempotent. The loop ends once its handles have closed; then free. */
void dev_build_stop(struct dev_build *build);
void dev_build_free(struct dev_build *build);

#endif
