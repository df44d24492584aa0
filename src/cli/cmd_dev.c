/* `tether dev`: run the project's functions on this machine while they are
 * invoked as if deployed. With no events endpoint in tether.json it brings up
 * the embedded defaults itself: the events broker, and a local Lambda service
 * that runs the real bridge (tether-bridge) as each function's runtime, so a
 * curl on a function URL travels exactly the live path. docs/dev.md. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#define LOG_MODULE "dev"
#include "aws/credentials_provider.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/dev_output.h"
#include "cli/shutdown.h"
#include "core/log.h"
#include "core/random.h"
#include "dev/config.h"
#include "dev/session.h"
#include "dev/watcher.h"
#include "events/broker.h"
#include "lambda/config.h"
#include "lambda/lambda.h"

static const char about[] =
    "Runs the functions of the project (tether.json, found in this directory or a\n"
    "parent) on this machine: every invocation the bridge relays runs your real\n"
    "handler locally, with the deployed function's environment, and code changes\n"
    "take effect on the next invocation.\n"
    "\n"
    "Without an \"events\" endpoint in tether.json, the embedded defaults run here:\n"
    "an events broker and a local Lambda service whose functions run the bridge,\n"
    "so function URLs and `tether invoke` go through the whole live path.\n";

struct dev_app {
    uv_loop_t *loop;
    struct dev_config project;
    struct dev_output out;
    struct cli_shutdown shutdown;
    struct broker *broker;
    struct lambda_config *cloud_config; /* functions running the bridge */
    struct lambda_service *cloud;
    struct lambda_config *worker_config; /* functions running the handlers */
    struct lambda_service *workers;
    struct dev_session *session;
    struct watcher *watcher;
    struct aws_credentials_provider *credentials; /* remote mode with IAM */
    const char *profile;                          /* --profile */
    FILE *cloud_log;                              /* where the bridges' function logs go */
    char api_key[40];
    char events_http[128];
    char root_dir[PATH_MAX]; /* where tether's own files are (runtimes/, tether-bridge) */
    uint16_t port;
    int inspect_port; /* 0: off */
    int force;
    int exit_code;
    int stopping;
    int pending_stops;
};

/* ---- where tether's files are ---- */

static int find_install_root(struct dev_app *app, char *cause, size_t cause_len)
{
    const char *env = getenv("TETHER_HOME");
    if (env && *env) {
        snprintf(app->root_dir, sizeof(app->root_dir), "%s", env);
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        snprintf(cause, cause_len, "cannot find tether's own files (set TETHER_HOME)");
        return -ENOENT;
    }
    exe[n] = '\0';
    /* build/tether or build/san/tether: the repository is above build/. */
    char *slash = strrchr(exe, '/');
    *slash = '\0';
    snprintf(app->root_dir, sizeof(app->root_dir), "%s", exe);
    for (int up = 0; up < 3; up++) {
        char probe[PATH_MAX + 32];
        snprintf(probe, sizeof(probe), "%s/runtimes/node/index.mjs", app->root_dir);
        if (access(probe, R_OK) == 0)
            return 0;
        if (!(slash = strrchr(app->root_dir, '/')) || slash == app->root_dir)
            break;
        *slash = '\0';
    }
    snprintf(cause, cause_len, "cannot find tether's runtimes/ next to %s (set TETHER_HOME)", exe);
    return -ENOENT;
}

static void bridge_path(const struct dev_app *app, char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, cap, "%s/tether-bridge", exe);
    if (access(out, X_OK) != 0)
        snprintf(out, cap, "%s/build/tether-bridge", app->root_dir);
}

/* ---- the two Lambda configurations ---- */

static json_t *function_env(const struct dev_function *f)
{
    json_t *env = json_object();
    for (size_t i = 0; i < f->environment_count; i++)
        json_object_set_new(env, f->environment[i].name, json_string(f->environment[i].value));
    return env;
}

