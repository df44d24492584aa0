/* Parsing and validating the `tether lambda` JSON configuration. */
#include "lambda/config.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/encoding.h"
#include "core/json_fields.h"

/* Reserved by AWS: a function cannot set these itself. */
static const char *const reserved_names[] = {
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
};

int lambda_env_name_is_reserved(const char *name)
{
    for (size_t i = 0; i < sizeof(reserved_names) / sizeof(reserved_names[0]); i++)
        if (strcmp(name, reserved_names[i]) == 0)
            return 1;
    return 0;
}

/* The numbers of a configuration and of a function: JSON key, field, default
 * and range, one table for the parser and for lambda_config_check alike. */
struct number_field {
    const char *key;
    size_t offset;
    unsigned fallback, min, max;
};

#define FUNCTION_NUMBER(KEY, FIELD, FALLBACK, MIN, MAX)                                            \
    {                                                                                              \
        KEY, offsetof(struct lambda_function_config, FIELD), FALLBACK, MIN, MAX                    \
    }
static const struct number_field function_numbers[] = {
    FUNCTION_NUMBER("timeout", timeout_s, LAMBDA_DEFAULT_TIMEOUT, 1, 900),
    FUNCTION_NUMBER("memory", memory_mb, LAMBDA_DEFAULT_MEMORY, 128, 10240),
    FUNCTION_NUMBER("concurrency", concurrency, LAMBDA_DEFAULT_CONCURRENCY, 1, 1000),
    FUNCTION_NUMBER("queue", queue, LAMBDA_DEFAULT_QUEUE, 0, 100000),
    FUNCTION_NUMBER("async_queue", async_queue, LAMBDA_DEFAULT_ASYNC_QUEUE, 0, 100000),
};
static const struct number_field config_numbers[] = {
    {"idle_timeout", offsetof(struct lambda_config, idle_timeout_s), LAMBDA_DEFAULT_IDLE_TIMEOUT, 1,
     86400},
    {"init_timeout", offsetof(struct lambda_config, init_timeout_s), LAMBDA_DEFAULT_INIT_TIMEOUT, 1,
     900},
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static unsigned *number_at(const void *base, const struct number_field *n)
{
    return (unsigned *)((const char *)base + n->offset);
}

static void set_defaults(void *base, const struct number_field *numbers, size_t count)
{
    for (size_t i = 0; i < count; i++)
        *number_at(base, &numbers[i]) = numbers[i].fallback;
}

/* The first number out of its range, or NULL. */
static const struct number_field *
number_out_of_range(const void *base, const struct number_field *numbers, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        unsigned v = *number_at(base, &numbers[i]);
        if (v < numbers[i].min || v > numbers[i].max)
            return &numbers[i];
    }
    return NULL;
}

/* Parsing context: where we are, for messages like "functions[2].timeout: ...". */
struct parse {
    struct json_where w;
    const char *base_dir;
};

static int failf(struct parse *p, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int failf(struct parse *p, const char *key, const char *fmt, ...)
{
    struct json_where at = key ? json_where_child(&p->w, key) : p->w;
    va_list ap;
    va_start(ap, fmt);
    int rc = json_where_vfail(&at, fmt, ap);
    va_end(ap);
    return rc;
}

static int replace_string(char **field, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -ENOMEM;
    free(*field);
    *field = copy;
    return 0;
}

/* Replaces *out with the string at key, when there is one: *out holds the
 * default (lambda_config_new, init_function). */
static int get_string(struct parse *p, json_t *object, const char *key, char **out)
{
    return json_fields_string(object, key, 0, out, &p->w);
}

static int get_numbers(struct parse *p, json_t *object, void *base,
                       const struct number_field *numbers, size_t count)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < count; i++)
        rc = json_fields_uint(object, numbers[i].key, numbers[i].min, numbers[i].max,
                              number_at(base, &numbers[i]), &p->w);
    return rc;
}

#define WORD_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"

static int valid_function_name(const char *name)
{
    size_t len = strlen(name);
    return len > 0 && len <= LAMBDA_MAX_NAME && strspn(name, WORD_CHARS "-") == len;
}

