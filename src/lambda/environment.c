/* Building a sandbox's environment: Lambda's variables, then the function's. */
#include "lambda/environment.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/encoding.h"

/* What AWS sets when a function does not set PATH itself and the service has
 * none to pass on. */
#define LAMBDA_FALLBACK_PATH "/usr/local/bin:/usr/bin/:/bin:/opt/bin"

struct env_builder {
    char **vars;
    size_t count;
    size_t cap;
};

static int env_find(const struct env_builder *b, const char *name, size_t name_len)
{
    for (size_t i = 0; i < b->count; i++)
        if (strncmp(b->vars[i], name, name_len) == 0 && b->vars[i][name_len] == '=')
            return (int)i;
    return -1;
}

/* Sets (or replaces) one variable. */
static int env_set(struct env_builder *b, const char *name, const char *value)
{
    struct buf line = BUF_INIT;
    if (buf_printf(&line, "%s=%s", name, value) < 0)
        return -ENOMEM;
    char *text = buf_steal(&line, NULL);
    if (!text)
        return -ENOMEM;
    int at = env_find(b, name, strlen(name));
    if (at >= 0) {
        secure_wipe(b->vars[at], strlen(b->vars[at]));
        free(b->vars[at]);
        b->vars[at] = text;
        return 0;
    }
    if (b->count + 2 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 48;
        char **grown = realloc(b->vars, cap * sizeof(char *));
        if (!grown) {
            free(text);
            return -ENOMEM;
        }
        b->vars = grown;
        b->cap = cap;
    }
    b->vars[b->count++] = text;
    b->vars[b->count] = NULL;
    return 0;
}

void lambda_log_stream_name(char *out, size_t out_len, time_t now, const char *sandbox_id)
{
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(out, out_len, "%04d/%02d/%02d/[$LATEST]%s", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, sandbox_id);
}

static int set_credentials(struct env_builder *b, const struct lambda_environment_input *in)
{
    const struct lambda_config *c = in->config;
    const char *akid = c->access_key_id ? c->access_key_id : in->inherited_access_key_id;
    const char *secret = c->access_key_id ? c->secret_access_key : in->inherited_secret_access_key;
    const char *token = c->access_key_id ? c->session_token : in->inherited_session_token;
    int rc = 0;
    if (akid && secret) {
        rc = env_set(b, "AWS_ACCESS_KEY_ID", akid);
        if (rc == 0)
            rc = env_set(b, "AWS_SECRET_ACCESS_KEY", secret);
        if (rc == 0 && token && *token)
            rc = env_set(b, "AWS_SESSION_TOKEN", token);
    }
    return rc;
}

static int set_lambda_vars(struct env_builder *b, const struct lambda_environment_input *in)
{
    const struct lambda_function_config *f = in->function;
    char memory[16], log_group[96], log_stream[128], exec_env[96];
    snprintf(memory, sizeof(memory), "%u", f->memory_mb);
    snprintf(log_group, sizeof(log_group), "/aws/lambda/%s", f->name);
    lambda_log_stream_name(log_stream, sizeof(log_stream), in->now, in->sandbox_id);
    snprintf(exec_env, sizeof(exec_env), "AWS_Lambda_%s", f->runtime);
    const char *const pairs[][2] = {
        {"_HANDLER", f->handler},
        {"AWS_REGION", in->config->region},
        {"AWS_DEFAULT_REGION", in->config->region},
        {"AWS_EXECUTION_ENV", exec_env},
        {"AWS_LAMBDA_FUNCTION_NAME", f->name},
        {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory},
        {"AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"},
        {"AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"},
        {"AWS_LAMBDA_LOG_GROUP_NAME", log_group},
        {"AWS_LAMBDA_LOG_STREAM_NAME", log_stream},
        {"AWS_LAMBDA_RUNTIME_API", in->runtime_api},
        {"LAMBDA_TASK_ROOT", f->working_dir},
        {"LAMBDA_RUNTIME_DIR", f->working_dir},
        {"TZ", ":UTC"},
        {"LANG", "en_US.UTF-8"},
        {"PATH",
         in->inherited_path && *in->inherited_path ? in->inherited_path : LAMBDA_FALLBACK_PATH},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        int rc = env_set(b, pairs[i][0], pairs[i][1]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int lambda_environment_build(const struct lambda_environment_input *in, char ***out)
{
    struct env_builder b = {0};
    int rc = set_lambda_vars(&b, in);
    if (rc == 0)
        rc = set_credentials(&b, in);
    /* The function's own variables come last: config parsing already refused
     * reserved names, so these can only add or replace TZ, LANG, PATH and the like. */
    for (size_t i = 0; rc == 0 && i < in->function->environment_count; i++)
        rc = env_set(&b, in->function->environment[i].name, in->function->environment[i].value);
    for (char *const *o = in->overrides; rc == 0 && o && *o; o++) {
        const char *eq = strchr(*o, '=');
        if (!eq || eq == *o)
            continue;
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)(eq - *o), *o);
        rc = env_set(&b, name, eq + 1);
    }
    if (rc < 0) {
        lambda_environment_free(b.vars);
        return rc;
    }
    *out = b.vars;
    return 0;
}

void lambda_environment_free(char **env)
{
    if (!env)
        return;
    for (char **p = env; *p; p++) {
        secure_wipe(*p, strlen(*p));
        free(*p);
    }
    free(env);
}

const char *lambda_environment_get(char *const *env, const char *name)
{
    size_t len = strlen(name);
    for (char *const *p = env; p && *p; p++)
        if (strncmp(*p, name, len) == 0 && (*p)[len] == '=')
            return *p + len + 1;
    return NULL;
}
