/* echo_runtime: the benchmark's handler, a minimal Lambda custom runtime
 * (`provided`) in C. One keep-alive HTTP/1.1 connection to the Runtime API
 * (AWS_LAMBDA_RUNTIME_API), then forever:
 *
 *   GET  /2018-06-01/runtime/invocation/next            -> the event
 *   POST /2018-06-01/runtime/invocation/{id}/response   <- the event, byte for byte
 *
 * Nothing but libc; no allocation per invocation once the buffer has grown.
 * The same binary is the handler for `tether lambda` directly and for
 * `tether dev` (bench/live/run). */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static int fd = -1;
static char *buf;        /* what has been read: answer head + body */
static size_t buf_cap;   /* allocated */
static size_t buf_len;   /* bytes in buf */
static const char *host; /* for the Host header */

static void die(const char *what)
{
    fprintf(stderr, "echo_runtime: %s: %s\n", what, errno ? strerror(errno) : "protocol error");
    exit(1); /* Lambda: a runtime exits when the Runtime API fails it */
}

static void connect_api(void)
{
    char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (!api)
        die("AWS_LAMBDA_RUNTIME_API is not set");
    host = api;
    char name[256];
    const char *colon = strrchr(api, ':');
    if (!colon || (size_t)(colon - api) >= sizeof(name))
        die("AWS_LAMBDA_RUNTIME_API is not HOST:PORT");
    memcpy(name, api, (size_t)(colon - api));
    name[colon - api] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(name, colon + 1, &hints, &ai) != 0)
        die("cannot resolve the Runtime API");
    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        die("cannot connect to the Runtime API");
    freeaddrinfo(ai);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void write_all(const struct iovec *iov, int n)
{
    struct iovec v[2];
    memcpy(v, iov, sizeof(*iov) * (size_t)n);
    int i = 0;
    while (i < n) {
        ssize_t w = writev(fd, v + i, n - i);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            die("write");
        }
        while (i < n && (size_t)w >= v[i].iov_len)
            w -= (ssize_t)v[i++].iov_len;
        if (i < n) {
            v[i].iov_base = (char *)v[i].iov_base + w;
            v[i].iov_len -= (size_t)w;
        }
    }
}

static void ensure(size_t need)
{
    if (need <= buf_cap)
        return;
    size_t cap = buf_cap ? buf_cap : 65536;
    while (cap < need)
        cap *= 2;
    if (!(buf = realloc(buf, cap)))
        die("out of memory");
    buf_cap = cap;
}

static void fill(void)
{
    ensure(buf_len + 65536);
    ssize_t r;
    do
        r = read(fd, buf + buf_len, buf_cap - buf_len);
    while (r < 0 && errno == EINTR);
    if (r <= 0) {
        if (r == 0)
            errno = ECONNRESET;
        die("read");
    }
    buf_len += (size_t)r;
}

/* Reads one answer; sets *head_len, *body_len; the request id (if any) is
 * copied into id. Leftover bytes of a next answer cannot occur (one request
 * at a time), so buf holds exactly this answer afterwards. */
static int read_answer(size_t *head_len, size_t *body_len, char *id, size_t id_cap)
{
    buf_len = 0;
    char *end;
    for (;;) {
        if (buf_len && (end = memmem(buf, buf_len, "\r\n\r\n", 4)))
            break;
        fill();
    }
    *head_len = (size_t)(end - buf) + 4;
    int status = atoi(buf + 9);
    size_t length = 0;
    if (id)
        id[0] = '\0';
    for (char *line = memchr(buf, '\n', *head_len) + 1; line < buf + *head_len - 2;) {
        char *eol = memchr(line, '\r', (size_t)(buf + *head_len - line));
        if (!eol)
            break;
        char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon) {
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            size_t name_len = (size_t)(colon - line);
            if (name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0)
                length = strtoull(v, NULL, 10);
            else if (id && name_len == 29 &&
                     strncasecmp(line, "Lambda-Runtime-Aws-Request-Id", 29) == 0 &&
                     (size_t)(eol - v) < id_cap) {
                memcpy(id, v, (size_t)(eol - v));
                id[eol - v] = '\0';
            }
        }
        line = eol + 2;
    }
    ensure(*head_len + length);
    while (buf_len < *head_len + length)
        fill();
    *body_len = length;
    return status;
}

int main(void)
{
    connect_api();
    /* The Runtime API answers only requests addressed to it by name
     * (its Host check keeps DNS-rebinding pages out). */
    char next_request[300];
    int next_len = snprintf(next_request, sizeof(next_request),
                            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"
                            "Host: %s\r\n\r\n",
                            host);
    if (next_len < 0 || (size_t)next_len >= sizeof(next_request))
        die("AWS_LAMBDA_RUNTIME_API is too long");
    char id[256], head[512];
    for (;;) {
        struct iovec get = {next_request, (size_t)next_len};
        write_all(&get, 1);
        size_t head_len, body_len;
        int status = read_answer(&head_len, &body_len, id, sizeof(id));
        if (status != 200 || !id[0])
            die("GET /next did not answer 200 with a request id");
        int n = snprintf(head, sizeof(head),
                         "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\n"
                         "Host: %s\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\n\r\n",
                         id, host, body_len);
        struct iovec post[2] = {{head, (size_t)n}, {buf + head_len, body_len}};
        write_all(post, 2);
        /* The 202 can be read into the same buffer: the event was sent. */
        if (read_answer(&head_len, &body_len, NULL, 0) != 202)
            die("POST /response was not accepted");
    }
}
