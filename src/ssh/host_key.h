/* The host key policy: is the key the bastion presented the one we expect?
 *
 * Known keys come from the user's ~/.ssh/known_hosts and tether's own file
 * (ssh/known_hosts.h). A known, matching key is trusted. A changed or revoked
 * key is always refused, naming the file and line. A key seen for the first
 * time is refused unless the user pinned its fingerprint
 * (--host-key-fingerprint SHA256:...) or asked to trust it on first use
 * (--accept-new-host-key); it is then recorded in tether's file. */
#ifndef TETHER_SSH_HOST_KEY_H
#define TETHER_SSH_HOST_KEY_H

#include <stddef.h>
#include <stdint.h>

#include <libssh/libssh.h>

#define HOST_KEY_FINGERPRINT_MAX 128

struct host_key_policy {
    const char *host;
    uint16_t port;
    const char *user_known_hosts;   /* NULL: none */
    const char *tether_known_hosts; /* NULL: none (nothing recorded) */
    const char *pinned_fingerprint; /* "SHA256:..." or NULL */
    int accept_new;
    const char *accepted_key; /* "type base64" trusted earlier in this run, or NULL */
};

/* "SHA256:" and unpadded base64 of the key's SHA-256, as ssh-keygen -lf shows. */
int host_key_fingerprint(const ssh_key key, char out[HOST_KEY_FINGERPRINT_MAX]);

/* 0 when the key is trusted; then accepted_out holds "type base64" (for the
 * next connection of this run). -EPERM when it is refused, -errno when it could
 * not be checked; cause says why, in full. */
int host_key_verify(const struct host_key_policy *policy, const ssh_key key, char *accepted_out,
                    size_t accepted_len, char *cause, size_t cause_len);

#endif
