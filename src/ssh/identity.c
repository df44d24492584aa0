#include "ssh/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MODULE "ssh"
#include "core/encoding.h"
#include "core/log.h"

#define KEY_TEXT_MAX (64 * 1024)

/* What the libssh passphrase callback learned. */
struct passphrase_state {
    int asked;       /* libssh wanted a passphrase: the key is encrypted */
    int interactive; /* prompt on the terminal */
    const char *source;
};

static int passphrase_callback(const char *prompt, char *buf, size_t len, int echo, int verify,
                               void *userdata)
{
    struct passphrase_state *state = userdata;
    state->asked = 1;
    if (!state->interactive)
        return -1;
    char question[700];
    snprintf(question, sizeof(question), "Passphrase for %s: ", state->source);
    return ssh_getpass(question, buf, len, 0, 0) < 0 ? -1 : 0;
}

static int read_key_file(const char *path, char **text_out, char *cause, size_t cause_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        snprintf(cause, cause_len, "cannot open key file %s: %s", path, strerror(err));
        return -err;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 077))
        log_warn("key file %s is readable by other users (mode %03o); chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
    char *text = calloc(1, KEY_TEXT_MAX + 1);
    ssize_t n = text ? read(fd, text, KEY_TEXT_MAX + 1) : -1;
    int err = errno;
    close(fd);
    if (n < 0 || n > KEY_TEXT_MAX) {
        snprintf(cause, cause_len, "cannot read key file %s: %s", path,
                 n > KEY_TEXT_MAX ? "larger than 64 KiB" : strerror(err));
        if (text)
            secure_wipe(text, KEY_TEXT_MAX + 1);
        free(text);
        return n > KEY_TEXT_MAX ? -EFBIG : -err;
    }
    *text_out = text;
    return 0;
}

static int import_key(struct identity *identity, const char *text, char *cause, size_t cause_len)
{
    struct passphrase_state state = {0, isatty(STDIN_FILENO), identity->source};
    int rc = ssh_pki_import_privkey_base64(text, NULL, passphrase_callback, &state, &identity->key);
    if (rc == SSH_OK)
        return 0;
    identity->key = NULL;
    if (state.asked && !state.interactive)
        snprintf(cause, cause_len,
                 "%s is encrypted with a passphrase and there is no terminal to ask for it; "
                 "decrypt a copy (ssh-keygen -p) or load it into ssh-agent",
                 identity->source);
    else if (state.asked)
        snprintf(cause, cause_len, "%s: wrong passphrase", identity->source);
    else
        snprintf(cause, cause_len,
                 "%s is not a private key libssh can read (OpenSSH or PEM format expected)",
                 identity->source);
    return -EINVAL;
}

static int load_from_file(struct identity *identity, const char *path, char *cause,
                          size_t cause_len)
{
    char *text = NULL;
    int rc = read_key_file(path, &text, cause, cause_len);
    if (rc < 0)
        return rc;
    snprintf(identity->source, sizeof(identity->source), "key file %s", path);
    rc = import_key(identity, text, cause, cause_len);
    secure_wipe(text, KEY_TEXT_MAX + 1);
    free(text);
    return rc;
}

static int load_from_environment(struct identity *identity, char *env_text, char *cause,
                                 size_t cause_len)
{
    snprintf(identity->source, sizeof(identity->source), "%s", IDENTITY_ENV);
    int rc = import_key(identity, env_text, cause, cause_len);
    /* The key must not linger in this process's environment (nor reach
     * children): wipe the bytes in place, then drop the variable. */
    secure_wipe(env_text, strlen(env_text));
    unsetenv(IDENTITY_ENV);
    return rc;
}

int identity_load(struct identity *identity, const char *key_path, char *cause, size_t cause_len)
{
    memset(identity, 0, sizeof(*identity));
    identity->kind = IDENTITY_KEY;
    char *env_text = getenv(IDENTITY_ENV);
    if (key_path) {
        if (env_text) {
            secure_wipe(env_text, strlen(env_text));
            unsetenv(IDENTITY_ENV);
        }
        return load_from_file(identity, key_path, cause, cause_len);
    }
    if (env_text && *env_text)
        return load_from_environment(identity, env_text, cause, cause_len);
    const char *agent = getenv("SSH_AUTH_SOCK");
    if (agent && *agent) {
        identity->kind = IDENTITY_AGENT;
        snprintf(identity->source, sizeof(identity->source), "ssh-agent at %s", agent);
        return 0;
    }
    snprintf(cause, cause_len,
             "no SSH key: pass --key FILE, set %s to the private key text, or run ssh-agent",
             IDENTITY_ENV);
    return -ENOENT;
}

void identity_free(struct identity *identity)
{
    if (identity->key)
        ssh_key_free(identity->key);
    identity->key = NULL;
}
