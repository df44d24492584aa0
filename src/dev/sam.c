#include "dev/sam.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/cause.h"
#include "dev/config.h"
#include "dev/sam_yaml.h"

#define MAX_NOTES 500
#define MAX_ENVIRONMENT 200 /* tether.json's own limit */
#define MAX_RESOLVE_DEPTH 16
#define MAX_ID 50 /* a function id is a channel segment */

typedef struct sam_yaml_node node_t;

struct mapper {
    const node_t *parameters;
    const node_t *mappings;
    const node_t *globals; /* Globals.Function */
    const node_t *resources;
    const struct sam_context *context;
    struct sam_template *out;
};

/* ---- notes ---- */

static void note(struct mapper *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct mapper *m, const char *fmt, ...)
{
    struct sam_template *t = m->out;
    if (t->note_count > MAX_NOTES)
        return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (t->note_count == MAX_NOTES)
        snprintf(text, sizeof(text), "more than %d notes; the rest are left out", MAX_NOTES);
    /* The caller prints notes, which quote the template: no control
     * character of it reaches a terminal. */
    for (char *c = text; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    char **notes = realloc(t->notes, (t->note_count + 1) * sizeof(*notes));
    if (!notes)
        return;
    t->notes = notes;
    if ((notes[t->note_count] = strdup(text)))
        t->note_count++;
}

/* ---- intrinsic functions ---- */

/* The one key of a single-key mapping ("Ref", "Fn::Sub"), else NULL. */
static const char *intrinsic_name(const node_t *n, const node_t **argument)
{
    if (!n || n->kind != SAM_YAML_MAPPING || n->count != 2)
        return NULL;
    *argument = n->items[1];
    return n->items[0]->text;
}

static int resolve(const struct mapper *m, const node_t *n, struct buf *out, int depth, char *why,
                   size_t why_len);

static int append_capped(struct buf *out, const char *text, size_t len, char *why, size_t why_len)
{
    if (buf_length(out) + len > SAM_MAX_VALUE)
        return cause_set(why, why_len, -ENOENT, "longer than %d bytes", SAM_MAX_VALUE);
    return buf_append(out, text, len);
}

static int resolve_ref(const struct mapper *m, const char *name, struct buf *out, int depth,
                       char *why, size_t why_len)
{
    const char *known = NULL;
    if (strcmp(name, "AWS::Region") == 0)
        known = m->context ? m->context->region : NULL;
    else if (strcmp(name, "AWS::StackName") == 0)
        known = m->context ? m->context->stack_name : NULL;
    if (known)
        return append_capped(out, known, strlen(known), why, why_len);
    if (strncmp(name, "AWS::", 5) == 0)
        return cause_set(why, why_len, -ENOENT, "%.40s is known only in AWS", name);
    const node_t *parameter = sam_yaml_get(m->parameters, name);
    const node_t *fallback = sam_yaml_get(parameter, "Default");
    if (parameter && fallback)
        return resolve(m, fallback, out, depth + 1, why, why_len);
    if (parameter)
        return cause_set(why, why_len, -ENOENT, "parameter %.60s has no Default", name);
    return cause_set(why, why_len, -ENOENT, "it refers to %.60s, known only in AWS", name);
}

/* Fn::Sub: "${Name}" from the variables, a parameter or a pseudo parameter;
 * "${!Text}" is the literal "${Text}". */
static int resolve_sub(const struct mapper *m, const node_t *arg, struct buf *out, int depth,
                       char *why, size_t why_len)
{
    const node_t *variables = NULL;
    if (arg->kind == SAM_YAML_SEQUENCE && arg->count == 2) {
        variables = arg->items[1];
        arg = arg->items[0];
    }
    const char *s = sam_yaml_text(arg);
    if (!s)
        return cause_set(why, why_len, -ENOENT, "Fn::Sub over something that is not a string");
    for (;;) {
        const char *open = strstr(s, "${");
        int rc = append_capped(out, s, open ? (size_t)(open - s) : strlen(s), why, why_len);
        if (rc < 0 || !open)
            return rc;
        const char *close = strchr(open, '}');
        if (!close)
            return cause_set(why, why_len, -ENOENT, "Fn::Sub with an unclosed ${");
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)(close - open - 2), open + 2);
        const node_t *given = sam_yaml_get(variables, name);
        if (name[0] == '!') {
            rc = append_capped(out, "${", 2, why, why_len);
            if (rc == 0)
                rc = append_capped(out, open + 3, (size_t)(close - open - 2), why, why_len);
        } else if (given)
            rc = resolve(m, given, out, depth + 1, why, why_len);
        else if (strchr(name, '.'))
            rc = cause_set(why, why_len, -ENOENT, "${%.60s} is known only in AWS", name);
        else
            rc = resolve_ref(m, name, out, depth, why, why_len);
        if (rc < 0)
            return rc;
        s = close + 1;
    }
}

