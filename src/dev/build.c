/* tether dev's build step (dev/build.h). */
#include "dev/build.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/child.h"
#include "core/private_file.h"
#include "dev/watcher.h"

#define SERVER_MAX_LINE (1024 * 1024) /* a longer answer from the build server is refused */

extern char **environ;

enum build_kind { BUILD_NONE, BUILD_BUNDLE, BUILD_COMMAND };

struct build_fn {
    struct dev_build *b;
    const struct dev_function *f;
    enum build_kind kind;
    char handler[PATH_MAX]; /* bundle: the handler in .tether/build/<id>/ */
    char outbase[PATH_MAX]; /* bundle: the output without its extension */
    char entry[PATH_MAX];   /* bundle: the TypeScript module */
    char path[256];         /* the change that started the build ("" at start) */
    uint64_t change_ns;     /* when the watcher saw it */
    int initial;            /* reports toward on_ready */
    /* command: one run at a time, one more queued while it runs */
    uv_work_t work;
    int running, again;
    _Atomic pid_t pid; /* the running shell, so a stop can kill it */
    int rc, status;
    double ms;
    struct buf output;
};

struct dev_build {
    uv_loop_t *loop;
    const struct dev_config *project;
    char home[PATH_MAX];
    struct dev_build_callbacks cb;
    void *ctx;
    struct build_fn *fns;
    size_t count;
    size_t pending; /* builds at start not reported yet */
    uv_process_t server;
    uv_pipe_t server_in, server_out;
    int server_up;
    int server_closing; /* its handles not closed yet: no new server until 0 */
    struct buf line;    /* the server's answer being read */
    uv_idle_t ready_idle;
    int stopping;
};

static double now_ms(void)
{
    return (double)uv_hrtime() / 1e6;
}

/* ---- reporting ---- */

static void report(struct build_fn *fn, int ok, const char *text, double ms, int restart)
{
    struct dev_build *b = fn->b;
    struct dev_build_report r = {
        .function_id = fn->f->id,
        .ok = ok,
        .text = text ? text : "",
        .build_ms = ms,
        .path = fn->path[0] ? fn->path : NULL,
        .since_change_ms = fn->path[0] ? (double)(uv_hrtime() - fn->change_ns) / 1e6 : 0,
        .restart = restart,
    };
    if (!b->stopping)
        b->cb.on_built(b->ctx, &r);
    fn->path[0] = '\0';
    if (fn->initial) {
        fn->initial = 0;
        if (--b->pending == 0 && !b->stopping)
            b->cb.on_ready(b->ctx);
    }
}

static struct build_fn *find(const struct dev_build *b, const char *id)
{
    for (size_t i = 0; id && i < b->count; i++)
        if (strcmp(b->fns[i].f->id, id) == 0)
            return &b->fns[i];
    return NULL;
}

/* ---- which functions are built ---- */

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A handler's module is TypeScript when the shim would load a .ts, .mts or
 * .cts file for it: no JavaScript file of that name comes first. */
static int typescript_entry(const struct dev_build *b, struct build_fn *fn)
{
    const char *h = fn->f->handler;
    const char *slash = strrchr(h, '/');
    const char *dot = strchr(slash ? slash + 1 : h, '.');
    if (!dot || dot == h)
        return 0;
    static const char *const exts[] = {"", ".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"};
    int module_len = (int)(dot - h);
    char dir[PATH_MAX / 2];
    dev_function_dir(b->project, fn->f, dir, sizeof(dir));
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        snprintf(fn->entry, sizeof(fn->entry), "%s/%.*s%s", dir, module_len, h, exts[i]);
        if (is_file(fn->entry)) {
            if (i < 4)
                return 0;
            const char *base = slash ? slash + 1 : h;
            int base_len = (int)(dot - base);
            snprintf(fn->outbase, sizeof(fn->outbase), "%s/.tether/build/%s/%.*s", b->project->root,
                     fn->f->id, base_len, base);
            /* The handler is relative to the function's root: climb from
             * it back to the project's .tether/. */
            char up[PATH_MAX / 4] = "";
            for (const char *r = fn->f->root; r && *r; r = strchr(r, '/') ? strchr(r, '/') + 1 : "")
                if (strlen(up) + 3 < sizeof(up))
                    strcat(up, "../");
            snprintf(fn->handler, sizeof(fn->handler), "%s.tether/build/%s/%s", up, fn->f->id,
                     base);
            return 1;
        }
    }
    return 0;
}

