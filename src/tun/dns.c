/* The DNS forwarder (see dns.h): UDP in, TCP through the tunnel out. */
#include "tun/dns.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOG_MODULE "dns"
#include "core/buf.h"
#include "core/log.h"
#include "ssh/forward.h"
#include "tun/cidr.h"

#define DNS_UDP_LIMIT_PLAIN 512u
#define DNS_UDP_LIMIT_EDNS 1232u
#define DNS_UPSTREAM_IN_MAX (2u * 65538)
#define DNS_SWEEP_MS 250

enum dns_upstream_state {
    DNS_UPSTREAM_IDLE,    /* no connection; opened by the next query */
    DNS_UPSTREAM_OPENING, /* the forward is opening; queries wait */
    DNS_UPSTREAM_OPEN,    /* queries are written as they come */
};

struct dns_query {
    struct dns_query *next;
    uint16_t id, client_id;
    int from_device;
    struct tun_dns_peer peer;     /* from_device */
    struct sockaddr_storage from; /* from a socket */
    int socket_family;
    uint64_t deadline_ms;
    int resent;
    size_t udp_limit;
    uint16_t len;
    uint8_t msg[TUN_DNS_QUERY_MAX];
};

struct dns_upstream {
    struct tun_dns *dns;
    int family;
    uint8_t addr[16];
    char host[48];
    enum dns_upstream_state state;
    struct forward *forward;
    struct dns_query *pending;
    struct buf out; /* framed queries the forward has not taken yet */
    struct buf in;  /* framed answers not yet complete */
};

struct tun_dns {
    uv_loop_t *loop;
    struct bastion *bastion;
    struct tun_dns_config config;
    uv_udp_t udp[2];
    int udp_open[2];
    uv_timer_t timer;
    struct dns_upstream upstreams[TUN_DNS_MAX_SERVERS];
    size_t upstream_count;
    size_t pending_count;
    uint16_t next_id;
    tun_dns_reply_fn reply;
    void *user;
    struct tun_dns_stats stats;
    int pending_closes;
    void (*on_stopped)(void *user);
    void *stopped_user;
    uint8_t answer[65536];
};

static const char *const upstream_state_names[] = {
    [DNS_UPSTREAM_IDLE] = "idle",
    [DNS_UPSTREAM_OPENING] = "opening",
    [DNS_UPSTREAM_OPEN] = "open",
};

static const char *dns_upstream_state_name(enum dns_upstream_state state)
{
    return (unsigned)state <= DNS_UPSTREAM_OPEN ? upstream_state_names[state] : "?";
}

static void dns_upstream_enter_state(struct dns_upstream *u, enum dns_upstream_state state)
{
    if (u->state == state)
        return;
    log_trace("resolver %s: %s -> %s", u->host, dns_upstream_state_name(u->state),
              dns_upstream_state_name(state));
    u->state = state;
}

static uint64_t now_ms(struct tun_dns *dns)
{
    return uv_now(dns->loop);
}

/* ---- answering the client ---- */

struct udp_send {
    uv_udp_send_t req;
    size_t len;
    uint8_t data[];
};

static void on_udp_sent(uv_udp_send_t *req, int status)
{
    free(req);
}

static void send_udp(struct tun_dns *dns, int family, const struct sockaddr *to,
                     const uint8_t *data, size_t len)
{
    uv_udp_t *udp = &dns->udp[family == 6];
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
    if (uv_udp_try_send(udp, &buf, 1, to) >= 0)
        return;
    struct udp_send *s = malloc(sizeof(*s) + len);
    if (!s)
        return;
    memcpy(s->data, data, len);
    buf = uv_buf_init((char *)s->data, (unsigned)len);
    if (uv_udp_send(&s->req, udp, &buf, 1, to, on_udp_sent) < 0)
        free(s);
}

static void answer_query(struct tun_dns *dns, struct dns_query *q, uint8_t *answer, size_t len)
{
    answer[0] = (uint8_t)(q->client_id >> 8);
    answer[1] = (uint8_t)q->client_id;
    if (len > q->udp_limit)
        len = tun_dns_truncate(answer, len);
    if (!len)
        return;
    if (q->from_device)
        dns->reply(&q->peer, answer, len, dns->user);
    else
        send_udp(dns, q->socket_family, (const struct sockaddr *)&q->from, answer, len);
}

