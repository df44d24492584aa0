#include "cli/dev_output.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "dev"
#include "core/log.h"
#include "tunnel/runner.h"

#define RED "\033[31m"
#define GREEN "\033[32m"
#define DIM "\033[2m"
#define BOLD "\033[1m"
#define RESET "\033[0m"

void dev_output_init(struct dev_output *out, int json, const char *app, const char *stage)
{
    memset(out, 0, sizeof(*out));
    out->json = json;
    out->color = !json && log_use_color() && isatty(STDOUT_FILENO);
    if (!json) {
        printf("%stether dev%s  app %s, stage %s\n", out->color ? BOLD : "",
               out->color ? RESET : "", app, stage);
        fflush(stdout);
    }
}

FILE *dev_output_function_log(struct dev_output *out)
{
    return out->json ? stderr : stdout;
}

static const char *c(const struct dev_output *out, const char *code)
{
    return out->color ? code : "";
}

static void emit_json(json_t *object)
{
    char *text = json_dumps(object, JSON_COMPACT);
    if (text) {
        puts(text);
        fflush(stdout);
        free(text);
    }
    json_decref(object);
}

static void clock_now(char out[16])
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(out, 16, "%H:%M:%S", &tm);
}

void dev_output_line(struct dev_output *out, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (out->json) {
        emit_json(json_pack("{s:s, s:s}", "type", "info", "message", text));
        return;
    }
    char now[16];
    clock_now(now);
    printf("%s%s%s %s\n", c(out, DIM), now, c(out, RESET), text);
    fflush(stdout);
}

void dev_output_problem(struct dev_output *out, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (out->json)
        emit_json(json_pack("{s:s, s:s}", "type", "error", "message", text));
    fprintf(stderr, "%stether dev: %s%s\n", c(out, RED), text, c(out, RESET));
}

void dev_output_endpoints(struct dev_output *out, const char *events_http, const char *lambda)
{
    if (out->json) {
        emit_json(json_pack("{s:s, s:s}", "type", "events", "endpoint", events_http));
        emit_json(json_pack("{s:s, s:s}", "type", "lambda", "endpoint", lambda));
        return;
    }
    printf("  events   %s (embedded broker)\n  lambda   %s (embedded Lambda service: "
           "tether invoke, AWS SDKs)\n",
           events_http, lambda);
    fflush(stdout);
}

void dev_output_url(struct dev_output *out, const char *function, const char *url)
{
    if (!out->first_url[0])
        snprintf(out->first_url, sizeof(out->first_url), "%s", url);
    if (out->json) {
        emit_json(json_pack("{s:s, s:s, s:s}", "type", "url", "function", function, "url", url));
        return;
    }
    printf("  %-8s %s\n", function, url);
    fflush(stdout);
}

static const char insecure_text[] =
    "INSECURE: --insecure-no-auth: no bridge key, so packets are neither authenticated nor "
    "encrypted; anyone who can publish on the events API can run code here and anyone who can "
    "subscribe reads the functions' credentials";

void dev_output_key(struct dev_output *out, const char *origin, const char *path)
{
    if (out->json) {
        emit_json(json_pack("{s:s, s:s, s:s?}", "type", "key", "origin", origin, "path", path));
        return;
    }
    printf("  key      %s (%s)\n", path ? path : "bridge key", origin);
    fflush(stdout);
}

void dev_output_insecure(struct dev_output *out)
{
    out->insecure = 1;
    if (out->json)
        emit_json(json_pack("{s:s, s:s}", "type", "warning", "message", insecure_text));
    fprintf(stderr, "%stether dev: %s%s\n", c(out, RED), insecure_text, c(out, RESET));
}

void dev_output_debugger(struct dev_output *out, const char *function, const char *worker,
                         unsigned port)
{
    if (out->json) {
        emit_json(json_pack("{s:s, s:s, s:s#, s:I}", "type", "debugger", "function", function,
                            "worker", worker, (int)strnlen(worker, 8), "port", (json_int_t)port));
        return;
    }
    dev_output_line(out, "%s worker %.8s: debugger on 127.0.0.1:%u", function, worker, port);
}

