#include "dev/attach.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/appsync.h"
#include "aws/cloudformation.h"
#include "aws/iam.h"
#include "aws/lambda_api.h"
#include "bridge/package.h"
#include "core/buf.h"
#include "core/cause.h"
#define LOG_MODULE "attach"
#include "core/log.h"
#include "core/private_file.h"
#include "dev/attach_plan.h"

#define STATE_DIR "attached"
#define STATE_MAX_BYTES (256 * 1024)
/* Retries of one update when another update is in progress or the
 * function's revision moved under us for a reason that is not a session. */
#define UPDATE_TRIES 4
/* ListLayerVersions pages looked through (50 versions each). */
#define LAYER_MAX_PAGES 20

struct attach_layer {
    int done; /* 1: looked for (rc says how it went) */
    int rc;
    char arn[256];
    char cause[512];
};

struct attached {
    char *function_id;
    json_t *record;
    int failed;  /* its restore failed: its role keeps the policy */
    int foreign; /* the function did not carry the record's marker */
};

struct attach {
    struct attach_options o;
    pthread_mutex_t lock; /* reports, layers, the attached list, next */
    struct attach_layer layers[2];
    struct attached *attached;
    size_t attached_count, attached_cap;
    const struct attach_target *targets;
    size_t target_count, next;
    int cancelled;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Reports are made one at a time, whatever the thread. */
static void report(struct attach *a, enum attach_event event, const char *id, const char *name,
                   double ms, const char *detail)
{
    struct attach_report r = {event, id ? id : "", name ? name : "", ms, detail ? detail : ""};
    if (!a->o.report)
        return;
    pthread_mutex_lock(&a->lock);
    a->o.report(a->o.ctx, &r);
    pthread_mutex_unlock(&a->lock);
}

/* One call's context with a fresh copy of the credentials. */
struct call_ctx {
    struct aws_credentials credentials;
    struct aws_context aws;
};

static int call_ctx_open(const struct attach_options *o, struct call_ctx *c, char *cause,
                         size_t cause_len)
{
    memset(c, 0, sizeof(*c));
    int rc = aws_credentials_provider_get(o->credentials, &c->credentials, cause, cause_len);
    c->aws = (struct aws_context){&c->credentials, o->region, o->profile};
    return rc;
}

static void call_ctx_close(struct call_ctx *c)
{
    aws_credentials_wipe(&c->credentials);
}

static void state_name(const char *id, char *out, size_t len)
{
    snprintf(out, len, STATE_DIR "/%s.json", id);
}

static int state_write(const char *root, const char *id, json_t *record, char *cause,
                       size_t cause_len)
{
    char name[128];
    state_name(id, name, sizeof(name));
    char *text = json_dumps(record, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text)
        return cause_set(cause, cause_len, -ENOMEM, "out of memory");
    int rc = private_dir_ensure(root, name, cause, cause_len);
    if (rc == 0)
        rc = private_file_write(root, name, text, strlen(text), cause, cause_len);
    free(text);
    return rc;
}

static int state_read(const char *root, const char *id, json_t **record, char *cause,
                      size_t cause_len)
{
    char name[128];
    state_name(id, name, sizeof(name));
    struct buf text = BUF_INIT;
    int rc = private_file_read(root, name, STATE_MAX_BYTES, &text, cause, cause_len);
    if (rc == 0) {
        *record = json_loadb(text.data, text.len, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(*record) || !json_is_object(json_object_get(*record, "original")) ||
            !json_string_value(json_object_get(*record, "arn"))) {
            json_decref(*record);
            *record = NULL;
            rc = cause_set(cause, cause_len, -EINVAL, ".tether/%s is not a record tether wrote",
                           name);
        }
    }
    buf_free(&text);
    return rc;
}

static void state_remove(const char *root, const char *id)
{
    char name[128], cause[256];
    state_name(id, name, sizeof(name));
    private_file_remove(root, name, cause, sizeof(cause));
}

int attach_new(const struct attach_options *options, struct attach **out)
{
    struct attach *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->o = *options;
    pthread_mutex_init(&a->lock, NULL);
    *out = a;
    return 0;
}

/* Looks through the layer's versions (newest first, a bounded number of
 * pages) for one whose description names this bridge version. */
static int layer_find(struct call_ctx *c, const char *layer, const char *arch_name,
                      const char *description, struct attach_layer *l)
{
    char marker[1024] = "";
    int rc = 0;
    for (int page_no = 0; rc == 0 && page_no < LAYER_MAX_PAGES && !l->arn[0]; page_no++) {
        json_t *page = NULL, *version;
        rc = lambda_api_list_layer_versions(&c->aws, layer, arch_name, marker[0] ? marker : NULL,
                                            &page, l->cause, sizeof(l->cause));
        size_t i;
        json_array_foreach(json_object_get(page, "LayerVersions"), i, version)
        {
            if (!l->arn[0] && strcmp(lambda_api_string(version, "Description"), description) == 0)
                snprintf(l->arn, sizeof(l->arn), "%s",
                         lambda_api_string(version, "LayerVersionArn"));
        }
        snprintf(marker, sizeof(marker), "%s", lambda_api_string(page, "NextMarker"));
        json_decref(page);
        if (!marker[0])
            break;
    }
    return rc;
}

/* Finds the bridge layer version for arch by its description (the bridge's
 * version), or publishes it: once per bridge version, region and
 * architecture. */
static int layer_lookup(struct attach *a, struct call_ctx *c, enum bridge_arch arch,
                        struct attach_layer *l)
{
    char path[4096], layer[64];
    struct bridge_package_info info = {0};
    struct buf zip = BUF_INIT;
    const char *arch_name = bridge_arch_name(arch);
    snprintf(layer, sizeof(layer), ATTACH_LAYER_PREFIX "%s", arch_name);
    int rc = bridge_package_locate(arch, a->o.bridge_path, path, sizeof(path), l->cause,
                                   sizeof(l->cause));
    if (rc == 0)
        rc = bridge_package_zip(path, arch, &zip, &info, l->cause, sizeof(l->cause));
    char description[128];
    snprintf(description, sizeof(description), "tether-bridge %s", info.version);
    if (rc == 0)
        rc = layer_find(c, layer, arch_name, description, l);
    if (rc == 0 && !l->arn[0]) {
        const char *runtimes[] = {ATTACH_RUNTIME}, *archs[] = {arch_name};
        struct lambda_layer_spec spec = {layer,    description, zip.data, zip.len,
                                         runtimes, 1,           archs,    1};
        json_t *published = NULL;
        rc = lambda_api_publish_layer(&c->aws, &spec, &published, l->cause, sizeof(l->cause));
        snprintf(l->arn, sizeof(l->arn), "%s", lambda_api_string(published, "LayerVersionArn"));
        json_decref(published);
        if (rc == 0)
            report(a, ATTACH_LAYER, NULL, NULL, 0, l->arn);
    } else if (rc == 0) {
        report(a, ATTACH_LAYER, NULL, NULL, 0, l->arn);
    }
    if (rc == 0 && !l->arn[0])
        rc = cause_set(l->cause, sizeof(l->cause), -EPROTO,
                       "PublishLayerVersion answered no LayerVersionArn");
    buf_free(&zip);
    return rc;
}

/* The layer for arch, looked for once whatever the number of threads. */
static int layer_for(struct attach *a, struct call_ctx *c, enum bridge_arch arch, char *arn,
                     size_t arn_len, char *cause, size_t cause_len)
{
    static pthread_mutex_t layer_lock = PTHREAD_MUTEX_INITIALIZER;
    struct attach_layer *l = &a->layers[arch];
    pthread_mutex_lock(&layer_lock);
    if (!l->done) {
        l->rc = layer_lookup(a, c, arch, l);
        l->done = 1;
    }
    pthread_mutex_unlock(&layer_lock);
    snprintf(arn, arn_len, "%s", l->arn);
    if (l->rc < 0)
        snprintf(cause, cause_len, "the bridge layer for %s: %s", bridge_arch_name(arch), l->cause);
    return l->rc;
}

static int function_arch(json_t *configuration, enum bridge_arch *arch, char *cause,
                         size_t cause_len)
{
    json_t *archs = json_object_get(configuration, "Architectures");
    const char *name = json_string_value(json_array_get(archs, 0));
    if (!name)
        name = "x86_64"; /* Lambda's default, which older answers omit */
    return bridge_arch_parse(name, arch, cause, cause_len);
}

/* An update, retried while another update is in progress (-EBUSY). */
static int update(struct call_ctx *c, const char *name, json_t *body, char *cause, size_t cause_len)
{
    int rc = -EBUSY;
    for (int i = 0; i < UPDATE_TRIES && rc == -EBUSY; i++) {
        rc = lambda_api_update_configuration(&c->aws, name, body, NULL, cause, cause_len);
        if (rc == -EBUSY && lambda_api_wait_updated(&c->aws, name, ATTACH_UPDATE_TIMEOUT_MS, NULL,
                                                    cause, cause_len) < 0)
            break;
    }
    return rc;
}

static int tag_record(struct attach *a, struct call_ctx *c, json_t *record, char *cause,
                      size_t cause_len)
{
    json_t *tags = NULL;
    int rc = attach_plan_tags(record, a->o.holder, &tags);
    if (rc < 0)
        return cause_set(cause, cause_len, rc, "the record does not fit in tags");
    rc = lambda_api_tag(&c->aws, json_string_value(json_object_get(record, "arn")), tags, cause,
                        cause_len);
    json_decref(tags);
    return rc;
}

static int remember(struct attach *a, const char *id, json_t *record)
{
    pthread_mutex_lock(&a->lock);
    int rc = 0;
    if (a->attached_count == a->attached_cap) {
        size_t cap = a->attached_cap ? a->attached_cap * 2 : 8;
        struct attached *grown = realloc(a->attached, cap * sizeof(*grown));
        if (grown) {
            a->attached = grown;
            a->attached_cap = cap;
        } else {
            rc = -ENOMEM;
        }
    }
    if (rc == 0) {
        a->attached[a->attached_count].function_id = strdup(id);
        a->attached[a->attached_count++].record = json_incref(record);
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

/* Settings for one function: the shared ones, its id and its streaming. */
static json_t *function_environment(struct attach *a, const struct attach_target *t)
{
    json_t *env = json_deep_copy(a->o.environment);
    if (env &&
        (json_object_set_new(env, "TETHER_FUNCTION_ID", json_string(t->function_id)) < 0 ||
         (t->streaming && json_object_set_new(env, "TETHER_STREAMING", json_string("1")) < 0))) {
        json_decref(env);
        return NULL;
    }
    return env;
}

/* Reads the function; a takeover (--force) reads the earlier session's
 * record from its tags. */
static int read_function(struct attach *a, struct call_ctx *c, const char *name,
                         json_t **configuration, json_t **previous, char *cause, size_t cause_len)
{
    json_t *function = NULL;
    int rc = lambda_api_get_function(&c->aws, name, &function, cause, cause_len);
    if (rc < 0)
        return rc;
    *configuration = json_incref(json_object_get(function, "Configuration"));
    json_t *vars = json_object_get(json_object_get(*configuration, "Environment"), "Variables");
    const char *marker = json_string_value(json_object_get(vars, ATTACH_SESSION_VARIABLE));
    if (marker && strcmp(marker, a->o.session) != 0 &&
        attach_plan_from_tags(json_object_get(function, "Tags"), previous) < 0)
        *previous = NULL;
    json_decref(function);
    if (!json_is_object(*configuration))
        rc = cause_set(cause, cause_len, -EPROTO, "GetFunction answered no Configuration");
    return rc;
}

/* The whole configuration goes into the state file, without a bridge key
 * (a takeover reads another session's). */
static int keep_configuration(json_t *record, json_t *configuration)
{
    json_t *copy = json_deep_copy(configuration);
    json_t *vars = json_object_get(json_object_get(copy, "Environment"), "Variables");
    json_object_del(vars, "TETHER_BRIDGE_KEY");
    return copy ? json_object_set_new(record, "configuration", copy) : -ENOMEM;
}

/* Which policy the function's role gets, in the record ("policy": {"role",
 * "name", "api"}), so restoring knows what to delete. None with an API key
 * or an events endpoint that is not AppSync's. */
static int plan_policy(struct attach *a, json_t *record, json_t *configuration, char *cause,
                       size_t cause_len)
{
    char role[AWS_IAM_MAX_ROLE_NAME + 1], api[512];
    if (!a->o.policy_name || !a->o.events_http)
        return 0;
    if (attach_plan_events_api_arn(a->o.events_http,
                                   lambda_api_string(configuration, "FunctionArn"), api,
                                   sizeof(api)) < 0)
        return 0;
    if (aws_iam_role_name_from_arn(lambda_api_string(configuration, "Role"), role, sizeof(role)) <
        0)
        return cause_set(cause, cause_len, -EINVAL, "the function's role %s is not a role ARN",
                         lambda_api_string(configuration, "Role"));
    json_t *p = json_pack("{ss ss ss}", "role", role, "name", a->o.policy_name, "api", api);
    return p && json_object_set_new(record, "policy", p) == 0 ? 0 : -ENOMEM;
}

static int put_policy(struct attach *a, struct call_ctx *c, json_t *record, char *cause,
                      size_t cause_len)
{
    json_t *p = json_object_get(record, "policy");
    if (!p)
        return 0;
    struct buf document = BUF_INIT;
    int rc = aws_iam_bridge_policy(&document, lambda_api_string(p, "api"), a->o.namespace_name);
    if (rc == 0)
        rc = buf_terminate(&document);
    if (rc == 0)
        rc = aws_iam_put_role_policy(&c->aws, lambda_api_string(p, "role"),
                                     lambda_api_string(p, "name"), document.data, cause, cause_len);
    else
        cause_set(cause, cause_len, rc, "cannot write the IAM policy");
    buf_free(&document);
    return rc;
}

/* One attempt: -ESTALE when the revision moved (the caller reads again). */
static int attach_once(struct attach *a, struct call_ctx *c, const struct attach_target *t,
                       json_t *env, char *cause, size_t cause_len)
{
    json_t *configuration = NULL, *previous = NULL, *record = NULL, *body = NULL;
    char layer[256] = "";
    enum bridge_arch arch = BRIDGE_ARCH_X86_64;
    int rc = read_function(a, c, t->deployed, &configuration, &previous, cause, cause_len);
    if (rc == 0)
        rc = function_arch(configuration, &arch, cause, cause_len);
    if (rc == 0)
        rc = layer_for(a, c, arch, layer, sizeof(layer), cause, cause_len);
    struct attach_settings s = {t->function_id, layer, a->o.session, env, a->o.timeout_s};
    if (rc == 0)
        rc = attach_plan_record(configuration, &s, a->o.force, previous, &record, cause, cause_len);
    if (rc == 0)
        rc = keep_configuration(record, configuration);
    if (rc == 0)
        rc = plan_policy(a, record, configuration, cause, cause_len);
    if (rc == 0)
        rc = attach_plan_update(record, configuration, &s, &body);
    /* The state file first: whatever happens next, it says what to undo. */
    if (rc == 0)
        rc = state_write(a->o.root, t->function_id, record, cause, cause_len);
    const char *name = json_string_value(json_object_get(record, "name"));
    if (rc == 0 && (rc = update(c, name, body, cause, cause_len)) < 0)
        state_remove(a->o.root, t->function_id);
    if (rc == 0)
        rc = remember(a, t->function_id, record);
    if (rc == 0)
        rc = tag_record(a, c, record, cause, cause_len);
    if (rc == 0)
        rc = lambda_api_wait_updated(&c->aws, name, ATTACH_UPDATE_TIMEOUT_MS, NULL, cause,
                                     cause_len);
    if (rc == 0)
        rc = put_policy(a, c, record, cause, cause_len);
    json_decref(body);
    json_decref(record);
    json_decref(previous);
    json_decref(configuration);
    return rc;
}

static void attach_one(struct attach *a, const struct attach_target *t)
{
    char cause[1024] = "";
    double start = now_ms();
    struct call_ctx c;
    json_t *env = function_environment(a, t);
    int rc = env ? call_ctx_open(&a->o, &c, cause, sizeof(cause)) : -ENOMEM;
    /* A stale revision: someone changed the function between our read and
     * our update. Read again: a session that won the race is named then. */
    for (int i = 0; rc == 0 && i < UPDATE_TRIES; i++) {
        rc = attach_once(a, &c, t, env, cause, sizeof(cause));
        if (rc != -ESTALE)
            break;
        rc = 0;
    }
    if (env)
        call_ctx_close(&c);
    json_decref(env);
    if (rc == 0)
        report(a, ATTACH_ATTACHED, t->function_id, t->deployed, now_ms() - start, NULL);
    else
        report(a, ATTACH_FAILED, t->function_id, t->deployed, now_ms() - start,
               cause[0] ? cause : strerror(-rc));
}

/* Work is handed out one target at a time to the threads. */
static void *attach_worker(void *arg)
{
    struct attach *a = arg;
    for (;;) {
        pthread_mutex_lock(&a->lock);
        const struct attach_target *t =
            !a->cancelled && a->next < a->target_count ? &a->targets[a->next++] : NULL;
        pthread_mutex_unlock(&a->lock);
        if (!t)
            return NULL;
        attach_one(a, t);
    }
}

/* Up to ATTACH_THREADS threads run worker(arg) until it runs out of work. */
static void run_workers(void *arg, size_t count, void *(*worker)(void *))
{
    pthread_t threads[ATTACH_THREADS];
    size_t n = count < ATTACH_THREADS ? count : ATTACH_THREADS, started = 0;
    for (size_t i = 0; i < n; i++)
        if (pthread_create(&threads[started], NULL, worker, arg) == 0)
            started++;
    if (started == 0 && count > 0)
        worker(arg); /* no thread to be had: the work is done here */
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
}

int attach_run(struct attach *a, const struct attach_target *targets, size_t count, char *cause,
               size_t cause_len)
{
    struct aws_credentials probe;
    int rc = aws_credentials_provider_get(a->o.credentials, &probe, cause, cause_len);
    aws_credentials_wipe(&probe);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&a->lock);
    a->targets = targets;
    a->target_count = count;
    a->next = 0;
    pthread_mutex_unlock(&a->lock);
    run_workers(a, count, attach_worker);
    return 0;
}

void attach_cancel(struct attach *a)
{
    pthread_mutex_lock(&a->lock);
    a->cancelled = 1;
    pthread_mutex_unlock(&a->lock);
}

/* Untags, then removes the state file. */
static int forget(const struct attach_options *o, struct call_ctx *c, const char *id,
                  const char *arn, char *cause, size_t cause_len)
{
    json_t *listed = NULL;
    int rc = lambda_api_list_tags(&c->aws, arn, &listed, cause, cause_len);
    const char *keys[ATTACH_TAG_MAX_PARTS + 1];
    size_t n = rc == 0 ? attach_plan_tag_keys(json_object_get(listed, "Tags"), keys,
                                              ATTACH_TAG_MAX_PARTS + 1)
                       : 0;
    if (rc == 0 && n)
        rc = lambda_api_untag(&c->aws, arn, keys, n, cause, cause_len);
    json_decref(listed);
    if (rc == 0 && id)
        state_remove(o->root, id);
    return rc;
}

/* The restore of one function from its record. taken: set when another
 * session holds the function now (it is left to that session). */
static int restore_once(struct call_ctx *c, json_t *record, int *taken, int *foreign, char *warning,
                        size_t warning_len, char *cause, size_t cause_len)
{
    const char *arn = json_string_value(json_object_get(record, "arn"));
    const char *session = json_string_value(json_object_get(record, "session"));
    json_t *current = NULL, *body = NULL;
    int rc = lambda_api_get_configuration(&c->aws, arn, &current, cause, cause_len);
    json_t *vars = json_object_get(json_object_get(current, "Environment"), "Variables");
    const char *marker = json_string_value(json_object_get(vars, ATTACH_SESSION_VARIABLE));
    *foreign = !marker || !session || strcmp(marker, session) != 0;
    if (rc == 0 && marker && session && strcmp(marker, session) != 0) {
        *taken = 1;
        snprintf(warning, warning_len, "now held by another session (%s): left to it", marker);
    } else if (rc == 0) {
        rc = attach_plan_restore(record, current, &body, warning, warning_len);
        if (rc == 0)
            rc = update(c, arn, body, cause, cause_len);
        if (rc == 0)
            rc = lambda_api_wait_updated(&c->aws, arn, ATTACH_UPDATE_TIMEOUT_MS, NULL, cause,
                                         cause_len);
    }
    json_decref(body);
    json_decref(current);
    return rc;
}

/* Restores one function; 0 or -errno, reported either way. id NULL: no
 * state file to remove. */
static int restore_record(struct attach *a, const char *id, json_t *record, int *foreign)
{
    const struct attach_options *o = &a->o;
    char cause[1024] = "", warning[1024] = "";
    const char *arn = json_string_value(json_object_get(record, "arn"));
    const char *name = json_string_value(json_object_get(record, "name"));
    double start = now_ms();
    struct call_ctx c;
    int rc = call_ctx_open(o, &c, cause, sizeof(cause)), taken = 0;
    for (int i = 0; rc == 0 && i < UPDATE_TRIES; i++) {
        rc = restore_once(&c, record, &taken, foreign, warning, sizeof(warning), cause,
                          sizeof(cause));
        if (rc != -ESTALE)
            break;
        rc = 0;
    }
    if (rc == 0 && taken && id)
        state_remove(o->root, id);
    else if (rc == 0)
        rc = forget(o, &c, id, arn, cause, sizeof(cause));
    call_ctx_close(&c);
    if (warning[0])
        report(a, ATTACH_WARNING, id, name, 0, warning);
    if (rc == 0)
        report(a, ATTACH_RESTORED, id, name, now_ms() - start, NULL);
    else
        report(a, ATTACH_RESTORE_FAILED, id, name, now_ms() - start,
               cause[0] ? cause : strerror(-rc));
    return rc;
}

/* Whether a function whose restore failed still uses role's policy. */
static int role_still_attached(struct attached *items, size_t count, const char *role)
{
    for (size_t i = 0; i < count; i++) {
        json_t *p = json_object_get(items[i].record, "policy");
        if (items[i].failed && p && strcmp(lambda_api_string(p, "role"), role) == 0)
            return 1;
    }
    return 0;
}

/* Each role's policy goes once no function of the role stays attached. */
static void delete_policies(struct attach *a, struct attached *items, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        json_t *p = json_object_get(items[i].record, "policy");
        const char *role = lambda_api_string(p, "role");
        int first = 1;
        for (size_t k = 0; k < i && first; k++)
            first = strcmp(lambda_api_string(json_object_get(items[k].record, "policy"), "role"),
                           role) != 0;
        /* Only tether's own policy, and only for a function this record
         * really attached: a record may come from someone else's files. */
        if (!p || !first || items[i].foreign || role_still_attached(items, count, role) ||
            strncmp(lambda_api_string(p, "name"), "tether-dev-", 11) != 0)
            continue;
        char cause[512];
        struct call_ctx c;
        int rc = call_ctx_open(&a->o, &c, cause, sizeof(cause));
        if (rc == 0)
            rc = aws_iam_delete_role_policy(&c.aws, role, lambda_api_string(p, "name"), cause,
                                            sizeof(cause));
        call_ctx_close(&c);
        if (rc < 0 && rc != -ENOENT)
            report(a, ATTACH_WARNING, items[i].function_id, role, 0, cause);
    }
}

struct restore_job {
    struct attach *a;
    struct attached *items;
    size_t count, next, failed;
    pthread_mutex_t lock;
};

static void *restore_worker(void *arg)
{
    struct restore_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        struct attached *item = j->next < j->count ? &j->items[j->next++] : NULL;
        pthread_mutex_unlock(&j->lock);
        if (!item)
            return NULL;
        if (restore_record(j->a, item->function_id, item->record, &item->foreign) < 0) {
            item->failed = 1;
            pthread_mutex_lock(&j->lock);
            j->failed++;
            pthread_mutex_unlock(&j->lock);
        }
    }
}