static void fail_query(struct tun_dns *dns, struct dns_query *q, const char *why)
{
    uint8_t error[TUN_DNS_QUERY_MAX];
    size_t len = tun_dns_build_error(q->msg, q->len, 2 /* SERVFAIL */, error, sizeof(error));
    dns->stats.failed++;
    log_debug("query %u failed: %s", q->client_id, why);
    if (len)
        answer_query(dns, q, error, len);
}

/* ---- upstream connections ---- */

static void upstream_reset(struct dns_upstream *u)
{
    forward_close(u->forward);
    u->forward = NULL;
    dns_upstream_enter_state(u, DNS_UPSTREAM_IDLE);
    buf_reset(&u->out);
    buf_reset(&u->in);
}

static void upstream_flush(struct dns_upstream *u)
{
    while (buf_length(&u->out) > 0) {
        ssize_t n = forward_write(u->forward, buf_bytes(&u->out), buf_length(&u->out));
        if (n <= 0) {
            forward_want_write(u->forward, n == 0);
            return;
        }
        buf_consume(&u->out, (size_t)n);
    }
    forward_want_write(u->forward, 0);
}

static void frame_query(struct dns_upstream *u, struct dns_query *q)
{
    uint8_t prefix[2] = {(uint8_t)(q->len >> 8), (uint8_t)q->len};
    q->msg[0] = (uint8_t)(q->id >> 8);
    q->msg[1] = (uint8_t)q->id;
    buf_append(&u->out, prefix, 2);
    buf_append(&u->out, q->msg, q->len);
}

static void remove_pending(struct dns_upstream *u, struct dns_query *q)
{
    for (struct dns_query **link = &u->pending; *link; link = &(*link)->next) {
        if (*link == q) {
            *link = q->next;
            u->dns->pending_count--;
            free(q);
            return;
        }
    }
}

static void deliver(struct dns_upstream *u, uint8_t *msg, size_t len)
{
    if (len < 12)
        return;
    uint16_t id = (uint16_t)(msg[0] << 8 | msg[1]);
    for (struct dns_query *q = u->pending; q; q = q->next) {
        if (q->id != id)
            continue;
        u->dns->stats.answered++;
        answer_query(u->dns, q, msg, len);
        remove_pending(u, q);
        return;
    }
}

static void read_answers(struct dns_upstream *u)
{
    struct buf chunk = BUF_INIT;
    while (forward_take(u->forward, &chunk) > 0) {
        if (buf_length(&u->in) + buf_length(&chunk) > DNS_UPSTREAM_IN_MAX) {
            buf_free(&chunk);
            upstream_reset(u);
            return;
        }
        buf_append(&u->in, buf_bytes(&chunk), buf_length(&chunk));
        buf_reset(&chunk);
    }
    buf_free(&chunk);
    while (buf_length(&u->in) >= 2) {
        uint8_t *p = (uint8_t *)buf_bytes(&u->in);
        size_t len = (size_t)(p[0] << 8 | p[1]);
        if (buf_length(&u->in) < 2 + len)
            break;
        memcpy(u->dns->answer, p + 2, len);
        buf_consume(&u->in, 2 + len);
        deliver(u, u->dns->answer, len);
    }
}

static void upstream_open(struct dns_upstream *u);

/* The connection ended: send what is pending once more on a new one. */
static void upstream_lost(struct dns_upstream *u, const char *why)
{
    upstream_reset(u);
    struct dns_query **link = &u->pending;
    int again = 0;
    while (*link) {
        struct dns_query *q = *link;
        if (q->resent) {
            fail_query(u->dns, q, why);
            *link = q->next;
            u->dns->pending_count--;
            free(q);
            continue;
        }
        q->resent = 1;
        again = 1;
        link = &q->next;
    }
    if (again)
        upstream_open(u);
}

static void on_upstream_event(struct forward *f, void *user)
{
    struct dns_upstream *u = user;
    enum forward_state state = forward_get_state(f);
    if (state == FORWARD_REFUSED || state == FORWARD_LOST) {
        log_debug("resolver %s: %s", u->host, forward_failure_description(f));
        upstream_lost(u, forward_failure_description(f));
        return;
    }
    if (state != FORWARD_OPEN)
        return;
    if (u->state == DNS_UPSTREAM_OPENING) {
        dns_upstream_enter_state(u, DNS_UPSTREAM_OPEN);
        buf_reset(&u->out);
        for (struct dns_query *q = u->pending; q; q = q->next)
            frame_query(u, q);
    }
    upstream_flush(u);
    read_answers(u);
    if (u->forward && (forward_remote_eof(f) || forward_remote_closed(f)))
        upstream_lost(u, "the resolver closed the connection");
}

