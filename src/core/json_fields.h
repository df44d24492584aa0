/* The one reader of fields in JSON configuration files: tether.json
 * (dev/config.c) and the `tether lambda` configuration (lambda/config.c).
 *
 * Every getter reads one key of an object, checks its type and range, and on
 * a problem writes a cause naming where it is ("tether.json: functions.Api.
 * timeout: must be an integer from 1 to 900") into the caller's buffer and
 * returns -EINVAL. An absent optional key leaves *out as it was, so callers
 * set their defaults first. The cause texts are user-facing and documented:
 * change them only together with the docs and tests that quote them. */
#ifndef TETHER_CORE_JSON_FIELDS_H
#define TETHER_CORE_JSON_FIELDS_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>

#define JSON_FIELDS_MAX_PATH 256

/* Where a field is: the file (NULL: causes name no file), the key path
 * ("functions.Api.timeout" or "functions[2]"), and the caller's cause
 * buffer. */
struct json_where {
    const char *file;
    char path[JSON_FIELDS_MAX_PATH];
    char *cause;
    size_t cause_len;
};

/* The field key inside w: path joined with a '.'. */
struct json_where json_where_child(const struct json_where *w, const char *key);

/* Writes "FILE: PATH: reason" (without "FILE: " when there is no file,
 * without "PATH: " when the path is empty) and returns -EINVAL. */
int json_where_fail(const struct json_where *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int json_where_vfail(const struct json_where *w, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Refuses the first key of object that is not in allowed (NULL-ended):
 * "KEY: unknown key", and with suggest a close allowed key as
 * "unknown key (did you mean \"KEY\"?)". */
int json_fields_check_keys(json_t *object, const char *const *allowed, int suggest,
                           const struct json_where *w);

enum json_string_flags {
    JSON_STRING_REQUIRED = 1, /* absent: "is required" */
    JSON_STRING_NONEMPTY = 2, /* "" is refused as not a "non-empty string" */
};

/* Whether value is a JSON string with no NUL inside: C code sees all of it. */
int json_fields_is_plain_string(json_t *value);

/* A string without NUL characters, copied into *out (the old value is
 * freed); 0, -EINVAL or -ENOMEM. */
int json_fields_string(json_t *object, const char *key, unsigned flags, char **out,
                       const struct json_where *w);

/* An integer from min to max. */
int json_fields_uint(json_t *object, const char *key, unsigned min, unsigned max, unsigned *out,
                     const struct json_where *w);

/* true or false, as 1 or 0. */
int json_fields_bool(json_t *object, const char *key, int *out, const struct json_where *w);

#endif
