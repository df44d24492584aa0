#include "dev/session.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "dev"
#include "bridge/endpoint.h"
#include "core/encoding.h"
#include "core/hashmap.h"
#include "core/log.h"
#include "core/random.h"
#include "dev/next.h"
#include "dev/presence.h"
#include "lambda/config.h"
#include "lambda/environment.h"

#define HEARTBEAT_MS 1000
/* Every Ping says dev pings at least this often while it works, so the
 * bridge may take its silence as dev being gone (docs/bridge-protocol.md,
 * "Liveness"); SST's bridge ignores a Ping's body. */
static const char heartbeat_ping[] = "{\"heartbeatMs\":1000}";
/* Answers are kept this long so a Next sent again after the bridge
 * reconnected gets the same answer instead of a second run. */
#define REMEMBER_ANSWERS 64

/* The worker table is fed by whoever can publish on the stage's channel,
 * so it is bounded three ways: a function gets at most its `concurrency`
 * (tether.json) of workers, the table holds at most DEV_MAX_WORKERS sources,
 * and sources that fall silent are forgotten (their local sandbox stopped)
 * the next time a new source needs room. */
#define DEV_MAX_WORKERS 1024
#define WORKER_SILENCE_MS (10 * 60 * 1000)
/* A source without an admitted Init (refused, or a Next still waiting for
 * its Init) is kept only long enough to answer that Next. */
#define UNADMITTED_SILENCE_MS (60 * 1000)
/* A bridge's worker id: what bridge_runtime/settings.c derives from
 * AWS_LAMBDA_LOG_STREAM_NAME (letters and digits of its last 32 characters)
 * or from a random UUID (32 hex digits). */
#define WORKER_ID_MAX 32

/* Bytes of environment names kept per worker for the inspector (Lambda's
 * whole environment is at most 4 KB, names and values together). */
#define ENV_NAMES_MAX 4096

/* When a Next was sent (the bridge's clock, 0 when not known) and when dev
 * had all of it (ours), both ms since the epoch, for the inspector. */
struct next_times {
    uint64_t sent_ms;
    uint64_t received_ms;
};

struct dev_worker {
    char id[BRIDGE_MAX_SOURCE_LENGTH + 1];
    /* The tether.json function its Init named; NULL until an Init is admitted. */
    const struct dev_function *function;
    char **env; /* NAME=value, NULL-terminated (filtered, see handle_init) */
    /* For the inspector, never values: the names its Init carried that were
     * taken, and those the filter dropped, each line ending in '\n'. */
    char env_taken[ENV_NAMES_MAX];
    char env_dropped[ENV_NAMES_MAX];
    char refusal[240];        /* non-empty: why its Inits are refused; its Nexts get InitError */
    uint64_t heard_ms;        /* the loop time of its last Init or Next */
    struct buf *waiting_next; /* a Next that came before the Init */
    struct next_times waiting_times;
};

struct dev_call {
    struct dev_session *session;
    struct dev_call *prev, *next;
    char request_id[BRIDGE_MAX_ID_LENGTH + 1];
    char worker[BRIDGE_MAX_SOURCE_LENGTH + 1];
    char function[LAMBDA_MAX_NAME + 1];
    uv_timer_t heartbeat;
    uint64_t start_ns;
    struct next_times times;
    struct bridge_endpoint_stream stream; /* a streamed Response */
    int streaming;
    struct buf event; /* for the report */
    char *env_taken;  /* the worker's, when the call started (NULL: no memory) */
    char *env_dropped;
    char function_arn[256]; /* the Next's, for the report */
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
    enum dev_session_state state; /* changed only by set_state */
    struct events_client *events;
    struct dev_presence *presence;
    struct bridge_endpoint *endpoint; /* packets to and from the bridges */
    struct hashmap workers;           /* worker id -> struct dev_worker */
    struct dev_call *calls;
    struct remembered answers[REMEMBER_ANSWERS];
    size_t next_answer;
    char dev_channel[300];
    char control_channel[300];
};

