/* The attaching side of one tether dev run (dev/attach_session.h). */
#include "dev/attach_session.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/appsync.h"
#include "aws/credentials_provider.h"
#include "core/cause.h"
#include "core/encoding.h"
#include "core/random.h"
#include "dev/attach_loop.h"

struct attach_session {
    struct attach_session_options o;
    struct aws_credentials_provider *credentials;
    struct attach *attach;
    struct attach_loop *loop;
    struct attach_target *targets;
    size_t target_count;
    json_t *environment;
    json_t *stack_functions; /* aws.stack's functions (attach_stack_functions) */
    int started;
    size_t attached_count;
    char session[192];
    char holder[160];
    char policy_name[96]; /* the IAM inline policy: tether-dev-STAGE */
};

static void say(const struct attach_session *s, int problem, const char *fmt, ...)
{
    char line[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    void (*fn)(void *, const char *) = problem ? s->o.cb.on_problem : s->o.cb.on_info;
    if (fn)
        fn(s->o.cb.ctx, line);
}

static void on_report(void *ctx, const struct attach_report *r)
{
    struct attach_session *s = ctx;
    s->attached_count += r->event == ATTACH_ATTACHED;
    if (s->o.cb.on_report)
        s->o.cb.on_report(s->o.cb.ctx, r);
}

static void on_done(void *ctx)
{
    struct attach_session *s = ctx;
    say(s, 0, "attaching done: %zu of %zu deployed functions run here now", s->attached_count,
        s->target_count);
}

/* Who attaches, for the marker and the tags: user@host pid N, and a random
 * session id so a restarted dev on the same pid is another session. */
static void name_session(struct attach_session *s)
{
    char host[64] = "host", id[17];
    uint8_t raw[8];
    const char *user = getenv("USER");
    gethostname(host, sizeof(host) - 1);
    random_bytes(raw, sizeof(raw));
    hex_encode(id, raw, sizeof(raw));
    snprintf(s->holder, sizeof(s->holder), "%s@%s pid %ld", user && *user ? user : "user", host,
             (long)getpid());
    snprintf(s->session, sizeof(s->session), "%s %s", id, s->holder);
}

/* The TETHER_* settings the bridge layer reads (docs/bridge.md). */
static json_t *bridge_environment(const struct attach_session *s)
{
    const struct dev_config *p = s->o.project;
    const struct dev_events *e = &p->events;
    json_t *env =
        json_pack("{ss ss ss ss ss ss}", "TETHER_EVENTS_HTTP", e->http, "TETHER_EVENTS_REGION",
                  e->region ? e->region : p->aws.region, "TETHER_APP", p->app, "TETHER_STAGE",
                  p->stage, "TETHER_NAMESPACE", p->namespace_name, "TETHER_SESSION", s->session);
    char key[BRIDGE_KEY_TEXT_SIZE];
    if (env && e->realtime)
        json_object_set_new(env, "TETHER_EVENTS_REALTIME", json_string(e->realtime));
    if (env && e->api_key)
        json_object_set_new(env, "TETHER_EVENTS_API_KEY", json_string(e->api_key));
    if (env && !s->o.key) {
        json_object_set_new(env, "TETHER_INSECURE_NO_AUTH", json_string("1"));
    } else if (env) {
        bridge_key_format(s->o.key, key);
        json_object_set_new(env, "TETHER_BRIDGE_KEY", json_string(key));
        secure_wipe(key, sizeof(key));
    }
    return env;
}

static struct attach_options attach_options(const struct attach_session *s)
{
    const struct dev_config *p = s->o.project;
    return (struct attach_options){
        .root = p->root,
        .region = p->aws.region,
        .profile = s->o.profile ? s->o.profile : p->aws.profile,
        .credentials = s->credentials,
        .session = s->session,
        .holder = s->holder,
        .environment = s->environment,
        .timeout_s = s->o.timeout_s,
        .force = s->o.force,
        /* With an API key the bridge needs no IAM permission. */
        .policy_name = p->events.api_key ? NULL : s->policy_name,
        .events_http = p->events.http,
        .namespace_name = p->namespace_name,
        .report = attach_loop_report,
        .ctx = s->loop,
    };
}

/* The live functions with a deployed counterpart: "deployed", else the
 * function of aws.stack whose logical id is the function's id. */
static int find_targets(struct attach_session *s, char *cause, size_t cause_len)
{
    const struct dev_config *p = s->o.project;
    s->targets = calloc(p->function_count, sizeof(*s->targets));
    if (!s->targets)
        return -ENOMEM;
    if (p->aws.stack) {
        struct attach_options o = attach_options(s);
        int rc = attach_stack_functions(&o, p->aws.stack, &s->stack_functions, cause, cause_len);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < p->function_count; i++) {
        const struct dev_function *f = &p->functions[i];
        const char *deployed =
            f->deployed ? f->deployed : attach_stack_match(s->stack_functions, f->id);
        if (f->live && deployed)
            s->targets[s->target_count++] = (struct attach_target){f->id, deployed, f->streaming};
    }
    return 0;
}

/* Leftovers of a session that did not restore (a crash, kill -9) are
 * restored before anything is attached afresh. */
static void restore_leftovers(struct attach_session *s)
{
    char cause[512];
    struct attach_options o = attach_options(s);
    say(s, 0, "restoring functions a previous session left attached (.tether/attached/), if any");
    if (attach_restore_saved(&o, NULL, 0, cause, sizeof(cause)) < 0)
        say(s, 1, "cannot restore leftovers: %s", cause);
}

/* Without "events" in tether.json: the AppSync Events API tether-APP in
 * the account, found or created with its namespace; the run then uses it as
 * if tether.json named it. */
static int ensure_events(struct attach_session *s, char *cause, size_t cause_len)
{
    struct dev_config *p = s->o.project;
    char name[AWS_APPSYNC_MAX_NAME + 1];
    struct aws_appsync_events events;
    snprintf(name, sizeof(name), "tether-%s", p->app);
    struct attach_options o = attach_options(s);
    int rc = attach_ensure_events(&o, name, p->namespace_name, &events, cause, cause_len);
    if (rc < 0)
        return rc;
    struct dev_events *e = &p->events;
    e->mode = DEV_EVENTS_REMOTE;
    e->http = strdup(events.http_url);
    e->realtime = strdup(events.realtime_url);
    e->region = strdup(p->aws.region);
    if (!e->http || !e->realtime || !e->region)
        return cause_set(cause, cause_len, -ENOMEM, "out of memory");
    say(s, 0, "events API %s (%s), namespace %s (%s): %s", name,
        events.created_api ? "created" : "found", p->namespace_name,
        events.created_namespace ? "created" : "found", e->http);
    return 0;
}

static int prepare(struct attach_session *s, char *cause, size_t cause_len)
{
    const struct dev_config *p = s->o.project;
    name_session(s);
    snprintf(s->policy_name, sizeof(s->policy_name), "tether-dev-%s", p->stage);
    struct aws_credentials_options co = {.profile = s->o.profile ? s->o.profile : p->aws.profile};
    int rc = aws_credentials_provider_new(&co, &s->credentials, cause, cause_len);
    if (rc == 0 && p->events.mode != DEV_EVENTS_REMOTE)
        rc = ensure_events(s, cause, cause_len);
    if (rc == 0)
        rc = find_targets(s, cause, cause_len);
    if (rc == 0 && !(s->environment = bridge_environment(s)))
        rc = -ENOMEM;
    if (rc == 0)
        rc = attach_loop_new(s->o.loop, on_report, on_done, s, &s->loop);
    struct attach_options o = attach_options(s);
    if (rc == 0)
        rc = attach_new(&o, &s->attach);
    if (rc == 0)
        restore_leftovers(s);
    if (rc == -ENOMEM)
        snprintf(cause, cause_len, "out of memory");
    return rc;
}

int attach_session_new(const struct attach_session_options *options, struct attach_session **out,
                       char *cause, size_t cause_len)
{
    *out = NULL;
    if (!options->project->aws.present)
        return 0;
    struct attach_session *s = calloc(1, sizeof(*s));
    if (!s)
        return cause_set(cause, cause_len, -ENOMEM, "out of memory");
    s->o = *options;
    int rc = prepare(s, cause, cause_len);
    if (rc < 0) {
        /* The loop's handle (if any) closes in a uv_run of its own. */
        if (s->loop) {
            attach_loop_stop(s->loop);
            uv_run(s->o.loop, UV_RUN_DEFAULT);
        }
        attach_session_finish(s);
        return rc;
    }
    *out = s;
    return 0;
}

int attach_session_begin(struct attach_session *s)
{
    if (!s || s->started)
        return 0;
    s->started = 1;
    say(s, 0, "attaching %zu deployed function%s in %s", s->target_count,
        s->target_count == 1 ? "" : "s", s->o.project->aws.region);
    return attach_loop_run(s->loop, s->attach, s->targets, s->target_count);
}

void attach_session_stop(struct attach_session *s)
{
    if (s && s->loop)
        attach_loop_stop(s->loop);
}

int attach_session_finish(struct attach_session *s)
{
    if (!s)
        return 0;
    int failed = 0;
    if (s->loop)
        attach_loop_finish(s->loop);
    if (s->started) {
        say(s, 0, "restoring the attached functions");
        failed = attach_restore_all(s->attach) > 0;
    }
    attach_free(s->attach);
    attach_loop_free(s->loop);
    aws_credentials_provider_free(s->credentials);
    json_t *key = json_object_get(s->environment, "TETHER_BRIDGE_KEY");
    if (key)
        secure_wipe((char *)json_string_value(key), strlen(json_string_value(key)));
    json_decref(s->environment);
    json_decref(s->stack_functions);
    free(s->targets);
    free(s);
    return failed;
}
