/* `tether broker`: run the embedded AppSync Events broker in the foreground. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define LOG_MODULE "broker"
#include "cli/commands.h"
#include "cli/shutdown.h"
#include "core/encoding.h"
#include "core/log.h"
#include "core/random.h"
#include "events/broker.h"

#define MAX_LIST 64

const char cmd_broker_help[] =
    "usage: tether broker [OPTIONS]\n"
    "\n"
    "Runs an AWS AppSync Events compatible broker: HTTP publish on POST /event and\n"
    "the realtime WebSocket on /event/realtime, on one port.\n"
    "\n"
    "options:\n"
    "  --listen HOST:PORT     address to listen on (default 127.0.0.1:7070; port 0 picks one)\n"
    "  --namespace NAME       a channel namespace (repeatable; default: tether and default)\n"
    "  --api-key KEY          accept this API key (repeatable)\n"
    "  --api-key-file FILE    accept the API keys in FILE, one per line\n"
    "  --iam AKID:SECRET[:TOKEN]\n"
    "                         accept SigV4 (AWS_IAM) requests signed with these credentials\n"
    "                         (repeatable)\n"
    "  --iam-from-env         accept the credentials in AWS_ACCESS_KEY_ID,\n"
    "                         AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN\n"
    "  --region REGION        region SigV4 signatures must name (default us-east-1)\n"
    "  --tls-cert FILE        serve TLS with this certificate chain (PEM) ...\n"
    "  --tls-key FILE         ... and this private key (PEM)\n"
    "  --keepalive-ms MS      keep-alive interval (default 60000)\n"
    "  --output-limit BYTES   unsent bytes allowed per connection before a slow\n"
    "                         subscriber is disconnected (default 8388608)\n"
    "  --max-connections N    connection limit (default 10000)\n"
    "  --json                 print the endpoints as one JSON line on stdout\n"
    "  --log-level LEVEL      error, warn, info, debug or trace\n"
    "\n"
    "With neither API keys nor IAM credentials, a fresh random API key is made\n"
    "and printed. Stop with Ctrl-C (SIGINT) or SIGTERM.\n";

struct broker_options {
    char listen_host[64];
    uint16_t listen_port;
    const char *namespaces[MAX_LIST];
    size_t namespace_count;
    const char *api_keys[MAX_LIST];
    size_t api_key_count;
    struct broker_iam_identity identities[MAX_LIST];
    size_t identity_count;
    struct broker_config config;
    char *api_key_file_text;
    char generated_key[40];
    int json;
};

static int add_identity(struct broker_options *o, char *spec)
{
    if (o->identity_count >= MAX_LIST)
        return -E2BIG;
    struct broker_iam_identity *id = &o->identities[o->identity_count];
    char *secret = strchr(spec, ':');
    if (!secret)
        return -EINVAL;
    *secret++ = '\0';
    char *token = strchr(secret, ':');
    if (token)
        *token++ = '\0';
    if (!*spec || !*secret)
        return -EINVAL;
    id->access_key_id = spec;
    id->secret_access_key = secret;
    id->session_token = token && *token ? token : NULL;
    o->identity_count++;
    return 0;
}

static int add_identity_from_env(struct broker_options *o)
{
    const char *akid = getenv("AWS_ACCESS_KEY_ID");
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (!akid || !secret || o->identity_count >= MAX_LIST)
        return -EINVAL;
    struct broker_iam_identity *id = &o->identities[o->identity_count++];
    id->access_key_id = akid;
    id->secret_access_key = secret;
    id->session_token = getenv("AWS_SESSION_TOKEN");
    return 0;
}

static int add_key_file(struct broker_options *o, const char *path)
{
    char cause[256];
    o->api_key_file_text = cli_read_file(path, cause, sizeof(cause));
    if (!o->api_key_file_text) {
        fprintf(stderr, "tether broker: %s\n", cause);
        return -EINVAL;
    }
    for (char *save = NULL, *line = strtok_r(o->api_key_file_text, "\r\n", &save); line;
         line = strtok_r(NULL, "\r\n", &save)) {
        if (!*line || *line == '#')
            continue;
        if (o->api_key_count >= MAX_LIST)
            return -E2BIG;
        o->api_keys[o->api_key_count++] = line;
    }
    return 0;
}

static void generate_key(struct broker_options *o)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    strcpy(o->generated_key, "da2-");
    for (int i = 0; i < 26; i++)
        o->generated_key[4 + i] = alphabet[random_below(sizeof(alphabet) - 1)];
    o->generated_key[30] = '\0';
    o->api_keys[o->api_key_count++] = o->generated_key;
}

static int parse_size(const char *text, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end || end == text || v == 0)
        return -EINVAL;
    *out = (size_t)v;
    return 0;
}

static int parse_options(int argc, char **argv, struct broker_options *o)
{
    enum {
        OPT_LISTEN = 256,
        OPT_NS,
        OPT_KEY,
        OPT_KEY_FILE,
        OPT_IAM,
        OPT_IAM_ENV,
        OPT_REGION,
        OPT_CERT,
        OPT_TLS_KEY,
        OPT_KA,
        OPT_OUT_LIMIT,
        OPT_MAX_CONN,
        OPT_JSON,
        OPT_LOG,
        OPT_HELP
    };
    static const struct option options[] = {{"listen", required_argument, 0, OPT_LISTEN},
                                            {"namespace", required_argument, 0, OPT_NS},
                                            {"api-key", required_argument, 0, OPT_KEY},
                                            {"api-key-file", required_argument, 0, OPT_KEY_FILE},
                                            {"iam", required_argument, 0, OPT_IAM},
                                            {"iam-from-env", no_argument, 0, OPT_IAM_ENV},
                                            {"region", required_argument, 0, OPT_REGION},
                                            {"tls-cert", required_argument, 0, OPT_CERT},
                                            {"tls-key", required_argument, 0, OPT_TLS_KEY},
                                            {"keepalive-ms", required_argument, 0, OPT_KA},
                                            {"output-limit", required_argument, 0, OPT_OUT_LIMIT},
                                            {"max-connections", required_argument, 0, OPT_MAX_CONN},
                                            {"json", no_argument, 0, OPT_JSON},
                                            {"log-level", required_argument, 0, OPT_LOG},
                                            {"help", no_argument, 0, OPT_HELP},
                                            {0, 0, 0, 0}};
    struct broker_config *c = &o->config;
    size_t value = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        int rc = 0;
        switch (opt) {
        case OPT_LISTEN:
            rc = cli_parse_listen(optarg, o->listen_host, sizeof(o->listen_host), &o->listen_port);
            break;
        case OPT_NS:
            if (o->namespace_count >= MAX_LIST)
                rc = -E2BIG;
            else
                o->namespaces[o->namespace_count++] = optarg;
            break;
        case OPT_KEY:
            if (o->api_key_count >= MAX_LIST)
                rc = -E2BIG;
            else
                o->api_keys[o->api_key_count++] = optarg;
            break;
        case OPT_KEY_FILE:
            rc = add_key_file(o, optarg);
            break;
        case OPT_IAM:
            rc = add_identity(o, optarg);
            break;
        case OPT_IAM_ENV:
            rc = add_identity_from_env(o);
            break;
        case OPT_REGION:
            c->region = optarg;
            break;
        case OPT_CERT:
            c->tls_cert_file = optarg;
            break;
        case OPT_TLS_KEY:
            c->tls_key_file = optarg;
            break;
        case OPT_KA:
            rc = parse_size(optarg, &value);
            c->keepalive_ms = (uint32_t)value;
            break;
        case OPT_OUT_LIMIT:
            rc = parse_size(optarg, &c->subscriber_output_limit);
            break;
        case OPT_MAX_CONN:
            rc = parse_size(optarg, &c->max_connections);
            break;
        case OPT_JSON:
            o->json = 1;
            break;
        case OPT_LOG: {
            int level = log_level_parse(optarg);
            if (level < 0)
                rc = -EINVAL;
            else
                log_set_level((enum log_level)level);
            break;
        }
        case OPT_HELP:
            fputs(cmd_broker_help, stdout);
            exit(EXIT_OK);
        default:
            return -EINVAL;
        }
        if (rc < 0) {
            fprintf(stderr, "tether broker: bad value for --%s: %s\n",
                    options[opt - OPT_LISTEN].name, optarg ? optarg : "(missing AWS_* variables)");
            return rc;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tether broker: unexpected argument \"%s\"\n", argv[optind]);
        return -EINVAL;
    }
    if (!c->tls_cert_file != !c->tls_key_file) {
        fprintf(stderr, "tether broker: --tls-cert and --tls-key go together\n");
        return -EINVAL;
    }
    return 0;
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
    int v6 = strchr(o->listen_host, ':') != NULL;
    char host[80];
    snprintf(host, sizeof(host), v6 ? "[%s]:%u" : "%s:%u", o->listen_host, port);
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
    snprintf(o->listen_host, sizeof(o->listen_host), "127.0.0.1");
    o->listen_port = 7070;
    int exit_code = EXIT_USAGE;
    if (parse_options(argc, argv, o) < 0)
        goto out;
    if (o->api_key_count == 0 && o->identity_count == 0)
        generate_key(o);
    struct broker_config *c = &o->config;
    c->listen_host = o->listen_host;
    c->listen_port = o->listen_port;
    c->namespaces = o->namespaces;
    c->namespace_count = o->namespace_count;
    c->api_keys = o->api_keys;
    c->api_key_count = o->api_key_count;
    c->iam_identities = o->identities;
    c->iam_identity_count = o->identity_count;

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
