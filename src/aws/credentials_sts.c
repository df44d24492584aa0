/* STS AssumeRole (see credentials_sts.h). */
#include "aws/credentials_sts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/call.h"
#include "aws/endpoint.h"
#include "aws/query.h"
#include "aws/xml.h"
#include "core/cause.h"
#include "core/encoding.h"
#include "core/percent.h"

#define STS_MAX_RESPONSE (256 * 1024)
#define STS_TIMEOUT_MS 15000

/* ---- the request ---- */

int aws_sts_endpoint(const struct aws_sts_assume_role *p, char *out, size_t out_len)
{
    char cause[400];
    return aws_endpoint_resolve(&aws_service_sts, p->region, p->profile, p->endpoint, out, out_len,
                                cause, sizeof(cause));
}

int aws_sts_form_body(struct buf *out, const struct aws_sts_assume_role *p,
                      const char *session_name)
{
    char duration[16];
    snprintf(duration, sizeof(duration), "%u", p->duration_seconds);
    const struct aws_query_param params[] = {
        {"RoleArn", p->role_arn},
        {"RoleSessionName", session_name},
        {"DurationSeconds", p->duration_seconds ? duration : NULL},
        {"ExternalId", p->external_id},
    };
    return aws_query_form(out, "AssumeRole", "2011-06-15", params, 4);
}

/* ---- the answer ---- */

static void describe_error(int http_status, const char *xml, size_t len, char *cause,
                           size_t cause_len)
{
    char code[128], message[400];
    xml_aws_error(xml, len, code, sizeof(code), message, sizeof(message), NULL, 0);
    if (code[0] && message[0])
        snprintf(cause, cause_len, "STS AssumeRole failed: HTTP %d: %s: %.300s", http_status, code,
                 message);
    else if (code[0])
        snprintf(cause, cause_len, "STS AssumeRole failed: HTTP %d: %s", http_status, code);
    else
        snprintf(cause, cause_len, "STS AssumeRole failed: HTTP %d", http_status);
    secure_wipe(message, sizeof(message));
}

/* The credentials of an AssumeRoleResponse; -EPROTO when any is missing
 * or unusable. */
static int read_credentials(const struct xml_node *creds, struct aws_credentials *out, char *cause,
                            size_t cause_len)
{
    const char *id = xml_path_text(creds, "AccessKeyId");
    const char *secret = xml_path_text(creds, "SecretAccessKey");
    const char *token = xml_path_text(creds, "SessionToken");
    const char *expiration = xml_path_text(creds, "Expiration");
    char why[160];
    if (!id || !secret || !token || !expiration)
        return cause_set(cause, cause_len, -EPROTO,
                         "STS AssumeRole answer lacks a credential field");
    if (aws_credentials_set(out, id, secret, token, why, sizeof(why)) < 0)
        return cause_set(cause, cause_len, -EPROTO, "STS AssumeRole answer: %s", why);
    if (aws_parse_iso8601(expiration, &out->expiration) < 0) {
        aws_credentials_wipe(out);
        return cause_set(cause, cause_len, -EPROTO, "STS AssumeRole answer: bad Expiration");
    }
    return 0;
}

int aws_sts_parse_response(int http_status, const char *xml, size_t len,
                           struct aws_credentials *out, char *cause, size_t cause_len)
{
    if (http_status != 200) {
        describe_error(http_status, xml, len, cause, cause_len);
        return http_status == 403 || http_status == 401 ? -EACCES : -EIO;
    }
    struct xml_doc *doc;
    char why[200];
    if (xml_parse(xml, len, &doc, why, sizeof(why)) < 0)
        return cause_set(cause, cause_len, -EPROTO, "STS AssumeRole answer: %s", why);
    const struct xml_node *creds = xml_path(xml_root(doc), "AssumeRoleResult/Credentials");
    int rc = creds ? read_credentials(creds, out, cause, cause_len)
                   : cause_set(cause, cause_len, -EPROTO,
                               "STS AssumeRole answer has no AssumeRoleResult/Credentials");
    xml_free(doc);
    return rc;
}

/* ---- the call ---- */

int aws_sts_assume_role(const struct aws_credentials *source, const struct aws_sts_assume_role *p,
                        struct aws_credentials *out, char *cause, size_t cause_len)
{
    char endpoint[AWS_ENDPOINT_MAX], session[AWS_STS_MAX_SESSION_NAME + 1];
    int rc = aws_endpoint_resolve(&aws_service_sts, p->region, p->profile, p->endpoint, endpoint,
                                  sizeof(endpoint), cause, cause_len);
    if (rc < 0)
        return rc;
    if (strlen(p->role_arn) > AWS_STS_MAX_ROLE_ARN)
        return cause_set(cause, cause_len, -EINVAL, "role_arn is too long");
    if (p->role_session_name)
        snprintf(session, sizeof(session), "%s", p->role_session_name);
    else
        snprintf(session, sizeof(session), "tether-%lld", (long long)time(NULL));
    struct buf body = BUF_INIT;
    rc = aws_sts_form_body(&body, p, session);
    const struct aws_context ctx = {source, p->region, p->profile};
    const struct aws_request request = {.service = &aws_service_sts,
                                        .method = "POST",
                                        .path = "/",
                                        .content_type = AWS_QUERY_CONTENT_TYPE,
                                        .body = buf_bytes(&body),
                                        .body_len = buf_length(&body),
                                        .timeout_ms = STS_TIMEOUT_MS,
                                        .max_answer = STS_MAX_RESPONSE,
                                        .endpoint = endpoint};
    struct aws_answer answer;
    if (rc == 0 && (rc = aws_call(&ctx, &request, &answer, cause, cause_len)) == 0) {
        /* The answer holds the role's credentials: aws_answer_free wipes it. */
        rc = aws_sts_parse_response(answer.status, buf_bytes(&answer.body),
                                    buf_length(&answer.body), out, cause, cause_len);
        aws_answer_free(&answer);
    }
    if (rc == 0)
        snprintf(out->source, sizeof(out->source), "role %.150s", p->role_arn);
    buf_free(&body);
    return rc;
}
