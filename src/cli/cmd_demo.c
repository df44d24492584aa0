/* `tether demo`: the main job on the embedded defaults, for now. Starts the
 * events broker in this process, connects tether's own events client to it,
 * subscribes, publishes over the WebSocket and over HTTP, and shows each
 * event arriving with its round-trip time. Then it keeps the broker running
 * so the printed curl command can be tried. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define LOG_MODULE "demo"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/shutdown.h"
#include "core/log.h"
#include "core/random.h"
#include "events/broker.h"
#include "events/client.h"

#define DEMO_CHANNEL "/default/demo"
#define DEMO_EVENTS 3

static const char about[] =
    "Starts the embedded AppSync Events broker, subscribes to " DEMO_CHANNEL " with\n"
    "tether's events client, publishes events over the WebSocket and over HTTP, and\n"
    "prints each one as it arrives. Then it keeps the broker running (Ctrl-C stops it)\n"
    "and prints a curl command that publishes to the same channel.\n";

struct demo {
    uv_loop_t *loop;
    struct broker *broker;
    struct events_client *client;
    char api_key[40];
    char http_url[96];
    int once;
    int received;
    int failed;
    uint64_t sent_at[DEMO_EVENTS * 2];
    uv_timer_t deadline;
    struct cli_shutdown shutdown;
};

static void finish(struct demo *d)
{
    uv_timer_stop(&d->deadline);
    if (!uv_is_closing((uv_handle_t *)&d->deadline))
        uv_close((uv_handle_t *)&d->deadline, NULL);
    cli_shutdown_close(&d->shutdown);
    events_client_free(d->client);
    d->client = NULL;
    if (d->broker)
        broker_stop(d->broker);
    d->broker = NULL;
}

static void fail(struct demo *d, const char *why)
{
    fprintf(stderr, "tether demo: %s\n", why);
    d->failed = 1;
    finish(d);
}

static void print_try_it(struct demo *d)
{
    printf("\nThe broker keeps running. Publish to the demo channel from another terminal:\n\n"
           "  curl -s %s -H 'x-api-key: %s' -H 'content-type: application/json' \\\n"
           "       -d '{\"channel\":\"" DEMO_CHANNEL
           "\",\"events\":[\"{\\\"hello\\\":\\\"curl\\\"}\"]}'\n\n"
           "Events published there appear below. Ctrl-C stops.\n",
           d->http_url, d->api_key);
    fflush(stdout);
}

static void on_data(void *user, struct events_subscription *sub, const char *event, size_t len)
{
    struct demo *d = user;
    (void)sub;
    uint64_t now = uv_hrtime();
    int index = d->received;
    d->received++;
    if (index < DEMO_EVENTS * 2) {
        double ms = (double)(now - d->sent_at[index]) / 1e6;
        printf("  received %.*s  (%.2f ms after publishing)\n", (int)len, event, ms);
    } else {
        printf("  received %.*s\n", (int)len, event);
    }
    fflush(stdout);
    if (d->received == DEMO_EVENTS * 2) {
        printf("\nRound trip complete: %d events published, %d received.\n", DEMO_EVENTS * 2,
               d->received);
        uv_timer_stop(&d->deadline);
        if (d->once)
            finish(d);
        else
            print_try_it(d);
    }
}

static void on_published(void *user, const struct events_publish_result *result)
{
    struct demo *d = user;
    char why[300];
    snprintf(why, sizeof(why), "publish failed: %s", result->cause);
    if (result->status < 0 || result->failed_count > 0)
        fail(d, why);
}

static void publish_all(struct demo *d)
{
    char cause[200], event[128];
    for (int i = 0; i < DEMO_EVENTS * 2; i++) {
        int http = i >= DEMO_EVENTS;
        snprintf(event, sizeof(event), "{\"n\":%d,\"via\":\"%s\"}", i + 1,
                 http ? "http" : "websocket");
        const char *events[] = {event};
        d->sent_at[i] = uv_hrtime();
        int rc = http ? events_client_publish_http(d->client, DEMO_CHANNEL, events, 1, on_published,
                                                   d, cause, sizeof(cause))
                      : events_client_publish(d->client, DEMO_CHANNEL, events, 1, on_published, d,
                                              cause, sizeof(cause));
        if (rc < 0) {
            fail(d, cause);
            return;
        }
    }
}

static void on_subscribed(void *user, struct events_subscription *sub, int status,
                          const char *cause)
{
    struct demo *d = user;
    (void)sub;
    if (status < 0) {
        fail(d, cause);
        return;
    }
    if (d->received > 0 || d->sent_at[0])
        return; /* resubscribed after a reconnect */
    printf("Subscribed to " DEMO_CHANNEL "; publishing %d events over the WebSocket and %d over "
           "HTTP:\n",
           DEMO_EVENTS, DEMO_EVENTS);
    publish_all(d);
}

