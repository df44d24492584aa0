/* The subcommands of the tether binary: one cmd_*.c file each, listed in the
 * table in main.c. Each main returns the process exit code (see exit codes in
 * main.c's help text). Commands declare their options in a table that also
 * makes their --help text (cli/args.h); the ones not converted yet keep a
 * help string, declared here. */
#ifndef TETHER_CLI_COMMANDS_H
#define TETHER_CLI_COMMANDS_H

enum exit_code {
    EXIT_OK = 0,
    EXIT_FAILURE_RUNTIME = 1, /* could not do the job: network, auth, peer */
    EXIT_USAGE = 2,           /* bad command line or configuration */
};

struct command {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
};

int cmd_broker_main(int argc, char **argv);
int cmd_publish_main(int argc, char **argv);
int cmd_subscribe_main(int argc, char **argv);
int cmd_dev_main(int argc, char **argv);
int cmd_detach_main(int argc, char **argv);
int cmd_init_main(int argc, char **argv);
int cmd_invoke_main(int argc, char **argv);
int cmd_demo_main(int argc, char **argv);
int cmd_tunnel_main(int argc, char **argv);
int cmd_lambda_main(int, char **);
int cmd_bridge_main(int argc, char **argv);
int cmd_debug_config_main(int argc, char **argv);
int cmd_tun_helper_main(int argc, char **argv);
/* `tether tunnel install` / `uninstall` and `tether tun-helper`
 * (cmd_tunnel_install.c); `tether tun` is `tether tunnel` (main.c). */
int cmd_tunnel_install_main(int argc, char **argv);
int cmd_tunnel_uninstall_main(int argc, char **argv);

#endif
