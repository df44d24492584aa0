/* The inspector's server and JSON API (dev/inspector.h). */
#include "dev/inspector.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "inspector"
#include "aws/credentials_provider.h"
#include "aws/profile.h"
#include "core/encoding.h"
#include "core/log.h"
#include "core/percent.h"
#include "core/random.h"
#include "lambda/invoke_client.h"
#include "net/http_server.h"

#define MAX_STREAMS 16
#define MAX_REPLAYS 2 /* each holds a thread of libuv's pool while it runs */
#define REPLAY_TIMEOUT_MS (15u * 60 * 1000)
#define STREAM_MAX_PENDING (4u * 1024 * 1024)
#define COOKIE_NAME "tether_inspector"
#define JSON_HEADERS "Content-Type: application/json\r\nCache-Control: no-store\r\n"

struct inspector {
    uv_loop_t *loop;
    struct conn_context *conns;
    struct http_server *server;
    struct inspector_options o;
    char token[65];
    char url[160];
    struct http_exchange *streams[MAX_STREAMS];
    size_t replays; /* under way */
    int stopped;
    /* inspector_set_aws: replays of invocations from AWS go to AWS Lambda. */
    struct aws_credentials_provider *aws_credentials; /* borrowed; NULL: none */
    char aws_profile[AWS_PROFILE_MAX_NAME + 1];       /* "" : the selected one */
};

/* A replay on libuv's thread pool: lambda_invoke runs its own private loop,
 * so the dev loop keeps serving the invocation it starts. */
struct replay {
    struct inspector *in;
    struct http_exchange *ex; /* NULL once the client is gone */
    uv_work_t work;
    char endpoint[256];
    char function[72];
    char original[INSPECTOR_ID_SIZE];
    struct buf event;
    uint64_t ticket;
    int local; /* ran in a local worker (remote mode) */
    /* In AWS Lambda (the original's function ARN): what to sign with. */
    int aws;
    char function_arn[256];
    char region[AWS_REGION_MAX + 1];
    char profile[AWS_PROFILE_MAX_NAME + 1];
    struct aws_credentials credentials;
    int rc;
    char cause[256];
    struct lambda_invoke_answer answer;
};

/* ---- answers ---- */

static void respond_json(struct http_exchange *ex, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        http_exchange_respond(ex, 500, JSON_HEADERS, "{\"message\":\"out of memory\"}", 27);
        return;
    }
    http_exchange_respond(ex, status, JSON_HEADERS, text, strlen(text));
    free(text);
}

static void respond_message(struct http_exchange *ex, int status, const char *message)
{
    respond_json(ex, status, json_pack("{s:s}", "message", message));
}

/* ---- the token ---- */

/* The value of NAME in a query string or a Cookie header (SEP '&' or ';'),
 * percent-decoded into out; 0 when found. */
static int find_param(const char *text, const char *name, char sep, struct buf *out)
{
    size_t name_len = strlen(name);
    for (const char *p = text; p && *p;) {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > name_len && memcmp(p, name, name_len) == 0 && p[name_len] == '=')
            return percent_decode(out, p + name_len + 1, len - name_len - 1, PERCENT_LENIENT);
        p = end ? end + 1 : NULL;
    }
    return -ENOENT;
}

static int token_matches(const struct inspector *in, const struct buf *given)
{
    return constant_time_equal(buf_bytes(given), buf_length(given), in->token, strlen(in->token));
}

/* The token from the Authorization header, the cookie or the query. */
static int authorized(const struct inspector *in, const struct http_message *m, int *from_query)
{
    struct buf given;
    int ok = 0;
    buf_init(&given);
    *from_query = 0;
    const char *auth = http_header_get(m, "authorization");
    const char *cookie = http_header_get(m, "cookie");
    if (auth && strncmp(auth, "Bearer ", 7) == 0) {
        buf_append_str(&given, auth + 7);
        ok = token_matches(in, &given);
    }
    buf_reset(&given);
    if (!ok && cookie && find_param(cookie, COOKIE_NAME, ';', &given) == 0)
        ok = token_matches(in, &given);
    buf_reset(&given);
    if (!ok && find_param(m->query, "token", '&', &given) == 0 && token_matches(in, &given))
        ok = *from_query = 1;
    buf_free(&given);
    return ok;
}

/* ---- JSON views of entries ---- */

