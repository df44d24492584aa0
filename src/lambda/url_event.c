/* Function URL events (payload format 2.0) and answers. */
#include "lambda/url_event.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/encoding.h"
#include "core/percent.h"
#include "net/http.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- text helpers ---- */

static const char *const binary_types[] = {
    "application/octet-stream",
    "application/pdf",
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/x-tar",
    "application/x-7z-compressed",
    "application/x-protobuf",
    "application/protobuf",
    "application/wasm",
    "application/x-msgpack",
    "application/cbor",
};

static const char *const binary_prefixes[] = {"image/", "audio/", "video/", "font/"};

int lambda_url_body_is_binary(const char *content_type, const char *body, size_t len)
{
    if (!utf8_valid(body, len))
        return 1;
    if (!content_type)
        return 0;
    content_type += strspn(content_type, " \t");
    size_t type_len = strcspn(content_type, "; \t");
    for (size_t i = 0; i < COUNT(binary_prefixes); i++)
        if (strncasecmp(content_type, binary_prefixes[i], strlen(binary_prefixes[i])) == 0)
            return 1;
    for (size_t i = 0; i < COUNT(binary_types); i++)
        if (strlen(binary_types[i]) == type_len &&
            strncasecmp(content_type, binary_types[i], type_len) == 0)
            return 1;
    return 0;
}

