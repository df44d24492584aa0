/* `tether dev`'s orchestration (dev/dev.h). */
#include "dev/dev.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_MODULE "dev"
#include "aws/credentials_provider.h"
#include "core/encoding.h"
#include "core/home.h"
#include "core/log.h"
#include "core/random.h"
#include "dev/build.h"
#include "dev/inspector.h"
#include "dev/inspector_store.h"
#include "dev/watcher.h"
#include "events/broker.h"
#include "events/client.h"
#include "lambda/config.h"
#include "lambda/lambda.h"

#define WORKER_CONCURRENCY 1000 /* a local worker per invocation in flight */
#define SERVICE_IDLE_TIMEOUT_S 3600

struct dev {
    uv_loop_t *loop;
    struct dev_options options;
    const struct dev_config *project;
    struct broker *broker;
    struct lambda_config *cloud_config; /* functions running the bridge */
    struct lambda_service *cloud;
    struct lambda_config *worker_config; /* functions running the handlers */
    struct lambda_service *workers;
    struct dev_session *session;
    struct watcher *watcher;
    struct dev_build *build;                      /* TypeScript bundles and "build" commands */
    struct aws_credentials_provider *credentials; /* remote mode with IAM */
    struct dev_tunnel *tunnel;                    /* the "tunnel" section's, when there is one */
    FILE *cloud_log;                              /* where the bridges' function logs go */
    struct inspector_store *store;                /* every invocation, bounded */
    struct inspector *inspector;                  /* NULL when off */
    struct dev_state endpoints;
    char key_text[BRIDGE_KEY_TEXT_SIZE]; /* handed to the embedded bridges; wiped */
    char root_dir[PATH_MAX]; /* where tether's own files are (runtimes/, tether-bridge) */
    int stopping;
};

/* ---- where tether's files are ---- */

static int find_install_root(struct dev *d, char *cause, size_t cause_len)
{
    return tether_home(d->root_dir, sizeof(d->root_dir), cause, cause_len);
}

static void bridge_path(const struct dev *d, char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, cap, "%s/tether-bridge", exe);
    if (access(out, X_OK) != 0)
        snprintf(out, cap, "%s/build/tether-bridge", d->root_dir);
}

/* ---- the two Lambda configurations ---- */

/* What every function shares, both sides: name, folder, environment, sizes. */
static int add_function(struct lambda_config *c, const struct dev *d, const struct dev_function *f,
                        struct lambda_function_config **out, char *cause, size_t cause_len)
{
    char dir[PATH_MAX];
    dev_function_dir(d->project, f, dir, sizeof(dir));
    int rc = lambda_config_add_function(c, f->id, dir, out, cause, cause_len);
    if (rc == 0)
        rc = lambda_function_set_handler(*out, f->handler);
    for (size_t i = 0; rc == 0 && i < f->environment_count; i++)
        rc = lambda_function_set_env(*out, f->environment[i].name, f->environment[i].value, cause,
                                     cause_len);
    if (rc == 0) {
        /* A worker stopped at a breakpoint must not time out, nor its
         * bridge: while debugging both wait --debug-timeout (AWS's own
         * remote debugging raises the timeout to 900 s as well). */
        (*out)->timeout_s = d->options.inspect_port && d->options.debug_timeout_s
                                ? d->options.debug_timeout_s
                                : f->timeout_s;
        (*out)->memory_mb = f->memory_mb;
        (*out)->streaming = f->streaming;
    }
    return rc;
}

