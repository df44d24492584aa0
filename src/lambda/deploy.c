/* The control plane's state: deployed functions and layer versions
 * (lambda/deploy.h). Zips are kept and extracted under one private folder
 * (mode 0700) made at start and removed at exit. A change (new function,
 * new code, new configuration) is staged on libuv's thread pool: the code
 * and the function's layers are extracted into new folders and the command
 * that runs them is worked out; the client is answered then; after
 * LAMBDA_SETTLE_MS the change is installed on the loop: the function's
 * configuration is swapped, idle sandboxes of the old one stop, busy ones
 * finish on it first (pool.c). */
#include "lambda/deploy.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_MODULE "lambda"
#include "aws/sigv4.h"
#include "core/crypto.h"
#include "core/encoding.h"
#include "core/json_fields.h"
#include "core/log.h"
#include "core/random.h"
#include "core/zip.h"

struct lambda_retired {
    struct lambda_retired *next;
    unsigned generation; /* sandboxes below this no longer need the folder */
    char path[4096];
};

/* One change being staged: what to extract, then what to install. */
struct lambda_staging {
    uv_work_t work;
    struct lambda_deployment *d;
    int creating;
    int restoring; /* from the state folder: keeps its revision and date */
    char revision[37], last_modified[40];
    enum lambda_update_status previous; /* restored when the change is refused */
    lambda_deploy_done done;
    void *ctx;
    json_t *settings; /* the new settings (owned) */
    struct buf zip;   /* new code, or empty */
    char code_dir[4096], code_zip[4096], opt_dir[4096];
    char *layer_zips[LAMBDA_MAX_LAYERS];
    size_t layer_count;
    int new_opt;
    /* filled by the work */
    struct lambda_api_error err;
    int failed;
    char sha256[48];
    char home[4096];
    char runtime[64], handler[129];
    char bootstrap[4096];
    char cannot_run[256]; /* why the new configuration cannot run ("" when it can) */
};

void lambda_api_fail(struct lambda_api_error *err, int status, const char *type, const char *fmt,
                     ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->status = status;
    err->type = type;
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

#define INVALID(err, ...) lambda_api_fail(err, 400, "InvalidParameterValueException", __VA_ARGS__)

/* ---- folders ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP ? rmdir(path) : unlink(path))
        log_debug("cannot remove %s: %s", path, strerror(errno));
    return 0;
}

static void remove_tree(const char *path)
{
    if (path[0])
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* tether's runtimes/ beside the binary (build/tether, build/san/tether) or
 * in TETHER_HOME, as tether dev finds them. */
static void find_home(char *out, size_t cap)
{
    const char *env = getenv("TETHER_HOME");
    char probe[4200];
    out[0] = '\0';
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    for (int up = 0; up < 4; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash || slash == exe)
            return;
        *slash = '\0';
        snprintf(probe, sizeof(probe), "%s/runtimes/node/index.mjs", exe);
        if (access(probe, R_OK) == 0) {
            snprintf(out, cap, "%s", exe);
            return;
        }
    }
}

static void load_credentials(struct lambda_control *c, const struct lambda_config *config)
{
    const char *akid = config->access_key_id, *secret = config->secret_access_key;
    const char *token = config->session_token;
    if (!akid && !secret) {
        akid = getenv("AWS_ACCESS_KEY_ID");
        secret = getenv("AWS_SECRET_ACCESS_KEY");
        token = getenv("AWS_SESSION_TOKEN");
    }
    if (!akid || !*akid || !secret || !*secret || strlen(akid) > SIGV4_MAX_ACCESS_KEY_ID ||
        strlen(secret) > SIGV4_MAX_SECRET)
        return;
    snprintf(c->access_key_id, sizeof(c->access_key_id), "%s", akid);
    snprintf(c->secret, sizeof(c->secret), "%s", secret);
    snprintf(c->token, sizeof(c->token), "%s", token ? token : "");
}

int lambda_control_new(struct lambda_service *s, const char *state_dir, char *cause,
                       size_t cause_len)
{
    struct lambda_control *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(c->dir, sizeof(c->dir), "%s/tether-lambda-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(c->dir)) {
        int rc = -errno;
        snprintf(cause, cause_len, "cannot make a private folder in %s: %s",
                 tmp && *tmp ? tmp : "/tmp", strerror(errno));
        free(c);
        return rc;
    }
    c->service = s;
    find_home(c->home, sizeof(c->home));
    load_credentials(c, s->config);
    s->control = c;
    if (!state_dir)
        return 0;
    snprintf(c->state, sizeof(c->state), "%s", state_dir);
    return lambda_state_load(c, cause, cause_len);
}

struct lambda_control *lambda_control_of(struct lambda_service *s)
{
    return s->control;
}

const char *lambda_control_region(const struct lambda_control *c)
{
    return c->service->config->region;
}

const char *lambda_control_account(const struct lambda_control *c)
{
    return c->service->config->account_id;
}

/* ---- authentication ---- */

struct key_lookup {
    struct lambda_control *control;
    int unknown; /* the request named another access key */
};

static int lookup_secret(void *ctx, const char *access_key_id, char *secret_out, size_t secret_cap,
                         char *token_out, size_t token_cap)
{
    struct key_lookup *k = ctx;
    struct lambda_control *c = k->control;
    if (strcmp(access_key_id, c->access_key_id) != 0) {
        k->unknown = 1;
        return -ENOENT;
    }
    snprintf(secret_out, secret_cap, "%s", c->secret);
    snprintf(token_out, token_cap, "%s", c->token);
    return 0;
}

/* The access key id in "AWS4-HMAC-SHA256 Credential=AKID/DATE/...". */
static int credential_is(const char *authorization, const char *access_key_id)
{
    const char *p = authorization ? strstr(authorization, "Credential=") : NULL;
    size_t len = strlen(access_key_id);
    return p && strncmp(p + 11, access_key_id, len) == 0 && p[11 + len] == '/';
}

int lambda_control_precheck(struct lambda_control *c, const struct http_message *m,
                            struct lambda_api_error *err)
{
    const char *authorization = http_header_get(m, "Authorization");
    /* Without credentials or with another key, the body cannot help. */
    if (!c->access_key_id[0] || !authorization || !credential_is(authorization, c->access_key_id))
        return lambda_control_authorized(c, m, err) < 0 ? -EACCES : 0;
    return 0;
}

