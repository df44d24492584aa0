/* `tether tunnel`: the VPC tunnel in the foreground, until SIGINT or SIGTERM:
 * the SOCKS5 proxy through the bastion, and with --subnet the TUN device
 * too. The one runner of both; `tether tun` is an alias of this command
 * (main.c). Install, uninstall and the privileged helper are in
 * cmd_tunnel_install.c. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#define LOG_MODULE "tunnel"
#include "cli/commands.h"
#include "core/buf.h"
#include "core/encoding.h"
#include "core/log.h"
#include "ssh/identity.h"
#include "tun/options.h"
#include "tun/privileged.h"
#include "tun/tun.h"
#include "tunnel/tunnel.h"
#include "tunnel/tunnel_config.h"

const char cmd_tunnel_help[] =
    "usage: tether tunnel --host HOST --user USER [--key FILE] [--subnet CIDR ...] [OPTIONS]\n"
    "       sudo tether tunnel install|uninstall [--user USER] [--root DIR] [--prefix DIR]\n"
    "\n"
    "Connects to the VPC's SSH bastion and runs a SOCKS5 proxy whose connections go\n"
    "through it: addresses and names are reached and resolved from inside the VPC.\n"
    "With --subnet, a TUN device routes those blocks through the bastion too, for\n"
    "any program and with no proxy settings (once `sudo tether tunnel install`).\n"
    "Settings may also come from the \"tunnel\" section of ./tether.json\n"
    "({\"host\", \"user\", \"key\", \"port\", \"socks\", \"hostKeyFingerprint\",\n"
    "\"subnets\", \"dnsDomains\", \"dnsServer\", \"dnsAll\", \"tunMtu\"}); the command\n"
    "line wins. `tether tun` is another name for this command.\n"
    "\n"
    "connection:\n"
    "  --host HOST            the bastion (name or address)\n"
    "  --port PORT            its SSH port (default 22)\n"
    "  --user USER            the login user (e.g. ec2-user)\n"
    "  --key FILE             private key file; without it the key is read from\n"
    "                         TETHER_SSH_PRIVATE_KEY (the key text), else ssh-agent is used\n"
    "  --host-key-fingerprint SHA256:...\n"
    "                         trust this host key on first contact (and record it)\n"
    "  --accept-new-host-key  trust whatever key the bastion shows on first contact\n"
    "                         (recorded; a changed key is always refused)\n"
    "  --known-hosts FILE     tether's known-hosts file (default\n"
    "                         ~/.config/tether/known_hosts; ~/.ssh/known_hosts is read too)\n"
    "  --connect-timeout S    per connection attempt (default 15)\n"
    "  --keepalive S          keep-alive interval (default 10; 0 turns them off)\n"
    "  --keepalive-count N    unanswered intervals before reconnecting (default 3)\n"
    "  --retry                keep retrying when the very first connection fails\n"
    "                         (default: exit with status 1)\n"
    "  --no-warm-up           skip running `true` on the bastion after login (it makes\n"
    "                         sshd disable Nagle's algorithm: no 40 ms stalls)\n"
    "\n"
    "proxy:\n"
    "  --socks HOST:PORT      listen address (default 127.0.0.1:1080; port 0 picks one;\n"
    "                         an IPv6 address in brackets: [::1]:1080)\n"
    "  --socks-allow-remote   allow a non-loopback --socks address\n"
    "  --socks-user USER      require RFC 1929 user/password; the password is read\n"
    "                         from TETHER_SOCKS_PASSWORD\n"
    "  --max-streams N        open connections in total (default 1024)\n"
    "  --max-streams-per-client N\n"
    "                         open connections per client address (default 256)\n"
    "\n" TUN_OPTIONS_HELP "\n"
    "output:\n"
    "  --json                 print events as JSON lines on stdout\n"
    "  --log-level LEVEL      error, warn, info, debug or trace\n"
    "\n"
    "A status line (connection, streams, bytes) is kept on stderr when it is a\n"
    "terminal; otherwise state changes are logged. Stop with Ctrl-C or SIGTERM.\n"
    "Exit status: 0 after a signal, 1 when the bastion cannot be used (refused host\n"
    "key or login, unreachable at start), 2 for bad options.\n";

struct tunnel_options {
    struct tunnel_config config;
    struct tun_config tun; /* the TUN path, when there are --subnet blocks */
    struct tunnel_file_settings file;
    struct identity identity;
    const char *key_path;
    const char *socks;
    const char *known_hosts;
    const char *config_path;
    char socks_host[64];
    char user_known_hosts[1024];
    char tether_known_hosts[1024];
    int json;
    int status_line;
    int retry;
};

