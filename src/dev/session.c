#include "dev/session.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "dev"
#include "bridge/outbox.h"
#include "bridge/stream.h"
#include "core/hashmap.h"
#include "core/log.h"
#include "dev/next.h"
#include "dev/presence.h"

#define HEARTBEAT_MS 1000
#define MAX_PUBLISHES_IN_FLIGHT 8
/* Answers are kept this long so a Next sent again after the bridge
 * reconnected gets the same answer instead of a second run. */
#define REMEMBER_ANSWERS 64

struct dev_worker {
    char id[BRIDGE_MAX_SOURCE_LENGTH + 1];
    char function[64];
    char **env;               /* NAME=value, NULL-terminated */
    struct buf *waiting_next; /* a Next that came before the Init */
};

struct dev_call {
    struct dev_session *session;
    struct dev_call *prev, *next;
    char request_id[BRIDGE_MAX_ID_LENGTH + 1];
    char worker[BRIDGE_MAX_SOURCE_LENGTH + 1];
    char function[64];
    char channel[340];
    uv_timer_t heartbeat;
    uint64_t start_ns;
    struct bridge_outbox_target target; /* where stream packets go */
    struct bridge_writer stream;        /* a streamed Response */
    int streaming;
    struct buf event; /* for the report */
};

struct remembered {
    char request_id[BRIDGE_MAX_ID_LENGTH + 1];
    char worker[BRIDGE_MAX_SOURCE_LENGTH + 1];
    enum bridge_type type;
    struct buf body;
};

struct dev_session {
    uv_loop_t *loop;
    struct dev_session_options options;
    struct events_client *events;
    struct events_subscription *subscription;
    struct dev_presence *presence;
    struct bridge_reassembler *reassembler;
    struct hashmap assembling; /* message key -> struct buf */
    struct hashmap workers;    /* worker id -> struct dev_worker */
    struct dev_call *calls;
    struct remembered answers[REMEMBER_ANSWERS];
    size_t next_answer;
    struct bridge_outbox *outbox; /* packets to the bridges, paced and retried */
    uv_timer_t housekeeping;
    char dev_channel[300];
    char control_channel[300];
    int ready;
    int stopping;
};

static void notify(struct dev_session *s, enum dev_session_event event, const char *detail)
{
    if (s->options.callbacks.on_event)
        s->options.callbacks.on_event(s->options.ctx, event, detail);
}

static void worker_channel(struct dev_session *s, const char *worker, char *out, size_t cap)
{
    const struct dev_config *p = s->options.project;
    snprintf(out, cap, "/%s/%s/%s/%s/in", p->namespace_name, p->app, p->stage, worker);
}

static void send_to(struct dev_session *s, const char *worker, enum bridge_type type,
                    const char *id, const void *data, size_t len)
{
    char channel[340];
    worker_channel(s, worker, channel, sizeof(channel));
    struct bridge_outbox_target t = {s->outbox, channel};
    if (bridge_send(type, "dev", id, data, len, bridge_outbox_emit, &t) < 0)
        log_warn("cannot send %s for %s", bridge_type_name(type), id);
    bridge_outbox_flush(s->outbox);
}

/* ---- remembered answers ---- */

static void remember(struct dev_session *s, const char *request_id, const char *worker,
                     enum bridge_type type, const char *body, size_t len)
{
    struct remembered *r = &s->answers[s->next_answer++ % REMEMBER_ANSWERS];
    snprintf(r->request_id, sizeof(r->request_id), "%s", request_id);
    snprintf(r->worker, sizeof(r->worker), "%s", worker);
    r->type = type;
    buf_reset(&r->body);
    buf_append(&r->body, body, len);
}

static const struct remembered *answer_for(struct dev_session *s, const char *request_id)
{
    for (size_t i = 0; i < REMEMBER_ANSWERS; i++)
        if (s->answers[i].request_id[0] && strcmp(s->answers[i].request_id, request_id) == 0)
            return &s->answers[i];
    return NULL;
}

/* ---- calls (invocations in flight) ---- */

static void on_heartbeat(uv_timer_t *timer)
{
    struct dev_call *c = timer->data;
    send_to(c->session, c->worker, BRIDGE_PING, c->request_id, NULL, 0);
}

static struct dev_call *find_call(struct dev_session *s, const char *request_id)
{
    for (struct dev_call *c = s->calls; c; c = c->next)
        if (strcmp(c->request_id, request_id) == 0)
            return c;
    return NULL;
}

