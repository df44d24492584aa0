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
