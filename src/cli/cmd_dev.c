/* `tether dev`: run the project's functions on this machine while they are
 * invoked as if deployed. This file holds the command's options and its
 * output (cli/dev_output.c); what runs is dev/dev.c. docs/dev.md. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#define LOG_MODULE "dev"
#include "bridge/seal.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/dev_output.h"
#include "cli/shutdown.h"
#include "core/log.h"
#include "dev/attach_session.h"
#include "dev/config.h"
#include "dev/dev.h"
#include "dev/interpreter.h"

#define MAX_FUNCTION_PATTERNS 64

static const char about[] =
    "Runs the functions of the project (tether.json, found in this directory or a\n"
    "parent) on this machine: every invocation the bridge relays runs your real\n"
    "handler locally, with the deployed function's environment, and code changes\n"
    "take effect on the next invocation.\n"
    "\n"
    "Without an \"events\" endpoint in tether.json, the embedded defaults run here:\n"
    "an events broker and a local Lambda service whose functions run the bridge,\n"
    "so function URLs and `tether invoke` go through the whole live path.\n"
    "\n"
    "With a \"tunnel\" section in tether.json, the VPC tunnel runs too (as with\n"
    "`tether tunnel`): workers reach the VPC through its TUN device, or through\n"
    "its SOCKS5 proxy given to them as ALL_PROXY; its state is shown here.\n"
    "\n"
    "Every packet between the bridges and tether dev is authenticated and encrypted\n"
    "with the stage's bridge key (.tether/keys/STAGE.key, made when missing; see\n"
    "`tether bridge key`); anything that does not open with it is dropped.\n"
    "\n"
    "With an \"aws\" section (and \"deployed\" functions or an aws.stack), the\n"
    "deployed functions are attached while this runs: they run the bridge from a\n"
    "layer, and are restored on exit (Ctrl+C, SIGTERM, a fatal error); after a\n"
    "crash, `tether detach` restores them (docs/deploy.md, \"One command\").\n"
    "\n"
    "Every invocation can be seen in full and replayed in the inspector, a page\n"
    "and JSON API on 127.0.0.1 whose address (with this run's token) is printed\n"
    "at start (docs/inspector.md).\n";

struct dev_app {
    uv_loop_t *loop;
    struct dev_config project;
    struct dev_output out;
    struct cli_shutdown shutdown;
    struct dev *dev;
    const char *profile; /* --profile */
    uint16_t port;
    int inspect_port;   /* 0: off */
    int inspector_port; /* -1: off */
    size_t history_count;
    size_t history_bytes;
    unsigned debug_timeout_s;
    unsigned attach_timeout_s; /* --debug-timeout given: attached functions' timeout */
    int force;
    int insecure;          /* --insecure-no-auth */
    int sst;               /* --sst */
    int no_standby;        /* --no-standby */
    const char *key_file;  /* --key-file */
    struct bridge_key key; /* wiped at exit */
    int wrote_state;       /* .tether/dev.json is ours to remove */
    int exit_code;
    /* Attaching deployed functions (tether.json's "aws"; dev/attach_session.h). */
    struct attach_session *attach;
};

static void stop(struct dev_app *app, int exit_code)
{
    if (app->exit_code == EXIT_OK)
        app->exit_code = exit_code;
    cli_shutdown_close(&app->shutdown);
    attach_session_stop(app->attach);
    dev_stop(app->dev);
}

static void on_signal(void *ctx, int signum)
{
    struct dev_app *app = ctx;
    (void)signum;
    dev_output_line(&app->out, "stopping");
    stop(app, EXIT_OK);
}

static int show_endpoints(struct dev_app *app);

