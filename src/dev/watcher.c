#include "dev/watcher.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define LOG_MODULE "watch"
#include "core/hashmap.h"
#include "core/log.h"

#define MAX_IGNORE_RULES 256
#define MAX_DIRECTORIES 65536
#define WATCH_MASK                                                                                 \
    (IN_CLOSE_WRITE | IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |            \
     IN_DELETE_SELF | IN_ONLYDIR)

static const char *const always_ignored[] = {".git",  "node_modules", ".tether",   "__pycache__",
                                             ".venv", ".sst",         ".DS_Store", NULL};

struct ignore_rule {
    char *pattern;
    int negate;
    int dir_only;
    int anchored; /* contains '/' before its end: matched against the whole path */
};

struct watched_dir {
    int wd;
    char *path; /* relative to the root, "" for the root */
};

struct watcher {
    uv_loop_t *loop;
    int fd;
    uv_poll_t poll;
    uv_timer_t debounce;
    uint32_t debounce_ms;
    char *root;
    watcher_change_cb on_change;
    void *ctx;
    struct watched_dir *dirs; /* indexed by wd (small integers) */
    size_t dir_cap;
    size_t dir_count;
    struct ignore_rule rules[MAX_IGNORE_RULES];
    size_t rule_count;
    struct hashmap pending; /* changed paths waiting for the debounce */
    uint64_t first_event_ns;
    int closing;
};

static void load_gitignore(struct watcher *w)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/.gitignore", w->root);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024];
    while (w->rule_count < MAX_IGNORE_RULES && fgets(line, sizeof(line), f)) {
        size_t len = strcspn(line, "\r\n");
        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
            len--;
        line[len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        struct ignore_rule *r = &w->rules[w->rule_count];
        char *p = line;
        if ((r->negate = *p == '!'))
            p++;
        size_t n = strlen(p);
        if ((r->dir_only = n > 0 && p[n - 1] == '/'))
            p[--n] = '\0';
        r->anchored = strchr(p, '/') != NULL;
        if (*p == '/')
            p++;
        if (!*p || !(r->pattern = strdup(p)))
            continue;
        w->rule_count++;
    }
    fclose(f);
}

int watcher_ignored(const struct watcher *w, const char *rel, int is_dir)
{
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    for (const char *const *name = always_ignored; *name; name++)
        if (strcmp(base, *name) == 0)
            return 1;
    int ignored = 0;
    /* Later rules win, as in git; a negation can re-include. */
    for (size_t i = 0; i < w->rule_count; i++) {
        const struct ignore_rule *r = &w->rules[i];
        if (r->dir_only && !is_dir)
            continue;
        int match = r->anchored ? fnmatch(r->pattern, rel, FNM_PATHNAME) == 0
                                : fnmatch(r->pattern, base, 0) == 0;
        if (match)
            ignored = !r->negate;
    }
    return ignored;
}

static int remember_dir(struct watcher *w, int wd, const char *rel)
{
    if ((size_t)wd >= w->dir_cap) {
        size_t cap = w->dir_cap ? w->dir_cap : 64;
        while (cap <= (size_t)wd)
            cap *= 2;
        struct watched_dir *dirs = realloc(w->dirs, cap * sizeof(*dirs));
        if (!dirs)
            return -ENOMEM;
        memset(dirs + w->dir_cap, 0, (cap - w->dir_cap) * sizeof(*dirs));
        w->dirs = dirs;
        w->dir_cap = cap;
    }
    if (w->dirs[wd].path) {
        free(w->dirs[wd].path); /* the same directory added again */
        w->dir_count--;
    }
    w->dirs[wd].wd = wd;
    w->dirs[wd].path = strdup(rel);
    w->dir_count++;
    return w->dirs[wd].path ? 0 : -ENOMEM;
}

