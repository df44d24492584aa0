/* `tether subscribe`: print the events of an AppSync Events channel (AWS or
 * the embedded broker), one JSON value per line. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define LOG_MODULE "subscribe"
#include "cli/commands.h"
#include "cli/events_options.h"
#include "core/log.h"
#include "events/client.h"

static const char about[] =
    "Subscribes to an AppSync Events channel (AWS AppSync Events or `tether broker`)\n"
    "and prints each event's JSON on its own line on stdout. CHANNEL may end in\n"
    "/* to receive every channel below a prefix. A lost connection is reopened\n"
    "(with backoff) and the subscription renewed; a first connection or\n"
    "subscription that fails ends the command.\n";

static const char footer[] =
    "example:\n"
    "  TETHER_API_KEY=KEY tether subscribe --endpoint http://127.0.0.1:7070/event \\\n"
    "      --count 1 '/default/*'\n"
    "\n"
    "SIGINT or SIGTERM ends it like --timeout. Exit codes: 0 done, 1 connection,\n"
    "authorization or subscription failure, 2 usage error.\n";

struct subscribe_options {
    struct events_cli_options events;
    int no_reconnect;
    uint64_t count;     /* 0: no limit */
    uint64_t timeout_s; /* 0: none */
    const char *channel;
};

struct subscribe_run {
    uv_loop_t loop;
    const struct subscribe_options *options;
    struct events_client *client;
    uv_timer_t timeout;
    uv_signal_t sigint, sigterm;
    unsigned long received;
    int ever_ready; /* the first connection succeeded */
    int connected;  /* READY now */
    int subscribed;
    int exit_code;
    int done;
};

/* CLI_ARGS_CONTINUE, or the exit code after --help or a usage error. */
static int parse_options(int argc, char **argv, struct subscribe_options *o)
{
    const struct cli_option own[] = {
        CLI_NUMBER("count", "N", &o->count, 1, 1000000000, "exit after N events"),
        CLI_NUMBER("timeout", "SECONDS", &o->timeout_s, 1, 31 * 86400,
                   "exit after this long: status 0 without --count, 1 when\n"
                   "fewer than N events arrived"),
        CLI_FLAG("no-reconnect", &o->no_reconnect, "exit (status 1) when the connection is lost"),
        CLI_END,
    };
    struct cli_spec spec = {
        .command = "subscribe",
        .usage = "--endpoint URL [--realtime URL] (--api-key-file FILE | --iam)\n"
                 "                        [--count N] [--timeout SECONDS] [OPTIONS] CHANNEL",
        .about = about,
        .footer = footer,
        .tables = {own},
        .min_operands = 1,
        .max_operands = 1,
        .operands_error = "give exactly one CHANNEL",
    };
    struct cli_args args;
    int code = events_cli_parse(&spec, &o->events, argc, argv, &args);
    if (code == CLI_ARGS_CONTINUE)
        o->channel = args.operands[0];
    return code;
}

static void close_handle(uv_handle_t *handle)
{
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

/* Ends the run: frees the client and closes our handles, so the loop ends. */
static void finish(struct subscribe_run *run, int exit_code)
{
    if (run->done)
        return;
    run->done = 1;
    run->exit_code = exit_code;
    events_client_free(run->client);
    close_handle((uv_handle_t *)&run->timeout);
    close_handle((uv_handle_t *)&run->sigint);
    close_handle((uv_handle_t *)&run->sigterm);
}

/* Without --count, stopping on a timeout or signal is success; with it, only
 * when every event arrived. */
static void finish_early(struct subscribe_run *run, const char *why)
{
    uint64_t want = run->options->count;
    if (want && run->received < want) {
        fprintf(stderr, "tether subscribe: %s after %lu of %llu events\n", why, run->received,
                (unsigned long long)want);
        finish(run, EXIT_FAILURE_RUNTIME);
        return;
    }
    log_info("%s after %lu events", why, run->received);
    finish(run, EXIT_OK);
}

/* Writes the event on one line: line breaks can only be whitespace between
 * JSON tokens (inside strings they are escaped), so they become spaces. */
static int print_event(const char *event, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char ch = event[i] == '\n' || event[i] == '\r' ? ' ' : event[i];
        if (putchar(ch) == EOF)
            return -1;
    }
    if (putchar('\n') == EOF || fflush(stdout) == EOF)
        return -1;
    return 0;
}

