/* The relay (tunnel/relay.h) driven in-process: a real loopback TCP socket on
 * one side, a scripted fake forward on the other, no sshd. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "test.h"
#include "tunnel/relay.h"

/* ---- the fake forward ---- */

struct fake_forward {
    struct buf sent;     /* what the relay wrote (socket to VPC) */
    size_t window;       /* how many more bytes write accepts */
    int want_write;      /* the relay asked to hear when the window opens */
    int eof_sent;        /* the relay passed the socket's EOF on */
    int write_error;     /* write fails: the channel is gone */
    struct buf incoming; /* bytes "from the VPC" not yet taken */
    size_t take_limit;   /* at most this many per take (the forward's cap) */
    size_t takes;
    int remote_eof;
    int remote_closed;
};

static ssize_t fake_write(struct forward *forward, const void *data, size_t len)
{
    struct fake_forward *f = (struct fake_forward *)forward;
    if (f->write_error)
        return -EPIPE;
    size_t n = len < f->window ? len : f->window;
    f->window -= n;
    buf_append(&f->sent, data, n);
    return (ssize_t)n;
}

static void fake_want_write(struct forward *forward, int want)
{
    ((struct fake_forward *)forward)->want_write = want;
}

static int fake_send_eof(struct forward *forward)
{
    ((struct fake_forward *)forward)->eof_sent++;
    return 0;
}

static size_t fake_take(struct forward *forward, struct buf *out)
{
    struct fake_forward *f = (struct fake_forward *)forward;
    size_t n = buf_length(&f->incoming);
    if (f->take_limit && n > f->take_limit)
        n = f->take_limit;
    if (n == 0)
        return 0;
    f->takes++;
    buf_append(out, buf_bytes(&f->incoming), n);
    buf_consume(&f->incoming, n);
    return n;
}

static int fake_remote_eof(const struct forward *forward)
{
    const struct fake_forward *f = (const struct fake_forward *)forward;
    return f->remote_eof && buf_length(&f->incoming) == 0;
}

static int fake_remote_closed(const struct forward *forward)
{
    return ((const struct fake_forward *)forward)->remote_closed;
}

static const struct relay_forward_ops fake_ops = {
    fake_write, fake_want_write, fake_send_eof, fake_take, fake_remote_eof, fake_remote_closed,
};

/* ---- the owner ---- */

struct fixture {
    uv_loop_t loop;
    uv_tcp_t tcp;
    struct relay relay;
    struct fake_forward forward;
    int client; /* the application's end: a plain non-blocking socket */
    int finished, finished_reset, tcp_closed;
    char why[128];
    uint64_t counted_up, counted_down;
    char read_buffer[64 * 1024];
};

static void on_bytes(struct relay *relay, uint64_t up, uint64_t down, void *user)
{
    struct fixture *f = user;
    f->counted_up += up;
    f->counted_down += down;
}

static void on_tcp_closed(uv_handle_t *handle)
{
    struct fixture *f = handle->data;
    f->tcp_closed = 1;
}

/* What an owner does: stop the relay, then close the socket. */
static void close_owner(struct fixture *f)
{
    relay_stop(&f->relay);
    CHECK(f->tcp.data == f);
    if (!uv_is_closing((uv_handle_t *)&f->tcp))
        uv_close((uv_handle_t *)&f->tcp, on_tcp_closed);
}

static void on_finished(struct relay *relay, int reset, const char *why, void *user)
{
    struct fixture *f = user;
    f->finished++;
    f->finished_reset = reset;
    snprintf(f->why, sizeof(f->why), "%s", why ? why : "");
    close_owner(f);
}

static const struct relay_callbacks callbacks = {on_bytes, on_finished};

static void set_buffer_sizes(int fd, int size)
{
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

/* A connected loopback pair: *client (non-blocking) and *server. */
static int tcp_pair(int *client, int *server, int buffer_size)
{
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(listener, 1) < 0 || getsockname(listener, (struct sockaddr *)&addr, &len) < 0)
        return -1;
    *client = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (buffer_size)
        set_buffer_sizes(*client, buffer_size);
    connect(*client, (struct sockaddr *)&addr, sizeof(addr));
    *server = accept(listener, NULL, NULL);
    close(listener);
    if (*server < 0)
        return -1;
    if (buffer_size)
        set_buffer_sizes(*server, buffer_size);
    return 0;
}