int lambda_control_authorized(struct lambda_control *c, const struct http_message *m,
                              struct lambda_api_error *err)
{
    if (!c->access_key_id[0]) {
        lambda_api_fail(err, 403, "AccessDeniedException",
                        "tether lambda's control plane is off: it has no credentials to check "
                        "signatures with. Give it \"credentials\" in its configuration or "
                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in its environment, and "
                        "sign requests with them");
        return -EACCES;
    }
    const char *authorization = http_header_get(m, "Authorization");
    if (!authorization || strncmp(authorization, SIGV4_ALGORITHM, strlen(SIGV4_ALGORITHM)) != 0) {
        lambda_api_fail(err, 403, "MissingAuthenticationTokenException",
                        "Missing Authentication Token");
        return -EACCES;
    }
    struct sigv4_header headers[SIGV4_MAX_HEADERS];
    if (m->header_count > SIGV4_MAX_HEADERS) {
        lambda_api_fail(err, 403, "InvalidSignatureException", "Too many headers");
        return -EACCES;
    }
    for (size_t i = 0; i < m->header_count; i++)
        headers[i] = (struct sigv4_header){m->headers[i].name, m->headers[i].value};
    struct sigv4_request req = {
        .method = m->method,
        .path = m->path,
        .query = m->query,
        .headers = headers,
        .header_count = m->header_count,
        .body = buf_bytes(&m->body),
        .body_len = buf_length(&m->body),
    };
    struct sigv4_verify_params params = {
        .region = c->service->config->region,
        .service = "lambda",
        .now = time(NULL),
        .normalize_path = 1,
    };
    char cause[256] = "";
    struct key_lookup lookup = {c, 0};
    int rc = sigv4_verify(&req, &params, lookup_secret, &lookup, cause, sizeof(cause));
    if (rc < 0 && lookup.unknown)
        lambda_api_fail(err, 403, "UnrecognizedClientException",
                        "The security token included in the request is invalid.");
    else if (rc < 0)
        lambda_api_fail(err, 403, "InvalidSignatureException", "%s", cause);
    return rc < 0 ? -EACCES : 0;
}

/* ---- finding ---- */

static void function_name_of(const char *text, char *out, size_t cap)
{
    const char *p = text;
    if (strncmp(p, "arn:", 4) == 0) { /* arn:aws:lambda:REGION:ACCOUNT:function:NAME[:Q] */
        for (int colons = 0; *p && colons < 6; p++)
            colons += *p == ':';
    } else if (strstr(p, ":function:")) {
        p = strstr(p, ":function:") + strlen(":function:");
    }
    snprintf(out, cap, "%.*s", (int)strcspn(p, ":"), p);
}

struct lambda_deployment *lambda_deploy_find(struct lambda_control *c, const char *name)
{
    char plain[LAMBDA_MAX_NAME + 2];
    function_name_of(name, plain, sizeof(plain));
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->deployments[i]->function->config->name, plain) == 0)
            return c->deployments[i];
    return NULL;
}

struct lambda_deployment *lambda_deploy_next(struct lambda_control *c,
                                             struct lambda_deployment *after)
{
    size_t i = 0;
    if (after)
        while (i < c->count && c->deployments[i++] != after)
            ;
    return i < c->count ? c->deployments[i] : NULL;
}

struct lambda_deployment *lambda_deploy_by_token(struct lambda_control *c, const char *token)
{
    for (size_t i = 0; i < c->count; i++)
        if (strlen(token) == 32 &&
            constant_time_equal(c->deployments[i]->code_token, 32, token, 32))
            return c->deployments[i];
    return NULL;
}

/* ---- settings ---- */

static int is_managed_node(const char *runtime)
{
    return strncmp(runtime, "nodejs", 6) == 0;
}

static int is_managed_python(const char *runtime)
{
    return strncmp(runtime, "python3.", 8) == 0;
}

static int known_runtime(const char *r)
{
    static const char *const provided[] = {"provided", "provided.al2", "provided.al2023"};
    for (size_t i = 0; i < 3; i++)
        if (strcmp(r, provided[i]) == 0)
            return 1;
    size_t n = strlen(r);
    return n < 20 && (is_managed_node(r) || is_managed_python(r)) && r[n - 1] != '.';
}

static int check_number(json_t *value, const char *key, json_int_t min, json_int_t max,
                        struct lambda_api_error *err)
{
    if (json_is_integer(value) && json_integer_value(value) >= min &&
        json_integer_value(value) <= max)
        return 0;
    INVALID(err, "%s must be an integer from %lld to %lld", key, (long long)min, (long long)max);
    return -EINVAL;
}

static int check_string(json_t *value, const char *key, size_t max, struct lambda_api_error *err)
{
    if (json_fields_is_plain_string(value) && json_string_length(value) <= max)
        return 0;
    INVALID(err, "%s must be a string of at most %zu characters", key, max);
    return -EINVAL;
}

static int check_runtime(json_t *value, struct lambda_api_error *err)
{
    if (check_string(value, "Runtime", 32, err) < 0)
        return -EINVAL;
    if (known_runtime(json_string_value(value)))
        return 0;
    INVALID(err,
            "The runtime parameter of %s is not supported by tether lambda: it runs nodejs*, "
            "python3.* and provided.* functions",
            json_string_value(value));
    return -EINVAL;
}

static int check_role(json_t *value, struct lambda_api_error *err)
{
    if (check_string(value, "Role", 2048, err) < 0)
        return -EINVAL;
    const char *role = json_string_value(value);
    if (strncmp(role, "arn:aws", 7) == 0 && strstr(role, ":iam::") && strstr(role, ":role/"))
        return 0;
    INVALID(err, "Role must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME), not %.200s", role);
    return -EINVAL;
}

/* Environment.Variables under AWS's rules, checked by the one owner of
 * them: lambda_function_set_env on a scratch configuration. */
static int check_environment(json_t *value, struct lambda_api_error *err)
{
    json_t *vars = json_object_get(value, "Variables");
    if (!json_is_object(value) || (vars && !json_is_object(vars))) {
        INVALID(err, "Environment must be {\"Variables\": {NAME: value}}");
        return -EINVAL;
    }
    struct lambda_config *scratch = lambda_config_new();
    struct lambda_function_config *f = NULL;
    char cause[256] = "";
    int rc = scratch
                 ? lambda_config_add_function(scratch, "environment", "/", &f, cause, sizeof(cause))
                 : -ENOMEM;
    const char *name;
    json_t *v;
    json_object_foreach(vars, name, v)
    {
        if (rc == 0 && !json_fields_is_plain_string(v)) {
            snprintf(cause, sizeof(cause), "the value of %.128s is not a string", name);
            rc = -EINVAL;
        }
        if (rc == 0)
            rc = lambda_function_set_env(f, name, json_string_value(v), cause, sizeof(cause));
    }
    lambda_config_free(scratch);
    if (rc < 0) {
        const char *why = strncmp(cause, "function environment: ", 22) == 0 ? cause + 22 : cause;
        INVALID(err, "Environment.Variables: %s", why);
    }
    return rc;
}

