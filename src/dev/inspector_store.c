/* The bounded store of invocations (dev/inspector_store.h). */
#include "dev/inspector_store.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define LOG_MODULE "inspector"
#include "core/log.h"
#include "core/private_file.h"
#include "lambda/invoke_client.h"

#define MAX_PENDING_REPLAYS 16
#define MAX_PENDING_LOGS 64

/* A replay sent and not yet seen. */
struct pending_replay {
    uint64_t ticket;
    int arrived;
    char original[INSPECTOR_ID_SIZE];
    char function[72];
    char id[INSPECTOR_ID_SIZE]; /* what it got */
    struct buf event;
};

/* Log lines of a request that has not finished yet. */
struct pending_logs {
    char id[INSPECTOR_ID_SIZE];
    struct buf lines;
};

struct inspector_store {
    size_t max_count, max_bytes;
    struct inspector_entry **ring; /* max_count slots */
    size_t first, count, bytes;
    uint64_t next_seq, next_ticket;
    char root[4096]; /* "" until records are kept */
    struct pending_replay replays[MAX_PENDING_REPLAYS];
    struct pending_logs logs[MAX_PENDING_LOGS];
    size_t next_log_slot;
    void (*on_add)(void *user, const struct inspector_entry *e);
    void *on_add_user;
};

int inspector_store_new(size_t max_count, size_t max_bytes, struct inspector_store **out)
{
    struct inspector_store *s = calloc(1, sizeof(*s));
    if (!s || max_count == 0 || max_bytes == 0) {
        free(s);
        return s ? -EINVAL : -ENOMEM;
    }
    s->ring = calloc(max_count, sizeof(*s->ring));
    if (!s->ring) {
        free(s);
        return -ENOMEM;
    }
    s->max_count = max_count;
    s->max_bytes = max_bytes;
    s->next_seq = 1;
    s->next_ticket = 1;
    for (size_t i = 0; i < MAX_PENDING_LOGS; i++)
        buf_init(&s->logs[i].lines);
    for (size_t i = 0; i < MAX_PENDING_REPLAYS; i++)
        buf_init(&s->replays[i].event);
    *out = s;
    return 0;
}

static void entry_free(struct inspector_entry *e)
{
    buf_free(&e->event);
    buf_free(&e->answer);
    buf_free(&e->logs);
    buf_free(&e->env_taken);
    buf_free(&e->env_dropped);
    free(e);
}

void inspector_store_free(struct inspector_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->count; i++)
        entry_free(s->ring[(s->first + i) % s->max_count]);
    for (size_t i = 0; i < MAX_PENDING_LOGS; i++)
        buf_free(&s->logs[i].lines);
    for (size_t i = 0; i < MAX_PENDING_REPLAYS; i++)
        buf_free(&s->replays[i].event);
    free(s->ring);
    free(s);
}

/* ---- records in .tether/log/ ---- */

/* A record file name: "log/<time>-<seq>-<request id>.json"; the time and
 * sequence make names sort by age, so older records go first on a restart. */
static void record_name(const struct inspector_entry *e, char *out, size_t out_len)
{
    char stamp[32];
    time_t now = (time_t)(e->finished_ms / 1000);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    snprintf(out, out_len, "log/%s-%06llu-%.40s.json", stamp,
             (unsigned long long)(e->seq % 1000000), e->id);
    /* The request id comes from the caller: a '/' must not pick another
     * directory (private_file refuses such a name). */
    for (char *p = out + 4; *p; p++)
        if (*p == '/' || *p == '\\')
            *p = '_';
}

static json_t *body_value(const struct buf *b)
{
    if (!buf_length(b))
        return json_string("");
    json_t *value = json_loadb(buf_bytes(b), buf_length(b), JSON_DECODE_ANY, NULL);
    return value ? value : json_stringn(buf_bytes(b), buf_length(b));
}

static void write_record(struct inspector_store *s, struct inspector_entry *e)
{
    char cause[512];
    record_name(e, e->record, sizeof(e->record));
    json_t *record = json_pack(
        "{s:s, s:s, s:s, s:s, s:b, s:f, s:I, s:o, s:o, s:s%, s:s?, s:s?}", "function", e->function,
        "requestId", e->id, "worker", e->worker, "source", e->source, "success", e->success,
        "durationMs", e->duration_ms, "finishedMs", (json_int_t)e->finished_ms, "event",
        body_value(&e->event), e->success ? "response" : "error", body_value(&e->answer), "logs",
        buf_length(&e->logs) ? buf_bytes(&e->logs) : "", buf_length(&e->logs), "replayOf",
        e->replay_of[0] ? e->replay_of : NULL, "functionArn",
        e->function_arn[0] ? e->function_arn : NULL);
    char *text = record ? json_dumps(record, JSON_INDENT(2)) : NULL;
    if (!text ||
        private_file_write(s->root, e->record, text, strlen(text), cause, sizeof(cause)) < 0) {
        log_warn("%s", text ? cause : "no memory for an invocation record");
        e->record[0] = '\0';
    }
    free(text);
    json_decref(record);
}

struct old_records {
    char **names;
    size_t count, cap;
};

