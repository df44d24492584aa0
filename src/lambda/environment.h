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

#endif