static int check_layers(struct lambda_control *c, json_t *value, struct lambda_api_error *err)
{
    if (!json_is_array(value) || json_array_size(value) > LAMBDA_MAX_LAYERS) {
        INVALID(err, "Layers must be a list of at most %d layer version ARNs", LAMBDA_MAX_LAYERS);
        return -EINVAL;
    }
    size_t i;
    json_t *arn;
    json_array_foreach(value, i, arn)
    {
        if (!json_fields_is_plain_string(arn)) {
            INVALID(err, "Layers must be a list of layer version ARNs");
            return -EINVAL;
        }
        struct lambda_layer_version *v = lambda_layer_find_arn(c, json_string_value(arn));
        if (!v || v->deleted) {
            INVALID(err, "Layer version %.300s does not exist.", json_string_value(arn));
            return -EINVAL;
        }
    }
    return 0;
}

static int check_architectures(json_t *value, struct lambda_api_error *err)
{
    const char *a = json_string_value(json_array_get(value, 0));
    if (json_is_array(value) && json_array_size(value) == 1 && a &&
        (strcmp(a, "x86_64") == 0 || strcmp(a, "arm64") == 0))
        return 0;
    INVALID(err, "Architectures must be [\"x86_64\"] or [\"arm64\"]");
    return -EINVAL;
}

static int check_object(json_t *value, const char *key, struct lambda_api_error *err)
{
    if (json_is_object(value))
        return 0;
    INVALID(err, "%s must be an object", key);
    return -EINVAL;
}

/* One setting of the request into settings, checked. */
static int apply_setting(struct lambda_control *c, json_t *settings, const char *key, json_t *value,
                         struct lambda_api_error *err)
{
    int rc = 0;
    if (strcmp(key, "Runtime") == 0)
        rc = check_runtime(value, err);
    else if (strcmp(key, "Handler") == 0)
        rc = check_string(value, key, 128, err);
    else if (strcmp(key, "Role") == 0)
        rc = check_role(value, err);
    else if (strcmp(key, "Description") == 0)
        rc = check_string(value, key, 256, err);
    else if (strcmp(key, "Timeout") == 0)
        rc = check_number(value, key, 1, 900, err);
    else if (strcmp(key, "MemorySize") == 0)
        rc = check_number(value, key, 128, 10240, err);
    else if (strcmp(key, "Environment") == 0)
        rc = check_environment(value, err);
    else if (strcmp(key, "Layers") == 0)
        rc = check_layers(c, value, err);
    else if (strcmp(key, "Architectures") == 0)
        rc = check_architectures(value, err);
    else if (strcmp(key, "EphemeralStorage") == 0)
        rc = check_object(value, key, err) ||
             check_number(json_object_get(value, "Size"), "EphemeralStorage.Size", 512, 10240, err);
    else if (strcmp(key, "TracingConfig") == 0 || strcmp(key, "LoggingConfig") == 0)
        rc = check_object(value, key, err);
    else
        return 0; /* not modelled here: VpcConfig, KMSKeyArn ... are accepted and not kept */
    if (rc < 0)
        return -EINVAL;
    /* A function without variables shows no Environment, as on AWS. */
    json_t *vars = json_object_get(value, "Variables");
    if (strcmp(key, "Environment") == 0 && (!vars || json_object_size(vars) == 0))
        return json_object_del(settings, key), 0;
    return json_object_set(settings, key, value) < 0 ? -ENOMEM : 0;
}

static const char *const update_keys[] = {
    "Runtime",       "Handler",       "Role",   "Description",   "Timeout",
    "MemorySize",    "Environment",   "Layers", "Architectures", "EphemeralStorage",
    "TracingConfig", "LoggingConfig", NULL,
};

static int apply_settings(struct lambda_control *c, json_t *settings, json_t *request,
                          const char *const *keys, struct lambda_api_error *err)
{
    for (size_t i = 0; keys[i]; i++) {
        json_t *value = json_object_get(request, keys[i]);
        if (value && apply_setting(c, settings, keys[i], value, err) < 0)
            return -EINVAL;
    }
    return 0;
}

static json_t *default_settings(const char *name)
{
    char group[96];
    snprintf(group, sizeof(group), "/aws/lambda/%s", name);
    return json_pack("{s:s, s:i, s:i, s:[s], s:{s:i}, s:{s:s}, s:{s:s, s:s}}", "Description", "",
                     "Timeout", LAMBDA_DEFAULT_TIMEOUT, "MemorySize", LAMBDA_DEFAULT_MEMORY,
                     "Architectures", "x86_64", "EphemeralStorage", "Size", 512, "TracingConfig",
                     "Mode", "PassThrough", "LoggingConfig", "LogFormat", "Text", "LogGroup",
                     group);
}

static const char *setting(json_t *settings, const char *key)
{
    const char *s = json_string_value(json_object_get(settings, key));
    return s ? s : "";
}

/* ---- the runnable configuration ---- */

/* What the work found: the command for the runtime, or why there is none.
 * Lambda runs a provided runtime's bootstrap from the function's code
 * first, then from its layers (/opt). */
static void choose_bootstrap(struct lambda_staging *st)
{
    const char *runtime = st->runtime;
    char path[4200];
    st->bootstrap[0] = '\0';
    if (is_managed_node(runtime) || is_managed_python(runtime)) {
        if (!st->home[0]) {
            snprintf(st->cannot_run, sizeof(st->cannot_run),
                     "tether's runtimes/ folder was not found (set TETHER_HOME)");
            return;
        }
        snprintf(st->bootstrap, sizeof(st->bootstrap), "%s/runtimes/%s", st->home,
                 is_managed_node(runtime) ? "node/index.mjs" : "python/bootstrap.py");
        return;
    }
    snprintf(path, sizeof(path), "%s/bootstrap", st->code_dir);
    if (access(path, X_OK) != 0 && st->opt_dir[0])
        snprintf(path, sizeof(path), "%s/bootstrap", st->opt_dir);
    if (access(path, X_OK) == 0) {
        snprintf(st->bootstrap, sizeof(st->bootstrap), "%s", path);
        return;
    }
    snprintf(st->cannot_run, sizeof(st->cannot_run),
             "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]");
}

