/* .tether/dev.json (see state.h). */
#include "dev/state.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/encoding.h"
#include "core/private_file.h"
#include "dev/config.h"
#include "net/url.h"

/* What dev writes is a few hundred bytes; anything much larger was not. */
#define STATE_MAX_BYTES (64 * 1024)

#define STATE_NAME "dev.json"

int dev_state_write(const char *root, const struct dev_state *s)
{
    char cause[256];
    json_t *state =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "app", s->app, "stage", s->stage, "events",
                  s->events, "apiKey", s->api_key, "lambda", s->lambda, "pid", (json_int_t)s->pid);
    char *text = json_dumps(state, JSON_INDENT(2));
    json_decref(state);
    /* The file holds the local API key: private_file keeps it 0600 in a
     * 0700 .tether, and never writes through a link left in the project. */
    int rc = text ? private_file_write(root, STATE_NAME, text, strlen(text), cause, sizeof(cause))
                  : -ENOMEM;
    if (text)
        secure_wipe(text, strlen(text));
    free(text);
    return rc;
}

void dev_state_remove(const char *root)
{
    /* Only our own: a second tether dev in the project (another stage, or
     * --port 0) may have written the file since, and is still running. */
    char cause[256];
    struct dev_state s;
    int rc = dev_state_read(root, &s, cause, sizeof(cause));
    if ((rc == 0 || rc == -ESRCH || rc == -EINVAL) && s.pid == (long long)getpid())
        private_file_remove(root, STATE_NAME, cause, sizeof(cause));
}

static void copy_string(json_t *state, const char *key, char *out, size_t cap)
{
    const char *value = json_string_value(json_object_get(state, key));
    snprintf(out, cap, "%s", value ? value : "");
}

/* tether dev's embedded Lambda service: plain HTTP on a loopback address. */
static int loopback_http(const char *text)
{
    struct url url;
    char cause[128];
    return url_parse(text, &url, cause, sizeof(cause)) == 0 && url.scheme == URL_HTTP &&
           (strcmp(url.host, "127.0.0.1") == 0 || strcmp(url.host, "::1") == 0 ||
            strcmp(url.host, "localhost") == 0);
}

int dev_state_read(const char *root, struct dev_state *out, char *cause, size_t cause_len)
{
    char path[PATH_MAX + 32];
    memset(out, 0, sizeof(*out));
    snprintf(path, sizeof(path), "%s/.tether/%s", root, STATE_NAME);
    struct buf text = BUF_INIT;
    int read = private_file_read(root, STATE_NAME, STATE_MAX_BYTES, &text, cause, cause_len);
    if (read < 0) {
        buf_free(&text);
        if (read == -EFBIG)
            snprintf(cause, cause_len, "%s: larger than tether dev writes", path);
        return read == -ENOENT ? -ENOENT : -EINVAL;
    }
    json_error_t error;
    json_t *state = json_loadb(buf_bytes(&text), buf_length(&text), 0, &error);
    buf_free(&text);
    if (!state) {
        snprintf(cause, cause_len, "%s: %s", path, error.text);
        return -EINVAL;
    }
    copy_string(state, "app", out->app, sizeof(out->app));
    copy_string(state, "stage", out->stage, sizeof(out->stage));
    copy_string(state, "events", out->events, sizeof(out->events));
    copy_string(state, "apiKey", out->api_key, sizeof(out->api_key));
    copy_string(state, "lambda", out->lambda, sizeof(out->lambda));
    out->pid = json_integer_value(json_object_get(state, "pid"));
    int rc = 0;
    if (!json_string_value(json_object_get(state, "lambda")) || out->pid <= 0) {
        snprintf(cause, cause_len, "%s lacks \"lambda\" or \"pid\"", path);
        rc = -EINVAL;
    } else if (!loopback_http(out->lambda)) {
        /* tether invoke sends the event there: never off this machine on the
         * word of a file in the working directory. */
        snprintf(cause, cause_len, "%s names \"lambda\" %s, not tether dev's loopback address",
                 path, out->lambda);
        rc = -EINVAL;
    } else if (out->pid > INT_MAX || (kill((pid_t)out->pid, 0) < 0 && errno == ESRCH)) {
        snprintf(cause, cause_len, "pid %lld named by .tether/dev.json has exited", out->pid);
        rc = -ESRCH;
    }
    json_decref(state);
    return rc;
}

/* ---- the stage's bridge key ---- */

