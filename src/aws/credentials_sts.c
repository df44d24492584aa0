/* STS AssumeRole (see credentials_sts.h). */
#include "aws/credentials_sts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/call.h"
#include "aws/endpoint.h"
#include "core/cause.h"
#include "core/encoding.h"
#include "core/percent.h"

#define STS_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define STS_MAX_RESPONSE (256 * 1024)
#define STS_TIMEOUT_MS 15000

/* ---- the request ---- */

int aws_sts_endpoint(const struct aws_sts_assume_role *p, char *out, size_t out_len)
{
    char cause[400];
    return aws_endpoint_resolve(&aws_service_sts, p->region, p->profile, p->endpoint, out, out_len,
                                cause, sizeof(cause));
}

/* application/x-www-form-urlencoded: everything but unreserved characters
 * percent-encoded (what the AWS SDKs send). */
static int form_append(struct buf *out, const char *key, const char *value)
{
    int rc = buf_printf(out, "&%s=", key);
    return rc == 0 ? percent_encode(out, value, strlen(value), NULL) : rc;
}

int aws_sts_form_body(struct buf *out, const struct aws_sts_assume_role *p,
                      const char *session_name)
{
    int rc = buf_append_str(out, "Action=AssumeRole&Version=2011-06-15");
    if (rc == 0)
        rc = form_append(out, "RoleArn", p->role_arn);
    if (rc == 0)
        rc = form_append(out, "RoleSessionName", session_name);
    if (rc == 0 && p->duration_seconds)
        rc = buf_printf(out, "&DurationSeconds=%u", p->duration_seconds);
    if (rc == 0 && p->external_id)
        rc = form_append(out, "ExternalId", p->external_id);
    return rc;
}

/* ---- the answer ---- */

/* Appends text with XML's predefined and numeric (ASCII) entities decoded. */
static int xml_unescape(struct buf *out, const char *s, size_t len)
{
    static const struct {
        const char *name;
        char c;
    } entities[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '&') {
            size_t k, rest = len - i - 1;
            for (k = 0; k < sizeof(entities) / sizeof(entities[0]); k++) {
                size_t n = strlen(entities[k].name);
                if (rest >= n && memcmp(s + i + 1, entities[k].name, n) == 0) {
                    c = entities[k].c;
                    i += n;
                    break;
                }
            }
            if (k == sizeof(entities) / sizeof(entities[0])) {
                char *end;
                const char *num = s + i + 1;
                if (rest < 3 || num[0] != '#')
                    return -EINVAL;
                long v = num[1] == 'x' ? strtol(num + 2, &end, 16) : strtol(num + 1, &end, 10);
                if (*end != ';' || v <= 0 || v > 0x7e || (size_t)(end - s) >= len)
                    return -EINVAL;
                c = (char)v;
                i = (size_t)(end - s);
            }
        }
        if (buf_append_char(out, c) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* The text of the first <tag>...</tag> within [from, end); into out. */
static int xml_element(const char *from, const char *end, const char *tag, struct buf *out)
{
    char open[64], close[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *start = memmem(from, (size_t)(end - from), open, strlen(open));
    if (!start)
        return -ENOENT;
    start += strlen(open);
    const char *stop = memmem(start, (size_t)(end - start), close, strlen(close));
    if (!stop)
        return -EINVAL;
    buf_reset(out);
    int rc = xml_unescape(out, start, (size_t)(stop - start));
    return rc == 0 ? buf_terminate(out) : rc;
}

static void describe_error(int http_status, const char *xml, size_t len, char *cause,
                           size_t cause_len)
{
    struct buf code = BUF_INIT, message = BUF_INIT;
    if (xml_element(xml, xml + len, "Code", &code) == 0 &&
        xml_element(xml, xml + len, "Message", &message) == 0)
        snprintf(cause, cause_len, "STS AssumeRole failed: HTTP %d: %s: %.300s", http_status,
                 buf_bytes(&code), buf_bytes(&message));
    else if (buf_length(&code) > 0)
        snprintf(cause, cause_len, "STS AssumeRole failed: HTTP %d: %s", http_status,
                 buf_bytes(&code));
    else
        snprintf(cause, cause_len, "STS AssumeRole failed: HTTP %d", http_status);
    buf_free(&code);
    buf_free(&message);
}

int aws_sts_parse_response(int http_status, const char *xml, size_t len,
                           struct aws_credentials *out, char *cause, size_t cause_len)
{
    if (http_status != 200) {
        describe_error(http_status, xml, len, cause, cause_len);
        return http_status == 403 || http_status == 401 ? -EACCES : -EIO;
    }
    const char *end = xml + len;
    const char *creds = memmem(xml, len, "<Credentials>", 13);
    if (!creds)
        return cause_set(cause, cause_len, -EPROTO, "STS AssumeRole answer has no <Credentials>");
    struct buf id = BUF_INIT, secret = BUF_INIT, token = BUF_INIT, expiration = BUF_INIT;
    int rc = xml_element(creds, end, "AccessKeyId", &id);
    if (rc == 0)
        rc = xml_element(creds, end, "SecretAccessKey", &secret);
    if (rc == 0)
        rc = xml_element(creds, end, "SessionToken", &token);
    if (rc == 0)
        rc = xml_element(creds, end, "Expiration", &expiration);
    char why[160];
    if (rc < 0)
        snprintf(cause, cause_len, "STS AssumeRole answer lacks a credential field");
    else if ((rc = aws_credentials_set(out, buf_bytes(&id), buf_bytes(&secret), buf_bytes(&token),
                                       why, sizeof(why))) < 0)
        snprintf(cause, cause_len, "STS AssumeRole answer: %s", why);
    else if ((rc = aws_parse_iso8601(buf_bytes(&expiration), &out->expiration)) < 0) {
        aws_credentials_wipe(out);
        snprintf(cause, cause_len, "STS AssumeRole answer: bad Expiration");
    }
    secure_free_buf(&id);
    secure_free_buf(&secret);
    secure_free_buf(&token);
    secure_free_buf(&expiration);
    return rc < 0 ? -EPROTO : 0;
}

int aws_sts_xml_element(const char *xml, size_t len, const char *tag, struct buf *out)
{
    return xml_element(xml, xml + len, tag, out);
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
                                        .content_type = STS_CONTENT_TYPE,
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
