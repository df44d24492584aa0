#include "cli/events_options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "core/log.h"

int events_cli_usage_error(const struct events_cli_options *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tether %s: ", o->command);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see `tether %s --help`)\n", o->command);
    va_end(ap);
    return -EINVAL;
}

int events_cli_option(struct events_cli_options *o, int opt, const char *arg, const char *help)
{
    switch (opt) {
    case EVENTS_OPT_ENDPOINT:
        o->endpoint = arg;
        return 1;
    case EVENTS_OPT_REALTIME:
        o->realtime = arg;
        return 1;
    case EVENTS_OPT_API_KEY:
        o->api_key = arg;
        return 1;
    case EVENTS_OPT_IAM:
        o->iam = 1;
        return 1;
    case EVENTS_OPT_REGION:
        o->region = arg;
        return 1;
    case EVENTS_OPT_CA_FILE:
        o->ca_file = arg;
        return 1;
    case EVENTS_OPT_INSECURE:
        o->insecure = 1;
        return 1;
    case EVENTS_OPT_LOG: {
        int level = log_level_parse(arg);
        if (level < 0)
            return events_cli_usage_error(o, "unknown log level \"%s\"", arg);
        log_set_level((enum log_level)level);
        return 1;
    }
    case 'h':
    case EVENTS_OPT_HELP:
        fputs(help, stdout);
        exit(EXIT_OK);
    default:
        return 0;
    }
}

int events_cli_check(const struct events_cli_options *o)
{
    if (!o->endpoint)
        return events_cli_usage_error(o, "--endpoint URL is required");
    if (!o->api_key == !o->iam)
        return events_cli_usage_error(o, "give either --api-key KEY or --iam");
    return 0;
}

int events_cli_config(const struct events_cli_options *o, struct events_client_config *config,
                      char *region_buf, size_t region_len, char *cause, size_t cause_len)
{
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
