#include "net/http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>

static int fail(struct http_reader *r, int status, const char *why)
{
    if (r->state != HTTP_READER_ERROR) {
        r->state = HTTP_READER_ERROR;
        r->http_status_for_error = status;
        snprintf(r->error, sizeof(r->error), "%s", why);
    }
    return -1;
}

static struct http_reader *reader_of(http_parser *p)
{
    return p->data;
}

static int count_header_bytes(struct http_reader *r, size_t len)
{
    r->header_bytes += len;
    if (r->header_bytes > r->limits.max_header_bytes)
        return fail(r, 431, "request headers too large");
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct http_reader *r = reader_of(p);
    if (count_header_bytes(r, len) < 0 || buf_append(&r->url, at, len) < 0)
        return -1;
    return 0;
}

static int store_header(struct http_reader *r)
{
    struct http_message *m = &r->message;
    if (buf_length(&r->field) == 0)
        return 0;
    if (m->header_count >= HTTP_MAX_HEADERS)
        return fail(r, 431, "too many headers");
    /* http-parser keeps trailing spaces of a value; trim them. */
    while (buf_length(&r->value) > 0 && (buf_bytes(&r->value)[buf_length(&r->value) - 1] == ' ' ||
                                         buf_bytes(&r->value)[buf_length(&r->value) - 1] == '\t'))
        r->value.len--;
    char *name = buf_steal(&r->field, NULL);
    char *value = buf_steal(&r->value, NULL);
    if (!name || !value) {
        free(name);
        free(value);
        return fail(r, 500, "out of memory");
    }
    m->headers[m->header_count].name = name;
    m->headers[m->header_count].value = value;
    m->header_count++;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct http_reader *r = reader_of(p);
    if (count_header_bytes(r, len) < 0)
        return -1;
    if (r->last_was_value && store_header(r) < 0)
        return -1;
    r->last_was_value = 0;
    return buf_append(&r->field, at, len) < 0 ? -1 : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct http_reader *r = reader_of(p);
    if (count_header_bytes(r, len) < 0)
        return -1;
    r->last_was_value = 1;
    return buf_append(&r->value, at, len) < 0 ? -1 : 0;
}

static int split_target(struct http_reader *r)
{
    struct http_message *m = &r->message;
    m->target = buf_steal(&r->url, NULL);
    if (!m->target)
        return fail(r, 500, "out of memory");
    char *q = strchr(m->target, '?');
    size_t path_len = q ? (size_t)(q - m->target) : strlen(m->target);
    m->path = strndup(m->target, path_len);
    m->query = strdup(q ? q + 1 : "");
    if (!m->path || !m->query)
        return fail(r, 500, "out of memory");
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct http_reader *r = reader_of(p);
    struct http_message *m = &r->message;
    if (r->last_was_value && store_header(r) < 0)
        return -1;
    m->http_major = p->http_major;
    m->http_minor = p->http_minor;
    m->keep_alive = http_should_keep_alive(p);
    if (m->is_request) {
        snprintf(m->method, sizeof(m->method), "%s", http_method_str((enum http_method)p->method));
        if (split_target(r) < 0)
            return -1;
    } else {
        m->status = (int)p->status_code;
    }
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > r->limits.max_body_bytes)
        return fail(r, 413, "request body too large");
    r->headers_complete = 1;
    r->last_was_value = 0;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct http_reader *r = reader_of(p);
    if (buf_length(&r->message.body) + len > r->limits.max_body_bytes)
        return fail(r, 413, "request body too large");
    return buf_append(&r->message.body, at, len) < 0 ? -1 : 0;
}

