#include "bridge_runtime/relay.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "bridge"
#include "bridge/endpoint.h"
#include "bridge_runtime/runtime_client.h"
#include "core/encoding.h"
#include "core/log.h"
#include "core/random.h"
#include "events/client.h"
#include "net/http.h"

extern char **environ;

/* A dev side that declares heartbeats (tether dev: a Ping at least every
 * second while it works) is gone (killed, or its machine slept) after this
 * much silence; so is any dev side that has not been heard from this long
 * after the bridge reconnected. */
#define DEV_SILENCE_LIMIT_MS 5000
/* Without a heartbeat declaration (SST's dev side pings once and never
 * again) only the invocation's deadline ends the wait; this is the wait
 * when the Runtime API gave no deadline: Lambda's longest timeout. */
#define NO_DEADLINE_WAIT_MS (15u * 60u * 1000u)
/* The longest heartbeat period a Ping may declare and still be held to the
 * silence limit; and the most of a Ping's body that is looked at. */
#define MAX_HEARTBEAT_MS 2000
#define MAX_PING_BODY 256

struct relay {
    uv_loop_t *loop;
    const struct bridge_settings *settings;
    struct conn_context *conns;
    struct events_client *events;
    struct bridge_endpoint *endpoint; /* the channel to dev: packets, resends */
    struct runtime_client *runtime;
    uv_timer_t timer;            /* no-dev and dev-silence limits */
    uv_timer_t connect_deadline; /* cold start on an unreachable endpoint */
    enum relay_state state;
    int polling_started;
    char request_id[BRIDGE_MAX_ID_LENGTH + 1];
    uint64_t deadline_epoch_ms; /* Lambda-Runtime-Deadline-Ms; 0: none given */
    int heartbeats;             /* dev declared heartbeats for this invocation */
    int streaming_started;
};

static const char *const state_names[] = {"connecting", "polling", "waiting-ping", "waiting-result",
                                          "posting"};

const char *relay_state_name(enum relay_state state)
{
    return state_names[state];
}

static void enter_state(struct relay *r, enum relay_state state)
{
    /* Once the answer is being posted, dev's time limits are over and the
     * Next needs no more resends. */
    if (state == RELAY_POSTING) {
        uv_timer_stop(&r->timer);
        bridge_endpoint_request_end(r->endpoint);
    }
    if (r->state == state)
        return;
    log_debug("%s -> %s", relay_state_name(r->state), relay_state_name(state));
    r->state = state;
}

static void poll_next(struct relay *r);

/* ---- Init ---- */

static void send_init(struct relay *r)
{
    json_t *env = json_array();
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (eq && !bridge_settings_env_blocked(*e, (size_t)(eq - *e)))
            json_array_append_new(env, json_string(*e));
    }
    json_t *init = json_pack("{s:s, s:s, s:o, s:b, s:i}", "functionID", r->settings->function_id,
                             "workerID", r->settings->worker_id, "environment", env, "streaming",
                             r->settings->streaming, "protocol", 1);
    char *text = json_dumps(init, JSON_COMPACT);
    char id[37];
    random_uuid(id);
    log_info("sending Init for %s (worker %s)", r->settings->function_id, r->settings->worker_id);
    bridge_endpoint_send(r->endpoint, r->settings->dev_channel, BRIDGE_INIT, id, text,
                         strlen(text));
    free(text);
    json_decref(init);
}

/* ---- posting results ---- */

static void on_posted(void *ctx, int status, const struct http_message *m, const char *cause)
{
    struct relay *r = ctx;
    if (status < 0)
        log_error("posting the result failed: %s", cause);
    else if (status != 202)
        log_warn("the Runtime API answered %d to the result of %s: %.*s", status, r->request_id,
                 m ? (int)buf_length(&m->body) : 0, m ? buf_bytes(&m->body) : "");
    r->request_id[0] = '\0';
    r->streaming_started = 0;
    poll_next(r);
}

static void post_error(struct relay *r, const char *error_type, const char *body, size_t len)
{
    char path[300], headers[200], type[101];
    enter_state(r, RELAY_POSTING);
    snprintf(path, sizeof(path), "/2018-06-01/runtime/invocation/%s/error", r->request_id);
    /* dev's error name becomes a header: no CR/LF may split it. */
    http_header_value_clean(type, sizeof(type), error_type);
    snprintf(headers, sizeof(headers),
             "Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: %s\r\n", type);
    if (runtime_client_request(r->runtime, "POST", path, headers, body, len, on_posted, r) < 0)
        log_error("cannot post the error for %s", r->request_id);
}