static json_t *summary(const struct inspector_entry *e)
{
    return json_pack(
        "{s:s, s:I, s:s, s:s, s:s, s:s, s:s?, s:f, s:I, s:s?, s:I, s:I}", "id", e->id, "seq",
        (json_int_t)e->seq, "function", e->function, "source", e->source, "worker", e->worker,
        "status", e->success ? "ok" : "error", "errorType", e->error_type[0] ? e->error_type : NULL,
        "durationMs", e->duration_ms, "finishedMs", (json_int_t)e->finished_ms, "replayOf",
        e->replay_of[0] ? e->replay_of : NULL, "eventBytes", (json_int_t)buf_length(&e->event),
        "answerBytes", (json_int_t)buf_length(&e->answer));
}

/* A body as JSON when it is JSON; otherwise as text, or base64 when it is
 * not UTF-8 (the page shows the raw bytes then). */
static void put_body(json_t *o, const char *key, const struct buf *b)
{
    char name[64];
    if (!buf_length(b)) {
        json_object_set_new(o, key, json_null());
        return;
    }
    json_t *value = json_loadb(buf_bytes(b), buf_length(b), JSON_DECODE_ANY, NULL);
    if (value) {
        json_object_set_new(o, key, value);
        return;
    }
    json_object_set_new(o, key, json_null());
    if (utf8_valid(buf_bytes(b), buf_length(b))) {
        snprintf(name, sizeof(name), "%sText", key);
        json_object_set_new(o, name, json_stringn(buf_bytes(b), buf_length(b)));
        return;
    }
    struct buf b64;
    buf_init(&b64);
    if (base64_encode(&b64, buf_bytes(b), buf_length(b)) == 0) {
        snprintf(name, sizeof(name), "%sBase64", key);
        json_object_set_new(o, name, json_stringn(buf_bytes(&b64), buf_length(&b64)));
    }
    buf_free(&b64);
}

/* A '\n'-separated list of names as [{"name","value":"****"}] (every
 * value masked: any may be a secret), or plain names when MASKED is 0. */
static json_t *name_list(const struct buf *names, int masked)
{
    json_t *list = json_array();
    const char *p = buf_length(names) ? buf_bytes(names) : "";
    const char *end = p + buf_length(names);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        json_t *name = json_stringn(p, n);
        json_array_append_new(list, masked ? json_pack("{s:o, s:s}", "name", name, "value", "****")
                                           : name);
        p += n + 1;
    }
    return list;
}

/* The environment names the worker's Init carried (taken, and dropped by
 * the Init filter); for an invocation without an Init (a local replay),
 * the function's names in tether.json. Never values. */
static void put_environment(const struct inspector *in, const struct inspector_entry *e, json_t *o)
{
    if (e->env_known) {
        json_object_set_new(o, "environment", name_list(&e->env_taken, 1));
        json_object_set_new(o, "environmentDropped", name_list(&e->env_dropped, 0));
        json_object_set_new(o, "environmentFrom", json_string("init"));
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; in->o.project && i < in->o.project->function_count; i++) {
        const struct dev_function *f = &in->o.project->functions[i];
        if (strcmp(f->id, e->function) != 0)
            continue;
        for (size_t j = 0; j < f->environment_count; j++)
            json_array_append_new(
                list, json_pack("{s:s, s:s}", "name", f->environment[j].name, "value", "****"));
    }
    json_object_set_new(o, "environment", list);
    json_object_set_new(o, "environmentDropped", json_array());
    json_object_set_new(o, "environmentFrom", json_string("tether.json"));
}

/* The points of the chain dev knows, ms since the epoch; null where not
 * known. nextSentMs is the bridge's clock, the others dev's. */
static json_t *timings(const struct inspector_entry *e)
{
    json_t *t =
        json_pack("{s:f, s:f, s:I}", "handlerStartMs", (double)e->finished_ms - e->duration_ms,
                  "handlerMs", e->duration_ms, "answeredMs", (json_int_t)e->finished_ms);
    json_object_set_new(t, "nextSentMs",
                        e->next_sent_ms ? json_integer(e->next_sent_ms) : json_null());
    json_object_set_new(t, "nextReceivedMs",
                        e->next_received_ms ? json_integer(e->next_received_ms) : json_null());
    json_object_set_new(t, "answerDeliveredMs",
                        e->answer_delivered_ms ? json_integer(e->answer_delivered_ms)
                                               : json_null());
    return t;
}