static void setup_sized(struct fixture *f, int buffer_size)
{
    memset(f, 0, sizeof(*f));
    buf_init(&f->forward.sent);
    buf_init(&f->forward.incoming);
    f->forward.window = SIZE_MAX;
    CHECK_INT(uv_loop_init(&f->loop), 0);
    int server = -1;
    CHECK_INT(tcp_pair(&f->client, &server, buffer_size), 0);
    uv_tcp_init(&f->loop, &f->tcp);
    CHECK_INT(uv_tcp_open(&f->tcp, server), 0);
    f->tcp.data = f;
    relay_init(&f->relay, &fake_ops, &callbacks, f, f->read_buffer, sizeof(f->read_buffer));
}

static void setup(struct fixture *f)
{
    setup_sized(f, 0);
}

static void teardown(struct fixture *f)
{
    if (!f->tcp_closed)
        close_owner(f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    CHECK(f->tcp_closed);
    relay_free(&f->relay);
    close(f->client);
    CHECK_INT(uv_loop_close(&f->loop), 0);
    buf_free(&f->forward.sent);
    buf_free(&f->forward.incoming);
}

/* Turns the loop until `cond` holds (or about two seconds passed). */
#define RUN_UNTIL(f, cond)                                                                         \
    do {                                                                                           \
        for (int spin_ = 0; spin_ < 2000 && !(cond); spin_++) {                                    \
            uv_run(&(f)->loop, UV_RUN_NOWAIT);                                                     \
            usleep(1000);                                                                          \
        }                                                                                          \
    } while (0)

static void spin(struct fixture *f, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

static void client_send(struct fixture *f, const char *text)
{
    CHECK_INT(send(f->client, text, strlen(text), 0), (long long)strlen(text));
}

/* Reads what the client has; 1 once it saw EOF. */
static int client_read(struct fixture *f, struct buf *into)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = recv(f->client, chunk, sizeof(chunk), 0);
        if (n == 0)
            return 1;
        if (n < 0)
            return 0;
        buf_append(into, chunk, (size_t)n);
    }
}

static int sent_is(struct fixture *f, const char *text)
{
    return buf_length(&f->forward.sent) == strlen(text) &&
           memcmp(buf_bytes(&f->forward.sent), text, strlen(text)) == 0;
}

static void forward_delivers(struct fixture *f, const char *text)
{
    buf_append_str(&f->forward.incoming, text);
    relay_forward_event(&f->relay);
}

/* ---- tests ---- */

TEST(data_flows_both_ways_and_is_counted)
{
    struct fixture f;
    setup(&f);
    relay_start(&f.relay, (uv_stream_t *)&f.tcp, (struct forward *)&f.forward);
    CHECK_INT(f.relay.state, RELAY_RUNNING);
    CHECK(f.tcp.data == &f.relay);
    client_send(&f, "hello VPC");
    RUN_UNTIL(&f, sent_is(&f, "hello VPC"));
    CHECK(sent_is(&f, "hello VPC"));
    forward_delivers(&f, "hello app");
    struct buf got = BUF_INIT;
    RUN_UNTIL(&f, (client_read(&f, &got), buf_length(&got) == 9));
    CHECK_INT(buf_length(&got), 9);
    CHECK(memcmp(buf_bytes(&got), "hello app", 9) == 0);
    CHECK_INT(f.relay.bytes_up, 9);
    CHECK_INT(f.relay.bytes_down, 9);
    CHECK_INT(f.counted_up, 9);
    CHECK_INT(f.counted_down, 9);
    CHECK_INT(f.finished, 0);
    buf_free(&got);
    teardown(&f);
}

TEST(socket_eof_goes_up_and_replies_still_come_down)
{
    struct fixture f;
    setup(&f);
    relay_start(&f.relay, (uv_stream_t *)&f.tcp, (struct forward *)&f.forward);
    client_send(&f, "request");
    shutdown(f.client, SHUT_WR);
    RUN_UNTIL(&f, f.forward.eof_sent);
    CHECK(sent_is(&f, "request"));
    CHECK_INT(f.forward.eof_sent, 1);
    CHECK_INT(f.relay.up_state, RELAY_UP_DONE);
    CHECK_INT(f.finished, 0); /* the reply may still come */
    forward_delivers(&f, "late reply");
    f.forward.remote_eof = 1;
    struct buf got = BUF_INIT;
    int eof = 0;
    RUN_UNTIL(&f, (eof = client_read(&f, &got)) && f.finished);
    CHECK(eof);
    CHECK_INT(buf_length(&got), 10);
    CHECK(memcmp(buf_bytes(&got), "late reply", 10) == 0);
    CHECK_INT(f.finished, 1);
    CHECK_INT(f.finished_reset, 0);
    CHECK_STR(f.why, "");
    CHECK_INT(f.forward.eof_sent, 1); /* once */
    buf_free(&got);
    teardown(&f);
}

