/* STS AssumeRole (see credentials_sts.h). */
#include "aws/credentials_sts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/profile.h"
#include "aws/sigv4.h"
#include "aws/xml.h"
#include "core/cause.h"
#include "core/encoding.h"
#include "core/percent.h"
#include "net/http_client.h"
#include "net/proxy.h"
#include "net/tls.h"
#include "net/url.h"

#define STS_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define STS_MAX_RESPONSE (256 * 1024)
#define STS_TIMEOUT_MS 15000

/* ---- the request ---- */

int aws_sts_endpoint(const struct aws_sts_assume_role *p, char *out, size_t out_len)
{
    const char *set = p->endpoint ? p->endpoint : aws_env("AWS_ENDPOINT_URL_STS");
    if (!set)
        set = aws_env("AWS_ENDPOINT_URL");
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
                    "Content-Type: %s\r\nAccept: */*\r\nUser-Agent: tether\r\n"
                    "Connection: close\r\n",
                    STS_CONTENT_TYPE);
    struct sigv4_header add[4];
    size_t n = sigv4_signed_headers_to_add(&s, add);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = buf_printf(head, "%s: %s\r\n", add[i].name, add[i].value);
    if (rc == 0)
        rc = buf_terminate(head);
    sigv4_signed_free(&s);
    return rc;
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

struct sts_answer {
    struct aws_credentials *out;
    int rc;
    char cause[400];
};

static void on_answer(void *user, int status, const struct http_message *m, const char *cause)
{
    struct sts_answer *a = user;
    (void)cause;
    a->rc = aws_sts_parse_response(status, buf_bytes(&m->body), buf_length(&m->body), a->out,
                                   a->cause, sizeof(a->cause));
}

/* One blocking request (net/http_client.h): HTTPS_PROXY / HTTP_PROXY /
 * NO_PROXY apply; TLS verifies against AWS_CA_BUNDLE when set, else the
 * system store. The answer is wiped once parsed: it holds credentials. */
static int sts_send(const char *endpoint, const struct url *u, const struct buf *headers,
                    const struct buf *body, struct aws_credentials *out, char *cause,
                    size_t cause_len)
{
    struct http_client_config config = {.host = u->host, .port = u->port};
    config.host_header = u->host_header;
    config.limits.max_body_bytes = STS_MAX_RESPONSE;
    config.timeout_ms = STS_TIMEOUT_MS;
    config.wipe_answers = 1;
    struct proxy_config proxy;
    int use_proxy = proxy_from_env(u->secure, u->host, u->port, &proxy, cause, cause_len);
    if (use_proxy < 0)
        return use_proxy;
    config.proxy = use_proxy ? &proxy : NULL;
    const char *bundle = aws_env("AWS_CA_BUNDLE");
    int rc = u->secure ? tls_config_new_client(bundle, 1, &config.tls, cause, cause_len) : 0;
    char target[URL_MAX_PATH + URL_MAX_QUERY + 2];
    url_target(u, target, sizeof(target)); /* sized for the longest */
    struct http_client_request request = {"POST", target, buf_bytes(headers), buf_bytes(body),
                                          buf_length(body)};
    struct sts_answer answer = {.out = out};
    if (rc == 0) {
        char why[400];
        rc = http_client_run(&config, &request, on_answer, &answer, why, sizeof(why));
        if (rc < 0)
            snprintf(cause, cause_len, "request to %s: %s", endpoint, why);
        else if ((rc = answer.rc) < 0)
            snprintf(cause, cause_len, "%s", answer.cause);
    }
    tls_config_free(config.tls);
    if (use_proxy)
        proxy_config_wipe(&proxy);
    return rc;
}

int aws_sts_assume_role(const struct aws_credentials *source, const struct aws_sts_assume_role *p,
                        struct aws_credentials *out, char *cause, size_t cause_len)
{
    char endpoint[URL_MAX_LENGTH + 1], session[AWS_STS_MAX_SESSION_NAME + 1];
    struct url u;
    char why[200];
    if (aws_sts_endpoint(p, endpoint, sizeof(endpoint)) < 0 ||
        url_parse(endpoint, &u, why, sizeof(why)) < 0 ||
        (u.scheme != URL_HTTP && u.scheme != URL_HTTPS))
        return cause_set(cause, cause_len, -EINVAL, "bad STS endpoint %s", endpoint);
    if (strlen(p->role_arn) > AWS_STS_MAX_ROLE_ARN)
        return cause_set(cause, cause_len, -EINVAL, "role_arn is too long");
    if (p->role_session_name)
        snprintf(session, sizeof(session), "%s", p->role_session_name);
    else
        snprintf(session, sizeof(session), "tether-%lld", (long long)time(NULL));
    struct buf body = BUF_INIT, head = BUF_INIT;
    int rc = aws_sts_form_body(&body, p, session);
    if (rc == 0)
        rc = build_request(source, p, &u, &body, &head, cause, cause_len);
    if (rc == 0)
        rc = sts_send(endpoint, &u, &head, &body, out, cause, cause_len);
    if (rc == 0)
        snprintf(out->source, sizeof(out->source), "role %.150s", p->role_arn);
    secure_free_buf(&head);
    buf_free(&body);
    return rc;
}
