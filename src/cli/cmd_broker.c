/* `tether broker`: run the embedded AppSync Events broker in the foreground. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define LOG_MODULE "broker"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/events_options.h"
#include "cli/shutdown.h"
#include "core/buf.h"
#include "core/encoding.h"
#include "core/log.h"
#include "core/random.h"
#include "events/broker.h"

#define MAX_LIST 64

static const char about[] =
    "Runs an AWS AppSync Events compatible broker: HTTP publish on POST /event and\n"
    "the realtime WebSocket on /event/realtime, on one port.\n";

static const char footer[] =
    "An API key in TETHER_API_KEY is accepted too. With neither API keys nor\n"
    "IAM credentials, a fresh random API key is made and printed. Stop with\n"
    "Ctrl-C (SIGINT) or SIGTERM.\n";

struct broker_options {
    struct hostport listen;
    const char *namespace_items[MAX_LIST];
    struct cli_list namespaces;
    const char *api_key_items[MAX_LIST];
    struct cli_list api_keys; /* --api-key, --api-key-file and the generated key */
    struct broker_iam_identity identities[MAX_LIST];
    size_t identity_count;
    uint64_t keepalive_ms, output_limit, max_connections;
    struct broker_config config;
    char *api_key_file_text;
    char generated_key[40];
    uint64_t auth_timeout_ms, max_unauthenticated;
    int key_on_command_line, iam_on_command_line;
    int json;
};

static int add_key(struct broker_options *o, const char *key, char *cause, size_t cause_len)
{
    struct cli_list *keys = &o->api_keys;
    if (keys->count >= keys->cap) {
        snprintf(cause, cause_len, "more than %zu API keys", keys->cap);
        return -E2BIG;
    }
    keys->items[keys->count++] = key;
    return 0;
}

/* --api-key KEY: still taken, but others can read it in ps. */
static int add_key_argument(void *target, const char *value, char *cause, size_t cause_len)
{
    struct broker_options *o = target;
    o->key_on_command_line = 1;
    return add_key(o, value, cause, cause_len);
}

/* --iam AKID:SECRET[:TOKEN]; the argument is split in place. */
static int add_identity(void *target, const char *value, char *cause, size_t cause_len)
{
    struct broker_options *o = target;
    if (o->identity_count >= MAX_LIST) {
        snprintf(cause, cause_len, "at most %d identities", MAX_LIST);
        return -E2BIG;
    }
    struct broker_iam_identity *id = &o->identities[o->identity_count];
    char *spec = (char *)value;
    o->iam_on_command_line = 1;
    char *secret = strchr(spec, ':');
    char *token = secret ? strchr(secret + 1, ':') : NULL;
    if (!secret || secret == spec || secret[1] == '\0' || secret + 1 == token) {
        snprintf(cause, cause_len, "expected AKID:SECRET[:TOKEN]");
        return -EINVAL;
    }
    *secret++ = '\0';
    if (token)
        *token++ = '\0';
    id->access_key_id = spec;
    id->secret_access_key = secret;
    id->session_token = token && *token ? token : NULL;
    o->identity_count++;
    return 0;
}

