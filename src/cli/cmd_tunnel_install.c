/* The TUN path's commands:
 *
 *   tether tun [tunnel options] --subnet CIDR ...   the VPC tunnel with a TUN
 *       device (and the SOCKS5 proxy); the same as `tether tunnel --subnet`
 *       once cmd_tunnel.c makes the tun_acquire/tun_start calls (docs/tun.md)
 *   tether tun install [--user USER] [--root DIR] [--prefix DIR]
 *   tether tun uninstall [--user USER] [--root DIR] [--prefix DIR]
 *   tether tun-helper ...   the privileged helper sudo runs (privileged.h)
 *
 * cmd_tunnel_install_main / cmd_tunnel_uninstall_main are what `tether
 * tunnel install` / `uninstall` call. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#define LOG_MODULE "tun"
#include "cli/commands.h"
#include "core/buf.h"
#include "core/encoding.h"
#include "core/log.h"
#include "ssh/identity.h"
#include "tun/install.h"
#include "tun/options.h"
#include "tun/privileged.h"
#include "tun/tun.h"
#include "tunnel/tunnel.h"

#define INSTALL_COMMAND "sudo tether tun install"

const char cmd_tun_help[] =
    "usage: tether tun --host HOST --user USER --subnet CIDR [OPTIONS]\n"
    "       tether tun install [--user USER] [--root DIR] [--prefix DIR]\n"
    "       tether tun uninstall [--user USER] [--root DIR] [--prefix DIR]\n"
    "\n"
    "The VPC tunnel with a TUN device: connections to the --subnet blocks from any\n"
    "program (psql, curl, a Node app) go through the bastion with no proxy settings,\n"
    "and the VPC's private DNS names resolve (--dns-domain). The SOCKS5 proxy of\n"
    "`tether tunnel` runs too.\n"
    "\n"
    "connection (as for `tether tunnel`):\n"
    "  --host HOST  --port PORT  --user USER  --key FILE  --known-hosts FILE\n"
    "  --host-key-fingerprint SHA256:...  --accept-new-host-key  --retry\n"
    "  --no-warm-up  --keepalive S  --connect-timeout S  --socks ADDR  --config FILE\n"
    "\n" TUN_OPTIONS_HELP "\n"
    "Creating the device needs root once: `tether tun install` (as root) installs a\n"
    "root-owned helper in /opt/tether and a sudoers rule for your user; tether then\n"
    "runs without privileges and asks the helper only for the device, its routes and\n"
    "DNS registration. Stop with Ctrl-C or SIGTERM: the device and its routes go away\n"
    "with the process, also when it is killed.\n"
    "  --json  --log-level LEVEL\n";

const char cmd_tun_helper_help[] = "usage: tether tun-helper (run by sudo for `tether tun`)\n";

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
            fputs(cmd_tun_help, stdout);
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

int cmd_tunnel_install_main(int argc, char **argv)
{
    struct tun_install_config c = {0};
    if (parse_install(argc, argv, "install", &c) < 0)
        return EXIT_USAGE;
    char report[1024];
    int rc = tun_install(&c, report, sizeof(report));
    fprintf(rc < 0 ? stderr : stdout, "tether tunnel install: %s\n", report);
    if (rc == 0)
        printf("%s may now run `tether tunnel --subnet ...` without sudo.\n", c.user);
    return rc < 0 ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_tunnel_uninstall_main(int argc, char **argv)
{
    struct tun_install_config c = {0};
    if (parse_install(argc, argv, "uninstall", &c) < 0)
        return EXIT_USAGE;
    char report[1024];
    int rc = tun_uninstall(&c, report, sizeof(report));
    fprintf(rc < 0 ? stderr : stdout, "tether tunnel uninstall: %s\n", report);
    return rc < 0 ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_tun_helper_main(int argc, char **argv)
{
    return tun_helper_main(argc, argv);
}

/* ---- running ---- */

struct tun_options {
    struct tunnel_config tunnel;
    struct tun_config tun;
    struct identity identity;
    const char *key_path, *known_hosts, *config_path;
    char socks_host[64];
    char user_known_hosts[1024], tether_known_hosts[1024];
    int json, retry;
};