static enum build_kind kind_of(const struct dev_build *b, struct build_fn *fn)
{
    const struct dev_function *f = fn->f;
    if (!f->live)
        return BUILD_NONE;
    if (f->build)
        return BUILD_COMMAND;
    if (f->runtime == DEV_RUNTIME_NODE && f->node_worker == DEV_NODE_WORKER_SHIM &&
        typescript_entry(b, fn))
        return BUILD_BUNDLE;
    return BUILD_NONE;
}

/* ---- the esbuild server ---- */

static void write_done(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static int server_send(struct dev_build *b, json_t *request)
{
    char *text = request ? json_dumps(request, JSON_COMPACT) : NULL;
    json_decref(request);
    if (!text)
        return -ENOMEM;
    size_t len = strlen(text);
    char *line = realloc(text, len + 2);
    if (!line) {
        free(text);
        return -ENOMEM;
    }
    line[len] = '\n';
    uv_buf_t buf = uv_buf_init(line, (unsigned)len + 1);
    /* Requests are small and few; the write is done synchronously when the
     * pipe has room, else queued by libuv with the buffer kept below. */
    int rc = uv_try_write((uv_stream_t *)&b->server_in, &buf, 1);
    if (rc == (int)len + 1) {
        free(line);
        return 0;
    }
    uv_write_t *w = malloc(sizeof(*w));
    size_t done = rc > 0 ? (size_t)rc : 0;
    buf = uv_buf_init(line + done, (unsigned)(len + 1 - done));
    if (!w) {
        free(line);
        return -ENOMEM;
    }
    w->data = line;
    rc = uv_write(w, (uv_stream_t *)&b->server_in, &buf, 1, write_done);
    if (rc < 0) {
        free(line);
        free(w);
    }
    return rc;
}

static void server_fail_all(struct dev_build *b, const char *error)
{
    for (size_t i = 0; i < b->count; i++)
        if (b->fns[i].kind == BUILD_BUNDLE)
            report(&b->fns[i], 0, error, 0, 0);
}

static void on_server_answer(struct dev_build *b, const char *text, size_t len)
{
    json_error_t err;
    json_t *a = json_loadb(text, len, 0, &err);
    const char *type = json_string_value(json_object_get(a, "type"));
    struct build_fn *fn = find(b, json_string_value(json_object_get(a, "function")));
    if (type && strcmp(type, "built") == 0 && fn && fn->kind == BUILD_BUNDLE) {
        const char *path = json_string_value(json_object_get(a, "path"));
        snprintf(fn->path, sizeof(fn->path), "%s", path ? path : "");
        int ok = json_is_true(json_object_get(a, "ok"));
        report(fn, ok, json_string_value(json_object_get(a, "error")),
               json_number_value(json_object_get(a, "ms")), 1);
    } else if (type && strcmp(type, "fatal") == 0) {
        server_fail_all(b, json_string_value(json_object_get(a, "error")));
    }
    json_decref(a);
}

static void on_server_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void close_server(struct dev_build *b);

static void on_server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct dev_build *b = s->data;
    if (n < 0) {
        free(buf->base);
        close_server(b);
        return;
    }
    int rc = buf_append(&b->line, buf->base, (size_t)n);
    free(buf->base);
    char *nl;
    while (rc == 0 && (nl = memchr(buf_bytes(&b->line), '\n', buf_length(&b->line)))) {
        size_t len = (size_t)(nl - buf_bytes(&b->line));
        on_server_answer(b, buf_bytes(&b->line), len);
        buf_consume(&b->line, len + 1);
    }
    if (rc < 0 || buf_length(&b->line) > SERVER_MAX_LINE) {
        server_fail_all(b, "the build server sent an answer too long to read");
        close_server(b);
    }
}

static void on_server_handle_closed(uv_handle_t *h)
{
    struct dev_build *b = h->data;
    b->server_closing--;
}