static json_t *full(const struct inspector *in, const struct inspector_entry *e)
{
    json_t *o = summary(e);
    if (!o)
        return NULL;
    put_body(o, "event", &e->event);
    put_body(o, e->success ? "response" : "error", &e->answer);
    json_object_set_new(o, "logs",
                        buf_length(&e->logs)
                            ? json_stringn(buf_bytes(&e->logs), buf_length(&e->logs))
                            : json_string(""));
    json_object_set_new(o, "timings", timings(e));
    put_environment(in, e, o);
    if (e->record[0])
        json_object_set_new(o, "record", json_sprintf(".tether/%s", e->record));
    json_object_set_new(o, "functionArn",
                        e->function_arn[0] ? json_string(e->function_arn) : json_null());
    return o;
}

/* ---- the list ---- */

struct filter {
    struct buf function, status, q;
};

static int entry_matches(const struct inspector_entry *e, const struct filter *f)
{
    if (buf_length(&f->function) && strcmp(buf_bytes(&f->function), e->function) != 0)
        return 0;
    if (buf_length(&f->status) && strcmp(buf_bytes(&f->status), e->success ? "ok" : "error") != 0)
        return 0;
    if (!buf_length(&f->q))
        return 1;
    const char *q = buf_bytes(&f->q);
    size_t n = buf_length(&f->q);
    return strstr(e->id, q) || strstr(e->function, q) || strstr(e->source, q) ||
           strstr(e->error_type, q) || memmem(buf_bytes(&e->event), buf_length(&e->event), q, n) ||
           memmem(buf_bytes(&e->answer), buf_length(&e->answer), q, n);
}

/* How replays run: the embedded Lambda service, AWS Lambda (for the
 * invocations that name their function's ARN; the others in the local
 * worker), or the local worker. */
static const char *replay_mode(const struct inspector *in)
{
    if (in->o.lambda_endpoint && in->o.lambda_endpoint[0])
        return "lambda";
    if (in->aws_credentials)
        return "aws lambda";
    return in->o.replay_local ? "local worker" : "none";
}

static void get_list(struct inspector *in, struct http_exchange *ex, const char *query)
{
    struct filter f;
    buf_init(&f.function);
    buf_init(&f.status);
    buf_init(&f.q);
    find_param(query, "function", '&', &f.function);
    find_param(query, "status", '&', &f.status);
    find_param(query, "q", '&', &f.q);
    buf_terminate(&f.function);
    buf_terminate(&f.status);
    buf_terminate(&f.q);
    json_t *list = json_array();
    struct inspector_store *s = in->o.store;
    for (size_t i = inspector_store_count(s); list && i-- > 0;) {
        const struct inspector_entry *e = inspector_store_at(s, i);
        if (entry_matches(e, &f))
            json_array_append_new(list, summary(e));
    }
    buf_free(&f.function);
    buf_free(&f.status);
    buf_free(&f.q);
    respond_json(ex, 200,
                 json_pack("{s:o, s:I, s:I, s:I, s:I, s:s}", "invocations", list, "count",
                           (json_int_t)inspector_store_count(s), "bytes",
                           (json_int_t)inspector_store_bytes(s), "maxCount",
                           (json_int_t)inspector_store_max_count(s), "maxBytes",
                           (json_int_t)inspector_store_max_bytes(s), "replay", replay_mode(in)));
}

/* ---- the live stream (Server-Sent Events) ---- */

static void open_stream(struct inspector *in, struct http_exchange *ex)
{
    size_t i = 0;
    while (i < MAX_STREAMS && in->streams[i])
        i++;
    if (i == MAX_STREAMS) {
        respond_message(ex, 503, "too many live views are open");
        return;
    }
    if (http_exchange_start_stream(ex, 200,
                                   "Content-Type: text/event-stream\r\nCache-Control: "
                                   "no-store\r\n") < 0)
        return;
    in->streams[i] = ex;
    http_exchange_write(ex, ": live\n\n", 8);
}

static void forget_stream(struct inspector *in, struct http_exchange *ex)
{
    for (size_t i = 0; i < MAX_STREAMS; i++)
        if (in->streams[i] == ex)
            in->streams[i] = NULL;
}

