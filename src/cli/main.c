/* tether: the command-line entry point. Subcommands live in cmd_*.c, listed
 * in the table below; this file parses global options and dispatches. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "tether"
#include "cli/args.h"
#include "cli/commands.h"
#include "core/fdlimit.h"
#include "core/log.h"

#ifndef TETHER_VERSION
#define TETHER_VERSION "0.1.0"
#endif

static const struct command commands[] = {
    {"dev", cmd_dev_main, "run the project's functions on this machine (the main job)"},
    {"detach", cmd_detach_main, "restore deployed functions a tether dev left attached"},
    {"init", cmd_init_main, "write tether.json from an AWS SAM template (--sam)"},
    {"invoke", cmd_invoke_main, "invoke a function through the running tether dev"},
    {"demo", cmd_demo_main, "start a broker and show a live publish/subscribe round trip"},
    {"broker", cmd_broker_main, "run the embedded AppSync Events broker"},
    {"publish", cmd_publish_main, "publish events to a channel"},
    {"subscribe", cmd_subscribe_main, "print the events published to a channel"},
    {"tunnel", cmd_tunnel_main,
     "the VPC tunnel through its SSH bastion: SOCKS5 proxy, and TUN device with --subnet"},
    {"lambda", cmd_lambda_main, "run a local AWS Lambda service"},
    {"debug-config", cmd_debug_config_main,
     "print IDE attach configurations for tether dev --inspect's worker ports"},
    {"bridge", cmd_bridge_main, "package the bridge for AWS Lambda; make or rotate its key"},
    /* An alias: the TUN path once had a command of its own. */
    {"tun", cmd_tunnel_main, "another name for `tether tunnel`"},
    {"tun-helper", cmd_tun_helper_main, "(run by sudo) the TUN path's privileged helper"},
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

/* Commands that serve connections for a long time: they start with the
 * soft descriptor limit raised to the hard one, so their servers' own caps
 * (below that limit) decide who is refused, not a failing accept(). */
static const char *const long_running[] = {"dev", "broker", "lambda", "tunnel", "tun", "demo"};

static void prepare_command(const char *name)
{
    for (size_t i = 0; i < sizeof(long_running) / sizeof(long_running[0]); i++) {
        if (strcmp(name, long_running[i]) != 0)
            continue;
        int rc = fd_limit_raise();
        if (rc < 0)
            log_debug("cannot raise the descriptor limit: %s", strerror(-rc));
        return;
    }
}

static int show_version;

/* The global options, before the command; the parser adds --log-level and
 * --help, and stops at the command's name. */
static const struct cli_option global_options[] = {
    CLI_FLAG("version", &show_version, "print the version"),
    CLI_END,
};

static const struct cli_spec global_spec = {
    .usage = "[--log-level LEVEL] COMMAND [OPTIONS]",
    .tables = {global_options},
    .operands_end_options = 1,
    .max_operands = -1,
};

static void usage(FILE *out)
{
    fprintf(out,
            "tether %s: run AWS Lambda functions live on your machine\n\n"
            "usage: tether %s\n\ncommands:\n",
            TETHER_VERSION, global_spec.usage);
    int width = 0;
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if ((int)strlen(commands[i].name) > width)
            width = (int)strlen(commands[i].name);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-*s %s\n", width, commands[i].name, commands[i].summary);
    fprintf(out, "\nglobal options:\n");
    cli_args_print_options(&global_spec, out);
    fprintf(out, "\nTETHER_LOG=LEVEL does what --log-level does; `tether COMMAND --help`\n"
                 "describes a command.\n"
                 "exit codes: 0 success, 1 runtime failure, 2 usage error\n"
                 "NO_COLOR turns colour off.\n");
}

int main(int argc, char **argv)
{
    /* A peer that goes away must be an error on that connection, not a
     * process-wide signal. */
    signal(SIGPIPE, SIG_IGN);
    log_init(-1); /* TETHER_LOG; a --log-level below overrides it */
    struct cli_args args;
    char cause[256];
    int rc = cli_args_parse_quiet(&global_spec, argc, argv, &args, cause, sizeof(cause));
    if (rc == 1) {
        usage(stdout);
        return EXIT_OK;
    }
    if (rc < 0) {
        fprintf(stderr, "tether: %s\n\n", cause);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (show_version) {
        printf("tether %s\n", TETHER_VERSION);
        return EXIT_OK;
    }
    if (args.operand_count == 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    for (size_t c = 0; c < COMMAND_COUNT; c++)
        if (strcmp(args.operands[0], commands[c].name) == 0) {
            prepare_command(commands[c].name);
            return commands[c].main(args.operand_count, args.operands);
        }
    fprintf(stderr, "tether: unknown command \"%s\"; try `tether --help`\n", args.operands[0]);
    return EXIT_USAGE;
}
