/* The options `tether publish` and `tether subscribe` share: where the
 * events API is, how to authorize, TLS trust. Each command passes its own
 * option table to events_cli_parse, which adds these (cli/args.h) and checks
 * them together. */
#ifndef TETHER_CLI_EVENTS_OPTIONS_H
#define TETHER_CLI_EVENTS_OPTIONS_H

#include <stddef.h>

#include "cli/args.h"
#include "events/client.h"

struct events_cli_options {
    const char *endpoint;
    const char *realtime;
    const char *api_key;
    int iam;
    const char *region;
    const char *ca_file;
    int insecure;
};

/* Parses argv with the shared options first, then spec->tables[0] (the
 * command's own); spec's other table slots are filled here. Checks that
 * --endpoint is given with exactly one of --api-key and --iam. Returns
 * CLI_ARGS_CONTINUE or the exit code (help printed, or a usage error). */
int events_cli_parse(struct cli_spec *spec, struct events_cli_options *o, int argc, char **argv,
                     struct cli_args *args);

/* Initializes a client config and fills its endpoint, auth and TLS fields
 * (IAM credentials from the AWS chain; region_buf must outlive the config). */
int events_cli_config(const struct events_cli_options *o, struct events_client_config *config,
                      char *region_buf, size_t region_len, char *cause, size_t cause_len);

#endif