static void on_added(void *user, const struct inspector_entry *e)
{
    struct inspector *in = user;
    json_t *o = summary(e);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return;
    for (size_t i = 0; i < MAX_STREAMS; i++) {
        struct http_exchange *ex = in->streams[i];
        if (!ex)
            continue;
        /* A view that does not read is cut off rather than buffered. */
        if (http_exchange_pending_output(ex) > STREAM_MAX_PENDING) {
            in->streams[i] = NULL;
            http_exchange_abort(ex, "live view too slow");
            continue;
        }
        http_exchange_write(ex, "event: invocation\ndata: ", 24);
        http_exchange_write(ex, text, strlen(text));
        http_exchange_write(ex, "\n\n", 2);
    }
    free(text);
}

/* ---- replay ---- */

static void replay_run(uv_work_t *work)
{
    struct replay *r = work->data;
    const struct aws_context aws = {&r->credentials, r->region, r->profile[0] ? r->profile : NULL};
    struct lambda_invoke_request req = {
        .endpoint = r->aws ? NULL : r->endpoint,
        .function = r->aws ? r->function_arn : r->function,
        .event = buf_bytes(&r->event),
        .event_len = buf_length(&r->event),
        .timeout_ms = REPLAY_TIMEOUT_MS,
        .aws = r->aws ? &aws : NULL,
    };
    r->rc = lambda_invoke(&req, &r->answer, r->cause, sizeof(r->cause));
}

static void replay_done(uv_work_t *work, int status)
{
    struct replay *r = work->data;
    struct inspector *in = r->in;
    char id[INSPECTOR_ID_SIZE];
    (void)status;
    inspector_store_replay_result(in->o.store, r->ticket, id, sizeof(id));
    in->replays--;
    if (r->ex && r->rc < 0) {
        respond_message(r->ex, 502, r->cause);
    } else if (r->ex) {
        json_t *o = json_pack("{s:s?, s:s, s:i, s:b, s:b}", "id", id[0] ? id : NULL, "replayOf",
                              r->original, "status", r->answer.status, "functionError",
                              r->answer.function_error, "local", r->local);
        if (o)
            put_body(o, "answer", &r->answer.body);
        respond_json(r->ex, 200, o);
    }
    if (r->ex)
        http_exchange_set_user(r->ex, NULL);
    lambda_invoke_answer_free(&r->answer);
    aws_credentials_wipe(&r->credentials);
    buf_free(&r->event);
    free(r);
}

/* Remote mode: the local worker answered. */
static void local_done(void *user, int success, const char *body, size_t len)
{
    struct replay *r = user;
    r->rc = 0;
    r->answer.status = 200;
    r->answer.function_error = !success;
    buf_append(&r->answer.body, body, len);
    replay_done(&r->work, 0);
}

/* An invocation of a function in AWS (its Next named the function's ARN)
 * replays through AWS Lambda when dev has AWS credentials: 1 when set up. */
static int replay_in_aws(struct inspector *in, struct replay *r, const struct inspector_entry *e)
{
    char why[400];
    if (!in->aws_credentials || !e->function_arn[0] ||
        lambda_invoke_arn_region(e->function_arn, r->region, sizeof(r->region)) < 0)
        return 0;
    if (aws_credentials_provider_get(in->aws_credentials, &r->credentials, why, sizeof(why)) < 0) {
        log_warn("replay in AWS: %s", why);
        return 0;
    }
    r->aws = 1;
    snprintf(r->function_arn, sizeof(r->function_arn), "%s", e->function_arn);
    snprintf(r->profile, sizeof(r->profile), "%s", in->aws_profile);
    return 1;
}

static int start_replay(struct inspector *in, struct replay *r, const struct inspector_entry *e)
{
    const char *worker = e->worker;
    if ((in->o.lambda_endpoint && in->o.lambda_endpoint[0]) || replay_in_aws(in, r, e))
        return uv_queue_work(in->loop, &r->work, replay_run, replay_done);
    r->local = 1;
    return in->o.replay_local(in->o.replay_ctx, r->function, worker, buf_bytes(&r->event),
                              buf_length(&r->event), local_done, r);
}

