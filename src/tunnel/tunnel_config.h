/* The "tunnel" section of a project's tether.json:
 *
 *   {"tunnel": {"host": "203.0.113.7", "user": "ec2-user", "key": "~/.ssh/bastion",
 *               "port": 22, "socks": "127.0.0.1:1080",
 *               "hostKeyFingerprint": "SHA256:..."}}
 *
 * Other top-level sections belong to other commands and are ignored; an
 * unknown key inside "tunnel", or a value of the wrong type, is an error that
 * names the file and the key. Strings are copied into the settings, which the
 * caller frees with tunnel_config_free. */
#ifndef TETHER_TUNNEL_TUNNEL_CONFIG_H
#define TETHER_TUNNEL_TUNNEL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct tunnel_file_settings {
    char *host;
    char *user;
    char *key; /* a leading "~/" is expanded with $HOME */
    char *socks;
    char *host_key_fingerprint;
    uint16_t port; /* 0: not set */
};

/* Reads `path`. A missing file is not an error (*found = 0). 0, or -EINVAL
 * with the cause ("tether.json: unknown key \"tunnel.hots\"..."). */
int tunnel_config_load(const char *path, struct tunnel_file_settings *out, int *found, char *cause,
                       size_t cause_len);
/* Same, from text (for tests); file_name is used in messages. */
int tunnel_config_parse(const char *text, size_t len, const char *file_name,
                        struct tunnel_file_settings *out, char *cause, size_t cause_len);
void tunnel_config_free(struct tunnel_file_settings *settings);

#endif
