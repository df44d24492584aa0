/* STS AssumeRole (see credentials_sts.h). */
#include "aws/credentials_sts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/credentials_http.h"
#include "aws/sigv4.h"
#include "core/encoding.h"
#include "net/url.h"

#define STS_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"

/* ---- the request ---- */

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int aws_sts_endpoint(const struct aws_sts_assume_role *p, char *out, size_t out_len)
{
    const char *set = p->endpoint ? p->endpoint : env_nonempty("AWS_ENDPOINT_URL_STS");
    if (!set)
        set = env_nonempty("AWS_ENDPOINT_URL");
    int n;
    if (set)
        n = snprintf(out, out_len, "%s", set);
    else if (!p->region)
        n = snprintf(out, out_len, "https://sts.amazonaws.com/");
    else
        n = snprintf(out, out_len, "https://sts.%s.amazonaws.com%s/", p->region,
                     strncmp(p->region, "cn-", 3) == 0 ? ".cn" : "");
    return n < 0 || (size_t)n >= out_len ? -ENAMETOOLONG : 0;
}

/* application/x-www-form-urlencoded: everything but unreserved characters
 * percent-encoded (what the AWS SDKs send). */
static int form_append(struct buf *out, const char *key, const char *value)
{
    int rc = buf_printf(out, "&%s=", key);
    for (const unsigned char *c = (const unsigned char *)value; rc == 0 && *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '_' || *c == '.' || *c == '~')
            rc = buf_append_char(out, (char)*c);
        else
            rc = buf_printf(out, "%%%02X", *c);
    }
    return rc;
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

static int build_request(const struct aws_credentials *source, const struct aws_sts_assume_role *p,
                         const struct url *u, const struct buf *body, struct buf *head, char *cause,
                         size_t cause_len)
{
    const struct sigv4_header headers[] = {
        {"content-type", STS_CONTENT_TYPE},
        {"host", u->host_header},
    };
    struct sigv4_request req = {
        .method = "POST",
        .path = u->path,
        .query = u->query,
        .headers = headers,
        .header_count = 2,
        .body = buf_bytes(body),
        .body_len = buf_length(body),
    };
    struct sigv4_credentials creds = {source->access_key_id, source->secret_access_key,
                                      source->session_token};
    struct sigv4_params params = {.region = p->region ? p->region : "us-east-1",
                                  .service = "sts",
                                  .timestamp = time(NULL),
                                  .normalize_path = 1};
    struct sigv4_signed s;
    int rc = sigv4_sign(&req, &creds, &params, &s, cause, cause_len);
    if (rc < 0)
        return rc;
    rc = buf_printf(head,
                    "POST %s%s%s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n"
                    "Content-Length: %zu\r\nAccept: */*\r\nUser-Agent: tether\r\n"
                    "Connection: close\r\n",
                    u->path, u->query[0] ? "?" : "", u->query, u->host_header, STS_CONTENT_TYPE,
                    buf_length(body));
    struct sigv4_header add[4];
    size_t n = sigv4_signed_headers_to_add(&s, add);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = buf_printf(head, "%s: %s\r\n", add[i].name, add[i].value);
    if (rc == 0)
        rc = buf_append_str(head, "\r\n");
    if (rc == 0)
        rc = buf_terminate(head);
    sigv4_signed_free(&s);
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

static void wipe_buf(struct buf *b)
{
    if (b->data)
        secure_wipe(b->data, b->cap);
    buf_free(b);
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
    if (!creds) {
        snprintf(cause, cause_len, "STS AssumeRole answer has no <Credentials>");
        return -EPROTO;
    }
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
    wipe_buf(&id);
    wipe_buf(&secret);
    wipe_buf(&token);
    wipe_buf(&expiration);
    return rc < 0 ? -EPROTO : 0;
}

/* ---- the call ---- */

int aws_sts_assume_role(const struct aws_credentials *source, const struct aws_sts_assume_role *p,
                        struct aws_credentials *out, char *cause, size_t cause_len)
{
    char endpoint[URL_MAX_LENGTH + 1], session[AWS_STS_MAX_SESSION_NAME + 1];
    struct url u;
    char why[200];
    if (aws_sts_endpoint(p, endpoint, sizeof(endpoint)) < 0 ||
        url_parse(endpoint, &u, why, sizeof(why)) < 0) {
        snprintf(cause, cause_len, "bad STS endpoint %s", endpoint);
        return -EINVAL;
    }
    if (strlen(p->role_arn) > AWS_STS_MAX_ROLE_ARN) {
        snprintf(cause, cause_len, "role_arn is too long");
        return -EINVAL;
    }
    if (p->role_session_name)
        snprintf(session, sizeof(session), "%s", p->role_session_name);
    else
        snprintf(session, sizeof(session), "tether-%lld", (long long)time(NULL));
    struct buf body = BUF_INIT, head = BUF_INIT;
    int rc = aws_sts_form_body(&body, p, session);
    if (rc == 0)
        rc = build_request(source, p, &u, &body, &head, cause, cause_len);
    struct aws_http_response response = {0};
    if (rc == 0) {
        struct aws_http_request request = {endpoint, buf_bytes(&head), buf_bytes(&body),
                                           buf_length(&body), 0};
        rc = aws_http_send(&request, &response, cause, cause_len);
    }
    if (rc == 0)
        rc = aws_sts_parse_response(response.status, buf_bytes(&response.body),
                                    buf_length(&response.body), out, cause, cause_len);
    if (rc == 0)
        snprintf(out->source, sizeof(out->source), "role %.150s", p->role_arn);
    aws_http_response_free(&response);
    wipe_buf(&head);
    buf_free(&body);
    return rc;
}