static void collect_record(void *user, const char *name)
{
    struct old_records *o = user;
    size_t len = strlen(name);
    if (len < 6 || strcmp(name + len - 5, ".json") != 0)
        return;
    if (o->count == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        char **names = realloc(o->names, cap * sizeof(*names));
        if (!names)
            return;
        o->names = names;
        o->cap = cap;
    }
    o->names[o->count] = strdup(name);
    if (o->names[o->count])
        o->count++;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Records from earlier runs count against the same limit of files: the
 * oldest beyond max_count are removed so the directory stays bounded. */
static void prune_old_records(struct inspector_store *s)
{
    struct old_records o = {0};
    char cause[512], name[300];
    if (private_dir_list(s->root, "log", collect_record, &o, cause, sizeof(cause)) < 0)
        log_warn("%s", cause);
    if (o.count)
        qsort(o.names, o.count, sizeof(*o.names), by_name);
    for (size_t i = 0; i < o.count; i++) {
        snprintf(name, sizeof(name), "log/%s", o.names[i]);
        if (o.count - i > s->max_count &&
            private_file_remove(s->root, name, cause, sizeof(cause)) < 0)
            log_warn("%s", cause);
        free(o.names[i]);
    }
    free(o.names);
}

int inspector_store_keep_records(struct inspector_store *s, const char *root, char *cause,
                                 size_t cause_len)
{
    int rc = private_dir_ensure(root, "log/x", cause, cause_len);
    if (rc < 0)
        return rc;
    snprintf(s->root, sizeof(s->root), "%s", root);
    prune_old_records(s);
    return 0;
}

/* ---- the ring ---- */

static void drop_oldest(struct inspector_store *s)
{
    struct inspector_entry *e = s->ring[s->first];
    char cause[512];
    if (e->record[0] && private_file_remove(s->root, e->record, cause, sizeof(cause)) < 0)
        log_warn("%s", cause);
    s->bytes -= e->bytes;
    s->ring[s->first] = NULL;
    s->first = (s->first + 1) % s->max_count;
    s->count--;
    entry_free(e);
}

static void keep_body(struct buf *b, const char *data, size_t len)
{
    if (len <= INSPECTOR_MAX_BODY) {
        buf_append(b, data, len);
        return;
    }
    buf_printf(b, "{\"bytes\":%zu,\"omitted\":true}", len);
}

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static struct pending_logs *pending_logs_for(struct inspector_store *s, const char *id)
{
    for (size_t i = 0; i < MAX_PENDING_LOGS; i++)
        if (s->logs[i].id[0] && strcmp(s->logs[i].id, id) == 0)
            return &s->logs[i];
    return NULL;
}

/* The ARN comes from a peer (the bridge's Next): it is kept only when it is
 * a Lambda function ARN, so what the inspector shows and what a replay
 * invokes is never anything else. */
static void keep_function_arn(struct inspector_entry *e, const char *arn)
{
    char region[64];
    if (arn && strlen(arn) < sizeof(e->function_arn) &&
        lambda_invoke_arn_region(arn, region, sizeof(region)) == 0)
        snprintf(e->function_arn, sizeof(e->function_arn), "%s", arn);
}

static void link_replay(struct inspector_store *s, struct inspector_entry *e)
{
    for (size_t i = 0; i < MAX_PENDING_REPLAYS; i++) {
        struct pending_replay *p = &s->replays[i];
        if (p->ticket && !p->arrived && strcmp(p->function, e->function) == 0 &&
            buf_length(&p->event) == buf_length(&e->event) &&
            memcmp(buf_bytes(&p->event), buf_bytes(&e->event), buf_length(&e->event)) == 0) {
            p->arrived = 1;
            snprintf(p->id, sizeof(p->id), "%s", e->id);
            snprintf(e->replay_of, sizeof(e->replay_of), "%s", p->original);
            return;
        }
    }
}

const struct inspector_entry *inspector_store_add(struct inspector_store *s,
                                                  const struct dev_invocation_report *r)
{
    struct inspector_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    buf_init(&e->event);
    buf_init(&e->answer);
    buf_init(&e->logs);
    buf_init(&e->env_taken);
    buf_init(&e->env_dropped);
    e->seq = s->next_seq++;
    snprintf(e->id, sizeof(e->id), "%s", r->request_id);
    snprintf(e->function, sizeof(e->function), "%s", r->function);
    snprintf(e->worker, sizeof(e->worker), "%s", r->worker ? r->worker : "");
    snprintf(e->source, sizeof(e->source), "%s", r->source ? r->source : "");
    snprintf(e->error_type, sizeof(e->error_type), "%s", r->error_type ? r->error_type : "");
    keep_function_arn(e, r->function_arn);
    e->success = r->success;
    e->duration_ms = r->duration_ms;
    e->finished_ms = now_ms();
    e->next_sent_ms = (int64_t)r->next_sent_ms;
    e->next_received_ms = (int64_t)r->next_received_ms;
    keep_body(&e->event, r->event, r->event_len);
    keep_body(&e->answer, r->answer, r->answer_len);
    struct pending_logs *p = pending_logs_for(s, e->id);
    if (p) {
        buf_append(&e->logs, buf_bytes(&p->lines), buf_length(&p->lines));
        buf_reset(&p->lines);
        p->id[0] = '\0';
    }
    link_replay(s, e);
    if (r->env_taken && r->env_dropped) {
        e->env_known = 1;
        buf_append(&e->env_taken, r->env_taken, strlen(r->env_taken));
        buf_append(&e->env_dropped, r->env_dropped, strlen(r->env_dropped));
    }
    e->bytes = sizeof(*e) + buf_length(&e->event) + buf_length(&e->answer) + buf_length(&e->logs) +
               buf_length(&e->env_taken) + buf_length(&e->env_dropped);
    while (s->count > 0 && (s->count == s->max_count || s->bytes + e->bytes > s->max_bytes))
        drop_oldest(s);
    s->ring[(s->first + s->count) % s->max_count] = e;
    s->count++;
    s->bytes += e->bytes;
    if (s->root[0])
        write_record(s, e);
    if (s->on_add)
        s->on_add(s->on_add_user, e);
    return e;
}

/* ---- replays ---- */

uint64_t inspector_store_expect_replay(struct inspector_store *s, const char *original,
                                       const char *function, const void *event, size_t len)
{
    for (size_t i = 0; i < MAX_PENDING_REPLAYS; i++) {
        struct pending_replay *p = &s->replays[i];
        if (p->ticket)
            continue;
        buf_reset(&p->event);
        if (buf_append(&p->event, event, len) < 0)
            return 0;
        p->ticket = s->next_ticket++;
        p->arrived = 0;
        p->id[0] = '\0';
        snprintf(p->original, sizeof(p->original), "%s", original);
        snprintf(p->function, sizeof(p->function), "%s", function);
        return p->ticket;
    }
    return 0;
}

void inspector_store_replay_result(struct inspector_store *s, uint64_t ticket, char *id,
                                   size_t id_len)
{
    snprintf(id, id_len, "%s", "");
    for (size_t i = 0; i < MAX_PENDING_REPLAYS; i++) {
        struct pending_replay *p = &s->replays[i];
        if (p->ticket != ticket)
            continue;
        snprintf(id, id_len, "%s", p->id);
        p->ticket = 0;
        buf_reset(&p->event);
        return;
    }
}

/* ---- log lines ---- */

static void append_line(struct buf *b, const char *line, size_t len)
{
    if (buf_length(b) + len + 1 > INSPECTOR_MAX_LOGS)
        return;
    buf_append(b, line, len);
    buf_append_char(b, '\n');
}

static struct inspector_entry *find_mutable(struct inspector_store *s, const char *id)
{
    for (size_t i = s->count; i-- > 0;) {
        struct inspector_entry *e = s->ring[(s->first + i) % s->max_count];
        if (strcmp(e->id, id) == 0)
            return e;
    }
    return NULL;
}

int inspector_store_delivered(struct inspector_store *s, const char *request_id,
                              int64_t delivered_ms)
{
    struct inspector_entry *e = find_mutable(s, request_id);
    if (!e)
        return -ENOENT;
    e->answer_delivered_ms = delivered_ms;
    return 0;
}

void inspector_store_log_line(struct inspector_store *s, const char *request_id, const char *line,
                              size_t len)
{
    if (!request_id || !request_id[0])
        return; /* printed between invocations: no request to show it with */
    struct inspector_entry *e = find_mutable(s, request_id);
    if (e) { /* END and REPORT come after the answer */
        size_t before = buf_length(&e->logs);
        append_line(&e->logs, line, len);
        e->bytes += buf_length(&e->logs) - before;
        s->bytes += buf_length(&e->logs) - before;
        return;
    }
    struct pending_logs *p = pending_logs_for(s, request_id);
    if (!p) {
        /* The oldest pending slot is reused: a request that never finishes
         * must not hold its lines forever. */
        p = &s->logs[s->next_log_slot];
        s->next_log_slot = (s->next_log_slot + 1) % MAX_PENDING_LOGS;
        buf_reset(&p->lines);
        snprintf(p->id, sizeof(p->id), "%s", request_id);
    }
    append_line(&p->lines, line, len);
}

/* ---- reading ---- */

size_t inspector_store_count(const struct inspector_store *s)
{
    return s->count;
}

size_t inspector_store_bytes(const struct inspector_store *s)
{
    return s->bytes;
}

size_t inspector_store_max_count(const struct inspector_store *s)
{
    return s->max_count;
}

size_t inspector_store_max_bytes(const struct inspector_store *s)
{
    return s->max_bytes;
}

const struct inspector_entry *inspector_store_at(const struct inspector_store *s, size_t i)
{
    return i < s->count ? s->ring[(s->first + i) % s->max_count] : NULL;
}

const struct inspector_entry *inspector_store_find(const struct inspector_store *s, const char *id)
{
    return find_mutable((struct inspector_store *)s, id);
}

void inspector_store_on_add(struct inspector_store *s,
                            void (*cb)(void *user, const struct inspector_entry *e), void *user)
{
    s->on_add = cb;
    s->on_add_user = user;
}
