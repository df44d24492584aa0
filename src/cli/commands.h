/* The subcommands of the tether binary: one cmd_*.c file each, listed in the
 * table in main.c. Each main returns the process exit code (see exit codes in
 * main.c's help text); each help text is printed by `tether CMD --help`. */
#ifndef TETHER_CLI_COMMANDS_H
#define TETHER_CLI_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

enum exit_code {
    EXIT_OK = 0,
    EXIT_FAILURE_RUNTIME = 1, /* could not do the job: network, auth, peer */
    EXIT_USAGE = 2,           /* bad command line or configuration */
};

struct command {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
    const char *help;
};

int cmd_broker_main(int argc, char **argv);
extern const char cmd_broker_help[];
int cmd_publish_main(int argc, char **argv);
extern const char cmd_publish_help[];
int cmd_subscribe_main(int argc, char **argv);
extern const char cmd_subscribe_help[];
int cmd_dev_main(int argc, char **argv);
extern const char cmd_dev_help[];
int cmd_invoke_main(int argc, char **argv);
extern const char cmd_invoke_help[];
int cmd_demo_main(int argc, char **argv);
extern const char cmd_demo_help[];
int cmd_tunnel_main(int argc, char **argv);
extern const char cmd_tunnel_help[];
int cmd_lambda_main(int, char **);
extern const char cmd_lambda_help[];
int cmd_bridge_main(int argc, char **argv);
extern const char cmd_bridge_help[];
int cmd_tun_helper_main(int argc, char **argv);
extern const char cmd_tun_helper_help[];
/* `tether tunnel install` / `uninstall` and `tether tun-helper`
 * (cmd_tunnel_install.c); `tether tun` is `tether tunnel` (main.c). */
int cmd_tunnel_install_main(int argc, char **argv);
int cmd_tunnel_uninstall_main(int argc, char **argv);

/* Shared option handling: --log-level LEVEL and --help are accepted by every
 * command; returns 1 when argv[i] was one of them (and *i advanced). */
int cli_common_option(int argc, char **argv, int *i, const char *help);
/* Parses HOST:PORT ([IPv6]:PORT too) for --listen; -EINVAL when malformed. */
int cli_parse_listen(const char *text, char *host, size_t host_len, uint16_t *port);
/* Reads a whole small file (keys, credentials) into a NUL-terminated string. */
char *cli_read_file(const char *path, char *cause, size_t cause_len);

#endif
