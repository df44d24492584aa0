/* `tether tunnel`: the VPC tunnel in the foreground, until SIGINT or SIGTERM:
 * the SOCKS5 proxy through the bastion, and with --subnet the TUN device
 * too. This file holds the command's options, output and signals; what runs
 * is tunnel/runner.c, which `tether dev` uses too. `tether tun` is an alias
 * of this command (main.c). Install, uninstall and the privileged helper are in
 * cmd_tunnel_install.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#define LOG_MODULE "tunnel"
#include "cli/args.h"
#include "cli/commands.h"
#include "core/buf.h"
#include "core/encoding.h"
#include "core/log.h"
#include "tun/options.h"
#include "tunnel/runner.h"

static const char usage[] =
    "--host HOST --user USER [--key FILE] [--subnet CIDR ...] [OPTIONS]\n"
    "       sudo tether tunnel install|uninstall [--user USER] [--root DIR] [--prefix DIR]";

static const char about[] =
    "Connects to the VPC's SSH bastion and runs a SOCKS5 proxy whose connections go\n"
    "through it: addresses and names are reached and resolved from inside the VPC.\n"
    "With --subnet, a TUN device routes those blocks through the bastion too, for\n"
    "any program and with no proxy settings (once `sudo tether tunnel install`;\n"
    "see docs/tun.md). Settings may also come from the \"tunnel\" section of\n"
    "./tether.json ({\"host\", \"user\", \"key\", \"port\", \"socks\",\n"
    "\"hostKeyFingerprint\", \"subnets\", \"dnsDomains\", \"dnsServer\", \"dnsAll\",\n"
    "\"tunMtu\"}); the command line wins. `tether tun` is another name for this\n"
    "command.\n";

static const char footer[] =
    "A status line (connection, streams, bytes) is kept on stderr when it is a\n"
    "terminal; otherwise state changes are logged. Stop with Ctrl-C or SIGTERM.\n"
    "Exit status: 0 after a signal, 1 when the bastion cannot be used (refused host\n"
    "key or login, unreachable at start), 2 for bad options.\n";

/* A number option the command line did not give. */
#define NOT_GIVEN UINT64_MAX
#define COUNT_MAX 1000000

/* What one TUN option's table entry writes to: tun/options.c checks the value. */
struct tun_binding {
    struct tun_config *config;
    enum tun_option opt;
};

struct tunnel_options {
    struct tunnel_settings settings; /* tunnel/runner.h: what the runner needs */
    struct tun_binding tun_bindings[TUN_OPTION_COUNT];
    const char *config_path;
    uint64_t connect_timeout_s, keepalive_s, keepalive_count, max_streams, max_per_client;
    int json;
    int status_line;
};

/* The run's lifecycle: STARTING until the bastion first accepts us, READY
 * from then on (a reconnection stays READY: the bastion has its own states),
 * and one of the two ends, STOPPING after a signal or FAILED when the bastion
 * cannot be used or the TUN device did not start (exit status 1). */
enum tunnel_run_state {
    TUNNEL_RUN_STARTING,
    TUNNEL_RUN_READY,
    TUNNEL_RUN_STOPPING,
    TUNNEL_RUN_FAILED,
};

static const char *tunnel_run_state_name(enum tunnel_run_state state)
{
    switch (state) {
    case TUNNEL_RUN_STARTING:
        return "starting";
    case TUNNEL_RUN_READY:
        return "ready";
    case TUNNEL_RUN_STOPPING:
        return "stopping";
    case TUNNEL_RUN_FAILED:
        return "failed";
    }
    return "?";
}

struct tunnel_run {
    struct tunnel_options *options;
    struct tunnel_runner *runner;
    uv_signal_t sigint, sigterm;
    uv_timer_t status_timer;
    enum tunnel_run_state state;
    uint64_t last_logged_bytes;
    uint64_t ticks;
};

static int run_ending(const struct tunnel_run *run)
{
    return run->state == TUNNEL_RUN_STOPPING || run->state == TUNNEL_RUN_FAILED;
}

static void set_run_state(struct tunnel_run *run, enum tunnel_run_state state)
{
    log_debug("run: %s -> %s", tunnel_run_state_name(run->state), tunnel_run_state_name(state));
    run->state = state;
}

/* ---- options ---- */

static int set_tun_option(void *target, const char *value, char *cause, size_t cause_len)
{
    const struct tun_binding *binding = target;
    return tun_option_set(binding->config, binding->opt, value, cause, cause_len);
}

static struct tun_binding *bind_tun(struct tunnel_options *o, enum tun_option opt)
{
    struct tun_binding *binding = &o->tun_bindings[opt - TUN_OPT_SUBNET];
    *binding = (struct tun_binding){&o->settings.tun, opt};
    return binding;
}

