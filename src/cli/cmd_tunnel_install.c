/* The VPC tunnel's privileged side, apart from the runner (cmd_tunnel.c):
 *
 *   tether tunnel install [--user USER] [--root DIR] [--prefix DIR]
 *   tether tunnel uninstall [--user USER] [--root DIR] [--prefix DIR]
 *       the root-owned helper and the sudoers rule (tun/install.h)
 *   tether tun-helper ...   the privileged helper sudo runs (tun/privileged.h)
 *
 * cmd_tunnel.c dispatches `tether tunnel install` / `uninstall` here. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "tun/install.h"
#include "tun/privileged.h"

static const char install_help[] =
    "usage: sudo tether tunnel install [--user USER] [--root DIR] [--prefix DIR]\n"
    "       sudo tether tunnel uninstall [--user USER] [--root DIR] [--prefix DIR]\n"
    "\n"
    "`tether tunnel --subnet ...` needs root once, to create the TUN device, its\n"
    "routes and DNS registration. install (as root) copies tether to a root-owned\n"
    "helper in /opt/tether and adds a sudoers rule that lets USER run only that\n"
    "helper; tether then runs without privileges. uninstall removes both.\n"
    "\n"
    "  --user USER            the user the rule is for (default $SUDO_USER)\n"
    "  --prefix DIR           install the helper here instead of /opt/tether\n"
    "  --root DIR             install into DIR as if it were / (for packaging)\n";

const char cmd_tun_helper_help[] =
    "usage: tether tun-helper (run by sudo for `tether tunnel --subnet`)\n";

/* ---- install / uninstall ---- */

static int install_usage(const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int install_usage(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tether tunnel %s: ", verb);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_USAGE;
}

static int parse_install(int argc, char **argv, const char *verb, struct tun_install_config *c)
{
    static const struct option options[] = {
        {"user", required_argument, 0, 'u'},
        {"root", required_argument, 0, 'r'},
        {"prefix", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'u':
            c->user = optarg;
            break;
        case 'r':
            c->root = optarg;
            break;
        case 'p':
            c->prefix = optarg;
            break;
        case 'h':
            fputs(install_help, stdout);
            exit(EXIT_OK);
        default:
            return -EINVAL;
        }
    }
    if (optind < argc)
        return install_usage(verb, "unexpected argument \"%s\"", argv[optind]), -EINVAL;
    if (!c->user)
        c->user = getenv("SUDO_USER");
    if (!c->user || !*c->user)
        return install_usage(verb, "%s",
                             "run it through sudo (the rule is for the user who "
                             "ran sudo), or name the user with --user USER"),
               -EINVAL;
    if (!tun_install_user_valid(c->user))
        return install_usage(verb, "\"%s\" is not a user name", c->user), -EINVAL;
    if (c->prefix && !tun_prefix_valid(c->prefix))
        return install_usage(verb, "--prefix \"%s\" must be an absolute path of [A-Za-z0-9/_-]",
                             c->prefix),
               -EINVAL;
    if (c->root && c->root[0] != '/')
        return install_usage(verb, "%s", "--root must be an absolute path"), -EINVAL;
    if ((!c->root || !*c->root) && geteuid() != 0)
        return install_usage(verb, "%s", "needs root: run it with sudo"), -EPERM;
    return 0;
}

typedef int install_step(const struct tun_install_config *config, char *report, size_t len);

/* Both verbs: their options, the step, its report (stdout, or stderr when it
 * failed); the caller adds what follows a success. */
static int run_install(int argc, char **argv, const char *verb, install_step *step,
                       struct tun_install_config *c)
{
    if (parse_install(argc, argv, verb, c) < 0)
        return EXIT_USAGE;
    char report[1024];
    int rc = step(c, report, sizeof(report));
    fprintf(rc < 0 ? stderr : stdout, "tether tunnel %s: %s\n", verb, report);
    return rc < 0 ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_tunnel_install_main(int argc, char **argv)
{
    struct tun_install_config c = {0};
    int exit_code = run_install(argc, argv, "install", tun_install, &c);
    if (exit_code == EXIT_OK)
        printf("%s may now run `tether tunnel --subnet ...` without sudo.\n", c.user);
    return exit_code;
}

int cmd_tunnel_uninstall_main(int argc, char **argv)
{
    struct tun_install_config c = {0};
    return run_install(argc, argv, "uninstall", tun_uninstall, &c);
}

int cmd_tun_helper_main(int argc, char **argv)
{
    return tun_helper_main(argc, argv);
}