struct tunnel_run {
    struct tunnel_options *options;
    struct tunnel *tunnel;
    struct tun *tun;
    uv_signal_t sigint, sigterm;
    uv_timer_t status_timer;
    int failed;
    int stopping;
    int was_ready;
    uint64_t last_logged_bytes;
    uint64_t ticks;
};

/* ---- options ---- */

static int parse_host_port(const char *text, char *host, size_t host_len, uint16_t *port)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text)
        return -EINVAL;
    char *end;
    long value = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || value < 0 || value > 65535)
        return -EINVAL;
    size_t len = (size_t)(colon - text);
    if (text[0] == '[' && len >= 2 && text[len - 1] == ']') {
        text++;
        len -= 2;
    }
    if (len == 0 || len >= host_len)
        return -EINVAL;
    memcpy(host, text, len);
    host[len] = '\0';
    *port = (uint16_t)value;
    return 0;
}

static int parse_uint(const char *text, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    if (errno || *end || end == text || value > max || text[0] == '-')
        return -EINVAL;
    *out = value;
    return 0;
}

static void default_paths(struct tunnel_options *o)
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

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tether tunnel: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -EINVAL;
}

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
    OPT_KEEPALIVE_COUNT,
    OPT_RETRY,
    OPT_NO_WARM_UP,
    OPT_SOCKS,
    OPT_SOCKS_REMOTE,
    OPT_SOCKS_USER,
    OPT_MAX_STREAMS,
    OPT_MAX_PER_CLIENT,
    OPT_CONFIG,
    OPT_JSON,
    OPT_LOG,
    OPT_HELP,
};

static const char *number_option_name(int opt)
{
    switch (opt) {
    case OPT_CONNECT_TIMEOUT:
        return "--connect-timeout";
    case OPT_KEEPALIVE:
        return "--keepalive";
    case OPT_KEEPALIVE_COUNT:
        return "--keepalive-count";
    case OPT_MAX_STREAMS:
        return "--max-streams";
    default:
        return "--max-streams-per-client";
    }
}

static int apply_number(int opt, const char *arg, struct tunnel_options *o)
{
    struct bastion_config *b = &o->config.bastion;
    unsigned long v;
    if (opt == OPT_PORT && (parse_uint(arg, 65535, &v) < 0 || v == 0))
        return usage_error("--port wants a number from 1 to 65535, not \"%s\"", arg);
    if (opt != OPT_PORT && parse_uint(arg, 1000000, &v) < 0)
        return usage_error("%s wants a number from 0 to 1000000, not \"%s\"",
                           number_option_name(opt), arg);
    switch (opt) {
    case OPT_PORT:
        b->port = (uint16_t)v;
        break;
    case OPT_CONNECT_TIMEOUT:
        b->connect_timeout_ms = (uint32_t)(v ? v * 1000 : 1000);
        break;
    case OPT_KEEPALIVE:
        b->keepalive_interval_ms = (uint32_t)(v * 1000);
        break;
    case OPT_KEEPALIVE_COUNT:
        b->keepalive_count_max = (uint32_t)(v ? v : 1);
        break;
    case OPT_MAX_STREAMS:
        o->config.max_streams = v ? v : 1;
        break;
    case OPT_MAX_PER_CLIENT:
        o->config.max_streams_per_client = v ? v : 1;
        break;
    }
    return 0;
}

static int apply_option(int opt, const char *arg, struct tunnel_options *o)
{
    struct bastion_config *b = &o->config.bastion;
    switch (opt) {
    case OPT_HOST:
        b->host = arg;
        return 0;
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
    case OPT_RETRY:
        o->retry = 1;
        return 0;
    case OPT_NO_WARM_UP:
        b->skip_warm_up = 1;
        return 0;
    case OPT_SOCKS:
        o->socks = arg;
        return 0;
    case OPT_SOCKS_REMOTE:
        o->config.socks_allow_remote = 1;
        return 0;
    case OPT_SOCKS_USER:
        o->config.socks_user = arg;
        return 0;
    case OPT_CONFIG:
        o->config_path = arg;
        return 0;
    case OPT_JSON:
        o->json = 1;
        return 0;
    case OPT_LOG: {
        int level = log_level_parse(arg);
        if (level < 0)
            return usage_error("unknown log level \"%s\"", arg);
        log_set_level((enum log_level)level);
        return 0;
    }
    case OPT_HELP:
        fputs(cmd_tunnel_help, stdout);
        exit(EXIT_OK);
    default:
        if (opt >= TUN_OPT_SUBNET) {
            char cause[512];
            if (tun_options_apply(&o->tun, opt, arg, cause, sizeof(cause)) < 0)
                return usage_error("%s", cause);
            return 0;
        }
        return apply_number(opt, arg, o);
    }
}

