/* A blocking HTTP(S) request on a private loop (see credentials_http.h). */
#include "aws/credentials_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "core/encoding.h"
#include "net/conn.h"
#include "net/http.h"
#include "net/proxy.h"
#include "net/tls.h"
#include "net/url.h"

struct exchange {
    const struct aws_http_request *request;
    struct http_reader reader;
    struct conn *conn;
    uv_timer_t timer;
    int status; /* 0 until done; then 1 for a complete answer or -errno */
    char cause[400];
};

static void finish(struct exchange *x, int status, const char *cause)
{
    if (x->status)
        return;
    x->status = status;
    if (cause)
        snprintf(x->cause, sizeof(x->cause), "%s", cause);
    uv_timer_stop(&x->timer);
    if (x->conn)
        conn_close(x->conn, status < 0 ? status : 0, NULL);
}

static void on_open(struct conn *conn, int status, const char *cause)
{
    struct exchange *x = conn_user(conn);
    if (status < 0) {
        finish(x, status, cause);
        return;
    }
    const struct aws_http_request *r = x->request;
    if (conn_write(conn, r->head, strlen(r->head)) < 0 ||
        (r->body_len && conn_write(conn, r->body, r->body_len) < 0))
        finish(x, -EPIPE, "sending the request failed");
}

static void on_data(struct conn *conn, const char *data, size_t len)
{
    struct exchange *x = conn_user(conn);
    if (x->status)
        return;
    if (http_reader_feed(&x->reader, data, len) < 0) {
        char why[200];
        snprintf(why, sizeof(why), "bad HTTP answer: %s", x->reader.error);
        finish(x, -EPROTO, why);
        return;
    }
    if (x->reader.state == HTTP_READER_COMPLETE)
        finish(x, 1, NULL);
}

static void on_close(struct conn *conn, int status, const char *cause)
{
    struct exchange *x = conn_user(conn);
    x->conn = NULL;
    if (x->status)
        return;
    http_reader_finish(&x->reader);
    if (x->reader.state == HTTP_READER_COMPLETE)
        finish(x, 1, NULL);
    else
        finish(x, status < 0 ? status : -ECONNRESET,
               cause ? cause : "connection closed before the answer");
}

static void on_timeout(uv_timer_t *timer)
{
    struct exchange *x = timer->data;
    finish(x, -ETIMEDOUT, "no answer in time");
}

static const struct conn_callbacks callbacks = {on_open, on_data, on_close};

static int make_tls(const struct url *u, struct tls_config **tls, char *cause, size_t cause_len)
{
    *tls = NULL;
    if (!u->secure)
        return 0;
    const char *bundle = getenv("AWS_CA_BUNDLE");
    return tls_config_new_client(bundle && *bundle ? bundle : NULL, 1, tls, cause, cause_len);
}

/* Runs the exchange to the end on a private loop. */
static int exchange_run(struct exchange *x, const struct url *u, struct tls_config *tls,
                        const struct proxy_config *proxy)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop) < 0)
        return -ENOMEM;
    struct conn_context *ctx = conn_context_new(&loop);
    int rc = ctx ? 0 : -ENOMEM;
    uv_timer_init(&loop, &x->timer);
    x->timer.data = x;
    if (rc == 0)
        rc = conn_connect_via(ctx, u->host, u->port, tls, NULL, proxy, &callbacks, x, &x->conn);
    if (rc == 0) {
        unsigned timeout = x->request->timeout_ms ? x->request->timeout_ms : AWS_HTTP_TIMEOUT_MS;
        uv_timer_start(&x->timer, on_timeout, timeout, 0);
        uv_run(&loop, UV_RUN_DEFAULT);
    } else {
        snprintf(x->cause, sizeof(x->cause), "connecting: %s", uv_strerror(rc));
    }
    uv_close((uv_handle_t *)&x->timer, NULL);
    if (ctx)
        conn_context_free(ctx);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return rc < 0 ? rc : x->status;
}

int aws_http_send(const struct aws_http_request *request, struct aws_http_response *response,
                  char *cause, size_t cause_len)
{
    memset(response, 0, sizeof(*response));
    struct url u;
    char why[200];
    if (url_parse(request->url, &u, why, sizeof(why)) < 0 ||
        (u.scheme != URL_HTTP && u.scheme != URL_HTTPS)) {
        snprintf(cause, cause_len, "bad endpoint %s: %s", request->url,
                 u.host[0] ? "must be http:// or https://" : why);
        return -EINVAL;
    }
    struct proxy_config proxy;
    int use_proxy = proxy_from_env(u.secure, u.host, u.port, &proxy, cause, cause_len);
    if (use_proxy < 0)
        return use_proxy;
    struct tls_config *tls;
    int rc = make_tls(&u, &tls, cause, cause_len);
    if (rc < 0)
        return rc;
    struct exchange *x = calloc(1, sizeof(*x));
    if (!x) {
        tls_config_free(tls);
        return -ENOMEM;
    }
    x->request = request;
    struct http_limits limits = {64 * 1024, AWS_HTTP_MAX_RESPONSE};
    http_reader_init(&x->reader, HTTP_RESPONSE, &limits);
    rc = exchange_run(x, &u, tls, use_proxy ? &proxy : NULL);
    if (use_proxy)
        proxy_config_wipe(&proxy);
    if (rc == 1) {
        response->status = x->reader.message.status;
        response->body = x->reader.message.body;
        buf_init(&x->reader.message.body);
        rc = 0;
    } else {
        snprintf(cause, cause_len, "%s %s: %s", "request to", request->url,
                 x->cause[0] ? x->cause : strerror(rc < 0 ? -rc : EIO));
        rc = rc < 0 ? rc : -EIO;
    }
    http_reader_free(&x->reader);
    free(x);
    tls_config_free(tls);
    return rc;
}

void aws_http_response_free(struct aws_http_response *response)
{
    if (response->body.data)
        secure_wipe(response->body.data, response->body.cap);
    buf_free(&response->body);
}