static int valid_env_name(const char *name)
{
    /* AWS: [a-zA-Z]([a-zA-Z0-9_])+ */
    size_t len = strlen(name);
    return len >= 2 && isalpha((unsigned char)name[0]) && strspn(name, WORD_CHARS) == len;
}

static size_t environment_bytes(const struct lambda_function_config *f)
{
    size_t total = 0;
    for (size_t i = 0; i < f->environment_count; i++)
        total += strlen(f->environment[i].name) + strlen(f->environment[i].value);
    return total;
}

/* Finds the variable, or appends an empty slot for it. */
static struct lambda_env_var *env_slot(struct lambda_function_config *f, const char *name)
{
    for (size_t i = 0; i < f->environment_count; i++)
        if (strcmp(f->environment[i].name, name) == 0)
            return &f->environment[i];
    struct lambda_env_var *grown =
        realloc(f->environment, (f->environment_count + 1) * sizeof(*f->environment));
    if (!grown)
        return NULL;
    f->environment = grown;
    struct lambda_env_var *v = &f->environment[f->environment_count];
    v->name = strdup(name);
    v->value = strdup("");
    if (!v->name || !v->value) {
        free(v->name);
        free(v->value);
        return NULL;
    }
    f->environment_count++;
    return v;
}

/* Why NAME cannot be set (in why), or 0. */
static int env_name_problem(const char *name, char *why, size_t why_len)
{
    if (!valid_env_name(name))
        snprintf(why, why_len, "\"%.64s\" is not a valid variable name", name);
    else if (lambda_env_name_is_reserved(name))
        snprintf(why, why_len, "%s is reserved by Lambda and cannot be set", name);
    else
        return 0;
    return -EINVAL;
}

static int parse_environment(struct parse *p, json_t *object, struct lambda_function_config *f)
{
    json_t *env = json_object_get(object, "environment");
    if (!env)
        return 0;
    if (!json_is_object(env))
        return failf(p, "environment", "must be an object of strings");
    const char *key;
    json_t *value;
    json_object_foreach(env, key, value)
    {
        char why[160];
        if (env_name_problem(key, why, sizeof(why)) < 0)
            return failf(p, "environment", "%s", why);
        if (!json_fields_is_plain_string(value))
            return failf(p, "environment", "%s must be a string without NUL characters", key);
        struct lambda_env_var *v = env_slot(f, key);
        if (!v || replace_string(&v->value, json_string_value(value)) < 0)
            return -ENOMEM;
        if (environment_bytes(f) > LAMBDA_MAX_ENV_BYTES)
            return failf(p, "environment", "larger than %d bytes in all (AWS's limit)",
                         LAMBDA_MAX_ENV_BYTES);
    }
    return 0;
}

static int add_arg(struct lambda_function_config *f, const char *arg)
{
    char **grown = realloc(f->bootstrap, (f->bootstrap_count + 2) * sizeof(char *));
    if (!grown)
        return -ENOMEM;
    f->bootstrap = grown;
    f->bootstrap[f->bootstrap_count] = strdup(arg);
    f->bootstrap[f->bootstrap_count + 1] = NULL;
    if (!f->bootstrap[f->bootstrap_count])
        return -ENOMEM;
    f->bootstrap_count++;
    return 0;
}