static const char *const state_names[] = {"checking", "subscribing", "serving", "ended", "stopped"};

const char *dev_session_state_name(enum dev_session_state state)
{
    return (unsigned)state < sizeof(state_names) / sizeof(state_names[0]) ? state_names[state]
                                                                          : "unknown";
}

static void set_state(struct dev_session *s, enum dev_session_state state)
{
    if (s->state == state)
        return;
    log_debug("session %s -> %s", dev_session_state_name(s->state), dev_session_state_name(state));
    s->state = state;
}

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
    bridge_endpoint_send(s->endpoint, channel, type, id, data, len);
}

/* A Ping, Reboot or InitError: under a fresh id, never the request's. Only
 * answers (Response, Error) reuse the request id: a bridge whose reassembler
 * keys by id alone (SST's) would otherwise wait forever for a Response under
 * an id it has already seen. The bridge takes these as being about the
 * invocation it waits on. */
static void send_fresh(struct dev_session *s, const char *worker, enum bridge_type type,
                       const void *data, size_t len)
{
    char id[37];
    random_uuid(id);
    send_to(s, worker, type, id, data, len);
}

static void send_ping(struct dev_session *s, const char *worker)
{
    send_fresh(s, worker, BRIDGE_PING, heartbeat_ping, sizeof(heartbeat_ping) - 1);
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
    send_ping(c->session, c->worker);
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
    bridge_endpoint_stream_free(&c->stream);
    buf_free(&c->event);
    free(c->env_taken);
    free(c->env_dropped);
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

/* Copies text into out, cut back to a whole UTF-8 character: text a peer
 * chose, cut inside a character, would make json_pack refuse the whole
 * report ("?" stands for text that is not UTF-8 at all). */
static void copy_text(char *out, size_t cap, const char *text)
{
    size_t n = strlen(text);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(out, text, n);
    out[n] = '\0';
    if (!utf8_valid(out, n))
        snprintf(out, cap, "?");
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
    char label[512];
    if (method && path)
        snprintf(label, sizeof(label), "%s %s", method, path);
    else
        snprintf(label, sizeof(label), "%s", source ? source : "invoke");
    copy_text(out, cap, label);
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
        copy_text(message, sizeof(message), m ? m : "");
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
        .next_sent_ms = c->times.sent_ms,
        .next_received_ms = c->times.received_ms,
        .env_taken = c->env_taken,
        .env_dropped = c->env_dropped,
        .function_arn = c->function_arn,
    };
    s->options.callbacks.on_invocation(s->options.ctx, &r);
}

static void call_stream_begin(void *ctx, const char *content_type)
{
    struct dev_call *c = ctx;
    c->streaming = 1;
    bridge_endpoint_stream_content_type(&c->stream, content_type);
}

static void call_stream_data(void *ctx, const char *data, size_t len)
{
    struct dev_call *c = ctx;
    bridge_endpoint_stream_write(&c->stream, data, len);
}

/* The broker took the answer (or gave it up): for the inspector's timings.
 * The endpoint never calls this after it is freed, so s is alive. */
static void answer_delivered(void *ctx, const char *request_id, int status)
{
    struct dev_session *s = ctx;
    if (s->options.callbacks.on_delivered)
        s->options.callbacks.on_delivered(s->options.ctx, request_id, status,
                                          status == 0 ? bridge_endpoint_wall_ms() : 0);
}

static void call_finish(void *ctx, int success, const char *error_type, const char *body,
                        size_t len)
{
    struct dev_call *c = ctx;
    struct dev_session *s = c->session;
    if (success && c->streaming) {
        bridge_endpoint_stream_close_notify(&c->stream, answer_delivered, s);
    } else {
        enum bridge_type type = success ? BRIDGE_RESPONSE : BRIDGE_ERROR;
        char channel[340];
        worker_channel(s, c->worker, channel, sizeof(channel));
        bridge_endpoint_send_notify(s->endpoint, channel, type, c->request_id, body, len,
                                    answer_delivered, s);
        remember(s, c->request_id, c->worker, type, body, len);
    }
    report(c, success, error_type, body, len);
    end_call(c);
}