static int set_variables(struct lambda_function_config *f, json_t *settings, char *cause,
                         size_t cause_len)
{
    json_t *vars = json_object_get(json_object_get(settings, "Environment"), "Variables");
    const char *name;
    json_t *value;
    json_object_foreach(vars, name, value)
    {
        int rc = lambda_function_set_env(f, name, json_string_value(value), cause, cause_len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int build_run_config(const char *name, json_t *settings, const struct lambda_staging *st,
                            struct lambda_config **out)
{
    struct lambda_config *c = lambda_config_new();
    struct lambda_function_config *f = NULL;
    char cause[256];
    const char *runtime = setting(settings, "Runtime");
    int rc =
        c ? lambda_config_add_function(c, name, st->code_dir, &f, cause, sizeof(cause)) : -ENOMEM;
    if (rc == 0)
        rc = lambda_function_set_runtime(f, runtime);
    if (rc == 0)
        rc = lambda_function_set_handler(f, setting(settings, "Handler"));
    if (rc == 0 && st->bootstrap[0] && (is_managed_node(runtime) || is_managed_python(runtime)))
        rc = lambda_function_add_arg(f, is_managed_node(runtime) ? "node" : "python3");
    if (rc == 0)
        rc = lambda_function_add_arg(f, st->bootstrap[0] ? st->bootstrap : "bootstrap");
    if (rc == 0 && st->opt_dir[0])
        rc = lambda_function_set_opt_dir(f, st->opt_dir);
    if (rc == 0)
        rc = set_variables(f, settings, cause, sizeof(cause));
    if (rc == 0) {
        f->timeout_s = (unsigned)json_integer_value(json_object_get(settings, "Timeout"));
        f->memory_mb = (unsigned)json_integer_value(json_object_get(settings, "MemorySize"));
        *out = c;
        return 0;
    }
    lambda_config_free(c);
    return rc;
}

/* ---- staging (on the thread pool: no loop, no service state) ---- */

static int write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    for (const char *p = data; len > 0;) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno != EINTR) {
            close(fd);
            return -errno;
        }
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        }
    }
    return close(fd) < 0 ? -errno : 0;
}

static void sha256_base64(const void *data, size_t len, char out[48])
{
    uint8_t digest[CRYPTO_SHA256_SIZE];
    struct buf b = BUF_INIT;
    crypto_sha256(data, len, digest);
    base64_encode(&b, digest, sizeof(digest));
    snprintf(out, 48, "%.*s", (int)buf_length(&b), buf_bytes(&b));
    buf_free(&b);
}

static uint64_t extract(struct lambda_staging *st, const void *zip, size_t len, const char *dir,
                        uint64_t budget)
{
    const struct zip_limits limits = {LAMBDA_ZIP_MAX_ENTRIES, budget};
    char cause[300];
    uint64_t total = 0;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        lambda_api_fail(&st->err, 500, "ServiceException", "cannot make %s: %s", dir,
                        strerror(errno));
        st->failed = 1;
        return 0;
    }
    int rc = zip_extract(zip, len, dir, &limits, &total, cause, sizeof(cause));
    if (rc == -EFBIG)
        INVALID(&st->err, "Unzipped size must be smaller than %u bytes", LAMBDA_UNZIPPED_MAX);
    else if (rc < 0)
        INVALID(&st->err,
                "Could not unzip uploaded file. Please check your file, then try to upload "
                "again. (%s)",
                cause);
    st->failed = rc < 0;
    return total;
}

static void stage_layers(struct lambda_staging *st, uint64_t used)
{
    for (size_t i = 0; i < st->layer_count && !st->failed; i++) {
        struct buf zip = BUF_INIT;
        if (buf_read_file(&zip, st->layer_zips[i], LAMBDA_ZIP_MAX) < 0) {
            lambda_api_fail(&st->err, 500, "ServiceException", "cannot read layer %zu", i);
            st->failed = 1;
        } else {
            /* Later layers overwrite earlier ones' files, as in /opt. */
            used += extract(st, buf_bytes(&zip), buf_length(&zip), st->opt_dir,
                            LAMBDA_UNZIPPED_MAX - used);
        }
        buf_free(&zip);
    }
}

static void stage_work(uv_work_t *work)
{
    struct lambda_staging *st = work->data;
    uint64_t used = 0;
    if (buf_length(&st->zip) > 0) {
        sha256_base64(buf_bytes(&st->zip), buf_length(&st->zip), st->sha256);
        if (write_file(st->code_zip, buf_bytes(&st->zip), buf_length(&st->zip)) < 0) {
            lambda_api_fail(&st->err, 500, "ServiceException", "cannot store the zip");
            st->failed = 1;
            return;
        }
        used = extract(st, buf_bytes(&st->zip), buf_length(&st->zip), st->code_dir,
                       LAMBDA_UNZIPPED_MAX);
    }
    if (!st->failed && st->new_opt)
        stage_layers(st, used);
    if (!st->failed)
        choose_bootstrap(st);
}

/* ---- installing ---- */

static void new_revision(struct lambda_deployment *d)
{
    random_uuid(d->revision);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char date[32];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(d->last_modified, sizeof(d->last_modified), "%s.%03ld+0000", date,
             ts.tv_nsec / 1000000);
}

static void retire_folder(struct lambda_deployment *d, const char *path)
{
    struct lambda_retired *r = calloc(1, sizeof(*r));
    if (!r) {
        log_warn("%s: out of memory: %s stays until exit", d->function->config->name, path);
        return;
    }
    r->generation = d->function->generation;
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->next = d->retired;
    d->retired = r;
}

/* The staged change becomes the function's: new sandboxes run it. */
static void install(struct lambda_deployment *d, struct lambda_staging *st)
{
    struct lambda_config *run = NULL;
    if (st->cannot_run[0] ||
        build_run_config(d->function->config->name, st->settings, st, &run) < 0) {
        const char *why = st->cannot_run[0] ? st->cannot_run : "out of memory";
        snprintf(d->reason, sizeof(d->reason), "%s", why);
        snprintf(d->reason_code, sizeof(d->reason_code), "InvalidEntrypoint");
        if (st->creating)
            d->state = LAMBDA_STATE_FAILED;
        else
            d->update = LAMBDA_UPDATE_FAILED;
        log_warn("%s: the change cannot run: %s", d->function->config->name, why);
        if (buf_length(&st->zip) > 0) {
            remove_tree(st->code_dir);
            unlink(st->code_zip);
        }
        if (st->new_opt)
            remove_tree(st->opt_dir);
        return;
    }
    lambda_function_retire(d->function, "its function has new code or configuration");
    if (buf_length(&st->zip) > 0 && d->code_dir[0] && !st->creating) {
        retire_folder(d, d->code_dir);
        unlink(d->code_zip);
    }
    if (st->new_opt && d->opt_dir[0])
        retire_folder(d, d->opt_dir);
    lambda_config_free(d->run);
    d->run = run;
    d->function->config = &run->functions[0];
    snprintf(d->code_dir, sizeof(d->code_dir), "%s", st->code_dir);
    snprintf(d->code_zip, sizeof(d->code_zip), "%s", st->code_zip);
    snprintf(d->opt_dir, sizeof(d->opt_dir), "%s", st->opt_dir);
    if (st->creating)
        d->state = LAMBDA_STATE_ACTIVE;
    else
        d->update = LAMBDA_UPDATE_SUCCESSFUL;
    d->reason[0] = d->reason_code[0] = '\0';
}