static int parse_bootstrap(struct parse *p, json_t *object, struct lambda_function_config *f)
{
    json_t *boot = json_object_get(object, "bootstrap");
    if (!boot) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/bootstrap", f->working_dir);
        return add_arg(f, path);
    }
    if (json_is_string(boot) && !json_fields_is_plain_string(boot))
        return failf(p, "bootstrap", "must be a string without NUL characters");
    if (json_is_string(boot))
        return json_string_length(boot) ? add_arg(f, json_string_value(boot))
                                        : failf(p, "bootstrap", "must not be empty");
    if (!json_is_array(boot) || json_array_size(boot) == 0 ||
        json_array_size(boot) > LAMBDA_MAX_BOOTSTRAP_ARGS)
        return failf(p, "bootstrap", "must be a command: a string or an array of 1 to %d strings",
                     LAMBDA_MAX_BOOTSTRAP_ARGS);
    size_t i;
    json_t *arg;
    json_array_foreach(boot, i, arg)
    {
        if (!json_fields_is_plain_string(arg))
            return failf(p, "bootstrap", "element %zu must be a string without NUL characters", i);
        if (i == 0 && json_string_length(arg) == 0)
            return failf(p, "bootstrap", "the program must not be empty");
        int rc = add_arg(f, json_string_value(arg));
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* working_dir, absolute, into joined (PATH_MAX bytes). */
static int resolve_dir(struct parse *p, json_t *object, char *joined)
{
    json_t *value = json_object_get(object, "working_dir");
    if (value && (!json_fields_is_plain_string(value) || json_string_length(value) == 0))
        return failf(p, "working_dir", "must be a non-empty string without NUL characters");
    const char *dir = value ? json_string_value(value) : ".";
    int n = dir[0] == '/' ? snprintf(joined, PATH_MAX, "%s", dir)
                          : snprintf(joined, PATH_MAX, "%s/%s", p->base_dir, dir);
    if (n < 0 || n >= PATH_MAX)
        return failf(p, "working_dir", "path too long");
    /* Drop "/." and trailing slashes so the value reads well in the environment. */
    size_t len = strlen(joined);
    for (;;) {
        if (len > 2 && joined[len - 1] == '.' && joined[len - 2] == '/')
            joined[len -= 2] = '\0';
        else if (len > 1 && joined[len - 1] == '/')
            joined[--len] = '\0';
        else
            break;
    }
    return 0;
}

/* A function with the defaults: parsed and built ones start here. */
static int init_function(struct lambda_function_config *f, const char *name,
                         const char *working_dir)
{
    *f = (struct lambda_function_config){
        .name = strdup(name),
        .runtime = strdup(LAMBDA_DEFAULT_RUNTIME),
        .handler = strdup(""),
        .working_dir = strdup(working_dir),
        .url_port = -1,
    };
    set_defaults(f, function_numbers, COUNT(function_numbers));
    return f->name && f->runtime && f->handler && f->working_dir ? 0 : -ENOMEM;
}

static int parse_url_port(struct parse *p, json_t *object, struct lambda_function_config *f)
{
    if (!json_object_get(object, "url_port"))
        return 0;
    if (!f->url)
        return failf(p, "url_port", "needs \"url\": true");
    unsigned port = 0;
    int rc = json_fields_uint(object, "url_port", 0, 65535, &port, &p->w);
    f->url_port = (int)port;
    return rc;
}

static const char *const function_keys[] = {
    "name",        "runtime",   "handler", "bootstrap",   "working_dir",
    "environment", "timeout",   "memory",  "concurrency", "queue",
    "async_queue", "streaming", "url",     "url_port",    NULL,
};

static int parse_function(struct parse *p, json_t *object, struct lambda_function_config *f)
{
    if (!json_is_object(object))
        return failf(p, NULL, "must be an object");
    json_t *name = json_object_get(object, "name");
    char dir[PATH_MAX];
    int rc = json_fields_check_keys(object, function_keys, 0, &p->w);
    if (rc == 0 && !json_is_string(name))
        return failf(p, "name", "is required (a string)");
    if (rc == 0 &&
        (!json_fields_is_plain_string(name) || !valid_function_name(json_string_value(name))))
        return failf(p, "name", "must be 1 to 64 letters, digits, '-' or '_'");
    if (rc == 0)
        rc = resolve_dir(p, object, dir);
    if (rc == 0)
        rc = init_function(f, json_string_value(name), dir);
    if (rc == 0)
        rc = get_string(p, object, "runtime", &f->runtime);
    if (rc == 0)
        rc = get_string(p, object, "handler", &f->handler);
    if (rc == 0)
        rc = parse_bootstrap(p, object, f);
    if (rc == 0)
        rc = parse_environment(p, object, f);
    if (rc == 0)
        rc = get_numbers(p, object, f, function_numbers, COUNT(function_numbers));
    if (rc == 0)
        rc = json_fields_bool(object, "streaming", &f->streaming, &p->w);
    if (rc == 0)
        rc = json_fields_bool(object, "url", &f->url, &p->w);
    if (rc == 0)
        rc = parse_url_port(p, object, f);
    return rc;
}

static int parse_credentials(struct parse *p, json_t *root, struct lambda_config *c)
{
    static const char *const keys[] = {"access_key_id", "secret_access_key", "session_token", NULL};
    json_t *creds = json_object_get(root, "credentials");
    if (!creds)
        return 0;
    if (!json_is_object(creds))
        return failf(p, "credentials", "must be an object");
    char **fields[] = {&c->access_key_id, &c->secret_access_key, &c->session_token};
    snprintf(p->w.path, sizeof(p->w.path), "credentials");
    int rc = json_fields_check_keys(creds, keys, 0, &p->w);
    for (size_t i = 0; rc == 0 && i < COUNT(fields); i++)
        rc = get_string(p, creds, keys[i], fields[i]);
    if (rc == 0 && (!c->access_key_id || !c->secret_access_key))
        rc = failf(p, NULL, "needs both access_key_id and secret_access_key");
    p->w.path[0] = '\0';
    return rc;
}

static int parse_functions(struct parse *p, json_t *root, struct lambda_config *c)
{
    json_t *list = json_object_get(root, "functions");
    if (!json_is_array(list) || json_array_size(list) == 0)
        return failf(p, "functions", "is required: an array of 1 to %d functions",
                     LAMBDA_MAX_FUNCTIONS);
    if (json_array_size(list) > LAMBDA_MAX_FUNCTIONS)
        return failf(p, "functions", "at most %d functions", LAMBDA_MAX_FUNCTIONS);
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        snprintf(p->w.path, sizeof(p->w.path), "functions[%zu]", i);
        c->function_count = i + 1;
        int rc = parse_function(p, item, &c->functions[i]);
        if (rc < 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->functions[j].name, c->functions[i].name) == 0)
                return failf(p, "name", "\"%s\" is used twice", c->functions[i].name);
    }
    p->w.path[0] = '\0';
    return 0;
}

