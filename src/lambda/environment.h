/* The environment a function's runtime process sees, as AWS Lambda sets it
 * (docs/lambda.md lists every variable and where each value comes from).
 *
 * lambda_environment_build() returns a NULL-terminated "NAME=value" array
 * the caller frees with lambda_environment_free() (which wipes it: it holds
 * credentials). Nothing is read from the process environment here: the
 * caller passes what it wants inherited, so the result is easy to test. */
#ifndef TETHER_LAMBDA_ENVIRONMENT_H
#define TETHER_LAMBDA_ENVIRONMENT_H

#include <stddef.h>
#include <time.h>

#include "lambda/config.h"

struct lambda_environment_input {
    const struct lambda_config *config;
    const struct lambda_function_config *function;
    const char *sandbox_id;  /* 32 hex digits */
    const char *runtime_api; /* "127.0.0.1:PORT" */
    time_t now;              /* for the log stream's date */
    /* From the service's own environment (may be NULL). Credentials are used
     * only when the configuration has none. */
    const char *inherited_path;
    const char *inherited_access_key_id;
    const char *inherited_secret_access_key;
    const char *inherited_session_token;
    /* NAME=value entries applied last (tether dev: the deployed function's
     * environment and credentials); NULL-terminated, may be NULL. */
    char *const *overrides;
};

/* "2024/05/01/[$LATEST]<sandbox id>" into out (at least 64 bytes). */
void lambda_log_stream_name(char *out, size_t out_len, time_t now, const char *sandbox_id);
int lambda_environment_build(const struct lambda_environment_input *in, char ***out);
void lambda_environment_free(char **env);
/* The value of NAME in a built environment, or NULL. */
const char *lambda_environment_get(char *const *env, const char *name);

/* ---- the environment a relayed Init may set (tether dev) ----
 * The one policy for what a remote sandbox's Init may put into the local
 * worker's environment (the list and the reasons: environment.c and
 * docs/dev.md). An Init carries the deployed function's variables and
 * credentials; it never sets a name that changes how a loader or an
 * interpreter starts, where programs are found, Lambda's runtime plumbing,
 * or tether's own settings. */
#define LAMBDA_OVERRIDE_MAX_NAME 128
#define LAMBDA_OVERRIDE_MAX_COUNT 256
#define LAMBDA_OVERRIDE_MAX_BYTES (32 * 1024) /* NAME=value bytes in all */

/* 1 if an Init may set the variable named by the len bytes at name: a name
 * of [A-Za-z_][A-Za-z0-9_]*, at most LAMBDA_OVERRIDE_MAX_NAME long, that is
 * on no deny list. */
int lambda_environment_override_allowed(const char *name, size_t len);

/* Overrides collected under the policy and the caps. */
struct lambda_overrides {
    char **env; /* NAME=value, NULL-terminated; NULL while empty */
    size_t count;
    size_t bytes;
    size_t dropped;          /* lines refused */
    char dropped_names[256]; /* their names, ", "-separated, for one log line (never values) */
};

/* Takes one NAME=value line of len bytes (it may hold anything): 0 when
 * kept, 1 when dropped (no '=', a NUL, a name the policy refuses, or over
 * a cap), -ENOMEM. */
int lambda_overrides_add(struct lambda_overrides *o, const char *line, size_t len);
/* Adds a line the caller vouches for (tether's own, e.g. TETHER_DEV). */
int lambda_overrides_set(struct lambda_overrides *o, const char *name, const char *value);
/* The NULL-terminated array (empty, not NULL, when nothing was kept; NULL
 * only when out of memory), for lambda_environment_free; o is left empty. */
char **lambda_overrides_steal(struct lambda_overrides *o);
void lambda_overrides_free(struct lambda_overrides *o);

#endif