static int parse_arguments(int argc, char **argv, struct tunnel_options *o)
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
        {"keepalive-count", required_argument, 0, OPT_KEEPALIVE_COUNT},
        {"retry", no_argument, 0, OPT_RETRY},
        {"no-warm-up", no_argument, 0, OPT_NO_WARM_UP},
        {"socks", required_argument, 0, OPT_SOCKS},
        {"socks-allow-remote", no_argument, 0, OPT_SOCKS_REMOTE},
        {"socks-user", required_argument, 0, OPT_SOCKS_USER},
        {"max-streams", required_argument, 0, OPT_MAX_STREAMS},
        {"max-streams-per-client", required_argument, 0, OPT_MAX_PER_CLIENT},
        {"config", required_argument, 0, OPT_CONFIG},
        {"json", no_argument, 0, OPT_JSON},
        {"log-level", required_argument, 0, OPT_LOG},
        {"help", no_argument, 0, OPT_HELP},
        TUN_LONG_OPTIONS,
        {0, 0, 0, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (opt == 'h')
            opt = OPT_HELP;
        if (opt == '?' || apply_option(opt, optarg, o) < 0)
            return -EINVAL;
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    return 0;
}

/* tether.json fills what the command line left unset. */
static int merge_file(struct tunnel_options *o)
{
    const char *path = o->config_path ? o->config_path : "tether.json";
    char cause[512];
    int found = 0;
    if (tunnel_config_load(path, &o->file, &found, cause, sizeof(cause)) < 0)
        return usage_error("%s", cause);
    if (!found && o->config_path)
        return usage_error("config file %s does not exist", path);
    if (tun_options_apply_file(&o->tun, &o->file, path, cause, sizeof(cause)) < 0)
        return usage_error("%s", cause);
    struct bastion_config *b = &o->config.bastion;
    if (!b->host)
        b->host = o->file.host;
    if (!b->user)
        b->user = o->file.user;
    if (!b->port && o->file.port)
        b->port = o->file.port;
    if (!b->host_key_fingerprint)
        b->host_key_fingerprint = o->file.host_key_fingerprint;
    if (!o->key_path)
        o->key_path = o->file.key;
    if (!o->socks)
        o->socks = o->file.socks;
    return 0;
}

static int finish_options(struct tunnel_options *o)
{
    struct bastion_config *b = &o->config.bastion;
    if (!b->host || !b->user)
        return usage_error("%s", "--host and --user are required (or \"host\" and \"user\" in "
                                 "tether.json's \"tunnel\" section)");
    if (b->host_key_fingerprint && strncmp(b->host_key_fingerprint, "SHA256:", 7) != 0)
        return usage_error("--host-key-fingerprint must look like SHA256:... (ssh-keygen -lf "
                           "shows it), not \"%s\"",
                           b->host_key_fingerprint);
    uint16_t port = 1080;
    snprintf(o->socks_host, sizeof(o->socks_host), "127.0.0.1");
    if (o->socks && parse_host_port(o->socks, o->socks_host, sizeof(o->socks_host), &port) < 0)
        return usage_error("--socks wants HOST:PORT, not \"%s\"", o->socks);
    o->config.socks_host = o->socks_host;
    o->config.socks_port = port;
    if (o->config.socks_user) {
        o->config.socks_password = getenv("TETHER_SOCKS_PASSWORD");
        if (!o->config.socks_password || !*o->config.socks_password)
            return usage_error("%s", "--socks-user needs the password in TETHER_SOCKS_PASSWORD");
        if (strlen(o->config.socks_user) > 255 || strlen(o->config.socks_password) > 255)
            return usage_error("%s", "SOCKS user and password are limited to 255 bytes");
    }
    default_paths(o);
    b->user_known_hosts = o->user_known_hosts[0] ? o->user_known_hosts : NULL;
    b->tether_known_hosts = o->known_hosts             ? o->known_hosts
                            : o->tether_known_hosts[0] ? o->tether_known_hosts
                                                       : NULL;
    b->give_up_on_first_failure = !o->retry;
    b->identity = &o->identity;
    o->status_line = isatty(STDERR_FILENO);
    char cause[512];
    if (o->tun.device.route_count && tun_config_finish(&o->tun, cause, sizeof(cause)) < 0)
        return usage_error("%s", cause);
    return 0;
}