TEST(forward_eof_comes_down_and_requests_still_go_up)
{
    struct fixture f;
    setup(&f);
    relay_start(&f.relay, (uv_stream_t *)&f.tcp, (struct forward *)&f.forward);
    forward_delivers(&f, "banner");
    f.forward.remote_eof = 1;
    relay_forward_event(&f.relay);
    struct buf got = BUF_INIT;
    int eof = 0;
    RUN_UNTIL(&f, (eof = client_read(&f, &got)));
    CHECK(eof);
    CHECK_INT(buf_length(&got), 6);
    RUN_UNTIL(&f, f.relay.down_state == RELAY_DOWN_DONE);
    CHECK_INT(f.relay.down_state, RELAY_DOWN_DONE);
    CHECK_INT(f.finished, 0);
    client_send(&f, "more");
    RUN_UNTIL(&f, sent_is(&f, "more"));
    CHECK(sent_is(&f, "more"));
    shutdown(f.client, SHUT_WR);
    RUN_UNTIL(&f, f.finished);
    CHECK_INT(f.finished, 1);
    CHECK_INT(f.finished_reset, 0);
    CHECK_INT(f.forward.eof_sent, 1);
    buf_free(&got);
    teardown(&f);
}

TEST(socket_is_not_read_while_the_forward_is_full)
{
    struct fixture f;
    setup(&f);
    f.forward.window = 0;
    relay_start(&f.relay, (uv_stream_t *)&f.tcp, (struct forward *)&f.forward);
    char first[1000], second[5000];
    memset(first, 'a', sizeof(first));
    memset(second, 'b', sizeof(second));
    CHECK_INT(send(f.client, first, sizeof(first), 0), sizeof(first));
    RUN_UNTIL(&f, f.relay.up_state == RELAY_UP_BLOCKED);
    CHECK_INT(f.relay.up_state, RELAY_UP_BLOCKED);
    CHECK(f.forward.want_write);
    uint64_t read_so_far = f.relay.bytes_up;
    CHECK(read_so_far > 0 && read_so_far <= sizeof(first));
    CHECK_INT(buf_length(&f.relay.up), read_so_far);
    CHECK_INT(send(f.client, second, sizeof(second), 0), sizeof(second));
    spin(&f, 50);
    CHECK_INT(f.relay.bytes_up, read_so_far); /* reading stopped */
    CHECK_INT(buf_length(&f.forward.sent), 0);
    /* The window opens: everything goes, in order, and reading resumes. */
    f.forward.window = SIZE_MAX;
    relay_forward_event(&f.relay);
    RUN_UNTIL(&f, buf_length(&f.forward.sent) == sizeof(first) + sizeof(second));
    CHECK_INT(buf_length(&f.forward.sent), sizeof(first) + sizeof(second));
    CHECK(memcmp(buf_bytes(&f.forward.sent), first, sizeof(first)) == 0);
    CHECK(memcmp(buf_bytes(&f.forward.sent) + sizeof(first), second, sizeof(second)) == 0);
    CHECK_INT(f.relay.up_state, RELAY_UP_READING);
    CHECK(!f.forward.want_write);
    CHECK_INT(f.relay.bytes_up, sizeof(first) + sizeof(second));
    teardown(&f);
}

TEST(forward_is_not_drained_while_the_socket_is_full)
{
    struct fixture f;
    setup_sized(&f, 16 * 1024);
    const size_t total = 4u * 1024 * 1024;
    for (size_t i = 0; i < total; i++)
        buf_append_char(&f.forward.incoming, (char)(i * 7 % 251));
    f.forward.take_limit = 64 * 1024;
    relay_start(&f.relay, (uv_stream_t *)&f.tcp, (struct forward *)&f.forward);
    spin(&f, 100); /* the client reads nothing: the socket fills up */
    CHECK_INT(f.relay.down_state, RELAY_DOWN_WRITING);
    size_t left = buf_length(&f.forward.incoming), takes = f.forward.takes;
    CHECK(left > 0);
    for (int i = 0; i < 5; i++) { /* the forward reports more data arriving */
        relay_forward_event(&f.relay);
        spin(&f, 10);
    }
    CHECK_INT(buf_length(&f.forward.incoming), left); /* nothing more was taken */
    CHECK_INT(f.forward.takes, takes);
    /* The client reads: the rest follows, in order. */
    struct buf got = BUF_INIT;
    RUN_UNTIL(&f, (client_read(&f, &got), buf_length(&got) == total));
    CHECK_INT(buf_length(&got), total);
    int same = 1;
    for (size_t i = 0; i < buf_length(&got) && same; i++)
        same = buf_bytes(&got)[i] == (char)(i * 7 % 251);
    CHECK(same);
    CHECK_INT(f.relay.bytes_down, total);
    CHECK_INT(f.counted_down, total);
    buf_free(&got);
    teardown(&f);
}

