/* STS GetCallerIdentity (see sts.h). */
#include "aws/sts.h"

#include <errno.h>
#include <string.h>

#include "aws/call.h"
#include "aws/query.h"
#include "core/cause.h"

static int printable(const char *s)
{
    for (; *s; s++) {
        if (*s <= ' ' || *s > '~')
            return 0;
    }
    return 1;
}

static int read_identity(const struct xml_node *result, struct aws_sts_identity *out, char *cause,
                         size_t cause_len)
{
    const char *account = xml_path_text(result, "Account");
    const char *arn = xml_path_text(result, "Arn");
    const char *user_id = xml_path_text(result, "UserId");
    if (!account || strlen(account) != 12 || strspn(account, "0123456789") != 12)
        return cause_set(cause, cause_len, -EPROTO, "GetCallerIdentity answer: bad Account");
    if (!arn || strncmp(arn, "arn:", 4) != 0 || strlen(arn) > AWS_STS_MAX_ARN || !printable(arn))
        return cause_set(cause, cause_len, -EPROTO, "GetCallerIdentity answer: bad Arn");
    if (!user_id || strlen(user_id) > AWS_STS_MAX_USER_ID || !printable(user_id))
        return cause_set(cause, cause_len, -EPROTO, "GetCallerIdentity answer: bad UserId");
    memcpy(out->account, account, 13);
    memcpy(out->arn, arn, strlen(arn) + 1);
    memcpy(out->user_id, user_id, strlen(user_id) + 1);
    return 0;
}

int aws_sts_parse_caller_identity(const char *body, size_t len, struct aws_sts_identity *out,
                                  char *cause, size_t cause_len)
{
    struct xml_doc *doc;
    const struct xml_node *result;
    memset(out, 0, sizeof(*out));
    int rc = aws_query_result(body, len, "GetCallerIdentity", &doc, &result, cause, cause_len);
    if (rc < 0)
        return rc;
    rc = read_identity(result, out, cause, cause_len);
    xml_free(doc);
    return rc;
}

int aws_sts_get_caller_identity(const struct aws_context *ctx, struct aws_sts_identity *out,
                                char *cause, size_t cause_len)
{
    struct xml_doc *doc;
    const struct xml_node *result;
    memset(out, 0, sizeof(*out));
    int rc = aws_query_call(ctx, &aws_service_sts, "GetCallerIdentity", AWS_STS_VERSION, NULL, 0,
                            &doc, &result, NULL, 0, cause, cause_len);
    if (rc == 0)
        rc = read_identity(result, out, cause, cause_len);
    xml_free(doc);
    return rc;
}
