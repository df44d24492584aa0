/* The libssh session of one bastion connection: options, the non-blocking
 * handshake, the host key check, public key login and the warm-up. Each step
 * function returns STEP_AGAIN (call again when the socket is ready),
 * STEP_DONE (the next state was entered) or STEP_FAILED (the attempt was
 * failed and torn down). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_MODULE "bastion"
#include "core/log.h"
#include "ssh/bastion_internal.h"
#include "ssh/host_key.h"

/* AES-GCM first: ~40% faster than chacha20-poly1305 with AES-NI (docs/tunnel.md). */
#define DEFAULT_CIPHERS                                                                            \
    "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,"      \
    "aes256-ctr"

enum step_result {
    STEP_AGAIN,
    STEP_DONE,
    STEP_FAILED,
};

static int set_option(struct bastion *b, enum ssh_options_e option, const void *value,
                      const char *what, char *cause, size_t cause_len)
{
    if (ssh_options_set(b->session, option, value) == SSH_OK)
        return 0;
    snprintf(cause, cause_len, "libssh refused the %s option: %s", what, ssh_get_error(b->session));
    return -EINVAL;
}

static int apply_options(struct bastion *b, int fd, char *cause, size_t cause_len)
{
    int port = b->config.port, no = 0, yes = 1;
    const char *ciphers = b->config.ciphers ? b->config.ciphers : DEFAULT_CIPHERS;
    /* libssh reads the known_hosts files only to prefer the key types they
     * list during key exchange; the check itself is ours (host_key.c). */
    const char *user_known = b->config.user_known_hosts ? b->config.user_known_hosts : "/dev/null";
    const char *tether_known =
        b->config.tether_known_hosts ? b->config.tether_known_hosts : "/dev/null";
    if (set_option(b, SSH_OPTIONS_PROCESS_CONFIG, &no, "config", cause, cause_len) < 0 ||
        set_option(b, SSH_OPTIONS_HOST, b->config.host, "host", cause, cause_len) < 0 ||
        set_option(b, SSH_OPTIONS_PORT, &port, "port", cause, cause_len) < 0 ||
        set_option(b, SSH_OPTIONS_USER, b->config.user, "user", cause, cause_len) < 0 ||
        set_option(b, SSH_OPTIONS_NODELAY, &yes, "nodelay", cause, cause_len) < 0 ||
        set_option(b, SSH_OPTIONS_CIPHERS_C_S, ciphers, "cipher", cause, cause_len) < 0 ||
        set_option(b, SSH_OPTIONS_CIPHERS_S_C, ciphers, "cipher", cause, cause_len) < 0 ||
        set_option(b, SSH_OPTIONS_KNOWNHOSTS, user_known, "known hosts", cause, cause_len) < 0 ||
        set_option(b, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, tether_known, "known hosts", cause,
                   cause_len) < 0 ||
        set_option(b, SSH_OPTIONS_FD, &fd, "socket", cause, cause_len) < 0)
        return -EINVAL;
    return 0;
}

int bastion_session_create(struct bastion *b, char *cause, size_t cause_len)
{
    b->session = ssh_new();
    if (!b->session) {
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    /* libssh closes its socket on some errors and not on others; giving it
     * a duplicate keeps the descriptor libuv polls ours to close. */
    int fd = fcntl(b->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0 || apply_options(b, fd, cause, cause_len) < 0) {
        if (fd < 0)
            snprintf(cause, cause_len, "dup: %s", strerror(errno));
        else
            close(fd);
        ssh_free(b->session);
        b->session = NULL;
        return -EINVAL;
    }
    ssh_set_blocking(b->session, 0);
    memset(&b->counter, 0, sizeof(b->counter));
    ssh_set_counters(b->session, &b->counter, NULL);
    /* libssh 0.10 numbers a session's channels from 43 (FIRST_CHANNEL 42 + 1). */
    b->channel_seq = 42;
    b->warm_step = 0;
    b->last_error[0] = '\0';
    return 0;
}

void bastion_session_destroy(struct bastion *b, int polite)
{
    if (!b->session)
        return;
    if (b->event) {
        ssh_event_remove_session(b->event, b->session);
        ssh_event_free(b->event);
        b->event = NULL;
    }
    b->warm_channel = NULL; /* freed with the session */
    socket_t libssh_fd = ssh_get_fd(b->session);
    if (polite && libssh_fd != SSH_INVALID_SOCKET) {
        /* Sends SSH_MSG_DISCONNECT but leaves a caller-given socket open. */
        ssh_disconnect(b->session);
        close(libssh_fd);
    }
    ssh_free(b->session); /* closes libssh's socket if still open */
    b->session = NULL;
}

/* libssh switches the socket to blocking once connected; its writes must
 * never block the loop (it only writes after poll said writable, and takes
 * partial writes), so the socket goes back to non-blocking. */
static void keep_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && !(flags & O_NONBLOCK))
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static enum step_result verify_host_key(struct bastion *b)
{
    ssh_key key = NULL;
    if (ssh_get_server_publickey(b->session, &key) != SSH_OK) {
        bastion_fail_attempt(b, 0, "%s sent no host key: %s", b->name, ssh_get_error(b->session));
        return STEP_FAILED;
    }
    struct host_key_policy policy = {
        .host = b->config.host,
        .port = b->config.port,
        .user_known_hosts = b->config.user_known_hosts,
        .tether_known_hosts = b->config.tether_known_hosts,
        .pinned_fingerprint = b->config.host_key_fingerprint,
        .accept_new = b->config.accept_new_host_key,
        .accepted_key = b->accepted_key,
    };
    char cause[2048];
    int rc = host_key_verify(&policy, key, b->accepted_key, sizeof(b->accepted_key), cause,
                             sizeof(cause));
    ssh_key_free(key);
    if (rc < 0) {
        bastion_fail_attempt(b, rc == -EPERM, "%s", cause);
        return STEP_FAILED;
    }
    return STEP_DONE;
}

