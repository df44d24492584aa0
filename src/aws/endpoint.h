/* Where an AWS service's API is: the endpoint rules of the AWS CLI and SDKs
 * (docs/deploy.md, "Endpoints"), one place for every AWS client in tether.
 *
 * Precedence, first match wins:
 *   1. an explicit URL (a command-line option, a test);
 *   2. AWS_ENDPOINT_URL_<SERVICE ID> (the SDK service id upper-cased, spaces
 *      as '_': AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL_APPSYNC ...);
 *   3. AWS_ENDPOINT_URL;
 *   4. the profile's "services = NAME" section's "<config key> =\n
 *      endpoint_url = URL" (aws/profile.h);
 *   5. the profile's own endpoint_url;
 *   6. AWS's default: https://PREFIX.REGION.amazonaws.com/ (".com.cn" for
 *      cn-* regions); IAM's global https://iam.amazonaws.com/; STS without
 *      a region: the global https://sts.amazonaws.com/.
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true (else the profile's
 * ignore_configured_endpoint_urls = true) skips 2 to 5, not 1. A configured
 * URL must be http:// or https://; a bad one is an error naming where it was
 * set, never silently skipped.
 *
 * Ownership: the service descriptions are static; results go into caller
 * buffers. Blocking (it may read ~/.aws/config), any thread. */
#ifndef TETHER_AWS_ENDPOINT_H
#define TETHER_AWS_ENDPOINT_H

#include <stddef.h>

struct aws_service {
    const char *id;           /* the SDK service id: "Lambda", "AppSync", "IAM" ... */
    const char *config_key;   /* the key inside a [services NAME] section: "lambda" ... */
    const char *signing_name; /* the SigV4 service name */
    const char *host_prefix;  /* the default endpoint's first label */
    int global;               /* one endpoint for all regions, signed for us-east-1 (IAM) */
    int region_optional;      /* without a region: the global PREFIX.amazonaws.com (STS) */
};

extern const struct aws_service aws_service_lambda, aws_service_appsync, aws_service_iam,
    aws_service_cloudformation, aws_service_sts;

#define AWS_ENDPOINT_MAX 2048

/* The endpoint URL into out. -EINVAL with cause for a bad configured URL, a
 * bad region, or no region where one is needed; -ENAMETOOLONG when out is
 * too small; a shared-config read error as aws/profile.h returns it. */
int aws_endpoint_resolve(const struct aws_service *service, const char *region, const char *profile,
                         const char *explicit_url, char *out, size_t out_len, char *cause,
                         size_t cause_len);

/* The region SigV4 signs for with this service (us-east-1 for global
 * services and for no region; cn-north-1 for IAM in China). */
const char *aws_endpoint_signing_region(const struct aws_service *service, const char *region);

#endif