/* ---- events and status ---- */

static void print_json_event(const char *type, const char *field, const char *value,
                             const char *cause)
{
    struct buf line = BUF_INIT;
    buf_printf(&line, "{\"type\":\"%s\"", type);
    if (field) {
        buf_printf(&line, ",\"%s\":", field);
        json_quote(&line, value, strlen(value));
    }
    if (cause && *cause) {
        buf_append_str(&line, ",\"cause\":");
        json_quote(&line, cause, strlen(cause));
    }
    buf_append_str(&line, "}\n");
    fwrite(buf_bytes(&line), 1, buf_length(&line), stdout);
    fflush(stdout);
    buf_free(&line);
}

static void human_bytes(char *out, size_t len, uint64_t bytes)
{
    static const char *const units[] = {"B", "KB", "MB", "GB", "TB"};
    double value = (double)bytes;
    int unit = 0;
    while (value >= 1000 && unit < 4) {
        value /= 1000;
        unit++;
    }
    snprintf(out, len, unit ? "%.1f %s" : "%.0f %s", value, units[unit]);
}

static void draw_status(struct tunnel_run *run)
{
    struct tunnel_stats stats;
    tunnel_get_stats(run->tunnel, &stats);
    char up[32], down[32];
    human_bytes(up, sizeof(up), stats.bytes_up);
    human_bytes(down, sizeof(down), stats.bytes_down);
    const char *state =
        stats.state == BASTION_READY ? "connected" : bastion_state_name(stats.state);
    fprintf(stderr, "\r\033[Ktether tunnel: %s | socks %s | %zu streams | up %s, down %s\r", state,
            tunnel_socks_address(run->tunnel), stats.streams_open, up, down);
    fflush(stderr);
}

static void on_status_tick(uv_timer_t *timer)
{
    struct tunnel_run *run = timer->data;
    if (!run->tunnel || run->stopping)
        return;
    if (run->options->status_line) {
        draw_status(run);
        return;
    }
    /* Without a terminal: a line a minute while bytes move. */
    if (++run->ticks % 60 != 0)
        return;
    struct tunnel_stats stats;
    tunnel_get_stats(run->tunnel, &stats);
    uint64_t total = stats.bytes_up + stats.bytes_down;
    if (total == run->last_logged_bytes)
        return;
    run->last_logged_bytes = total;
    log_info("%zu streams open, %llu opened; %llu bytes up, %llu down", stats.streams_open,
             (unsigned long long)stats.streams_total, (unsigned long long)stats.bytes_up,
             (unsigned long long)stats.bytes_down);
}

static void stop(struct tunnel_run *run);

static void on_bastion_state(struct tunnel *tunnel, enum bastion_state old_state,
                             enum bastion_state new_state, const char *cause, void *user)
{
    struct tunnel_run *run = user;
    if (run->options->json)
        print_json_event("state", "state", bastion_state_name(new_state), cause);
    if (new_state == BASTION_READY) {
        log_info("%s to the bastion", run->was_ready ? "reconnected" : "connected");
        run->was_ready = 1;
    } else if (new_state == BASTION_BACKOFF) {
        log_warn("%s", cause);
    } else if (new_state == BASTION_FAILED) {
        log_error("%s", cause);
        run->failed = 1;
        stop(run);
    }
}

/* ---- running ---- */

static void on_stopped(void *user)
{
    struct tunnel_run *run = user;
    run->tunnel = NULL;
}

static void on_tun_stopped(void *user)
{
    struct tunnel_run *run = user;
    run->tun = NULL;
    if (run->tunnel)
        tunnel_stop(run->tunnel, on_stopped, run);
}

