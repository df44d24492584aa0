/* STS AssumeRole over the query API, as the AWS CLI calls it for a profile
 * with role_arn:
 *   POST https://sts.REGION.amazonaws.com/  (https://sts.amazonaws.com/ and
 *   region us-east-1 when no region is set; AWS_ENDPOINT_URL_STS,
 *   AWS_ENDPOINT_URL and the profile's endpoint settings override the
 *   endpoint: aws/endpoint.h)
 *   Content-Type: application/x-www-form-urlencoded (aws/query.h, as the SDKs send it)
 *   Action=AssumeRole&Version=2011-06-15&RoleArn=...&RoleSessionName=...
 *   [&DurationSeconds=N][&ExternalId=...]
 * signed with SigV4 (service "sts") by the source credentials. The XML
 * answer's Credentials (AccessKeyId, SecretAccessKey, SessionToken,
 * Expiration) become the role's credentials; an ErrorResponse's Code and
 * Message become the cause. The request goes through aws/call.h's aws_call
 * (blocking on a private loop, so from any thread but never from inside
 * another loop's callback; proxies and AWS_CA_BUNDLE apply). */
#ifndef TETHER_AWS_CREDENTIALS_STS_H
#define TETHER_AWS_CREDENTIALS_STS_H

#include <stddef.h>

#include "aws/credentials.h"
#include "core/buf.h"

#define AWS_STS_MAX_ROLE_ARN 2048
#define AWS_STS_MAX_SESSION_NAME 64

struct aws_sts_assume_role {
    const char *role_arn;
    const char *role_session_name; /* NULL: "tether-<unix time>" */
    const char *external_id;       /* optional */
    unsigned duration_seconds;     /* 0: STS's default (one hour) */
    const char *region;            /* NULL: the global endpoint, signed for us-east-1 */
    const char *endpoint;          /* NULL: from the environment or the region */
    const char *profile;           /* for endpoint settings; NULL: the selected one */
};

int aws_sts_assume_role(const struct aws_credentials *source, const struct aws_sts_assume_role *p,
                        struct aws_credentials *out, char *cause, size_t cause_len);

/* The pieces, for tests. */
int aws_sts_endpoint(const struct aws_sts_assume_role *p, char *out, size_t out_len);
int aws_sts_form_body(struct buf *out, const struct aws_sts_assume_role *p,
                      const char *session_name);
int aws_sts_parse_response(int http_status, const char *xml, size_t len,
                           struct aws_credentials *out, char *cause, size_t cause_len);

#endif
