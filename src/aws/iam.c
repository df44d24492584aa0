/* IAM's inline role policies (see iam.h). */
#include "aws/iam.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/call.h"
#include "aws/query.h"
#include "core/cause.h"
#include "core/encoding.h"
#include "core/percent.h"

/* IAM's role names: letters, digits and +=,.@_- (its RoleName pattern). */
static int valid_role_name(const char *name, size_t n)
{
    if (n == 0 || n > AWS_IAM_MAX_ROLE_NAME)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("+=,.@_-", c)))
            return 0;
    }
    return 1;
}

int aws_iam_role_name_from_arn(const char *role_arn, char *out, size_t out_len)
{
    /* arn : partition : iam : (no region) : account : role/path/name */
    const char *field[6];
    const char *p = role_arn;
    for (int i = 0; i < 6; i++) {
        field[i] = p;
        const char *colon = i < 5 ? strchr(p, ':') : NULL;
        if (i < 5 && !colon)
            return -EINVAL;
        p = colon ? colon + 1 : p;
    }
    if (strncmp(field[0], "arn:", 4) != 0 || field[1] == field[2] - 1 ||
        strncmp(field[2], "iam:", 4) != 0 || field[3][0] != ':' ||
        strncmp(field[5], "role/", 5) != 0)
        return -EINVAL;
    for (const char *d = field[4]; *d != ':'; d++) {
        if (*d < '0' || *d > '9')
            return -EINVAL;
    }
    const char *name = strrchr(field[5], '/') + 1;
    size_t n = strlen(name);
    if (!valid_role_name(name, n) || n >= out_len)
        return -EINVAL;
    memcpy(out, name, n + 1);
    return 0;
}

/* Resources are named in AWS's Service Authorization Reference for AppSync
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsappsync.html):
 * EventConnect acts on the "apis" resource, arn:PARTITION:appsync:REGION:
 * ACCOUNT:apis/API_ID; EventPublish and EventSubscribe on "channelNamespace",
 * the same ARN followed by /channelNamespace/NAME. */
int aws_iam_bridge_policy(struct buf *out, const char *api_arn, const char *namespace_name)
{
    struct buf ns_arn = BUF_INIT;
    int rc = buf_printf(&ns_arn, "%s/channelNamespace/%s", api_arn, namespace_name);
    if (rc == 0)
        rc = buf_append_str(out, "{\"Version\":\"2012-10-17\",\"Statement\":["
                                 "{\"Effect\":\"Allow\",\"Action\":\"appsync:EventConnect\","
                                 "\"Resource\":");
    if (rc == 0)
        rc = json_quote(out, api_arn, strlen(api_arn));
    if (rc == 0)
        rc = buf_append_str(out, "},{\"Effect\":\"Allow\",\"Action\":"
                                 "[\"appsync:EventSubscribe\",\"appsync:EventPublish\"],"
                                 "\"Resource\":");
    if (rc == 0)
        rc = json_quote(out, buf_bytes(&ns_arn), buf_length(&ns_arn));
    if (rc == 0)
        rc = buf_append_str(out, "}]}");
    buf_free(&ns_arn);
    return rc;
}

/* GetRolePolicyResult's document: IAM sends it URL-encoded (RFC 3986). */
static int read_document(const struct xml_node *result, struct buf *document, char *cause,
                         size_t cause_len)
{
    const char *encoded = xml_path_text(result, "PolicyDocument");
    if (!encoded)
        return cause_set(cause, cause_len, -EPROTO, "GetRolePolicy answer has no PolicyDocument");
    if (strlen(encoded) > 3 * AWS_IAM_MAX_POLICY_DOCUMENT)
        return cause_set(cause, cause_len, -EPROTO, "GetRolePolicy answer: document too long");
    if (percent_decode(document, encoded, strlen(encoded), PERCENT_STRICT) < 0 ||
        buf_terminate(document) < 0)
        return cause_set(cause, cause_len, -EPROTO, "GetRolePolicy answer: bad PolicyDocument");
    return 0;
}

int aws_iam_parse_get_role_policy(const char *body, size_t len, struct buf *document, char *cause,
                                  size_t cause_len)
{
    struct xml_doc *doc;
    const struct xml_node *result;
    int rc = aws_query_result(body, len, "GetRolePolicy", &doc, &result, cause, cause_len);
    if (rc == 0)
        rc = read_document(result, document, cause, cause_len);
    xml_free(doc);
    return rc;
}

/* Role and policy names go to IAM as they are; checked first so that a bad
 * one is a clear local error. */
static int check_names(const char *role_name, const char *policy_name, char *cause,
                       size_t cause_len)
{
    if (!valid_role_name(role_name, strlen(role_name)))
        return cause_set(cause, cause_len, -EINVAL, "\"%.80s\" is not an IAM role name", role_name);
    if (!valid_role_name(policy_name, strlen(policy_name)) ||
        strlen(policy_name) > AWS_IAM_MAX_POLICY_NAME)
        return cause_set(cause, cause_len, -EINVAL, "\"%.80s\" is not an IAM policy name",
                         policy_name);
    return 0;
}

/* One IAM action on a role's inline policy: put is the document to put (or
 * NULL); the answer's document, when wanted, goes into got. */
static int role_policy_call(const struct aws_context *ctx, const char *action,
                            const char *role_name, const char *policy_name, const char *put,
                            struct buf *got, char *cause, size_t cause_len)
{
    int rc = check_names(role_name, policy_name, cause, cause_len);
    if (rc < 0)
        return rc;
    if (put && strlen(put) > AWS_IAM_MAX_POLICY_DOCUMENT)
        return cause_set(cause, cause_len, -EINVAL, "IAM policy document too long");
    const struct aws_query_param params[] = {
        {"RoleName", role_name}, {"PolicyName", policy_name}, {"PolicyDocument", put}};
    struct xml_doc *doc;
    const struct xml_node *result;
    rc = aws_query_call(ctx, &aws_service_iam, action, AWS_IAM_VERSION, params, 3, &doc, &result,
                        NULL, 0, cause, cause_len);
    if (rc == 0 && got)
        rc = read_document(result, got, cause, cause_len);
    xml_free(doc);
    return rc;
}

int aws_iam_put_role_policy(const struct aws_context *ctx, const char *role_name,
                            const char *policy_name, const char *document, char *cause,
                            size_t cause_len)
{
    return role_policy_call(ctx, "PutRolePolicy", role_name, policy_name, document, NULL, cause,
                            cause_len);
}

int aws_iam_get_role_policy(const struct aws_context *ctx, const char *role_name,
                            const char *policy_name, struct buf *document, char *cause,
                            size_t cause_len)
{
    return role_policy_call(ctx, "GetRolePolicy", role_name, policy_name, NULL, document, cause,
                            cause_len);
}

int aws_iam_delete_role_policy(const struct aws_context *ctx, const char *role_name,
                               const char *policy_name, char *cause, size_t cause_len)
{
    return role_policy_call(ctx, "DeleteRolePolicy", role_name, policy_name, NULL, NULL, cause,
                            cause_len);
}
