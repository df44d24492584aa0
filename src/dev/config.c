#include "dev/config.h"

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json_fields.h"
#include "events/channel.h"

#define CONFIG_MAX_BYTES (1024 * 1024)
#define MAX_FUNCTIONS 200
#define MAX_ENVIRONMENT 200
#define MAX_WATCH 32

/* tether.json's strings are never empty. */
static int get_string(json_t *object, const char *key, int required, char **out,
                      const struct json_where *w)
{
    unsigned flags = JSON_STRING_NONEMPTY | (required ? JSON_STRING_REQUIRED : 0);
    return json_fields_string(object, key, flags, out, w);
}

static int check_segment(const char *value, const struct json_where *w)
{
    char text[CHANNEL_MAX_SEGMENT_LENGTH + 8], why[160];
    struct channel parsed;
    snprintf(text, sizeof(text), "/%s", value);
    if (strlen(value) > CHANNEL_MAX_SEGMENT_LENGTH || strchr(value, '/') ||
        channel_parse(text, strlen(text), 0, &parsed, why, sizeof(why)) < 0)
        return json_where_fail(
            w, "must be 1-50 letters, digits or '-', starting and ending with a letter "
               "or digit (it becomes part of a channel name)");
    return 0;
}

/* A string that becomes part of a channel name; the fallback when it is
 * absent (NULL: it is required). */
static int get_segment(json_t *object, const char *key, const char *fallback, char **out,
                       const struct json_where *w)
{
    struct json_where at = json_where_child(w, key);
    int rc = get_string(object, key, fallback == NULL, out, w);
    if (rc == 0 && !*out && !(*out = strdup(fallback)))
        rc = -ENOMEM;
    return rc == 0 ? check_segment(*out, &at) : rc;
}

/* The runtime identifiers AWS Lambda lists today for the languages tether
 * runs, as on https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
 * (nodejs24.x and python3.14 since November 2025). One table: tether.json is
 * the only place a runtime identifier is checked. */
static const struct {
    const char *name;
    enum dev_runtime runtime;
} known_runtimes[] = {
    {"nodejs18.x", DEV_RUNTIME_NODE},          {"nodejs20.x", DEV_RUNTIME_NODE},
    {"nodejs22.x", DEV_RUNTIME_NODE},          {"nodejs24.x", DEV_RUNTIME_NODE},
    {"python3.9", DEV_RUNTIME_PYTHON},         {"python3.10", DEV_RUNTIME_PYTHON},
    {"python3.11", DEV_RUNTIME_PYTHON},        {"python3.12", DEV_RUNTIME_PYTHON},
    {"python3.13", DEV_RUNTIME_PYTHON},        {"python3.14", DEV_RUNTIME_PYTHON},
    {"provided", DEV_RUNTIME_PROVIDED},        {"provided.al2", DEV_RUNTIME_PROVIDED},
    {"provided.al2023", DEV_RUNTIME_PROVIDED},
};

#define NEWEST_NODE 24
#define NEWEST_PYTHON_MINOR 14

/* 1 to 3 digits, no leading zero, and nothing after them but `rest`. */
static int version_number(const char *text, const char *rest, unsigned *out)
{
    unsigned n = 0;
    size_t digits = 0;
    while (text[digits] >= '0' && text[digits] <= '9' && digits < 4)
        n = n * 10 + (unsigned)(text[digits++] - '0');
    if (digits == 0 || digits > 3 || (text[0] == '0' && digits > 1) ||
        strcmp(text + digits, rest) != 0)
        return -EINVAL;
    *out = n;
    return 0;
}

int dev_runtime_version(const char *name, char *out, size_t out_len)
{
    unsigned n;
    if (strncmp(name, "nodejs", 6) == 0 && version_number(name + 6, ".x", &n) == 0)
        snprintf(out, out_len, "%u", n);
    else if (strncmp(name, "python3.", 8) == 0 && version_number(name + 8, "", &n) == 0)
        snprintf(out, out_len, "3.%u", n);
    else
        return -ENOENT;
    return 0;
}

static void known_list(char *out, size_t out_len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(known_runtimes) / sizeof(known_runtimes[0]); i++) {
        int n = snprintf(out + used, out_len - used, "%s%s", i ? ", " : "", known_runtimes[i].name);
        if (n < 0 || (size_t)n >= out_len - used)
            return;
        used += (size_t)n;
    }
}