static void upstream_open(struct dns_upstream *u)
{
    static const struct forward_callbacks callbacks = {on_upstream_event};
    if (!u->dns->bastion || forward_open(u->dns->bastion, u->host, 53, "127.0.0.1", 0, &callbacks,
                                         u, &u->forward) < 0) {
        u->forward = NULL;
        return; /* the queries time out */
    }
    dns_upstream_enter_state(u, DNS_UPSTREAM_OPENING);
}

static struct dns_upstream *upstream_for(struct tun_dns *dns, int family, const uint8_t *addr)
{
    size_t len = family == 4 ? 4 : 16;
    for (size_t i = 0; i < dns->upstream_count; i++) {
        struct dns_upstream *u = &dns->upstreams[i];
        if (u->family == family && memcmp(u->addr, addr, len) == 0)
            return u;
    }
    if (dns->upstream_count == TUN_DNS_MAX_SERVERS)
        return NULL;
    struct dns_upstream *u = &dns->upstreams[dns->upstream_count++];
    u->dns = dns;
    u->family = family;
    memcpy(u->addr, addr, len);
    tun_addr_format(family, addr, u->host, sizeof(u->host));
    return u;
}

/* ---- queries ---- */

static size_t udp_limit_of(const uint8_t *query)
{
    /* An OPT record (EDNS) is the only additional record a stub sends. */
    return (query[10] | query[11]) ? DNS_UDP_LIMIT_EDNS : DNS_UDP_LIMIT_PLAIN;
}

static int wanted(const struct tun_dns *dns, const char *name)
{
    if (dns->config.all)
        return 1;
    for (size_t i = 0; i < dns->config.domain_count; i++)
        if (tun_dns_name_in_domain(name, dns->config.domains[i]))
            return 1;
    return 0;
}

static void submit(struct tun_dns *dns, struct dns_query *q, int family, const uint8_t *server)
{
    char name[TUN_DNS_NAME_MAX];
    size_t end;
    dns->stats.queries++;
    if (tun_dns_question_name(q->msg, q->len, name, sizeof(name), &end) < 0) {
        dns->stats.dropped++;
        free(q);
        return;
    }
    q->client_id = (uint16_t)(q->msg[0] << 8 | q->msg[1]);
    q->udp_limit = udp_limit_of(q->msg);
    /* A query sent to a VPC address chose that server: it gets every name. */
    int forward = q->from_device || wanted(dns, name);
    struct dns_upstream *u = forward ? upstream_for(dns, family, server) : NULL;
    if (!u || dns->pending_count >= TUN_DNS_MAX_PENDING) {
        size_t len =
            tun_dns_build_error(q->msg, q->len, 5 /* REFUSED */, dns->answer, sizeof(dns->answer));
        dns->stats.refused++;
        log_debug("%s: refused (%s)", name, u ? "too many pending" : "not a VPC domain");
        if (len)
            answer_query(dns, q, dns->answer, len);
        free(q);
        return;
    }
    log_debug("%s: forwarded to %s", name, u->host);
    dns->stats.forwarded++;
    q->id = ++dns->next_id;
    q->deadline_ms = now_ms(dns) + dns->config.timeout_ms;
    q->next = u->pending;
    u->pending = q;
    dns->pending_count++;
    if (u->state == DNS_UPSTREAM_OPEN) {
        frame_query(u, q);
        upstream_flush(u);
    } else if (u->state == DNS_UPSTREAM_IDLE) {
        upstream_open(u);
    }
}

static struct dns_query *new_query(const uint8_t *msg, size_t len)
{
    if (len < 12 || len > TUN_DNS_QUERY_MAX)
        return NULL;
    struct dns_query *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    memcpy(q->msg, msg, len);
    q->len = (uint16_t)len;
    return q;
}

void tun_dns_query_from_device(struct tun_dns *dns, const struct tun_dns_peer *peer,
                               const uint8_t *query, size_t len)
{
    struct dns_query *q = new_query(query, len);
    if (!q) {
        dns->stats.dropped++;
        return;
    }
    q->from_device = 1;
    q->peer = *peer;
    submit(dns, q, peer->family, peer->server);
}

static void on_udp_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct tun_dns *dns = handle->data;
    buf->base = (char *)dns->answer;
    buf->len = TUN_DNS_QUERY_MAX + 1;
}