static void fail_invocation(struct relay *r, const char *error_type, const char *message)
{
    log_warn("invocation %s failed: %s", r->request_id, message);
    json_t *err = json_pack("{s:s, s:s, s:[]}", "errorMessage", message, "errorType", error_type,
                            "stackTrace");
    char *text = json_dumps(err, JSON_COMPACT);
    post_error(r, error_type, text, strlen(text));
    free(text);
    json_decref(err);
}

static void post_response(struct relay *r, const struct buf *body)
{
    char path[300];
    enter_state(r, RELAY_POSTING);
    snprintf(path, sizeof(path), "/2018-06-01/runtime/invocation/%s/response", r->request_id);
    runtime_client_request(r->runtime, "POST", path, NULL, buf_bytes(body), buf_length(body),
                           on_posted, r);
}

/* The errorType an Error body names, into out ("Unhandled" when none),
 * cleaned for use as a header value. */
static const char *error_type_of(const struct buf *body, char *out, size_t cap)
{
    json_t *parsed = json_loadb(buf_bytes(body), buf_length(body), 0, NULL);
    const char *type = json_string_value(json_object_get(parsed, "errorType"));
    if (http_header_value_clean(out, cap, type ? type : "Unhandled") == 0)
        snprintf(out, cap, "Unhandled");
    json_decref(parsed);
    return out;
}

/* ---- answers from dev ---- */

static void arm_dev_limit(struct relay *r);

static void stream_chunk(struct relay *r, const struct bridge_packet *p)
{
    if (!r->streaming_started) {
        char path[300], headers[512], type[sizeof(p->content_type)];
        snprintf(path, sizeof(path), "/2018-06-01/runtime/invocation/%s/response", r->request_id);
        http_header_value_clean(type, sizeof(type), p->content_type);
        snprintf(headers, sizeof(headers),
                 "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
                 "Trailer: Lambda-Runtime-Function-Error-Type, "
                 "Lambda-Runtime-Function-Error-Body\r\n"
                 "%s%s%s",
                 type[0] ? "Content-Type: " : "", type, type[0] ? "\r\n" : "");
        runtime_client_stream_begin(r->runtime, path, headers, on_posted, r);
        r->streaming_started = 1;
    }
    runtime_client_stream_write(r->runtime, buf_bytes(&p->data), buf_length(&p->data));
    if (p->final) {
        enter_state(r, RELAY_POSTING);
        runtime_client_stream_end(r->runtime, NULL);
    }
}

/* An error after a streamed answer began: Lambda takes it in the trailers. */
static void end_stream_with_error(struct relay *r, const struct buf *body)
{
    char type[101];
    struct buf trailers = BUF_INIT, encoded = BUF_INIT;
    base64_encode(&encoded, buf_bytes(body), buf_length(body));
    buf_printf(&trailers,
               "Lambda-Runtime-Function-Error-Type: %s\r\n"
               "Lambda-Runtime-Function-Error-Body: %.*s\r\n",
               error_type_of(body, type, sizeof(type)), (int)buf_length(&encoded),
               buf_bytes(&encoded));
    buf_terminate(&trailers);
    enter_state(r, RELAY_POSTING);
    runtime_client_stream_end(r->runtime, buf_bytes(&trailers));
    buf_free(&trailers);
    buf_free(&encoded);
}

/* Only the dev session answers on this channel: another source is a
 * confused or hostile peer, whatever its packets say. */
static int from_dev(enum bridge_type type, const char *source)
{
    if (strcmp(source, "dev") == 0)
        return 1;
    log_debug("ignoring %s from %s (not from tether dev)", bridge_type_name(type), source);
    return 0;
}

/* Whether a message from dev is about the invocation being waited for.
 * Only answers (Response, Error) carry the request id; a Ping or InitError
 * has an id of its own (docs/bridge-protocol.md, "Ids") and concerns the
 * invocation the bridge is waiting on, as in SST: one invocation at a time,
 * and with a key only dev can send one. */
