/* The AWS credentials chain and region (see credentials.h). */
#include "aws/credentials.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/credentials_process.h"
#include "aws/credentials_sts.h"
#include "aws/profile.h"
#include "core/cause.h"
#include "core/encoding.h"

/* ---- values ---- */

static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

int aws_credentials_set(struct aws_credentials *c, const char *access_key_id,
                        const char *secret_access_key, const char *session_token, char *cause,
                        size_t cause_len)
{
    memset(c, 0, sizeof(*c));
    if (!access_key_id || !*access_key_id || !secret_access_key || !*secret_access_key)
        return cause_set(cause, cause_len, -EINVAL,
                         "an access key id and a secret access key are both needed");
    if (!session_token)
        session_token = "";
    if (strlen(access_key_id) > AWS_CREDENTIALS_MAX_KEY_ID ||
        strlen(secret_access_key) > AWS_CREDENTIALS_MAX_SECRET ||
        strlen(session_token) > AWS_CREDENTIALS_MAX_TOKEN)
        return cause_set(cause, cause_len, -EINVAL, "the credentials are longer than AWS issues");
    if (!printable(access_key_id) || !printable(secret_access_key) || !printable(session_token))
        return cause_set(cause, cause_len, -EINVAL,
                         "the credentials must be printable ASCII without spaces");
    strcpy(c->access_key_id, access_key_id);
    strcpy(c->secret_access_key, secret_access_key);
    strcpy(c->session_token, session_token);
    return 0;
}

void aws_credentials_wipe(struct aws_credentials *c)
{
    secure_wipe(c, sizeof(*c));
}

/* ---- time ---- */

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -EINVAL;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int parse_offset(const char *p, long *offset)
{
    *offset = 0;
    if (*p == 'Z' || *p == 'z')
        return p[1] ? -EINVAL : 0;
    if (*p != '+' && *p != '-')
        return -EINVAL;
    int sign = *p == '-' ? -1 : 1, hh, mm;
    p++;
    if (digits(&p, 2, &hh) < 0)
        return -EINVAL;
    if (*p == ':')
        p++;
    if (digits(&p, 2, &mm) < 0 || *p)
        return -EINVAL;
    *offset = sign * (hh * 3600L + mm * 60L);
    return 0;
}

int aws_parse_iso8601(const char *text, time_t *out)
{
    const char *p = text;
    struct tm tm = {0};
    if (digits(&p, 4, &tm.tm_year) < 0 || *p++ != '-' || digits(&p, 2, &tm.tm_mon) < 0 ||
        *p++ != '-' || digits(&p, 2, &tm.tm_mday) < 0 || (*p != 'T' && *p != 't' && *p != ' '))
        return -EINVAL;
    p++;
    if (digits(&p, 2, &tm.tm_hour) < 0 || *p++ != ':' || digits(&p, 2, &tm.tm_min) < 0 ||
        *p++ != ':' || digits(&p, 2, &tm.tm_sec) < 0)
        return -EINVAL;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            ;
    long offset;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60 || parse_offset(p, &offset) < 0)
        return -EINVAL;
    tm.tm_year -= 1900; /* struct tm counts years from 1900 and months from 0 */
    tm.tm_mon -= 1;
    *out = timegm(&tm) - offset;
    return 0;
}

/* ---- the environment ---- */

int aws_credentials_from_environment(struct aws_credentials *out, char *cause, size_t cause_len)
{
    const char *id = aws_env("AWS_ACCESS_KEY_ID");
    const char *secret = aws_env("AWS_SECRET_ACCESS_KEY");
    if (!id && !secret)
        return -ENOENT;
    char why[160];
    if (aws_credentials_set(out, id, secret, aws_env("AWS_SESSION_TOKEN"), why, sizeof(why)) < 0)
        return cause_set(cause, cause_len, -EINVAL, "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY: %s",
                         why);
    snprintf(out->source, sizeof(out->source), "environment");
    return 0;
}

/* ---- profiles ---- */

