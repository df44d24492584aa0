#include "dev/attach_plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/cause.h"
#include "core/encoding.h"

#define RECORD_VERSION 1
/* A record is small (runtime, handler, five layer ARNs, a few variables);
 * anything bigger in the tags is not ours. */
#define RECORD_MAX_BYTES (ATTACH_TAG_VALUE_MAX * ATTACH_TAG_MAX_PARTS)

static const char *str(json_t *object, const char *key)
{
    const char *s = json_string_value(json_object_get(object, key));
    return s ? s : "";
}

static json_t *variables_of(json_t *configuration)
{
    return json_object_get(json_object_get(configuration, "Environment"), "Variables");
}

/* The layer ARNs of a configuration ({"Layers": [{"Arn": ...}]}). */
static json_t *layer_arns(json_t *configuration)
{
    json_t *out = json_array(), *layer;
    size_t i;
    json_array_foreach(json_object_get(configuration, "Layers"), i, layer)
    {
        const char *arn = str(layer, "Arn");
        if (out && arn[0] && json_array_append_new(out, json_string(arn)) < 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* For each variable tether sets, its old value or null. */
static json_t *replaced_variables(json_t *configuration, json_t *environment)
{
    json_t *out = json_object(), *old = variables_of(configuration), *value;
    const char *key;
    json_object_foreach(environment, key, value)
    {
        json_t *was = json_object_get(old, key);
        if (out && json_object_set_new(out, key, was ? json_copy(was) : json_null()) < 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static int check_attachable(json_t *configuration, const struct attach_settings *s, int force,
                            char *cause, size_t cause_len)
{
    const char *name = str(configuration, "FunctionName");
    if (strcmp(str(configuration, "PackageType"), "Image") == 0)
        return cause_set(cause, cause_len, -EPERM,
                         "%s is a container image function; tether attaches zip functions only",
                         name);
    if (!name[0] || !str(configuration, "FunctionArn")[0] || !str(configuration, "Runtime")[0])
        return cause_set(cause, cause_len, -EINVAL,
                         "the configuration of %s has no FunctionName, FunctionArn or Runtime",
                         s->function_id);
    const char *holder = str(variables_of(configuration), ATTACH_SESSION_VARIABLE);
    if (holder[0] && strcmp(holder, s->session) != 0 && !force)
        return cause_set(cause, cause_len, -EALREADY,
                         "%s is attached by another tether dev session (%s); stop it, or take "
                         "over with --force",
                         name, holder);
    /* A bridge deployed by hand already serves dev as it is; attaching
     * would also put its key into the record and the tags. */
    json_t *vars = variables_of(configuration);
    if (!holder[0] && (json_object_get(vars, "TETHER_BRIDGE_KEY") ||
                       json_object_get(vars, "TETHER_EVENTS_API_KEY") ||
                       json_object_get(vars, "TETHER_INSECURE_NO_AUTH")))
        return cause_set(cause, cause_len, -EEXIST,
                         "%s already runs a tether bridge deployed by hand (it has a "
                         "TETHER_BRIDGE_KEY or an events API key): tether dev serves it as it "
                         "is",
                         name);
    if (json_array_size(json_object_get(configuration, "Layers")) >= ATTACH_MAX_LAYERS)
        return cause_set(cause, cause_len, -E2BIG,
                         "%s already has %d layers, Lambda's most; tether needs one for the bridge",
                         name, ATTACH_MAX_LAYERS);
    return 0;
}

/* The original fields. When the function is already attached (a takeover
 * with --force), the record it carries (previous) knows them: its own
 * fields are the other session's. */
static json_t *original_fields(json_t *configuration, const struct attach_settings *s,
                               json_t *previous)
{
    json_t *earlier = json_object_get(previous, "original");
    if (json_is_object(earlier))
        return json_deep_copy(earlier);
    return json_pack("{ss ss so sI so}", "Runtime", str(configuration, "Runtime"), "Handler",
                     str(configuration, "Handler"), "Layers", layer_arns(configuration), "Timeout",
                     json_integer_value(json_object_get(configuration, "Timeout")), "Environment",
                     replaced_variables(configuration, s->environment));
}

int attach_plan_record(json_t *configuration, const struct attach_settings *s, int force,
                       json_t *previous, json_t **record, char *cause, size_t cause_len)
{
    *record = NULL;
    int rc = check_attachable(configuration, s, force, cause, cause_len);
    if (rc < 0)
        return rc;
    json_t *original = original_fields(configuration, s, previous);
    json_t *r = original
                    ? json_pack("{si ss ss ss ss ss sO}", "version", RECORD_VERSION, "function",
                                s->function_id, "name", str(configuration, "FunctionName"), "arn",
                                str(configuration, "FunctionArn"), "session", s->session, "layer",
                                s->layer_arn, "original", original)
                    : NULL;
    json_decref(original);
    if (r && s->timeout_s &&
        json_object_set_new(r, "set", json_pack("{sI}", "Timeout", (json_int_t)s->timeout_s)) < 0) {
        json_decref(r);
        r = NULL;
    }
    if (!r)
        return cause_set(cause, cause_len, -ENOMEM, "out of memory");
    *record = r;
    return 0;
}

/* current's variables with those of add set over them. */
static json_t *merged_variables(json_t *current, json_t *add)
{
    json_t *v = current ? json_deep_copy(current) : json_object();
    if (v && json_object_update(v, add) < 0) {
        json_decref(v);
        return NULL;
    }
    return v;
}

int attach_plan_update(json_t *record, json_t *configuration, const struct attach_settings *s,
                       json_t **body)
{
    json_t *original = json_object_get(record, "original");
    json_t *layers = json_deep_copy(json_object_get(original, "Layers"));
    json_t *vars = merged_variables(variables_of(configuration), s->environment);
    if (layers && json_array_append_new(layers, json_string(s->layer_arn)) < 0)
        json_decref(layers), layers = NULL;
    *body = layers && vars ? json_pack("{ss ss sO s{sO} ss}", "Runtime", ATTACH_RUNTIME, "Handler",
                                       ATTACH_HANDLER, "Layers", layers, "Environment", "Variables",
                                       vars, "RevisionId", str(configuration, "RevisionId"))
                           : NULL;
    json_decref(layers);
    json_decref(vars);
    json_t *set = json_object_get(record, "set");
    if (*body && json_object_get(set, "Timeout") &&
        json_object_set(*body, "Timeout", json_object_get(set, "Timeout")) < 0) {
        json_decref(*body);
        *body = NULL;
    }
    return *body ? 0 : -ENOMEM;
}

static void note(char *warning, size_t warning_len, const char *text)
{
    size_t used = strlen(warning);
    if (used < warning_len)
        snprintf(warning + used, warning_len - used, "%s%s", used ? "; " : "", text);
}

/* A string field goes back only while it holds what attaching set. */
static int restore_string(json_t *body, json_t *current, json_t *original, const char *key,
                          const char *set, char *warning, size_t warning_len)
{
    const char *now = str(current, key), *was = str(original, key);
    if (strcmp(now, set) == 0 && was[0])
        return json_object_set_new(body, key, json_string(was));
    if (strcmp(now, was) != 0) {
        char text[160];
        snprintf(text, sizeof(text), "%s is now %s, left as it is", key, now);
        note(warning, warning_len, text);
    }
    return 0;
}

/* The current layers without the bridge's (a tether-bridge layer only:
 * whatever the record says, no other layer is removed). */
static json_t *restored_layers(json_t *current, const char *bridge_layer, json_t *original,
                               char *warning, size_t warning_len)
{
    if (!strstr(bridge_layer, ":layer:" ATTACH_LAYER_PREFIX))
        bridge_layer = "";
    json_t *now = layer_arns(current), *out = json_array(), *arn;
    size_t i;
    json_array_foreach(now, i, arn)
    {
        if (out && strcmp(json_string_value(arn), bridge_layer) != 0 &&
            json_array_append(out, arn) < 0)
            json_decref(out), out = NULL;
    }
    json_decref(now);
    if (out && !json_equal(out, json_object_get(original, "Layers")))
        note(warning, warning_len, "the layers were changed meanwhile; only the bridge's removed");
    return out;
}

/* The current variables with tether's removed and the replaced ones back.
 * Only TETHER_* names are taken from the record: a record is read from a
 * project directory or from tags, and must not be able to set anything a
 * runtime reads (NODE_OPTIONS, PYTHONPATH ...). */
static json_t *restored_variables(json_t *current, json_t *original)
{
    json_t *now = variables_of(current);
    json_t *vars = now ? json_deep_copy(now) : json_object();
    json_t *value;
    const char *key;
    json_object_foreach(json_object_get(original, "Environment"), key, value)
    {
        if (!vars)
            break;
        if (strncmp(key, "TETHER_", 7) != 0)
            continue;
        if (json_is_null(value) || !json_is_string(value))
            json_object_del(vars, key);
        else if (json_object_set(vars, key, value) < 0)
            json_decref(vars), vars = NULL;
    }
    return vars;
}

static int restore_timeout(json_t *body, json_t *record, json_t *current, char *warning,
                           size_t warning_len)
{
    json_t *set = json_object_get(json_object_get(record, "set"), "Timeout");
    json_t *was = json_object_get(json_object_get(record, "original"), "Timeout");
    if (!set || !was)
        return 0;
    if (json_equal(json_object_get(current, "Timeout"), set))
        return json_object_set(body, "Timeout", was);
    note(warning, warning_len, "Timeout was changed meanwhile, left as it is");
    return 0;
}

int attach_plan_restore(json_t *record, json_t *current, json_t **body, char *warning,
                        size_t warning_len)
{
    json_t *original = json_object_get(record, "original");
    warning[0] = '\0';
    const char *marker = str(variables_of(current), ATTACH_SESSION_VARIABLE);
    /* Without this session's marker the record cannot be trusted to speak
     * for the function (someone redeployed it, or the record is not ours):
     * only tether's own layer and variables are removed. */
    int owned = marker[0] && strcmp(marker, str(record, "session")) == 0;
    if (!owned)
        note(warning, warning_len,
             "the function was changed while attached (its environment no longer carries this "
             "session's marker): only tether's layer and variables are removed");
    json_t *b = json_object();
    json_t *layers = restored_layers(current, str(record, "layer"), original, warning, warning_len);
    json_t *vars = restored_variables(current, original);
    int rc = b && layers && vars ? 0 : -ENOMEM;
    if (rc == 0 && owned)
        rc = restore_string(b, current, original, "Runtime", ATTACH_RUNTIME, warning, warning_len);
    if (rc == 0 && owned)
        rc = restore_string(b, current, original, "Handler", ATTACH_HANDLER, warning, warning_len);
    if (rc == 0)
        rc = json_object_set(b, "Layers", layers);
    if (rc == 0)
        rc = json_object_set_new(b, "Environment", json_pack("{sO}", "Variables", vars));
    if (rc == 0 && owned)
        rc = restore_timeout(b, record, current, warning, warning_len);
    if (rc == 0)
        rc = json_object_set_new(b, "RevisionId", json_string(str(current, "RevisionId")));
    json_decref(layers);
    json_decref(vars);
    if (rc < 0) {
        json_decref(b);
        b = NULL;
    }
    *body = b;
    return b ? 0 : -ENOMEM;
}

/* The record as it travels in tags: without the full configuration. */
static char *compact_record(json_t *record)
{
    json_t *copy = json_copy(record);
    if (!copy)
        return NULL;
    json_object_del(copy, "configuration");
    char *text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(copy);
    return text;
}

int attach_plan_tags(json_t *record, const char *holder, json_t **tags)
{
    char *text = compact_record(record);
    struct buf b64 = BUF_INIT;
    int rc = text ? base64_encode(&b64, text, strlen(text)) : -ENOMEM;
    free(text);
    size_t parts = (b64.len + ATTACH_TAG_VALUE_MAX - 1) / ATTACH_TAG_VALUE_MAX;
    if (rc == 0 && parts > ATTACH_TAG_MAX_PARTS)
        rc = -E2BIG;
    json_t *t = rc == 0 ? json_object() : NULL;
    /* Tag values allow letters, digits, spaces and _.:/=+-@ only. */
    char who[ATTACH_TAG_VALUE_MAX + 1];
    snprintf(who, sizeof(who), "%s", holder);
    for (char *p = who; *p; p++)
        if (!strchr("_.:/=+-@ ", *p) &&
            !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            *p = '_';
    if (t && json_object_set_new(t, ATTACH_TAG_HOLDER, json_string(who)) < 0)
        rc = -ENOMEM;
    for (size_t i = 0; t && rc == 0 && i < parts; i++) {
        char key[64];
        size_t at = i * ATTACH_TAG_VALUE_MAX, n = b64.len - at;
        snprintf(key, sizeof(key), ATTACH_TAG_PREFIX "%zu", i);
        if (json_object_set_new(
                t, key,
                json_stringn(b64.data + at, n > ATTACH_TAG_VALUE_MAX ? ATTACH_TAG_VALUE_MAX : n)) <
            0)
            rc = -ENOMEM;
    }
    buf_free(&b64);
    if (rc < 0 || !t) {
        json_decref(t);
        return rc < 0 ? rc : -ENOMEM;
    }
    *tags = t;
    return 0;
}

int attach_plan_from_tags(json_t *tags, json_t **record)
{
    struct buf b64 = BUF_INIT, text = BUF_INIT;
    int rc = 0;
    size_t i = 0;
    for (; i < ATTACH_TAG_MAX_PARTS && rc == 0; i++) {
        char key[64];
        snprintf(key, sizeof(key), ATTACH_TAG_PREFIX "%zu", i);
        const char *part = json_string_value(json_object_get(tags, key));
        if (!part)
            break;
        rc = buf_append_str(&b64, part);
    }
    if (rc == 0 && i == 0)
        rc = -ENOENT;
    if (rc == 0 && (base64_decode(&text, b64.data, b64.len) < 0 || text.len > RECORD_MAX_BYTES))
        rc = -EINVAL;
    json_t *r = NULL;
    if (rc == 0) {
        r = json_loadb(text.data, text.len, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(r) ||
            json_integer_value(json_object_get(r, "version")) != RECORD_VERSION ||
            !json_is_object(json_object_get(r, "original")) || !str(r, "arn")[0])
            rc = -EINVAL;
    }
    buf_free(&b64);
    buf_free(&text);
    if (rc < 0) {
        json_decref(r);
        return rc;
    }
    *record = r;
    return 0;
}

size_t attach_plan_tag_keys(json_t *tags, const char **keys, size_t max)
{
    size_t n = 0;
    const char *key;
    json_t *value;
    json_object_foreach(tags, key, value)
    {
        if (n < max && (strcmp(key, ATTACH_TAG_HOLDER) == 0 ||
                        strncmp(key, ATTACH_TAG_PREFIX, strlen(ATTACH_TAG_PREFIX)) == 0))
            keys[n++] = key;
    }
    return n;
}

/* Field n (0-based) of a colon-separated ARN, into out. */
static int arn_field(const char *arn, int n, char *out, size_t out_len)
{
    const char *p = arn;
    for (int i = 0; i < n && p; i++) {
        p = strchr(p, ':');
        if (p)
            p++;
    }
    if (!p)
        return -EINVAL;
    size_t len = strcspn(p, ":");
    if (len == 0 || len >= out_len)
        return -EINVAL;
    memcpy(out, p, len);
    out[len] = '\0';
    return 0;
}

int attach_plan_events_api_arn(const char *events_http, const char *function_arn, char *out,
                               size_t out_len)
{
    static const char marker[] = ".appsync-api.";
    const char *host = strstr(events_http, "://");
    host = host ? host + 3 : events_http;
    size_t host_len = strcspn(host, "/:");
    const char *dot = strstr(host, marker);
    if (!dot || dot >= host + host_len || dot == host)
        return -ENOENT;
    const char *region = dot + strlen(marker);
    size_t region_len = strcspn(region, ".");
    if (strncmp(region + region_len, ".amazonaws.com", 14) != 0)
        return -ENOENT;
    char partition[32], account[32];
    if (strncmp(function_arn, "arn:", 4) != 0 ||
        arn_field(function_arn, 1, partition, sizeof(partition)) < 0 ||
        arn_field(function_arn, 4, account, sizeof(account)) < 0 ||
        strspn(account, "0123456789") != strlen(account))
        return -EINVAL;
    int n = snprintf(out, out_len, "arn:%s:appsync:%.*s:%s:apis/%.*s", partition, (int)region_len,
                     region, account, (int)(dot - host), host);
    return n > 0 && (size_t)n < out_len ? 0 : -ENAMETOOLONG;
}
