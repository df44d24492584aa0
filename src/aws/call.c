/* One signed AWS call (see call.h). */
#include "aws/call.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws/credentials_sts.h"
#include "aws/profile.h"
#include "aws/sigv4.h"
#include "core/cause.h"
#include "core/encoding.h"
#include "net/http_client.h"
#include "net/proxy.h"
#include "net/tls.h"
#include "net/url.h"

/* ---- the answer's error fields ---- */

/* Copies [text, text+len) into a fixed field, cut to fit and without
 * control bytes: the peer's text ends up in messages printed on terminals. */
static void set_field(char *field, size_t cap, const char *text, size_t len)
{
    char copy[1024];
    snprintf(copy, sizeof(copy), "%.*s", (int)(len < sizeof(copy) ? len : sizeof(copy) - 1), text);
    http_header_value_clean(field, cap, copy);
}

/* The error code as the AWS SDKs clean it, whatever carried it: the part
 * before ':' ("Code:http://internal..."), then the part after '#'
 * ("com.amazonaws.service#Code"). */
static void set_error_code(struct aws_answer *a, const char *text)
{
    size_t len = strcspn(text, ":");
    const char *hash = memchr(text, '#', len);
    if (hash) {
        len -= (size_t)(hash + 1 - text);
        text = hash + 1;
        len = strcspn(text, "#") < len ? strcspn(text, "#") : len;
    }
    set_field(a->error_code, sizeof(a->error_code), text, len);
}

/* JSON protocols (awsJson, restJson): __type or code, the part after '#'
 * (and before ':', as in "Type:http://..."); message or Message. */
static void read_json_error(struct aws_answer *a, const char *body, size_t len)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return;
    }
    const char *type = json_string_value(json_object_get(root, "__type"));
    if (!type)
        type = json_string_value(json_object_get(root, "code"));
    if (!type)
        type = json_string_value(json_object_get(root, "Code"));
    if (type && !a->error_code[0])
        set_error_code(a, type);
    const char *message = json_string_value(json_object_get(root, "message"));
    if (!message)
        message = json_string_value(json_object_get(root, "Message"));
    if (message)
        set_field(a->message, sizeof(a->message), message, strlen(message));
    json_decref(root);
}

/* The query protocol's (STS, IAM, CloudFormation) ErrorResponse. */
static void read_xml_error(struct aws_answer *a, const char *body, size_t len)
{
    struct buf text = BUF_INIT;
    if (!a->error_code[0] && aws_sts_xml_element(body, len, "Code", &text) == 0)
        set_error_code(a, buf_bytes(&text));
    if (aws_sts_xml_element(body, len, "Message", &text) == 0)
        set_field(a->message, sizeof(a->message), buf_bytes(&text), buf_length(&text));
    if (!a->request_id[0] && aws_sts_xml_element(body, len, "RequestId", &text) == 0)
        set_field(a->request_id, sizeof(a->request_id), buf_bytes(&text), buf_length(&text));
    buf_free(&text);
}

void aws_answer_read_error(struct aws_answer *a, const struct http_message *m)
{
    const char *id = http_header_get(m, "x-amzn-RequestId");
    if (!id)
        id = http_header_get(m, "x-amz-request-id");
    snprintf(a->request_id, sizeof(a->request_id), "%s", id ? id : "");
    const char *function_error = http_header_get(m, "X-Amz-Function-Error");
    snprintf(a->function_error, sizeof(a->function_error), "%s",
             function_error ? function_error : "");
    if (a->status >= 200 && a->status < 300)
        return;
    const char *type = http_header_get(m, "x-amzn-ErrorType");
    if (type)
        set_error_code(a, type);
    const char *body = buf_bytes(&m->body);
    size_t len = buf_length(&m->body), skip = 0;
    while (skip < len && (body[skip] == ' ' || body[skip] == '\n' || body[skip] == '\r'))
        skip++;
    if (skip < len && body[skip] == '{')
        read_json_error(a, body, len);
    else if (skip < len && body[skip] == '<')
        read_xml_error(a, body, len);
}

/* ---- the error for callers ---- */

static int error_errno(const char *code)
{
    if (strncmp(code, "AccessDenied", 12) == 0)
        return -EACCES;
    if (strcmp(code, "ResourceNotFoundException") == 0 || strcmp(code, "NoSuchEntity") == 0)
        return -ENOENT;
    if (strcmp(code, "ResourceConflictException") == 0)
        return -EBUSY;
    if (strstr(code, "AlreadyExists") || strcmp(code, "ConflictException") == 0)
        return -EEXIST;
    return -EIO;
}