void dev_output_warning(struct dev_output *out, const char *text)
{
    if (out->json)
        emit_json(json_pack("{s:s, s:s}", "type", "warning", "message", text));
    else
        fprintf(stderr, "tether dev: warning: %s\n", text);
}

void dev_output_ready(struct dev_output *out)
{
    if (out->json) {
        emit_json(json_pack("{s:s, s:b}", "type", "ready", "insecure", out->insecure));
        return;
    }
    if (out->insecure)
        printf("%sINSECURE (no bridge key)%s ", c(out, RED), c(out, RESET));
    printf("%sready%s", c(out, GREEN), c(out, RESET));
    if (out->first_url[0])
        printf("    try: curl %s", out->first_url);
    printf("\n");
    fflush(stdout);
}

void dev_output_worker(struct dev_output *out, const char *detail)
{
    if (out->json) {
        emit_json(json_pack("{s:s, s:s}", "type", "worker", "worker", detail));
        return;
    }
    dev_output_line(out, "bridge connected: %s", detail);
}

void dev_output_invocation(struct dev_output *out, const struct dev_invocation_report *r)
{
    if (out->json) {
        emit_json(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:f}", "type", "invocation",
                            "function", r->function, "requestId", r->request_id, "source",
                            r->source, "status", r->success ? "ok" : "error", "errorType",
                            r->error_type, "errorMessage", r->success ? NULL : r->error_message,
                            "durationMs", r->duration_ms));
        return;
    }
    char now[16];
    clock_now(now);
    if (r->success)
        printf("%s%s%s %-8s %-24s %sok%s %7.1f ms  %s%.8s%s\n", c(out, DIM), now, c(out, RESET),
               r->function, r->source, c(out, GREEN), c(out, RESET), r->duration_ms, c(out, DIM),
               r->request_id, c(out, RESET));
    else
        printf("%s%s%s %-8s %-24s %s%s: %s%s %7.1f ms  %s%.8s%s\n", c(out, DIM), now, c(out, RESET),
               r->function, r->source, c(out, RED), r->error_type, r->error_message, c(out, RESET),
               r->duration_ms, c(out, DIM), r->request_id, c(out, RESET));
    fflush(stdout);
}

void dev_output_reload(struct dev_output *out, const char *function, const char *path,
                       double watcher_ms, int standby)
{
    if (out->json) {
        emit_json(json_pack("{s:s, s:s, s:s, s:f, s:b}", "type", "reload", "function", function,
                            "file", path, "watcherMs", watcher_ms, "standby", standby));
        return;
    }
    dev_output_line(out, "%s: %s changed, %s (%.1f ms after the write)", function, path,
                    standby ? "a warm standby takes over" : "workers restart", watcher_ms);
}

/* A build's text line by line, each under the function's name; control
 * characters (a compiler's colours, a hostile terminal sequence) become '?'. */
static void print_build_text(struct dev_output *out, const char *function, const char *text)
{
    FILE *to = stdout;
    while (*text) {
        size_t n = strcspn(text, "\n");
        fprintf(to, "  %s build | ", function);
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)text[i];
            fputc(ch == '\t' || (ch >= 0x20 && ch != 0x7f) ? ch : '?', to);
        }
        fputc('\n', to);
        text += n + (text[n] == '\n');
    }
    (void)out;
    fflush(to);
}

/* A JSON string of a command's output, which need not be UTF-8: bytes that
 * are not are replaced by '?'. */
