/* Watches a project tree for changes (Linux inotify, on the libuv loop) so
 * `tether dev` can restart the affected workers at once.
 *
 * Recursive: directories created later are watched too. Ignored: .git,
 * node_modules, .tether, __pycache__, build outputs named in the defaults
 * below, and whatever the project's top-level .gitignore ignores. Bursts of
 * events (an editor's write-to-temp-then-rename) are debounced into one
 * callback listing each changed path once. */
#ifndef TETHER_DEV_WATCHER_H
#define TETHER_DEV_WATCHER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define WATCHER_DEFAULT_DEBOUNCE_MS 3
#define WATCHER_MAX_BATCH 256

struct watcher;

/* paths: relative to the root, valid during the call. first_event_ns is
 * uv_hrtime() of the first event in the batch (for latency reports). */
typedef void (*watcher_change_cb)(void *ctx, const char *const *paths, size_t count,
                                  uint64_t first_event_ns);

int watcher_start(uv_loop_t *loop, const char *root, uint32_t debounce_ms,
                  watcher_change_cb on_change, void *ctx, struct watcher **out, char *cause,
                  size_t cause_len);
/* Frees the watcher once its handles are closed (run the loop). */
void watcher_stop(struct watcher *watcher);
size_t watcher_directory_count(const struct watcher *watcher);
/* Whether a root-relative path is ignored (exposed for tests). */
int watcher_ignored(const struct watcher *watcher, const char *relative_path, int is_dir);

#endif
