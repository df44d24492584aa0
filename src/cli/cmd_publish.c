/* `tether publish`: publish events to an AppSync Events channel (AWS or the
 * embedded broker), over the realtime WebSocket or HTTP. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define LOG_MODULE "publish"
#include "cli/commands.h"
#include "cli/events_options.h"
#include "core/log.h"
#include "events/client.h"

static const char about[] =
    "Publishes 1 to 5 events, each a JSON value, to an AppSync Events channel\n"
    "(AWS AppSync Events or `tether broker`), over the realtime WebSocket, or\n"
    "over HTTP POST with --http. Prints the server's answer as one JSON line:\n"
    "{\"successful\":[{\"identifier\":...,\"index\":0}],\"failed\":[]}.\n";

static const char footer[] =
    "Put -- before CHANNEL when an event starts with '-' (a negative number).\n"
    "\n"
    "example:\n"
    "  TETHER_API_KEY=KEY tether publish --endpoint http://127.0.0.1:7070/event \\\n"
    "      /default/greetings '{\"hello\":\"world\"}' '42'\n"
    "\n"
    "exit codes: 0 every event published, 1 connection, authorization or publish\n"
    "failure, 2 usage error.\n";

struct publish_options {
    struct events_cli_options events;
    int http;
    uint64_t timeout_s;
    const char *channel;
    const char *const *events_json;
    size_t event_count;
};

struct publish_run {
    uv_loop_t loop;
    struct events_client *client;
    int exit_code;
    int done;
};

/* CLI_ARGS_CONTINUE, or the exit code after --help or a usage error. */
static int parse_options(int argc, char **argv, struct publish_options *o)
{
    const struct cli_option own[] = {
        CLI_FLAG("http", &o->http, "publish with HTTP POST instead of the WebSocket"),
        CLI_NUMBER("timeout", "SECONDS", &o->timeout_s, 1, 86400,
                   "give up after this long (default 15)"),
        CLI_END,
    };
    struct cli_spec spec = {
        .command = "publish",
        .usage = "--endpoint URL [--realtime URL] (--api-key-file FILE | --iam)\n"
                 "                      [OPTIONS] CHANNEL EVENT_JSON...",
        .about = about,
        .footer = footer,
        .tables = {own},
        .min_operands = 2,
        .max_operands = -1,
        .operands_error = "give a CHANNEL and at least one EVENT_JSON",
    };
    struct cli_args args;
    int code = events_cli_parse(&spec, &o->events, argc, argv, &args);
    if (code != CLI_ARGS_CONTINUE)
        return code;
    o->channel = args.operands[0];
    o->events_json = (const char *const *)&args.operands[1];
    o->event_count = (size_t)args.operand_count - 1;
    return CLI_ARGS_CONTINUE;
}

static void finish(struct publish_run *run, int exit_code)
{
    if (run->done)
        return;
    run->done = 1;
    run->exit_code = exit_code;
    events_client_free(run->client);
}

static void on_result(void *user, const struct events_publish_result *result)
{
    struct publish_run *run = user;
    if (result->status < 0) {
        fprintf(stderr, "tether publish: %s\n", result->cause);
        finish(run, EXIT_FAILURE_RUNTIME);
        return;
    }
    json_t *successful =
        result->successful ? json_incref((json_t *)result->successful) : json_array();
    json_t *failed = result->failed ? json_incref((json_t *)result->failed) : json_array();
    /* "o" takes over both references. */
    json_t *answer = json_pack("{soso}", "successful", successful, "failed", failed);
    char *text = answer ? json_dumps(answer, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (text)
        printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(answer);
    if (result->failed_count > 0) {
        fprintf(stderr, "tether publish: %s\n", result->cause);
        finish(run, EXIT_FAILURE_RUNTIME);
        return;
    }
    finish(run, EXIT_OK);
}

static void on_state(void *user, enum events_client_state state, const char *cause)
{
    /* A refused connection also fails the queued publish (reconnect is off),
     * whose callback reports it: only log here. */
    (void)user;
    if (cause && (state == EVENTS_CLIENT_CLOSED || state == EVENTS_CLIENT_BACKOFF))
        log_debug("realtime connection ended: %s", cause);
}

static int make_client(struct publish_run *run, const struct publish_options *o, char *region_buf,
                       size_t region_len, char *cause, size_t cause_len)
{
    struct events_client_config config;
    if (events_cli_config(&o->events, &config, region_buf, region_len, cause, cause_len) < 0)
        return -EINVAL;
    config.reconnect = 0; /* one attempt: a failure is reported, not retried */
    config.connect_timeout_ms = (uint32_t)o->timeout_s * 1000;
    config.request_timeout_ms = (uint32_t)o->timeout_s * 1000;
    config.on_state = on_state;
    config.user = run;
    return events_client_new(&run->loop, &config, &run->client, cause, cause_len);
}

static int run_publish(const struct publish_options *o)
{
    struct publish_run run = {.exit_code = EXIT_FAILURE_RUNTIME};
    char cause[600], region[64];
    if (uv_loop_init(&run.loop) < 0) {
        fprintf(stderr, "tether publish: cannot create the event loop\n");
        return EXIT_FAILURE_RUNTIME;
    }
    int rc = make_client(&run, o, region, sizeof(region), cause, sizeof(cause));
    if (rc == 0) {
        if (o->http) {
            rc = events_client_publish_http(run.client, o->channel, o->events_json, o->event_count,
                                            on_result, &run, cause, sizeof(cause));
        } else {
            rc = events_client_publish(run.client, o->channel, o->events_json, o->event_count,
                                       on_result, &run, cause, sizeof(cause));
            if (rc == 0)
                events_client_start(run.client);
        }
        if (rc < 0)
            events_client_free(run.client);
    }
    if (rc < 0) {
        fprintf(stderr, "tether publish: %s\n", cause);
        run.exit_code = rc == -ENOMEM ? EXIT_FAILURE_RUNTIME : EXIT_USAGE;
    }
    uv_run(&run.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&run.loop) != 0)
        log_debug("event loop closed with handles still open");
    return run.exit_code;
}

int cmd_publish_main(int argc, char **argv)
{
    struct publish_options o = {.timeout_s = 15};
    int code = parse_options(argc, argv, &o);
    if (code != CLI_ARGS_CONTINUE)
        return code;
    /* A peer that resets the connection must not kill us with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    return run_publish(&o);
}
