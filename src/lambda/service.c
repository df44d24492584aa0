/* The local Lambda service: functions, the main port (Invoke API and function
 * URLs), optional per-function URL ports, and an orderly stop. */
#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define LOG_MODULE "lambda"
#include "core/encoding.h"
#include "core/log.h"
#include "lambda/lambda_internal.h"

#define INVOKE_PREFIX "/2015-03-31/functions/"
#define URL_PREFIX "/url/"

static const char *const service_state_names[] = {"running", "stopping"};

static void lambda_service_enter_state(struct lambda_service *s, enum lambda_service_state state)
{
    if (s->state == state)
        return;
    log_debug("service: %s -> %s", service_state_names[s->state], service_state_names[state]);
    s->state = state;
}

uint64_t lambda_now_epoch_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

void lambda_iso_time(uint64_t epoch_ms, char out[32])
{
    time_t seconds = (time_t)(epoch_ms / 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(epoch_ms % 1000));
}

void lambda_answer_service_error(struct http_exchange *ex, int status, const char *error_type,
                                 const char *message)
{
    struct buf body = BUF_INIT, headers = BUF_INIT;
    buf_append_str(&body, "{\"Type\":\"User\",\"Message\":");
    json_quote(&body, message, strlen(message));
    buf_append_char(&body, '}');
    buf_printf(&headers, "Content-Type: application/json\r\nx-amzn-ErrorType: %s\r\n", error_type);
    buf_terminate(&headers);
    http_exchange_respond(ex, status, buf_bytes(&headers), buf_bytes(&body), buf_length(&body));
    buf_free(&body);
    buf_free(&headers);
}

/* ---- the main port ---- */

struct lambda_function *lambda_service_next_function(struct lambda_service *s,
                                                     struct lambda_function *f)
{
    if (!f)
        return s->function_count ? &s->functions[0] : s->deployed;
    if (f >= s->functions && f < s->functions + s->function_count) {
        size_t i = (size_t)(f - s->functions) + 1;
        return i < s->function_count ? &s->functions[i] : s->deployed;
    }
    return f->next;
}

struct lambda_function *lambda_service_find_function(struct lambda_service *s, const char *name,
                                                     size_t len)
{
    for (struct lambda_function *f = lambda_service_next_function(s, NULL); f;
         f = lambda_service_next_function(s, f))
        if (strlen(f->config->name) == len && strncmp(f->config->name, name, len) == 0)
            return f;
    return NULL;
}

/* /url/NAME/rest -> the function and "/rest" ("/" when empty). */
static void route_url(struct lambda_service *s, struct http_exchange *ex, const char *path)
{
    const char *name = path + strlen(URL_PREFIX);
    size_t len = strcspn(name, "/");
    struct lambda_function *f = lambda_service_find_function(s, name, len);
    if (!f || !f->config->url) {
        static const char body[] = "{\"Message\":\"Forbidden\"}";
        http_exchange_respond(ex, 403,
                              "Content-Type: application/json\r\n"
                              "x-amzn-ErrorType: AccessDeniedException\r\n",
                              body, sizeof(body) - 1);
        return;
    }
    const char *target = http_exchange_request(ex)->target;
    /* The raw path as sent: skip "/url/NAME" in the target, stop at '?'. */
    const char *rest = target + strlen(URL_PREFIX) + len;
    char *raw = strndup(*rest == '/' ? rest : "/", *rest == '/' ? strcspn(rest, "?") : 1);
    if (!raw) {
        http_exchange_respond(ex, 500, NULL, NULL, 0);
        return;
    }
    lambda_function_url_head(f, ex, raw);
    free(raw);
}

static void on_head(struct http_exchange *ex, void *user)
{
    struct lambda_service *s = user;
    const char *path = http_exchange_request(ex)->path;
    if (lambda_control_head(s, ex))
        return;
    /* "/2015-03-31/functions/" with nothing after it is what the AWS CLI v2
     * sends for ListFunctions: the same operation as without the slash. */
    if (strncmp(path, INVOKE_PREFIX, strlen(INVOKE_PREFIX)) == 0 && path[strlen(INVOKE_PREFIX)])
        lambda_invoke_api_head(s, ex);
    else if (strncmp(path, URL_PREFIX, strlen(URL_PREFIX)) == 0)
        route_url(s, ex, path);
    else
        lambda_answer_service_error(ex, 404, "UnknownOperationException", "Unknown operation");
}

