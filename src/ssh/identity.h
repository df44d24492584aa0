/* The client identity used to log in to the bastion: a private key (from a
 * file or from TETHER_SSH_PRIVATE_KEY) or the keys of a running ssh-agent.
 *
 * identity_load reads the key text, imports it with libssh and wipes the text
 * (and the environment variable) at once; the imported key lives in the
 * identity until identity_free, because every reconnect signs with it again.
 * An encrypted key is refused with a clear cause unless stdin is a terminal,
 * where the passphrase is asked for (and wiped after use). */
#ifndef TETHER_SSH_IDENTITY_H
#define TETHER_SSH_IDENTITY_H

#include <stddef.h>

#include <libssh/libssh.h>

#define IDENTITY_ENV "TETHER_SSH_PRIVATE_KEY"

enum identity_kind {
    IDENTITY_KEY,
    IDENTITY_AGENT,
};

struct identity {
    enum identity_kind kind;
    ssh_key key;      /* IDENTITY_KEY: the private key; owned */
    char source[600]; /* for messages: "key file ~/x", "TETHER_SSH_PRIVATE_KEY", "ssh-agent" */
};

/* key_path wins, then TETHER_SSH_PRIVATE_KEY, then SSH_AUTH_SOCK (agent).
 * Returns 0, -ENOENT when no identity is available, or another -errno; the
 * cause says what to do. */
int identity_load(struct identity *identity, const char *key_path, char *cause, size_t cause_len);
void identity_free(struct identity *identity);

#endif