static const struct lambda_live_callbacks call_callbacks = {call_stream_begin, call_stream_data,
                                                            call_finish};

/* ---- handling bridge messages ---- */

/* The message may quote what a peer sent: json_pack refuses text that is
 * not UTF-8 (NULL), so that case falls back to a fixed message rather than
 * sending nothing or dereferencing NULL. */
static void send_init_error(struct dev_session *s, const char *worker, const char *type,
                            const char *message)
{
    static const char fallback[] = "{\"errorMessage\":\"tether dev cannot run this function\","
                                   "\"errorType\":\"TetherDevError\",\"stackTrace\":[]}";
    json_t *err =
        json_pack("{s:s, s:s, s:[]}", "errorMessage", message, "errorType", type, "stackTrace");
    char *text = err ? json_dumps(err, JSON_COMPACT) : NULL;
    if (text)
        send_fresh(s, worker, BRIDGE_INIT_ERROR, text, strlen(text));
    else
        send_fresh(s, worker, BRIDGE_INIT_ERROR, fallback, sizeof(fallback) - 1);
    free(text);
    json_decref(err);
}

static void run_next(struct dev_session *s, struct dev_worker *w, const char *text, size_t len,
                     struct next_times times)
{
    struct dev_next next;
    char cause[256];
    if (dev_next_parse(text, len, &next, cause, sizeof(cause)) < 0) {
        log_warn("%s: %s", w->id, cause);
        return;
    }
    send_ping(s, w->id);
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
        snprintf(c->function, sizeof(c->function), "%s", w->function->id);
        snprintf(c->function_arn, sizeof(c->function_arn), "%s", next.function_arn);
        char channel[340];
        worker_channel(s, w->id, channel, sizeof(channel));
        bridge_endpoint_stream_init(s->endpoint, &c->stream, channel, BRIDGE_RESPONSE,
                                    c->request_id);
        buf_append(&c->event, buf_bytes(&next.body), buf_length(&next.body));
        c->env_taken = strdup(w->env_taken);
        c->env_dropped = strdup(w->env_dropped);
        c->start_ns = uv_hrtime();
        c->times = times;
        uv_timer_init(s->loop, &c->heartbeat);
        c->heartbeat.data = c;
        uv_timer_start(&c->heartbeat, on_heartbeat, HEARTBEAT_MS, HEARTBEAT_MS);
        c->next = s->calls;
        if (s->calls)
            s->calls->prev = c;
        s->calls = c;
        struct lambda_live_request req = {
            .function = w->function->id,
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
            snprintf(message, sizeof(message), "tether dev cannot run %s: %s", w->function->id,
                     rc == -ENOENT ? "it is not a live function in tether.json" : strerror(-rc));
            send_init_error(s, w->id, "TetherDevError", message);
            end_call(c);
        }
    }
    dev_next_free(&next);
}

static void free_worker_env(struct dev_worker *w)
{
    lambda_environment_free(w->env);
    w->env = NULL;
}

static void free_worker(struct dev_session *s, struct dev_worker *w, const char *why)
{
    if (w->function && why)
        lambda_service_stop_worker(s->options.workers, w->function->id, w->id, why);
    free_worker_env(w);
    if (w->waiting_next) {
        buf_free(w->waiting_next);
        free(w->waiting_next);
    }
    free(w);
}

static int worker_busy(const struct dev_session *s, const struct dev_worker *w)
{
    for (const struct dev_call *c = s->calls; c; c = c->next)
        if (strcmp(c->worker, w->id) == 0)
            return 1;
    return 0;
}

struct sweep {
    struct dev_session *session;
    uint64_t now_ms;
};

