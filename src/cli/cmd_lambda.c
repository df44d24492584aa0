/* `tether lambda`: run the local Lambda service in the foreground. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define LOG_MODULE "lambda"
#include "cli/commands.h"
#include "core/log.h"
#include "lambda/config.h"
#include "lambda/lambda.h"

const char cmd_lambda_help[] =
    "usage: tether lambda --config FILE.json [OPTIONS]\n"
    "\n"
    "Runs a local AWS Lambda service: functions from the configuration run the way\n"
    "Lambda runs them (a bootstrap process per sandbox, talking to the Runtime API),\n"
    "invoked through the Lambda Invoke API and function URLs on one port.\n"
    "\n"
    "options:\n"
    "  --config FILE          the functions (JSON; schema in docs/lambda.md)\n"
    "  --listen HOST:PORT     address for the Invoke API and function URLs\n"
    "                         (default 127.0.0.1:9001; port 0 picks one)\n"
    "  --idle-timeout-ms MS   stop sandboxes idle this long (default: the\n"
    "                         configuration's idle_timeout, 300 s)\n"
    "  --json                 print the endpoints as one JSON line on stdout\n"
    "  --check                validate the configuration and exit\n"
    "  --log-level LEVEL      error, warn, info, debug or trace\n"
    "\n"
    "Endpoints: POST /2015-03-31/functions/NAME/invocations (also the Runtime\n"
    "Interface Emulator's /2015-03-31/functions/function/invocations) and, for\n"
    "functions with \"url\": true, http://HOST:PORT/url/NAME/. Each sandbox's\n"
    "runtime gets its own AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT.\n"
    "Function logs and START/END/REPORT lines go to stdout prefixed with [NAME];\n"
    "the service's own messages go to stderr. Stop with Ctrl-C (SIGINT) or SIGTERM:\n"
    "sandboxes are killed and the exit code is 0.\n";

struct lambda_options {
    const char *config_path;
    char host[64];
    uint16_t port;
    uint64_t idle_timeout_ms;
    int json;
    int check;
};

static int parse_ms(const char *text, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end || end == text || v == 0 || text[0] == '-')
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_options(int argc, char **argv, struct lambda_options *o)
{
    enum { OPT_CONFIG = 256, OPT_LISTEN, OPT_IDLE, OPT_JSON, OPT_CHECK, OPT_LOG, OPT_HELP };
    static const struct option options[] = {
        {"config", required_argument, 0, OPT_CONFIG},
        {"listen", required_argument, 0, OPT_LISTEN},
        {"idle-timeout-ms", required_argument, 0, OPT_IDLE},
        {"json", no_argument, 0, OPT_JSON},
        {"check", no_argument, 0, OPT_CHECK},
        {"log-level", required_argument, 0, OPT_LOG},
        {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        int rc = 0, level;
        switch (opt) {
        case OPT_CONFIG:
            o->config_path = optarg;
            break;
        case OPT_LISTEN:
            rc = cli_parse_listen(optarg, o->host, sizeof(o->host), &o->port);
            break;
        case OPT_IDLE:
            rc = parse_ms(optarg, &o->idle_timeout_ms);
            break;
        case OPT_JSON:
            o->json = 1;
            break;
        case OPT_CHECK:
            o->check = 1;
            break;
        case OPT_LOG:
            level = log_level_parse(optarg);
            if (level < 0)
                rc = -EINVAL;
            else
                log_set_level((enum log_level)level);
            break;
        case OPT_HELP:
            fputs(cmd_lambda_help, stdout);
            exit(EXIT_OK);
        default:
            return -EINVAL;
        }
        if (rc < 0) {
            fprintf(stderr, "tether lambda: bad value for --%s: %s\n",
                    options[opt - OPT_CONFIG].name, optarg);
            return rc;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tether lambda: unexpected argument \"%s\"\n", argv[optind]);
        return -EINVAL;
    }
    if (!o->config_path) {
        fprintf(stderr, "tether lambda: --config FILE is required\n\n%s", cmd_lambda_help);
        return -EINVAL;
    }
    return 0;
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
        .host = o->host,
        .port = o->port,
        .log_out = stdout,
        .idle_timeout_ms = o->idle_timeout_ms,
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
    struct lambda_options o = {.port = 9001};
    snprintf(o.host, sizeof(o.host), "127.0.0.1");
    if (parse_options(argc, argv, &o) < 0)
        return EXIT_USAGE;
    char cause[512];
    struct lambda_config *config = NULL;
    if (lambda_config_load(o.config_path, &config, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether lambda: %s\n", cause);
        return EXIT_USAGE;
    }
    int exit_code = EXIT_OK;
    if (o.check)
        printf("%s: %zu function%s, valid\n", o.config_path, config->function_count,
               config->function_count == 1 ? "" : "s");
    else
        exit_code = run(&o, config);
    lambda_config_free(config);
    return exit_code;
}