static void staging_free(struct lambda_staging *st)
{
    json_decref(st->settings);
    buf_free(&st->zip);
    for (size_t i = 0; i < st->layer_count; i++)
        free(st->layer_zips[i]);
    free(st);
}

static void work_finished(struct lambda_service *s)
{
    s->servers_open--;
    lambda_service_check_stopped(s);
}

static void settled(uv_work_t *work, int status)
{
    struct lambda_staging *st = work->data;
    struct lambda_deployment *d = st->d;
    struct lambda_service *s = d->control->service;
    d->staging = NULL;
    if (status == 0 && s->state == LAMBDA_SERVICE_RUNNING && d->function)
        install(d, st);
    staging_free(st);
    work_finished(s);
}

static void settle_work(uv_work_t *work)
{
    (void)work;
    usleep(LAMBDA_SETTLE_MS * 1000);
}

static void discard_deployment(struct lambda_deployment *d);

/* The code is in place: answer, then settle before installing. */
static void staged(uv_work_t *work, int status)
{
    struct lambda_staging *st = work->data;
    struct lambda_deployment *d = st->d;
    struct lambda_service *s = d->control->service;
    if (status < 0 || s->state != LAMBDA_SERVICE_RUNNING) {
        st->failed = 1;
        lambda_api_fail(&st->err, 503, "ServiceException", "the service is stopping");
    }
    if (st->failed) {
        if (buf_length(&st->zip) > 0) {
            remove_tree(st->code_dir);
            unlink(st->code_zip);
        }
        if (st->new_opt)
            remove_tree(st->opt_dir);
    } else if (buf_length(&st->zip) > 0) {
        snprintf(d->code_sha256, sizeof(d->code_sha256), "%s", st->sha256);
        d->code_size = buf_length(&st->zip);
        unsigned char token[16];
        random_bytes(token, sizeof(token));
        hex_encode(d->code_token, token, sizeof(token));
    }
    if (!st->failed) {
        json_decref(d->settings);
        d->settings = json_incref(st->settings);
        if (st->restoring) {
            snprintf(d->revision, sizeof(d->revision), "%s", st->revision);
            snprintf(d->last_modified, sizeof(d->last_modified), "%s", st->last_modified);
        } else {
            new_revision(d);
            lambda_state_save_function(d, buf_length(&st->zip) > 0 ? &st->zip : NULL);
        }
    } else if (!st->creating) {
        d->update = st->previous; /* refused: nothing changed */
    }
    if (st->done)
        st->done(st->ctx, d, st->failed ? &st->err : NULL);
    if (st->failed) {
        d->staging = NULL;
        if (st->creating)
            discard_deployment(d);
        staging_free(st);
        work_finished(s);
        return;
    }
    st->done = NULL;
    if (uv_queue_work(s->loop, &st->work, settle_work, settled) < 0)
        settled(&st->work, -1);
}

static void start_staging(struct lambda_deployment *d, struct lambda_staging *st)
{
    struct lambda_service *s = d->control->service;
    st->d = d;
    st->work.data = st;
    snprintf(st->home, sizeof(st->home), "%s", d->control->home);
    snprintf(st->runtime, sizeof(st->runtime), "%s", setting(st->settings, "Runtime"));
    d->staging = st;
    s->servers_open++; /* the work: the service waits for it to end */
    if (uv_queue_work(s->loop, &st->work, stage_work, staged) < 0)
        staged(&st->work, -1);
}

void lambda_deploy_forget(struct lambda_deployment *d)
{
    if (d->staging)
        d->staging->done = NULL;
}

/* Where the change's code and /opt go; layers' zips to extract. */
static int plan_folders(struct lambda_deployment *d, struct lambda_staging *st, int new_code,
                        struct lambda_api_error *err)
{
    struct lambda_control *c = d->control;
    unsigned n = ++c->serial;
    const char *name = d->function->config->name;
    if (new_code) {
        snprintf(st->code_dir, sizeof(st->code_dir), "%s/%s-code-%u", c->dir, name, n);
        snprintf(st->code_zip, sizeof(st->code_zip), "%s/%s-code-%u.zip", c->dir, name, n);
    } else {
        snprintf(st->code_dir, sizeof(st->code_dir), "%s", d->code_dir);
        snprintf(st->code_zip, sizeof(st->code_zip), "%s", d->code_zip);
    }
    /* A new function has no /opt yet; an update keeps its /opt when its
     * layers stay the same. */
    json_t *old = st->creating ? NULL : json_object_get(d->settings, "Layers");
    json_t *now = json_object_get(st->settings, "Layers");
    st->new_opt = !json_equal(old, now) && json_array_size(now) > 0;
    /* Same layers: the same /opt. None: none. */
    if (!st->new_opt && json_array_size(now) > 0)
        snprintf(st->opt_dir, sizeof(st->opt_dir), "%s", d->opt_dir);
    if (!st->new_opt)
        return 0;
    snprintf(st->opt_dir, sizeof(st->opt_dir), "%s/%s-opt-%u", c->dir, name, n);
    size_t i;
    json_t *arn;
    json_array_foreach(now, i, arn)
    {
        struct lambda_layer_version *v = lambda_layer_find_arn(c, json_string_value(arn));
        if (!v || !(st->layer_zips[i] = strdup(v->zip_path))) {
            lambda_api_fail(err, 500, "ServiceException", "out of memory");
            return -ENOMEM;
        }
        st->layer_count = i + 1;
    }
    return 0;
}

/* ---- create, update, delete ---- */