static void on_body(struct http_exchange *ex, const char *data, size_t len, void *user)
{
    const struct lambda_route **route = http_exchange_user(ex);
    (void)user;
    if (route && (*route)->on_body)
        (*route)->on_body(ex, route, data, len);
}

static void on_request(struct http_exchange *ex, void *user)
{
    const struct lambda_route **route = http_exchange_user(ex);
    (void)user;
    if (route)
        (*route)->on_request(ex, route);
    else if (!http_exchange_answer_started(ex))
        http_exchange_respond(ex, 500, NULL, NULL, 0);
}

static void on_abort(struct http_exchange *ex, void *user)
{
    const struct lambda_route **route = http_exchange_user(ex);
    (void)user;
    if (route)
        (*route)->on_abort(ex, route);
}

static const struct http_server_callbacks api_callbacks = {
    .on_head = on_head,
    .on_body = on_body,
    .on_request = on_request,
    .on_abort = on_abort,
};

/* ---- start ---- */

void lambda_function_init(struct lambda_service *s, struct lambda_function *f,
                          const struct lambda_function_config *config)
{
    f->service = s;
    f->config = config;
    snprintf(f->arn, sizeof(f->arn), "arn:aws:lambda:%s:%s:function:%s", s->config->region,
             s->config->account_id, config->name);
    /* A stable 32-character URL id, like <url-id>.lambda-url.<region>.on.aws. */
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)f->arn, strlen(f->arn), digest);
    hex_encode(f->url_id, digest, 16);
    uv_timer_init(s->loop, &f->grace_timer);
    f->grace_timer.data = f;
    s->servers_open++; /* the timer: closed in lambda_service_stop */
}

static struct http_server_config server_config(const char *name, const char *host, uint16_t port)
{
    struct http_server_config c = {
        .name = name,
        .host = host,
        .port = port,
        .max_header_bytes = 64 * 1024,
        .max_body_bytes = LAMBDA_SYNC_PAYLOAD_MAX,
        .max_connections = 1024,
        .head_timeout_ms = 120000,
        .body_timeout_ms = 60000,
    };
    return c;
}

static int start_url_servers(struct lambda_service *s, char *cause, size_t cause_len)
{
    for (size_t i = 0; i < s->function_count; i++) {
        struct lambda_function *f = &s->functions[i];
        if (!f->config->url || f->config->url_port < 0)
            continue;
        char name[96];
        snprintf(name, sizeof(name), "url %s", f->config->name);
        struct http_server_config c = server_config(name, s->host, (uint16_t)f->config->url_port);
        int rc = http_server_start(s->conns, &c, &lambda_function_url_callbacks, f, &f->url_server,
                                   cause, cause_len);
        if (rc < 0)
            return rc;
        s->servers_open++;
    }
    return 0;
}

static int service_new(uv_loop_t *loop, const struct lambda_config *config,
                       const struct lambda_service_options *o, struct lambda_service **out)
{
    struct lambda_service *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->config = config;
    s->log_out = o->log_out ? o->log_out : stdout;
    s->on_debugger = o->on_debugger;
    s->user = o->user;
    s->on_log = o->on_log;
    snprintf(s->host, sizeof(s->host), "%s", o->host);
    s->idle_timeout_ms =
        o->idle_timeout_ms ? o->idle_timeout_ms : (uint64_t)config->idle_timeout_s * 1000;
    s->functions = calloc(config->function_count, sizeof(*s->functions));
    s->conns = conn_context_new(loop);
    if (!s->functions || !s->conns) {
        free(s->functions);
        if (s->conns)
            conn_context_free(s->conns);
        free(s);
        return -ENOMEM;
    }
    s->function_count = config->function_count;
    for (size_t i = 0; i < config->function_count; i++)
        lambda_function_init(s, &s->functions[i], &config->functions[i]);
    *out = s;
    return 0;
}