static int is_current(struct relay *r, enum bridge_type type, const char *source, const char *id)
{
    if (!from_dev(type, source))
        return 0;
    int waiting = r->state == RELAY_WAITING_PING || r->state == RELAY_WAITING_RESULT;
    int answer = type == BRIDGE_RESPONSE || type == BRIDGE_ERROR;
    int about = type == BRIDGE_PING || type == BRIDGE_INIT_ERROR;
    if (waiting && ((answer && strcmp(id, r->request_id) == 0) || about))
        return 1;
    log_debug("ignoring %s %s (not about the current invocation)", bridge_type_name(type), id);
    return 0;
}

/* Anything from dev about the invocation shows dev has it. */
static void heard_from_dev(struct relay *r)
{
    bridge_endpoint_request_heard(r->endpoint);
    arm_dev_limit(r);
}

/* A Ping's body may declare that dev pings at least every heartbeatMs while
 * it works ({"heartbeatMs":1000}, what tether dev sends); then its silence
 * means it is gone. An empty body (SST's) declares nothing. */
static void note_heartbeat(struct relay *r, const struct buf *body)
{
    if (buf_length(body) == 0 || buf_length(body) > MAX_PING_BODY)
        return;
    json_t *ping = json_loadb(buf_bytes(body), buf_length(body), 0, NULL);
    json_int_t ms = json_integer_value(json_object_get(ping, "heartbeatMs"));
    if (ms > 0 && ms <= MAX_HEARTBEAT_MS)
        r->heartbeats = 1;
    json_decref(ping);
}

static void on_message(void *ctx, const struct bridge_message *m)
{
    struct relay *r = ctx;
    char type[128];
    if (m->type == BRIDGE_REBOOT && from_dev(m->type, m->source)) {
        send_init(r);
        return;
    }
    if (!is_current(r, m->type, m->source, m->id))
        return;
    heard_from_dev(r);
    switch (m->type) {
    case BRIDGE_PING:
        note_heartbeat(r, m->body);
        if (r->state == RELAY_WAITING_PING)
            enter_state(r, RELAY_WAITING_RESULT);
        arm_dev_limit(r);
        break;
    case BRIDGE_RESPONSE:
        post_response(r, m->body);
        break;
    case BRIDGE_ERROR:
    case BRIDGE_INIT_ERROR:
        if (r->streaming_started)
            end_stream_with_error(r, m->body);
        else
            post_error(r, error_type_of(m->body, type, sizeof(type)), buf_bytes(m->body),
                       buf_length(m->body));
        break;
    default:
        break;
    }
}

/* A streamed Response's chunks (TETHER_STREAMING=1), as they come in order. */
static void on_stream_chunk(void *ctx, const struct bridge_packet *p)
{
    struct relay *r = ctx;
    if (!is_current(r, p->type, p->source, p->id))
        return;
    heard_from_dev(r);
    enter_state(r, RELAY_WAITING_RESULT);
    stream_chunk(r, p);
}

/* A big buffered answer coming in is dev being alive. */
static void on_progress(void *ctx, const struct bridge_packet *p)
{
    struct relay *r = ctx;
    if (is_current(r, p->type, p->source, p->id)) {
        heard_from_dev(r);
        enter_state(r, RELAY_WAITING_RESULT);
    }
}

static void on_abandon(void *ctx, enum bridge_type type, const char *source, const char *id,
                       const char *reason)
{
    struct relay *r = ctx;
    if (type != BRIDGE_PING && r->state == RELAY_WAITING_RESULT &&
        is_current(r, type, source, id)) {
        char message[300];
        snprintf(message, sizeof(message), "the answer from tether dev was incomplete: %s", reason);
        fail_invocation(r, "TetherTransportError", message);
    }
}

/* ---- timers ---- */

static void on_timer(uv_timer_t *timer)
{
    struct relay *r = timer->data;
    char message[400];
    const struct bridge_settings *s = r->settings;
    if (r->state == RELAY_WAITING_PING && bridge_endpoint_subscribed(r->endpoint) &&
        bridge_endpoint_unacknowledged(r->endpoint) > 0) {
        /* The Next is still on its way over a live connection (a big event
         * over a slow link): the time dev has to answer counts from its
         * delivery, not from its start. */
        log_debug("the Next for %s is still being delivered; waiting %u ms more", r->request_id,
                  s->no_dev_timeout_ms);
        uv_timer_start(&r->timer, on_timer, s->no_dev_timeout_ms, 0);
    } else if (r->state == RELAY_WAITING_PING) {
        snprintf(message, sizeof(message),
                 "tether dev is not running for app \"%s\", stage \"%s\" (no answer within %u ms)."
                 " Start it with `tether dev` in the project.",
                 s->app, s->stage, s->no_dev_timeout_ms);
        fail_invocation(r, "TetherDevNotRunning", message);
    } else if (r->state == RELAY_WAITING_RESULT && r->heartbeats) {
        snprintf(message, sizeof(message),
                 "tether dev stopped answering (nothing for %d ms) while running this invocation",
                 DEV_SILENCE_LIMIT_MS);
        fail_invocation(r, "TetherDevGone", message);
    } else if (r->state == RELAY_WAITING_RESULT) {
        fail_invocation(r, "TetherDevGone",
                        "the dev side did not answer before the invocation's deadline (it pings "
                        "once and sends no heartbeats, so only the deadline shows it is gone)");
    }
}