static int decode_zip(json_t *code, struct buf *zip, const char *operation,
                      struct lambda_api_error *err)
{
    json_t *zip_file = json_object_get(code, "ZipFile");
    if (json_object_get(code, "ImageUri")) {
        INVALID(err, "Container images are not supported by tether lambda: upload a .zip "
                     "(PackageType Zip)");
        return -EINVAL;
    }
    if (json_object_get(code, "S3Bucket") || json_object_get(code, "S3Key")) {
        INVALID(err, "tether lambda has no S3: upload the .zip in ZipFile");
        return -EINVAL;
    }
    if (!json_is_string(zip_file)) {
        INVALID(err, "ZipFile is required (the deployment package, base64)");
        return -EINVAL;
    }
    if (base64_decode(zip, json_string_value(zip_file), json_string_length(zip_file)) < 0) {
        INVALID(err, "ZipFile is not base64");
        return -EINVAL;
    }
    if (buf_length(zip) > LAMBDA_ZIP_MAX) {
        lambda_api_fail(err, 413, "RequestEntityTooLargeException",
                        "Request must be smaller than %u bytes for the %s operation",
                        (unsigned)LAMBDA_UPLOAD_REQUEST_MAX, operation);
        return -EFBIG;
    }
    return 0;
}

static int check_create(struct lambda_control *c, json_t *request, char *name, size_t name_cap,
                        struct lambda_api_error *err)
{
    const char *package = json_string_value(json_object_get(request, "PackageType"));
    if (package && strcmp(package, "Zip") != 0) {
        INVALID(err, "Container images are not supported by tether lambda: only PackageType Zip");
        return -EINVAL;
    }
    const char *given = json_string_value(json_object_get(request, "FunctionName"));
    if (!given) {
        INVALID(err, "FunctionName is required");
        return -EINVAL;
    }
    function_name_of(given, name, name_cap);
    size_t len = strlen(name);
    if (len == 0 || len > LAMBDA_MAX_NAME ||
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != len) {
        INVALID(err, "FunctionName must be 1 to 64 letters, digits, '-' or '_'");
        return -EINVAL;
    }
    if (lambda_service_find_function(c->service, name, len)) {
        lambda_api_fail(err, 409, "ResourceConflictException", "Function already exist: %s", name);
        return -EEXIST;
    }
    if (c->count >= LAMBDA_MAX_DEPLOYED) {
        lambda_api_fail(err, 400, "CodeStorageExceededException",
                        "tether lambda holds at most %d functions", LAMBDA_MAX_DEPLOYED);
        return -E2BIG;
    }
    if (!json_object_get(request, "Role") || !json_object_get(request, "Runtime")) {
        INVALID(err, "Runtime and Role are required");
        return -EINVAL;
    }
    return 0;
}

/* A placeholder runnable configuration (no command yet) so the function
 * has a name while it is Pending. */
static int new_deployment(struct lambda_control *c, const char *name, json_t *settings,
                          json_t *tags, struct lambda_deployment **out)
{
    struct lambda_deployment *d = calloc(1, sizeof(*d));
    struct lambda_function *f = calloc(1, sizeof(*f));
    struct lambda_deployment **grown =
        realloc(c->deployments, (c->count + 1) * sizeof(*c->deployments));
    struct lambda_staging none = {0};
    snprintf(none.code_dir, sizeof(none.code_dir), "%s", c->dir);
    if (grown)
        c->deployments = grown;
    if (!d || !f || !grown || build_run_config(name, settings, &none, &d->run) < 0) {
        free(d);
        free(f);
        return -ENOMEM;
    }
    d->control = c;
    d->function = f;
    d->settings = json_incref(settings);
    d->tags = json_incref(tags);
    d->state = LAMBDA_STATE_PENDING;
    snprintf(d->reason, sizeof(d->reason), "The function is being created.");
    snprintf(d->reason_code, sizeof(d->reason_code), "Creating");
    lambda_function_init(c->service, f, &d->run->functions[0]);
    f->deployment = d;
    /* Appended to the service's list: found by name from now on. */
    struct lambda_function **tail = &c->service->deployed;
    while (*tail)
        tail = &(*tail)->next;
    *tail = f;
    c->deployments[c->count++] = d;
    *out = d;
    return 0;
}

static int check_tags(json_t *tags, struct lambda_api_error *err)
{
    const char *key;
    json_t *value;
    if (!json_is_object(tags) || json_object_size(tags) > LAMBDA_MAX_TAGS) {
        INVALID(err, "Tags must be an object of at most %d tags", LAMBDA_MAX_TAGS);
        return -EINVAL;
    }
    json_object_foreach(tags, key, value)
    {
        if (strlen(key) == 0 || strlen(key) > 128 || strncmp(key, "aws:", 4) == 0 ||
            !json_fields_is_plain_string(value) || json_string_length(value) > 256) {
            INVALID(err,
                    "Tag %.128s: a key is 1 to 128 characters not starting with aws:, a "
                    "value a string of at most 256",
                    key);
            return -EINVAL;
        }
    }
    return 0;
}

int lambda_deploy_create(struct lambda_control *c, json_t *request, lambda_deploy_done done,
                         void *ctx, struct lambda_deployment **out, struct lambda_api_error *err)
{
    char name[LAMBDA_MAX_NAME + 2];
    int rc = check_create(c, request, name, sizeof(name), err);
    json_t *settings = rc == 0 ? default_settings(name) : NULL;
    json_t *tags = json_object_get(request, "Tags");
    tags = tags ? json_incref(tags) : json_object();
    struct lambda_staging *st = calloc(1, sizeof(*st));
    if (rc == 0 && (!settings || !tags || !st)) {
        lambda_api_fail(err, 500, "ServiceException", "out of memory");
        rc = -ENOMEM;
    }
    if (rc == 0)
        rc = apply_settings(c, settings, request, update_keys, err);
    if (rc == 0)
        rc = check_tags(tags, err);
    if (rc == 0)
        rc = decode_zip(json_object_get(request, "Code"), &st->zip, "CreateFunction", err);
    struct lambda_deployment *d = NULL;
    if (rc == 0 && (rc = new_deployment(c, name, settings, tags, &d)) < 0)
        lambda_api_fail(err, 500, "ServiceException", "out of memory");
    json_decref(tags);
    if (rc == 0) {
        st->settings = json_incref(settings);
        st->creating = 1;
        st->done = done;
        st->ctx = ctx;
        if ((rc = plan_folders(d, st, 1, err)) < 0)
            discard_deployment(d);
    }
    json_decref(settings);
    if (rc < 0) {
        if (st)
            staging_free(st);
        return rc;
    }
    *out = d;
    start_staging(d, st);
    return 0;
}