/* The cloud side: each live function runs the bridge, as it would in AWS. */
static int add_cloud_function(struct lambda_config *c, const struct dev *d,
                              const struct dev_function *f, char *cause, size_t cause_len)
{
    struct lambda_function_config *fn = NULL;
    char bridge[PATH_MAX + 32];
    bridge_path(d, bridge, sizeof(bridge));
    const struct dev_config *p = d->project;
    const char *env[][2] = {
        {"TETHER_EVENTS_HTTP", d->endpoints.events},
        {"TETHER_EVENTS_API_KEY", d->endpoints.api_key},
        {"TETHER_APP", p->app},
        {"TETHER_STAGE", p->stage},
        {"TETHER_NAMESPACE", p->namespace_name},
        {"TETHER_FUNCTION_ID", f->id},
        {"TETHER_STREAMING", f->streaming ? "1" : NULL},
        /* The local Lambda service hands the stage's key to the bridge as
         * AWS users do: in the function's environment (docs/deploy.md). */
        {"TETHER_BRIDGE_KEY", d->options.key ? d->key_text : NULL},
        {"TETHER_INSECURE_NO_AUTH", d->options.key ? NULL : "1"},
    };
    int rc = add_function(c, d, f, &fn, cause, cause_len);
    for (size_t i = 0; rc == 0 && i < sizeof(env) / sizeof(env[0]); i++)
        if (env[i][1])
            rc = lambda_function_set_env(fn, env[i][0], env[i][1], cause, cause_len);
    if (rc == 0)
        rc = lambda_function_add_arg(fn, bridge);
    if (rc == 0) {
        fn->concurrency = f->concurrency;
        fn->url = f->url;
    }
    return rc;
}

/* The local side's bootstrap command: the runtime tether ships for the
 * language, the project's aws-lambda-ric, or a provided executable. */
static int add_worker_bootstrap(struct lambda_function_config *fn, const struct dev *d,
                                const struct dev_function *f)
{
    char path[PATH_MAX + 64];
    const char *program = NULL, *handler = NULL;
    if (f->runtime == DEV_RUNTIME_NODE && f->node_worker == DEV_NODE_WORKER_RIC) {
        snprintf(path, sizeof(path), "%s/node_modules/aws-lambda-ric/bin/index.mjs",
                 d->project->root);
        program = "node";
        handler = f->handler;
    } else if (f->runtime == DEV_RUNTIME_NODE) {
        snprintf(path, sizeof(path), "%s/runtimes/node/index.mjs", d->root_dir);
        program = "node";
    } else if (f->runtime == DEV_RUNTIME_PYTHON) {
        snprintf(path, sizeof(path), "%s/runtimes/python/bootstrap.py", d->root_dir);
        program = "python3";
    } else {
        char dir[PATH_MAX];
        dev_function_dir(d->project, f, dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/%s", dir, f->bootstrap);
    }
    int rc = program ? lambda_function_add_arg(fn, program) : 0;
    /* A bundle's stack traces and breakpoints map back to the TypeScript
     * source (set here by dev, never by an Init). */
    if (rc == 0 && program && dev_build_handler(d->build, f->id))
        rc = lambda_function_add_arg(fn, "--enable-source-maps");
    if (rc == 0)
        rc = lambda_function_add_arg(fn, path);
    if (rc == 0 && handler)
        rc = lambda_function_add_arg(fn, handler);
    return rc;
}

/* Without a TUN device, workers reach the VPC through the tunnel's SOCKS5
 * proxy: ALL_PROXY is the variable curl and SOCKS-aware libraries read
 * (HTTP_PROXY would promise an HTTP proxy, which this is not). Loopback
 * stays direct, so a handler still reaches services on this machine. What tether.json's environment
 * sets for the function wins. docs/dev.md, "The tunnel inside dev". */
static int set_proxy_env(struct lambda_function_config *fn, const struct dev_function *f,
                         const char *proxy_url, char *cause, size_t cause_len)
{
    const char *env[][2] = {
        {"ALL_PROXY", proxy_url},
        {"all_proxy", proxy_url},
        {"NO_PROXY", "localhost,127.0.0.1,::1"},
        {"no_proxy", "localhost,127.0.0.1,::1"},
    };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(env) / sizeof(env[0]); i++) {
        int given = 0;
        for (size_t k = 0; k < f->environment_count; k++)
            given |= strcmp(f->environment[k].name, env[i][0]) == 0;
        if (!given)
            rc = lambda_function_set_env(fn, env[i][0], env[i][1], cause, cause_len);
    }
    return rc;
}