struct resolver {
    const struct aws_credentials_options *options;
    struct aws_shared_config files;
    const char *visited[AWS_CREDENTIALS_MAX_CHAIN + 1];
    size_t depth;
    char *cause;
    size_t cause_len;
};

static int resolve_profile(struct resolver *r, const char *name, int is_source,
                           struct aws_credentials *out);

static int static_keys(struct resolver *r, const char *name, const struct aws_profile *p,
                       struct aws_credentials *out)
{
    char why[160];
    if (aws_credentials_set(out, aws_profile_get(p, "aws_access_key_id"),
                            aws_profile_get(p, "aws_secret_access_key"),
                            aws_profile_get(p, "aws_session_token"), why, sizeof(why)) < 0)
        return cause_set(r->cause, r->cause_len, -EINVAL, "profile %s: %s", name, why);
    snprintf(out->source, sizeof(out->source), "profile %.100s (static keys)", name);
    return 0;
}

static int from_process(struct resolver *r, const char *name, const char *command,
                        struct aws_credentials *out)
{
    char why[400];
    int rc = aws_credentials_from_process(command, r->options->process_timeout_ms, out, why,
                                          sizeof(why));
    if (rc < 0)
        return cause_set(r->cause, r->cause_len, rc, "profile %s: %s", name, why);
    snprintf(out->source, sizeof(out->source), "profile %.100s (credential_process)", name);
    return 0;
}

/* The credentials a role profile starts from. */
static int role_source(struct resolver *r, const char *name, const struct aws_profile *p,
                       struct aws_credentials *source)
{
    const char *source_profile = aws_profile_get(p, "source_profile");
    const char *credential_source = aws_profile_get(p, "credential_source");
    if (source_profile && credential_source)
        return cause_set(r->cause, r->cause_len, -EINVAL,
                         "profile %s: give source_profile or credential_source, not both", name);
    if (source_profile)
        return resolve_profile(r, source_profile, 1, source);
    if (credential_source && strcasecmp(credential_source, "Environment") == 0) {
        int rc = aws_credentials_from_environment(source, r->cause, r->cause_len);
        if (rc == -ENOENT)
            snprintf(r->cause, r->cause_len,
                     "profile %s: credential_source = Environment, but AWS_ACCESS_KEY_ID and "
                     "AWS_SECRET_ACCESS_KEY are not set",
                     name);
        return rc;
    }
    return cause_set(
        r->cause, r->cause_len, -ENOTSUP,
        "profile %s: role_arn needs source_profile or credential_source = Environment%s%s", name,
        credential_source ? "; unsupported credential_source " : "",
        credential_source ? credential_source : "");
}

static int assume_role(struct resolver *r, const char *name, const struct aws_profile *p,
                       struct aws_credentials *out)
{
    if (aws_profile_get(p, "mfa_serial"))
        return cause_set(
            r->cause, r->cause_len, -ENOTSUP,
            "profile %s: mfa_serial needs an MFA code, which tether cannot ask for; use "
            "credential_process or get session credentials first",
            name);
    struct aws_credentials source;
    int rc = role_source(r, name, p, &source);
    if (rc < 0) {
        aws_credentials_wipe(&source);
        return rc;
    }
    const char *duration = aws_profile_get(p, "duration_seconds");
    char region[AWS_REGION_MAX + 1];
    const char *profile_region = aws_profile_get(p, "region");
    struct aws_sts_assume_role params = {
        .role_arn = aws_profile_get(p, "role_arn"),
        .role_session_name = aws_profile_get(p, "role_session_name"),
        .external_id = aws_profile_get(p, "external_id"),
        .duration_seconds = duration ? (unsigned)strtoul(duration, NULL, 10) : 0,
    };
    const char *region_set = aws_env_region() ? aws_env_region() : profile_region;
    if (region_set) {
        snprintf(region, sizeof(region), "%s", region_set);
        params.region = region;
    }
    char why[600];
    rc = aws_sts_assume_role(&source, &params, out, why, sizeof(why));
    aws_credentials_wipe(&source);
    if (rc < 0)
        snprintf(r->cause, r->cause_len, "profile %s: %s", name, why);
    else
        snprintf(out->source, sizeof(out->source), "profile %.60s (role %.120s)", name,
                 params.role_arn);
    return rc;
}