static int resolve_join(const struct mapper *m, const node_t *arg, struct buf *out, int depth,
                        char *why, size_t why_len)
{
    const char *delimiter =
        arg->kind == SAM_YAML_SEQUENCE && arg->count == 2 ? sam_yaml_text(arg->items[0]) : NULL;
    if (!delimiter || arg->items[1]->kind != SAM_YAML_SEQUENCE)
        return cause_set(why, why_len, -ENOENT, "Fn::Join over a list known only in AWS");
    const node_t *list = arg->items[1];
    for (size_t i = 0; i < list->count; i++) {
        int rc = i ? append_capped(out, delimiter, strlen(delimiter), why, why_len) : 0;
        if (rc == 0)
            rc = resolve(m, list->items[i], out, depth + 1, why, why_len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* A resolved argument as a separate string (Fn::Select's index,
 * Fn::FindInMap's keys). */
static int resolve_string(const struct mapper *m, const node_t *n, char *value, size_t value_len,
                          int depth, char *why, size_t why_len)
{
    struct buf b = BUF_INIT;
    int rc = resolve(m, n, &b, depth + 1, why, why_len);
    if (rc == 0 && buf_length(&b) >= value_len)
        rc = cause_set(why, why_len, -ENOENT, "a key longer than %zu bytes", value_len - 1);
    if (rc == 0)
        snprintf(value, value_len, "%.*s", (int)buf_length(&b), buf_bytes(&b));
    buf_free(&b);
    return rc;
}

static int resolve_select(const struct mapper *m, const node_t *arg, struct buf *out, int depth,
                          char *why, size_t why_len)
{
    char index[16];
    if (arg->kind != SAM_YAML_SEQUENCE || arg->count != 2 ||
        arg->items[1]->kind != SAM_YAML_SEQUENCE)
        return cause_set(why, why_len, -ENOENT, "Fn::Select over a list known only in AWS");
    int rc = resolve_string(m, arg->items[0], index, sizeof(index), depth, why, why_len);
    if (rc < 0)
        return rc;
    char *end;
    unsigned long i = strtoul(index, &end, 10);
    if (*end || end == index || i >= arg->items[1]->count)
        return cause_set(why, why_len, -ENOENT, "Fn::Select index %.15s is out of range", index);
    return resolve(m, arg->items[1]->items[i], out, depth + 1, why, why_len);
}

static int resolve_find_in_map(const struct mapper *m, const node_t *arg, struct buf *out,
                               int depth, char *why, size_t why_len)
{
    char keys[3][256];
    if (arg->kind != SAM_YAML_SEQUENCE || arg->count != 3)
        return cause_set(why, why_len, -ENOENT, "Fn::FindInMap needs three arguments");
    for (size_t i = 0; i < 3; i++) {
        int rc = resolve_string(m, arg->items[i], keys[i], sizeof(keys[i]), depth, why, why_len);
        if (rc < 0)
            return rc;
    }
    const node_t *value =
        sam_yaml_get(sam_yaml_get(sam_yaml_get(m->mappings, keys[0]), keys[1]), keys[2]);
    if (!value)
        return cause_set(why, why_len, -ENOENT, "Mappings has no %.60s.%.60s.%.60s", keys[0],
                         keys[1], keys[2]);
    return resolve(m, value, out, depth + 1, why, why_len);
}

/* The string a value stands for, where the template alone decides it:
 * literals, Ref to parameters with a Default and to the pseudo parameters the
 * context knows, and Fn::Sub, Fn::Join, Fn::Select, Fn::FindInMap over such
 * values. Anything else is -ENOENT with why (Fn::GetAtt, Fn::If, Ref to a
 * resource ...): only AWS knows it. */
static int resolve(const struct mapper *m, const node_t *n, struct buf *out, int depth, char *why,
                   size_t why_len)
{
    const node_t *arg = NULL;
    const char *fn = intrinsic_name(n, &arg);
    if (depth > MAX_RESOLVE_DEPTH)
        return cause_set(why, why_len, -ENOENT, "nested too deeply");
    if (n->kind == SAM_YAML_SCALAR)
        return append_capped(out, n->text, strlen(n->text), why, why_len);
    if (fn && strcmp(fn, "Ref") == 0 && sam_yaml_text(arg))
        return resolve_ref(m, arg->text, out, depth, why, why_len);
    if (fn && strcmp(fn, "Fn::Sub") == 0)
        return resolve_sub(m, arg, out, depth, why, why_len);
    if (fn && strcmp(fn, "Fn::Join") == 0)
        return resolve_join(m, arg, out, depth, why, why_len);
    if (fn && strcmp(fn, "Fn::Select") == 0)
        return resolve_select(m, arg, out, depth, why, why_len);
    if (fn && strcmp(fn, "Fn::FindInMap") == 0)
        return resolve_find_in_map(m, arg, out, depth, why, why_len);
    if (fn && strncmp(fn, "Fn::", 4) == 0)
        return cause_set(why, why_len, -ENOENT, "%.40s is known only in AWS", fn);
    return cause_set(why, why_len, -ENOENT, "not a string");
}

/* resolve() into a new string; NULL with why when it cannot be known here
 * (or memory ran out). */
static char *resolve_new(const struct mapper *m, const node_t *n, char *why, size_t why_len)
{
    struct buf b = BUF_INIT;
    if (resolve(m, n, &b, 0, why, why_len) < 0 || buf_terminate(&b) < 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

/* ---- paths ---- */

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* A path inside the project: relative, no "..", no control characters;
 * "./" prefixes and trailing slashes dropped ("" is the project root). NULL
 * for anything else. */
static char *project_path(const char *path)
{
    if (has_control(path))
        return NULL;
    while (strncmp(path, "./", 2) == 0)
        path += 2;
    if (path[0] == '/' || strcmp(path, "..") == 0 || strncmp(path, "../", 3) == 0 ||
        strstr(path, "/../") || (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0))
        return NULL;
    size_t len = strlen(path);
    while (len > 0 && path[len - 1] == '/')
        len--;
    if (len == 1 && path[0] == '.')
        len = 0;
    return strndup(path, len);
}

static char *join_path(const char *dir, const char *rest)
{
    struct buf b = BUF_INIT;
    if ((dir[0] && buf_printf(&b, "%s/", dir) < 0) || buf_printf(&b, "%s", rest) < 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

/* Safe to put into a shell command unquoted: what SAM paths are made of. */
static int shell_safe(const char *s)
{
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/-") ==
           strlen(s);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* ---- one function ---- */

/* Where a property comes from: the resource, else (for SAM functions)
 * Globals.Function: a value in the resource wins whole. Only the
 * environment's map is merged (collect_environment); the lists SAM appends
 * (Layers, Architectures) are not mapped. */
static const node_t *property(const struct mapper *m, const node_t *props, int serverless,
                              const char *name)
{
    const node_t *v = sam_yaml_get(props, name);
    return v || !serverless ? v : sam_yaml_get(m->globals, name);
}

/* A property as a string; NULL (and a note) when only AWS knows it. */
static char *property_text(struct mapper *m, const char *id, const node_t *props, int serverless,
                           const char *name)
{
    const node_t *v = property(m, props, serverless, name);
    char why[200];
    if (!v)
        return NULL;
    char *text = resolve_new(m, v, why, sizeof(why));
    if (!text)
        note(m, "%s: %s is left out: %s", id, name, why);
    return text;
}

/* The code's directory: SAM's CodeUri, or a plain function's local Code
 * path. 0 and the path (maybe ""), or -EINVAL after a note saying why the
 * function is skipped. */
static int code_dir(struct mapper *m, const char *id, const node_t *props, int serverless,
                    char **out)
{
    const char *key = serverless ? "CodeUri" : "Code";
    const node_t *code = property(m, props, serverless, key);
    if ((serverless && property(m, props, serverless, "InlineCode")) ||
        (!serverless && sam_yaml_get(code, "ZipFile"))) {
        note(m, "%s: skipped: its code is inline in the template; tether dev runs files", id);
        return -EINVAL;
    }
    if (!code && serverless) {
        *out = strdup("");
        return *out ? 0 : -ENOMEM;
    }
    char why[200];
    char *path = code ? resolve_new(m, code, why, sizeof(why)) : NULL;
    if (!path) {
        note(m, "%s: skipped: %s is not a local directory (code in S3 is not on this machine)", id,
             key);
        return -EINVAL;
    }
    *out = project_path(path);
    if (*out && (ends_with(*out, ".zip") || ends_with(*out, ".jar"))) {
        note(m, "%s: skipped: %s %.80s is a packaged archive; point it at the source directory", id,
             key, path);
        free(*out);
        *out = NULL;
    } else if (!*out) {
        note(m, "%s: skipped: %s %.80s is not a path inside the project", id, key, path);
    }
    free(path);
    return *out ? 0 : -EINVAL;
}

/* esbuild (SAM's BuildMethod for TypeScript): the entry point whose name
 * matches the handler's module, else the first; tether dev bundles it. */
static const char *esbuild_entry(const node_t *metadata, const char *module)
{
    const char *method = sam_yaml_text(sam_yaml_get(metadata, "BuildMethod"));
    const node_t *entries = sam_yaml_get(sam_yaml_get(metadata, "BuildProperties"), "EntryPoints");
    if (!method || strcmp(method, "esbuild") != 0 || !entries ||
        entries->kind != SAM_YAML_SEQUENCE || entries->count == 0)
        return NULL;
    const char *base = strrchr(module, '/') ? strrchr(module, '/') + 1 : module;
    for (size_t i = 0; i < entries->count; i++) {
        const char *entry = sam_yaml_text(entries->items[i]);
        const char *name = entry && strrchr(entry, '/') ? strrchr(entry, '/') + 1 : entry;
        const char *dot = name ? strrchr(name, '.') : NULL;
        if (dot && (size_t)(dot - name) == strlen(base) && strncmp(name, base, strlen(base)) == 0)
            return entry;
    }
    return sam_yaml_text(entries->items[0]);
}

/* Node.js and Python: the CodeUri is the function's root (its task root, as
 * in Lambda, so a module beside the handler imports) and the handler is
 * Handler, or the esbuild entry point, inside it. */
static int map_handler(struct mapper *m, struct sam_function *f, const char *code,
                       const char *handler, const node_t *metadata)
{
    const char *dot = strrchr(handler, '.');
    if (!dot || dot == handler || !dot[1]) {
        note(m, "%s: skipped: Handler %.80s is not module.function", f->id, handler);
        return -EINVAL;
    }
    char *module = strndup(handler, (size_t)(dot - handler));
    const char *entry = module ? esbuild_entry(metadata, module) : NULL;
    char *path = NULL;
    if (module && entry) {
        const char *ext = strrchr(entry, '.');
        char *stem =
            strndup(entry, ext && !strchr(ext, '/') ? (size_t)(ext - entry) : strlen(entry));
        path = stem ? project_path(stem) : NULL;
        free(stem);
    } else if (module) {
        path = project_path(module);
    }
    free(module);
    if (!path) {
        note(m, "%s: skipped: Handler %.80s is not a path inside the project", f->id, handler);
        return -EINVAL;
    }
    struct buf b = BUF_INIT;
    int rc = buf_printf(&b, "%s%s", path, dot);
    free(path);
    if (rc < 0) {
        buf_free(&b);
        return rc;
    }
    f->handler = buf_steal(&b, NULL);
    if (code[0] && !(f->root = strdup(code)))
        return -ENOMEM;
    return 0;
}

/* A command that builds OUT/bootstrap, for tether.json's "build". */
static char *build_command(const char *method, const char *id, const char *code)
{
    struct buf b = BUF_INIT;
    int rc = buf_printf(&b, "out=\"$PWD/.aws-sam/tether/%s\" && mkdir -p \"$out\" && ", id);
    if (rc == 0 && strcmp(method, "makefile") == 0)
        rc = buf_printf(&b, "make -C %s build-%s ARTIFACTS_DIR=\"$out\"", code[0] ? code : ".", id);
    else if (rc == 0)
        rc = buf_printf(&b, "cd %s && go build -tags lambda.norpc -o \"$out/bootstrap\" .",
                        code[0] ? code : ".");
    if (rc < 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

/* provided.*: the bootstrap, and how it is built when SAM builds it with
 * make (BuildMethod makefile: `make build-ID` with ARTIFACTS_DIR) or Go
 * (go1.x), into .aws-sam/tether/ID; other build methods are the user's. */
static int map_provided(struct mapper *m, struct sam_function *f, const char *code,
                        const node_t *metadata)
{
    const char *method = sam_yaml_text(sam_yaml_get(metadata, "BuildMethod"));
    int builds = method && (strcmp(method, "makefile") == 0 || strcmp(method, "go1.x") == 0);
    if (builds && shell_safe(code)) {
        struct buf b = BUF_INIT;
        if (!(f->build = build_command(method, f->id, code)) ||
            buf_printf(&b, ".aws-sam/tether/%s/bootstrap", f->id) < 0) {
            buf_free(&b);
            return -ENOMEM;
        }
        f->bootstrap = buf_steal(&b, NULL);
        return 0;
    }
    if (builds)
        note(m,
             "%s: its BuildMethod %s is not run: the CodeUri has characters a shell command "
             "would need quoted",
             f->id, method);
    else if (method)
        note(m,
             "%s: BuildMethod %.40s is not run by tether dev; build %s%sbootstrap yourself "
             "or add a \"build\" command",
             f->id, method, code, code[0] ? "/" : "");
    f->bootstrap = join_path(code, "bootstrap");
    return f->bootstrap ? 0 : -ENOMEM;
}

/* Timeout and MemorySize, when the template states them within tether's
 * ranges. */
static void map_number(struct mapper *m, const char *id, const node_t *props, int serverless,
                       const char *name, unsigned min, unsigned max, unsigned *out)
{
    char *text = property_text(m, id, props, serverless, name);
    char *end = NULL;
    unsigned long v = text ? strtoul(text, &end, 10) : 0;
    if (text && (end == text || *end || v < min || v > max))
        note(m, "%s: %s %.20s is left out: tether allows %u to %u", id, name, text, min, max);
    else if (text)
        *out = (unsigned)v;
    free(text);
}

struct env_source {
    const char *name;
    const node_t *value;
};

/* Environment.Variables of Globals.Function and of the resource, merged the
 * way SAM merges maps: the resource's value wins, the globals' order first. */
static size_t collect_environment(struct mapper *m, const char *id, const node_t *props,
                                  int serverless, struct env_source *vars)
{
    const node_t *sources[2] = {
        serverless ? sam_yaml_get(sam_yaml_get(m->globals, "Environment"), "Variables") : NULL,
        sam_yaml_get(sam_yaml_get(props, "Environment"), "Variables"),
    };
    size_t count = 0;
    for (size_t s = 0; s < 2; s++) {
        const node_t *map = sources[s];
        if (map && map->kind != SAM_YAML_MAPPING)
            note(m, "%s: Environment.Variables is left out: only AWS knows its value", id);
        for (size_t i = 0; map && map->kind == SAM_YAML_MAPPING && i < map->count; i += 2) {
            const char *name = map->items[i]->text;
            size_t at = 0;
            while (at < count && strcmp(vars[at].name, name) != 0)
                at++;
            if (at == MAX_ENVIRONMENT) {
                note(m, "%s: more than %d environment variables; the rest are left out", id,
                     MAX_ENVIRONMENT);
                return count;
            }
            vars[at] = (struct env_source){name, map->items[i + 1]};
            count += at == count;
        }
    }
    return count;
}

static int map_environment(struct mapper *m, struct sam_function *f, const node_t *props,
                           int serverless)
{
    struct env_source vars[MAX_ENVIRONMENT];
    size_t count = collect_environment(m, f->id, props, serverless, vars);
    if (count && !(f->environment = calloc(count, sizeof(*f->environment))))
        return -ENOMEM;
    for (size_t i = 0; i < count; i++) {
        char why[200];
        if (!vars[i].name[0] || strchr(vars[i].name, '=')) {
            note(m, "%s: environment variable \"%.40s\" is left out: not a valid name", f->id,
                 vars[i].name);
            continue;
        }
        char *value = resolve_new(m, vars[i].value, why, sizeof(why));
        if (!value) {
            note(m,
                 "%s: environment variable %.60s is left out: %s (attached to the deployed "
                 "function, its real value is used)",
                 f->id, vars[i].name, why);
            continue;
        }
        struct sam_env_var *v = &f->environment[f->environment_count];
        if (!(v->name = strdup(vars[i].name))) {
            free(value);
            return -ENOMEM;
        }
        v->value = value;
        f->environment_count++;
    }
    return 0;
}

static void map_url(struct mapper *m, struct sam_function *f, const node_t *props, int serverless)
{
    const node_t *config = property(m, props, serverless, "FunctionUrlConfig");
    if (!config || !serverless)
        return;
    const char *mode = sam_yaml_text(sam_yaml_get(config, "InvokeMode"));
    const char *auth = sam_yaml_text(sam_yaml_get(config, "AuthType"));
    f->url = 1;
    f->streaming = mode && strcmp(mode, "RESPONSE_STREAM") == 0;
    if (auth && strcmp(auth, "AWS_IAM") == 0)
        note(m, "%s: its function URL uses AWS_IAM auth; tether dev's local URL does not check it",
             f->id);
}

/* Events reach the deployed function; tether dev serves function URLs and
 * the Invoke API only. */
static void map_events(struct mapper *m, const char *id, const node_t *props)
{
    const node_t *events = sam_yaml_get(props, "Events");
    for (size_t i = 0; events && events->kind == SAM_YAML_MAPPING && i < events->count; i += 2) {
        const node_t *event = events->items[i + 1];
        const char *type = sam_yaml_text(sam_yaml_get(event, "Type"));
        const node_t *p = sam_yaml_get(event, "Properties");
        const char *method = sam_yaml_text(sam_yaml_get(p, "Method"));
        const char *path = sam_yaml_text(sam_yaml_get(p, "Path"));
        type = type ? type : "?";
        if (strcmp(type, "Api") == 0 || strcmp(type, "HttpApi") == 0)
            note(m,
                 "%s: event %s (%s %s %s) is API Gateway, which tether dev does not serve "
                 "locally; call it with `tether invoke %s`",
                 id, events->items[i]->text, type, method ? method : "ANY", path ? path : "/", id);
        else
            note(m,
                 "%s: event %s (%.40s) reaches only the deployed function; locally, send one "
                 "with `tether invoke %s --event FILE`",
                 id, events->items[i]->text, type, id);
    }
}

/* The runtime, checked against the one table of runtimes (dev/config.c). */
static int map_runtime(struct mapper *m, struct sam_function *f, const node_t *props,
                       int serverless, enum dev_runtime *runtime)
{
    char reason[512];
    f->runtime = property_text(m, f->id, props, serverless, "Runtime");
    if (!f->runtime) {
        note(m, "%s: skipped: no Runtime it states", f->id);
        return -EINVAL;
    }
    int rc = dev_runtime_lookup(f->runtime, runtime, reason, sizeof(reason));
    if (rc < 0)
        note(m, "%s: skipped: runtime %s", f->id, reason);
    else if (rc == 1)
        note(m, "%s: %s", f->id, reason);
    return rc < 0 ? -EINVAL : 0;
}

static int map_code(struct mapper *m, struct sam_function *f, const node_t *resource,
                    const node_t *props, int serverless, enum dev_runtime runtime)
{
    char *code = NULL;
    const node_t *metadata = sam_yaml_get(resource, "Metadata");
    int rc = code_dir(m, f->id, props, serverless, &code);
    char *handler = rc == 0 ? property_text(m, f->id, props, serverless, "Handler") : NULL;
    if (handler && has_control(handler)) {
        note(m, "%s: skipped: its Handler holds control characters", f->id);
        rc = -EINVAL;
    } else if (rc == 0 && runtime == DEV_RUNTIME_PROVIDED) {
        f->handler = handler;
        handler = NULL;
        rc = map_provided(m, f, code, metadata);
    } else if (rc == 0 && !handler) {
        note(m, "%s: skipped: no Handler", f->id);
        rc = -EINVAL;
    } else if (rc == 0) {
        rc = map_handler(m, f, code, handler, metadata);
    }
    free(handler);
    free(code);
    return rc;
}

static int map_function(struct mapper *m, struct sam_function *f, const node_t *resource,
                        int serverless)
{
    const node_t *props = sam_yaml_get(resource, "Properties");
    const char *package = sam_yaml_text(property(m, props, serverless, "PackageType"));
    enum dev_runtime runtime;
    if ((package && strcmp(package, "Image") == 0) || property(m, props, serverless, "ImageUri")) {
        note(m, "%s: skipped: a container image function (tether dev runs zip functions)", f->id);
        return -EINVAL;
    }
    int rc = map_runtime(m, f, props, serverless, &runtime);
    if (rc == 0)
        rc = map_code(m, f, resource, props, serverless, runtime);
    if (rc < 0)
        return rc;
    map_number(m, f->id, props, serverless, "Timeout", 1, 900, &f->timeout_s);
    map_number(m, f->id, props, serverless, "MemorySize", 128, 10240, &f->memory_mb);
    map_url(m, f, props, serverless);
    if (property(m, props, serverless, "Layers"))
        note(m,
             "%s: its Layers are not there locally; the handler runs with the project's own "
             "dependencies",
             f->id);
    map_events(m, f->id, props);
    return map_environment(m, f, props, serverless);
}

static void free_function(struct sam_function *f)
{
    free(f->id);
    free(f->runtime);
    free(f->root);
    free(f->handler);
    free(f->bootstrap);
    free(f->build);
    for (size_t i = 0; i < f->environment_count; i++) {
        free(f->environment[i].name);
        free(f->environment[i].value);
    }
    free(f->environment);
    memset(f, 0, sizeof(*f));
}

/* A logical id that can be a function id (a channel segment). */
static int valid_id(const char *id)
{
    size_t n = strlen(id);
    return n > 0 && n <= MAX_ID &&
           strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") == n;
}

static int add_function(struct mapper *m, const char *id, const node_t *resource, int serverless)
{
    struct sam_template *t = m->out;
    if (!valid_id(id)) {
        note(m, "%.60s: skipped: a function id must be 1-%d letters or digits", id, MAX_ID);
        return 0;
    }
    for (size_t i = 0; i < t->function_count; i++)
        if (strcmp(t->functions[i].id, id) == 0) {
            note(m, "%s: skipped: the template declares it more than once", id);
            return 0;
        }
    if (t->function_count == SAM_MAX_FUNCTIONS) {
        note(m, "%s: skipped: more than %d functions", id, SAM_MAX_FUNCTIONS);
        return 0;
    }
    struct sam_function *f = &t->functions[t->function_count];
    memset(f, 0, sizeof(*f));
    if (!(f->id = strdup(id)))
        return -ENOMEM;
    int rc = map_function(m, f, resource, serverless);
    if (rc == 0)
        t->function_count++;
    else
        free_function(f);
    return rc == -ENOMEM ? rc : 0;
}

/* An AWS::Lambda::Url resource gives its target function a URL. */
static void map_url_resource(struct mapper *m, const node_t *resource)
{
    const node_t *props = sam_yaml_get(resource, "Properties");
    const node_t *arg = NULL;
    const char *fn = intrinsic_name(sam_yaml_get(props, "TargetFunctionArn"), &arg);
    char target[MAX_ID + 8] = "";
    if (fn && strcmp(fn, "Ref") == 0 && sam_yaml_text(arg))
        snprintf(target, sizeof(target), "%s", arg->text);
    else if (fn && strcmp(fn, "Fn::GetAtt") == 0 && sam_yaml_text(arg) && strchr(arg->text, '.'))
        snprintf(target, sizeof(target), "%.*s", (int)(strchr(arg->text, '.') - arg->text),
                 arg->text);
    else if (fn && strcmp(fn, "Fn::GetAtt") == 0 && arg->kind == SAM_YAML_SEQUENCE &&
             arg->count == 2 && sam_yaml_text(arg->items[0]))
        snprintf(target, sizeof(target), "%s", arg->items[0]->text);
    const char *mode = sam_yaml_text(sam_yaml_get(props, "InvokeMode"));
    for (size_t i = 0; i < m->out->function_count; i++) {
        struct sam_function *f = &m->out->functions[i];
        if (strcmp(f->id, target) == 0) {
            f->url = 1;
            f->streaming = mode && strcmp(mode, "RESPONSE_STREAM") == 0;
        }
    }
}

static int map_resources(struct mapper *m)
{
    const node_t *r = m->resources;
    size_t pass;
    for (pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < r->count; i += 2) {
            const char *type = sam_yaml_text(sam_yaml_get(r->items[i + 1], "Type"));
            int serverless = type && strcmp(type, "AWS::Serverless::Function") == 0;
            int rc = 0;
            if (pass == 0 && (serverless || (type && strcmp(type, "AWS::Lambda::Function") == 0)))
                rc = add_function(m, r->items[i]->text, r->items[i + 1], serverless);
            else if (pass == 1 && type && strcmp(type, "AWS::Lambda::Url") == 0)
                map_url_resource(m, r->items[i + 1]);
            if (rc < 0)
                return rc;
        }
    return 0;
}

int sam_template_parse(const char *text, size_t len, const struct sam_context *context,
                       struct sam_template *out, char *cause, size_t cause_len)
{
    node_t *root = NULL;
    memset(out, 0, sizeof(*out));
    int rc = sam_yaml_parse(text, len, &root, cause, cause_len);
    if (rc < 0)
        return rc;
    struct mapper m = {
        .parameters = sam_yaml_get(root, "Parameters"),
        .mappings = sam_yaml_get(root, "Mappings"),
        .globals = sam_yaml_get(sam_yaml_get(root, "Globals"), "Function"),
        .resources = sam_yaml_get(root, "Resources"),
        .context = context,
        .out = out,
    };
    if (!m.resources || m.resources->kind != SAM_YAML_MAPPING)
        rc = cause_set(cause, cause_len, -EINVAL, "no Resources section: not a SAM template");
    else if (!(out->functions = calloc(SAM_MAX_FUNCTIONS, sizeof(*out->functions))))
        rc = -ENOMEM;
    if (rc == 0)
        rc = map_resources(&m);
    if (rc == -ENOMEM)
        cause_set(cause, cause_len, rc, "out of memory");
    sam_yaml_release(root);
    if (rc < 0)
        sam_template_free(out);
    return rc;
}

int sam_template_load(const char *path, const struct sam_context *context, struct sam_template *out,
                      char *cause, size_t cause_len)
{
    struct buf text = BUF_INIT;
    char why[256];
    memset(out, 0, sizeof(*out));
    int rc = buf_read_file(&text, path, SAM_MAX_BYTES);
    if (rc == -EFBIG)
        rc = cause_set(cause, cause_len, -EINVAL, "%s: larger than %d bytes", path, SAM_MAX_BYTES);
    else if (rc < 0)
        cause_set(cause, cause_len, rc, "cannot read %s: %s", path, strerror(-rc));
    else if ((rc = sam_template_parse(buf_bytes(&text), buf_length(&text), context, out, why,
                                      sizeof(why))) < 0)
        cause_set(cause, cause_len, rc, "%s: %s", path, why);
    buf_free(&text);
    return rc;
}

void sam_template_free(struct sam_template *t)
{
    for (size_t i = 0; t->functions && i < t->function_count; i++)
        free_function(&t->functions[i]);
    free(t->functions);
    for (size_t i = 0; i < t->note_count; i++)
        free(t->notes[i]);
    free(t->notes);
    memset(t, 0, sizeof(*t));
}

/* ---- tether.json ---- */

static json_t *function_json(const struct sam_function *f)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int rc = f->root ? json_object_set_new(o, "root", json_string(f->root)) : 0;
    rc |= f->handler ? json_object_set_new(o, "handler", json_string(f->handler)) : 0;
    rc |= json_object_set_new(o, "runtime", json_string(f->runtime));
    if (f->bootstrap)
        rc |= json_object_set_new(o, "bootstrap", json_string(f->bootstrap));
    if (f->build)
        rc |= json_object_set_new(o, "build", json_string(f->build));
    if (f->timeout_s)
        rc |= json_object_set_new(o, "timeout", json_integer(f->timeout_s));
    if (f->memory_mb)
        rc |= json_object_set_new(o, "memory", json_integer(f->memory_mb));
    if (f->environment_count) {
        json_t *env = json_object();
        rc |= json_object_set_new(o, "environment", env);
        for (size_t i = 0; env && i < f->environment_count; i++)
            rc |= json_object_set_new(env, f->environment[i].name,
                                      json_string(f->environment[i].value));
    }
    if (f->url)
        rc |= json_object_set_new(o, "url", json_true());
    if (f->streaming)
        rc |= json_object_set_new(o, "streaming", json_true());
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *sam_functions_json(const struct sam_template *t)
{
    json_t *functions = json_object();
    for (size_t i = 0; functions && i < t->function_count; i++) {
        json_t *f = function_json(&t->functions[i]);
        if (!f || json_object_set_new(functions, t->functions[i].id, f) < 0) {
            json_decref(functions);
            return NULL;
        }
    }
    return functions;
}