static void close_if_open(uv_handle_t *handle)
{
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

static void stop(struct tunnel_run *run)
{
    if (run->stopping)
        return;
    run->stopping = 1;
    if (run->options->status_line)
        fputs("\r\033[K", stderr);
    close_if_open((uv_handle_t *)&run->sigint);
    close_if_open((uv_handle_t *)&run->sigterm);
    close_if_open((uv_handle_t *)&run->status_timer);
    if (run->tun)
        tun_stop(run->tun, on_tun_stopped, run); /* then the tunnel */
    else if (run->tunnel)
        tunnel_stop(run->tunnel, on_stopped, run);
}

static void on_signal(uv_signal_t *signal, int signum)
{
    struct tunnel_run *run = signal->data;
    log_info("received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    stop(run);
}

static int run_tunnel(struct tunnel_options *o)
{
    uv_loop_t *loop = uv_default_loop();
    struct tunnel_run run = {.options = o};
    static const struct tunnel_callbacks callbacks = {on_bastion_state};
    char cause[1024] = "";
    int rc = tunnel_start(loop, &o->config, &callbacks, &run, &run.tunnel, cause, sizeof(cause));
    if (rc < 0) {
        fprintf(stderr, "tether tunnel: %s\n", cause);
        tun_config_release(&o->tun);  /* tun_start never took the descriptors */
        uv_run(loop, UV_RUN_DEFAULT); /* finishes closing what was opened */
        uv_loop_close(loop);
        return rc == -EINVAL || rc == -EPERM ? EXIT_USAGE : EXIT_FAILURE_RUNTIME;
    }
    if (o->tun.device.route_count &&
        tun_start(loop, run.tunnel, &o->tun, &run.tun, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether tunnel: %s\n", cause);
        run.tun = NULL;
        run.failed = 1;
    }
    if (o->json)
        print_json_event("listening", "socks", tunnel_socks_address(run.tunnel), NULL);
    if (o->json && run.tun)
        print_json_event("tun", "device", tun_device_name(run.tun), NULL);
    uv_signal_init(loop, &run.sigint);
    uv_signal_init(loop, &run.sigterm);
    run.sigint.data = run.sigterm.data = &run;
    uv_signal_start(&run.sigint, on_signal, SIGINT);
    uv_signal_start(&run.sigterm, on_signal, SIGTERM);
    uv_timer_init(loop, &run.status_timer);
    run.status_timer.data = &run;
    uv_timer_start(&run.status_timer, on_status_tick, 1000, 1000);
    if (run.failed)
        stop(&run);
    uv_run(loop, UV_RUN_DEFAULT);
    stop(&run);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    if (o->json)
        print_json_event("stopped", NULL, NULL, NULL);
    return run.failed ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_tunnel_main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "install") == 0)
        return cmd_tunnel_install_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "uninstall") == 0)
        return cmd_tunnel_uninstall_main(argc - 1, argv + 1);
    struct tunnel_options *o = calloc(1, sizeof(*o));
    if (!o)
        return EXIT_FAILURE_RUNTIME;
    o->config.bastion.keepalive_interval_ms = 10000; /* --keepalive 0 turns them off */
    tun_config_init(&o->tun);
    int exit_code = EXIT_USAGE;
    if (parse_arguments(argc, argv, o) < 0 || merge_file(o) < 0 || finish_options(o) < 0)
        goto out;
    char cause[1024];
    int rc = identity_load(&o->identity, o->key_path, cause, sizeof(cause));
    if (rc < 0) {
        fprintf(stderr, "tether tunnel: %s\n", cause);
        exit_code = rc == -ENOENT && !o->key_path ? EXIT_USAGE : EXIT_FAILURE_RUNTIME;
        goto out;
    }
    if (o->tun.device.route_count) {
        char note[512] = "";
        rc = tun_acquire(&o->tun, "sudo tether tunnel install", note, sizeof(note), cause,
                         sizeof(cause));
        if (rc < 0) {
            fprintf(stderr, "tether tunnel: %s\n", cause);
            identity_free(&o->identity);
            exit_code = rc == -EPERM ? EXIT_USAGE : EXIT_FAILURE_RUNTIME;
            goto out;
        }
        if (note[0])
            log_info("DNS: %s", note);
    }
    exit_code = run_tunnel(o); /* tun_start owns the TUN descriptors from here on */
    identity_free(&o->identity);
out:
    tunnel_config_free(&o->file);
    free(o);
    return exit_code;
}