static size_t restore_items(struct attach *a, struct attached *items, size_t count)
{
    struct restore_job j = {a, items, count, 0, 0, PTHREAD_MUTEX_INITIALIZER};
    run_workers(&j, count, restore_worker);
    pthread_mutex_destroy(&j.lock);
    delete_policies(a, items, count);
    return j.failed;
}

size_t attach_restore_all(struct attach *a)
{
    size_t failed = restore_items(a, a->attached, a->attached_count);
    for (size_t i = 0; i < a->attached_count; i++) {
        free(a->attached[i].function_id);
        json_decref(a->attached[i].record);
    }
    a->attached_count = 0;
    return failed;
}

void attach_free(struct attach *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->attached_count; i++) {
        free(a->attached[i].function_id);
        json_decref(a->attached[i].record);
    }
    free(a->attached);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

struct saved_list {
    struct attached *items;
    size_t count, cap;
    int rc;
};

static void add_saved(struct saved_list *l, const char *id)
{
    if (l->rc < 0)
        return;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct attached *grown = realloc(l->items, cap * sizeof(*grown));
        if (!grown) {
            l->rc = -ENOMEM;
            return;
        }
        l->items = grown;
        l->cap = cap;
    }
    l->items[l->count++] = (struct attached){strdup(id), NULL, 0, 0};
}

