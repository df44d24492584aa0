/* The VPC tunnel inside `tether dev` (dev/tunnel.h). */
#include "dev/tunnel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "dev"
#include "core/log.h"
#include "tunnel/runner.h"

/* Counters are looked at this often and reported only when they moved: a
 * busy tunnel gives a line every few seconds, an idle one none. */
#define REPORT_INTERVAL_MS 2000

struct dev_tunnel {
    struct tunnel_settings settings;
    struct tunnel_runner *runner;
    uv_timer_t timer;
    struct dev_tunnel_callbacks callbacks;
    void *ctx;
    const char *state; /* what was last reported */
    int was_connected;
    int stopping;
    int timer_open;
    struct tunnel_stats reported;
    char bastion[300];
    char proxy_url[96];
    char cause[1024];
};

static void report(struct dev_tunnel *t, const char *cause)
{
    struct dev_tunnel_report r = {.state = t->state, .bastion = t->bastion, .cause = cause};
    if (t->runner) {
        struct tunnel_stats stats;
        tunnel_runner_stats(t->runner, &stats);
        r.socks = tunnel_runner_socks_address(t->runner);
        r.tun = tunnel_runner_tun_device(t->runner);
        r.streams_open = stats.streams_open;
        r.streams_total = stats.streams_total;
        r.bytes_up = stats.bytes_up;
        r.bytes_down = stats.bytes_down;
        t->reported = stats;
    }
    t->callbacks.on_report(t->ctx, &r);
}

static void on_runner_stopped(void *user)
{
    struct dev_tunnel *t = user;
    t->runner = NULL;
}

static void stop_runner(struct dev_tunnel *t)
{
    if (t->timer_open && !uv_is_closing((uv_handle_t *)&t->timer))
        uv_close((uv_handle_t *)&t->timer, NULL);
    if (t->runner && !t->stopping)
        tunnel_runner_stop(t->runner, on_runner_stopped, t);
    t->stopping = 1;
}

/* Ends the tunnel, not dev: the functions keep running without it. */
static void fail(struct dev_tunnel *t, const char *cause)
{
    t->state = "failed";
    report(t, cause);
    stop_runner(t);
}

/* Only changes of what the user sees are reported: the bastion's inner
 * states (resolving, handshake, ...) all read "connecting". A failed attempt
 * (backoff) is reported each time with its cause, so a user waiting for the
 * first connection sees why it does not come; backoff spaces them out. */
static void on_state(void *user, enum bastion_state old_state, enum bastion_state new_state,
                     const char *cause)
{
    struct dev_tunnel *t = user;
    (void)old_state;
    if (t->stopping)
        return;
    if (new_state == BASTION_FAILED) {
        fail(t, cause);
        return;
    }
    const char *state = new_state == BASTION_READY ? "connected"
                        : t->was_connected         ? "reconnecting"
                                                   : "connecting";
    t->was_connected |= new_state == BASTION_READY;
    if (strcmp(state, t->state) == 0 && new_state != BASTION_BACKOFF)
        return;
    t->state = state;
    report(t, new_state == BASTION_READY ? NULL : cause);
}

static void on_tick(uv_timer_t *timer)
{
    struct dev_tunnel *t = timer->data;
    if (!t->runner || t->stopping)
        return;
    struct tunnel_stats now;
    tunnel_runner_stats(t->runner, &now);
    if (now.streams_open != t->reported.streams_open ||
        now.streams_total != t->reported.streams_total || now.bytes_up != t->reported.bytes_up ||
        now.bytes_down != t->reported.bytes_down)
        report(t, NULL);
}

/* The settings as `tether tunnel` would take them from the same file, but
 * retrying an unreachable bastion: dev runs for hours. */
static int prepare(struct dev_tunnel *t, const char *config_path)
{
    if (tunnel_settings_merge_file(&t->settings, config_path, 1, t->cause, sizeof(t->cause)) < 0)
        return -EINVAL;
    t->settings.retry = 1;
    if (tunnel_settings_finish(&t->settings, t->cause, sizeof(t->cause)) < 0)
        return -EINVAL;
    const struct bastion_config *b = &t->settings.config.bastion;
    snprintf(t->bastion, sizeof(t->bastion), "%s@%s", b->user, b->host);
    return tunnel_settings_load_identity(&t->settings, t->cause, sizeof(t->cause));
}

/* The TUN device, or SOCKS5 only with one note saying why. */
static void acquire_tun(struct dev_tunnel *t)
{
    char note[512] = "", why[1024], text[1200];
    if (!tunnel_settings_want_tun(&t->settings))
        return;
    if (tunnel_settings_acquire_tun(&t->settings, note, sizeof(note), why, sizeof(why)) < 0) {
        snprintf(text, sizeof(text),
                 "tunnel: SOCKS5 only, workers get ALL_PROXY; for the subnets' TUN device: %s",
                 why);
        t->callbacks.on_note(t->ctx, text);
        tunnel_settings_drop_tun(&t->settings);
        return;
    }
    if (note[0]) {
        snprintf(text, sizeof(text), "tunnel DNS: %s", note);
        t->callbacks.on_note(t->ctx, text);
    }
}

static void start_runner(struct dev_tunnel *t, uv_loop_t *loop)
{
    static const struct tunnel_runner_callbacks callbacks = {on_state};
    char text[1200];
    int rc = tunnel_runner_start(loop, &t->settings, &callbacks, t, &t->runner, t->cause,
                                 sizeof(t->cause));
    if (rc < 0) {
        fail(t, t->cause);
        return;
    }
    if (rc > 0) {
        snprintf(text, sizeof(text),
                 "tunnel: the TUN device did not start (%s); workers reach "
                 "the VPC through the SOCKS5 proxy (ALL_PROXY)",
                 t->cause);
        t->callbacks.on_note(t->ctx, text);
    }
    if (!tunnel_runner_tun_device(t->runner))
        snprintf(t->proxy_url, sizeof(t->proxy_url), "socks5h://%s",
                 tunnel_runner_socks_address(t->runner));
    uv_timer_init(loop, &t->timer);
    t->timer.data = t;
    t->timer_open = 1;
    uv_timer_start(&t->timer, on_tick, REPORT_INTERVAL_MS, REPORT_INTERVAL_MS);
    report(t, NULL); /* "connecting", with the SOCKS5 address and the device */
}

int dev_tunnel_start(uv_loop_t *loop, const char *config_path,
                     const struct dev_tunnel_callbacks *callbacks, void *ctx,
                     struct dev_tunnel **out)
{
    struct dev_tunnel *t = calloc(1, sizeof(*t));
    *out = t;
    if (!t)
        return -ENOMEM;
    tunnel_settings_init(&t->settings);
    t->callbacks = *callbacks;
    t->ctx = ctx;
    t->state = "connecting";
    if (prepare(t, config_path) < 0) {
        fail(t, t->cause);
        return 0;
    }
    acquire_tun(t);
    start_runner(t, loop);
    return 0;
}

const char *dev_tunnel_proxy_url(const struct dev_tunnel *t)
{
    return t && t->runner && !t->stopping && t->proxy_url[0] ? t->proxy_url : NULL;
}

void dev_tunnel_stop(struct dev_tunnel *t)
{
    if (t)
        stop_runner(t);
}

void dev_tunnel_free(struct dev_tunnel *t)
{
    if (!t)
        return;
    tunnel_settings_free(&t->settings);
    free(t);
}