static int forget_if_silent(const char *key, void *value, void *ctx)
{
    struct sweep *sw = ctx;
    struct dev_worker *w = value;
    (void)key;
    uint64_t limit = w->function ? WORKER_SILENCE_MS : UNADMITTED_SILENCE_MS;
    if (sw->now_ms - w->heard_ms < limit || worker_busy(sw->session, w))
        return 0;
    log_debug("%s: forgotten after %llu ms of silence", w->id,
              (unsigned long long)(sw->now_ms - w->heard_ms));
    free_worker(sw->session, w, "its remote sandbox went silent");
    return 1;
}

/* Letters and digits, 1 to WORKER_ID_MAX of them: anything else is not a
 * bridge, and never becomes a channel name, a worker or a log line. */
static int valid_worker_id(const char *source)
{
    size_t n = 0;
    for (; source[n]; n++)
        if (n >= WORKER_ID_MAX ||
            !((source[n] >= '0' && source[n] <= '9') || (source[n] >= 'a' && source[n] <= 'z') ||
              (source[n] >= 'A' && source[n] <= 'Z')))
            return 0;
    return n > 0;
}

/* The remote sandbox named source, remembered from now on; NULL when the
 * table is full even after forgetting silent sources, or out of memory. */
static struct dev_worker *worker_for(struct dev_session *s, const char *source)
{
    uint64_t now = uv_now(s->loop);
    struct dev_worker *w = hashmap_get(&s->workers, source, strlen(source));
    if (w) {
        w->heard_ms = now;
        return w;
    }
    if (hashmap_count(&s->workers) >= DEV_MAX_WORKERS) {
        struct sweep sw = {s, now};
        hashmap_foreach(&s->workers, forget_if_silent, &sw);
    }
    if (hashmap_count(&s->workers) >= DEV_MAX_WORKERS) {
        log_warn("%s: ignored: tether dev already tracks %d remote sandboxes", source,
                 DEV_MAX_WORKERS);
        return NULL;
    }
    w = calloc(1, sizeof(*w));
    if (!w || hashmap_put(&s->workers, source, strlen(source), w) < 0) {
        free(w);
        return NULL;
    }
    snprintf(w->id, sizeof(w->id), "%s", source);
    w->heard_ms = now;
    return w;
}

struct census {
    const struct dev_function *function;
    const struct dev_worker *except;
    uint64_t now_ms;
    unsigned admitted;
};

static int count_admitted(const char *key, void *value, void *ctx)
{
    struct census *c = ctx;
    const struct dev_worker *w = value;
    (void)key;
    c->admitted += w != c->except && w->function == c->function;
    return 0;
}

/* Whether one more worker of f fits in its concurrency; silent workers of
 * any function are forgotten first to make room. */
static int function_has_room(struct dev_session *s, const struct dev_function *f,
                             const struct dev_worker *w)
{
    struct census c = {f, w, uv_now(s->loop), 0};
    hashmap_foreach(&s->workers, count_admitted, &c);
    if (c.admitted < f->concurrency)
        return 1;
    struct sweep sw = {s, c.now_ms};
    /* w itself was heard just now, so the sweep keeps it. */
    hashmap_foreach(&s->workers, forget_if_silent, &sw);
    c.admitted = 0;
    hashmap_foreach(&s->workers, count_admitted, &c);
    return c.admitted < f->concurrency;
}

/* The function an Init names, if tether.json has it live and it has room;
 * otherwise why not, in w->refusal. */
static const struct dev_function *admit(struct dev_session *s, struct dev_worker *w,
                                        const char *function_id)
{
    const struct dev_function *f = dev_config_function(s->options.project, function_id);
    w->refusal[0] = '\0';
    if (!f || !f->live) {
        /* function_id is a peer's: only its length is safe to print. */
        snprintf(w->refusal, sizeof(w->refusal),
                 "tether dev cannot run this function: its functionID (%zu bytes) is not a live "
                 "function in tether.json",
                 strlen(function_id));
    } else if (w->function != f && !function_has_room(s, f, w)) {
        snprintf(w->refusal, sizeof(w->refusal),
                 "tether dev already runs %u workers for %s, its concurrency in tether.json",
                 f->concurrency, f->id);
    }
    return w->refusal[0] ? NULL : f;
}