static void on_state_file(void *user, const char *name)
{
    size_t n = strlen(name);
    if (n > 5 && strcmp(name + n - 5, ".json") == 0) {
        char id[128];
        snprintf(id, sizeof(id), "%.*s", (int)(n - 5), name);
        add_saved(user, id);
    }
}

int attach_restore_saved(const struct attach_options *o, const char *const *ids, size_t count,
                         char *cause, size_t cause_len)
{
    struct saved_list l = {0};
    int rc = 0;
    if (count == 0)
        rc = private_dir_list(o->root, STATE_DIR, on_state_file, &l, cause, cause_len);
    for (size_t i = 0; rc == 0 && i < count; i++)
        add_saved(&l, ids[i]);
    rc = rc < 0 ? rc : l.rc;
    for (size_t i = 0; rc == 0 && i < l.count; i++)
        rc = state_read(o->root, l.items[i].function_id, &l.items[i].record, cause, cause_len);
    struct attach *a = NULL;
    if (rc == 0)
        rc = attach_new(o, &a);
    size_t failed = rc == 0 ? restore_items(a, l.items, l.count) : 0;
    attach_free(a);
    for (size_t i = 0; i < l.count; i++) {
        free(l.items[i].function_id);
        json_decref(l.items[i].record);
    }
    free(l.items);
    return rc < 0 ? rc : (int)failed;
}

