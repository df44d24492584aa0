#include "cli/events_options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "core/buf.h"
#include "core/encoding.h"

char *events_cli_read_secret_file(const char *path, char *cause, size_t cause_len)
{
    struct buf text = BUF_INIT;
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        fprintf(stderr,
                "tether: warning: %s holds secrets but other users may read it (mode %03o); "
                "chmod 600 it\n",
                path, (unsigned)(st.st_mode & 0777));
    int rc = buf_read_file(&text, path, EVENTS_CLI_MAX_SECRET_FILE);
    char *out = rc == 0 ? buf_steal(&text, NULL) : NULL;
    if (rc == -EFBIG)
        snprintf(cause, cause_len, "%s is larger than %d KiB", path,
                 EVENTS_CLI_MAX_SECRET_FILE / 1024);
    else if (!out)
        snprintf(cause, cause_len, "cannot open %s: %s", path, strerror(rc < 0 ? -rc : ENOMEM));
    if (!out)
        secure_wipe(buf_bytes(&text), buf_length(&text));
    buf_free(&text);
    return out;
}

void events_cli_warn_secret_argument(const char *command, const char *option, const char *instead)
{
    fprintf(stderr,
            "tether %s: warning: %s puts a secret on the command line, where other local "
            "users can read it (ps); use %s instead\n",
            command, option, instead);
}

/* The first line of the file that is neither empty nor a # comment. */
static int key_from_file(struct events_cli_options *o, char *cause, size_t cause_len)
{
    char *text = events_cli_read_secret_file(o->api_key_file, cause, cause_len);
    if (!text)
        return -EINVAL;
    int rc = -ENOENT;
    snprintf(cause, cause_len, "%s holds no API key", o->api_key_file);
    for (char *save = NULL, *line = strtok_r(text, "\r\n", &save); line;
         line = strtok_r(NULL, "\r\n", &save)) {
        if (!*line || *line == '#')
            continue;
        if (strlen(line) >= sizeof(o->api_key_from_file)) {
            snprintf(cause, cause_len, "the API key in %s is too long", o->api_key_file);
            rc = -E2BIG;
            break;
        }
        snprintf(o->api_key_from_file, sizeof(o->api_key_from_file), "%s", line);
        o->api_key = o->api_key_from_file;
        rc = 0;
        break;
    }
    secure_wipe(text, strlen(text));
    free(text);
    return rc;
}

/* --api-key, --api-key-file or TETHER_API_KEY: at most one of the first
 * two; the environment only when neither they nor --iam is given. */
static int resolve_api_key(struct cli_spec *spec, struct events_cli_options *o)
{
    char cause[256];
    if (o->api_key && o->api_key_file)
        return cli_args_usage_error(spec, "give --api-key or --api-key-file, not both");
    if (o->api_key_file) {
        if (key_from_file(o, cause, sizeof(cause)) < 0) {
            fprintf(stderr, "tether %s: %s\n", spec->command, cause);
            return EXIT_FAILURE_RUNTIME;
        }
    } else if (o->api_key) {
        events_cli_warn_secret_argument(spec->command, "--api-key",
                                        "--api-key-file FILE or TETHER_API_KEY");
    } else if (!o->iam) {
        const char *env = getenv("TETHER_API_KEY");
        o->api_key = env && *env ? env : NULL;
    }
    return CLI_ARGS_CONTINUE;
}

int events_cli_parse(struct cli_spec *spec, struct events_cli_options *o, int argc, char **argv,
                     struct cli_args *args)
{
    const struct cli_option shared[] = {
        CLI_STRING("endpoint", "URL", &o->endpoint,
                   "the HTTP endpoint: https://ID.appsync-api.REGION.amazonaws.com/event\n"
                   "or a broker's http://127.0.0.1:PORT/event"),
        CLI_STRING("realtime", "URL", &o->realtime,
                   "the realtime endpoint (default: derived from --endpoint,\n"
                   "ws(s)://HOST[:PORT]/event/realtime)"),
        CLI_STRING("api-key", "KEY", &o->api_key,
                   "authorize with an API key (others can read it in ps:\n"
                   "prefer --api-key-file or TETHER_API_KEY)"),
        CLI_STRING("api-key-file", "FILE", &o->api_key_file,
                   "authorize with the API key in FILE (its first line)"),
        CLI_FLAG("iam", &o->iam,
                 "sign with SigV4; credentials as the AWS CLI finds them:\n"
                 "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN,\n"
                 "then AWS_PROFILE in ~/.aws (role_arn, credential_process)"),
        CLI_STRING("region", "REGION", &o->region,
                   "region for --iam (default: AWS_REGION, AWS_DEFAULT_REGION,\n"
                   "or the endpoint's host)"),
        CLI_STRING("ca-file", "FILE", &o->ca_file,
                   "trust the CA certificates in FILE (PEM) for https/wss"),
        CLI_FLAG("insecure", &o->insecure, "do not verify TLS certificates (testing only)"),
        CLI_END,
    };
    const struct cli_option *own = spec->tables[0];
    spec->tables[0] = shared;
    spec->tables[1] = own;
    int code = cli_args_parse(spec, argc, argv, args);
    spec->tables[0] = own; /* `shared` ends with this call */
    spec->tables[1] = NULL;
    if (code != CLI_ARGS_CONTINUE)
        return code;
    if (!o->endpoint)
        return cli_args_usage_error(spec, "--endpoint URL is required");
    code = resolve_api_key(spec, o);
    if (code != CLI_ARGS_CONTINUE)
        return code;
    if (!o->api_key == !o->iam)
        return cli_args_usage_error(
            spec, "give either an API key (--api-key-file FILE, TETHER_API_KEY or --api-key KEY) "
                  "or --iam");
    return CLI_ARGS_CONTINUE;
}

int events_cli_config(const struct events_cli_options *o, struct events_client_config *config,
                      char *region_buf, size_t region_len, char *cause, size_t cause_len)
{
    events_client_config_init(config);
    config->http_url = o->endpoint;
    config->realtime_url = o->realtime;
    config->api_key = o->api_key;
    config->ca_file = o->ca_file;
    config->insecure = o->insecure;
    if (o->iam && events_client_config_iam_from_env(config, o->region, region_buf, region_len,
                                                    cause, cause_len) < 0)
        return -EINVAL;
    return 0;
}