static void post_replay(struct inspector *in, struct http_exchange *ex, const char *id)
{
    const struct http_message *m = http_exchange_request(ex);
    const struct inspector_entry *e = inspector_store_find(in->o.store, id);
    if (!e) {
        respond_message(ex, 404, "no such invocation (it may have been dropped from the store)");
        return;
    }
    if ((!in->o.lambda_endpoint || !in->o.lambda_endpoint[0]) && !in->o.replay_local &&
        !(in->aws_credentials && e->function_arn[0])) {
        respond_message(ex, 501, "replay is not available in this mode");
        return;
    }
    if (in->replays >= MAX_REPLAYS) {
        respond_message(ex, 503, "replays are already under way; try again when they end");
        return;
    }
    const struct buf *event = buf_length(&m->body) ? &m->body : &e->event;
    struct replay *r = calloc(1, sizeof(*r));
    if (!r) {
        respond_message(ex, 500, "out of memory");
        return;
    }
    buf_init(&r->event);
    buf_init(&r->answer.body);
    r->in = in;
    r->ex = ex;
    r->work.data = r;
    snprintf(r->endpoint, sizeof(r->endpoint), "%s", in->o.lambda_endpoint);
    snprintf(r->function, sizeof(r->function), "%s", e->function);
    snprintf(r->original, sizeof(r->original), "%s", e->id);
    /* Counted and tied to the exchange before it starts, in case the
     * answer comes within the call. */
    in->replays++;
    http_exchange_set_user(ex, r);
    if (buf_append(&r->event, buf_bytes(event), buf_length(event)) < 0 ||
        !(r->ticket = inspector_store_expect_replay(in->o.store, e->id, e->function,
                                                    buf_bytes(event), buf_length(event))) ||
        start_replay(in, r, e) < 0) {
        in->replays--;
        http_exchange_set_user(ex, NULL);
        if (r->ticket)
            inspector_store_replay_result(in->o.store, r->ticket, r->cause, sizeof(r->cause));
        buf_free(&r->event);
        free(r);
        respond_message(ex, 503, "cannot start the replay now (the worker may be busy)");
    }
}

/* ---- routing ---- */

static const struct inspector_asset *asset(const char *path)
{
    const char *name = strcmp(path, "/") == 0 ? "index.html" : path + 1;
    for (size_t i = 0; i < inspector_asset_count; i++)
        if (strcmp(inspector_assets[i].name, name) == 0)
            return &inspector_assets[i];
    return NULL;
}

static void get_asset(struct http_exchange *ex, const struct inspector_asset *a)
{
    const char *type = strstr(a->name, ".js")    ? "text/javascript"
                       : strstr(a->name, ".css") ? "text/css"
                                                 : "text/html; charset=utf-8";
    char headers[512];
    snprintf(headers, sizeof(headers),
             "Content-Type: %s\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
             "X-Frame-Options: DENY\r\nContent-Security-Policy: default-src 'self'; "
             "img-src 'self' data:; frame-ancestors 'none'\r\n",
             type);
    http_exchange_respond(ex, 200, headers, a->data, a->len);
}

/* The token in the URL becomes a cookie, and the address bar loses it. */
static void set_cookie(struct inspector *in, struct http_exchange *ex)
{
    char headers[256];
    snprintf(headers, sizeof(headers),
             "Set-Cookie: " COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict\r\n"
             "Location: /\r\nCache-Control: no-store\r\n",
             in->token);
    http_exchange_respond(ex, 303, headers, NULL, 0);
}

static void route(struct inspector *in, struct http_exchange *ex, const struct http_message *m)
{
    static const char item[] = "/api/invocations/";
    int get = strcmp(m->method, "GET") == 0;
    const struct inspector_asset *a = get ? asset(m->path) : NULL;
    const char *id =
        strncmp(m->path, item, sizeof(item) - 1) == 0 ? m->path + sizeof(item) - 1 : NULL;
    const char *tail = id ? strchr(id, '/') : NULL;
    char name[INSPECTOR_ID_SIZE];
    if (id)
        snprintf(name, sizeof(name), "%.*s", (int)(tail ? (size_t)(tail - id) : strlen(id)), id);
    if (get && strcmp(m->path, "/api/invocations") == 0)
        get_list(in, ex, m->query);
    else if (get && strcmp(m->path, "/api/stream") == 0)
        open_stream(in, ex);
    else if (get && id && !tail) {
        const struct inspector_entry *e = inspector_store_find(in->o.store, name);
        if (e)
            respond_json(ex, 200, full(in, e));
        else
            respond_message(ex, 404, "no such invocation (it may have been dropped)");
    } else if (id && tail && strcmp(tail, "/replay") == 0) {
        if (strcmp(m->method, "POST") == 0)
            post_replay(in, ex, name);
        else
            respond_message(ex, 405, "replay is a POST");
    } else if (a)
        get_asset(ex, a);
    else
        respond_message(ex, 404, "not found");
}