static int add_identity_from_env(void *target, const char *value, char *cause, size_t cause_len)
{
    struct broker_options *o = target;
    (void)value;
    const char *akid = getenv("AWS_ACCESS_KEY_ID");
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (!akid || !secret || o->identity_count >= MAX_LIST) {
        snprintf(cause, cause_len, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set");
        return -EINVAL;
    }
    struct broker_iam_identity *id = &o->identities[o->identity_count++];
    id->access_key_id = akid;
    id->secret_access_key = secret;
    id->session_token = getenv("AWS_SESSION_TOKEN");
    return 0;
}

static int add_key_file(void *target, const char *path, char *cause, size_t cause_len)
{
    struct broker_options *o = target;
    if (o->api_key_file_text) {
        snprintf(cause, cause_len, "give it once");
        return -EINVAL;
    }
    o->api_key_file_text = events_cli_read_secret_file(path, cause, cause_len);
    if (!o->api_key_file_text)
        return -EINVAL;
    for (char *save = NULL, *line = strtok_r(o->api_key_file_text, "\r\n", &save); line;
         line = strtok_r(NULL, "\r\n", &save)) {
        if (!*line || *line == '#')
            continue;
        int rc = add_key(o, line, cause, cause_len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void generate_key(struct broker_options *o)
{
    random_api_key(o->generated_key);
    o->api_keys.items[o->api_keys.count++] = o->generated_key;
}

/* CLI_ARGS_CONTINUE, or the exit code after --help or a usage error. */
static int parse_options(int argc, char **argv, struct broker_options *o)
{
    struct broker_config *c = &o->config;
    const struct cli_option table[] = {
        CLI_HOSTPORT("listen", &o->listen, 0,
                     "address to listen on (default 127.0.0.1:7070; port 0 picks one)"),
        CLI_LIST("namespace", "NAME", &o->namespaces,
                 "a channel namespace (repeatable; default: tether and default)"),
        CLI_CALL("api-key", "KEY", add_key_argument, o,
                 "accept this API key (repeatable; others can read it in ps:\n"
                 "prefer --api-key-file or TETHER_API_KEY)"),
        CLI_CALL("api-key-file", "FILE", add_key_file, o,
                 "accept the API keys in FILE, one per line"),
        CLI_CALL("iam", "AKID:SECRET[:TOKEN]", add_identity, o,
                 "accept SigV4 (AWS_IAM) requests signed with these credentials\n"
                 "(repeatable)"),
        CLI_CALL("iam-from-env", NULL, add_identity_from_env, o,
                 "accept the credentials in AWS_ACCESS_KEY_ID,\n"
                 "AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"),
        CLI_STRING("region", "REGION", &c->region,
                   "region SigV4 signatures must name (default us-east-1)"),
        CLI_STRING("tls-cert", "FILE", &c->tls_cert_file,
                   "serve TLS with this certificate chain (PEM) ..."),
        CLI_STRING("tls-key", "FILE", &c->tls_key_file, "... and this private key (PEM)"),
        CLI_NUMBER("keepalive-ms", "MS", &o->keepalive_ms, 1, UINT32_MAX,
                   "keep-alive interval (default 60000)"),
        CLI_NUMBER("output-limit", "BYTES", &o->output_limit, 1, SIZE_MAX,
                   "unsent bytes allowed per connection before a slow\n"
                   "subscriber is disconnected (default 8388608)"),
        CLI_NUMBER("max-connections", "N", &o->max_connections, 1, SIZE_MAX,
                   "connection limit (default 10000)"),
        CLI_NUMBER("auth-timeout-ms", "MS", &o->auth_timeout_ms, 1, UINT32_MAX,
                   "close a connection not authorized this long after it\n"
                   "opened (default 10000)"),
        CLI_NUMBER("max-unauthenticated", "N", &o->max_unauthenticated, 1, SIZE_MAX,
                   "connections not yet authorized; more are refused at once\n"
                   "(default: 1024, at most a quarter of --max-connections\n"
                   "and of the descriptor limit)"),
        CLI_FLAG("json", &o->json, "print the endpoints as one JSON line on stdout"),
        CLI_END,
    };
    const struct cli_spec spec = {
        .command = "broker",
        .usage = "[OPTIONS]",
        .about = about,
        .footer = footer,
        .tables = {table},
    };
    struct cli_args args;
    int code = cli_args_parse(&spec, argc, argv, &args);
    if (code == CLI_ARGS_CONTINUE && !c->tls_cert_file != !c->tls_key_file)
        return cli_args_usage_error(&spec, "--tls-cert and --tls-key go together");
    return code;
}

/* Options not given keep the broker's own defaults (0 in its config). */
static void fill_config(struct broker_options *o)
{
    struct broker_config *c = &o->config;
    c->listen_host = o->listen.host;
    c->listen_port = o->listen.port;
    c->namespaces = o->namespaces.items;
    c->namespace_count = o->namespaces.count;
    c->api_keys = o->api_keys.items;
    c->api_key_count = o->api_keys.count;
    c->iam_identities = o->identities;
    c->iam_identity_count = o->identity_count;
    c->keepalive_ms = (uint32_t)o->keepalive_ms;
    c->subscriber_output_limit = (size_t)o->output_limit;
    c->max_connections = (size_t)o->max_connections;
    c->auth_timeout_ms = (uint32_t)o->auth_timeout_ms;
    c->max_unauthenticated = (size_t)o->max_unauthenticated;
}

static void on_stop(void *ctx, int signum)
{
    log_info("received signal %d, shutting down", signum);
    broker_stop(ctx);
}

static void print_endpoints(const struct broker_options *o, uint16_t port)
{
    const char *http = o->config.tls_cert_file ? "https" : "http";
    const char *ws = o->config.tls_cert_file ? "wss" : "ws";
    struct hostport bound = o->listen;
    bound.port = port;
    char host[HOSTPORT_MAX_HOST + 9];
    hostport_format(&bound, host, sizeof(host));
    if (o->json) {
        printf("{\"type\":\"listening\",\"http\":\"%s://%s/event\",\"realtime\":\"%s://%s/event/"
               "realtime\",\"port\":%u%s%s%s}\n",
               http, host, ws, host, port, o->generated_key[0] ? ",\"apiKey\":\"" : "",
               o->generated_key, o->generated_key[0] ? "\"" : "");
    } else {
        printf("tether broker listening\n  http:     %s://%s/event\n  realtime: "
               "%s://%s/event/realtime\n",
               http, host, ws, host);
        if (o->generated_key[0])
            printf("  api key:  %s (generated; pass --api-key to choose one)\n", o->generated_key);
    }
    fflush(stdout);
}

int cmd_broker_main(int argc, char **argv)
{
    struct broker_options *o = calloc(1, sizeof(*o));
    if (!o)
        return EXIT_FAILURE_RUNTIME;
    o->listen = (struct hostport){.host = "127.0.0.1", .port = 7070};
    o->namespaces = (struct cli_list){o->namespace_items, 0, MAX_LIST};
    o->api_keys = (struct cli_list){o->api_key_items, 0, MAX_LIST};
    int exit_code = parse_options(argc, argv, o);
    if (exit_code != CLI_ARGS_CONTINUE)
        goto out;
    if (o->key_on_command_line)
        events_cli_warn_secret_argument("broker", "--api-key",
                                        "--api-key-file FILE or TETHER_API_KEY");
    if (o->iam_on_command_line)
        events_cli_warn_secret_argument("broker", "--iam AKID:SECRET", "--iam-from-env");
    const char *env_key = getenv("TETHER_API_KEY");
    if (env_key && *env_key && o->api_keys.count < o->api_keys.cap)
        o->api_keys.items[o->api_keys.count++] = env_key;
    if (o->api_keys.count == 0 && o->identity_count == 0)
        generate_key(o);
    fill_config(o);
    struct broker_config *c = &o->config;
    uv_loop_t *loop = uv_default_loop();
    char cause[256] = "";
    struct broker *broker;
    if (broker_start(loop, c, &broker, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether broker: %s\n", cause);
        exit_code = EXIT_FAILURE_RUNTIME;
        goto out;
    }
    /* Signal handlers first: whoever reads the endpoints may signal at once. */
    struct cli_shutdown shutdown;
    cli_shutdown_init(loop, &shutdown, on_stop, broker);
    print_endpoints(o, broker_port(broker));
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    exit_code = EXIT_OK;
out:
    if (o->api_key_file_text)
        secure_wipe(o->api_key_file_text, strlen(o->api_key_file_text));
    free(o->api_key_file_text);
    secure_wipe(o->generated_key, sizeof(o->generated_key));
    free(o);
    return exit_code;
}