/* The cloud side: each live function runs the bridge, as it would in AWS. */
static json_t *cloud_function(const struct dev_app *app, const struct dev_function *f)
{
    char bridge[PATH_MAX + 32];
    bridge_path(app, bridge, sizeof(bridge));
    json_t *env = function_env(f);
    json_object_set_new(env, "TETHER_EVENTS_HTTP", json_string(app->events_http));
    json_object_set_new(env, "TETHER_EVENTS_API_KEY", json_string(app->api_key));
    json_object_set_new(env, "TETHER_APP", json_string(app->project.app));
    json_object_set_new(env, "TETHER_STAGE", json_string(app->project.stage));
    json_object_set_new(env, "TETHER_NAMESPACE", json_string(app->project.namespace_name));
    json_object_set_new(env, "TETHER_FUNCTION_ID", json_string(f->id));
    if (f->streaming)
        json_object_set_new(env, "TETHER_STREAMING", json_string("1"));
    return json_pack("{s:s, s:s, s:s, s:[s], s:s, s:o, s:i, s:i, s:i, s:b, s:b}", "name", f->id,
                     "runtime", "provided.al2023", "handler", f->handler ? f->handler : "",
                     "bootstrap", bridge, "working_dir", app->project.root, "environment", env,
                     "timeout", (int)f->timeout_s, "memory", (int)f->memory_mb, "concurrency",
                     (int)f->concurrency, "streaming", f->streaming, "url", f->url);
}

static json_t *worker_bootstrap(const struct dev_app *app, const struct dev_function *f)
{
    char path[PATH_MAX + 64];
    json_t *argv = json_array();
    if (f->runtime == DEV_RUNTIME_NODE && f->node_worker == DEV_NODE_WORKER_RIC) {
        snprintf(path, sizeof(path), "%s/node_modules/aws-lambda-ric/bin/index.mjs",
                 app->project.root);
        json_array_append_new(argv, json_string("node"));
        json_array_append_new(argv, json_string(path));
        json_array_append_new(argv, json_string(f->handler));
    } else if (f->runtime == DEV_RUNTIME_NODE) {
        snprintf(path, sizeof(path), "%s/runtimes/node/index.mjs", app->root_dir);
        json_array_append_new(argv, json_string("node"));
        json_array_append_new(argv, json_string(path));
    } else if (f->runtime == DEV_RUNTIME_PYTHON) {
        snprintf(path, sizeof(path), "%s/runtimes/python/bootstrap.py", app->root_dir);
        json_array_append_new(argv, json_string("python3"));
        json_array_append_new(argv, json_string(path));
    } else {
        snprintf(path, sizeof(path), "%s/%s", app->project.root, f->bootstrap);
        json_array_append_new(argv, json_string(path));
    }
    return argv;
}

/* The local side: each function runs its real handler in workers. */
static json_t *worker_function(const struct dev_app *app, const struct dev_function *f)
{
    json_t *env = function_env(f);
    if (app->inspect_port && f->runtime == DEV_RUNTIME_NODE) {
        char options[64];
        /* Port 0 would pick a free one, but the user needs to know it: the
         * first worker gets the given port (more workers: see docs/dev.md). */
        snprintf(options, sizeof(options), "--inspect=127.0.0.1:%d", app->inspect_port);
        json_object_set_new(env, "NODE_OPTIONS", json_string(options));
    }
    if (app->inspect_port && f->runtime == DEV_RUNTIME_PYTHON) {
        char port[16];
        snprintf(port, sizeof(port), "%d", app->inspect_port);
        json_object_set_new(env, "TETHER_DEBUGPY_PORT", json_string(port));
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:i, s:i, s:i, s:b}", "name", f->id, "runtime",
                     f->runtime_name, "handler", f->handler ? f->handler : "", "bootstrap",
                     worker_bootstrap(app, f), "working_dir", app->project.root, "environment", env,
                     "timeout", (int)f->timeout_s, "memory", (int)f->memory_mb, "concurrency", 1000,
                     "streaming", f->streaming);
}

static int build_config(struct dev_app *app, int cloud, struct lambda_config **out, char *cause,
                        size_t cause_len)
{
    json_t *functions = json_array();
    for (size_t i = 0; i < app->project.function_count; i++) {
        const struct dev_function *f = &app->project.functions[i];
        if (f->live)
            json_array_append_new(functions,
                                  cloud ? cloud_function(app, f) : worker_function(app, f));
    }
    json_t *root = json_pack("{s:o, s:i}", "functions", functions, "idle_timeout", 3600);
    char *text = json_dumps(root, JSON_COMPACT);
    int rc = lambda_config_parse(text, strlen(text), app->project.root, out, cause, cause_len);
    free(text);
    json_decref(root);
    return rc;
}