static int on_message_complete(http_parser *p)
{
    struct http_reader *r = reader_of(p);
    /* A chunked body's trailers end without another field: keep the last one. */
    if (r->last_was_value && store_header(r) < 0)
        return -1;
    r->last_was_value = 0;
    r->message.upgrade = p->upgrade;
    r->state = HTTP_READER_COMPLETE;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void http_reader_init(struct http_reader *reader, enum http_parser_type type,
                      const struct http_limits *limits)
{
    memset(reader, 0, sizeof(*reader));
    reader->limits = *limits;
    http_parser_init(&reader->parser, type);
    reader->parser.data = reader;
    reader->message.is_request = type == HTTP_REQUEST;
}

static void message_free(struct http_message *m)
{
    for (size_t i = 0; i < m->header_count; i++) {
        free(m->headers[i].name);
        free(m->headers[i].value);
    }
    free(m->target);
    free(m->path);
    free(m->query);
    buf_free(&m->body);
}

void http_reader_free(struct http_reader *reader)
{
    message_free(&reader->message);
    buf_free(&reader->field);
    buf_free(&reader->value);
    buf_free(&reader->url);
}

void http_reader_reset(struct http_reader *reader)
{
    int is_request = reader->message.is_request;
    message_free(&reader->message);
    memset(&reader->message, 0, sizeof(reader->message));
    reader->message.is_request = is_request;
    buf_reset(&reader->field);
    buf_reset(&reader->value);
    buf_reset(&reader->url);
    reader->header_bytes = 0;
    reader->headers_complete = 0;
    reader->last_was_value = 0;
    reader->state = HTTP_READER_READING;
    reader->http_status_for_error = 0;
    reader->error[0] = '\0';
    /* A fresh parser, not an unpause: Debian's http-parser asserts when
     * unpausing a parser that stopped on an error. */
    http_parser_init(&reader->parser, is_request ? HTTP_REQUEST : HTTP_RESPONSE);
    reader->parser.data = reader;
}

ssize_t http_reader_feed(struct http_reader *reader, const char *data, size_t len)
{
    if (reader->state == HTTP_READER_ERROR)
        return -1;
    if (reader->state == HTTP_READER_COMPLETE)
        return 0;
    size_t n = http_parser_execute(&reader->parser, &settings, data, len);
    enum http_errno err = HTTP_PARSER_ERRNO(&reader->parser);
    if (reader->state == HTTP_READER_ERROR)
        return -1;
    if (err != HPE_OK && err != HPE_PAUSED) {
        char why[160];
        snprintf(why, sizeof(why), "malformed HTTP: %s", http_errno_description(err));
        return fail(reader, 400, why);
    }
    if (reader->parser.upgrade && reader->state != HTTP_READER_COMPLETE) {
        /* http-parser stops right after the headers of an upgrade request. */
        reader->message.upgrade = 1;
        reader->state = HTTP_READER_COMPLETE;
    }
    return (ssize_t)n;
}

void http_reader_finish(struct http_reader *reader)
{
    if (reader->state == HTTP_READER_READING)
        http_parser_execute(&reader->parser, &settings, NULL, 0);
}

const char *http_header_get(const struct http_message *message, const char *name)
{
    for (size_t i = 0; i < message->header_count; i++)
        if (strcasecmp(message->headers[i].name, name) == 0)
            return message->headers[i].value;
    return NULL;
}

int http_header_has_token(const struct http_message *message, const char *name, const char *token)
{
    size_t token_len = strlen(token);
    for (size_t i = 0; i < message->header_count; i++) {
        if (strcasecmp(message->headers[i].name, name) != 0)
            continue;
        const char *p = message->headers[i].value;
        while (*p) {
            while (*p == ' ' || *p == '\t' || *p == ',')
                p++;
            const char *end = p;
            while (*end && *end != ',')
                end++;
            const char *trim = end;
            while (trim > p && (trim[-1] == ' ' || trim[-1] == '\t'))
                trim--;
            if ((size_t)(trim - p) == token_len && strncasecmp(p, token, token_len) == 0)
                return 1;
            p = end;
        }
    }
    return 0;
}

static const struct {
    int status;
    const char *reason;
} status_reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Payload Too Large"},
    {415, "Unsupported Media Type"},
    {422, "Unprocessable Content"},
    {426, "Upgrade Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
};

const char *http_status_reason(int status)
{
    for (size_t i = 0; i < sizeof(status_reasons) / sizeof(status_reasons[0]); i++)
        if (status_reasons[i].status == status)
            return status_reasons[i].reason;
    return "Unknown";
}

int http_write_response(struct buf *out, int status, const char *headers, const void *body,
                        size_t body_len)
{
    int rc = buf_printf(out, "HTTP/1.1 %d %s\r\n%sContent-Length: %zu\r\n\r\n", status,
                        http_status_reason(status), headers ? headers : "", body_len);
    if (rc < 0)
        return rc;
    return buf_append(out, body, body_len);
}

/* ---- header syntax and the Host check ---- */

static int is_token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int is_control(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

int http_header_name_valid(const char *name, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_token_char((unsigned char)name[i]))
            return 0;
    return 1;
}

int http_header_value_valid(const char *value, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (is_control((unsigned char)value[i]))
            return 0;
    return 1;
}

size_t http_header_value_clean(char *out, size_t cap, const char *in)
{
    size_t n = 0;
    for (const char *p = in ? in : ""; *p && n + 1 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        /* Tabs go too: they are legal inside a value but never needed in
         * the names and types this cleans. */
        if (is_control(c) || c == '\t' || (c == ' ' && n == 0))
            continue;
        out[n++] = (char)c;
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    if (cap > 0)
        out[n] = '\0';
    return n;
}

/* "127.a.b.c" with each part a decimal number up to 255. */
static int is_ipv4_loopback(const char *host, size_t len)
{
    char text[16];
    if (len >= sizeof(text))
        return 0;
    memcpy(text, host, len);
    text[len] = '\0';
    struct in_addr addr;
    if (inet_pton(AF_INET, text, &addr) != 1)
        return 0;
    return (ntohl(addr.s_addr) >> 24) == 127;
}

static int is_localhost_name(const char *host, size_t len)
{
    static const char suffix[] = ".localhost";
    size_t n = sizeof(suffix) - 1;
    /* A trailing dot names the same (fully qualified) host. */
    if (len > 0 && host[len - 1] == '.')
        len--;
    if (len == n - 1 && strncasecmp(host, suffix + 1, len) == 0)
        return 1;
    return len > n && strncasecmp(host + len - n, suffix, n) == 0;
}

/* Splits "host[:port]" or "[v6][:port]"; the port must be all digits. */
static int split_host_port(const char *value, size_t *host_len, long *port)
{
    const char *colon;
    *port = -1;
    if (value[0] == '[') {
        const char *close = strchr(value, ']');
        if (!close)
            return -1;
        *host_len = (size_t)(close - value) + 1;
        colon = close[1] == ':' ? close + 1 : NULL;
        if (!colon && close[1] != '\0')
            return -1;
    } else {
        colon = strchr(value, ':');
        *host_len = colon ? (size_t)(colon - value) : strlen(value);
    }
    if (colon) {
        char *end;
        if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
            return -1;
        *port = strtol(colon + 1, &end, 10);
    }
    return 0;
}

int http_host_is_loopback(const char *host, uint16_t port)
{
    size_t len;
    long given;
    if (!host || split_host_port(host, &len, &given) < 0 || len == 0)
        return 0;
    if (given >= 0 && given != port)
        return 0;
    if (host[0] == '[')
        return len == 5 && memcmp(host, "[::1]", 5) == 0;
    return is_ipv4_loopback(host, len) || is_localhost_name(host, len);
}

int http_address_is_loopback(const char *address)
{
    return address && (http_host_is_loopback(address, 0) || strcmp(address, "::1") == 0);
}
