/* The VPC tunnel as one running unit: the SOCKS5 proxy through the bastion
 * (tunnel/tunnel.h) and, when subnets are routed, the TUN device on top of
 * it (tun/tun.h). The one runner of `tether tunnel` (cli/cmd_tunnel.c) and
 * of the tunnel inside `tether dev` (dev/dev.c); the commands keep their
 * options, output and signals.
 *
 * Settings come in three steps: the caller fills what its command line gave,
 * tunnel_settings_merge_file adds the "tunnel" section of tether.json (the
 * command line wins), tunnel_settings_finish checks and completes them and
 * tunnel_settings_acquire loads the SSH key and opens the TUN device (as
 * root, or through the installed helper). The settings own the strings read
 * from the file and the identity: they must outlive the runner.
 *
 * tunnel_runner_stop stops the TUN path first, then the tunnel, frees the
 * runner and calls on_stopped last. */
#ifndef TETHER_TUNNEL_RUNNER_H
#define TETHER_TUNNEL_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "net/hostport.h"
#include "ssh/identity.h"
#include "tun/tun.h"
#include "tunnel/tunnel.h"
#include "tunnel/tunnel_config.h"

struct tunnel_settings {
    struct tunnel_config config; /* bastion and SOCKS5 */
    struct tun_config tun;       /* the TUN path, when it routes subnets */
    struct tunnel_file_settings file;
    struct identity identity;
    const char *key_path;    /* NULL: TETHER_SSH_PRIVATE_KEY, else ssh-agent */
    const char *port_text;   /* the port as the command line gave it */
    const char *known_hosts; /* tether's known-hosts file, when given */
    struct hostport socks;   /* host "" until given or read from the file */
    char user_known_hosts[1024];
    char tether_known_hosts[1024];
    int retry;         /* keep retrying when the very first connection fails */
    int identity_held; /* identity_load succeeded: freed by tunnel_settings_free */
};

/* Defaults before the command line fills the settings. */
void tunnel_settings_init(struct tunnel_settings *settings);
/* Adds the "tunnel" section of `path` (default ./tether.json) where the
 * settings are still unset. A missing file is no error unless `required`.
 * 0, or -EINVAL with the cause. */
int tunnel_settings_merge_file(struct tunnel_settings *settings, const char *path, int required,
                               char *cause, size_t cause_len);
/* Checks host, user, port and SOCKS settings and fills the defaults (SOCKS
 * 127.0.0.1:1080, the known-hosts files); 0 or -EINVAL with the cause. */
int tunnel_settings_finish(struct tunnel_settings *settings, char *cause, size_t cause_len);
/* Routes subnets through a TUN device (tunnel_settings_finish said so). */
int tunnel_settings_want_tun(const struct tunnel_settings *settings);
/* Loads the SSH identity (-ENOENT when no key is given and none is found).
 * 0 or -errno with the cause. */
int tunnel_settings_load_identity(struct tunnel_settings *settings, char *cause, size_t cause_len);
/* Opens the TUN device for the subnets (as root in-process, else through
 * the installed helper; -EPERM with the command to run when it is not
 * installed). note tells what became of DNS registration. */
int tunnel_settings_acquire_tun(struct tunnel_settings *settings, char *note, size_t note_len,
                                char *cause, size_t cause_len);
/* Drops the TUN path (its descriptors are closed): SOCKS5 only. */
void tunnel_settings_drop_tun(struct tunnel_settings *settings);
void tunnel_settings_free(struct tunnel_settings *settings);

struct tunnel_runner;

struct tunnel_runner_callbacks {
    void (*on_state)(void *user, enum bastion_state old_state, enum bastion_state new_state,
                     const char *cause);
};

/* Starts the tunnel, then the TUN path when the settings hold one. 0; 1 when
 * the tunnel runs but the TUN path did not start (cause says why: the
 * caller decides whether to go on); -errno when the tunnel did not start
 * (*out NULL; run the loop to close what was opened). */
int tunnel_runner_start(uv_loop_t *loop, struct tunnel_settings *settings,
                        const struct tunnel_runner_callbacks *callbacks, void *user,
                        struct tunnel_runner **out, char *cause, size_t cause_len);
/* "host:port" the SOCKS5 proxy listens on. */
const char *tunnel_runner_socks_address(const struct tunnel_runner *runner);
/* The TUN device's name, or NULL when there is no TUN path. */
const char *tunnel_runner_tun_device(const struct tunnel_runner *runner);
void tunnel_runner_stats(const struct tunnel_runner *runner, struct tunnel_stats *out);
void tunnel_runner_stop(struct tunnel_runner *runner, void (*on_stopped)(void *user), void *user);

/* "1.5 MB": a byte count as the status lines of both commands show it. */
void tunnel_format_bytes(char *out, size_t len, uint64_t bytes);

#endif
