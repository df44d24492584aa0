/* IAM, for the one thing `tether dev` changes there: an inline policy on a
 * live function's execution role that lets the bridge use the session's
 * events API, put when the function is attached and deleted when it is
 * restored. Query protocol (aws/query.h), Version 2010-05-08, sent to IAM's
 * global endpoint (https://iam.amazonaws.com/) and signed for us-east-1, as
 * @aws-sdk/client-iam does:
 *   PutRolePolicy    RoleName, PolicyName, PolicyDocument
 *   GetRolePolicy    RoleName, PolicyName -> PolicyDocument (URL-encoded)
 *   DeleteRolePolicy RoleName, PolicyName
 * Blocking; any thread but never inside a loop's callback. 0 or -errno
 * with the cause; -ENOENT when the role or the policy does not exist. */
#ifndef TETHER_AWS_IAM_H
#define TETHER_AWS_IAM_H

#include <stddef.h>

#include "core/buf.h"

struct aws_context;

#define AWS_IAM_VERSION "2010-05-08"
#define AWS_IAM_MAX_ROLE_NAME 64
#define AWS_IAM_MAX_POLICY_NAME 128
/* IAM's limit on a role's inline policies, all together. */
#define AWS_IAM_MAX_POLICY_DOCUMENT 10240

/* The role name of a role ARN: arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME
 * gives NAME. -EINVAL when the ARN is not a role's. */
int aws_iam_role_name_from_arn(const char *role_arn, char *out, size_t out_len);
/* The bridge's least-privilege policy for one events API and namespace:
 * appsync:EventConnect on the API's ARN, appsync:EventSubscribe and
 * appsync:EventPublish on the namespace's (API_ARN/channelNamespace/NS).
 * docs/deploy.md shows the same document. */
int aws_iam_bridge_policy(struct buf *out, const char *api_arn, const char *namespace_name);

int aws_iam_put_role_policy(const struct aws_context *ctx, const char *role_name,
                            const char *policy_name, const char *document, char *cause,
                            size_t cause_len);
/* The policy's document, URL-decoded, into document. */
int aws_iam_get_role_policy(const struct aws_context *ctx, const char *role_name,
                            const char *policy_name, struct buf *document, char *cause,
                            size_t cause_len);
int aws_iam_delete_role_policy(const struct aws_context *ctx, const char *role_name,
                               const char *policy_name, char *cause, size_t cause_len);

/* The pieces, for tests: GetRolePolicy's answer (status 200) into document. */
int aws_iam_parse_get_role_policy(const char *body, size_t len, struct buf *document, char *cause,
                                  size_t cause_len);

#endif
