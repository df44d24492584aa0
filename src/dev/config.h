/* tether.json: the project configuration `tether dev` (and `tether invoke`,
 * `tether tunnel`) read. Schema and meaning: docs/config.md and
 * docs/tether.schema.json.
 *
 * dev_config_load() owns everything it returns; dev_config_free() releases
 * it. Errors name the file, the key path and the reason, e.g.
 * "tether.json: functions.Api.timeout: must be an integer from 1 to 900". */
#ifndef TETHER_DEV_CONFIG_H
#define TETHER_DEV_CONFIG_H

#include <jansson.h>
#include <stddef.h>

enum dev_runtime {
    DEV_RUNTIME_NODE,     /* nodejs18.x ... nodejs24.x, and newer with a warning */
    DEV_RUNTIME_PYTHON,   /* python3.9 ... python3.14, and newer with a warning */
    DEV_RUNTIME_PROVIDED, /* provided, provided.al2, provided.al2023 */
};

enum dev_node_worker {
    DEV_NODE_WORKER_SHIM, /* tether's own runtime shim (default) */
    DEV_NODE_WORKER_RIC,  /* the official aws-lambda-ric from the project's node_modules */
};

struct dev_env_var {
    char *name;
    char *value;
};

struct dev_function {
    char *id;      /* the key in "functions" */
    char *handler; /* "src/api.handler"; for provided: passed as _HANDLER */
    /* The function's code directory inside the project (Lambda's task root,
     * SAM's CodeUri): the worker's working directory and LAMBDA_TASK_ROOT,
     * what handler and bootstrap are relative to. NULL: the project root. */
    char *root;
    char *runtime_name; /* as written, e.g. "nodejs20.x" */
    enum dev_runtime runtime;
    /* "" for a runtime AWS lists; else the warning for a newer one that is
     * run all the same (dev_runtime_lookup). */
    char runtime_note[512];
    char *bootstrap; /* provided: the executable, relative to the project */
    enum dev_node_worker node_worker;
    struct dev_env_var *environment;
    size_t environment_count;
    unsigned timeout_s;   /* 1-900, default 20 */
    unsigned memory_mb;   /* 128-10240, default 1024 */
    unsigned concurrency; /* 1-1000, default 10 */
    int url;
    int streaming;
    int live;     /* 0: "live": false, not run locally */
    char *build;  /* a shell command run before the workers (re)start; NULL: none */
    char **watch; /* which changed files run it (fnmatch patterns); NULL: the default */
    size_t watch_count;
    /* The deployed function tether dev attaches (a name or ARN); NULL: the
     * stack's function with this logical id, or none. Needs "aws". */
    char *deployed;
};

enum dev_events_mode {
    DEV_EVENTS_EMBEDDED, /* the embedded broker and local Lambda service */
    DEV_EVENTS_REMOTE,   /* an AppSync Events API (AWS or another broker) */
};

struct dev_events {
    enum dev_events_mode mode;
    char *http;     /* remote: https://ID.appsync-api.REGION.amazonaws.com/event */
    char *realtime; /* optional */
    char *region;
    char *api_key; /* NULL: IAM from the AWS credentials chain */
    char *ca_file;
};

/* The "aws" section: where tether dev attaches deployed functions
 * (docs/deploy.md). present is 0 when the section is absent. */
struct dev_aws {
    int present;
    char *region;  /* required in the section */
    char *profile; /* NULL: the default credentials chain */
    char *stack;   /* a CloudFormation stack: its functions by logical id; NULL: none */
};

struct dev_config {
    char *path; /* the file it came from */
    char *root; /* the project directory (the file's directory) */
    char *app;
    char *stage;          /* default: the user name */
    char *namespace_name; /* default "tether" */
    struct dev_function *functions;
    size_t function_count;
    struct dev_events events;
    struct dev_aws aws;
    json_t *tunnel; /* the "tunnel" section, checked by the tunnel module; NULL if absent */
};

/* Loads and checks a tether.json. -ENOENT when the file does not exist,
 * -EINVAL with cause for anything wrong in it. */
int dev_config_load(const char *path, struct dev_config *out, char *cause, size_t cause_len);
/* The same from text (tests, and `--config -`); path is used in messages. */
int dev_config_parse(const char *text, size_t len, const char *path, struct dev_config *out,
                     char *cause, size_t cause_len);
void dev_config_free(struct dev_config *config);
const struct dev_function *dev_config_function(const struct dev_config *config, const char *id);
/* The function's code directory, absolute: the project root, or its "root"
 * inside it. */
void dev_function_dir(const struct dev_config *config, const struct dev_function *f, char *out,
                      size_t out_len);
/* `tether dev --function`: only functions whose id matches one of the
 * shell-style patterns (fnmatch) stay live; the others become as if
 * "live": false. A pattern that matches no function is an error whose cause
 * lists the functions. count 0 selects everything. */
int dev_config_select(struct dev_config *config, const char *const *patterns, size_t count,
                      char *cause, size_t cause_len);
/* The language of a runtime identifier: 0 for one AWS lists today; 1 for a
 * newer release of Node.js or Python that is accepted, with the warning in
 * note; -EINVAL for anything else, with the reason and the list in note. */
int dev_runtime_lookup(const char *name, enum dev_runtime *out, char *note, size_t note_len);
/* The language version a runtime declares: "24" for nodejs24.x, "3.12" for
 * python3.12; -ENOENT for provided runtimes. */
int dev_runtime_version(const char *name, char *out, size_t out_len);
/* Walks up from dir to find tether.json; 0 and the path, or -ENOENT. */
int dev_config_find(const char *dir, char *out, size_t out_len);

#endif