static void close_handle(struct dev_build *b, uv_handle_t *h)
{
    b->server_closing++;
    uv_close(h, on_server_handle_closed);
}

static void close_server(struct dev_build *b)
{
    if (!b->server_up)
        return;
    b->server_up = 0;
    /* Closing its stdin is the server's signal to dispose of its contexts
     * and exit. */
    close_handle(b, (uv_handle_t *)&b->server_in);
    close_handle(b, (uv_handle_t *)&b->server_out);
}

static void on_server_exit(uv_process_t *p, int64_t status, int signal)
{
    struct dev_build *b = p->data;
    if (!b->stopping) {
        char why[128];
        snprintf(why, sizeof(why), "the build server exited (status %d, signal %d)", (int)status,
                 signal);
        server_fail_all(b, why);
    }
    close_server(b);
    close_handle(b, (uv_handle_t *)p);
}

static int spawn_server(struct dev_build *b, char *cause, size_t cause_len)
{
    char script[PATH_MAX + 64], tools[PATH_MAX + 16];
    snprintf(script, sizeof(script), "%s/runtimes/node/build-server.mjs", b->home);
    snprintf(tools, sizeof(tools), "%s/tools", b->home);
    char *args[] = {"node", script, tools, NULL};
    uv_pipe_init(b->loop, &b->server_in, 0);
    uv_pipe_init(b->loop, &b->server_out, 0);
    b->server_in.data = b->server_out.data = b->server.data = b;
    b->server_up = 1;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&b->server_in},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&b->server_out},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
    };
    uv_process_options_t o = {.file = "node",
                              .args = args,
                              .cwd = b->project->root,
                              .exit_cb = on_server_exit,
                              .stdio = stdio,
                              .stdio_count = 3};
    int rc = uv_spawn(b->loop, &b->server, &o);
    if (rc < 0) {
        snprintf(cause, cause_len, "cannot start the esbuild build server (node): %s",
                 uv_strerror(rc));
        close_server(b);
        close_handle(b, (uv_handle_t *)&b->server);
        return rc;
    }
    return uv_read_start((uv_stream_t *)&b->server_out, on_server_alloc, on_server_read);
}

/* .tether/build/<id>/, where the bundle goes: .tether/build is checked by
 * core/private_file.h; the function's directory under it must be a real
 * directory of this user too (a project may come with a planted link), and
 * the server removes every output before writing it, so a link planted in
 * place of a file is never written through. */
static int ensure_build_dir(const struct dev_build *b, const char *id, char *cause,
                            size_t cause_len)
{
    int rc = private_dir_ensure(b->project->root, "build/x", cause, cause_len);
    if (rc < 0)
        return rc;
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/.tether/build/%s", b->project->root, id);
    struct stat st;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        rc = -errno;
    else if (lstat(dir, &st) < 0)
        rc = -errno;
    else if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
        rc = -EPERM;
    if (rc < 0)
        snprintf(cause, cause_len, "%s: refused (%s; must be a directory of this user)", dir,
                 strerror(-rc));
    return rc;
}

/* Registers a function with the server; build_now: and builds it (at start;
 * after a restart the change that follows builds it). */
static int add_bundle(struct dev_build *b, struct build_fn *fn, int build_now, char *cause,
                      size_t cause_len)
{
    int rc = ensure_build_dir(b, fn->f->id, cause, cause_len);
    if (rc < 0)
        return rc;
    json_t *add = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "op", "add", "function", fn->f->id,
                            "root", b->project->root, "entry", fn->entry, "outbase", fn->outbase,
                            "runtime", fn->f->runtime_name);
    rc = server_send(b, add);
    if (rc == 0 && build_now)
        rc = server_send(b, json_pack("{s:s, s:s}", "op", "build", "function", fn->f->id));
    return rc;
}

/* ---- build commands ---- */

/* Keeps the end of the output: the compiler's last lines say most. */
static void keep_tail(struct buf *out, const char *data, size_t n)
{
    buf_append(out, data, n);
    if (buf_length(out) > DEV_BUILD_MAX_OUTPUT)
        buf_consume(out, buf_length(out) - DEV_BUILD_MAX_OUTPUT);
}

static int keep_output(void *ctx, const char *data, size_t len)
{
    keep_tail(ctx, data, len);
    return 0;
}