/* ---- lifecycle ---- */

static void on_part_stopped(void *user)
{
    struct dev_app *app = user;
    app->pending_stops--;
}

static void stop_all(struct dev_app *app, int exit_code)
{
    if (app->stopping)
        return;
    app->stopping = 1;
    app->exit_code = exit_code;
    cli_shutdown_close(&app->shutdown);
    if (app->watcher)
        watcher_stop(app->watcher);
    if (app->session)
        dev_session_stop(app->session);
    if (app->cloud) {
        app->pending_stops++;
        lambda_service_stop(app->cloud, on_part_stopped, app);
    }
    if (app->workers) {
        app->pending_stops++;
        lambda_service_stop(app->workers, on_part_stopped, app);
    }
    if (app->broker)
        broker_stop(app->broker);
}

static void on_signal(void *ctx, int signum)
{
    struct dev_app *app = ctx;
    (void)signum;
    dev_output_line(&app->out, "stopping");
    stop_all(app, EXIT_OK);
}

static void on_session_event(void *ctx, enum dev_session_event event, const char *detail)
{
    struct dev_app *app = ctx;
    switch (event) {
    case DEV_SESSION_READY:
        dev_output_ready(&app->out);
        break;
    case DEV_SESSION_REFUSED:
        dev_output_problem(&app->out,
                           "another tether dev already serves app \"%s\", stage \"%s\" "
                           "(%s); stop it, use another --stage, or take over with --force",
                           app->project.app, app->project.stage, detail);
        stop_all(app, EXIT_FAILURE_RUNTIME);
        break;
    case DEV_SESSION_DISPLACED:
        dev_output_problem(&app->out, "another tether dev took over this stage (%s)", detail);
        stop_all(app, EXIT_FAILURE_RUNTIME);
        break;
    case DEV_SESSION_FAILED:
        dev_output_problem(&app->out, "cannot serve invocations: %s", detail);
        stop_all(app, EXIT_FAILURE_RUNTIME);
        break;
    case DEV_SESSION_EVENTS_LOST:
        dev_output_line(&app->out, "events connection lost (%s); reconnecting", detail);
        break;
    case DEV_SESSION_EVENTS_BACK:
        dev_output_line(&app->out, "events connection restored");
        break;
    case DEV_SESSION_WORKER_NEW:
        dev_output_worker(&app->out, detail);
        break;
    }
}

static void on_invocation(void *ctx, const struct dev_invocation_report *r)
{
    struct dev_app *app = ctx;
    dev_output_invocation(&app->out, r);
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
    struct dev_app *app = ctx;
    for (size_t i = 0; i < app->project.function_count; i++) {
        const struct dev_function *f = &app->project.functions[i];
        const char *hit = NULL;
        for (size_t k = 0; k < count && !hit; k++)
            if (file_affects(f, paths[k]) && strncmp(paths[k], ".tether/", 8) != 0)
                hit = paths[k];
        if (!hit || !f->live)
            continue;
        dev_session_reload(app->session, f->id);
        double ms = (double)(uv_hrtime() - first_event_ns) / 1e6;
        dev_output_reload(&app->out, f->id, hit, ms);
    }
}

/* ---- start ---- */