int lambda_deploy_restore(struct lambda_control *c, const char *name, json_t *settings,
                          json_t *tags, struct buf *zip, const char *revision,
                          const char *last_modified, struct lambda_api_error *err)
{
    struct lambda_deployment *d = NULL;
    struct lambda_staging *st = calloc(1, sizeof(*st));
    if (!st || lambda_service_find_function(c->service, name, strlen(name)) ||
        new_deployment(c, name, settings, tags, &d) < 0) {
        free(st);
        lambda_api_fail(err, 500, "ServiceException", "cannot restore %s", name);
        return -EINVAL;
    }
    st->settings = json_incref(settings);
    st->zip = *zip;
    buf_init(zip);
    st->creating = st->restoring = 1;
    snprintf(st->revision, sizeof(st->revision), "%s", revision);
    snprintf(st->last_modified, sizeof(st->last_modified), "%s", last_modified);
    if (plan_folders(d, st, 1, err) < 0) {
        discard_deployment(d);
        staging_free(st);
        return -EINVAL;
    }
    start_staging(d, st);
    return 0;
}

static int check_revision(struct lambda_deployment *d, json_t *request,
                          struct lambda_api_error *err)
{
    const char *revision = json_string_value(json_object_get(request, "RevisionId"));
    if (!revision || strcmp(revision, d->revision) == 0)
        return 0;
    lambda_api_fail(err, 412, "PreconditionFailedException",
                    "The Revision Id provided does not match the latest Revision Id. Call the "
                    "GetFunction/GetAlias API to retrieve the latest Revision Id");
    return -EAGAIN;
}

int lambda_deploy_check_idle(struct lambda_deployment *d, struct lambda_api_error *err)
{
    if (!d->staging && d->state != LAMBDA_STATE_PENDING)
        return 0;
    lambda_api_fail(err, 409, "ResourceConflictException",
                    "The operation cannot be performed at this time. An update is in progress "
                    "for resource: %s",
                    d->function->arn);
    return -EBUSY;
}

int lambda_deploy_update(struct lambda_deployment *d, json_t *request, int code,
                         lambda_deploy_done done, void *ctx, struct lambda_api_error *err)
{
    int rc = lambda_deploy_check_idle(d, err);
    if (rc == 0)
        rc = check_revision(d, request, err);
    struct lambda_staging *st = rc == 0 ? calloc(1, sizeof(*st)) : NULL;
    if (rc == 0 && (!st || !(st->settings = json_deep_copy(d->settings)))) {
        lambda_api_fail(err, 500, "ServiceException", "out of memory");
        rc = -ENOMEM;
    }
    if (rc == 0 && code)
        rc = decode_zip(request, &st->zip, "UpdateFunctionCode", err);
    else if (rc == 0) {
        rc = apply_settings(d->control, st->settings, request, update_keys, err);
    }
    if (rc == 0)
        rc = plan_folders(d, st, code, err);
    if (rc < 0) {
        if (st)
            staging_free(st);
        return rc;
    }
    st->done = done;
    st->ctx = ctx;
    st->previous = d->update;
    d->update = LAMBDA_UPDATE_IN_PROGRESS;
    d->reason[0] = d->reason_code[0] = '\0';
    start_staging(d, st);
    return 0;
}

static void free_retired(struct lambda_deployment *d, unsigned below)
{
    for (struct lambda_retired **p = &d->retired; *p;) {
        struct lambda_retired *r = *p;
        if (r->generation < below) {
            remove_tree(r->path);
            *p = r->next;
            free(r);
        } else {
            p = &r->next;
        }
    }
}

void lambda_deploy_sandbox_gone(struct lambda_function *f)
{
    unsigned oldest = f->generation + 1;
    for (const struct lambda_sandbox *sb = f->sandboxes; sb; sb = sb->next)
        oldest = sb->generation < oldest ? sb->generation : oldest;
    free_retired(f->deployment, oldest);
}

/* Off the service's list and the control's; kept in the service's list of
 * removed functions (invocations may still point at it) until it stops. */
static void unlist(struct lambda_deployment *d)
{
    struct lambda_control *c = d->control;
    struct lambda_service *s = c->service;
    for (struct lambda_function **p = &s->deployed; *p; p = &(*p)->next)
        if (*p == d->function) {
            *p = d->function->next;
            break;
        }
    d->function->next = s->removed;
    s->removed = d->function;
    for (size_t i = 0; i < c->count; i++)
        if (c->deployments[i] == d) {
            memmove(&c->deployments[i], &c->deployments[i + 1],
                    (c->count - i - 1) * sizeof(*c->deployments));
            c->count--;
            break;
        }
}

static void discard_deployment(struct lambda_deployment *d)
{
    unlist(d);
    lambda_function_cancel_queued(d->function);
    lambda_function_stop_sandboxes(d->function, "its function was deleted");
    free_retired(d, UINT_MAX);
    remove_tree(d->code_dir);
    if (d->code_zip[0])
        unlink(d->code_zip);
    remove_tree(d->opt_dir);
    d->code_dir[0] = d->opt_dir[0] = d->code_zip[0] = '\0';
}

int lambda_deploy_delete(struct lambda_deployment *d)
{
    if (d->staging)
        d->staging->done = NULL;
    lambda_state_remove_function(d);
    discard_deployment(d);
    return 0;
}

int lambda_deploy_tag(struct lambda_deployment *d, json_t *tags, struct lambda_api_error *err)
{
    json_t *merged = json_deep_copy(d->tags);
    if (!merged || json_object_update(merged, tags) < 0) {
        json_decref(merged);
        lambda_api_fail(err, 500, "ServiceException", "out of memory");
        return -ENOMEM;
    }
    int rc = check_tags(tags, err) < 0 || check_tags(merged, err) < 0 ? -EINVAL : 0;
    if (rc == 0) {
        json_decref(d->tags);
        d->tags = merged;
        lambda_state_save_function(d, NULL);
    } else {
        json_decref(merged);
    }
    return rc;
}

/* ---- layers ---- */

static void layer_arn(struct lambda_control *c, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "arn:aws:lambda:%s:%s:layer:%s", lambda_control_region(c),
             lambda_control_account(c), name);
}

struct lambda_layer_version *lambda_layer_find(struct lambda_control *c, const char *name,
                                               unsigned version)
{
    for (struct lambda_layer_version *v = c->layers; v; v = v->next)
        if (strcmp(v->name, name) == 0 && v->version == version)
            return v;
    return NULL;
}

struct lambda_layer_version *lambda_layer_find_arn(struct lambda_control *c, const char *arn)
{
    for (struct lambda_layer_version *v = c->layers; v; v = v->next)
        if (strcmp(v->arn, arn) == 0)
            return v;
    return NULL;
}