void lambda_url_time_format(uint64_t epoch_ms, char out[32])
{
    time_t seconds = (time_t)(epoch_ms / 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    /* tether never calls setlocale: %b is the English month in the C locale. */
    strftime(out, 32, "%d/%b/%Y:%H:%M:%S +0000", &tm);
}

/* Percent-decoding only: '+' stays '+' (RFC 3986; docs/lambda.md). A '%' not
 * followed by two hex digits is kept as it is. */
int lambda_url_decode_component(struct buf *out, const char *text, size_t len)
{
    return percent_decode(out, text, len, PERCENT_LENIENT);
}

/* ---- the event ---- */

/* A small ordered map of names to comma-joined values (headers, query). */
struct joined_map {
    struct buf names[HTTP_MAX_HEADERS * 2];
    struct buf values[HTTP_MAX_HEADERS * 2];
    size_t count;
};

static void joined_map_free(struct joined_map *m)
{
    for (size_t i = 0; i < m->count; i++) {
        buf_free(&m->names[i]);
        buf_free(&m->values[i]);
    }
    m->count = 0;
}

static int joined_map_add(struct joined_map *m, const char *name, size_t name_len,
                          const char *value, size_t value_len)
{
    for (size_t i = 0; i < m->count; i++) {
        if (buf_length(&m->names[i]) == name_len &&
            memcmp(buf_bytes(&m->names[i]), name, name_len) == 0) {
            if (buf_append_char(&m->values[i], ',') < 0 ||
                buf_append(&m->values[i], value, value_len) < 0 || buf_terminate(&m->values[i]) < 0)
                return -ENOMEM;
            return 0;
        }
    }
    if (m->count >= COUNT(m->names))
        return 0; /* more distinct names than any sane request has: drop the rest */
    size_t i = m->count++;
    buf_init(&m->names[i]);
    buf_init(&m->values[i]);
    /* Values are kept NUL-terminated: joined_map_get hands them out as strings. */
    if (buf_append(&m->names[i], name, name_len) < 0 ||
        buf_append(&m->values[i], value, value_len) < 0 || buf_terminate(&m->values[i]) < 0)
        return -ENOMEM;
    return 0;
}

static const char *joined_map_get(const struct joined_map *m, const char *name)
{
    for (size_t i = 0; i < m->count; i++)
        if (buf_length(&m->names[i]) == strlen(name) &&
            memcmp(buf_bytes(&m->names[i]), name, strlen(name)) == 0)
            return buf_bytes(&m->values[i]);
    return NULL;
}

/* "name":{...}, with the map's names and values as strings. */
static int write_joined_map(struct buf *out, const char *name, const struct joined_map *m)
{
    int rc = buf_printf(out, "\"%s\":{", name);
    for (size_t i = 0; rc == 0 && i < m->count; i++) {
        if (i > 0)
            rc = buf_append_char(out, ',');
        if (rc == 0)
            rc = json_quote(out, buf_bytes(&m->names[i]), buf_length(&m->names[i]));
        if (rc == 0)
            rc = buf_append_char(out, ':');
        if (rc == 0)
            rc = json_quote(out, buf_bytes(&m->values[i]), buf_length(&m->values[i]));
    }
    return rc == 0 ? buf_append_str(out, "},") : rc;
}

/* Headers: names lower-cased, repeats comma-joined, cookies left out (they
 * go to "cookies"), plus the x-forwarded-* and trace headers AWS adds. */
static int collect_headers(const struct lambda_url_request *req, struct joined_map *m)
{
    for (size_t i = 0; i < req->header_count; i++) {
        char lower[256];
        size_t n = strlen(req->headers[i].name);
        if (n >= sizeof(lower))
            continue;
        for (size_t k = 0; k <= n; k++)
            lower[k] = (char)tolower((unsigned char)req->headers[i].name[k]);
        if (strcmp(lower, "cookie") == 0)
            continue;
        const char *v = req->headers[i].value;
        if (joined_map_add(m, lower, n, v, strlen(v)) < 0)
            return -ENOMEM;
    }
    char port[8];
    snprintf(port, sizeof(port), "%u", req->port);
    const char *const added[][2] = {
        {"x-amzn-trace-id", req->trace_id},
        {"x-forwarded-for", req->source_ip},
        {"x-forwarded-proto", "http"},
        {"x-forwarded-port", port},
    };
    for (size_t i = 0; i < COUNT(added); i++) {
        if (!added[i][1] || joined_map_get(m, added[i][0]))
            continue;
        if (joined_map_add(m, added[i][0], strlen(added[i][0]), added[i][1], strlen(added[i][1])) <
            0)
            return -ENOMEM;
    }
    return 0;
}

static int collect_query(const char *query, struct joined_map *m)
{
    const char *p = query;
    while (*p) {
        size_t pair_len = strcspn(p, "&");
        const char *eq = memchr(p, '=', pair_len);
        size_t key_len = eq ? (size_t)(eq - p) : pair_len;
        struct buf key = BUF_INIT, value = BUF_INIT;
        int rc = lambda_url_decode_component(&key, p, key_len);
        if (rc == 0 && eq)
            rc = lambda_url_decode_component(&value, eq + 1, pair_len - key_len - 1);
        if (rc == 0 && (pair_len > 0))
            rc = joined_map_add(m, buf_length(&key) ? buf_bytes(&key) : "", buf_length(&key),
                                buf_length(&value) ? buf_bytes(&value) : "", buf_length(&value));
        buf_free(&key);
        buf_free(&value);
        if (rc < 0)
            return rc;
        p += pair_len;
        if (*p == '&')
            p++;
    }
    return 0;
}

static int write_cookies(struct buf *out, const struct lambda_url_request *req)
{
    int rc = 0, any = 0;
    for (size_t i = 0; rc == 0 && i < req->header_count; i++) {
        if (strcasecmp(req->headers[i].name, "cookie") != 0)
            continue;
        const char *p = req->headers[i].value;
        while (rc == 0 && *p) {
            p += strspn(p, " ;");
            size_t len = strcspn(p, ";");
            size_t trimmed = len;
            while (trimmed > 0 && p[trimmed - 1] == ' ')
                trimmed--;
            if (trimmed > 0) {
                rc = buf_append_str(out, any ? "," : "\"cookies\":[");
                if (rc == 0)
                    rc = json_quote(out, p, trimmed);
                any = 1;
            }
            p += len;
        }
    }
    if (rc == 0 && any)
        rc = buf_append_str(out, "],");
    return rc;
}

/* "name":"value", for each pair; the comma after each included. */
static int write_string_fields(struct buf *out, const char *const (*fields)[2], size_t count)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const char *value = fields[i][1] ? fields[i][1] : "";
        rc = buf_printf(out, "\"%s\":", fields[i][0]);
        if (rc == 0)
            rc = json_quote(out, value, strlen(value));
        if (rc == 0)
            rc = buf_append_char(out, ',');
    }
    return rc;
}