static void on_udp_read(uv_udp_t *udp, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *from, unsigned flags)
{
    struct tun_dns *dns = udp->data;
    if (nread <= 0 || !from)
        return;
    struct dns_query *q = new_query((const uint8_t *)buf->base, (size_t)nread);
    if (!q) {
        dns->stats.dropped++;
        return;
    }
    q->socket_family = udp == &dns->udp[1] ? 6 : 4;
    memcpy(&q->from, from,
           q->socket_family == 6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    submit(dns, q, dns->config.resolver_family, dns->config.resolver);
}

/* ---- deadlines ---- */

static void expire_upstream(struct tun_dns *dns, struct dns_upstream *u, uint64_t now)
{
    struct dns_query **link = &u->pending;
    while (*link) {
        struct dns_query *q = *link;
        if (now < q->deadline_ms) {
            link = &q->next;
            continue;
        }
        fail_query(dns, q, "no answer in time");
        *link = q->next;
        dns->pending_count--;
        free(q);
    }
}

static void on_sweep(uv_timer_t *timer)
{
    struct tun_dns *dns = timer->data;
    for (size_t i = 0; i < dns->upstream_count; i++)
        expire_upstream(dns, &dns->upstreams[i], now_ms(dns));
}

/* ---- life cycle ---- */

int tun_dns_bind(int family, const uint8_t *addr, char *cause, size_t cause_len)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len;
    if (family == 4) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(53);
        memcpy(&in->sin_addr, addr, 4);
        len = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(53);
        memcpy(&in6->sin6_addr, addr, 16);
        len = sizeof(*in6);
    }
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0) {
        int rc = -errno;
        char text[64];
        tun_addr_format(family, addr, text, sizeof(text));
        snprintf(cause, cause_len, "cannot listen for DNS on %s port 53: %s", text,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    return fd;
}

static int open_socket(struct tun_dns *dns, int index, int fd, char *cause, size_t cause_len)
{
    uv_udp_init(dns->loop, &dns->udp[index]);
    dns->udp[index].data = dns;
    dns->udp_open[index] = 1;
    int rc = uv_udp_open(&dns->udp[index], fd);
    if (rc == 0)
        rc = uv_udp_recv_start(&dns->udp[index], on_udp_alloc, on_udp_read);
    if (rc < 0) {
        snprintf(cause, cause_len, "DNS socket: %s", uv_strerror(rc));
        return rc;
    }
    return 0;
}

int tun_dns_start(uv_loop_t *loop, struct bastion *bastion, const struct tun_dns_config *config,
                  int fd4, int fd6, tun_dns_reply_fn reply, void *user, struct tun_dns **out,
                  char *cause, size_t cause_len)
{
    struct tun_dns *dns = calloc(1, sizeof(*dns));
    if (!dns) {
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    dns->loop = loop;
    dns->bastion = bastion;
    dns->config = *config;
    dns->reply = reply;
    dns->user = user;
    uv_timer_init(loop, &dns->timer);
    dns->timer.data = dns;
    uv_timer_start(&dns->timer, on_sweep, DNS_SWEEP_MS, DNS_SWEEP_MS);
    *out = dns;
    int rc = 0;
    if (fd4 >= 0)
        rc = open_socket(dns, 0, fd4, cause, cause_len);
    if (rc == 0 && fd6 >= 0)
        rc = open_socket(dns, 1, fd6, cause, cause_len);
    if (rc < 0) {
        tun_dns_stop(dns, NULL, NULL);
        *out = NULL;
    }
    return rc;
}

void tun_dns_get_stats(const struct tun_dns *dns, struct tun_dns_stats *out)
{
    *out = dns->stats;
}

static void on_closed(uv_handle_t *handle)
{
    struct tun_dns *dns = handle->data;
    if (--dns->pending_closes > 0)
        return;
    void (*on_stopped)(void *) = dns->on_stopped;
    void *user = dns->stopped_user;
    free(dns);
    if (on_stopped)
        on_stopped(user);
}

void tun_dns_stop(struct tun_dns *dns, void (*on_stopped)(void *user), void *user)
{
    dns->on_stopped = on_stopped;
    dns->stopped_user = user;
    for (size_t i = 0; i < dns->upstream_count; i++) {
        struct dns_upstream *u = &dns->upstreams[i];
        upstream_reset(u);
        while (u->pending)
            remove_pending(u, u->pending);
        buf_free(&u->out);
        buf_free(&u->in);
    }
    dns->pending_closes = 1;
    uv_close((uv_handle_t *)&dns->timer, on_closed);
    for (int i = 0; i < 2; i++) {
        if (dns->udp_open[i]) {
            dns->pending_closes++;
            uv_close((uv_handle_t *)&dns->udp[i], on_closed);
        }
    }
}
