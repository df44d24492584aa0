/* tether: the command-line entry point. Subcommands live in cmd_*.c, listed
 * in the table below; this file parses global options and dispatches. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/log.h"

#ifndef TETHER_VERSION
#define TETHER_VERSION "0.1.0"
#endif

static const struct command commands[] = {
    {"dev", cmd_dev_main, "run the project's functions on this machine (the main job)",
     cmd_dev_help},
    {"invoke", cmd_invoke_main, "invoke a function through the running tether dev",
     cmd_invoke_help},
    {"demo", cmd_demo_main, "start a broker and show a live publish/subscribe round trip",
     cmd_demo_help},
    {"broker", cmd_broker_main, "run the embedded AppSync Events broker", cmd_broker_help},
    {"publish", cmd_publish_main, "publish events to a channel", cmd_publish_help},
    {"subscribe", cmd_subscribe_main, "print the events published to a channel",
     cmd_subscribe_help},
    {"tunnel", cmd_tunnel_main,
     "the VPC tunnel through its SSH bastion: SOCKS5 proxy, and TUN device with --subnet",
     cmd_tunnel_help},
    {"lambda", cmd_lambda_main, "run a local AWS Lambda service", cmd_lambda_help},
    {"bridge", cmd_bridge_main, "package the bridge for deployment to AWS Lambda", cmd_bridge_help},
    /* An alias: the TUN path once had a command of its own. */
    {"tun", cmd_tunnel_main, "another name for `tether tunnel`", cmd_tunnel_help},
    {"tun-helper", cmd_tun_helper_main, "(run by sudo) the TUN path's privileged helper",
     cmd_tun_helper_help},
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    fprintf(out,
            "tether %s: run AWS Lambda functions live on your machine\n\n"
            "usage: tether [--log-level LEVEL] COMMAND [OPTIONS]\n\ncommands:\n",
            TETHER_VERSION);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nglobal options:\n"
                 "  --log-level LEVEL  error, warn, info (default), debug or trace;\n"
                 "                     TETHER_LOG=LEVEL does the same\n"
                 "  --version          print the version\n"
                 "  --help             this text; `tether COMMAND --help` for a command\n"
                 "\nexit codes: 0 success, 1 runtime failure, 2 usage error\n"
                 "NO_COLOR turns colour off.\n");
}

int cli_common_option(int argc, char **argv, int *i, const char *help)
{
    const char *arg = argv[*i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        fputs(help, stdout);
        exit(EXIT_OK);
    }
    if (strcmp(arg, "--log-level") == 0 && *i + 1 < argc) {
        int level = log_level_parse(argv[*i + 1]);
        if (level < 0) {
            fprintf(stderr, "tether: unknown log level \"%s\"\n", argv[*i + 1]);
            exit(EXIT_USAGE);
        }
        log_set_level((enum log_level)level);
        (*i)++;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int level = -1;
    int i = 1;
    /* A peer that goes away must be an error on that connection, not a
     * process-wide signal. */
    signal(SIGPIPE, SIG_IGN);
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("tether %s\n", TETHER_VERSION);
            return EXIT_OK;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            if ((level = log_level_parse(argv[++i])) < 0) {
                fprintf(stderr, "tether: unknown log level \"%s\"\n", argv[i]);
                return EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "tether: unknown option %s\n\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    log_init(level);
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    for (size_t c = 0; c < COMMAND_COUNT; c++)
        if (strcmp(argv[i], commands[c].name) == 0)
            return commands[c].main(argc - i, argv + i);
    fprintf(stderr, "tether: unknown command \"%s\"; try `tether --help`\n", argv[i]);
    return EXIT_USAGE;
}