static int valid_account(const char *account)
{
    return strlen(account) == 12 && strspn(account, "0123456789") == 12;
}

static const char *const top_keys[] = {
    "region", "account_id", "idle_timeout", "init_timeout", "credentials", "functions", NULL};

static int parse_root(struct parse *p, json_t *root, struct lambda_config *c)
{
    /* The one cause with neither a path nor a key keeps its leading ": ". */
    if (!json_is_object(root))
        return failf(p, NULL, ": the configuration must be a JSON object");
    int rc = json_fields_check_keys(root, top_keys, 0, &p->w);
    if (rc == 0)
        rc = get_string(p, root, "region", &c->region);
    if (rc == 0 && (strlen(c->region) == 0 || strlen(c->region) > 30))
        rc = failf(p, "region", "must be 1 to 30 characters");
    if (rc == 0)
        rc = get_string(p, root, "account_id", &c->account_id);
    if (rc == 0 && !valid_account(c->account_id))
        rc = failf(p, "account_id", "must be 12 digits");
    if (rc == 0)
        rc = get_numbers(p, root, c, config_numbers, COUNT(config_numbers));
    if (rc == 0)
        rc = parse_credentials(p, root, c);
    if (rc == 0)
        rc = parse_functions(p, root, c);
    return rc;
}

