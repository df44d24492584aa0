/* loadgen: the live benchmark's load generator. C, one blocking keep-alive
 * HTTP/1.1 connection per thread, one thread per unit of concurrency.
 *
 *   loadgen --port P --path /url/NAME/ [--method POST] [--body TEXT |
 *           --json-string BYTES] [--concurrency C] (--requests N | --seconds S)
 *           [--warmup N_OR_SECONDS] [--label NAME] [--check-echo]
 *
 * Each thread sends a request, reads the whole answer (Content-Length or
 * chunked), takes the time, and sends the next. Warm-up requests (or
 * seconds) are not counted. Prints one line:
 *
 *   RESULT label=NAME c=C n=N errors=E p50_us=.. p90_us=.. p99_us=.. max_us=..
 *          mean_us=.. rps=.. seconds=.. total=..
 *
 * (total: every good answer, warm-up included, for CPU accounting.)
 *
 * --json-string BYTES sends a JSON string of exactly BYTES bytes (the
 * Invoke API wants JSON); --check-echo counts an answer that is not the
 * request body byte for byte as an error. Only 127.0.0.1. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port;
static const char *path = "/";
static const char *method = "POST";
static const char *label = "run";
static char *body;
static size_t body_len;
static int concurrency = 1;
static long requests;  /* per run, all threads together (latency mode) */
static double seconds; /* duration mode */
static double warmup;  /* requests (latency mode) or seconds (duration mode) */
static int check_echo;

static atomic_long issued;   /* latency mode: requests handed out */
static atomic_int stop_flag; /* duration mode */
static atomic_int measuring; /* duration mode: past warm-up */
static atomic_long errors;
static atomic_long completed; /* good answers, warm-up included */