/* The local side: each function runs its real handler in workers. */
static int add_worker_function(struct lambda_config *c, const struct dev *d,
                               const struct dev_function *f, char *cause, size_t cause_len)
{
    struct lambda_function_config *fn = NULL;
    int inspect = d->options.inspect_port;
    int rc = add_function(c, d, f, &fn, cause, cause_len);
    if (rc == 0 && dev_build_handler(d->build, f->id))
        rc = lambda_function_set_handler(fn, dev_build_handler(d->build, f->id));
    if (rc == 0)
        rc = lambda_function_set_runtime(fn, f->runtime_name);
    if (rc == 0)
        rc = add_worker_bootstrap(fn, d, f);
    if (rc == 0 && inspect && f->runtime != DEV_RUNTIME_PROVIDED) {
        /* Every worker gets its own port, from the first one up, across all
         * functions (lambda/config.h): concurrent workers are exactly what a
         * breakpoint under load needs to keep working (docs/dev.md). */
        fn->debug_port = (uint16_t)inspect;
        fn->debug_env = f->runtime == DEV_RUNTIME_NODE ? "NODE_OPTIONS" : "TETHER_DEBUGPY_PORT";
        fn->debug_prefix = f->runtime == DEV_RUNTIME_NODE ? "--inspect=127.0.0.1:" : "";
    }
    /* Only tether's own shims know how to wait as a standby; a debugger
     * port per process is handed out at spawn, so not under --inspect. */
    if (rc == 0)
        fn->standby = !d->options.no_standby && !inspect &&
                      (f->runtime == DEV_RUNTIME_PYTHON ||
                       (f->runtime == DEV_RUNTIME_NODE && f->node_worker != DEV_NODE_WORKER_RIC));
    const char *proxy_url = dev_tunnel_proxy_url(d->tunnel);
    if (rc == 0 && proxy_url)
        rc = set_proxy_env(fn, f, proxy_url, cause, cause_len);
    if (rc == 0)
        fn->concurrency = WORKER_CONCURRENCY;
    return rc;
}