int lambda_config_parse(const char *json, size_t len, const char *base_dir,
                        struct lambda_config **out, char *cause, size_t cause_len)
{
    struct parse p = {.w = {.cause = cause, .cause_len = cause_len}, .base_dir = base_dir};
    if (len > LAMBDA_MAX_CONFIG_BYTES) {
        snprintf(cause, cause_len, "configuration larger than %d bytes", LAMBDA_MAX_CONFIG_BYTES);
        return -EFBIG;
    }
    json_error_t error;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        snprintf(cause, cause_len, "not valid JSON (line %d, column %d): %s", error.line,
                 error.column, error.text);
        return -EINVAL;
    }
    struct lambda_config *c = lambda_config_new();
    int rc = c ? parse_root(&p, root, c) : -ENOMEM;
    json_decref(root);
    if (rc == -ENOMEM)
        snprintf(cause, cause_len, "out of memory");
    if (rc < 0) {
        lambda_config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int check_dirs(const struct lambda_config *c, char *cause, size_t cause_len)
{
    for (size_t i = 0; i < c->function_count; i++) {
        struct stat st;
        const char *dir = c->functions[i].working_dir;
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            snprintf(cause, cause_len, "functions[%zu].working_dir: %s is not a folder", i, dir);
            return -ENOENT;
        }
    }
    return 0;
}

int lambda_config_load(const char *path, struct lambda_config **out, char *cause, size_t cause_len)
{
    char resolved[PATH_MAX];
    if (!realpath(path, resolved)) {
        snprintf(cause, cause_len, "cannot open %s: %s", path, strerror(errno));
        return -errno;
    }
    struct buf text = BUF_INIT;
    int rc = buf_read_file(&text, resolved, LAMBDA_MAX_CONFIG_BYTES);
    if (rc < 0) {
        if (rc == -EFBIG)
            snprintf(cause, cause_len, "%s: larger than %d bytes", resolved,
                     LAMBDA_MAX_CONFIG_BYTES);
        else
            snprintf(cause, cause_len, "cannot open %s: %s", resolved, strerror(-rc));
        buf_free(&text);
        return -EINVAL;
    }
    char *slash = strrchr(resolved, '/');
    *slash = '\0';
    char inner[256];
    rc = lambda_config_parse(buf_bytes(&text), buf_length(&text), resolved[0] ? resolved : "/", out,
                             inner, sizeof(inner));
    buf_free(&text);
    if (rc == 0 && (rc = check_dirs(*out, inner, sizeof(inner))) < 0) {
        lambda_config_free(*out);
        *out = NULL;
    }
    if (rc < 0)
        snprintf(cause, cause_len, "%s: %s", path, inner);
    return rc;
}

static void free_secret(char *s)
{
    if (s)
        secure_wipe(s, strlen(s));
    free(s);
}

static void function_free(struct lambda_function_config *f)
{
    free(f->name);
    free(f->runtime);
    free(f->handler);
    for (size_t i = 0; i < f->bootstrap_count; i++)
        free(f->bootstrap[i]);
    free(f->bootstrap);
    free(f->working_dir);
    free(f->opt_dir);
    for (size_t i = 0; i < f->environment_count; i++) {
        free(f->environment[i].name);
        free(f->environment[i].value);
    }
    free(f->environment);
}

void lambda_config_free(struct lambda_config *config)
{
    if (!config)
        return;
    for (size_t i = 0; i < config->function_count; i++)
        function_free(&config->functions[i]);
    free(config->functions);
    free(config->region);
    free(config->account_id);
    free_secret(config->access_key_id);
    free_secret(config->secret_access_key);
    free_secret(config->session_token);
    free(config);
}

const struct lambda_function_config *lambda_config_find(const struct lambda_config *config,
                                                        const char *name)
{
    for (size_t i = 0; i < config->function_count; i++)
        if (strcmp(config->functions[i].name, name) == 0)
            return &config->functions[i];
    return NULL;
}

/* ---- building a configuration in C ---- */

struct lambda_config *lambda_config_new(void)
{
    struct lambda_config *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    /* Room for every function at once: pointers to them stay valid. */
    c->functions = calloc(LAMBDA_MAX_FUNCTIONS, sizeof(*c->functions));
    c->region = strdup(LAMBDA_DEFAULT_REGION);
    c->account_id = strdup(LAMBDA_DEFAULT_ACCOUNT);
    set_defaults(c, config_numbers, COUNT(config_numbers));
    if (!c->functions || !c->region || !c->account_id) {
        lambda_config_free(c);
        return NULL;
    }
    return c;
}

static int fail_built(char *cause, size_t cause_len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_built(char *cause, size_t cause_len, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cause, cause_len, fmt, ap);
    va_end(ap);
    return rc;
}