/* How long dev has from now: the silence limit while dev declares
 * heartbeats, and just after a reconnect before dev is heard from again;
 * else the invocation's deadline (SST's dev side pings only once, so
 * silence says nothing about it). */
static uint64_t dev_limit_ms(const struct relay *r)
{
    if (r->heartbeats || r->state == RELAY_WAITING_PING)
        return DEV_SILENCE_LIMIT_MS;
    if (!r->deadline_epoch_ms)
        return NO_DEADLINE_WAIT_MS;
    uint64_t now = bridge_endpoint_wall_ms();
    return r->deadline_epoch_ms > now ? r->deadline_epoch_ms - now : 0;
}

static void arm_dev_limit(struct relay *r)
{
    uv_timer_start(&r->timer, on_timer, dev_limit_ms(r), 0);
}

/* ---- invocations from the Runtime API ---- */

static void relay_next(struct relay *r, const struct http_message *m)
{
    const char *id = http_header_get(m, "Lambda-Runtime-Aws-Request-Id");
    if (!id || strlen(id) > BRIDGE_MAX_ID_LENGTH) {
        log_error("the Runtime API sent an invocation without a usable request id");
        poll_next(r);
        return;
    }
    snprintf(r->request_id, sizeof(r->request_id), "%s", id);
    const char *deadline = http_header_get(m, "Lambda-Runtime-Deadline-Ms");
    r->deadline_epoch_ms = deadline ? strtoull(deadline, NULL, 10) : 0;
    r->heartbeats = 0;
    if (!bridge_endpoint_subscribed(r->endpoint)) {
        fail_invocation(r, "TetherEventsUnreachable",
                        "the bridge cannot reach the events endpoint, so tether dev cannot "
                        "receive this invocation (see the function's logs for the cause)");
        return;
    }
    enter_state(r, RELAY_WAITING_PING);
    /* A request: the endpoint keeps it, to send it again after a reconnect
     * until dev is heard from. Its message id is fresh, as SST's are: dev
     * finds the request id in the Lambda-Runtime-Aws-Request-Id header. */
    struct buf text = BUF_INIT;
    char message_id[37];
    random_uuid(message_id);
    if (runtime_message_to_text(m, &text) < 0 ||
        bridge_endpoint_request(r->endpoint, r->settings->dev_channel, BRIDGE_NEXT, message_id,
                                buf_bytes(&text), buf_length(&text)) < 0) {
        buf_free(&text);
        fail_invocation(r, "Runtime.OutOfMemory", "the bridge ran out of memory");
        return;
    }
    buf_free(&text);
    uv_timer_start(&r->timer, on_timer, r->settings->no_dev_timeout_ms, 0);
}

static void on_next(void *ctx, int status, const struct http_message *m, const char *cause)
{
    struct relay *r = ctx;
    if (status == 200 && m) {
        relay_next(r, m);
        return;
    }
    if (status >= 0)
        log_error("GET /next answered %d; the runtime must exit", status);
    else
        log_error("GET /next failed: %s", cause);
    /* Lambda says a runtime should exit promptly when /next fails. */
    exit(1);
}

static void poll_next(struct relay *r)
{
    enter_state(r, RELAY_POLLING);
    if (runtime_client_request(r->runtime, "GET", "/2018-06-01/runtime/invocation/next", NULL, NULL,
                               0, on_next, r) < 0)
        log_error("cannot ask the Runtime API for the next invocation");
}

/* ---- events connection ---- */