static void on_event(void *ctx, enum dev_session_event event, const char *detail)
{
    struct dev_app *app = ctx;
    switch (event) {
    case DEV_SESSION_READY: {
        char cause[512];
        if (dev_keep_records(app->dev, cause, sizeof(cause)) < 0)
            dev_output_problem(&app->out, "no invocation records: %s", cause);
        /* The embedded endpoints are open from now on (dev/dev.h). */
        if (show_endpoints(app) < 0) {
            dev_output_problem(&app->out, "cannot write .tether/dev.json in %s", app->project.root);
            stop(app, EXIT_FAILURE_RUNTIME);
            break;
        }
        dev_output_ready(&app->out);
        /* Functions are attached once this session hears their bridges. */
        if (attach_session_begin(app->attach) < 0) {
            dev_output_problem(&app->out, "cannot start attaching");
            stop(app, EXIT_FAILURE_RUNTIME);
        }
        break;
    }
    case DEV_SESSION_REFUSED:
        dev_output_problem(&app->out,
                           "another tether dev already serves app \"%s\", stage \"%s\" "
                           "(%s); stop it, use another --stage, or take over with --force",
                           app->project.app, app->project.stage, detail);
        stop(app, EXIT_FAILURE_RUNTIME);
        break;
    case DEV_SESSION_DISPLACED:
        dev_output_problem(&app->out, "another tether dev took over this stage (%s)", detail);
        stop(app, EXIT_FAILURE_RUNTIME);
        break;
    case DEV_SESSION_FAILED:
        dev_output_problem(&app->out, "cannot serve invocations: %s", detail);
        stop(app, EXIT_FAILURE_RUNTIME);
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

static void on_reload(void *ctx, const char *function_id, const char *path, double ms)
{
    struct dev_app *app = ctx;
    dev_output_reload(&app->out, function_id, path, ms,
                      dev_function_has_standby(app->dev, function_id));
}

static void on_note(void *ctx, const char *text)
{
    struct dev_app *app = ctx;
    dev_output_line(&app->out, "%s", text);
}

static void on_tunnel(void *ctx, const struct dev_tunnel_report *report)
{
    struct dev_app *app = ctx;
    dev_output_tunnel(&app->out, report);
}

static void on_build(void *ctx, const struct dev_build_report *r)
{
    struct dev_app *app = ctx;
    dev_output_build(&app->out, r);
}

static void on_debugger(void *ctx, const char *function_id, const char *worker, unsigned port)
{
    struct dev_app *app = ctx;
    dev_output_debugger(&app->out, function_id, worker, port);
}

/* The embedded defaults' endpoints and function URLs, and .tether/dev.json
 * for `tether invoke`. Nothing in remote mode. */
static int show_endpoints(struct dev_app *app)
{
    const struct dev_state *e = dev_endpoints(app->dev);
    if (!e->lambda[0])
        return 0;
    dev_output_endpoints(&app->out, e->events, e->lambda);
    for (size_t i = 0; i < app->project.function_count; i++) {
        char url[256];
        const struct dev_function *f = &app->project.functions[i];
        if (f->live && dev_function_url(app->dev, f->id, url, sizeof(url)) == 0)
            dev_output_url(&app->out, f->id, url);
    }
    if (dev_state_write(app->project.root, e) < 0)
        return -EIO;
    app->wrote_state = 1;
    return 0;
}

static int start(struct dev_app *app, char *cause, size_t cause_len)
{
    struct dev_options o = {
        .project = &app->project,
        .profile = app->profile ? app->profile : app->project.aws.profile,
        .port = app->port,
        .inspect_port = app->inspect_port,
        .debug_timeout_s = app->debug_timeout_s,
        .force = app->force,
        .no_standby = app->no_standby,
        .key = app->insecure ? NULL : &app->key,
        .function_log = dev_output_function_log(&app->out),
        .history_count = app->history_count,
        .history_bytes = app->history_bytes,
        .inspector_port = app->inspector_port,
        .callbacks = {on_event, on_invocation, on_reload, on_note, on_tunnel, on_build,
                      on_debugger},
        .ctx = app,
    };
    int rc = dev_start(app->loop, &o, &app->dev, cause, cause_len);
    if (rc == 0 && dev_inspector_url(app->dev)[0])
        dev_output_inspector(&app->out, dev_inspector_url(app->dev));
    return rc;
}

struct dev_cli_options {
    const char *config_path;
    const char *stage;
    uint64_t port;
    uint64_t inspect_port; /* 0: off */
    uint64_t inspector_port;
    uint64_t history;
    uint64_t history_mb;
    int no_inspector;
    uint64_t debug_timeout_s;
    const char *patterns[MAX_FUNCTION_PATTERNS];
    struct cli_list functions; /* --function */
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
         .help = "start Node workers with the inspector and Python workers\n"
                 "with debugpy, each worker on its own port: PORT (default\n"
                 "9229), then the next free ones"},
        CLI_NUMBER("inspector-port", "PORT", &o->inspector_port, 0, 65535,
                   "the invocation inspector on 127.0.0.1 (default 0: a free\n"
                   "port; its URL with the session's token is printed)"),
        CLI_FLAG("no-inspector", &o->no_inspector, "do not serve the inspector"),
        CLI_NUMBER("history", "N", &o->history, 1, 1000000,
                   "invocations kept in the inspector and .tether/log/\n"
                   "(default 1000; the oldest go first)"),
        CLI_NUMBER("history-mb", "MB", &o->history_mb, 1, 65536,
                   "megabytes of events, answers and logs kept (default 256)"),
        CLI_NUMBER("debug-timeout", "SECONDS", &o->debug_timeout_s, 1, 900,
                   "with --inspect, every function's timeout, so a worker\n"
                   "stopped at a breakpoint is not cut off (default 900);\n"
                   "given, also the attached deployed functions' timeout"),
        {.name = "function",
         .short_name = 'f',
         .kind = CLI_ARG_LIST,
         .metavar = "PATTERN",
         .target = &o->functions,
         .help = "run only the functions whose id matches (shell wildcards,\n"
                 "repeatable); the others are left as if \"live\": false"},
        CLI_FLAG("no-standby", &app->no_standby,
                 "restart workers on a change instead of handing over to a\n"
                 "warm standby (one started runtime per function, ahead)"),
        CLI_FLAG("force", &app->force,
                 "take over from another tether dev on the same stage, and\n"
                 "deployed functions another session has attached"),
        CLI_STRING("key-file", "FILE", &app->key_file,
                   "the bridge key to use (default: TETHER_BRIDGE_KEY, else\n"
                   ".tether/keys/STAGE.key, created when missing)"),
        CLI_FLAG("insecure-no-auth", &app->insecure,
                 "run without a bridge key: anyone who can publish on the\n"
                 "events API can run code here (never on a shared account)"),
        CLI_FLAG("sst", &app->sst,
                 "serve bridges that `sst` deployed (namespace \"sst\"); SST's\n"
                 "packets carry no authentication, so this needs\n"
                 "--insecure-no-auth (docs/dev.md, \"SST compatibility\")"),
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
    app->inspector_port = o->no_inspector ? -1 : (int)o->inspector_port;
    app->history_count = (size_t)o->history;
    app->history_bytes = (size_t)o->history_mb * 1024 * 1024;
    /* 0: not given; attached functions then keep their own timeouts. */
    app->attach_timeout_s = (unsigned)o->debug_timeout_s;
    app->debug_timeout_s = o->debug_timeout_s ? (unsigned)o->debug_timeout_s : 900;
    return code;
}

static void warn(void *ctx, const char *text)
{
    struct dev_app *app = ctx;
    dev_output_warning(&app->out, text);
}

/* Runtimes newer than tether knows, and local interpreters of another
 * version than the one declared: both run, and both are said once. */
static void show_runtime_warnings(struct dev_app *app)
{
    for (size_t i = 0; i < app->project.function_count; i++) {
        const struct dev_function *f = &app->project.functions[i];
        if (f->live && f->runtime_note[0])
            warn(app, f->runtime_note);
    }
    dev_interpreter_check(&app->project, warn, app);
    if (app->inspect_port)
        dev_output_line(
            &app->out,
            "debugging: workers get debugger ports from %d up; every function's timeout "
            "is %u s while debugging",
            app->inspect_port, app->debug_timeout_s);
}

/* The stage's bridge key (dev/state.h), or the loud insecure mode. */
static int load_key(struct dev_app *app, char *cause, size_t cause_len)
{
    static const char *const origins[] = {"file", "environment", "project", "created"};
    if (app->insecure) {
        if (app->key_file) {
            snprintf(cause, cause_len, "--insecure-no-auth and --key-file contradict each other");
            return -EINVAL;
        }
        dev_output_insecure(&app->out);
        return 0;
    }
    enum dev_key_origin origin;
    int rc = dev_key_resolve(app->project.root, app->project.stage, app->key_file, 1, &app->key,
                             &origin, cause, cause_len);
    if (rc < 0)
        return rc;
    char path[PATH_MAX + 96];
    dev_key_path(app->project.root, app->project.stage, path, sizeof(path));
    const char *shown = origin == DEV_KEY_FROM_FILE  ? app->key_file
                        : origin == DEV_KEY_FROM_ENV ? NULL
                                                     : path;
    dev_output_key(&app->out, origins[origin], shown);
    return 0;
}

static const char sst_warning[] =
    "tether dev: SST COMPATIBILITY MODE (--sst)\n"
    "  Serving bridges under the namespace \"sst\", in SST's packet format:\n"
    "  nothing is authenticated or encrypted. Anyone who can publish on this\n"
    "  events API can run code on this machine as you, and anyone who can\n"
    "  subscribe reads every invocation and the functions' credentials.\n";

/* --sst: SST's namespace, and only together with the insecure mode, which
 * it cannot do without (SST signs nothing). */
static int apply_sst(struct dev_app *app, char *cause, size_t cause_len)
{
    if (!app->insecure) {
        snprintf(cause, cause_len,
                 "--sst needs --insecure-no-auth: SST's packets carry no authentication, so "
                 "anyone who can publish on the events API could run code here");
        return -EINVAL;
    }
    const char *ns = app->project.namespace_name;
    if (strcmp(ns, "tether") != 0 && strcmp(ns, "sst") != 0) {
        snprintf(cause, cause_len,
                 "--sst serves the namespace \"sst\", but tether.json names \"%s\"", ns);
        return -EINVAL;
    }
    char *sst = strdup("sst");
    if (!sst) {
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    free(app->project.namespace_name);
    app->project.namespace_name = sst;
    fputs(sst_warning, stderr);
    return 0;
}

static void on_attach_report(void *ctx, const struct attach_report *r)
{
    struct dev_app *app = ctx;
    dev_output_attach(&app->out, r);
}

static void on_attach_info(void *ctx, const char *message)
{
    struct dev_app *app = ctx;
    dev_output_line(&app->out, "%s", message);
}

static void on_attach_problem(void *ctx, const char *message)
{
    struct dev_app *app = ctx;
    dev_output_problem(&app->out, "%s", message);
}

/* With tether.json's "aws": credentials, the events API, the targets, the
 * leftovers restored; attaching itself starts when the session is ready. */
static int prepare_attach(struct dev_app *app, char *cause, size_t cause_len)
{
    const struct attach_session_options o = {
        .loop = app->loop,
        .project = &app->project,
        .key = app->insecure ? NULL : &app->key,
        .profile = app->profile,
        .timeout_s = app->attach_timeout_s,
        .force = app->force,
        .cb = {on_attach_report, on_attach_info, on_attach_problem, app},
    };
    return attach_session_new(&o, &app->attach, cause, cause_len);
}

int cmd_dev_main(int argc, char **argv)
{
    static struct dev_app app;
    char cause[512] = "";
    struct dev_cli_options o = {
        .port = 9000, .history = 1000, .history_mb = 256, .debug_timeout_s = 0};
    o.functions = (struct cli_list){o.patterns, 0, MAX_FUNCTION_PATTERNS};
    app.loop = uv_default_loop();
    int code = parse(argc, argv, &app, &o);
    if (code != CLI_ARGS_CONTINUE)
        return code;
    if (dev_project_load(o.config_path, o.stage, &app.project, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether dev: %s\n", cause);
        return EXIT_USAGE;
    }
    if (app.sst && apply_sst(&app, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether dev: %s\n", cause);
        dev_config_free(&app.project);
        return EXIT_USAGE;
    }
    if (dev_config_select(&app.project, (const char *const *)o.functions.items, o.functions.count,
                          cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether dev: %s\n", cause);
        dev_config_free(&app.project);
        return EXIT_USAGE;
    }
    dev_output_init(&app.out, o.json, app.project.app, app.project.stage);
    show_runtime_warnings(&app);
    if (load_key(&app, cause, sizeof(cause)) < 0) {
        dev_output_problem(&app.out, "%s", cause);
        dev_config_free(&app.project);
        return EXIT_FAILURE_RUNTIME;
    }
    if (prepare_attach(&app, cause, sizeof(cause)) < 0) {
        dev_output_problem(&app.out, "%s", cause);
        dev_config_free(&app.project);
        bridge_key_wipe(&app.key);
        return EXIT_FAILURE_RUNTIME;
    }
    cli_shutdown_init(app.loop, &app.shutdown, on_signal, &app);
    if (start(&app, cause, sizeof(cause)) < 0) {
        dev_output_problem(&app.out, "%s", cause);
        stop(&app, EXIT_FAILURE_RUNTIME);
    }
    uv_run(app.loop, UV_RUN_DEFAULT);
    /* After the loop: every function attached is restored, and waited for. */
    if (attach_session_finish(app.attach))
        app.exit_code = EXIT_FAILURE_RUNTIME;
    if (app.wrote_state)
        dev_state_remove(app.project.root);
    dev_free(app.dev);
    dev_config_free(&app.project);
    bridge_key_wipe(&app.key);
    uv_loop_close(app.loop);
    return app.exit_code;
}