int lambda_config_add_function(struct lambda_config *c, const char *name, const char *working_dir,
                               struct lambda_function_config **out, char *cause, size_t cause_len)
{
    if (c->function_count >= LAMBDA_MAX_FUNCTIONS)
        return fail_built(cause, cause_len, -E2BIG, "at most %d functions", LAMBDA_MAX_FUNCTIONS);
    if (!valid_function_name(name))
        return fail_built(cause, cause_len, -EINVAL,
                          "function \"%.64s\": a name is 1 to 64 letters, digits, '-' or '_'",
                          name);
    if (lambda_config_find(c, name))
        return fail_built(cause, cause_len, -EINVAL, "function \"%s\" is added twice", name);
    if (working_dir[0] != '/')
        return fail_built(cause, cause_len, -EINVAL, "function %s: working_dir must be absolute",
                          name);
    struct lambda_function_config *f = &c->functions[c->function_count++];
    if (init_function(f, name, working_dir) < 0)
        return fail_built(cause, cause_len, -ENOMEM, "out of memory");
    *out = f;
    return 0;
}

int lambda_function_set_runtime(struct lambda_function_config *f, const char *runtime)
{
    return replace_string(&f->runtime, runtime);
}

int lambda_function_set_handler(struct lambda_function_config *f, const char *handler)
{
    return replace_string(&f->handler, handler ? handler : "");
}

int lambda_function_set_opt_dir(struct lambda_function_config *f, const char *dir)
{
    return replace_string(&f->opt_dir, dir);
}

int lambda_function_add_arg(struct lambda_function_config *f, const char *arg)
{
    if (f->bootstrap_count >= LAMBDA_MAX_BOOTSTRAP_ARGS)
        return -E2BIG;
    return add_arg(f, arg);
}

int lambda_function_set_env(struct lambda_function_config *f, const char *name, const char *value,
                            char *cause, size_t cause_len)
{
    char why[160];
    if (env_name_problem(name, why, sizeof(why)) < 0)
        return fail_built(cause, cause_len, -EINVAL, "function %s: %s", f->name, why);
    struct lambda_env_var *v = env_slot(f, name);
    if (!v || replace_string(&v->value, value) < 0)
        return fail_built(cause, cause_len, -ENOMEM, "out of memory");
    if (environment_bytes(f) > LAMBDA_MAX_ENV_BYTES)
        return fail_built(cause, cause_len, -EINVAL,
                          "function %s: environment larger than %d bytes in all (AWS's limit)",
                          f->name, LAMBDA_MAX_ENV_BYTES);
    return 0;
}

/* What lambda_config_parse enforces, for fields a builder sets directly. */
static int check_function(const struct lambda_function_config *f, char *cause, size_t cause_len)
{
    const struct number_field *n =
        number_out_of_range(f, function_numbers, COUNT(function_numbers));
    if (n)
        return fail_built(cause, cause_len, -EINVAL, "function %s: %s must be %u to %u", f->name,
                          n->key, n->min, n->max);
    if (f->bootstrap_count == 0)
        return fail_built(cause, cause_len, -EINVAL, "function %s: bootstrap is missing", f->name);
    if (f->url_port > 65535 || (f->url_port >= 0 && !f->url))
        return fail_built(cause, cause_len, -EINVAL,
                          "function %s: url_port must be 0 to 65535, with a function URL", f->name);
    return 0;
}

int lambda_config_check(const struct lambda_config *c, char *cause, size_t cause_len)
{
    if (c->function_count == 0)
        return fail_built(cause, cause_len, -EINVAL, "no functions to run");
    const struct number_field *n = number_out_of_range(c, config_numbers, COUNT(config_numbers));
    if (n)
        return fail_built(cause, cause_len, -EINVAL, "%s must be %u to %u", n->key, n->min, n->max);
    for (size_t i = 0; i < c->function_count; i++) {
        int rc = check_function(&c->functions[i], cause, cause_len);
        if (rc < 0)
            return rc;
    }
    return 0;
}