static void on_deadline(uv_timer_t *timer)
{
    struct demo *d = timer->data;
    char why[100];
    snprintf(why, sizeof(why), "only %d of %d events arrived within 10 s", d->received,
             DEMO_EVENTS * 2);
    fail(d, why);
}

static void on_stop(void *ctx, int signum)
{
    (void)signum;
    finish(ctx);
}

static int start_client(struct demo *d, uint16_t port, char *cause, size_t cause_len)
{
    snprintf(d->http_url, sizeof(d->http_url), "http://127.0.0.1:%u/event", port);
    struct events_client_config config;
    events_client_config_init(&config);
    config.http_url = d->http_url;
    config.api_key = d->api_key;
    int rc = events_client_new(d->loop, &config, &d->client, cause, cause_len);
    struct events_subscription *sub;
    if (rc == 0)
        rc = events_client_subscribe(d->client, DEMO_CHANNEL, on_data, on_subscribed, d, &sub,
                                     cause, cause_len);
    if (rc == 0)
        rc = events_client_start(d->client);
    return rc;
}

/* CLI_ARGS_CONTINUE, or the exit code after --help or a usage error. */
static int parse(int argc, char **argv, struct demo *d, struct hostport *listen)
{
    const struct cli_option table[] = {
        CLI_HOSTPORT("listen", listen, 0,
                     "where the broker listens (default 127.0.0.1:7070; port 0 picks one)"),
        CLI_FLAG("once", &d->once,
                 "exit after the round trip (exit code 0 when every event "
                 "arrived)"),
        CLI_END,
    };
    const struct cli_spec spec = {
        .command = "demo",
        .usage = "[--listen HOST:PORT] [--once]",
        .about = about,
        .tables = {table},
    };
    struct cli_args args;
    return cli_args_parse(&spec, argc, argv, &args);
}

int cmd_demo_main(int argc, char **argv)
{
    struct demo d = {.loop = uv_default_loop()};
    char cause[256];
    struct hostport listen = {.host = "127.0.0.1", .port = 7070};
    int code = parse(argc, argv, &d, &listen);
    if (code != CLI_ARGS_CONTINUE)
        return code;
    const char *host = listen.host;
    random_api_key(d.api_key);
    const char *keys[] = {d.api_key};
    struct broker_config config = {
        .listen_host = host, .listen_port = listen.port, .api_keys = keys, .api_key_count = 1};
    if (broker_start(d.loop, &config, &d.broker, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether demo: %s\n", cause);
        return EXIT_FAILURE_RUNTIME;
    }
    uint16_t port = broker_port(d.broker);
    printf("Embedded AppSync Events broker on http://%s:%u/event (realtime "
           "ws://%s:%u/event/realtime)\n",
           host, port, host, port);
    if (start_client(&d, port, cause, sizeof(cause)) < 0) {
        fail(&d, cause);
        uv_run(d.loop, UV_RUN_DEFAULT);
        return EXIT_FAILURE_RUNTIME;
    }
    uv_timer_init(d.loop, &d.deadline);
    d.deadline.data = &d;
    uv_timer_start(&d.deadline, on_deadline, 10000, 0);
    cli_shutdown_init(d.loop, &d.shutdown, on_stop, &d);
    uv_run(d.loop, UV_RUN_DEFAULT);
    uv_loop_close(d.loop);
    return d.failed ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}
