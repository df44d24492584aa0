/* `tether lambda`: run the local Lambda service in the foreground. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define LOG_MODULE "lambda"
#include "cli/args.h"
#include "cli/commands.h"
#include "core/log.h"
#include "lambda/config.h"
#include "lambda/lambda.h"
#include "net/http.h"

static const char about[] =
    "Runs a local AWS Lambda service: functions from the configuration, or deployed\n"
    "through its control plane (CreateFunction, layers, tags ... from the AWS CLI and\n"
    "SDKs), run the way Lambda runs them (a bootstrap process per sandbox, talking to\n"
    "the Runtime API), invoked through the Lambda Invoke API and function URLs on one\n"
    "port. Without --config it starts with no functions.\n";

static const char footer[] =
    "Endpoints: POST /2015-03-31/functions/NAME/invocations (also the Runtime\n"
    "Interface Emulator's /2015-03-31/functions/function/invocations) and, for\n"
    "functions with \"url\": true, http://HOST:PORT/url/NAME/. Each sandbox's\n"
    "runtime gets its own AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT.\n"
    "The control plane (/2015-03-31/functions, /2018-10-31/layers, /2017-03-31/tags)\n"
    "takes only requests signed (SigV4, service lambda) with the service's credentials:\n"
    "the configuration's \"credentials\", else AWS_ACCESS_KEY_ID and\n"
    "AWS_SECRET_ACCESS_KEY; without any it answers 403. Deployed functions and their\n"
    "zips live in a private temporary folder, removed on exit, and only in memory\n"
    "unless --state-dir keeps them.\n"
    "Function logs and START/END/REPORT lines go to stdout prefixed with [NAME];\n"
    "the service's own messages go to stderr. Stop with Ctrl-C (SIGINT) or SIGTERM:\n"
    "sandboxes are killed and the exit code is 0.\n";

struct lambda_options {
    const char *config_path;
    const char *state_dir;
    struct hostport listen;
    uint64_t idle_timeout_ms;
    int json;
    int check;
    int allow_remote;
};

/* CLI_ARGS_CONTINUE, or the exit code after --help or a usage error. */
static int parse_options(int argc, char **argv, struct lambda_options *o)
{
    const struct cli_option table[] = {
        {.name = "config",
         .kind = CLI_ARG_STRING,
         .metavar = "FILE",
         .target = &o->config_path,
         .help = "the functions (JSON; schema in docs/lambda.md); without\n"
                 "it the service starts with none"},
        {.name = "state-dir",
         .kind = CLI_ARG_STRING,
         .metavar = "DIR",
         .target = &o->state_dir,
         .help = "keep deployed functions and layers in DIR/.tether/\n"
                 "across restarts (default: in memory only)"},
        CLI_HOSTPORT("listen", &o->listen, 0,
                     "address for the Invoke API and function URLs\n"
                     "(default 127.0.0.1:9001; port 0 picks one)"),
        CLI_NUMBER("idle-timeout-ms", "MS", &o->idle_timeout_ms, 1, UINT64_MAX,
                   "stop sandboxes idle this long (default: the\n"
                   "configuration's idle_timeout, 300 s)"),
        CLI_FLAG("json", &o->json, "print the endpoints as one JSON line on stdout"),
        CLI_FLAG("check", &o->check, "validate the configuration and exit"),
        CLI_FLAG("allow-remote", &o->allow_remote,
                 "allow a --listen address other than loopback, although\n"
                 "the service has no authentication: whoever reaches it\n"
                 "invokes the functions"),
        CLI_END,
    };
    const struct cli_spec spec = {
        .command = "lambda",
        .usage = "[--config FILE.json] [OPTIONS]",
        .about = about,
        .footer = footer,
        .tables = {table},
    };
    struct cli_args args;
    int code = cli_args_parse(&spec, argc, argv, &args);
    if (code != CLI_ARGS_CONTINUE || http_address_is_loopback(o->listen.host))
        return code;
    /* The service has no authentication: off loopback, anyone who reaches
     * the port invokes the functions, so it takes an explicit flag. */
    if (!o->allow_remote)
        return cli_args_usage_error(&spec, "--listen on a non-loopback address lets anyone who "
                                           "reaches it invoke the functions; add --allow-remote "
                                           "to do so anyway");
    fprintf(stderr,
            "tether lambda: warning: listening on %s without authentication "
            "(--allow-remote): anyone who reaches it can invoke the functions\n",
            o->listen.host);
    return code;
}

static struct lambda_service *running_service;
static uv_signal_t signals[2];

static void close_signals(void)
{
    for (size_t i = 0; i < 2; i++)
        if (!uv_is_closing((uv_handle_t *)&signals[i]))
            uv_close((uv_handle_t *)&signals[i], NULL);
}

static void on_stopped(void *user)
{
    (void)user;
    close_signals();
}

static void on_signal(uv_signal_t *signal, int signum)
{
    (void)signal;
    log_info("received signal %d, stopping", signum);
    struct lambda_service *service = running_service;
    running_service = NULL;
    if (service)
        lambda_service_stop(service, on_stopped, NULL);
}

static int run(const struct lambda_options *o, const struct lambda_config *config)
{
    uv_loop_t *loop = uv_default_loop();
    struct lambda_service_options options = {
        .host = o->listen.host,
        .port = o->listen.port,
        .log_out = stdout,
        .idle_timeout_ms = o->idle_timeout_ms,
        .control_plane = 1,
        .state_dir = o->state_dir,
    };
    char cause[256] = "";
    int exit_code = EXIT_OK;
    if (lambda_service_start(loop, config, &options, &running_service, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether lambda: %s\n", cause);
        exit_code = EXIT_FAILURE_RUNTIME;
    } else {
        lambda_service_describe(running_service, stdout, o->json);
        uv_signal_init(loop, &signals[0]);
        uv_signal_init(loop, &signals[1]);
        uv_signal_start(&signals[0], on_signal, SIGINT);
        uv_signal_start(&signals[1], on_signal, SIGTERM);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return exit_code;
}

int cmd_lambda_main(int argc, char **argv)
{
    /* A sandbox's runtime started with its layers at /opt (internal). */
    if (argc >= 2 && strcmp(argv[1], "__opt") == 0)
        return lambda_opt_exec(argc, argv);
    struct lambda_options o = {.listen = {.host = "127.0.0.1", .port = 9001}};
    int code = parse_options(argc, argv, &o);
    if (code != CLI_ARGS_CONTINUE)
        return code;
    char cause[512];
    struct lambda_config *config = NULL;
    /* No configuration: no functions until the control plane makes some. */
    if (!o.config_path && !(config = lambda_config_new())) {
        fprintf(stderr, "tether lambda: out of memory\n");
        return EXIT_FAILURE_RUNTIME;
    }
    if (o.config_path && lambda_config_load(o.config_path, &config, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether lambda: %s\n", cause);
        return EXIT_USAGE;
    }
    int exit_code = EXIT_OK;
    if (o.check)
        printf("%s: %zu function%s, valid\n", o.config_path ? o.config_path : "(no configuration)",
               config->function_count, config->function_count == 1 ? "" : "s");
    else
        exit_code = run(&o, config);
    lambda_config_free(config);
    return exit_code;
}