static void free_call(uv_handle_t *handle)
{
    struct dev_call *c = handle->data;
    bridge_writer_free(&c->stream);
    buf_free(&c->event);
    free(c);
}

static void end_call(struct dev_call *c)
{
    struct dev_session *s = c->session;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_timer_stop(&c->heartbeat);
    uv_close((uv_handle_t *)&c->heartbeat, free_call);
}

/* Events larger than this are labelled "invoke" without being parsed: the
 * label is for the log line, not worth parsing megabytes for. */
#define LABEL_MAX_EVENT_BYTES (64 * 1024)

static const char *event_source(const char *event, size_t len, char *out, size_t cap)
{
    json_t *root = len <= LABEL_MAX_EVENT_BYTES ? json_loadb(event, len, 0, NULL) : NULL;
    const char *method = json_string_value(json_object_get(
        json_object_get(json_object_get(root, "requestContext"), "http"), "method"));
    const char *path = json_string_value(json_object_get(root, "rawPath"));
    const char *source = json_string_value(json_object_get(root, "source"));
    if (method && path)
        snprintf(out, cap, "%s %s", method, path);
    else if (source)
        snprintf(out, cap, "%s", source);
    else
        snprintf(out, cap, "invoke");
    json_decref(root);
    return out;
}

static void report(struct dev_call *c, int success, const char *error_type, const char *body,
                   size_t len)
{
    struct dev_session *s = c->session;
    if (!s->options.callbacks.on_invocation)
        return;
    char source[160], message[300] = "";
    if (!success) {
        json_t *err = json_loadb(body, len, 0, NULL);
        const char *m = json_string_value(json_object_get(err, "errorMessage"));
        snprintf(message, sizeof(message), "%s", m ? m : "");
        json_decref(err);
    }
    struct dev_invocation_report r = {
        .function = c->function,
        .request_id = c->request_id,
        .worker = c->worker,
        .source = event_source(buf_bytes(&c->event), buf_length(&c->event), source, sizeof(source)),
        .success = success,
        .error_type = error_type,
        .error_message = message,
        .event = buf_bytes(&c->event),
        .event_len = buf_length(&c->event),
        .answer = body,
        .answer_len = len,
        .duration_ms = (double)(uv_hrtime() - c->start_ns) / 1e6,
    };
    s->options.callbacks.on_invocation(s->options.ctx, &r);
}

static void call_stream_begin(void *ctx, const char *content_type)
{
    struct dev_call *c = ctx;
    c->streaming = 1;
    snprintf(c->stream.content_type, sizeof(c->stream.content_type), "%s",
             content_type ? content_type : "");
}

static void call_stream_data(void *ctx, const char *data, size_t len)
{
    struct dev_call *c = ctx;
    bridge_writer_write(&c->stream, data, len);
    bridge_writer_flush(&c->stream);
    bridge_outbox_flush(c->session->outbox);
}

static void call_finish(void *ctx, int success, const char *error_type, const char *body,
                        size_t len)
{
    struct dev_call *c = ctx;
    struct dev_session *s = c->session;
    if (success && c->streaming) {
        bridge_writer_close(&c->stream);
        bridge_outbox_flush(s->outbox);
    } else {
        enum bridge_type type = success ? BRIDGE_RESPONSE : BRIDGE_ERROR;
        send_to(s, c->worker, type, c->request_id, body, len);
        remember(s, c->request_id, c->worker, type, body, len);
    }
    report(c, success, error_type, body, len);
    end_call(c);
}

static const struct lambda_live_callbacks call_callbacks = {call_stream_begin, call_stream_data,
                                                            call_finish};

/* ---- handling bridge messages ---- */

static void send_init_error(struct dev_session *s, const char *worker, const char *request_id,
                            const char *type, const char *message)
{
    json_t *err =
        json_pack("{s:s, s:s, s:[]}", "errorMessage", message, "errorType", type, "stackTrace");
    char *text = json_dumps(err, JSON_COMPACT);
    send_to(s, worker, BRIDGE_INIT_ERROR, request_id, text, strlen(text));
    free(text);
    json_decref(err);
}