static int key_name(const char *stage, char *out, size_t cap, char *cause, size_t cause_len)
{
    size_t len = strlen(stage);
    int ok = len > 0 && len <= 64;
    for (size_t i = 0; ok && i < len; i++) {
        char c = stage[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '_';
    }
    if (!ok) {
        snprintf(cause, cause_len,
                 "stage \"%.80s\" cannot name a key file (letters, digits, '-' and '_' only)",
                 stage);
        return -EINVAL;
    }
    snprintf(out, cap, "keys/%s.key", stage);
    return 0;
}

void dev_key_path(const char *root, const char *stage, char *out, size_t cap)
{
    snprintf(out, cap, "%s/.tether/keys/%s.key", root, stage);
}

/* Parses a key file's text; the buffer is wiped either way. */
static int parse_key_text(struct buf *text, const char *where, struct bridge_key *out, char *cause,
                          size_t cause_len)
{
    char why[160];
    int rc = bridge_key_parse(buf_bytes(text) ? buf_bytes(text) : "", buf_length(text), out, why,
                              sizeof(why));
    if (rc < 0)
        snprintf(cause, cause_len, "%s: not a bridge key: %s", where, why);
    if (text->data)
        secure_wipe(text->data, text->cap);
    buf_free(text);
    return rc < 0 ? -EINVAL : 0;
}

int dev_key_read(const char *root, const char *stage, struct bridge_key *out, char *cause,
                 size_t cause_len)
{
    char name[96], path[PATH_MAX + 96];
    struct buf text = BUF_INIT;
    int rc = key_name(stage, name, sizeof(name), cause, cause_len);
    if (rc == 0)
        rc = private_file_read(root, name, DEV_KEY_FILE_MAX, &text, cause, cause_len);
    if (rc < 0) {
        buf_free(&text);
        return rc;
    }
    dev_key_path(root, stage, path, sizeof(path));
    return parse_key_text(&text, path, out, cause, cause_len);
}

int dev_key_write(const char *root, const char *stage, const struct bridge_key *key, char *cause,
                  size_t cause_len)
{
    char name[96], text[BRIDGE_KEY_TEXT_SIZE + 1];
    int rc = key_name(stage, name, sizeof(name), cause, cause_len);
    if (rc < 0)
        return rc;
    bridge_key_format(key, text);
    size_t len = strlen(text);
    text[len++] = '\n';
    rc = private_file_write(root, name, text, len, cause, cause_len);
    secure_wipe(text, sizeof(text));
    return rc;
}

int dev_key_read_file(const char *path, struct bridge_key *out, char *cause, size_t cause_len)
{
    struct buf text = BUF_INIT;
    int rc = buf_read_file(&text, path, DEV_KEY_FILE_MAX);
    if (rc < 0) {
        snprintf(cause, cause_len, "%s: %s", path,
                 rc == -EFBIG ? "far larger than a bridge key" : strerror(-rc));
        buf_free(&text);
        return rc;
    }
    return parse_key_text(&text, path, out, cause, cause_len);
}

int dev_key_resolve(const char *root, const char *stage, const char *key_file, int create,
                    struct bridge_key *out, enum dev_key_origin *origin, char *cause,
                    size_t cause_len)
{
    const char *env = getenv("TETHER_BRIDGE_KEY");
    char why[160];
    if (key_file) {
        *origin = DEV_KEY_FROM_FILE;
        return dev_key_read_file(key_file, out, cause, cause_len);
    }
    if (env && *env) {
        *origin = DEV_KEY_FROM_ENV;
        if (bridge_key_parse(env, strlen(env), out, why, sizeof(why)) == 0)
            return 0;
        snprintf(cause, cause_len, "TETHER_BRIDGE_KEY is not a bridge key: %s", why);
        return -EINVAL;
    }
    *origin = DEV_KEY_FROM_PROJECT;
    int rc = dev_key_read(root, stage, out, cause, cause_len);
    if (rc != -ENOENT || !create)
        return rc;
    *origin = DEV_KEY_CREATED;
    rc = bridge_key_generate(out);
    if (rc < 0) {
        snprintf(cause, cause_len, "cannot make a bridge key: %s", strerror(-rc));
        return rc;
    }
    return dev_key_write(root, stage, out, cause, cause_len);
}

int dev_project_load(const char *config_path, const char *stage, struct dev_config *out,
                     char *cause, size_t cause_len)
{
    char found[PATH_MAX];
    if (!config_path) {
        if (dev_config_find(".", found, sizeof(found)) < 0) {
            snprintf(cause, cause_len,
                     "no tether.json in this directory or its parents (see docs/config.md)");
            return -ENOENT;
        }
        config_path = found;
    }
    int rc = dev_config_load(config_path, out, cause, cause_len);
    if (rc == 0 && stage) {
        free(out->stage);
        out->stage = strdup(stage);
        if (!out->stage) {
            dev_config_free(out);
            snprintf(cause, cause_len, "out of memory");
            rc = -ENOMEM;
        }
    }
    return rc;
}

/* "no function X in FILE", then the functions there, one line each kind. */
static void describe_unknown(const struct dev_config *project, const char *function, char *cause,
                             size_t cause_len)
{
    int n = snprintf(cause, cause_len, "no function \"%s\" in %s\nfunctions in %s:", function,
                     project->path, project->path);
    for (size_t i = 0; i < project->function_count && n >= 0 && (size_t)n < cause_len; i++)
        n += snprintf(cause + n, cause_len - (size_t)n, " %s%s", project->functions[i].id,
                      project->functions[i].live ? "" : " (not live)");
}

int dev_state_check_function(const char *root, const char *function, unsigned *timeout_s,
                             char *cause, size_t cause_len)
{
    char path[PATH_MAX + 16];
    struct dev_config project;
    memset(&project, 0, sizeof(project));
    snprintf(path, sizeof(path), "%s/tether.json", root);
    if (dev_config_load(path, &project, cause, cause_len) < 0)
        return 1;
    const struct dev_function *f = dev_config_function(&project, function);
    int rc = -EINVAL;
    if (project.events.mode == DEV_EVENTS_REMOTE)
        /* No local Lambda service: the functions are deployed in AWS. */
        snprintf(cause, cause_len,
                 "%s sets \"events\", so the functions run in AWS Lambda, not in tether dev's "
                 "embedded Lambda service; invoke the deployed function (aws lambda invoke ...) "
                 "and tether dev will serve it",
                 project.path);
    else if (!f)
        describe_unknown(&project, function, cause, cause_len);
    else if (!f->live)
        snprintf(cause, cause_len,
                 "function \"%s\" has \"live\": false, so tether dev does not serve it", function);
    else {
        *timeout_s = f->timeout_s;
        rc = 0;
    }
    dev_config_free(&project);
    return rc;
}
