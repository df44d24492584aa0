/* Host key verification against OpenSSH known_hosts files.
 *
 * tether reads the user's ~/.ssh/known_hosts (never writes it) and a file of
 * its own (default ~/.config/tether/known_hosts) where keys accepted with
 * --accept-new-host-key or a matching --host-key-fingerprint are recorded.
 * Lines follow sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT": comma-separated host
 * patterns (with `*`, `?`, `!` negation, `[host]:port` for other ports, and
 * hashed `|1|salt|hmac` entries), a key type and the base64 key blob.
 * `@revoked` lines refuse a key; `@cert-authority` lines are skipped.
 *
 * Keys are compared as (type, base64 blob) text: the blob is what
 * ssh_pki_export_pubkey_base64 returns and what OpenSSH writes. */
#ifndef TETHER_SSH_KNOWN_HOSTS_H
#define TETHER_SSH_KNOWN_HOSTS_H

#include <stddef.h>
#include <stdint.h>

/* Ordered by precedence: when lines disagree, the highest result wins. */
enum known_hosts_result {
    KNOWN_HOSTS_UNKNOWN = 0,    /* no line names this host */
    KNOWN_HOSTS_OTHER_TYPE = 1, /* host known only with other key types */
    KNOWN_HOSTS_CHANGED = 2,    /* a line has a different key of the same type */
    KNOWN_HOSTS_MATCH = 3,      /* a line has exactly this key */
    KNOWN_HOSTS_REVOKED = 4,    /* an @revoked line lists this key */
};

#define KNOWN_HOSTS_FILE_MAX (4u * 1024 * 1024)

struct known_hosts_hit {
    char file[512];    /* the file of the deciding line */
    unsigned line;     /* 1-based */
    char key_type[64]; /* the key type on that line */
};

/* The host as it appears in known_hosts: "host" for port 22, else "[host]:port". */
void known_hosts_host_name(char *out, size_t out_len, const char *host, uint16_t port);

/* Checks text (the content of `file_name`, used for the hit) and merges into
 * *result / *hit: a result replaces the current one only when it ranks higher.
 * Start with *result = KNOWN_HOSTS_UNKNOWN. */
void known_hosts_check_text(const char *text, size_t len, const char *file_name, const char *host,
                            uint16_t port, const char *key_type, const char *key_base64,
                            enum known_hosts_result *result, struct known_hosts_hit *hit);
/* Same, reading the file (a missing file is no error). 0 or -errno with cause. */
int known_hosts_check_file(const char *path, const char *host, uint16_t port, const char *key_type,
                           const char *key_base64, enum known_hosts_result *result,
                           struct known_hosts_hit *hit, char *cause, size_t cause_len);

/* Appends "host key_type key_base64" to path, creating the file (0600) and its
 * directory (0700) when needed. 0 or -errno with cause. */
int known_hosts_append(const char *path, const char *host, uint16_t port, const char *key_type,
                       const char *key_base64, char *cause, size_t cause_len);

/* 1 when `pattern` (one known_hosts pattern, no commas, no '!') matches
 * `name` case-insensitively with `*` and `?` wildcards. */
int known_hosts_pattern_match(const char *pattern, size_t pattern_len, const char *name);

#endif
