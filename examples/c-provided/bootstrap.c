/* A custom Lambda runtime ("runtime": "provided") in plain C: the Runtime API
 * loop (docs/lambda.md) with one blocking socket per request and
 * nothing but libc.
 *
 *   loop: GET  /2018-06-01/runtime/invocation/next       -> event + request id
 *         POST /2018-06-01/runtime/invocation/{id}/response  (the answer)
 *      or POST /2018-06-01/runtime/invocation/{id}/error     (a failure)
 *
 * The handler (_HANDLER) is "echo": the answer is the event, byte for byte.
 * An event of exactly {"fail":true} is answered with an error instead, to
 * show the error path. Any other handler name is an init error. */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

struct buffer {
    char *data;
    size_t len, cap;
};

struct response {
    int status;
    char request_id[128];
    struct buffer raw; /* the whole answer: status line, headers, body */
    const char *body;
    size_t body_len;
};

static char api_host[256], api_port[16];

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bootstrap: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1); /* Lambda: a runtime exits when the Runtime API fails it */
}

static void append(struct buffer *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1)
            cap *= 2;
        if (!(b->data = realloc(b->data, cap)))
            die("out of memory");
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

/* "127.0.0.1:9001" or "[::1]:9001" */
static void parse_api(const char *api)
{
    const char *colon = strrchr(api, ':');
    if (!colon || colon == api || strlen(colon + 1) >= sizeof(api_port))
        die("AWS_LAMBDA_RUNTIME_API must be HOST:PORT, not \"%s\"", api);
    const char *host = api;
    size_t host_len = (size_t)(colon - api);
    if (host[0] == '[' && host_len >= 2 && host[host_len - 1] == ']') {
        host++;
        host_len -= 2;
    }
    if (host_len >= sizeof(api_host))
        die("AWS_LAMBDA_RUNTIME_API host too long");
    memcpy(api_host, host, host_len);
    api_host[host_len] = '\0';
    strcpy(api_port, colon + 1);
}

static int connect_api(void)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *list, *ai;
    int rc = getaddrinfo(api_host, api_port, &hints, &list);
    if (rc != 0)
        die("cannot resolve %s: %s", api_host, gai_strerror(rc));
    int fd = -1;
    for (ai = list; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(list);
    if (fd < 0)
        die("cannot connect to the Runtime API at %s:%s: %s", api_host, api_port, strerror(errno));
    return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("write to the Runtime API failed: %s", strerror(errno));
        data += n;
        len -= (size_t)n;
    }
}

/* One request on its own connection ("Connection: close", so the answer ends
 * where the connection does); the answer is parsed into *res. */
static void request(const char *method, const char *path, const char *headers, const char *body,
                    size_t body_len, struct response *res)
{
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n%s"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, api_host, api_port, headers ? headers : "", body_len);
    if (n < 0 || (size_t)n >= sizeof(head))
        die("request head too long");
    int fd = connect_api();
    send_all(fd, head, (size_t)n);
    if (body_len)
        send_all(fd, body, body_len);

    res->raw.len = 0;
    char chunk[65536];
    for (;;) {
        ssize_t got = recv(fd, chunk, sizeof(chunk), 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            die("read from the Runtime API failed: %s", strerror(errno));
        if (got == 0)
            break;
        append(&res->raw, chunk, (size_t)got);
    }
    close(fd);

    char *raw = res->raw.data;
    char *end = raw ? strstr(raw, "\r\n\r\n") : NULL;
    if (!end || sscanf(raw, "HTTP/1.%*d %d", &res->status) != 1)
        die("malformed answer to %s %s", method, path);
    res->body = end + 4;
    res->body_len = res->raw.len - (size_t)(res->body - raw);
    res->request_id[0] = '\0';
    /* Headers we need: Content-Length (to check the body), the request id. */
    for (char *line = strstr(raw, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
        char *colon = memchr(line, ':', (size_t)(end - line));
        char *eol = strstr(line, "\r\n");
        if (!colon || colon > eol)
            continue;
        char *value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        size_t name_len = (size_t)(colon - line), value_len = (size_t)(eol - value);
        if (name_len == 29 && strncasecmp(line, "Lambda-Runtime-Aws-Request-Id", 29) == 0 &&
            value_len < sizeof(res->request_id)) {
            memcpy(res->request_id, value, value_len);
            res->request_id[value_len] = '\0';
        } else if (name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
            size_t declared = strtoull(value, NULL, 10);
            if (declared > res->body_len)
                die("the answer to %s %s was cut short", method, path);
            res->body_len = declared;
        } else if (name_len == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
            die("chunked answers are not supported by this small runtime");
        }
    }
}

static void post_error(const char *path, const char *type, const char *message)
{
    char body[1024], headers[256];
    /* message and type are fixed strings of this file: no JSON escaping. */
    snprintf(body, sizeof(body), "{\"errorMessage\":\"%s\",\"errorType\":\"%s\",\"stackTrace\":[]}",
             message, type);
    snprintf(headers, sizeof(headers),
             "Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: %s\r\n", type);
    struct response res = {0};
    request("POST", path, headers, body, strlen(body), &res);
    free(res.raw.data);
}

int main(void)
{
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    const char *handler = getenv("_HANDLER");
    if (!api)
        die("AWS_LAMBDA_RUNTIME_API is not set: run me as a Lambda runtime");
    parse_api(api);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!handler || strcmp(handler, "echo") != 0) {
        post_error("/2018-06-01/runtime/init/error", "Runtime.HandlerNotFound",
                   "unknown handler: this bootstrap only knows \\\"echo\\\"");
        die("unknown handler \"%s\"", handler ? handler : "");
    }

    struct response next = {0}, posted = {0};
    for (;;) {
        request("GET", "/2018-06-01/runtime/invocation/next", NULL, NULL, 0, &next);
        if (next.status != 200 || !next.request_id[0])
            die("GET /next answered %d", next.status);
        char path[256];
        if (next.body_len == 13 && memcmp(next.body, "{\"fail\":true}", 13) == 0) {
            snprintf(path, sizeof(path), "/2018-06-01/runtime/invocation/%s/error",
                     next.request_id);
            printf("echo: failing %s as asked\n", next.request_id);
            post_error(path, "EchoFailure", "the event asked for a failure");
            continue;
        }
        printf("echo: %zu bytes (%s)\n", next.body_len, next.request_id);
        snprintf(path, sizeof(path), "/2018-06-01/runtime/invocation/%s/response", next.request_id);
        request("POST", path, "Content-Type: application/json\r\n", next.body, next.body_len,
                &posted);
        if (posted.status != 202)
            fprintf(stderr, "bootstrap: the Runtime API answered %d to the response\n",
                    posted.status);
    }
}