/* On a thread of the pool: /bin/sh -c COMMAND in the project directory,
 * standard output and error merged, standard input empty. */
static void run_command(uv_work_t *w)
{
    struct build_fn *fn = w->data;
    double started = now_ms();
    buf_reset(&fn->output);
    fn->status = 0;
    struct child_run r = {.command = fn->f->build,
                          .cwd = fn->b->project->root,
                          .timeout_ms = DEV_BUILD_COMMAND_TIMEOUT_S * 1000u,
                          .merge_stderr = 1,
                          .on_out = keep_output,
                          .ctx = &fn->output,
                          .running = &fn->pid};
    fn->rc = child_run(&r, &fn->status);
    fn->ms = now_ms() - started;
}

static void start_command(struct build_fn *fn);

static void command_done(uv_work_t *w, int status)
{
    struct build_fn *fn = w->data;
    (void)status;
    fn->running = 0;
    char why[128] = "";
    if (fn->rc == -ETIMEDOUT)
        snprintf(why, sizeof(why), "\n(stopped after %d s)", DEV_BUILD_COMMAND_TIMEOUT_S);
    else if (fn->rc < 0)
        snprintf(why, sizeof(why), "\n(cannot run /bin/sh: %s)", strerror(-fn->rc));
    else if (fn->status != 0)
        snprintf(why, sizeof(why), "\n(exit status %d)", fn->status);
    int ok = fn->rc == 0 && fn->status == 0;
    buf_append_str(&fn->output, why);
    buf_terminate(&fn->output);
    report(fn, ok, buf_bytes(&fn->output), fn->ms, ok);
    if (fn->again && !fn->b->stopping) {
        fn->again = 0;
        start_command(fn);
    }
}

static void start_command(struct build_fn *fn)
{
    if (fn->running) {
        fn->again = 1; /* a change during the build: build once more after it */
        return;
    }
    fn->running = 1;
    fn->work.data = fn;
    if (uv_queue_work(fn->b->loop, &fn->work, run_command, command_done) < 0) {
        fn->running = 0;
        report(fn, 0, "cannot queue the build command", 0, 0);
    }
}

/* "watch" patterns (fnmatch, '*' also matching '/'), or by default every
 * file but the bootstrap's own directory, where the build writes. */
static int command_watches(const struct dev_function *f, const char *path)
{
    if (f->watch_count) {
        for (size_t i = 0; i < f->watch_count; i++)
            if (fnmatch(f->watch[i], path, 0) == 0)
                return 1;
        return 0;
    }
    /* The bootstrap is relative to the function's root; path to the project. */
    char full[PATH_MAX];
    if (f->bootstrap && f->root)
        snprintf(full, sizeof(full), "%s/%s", f->root, f->bootstrap);
    const char *b = f->bootstrap && f->root ? full : f->bootstrap;
    const char *slash = b ? strrchr(b, '/') : NULL;
    if (b && strcmp(path, b) == 0)
        return 0;
    if (slash && strncmp(path, b, (size_t)(slash - b + 1)) == 0)
        return 0;
    return 1;
}

/* ---- the module's interface ---- */

static void on_ready_idle(uv_idle_t *idle)
{
    struct dev_build *b = idle->data;
    uv_idle_stop(idle);
    uv_close((uv_handle_t *)idle, NULL);
    if (!b->stopping)
        b->cb.on_ready(b->ctx);
}

static int start_builds(struct dev_build *b, char *cause, size_t cause_len)
{
    int bundles = 0, rc = 0;
    for (size_t i = 0; i < b->count; i++)
        bundles += b->fns[i].kind == BUILD_BUNDLE;
    if (bundles)
        rc = spawn_server(b, cause, cause_len);
    for (size_t i = 0; rc == 0 && i < b->count; i++) {
        struct build_fn *fn = &b->fns[i];
        fn->initial = fn->kind != BUILD_NONE;
        b->pending += fn->initial;
        if (fn->kind == BUILD_BUNDLE)
            rc = add_bundle(b, fn, 1, cause, cause_len);
        else if (fn->kind == BUILD_COMMAND)
            start_command(fn);
    }
    return rc;
}