static int write_request_context(struct buf *out, const struct lambda_url_request *req,
                                 const struct joined_map *headers)
{
    char domain[128], time_text[32];
    snprintf(domain, sizeof(domain), "%s.lambda-url.%s.on.aws", req->url_id, req->region);
    lambda_url_time_format(req->time_epoch_ms, time_text);
    const char *const context[][2] = {{"accountId", "anonymous"},
                                      {"apiId", req->url_id},
                                      {"domainName", domain},
                                      {"domainPrefix", req->url_id}};
    const char *const http[][2] = {{"method", req->method},
                                   {"path", req->raw_path},
                                   {"protocol", req->protocol},
                                   {"sourceIp", req->source_ip},
                                   {"userAgent", joined_map_get(headers, "user-agent")}};
    const char *const request[][2] = {{"requestId", req->request_id},
                                      {"routeKey", "$default"},
                                      {"stage", "$default"},
                                      {"time", time_text}};
    int rc = buf_append_str(out, "\"requestContext\":{");
    if (rc == 0)
        rc = write_string_fields(out, context, COUNT(context));
    if (rc == 0)
        rc = buf_append_str(out, "\"http\":{");
    if (rc == 0)
        rc = write_string_fields(out, http, COUNT(http));
    if (rc == 0) {
        out->len--; /* the last field's comma */
        rc = buf_append_str(out, "},");
    }
    if (rc == 0)
        rc = write_string_fields(out, request, COUNT(request));
    if (rc == 0)
        rc = buf_printf(out, "\"timeEpoch\":%llu},", (unsigned long long)req->time_epoch_ms);
    return rc;
}

static int write_body(struct buf *out, const struct lambda_url_request *req,
                      const struct joined_map *headers)
{
    int binary =
        req->body_len > 0 && lambda_url_body_is_binary(joined_map_get(headers, "content-type"),
                                                       req->body, req->body_len);
    int rc = 0;
    if (req->body_len > 0) {
        /* Binary bodies go base64-encoded, which needs no JSON escaping. */
        rc = buf_append_str(out, binary ? "\"body\":\"" : "\"body\":");
        if (rc == 0)
            rc = binary ? base64_encode(out, req->body, req->body_len)
                        : json_quote(out, req->body, req->body_len);
        if (rc == 0)
            rc = buf_append_str(out, binary ? "\"," : ",");
    }
    if (rc == 0)
        rc = buf_printf(out,
                        "\"pathParameters\":null,\"isBase64Encoded\":%s,"
                        "\"stageVariables\":null}",
                        binary ? "true" : "false");
    return rc;
}

static int write_event(struct buf *out, const struct lambda_url_request *req,
                       const struct joined_map *headers, const struct joined_map *query)
{
    const char *const raw[][2] = {{"rawPath", req->raw_path}, {"rawQueryString", req->raw_query}};
    int rc = buf_append_str(out, "{\"version\":\"2.0\",\"routeKey\":\"$default\",");
    if (rc == 0)
        rc = write_string_fields(out, raw, COUNT(raw));
    if (rc == 0)
        rc = write_cookies(out, req);
    if (rc == 0)
        rc = write_joined_map(out, "headers", headers);
    if (rc == 0 && query->count > 0)
        rc = write_joined_map(out, "queryStringParameters", query);
    if (rc == 0)
        rc = write_request_context(out, req, headers);
    if (rc == 0)
        rc = write_body(out, req, headers);
    return rc;
}

int lambda_url_event_build(const struct lambda_url_request *req, struct buf *out)
{
    /* The maps are large (fixed arrays): keep them off the stack. */
    struct joined_map *headers = calloc(1, sizeof(*headers));
    struct joined_map *query = calloc(1, sizeof(*query));
    int rc = headers && query ? 0 : -ENOMEM;
    if (rc == 0)
        rc = collect_headers(req, headers);
    if (rc == 0)
        rc = collect_query(req->raw_query, query);
    if (rc == 0)
        rc = write_event(out, req, headers, query);
    if (headers)
        joined_map_free(headers);
    if (query)
        joined_map_free(query);
    free(headers);
    free(query);
    return rc;
}

/* ---- answers ---- */

void lambda_url_response_init(struct lambda_url_response *r)
{
    r->status = 200;
    buf_init(&r->headers);
    buf_init(&r->body);
}

void lambda_url_response_free(struct lambda_url_response *r)
{
    buf_free(&r->headers);
    buf_free(&r->body);
}

