/* The events client's authorization: the API key or a SigV4 signature (IAM,
 * service appsync) for the realtime connect, each subscribe and publish (a
 * JSON authorization object), and HTTP publishes (header lines). Also checks
 * the credentials a config gives. See client_internal.h. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "aws/credentials_provider.h"
#include "aws/sigv4.h"
#include "core/buf.h"
#include "core/cause.h"
#include "core/encoding.h"
#include "events/client_internal.h"

#define IAM_ACCEPT "application/json, text/javascript"
#define IAM_CONTENT_ENCODING "amz-1.0"
#define IAM_CONTENT_TYPE "application/json; charset=UTF-8"

/* Values that go into HTTP headers: printable ASCII, no line breaks. */
static int header_safe(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

int events_client_auth_is_iam(const struct events_client *c)
{
    return c->access_key_id || c->credentials;
}

int events_client_auth_check_config(const struct events_client_config *config, char *cause,
                                    size_t cause_len)
{
    int given = !!config->api_key + !!config->access_key_id + !!config->credentials;
    if (given != 1)
        return cause_set(cause, cause_len, -EINVAL, "give either an API key or IAM credentials");
    if (config->api_key && !header_safe(config->api_key))
        return cause_set(cause, cause_len, -EINVAL, "the API key must be printable ASCII");
    if (config->access_key_id &&
        (!header_safe(config->access_key_id) || !header_safe(config->secret_access_key) ||
         (config->session_token && config->session_token[0] &&
          !header_safe(config->session_token))))
        return cause_set(cause, cause_len, -EINVAL,
                         "IAM credentials need an access key id and a secret access key "
                         "(printable ASCII)");
    if ((config->access_key_id || config->credentials) &&
        (!config->region || !header_safe(config->region)))
        return cause_set(cause, cause_len, -EINVAL, "IAM authorization needs a region");
    return 0;
}

static int append_member(struct buf *out, const char *key, const char *value, int first)
{
    int rc = first ? 0 : buf_append_char(out, ',');
    if (rc == 0)
        rc = json_quote(out, key, strlen(key));
    if (rc == 0)
        rc = buf_append_char(out, ':');
    if (rc == 0)
        rc = json_quote(out, value, strlen(value));
    return rc;
}

/* Signs req with the credentials of the moment: the fixed ones, or the
 * provider's current ones, copied for the call and wiped after it. */
static int sign(const struct events_client *c, const struct sigv4_request *req,
                struct sigv4_signed *out, char *cause, size_t cause_len)
{
    struct aws_credentials held;
    struct sigv4_credentials creds = {c->access_key_id, c->secret_access_key, c->session_token};
    if (c->credentials) {
        int rc = aws_credentials_provider_get(c->credentials, &held, cause, cause_len);
        if (rc < 0)
            return rc;
        creds.access_key_id = held.access_key_id;
        creds.secret_access_key = held.secret_access_key;
        creds.session_token = held.session_token;
    }
    struct sigv4_params params = {
        .region = c->region, .service = "appsync", .timestamp = time(NULL), .normalize_path = 1};
    int rc = sigv4_sign(req, &creds, &params, out, cause, cause_len);
    if (c->credentials)
        aws_credentials_wipe(&held);
    return rc;
}

/* IAM over WebSocket: SigV4 over a synthetic POST https://HOST/event whose
 * body is `body` (connect "{}", or the subscribe/publish bytes). */
static int append_iam_auth(const struct events_client *c, struct buf *out, const char *body,
                           size_t body_len, char *cause, size_t cause_len)
{
    const struct sigv4_header headers[] = {
        {"accept", IAM_ACCEPT},
        {"content-encoding", IAM_CONTENT_ENCODING},
        {"content-type", IAM_CONTENT_TYPE},
        {"host", c->http.host_header},
    };
    struct sigv4_request req = {
        .method = "POST",
        .path = c->http.path,
        .headers = headers,
        .header_count = sizeof(headers) / sizeof(headers[0]),
        .body = body,
        .body_len = body_len,
    };
    struct sigv4_signed s;
    int rc = sign(c, &req, &s, cause, cause_len);
    if (rc < 0)
        return rc;
    rc = buf_append_char(out, '{');
    for (size_t i = 0; rc == 0 && i < req.header_count; i++)
        rc = append_member(out, headers[i].name, headers[i].value, i == 0);
    if (rc == 0)
        rc = append_member(out, "x-amz-date", s.amz_date, 0);
    if (rc == 0 && s.security_token)
        rc = append_member(out, "X-Amz-Security-Token", s.security_token, 0);
    if (rc == 0)
        rc = append_member(out, "Authorization", s.authorization, 0);
    if (rc == 0)
        rc = buf_append_char(out, '}');
    sigv4_signed_free(&s);
    return rc < 0 ? cause_set(cause, cause_len, rc, "out of memory") : 0;
}

int events_client_auth_append_json(const struct events_client *c, struct buf *out, const char *body,
                                   size_t body_len, char *cause, size_t cause_len)
{
    if (events_client_auth_is_iam(c))
        return append_iam_auth(c, out, body, body_len, cause, cause_len);
    int rc = buf_append_char(out, '{');
    if (rc == 0)
        rc = append_member(out, "host", c->http.host_header, 1);
    if (rc == 0)
        rc = append_member(out, "x-api-key", c->api_key, 0);
    if (rc == 0)
        rc = buf_append_char(out, '}');
    return rc < 0 ? cause_set(cause, cause_len, rc, "out of memory") : 0;
}

int events_client_auth_check_signing(const struct events_client *c, char *cause, size_t cause_len)
{
    struct buf auth = BUF_INIT;
    char why[CAUSE_SIZE] = "";
    int rc = events_client_auth_append_json(c, &auth, "{}", 2, why, sizeof(why));
    secure_free_buf(&auth);
    return rc < 0 ? cause_set(cause, cause_len, -EINVAL, "cannot sign requests: %s", why) : 0;
}

int events_client_auth_append_http(const struct events_client *c, struct buf *out,
                                   const struct buf *body, char *cause, size_t cause_len)
{
    if (!events_client_auth_is_iam(c))
        return buf_printf(out, "x-api-key: %s\r\n", c->api_key);
    const struct sigv4_header headers[] = {
        {"content-type", "application/json"},
        {"host", c->http.host_header},
    };
    struct sigv4_request req = {
        .method = "POST",
        .path = c->http.path,
        .query = c->http.query,
        .headers = headers,
        .header_count = sizeof(headers) / sizeof(headers[0]),
        .body = buf_bytes(body),
        .body_len = buf_length(body),
    };
    struct sigv4_signed s;
    int rc = sign(c, &req, &s, cause, cause_len);
    if (rc < 0)
        return rc;
    struct sigv4_header add[4];
    size_t n = sigv4_signed_headers_to_add(&s, add);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = buf_printf(out, "%s: %s\r\n", add[i].name, add[i].value);
    sigv4_signed_free(&s);
    return rc;
}