/* Adds the name of a NAME=value line (the whole line when it has no '=')
 * to a '\n'-separated list, as text the inspector can show: a peer chose
 * it, so bytes that are not printable ASCII become '?'. A name that does
 * not fit is left out. */
static void add_name(char *list, size_t cap, const char *line, size_t len)
{
    const char *eq = memchr(line, '=', len);
    size_t n = eq ? (size_t)(eq - line) : len, used = strlen(list);
    if (n > 128)
        n = 128;
    if (used + n + 2 > cap)
        return;
    for (size_t i = 0; i < n; i++)
        list[used + i] = line[i] > 0x20 && line[i] < 0x7f ? line[i] : '?';
    list[used + n] = '\n';
    list[used + n + 1] = '\0';
}

/* The Init's environment under lambda_environment_override_allowed's
 * policy, plus TETHER_DEV=true; what was dropped is logged once, by name.
 * The names taken and dropped are kept in W for the inspector. */
static char **init_environment(struct dev_worker *w, json_t *env)
{
    struct lambda_overrides o = {0};
    int rc = 0;
    w->env_taken[0] = w->env_dropped[0] = '\0';
    for (size_t i = 0; rc >= 0 && i < json_array_size(env); i++) {
        json_t *line = json_array_get(env, i);
        const char *text = json_string_value(line);
        size_t len = json_string_length(line);
        if (text)
            rc = lambda_overrides_add(&o, text, len);
        else
            o.dropped++;
        if (text && rc >= 0)
            add_name(rc == 0 ? w->env_taken : w->env_dropped, ENV_NAMES_MAX, text, len);
        else if (!text)
            add_name(w->env_dropped, ENV_NAMES_MAX, "(not a string)", 14);
    }
    if (rc >= 0)
        rc = lambda_overrides_set(&o, "TETHER_DEV", "true");
    if (o.dropped)
        log_warn("%s: Init for %s: %zu environment entries not taken (they may change how the "
                 "runtime starts, or are over a limit): %s",
                 w->id, w->function->id, o.dropped, o.dropped_names);
    char **out = rc >= 0 ? lambda_overrides_steal(&o) : NULL;
    lambda_overrides_free(&o);
    return out;
}

/* A Next from a source whose Init was refused gets that reason as an
 * InitError, so the caller learns it at once. */
static void refuse_next(struct dev_session *s, struct dev_worker *w, const char *text, size_t len)
{
    struct dev_next next;
    char cause[200];
    if (dev_next_parse(text, len, &next, cause, sizeof(cause)) < 0)
        return;
    send_init_error(s, w->id, "TetherDevError", w->refusal);
    dev_next_free(&next);
}

static void handle_init(struct dev_session *s, const char *source, const char *text, size_t len)
{
    json_t *init = json_loadb(text, len, 0, NULL);
    const char *function = json_string_value(json_object_get(init, "functionID"));
    json_t *env = json_object_get(init, "environment");
    struct dev_worker *w = NULL;
    if (!function || !json_is_array(env))
        log_warn("%s: malformed Init ignored", source);
    else
        w = worker_for(s, source);
    const struct dev_function *f = w ? admit(s, w, function) : NULL;
    if (w && !f) {
        log_warn("%s: Init refused: %s", source, w->refusal);
        if (w->function) /* it had a worker: that one goes */
            lambda_service_stop_worker(s->options.workers, w->function->id, w->id, "Init refused");
        w->function = NULL;
        free_worker_env(w);
    }
    if (!f) {
        json_decref(init);
        if (w && w->waiting_next) {
            refuse_next(s, w, buf_bytes(w->waiting_next), buf_length(w->waiting_next));
            buf_free(w->waiting_next);
            free(w->waiting_next);
            w->waiting_next = NULL;
        }
        return;
    }
    w->function = f;
    free_worker_env(w);
    w->env = init_environment(w, env);
    json_decref(init);
    if (!w->env) {
        w->function = NULL;
        snprintf(w->refusal, sizeof(w->refusal), "tether dev is out of memory");
        return;
    }
    char detail[200];
    snprintf(detail, sizeof(detail), "%s %s", f->id, w->id);
    notify(s, DEV_SESSION_WORKER_NEW, detail);
    if (w->waiting_next) {
        struct buf *next = w->waiting_next;
        w->waiting_next = NULL;
        run_next(s, w, buf_bytes(next), buf_length(next), w->waiting_times);
        buf_free(next);
        free(next);
    }
}