static void run_next(struct dev_session *s, struct dev_worker *w, const char *text, size_t len)
{
    struct dev_next next;
    char cause[256];
    if (dev_next_parse(text, len, &next, cause, sizeof(cause)) < 0) {
        log_warn("%s: %s", w->id, cause);
        return;
    }
    send_to(s, w->id, BRIDGE_PING, next.request_id, NULL, 0);
    const struct remembered *done = answer_for(s, next.request_id);
    if (done) { /* the bridge asks again after a reconnect */
        send_to(s, w->id, done->type, next.request_id, buf_bytes(&done->body),
                buf_length(&done->body));
    } else if (!find_call(s, next.request_id)) {
        struct dev_call *c = calloc(1, sizeof(*c));
        if (!c) {
            dev_next_free(&next);
            return;
        }
        c->session = s;
        snprintf(c->request_id, sizeof(c->request_id), "%s", next.request_id);
        snprintf(c->worker, sizeof(c->worker), "%s", w->id);
        snprintf(c->function, sizeof(c->function), "%s", w->function);
        worker_channel(s, w->id, c->channel, sizeof(c->channel));
        c->target.outbox = s->outbox;
        c->target.channel = c->channel;
        bridge_writer_init(&c->stream, BRIDGE_RESPONSE, "dev", c->request_id, bridge_outbox_emit,
                           &c->target);
        buf_append(&c->event, buf_bytes(&next.body), buf_length(&next.body));
        c->start_ns = uv_hrtime();
        uv_timer_init(s->loop, &c->heartbeat);
        c->heartbeat.data = c;
        uv_timer_start(&c->heartbeat, on_heartbeat, HEARTBEAT_MS, HEARTBEAT_MS);
        c->next = s->calls;
        if (s->calls)
            s->calls->prev = c;
        s->calls = c;
        struct lambda_live_request req = {
            .function = w->function,
            .request_id = next.request_id,
            .deadline_epoch_ms = next.deadline_epoch_ms,
            .function_arn = next.function_arn,
            .trace_id = next.trace_id,
            .client_context = next.client_context,
            .cognito_identity = next.cognito_identity,
            .payload = buf_bytes(&next.body),
            .payload_len = buf_length(&next.body),
            .affinity = w->id,
            .env_override = w->env,
        };
        int rc = lambda_service_invoke_live(s->options.workers, &req, &call_callbacks, c);
        if (rc < 0) {
            char message[200];
            snprintf(message, sizeof(message), "tether dev cannot run %s: %s", w->function,
                     rc == -ENOENT ? "it is not a live function in tether.json" : strerror(-rc));
            send_init_error(s, w->id, next.request_id, "TetherDevError", message);
            end_call(c);
        }
    }
    dev_next_free(&next);
}

static void free_worker_env(struct dev_worker *w)
{
    for (char **e = w->env; e && *e; e++)
        free(*e);
    free(w->env);
    w->env = NULL;
}

static void handle_init(struct dev_session *s, const char *source, const char *text, size_t len)
{
    json_t *init = json_loadb(text, len, 0, NULL);
    const char *function = json_string_value(json_object_get(init, "functionID"));
    json_t *env = json_object_get(init, "environment");
    struct dev_worker *w = hashmap_get(&s->workers, source, strlen(source));
    if (!function || !json_is_array(env)) {
        log_warn("%s: malformed Init ignored", source);
        json_decref(init);
        return;
    }
    if (!w) {
        w = calloc(1, sizeof(*w));
        if (!w || hashmap_put(&s->workers, source, strlen(source), w) < 0) {
            free(w);
            json_decref(init);
            return;
        }
        snprintf(w->id, sizeof(w->id), "%s", source);
    }
    free_worker_env(w);
    snprintf(w->function, sizeof(w->function), "%s", function);
    size_t n = json_array_size(env);
    w->env = calloc(n + 2, sizeof(*w->env));
    size_t k = 0;
    for (size_t i = 0; w->env && i < n; i++) {
        const char *line = json_string_value(json_array_get(env, i));
        if (line && strchr(line, '='))
            w->env[k++] = strdup(line);
    }
    if (w->env)
        w->env[k] = strdup("TETHER_DEV=true");
    char detail[200];
    snprintf(detail, sizeof(detail), "%s %s", w->function, w->id);
    notify(s, DEV_SESSION_WORKER_NEW, detail);
    json_decref(init);
    if (w->waiting_next) {
        struct buf *next = w->waiting_next;
        w->waiting_next = NULL;
        run_next(s, w, buf_bytes(next), buf_length(next));
        buf_free(next);
        free(next);
    }
}