static int build_config(const struct dev *d, int cloud, struct lambda_config **out, char *cause,
                        size_t cause_len)
{
    struct lambda_config *c = lambda_config_new();
    if (!c) {
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    c->idle_timeout_s = SERVICE_IDLE_TIMEOUT_S;
    /* A breakpoint in a handler module's top level holds the worker's init
     * as long as one in the handler holds an invocation. */
    if (!cloud && d->options.inspect_port && d->options.debug_timeout_s)
        c->init_timeout_s = d->options.debug_timeout_s;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < d->project->function_count; i++) {
        const struct dev_function *f = &d->project->functions[i];
        if (f->live)
            rc = cloud ? add_cloud_function(c, d, f, cause, cause_len)
                       : add_worker_function(c, d, f, cause, cause_len);
    }
    if (rc == 0)
        rc = lambda_config_check(c, cause, cause_len);
    if (rc < 0) {
        lambda_config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* ---- events from the parts ---- */

static int start_cloud(struct dev *d, char *cause, size_t cause_len);

static void on_session_event(void *ctx, enum dev_session_event event, const char *detail)
{
    struct dev *d = ctx;
    char cause[256];
    if (event == DEV_SESSION_READY && d->cloud_config && !d->cloud &&
        start_cloud(d, cause, sizeof(cause)) < 0) {
        event = DEV_SESSION_FAILED;
        detail = cause;
    }
    if (event == DEV_SESSION_REFUSED || event == DEV_SESSION_DISPLACED ||
        event == DEV_SESSION_FAILED)
        dev_stop(d);
    d->options.callbacks.on_event(d->options.ctx, event, detail);
}

static void on_invocation(void *ctx, const struct dev_invocation_report *r)
{
    struct dev *d = ctx;
    if (!inspector_store_add(d->store, r))
        log_warn("no memory to keep invocation %s", r->request_id);
    d->options.callbacks.on_invocation(d->options.ctx, r);
}

/* The broker took the answer: the last point of the inspector's timings. */
static void on_delivered(void *ctx, const char *request_id, int status, uint64_t delivered_ms)
{
    struct dev *d = ctx;
    if (status == 0)
        inspector_store_delivered(d->store, request_id, (int64_t)delivered_ms);
}

/* Which functions a changed file may affect: by language, so editing a
 * Python module does not restart Node workers (docs/dev.md). */
static int file_affects(const struct dev_function *f, const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *ext = dot && !strchr(dot, '/') ? dot + 1 : "";
    static const char *const node[] = {"js", "mjs", "cjs", "ts", "mts", "cts", "json", "tsx", NULL};
    int is_node = 0;
    for (const char *const *e = node; *e; e++)
        is_node |= strcmp(ext, *e) == 0;
    int is_python = strcmp(ext, "py") == 0;
    if (f->runtime == DEV_RUNTIME_NODE)
        return is_node || (!is_python && ext[0] == '\0');
    if (f->runtime == DEV_RUNTIME_PYTHON)
        return is_python;
    return !is_node && !is_python; /* provided: binaries, scripts, data */
}

static void on_change(void *ctx, const char *const *paths, size_t count, uint64_t first_event_ns)
{
    struct dev *d = ctx;
    for (size_t i = 0; i < d->project->function_count; i++) {
        const struct dev_function *f = &d->project->functions[i];
        const char *hit = NULL;
        for (size_t k = 0; k < count && !hit; k++)
            if (file_affects(f, paths[k]) && strncmp(paths[k], ".tether/", 8) != 0)
                hit = paths[k];
        if (!hit || !f->live || dev_build_handles(d->build, f->id))
            continue; /* built functions restart when their build says so */
        dev_session_reload(d->session, f->id);
        double ms = (double)(uv_hrtime() - first_event_ns) / 1e6;
        d->options.callbacks.on_reload(d->options.ctx, f->id, hit, ms);
    }
    dev_build_changed(d->build, paths, count, first_event_ns);
}

static void on_built(void *ctx, const struct dev_build_report *r)
{
    struct dev *d = ctx;
    d->options.callbacks.on_build(d->options.ctx, r);
    if (!r->restart || !d->session)
        return;
    dev_session_reload(d->session, r->function_id);
    if (r->path)
        d->options.callbacks.on_reload(d->options.ctx, r->function_id, r->path, r->since_change_ms);
}

static int start_session(struct dev *d, char *cause, size_t cause_len);

/* The builds at start are done: the workers can run what they produced. */
static void on_builds_ready(void *ctx)
{
    struct dev *d = ctx;
    char cause[512];
    if (start_session(d, cause, sizeof(cause)) < 0) {
        dev_stop(d);
        d->options.callbacks.on_event(d->options.ctx, DEV_SESSION_FAILED, cause);
    }
}

/* ---- start ---- */

/* The embedded defaults: the broker, then the Lambda service that runs the
 * bridge for every live function. */
static int start_embedded(struct dev *d, char *cause, size_t cause_len)
{
    struct dev_state *e = &d->endpoints;
    snprintf(e->app, sizeof(e->app), "%s", d->project->app);
    snprintf(e->stage, sizeof(e->stage), "%s", d->project->stage);
    e->pid = getpid();
    random_api_key(e->api_key);
    const char *keys[] = {e->api_key};
    const char *namespaces[] = {d->project->namespace_name, "default"};
    struct broker_config bc = {.listen_host = "127.0.0.1",
                               .api_keys = keys,
                               .api_key_count = 1,
                               .namespaces = namespaces,
                               .namespace_count = 2};
    int rc = broker_start(d->loop, &bc, &d->broker, cause, cause_len);
    if (rc < 0)
        return rc;
    snprintf(e->events, sizeof(e->events), "http://127.0.0.1:%u/event", broker_port(d->broker));
    return build_config(d, 1, &d->cloud_config, cause, cause_len);
}

/* The embedded Lambda service (function URLs, the Invoke API) opens only once
 * the session is subscribed: a request taken earlier would start a bridge
 * whose Init and Next no session hears yet, and fail after the no-dev
 * timeout. */
static int start_cloud(struct dev *d, char *cause, size_t cause_len)
{
    struct dev_state *e = &d->endpoints;
    /* The bridges' own START/END lines would double every invocation's: they
     * are shown only at debug level. */
    if (!log_enabled(LOG_LEVEL_DEBUG))
        d->cloud_log = fopen("/dev/null", "w");
    struct lambda_service_options lo = {.host = "127.0.0.1",
                                        .port = d->options.port,
                                        .log_out =
                                            d->cloud_log ? d->cloud_log : d->options.function_log};
    int rc = lambda_service_start(d->loop, d->cloud_config, &lo, &d->cloud, cause, cause_len);
    if (rc == 0)
        snprintf(e->lambda, sizeof(e->lambda), "http://127.0.0.1:%u",
                 lambda_service_port(d->cloud));
    return rc;
}

static int remote_region(const struct dev *d, char *region, size_t region_len)
{
    const struct dev_events *e = &d->project->events;
    const char *set = e->region ? e->region : getenv("AWS_REGION");
    if (!set || !*set)
        set = getenv("AWS_DEFAULT_REGION");
    if (set && *set) {
        snprintf(region, region_len, "%s", set);
        return 0;
    }
    if (events_client_region_from_url(e->http, region, region_len) == 0)
        return 0;
    return aws_region_resolve(d->options.profile, region, region_len);
}

/* Remote mode without an API key: SigV4 with the AWS credentials chain
 * (refreshed before they expire) and the API's region. */
static int remote_iam(struct dev *d, struct events_client_config *events, char *region,
                      size_t region_len, char *cause, size_t cause_len)
{
    struct aws_credentials_options options = {.profile = d->options.profile};
    char why[600];
    int rc = aws_credentials_provider_new(&options, &d->credentials, why, sizeof(why));
    if (rc < 0) {
        snprintf(cause, cause_len, "IAM authorization to the events API: %s", why);
        return rc;
    }
    if (remote_region(d, region, region_len) < 0) {
        snprintf(cause, cause_len,
                 "IAM authorization to the events API needs its region: \"region\" in the "
                 "events section of tether.json, AWS_REGION, or region in the AWS profile");
        return -EINVAL;
    }
    struct aws_credentials current;
    if (aws_credentials_provider_get(d->credentials, &current, why, sizeof(why)) == 0) {
        char note[300];
        snprintf(note, sizeof(note), "AWS credentials from %s, region %s", current.source, region);
        d->options.callbacks.on_note(d->options.ctx, note);
    }
    aws_credentials_wipe(&current);
    events->credentials = d->credentials;
    events->region = region;
    if (d->inspector)
        inspector_set_aws(d->inspector, d->credentials, d->options.profile);
    return 0;
}

static void on_tunnel_report(void *ctx, const struct dev_tunnel_report *report)
{
    struct dev *d = ctx;
    d->options.callbacks.on_tunnel(d->options.ctx, report);
}

static void on_tunnel_note(void *ctx, const char *text)
{
    struct dev *d = ctx;
    d->options.callbacks.on_note(d->options.ctx, text);
}

/* The tunnel starts before the workers are configured: without a TUN device
 * they get the SOCKS5 proxy's address. Its own failures are reported, not
 * returned (dev/tunnel.h). */
static int start_tunnel(struct dev *d, char *cause, size_t cause_len)
{
    static const struct dev_tunnel_callbacks callbacks = {on_tunnel_report, on_tunnel_note};
    int rc = dev_tunnel_start(d->loop, d->project->path, &callbacks, d, &d->tunnel);
    if (rc < 0)
        snprintf(cause, cause_len, "out of memory");
    return rc;
}

static void on_debugger(void *ctx, const char *function, const char *sandbox_id, unsigned port)
{
    struct dev *d = ctx;
    d->options.callbacks.on_debugger(d->options.ctx, function, sandbox_id, port);
}

/* A worker's log line, tied to the request its sandbox was running. */
static void on_worker_log(void *user, const char *function, const char *request_id,
                          const char *line, size_t len)
{
    struct dev *d = user;
    (void)function;
    inspector_store_log_line(d->store, request_id, line, len);
}

/* The workers, the session on the events channel, and the watcher. */
static int start_session(struct dev *d, char *cause, size_t cause_len)
{
    int rc = build_config(d, 0, &d->worker_config, cause, cause_len);
    struct lambda_service_options lo = {.host = "127.0.0.1",
                                        .port = 0,
                                        .log_out = d->options.function_log,
                                        .on_debugger = on_debugger,
                                        .on_log = on_worker_log,
                                        .user = d};
    if (rc == 0)
        rc = lambda_service_start(d->loop, d->worker_config, &lo, &d->workers, cause, cause_len);
    if (rc < 0)
        return rc;
    struct events_client_config events;
    events_client_config_init(&events);
    char region[AWS_REGION_MAX + 1];
    const struct dev_events *e = &d->project->events;
    if (e->mode == DEV_EVENTS_EMBEDDED) {
        events.http_url = d->endpoints.events;
        events.api_key = d->endpoints.api_key;
    } else {
        events.http_url = e->http;
        events.realtime_url = e->realtime;
        events.ca_file = e->ca_file;
        if (e->api_key)
            events.api_key = e->api_key;
        else if ((rc = remote_iam(d, &events, region, sizeof(region), cause, cause_len)) < 0)
            return rc;
    }
    struct dev_session_options so = {
        .project = d->project,
        .workers = d->workers,
        .events = &events,
        .force = d->options.force,
        .key = d->options.key,
        .callbacks = {on_session_event, on_invocation, on_delivered},
        .ctx = d,
    };
    rc = dev_session_start(d->loop, &so, &d->session, cause, cause_len);
    if (rc == 0)
        rc = watcher_start(d->loop, d->project->root, 0, on_change, d, &d->watcher, cause,
                           cause_len);
    return rc;
}

/* ---- replays in remote mode (dev/dev.h) ---- */

struct local_replay {
    struct dev *d;
    char function[72];
    char worker[72];
    char request_id[37];
    struct buf event;
    struct buf streamed; /* a streamed answer's bytes */
    uint64_t start_ns;
    dev_replay_done done;
    void *ctx;
};

static void replay_stream_data(void *ctx, const char *data, size_t len)
{
    struct local_replay *r = ctx;
    if (buf_length(&r->streamed) + len <= INSPECTOR_MAX_BODY)
        buf_append(&r->streamed, data, len);
}

static void replay_finish(void *ctx, int success, const char *error_type, const char *body,
                          size_t len)
{
    struct local_replay *r = ctx;
    if (success && len == 0 && buf_length(&r->streamed)) {
        body = buf_bytes(&r->streamed);
        len = buf_length(&r->streamed);
    }
    struct dev_invocation_report report = {
        .function = r->function,
        .request_id = r->request_id,
        .worker = r->worker,
        .source = "replay (local worker)",
        .success = success,
        .error_type = success ? NULL : error_type,
        .error_message = success ? NULL : "see the error JSON",
        .event = buf_bytes(&r->event),
        .event_len = buf_length(&r->event),
        .answer = body,
        .answer_len = len,
        .duration_ms = (double)(uv_hrtime() - r->start_ns) / 1e6,
    };
    on_invocation(r->d, &report);
    r->done(r->ctx, success, body, len);
    buf_free(&r->event);
    buf_free(&r->streamed);
    free(r);
}

static const struct lambda_live_callbacks replay_callbacks = {NULL, replay_stream_data,
                                                              replay_finish};

int dev_replay_local(struct dev *d, const char *function, const char *worker, const void *event,
                     size_t len, dev_replay_done done, void *ctx)
{
    /* No deadline: the function's own timeout applies. */
    if (!dev_config_function(d->project, function) || !d->workers || d->stopping)
        return -ENOENT;
    struct local_replay *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    buf_init(&r->event);
    buf_init(&r->streamed);
    if (buf_append(&r->event, event, len) < 0) {
        free(r);
        return -ENOMEM;
    }
    r->d = d;
    r->done = done;
    r->ctx = ctx;
    r->start_ns = uv_hrtime();
    snprintf(r->function, sizeof(r->function), "%s", function);
    snprintf(r->worker, sizeof(r->worker), "%s", worker);
    random_uuid(r->request_id);
    struct lambda_live_request req = {
        .function = function,
        .request_id = r->request_id,
        .payload = buf_bytes(&r->event),
        .payload_len = buf_length(&r->event),
        .affinity = worker,
    };
    int rc = lambda_service_invoke_live(d->workers, &req, &replay_callbacks, r);
    if (rc < 0) {
        buf_free(&r->event);
        free(r);
    }
    return rc;
}

/* The store of invocations (the workers' log lines reach it through
 * on_worker_log). */
static int start_store(struct dev *d, char *cause, size_t cause_len)
{
    size_t count = d->options.history_count ? d->options.history_count : INSPECTOR_DEFAULT_COUNT;
    size_t bytes = d->options.history_bytes ? d->options.history_bytes
                                            : (size_t)INSPECTOR_DEFAULT_MB * 1024 * 1024;
    if (inspector_store_new(count, bytes, &d->store) < 0) {
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

int dev_start(uv_loop_t *loop, const struct dev_options *options, struct dev **out, char *cause,
              size_t cause_len)
{
    struct dev *d = calloc(1, sizeof(*d));
    *out = d;
    if (!d) {
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    d->loop = loop;
    d->options = *options;
    d->project = options->project;
    if (options->key)
        bridge_key_format(options->key, d->key_text);
    int rc = find_install_root(d, cause, cause_len);
    if (rc == 0)
        rc = start_store(d, cause, cause_len);
    if (rc == 0 && d->project->events.mode == DEV_EVENTS_EMBEDDED)
        rc = start_embedded(d, cause, cause_len);
    if (rc == 0 && d->project->tunnel)
        rc = start_tunnel(d, cause, cause_len);
    if (rc == 0 && options->inspector_port >= 0) {
        struct inspector_options io = {
            .port = (uint16_t)options->inspector_port,
            .store = d->store,
            .project = d->project,
            .lambda_endpoint = d->endpoints.lambda,
            .replay_local = dev_replay_local,
            .replay_ctx = d,
        };
        rc = inspector_start(loop, &io, &d->inspector, cause, cause_len);
    }
    /* The session (and with it the workers) starts once the builds at start
     * have finished: on_builds_ready. */
    struct dev_build_callbacks bc = {on_built, on_builds_ready};
    if (rc == 0)
        rc = dev_build_start(loop, d->project, d->root_dir, &bc, d, &d->build, cause, cause_len);
    if (rc < 0)
        dev_stop(d);
    return rc;
}

const struct dev_state *dev_endpoints(const struct dev *d)
{
    return &d->endpoints;
}

int dev_function_url(const struct dev *d, const char *function_id, char *out, size_t out_len)
{
    if (!d->cloud)
        return -ENOENT;
    return lambda_service_function_url(d->cloud, function_id, out, out_len);
}

const char *dev_inspector_url(const struct dev *d)
{
    return d->inspector ? inspector_url(d->inspector) : "";
}

int dev_keep_records(struct dev *d, char *cause, size_t cause_len)
{
    return inspector_store_keep_records(d->store, d->project->root, cause, cause_len);
}

/* ---- stop ---- */

void dev_stop(struct dev *d)
{
    if (!d || d->stopping)
        return;
    d->stopping = 1;
    inspector_stop(d->inspector);
    if (d->watcher)
        watcher_stop(d->watcher);
    dev_build_stop(d->build);
    if (d->session)
        dev_session_stop(d->session);
    if (d->cloud)
        lambda_service_stop(d->cloud, NULL, NULL);
    if (d->workers)
        lambda_service_stop(d->workers, NULL, NULL);
    if (d->broker)
        broker_stop(d->broker);
    dev_tunnel_stop(d->tunnel);
}

void dev_free(struct dev *d)
{
    if (!d)
        return;
    lambda_config_free(d->cloud_config);
    lambda_config_free(d->worker_config);
    dev_build_free(d->build);
    aws_credentials_provider_free(d->credentials);
    dev_tunnel_free(d->tunnel);
    if (d->cloud_log)
        fclose(d->cloud_log);
    inspector_free(d->inspector);
    inspector_store_free(d->store);
    secure_wipe(d->endpoints.api_key, sizeof(d->endpoints.api_key));
    secure_wipe(d->key_text, sizeof(d->key_text));
    free(d);
}

int dev_function_has_standby(const struct dev *d, const char *function_id)
{
    return d->workers && lambda_service_has_standby(d->workers, function_id);
}