static void handle_next(struct dev_session *s, const char *source, const char *text, size_t len,
                        struct next_times times)
{
    struct dev_worker *w = worker_for(s, source);
    if (w && w->env) {
        run_next(s, w, text, len, times);
        return;
    }
    if (!w)
        return;
    if (w->refusal[0]) {
        refuse_next(s, w, text, len);
        return;
    }
    /* A sandbox started before this session: ask it to introduce itself. */
    struct dev_next next;
    char cause[200];
    if (dev_next_parse(text, len, &next, cause, sizeof(cause)) == 0) {
        send_ping(s, source);
        send_fresh(s, source, BRIDGE_REBOOT, NULL, 0);
        dev_next_free(&next);
    }
    if (!w->waiting_next && (w->waiting_next = calloc(1, sizeof(*w->waiting_next)))) {
        buf_append(w->waiting_next, text, len);
        w->waiting_times = times;
    }
}

static void on_message(void *ctx, const struct bridge_message *m)
{
    struct dev_session *s = ctx;
    if ((m->type == BRIDGE_INIT || m->type == BRIDGE_NEXT) && !valid_worker_id(m->source)) {
        log_warn("a %s from a source that is not a bridge's worker id (1 to %d letters and "
                 "digits) was dropped",
                 bridge_type_name(m->type), WORKER_ID_MAX);
        return;
    }
    switch (m->type) {
    case BRIDGE_INIT:
        handle_init(s, m->source, buf_bytes(m->body), buf_length(m->body));
        break;
    case BRIDGE_NEXT:
        handle_next(s, m->source, buf_bytes(m->body), buf_length(m->body),
                    (struct next_times){m->sent_ms, bridge_endpoint_wall_ms()});
        break;
    default:
        log_debug("ignoring %s from %s", bridge_type_name(m->type), m->source);
    }
}

/* A big Next takes a while to arrive, and the bridge fails the invocation
 * when dev says nothing for a few seconds (docs/bridge-protocol.md,
 * "Liveness"): while one comes in, dev pings at its first chunk and every
 * eighth after, so a loaded machine is not mistaken for an absent dev. The
 * request id is not known yet (it is inside the Next), and need not be: a
 * Ping is about whatever invocation the bridge waits on. */
static void on_progress(void *ctx, const struct bridge_packet *p)
{
    struct dev_session *s = ctx;
    if (p->type != BRIDGE_NEXT || p->index % 8 != 0 || !valid_worker_id(p->source))
        return;
    send_ping(s, p->source);
}

/* ---- connection, presence, subscription ---- */

/* The session cannot serve any more; the owner is told why and is expected
 * to stop it (which it may do from the callback: nothing here touches the
 * session afterwards). */
static void end_session(struct dev_session *s, enum dev_session_event event, const char *detail)
{
    set_state(s, DEV_SESSION_ENDED);
    notify(s, event, detail);
}

