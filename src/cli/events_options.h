/* The options `tether publish` and `tether subscribe` share: where the
 * events API is, how to authorize, TLS trust, log level. Each command lists
 * EVENTS_CLI_LONG_OPTIONS in its getopt table (its own options numbered from
 * EVENTS_OPT_OWN) and passes every option to events_cli_option first. */
#ifndef TETHER_CLI_EVENTS_OPTIONS_H
#define TETHER_CLI_EVENTS_OPTIONS_H

#include <getopt.h>
#include <stddef.h>

#include "events/client.h"

struct events_cli_options {
    const char *command; /* "publish", for messages */
    const char *endpoint;
    const char *realtime;
    const char *api_key;
    int iam;
    const char *region;
    const char *ca_file;
    int insecure;
};

enum {
    EVENTS_OPT_ENDPOINT = 256,
    EVENTS_OPT_REALTIME,
    EVENTS_OPT_API_KEY,
    EVENTS_OPT_IAM,
    EVENTS_OPT_REGION,
    EVENTS_OPT_CA_FILE,
    EVENTS_OPT_INSECURE,
    EVENTS_OPT_LOG,
    EVENTS_OPT_HELP,
    EVENTS_OPT_OWN, /* a command's own options start here */
};

#define EVENTS_CLI_LONG_OPTIONS                                                                    \
    {"endpoint", required_argument, 0, EVENTS_OPT_ENDPOINT},                                       \
        {"realtime", required_argument, 0, EVENTS_OPT_REALTIME},                                   \
        {"api-key", required_argument, 0, EVENTS_OPT_API_KEY},                                     \
        {"iam", no_argument, 0, EVENTS_OPT_IAM},                                                   \
        {"region", required_argument, 0, EVENTS_OPT_REGION},                                       \
        {"ca-file", required_argument, 0, EVENTS_OPT_CA_FILE},                                     \
        {"insecure", no_argument, 0, EVENTS_OPT_INSECURE},                                         \
        {"log-level", required_argument, 0, EVENTS_OPT_LOG},                                       \
    {                                                                                              \
        "help", no_argument, 0, EVENTS_OPT_HELP                                                    \
    }

/* Prints "tether COMMAND: message" and the --help hint; returns -EINVAL. */
int events_cli_usage_error(const struct events_cli_options *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* 1: a shared option, handled; 0: not one; -EINVAL: bad value (reported).
 * --help prints help and exits. */
int events_cli_option(struct events_cli_options *o, int opt, const char *arg, const char *help);
/* After parsing: --endpoint given, and exactly one of --api-key and --iam. */
int events_cli_check(const struct events_cli_options *o);
/* Fills endpoint, auth and TLS fields of a client config (IAM credentials
 * from the AWS chain; region_buf must outlive the config). */
int events_cli_config(const struct events_cli_options *o, struct events_client_config *config,
                      char *region_buf, size_t region_len, char *cause, size_t cause_len);

#endif
