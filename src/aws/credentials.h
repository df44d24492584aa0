/* AWS credentials and region, resolved the way the AWS CLI and SDKs resolve
 * them (docs/deploy.md, "Credentials"):
 *
 * 1. The environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the
 *    optional AWS_SESSION_TOKEN. Skipped when a profile is named explicitly
 *    (options.profile, like the CLI's --profile); AWS_PROFILE does not skip
 *    it (botocore's rule).
 * 2. The selected profile (options.profile, AWS_PROFILE, AWS_DEFAULT_PROFILE,
 *    "default") in the shared files (aws/profile.h):
 *    a. role_arn with source_profile (or credential_source = Environment):
 *       the source's credentials, then STS AssumeRole (aws/credentials_sts.h);
 *    b. aws_access_key_id + aws_secret_access_key (+ aws_session_token);
 *    c. credential_process: run it, read its JSON (Version 1).
 *    A source profile is resolved the same way except that its own static
 *    keys win over its role_arn (role chaining only without static keys);
 *    chains are capped and cycles refused.
 *
 * Region: AWS_REGION, AWS_DEFAULT_REGION, then the profile's `region`.
 *
 * Ownership: struct aws_credentials is a value the caller owns; it holds
 * secrets, so the caller calls aws_credentials_wipe when done with it. Every
 * function here copies what it keeps.
 *
 * Threads: the resolving functions block (files, a child process, an HTTPS
 * request) and touch no shared state, so they may run on any thread. */
#ifndef TETHER_AWS_CREDENTIALS_H
#define TETHER_AWS_CREDENTIALS_H

#include <stddef.h>
#include <time.h>

#define AWS_CREDENTIALS_MAX_KEY_ID 128
#define AWS_CREDENTIALS_MAX_SECRET 128
#define AWS_CREDENTIALS_MAX_TOKEN 8192
#define AWS_CREDENTIALS_MAX_CHAIN 8 /* source_profile hops */
#define AWS_CREDENTIALS_REFRESH_AHEAD_S 300
#define AWS_CREDENTIALS_PROCESS_TIMEOUT_MS 60000
#define AWS_REGION_MAX 64

struct aws_credentials {
    char access_key_id[AWS_CREDENTIALS_MAX_KEY_ID + 1];
    char secret_access_key[AWS_CREDENTIALS_MAX_SECRET + 1];
    char session_token[AWS_CREDENTIALS_MAX_TOKEN + 1]; /* "" when none */
    time_t expiration;                                 /* 0: never expires */
    char source[200]; /* where they came from, for messages (no secrets) */
};

struct aws_credentials_options {
    /* An explicit profile (e.g. --profile): skips the environment's keys.
     * NULL: AWS_PROFILE, AWS_DEFAULT_PROFILE, "default". */
    const char *profile;
    unsigned process_timeout_ms; /* credential_process; 0: 60000 */
};

/* Fills c after checking the values: non-empty key id and secret within the
 * caps, printable ASCII (they go into HTTP headers). -EINVAL with cause. */
int aws_credentials_set(struct aws_credentials *c, const char *access_key_id,
                        const char *secret_access_key, const char *session_token, char *cause,
                        size_t cause_len);
void aws_credentials_wipe(struct aws_credentials *c);

/* The whole chain (blocking). -ENOENT when no source has credentials (cause
 * says where it looked), another -errno when a source failed. */
int aws_credentials_resolve(const struct aws_credentials_options *options,
                            struct aws_credentials *out, char *cause, size_t cause_len);

/* Only the environment's keys: 0, -ENOENT when absent, -EINVAL when bad. */
int aws_credentials_from_environment(struct aws_credentials *out, char *cause, size_t cause_len);

/* The region: AWS_REGION, AWS_DEFAULT_REGION, then `region` in the profile
 * (explicit_profile or the selected one). -ENOENT when none is set. */
int aws_region_resolve(const char *explicit_profile, char *out, size_t out_len);

/* Parses an ISO 8601 / RFC 3339 time as AWS writes it ("2024-05-01T12:00:00Z",
 * fractions and "+hh:mm" offsets allowed) into seconds since the epoch. */
int aws_parse_iso8601(const char *text, time_t *out);

#endif