static int start_embedded(struct dev_app *app, char *cause, size_t cause_len)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    strcpy(app->api_key, "da2-");
    for (int i = 0; i < 26; i++)
        app->api_key[4 + i] = alphabet[random_below(sizeof(alphabet) - 1)];
    const char *keys[] = {app->api_key};
    struct broker_config bc = {.listen_host = "127.0.0.1", .api_keys = keys, .api_key_count = 1};
    const char *namespaces[] = {app->project.namespace_name, "default"};
    bc.namespaces = namespaces;
    bc.namespace_count = 2;
    int rc = broker_start(app->loop, &bc, &app->broker, cause, cause_len);
    if (rc < 0)
        return rc;
    snprintf(app->events_http, sizeof(app->events_http), "http://127.0.0.1:%u/event",
             broker_port(app->broker));
    rc = build_config(app, 1, &app->cloud_config, cause, cause_len);
    if (rc < 0)
        return rc;
    /* The bridges' own START/END lines would double every invocation's: they
     * are shown only at debug level. */
    if (!log_enabled(LOG_LEVEL_DEBUG))
        app->cloud_log = fopen("/dev/null", "w");
    struct lambda_service_options lo = {
        .host = "127.0.0.1",
        .port = app->port,
        .log_out = app->cloud_log ? app->cloud_log : dev_output_function_log(&app->out)};
    rc = lambda_service_start(app->loop, app->cloud_config, &lo, &app->cloud, cause, cause_len);
    if (rc < 0)
        return rc;
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u", lambda_service_port(app->cloud));
    dev_output_endpoints(&app->out, app->events_http, endpoint);
    for (size_t i = 0; i < app->project.function_count; i++) {
        char url[256];
        const struct dev_function *f = &app->project.functions[i];
        if (f->live && lambda_service_function_url(app->cloud, f->id, url, sizeof(url)) == 0)
            dev_output_url(&app->out, f->id, url);
    }
    return dev_output_write_state(&app->out, app->project.root, app->events_http, app->api_key,
                                  endpoint);
}

static int remote_region(const struct dev_app *app, char *region, size_t region_len)
{
    const struct dev_events *e = &app->project.events;
    const char *set = e->region ? e->region : getenv("AWS_REGION");
    if (!set || !*set)
        set = getenv("AWS_DEFAULT_REGION");
    if (set && *set) {
        snprintf(region, region_len, "%s", set);
        return 0;
    }
    if (events_client_region_from_url(e->http, region, region_len) == 0)
        return 0;
    return aws_region_resolve(app->profile, region, region_len);
}

/* Remote mode without an API key: SigV4 with the AWS credentials chain
 * (refreshed before they expire) and the API's region. */
static int remote_iam(struct dev_app *app, struct events_client_config *events, char *region,
                      size_t region_len, char *cause, size_t cause_len)
{
    struct aws_credentials_options options = {.profile = app->profile};
    char why[600];
    int rc = aws_credentials_provider_new(&options, &app->credentials, why, sizeof(why));
    if (rc < 0) {
        snprintf(cause, cause_len, "IAM authorization to the events API: %s", why);
        return rc;
    }
    if (remote_region(app, region, region_len) < 0) {
        snprintf(cause, cause_len,
                 "IAM authorization to the events API needs its region: \"region\" in the "
                 "events section of tether.json, AWS_REGION, or region in the AWS profile");
        return -EINVAL;
    }
    struct aws_credentials current;
    if (aws_credentials_provider_get(app->credentials, &current, why, sizeof(why)) == 0)
        dev_output_line(&app->out, "AWS credentials from %s, region %s", current.source, region);
    aws_credentials_wipe(&current);
    events->credentials = app->credentials;
    events->region = region;
    return 0;
}

static int start_session(struct dev_app *app, char *cause, size_t cause_len)
{
    int rc = build_config(app, 0, &app->worker_config, cause, cause_len);
    struct lambda_service_options lo = {
        .host = "127.0.0.1", .port = 0, .log_out = dev_output_function_log(&app->out)};
    if (rc == 0)
        rc = lambda_service_start(app->loop, app->worker_config, &lo, &app->workers, cause,
                                  cause_len);
    if (rc < 0)
        return rc;
    struct events_client_config events;
    events_client_config_init(&events);
    char region[AWS_REGION_MAX + 1];
    const struct dev_events *e = &app->project.events;
    if (e->mode == DEV_EVENTS_EMBEDDED) {
        events.http_url = app->events_http;
        events.api_key = app->api_key;
    } else {
        events.http_url = e->http;
        events.realtime_url = e->realtime;
        events.ca_file = e->ca_file;
        if (e->api_key)
            events.api_key = e->api_key;
        else if ((rc = remote_iam(app, &events, region, sizeof(region), cause, cause_len)) < 0)
            return rc;
    }
    struct dev_session_options so = {
        .project = &app->project,
        .workers = app->workers,
        .events = &events,
        .force = app->force,
        .callbacks = {on_session_event, on_invocation},
        .ctx = app,
    };
    rc = dev_session_start(app->loop, &so, &app->session, cause, cause_len);
    if (rc == 0)
        rc = watcher_start(app->loop, app->project.root, 0, on_change, app, &app->watcher, cause,
                           cause_len);
    return rc;
}