TEST(queued_bytes_go_first_and_are_capped)
{
    struct fixture f;
    setup(&f);
    CHECK_INT(relay_queue_up(&f.relay, "early ", 6), 0);
    static char big[sizeof(f.read_buffer)];
    CHECK_INT(relay_queue_up(&f.relay, big, sizeof(big)), -ENOBUFS);
    relay_start(&f.relay, (uv_stream_t *)&f.tcp, (struct forward *)&f.forward);
    CHECK(sent_is(&f, "early "));
    client_send(&f, "late");
    RUN_UNTIL(&f, sent_is(&f, "early late"));
    CHECK(sent_is(&f, "early late"));
    teardown(&f);
}

TEST(socket_reset_finishes_with_a_reset)
{
    struct fixture f;
    setup(&f);
    relay_start(&f.relay, (uv_stream_t *)&f.tcp, (struct forward *)&f.forward);
    forward_delivers(&f, "unread");
    spin(&f, 10);
    struct linger hard = {1, 0};
    setsockopt(f.client, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    close(f.client);
    f.client = socket(AF_INET, SOCK_STREAM, 0); /* for teardown to close */
    RUN_UNTIL(&f, f.finished);
    CHECK_INT(f.finished, 1);
    CHECK_INT(f.finished_reset, 1);
    CHECK(f.why[0] != '\0');
    CHECK_INT(f.relay.state, RELAY_FINISHED);
    teardown(&f);
}

TEST(forward_write_error_finishes_with_a_reset)
{
    struct fixture f;
    setup(&f);
    f.forward.write_error = 1;
    relay_start(&f.relay, (uv_stream_t *)&f.tcp, (struct forward *)&f.forward);
    client_send(&f, "doomed");
    RUN_UNTIL(&f, f.finished);
    CHECK_INT(f.finished, 1);
    CHECK_INT(f.finished_reset, 1);
    CHECK_STR(f.why, "the bastion closed the channel");
    /* No callback after the end, whatever the forward does. */
    forward_delivers(&f, "ignored");
    spin(&f, 5);
    CHECK_INT(f.finished, 1);
    CHECK_INT(f.relay.bytes_down, 0);
    teardown(&f);
}

TEST(forward_closed_finishes_once_its_bytes_are_written)
{
    struct fixture f;
    setup(&f);
    relay_start(&f.relay, (uv_stream_t *)&f.tcp, (struct forward *)&f.forward);
    buf_append_str(&f.forward.incoming, "last words");
    f.forward.remote_eof = 1;
    f.forward.remote_closed = 1;
    relay_forward_event(&f.relay);
    RUN_UNTIL(&f, f.finished);
    CHECK_INT(f.finished, 1);
    CHECK_INT(f.finished_reset, 0);
    CHECK_STR(f.why, "the bastion closed the channel");
    struct buf got = BUF_INIT;
    CHECK(client_read(&f, &got));
    CHECK_INT(buf_length(&got), 10);
    buf_free(&got);
    teardown(&f);
}

TEST(stop_before_start_is_safe)
{
    struct fixture f;
    setup(&f);
    CHECK_INT(relay_queue_up(&f.relay, "never sent", 10), 0);
    CHECK_INT(f.relay.state, RELAY_IDLE);
    CHECK_INT(buf_length(&f.forward.sent), 0);
    teardown(&f); /* relay_stop, close, relay_free: ASan checks the rest */
}

TEST(state_names)
{
    CHECK_STR(relay_state_name(RELAY_RUNNING), "running");
    CHECK_STR(relay_up_state_name(RELAY_UP_BLOCKED), "blocked");
    CHECK_STR(relay_down_state_name(RELAY_DOWN_SHUTTING), "shutting");
    CHECK_STR(relay_state_name((enum relay_state)42), "?");
}

RUN_TESTS("tunnel_relay", TEST_ENTRY(data_flows_both_ways_and_is_counted),
          TEST_ENTRY(socket_eof_goes_up_and_replies_still_come_down),
          TEST_ENTRY(forward_eof_comes_down_and_requests_still_go_up),
          TEST_ENTRY(socket_is_not_read_while_the_forward_is_full),
          TEST_ENTRY(forward_is_not_drained_while_the_socket_is_full),
          TEST_ENTRY(queued_bytes_go_first_and_are_capped),
          TEST_ENTRY(socket_reset_finishes_with_a_reset),
          TEST_ENTRY(forward_write_error_finishes_with_a_reset),
          TEST_ENTRY(forward_closed_finishes_once_its_bytes_are_written),
          TEST_ENTRY(stop_before_start_is_safe), TEST_ENTRY(state_names))
