/* Building a sandbox's environment: Lambda's variables, then the function's. */
#include "lambda/environment.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* A function's layers (in opt_dir, its /opt) are found where Lambda's
 * runtimes look in /opt: bin on PATH, lib for the loader, Node's and
 * Python's module folders. */
static int set_layer_vars(struct env_builder *b, const struct lambda_environment_input *in)
{
    const char *opt = in->function->opt_dir, *runtime = in->function->runtime;
    if (!opt)
        return 0;
    const char *path = lambda_environment_get(b->vars, "PATH");
    char major[16] = "";
    if (strncmp(runtime, "nodejs", 6) == 0)
        snprintf(major, sizeof(major), "%.*s", (int)strcspn(runtime + 6, "."), runtime + 6);
    struct buf v[4] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
    buf_printf(&v[0], "%s:%s/bin", path ? path : LAMBDA_FALLBACK_PATH, opt);
    buf_printf(&v[1], "%s/lib", opt);
    if (major[0])
        buf_printf(&v[2], "%s/nodejs/node%s/node_modules:", opt, major);
    buf_printf(&v[2], "%s/nodejs/node_modules", opt);
    buf_printf(&v[3], "%s/python", opt);
    static const char *const names[] = {"PATH", "LD_LIBRARY_PATH", "NODE_PATH", "PYTHONPATH"};
    int rc = 0;
    for (size_t i = 0; i < 4; i++) {
        if (rc == 0)
            rc = buf_terminate(&v[i]) < 0 ? -ENOMEM : env_set(b, names[i], buf_bytes(&v[i]));
        buf_free(&v[i]);
    }
    return rc;
}