int attach_restore_tagged(const struct attach_options *o, const char *function, char *cause,
                          size_t cause_len)
{
    struct call_ctx c;
    json_t *answer = NULL, *record = NULL;
    int rc = call_ctx_open(o, &c, cause, cause_len);
    if (rc == 0)
        rc = lambda_api_get_function(&c.aws, function, &answer, cause, cause_len);
    call_ctx_close(&c);
    if (rc == 0 && attach_plan_from_tags(json_object_get(answer, "Tags"), &record) < 0)
        rc = cause_set(cause, cause_len, -ENOENT,
                       "%s carries no tether record in its tags: it is not attached", function);
    struct attach *a = NULL;
    if (rc == 0)
        rc = attach_new(o, &a);
    /* No state file of ours names it: nothing to remove but the tags. */
    struct attached item = {NULL, record, 0, 0};
    if (rc == 0 && restore_items(a, &item, 1) > 0)
        rc = cause_set(cause, cause_len, -EIO, "%s was not restored", function);
    attach_free(a);
    json_decref(record);
    json_decref(answer);
    return rc;
}

int attach_stack_functions(const struct attach_options *o, const char *stack, json_t **out,
                           char *cause, size_t cause_len)
{
    struct call_ctx c;
    int rc = call_ctx_open(o, &c, cause, cause_len);
    if (rc == 0)
        rc = aws_cfn_lambda_functions(&c.aws, stack, out, cause, cause_len);
    call_ctx_close(&c);
    return rc;
}

