/* The `tether lambda` configuration: functions described in JSON (schema in
 * docs/lambda.md).
 *
 * lambda_config_parse() validates everything it can without touching the file
 * system and reports the first problem as "path: what is wrong" in cause
 * (e.g. "functions[1].timeout: must be an integer from 1 to 900"). Unknown keys
 * are errors, so a typo never silently falls back to a default.
 *
 * lambda_config_new() and the calls after it build the same structure in C.
 *
 * Ownership: the returned struct lambda_config owns every string in it; free
 * it with lambda_config_free(), which also wipes the credentials. */
#ifndef TETHER_LAMBDA_CONFIG_H
#define TETHER_LAMBDA_CONFIG_H

#include <stddef.h>

#define LAMBDA_MAX_FUNCTIONS 64
#define LAMBDA_MAX_BOOTSTRAP_ARGS 64
#define LAMBDA_MAX_NAME 64
/* AWS: "The total size of all environment variables doesn't exceed 4 KB". */
#define LAMBDA_MAX_ENV_BYTES 4096
#define LAMBDA_MAX_CONFIG_BYTES (1024 * 1024)

#define LAMBDA_DEFAULT_TIMEOUT 3
#define LAMBDA_DEFAULT_MEMORY 128
#define LAMBDA_DEFAULT_CONCURRENCY 10
#define LAMBDA_DEFAULT_QUEUE 100
#define LAMBDA_DEFAULT_ASYNC_QUEUE 1000
#define LAMBDA_DEFAULT_IDLE_TIMEOUT 300
#define LAMBDA_DEFAULT_INIT_TIMEOUT 10
#define LAMBDA_DEFAULT_ACCOUNT "012345678912"
#define LAMBDA_DEFAULT_REGION "us-east-1"
#define LAMBDA_DEFAULT_RUNTIME "provided.al2023"

struct lambda_env_var {
    char *name;
    char *value;
};

struct lambda_function_config {
    char *name;
    char *runtime;    /* AWS_EXECUTION_ENV is "AWS_Lambda_" + runtime */
    char *handler;    /* _HANDLER; "" when not given */
    char **bootstrap; /* argv, NULL-terminated; default {"<working_dir>/bootstrap"} */
    size_t bootstrap_count;
    char *working_dir; /* absolute: relative paths are resolved against the config's folder */
    struct lambda_env_var *environment;
    size_t environment_count;
    unsigned timeout_s;   /* 1..900 */
    unsigned memory_mb;   /* 128..10240 */
    unsigned concurrency; /* sandboxes at most, 1..1000 */
    unsigned queue;       /* synchronous invocations waiting for a sandbox, 0..100000 */
    unsigned async_queue; /* Event invocations waiting, 0..100000 */
    int streaming;        /* function URL invoke mode RESPONSE_STREAM */
    int url;              /* has a function URL */
    int url_port; /* -1: only /url/NAME/ on the main port; 0: also a free port; else that port */
    /* A debugger per sandbox (tether dev --inspect): 0 for none; else each
     * sandbox gets the lowest port from here up that no other sandbox of the
     * service holds and that is free, as debug_env = debug_prefix + port.
     * Both strings are static ones the builder points at, never freed. */
    unsigned debug_port;
    /* The function's layers, extracted in order (tether lambda's control
     * plane): what Lambda mounts at /opt; NULL without layers. */
    char *opt_dir;
    const char *debug_env;    /* "NODE_OPTIONS", "TETHER_DEBUGPY_PORT" */
    const char *debug_prefix; /* "--inspect=127.0.0.1:", "" */
};

struct lambda_config {
    char *region;
    char *account_id;
    unsigned idle_timeout_s; /* an idle sandbox is stopped after this long */
    unsigned init_timeout_s; /* a sandbox must reach /next within this */
    char *access_key_id;     /* all three NULL: the service's own environment is used */
    char *secret_access_key;
    char *session_token;
    struct lambda_function_config *functions;
    size_t function_count;
};

/* base_dir: folder that relative working_dir values are resolved against. */
int lambda_config_parse(const char *json, size_t len, const char *base_dir,
                        struct lambda_config **out, char *cause, size_t cause_len);
/* Reads and parses a file (at most LAMBDA_MAX_CONFIG_BYTES), then checks the
 * working folders exist. */
int lambda_config_load(const char *path, struct lambda_config **out, char *cause, size_t cause_len);
void lambda_config_free(struct lambda_config *config);
const struct lambda_function_config *lambda_config_find(const struct lambda_config *config,
                                                        const char *name);
/* ---- Building a configuration in C (tether dev), with no JSON text in
 * between. Each call checks what lambda_config_parse checks for the same
 * field and says why in cause; numbers are set in the struct directly, and
 * lambda_config_check then checks their ranges. A half-built configuration
 * is freed with lambda_config_free like a parsed one. ---- */

/* The defaults of an empty JSON configuration, with no functions yet; NULL
 * when out of memory. */
struct lambda_config *lambda_config_new(void);
/* Adds a function with the defaults (runtime provided.al2023, handler "",
 * no bootstrap yet); working_dir must be absolute. *out stays valid for the
 * configuration's lifetime. */
int lambda_config_add_function(struct lambda_config *c, const char *name, const char *working_dir,
                               struct lambda_function_config **out, char *cause, size_t cause_len);
int lambda_function_set_runtime(struct lambda_function_config *f, const char *runtime);
int lambda_function_set_handler(struct lambda_function_config *f, const char *handler);
/* The folder the function's layers are in (its /opt). */
int lambda_function_set_opt_dir(struct lambda_function_config *f, const char *dir);
/* Appends one word of the bootstrap command (the program first). */
int lambda_function_add_arg(struct lambda_function_config *f, const char *arg);
/* Sets (or replaces) one environment variable: a valid name Lambda does not
 * reserve, within LAMBDA_MAX_ENV_BYTES in all. */
int lambda_function_set_env(struct lambda_function_config *f, const char *name, const char *value,
                            char *cause, size_t cause_len);
/* At least one function, each with a bootstrap, every number in range. */
int lambda_config_check(const struct lambda_config *c, char *cause, size_t cause_len);

/* Names AWS keeps for itself; 1 if name is one of them. */
int lambda_env_name_is_reserved(const char *name);

#endif
