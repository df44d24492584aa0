#include "cli/events_options.h"

#include <errno.h>

#include "cli/commands.h"

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
        CLI_STRING("api-key", "KEY", &o->api_key, "authorize with an API key"),
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
    if (!o->api_key == !o->iam)
        return cli_args_usage_error(spec, "give either --api-key KEY or --iam");
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