int dev_runtime_lookup(const char *name, enum dev_runtime *out, char *note, size_t note_len)
{
    char list[256];
    unsigned n;
    note[0] = '\0';
    for (size_t i = 0; i < sizeof(known_runtimes) / sizeof(known_runtimes[0]); i++)
        if (strcmp(name, known_runtimes[i].name) == 0) {
            *out = known_runtimes[i].runtime;
            return 0;
        }
    known_list(list, sizeof(list));
    /* A newer release of a language tether runs is most likely one AWS
     * added after this build: run it, and say it is untested. An older one
     * AWS no longer runs is refused like an unknown language. */
    int node = strncmp(name, "nodejs", 6) == 0 && version_number(name + 6, ".x", &n) == 0;
    int python =
        !node && strncmp(name, "python3.", 8) == 0 && version_number(name + 8, "", &n) == 0;
    if ((node && n > NEWEST_NODE) || (python && n > NEWEST_PYTHON_MINOR)) {
        *out = node ? DEV_RUNTIME_NODE : DEV_RUNTIME_PYTHON;
        snprintf(note, note_len,
                 "runtime \"%s\" is newer than the ones this tether knows (%s); running it as "
                 "%s",
                 name, list, node ? "Node.js" : "Python");
        return 1;
    }
    snprintf(note, note_len, "\"%.40s\" is not supported (use one of %s)", name, list);
    return -EINVAL;
}

static int parse_runtime(struct dev_function *f, const struct json_where *w)
{
    char note[sizeof(f->runtime_note)];
    struct json_where at = json_where_child(w, "runtime");
    int rc = dev_runtime_lookup(f->runtime_name, &f->runtime, note, sizeof(note));
    if (rc < 0)
        return json_where_fail(&at, "%s", note);
    snprintf(f->runtime_note, sizeof(f->runtime_note), "%s", note);
    return 0;
}

static int parse_environment(json_t *env, struct dev_function *f, const struct json_where *w)
{
    struct json_where at = json_where_child(w, "environment");
    if (!env)
        return 0;
    if (!json_is_object(env) || json_object_size(env) > MAX_ENVIRONMENT)
        return json_where_fail(&at, "must be an object of at most %d strings", MAX_ENVIRONMENT);
    f->environment = calloc(json_object_size(env) + 1, sizeof(*f->environment));
    if (!f->environment)
        return -ENOMEM;
    const char *key;
    json_t *value;
    json_object_foreach(env, key, value)
    {
        struct json_where item = json_where_child(&at, key);
        if (!json_is_string(value))
            return json_where_fail(&item, "must be a string");
        if (!key[0] || strchr(key, '='))
            return json_where_fail(&item, "is not a valid variable name");
        struct dev_env_var *v = &f->environment[f->environment_count++];
        v->name = strdup(key);
        v->value = strdup(json_string_value(value));
        if (!v->name || !v->value)
            return -ENOMEM;
    }
    return 0;
}

/* "build" (a shell command) and "watch" (which changed files run it: at
 * most MAX_WATCH fnmatch patterns, relative to the project). */
static int parse_build(json_t *spec, struct dev_function *f, const struct json_where *w)
{
    int rc = get_string(spec, "build", 0, &f->build, w);
    json_t *watch = json_object_get(spec, "watch");
    struct json_where at = json_where_child(w, "watch");
    if (rc < 0 || !watch)
        return rc;
    if (!f->build)
        return json_where_fail(&at, "applies to functions with a \"build\" command only");
    if (!json_is_array(watch) || json_array_size(watch) == 0 || json_array_size(watch) > MAX_WATCH)
        return json_where_fail(&at, "must be an array of 1 to %d patterns", MAX_WATCH);
    if (!(f->watch = calloc(json_array_size(watch), sizeof(*f->watch))))
        return -ENOMEM;
    size_t i;
    json_t *item;
    json_array_foreach(watch, i, item)
    {
        if (!json_fields_is_plain_string(item) || json_string_length(item) == 0)
            return json_where_fail(&at, "must hold non-empty strings");
        if (!(f->watch[f->watch_count++] = strdup(json_string_value(item))))
            return -ENOMEM;
    }
    return 0;
}