int aws_answer_error(const struct aws_answer *a, const char *operation, char *cause,
                     size_t cause_len)
{
    if (a->status >= 200 && a->status < 300)
        return 0;
    const char *code = a->error_code[0] ? a->error_code : "error";
    if (a->message[0])
        snprintf(cause, cause_len, "%s: %s: %s (HTTP %d)", operation, code, a->message, a->status);
    else
        snprintf(cause, cause_len, "%s: %s (HTTP %d)", operation, code, a->status);
    return error_errno(a->error_code);
}

void aws_answer_free(struct aws_answer *answer)
{
    secure_free_buf(&answer->body);
}

/* ---- the request ---- */

/* The request's own headers, split into name/value pairs (signed as they
 * are sent). `copy` holds the text the pairs point into. */
static int split_headers(const char *text, char *copy, size_t copy_len, struct sigv4_header *out,
                         size_t *count, char *cause, size_t cause_len)
{
    if (!text)
        return 0;
    if (strlen(text) >= copy_len)
        return cause_set(cause, cause_len, -EINVAL, "request headers too long");
    strcpy(copy, text);
    char *line = copy;
    while (*line) {
        char *end = strstr(line, "\r\n"), *colon = strchr(line, ':');
        if (!end || !colon || colon > end || *count >= AWS_CALL_MAX_HEADERS)
            return cause_set(cause, cause_len, -EINVAL, "bad request header lines");
        *end = *colon = '\0';
        char *value = colon + 1;
        while (*value == ' ')
            value++;
        if (!http_header_name_valid(line, strlen(line)) ||
            !http_header_value_valid(value, strlen(value)))
            return cause_set(cause, cause_len, -EINVAL, "bad request header %.64s", line);
        out[*count].name = line;
        out[*count].value = value;
        (*count)++;
        line = end + 2;
    }
    return 0;
}

/* The path the SDKs send: the endpoint's path without its trailing '/',
 * then the request's path. */
static int join_target(const struct url *u, const struct aws_request *r, struct buf *path,
                       struct buf *target)
{
    size_t base = strlen(u->path);
    if (base > 0 && u->path[base - 1] == '/')
        base--;
    int rc = buf_append(path, u->path, base);
    if (rc == 0)
        rc = buf_append_str(path, r->path ? r->path : "/");
    if (rc == 0)
        rc = buf_terminate(path);
    if (rc == 0)
        rc = buf_append_str(target, buf_bytes(path));
    if (rc == 0 && r->query && r->query[0])
        rc = buf_printf(target, "?%s", r->query);
    return rc == 0 ? buf_terminate(target) : rc;
}

struct signing {
    const struct aws_context *ctx;
    const struct aws_request *r;
    const struct url *u;
    const char *path;
};

/* The headers every request carries; SigV4's follow when it is signed. */
static int plain_head(const struct aws_request *r, struct buf *head)
{
    int rc = 0;
    if (r->content_type)
        rc = buf_printf(head, "Content-Type: %s\r\n", r->content_type);
    if (rc == 0 && r->headers)
        rc = buf_append_str(head, r->headers);
    if (rc == 0)
        rc = buf_append_str(head, "User-Agent: tether\r\nConnection: close\r\n");
    return rc == 0 ? buf_terminate(head) : rc;
}

