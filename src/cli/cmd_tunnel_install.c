/* The VPC tunnel's privileged side, apart from the runner (cmd_tunnel.c):
 *
 *   tether tunnel install [--user USER] [--subnet CIDR]... [--allow-dns-all]
 *                         [--root DIR] [--prefix DIR]
 *   tether tunnel uninstall [--user USER] [--root DIR] [--prefix DIR]
 *       the root-owned helper, its policy and the sudoers rule (tun/install.h)
 *   tether tun-helper ...   the privileged helper sudo runs (tun/privileged.h)
 *
 * cmd_tunnel.c dispatches `tether tunnel install` / `uninstall` here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "tun/install.h"
#include "tun/policy.h"
#include "tun/privileged.h"

#define COMMON_OPTIONS "[--user USER] [--root DIR] [--prefix DIR]"
#define INSTALL_OPTIONS                                                                            \
    "[--user USER] [--subnet CIDR]... [--allow-dns-all] [--root DIR] [--prefix DIR]"

static const char install_about[] =
    "`tether tunnel --subnet ...` needs root once, to create the TUN device, its\n"
    "routes and DNS registration. install (as root) copies tether to a root-owned\n"
    "helper in /opt/tether, writes its policy (the subnets USER may route: exactly\n"
    "the --subnet blocks given, nothing without them) and adds a sudoers rule that\n"
    "lets USER run only that helper; tether then runs without privileges. Install\n"
    "again to change USER's subnets. uninstall removes the helper, the rule and\n"
    "USER's policy. Run either as root: sudo tether tunnel install --subnet CIDR.\n";

/* ---- install / uninstall ---- */

/* The checks the table cannot express; prints the usage error. */
static int check_install(const struct cli_spec *spec, struct tun_install_config *c)
{
    if (!c->user)
        c->user = getenv("SUDO_USER");
    if (!c->user || !*c->user)
        return cli_args_usage_error(spec, "%s",
                                    "run it through sudo (the rule is for the user who "
                                    "ran sudo), or name the user with --user USER");
    if (!tun_policy_user_valid(c->user))
        return cli_args_usage_error(spec,
                                    "\"%s\" is not a user name for the rule ([a-z_][a-z0-9_-]*, "
                                    "no sudoers keyword or alias)",
                                    c->user);
    if (c->prefix && !tun_prefix_valid(c->prefix))
        return cli_args_usage_error(
            spec, "--prefix \"%s\" must be an absolute path of [A-Za-z0-9/_-]", c->prefix);
    if (c->root && c->root[0] != '/')
        return cli_args_usage_error(spec, "%s", "--root must be an absolute path");
    if ((!c->root || !*c->root) && geteuid() != 0)
        return cli_args_usage_error(spec, "%s", "needs root: run it with sudo");
    return CLI_ARGS_CONTINUE;
}

static int add_subnet(void *target, const char *value, char *cause, size_t cause_len)
{
    return tun_install_add_subnet(target, value, cause, cause_len);
}

/* CLI_ARGS_CONTINUE, or the exit code after --help or a usage error. */
static int parse_install(int argc, char **argv, const char *verb, struct tun_install_config *c)
{
    int install = strcmp(verb, "install") == 0;
    char command[32], usage[256];
    snprintf(command, sizeof(command), "tunnel %s", verb);
    /* The help shows both verbs, this one first. */
    snprintf(usage, sizeof(usage), "%s\n       tether tunnel %s %s",
             install ? INSTALL_OPTIONS : COMMON_OPTIONS, install ? "uninstall" : "install",
             install ? COMMON_OPTIONS : INSTALL_OPTIONS);
    const struct cli_option table[] = {
        CLI_STRING("user", "USER", &c->user, "the user the rule is for (default $SUDO_USER)"),
        CLI_STRING("prefix", "DIR", &c->prefix, "install the helper here instead of /opt/tether"),
        CLI_STRING("root", "DIR", &c->root, "install into DIR as if it were / (for packaging)"),
        CLI_END,
    };
    const struct cli_option policy[] = {
        CLI_CALL("subnet", "CIDR", add_subnet, c,
                 "a block USER may route into the tunnel (repeatable; routes\n"
                 "inside it are allowed, nothing else)"),
        CLI_FLAG("allow-dns-all", &c->dns_all,
                 "USER may use --dns-all (every DNS name to the VPC)"),
        CLI_END,
    };
    const struct cli_spec spec = {
        .command = command,
        .usage = usage,
        .about = install_about,
        .tables = {install ? policy : table, install ? table : NULL},
    };
    struct cli_args args;
    int code = cli_args_parse(&spec, argc, argv, &args);
    return code == CLI_ARGS_CONTINUE ? check_install(&spec, c) : code;
}

typedef int install_step(const struct tun_install_config *config, char *report, size_t len);

/* Both verbs, once their options are parsed: the step and its report
 * (stdout, or stderr when it failed). */
static int run_step(const char *verb, install_step *step, const struct tun_install_config *c)
{
    char report[1024];
    int rc = step(c, report, sizeof(report));
    fprintf(rc < 0 ? stderr : stdout, "tether tunnel %s: %s\n", verb, report);
    return rc < 0 ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_tunnel_install_main(int argc, char **argv)
{
    static struct tun_install_config c; /* large (its subnets): not on the stack */
    int exit_code = parse_install(argc, argv, "install", &c);
    if (exit_code != CLI_ARGS_CONTINUE)
        return exit_code; /* --help, or a usage error */
    exit_code = run_step("install", tun_install, &c);
    if (exit_code == EXIT_OK)
        printf("%s may now run `tether tunnel --subnet ...` without sudo.\n", c.user);
    return exit_code;
}

int cmd_tunnel_uninstall_main(int argc, char **argv)
{
    static struct tun_install_config c;
    int exit_code = parse_install(argc, argv, "uninstall", &c);
    return exit_code != CLI_ARGS_CONTINUE ? exit_code : run_step("uninstall", tun_uninstall, &c);
}

int cmd_tun_helper_main(int argc, char **argv)
{
    return tun_helper_main(argc, argv);
}
