/* AWS endpoint resolution (see endpoint.h). */
#include "aws/endpoint.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "aws/profile.h"
#include "core/cause.h"
#include "net/url.h"

const struct aws_service aws_service_lambda = {"Lambda", "lambda", "lambda", "lambda", 0, 0};
const struct aws_service aws_service_appsync = {"AppSync", "appsync", "appsync", "appsync", 0, 0};
const struct aws_service aws_service_iam = {"IAM", "iam", "iam", "iam", 1, 1};
const struct aws_service aws_service_cloudformation = {
    "CloudFormation", "cloudformation", "cloudformation", "cloudformation", 0, 0};
const struct aws_service aws_service_sts = {"STS", "sts", "sts", "sts", 0, 1};

static int is_china(const char *region)
{
    return region && strncmp(region, "cn-", 3) == 0;
}

const char *aws_endpoint_signing_region(const struct aws_service *service, const char *region)
{
    if (service->global)
        return is_china(region) ? "cn-north-1" : "us-east-1";
    return region ? region : "us-east-1";
}

/* Regions go into a host name: lower-case letters, digits and '-' only. */
static int region_valid(const char *region)
{
    size_t n = strlen(region);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)region[i]) && !isdigit((unsigned char)region[i]) &&
            region[i] != '-')
            return 0;
    return 1;
}

static int copy_url(const char *url, const char *where, char *out, size_t out_len, char *cause,
                    size_t cause_len)
{
    struct url parsed;
    char why[256];
    if (url_parse(url, &parsed, why, sizeof(why)) < 0)
        return cause_set(cause, cause_len, -EINVAL, "%s: bad endpoint URL %.300s: %s", where, url,
                         why);
    if (parsed.scheme != URL_HTTP && parsed.scheme != URL_HTTPS)
        return cause_set(cause, cause_len, -EINVAL,
                         "%s: endpoint URL %.300s is not http:// or https://", where, url);
    int n = snprintf(out, out_len, "%s", url);
    if (n < 0 || (size_t)n >= out_len)
        return cause_set(cause, cause_len, -ENAMETOOLONG, "%s: endpoint URL too long", where);
    return 0;
}

static int default_url(const struct aws_service *service, const char *region, char *out,
                       size_t out_len, char *cause, size_t cause_len)
{
    if (region && !region_valid(region))
        return cause_set(cause, cause_len, -EINVAL, "bad region \"%.80s\"", region);
    const char *suffix = is_china(region) ? "amazonaws.com.cn" : "amazonaws.com";
    int n;
    if ((service->global && !is_china(region)) || (!region && service->region_optional))
        n = snprintf(out, out_len, "https://%s.amazonaws.com/", service->host_prefix);
    else if (region)
        n = snprintf(out, out_len, "https://%s.%s.%s/", service->host_prefix, region, suffix);
    else
        return cause_set(cause, cause_len, -EINVAL,
                         "no region for %s: set --region, AWS_REGION or the profile's region",
                         service->id);
    return n < 0 || (size_t)n >= out_len ? -ENAMETOOLONG : 0;
}

/* "true" in any case, as the SDKs read boolean settings. */
static int is_true(const char *value)
{
    return value && strcasecmp(value, "true") == 0;
}

/* The environment's endpoint for the service, or NULL. */
static const char *env_url(const struct aws_service *service, char *name, size_t name_len)
{
    int n = snprintf(name, name_len, "AWS_ENDPOINT_URL_");
    for (const char *c = service->id; *c && (size_t)n + 1 < name_len; c++)
        name[n++] = *c == ' ' ? '_' : (char)toupper((unsigned char)*c);
    name[n] = '\0';
    const char *url = aws_env(name);
    if (url)
        return url;
    snprintf(name, name_len, "AWS_ENDPOINT_URL");
    return aws_env(name);
}

/* Steps 4 and 5 (and the profile's ignore setting); 1 when one matched. */
static int profile_url(const struct aws_service *service, const char *profile, int env_ignore_set,
                       char *out, size_t out_len, char *cause, size_t cause_len)
{
    struct aws_shared_config config;
    int rc = aws_shared_config_load(&config, cause, cause_len);
    if (rc < 0)
        return rc;
    const char *name = aws_profile_selected(profile);
    const struct aws_profile *p = aws_shared_config_profile(&config, name);
    const char *url = NULL;
    char where[AWS_PROFILE_MAX_NAME * 2 + 64];
    if (p && (env_ignore_set || !is_true(aws_profile_get(p, "ignore_configured_endpoint_urls")))) {
        const char *section = aws_profile_get(p, "services");
        url = aws_services_get(aws_shared_config_services(&config, section), service->config_key,
                               "endpoint_url");
        if (url)
            snprintf(where, sizeof(where), "[services %s] %s endpoint_url", section,
                     service->config_key);
        else if ((url = aws_profile_get(p, "endpoint_url")))
            snprintf(where, sizeof(where), "profile %s endpoint_url", name);
    }
    rc = url ? copy_url(url, where, out, out_len, cause, cause_len) : 0;
    aws_shared_config_free(&config);
    return rc < 0 ? rc : url != NULL;
}

int aws_endpoint_resolve(const struct aws_service *service, const char *region, const char *profile,
                         const char *explicit_url, char *out, size_t out_len, char *cause,
                         size_t cause_len)
{
    if (explicit_url)
        return copy_url(explicit_url, "the endpoint", out, out_len, cause, cause_len);
    /* The environment's setting wins over the profile's, "false" too. */
    const char *ignore = aws_env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    if (!is_true(ignore)) {
        char name[96];
        const char *url = env_url(service, name, sizeof(name));
        if (url)
            return copy_url(url, name, out, out_len, cause, cause_len);
        int rc = profile_url(service, profile, ignore != NULL, out, out_len, cause, cause_len);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    return default_url(service, region, out, out_len, cause, cause_len);
}
