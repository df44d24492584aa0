/* The VPC tunnel as one running unit (tunnel/runner.h). */
#include "tunnel/runner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "tunnel"
#include "core/log.h"
#include "tun/options.h"
#include "tun/privileged.h"

#define INSTALL_COMMAND "sudo tether tunnel install"

struct tunnel_runner {
    struct tunnel *tunnel;
    struct tun *tun;
    struct tunnel_runner_callbacks callbacks;
    void *user;
    void (*on_stopped)(void *user);
    void *stopped_user;
    int stopping;
};

/* ---- settings ---- */

void tunnel_settings_init(struct tunnel_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->config.bastion.keepalive_interval_ms = 10000; /* --keepalive 0 turns them off */
    tun_config_init(&s->tun);
}

int tunnel_settings_merge_file(struct tunnel_settings *s, const char *path, int required,
                               char *cause, size_t cause_len)
{
    char why[512];
    int found = 0;
    if (!path)
        path = "tether.json";
    if (tunnel_config_load(path, &s->file, &found, cause, cause_len) < 0)
        return -EINVAL;
    if (!found && required) {
        snprintf(cause, cause_len, "config file %s does not exist", path);
        return -EINVAL;
    }
    if (tun_options_apply_file(&s->tun, &s->file, path, cause, cause_len) < 0)
        return -EINVAL;
    struct bastion_config *b = &s->config.bastion;
    if (!b->host)
        b->host = s->file.host;
    if (!b->user)
        b->user = s->file.user;
    if (!s->port_text && s->file.port)
        b->port = s->file.port;
    if (!b->host_key_fingerprint)
        b->host_key_fingerprint = s->file.host_key_fingerprint;
    if (!s->key_path)
        s->key_path = s->file.key;
    if (!s->socks.host[0] && s->file.socks &&
        hostport_parse(s->file.socks, HOSTPORT_ALLOW_PORT_0, &s->socks, why, sizeof(why)) < 0) {
        snprintf(cause, cause_len, "%s: \"tunnel.socks\": %s", path, why);
        return -EINVAL;
    }
    return 0;
}

static void default_paths(struct tunnel_settings *s)
{
    const char *home = getenv("HOME");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    if (home)
        snprintf(s->user_known_hosts, sizeof(s->user_known_hosts), "%s/.ssh/known_hosts", home);
    if (xdg && *xdg)
        snprintf(s->tether_known_hosts, sizeof(s->tether_known_hosts), "%s/tether/known_hosts",
                 xdg);
    else if (home)
        snprintf(s->tether_known_hosts, sizeof(s->tether_known_hosts),
                 "%s/.config/tether/known_hosts", home);
}

static int finish_socks(struct tunnel_settings *s, char *cause, size_t cause_len)
{
    if (!s->socks.host[0])
        s->socks = (struct hostport){.host = "127.0.0.1", .port = 1080};
    s->config.socks_host = s->socks.host;
    s->config.socks_port = s->socks.port;
    if (!s->config.socks_user)
        return 0;
    s->config.socks_password = getenv("TETHER_SOCKS_PASSWORD");
    if (!s->config.socks_password || !*s->config.socks_password) {
        snprintf(cause, cause_len, "--socks-user needs the password in TETHER_SOCKS_PASSWORD");
        return -EINVAL;
    }
    if (strlen(s->config.socks_user) > 255 || strlen(s->config.socks_password) > 255) {
        snprintf(cause, cause_len, "SOCKS user and password are limited to 255 bytes");
        return -EINVAL;
    }
    return 0;
}

int tunnel_settings_finish(struct tunnel_settings *s, char *cause, size_t cause_len)
{
    struct bastion_config *b = &s->config.bastion;
    char why[512];
    /* Checked here, not by the option table, to keep the message users know. */
    if (s->port_text && hostport_parse_port(s->port_text, 0, &b->port, why, sizeof(why)) < 0) {
        snprintf(cause, cause_len, "--port wants a number from 1 to 65535, not \"%s\"",
                 s->port_text);
        return -EINVAL;
    }
    if (!b->host || !b->user) {
        snprintf(cause, cause_len,
                 "--host and --user are required (or \"host\" and \"user\" in "
                 "tether.json's \"tunnel\" section)");
        return -EINVAL;
    }
    if (b->host_key_fingerprint && strncmp(b->host_key_fingerprint, "SHA256:", 7) != 0) {
        snprintf(cause, cause_len,
                 "--host-key-fingerprint must look like SHA256:... (ssh-keygen -lf shows it), "
                 "not \"%s\"",
                 b->host_key_fingerprint);
        return -EINVAL;
    }
    if (finish_socks(s, cause, cause_len) < 0)
        return -EINVAL;
    default_paths(s);
    b->user_known_hosts = s->user_known_hosts[0] ? s->user_known_hosts : NULL;
    b->tether_known_hosts = s->known_hosts             ? s->known_hosts
                            : s->tether_known_hosts[0] ? s->tether_known_hosts
                                                       : NULL;
    b->give_up_on_first_failure = !s->retry;
    b->identity = &s->identity;
    if (tunnel_settings_want_tun(s) && tun_config_finish(&s->tun, cause, cause_len) < 0)
        return -EINVAL;
    return 0;
}

