/* What `tether lambda --state-dir DIR` keeps across restarts: each deployed
 * function's record (settings, tags, RevisionId, LastModified) and zip, and
 * each layer version's record and zip, as private files in DIR/.tether/
 * (core/private_file.h writes them 0600 and atomically, and refuses files
 * that are links or not the user's). Extracted code is not kept: at start
 * every function is staged again from its zip, as after CreateFunction. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LOG_MODULE "lambda"
#include "core/log.h"
#include "core/private_file.h"
#include "lambda/deploy.h"

#define RECORD_MAX (256 * 1024)

static int save_json(const char *root, const char *name, json_t *record)
{
    char cause[300];
    char *text = record ? json_dumps(record, JSON_COMPACT) : NULL;
    int rc = text ? private_dir_ensure(root, name, cause, sizeof(cause)) : -ENOMEM;
    if (rc == 0)
        rc = private_file_write(root, name, text, strlen(text), cause, sizeof(cause));
    if (rc < 0)
        log_warn("state: cannot save %s: %s", name, text ? cause : "out of memory");
    free(text);
    json_decref(record);
    return rc;
}

static int save_zip(const char *root, const char *name, const struct buf *zip)
{
    char cause[300];
    int rc = private_dir_ensure(root, name, cause, sizeof(cause));
    if (rc == 0)
        rc = private_file_write(root, name, buf_bytes(zip), buf_length(zip), cause, sizeof(cause));
    if (rc < 0)
        log_warn("state: cannot save %s: %s", name, cause);
    return rc;
}

void lambda_state_save_function(struct lambda_deployment *d, const struct buf *zip)
{
    struct lambda_control *c = d->control;
    char name[160];
    if (!c->state[0])
        return;
    const char *fn = d->function->config->name;
    snprintf(name, sizeof(name), LAMBDA_STATE_FUNCTIONS "/%s.zip", fn);
    if (zip && save_zip(c->state, name, zip) < 0)
        return;
    snprintf(name, sizeof(name), LAMBDA_STATE_FUNCTIONS "/%s.json", fn);
    save_json(c->state, name,
              json_pack("{s:s, s:O, s:O, s:s, s:s}", "Name", fn, "Settings", d->settings, "Tags",
                        d->tags, "RevisionId", d->revision, "LastModified", d->last_modified));
}

void lambda_state_remove_function(struct lambda_deployment *d)
{
    struct lambda_control *c = d->control;
    char name[160], cause[300];
    if (!c->state[0])
        return;
    static const char *const kinds[] = {"json", "zip"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(name, sizeof(name), LAMBDA_STATE_FUNCTIONS "/%s.%s", d->function->config->name,
                 kinds[i]);
        if (private_file_remove(c->state, name, cause, sizeof(cause)) < 0)
            log_warn("state: %s", cause);
    }
}

int lambda_state_save_layer(struct lambda_control *c, struct lambda_layer_version *v,
                            const struct buf *zip)
{
    char name[200];
    if (!c->state[0])
        return 0;
    snprintf(name, sizeof(name), LAMBDA_STATE_LAYERS "/%s-%u.zip", v->name, v->version);
    int rc = zip ? save_zip(c->state, name, zip) : 0;
    snprintf(name, sizeof(name), LAMBDA_STATE_LAYERS "/%s-%u.json", v->name, v->version);
    if (rc == 0)
        rc = save_json(c->state, name,
                       json_pack("{s:s, s:I, s:s, s:s, s:O, s:b}", "Name", v->name, "Version",
                                 (json_int_t)v->version, "Created", v->created, "CodeSha256",
                                 v->sha256, "Meta", v->meta, "Deleted", v->deleted));
    return rc;
}

/* ---- loading ---- */

struct names {
    char **items;
    size_t count;
};

static void collect(void *user, const char *name)
{
    struct names *n = user;
    size_t len = strlen(name);
    char **grown = realloc(n->items, (n->count + 1) * sizeof(*n->items));
    if (!grown)
        return;
    n->items = grown;
    if (len > 5 && strcmp(name + len - 5, ".json") == 0 && (grown[n->count] = strdup(name)))
        n->count++;
}

static void names_free(struct names *n)
{
    for (size_t i = 0; i < n->count; i++)
        free(n->items[i]);
    free(n->items);
}

static json_t *read_record(struct lambda_control *c, const char *dir, const char *file)
{
    char name[512], cause[300];
    struct buf text = BUF_INIT;
    snprintf(name, sizeof(name), "%s/%s", dir, file);
    json_t *record = NULL;
    if (private_file_read(c->state, name, RECORD_MAX, &text, cause, sizeof(cause)) == 0)
        record = json_loadb(buf_bytes(&text), buf_length(&text), 0, NULL);
    buf_free(&text);
    if (!json_is_object(record)) {
        log_warn("state: %s is not a record this tether wrote; skipped", name);
        json_decref(record);
        return NULL;
    }
    return record;
}

