/* The options `tether publish` and `tether subscribe` share: where the
 * events API is, how to authorize, TLS trust. Each command passes its own
 * option table to events_cli_parse, which adds these (cli/args.h) and checks
 * them together. */
#ifndef TETHER_CLI_EVENTS_OPTIONS_H
#define TETHER_CLI_EVENTS_OPTIONS_H

#include <stddef.h>

#include "cli/args.h"
#include "events/client.h"

#define EVENTS_CLI_MAX_KEY 1024
/* Files of secrets (API keys) are read up to this size. */
#define EVENTS_CLI_MAX_SECRET_FILE 65536

struct events_cli_options {
    const char *endpoint;
    const char *realtime;
    const char *api_key; /* --api-key, else the file's, else TETHER_API_KEY */
    const char *api_key_file;
    char api_key_from_file[EVENTS_CLI_MAX_KEY];
    int iam;
    const char *region;
    const char *ca_file;
    int insecure;
};

/* Parses argv with the shared options first, then spec->tables[0] (the
 * command's own); spec's other table slots are filled here. Checks that
 * --endpoint is given with exactly one of an API key and --iam; the key
 * comes from --api-key (with a warning: other users see it in ps),
 * --api-key-file FILE or, when neither is given, TETHER_API_KEY. Returns
 * CLI_ARGS_CONTINUE or the exit code (help printed, or a usage error). */
int events_cli_parse(struct cli_spec *spec, struct events_cli_options *o, int argc, char **argv,
                     struct cli_args *args);

/* Initializes a client config and fills its endpoint, auth and TLS fields
 * (IAM credentials from the AWS chain; region_buf must outlive the config). */
int events_cli_config(const struct events_cli_options *o, struct events_client_config *config,
                      char *region_buf, size_t region_len, char *cause, size_t cause_len);

/* The one reader of files that hold secrets (API keys, one per line):
 * at most EVENTS_CLI_MAX_SECRET_FILE bytes, NUL-terminated; the caller
 * wipes and frees it. Warns on stderr when group or others may read the
 * file. NULL with cause set when it cannot be read. */
char *events_cli_read_secret_file(const char *path, char *cause, size_t cause_len);
/* Warns on stderr that `option` put a secret on the command line, where
 * every local user can read it (ps, /proc/PID/cmdline), and names the
 * options to use instead. */
void events_cli_warn_secret_argument(const char *command, const char *option, const char *instead);

#endif