/* The server frames the answer itself; a function cannot set these. */
static int is_framing_header(const char *name)
{
    static const char *const names[] = {
        "content-length", "transfer-encoding", "connection", "keep-alive",
        "upgrade",        "trailer",           "te",         "date"};
    for (size_t i = 0; i < COUNT(names); i++)
        if (strcasecmp(name, names[i]) == 0)
            return 1;
    return 0;
}

static int add_header(struct lambda_url_response *r, const char *name, const char *value,
                      size_t value_len, char *cause, size_t cause_len)
{
    /* AWS answers 502 to a malformed response; so does the caller. */
    if (!http_header_name_valid(name, strlen(name)) || !http_header_value_valid(value, value_len)) {
        snprintf(cause, cause_len, "invalid header \"%.60s\"", name);
        return -EINVAL;
    }
    if (is_framing_header(name))
        return 0;
    if (buf_printf(&r->headers, "%s: ", name) < 0 ||
        buf_append(&r->headers, value, value_len) < 0 || buf_append_str(&r->headers, "\r\n") < 0)
        return -ENOMEM;
    return 0;
}

/* The shortest of %.15g and %.17g that reads back as the same number, as
 * JavaScript would print it (5, 1.5, 0.1). */
static void format_number(char *out, size_t out_len, double value)
{
    snprintf(out, out_len, "%.15g", value);
    if (strtod(out, NULL) != value)
        snprintf(out, out_len, "%.17g", value);
}