int tunnel_settings_want_tun(const struct tunnel_settings *s)
{
    return s->tun.device.route_count > 0;
}

int tunnel_settings_load_identity(struct tunnel_settings *s, char *cause, size_t cause_len)
{
    int rc = identity_load(&s->identity, s->key_path, cause, cause_len);
    s->identity_held = rc == 0;
    return rc;
}

int tunnel_settings_acquire_tun(struct tunnel_settings *s, char *note, size_t note_len, char *cause,
                                size_t cause_len)
{
    return tun_acquire(&s->tun, INSTALL_COMMAND, note, note_len, cause, cause_len);
}

void tunnel_settings_drop_tun(struct tunnel_settings *s)
{
    tun_config_release(&s->tun);
    s->tun.device.route_count = 0;
}

void tunnel_settings_free(struct tunnel_settings *s)
{
    tun_config_release(&s->tun); /* a no-op once tun_start took them */
    if (s->identity_held)
        identity_free(&s->identity);
    s->identity_held = 0;
    tunnel_config_free(&s->file);
}

/* ---- running ---- */

static void on_bastion_state(struct tunnel *tunnel, enum bastion_state old_state,
                             enum bastion_state new_state, const char *cause, void *user)
{
    struct tunnel_runner *r = user;
    (void)tunnel;
    if (r->callbacks.on_state)
        r->callbacks.on_state(r->user, old_state, new_state, cause);
}

int tunnel_runner_start(uv_loop_t *loop, struct tunnel_settings *s,
                        const struct tunnel_runner_callbacks *callbacks, void *user,
                        struct tunnel_runner **out, char *cause, size_t cause_len)
{
    static const struct tunnel_callbacks tunnel_callbacks = {on_bastion_state};
    *out = NULL;
    struct tunnel_runner *r = calloc(1, sizeof(*r));
    if (!r) {
        tun_config_release(&s->tun);
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    r->callbacks = *callbacks;
    r->user = user;
    int rc = tunnel_start(loop, &s->config, &tunnel_callbacks, r, &r->tunnel, cause, cause_len);
    if (rc < 0) {
        tun_config_release(&s->tun); /* tun_start never took the descriptors */
        free(r);
        return rc;
    }
    *out = r;
    if (!tunnel_settings_want_tun(s))
        return 0;
    rc = tun_start(loop, r->tunnel, &s->tun, &r->tun, cause, cause_len);
    /* tun_start took the descriptors, also when it failed: the settings must
     * not close them again. */
    s->tun.device_fd = s->tun.dns_fd4 = s->tun.dns_fd6 = -1;
    if (rc < 0) {
        r->tun = NULL;
        return 1;
    }
    return 0;
}

const char *tunnel_runner_socks_address(const struct tunnel_runner *r)
{
    return tunnel_socks_address(r->tunnel);
}

const char *tunnel_runner_tun_device(const struct tunnel_runner *r)
{
    return r->tun ? tun_device_name(r->tun) : NULL;
}

void tunnel_runner_stats(const struct tunnel_runner *r, struct tunnel_stats *out)
{
    tunnel_get_stats(r->tunnel, out);
}

static void on_tunnel_stopped(void *user)
{
    struct tunnel_runner *r = user;
    void (*on_stopped)(void *) = r->on_stopped;
    void *stopped_user = r->stopped_user;
    free(r);
    if (on_stopped)
        on_stopped(stopped_user);
}

/* The TUN path borrows the tunnel: the tunnel stops only after it. */
static void on_tun_stopped(void *user)
{
    struct tunnel_runner *r = user;
    r->tun = NULL;
    tunnel_stop(r->tunnel, on_tunnel_stopped, r);
}

void tunnel_runner_stop(struct tunnel_runner *r, void (*on_stopped)(void *user), void *user)
{
    if (r->stopping)
        return;
    r->stopping = 1;
    r->on_stopped = on_stopped;
    r->stopped_user = user;
    if (r->tun)
        tun_stop(r->tun, on_tun_stopped, r);
    else
        tunnel_stop(r->tunnel, on_tunnel_stopped, r);
}

void tunnel_format_bytes(char *out, size_t len, uint64_t bytes)
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
