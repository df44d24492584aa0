/* STS GetCallerIdentity: who the credentials belong to. The account id is
 * what tether needs to name resources in ARNs, and the ARN is what
 * `tether dev` shows as "who am I". Query protocol (aws/query.h), Version
 * 2011-06-15, sent to STS's regional endpoint as @aws-sdk/client-sts does.
 * (AssumeRole, which the credential chain calls, is aws/credentials_sts.h.)
 * Blocking; any thread but never inside a loop's callback. */
#ifndef TETHER_AWS_STS_H
#define TETHER_AWS_STS_H

#include <stddef.h>

struct aws_context;

#define AWS_STS_VERSION "2011-06-15"
#define AWS_STS_MAX_ARN 2048
#define AWS_STS_MAX_USER_ID 256

struct aws_sts_identity {
    char account[13]; /* twelve digits */
    char arn[AWS_STS_MAX_ARN + 1];
    char user_id[AWS_STS_MAX_USER_ID + 1];
};

int aws_sts_get_caller_identity(const struct aws_context *ctx, struct aws_sts_identity *out,
                                char *cause, size_t cause_len);

/* The piece, for tests: a GetCallerIdentity answer (status 200). */
int aws_sts_parse_caller_identity(const char *body, size_t len, struct aws_sts_identity *out,
                                  char *cause, size_t cause_len);

#endif