static int enter_profile(struct resolver *r, const char *name)
{
    for (size_t i = 0; i < r->depth; i++) {
        if (strcmp(r->visited[i], name) == 0)
            return cause_set(r->cause, r->cause_len, -ELOOP, "profile %s: source_profile loop",
                             name);
    }
    if (r->depth >= AWS_CREDENTIALS_MAX_CHAIN)
        return cause_set(r->cause, r->cause_len, -ELOOP,
                         "profile %s: more than %d source_profile hops", name,
                         AWS_CREDENTIALS_MAX_CHAIN);
    r->visited[r->depth++] = name;
    return 0;
}

static int resolve_profile(struct resolver *r, const char *name, int is_source,
                           struct aws_credentials *out)
{
    const struct aws_profile *p = aws_shared_config_profile(&r->files, name);
    if (!p)
        return cause_set(
            r->cause, r->cause_len, is_source ? -EINVAL : -ENOENT, "profile %s is not in %s or %s",
            name, r->files.config_path[0] ? r->files.config_path : "~/.aws/config",
            r->files.credentials_path[0] ? r->files.credentials_path : "~/.aws/credentials");
    int has_keys = aws_profile_get(p, "aws_access_key_id") != NULL;
    int has_role = aws_profile_get(p, "role_arn") != NULL;
    const char *process = aws_profile_get(p, "credential_process");
    /* A source profile's static keys end the chain (they may even be the
     * role profile's own: source_profile naming itself). */
    if (has_role && !(is_source && has_keys)) {
        int rc = enter_profile(r, name);
        return rc < 0 ? rc : assume_role(r, name, p, out);
    }
    if (has_keys)
        return static_keys(r, name, p, out);
    if (process)
        return from_process(r, name, process, out);
    return cause_set(
        r->cause, r->cause_len, is_source ? -EINVAL : -ENOENT,
        "profile %s has no credentials (aws_access_key_id, role_arn or credential_process)", name);
}

int aws_credentials_resolve(const struct aws_credentials_options *options,
                            struct aws_credentials *out, char *cause, size_t cause_len)
{
    static const struct aws_credentials_options defaults = {0};
    if (!options)
        options = &defaults;
    memset(out, 0, sizeof(*out));
    int rc;
    if (!(options->profile && *options->profile)) {
        rc = aws_credentials_from_environment(out, cause, cause_len);
        if (rc != -ENOENT)
            return rc;
    }
    struct resolver r = {.options = options, .cause = cause, .cause_len = cause_len};
    rc = aws_shared_config_load(&r.files, cause, cause_len);
    if (rc < 0)
        return rc;
    rc = resolve_profile(&r, aws_profile_selected(options->profile), 0, out);
    if (rc == -ENOENT && !(options->profile && *options->profile) && !aws_env("AWS_PROFILE") &&
        !aws_env("AWS_DEFAULT_PROFILE"))
        snprintf(cause, cause_len,
                 "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                 "AWS_PROFILE, or a [default] profile in %s or %s",
                 r.files.credentials_path[0] ? r.files.credentials_path : "~/.aws/credentials",
                 r.files.config_path[0] ? r.files.config_path : "~/.aws/config");
    aws_shared_config_free(&r.files);
    if (rc < 0)
        aws_credentials_wipe(out);
    return rc;
}

/* ---- region ---- */

int aws_region_resolve(const char *explicit_profile, char *out, size_t out_len)
{
    const char *region = aws_env_region();
    struct aws_shared_config files = {0};
    char ignored[200];
    if (!region && aws_shared_config_load(&files, ignored, sizeof(ignored)) == 0)
        region = aws_profile_get(
            aws_shared_config_profile(&files, aws_profile_selected(explicit_profile)), "region");
    int rc = -ENOENT;
    if (region) {
        int n = snprintf(out, out_len, "%s", region);
        rc = n < 0 || (size_t)n >= out_len ? -ENAMETOOLONG : 0;
    }
    aws_shared_config_free(&files);
    return rc;
}