static int add_tree(struct watcher *w, const char *rel, char *cause, size_t cause_len)
{
    char full[PATH_MAX];
    snprintf(full, sizeof(full), "%s%s%s", w->root, rel[0] ? "/" : "", rel);
    if (w->dir_count >= MAX_DIRECTORIES) {
        snprintf(cause, cause_len, "more than %d directories to watch under %s", MAX_DIRECTORIES,
                 w->root);
        return -E2BIG;
    }
    int wd = inotify_add_watch(w->fd, full, WATCH_MASK);
    if (wd < 0) {
        int err = errno;
        if (err == ENOENT || err == ENOTDIR)
            return 0; /* gone already */
        snprintf(cause, cause_len, "watching %s: %s%s", full, strerror(err),
                 err == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
        return -err;
    }
    int rc = remember_dir(w, wd, rel);
    DIR *d = opendir(full);
    if (!d)
        return rc;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[PATH_MAX];
        snprintf(child, sizeof(child), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        if (!watcher_ignored(w, child, 1))
            rc = add_tree(w, child, cause, cause_len);
    }
    closedir(d);
    return rc;
}

struct batch {
    const char *paths[WATCHER_MAX_BATCH];
    size_t count;
};

static int collect(const char *key, void *value, void *ctx)
{
    struct batch *b = ctx;
    (void)value;
    if (b->count < WATCHER_MAX_BATCH)
        b->paths[b->count++] = key;
    return 0;
}

static int drop(const char *key, void *value, void *ctx)
{
    (void)key;
    (void)ctx;
    free(value);
    return 1;
}

static void on_debounced(uv_timer_t *timer)
{
    struct watcher *w = timer->data;
    struct batch batch = {.count = 0};
    hashmap_foreach(&w->pending, collect, &batch);
    if (batch.count > 0)
        w->on_change(w->ctx, batch.paths, batch.count, w->first_event_ns);
    hashmap_foreach(&w->pending, drop, NULL);
    w->first_event_ns = 0;
}

static void note_change(struct watcher *w, const char *rel)
{
    size_t len = strlen(rel);
    if (!hashmap_get(&w->pending, rel, len))
        hashmap_put(&w->pending, rel, len, strdup(rel));
    if (!w->first_event_ns)
        w->first_event_ns = uv_hrtime();
    uv_timer_start(&w->debounce, on_debounced, w->debounce_ms, 0);
}

static void handle_event(struct watcher *w, const struct inotify_event *ev)
{
    if ((size_t)ev->wd >= w->dir_cap || !w->dirs[ev->wd].path)
        return;
    const char *dir = w->dirs[ev->wd].path;
    if (ev->mask & (IN_DELETE_SELF | IN_IGNORED)) {
        if (ev->mask & IN_IGNORED) {
            free(w->dirs[ev->wd].path);
            w->dirs[ev->wd].path = NULL;
            w->dir_count--;
        }
        return;
    }
    if (ev->len == 0)
        return;
    char rel[PATH_MAX];
    snprintf(rel, sizeof(rel), "%s%s%s", dir, dir[0] ? "/" : "", ev->name);
    int is_dir = (ev->mask & IN_ISDIR) != 0;
    if (watcher_ignored(w, rel, is_dir))
        return;
    if (is_dir && (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
        char cause[256];
        if (add_tree(w, rel, cause, sizeof(cause)) < 0)
            log_warn("%s", cause);
    }
    if (!is_dir || (ev->mask & (IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)))
        note_change(w, rel);
}

static void on_readable(uv_poll_t *poll, int status, int events)
{
    struct watcher *w = poll->data;
    (void)events;
    if (status < 0)
        return;
    char buffer[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(w->fd, buffer, sizeof(buffer));
        if (n <= 0)
            break;
        for (char *p = buffer; p < buffer + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            if (ev->mask & IN_Q_OVERFLOW)
                note_change(w, ".");
            else
                handle_event(w, ev);
            p += sizeof(*ev) + ev->len;
        }
    }
}

int watcher_start(uv_loop_t *loop, const char *root, uint32_t debounce_ms,
                  watcher_change_cb on_change, void *ctx, struct watcher **out, char *cause,
                  size_t cause_len)
{
    struct watcher *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->loop = loop;
    w->on_change = on_change;
    w->ctx = ctx;
    w->debounce_ms = debounce_ms ? debounce_ms : WATCHER_DEFAULT_DEBOUNCE_MS;
    w->root = realpath(root, NULL);
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (!w->root || w->fd < 0 || hashmap_init(&w->pending) < 0) {
        snprintf(cause, cause_len, "cannot watch %s: %s", root, strerror(errno));
        if (w->fd >= 0)
            close(w->fd);
        free(w->root);
        free(w);
        return -EIO;
    }
    load_gitignore(w);
    int rc = add_tree(w, "", cause, cause_len);
    uv_poll_init(loop, &w->poll, w->fd);
    w->poll.data = w;
    uv_timer_init(loop, &w->debounce);
    w->debounce.data = w;
    if (rc < 0) {
        watcher_stop(w);
        return rc;
    }
    uv_poll_start(&w->poll, UV_READABLE, on_readable);
    log_debug("watching %zu directories under %s", w->dir_count, w->root);
    *out = w;
    return 0;
}

static void free_watcher(uv_handle_t *handle)
{
    struct watcher *w = handle->data;
    close(w->fd);
    for (size_t i = 0; i < w->dir_cap; i++)
        free(w->dirs[i].path);
    free(w->dirs);
    for (size_t i = 0; i < w->rule_count; i++)
        free(w->rules[i].pattern);
    hashmap_foreach(&w->pending, drop, NULL);
    hashmap_free(&w->pending);
    free(w->root);
    free(w);
}

void watcher_stop(struct watcher *w)
{
    if (!w || w->closing)
        return;
    w->closing = 1;
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, NULL);
    uv_close((uv_handle_t *)&w->debounce, free_watcher);
}

size_t watcher_directory_count(const struct watcher *w)
{
    return w->dir_count;
}
