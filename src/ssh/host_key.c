#include "ssh/host_key.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "hostkey"
#include "core/log.h"
#include "ssh/known_hosts.h"

/* The server key as known_hosts writes it. */
struct presented_key {
    const char *type;
    char *base64;
    char fingerprint[HOST_KEY_FINGERPRINT_MAX];
    char host_name[300];
};

int host_key_fingerprint(const ssh_key key, char out[HOST_KEY_FINGERPRINT_MAX])
{
    unsigned char *hash = NULL;
    size_t hash_len = 0;
    if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hash_len) < 0)
        return -EINVAL;
    char *text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hash_len);
    ssh_clean_pubkey_hash(&hash);
    if (!text)
        return -ENOMEM;
    snprintf(out, HOST_KEY_FINGERPRINT_MAX, "%s", text);
    ssh_string_free_char(text);
    return 0;
}

/* Compares fingerprints, ignoring base64 padding a user may have pasted. */
static int fingerprint_equal(const char *given, const char *actual)
{
    size_t given_len = strlen(given), actual_len = strlen(actual);
    while (given_len && given[given_len - 1] == '=')
        given_len--;
    while (actual_len && actual[actual_len - 1] == '=')
        actual_len--;
    return given_len == actual_len && memcmp(given, actual, given_len) == 0;
}

static int check_files(const struct host_key_policy *p, const struct presented_key *k,
                       enum known_hosts_result *result, struct known_hosts_hit *hit, char *cause,
                       size_t cause_len)
{
    const char *files[] = {p->user_known_hosts, p->tether_known_hosts};
    for (size_t i = 0; i < 2; i++) {
        if (!files[i])
            continue;
        int rc = known_hosts_check_file(files[i], p->host, p->port, k->type, k->base64, result, hit,
                                        cause, cause_len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int refuse_changed(const struct presented_key *k, const struct known_hosts_hit *hit,
                          int other_type, char *cause, size_t cause_len)
{
    snprintf(cause, cause_len,
             "HOST KEY MISMATCH for %s: the bastion presented %s key %s, but %s line %u holds "
             "%s %s key for it. Someone may be intercepting the connection "
             "(man-in-the-middle), or the bastion was replaced. If you know it was rebuilt, "
             "remove line %u from %s and connect again with --host-key-fingerprint %s",
             k->host_name, k->type, k->fingerprint, hit->file, hit->line,
             other_type ? "only a" : "a different", hit->key_type, hit->line, hit->file,
             k->fingerprint);
    return -EPERM;
}

static int accept_new(const struct host_key_policy *p, const struct presented_key *k,
                      const char *how, char *cause, size_t cause_len)
{
    if (!p->tether_known_hosts) {
        log_warn("trusting %s key %s for %s (%s); not recorded anywhere", k->type, k->fingerprint,
                 k->host_name, how);
        return 0;
    }
    char why[512];
    int rc = known_hosts_append(p->tether_known_hosts, p->host, p->port, k->type, k->base64, why,
                                sizeof(why));
    if (rc < 0)
        log_warn("trusting %s key %s for %s (%s), but could not record it: %s", k->type,
                 k->fingerprint, k->host_name, how, why);
    else
        log_warn("trusting %s key %s for %s (%s); recorded in %s", k->type, k->fingerprint,
                 k->host_name, how, p->tether_known_hosts);
    return 0;
}

static int decide(const struct host_key_policy *p, const struct presented_key *k,
                  enum known_hosts_result result, const struct known_hosts_hit *hit, char *cause,
                  size_t cause_len)
{
    switch (result) {
    case KNOWN_HOSTS_REVOKED:
        snprintf(cause, cause_len, "the host key %s of %s is marked @revoked in %s line %u",
                 k->fingerprint, k->host_name, hit->file, hit->line);
        return -EPERM;
    case KNOWN_HOSTS_CHANGED:
        return refuse_changed(k, hit, 0, cause, cause_len);
    case KNOWN_HOSTS_OTHER_TYPE:
        return refuse_changed(k, hit, 1, cause, cause_len);
    case KNOWN_HOSTS_MATCH:
        if (p->pinned_fingerprint && !fingerprint_equal(p->pinned_fingerprint, k->fingerprint)) {
            snprintf(cause, cause_len,
                     "the host key of %s is %s (known in %s line %u), not the %s given with "
                     "--host-key-fingerprint",
                     k->host_name, k->fingerprint, hit->file, hit->line, p->pinned_fingerprint);
            return -EPERM;
        }
        return 0;
    case KNOWN_HOSTS_UNKNOWN:
        break;
    }
    if (p->accepted_key && *p->accepted_key) {
        /* Trusted earlier in this run but not found in any file (recording
         * failed): a different key now is a changed key, never a new one. */
        snprintf(cause, cause_len,
                 "HOST KEY MISMATCH for %s: the bastion now presents %s key %s, which differs "
                 "from the key accepted earlier in this run; refusing to reconnect",
                 k->host_name, k->type, k->fingerprint);
        return -EPERM;
    }
    if (p->pinned_fingerprint) {
        if (fingerprint_equal(p->pinned_fingerprint, k->fingerprint))
            return accept_new(p, k, "matches --host-key-fingerprint", cause, cause_len);
        snprintf(cause, cause_len,
                 "the host key of %s is %s %s, not the %s given with --host-key-fingerprint; "
                 "refusing to connect",
                 k->host_name, k->type, k->fingerprint, p->pinned_fingerprint);
        return -EPERM;
    }
    if (p->accept_new)
        return accept_new(p, k, "--accept-new-host-key", cause, cause_len);
    snprintf(cause, cause_len,
             "the host key of %s is not known: %s %s. Check it out of band (on the bastion: "
             "ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then pass --host-key-fingerprint %s, "
             "or --accept-new-host-key to trust it on first use",
             k->host_name, k->type, k->fingerprint, k->fingerprint);
    return -EPERM;
}

int host_key_verify(const struct host_key_policy *policy, const ssh_key key, char *accepted_out,
                    size_t accepted_len, char *cause, size_t cause_len)
{
    struct presented_key k = {0};
    k.type = ssh_key_type_to_char(ssh_key_type(key));
    if (!k.type || ssh_pki_export_pubkey_base64(key, &k.base64) < 0 ||
        host_key_fingerprint(key, k.fingerprint) < 0) {
        snprintf(cause, cause_len, "cannot read the bastion's host key");
        ssh_string_free_char(k.base64);
        return -EINVAL;
    }
    known_hosts_host_name(k.host_name, sizeof(k.host_name), policy->host, policy->port);
    char presented[4096];
    snprintf(presented, sizeof(presented), "%s %s", k.type, k.base64);
    int rc;
    if (policy->accepted_key && strcmp(policy->accepted_key, presented) == 0) {
        rc = 0; /* trusted earlier in this run (and maybe not recordable) */
    } else {
        enum known_hosts_result result = KNOWN_HOSTS_UNKNOWN;
        struct known_hosts_hit hit = {0};
        rc = check_files(policy, &k, &result, &hit, cause, cause_len);
        if (rc == 0)
            rc = decide(policy, &k, result, &hit, cause, cause_len);
    }
    if (rc == 0) {
        snprintf(accepted_out, accepted_len, "%s", presented);
        log_debug("host key of %s: %s %s trusted", k.host_name, k.type, k.fingerprint);
    }
    ssh_string_free_char(k.base64);
    return rc;
}