static void on_data(void *user, struct events_subscription *sub, const char *event, size_t len)
{
    struct subscribe_run *run = user;
    (void)sub;
    if (run->done)
        return;
    if (print_event(event, len) < 0) {
        /* The reader went away (e.g. `| head -1`): nothing left to do. */
        if (errno != EPIPE)
            fprintf(stderr, "tether subscribe: writing to stdout: %s\n", strerror(errno));
        finish(run, errno == EPIPE ? EXIT_OK : EXIT_FAILURE_RUNTIME);
        return;
    }
    run->received++;
    if (run->options->count && run->received >= run->options->count)
        finish(run, EXIT_OK);
}

static void on_subscribed(void *user, struct events_subscription *sub, int status,
                          const char *cause)
{
    struct subscribe_run *run = user;
    (void)sub;
    if (status < 0) {
        fprintf(stderr, "tether subscribe: %s\n", cause);
        finish(run, EXIT_FAILURE_RUNTIME);
        return;
    }
    run->subscribed = 1;
}

static void on_state(void *user, enum events_client_state state, const char *cause)
{
    struct subscribe_run *run = user;
    const char *why = cause ? cause : "closed";
    if (state == EVENTS_CLIENT_READY) {
        if (run->ever_ready && !run->connected)
            log_info("reconnected");
        run->ever_ready = run->connected = 1;
        return;
    }
    if (state != EVENTS_CLIENT_BACKOFF && state != EVENTS_CLIENT_CLOSED)
        return;
    int was_connected = run->connected;
    run->connected = 0;
    if (!run->ever_ready) {
        fprintf(stderr, "tether subscribe: cannot connect: %s\n", why);
        finish(run, EXIT_FAILURE_RUNTIME);
    } else if (state == EVENTS_CLIENT_CLOSED) {
        fprintf(stderr, "tether subscribe: connection lost: %s\n", why);
        finish(run, EXIT_FAILURE_RUNTIME);
    } else if (was_connected) {
        log_warn("connection lost (%s); reconnecting", why);
    }
}

static void on_timeout(uv_timer_t *timer)
{
    finish_early(timer->data, "timed out");
}

static void on_signal(uv_signal_t *signal, int signum)
{
    finish_early(signal->data, signum == SIGINT ? "interrupted" : "terminated");
}

static int make_client(struct subscribe_run *run, const struct subscribe_options *o,
                       char *region_buf, size_t region_len, char *cause, size_t cause_len)
{
    struct events_client_config config;
    if (events_cli_config(&o->events, &config, region_buf, region_len, cause, cause_len) < 0)
        return -EINVAL;
    config.reconnect = !o->no_reconnect;
    config.on_state = on_state;
    config.user = run;
    return events_client_new(&run->loop, &config, &run->client, cause, cause_len);
}

static void start_handles(struct subscribe_run *run)
{
    uv_timer_init(&run->loop, &run->timeout);
    run->timeout.data = run;
    if (run->options->timeout_s)
        uv_timer_start(&run->timeout, on_timeout, (uint64_t)run->options->timeout_s * 1000, 0);
    uv_signal_init(&run->loop, &run->sigint);
    uv_signal_init(&run->loop, &run->sigterm);
    run->sigint.data = run->sigterm.data = run;
    uv_signal_start(&run->sigint, on_signal, SIGINT);
    uv_signal_start(&run->sigterm, on_signal, SIGTERM);
}

static int run_subscribe(const struct subscribe_options *o)
{
    struct subscribe_run run = {.options = o, .exit_code = EXIT_FAILURE_RUNTIME};
    char cause[600], region[64];
    if (uv_loop_init(&run.loop) < 0) {
        fprintf(stderr, "tether subscribe: cannot create the event loop\n");
        return EXIT_FAILURE_RUNTIME;
    }
    int rc = make_client(&run, o, region, sizeof(region), cause, sizeof(cause));
    if (rc == 0) {
        rc = events_client_subscribe(run.client, o->channel, on_data, on_subscribed, &run, NULL,
                                     cause, sizeof(cause));
        if (rc < 0)
            events_client_free(run.client);
    }
    if (rc < 0) {
        fprintf(stderr, "tether subscribe: %s\n", cause);
        uv_run(&run.loop, UV_RUN_DEFAULT); /* lets the client release its memory */
        uv_loop_close(&run.loop);
        return rc == -ENOMEM ? EXIT_FAILURE_RUNTIME : EXIT_USAGE;
    }
    start_handles(&run);
    events_client_start(run.client);
    uv_run(&run.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&run.loop) != 0)
        log_debug("event loop closed with handles still open");
    return run.exit_code;
}

int cmd_subscribe_main(int argc, char **argv)
{
    struct subscribe_options o = {0};
    int code = parse_options(argc, argv, &o);
    if (code != CLI_ARGS_CONTINUE)
        return code;
    /* A peer that resets the connection, or a reader that goes away, must not
     * kill us with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    return run_subscribe(&o);
}