static void on_subscribed(void *ctx, int status, int reconnect, const char *cause)
{
    struct relay *r = ctx;
    if (status < 0) {
        log_error("%s", cause);
        return;
    }
    /* A reconnect must not introduce the bridge again: the endpoint sends
     * the pending Next again instead, and dev gets the silence limit's time
     * to be heard from (or, once it has pinged without declaring heartbeats,
     * the deadline's). */
    if (!reconnect)
        send_init(r);
    else if (r->state == RELAY_WAITING_PING || r->state == RELAY_WAITING_RESULT)
        arm_dev_limit(r);
    if (!r->polling_started) {
        r->polling_started = 1;
        poll_next(r);
    }
}

static void on_events_state(void *user, enum events_client_state state, const char *cause)
{
    struct relay *r = user;
    if (r->endpoint)
        bridge_endpoint_events_state(r->endpoint, state);
    if (state == EVENTS_CLIENT_BACKOFF || state == EVENTS_CLIENT_CLOSED)
        log_warn("events connection lost: %s", cause ? cause : "closed");
}

/* Cold start must not hang on an unreachable endpoint: past this, invocations
 * are taken and failed with a clear error until the connection comes up. */
static void on_connect_deadline(uv_timer_t *timer)
{
    struct relay *r = timer->data;
    if (!r->polling_started) {
        log_error("the events endpoint is still unreachable: %s",
                  events_client_last_error(r->events));
        r->polling_started = 1;
        poll_next(r);
    }
}

static int make_events_client(struct relay *r, char *cause, size_t cause_len)
{
    const struct bridge_settings *s = r->settings;
    struct events_client_config config;
    events_client_config_init(&config);
    config.http_url = s->events_http;
    config.realtime_url = s->events_realtime;
    config.ca_file = s->ca_file;
    config.conn_context = r->conns;
    config.on_state = on_events_state;
    config.user = r;
    config.backoff_base_ms = 50;
    config.backoff_cap_ms = 5000;
    char region[64];
    if (s->api_key)
        config.api_key = s->api_key;
    else if (events_client_config_iam_from_env(&config, s->region, region, sizeof(region), cause,
                                               cause_len) < 0)
        return -EINVAL;
    return events_client_new(r->loop, &config, &r->events, cause, cause_len);
}

static int make_endpoint(struct relay *r, char *cause, size_t cause_len)
{
    const struct bridge_settings *s = r->settings;
    struct bridge_endpoint_config config = {
        .source = s->worker_id,
        .events = r->events,
        .key = s->has_key ? &s->key : NULL,
        .stream_types = s->streaming ? 1u << BRIDGE_RESPONSE : 0,
        .callbacks = {on_message, on_stream_chunk, on_progress, on_abandon, on_subscribed},
        .ctx = r,
    };
    int rc = bridge_endpoint_new(r->loop, &config, &r->endpoint, cause, cause_len);
    if (rc == 0)
        rc = bridge_endpoint_subscribe(r->endpoint, s->worker_channel, cause, cause_len);
    if (rc == 0)
        rc = events_client_start(r->events);
    return rc;
}

/* Undoes a relay_start that failed part way; no timer has been started. */
static void relay_free(struct relay *r)
{
    bridge_endpoint_free(r->endpoint);
    events_client_free(r->events);
    runtime_client_free(r->runtime);
    if (r->conns)
        conn_context_free(r->conns);
    free(r);
}

int relay_start(uv_loop_t *loop, const struct bridge_settings *settings, struct relay **out,
                char *cause, size_t cause_len)
{
    struct relay *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    r->loop = loop;
    r->settings = settings;
    r->conns = conn_context_new(loop);
    r->runtime = r->conns
                     ? runtime_client_new(r->conns, settings->runtime_host, settings->runtime_port)
                     : NULL;
    int rc = r->runtime ? 0 : -ENOMEM;
    if (rc < 0)
        snprintf(cause, cause_len, "out of memory");
    if (rc == 0)
        rc = make_events_client(r, cause, cause_len);
    if (rc == 0)
        rc = make_endpoint(r, cause, cause_len);
    if (rc < 0) {
        relay_free(r);
        return rc;
    }
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    uv_timer_init(loop, &r->connect_deadline);
    r->connect_deadline.data = r;
    uv_timer_start(&r->connect_deadline, on_connect_deadline,
                   settings->no_dev_timeout_ms > 10000 ? 10000 : settings->no_dev_timeout_ms, 0);
    uv_unref((uv_handle_t *)&r->connect_deadline);
    *out = r;
    return 0;
}