static enum step_result handshake_step(struct bastion *b)
{
    int rc = ssh_connect(b->session);
    keep_nonblocking(b->fd);
    if (rc == SSH_AGAIN)
        return STEP_AGAIN;
    if (rc != SSH_OK) {
        bastion_fail_attempt(b, 0, "SSH handshake with %s failed: %s", b->name,
                             ssh_get_error(b->session));
        return STEP_FAILED;
    }
    if (verify_host_key(b) != STEP_DONE)
        return STEP_FAILED;
    b->event = ssh_event_new();
    if (!b->event || ssh_event_add_session(b->event, b->session) != SSH_OK) {
        bastion_fail_attempt(b, 0, "cannot set up libssh's poll context");
        return STEP_FAILED;
    }
    log_debug("%s: cipher %s", b->name, ssh_get_cipher_out(b->session));
    bastion_enter_state(b, BASTION_AUTHENTICATING, NULL);
    return STEP_DONE;
}

static void describe_methods(ssh_session session, char *out, size_t out_len)
{
    int methods = ssh_userauth_list(session, NULL);
    snprintf(out, out_len, "%s%s%s%s", methods & SSH_AUTH_METHOD_PUBLICKEY ? " publickey" : "",
             methods & SSH_AUTH_METHOD_PASSWORD ? " password" : "",
             methods & SSH_AUTH_METHOD_INTERACTIVE ? " keyboard-interactive" : "",
             methods & SSH_AUTH_METHOD_GSSAPI_MIC ? " gssapi-with-mic" : "");
}

static enum step_result auth_step(struct bastion *b)
{
    const struct identity *id = b->config.identity;
    int rc = id->kind == IDENTITY_KEY ? ssh_userauth_publickey(b->session, NULL, id->key)
                                      : ssh_userauth_agent(b->session, NULL);
    if (rc == SSH_AUTH_AGAIN)
        return STEP_AGAIN;
    char methods[128];
    switch (rc) {
    case SSH_AUTH_SUCCESS:
        b->connections++;
        log_info("logged in to %s with %s", b->name, id->source);
        if (b->config.skip_warm_up) {
            bastion_enter_ready(b);
        } else {
            bastion_enter_state(b, BASTION_WARMING, NULL);
            bastion_start_warm_up_timer(b);
        }
        return STEP_DONE;
    case SSH_AUTH_PARTIAL:
        describe_methods(b->session, methods, sizeof(methods));
        bastion_fail_attempt(b, 1,
                             "%s accepted %s for user %s but also wants:%s; tether can only log "
                             "in with a key",
                             b->name, id->source, b->config.user, methods);
        return STEP_FAILED;
    case SSH_AUTH_DENIED:
        describe_methods(b->session, methods, sizeof(methods));
        bastion_fail_attempt(b, 1,
                             "authentication refused: %s did not accept %s for user %s "
                             "(it offers:%s)",
                             b->name, id->source, b->config.user, methods);
        return STEP_FAILED;
    default:
        bastion_fail_attempt(b, 0, "authentication with %s failed: %s", b->name,
                             ssh_get_error(b->session));
        return STEP_FAILED;
    }
}

void bastion_session_finish_warm_up(struct bastion *b)
{
    if (b->warm_channel) {
        ssh_channel_close(b->warm_channel);
        ssh_channel_free(b->warm_channel); /* freed once the bastion closes its side */
        b->warm_channel = NULL;
    }
    bastion_enter_ready(b);
}

static enum step_result warm_up_refused(struct bastion *b, const char *what)
{
    log_info("%s refused %s (%s); going on without it: small requests may wait for sshd's "
             "Nagle delay (up to 40 ms)",
             b->name, what, ssh_get_error(b->session));
    bastion_session_finish_warm_up(b);
    return STEP_DONE;
}

/* Opens a session channel and starts `true` in it. sshd turns TCP_NODELAY on
 * for the whole connection when it starts a session command, before it
 * confirms the request; the channel's end is left to libssh (waiting for it
 * would itself suffer sshd's Nagle delays). */
static enum step_result warm_step(struct bastion *b)
{
    int rc;
    switch (b->warm_step) {
    case 0:
        b->warm_channel = ssh_channel_new(b->session);
        if (!b->warm_channel)
            return warm_up_refused(b, "a session channel");
        b->channel_seq++;
        b->warm_step = 1;
        /* fall through */
    case 1:
        rc = ssh_channel_open_session(b->warm_channel);
        if (rc == SSH_AGAIN)
            return STEP_AGAIN;
        if (rc != SSH_OK)
            return warm_up_refused(b, "a session channel");
        b->warm_step = 2;
        /* fall through */
    default:
        rc = ssh_channel_request_exec(b->warm_channel, "true");
        if (rc == SSH_AGAIN)
            return STEP_AGAIN;
        if (rc != SSH_OK)
            return warm_up_refused(b, "`exec true`");
        bastion_session_finish_warm_up(b);
        return STEP_DONE;
    }
}

void bastion_session_step(struct bastion *b)
{
    for (;;) {
        enum step_result rc;
        switch (b->state) {
        case BASTION_HANDSHAKE:
            rc = handshake_step(b);
            break;
        case BASTION_AUTHENTICATING:
            rc = auth_step(b);
            break;
        case BASTION_WARMING:
            rc = warm_step(b);
            break;
        default:
            return;
        }
        if (rc == STEP_AGAIN) {
            bastion_poll_update(b);
            return;
        }
        if (rc == STEP_FAILED)
            return;
    }
}
