#include "core/json_fields.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cause.h"

/* Longest key for which a suggestion is worked out: longer ones are not
 * typos of any key tether reads, and the cap bounds the work per key. */
#define SUGGEST_MAX_KEY 32

struct json_where json_where_child(const struct json_where *w, const char *key)
{
    struct json_where at = {w->file, "", w->cause, w->cause_len};
    snprintf(at.path, sizeof(at.path), "%s%s%s", w->path, w->path[0] ? "." : "", key);
    return at;
}

int json_where_vfail(const struct json_where *w, const char *fmt, va_list ap)
{
    char reason[400];
    vsnprintf(reason, sizeof(reason), fmt, ap);
    return cause_set(w->cause, w->cause_len, -EINVAL, "%s%s%s%s%s", w->file ? w->file : "",
                     w->file ? ": " : "", w->path, w->path[0] ? ": " : "", reason);
}

int json_where_fail(const struct json_where *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = json_where_vfail(w, fmt, ap);
    va_end(ap);
    return rc;
}

/* Levenshtein distance, capped: only used to suggest a key for a typo. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > SUGGEST_MAX_KEY || lb > SUGGEST_MAX_KEY)
        return 99;
    size_t row[SUGGEST_MAX_KEY + 1];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

int json_fields_check_keys(json_t *object, const char *const *allowed, int suggest,
                           const struct json_where *w)
{
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value)
    {
        const char *suggestion = NULL;
        int known = 0;
        for (const char *const *a = allowed; *a; a++) {
            if (strcmp(key, *a) == 0)
                known = 1;
            else if (suggest && distance(key, *a) <= 2)
                suggestion = *a;
        }
        if (known)
            continue;
        struct json_where at = json_where_child(w, key);
        if (suggestion)
            return json_where_fail(&at, "unknown key (did you mean \"%s\"?)", suggestion);
        return json_where_fail(&at, "unknown key");
    }
    return 0;
}

int json_fields_is_plain_string(json_t *value)
{
    return json_is_string(value) && strlen(json_string_value(value)) == json_string_length(value);
}

int json_fields_string(json_t *object, const char *key, unsigned flags, char **out,
                       const struct json_where *w)
{
    json_t *v = json_object_get(object, key);
    struct json_where at = json_where_child(w, key);
    if (!v)
        return flags & JSON_STRING_REQUIRED ? json_where_fail(&at, "is required") : 0;
    int nonempty = (flags & JSON_STRING_NONEMPTY) != 0;
    if (!json_is_string(v) || (nonempty && json_string_length(v) == 0))
        return json_where_fail(&at, nonempty ? "must be a non-empty string" : "must be a string");
    if (!json_fields_is_plain_string(v))
        return json_where_fail(&at, "must not contain NUL characters");
    char *copy = strdup(json_string_value(v));
    if (!copy)
        return -ENOMEM;
    free(*out);
    *out = copy;
    return 0;
}

int json_fields_uint(json_t *object, const char *key, unsigned min, unsigned max, unsigned *out,
                     const struct json_where *w)
{
    json_t *v = json_object_get(object, key);
    if (!v)
        return 0;
    struct json_where at = json_where_child(w, key);
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
    if (!json_is_integer(v) || n < (json_int_t)min || n > (json_int_t)max)
        return json_where_fail(&at, "must be an integer from %u to %u", min, max);
    *out = (unsigned)n;
    return 0;
}

int json_fields_bool(json_t *object, const char *key, int *out, const struct json_where *w)
{
    json_t *v = json_object_get(object, key);
    if (!v)
        return 0;
    struct json_where at = json_where_child(w, key);
    if (!json_is_boolean(v))
        return json_where_fail(&at, "must be true or false");
    *out = json_is_true(v);
    return 0;
}