static int map_header_value(struct lambda_url_response *r, const char *name, json_t *value,
                            char *cause, size_t cause_len)
{
    char number[64];
    if (json_is_string(value))
        return add_header(r, name, json_string_value(value), json_string_length(value), cause,
                          cause_len);
    if (json_is_integer(value))
        snprintf(number, sizeof(number), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
    else if (json_is_real(value))
        format_number(number, sizeof(number), json_real_value(value));
    else if (json_is_boolean(value))
        snprintf(number, sizeof(number), "%s", json_is_true(value) ? "true" : "false");
    else if (json_is_null(value))
        return 0;
    else {
        snprintf(cause, cause_len, "header \"%.60s\" must be a string", name);
        return -EINVAL;
    }
    return add_header(r, name, number, strlen(number), cause, cause_len);
}

static int map_headers_and_cookies(json_t *root, struct lambda_url_response *r, int *has_type,
                                   char *cause, size_t cause_len)
{
    json_t *headers = json_object_get(root, "headers");
    json_t *cookies = json_object_get(root, "cookies");
    const char *name;
    json_t *value;
    *has_type = 0;
    if (headers && !json_is_object(headers) && !json_is_null(headers)) {
        snprintf(cause, cause_len, "\"headers\" must be an object");
        return -EINVAL;
    }
    json_object_foreach(headers, name, value)
    {
        int rc = map_header_value(r, name, value, cause, cause_len);
        if (rc < 0)
            return rc;
        if (strcasecmp(name, "content-type") == 0)
            *has_type = 1;
    }
    int bad = cookies && !json_is_array(cookies) && !json_is_null(cookies);
    size_t i;
    json_array_foreach(cookies, i, value) /* no iteration when cookies is not an array */
    {
        if ((bad = !json_is_string(value)))
            break;
        int rc = add_header(r, "Set-Cookie", json_string_value(value), json_string_length(value),
                            cause, cause_len);
        if (rc < 0)
            return rc;
    }
    if (bad)
        snprintf(cause, cause_len, "\"cookies\" must be an array of strings");
    return bad ? -EINVAL : 0;
}

static int map_status(json_t *root, struct lambda_url_response *r, char *cause, size_t cause_len)
{
    json_t *status = json_object_get(root, "statusCode");
    json_int_t code = -1;
    /* Numbers are decoded as reals (see lambda_url_response_map): 201 is 201.0. */
    double number = json_is_number(status) ? json_number_value(status) : -1;
    if (number >= 100 && number <= 599 && number == (double)(int)number)
        code = (json_int_t)number;
    else if (json_is_string(status) && json_string_length(status) == 3)
        code = strtol(json_string_value(status), NULL, 10);
    if (code < 100 || code > 599) {
        snprintf(cause, cause_len, "\"statusCode\" must be an HTTP status from 100 to 599");
        return -EINVAL;
    }
    r->status = (int)code;
    return 0;
}

static int map_body(json_t *root, struct lambda_url_response *r, char *cause, size_t cause_len)
{
    json_t *body = json_object_get(root, "body");
    int base64 = json_is_true(json_object_get(root, "isBase64Encoded"));
    if (!body || json_is_null(body))
        return 0;
    if (!json_is_string(body)) {
        /* A non-string body is sent as its JSON text. */
        char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        int rc = text ? buf_append_str(&r->body, text) : -ENOMEM;
        free(text);
        return rc;
    }
    if (base64 && base64_decode(&r->body, json_string_value(body), json_string_length(body)) < 0) {
        snprintf(cause, cause_len, "\"body\" is not valid base64 though isBase64Encoded is true");
        return -EINVAL;
    }
    if (!base64)
        return buf_append(&r->body, json_string_value(body), json_string_length(body));
    return 0;
}

/* The head of an answer: statusCode (200 when absent), headers, cookies, and
 * default_type when the function set no Content-Type. */
static int map_head(json_t *root, struct lambda_url_response *r, const char *default_type,
                    char *cause, size_t cause_len)
{
    int has_type = 0, rc = 0;
    r->status = 200;
    if (json_object_get(root, "statusCode"))
        rc = map_status(root, r, cause, cause_len);
    if (rc == 0)
        rc = map_headers_and_cookies(root, r, &has_type, cause, cause_len);
    if (rc == 0 && !has_type)
        rc = buf_printf(&r->headers, "Content-Type: %s\r\n", default_type);
    return rc;
}

int lambda_url_response_map(const char *payload, size_t len, struct lambda_url_response *out,
                            char *cause, size_t cause_len)
{
    json_error_t error;
    json_t *root = json_loadb(payload, len,
                              JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &error);
    if (!root) {
        snprintf(cause, cause_len, "the function's answer is not JSON: %s", error.text);
        return -EINVAL;
    }
    int rc;
    if (json_is_object(root) && json_object_get(root, "statusCode")) {
        /* A structured answer: {statusCode, headers, cookies, body, isBase64Encoded}. */
        rc = map_head(root, out, "application/json", cause, cause_len);
        if (rc == 0)
            rc = map_body(root, out, cause, cause_len);
    } else {
        out->status = 200;
        rc = buf_append_str(&out->headers, "Content-Type: application/json\r\n");
        if (rc == 0)
            rc = buf_append(&out->body, payload, len);
    }
    json_decref(root);
    return rc;
}

/* ---- streamed answers ---- */

void lambda_url_prelude_init(struct lambda_url_prelude *p)
{
    memset(p, 0, sizeof(*p));
    buf_init(&p->pending);
}

void lambda_url_prelude_free(struct lambda_url_prelude *p)
{
    buf_free(&p->pending);
}

static int map_prelude(struct lambda_url_prelude *p, struct lambda_url_response *out, char *cause,
                       size_t cause_len)
{
    json_error_t error;
    json_t *root = json_loadb(buf_bytes(&p->pending), buf_length(&p->pending), 0, &error);
    if (!json_is_object(root)) {
        snprintf(cause, cause_len, "the stream's prelude is not a JSON object");
        json_decref(root);
        return -EINVAL;
    }
    int rc = map_head(root, out, "application/octet-stream", cause, cause_len);
    json_decref(root);
    return rc;
}

int lambda_url_prelude_feed(struct lambda_url_prelude *p, const char *data, size_t len,
                            size_t *body_offset, struct lambda_url_response *out, char *cause,
                            size_t cause_len)
{
    for (size_t i = 0; i < len; i++) {
        if (data[i] != '\0') {
            /* NULs that did not make a run of 8 belong to the prelude. */
            for (; p->nul_run > 0; p->nul_run--)
                if (buf_append_char(&p->pending, '\0') < 0)
                    return -ENOMEM;
            if (buf_append_char(&p->pending, data[i]) < 0)
                return -ENOMEM;
        } else if (++p->nul_run == 8) {
            p->done = 1;
            *body_offset = i + 1;
            return map_prelude(p, out, cause, cause_len) < 0 ? -EINVAL : 1;
        }
        if (buf_length(&p->pending) > LAMBDA_URL_PRELUDE_MAX) {
            snprintf(cause, cause_len, "the stream's prelude is larger than %d bytes",
                     LAMBDA_URL_PRELUDE_MAX);
            return -EFBIG;
        }
    }
    return 0;
}