const char *attach_stack_match(json_t *functions, const char *id)
{
    const char *nested = NULL;
    int nested_count = 0;
    json_t *f;
    size_t i;
    json_array_foreach(functions, i, f)
    {
        if (strcmp(lambda_api_string(f, "logicalId"), id) != 0)
            continue;
        const char *name = lambda_api_string(f, "functionName");
        if (!name[0])
            continue;
        if (!lambda_api_string(f, "stack")[0])
            return name;
        nested = name;
        nested_count++;
    }
    return nested_count == 1 ? nested : NULL;
}

/* .tether/events-api.json: the events API a previous run found, so the
 * next one checks it with one GetApi instead of listing every API. Only a
 * hint: whatever it says is checked against AppSync before it is used. */
#define EVENTS_API_FILE "events-api.json"

static char *remembered_api_id(const struct attach_options *o, const char *api_name)
{
    struct buf text = BUF_INIT;
    char why[200];
    char *id = NULL;
    if (private_file_read(o->root, EVENTS_API_FILE, 4096, &text, why, sizeof(why)) == 0) {
        json_t *j = json_loadb(text.data, text.len, JSON_REJECT_DUPLICATES, NULL);
        const char *region = json_string_value(json_object_get(j, "region"));
        const char *name = json_string_value(json_object_get(j, "name"));
        const char *api_id = json_string_value(json_object_get(j, "apiId"));
        if (region && name && api_id && strcmp(region, o->region) == 0 &&
            strcmp(name, api_name) == 0)
            id = strdup(api_id);
        json_decref(j);
    }
    buf_free(&text);
    return id;
}

static void remember_api(const struct attach_options *o, const struct aws_appsync_events *e)
{
    json_t *j = json_pack("{s:s, s:s, s:s}", "region", o->region, "name", e->api.name, "apiId",
                          e->api.api_id);
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    char why[200];
    if (!text ||
        private_file_write(o->root, EVENTS_API_FILE, text, strlen(text), why, sizeof(why)) < 0)
        log_debug("cannot remember the events API in .tether/%s", EVENTS_API_FILE);
    free(text);
    json_decref(j);
}

int attach_ensure_events(const struct attach_options *o, const char *api_name,
                         const char *namespace_name, struct aws_appsync_events *out, char *cause,
                         size_t cause_len)
{
    struct call_ctx c;
    char *known = remembered_api_id(o, api_name);
    int rc = call_ctx_open(o, &c, cause, cause_len);
    if (rc == 0)
        rc = aws_appsync_ensure_events(&c.aws, api_name, namespace_name, known, out, cause,
                                       cause_len);
    if (rc == 0)
        remember_api(o, out);
    call_ctx_close(&c);
    free(known);
    return rc;
}