#define TUN_VALUE(OPT, NAME, METAVAR, HELP)                                                        \
    CLI_CALL(NAME, METAVAR, set_tun_option, bind_tun(o, OPT), HELP)
#define TUN_FLAG(OPT, NAME, HELP) CLI_CALL(NAME, NULL, set_tun_option, bind_tun(o, OPT), HELP)

/* CLI_ARGS_CONTINUE, or the exit code after --help or a usage error. The
 * tables fill `o` only; the file and the defaults come after (finish_options). */
static int parse_arguments(int argc, char **argv, struct tunnel_options *o)
{
    struct tunnel_settings *s = &o->settings;
    struct bastion_config *b = &s->config.bastion;
    const struct cli_option connection[] = {
        CLI_STRING("host", "HOST", &b->host, "the bastion (name or address)"),
        CLI_STRING("port", "PORT", &s->port_text, "its SSH port (default 22)"),
        CLI_STRING("user", "USER", &b->user, "the login user (e.g. ec2-user)"),
        CLI_STRING("key", "FILE", &s->key_path,
                   "private key file; without it the key is read from\n"
                   "TETHER_SSH_PRIVATE_KEY (the key text), else ssh-agent is used"),
        CLI_STRING("host-key-fingerprint", "SHA256:...", &b->host_key_fingerprint,
                   "trust this host key on first contact (and record it)"),
        CLI_FLAG("accept-new-host-key", &b->accept_new_host_key,
                 "trust whatever key the bastion shows on first contact\n"
                 "(recorded; a changed key is always refused)"),
        CLI_STRING("known-hosts", "FILE", &s->known_hosts,
                   "tether's known-hosts file (default\n"
                   "~/.config/tether/known_hosts; ~/.ssh/known_hosts is read too)"),
        CLI_NUMBER("connect-timeout", "S", &o->connect_timeout_s, 0, COUNT_MAX,
                   "per connection attempt (default 15)"),
        CLI_NUMBER("keepalive", "S", &o->keepalive_s, 0, COUNT_MAX,
                   "keep-alive interval (default 10; 0 turns them off)"),
        CLI_NUMBER("keepalive-count", "N", &o->keepalive_count, 0, COUNT_MAX,
                   "unanswered intervals before reconnecting (default 3)"),
        CLI_FLAG("retry", &s->retry,
                 "keep retrying when the very first connection fails\n"
                 "(default: exit with status 1)"),
        CLI_FLAG("no-warm-up", &b->skip_warm_up,
                 "skip running `true` on the bastion after login (it makes\n"
                 "sshd disable Nagle's algorithm: no 40 ms stalls)"),
        CLI_STRING("config", "FILE", &o->config_path,
                   "read the \"tunnel\" section from FILE (default ./tether.json)"),
        CLI_END,
    };
    const struct cli_option proxy[] = {
        CLI_HOSTPORT("socks", &s->socks, 0,
                     "listen address (default 127.0.0.1:1080; port 0 picks one;\n"
                     "an IPv6 address in brackets: [::1]:1080)"),
        CLI_FLAG("socks-allow-remote", &s->config.socks_allow_remote,
                 "allow a non-loopback --socks address"),
        CLI_STRING("socks-user", "USER", &s->config.socks_user,
                   "require RFC 1929 user/password; the password is read\n"
                   "from TETHER_SOCKS_PASSWORD"),
        CLI_NUMBER("max-streams", "N", &o->max_streams, 0, COUNT_MAX,
                   "open connections in total (default 1024)"),
        CLI_NUMBER("max-streams-per-client", "N", &o->max_per_client, 0, COUNT_MAX,
                   "open connections per client address (default 256)"),
        CLI_END,
    };
    const struct cli_option tun[] = {
        TUN_VALUE(TUN_OPT_SUBNET, "subnet", "CIDR",
                  "route a VPC block through the tunnel (repeatable)"),
        TUN_VALUE(TUN_OPT_NAME, "tun-name", "NAME", "the TUN device (default tether)"),
        TUN_VALUE(TUN_OPT_ADDRESS, "tun-address", "ADDR",
                  "its IPv4 or IPv6 address (default 100.127.255.253 and\n"
                  "fd00:7465:7468::1; the next address is used too)"),
        TUN_VALUE(TUN_OPT_MTU, "tun-mtu", "N", "default 65535"),
        TUN_VALUE(TUN_OPT_DNS_DOMAIN, "dns-domain", "DOMAIN",
                  "resolve DOMAIN's names in the VPC (repeatable)"),
        TUN_VALUE(TUN_OPT_DNS_SERVER, "dns-server", "ADDR",
                  "the VPC resolver (default: first IPv4 subnet + 2)"),
        TUN_FLAG(TUN_OPT_DNS_ALL, "dns-all", "send every DNS query that reaches tether to the VPC"),
        TUN_FLAG(TUN_OPT_NO_DNS, "no-dns", "no DNS forwarder"),
        TUN_FLAG(TUN_OPT_NO_OFFLOAD, "tun-no-offload", "no checksum offload on the device (Linux)"),
        TUN_FLAG(TUN_OPT_HOLD_SYN, "tun-hold-syn",
                 "complete a connection only once the VPC host accepted it:\n"
                 "a closed port is then \"connection refused\", not a reset\n"
                 "(costs ~0.1 ms per connection)"),
        CLI_END,
    };
    const struct cli_option output[] = {
        CLI_FLAG("json", &o->json, "print events as JSON lines on stdout"),
        CLI_END,
    };
    const struct cli_spec spec = {
        .command = "tunnel",
        .usage = usage,
        .about = about,
        .footer = footer,
        .tables = {connection, proxy, tun, output},
        .titles = {"connection", "proxy", "TUN (no proxy settings needed; see docs/tun.md)",
                   "output"},
    };
    struct cli_args args;
    return cli_args_parse(&spec, argc, argv, &args);
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

/* The numbers given on the command line, into the tunnel's units. A zero
 * where zero means nothing useful becomes the smallest useful value. */
static void apply_numbers(struct tunnel_options *o)
{
    struct tunnel_config *c = &o->settings.config;
    struct bastion_config *b = &c->bastion;
    if (o->connect_timeout_s != NOT_GIVEN)
        b->connect_timeout_ms =
            (uint32_t)(o->connect_timeout_s ? o->connect_timeout_s * 1000 : 1000);
    if (o->keepalive_s != NOT_GIVEN)
        b->keepalive_interval_ms = (uint32_t)(o->keepalive_s * 1000);
    if (o->keepalive_count != NOT_GIVEN)
        b->keepalive_count_max = (uint32_t)(o->keepalive_count ? o->keepalive_count : 1);
    if (o->max_streams != NOT_GIVEN)
        c->max_streams = o->max_streams ? o->max_streams : 1;
    if (o->max_per_client != NOT_GIVEN)
        c->max_streams_per_client = o->max_per_client ? o->max_per_client : 1;
}

/* tether.json fills what the command line left unset; then the defaults. */
static int finish_options(struct tunnel_options *o)
{
    char cause[512];
    if (tunnel_settings_merge_file(&o->settings, o->config_path, o->config_path != NULL, cause,
                                   sizeof(cause)) < 0 ||
        tunnel_settings_finish(&o->settings, cause, sizeof(cause)) < 0)
        return usage_error("%s", cause);
    apply_numbers(o);
    o->status_line = isatty(STDERR_FILENO);
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

static void draw_status(struct tunnel_run *run)
{
    struct tunnel_stats stats;
    tunnel_runner_stats(run->runner, &stats);
    char up[32], down[32];
    tunnel_format_bytes(up, sizeof(up), stats.bytes_up);
    tunnel_format_bytes(down, sizeof(down), stats.bytes_down);
    const char *state =
        stats.state == BASTION_READY ? "connected" : bastion_state_name(stats.state);
    fprintf(stderr, "\r\033[Ktether tunnel: %s | socks %s | %zu streams | up %s, down %s\r", state,
            tunnel_runner_socks_address(run->runner), stats.streams_open, up, down);
    fflush(stderr);
}

static void on_status_tick(uv_timer_t *timer)
{
    struct tunnel_run *run = timer->data;
    if (!run->runner || run_ending(run))
        return;
    if (run->options->status_line) {
        draw_status(run);
        return;
    }
    /* Without a terminal: a line a minute while bytes move. */
    if (++run->ticks % 60 != 0)
        return;
    struct tunnel_stats stats;
    tunnel_runner_stats(run->runner, &stats);
    uint64_t total = stats.bytes_up + stats.bytes_down;
    if (total == run->last_logged_bytes)
        return;
    run->last_logged_bytes = total;
    log_info("%zu streams open, %llu opened; %llu bytes up, %llu down", stats.streams_open,
             (unsigned long long)stats.streams_total, (unsigned long long)stats.bytes_up,
             (unsigned long long)stats.bytes_down);
}

static void stop(struct tunnel_run *run, enum tunnel_run_state end);

static void on_bastion_state(void *user, enum bastion_state old_state, enum bastion_state new_state,
                             const char *cause)
{
    struct tunnel_run *run = user;
    (void)old_state;
    if (run->options->json)
        print_json_event("state", "state", bastion_state_name(new_state), cause);
    if (new_state == BASTION_READY) {
        log_info("%s to the bastion",
                 run->state == TUNNEL_RUN_STARTING ? "connected" : "reconnected");
        if (run->state == TUNNEL_RUN_STARTING)
            set_run_state(run, TUNNEL_RUN_READY);
    } else if (new_state == BASTION_BACKOFF) {
        log_warn("%s", cause);
    } else if (new_state == BASTION_FAILED) {
        log_error("%s", cause);
        stop(run, TUNNEL_RUN_FAILED);
    }
}

/* ---- running ---- */

static void on_stopped(void *user)
{
    struct tunnel_run *run = user;
    run->runner = NULL;
}

static void close_if_open(uv_handle_t *handle)
{
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

/* Ends the run once; `end` is TUNNEL_RUN_STOPPING or TUNNEL_RUN_FAILED. */
static void stop(struct tunnel_run *run, enum tunnel_run_state end)
{
    if (run_ending(run))
        return;
    set_run_state(run, end);
    if (run->options->status_line)
        fputs("\r\033[K", stderr);
    close_if_open((uv_handle_t *)&run->sigint);
    close_if_open((uv_handle_t *)&run->sigterm);
    close_if_open((uv_handle_t *)&run->status_timer);
    if (run->runner)
        tunnel_runner_stop(run->runner, on_stopped, run); /* the TUN path, then the tunnel */
}

static void on_signal(uv_signal_t *signal, int signum)
{
    struct tunnel_run *run = signal->data;
    log_info("received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    stop(run, TUNNEL_RUN_STOPPING);
}

static int run_tunnel(struct tunnel_options *o)
{
    uv_loop_t *loop = uv_default_loop();
    struct tunnel_run run = {.options = o};
    static const struct tunnel_runner_callbacks callbacks = {on_bastion_state};
    char cause[1024] = "";
    int rc = tunnel_runner_start(loop, &o->settings, &callbacks, &run, &run.runner, cause,
                                 sizeof(cause));
    if (rc < 0) {
        fprintf(stderr, "tether tunnel: %s\n", cause);
        uv_run(loop, UV_RUN_DEFAULT); /* finishes closing what was opened */
        uv_loop_close(loop);
        return rc == -EINVAL || rc == -EPERM ? EXIT_USAGE : EXIT_FAILURE_RUNTIME;
    }
    if (rc > 0) /* the TUN path did not start: the command fails */
        fprintf(stderr, "tether tunnel: %s\n", cause);
    if (o->json)
        print_json_event("listening", "socks", tunnel_runner_socks_address(run.runner), NULL);
    if (o->json && tunnel_runner_tun_device(run.runner))
        print_json_event("tun", "device", tunnel_runner_tun_device(run.runner), NULL);
    uv_signal_init(loop, &run.sigint);
    uv_signal_init(loop, &run.sigterm);
    run.sigint.data = run.sigterm.data = &run;
    uv_signal_start(&run.sigint, on_signal, SIGINT);
    uv_signal_start(&run.sigterm, on_signal, SIGTERM);
    uv_timer_init(loop, &run.status_timer);
    run.status_timer.data = &run;
    uv_timer_start(&run.status_timer, on_status_tick, 1000, 1000);
    if (rc > 0)
        stop(&run, TUNNEL_RUN_FAILED);
    uv_run(loop, UV_RUN_DEFAULT);
    stop(&run, TUNNEL_RUN_STOPPING); /* nothing to do when the loop ended after a stop */
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    if (o->json)
        print_json_event("stopped", NULL, NULL, NULL);
    return run.state == TUNNEL_RUN_FAILED ? EXIT_FAILURE_RUNTIME : EXIT_OK;
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
    tunnel_settings_init(&o->settings);
    o->connect_timeout_s = o->keepalive_s = o->keepalive_count = NOT_GIVEN;
    o->max_streams = o->max_per_client = NOT_GIVEN;
    int exit_code = parse_arguments(argc, argv, o);
    if (exit_code != CLI_ARGS_CONTINUE)
        goto out;
    exit_code = EXIT_USAGE;
    if (finish_options(o) < 0)
        goto out;
    char cause[1024];
    int rc = tunnel_settings_load_identity(&o->settings, cause, sizeof(cause));
    if (rc < 0) {
        fprintf(stderr, "tether tunnel: %s\n", cause);
        exit_code = rc == -ENOENT && !o->settings.key_path ? EXIT_USAGE : EXIT_FAILURE_RUNTIME;
        goto out;
    }
    if (tunnel_settings_want_tun(&o->settings)) {
        char note[512] = "";
        rc = tunnel_settings_acquire_tun(&o->settings, note, sizeof(note), cause, sizeof(cause));
        if (rc < 0) {
            fprintf(stderr, "tether tunnel: %s\n", cause);
            exit_code = rc == -EPERM ? EXIT_USAGE : EXIT_FAILURE_RUNTIME;
            goto out;
        }
        if (note[0])
            log_info("DNS: %s", note);
    }
    exit_code = run_tunnel(o); /* the runner owns the TUN descriptors from here on */
out:
    tunnel_settings_free(&o->settings);
    free(o);
    return exit_code;
}