static int valid_word(const char *s)
{
    size_t len = s ? strlen(s) : 0;
    return len > 0 && len <= 64 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == len;
}

static void load_layer(struct lambda_control *c, json_t *r)
{
    const char *name = json_string_value(json_object_get(r, "Name"));
    json_int_t version = json_integer_value(json_object_get(r, "Version"));
    const char *created = json_string_value(json_object_get(r, "Created"));
    const char *sha = json_string_value(json_object_get(r, "CodeSha256"));
    json_t *meta = json_object_get(r, "Meta");
    struct lambda_layer_version *v = calloc(1, sizeof(*v));
    struct stat st;
    if (!v || !valid_word(name) || version < 1 || version > 100000 || !created || !sha ||
        !json_is_object(meta)) {
        free(v);
        log_warn("state: a layer record is malformed; skipped");
        return;
    }
    snprintf(v->name, sizeof(v->name), "%s", name);
    v->version = (unsigned)version;
    snprintf(v->arn, sizeof(v->arn), "arn:aws:lambda:%s:%s:layer:%s:%u", lambda_control_region(c),
             lambda_control_account(c), name, v->version);
    snprintf(v->zip_path, sizeof(v->zip_path), "%s/.tether/" LAMBDA_STATE_LAYERS "/%s-%u.zip",
             c->state, name, v->version);
    snprintf(v->created, sizeof(v->created), "%s", created);
    snprintf(v->sha256, sizeof(v->sha256), "%s", sha);
    v->code_size = stat(v->zip_path, &st) == 0 ? (uint64_t)st.st_size : 0;
    v->meta = json_incref(meta);
    v->deleted = json_is_true(json_object_get(r, "Deleted"));
    /* Newest first per name, as lambda_layer_next expects. */
    struct lambda_layer_version **at = &c->layers;
    while (*at && (*at)->version > v->version)
        at = &(*at)->next;
    v->next = *at;
    *at = v;
    c->layer_count++;
}

static void load_function(struct lambda_control *c, json_t *r)
{
    const char *name = json_string_value(json_object_get(r, "Name"));
    json_t *settings = json_object_get(r, "Settings"), *tags = json_object_get(r, "Tags");
    const char *revision = json_string_value(json_object_get(r, "RevisionId"));
    const char *modified = json_string_value(json_object_get(r, "LastModified"));
    char file[160], cause[300];
    struct lambda_api_error err;
    if (!valid_word(name) || !json_is_object(settings) || !json_is_object(tags) || !revision ||
        !modified) {
        log_warn("state: a function record is malformed; skipped");
        return;
    }
    struct buf zip = BUF_INIT;
    snprintf(file, sizeof(file), LAMBDA_STATE_FUNCTIONS "/%s.zip", name);
    if (private_file_read(c->state, file, LAMBDA_ZIP_MAX, &zip, cause, sizeof(cause)) < 0)
        log_warn("state: %s: %s; skipped", name, cause);
    else if (lambda_deploy_restore(c, name, settings, tags, &zip, revision, modified, &err) < 0)
        log_warn("state: %s: %s; skipped", name, err.message);
    else
        log_info("state: %s restored", name);
    buf_free(&zip);
}

static int load_dir(struct lambda_control *c, const char *dir,
                    void (*load)(struct lambda_control *c, json_t *record), char *cause,
                    size_t cause_len)
{
    struct names names = {0};
    int rc = private_dir_list(c->state, dir, collect, &names, cause, cause_len);
    for (size_t i = 0; rc == 0 && i < names.count; i++) {
        json_t *record = read_record(c, dir, names.items[i]);
        if (record)
            load(c, record);
        json_decref(record);
    }
    names_free(&names);
    return rc;
}

int lambda_state_load(struct lambda_control *c, char *cause, size_t cause_len)
{
    struct stat st;
    if (stat(c->state, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(cause, cause_len, "--state-dir %s: not a folder", c->state);
        return -ENOTDIR;
    }
    int rc = private_dir_ensure(c->state, LAMBDA_STATE_LAYERS "/x", cause, cause_len);
    if (rc == 0)
        rc = private_dir_ensure(c->state, LAMBDA_STATE_FUNCTIONS "/x", cause, cause_len);
    if (rc == 0)
        rc = load_dir(c, LAMBDA_STATE_LAYERS, load_layer, cause, cause_len);
    if (rc == 0)
        rc = load_dir(c, LAMBDA_STATE_FUNCTIONS, load_function, cause, cause_len);
    return rc;
}