/* "worker" (Node.js only) and "bootstrap" (provided runtimes only). */
static int parse_worker_and_bootstrap(const char *worker, struct dev_function *f,
                                      const struct json_where *w)
{
    struct json_where at = json_where_child(w, worker ? "worker" : "bootstrap");
    if (worker && f->runtime != DEV_RUNTIME_NODE)
        return json_where_fail(&at, "applies to Node.js functions only");
    if (worker && strcmp(worker, "aws-lambda-ric") == 0)
        f->node_worker = DEV_NODE_WORKER_RIC;
    else if (worker && strcmp(worker, "tether") != 0)
        return json_where_fail(&at, "must be \"tether\" or \"aws-lambda-ric\"");
    at = json_where_child(w, "bootstrap");
    if (f->bootstrap && f->runtime != DEV_RUNTIME_PROVIDED)
        return json_where_fail(&at, "applies to provided runtimes only");
    if (f->runtime == DEV_RUNTIME_PROVIDED && !f->bootstrap &&
        !(f->bootstrap = strdup("bootstrap")))
        return -ENOMEM;
    return 0;
}

/* Lambda's own rule for a function name, or a function ARN with an optional
 * qualifier: checked here so a typo fails at load, not as an AWS error. */
static int valid_function_name(const char *s)
{
    size_t n = strlen(s);
    if (strncmp(s, "arn:", 4) == 0) {
        if (n > 170 || strstr(s, ":lambda:") == NULL || strstr(s, ":function:") == NULL)
            return 0;
        return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:$.") ==
               n;
    }
    return n >= 1 && n <= 64 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

/* "root": a relative path that stays inside the project (no absolute path,
 * no ".." segment); "." and "" segments are dropped, so "./src/" is "src". */
static int parse_code_root(json_t *spec, struct dev_function *f, const struct json_where *w)
{
    struct json_where at = json_where_child(w, "root");
    char *text = NULL;
    int rc = get_string(spec, "root", 0, &text, w);
    if (rc < 0 || !text)
        return rc;
    char *clean = calloc(1, strlen(text) + 1), *save = NULL;
    if (!clean) {
        free(text);
        return -ENOMEM;
    }
    rc = text[0] == '/' ? json_where_fail(&at, "must be relative to the project root") : 0;
    for (char *seg = strtok_r(text, "/", &save); rc == 0 && seg; seg = strtok_r(NULL, "/", &save)) {
        if (strcmp(seg, "..") == 0)
            rc = json_where_fail(&at, "must stay inside the project (no \"..\")");
        else if (strcmp(seg, ".") != 0)
            sprintf(clean + strlen(clean), "%s%s", clean[0] ? "/" : "", seg);
    }
    free(text);
    if (rc == 0 && clean[0])
        f->root = clean;
    else
        free(clean);
    return rc;
}

static int parse_deployed(json_t *spec, struct dev_function *f, const struct json_where *w)
{
    struct json_where at = json_where_child(w, "deployed");
    int rc = get_string(spec, "deployed", 0, &f->deployed, w);
    if (rc == 0 && f->deployed && !valid_function_name(f->deployed))
        rc = json_where_fail(&at, "must be a Lambda function name (1-64 letters, digits, '-' "
                                  "or '_') or a function ARN");
    return rc;
}

static int parse_function(const char *id, json_t *spec, struct dev_function *f,
                          const struct json_where *parent)
{
    static const char *const keys[] = {"handler",     "runtime",   "bootstrap", "worker",
                                       "environment", "timeout",   "memory",    "concurrency",
                                       "url",         "streaming", "live",      "build",
                                       "watch",       "deployed",  "root",      NULL};
    struct json_where w = json_where_child(parent, id);
    f->timeout_s = 20;
    f->memory_mb = 1024;
    f->concurrency = 10;
    f->live = 1;
    if (!(f->id = strdup(id)))
        return -ENOMEM;
    if (check_segment(id, &w) < 0)
        return -EINVAL;
    if (!json_is_object(spec))
        return json_where_fail(&w, "must be an object");
    char *worker = NULL;
    int rc = json_fields_check_keys(spec, keys, 1, &w);
    if (rc == 0)
        rc = get_string(spec, "runtime", 1, &f->runtime_name, &w);
    if (rc == 0)
        rc = parse_runtime(f, &w);
    if (rc == 0)
        rc = get_string(spec, "handler", f->runtime != DEV_RUNTIME_PROVIDED, &f->handler, &w);
    if (rc == 0)
        rc = get_string(spec, "bootstrap", 0, &f->bootstrap, &w);
    if (rc == 0)
        rc = get_string(spec, "worker", 0, &worker, &w);
    if (rc == 0)
        rc = parse_environment(json_object_get(spec, "environment"), f, &w);
    if (rc == 0)
        rc = json_fields_uint(spec, "timeout", 1, 900, &f->timeout_s, &w);
    if (rc == 0)
        rc = json_fields_uint(spec, "memory", 128, 10240, &f->memory_mb, &w);
    if (rc == 0)
        rc = json_fields_uint(spec, "concurrency", 1, 1000, &f->concurrency, &w);
    if (rc == 0)
        rc = json_fields_bool(spec, "url", &f->url, &w);
    if (rc == 0)
        rc = json_fields_bool(spec, "streaming", &f->streaming, &w);
    if (rc == 0)
        rc = json_fields_bool(spec, "live", &f->live, &w);
    if (rc == 0)
        rc = parse_worker_and_bootstrap(worker, f, &w);
    if (rc == 0)
        rc = parse_build(spec, f, &w);
    if (rc == 0)
        rc = parse_deployed(spec, f, &w);
    if (rc == 0)
        rc = parse_code_root(spec, f, &w);
    free(worker);
    return rc;
}

static int parse_functions(json_t *functions, struct dev_config *c, const struct json_where *root)
{
    struct json_where w = json_where_child(root, "functions");
    if (!functions)
        return json_where_fail(&w, "is required (an object keyed by function id)");
    if (!json_is_object(functions) || json_object_size(functions) == 0 ||
        json_object_size(functions) > MAX_FUNCTIONS)
        return json_where_fail(&w, "must be an object with 1 to %d functions keyed by id",
                               MAX_FUNCTIONS);
    c->functions = calloc(json_object_size(functions), sizeof(*c->functions));
    if (!c->functions)
        return -ENOMEM;
    const char *id;
    json_t *spec;
    json_object_foreach(functions, id, spec)
    {
        int rc = parse_function(id, spec, &c->functions[c->function_count++], &w);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int parse_events(json_t *events, struct dev_config *c, const struct json_where *root)
{
    static const char *const keys[] = {"http", "realtime", "region", "apiKey", "caFile", NULL};
    struct json_where w = json_where_child(root, "events"), at = json_where_child(&w, "http");
    struct dev_events *e = &c->events;
    if (!events || (json_is_string(events) && strcmp(json_string_value(events), "embedded") == 0))
        return 0;
    if (!json_is_object(events))
        return json_where_fail(&w, "must be \"embedded\" or an object with \"http\"");
    e->mode = DEV_EVENTS_REMOTE;
    int rc = json_fields_check_keys(events, keys, 1, &w);
    if (rc == 0)
        rc = get_string(events, "http", 1, &e->http, &w);
    if (rc == 0)
        rc = get_string(events, "realtime", 0, &e->realtime, &w);
    if (rc == 0)
        rc = get_string(events, "region", 0, &e->region, &w);
    if (rc == 0)
        rc = get_string(events, "apiKey", 0, &e->api_key, &w);
    if (rc == 0)
        rc = get_string(events, "caFile", 0, &e->ca_file, &w);
    if (rc == 0 && strncmp(e->http, "https://", 8) != 0 && strncmp(e->http, "http://", 7) != 0)
        rc = json_where_fail(&at, "must be an http:// or https:// URL");
    return rc;
}

/* An AWS region as the SDKs accept one: lower-case letters, digits and '-'. */
static int check_region(const char *region, const struct json_where *w)
{
    size_t n = strlen(region);
    if (n > 32 || strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != n ||
        region[0] == '-' || region[n - 1] == '-')
        return json_where_fail(w, "must be an AWS region such as \"us-east-1\"");
    return 0;
}

/* CloudFormation's rule for a stack name (or a stack ARN). */
static int check_stack(const char *stack, const struct json_where *w)
{
    size_t n = strlen(stack);
    int ok =
        strncmp(stack, "arn:", 4) == 0
            ? n <= 256 && strchr(stack, ' ') == NULL
            : n <= 128 &&
                  ((stack[0] >= 'a' && stack[0] <= 'z') || (stack[0] >= 'A' && stack[0] <= 'Z')) &&
                  strspn(stack,
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n;
    return ok ? 0 : json_where_fail(w, "must be a CloudFormation stack name or ARN");
}

static int parse_aws(json_t *aws, struct dev_config *c, const struct json_where *root)
{
    static const char *const keys[] = {"region", "profile", "stack", NULL};
    struct json_where w = json_where_child(root, "aws");
    struct json_where at_region = json_where_child(&w, "region"),
                      at_stack = json_where_child(&w, "stack");
    if (!aws)
        return 0;
    if (!json_is_object(aws))
        return json_where_fail(&w, "must be an object with \"region\"");
    c->aws.present = 1;
    int rc = json_fields_check_keys(aws, keys, 1, &w);
    if (rc == 0)
        rc = get_string(aws, "region", 1, &c->aws.region, &w);
    if (rc == 0)
        rc = check_region(c->aws.region, &at_region);
    if (rc == 0)
        rc = get_string(aws, "profile", 0, &c->aws.profile, &w);
    if (rc == 0)
        rc = get_string(aws, "stack", 0, &c->aws.stack, &w);
    if (rc == 0 && c->aws.stack)
        rc = check_stack(c->aws.stack, &at_stack);
    return rc;
}

/* "deployed" only means something with an "aws" section to say where. */
static int check_deployed(const struct dev_config *c, const struct json_where *root)
{
    for (size_t i = 0; i < c->function_count && !c->aws.present; i++)
        if (c->functions[i].deployed) {
            struct json_where w = json_where_child(root, "functions");
            struct json_where f = json_where_child(&w, c->functions[i].id);
            struct json_where at = json_where_child(&f, "deployed");
            return json_where_fail(&at, "needs an \"aws\" section (with its \"region\")");
        }
    return 0;
}

/* The user name, kept to what may appear in a channel segment. */
static void default_stage(char stage[CHANNEL_MAX_SEGMENT_LENGTH + 1])
{
    const char *user = getenv("USER");
    struct passwd *pw = NULL;
    if (!user || !*user) {
        pw = getpwuid(getuid());
        user = pw ? pw->pw_name : "dev";
    }
    size_t n = 0;
    for (const char *p = user; *p && n < CHANNEL_MAX_SEGMENT_LENGTH; p++) {
        char ch = *p;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
            stage[n++] = ch;
        else if (n > 0 && stage[n - 1] != '-')
            stage[n++] = '-';
    }
    while (n > 0 && stage[n - 1] == '-')
        n--;
    snprintf(stage + n, CHANNEL_MAX_SEGMENT_LENGTH + 1 - n, "%s", n ? "" : "dev");
}

static int parse_root(json_t *root, struct dev_config *c, char *cause, size_t cause_len)
{
    static const char *const keys[] = {"$schema", "app",    "stage", "namespace", "functions",
                                       "events",  "tunnel", "aws",   NULL};
    struct json_where w = {c->path, "", cause, cause_len}, at = json_where_child(&w, "tunnel");
    char stage[CHANNEL_MAX_SEGMENT_LENGTH + 1];
    default_stage(stage);
    if (!json_is_object(root))
        return json_where_fail(&w, "must hold a JSON object");
    int rc = json_fields_check_keys(root, keys, 1, &w);
    if (rc == 0)
        rc = get_segment(root, "app", NULL, &c->app, &w);
    if (rc == 0)
        rc = get_segment(root, "stage", stage, &c->stage, &w);
    if (rc == 0)
        rc = get_segment(root, "namespace", "tether", &c->namespace_name, &w);
    if (rc == 0)
        rc = parse_functions(json_object_get(root, "functions"), c, &w);
    if (rc == 0)
        rc = parse_events(json_object_get(root, "events"), c, &w);
    if (rc == 0)
        rc = parse_aws(json_object_get(root, "aws"), c, &w);
    if (rc == 0)
        rc = check_deployed(c, &w);
    json_t *tunnel = json_object_get(root, "tunnel");
    if (rc == 0 && tunnel && !json_is_object(tunnel))
        rc = json_where_fail(&at, "must be an object");
    else if (rc == 0 && tunnel)
        c->tunnel = json_incref(tunnel);
    return rc;
}

static char *directory_of(const char *path)
{
    char resolved[PATH_MAX];
    const char *use = realpath(path, resolved) ? resolved : path;
    const char *slash = strrchr(use, '/');
    if (!slash)
        return strdup(".");
    if (slash == use)
        return strdup("/");
    return strndup(use, (size_t)(slash - use));
}

int dev_config_parse(const char *text, size_t len, const char *path, struct dev_config *out,
                     char *cause, size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    out->path = strdup(path);
    out->root = directory_of(path);
    if (!out->path || !out->root)
        return -ENOMEM;
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        snprintf(cause, cause_len, "%s:%d:%d: %s", path, err.line, err.column, err.text);
        dev_config_free(out);
        return -EINVAL;
    }
    int rc = parse_root(root, out, cause, cause_len);
    json_decref(root);
    if (rc == -ENOMEM)
        snprintf(cause, cause_len, "out of memory");
    if (rc < 0)
        dev_config_free(out);
    return rc;
}

int dev_config_load(const char *path, struct dev_config *out, char *cause, size_t cause_len)
{
    struct buf text = BUF_INIT;
    int rc = buf_read_file(&text, path, CONFIG_MAX_BYTES);
    if (rc == 0) {
        rc = dev_config_parse(buf_bytes(&text), buf_length(&text), path, out, cause, cause_len);
    } else {
        if (rc == -EFBIG)
            snprintf(cause, cause_len, "%s: larger than 1 MiB", path);
        else
            snprintf(cause, cause_len, "cannot open %s: %s", path, strerror(-rc));
        rc = rc == -ENOENT ? -ENOENT : -EINVAL;
    }
    buf_free(&text);
    return rc;
}

static void free_function(struct dev_function *f)
{
    free(f->id);
    free(f->handler);
    free(f->runtime_name);
    free(f->bootstrap);
    free(f->root);
    free(f->build);
    free(f->deployed);
    for (size_t i = 0; i < f->watch_count; i++)
        free(f->watch[i]);
    free(f->watch);
    for (size_t i = 0; i < f->environment_count; i++) {
        free(f->environment[i].name);
        free(f->environment[i].value);
    }
    free(f->environment);
}

void dev_function_dir(const struct dev_config *c, const struct dev_function *f, char *out,
                      size_t out_len)
{
    if (f->root)
        snprintf(out, out_len, "%s/%s", c->root, f->root);
    else
        snprintf(out, out_len, "%s", c->root);
}

void dev_config_free(struct dev_config *c)
{
    for (size_t i = 0; c->functions && i < c->function_count; i++)
        free_function(&c->functions[i]);
    free(c->functions);
    free(c->path);
    free(c->root);
    free(c->app);
    free(c->stage);
    free(c->namespace_name);
    free(c->events.http);
    free(c->events.realtime);
    free(c->events.region);
    free(c->events.api_key);
    free(c->events.ca_file);
    free(c->aws.region);
    free(c->aws.profile);
    free(c->aws.stack);
    json_decref(c->tunnel);
    memset(c, 0, sizeof(*c));
}

const struct dev_function *dev_config_function(const struct dev_config *c, const char *id)
{
    for (size_t i = 0; i < c->function_count; i++)
        if (strcmp(c->functions[i].id, id) == 0)
            return &c->functions[i];
    return NULL;
}

/* Every function id, "A, B, C", for a message. */
static void function_list(const struct dev_config *c, char *out, size_t out_len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < c->function_count && used < out_len; i++) {
        int n = snprintf(out + used, out_len - used, "%s%s", i ? ", " : "", c->functions[i].id);
        used += n > 0 ? (size_t)n : 0;
    }
}

int dev_config_select(struct dev_config *c, const char *const *patterns, size_t count, char *cause,
                      size_t cause_len)
{
    if (count == 0)
        return 0;
    for (size_t p = 0; p < count; p++) {
        int hits = 0;
        for (size_t i = 0; i < c->function_count; i++)
            hits += fnmatch(patterns[p], c->functions[i].id, 0) == 0;
        if (hits == 0) {
            char list[300];
            function_list(c, list, sizeof(list));
            snprintf(cause, cause_len, "--function %.64s matches no function in %s (it has %s)",
                     patterns[p], c->path, list);
            return -EINVAL;
        }
    }
    /* Deselected functions become what "live": false makes them, so every
     * later part (workers, bridges, the session's refusal of their Inits)
     * treats them through the one path it already has. */
    for (size_t i = 0; i < c->function_count; i++) {
        int chosen = 0;
        for (size_t p = 0; p < count && !chosen; p++)
            chosen = fnmatch(patterns[p], c->functions[i].id, 0) == 0;
        if (!chosen)
            c->functions[i].live = 0;
    }
    return 0;
}

int dev_config_find(const char *dir, char *out, size_t out_len)
{
    char current[PATH_MAX];
    if (!realpath(dir, current))
        return -ENOENT;
    for (;;) {
        snprintf(out, out_len, "%s/tether.json", strcmp(current, "/") ? current : "");
        if (access(out, R_OK) == 0)
            return 0;
        char *slash = strrchr(current, '/');
        if (!slash || slash == current)
            return -ENOENT;
        *slash = '\0';
    }
}