struct tun_run {
    struct tun_options *options;
    struct tunnel *tunnel;
    struct tun *tun;
    uv_signal_t sigint, sigterm;
    int failed, stopping, was_ready;
};

enum {
    OPT_HOST = 256,
    OPT_PORT,
    OPT_USER,
    OPT_KEY,
    OPT_FINGERPRINT,
    OPT_ACCEPT_NEW,
    OPT_KNOWN_HOSTS,
    OPT_CONNECT_TIMEOUT,
    OPT_KEEPALIVE,
    OPT_RETRY,
    OPT_NO_WARM_UP,
    OPT_SOCKS,
    OPT_CONFIG,
    OPT_JSON,
    OPT_LOG,
    OPT_HELP,
};

static int run_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tether tun: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -EINVAL;
}

static int parse_seconds(const char *arg, uint32_t *out_ms)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (*end || end == arg || v < 0 || v > 100000)
        return run_usage("bad number of seconds \"%s\"", arg);
    *out_ms = (uint32_t)v * 1000;
    return 0;
}

static int set_socks(struct tun_options *o, const char *arg)
{
    const char *colon = strrchr(arg, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    size_t len = colon ? (size_t)(colon - arg) : 0;
    if (!colon || *end || port < 0 || port > 65535 || len == 0 || len >= sizeof(o->socks_host))
        return run_usage("--socks wants HOST:PORT, not \"%s\"", arg);
    memcpy(o->socks_host, arg, len);
    o->socks_host[len] = '\0';
    o->tunnel.socks_port = (uint16_t)port;
    return 0;
}

static int apply_run_option(struct tun_options *o, int opt, const char *arg)
{
    struct bastion_config *b = &o->tunnel.bastion;
    char cause[512];
    switch (opt) {
    case OPT_HOST:
        b->host = arg;
        return 0;
    case OPT_PORT:
        b->port = (uint16_t)atoi(arg);
        return b->port ? 0 : run_usage("bad --port");
    case OPT_USER:
        b->user = arg;
        return 0;
    case OPT_KEY:
        o->key_path = arg;
        return 0;
    case OPT_FINGERPRINT:
        b->host_key_fingerprint = arg;
        return 0;
    case OPT_ACCEPT_NEW:
        b->accept_new_host_key = 1;
        return 0;
    case OPT_KNOWN_HOSTS:
        o->known_hosts = arg;
        return 0;
    case OPT_CONNECT_TIMEOUT:
        return parse_seconds(arg, &b->connect_timeout_ms);
    case OPT_KEEPALIVE:
        return parse_seconds(arg, &b->keepalive_interval_ms);
    case OPT_RETRY:
        o->retry = 1;
        return 0;
    case OPT_NO_WARM_UP:
        b->skip_warm_up = 1;
        return 0;
    case OPT_SOCKS:
        return set_socks(o, arg);
    case OPT_CONFIG:
        o->config_path = arg;
        return 0;
    case OPT_JSON:
        o->json = 1;
        return 0;
    case OPT_LOG:
        if (log_level_parse(arg) < 0)
            return run_usage("unknown log level \"%s\"", arg);
        log_set_level((enum log_level)log_level_parse(arg));
        return 0;
    case OPT_HELP:
        fputs(cmd_tun_help, stdout);
        exit(EXIT_OK);
    default:
        if (tun_options_apply(&o->tun, opt, arg, cause, sizeof(cause)) < 0)
            return run_usage("%s", cause);
        return 0;
    }
}

static int parse_run(int argc, char **argv, struct tun_options *o)
{
    static const struct option options[] = {
        {"host", required_argument, 0, OPT_HOST},
        {"port", required_argument, 0, OPT_PORT},
        {"user", required_argument, 0, OPT_USER},
        {"key", required_argument, 0, OPT_KEY},
        {"host-key-fingerprint", required_argument, 0, OPT_FINGERPRINT},
        {"accept-new-host-key", no_argument, 0, OPT_ACCEPT_NEW},
        {"known-hosts", required_argument, 0, OPT_KNOWN_HOSTS},
        {"connect-timeout", required_argument, 0, OPT_CONNECT_TIMEOUT},
        {"keepalive", required_argument, 0, OPT_KEEPALIVE},
        {"retry", no_argument, 0, OPT_RETRY},
        {"no-warm-up", no_argument, 0, OPT_NO_WARM_UP},
        {"socks", required_argument, 0, OPT_SOCKS},
        {"config", required_argument, 0, OPT_CONFIG},
        {"json", no_argument, 0, OPT_JSON},
        {"log-level", required_argument, 0, OPT_LOG},
        {"help", no_argument, 0, OPT_HELP},
        TUN_LONG_OPTIONS,
        {0, 0, 0, 0},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (opt == 'h')
            opt = OPT_HELP;
        if (opt == '?' || apply_run_option(o, opt, optarg) < 0)
            return -EINVAL;
    }
    if (optind < argc)
        return run_usage("unexpected argument \"%s\"", argv[optind]);
    return 0;
}

static void default_paths(struct tun_options *o)
{
    const char *home = getenv("HOME");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    if (home)
        snprintf(o->user_known_hosts, sizeof(o->user_known_hosts), "%s/.ssh/known_hosts", home);
    if (xdg && *xdg)
        snprintf(o->tether_known_hosts, sizeof(o->tether_known_hosts), "%s/tether/known_hosts",
                 xdg);
    else if (home)
        snprintf(o->tether_known_hosts, sizeof(o->tether_known_hosts),
                 "%s/.config/tether/known_hosts", home);
}

static int finish_run_options(struct tun_options *o)
{
    struct bastion_config *b = &o->tunnel.bastion;
    char cause[1024];
    const char *file = o->config_path ? o->config_path : "tether.json";
    if (tun_options_load_file(&o->tun, file, cause, sizeof(cause)) < 0)
        return run_usage("%s", cause);
    if (!b->host || !b->user)
        return run_usage("%s", "--host and --user are required");
    if (tun_config_finish(&o->tun, cause, sizeof(cause)) < 0)
        return run_usage("%s", cause);
    default_paths(o);
    b->user_known_hosts = o->user_known_hosts[0] ? o->user_known_hosts : NULL;
    b->tether_known_hosts = o->known_hosts             ? o->known_hosts
                            : o->tether_known_hosts[0] ? o->tether_known_hosts
                                                       : NULL;
    b->give_up_on_first_failure = !o->retry;
    b->identity = &o->identity;
    o->tunnel.socks_host = o->socks_host[0] ? o->socks_host : "127.0.0.1";
    if (!o->socks_host[0])
        o->tunnel.socks_port = 1080;
    return 0;
}

static void print_event(const char *type, const char *field, const char *value)
{
    struct buf line = BUF_INIT;
    buf_printf(&line, "{\"type\":\"%s\"", type);
    if (field) {
        buf_printf(&line, ",\"%s\":", field);
        json_quote(&line, value, strlen(value));
    }
    buf_append_str(&line, "}\n");
    fwrite(buf_bytes(&line), 1, buf_length(&line), stdout);
    fflush(stdout);
    buf_free(&line);
}

static void stop_run(struct tun_run *run);

static void on_bastion_state(struct tunnel *tunnel, enum bastion_state old_state,
                             enum bastion_state new_state, const char *cause, void *user)
{
    struct tun_run *run = user;
    if (run->options->json)
        print_event("state", "state", bastion_state_name(new_state));
    if (new_state == BASTION_READY) {
        log_info("%s to the bastion", run->was_ready ? "reconnected" : "connected");
        run->was_ready = 1;
    } else if (new_state == BASTION_BACKOFF) {
        log_warn("%s", cause);
    } else if (new_state == BASTION_FAILED) {
        log_error("%s", cause);
        run->failed = 1;
        stop_run(run);
    }
}

static void on_tunnel_stopped(void *user)
{
    struct tun_run *run = user;
    run->tunnel = NULL;
}

static void on_tun_stopped(void *user)
{
    struct tun_run *run = user;
    run->tun = NULL;
    if (run->tunnel)
        tunnel_stop(run->tunnel, on_tunnel_stopped, run);
}

static void stop_run(struct tun_run *run)
{
    if (run->stopping)
        return;
    run->stopping = 1;
    if (!uv_is_closing((uv_handle_t *)&run->sigint))
        uv_close((uv_handle_t *)&run->sigint, NULL);
    if (!uv_is_closing((uv_handle_t *)&run->sigterm))
        uv_close((uv_handle_t *)&run->sigterm, NULL);
    if (run->tun)
        tun_stop(run->tun, on_tun_stopped, run);
    else if (run->tunnel)
        tunnel_stop(run->tunnel, on_tunnel_stopped, run);
}

static void on_signal(uv_signal_t *signal, int signum)
{
    log_info("received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    stop_run(signal->data);
}

static int start_all(uv_loop_t *loop, struct tun_run *run, char *cause, size_t cause_len)
{
    struct tun_options *o = run->options;
    static const struct tunnel_callbacks callbacks = {on_bastion_state};
    int rc = tunnel_start(loop, &o->tunnel, &callbacks, run, &run->tunnel, cause, cause_len);
    if (rc < 0) {
        run->tunnel = NULL;
        return rc;
    }
    rc = tun_start(loop, run->tunnel, &o->tun, &run->tun, cause, cause_len);
    if (rc < 0)
        run->tun = NULL;
    return rc;
}

static int run_tun(struct tun_options *o)
{
    uv_loop_t *loop = uv_default_loop();
    struct tun_run run = {.options = o};
    char cause[1024] = "";
    uv_signal_init(loop, &run.sigint);
    uv_signal_init(loop, &run.sigterm);
    run.sigint.data = run.sigterm.data = &run;
    uv_signal_start(&run.sigint, on_signal, SIGINT);
    uv_signal_start(&run.sigterm, on_signal, SIGTERM);
    int rc = start_all(loop, &run, cause, sizeof(cause));
    if (rc < 0) {
        fprintf(stderr, "tether tun: %s\n", cause);
        run.failed = 1;
        stop_run(&run);
    } else if (o->json) {
        print_event("listening", "socks", tunnel_socks_address(run.tunnel));
        print_event("tun", "device", tun_device_name(run.tun));
    }
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    if (o->json)
        print_event("stopped", NULL, NULL);
    return run.failed ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

static int acquire_device(struct tun_options *o)
{
    char cause[2048], note[512] = "";
    int rc = tun_acquire(&o->tun, INSTALL_COMMAND, note, sizeof(note), cause, sizeof(cause));
    if (rc < 0) {
        fprintf(stderr, "tether tun: %s\n", cause);
        return rc == -EPERM ? EXIT_USAGE : EXIT_FAILURE_RUNTIME;
    }
    if (note[0])
        log_info("DNS: %s", note);
    return EXIT_OK;
}

static int cmd_tun_run(int argc, char **argv)
{
    struct tun_options *o = calloc(1, sizeof(*o));
    if (!o)
        return EXIT_FAILURE_RUNTIME;
    tun_config_init(&o->tun);
    o->tunnel.bastion.keepalive_interval_ms = 10000;
    int exit_code = EXIT_USAGE;
    if (parse_run(argc, argv, o) < 0 || finish_run_options(o) < 0)
        goto out;
    char cause[1024];
    int rc = identity_load(&o->identity, o->key_path, cause, sizeof(cause));
    if (rc < 0) {
        fprintf(stderr, "tether tun: %s\n", cause);
        exit_code = rc == -ENOENT && !o->key_path ? EXIT_USAGE : EXIT_FAILURE_RUNTIME;
        goto out;
    }
    if ((exit_code = acquire_device(o)) == EXIT_OK)
        exit_code = run_tun(o); /* tun_start owns the descriptors from here on */
    identity_free(&o->identity);
    free(o);
    return exit_code;
out:
    if (o->tun.device_fd >= 0)
        close(o->tun.device_fd);
    if (o->tun.dns_fd4 >= 0)
        close(o->tun.dns_fd4);
    if (o->tun.dns_fd6 >= 0)
        close(o->tun.dns_fd6);
    free(o);
    return exit_code;
}

int cmd_tun_main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "install") == 0)
        return cmd_tunnel_install_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "uninstall") == 0)
        return cmd_tunnel_uninstall_main(argc - 1, argv + 1);
    return cmd_tun_run(argc, argv);
}