struct lambda_layer_version *lambda_layer_next(struct lambda_control *c, const char *name,
                                               struct lambda_layer_version *after)
{
    /* The list is newest first. */
    for (struct lambda_layer_version *v = after ? after->next : c->layers; v; v = v->next)
        if (strcmp(v->name, name) == 0 && !v->deleted)
            return v;
    return NULL;
}

void lambda_layer_delete(struct lambda_control *c, struct lambda_layer_version *v)
{
    /* Its zip stays: functions that use it keep using it, as on AWS. */
    v->deleted = 1;
    lambda_state_save_layer(c, v, NULL);
}

static int valid_layer_name(const char *name)
{
    size_t len = strlen(name);
    return len > 0 && len <= 64 &&
           strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == len;
}

/* Checks the zip the way a function's would be extracted, without writing. */
static int noop_begin(void *user, const struct zip_entry *e)
{
    (void)user;
    (void)e;
    return 0;
}

static int noop_data(void *user, const void *bytes, size_t len)
{
    (void)user;
    (void)bytes;
    (void)len;
    return 0;
}

static int check_layer_zip(const struct buf *zip, struct lambda_api_error *err)
{
    static const struct zip_walk_ops ops = {noop_begin, noop_data, noop_begin};
    const struct zip_limits limits = {LAMBDA_ZIP_MAX_ENTRIES, LAMBDA_UNZIPPED_MAX};
    char cause[300];
    int rc = zip_walk(buf_bytes(zip), buf_length(zip), &limits, &ops, NULL, cause, sizeof(cause));
    if (rc == -EFBIG)
        INVALID(err, "Unzipped size must be smaller than %u bytes", LAMBDA_UNZIPPED_MAX);
    else if (rc < 0)
        INVALID(err,
                "Could not unzip uploaded file. Please check your file, then try to upload "
                "again. (%s)",
                cause);
    return rc;
}

int lambda_layer_publish(struct lambda_control *c, const char *name, json_t *request,
                         struct lambda_layer_version **out, struct lambda_api_error *err)
{
    if (!valid_layer_name(name)) {
        INVALID(err, "LayerName must be 1 to 64 letters, digits, '-' or '_'");
        return -EINVAL;
    }
    if (c->layer_count >= LAMBDA_MAX_LAYER_VERSIONS) {
        lambda_api_fail(err, 400, "CodeStorageExceededException",
                        "tether lambda holds at most %d layer versions", LAMBDA_MAX_LAYER_VERSIONS);
        return -E2BIG;
    }
    struct buf zip = BUF_INIT;
    int rc = decode_zip(json_object_get(request, "Content"), &zip, "PublishLayerVersion", err);
    if (rc == 0)
        rc = check_layer_zip(&zip, err);
    struct lambda_layer_version *v = rc == 0 ? calloc(1, sizeof(*v)) : NULL;
    if (rc == 0 && !v) {
        lambda_api_fail(err, 500, "ServiceException", "out of memory");
        rc = -ENOMEM;
    }
    if (rc < 0) {
        buf_free(&zip);
        return rc;
    }
    unsigned latest = 0;
    for (struct lambda_layer_version *o = c->layers; o; o = o->next)
        latest = strcmp(o->name, name) == 0 && o->version > latest ? o->version : latest;
    snprintf(v->name, sizeof(v->name), "%s", name);
    v->version = latest + 1;
    char base[200];
    layer_arn(c, name, base, sizeof(base));
    snprintf(v->arn, sizeof(v->arn), "%s:%u", base, v->version);
    if (c->state[0])
        snprintf(v->zip_path, sizeof(v->zip_path), "%s/.tether/" LAMBDA_STATE_LAYERS "/%s-%u.zip",
                 c->state, name, v->version);
    else
        snprintf(v->zip_path, sizeof(v->zip_path), "%s/layer-%s-%u.zip", c->dir, name, v->version);
    sha256_base64(buf_bytes(&zip), buf_length(&zip), v->sha256);
    v->code_size = buf_length(&zip);
    char stamp[40];
    struct lambda_deployment scratch = {0};
    new_revision(&scratch);
    snprintf(stamp, sizeof(stamp), "%s", scratch.last_modified);
    snprintf(v->created, sizeof(v->created), "%s", stamp);
    v->meta = json_object();
    static const char *const keys[] = {"Description", "CompatibleRuntimes",
                                       "CompatibleArchitectures", "LicenseInfo"};
    for (size_t i = 0; v->meta && i < 4; i++)
        if (json_object_get(request, keys[i]))
            json_object_set(v->meta, keys[i], json_object_get(request, keys[i]));
    rc = c->state[0] ? lambda_state_save_layer(c, v, &zip)
                     : write_file(v->zip_path, buf_bytes(&zip), buf_length(&zip));
    buf_free(&zip);
    if (rc < 0 || !v->meta) {
        json_decref(v->meta);
        free(v);
        lambda_api_fail(err, 500, "ServiceException", "cannot store the layer: %s", strerror(-rc));
        return rc < 0 ? rc : -ENOMEM;
    }
    v->next = c->layers;
    c->layers = v;
    c->layer_count++;
    *out = v;
    return 0;
}

/* ---- stop ---- */

void lambda_control_stop(struct lambda_service *s)
{
    struct lambda_control *c = s->control;
    for (size_t i = 0; c && i < c->count; i++)
        lambda_deploy_forget(c->deployments[i]);
}

static void free_deployment(struct lambda_deployment *d)
{
    free_retired(d, UINT_MAX);
    json_decref(d->settings);
    json_decref(d->tags);
    lambda_config_free(d->run);
    free(d);
}

void lambda_control_free(struct lambda_service *s)
{
    struct lambda_control *c = s->control;
    for (struct lambda_function *f = s->deployed, *next; f; f = next) {
        next = f->next;
        free_deployment(f->deployment);
        free(f);
    }
    for (struct lambda_function *f = s->removed, *next; f; f = next) {
        next = f->next;
        free_deployment(f->deployment);
        free(f);
    }
    s->deployed = s->removed = NULL;
    if (!c)
        return;
    while (c->layers) {
        struct lambda_layer_version *v = c->layers;
        c->layers = v->next;
        json_decref(v->meta);
        free(v);
    }
    remove_tree(c->dir);
    secure_wipe(c->secret, sizeof(c->secret));
    secure_wipe(c->token, sizeof(c->token));
    free(c->deployments);
    free(c);
    s->control = NULL;
}
