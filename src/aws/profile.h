/* The AWS shared config and credentials files (~/.aws/config and
 * ~/.aws/credentials), read the way the AWS CLI and SDKs read them:
 *
 * - Locations: AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, else
 *   $HOME/.aws/config and $HOME/.aws/credentials; a leading "~/" in the
 *   variables is expanded. A missing file is not an error.
 * - Sections: in the credentials file "[name]"; in the config file
 *   "[default]" and "[profile name]" ("[profile default]" too), and
 *   "[services name]" (per-service settings that a profile's
 *   "services = name" selects; kept apart from the profiles). Other config
 *   sections ("[sso-session x]", a bare "[x]") are skipped.
 * - Properties: "key = value"; keys are case-insensitive; values are trimmed;
 *   a '#' or ';' preceded by white space starts a comment, and so does one
 *   at the start of a line. Indented lines continue the previous property
 *   (nested settings such as "s3 =\n  max_concurrent_requests = 10"): in a
 *   services section they are kept as "s3.max_concurrent_requests" (keys
 *   lower-cased), elsewhere they are ignored.
 * - Both files make one set of profiles: a key in the credentials file wins
 *   over the same key in the config file's profile of the same name
 *   (botocore's rule).
 *
 * Ownership: a struct aws_shared_config owns every string in it; values may
 * be secrets and are wiped by aws_shared_config_free. Pointers returned by
 * the lookups stay valid until then.
 *
 * Errors: 0 or a negative errno; -EINVAL with "FILE:LINE: reason" in cause
 * for a malformed file, -EFBIG past the caps below. */
#ifndef TETHER_AWS_PROFILE_H
#define TETHER_AWS_PROFILE_H

#include <stddef.h>

#define AWS_PROFILE_MAX_FILE (1024 * 1024) /* bytes in one file */
#define AWS_PROFILE_MAX_LINE (16 * 1024)   /* bytes in one line */
#define AWS_PROFILE_MAX_NAME 128           /* bytes in a profile name */
#define AWS_PROFILE_MAX_PROFILES 512
#define AWS_PROFILE_MAX_PROPERTIES 256 /* per profile */
/* "service.setting" for a nested setting of a services section */
#define AWS_PROFILE_MAX_NESTED_KEY (2 * AWS_PROFILE_MAX_NAME + 1)

struct aws_profile_property {
    char *key; /* lower-case */
    char *value;
};

struct aws_profile {
    char *name;
    struct aws_profile_property *properties;
    size_t count;
};

struct aws_shared_config {
    struct aws_profile *profiles;
    size_t count;
    struct aws_profile *services; /* [services NAME] sections (same caps as profiles) */
    size_t services_count;
    char config_path[4096]; /* the files read (or looked for), for messages */
    char credentials_path[4096];
};

/* Which file a text comes from: the rules for section names differ. */
enum aws_profile_file_kind { AWS_PROFILE_CONFIG_FILE, AWS_PROFILE_CREDENTIALS_FILE };

/* Reads both files from their usual or configured places into `out`. */
int aws_shared_config_load(struct aws_shared_config *out, char *cause, size_t cause_len);
void aws_shared_config_free(struct aws_shared_config *config);

/* The profile called name, or NULL. */
const struct aws_profile *aws_shared_config_profile(const struct aws_shared_config *config,
                                                    const char *name);
/* A property's value (key in any case), or NULL; "" values count as absent. */
const char *aws_profile_get(const struct aws_profile *profile, const char *key);
/* The [services name] section, or NULL. */
const struct aws_profile *aws_shared_config_services(const struct aws_shared_config *config,
                                                     const char *name);
/* A service's nested setting in a services section ("lambda", "endpoint_url"),
 * or NULL. */
const char *aws_services_get(const struct aws_profile *services, const char *service_key,
                             const char *setting);

/* The profile to use: `explicit_name` when given, else AWS_PROFILE, else
 * AWS_DEFAULT_PROFILE (the CLI v1's name), else "default". */
const char *aws_profile_selected(const char *explicit_name);

/* A setting from the environment; NULL when it is unset or empty (the AWS
 * CLI treats an empty variable as unset). */
const char *aws_env(const char *name);
/* AWS_REGION, else AWS_DEFAULT_REGION, else NULL. */
const char *aws_env_region(void);

#endif
