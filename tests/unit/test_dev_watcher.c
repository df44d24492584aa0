/* The project watcher on a real temporary tree: changes are reported once
 * per burst, new directories are followed, ignored paths stay silent. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "dev/watcher.h"
#include "test.h"

struct seen {
    char paths[64][256];
    size_t count;
    int batches;
};

static void on_change(void *ctx, const char *const *paths, size_t count, uint64_t first_ns)
{
    struct seen *s = ctx;
    (void)first_ns;
    s->batches++;
    for (size_t i = 0; i < count && s->count < 64; i++)
        snprintf(s->paths[s->count++], 256, "%s", paths[i]);
}

static int saw(const struct seen *s, const char *path)
{
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(s->paths[i], path) == 0)
            return 1;
    return 0;
}

static void write_file(const char *dir, const char *rel, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void make_dir(const char *dir, const char *rel)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    mkdir(path, 0755);
}

/* Runs the loop for about ms milliseconds. */
static void spin(uv_loop_t *loop, int ms)
{
    for (int i = 0; i < ms; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

static void remove_tree(const char *dir)
{
    char command[PATH_MAX + 16];
    snprintf(command, sizeof(command), "rm -rf '%s'", dir);
    if (system(command) != 0)
        fprintf(stderr, "  could not remove %s\n", dir);
}

TEST(changes_new_dirs_and_ignores)
{
    char dir[] = "/tmp/tether-watch-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    write_file(dir, ".gitignore", "# build output\ndist/\n*.log\n!keep.log\n/secret.txt\n");
    make_dir(dir, "src");
    make_dir(dir, "node_modules");
    make_dir(dir, "dist");
    write_file(dir, "src/api.js", "1");

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct seen s = {0};
    struct watcher *w;
    char cause[256];
    CHECK_INT(watcher_start(&loop, dir, 20, on_change, &s, &w, cause, sizeof(cause)), 0);
    CHECK_INT(watcher_directory_count(w), 2); /* root and src */

    /* A burst of writes to one file is one batch naming it once. */
    write_file(dir, "src/api.js", "2");
    write_file(dir, "src/api.js", "3");
    write_file(dir, "node_modules/x.js", "ignored");
    write_file(dir, "dist/out.js", "ignored");
    write_file(dir, "debug.log", "ignored");
    write_file(dir, "keep.log", "kept by negation");
    write_file(dir, "secret.txt", "ignored (anchored)");
    spin(&loop, 150);
    CHECK_INT(s.batches, 1);
    CHECK(saw(&s, "src/api.js"));
    CHECK(saw(&s, "keep.log"));
    CHECK(!saw(&s, "node_modules/x.js"));
    CHECK(!saw(&s, "dist/out.js"));
    CHECK(!saw(&s, "debug.log"));
    CHECK(!saw(&s, "secret.txt"));
    CHECK_INT(s.count, 2);

    /* A directory made later is watched too. */
    s.count = 0;
    make_dir(dir, "src/lib");
    spin(&loop, 60);
    write_file(dir, "src/lib/util.js", "x");
    spin(&loop, 150);
    CHECK(saw(&s, "src/lib/util.js"));

    /* An editor's save: write a temp file, rename it over the original. */
    s.count = 0;
    write_file(dir, "src/.api.js.swp", "4");
    char from[PATH_MAX], to[PATH_MAX];
    snprintf(from, sizeof(from), "%s/src/.api.js.swp", dir);
    snprintf(to, sizeof(to), "%s/src/api.js", dir);
    CHECK_INT(rename(from, to), 0);
    spin(&loop, 150);
    CHECK(saw(&s, "src/api.js"));

    CHECK(watcher_ignored(w, "a/b/node_modules", 1));
    CHECK(watcher_ignored(w, "dist", 1));
    CHECK(!watcher_ignored(w, "dist", 0)); /* "dist/" names directories only */
    watcher_stop(w);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&loop), 0);
    remove_tree(dir);
}

TEST(missing_root_is_an_error)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct watcher *w;
    char cause[256] = "";
    CHECK(watcher_start(&loop, "/nonexistent/project", 0, on_change, NULL, &w, cause,
                        sizeof(cause)) < 0);
    CHECK(strstr(cause, "/nonexistent/project") != NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

RUN_TESTS("dev_watcher", TEST_ENTRY(changes_new_dirs_and_ignores),
          TEST_ENTRY(missing_root_is_an_error))