int lambda_service_start(uv_loop_t *loop, const struct lambda_config *config,
                         const struct lambda_service_options *options, struct lambda_service **out,
                         char *cause, size_t cause_len)
{
    struct lambda_service *s;
    if (service_new(loop, config, options, &s) < 0) {
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    struct http_server_config c = server_config("lambda", options->host, options->port);
    int rc =
        options->control_plane ? lambda_control_new(s, options->state_dir, cause, cause_len) : 0;
    if (rc == 0)
        rc = http_server_start(s->conns, &c, &api_callbacks, s, &s->api, cause, cause_len);
    if (rc == 0) {
        s->servers_open++;
        rc = start_url_servers(s, cause, cause_len);
    }
    *out = s;
    if (rc < 0) { /* stop what did start; the caller runs the loop to finish it */
        lambda_service_stop(s, NULL, NULL);
        *out = NULL;
    }
    return rc;
}

uint16_t lambda_service_port(const struct lambda_service *s)
{
    return s->api ? http_server_port(s->api) : 0;
}

int lambda_service_function_url(const struct lambda_service *s, const char *function, char *out,
                                size_t out_len)
{
    struct lambda_function *f =
        lambda_service_find_function((struct lambda_service *)s, function, strlen(function));
    if (!f || !f->config->url)
        return -ENOENT;
    snprintf(out, out_len, "http://%s:%u/url/%s/", s->host, lambda_service_port(s), function);
    return 0;
}

void lambda_service_describe(const struct lambda_service *s, FILE *out, int json)
{
    uint16_t port = lambda_service_port(s);
    if (json)
        fprintf(out,
                "{\"type\":\"listening\",\"endpoint\":\"http://%s:%u\",\"port\":%u,"
                "\"functions\":[",
                s->host, port, port);
    else
        fprintf(out, "tether lambda listening\n  endpoint: http://%s:%u (Invoke API)\n", s->host,
                port);
    for (size_t i = 0; i < s->function_count; i++) {
        const struct lambda_function *f = &s->functions[i];
        const char *name = f->config->name;
        char url[160] = "", own[96] = "";
        if (f->config->url)
            snprintf(url, sizeof(url), "http://%s:%u/url/%s/", s->host, port, name);
        if (f->url_server)
            snprintf(own, sizeof(own), "http://%s:%u/", s->host, http_server_port(f->url_server));
        if (json)
            fprintf(out, "%s{\"name\":\"%s\",\"arn\":\"%s\",\"url\":%s%s%s,\"urlPort\":%s%s%s}",
                    i ? "," : "", name, f->arn, url[0] ? "\"" : "", url[0] ? url : "null",
                    url[0] ? "\"" : "", own[0] ? "\"" : "", own[0] ? own : "null",
                    own[0] ? "\"" : "");
        else
            fprintf(out, "  function %s: %s%s%s%s%s\n", name, f->arn, url[0] ? "\n    url: " : "",
                    url, own[0] ? "\n    url: " : "", own);
    }
    fprintf(out, json ? "]}\n" : "");
    fflush(out);
}

/* ---- stop ---- */

void lambda_service_check_stopped(struct lambda_service *s)
{
    if (s->state != LAMBDA_SERVICE_STOPPING || s->servers_open > 0 || s->sandboxes_alive > 0)
        return;
    void (*on_stopped)(void *) = s->on_stopped;
    void *user = s->stopped_user;
    conn_context_free(s->conns);
    lambda_control_free(s);
    free(s->functions);
    free(s);
    log_debug("service: stopped");
    if (on_stopped)
        on_stopped(user);
}

static void on_server_closed(void *user)
{
    struct lambda_service *s = user;
    s->servers_open--;
    lambda_service_check_stopped(s);
}

static void on_timer_closed(uv_handle_t *handle)
{
    struct lambda_function *f = handle->data;
    on_server_closed(f->service);
}

static void function_shutdown(struct lambda_function *f)
{
    if (f->url_server)
        http_server_close(f->url_server, on_server_closed, f->service);
    lambda_function_cancel_queued(f);
    uv_close((uv_handle_t *)&f->grace_timer, on_timer_closed);
    for (struct lambda_sandbox *sb = f->sandboxes; sb; sb = sb->next)
        lambda_sandbox_stop(sb, "the service is stopping");
}

void lambda_service_stop(struct lambda_service *s, void (*on_stopped)(void *user), void *user)
{
    if (s->state == LAMBDA_SERVICE_STOPPING)
        return;
    lambda_service_enter_state(s, LAMBDA_SERVICE_STOPPING);
    s->on_stopped = on_stopped;
    s->stopped_user = user;
    /* Each step below may complete the stop; hold it until all are issued. */
    s->servers_open++;
    if (s->api)
        http_server_close(s->api, on_server_closed, s);
    for (struct lambda_function *f = lambda_service_next_function(s, NULL); f;
         f = lambda_service_next_function(s, f))
        function_shutdown(f);
    for (struct lambda_function *f = s->removed; f; f = f->next)
        function_shutdown(f);
    lambda_control_stop(s);
    on_server_closed(s);
}