struct thread_state {
    pthread_t thread;
    uint32_t *samples; /* microseconds */
    size_t count, cap;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fail(const char *what)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(2);
}

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        fail("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

struct reader {
    char *data;
    size_t len, cap, pos; /* pos: parsed up to here */
};

static int fill(int fd, struct reader *r)
{
    if (r->cap - r->len < 65536) {
        r->cap = r->cap ? r->cap * 2 : 262144;
        if (!(r->data = realloc(r->data, r->cap)))
            fail("realloc");
    }
    ssize_t n;
    do
        n = recv(fd, r->data + r->len, r->cap - r->len - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return -1;
    r->len += (size_t)n;
    r->data[r->len] = '\0'; /* the header parser uses string functions */
    return 0;
}

/* Reads one answer; returns its status, or -1 on a broken connection. The
 * body (de-chunked) is left in *out / *out_len (inside r->data, or in
 * `assembled` for chunked answers). */
static int read_answer(int fd, struct reader *r, char **assembled, size_t *assembled_cap,
                       const char **out, size_t *out_len)
{
    r->len = 0;
    char *end;
    for (;;) {
        if (r->len && (end = memmem(r->data, r->len, "\r\n\r\n", 4)))
            break;
        if (fill(fd, r) < 0)
            return -1;
    }
    size_t head = (size_t)(end - r->data) + 4;
    int status = atoi(r->data + 9);
    long length = -1;
    int chunked = 0;
    for (char *line = strstr(r->data, "\r\n") + 2; line < r->data + head - 2;) {
        char *eol = strstr(line, "\r\n");
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            length = strtol(line + 15, NULL, 10);
        else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 && strstr(line, "chunked") &&
                 strstr(line, "chunked") < eol)
            chunked = 1;
        line = eol + 2;
    }
    if (!chunked) {
        if (length < 0)
            length = 0;
        while (r->len < head + (size_t)length)
            if (fill(fd, r) < 0)
                return -1;
        *out = r->data + head;
        *out_len = (size_t)length;
        return status;
    }
    size_t pos = head, used = 0;
    for (;;) {
        char *eol;
        while (!(eol = memmem(r->data + pos, r->len - pos, "\r\n", 2)))
            if (fill(fd, r) < 0)
                return -1;
        size_t size = strtoul(r->data + pos, NULL, 16);
        size_t start = (size_t)(eol - r->data) + 2;
        while (r->len < start + size + 2)
            if (fill(fd, r) < 0)
                return -1;
        if (size == 0) { /* no trailers expected */
            *out = *assembled;
            *out_len = used;
            return status;
        }
        if (used + size > *assembled_cap) {
            *assembled_cap = (used + size) * 2;
            if (!(*assembled = realloc(*assembled, *assembled_cap)))
                fail("realloc");
        }
        memcpy(*assembled + used, r->data + start, size);
        used += size;
        pos = start + size + 2;
    }
}

static void record(struct thread_state *t, uint64_t ns)
{
    if (t->count == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 4096;
        if (!(t->samples = realloc(t->samples, t->cap * sizeof(*t->samples))))
            fail("realloc");
    }
    uint64_t us = ns / 1000;
    t->samples[t->count++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static char *request_head;
static size_t request_head_len;

static void *run(void *arg)
{
    struct thread_state *t = arg;
    int fd = connect_server();
    struct reader r = {0};
    char *assembled = NULL;
    size_t assembled_cap = 0;
    long total = requests + (long)warmup;
    for (;;) {
        long mine = 0;
        if (seconds > 0) {
            if (atomic_load(&stop_flag))
                break;
        } else if ((mine = atomic_fetch_add(&issued, 1)) >= total) {
            break;
        }
        int counted = seconds > 0 ? atomic_load(&measuring) : mine >= (long)warmup;
        uint64_t start = now_ns();
        if (send_all(fd, request_head, request_head_len) < 0 ||
            (body_len && send_all(fd, body, body_len) < 0)) {
            atomic_fetch_add(&errors, 1);
            close(fd);
            fd = connect_server();
            continue;
        }
        const char *answer;
        size_t answer_len;
        int status = read_answer(fd, &r, &assembled, &assembled_cap, &answer, &answer_len);
        uint64_t took = now_ns() - start;
        if (status < 0) {
            atomic_fetch_add(&errors, 1);
            close(fd);
            fd = connect_server();
            continue;
        }
        int ok = status == 200 &&
                 (!check_echo || (answer_len == body_len && memcmp(answer, body, body_len) == 0));
        if (!ok) {
            if (atomic_fetch_add(&errors, 1) < 3)
                fprintf(stderr, "loadgen: answer %d (%zu bytes): %.200s\n", status, answer_len,
                        answer);
        }
        if (ok)
            atomic_fetch_add(&completed, 1);
        if (counted && ok && !(seconds > 0 && atomic_load(&stop_flag)))
            record(t, took);
    }
    close(fd);
    free(r.data);
    free(assembled);
    return NULL;
}

static int compare(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void usage(void)
{
    fputs("usage: loadgen --port P --path PATH [--method M] [--body TEXT | --json-string BYTES]\n"
          "               [--concurrency C] (--requests N | --seconds S) [--warmup W]\n"
          "               [--label NAME] [--check-echo]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"port", required_argument, 0, 'p'},        {"path", required_argument, 0, 'P'},
        {"method", required_argument, 0, 'm'},      {"body", required_argument, 0, 'b'},
        {"json-string", required_argument, 0, 'j'}, {"concurrency", required_argument, 0, 'c'},
        {"requests", required_argument, 0, 'n'},    {"seconds", required_argument, 0, 's'},
        {"warmup", required_argument, 0, 'w'},      {"label", required_argument, 0, 'l'},
        {"check-echo", no_argument, 0, 'e'},        {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'p':
            port = atoi(optarg);
            break;
        case 'P':
            path = optarg;
            break;
        case 'm':
            method = optarg;
            break;
        case 'b':
            body = strdup(optarg);
            body_len = strlen(body);
            break;
        case 'j': {
            body_len = strtoul(optarg, NULL, 10);
            if (body_len < 2)
                usage();
            body = malloc(body_len);
            body[0] = body[body_len - 1] = '"';
            static const char alphabet[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            uint32_t x = 2463534242u;
            for (size_t i = 1; i + 1 < body_len; i++) {
                x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                body[i] = alphabet[x & 63];
            }
            break;
        }
        case 'c':
            concurrency = atoi(optarg);
            break;
        case 'n':
            requests = atol(optarg);
            break;
        case 's':
            seconds = atof(optarg);
            break;
        case 'w':
            warmup = atof(optarg);
            break;
        case 'l':
            label = optarg;
            break;
        case 'e':
            check_echo = 1;
            break;
        default:
            usage();
        }
    }
    if (!port || concurrency < 1 || (requests <= 0 && seconds <= 0))
        usage();
    request_head = malloc(1024);
    request_head_len = (size_t)snprintf(request_head, 1024,
                                        "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                                        "Content-Type: application/json\r\n"
                                        "Content-Length: %zu\r\n\r\n",
                                        method, path, port, body_len);
    struct thread_state *threads = calloc((size_t)concurrency, sizeof(*threads));
    uint64_t started = now_ns(), measured_from = started;
    for (int i = 0; i < concurrency; i++)
        pthread_create(&threads[i].thread, NULL, run, &threads[i]);
    if (seconds > 0) {
        if (warmup > 0)
            usleep((useconds_t)(warmup * 1e6));
        measured_from = now_ns();
        atomic_store(&measuring, 1);
        usleep((useconds_t)(seconds * 1e6));
        atomic_store(&stop_flag, 1);
    }
    uint64_t ended = now_ns();
    for (int i = 0; i < concurrency; i++)
        pthread_join(threads[i].thread, NULL);
    if (seconds <= 0)
        ended = now_ns();
    size_t n = 0;
    for (int i = 0; i < concurrency; i++)
        n += threads[i].count;
    uint32_t *all = malloc((n ? n : 1) * sizeof(*all));
    size_t k = 0;
    double sum = 0;
    for (int i = 0; i < concurrency; i++)
        for (size_t j = 0; j < threads[i].count; j++)
            sum += (all[k++] = threads[i].samples[j]);
    qsort(all, n, sizeof(*all), compare);
    double elapsed = (double)(ended - measured_from) / 1e9;
#define PCT(p) (n ? all[(size_t)((double)(n - 1) * (p))] : 0)
    printf("RESULT label=%s c=%d n=%zu errors=%ld p50_us=%u p90_us=%u p99_us=%u max_us=%u "
           "mean_us=%.0f rps=%.0f seconds=%.3f total=%ld\n",
           label, concurrency, n, atomic_load(&errors), PCT(0.50), PCT(0.90), PCT(0.99),
           n ? all[n - 1] : 0, n ? sum / (double)n : 0, elapsed > 0 ? (double)n / elapsed : 0,
           elapsed, atomic_load(&completed));
    return atomic_load(&errors) ? 1 : 0;
}