/* The head (every header but Host and framing) with SigV4's headers. */
static int build_head(const struct signing *g, struct buf *head, char *cause, size_t cause_len)
{
    struct sigv4_header headers[AWS_CALL_MAX_HEADERS + 2];
    char copy[SIGV4_MAX_HEADER_VALUE];
    size_t n = 0, extra = 0;
    headers[n++] = (struct sigv4_header){"host", g->u->host_header};
    if (g->r->content_type)
        headers[n++] = (struct sigv4_header){"content-type", g->r->content_type};
    int rc =
        split_headers(g->r->headers, copy, sizeof(copy), headers + n, &extra, cause, cause_len);
    if (rc < 0)
        return rc;
    const struct aws_credentials *c = g->ctx->credentials;
    if (!c)
        return plain_head(g->r, head);
    struct sigv4_request req = {g->r->method, g->path,    g->r->query,   headers,
                                n + extra,    g->r->body, g->r->body_len};
    struct sigv4_credentials creds = {c->access_key_id, c->secret_access_key, c->session_token};
    struct sigv4_params params = {.region =
                                      aws_endpoint_signing_region(g->r->service, g->ctx->region),
                                  .service = g->r->service->signing_name,
                                  .timestamp = time(NULL),
                                  .normalize_path = 1};
    struct sigv4_signed s;
    rc = sigv4_sign(&req, &creds, &params, &s, cause, cause_len);
    secure_wipe(copy, sizeof(copy));
    if (rc < 0)
        return rc;
    rc = plain_head(g->r, head); /* terminated, and SigV4's headers are appended after it */
    struct sigv4_header add[4];
    size_t count = sigv4_signed_headers_to_add(&s, add);
    for (size_t i = 0; rc == 0 && i < count; i++)
        rc = buf_printf(head, "%s: %s\r\n", add[i].name, add[i].value);
    if (rc == 0)
        rc = buf_terminate(head);
    sigv4_signed_free(&s);
    return rc;
}

/* ---- sending ---- */

static void on_answer(void *user, int status, const struct http_message *m, const char *cause)
{
    struct aws_answer *a = user;
    (void)cause;
    a->status = status;
    aws_answer_read_error(a, m);
    if (buf_append(&a->body, buf_bytes(&m->body), buf_length(&m->body)) < 0)
        a->status = -ENOMEM;
}

static int send_request(const struct aws_request *r, const struct url *u, const char *target,
                        const struct buf *head, struct aws_answer *out, char *cause,
                        size_t cause_len)
{
    struct http_client_config config = {.host = u->host, .port = u->port};
    config.host_header = u->host_header;
    config.limits.max_body_bytes = r->max_answer ? r->max_answer : AWS_CALL_DEFAULT_MAX_ANSWER;
    config.timeout_ms = r->timeout_ms ? r->timeout_ms : AWS_CALL_DEFAULT_TIMEOUT_MS;
    config.wipe_answers = 1;
    struct proxy_config proxy;
    int use_proxy = proxy_from_env(u->secure, u->host, u->port, &proxy, cause, cause_len);
    if (use_proxy < 0)
        return use_proxy;
    config.proxy = use_proxy ? &proxy : NULL;
    const char *bundle = aws_env("AWS_CA_BUNDLE");
    int rc = u->secure ? tls_config_new_client(bundle, 1, &config.tls, cause, cause_len) : 0;
    struct http_client_request request = {r->method, target, buf_bytes(head), r->body, r->body_len};
    if (rc == 0)
        rc = http_client_run(&config, &request, on_answer, out, cause, cause_len);
    if (rc == 0 && out->status < 0) {
        rc = out->status;
        snprintf(cause, cause_len, "out of memory");
    }
    tls_config_free(config.tls);
    if (use_proxy)
        proxy_config_wipe(&proxy);
    return rc;
}

int aws_call(const struct aws_context *ctx, const struct aws_request *r, struct aws_answer *out,
             char *cause, size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    char endpoint[AWS_ENDPOINT_MAX];
    int rc = aws_endpoint_resolve(r->service, ctx->region, ctx->profile, r->endpoint, endpoint,
                                  sizeof(endpoint), cause, cause_len);
    if (rc < 0)
        return rc;
    struct url u;
    char why[256];
    if (url_parse(endpoint, &u, why, sizeof(why)) < 0)
        return cause_set(cause, cause_len, -EINVAL, "bad endpoint %s: %s", endpoint, why);
    struct buf path = BUF_INIT, target = BUF_INIT, head = BUF_INIT;
    rc = join_target(&u, r, &path, &target);
    struct signing g = {ctx, r, &u, buf_bytes(&path)};
    if (rc < 0)
        snprintf(cause, cause_len, "out of memory");
    else
        rc = build_head(&g, &head, cause, cause_len);
    if (rc == 0) {
        char why_send[400];
        rc = send_request(r, &u, buf_bytes(&target), &head, out, why_send, sizeof(why_send));
        if (rc < 0)
            snprintf(cause, cause_len, "%s %s: %s", r->service->id, endpoint, why_send);
    }
    secure_free_buf(&head);
    buf_free(&path);
    buf_free(&target);
    return rc;
}