/* A browser names the page that sent a request in Origin. A POST from any
 * other page (another server on this machine is "same site" for the
 * cookie) must not start replays: only our own page, or a client that sends
 * no Origin (curl), may. */
static int origin_allowed(const struct http_exchange *ex, const struct http_message *m)
{
    const char *origin = http_header_get(m, "origin");
    char own[64];
    if (!origin || strcmp(m->method, "GET") == 0)
        return 1;
    uint16_t port = http_exchange_local_port(ex);
    snprintf(own, sizeof(own), "http://127.0.0.1:%u", port);
    if (strcmp(origin, own) == 0)
        return 1;
    snprintf(own, sizeof(own), "http://localhost:%u", port);
    return strcmp(origin, own) == 0;
}

static void on_request(struct http_exchange *ex, void *user)
{
    struct inspector *in = user;
    const struct http_message *m = http_exchange_request(ex);
    int from_query;
    if (http_exchange_body_too_large(ex)) {
        respond_message(ex, 413, "an event is at most 6291556 bytes");
        return;
    }
    if (!authorized(in, m, &from_query)) {
        respond_message(ex, 401,
                        "the inspector needs its token: open the URL tether dev printed, or "
                        "send Authorization: Bearer TOKEN");
        return;
    }
    http_exchange_trust(ex);
    if (!origin_allowed(ex, m)) {
        respond_message(ex, 403, "requests from other pages are refused");
        return;
    }
    if (from_query && strcmp(m->method, "GET") == 0 && strcmp(m->path, "/") == 0)
        set_cookie(in, ex);
    else
        route(in, ex, m);
}

static void on_abort(struct http_exchange *ex, void *user)
{
    struct inspector *in = user;
    struct replay *r = http_exchange_user(ex);
    forget_stream(in, ex);
    if (r)
        r->ex = NULL;
}

/* ---- life ---- */

int inspector_start(uv_loop_t *loop, const struct inspector_options *options,
                    struct inspector **out, char *cause, size_t cause_len)
{
    unsigned char raw[24];
    struct inspector *in = calloc(1, sizeof(*in));
    if (!in || random_bytes(raw, sizeof(raw)) < 0) {
        free(in);
        snprintf(cause, cause_len, "inspector: no memory or no randomness for its token");
        return -ENOMEM;
    }
    hex_encode(in->token, raw, sizeof(raw));
    secure_wipe(raw, sizeof(raw));
    in->loop = loop;
    in->o = *options;
    in->conns = conn_context_new(loop);
    struct http_server_config config = {
        .name = "inspector",
        .host = "127.0.0.1",
        .port = options->port,
        .max_body_bytes = INSPECTOR_MAX_BODY,
        .max_connections = 64,
        .untrusted_timeout_ms = 10000,
    };
    struct http_server_callbacks callbacks = {.on_request = on_request, .on_abort = on_abort};
    int rc = in->conns ? http_server_start(in->conns, &config, &callbacks, in, &in->server, cause,
                                           cause_len)
                       : -ENOMEM;
    if (rc < 0) {
        if (in->conns)
            conn_context_free(in->conns);
        free(in);
        return rc;
    }
    snprintf(in->url, sizeof(in->url), "http://127.0.0.1:%u/?token=%s",
             http_server_port(in->server), in->token);
    inspector_store_on_add(in->o.store, on_added, in);
    *out = in;
    return 0;
}

const char *inspector_url(const struct inspector *in)
{
    return in->url;
}

void inspector_stop(struct inspector *in)
{
    if (!in || in->stopped)
        return;
    in->stopped = 1;
    inspector_store_on_add(in->o.store, NULL, NULL);
    http_server_close(in->server, NULL, NULL);
}

void inspector_free(struct inspector *in)
{
    if (!in)
        return;
    conn_context_free(in->conns);
    secure_wipe(in->token, sizeof(in->token));
    free(in);
}

void inspector_set_aws(struct inspector *in, struct aws_credentials_provider *credentials,
                       const char *profile)
{
    in->aws_credentials = credentials;
    snprintf(in->aws_profile, sizeof(in->aws_profile), "%s", profile ? profile : "");
}