int dev_build_start(uv_loop_t *loop, const struct dev_config *project, const char *home,
                    const struct dev_build_callbacks *callbacks, void *ctx, struct dev_build **out,
                    char *cause, size_t cause_len)
{
    struct dev_build *b = calloc(1, sizeof(*b));
    *out = b;
    if (!b || !(b->fns = calloc(project->function_count + 1, sizeof(*b->fns)))) {
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    b->loop = loop;
    b->project = project;
    b->cb = *callbacks;
    b->ctx = ctx;
    snprintf(b->home, sizeof(b->home), "%s", home);
    buf_init(&b->line);
    for (size_t i = 0; i < project->function_count; i++) {
        struct build_fn *fn = &b->fns[b->count++];
        fn->b = b;
        fn->f = &project->functions[i];
        buf_init(&fn->output);
        fn->kind = kind_of(b, fn);
    }
    int rc = start_builds(b, cause, cause_len);
    if (rc == 0 && b->pending == 0) {
        uv_idle_init(loop, &b->ready_idle);
        b->ready_idle.data = b;
        uv_idle_start(&b->ready_idle, on_ready_idle);
    }
    return rc;
}

int dev_build_handles(const struct dev_build *b, const char *function_id)
{
    const struct build_fn *fn = b ? find(b, function_id) : NULL;
    return fn && fn->kind != BUILD_NONE;
}

const char *dev_build_handler(const struct dev_build *b, const char *function_id)
{
    const struct build_fn *fn = b ? find(b, function_id) : NULL;
    return fn && fn->kind == BUILD_BUNDLE ? fn->handler : NULL;
}

/* A server that exited (killed, out of memory) is started again at the next
 * change, once its old handles have closed; its functions start as failed
 * builds, so that change rebuilds every one of them. */
static void restart_server(struct dev_build *b)
{
    char cause[512];
    if (b->server_closing)
        return;
    int rc = spawn_server(b, cause, sizeof(cause));
    for (size_t i = 0; rc == 0 && i < b->count; i++)
        if (b->fns[i].kind == BUILD_BUNDLE)
            rc = add_bundle(b, &b->fns[i], 0, cause, sizeof(cause));
    if (rc < 0)
        server_fail_all(b, cause);
}

static void remember_change(struct build_fn *fn, const char *path, uint64_t first_event_ns)
{
    if (fn->path[0])
        return; /* the build already pending reports its first change */
    snprintf(fn->path, sizeof(fn->path), "%s", path);
    fn->change_ns = first_event_ns;
}

void dev_build_changed(struct dev_build *b, const char *const *paths, size_t count,
                       uint64_t first_event_ns)
{
    if (!b || b->stopping || !count)
        return;
    /* A full batch may have left changes out (a checkout of another
     * branch): then every function is built again. */
    int all = count >= WATCHER_MAX_BATCH, bundles = 0;
    for (size_t i = 0; i < b->count; i++) {
        struct build_fn *fn = &b->fns[i];
        for (size_t k = 0; fn->kind == BUILD_COMMAND && k < count; k++)
            if (all || command_watches(fn->f, paths[k])) {
                remember_change(fn, paths[k], first_event_ns);
                start_command(fn);
                break;
            }
        if (fn->kind == BUILD_BUNDLE) {
            fn->change_ns = first_event_ns; /* the server names the input that changed */
            bundles = 1;
        }
    }
    if (bundles && !b->server_up)
        restart_server(b);
    if (!bundles || !b->server_up)
        return;
    json_t *list = json_array();
    for (size_t k = 0; k < count; k++)
        json_array_append_new(list, json_string(paths[k]));
    server_send(b, json_pack("{s:s, s:o, s:b}", "op", "changed", "paths", list, "all", all));
}

void dev_build_stop(struct dev_build *b)
{
    if (!b || b->stopping)
        return;
    b->stopping = 1;
    close_server(b);
    for (size_t i = 0; i < b->count; i++) {
        pid_t pid = b->fns[i].pid;
        if (pid > 0)
            kill(pid, SIGKILL);
    }
}

void dev_build_free(struct dev_build *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->count; i++)
        buf_free(&b->fns[i].output);
    buf_free(&b->line);
    free(b->fns);
    free(b);
}
