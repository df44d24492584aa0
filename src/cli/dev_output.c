#include "cli/dev_output.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "dev"
#include "core/log.h"
#include "core/private_file.h"

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

/* Payloads up to this size are kept whole in records; larger ones are
 * described, so a stream of 6 MB events does not fill the disk. */
#define RECORD_MAX_PAYLOAD (256 * 1024)

static json_t *record_value(const char *text, size_t len)
{
    if (len > RECORD_MAX_PAYLOAD)
        return json_pack("{s:I, s:b}", "bytes", (json_int_t)len, "omitted", 1);
    json_t *value = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    return value ? value : json_stringn(text, len);
}

/* .tether/log/<time>-<request id>.json: the event, and the answer or error.
 * Events and answers may hold secrets, so the records are private files. */
static void write_record(struct dev_output *out, const struct dev_invocation_report *r)
{
    if (!out->root[0])
        return;
    char name[128], stamp[32], cause[512];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    snprintf(name, sizeof(name), "log/%s-%.40s.json", stamp, r->request_id);
    /* The request id comes from the caller: a '/' must not pick another
     * directory (private_file refuses such a name). */
    for (char *p = name + 4; *p; p++)
        if (*p == '/')
            *p = '_';
    json_t *event = record_value(r->event, r->event_len);
    json_t *answer = record_value(r->answer, r->answer_len);
    json_t *record =
        json_pack("{s:s, s:s, s:s, s:s, s:b, s:f, s:o, s:o}", "function", r->function, "requestId",
                  r->request_id, "worker", r->worker, "source", r->source, "success", r->success,
                  "durationMs", r->duration_ms, "event", event ? event : json_null(),
                  r->success ? "response" : "error", answer ? answer : json_null());
    char *text = record ? json_dumps(record, JSON_INDENT(2)) : NULL;
    if (text && private_file_write(out->root, name, text, strlen(text), cause, sizeof(cause)) < 0)
        log_warn("%s", cause);
    free(text);
    json_decref(record);
}

void dev_output_invocation(struct dev_output *out, const struct dev_invocation_report *r)
{
    write_record(out, r);
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
                       double watcher_ms)
{
    if (out->json) {
        emit_json(json_pack("{s:s, s:s, s:s, s:f}", "type", "reload", "function", function, "file",
                            path, "watcherMs", watcher_ms));
        return;
    }
    dev_output_line(out, "%s: %s changed, workers restart (%.1f ms after the write)", function,
                    path, watcher_ms);
}

void dev_output_keep_records(struct dev_output *out, const char *root)
{
    char cause[512];
    if (private_dir_ensure(root, "log/x", cause, sizeof(cause)) < 0) {
        log_warn("no invocation records: %s", cause);
        return;
    }
    snprintf(out->root, sizeof(out->root), "%s", root);
}