struct dev_cli_options {
    const char *config_path;
    const char *stage;
    uint64_t port;
    uint64_t inspect_port; /* 0: off */
    int json;
};

/* CLI_ARGS_CONTINUE, or the exit code after --help or a usage error. */
static int parse(int argc, char **argv, struct dev_app *app, struct dev_cli_options *o)
{
    const struct cli_option table[] = {
        CLI_STRING("config", "FILE", &o->config_path,
                   "tether.json to use (default: search upwards)"),
        CLI_STRING("stage", "NAME", &o->stage, "override the stage"),
        CLI_NUMBER("port", "PORT", &o->port, 0, 65535,
                   "embedded Lambda service port (default 9000; 0 picks one)"),
        {.name = "inspect",
         .kind = CLI_ARG_NUMBER,
         .metavar = "PORT",
         .target = &o->inspect_port,
         .min = 1,
         .max = 65535,
         .value_optional = 1,
         .implicit = 9229,
         .help = "start Node workers with the inspector (first port, default\n"
                 "9229, one per worker) and Python workers with debugpy"},
        CLI_FLAG("force", &app->force, "take over from another tether dev on the same stage"),
        CLI_STRING("profile", "NAME", &app->profile,
                   "AWS profile for IAM auth to a remote events API (default:\n"
                   "AWS_PROFILE; the environment's keys are not used then)"),
        CLI_FLAG("json", &o->json, "machine-readable output: one JSON object per line"),
        CLI_END,
    };
    const struct cli_spec spec = {
        .command = "dev",
        .usage = "[OPTIONS]",
        .about = about,
        .tables = {table},
    };
    struct cli_args args;
    int code = cli_args_parse(&spec, argc, argv, &args);
    app->port = (uint16_t)o->port;
    app->inspect_port = (int)o->inspect_port;
    return code;
}

static int load_project(struct dev_app *app, const char *config_path, const char *stage,
                        char *cause, size_t cause_len)
{
    char found[PATH_MAX];
    if (!config_path) {
        if (dev_config_find(".", found, sizeof(found)) < 0) {
            snprintf(cause, cause_len,
                     "no tether.json in this directory or its parents (see docs/config.md)");
            return -ENOENT;
        }
        config_path = found;
    }
    int rc = dev_config_load(config_path, &app->project, cause, cause_len);
    if (rc == 0 && stage) {
        free(app->project.stage);
        app->project.stage = strdup(stage);
    }
    return rc;
}

int cmd_dev_main(int argc, char **argv)
{
    static struct dev_app app;
    char cause[512] = "";
    struct dev_cli_options o = {.port = 9000};
    app.loop = uv_default_loop();
    int code = parse(argc, argv, &app, &o);
    if (code != CLI_ARGS_CONTINUE)
        return code;
    if (load_project(&app, o.config_path, o.stage, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether dev: %s\n", cause);
        return EXIT_USAGE;
    }
    dev_output_init(&app.out, o.json, app.project.app, app.project.stage);
    cli_shutdown_init(app.loop, &app.shutdown, on_signal, &app);
    int rc = find_install_root(&app, cause, sizeof(cause));
    if (rc == 0 && app.project.events.mode == DEV_EVENTS_EMBEDDED)
        rc = start_embedded(&app, cause, sizeof(cause));
    if (rc == 0)
        rc = start_session(&app, cause, sizeof(cause));
    if (rc < 0) {
        dev_output_problem(&app.out, "%s", cause);
        stop_all(&app, EXIT_FAILURE_RUNTIME);
    }
    uv_run(app.loop, UV_RUN_DEFAULT);
    dev_output_remove_state(&app.out, app.project.root);
    lambda_config_free(app.cloud_config);
    lambda_config_free(app.worker_config);
    dev_config_free(&app.project);
    aws_credentials_provider_free(app.credentials);
    dev_output_free(&app.out);
    if (app.cloud_log)
        fclose(app.cloud_log);
    uv_loop_close(app.loop);
    return app.exit_code;
}