static void on_subscribed(void *ctx, int status, int reconnect, const char *cause)
{
    struct dev_session *s = ctx;
    (void)reconnect;
    if (status < 0) {
        end_session(s, DEV_SESSION_FAILED, cause);
        return;
    }
    if (s->state == DEV_SESSION_SUBSCRIBING) {
        set_state(s, DEV_SESSION_SERVING);
        notify(s, DEV_SESSION_READY, s->dev_channel);
    }
}

static void on_presence(void *ctx, enum dev_presence_event event, const char *other)
{
    struct dev_session *s = ctx;
    char cause[256];
    switch (event) {
    case DEV_PRESENCE_CLEAR:
        set_state(s, DEV_SESSION_SUBSCRIBING);
        if (bridge_endpoint_subscribe(s->endpoint, s->dev_channel, cause, sizeof(cause)) < 0)
            end_session(s, DEV_SESSION_FAILED, cause);
        break;
    case DEV_PRESENCE_TAKEN:
        end_session(s, DEV_SESSION_REFUSED, other);
        break;
    case DEV_PRESENCE_DISPLACED:
        bridge_endpoint_unsubscribe(s->endpoint);
        end_session(s, DEV_SESSION_DISPLACED, other);
        break;
    case DEV_PRESENCE_FAILED:
        end_session(s, DEV_SESSION_FAILED, other);
        break;
    }
}

static void on_events_state(void *user, enum events_client_state state, const char *cause)
{
    struct dev_session *s = user;
    if (s->endpoint)
        bridge_endpoint_events_state(s->endpoint, state);
    if (state == EVENTS_CLIENT_BACKOFF)
        notify(s, DEV_SESSION_EVENTS_LOST, cause);
    else if (state == EVENTS_CLIENT_READY && s->state == DEV_SESSION_SERVING)
        notify(s, DEV_SESSION_EVENTS_BACK, NULL);
}

static int make_endpoint(struct dev_session *s, char *cause, size_t cause_len)
{
    struct bridge_endpoint_config config = {
        .source = "dev",
        .events = s->events,
        .key = s->options.key,
        .callbacks = {.on_message = on_message,
                      .on_progress = on_progress,
                      .on_subscribed = on_subscribed},
        .ctx = s,
    };
    return bridge_endpoint_new(s->loop, &config, &s->endpoint, cause, cause_len);
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
    int rc = hashmap_init(&s->workers);
    if (rc == 0)
        rc = events_client_new(loop, &events, &s->events, cause, cause_len);
    if (rc == 0)
        rc = make_endpoint(s, cause, cause_len);
    if (rc == 0)
        rc = dev_presence_start(loop, s->events, s->control_channel, options->key, options->force,
                                options->presence_wait_ms ? options->presence_wait_ms : 800,
                                on_presence, s, &s->presence, cause, cause_len);
    if (rc == 0)
        rc = events_client_start(s->events);
    if (rc < 0) {
        dev_session_stop(s);
        return rc;
    }
    *out = s;
    return 0;
}

void dev_session_reload(struct dev_session *s, const char *function_id)
{
    lambda_service_restart_function(s->options.workers, function_id, "code changed");
}

static int drop_worker(const char *key, void *value, void *ctx)
{
    (void)key;
    /* The workers service stops its sandboxes itself when dev ends. */
    free_worker(ctx, value, NULL);
    return 1;
}

/* Everything the session owns goes; callbacks that might still be running
 * (this may be called from one) never touch the session again: the endpoint
 * and the events client stop calling back when freed. */
void dev_session_stop(struct dev_session *s)
{
    if (s->state == DEV_SESSION_STOPPED)
        return;
    set_state(s, DEV_SESSION_STOPPED);
    while (s->calls)
        end_call(s->calls);
    dev_presence_stop(s->presence);
    bridge_endpoint_free(s->endpoint);
    events_client_free(s->events);
    if (s->workers.slots) {
        hashmap_foreach(&s->workers, drop_worker, s);
        hashmap_free(&s->workers);
    }
    for (size_t i = 0; i < REMEMBER_ANSWERS; i++)
        buf_free(&s->answers[i].body);
    free(s);
}
