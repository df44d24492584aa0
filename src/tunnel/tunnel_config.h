/* The one reader of the "tunnel" section of a project's tether.json:
 *
 *   {"tunnel": {"host": "203.0.113.7", "user": "ec2-user", "key": "~/.ssh/bastion",
 *               "port": 22, "socks": "127.0.0.1:1080",
 *               "hostKeyFingerprint": "SHA256:...",
 *               "subnets": ["10.0.0.0/16"], "dnsDomains": ["ec2.internal"],
 *               "dnsServer": "10.0.0.2", "dnsAll": false, "tunMtu": 9000}}
 *
 * Other top-level sections belong to other commands and are ignored; an
 * unknown key inside "tunnel", or a value of the wrong type, is an error that
 * names the file and the key. The TUN path's keys (subnets ... tunMtu) are
 * only read here; tun/options.c checks their values and applies them, so
 * this module does not depend on tun/. Strings are copied into the settings,
 * which the caller frees with tunnel_config_free. */
#ifndef TETHER_TUNNEL_TUNNEL_CONFIG_H
#define TETHER_TUNNEL_TUNNEL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* At most this many "subnets" or "dnsDomains" (tun/ allows fewer still). */
#define TUNNEL_FILE_LIST_MAX 64

struct tunnel_file_settings {
    char *host;
    char *user;
    char *key; /* a leading "~/" is expanded with $HOME */
    char *socks;
    char *host_key_fingerprint;
    uint16_t port; /* 0: not set */
    /* The TUN path's keys, as written (NULL / 0: not set). */
    char *subnets[TUNNEL_FILE_LIST_MAX];
    size_t subnet_count;
    char *dns_domains[TUNNEL_FILE_LIST_MAX];
    size_t dns_domain_count;
    char *dns_server;
    char *tun_mtu; /* the number as text ("tunMtu": 9000 or "9000") */
    int dns_all;   /* "dnsAll": true */
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