static void handle_next(struct dev_session *s, const char *source, const char *id, const char *text,
                        size_t len)
{
    struct dev_worker *w = hashmap_get(&s->workers, source, strlen(source));
    if (w && w->env) {
        run_next(s, w, text, len);
        return;
    }
    /* A sandbox started before this session: ask it to introduce itself. */
    if (!w && (w = calloc(1, sizeof(*w)))) {
        snprintf(w->id, sizeof(w->id), "%s", source);
        if (hashmap_put(&s->workers, source, strlen(source), w) < 0) {
            free(w);
            return;
        }
    }
    if (!w)
        return;
    struct dev_next next;
    char cause[200];
    if (dev_next_parse(text, len, &next, cause, sizeof(cause)) == 0) {
        send_to(s, source, BRIDGE_PING, next.request_id, NULL, 0);
        send_to(s, source, BRIDGE_REBOOT, next.request_id, NULL, 0);
        dev_next_free(&next);
    }
    (void)id;
    if (!w->waiting_next && (w->waiting_next = calloc(1, sizeof(*w->waiting_next))))
        buf_append(w->waiting_next, text, len);
}

static void on_message(struct dev_session *s, enum bridge_type type, const char *source,
                       const char *id, const struct buf *body)
{
    switch (type) {
    case BRIDGE_INIT:
        handle_init(s, source, buf_bytes(body), buf_length(body));
        break;
    case BRIDGE_NEXT:
        handle_next(s, source, id, buf_bytes(body), buf_length(body));
        break;
    default:
        log_debug("ignoring %s from %s", bridge_type_name(type), source);
    }
}

static void on_chunk(void *ctx, const struct bridge_packet *p)
{
    struct dev_session *s = ctx;
    char key[BRIDGE_MAX_SOURCE_LENGTH + BRIDGE_MAX_ID_LENGTH + 8];
    int n = snprintf(key, sizeof(key), "%d/%s/%s", (int)p->type, p->source, p->id);
    struct buf *body = hashmap_get(&s->assembling, key, (size_t)n);
    if (p->final && !body) { /* one packet: no copy */
        on_message(s, p->type, p->source, p->id, &p->data);
        return;
    }
    if (!body && (!(body = calloc(1, sizeof(*body))) ||
                  hashmap_put(&s->assembling, key, (size_t)n, body) < 0)) {
        free(body);
        return;
    }
    buf_append(body, buf_bytes(&p->data), buf_length(&p->data));
    if (!p->final)
        return;
    hashmap_remove(&s->assembling, key, (size_t)n);
    on_message(s, p->type, p->source, p->id, body);
    buf_free(body);
    free(body);
}

static void on_abandon(void *ctx, enum bridge_type type, const char *source, const char *id,
                       const char *reason)
{
    struct dev_session *s = ctx;
    char key[BRIDGE_MAX_SOURCE_LENGTH + BRIDGE_MAX_ID_LENGTH + 8];
    int n = snprintf(key, sizeof(key), "%d/%s/%s", (int)type, source, id);
    struct buf *body = hashmap_remove(&s->assembling, key, (size_t)n);
    if (body) {
        buf_free(body);
        free(body);
    }
    log_warn("%s %s from %s was incomplete: %s", bridge_type_name(type), id, source, reason);
}

static void on_packet(void *user, struct events_subscription *sub, const char *event, size_t len)
{
    struct dev_session *s = user;
    struct bridge_packet p;
    char cause[200];
    (void)sub;
    if (bridge_packet_decode(event, len, &p, cause, sizeof(cause)) < 0) {
        log_warn("dropping a malformed packet: %s", cause);
        return;
    }
    if (strcmp(p.source, "dev") != 0)
        bridge_reassembler_push(s->reassembler, &p, uv_now(s->loop));
    bridge_packet_free(&p);
}

/* ---- connection, presence, subscription ---- */

static void on_subscribed(void *user, struct events_subscription *sub, int status,
                          const char *cause)
{
    struct dev_session *s = user;
    (void)sub;
    if (status < 0) {
        s->subscription = NULL;
        notify(s, DEV_SESSION_FAILED, cause);
        return;
    }
    if (!s->ready) {
        s->ready = 1;
        notify(s, DEV_SESSION_READY, s->dev_channel);
    }
}

static void on_presence(void *ctx, enum dev_presence_event event, const char *other)
{
    struct dev_session *s = ctx;
    char cause[256];
    switch (event) {
    case DEV_PRESENCE_CLEAR:
        if (events_client_subscribe(s->events, s->dev_channel, on_packet, on_subscribed, s,
                                    &s->subscription, cause, sizeof(cause)) < 0)
            notify(s, DEV_SESSION_FAILED, cause);
        break;
    case DEV_PRESENCE_TAKEN:
        notify(s, DEV_SESSION_REFUSED, other);
        break;
    case DEV_PRESENCE_DISPLACED:
        if (s->subscription)
            events_client_unsubscribe(s->subscription);
        s->subscription = NULL;
        notify(s, DEV_SESSION_DISPLACED, other);
        break;
    case DEV_PRESENCE_FAILED:
        notify(s, DEV_SESSION_FAILED, other);
        break;
    }
}