int lambda_environment_build(const struct lambda_environment_input *in, char ***out)
{
    struct env_builder b = {0};
    int rc = set_lambda_vars(&b, in);
    if (rc == 0)
        rc = set_layer_vars(&b, in);
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

/* ---- what a relayed Init may set ----
 *
 * tether dev starts a local worker with the environment a remote sandbox's
 * Init carries. Whoever can publish an Init (a bridge role, or anyone who
 * holds the channel's key) must not be able to change what the worker runs:
 * the deployed function's own variables and credentials are welcome, the
 * names below are not. Names are compared without regard to case, so a
 * lower-case spelling some tool also reads (npm_config_*) is caught too. */

/* Prefixes: whole families that load code, change a loader or interpreter,
 * or belong to Lambda's runtime plumbing or to tether itself. */
static const char *const override_denied_prefixes[] = {
    "LD_",         /* the dynamic loader: LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT */
    "DYLD_",       /* the macOS loader */
    "GLIBC_",      /* GLIBC_TUNABLES */
    "MALLOC_",     /* glibc's allocator switches */
    "PYTHON",      /* PYTHONSTARTUP, PYTHONPATH, PYTHONHOME, PYTHONWARNINGS ... */
    "PERL",        /* PERL5OPT, PERL5LIB, PERLLIB, PERL5DB ... */
    "RUBY",        /* RUBYOPT, RUBYLIB */
    "GIT_",        /* GIT_SSH_COMMAND, GIT_CONFIG_* and the like run programs */
    "OPENSSL_",    /* OPENSSL_CONF loads engines (code) */
    "NPM_CONFIG_", /* npm's settings, scripts included */
    "BASH_FUNC_",  /* exported shell functions */
    "AWS_LAMBDA_", /* the local Lambda service's own (runtime API, exec wrapper), but see below */
    "_LAMBDA_",    /* the runtime's internal plumbing */
    "TETHER_",     /* tether's own settings */
};

/* Informational names of the deployed function, taken although their
 * family is denied: handlers log them and build ARNs from them, and they
 * change nothing about how a program starts. */
static const char *const override_allowed_names[] = {
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
};

/* Single names, for the same reasons. */
static const char *const override_denied_names[] = {
    /* Node.js: options, module search, trust and files it writes. */
    "NODE_OPTIONS",
    "NODE_PATH",
    "NODE_EXTRA_CA_CERTS",
    "NODE_TLS_REJECT_UNAUTHORIZED",
    "NODE_ICU_DATA",
    "NODE_PRESERVE_SYMLINKS",
    "NODE_REDIRECT_WARNINGS",
    "NODE_REPL_HISTORY",
    "NODE_V8_COVERAGE",
    "NODE_COMPILE_CACHE",
    "NODE_DEBUG_NATIVE",
    /* Shells: files sourced at start, parsing and prompts that run commands. */
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PROMPT_COMMAND",
    "IFS",
    "CDPATH",
    "GLOBIGNORE",
    "SHELL",
    /* Java. */
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "CLASSPATH",
    /* glibc: modules and data it loads by path. */
    "GCONV_PATH",
    "GETCONF_DIR",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "RES_OPTIONS",
    "LOCPATH",
    "NLSPATH",
    "TZDIR",
    /* Where programs and files are looked up on this machine: the remote
     * sandbox's paths mean nothing here, and these choose what runs. */
    "PATH",
    "HOME",
    "TMPDIR",
    "PWD",
    "OLDPWD",
    /* Programs other programs start. */
    "EDITOR",
    "VISUAL",
    "PAGER",
    "BROWSER",
    "SSH_ASKPASS",
    "SUDO_ASKPASS",
    /* TLS trust of the worker's libraries. */
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CURL_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "AWS_CA_BUNDLE",
    /* AWS SDK files on this machine (a config file can name a credential_process). */
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_PROFILE",
    /* Lambda's reserved names the local service sets for its own sandbox. */
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_EXECUTION_ENV",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static int name_char(char c, int first)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

static int starts_with_nocase(const char *name, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && strncasecmp(name, prefix, n) == 0;
}

int lambda_environment_override_allowed(const char *name, size_t len)
{
    if (len == 0 || len > LAMBDA_OVERRIDE_MAX_NAME)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!name_char(name[i], i == 0))
            return 0;
    for (size_t i = 0; i < COUNT_OF(override_allowed_names); i++)
        if (strlen(override_allowed_names[i]) == len &&
            strncmp(name, override_allowed_names[i], len) == 0)
            return 1;
    for (size_t i = 0; i < COUNT_OF(override_denied_prefixes); i++)
        if (starts_with_nocase(name, len, override_denied_prefixes[i]))
            return 0;
    for (size_t i = 0; i < COUNT_OF(override_denied_names); i++)
        if (strlen(override_denied_names[i]) == len &&
            strncasecmp(name, override_denied_names[i], len) == 0)
            return 0;
    return 1;
}

/* Remembers a dropped name for the log line (printable by construction
 * only when it passed the name check; anything else is counted, not shown). */
static void note_dropped(struct lambda_overrides *o, const char *name, size_t len)
{
    o->dropped++;
    size_t used = strlen(o->dropped_names);
    int shown = len > 0 && len <= 64;
    for (size_t i = 0; shown && i < len; i++)
        shown = name_char(name[i], 0);
    char item[80];
    snprintf(item, sizeof(item), "%s%.*s", used ? ", " : "", shown ? (int)len : 1,
             shown ? name : "?");
    if (used + strlen(item) + 1 < sizeof(o->dropped_names))
        memcpy(o->dropped_names + used, item, strlen(item) + 1);
}

static int overrides_append(struct lambda_overrides *o, const char *line, size_t len)
{
    char **grown = realloc(o->env, (o->count + 2) * sizeof(*o->env));
    if (!grown)
        return -ENOMEM;
    o->env = grown;
    char *copy = malloc(len + 1);
    if (!copy) {
        o->env[o->count] = NULL;
        return -ENOMEM;
    }
    memcpy(copy, line, len);
    copy[len] = '\0';
    o->env[o->count++] = copy;
    o->env[o->count] = NULL;
    o->bytes += len;
    return 0;
}

int lambda_overrides_add(struct lambda_overrides *o, const char *line, size_t len)
{
    const char *eq = memchr(line, '=', len);
    size_t name_len = eq ? (size_t)(eq - line) : len;
    /* A value with a NUL inside would be cut short by exec: it is not the
     * value that was sent, so it is not taken at all. */
    int ok = eq && memchr(line, '\0', len) == NULL &&
             lambda_environment_override_allowed(line, name_len) &&
             o->count < LAMBDA_OVERRIDE_MAX_COUNT && o->bytes + len <= LAMBDA_OVERRIDE_MAX_BYTES;
    if (!ok) {
        note_dropped(o, line, name_len);
        return 1;
    }
    return overrides_append(o, line, len);
}

int lambda_overrides_set(struct lambda_overrides *o, const char *name, const char *value)
{
    struct buf line = BUF_INIT;
    int rc = buf_printf(&line, "%s=%s", name, value);
    if (rc == 0)
        rc = overrides_append(o, buf_bytes(&line), buf_length(&line));
    buf_free(&line);
    return rc;
}

char **lambda_overrides_steal(struct lambda_overrides *o)
{
    char **env = o->env;
    if (!env)
        env = calloc(1, sizeof(*env));
    o->env = NULL;
    o->count = o->bytes = 0;
    return env;
}

void lambda_overrides_free(struct lambda_overrides *o)
{
    lambda_environment_free(o->env);
    memset(o, 0, sizeof(*o));
}