static json_t *output_string(const char *text)
{
    json_t *s = json_string(text);
    char *copy = s ? NULL : strdup(text);
    for (char *p = copy; p && *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    if (copy)
        s = json_string(copy);
    free(copy);
    return s;
}

void dev_output_build(struct dev_output *out, const struct dev_build_report *r)
{
    if (out->json) {
        json_t *o = json_pack("{s:s, s:s, s:b, s:f}", "type", "build", "function", r->function_id,
                              "ok", r->ok, "ms", r->build_ms);
        if (o && r->text[0])
            json_object_set_new(o, r->ok ? "output" : "error", output_string(r->text));
        emit_json(o);
        return;
    }
    if (r->ok)
        dev_output_line(out, "%s: built in %.1f ms", r->function_id, r->build_ms);
    else
        dev_output_problem(out, "%s: build failed%s", r->function_id,
                           r->restart ? " (invocations fail until it builds)"
                                      : " (the last good build keeps serving)");
    print_build_text(out, r->function_id, r->text);
}

void dev_output_tunnel(struct dev_output *out, const struct dev_tunnel_report *r)
{
    if (out->json) {
        emit_json(json_pack(
            "{s:s, s:s, s:s, s:s?, s:s?, s:I, s:I, s:I, s:I, s:s?}", "type", "tunnel", "state",
            r->state, "bastion", r->bastion, "socks", r->socks, "tun", r->tun, "streamsOpen",
            (json_int_t)r->streams_open, "streamsTotal", (json_int_t)r->streams_total, "bytesUp",
            (json_int_t)r->bytes_up, "bytesDown", (json_int_t)r->bytes_down, "cause", r->cause));
        return;
    }
    char up[32], down[32], path[160] = "";
    tunnel_format_bytes(up, sizeof(up), r->bytes_up);
    tunnel_format_bytes(down, sizeof(down), r->bytes_down);
    if (r->socks)
        snprintf(path, sizeof(path), " | socks %s%s%s", r->socks, r->tun ? " | tun " : "",
                 r->tun ? r->tun : "");
    const char *colour = strcmp(r->state, "connected") == 0 ? GREEN
                         : strcmp(r->state, "failed") == 0  ? RED
                                                            : "";
    /* A cause is the news of its line: the counters have not moved. */
    if (r->cause)
        dev_output_line(out, "tunnel %s%s%s (bastion %s): %s", c(out, colour), r->state,
                        c(out, RESET), r->bastion, r->cause);
    else
        dev_output_line(out, "tunnel %s%s%s (bastion %s)%s | %zu streams | up %s, down %s",
                        c(out, colour), r->state, c(out, RESET), r->bastion, path, r->streams_open,
                        up, down);
}

void dev_output_inspector(struct dev_output *out, const char *url)
{
    if (out->json) {
        emit_json(json_pack("{s:s, s:s}", "type", "inspector", "url", url));
        return;
    }
    printf("  inspect  %s\n", url);
    fflush(stdout);
}

void dev_output_attach(struct dev_output *out, const struct attach_report *r)
{
    static const char *const names[] = {"layer",    "attached",       "failed",
                                        "restored", "restore-failed", "warning"};
    if (out->json) {
        emit_json(json_pack("{s:s, s:s, s:s, s:s, s:f, s:s}", "type", "attach", "event",
                            names[r->event], "function", r->function_id, "deployed", r->deployed,
                            "ms", r->ms, "detail", r->detail));
        return;
    }
    switch (r->event) {
    case ATTACH_LAYER:
        dev_output_line(out, "bridge layer %s", r->detail);
        break;
    case ATTACH_ATTACHED:
        dev_output_line(out, "%s: attached %s%s%s (%.1f s)", r->function_id, c(out, GREEN),
                        r->deployed, c(out, RESET), r->ms / 1000);
        break;
    case ATTACH_FAILED:
        dev_output_problem(out, "%s%s%s: not attached: %s", r->function_id,
                           r->function_id[0] ? " " : "", r->deployed, r->detail);
        break;
    case ATTACH_RESTORED:
        dev_output_line(out, "%s: restored %s (%.1f s)", r->function_id, r->deployed, r->ms / 1000);
        break;
    case ATTACH_RESTORE_FAILED:
        dev_output_problem(out, "%s %s: not restored: %s (`tether detach %s` tries again)",
                           r->function_id, r->deployed, r->detail, r->function_id);
        break;
    case ATTACH_WARNING: {
        char text[1400];
        snprintf(text, sizeof(text), "%s %s: %s", r->function_id, r->deployed, r->detail);
        dev_output_warning(out, text);
        break;
    }
    }
}