static void on_events_state(void *user, enum events_client_state state, const char *cause)
{
    struct dev_session *s = user;
    if (state == EVENTS_CLIENT_BACKOFF) {
        bridge_outbox_set_ready(s->outbox, 0);
        notify(s, DEV_SESSION_EVENTS_LOST, cause);
    } else if (state == EVENTS_CLIENT_READY && s->ready) {
        bridge_outbox_set_ready(s->outbox, 1);
        notify(s, DEV_SESSION_EVENTS_BACK, NULL);
    }
}

static void on_housekeeping(uv_timer_t *timer)
{
    struct dev_session *s = timer->data;
    bridge_reassembler_expire(s->reassembler, uv_now(s->loop));
}

int dev_session_start(uv_loop_t *loop, const struct dev_session_options *options,
                      struct dev_session **out, char *cause, size_t cause_len)
{
    struct dev_session *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->options = *options;
    const struct dev_config *p = options->project;
    snprintf(s->dev_channel, sizeof(s->dev_channel), "/%s/%s/%s/in", p->namespace_name, p->app,
             p->stage);
    snprintf(s->control_channel, sizeof(s->control_channel), "/%s/%s/%s/dev", p->namespace_name,
             p->app, p->stage);
    struct events_client_config events = *options->events;
    events.on_state = on_events_state;
    events.user = s;
    int rc = hashmap_init(&s->assembling);
    if (rc == 0)
        rc = hashmap_init(&s->workers);
    if (rc == 0 && !(s->reassembler = bridge_reassembler_new(NULL, on_chunk, on_abandon, s)))
        rc = -ENOMEM;
    if (rc == 0)
        rc = events_client_new(loop, &events, &s->events, cause, cause_len);
    if (rc == 0 && !(s->outbox = bridge_outbox_new(s->events, MAX_PUBLISHES_IN_FLIGHT, 1)))
        rc = -ENOMEM;
    if (rc == 0)
        rc = dev_presence_start(loop, s->events, s->control_channel, options->force,
                                options->presence_wait_ms ? options->presence_wait_ms : 800,
                                on_presence, s, &s->presence, cause, cause_len);
    if (rc == 0)
        rc = events_client_start(s->events);
    if (rc < 0) {
        dev_session_stop(s);
        return rc;
    }
    uv_timer_init(loop, &s->housekeeping);
    s->housekeeping.data = s;
    uv_timer_start(&s->housekeeping, on_housekeeping, 1000, 1000);
    uv_unref((uv_handle_t *)&s->housekeeping);
    *out = s;
    return 0;
}

void dev_session_reload(struct dev_session *s, const char *function_id)
{
    lambda_service_restart_function(s->options.workers, function_id, "code changed");
}

static int drop_assembling(const char *key, void *value, void *ctx)
{
    (void)key;
    (void)ctx;
    buf_free(value);
    free(value);
    return 1;
}

static int drop_worker(const char *key, void *value, void *ctx)
{
    struct dev_worker *w = value;
    (void)key;
    (void)ctx;
    free_worker_env(w);
    if (w->waiting_next) {
        buf_free(w->waiting_next);
        free(w->waiting_next);
    }
    free(w);
    return 1;
}

static void free_session(uv_handle_t *handle)
{
    struct dev_session *s = handle->data;
    free(s);
}

void dev_session_stop(struct dev_session *s)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    while (s->calls)
        end_call(s->calls);
    dev_presence_stop(s->presence);
    bridge_outbox_free(s->outbox);
    events_client_free(s->events);
    bridge_reassembler_free(s->reassembler);
    if (s->assembling.slots) {
        hashmap_foreach(&s->assembling, drop_assembling, NULL);
        hashmap_free(&s->assembling);
    }
    if (s->workers.slots) {
        hashmap_foreach(&s->workers, drop_worker, NULL);
        hashmap_free(&s->workers);
    }
    for (size_t i = 0; i < REMEMBER_ANSWERS; i++)
        buf_free(&s->answers[i].body);
    if (s->housekeeping.data) {
        uv_timer_stop(&s->housekeeping);
        uv_close((uv_handle_t *)&s->housekeeping, free_session);
    } else {
        free(s);
    }
}
