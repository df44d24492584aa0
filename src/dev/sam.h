/* AWS SAM (and plain CloudFormation) templates, read for `tether init --sam`:
 * which Lambda functions a template declares and how they map onto
 * tether.json's functions (docs/config.md, "From a SAM template").
 *
 * A template is untrusted input (it may come with any cloned repository), so
 * the reader has hard caps: SAM_MAX_BYTES of text, SAM_MAX_NODES nodes
 * counting every alias as the nodes it stands for (an alias bomb is refused
 * before it grows), SAM_MAX_DEPTH levels of nesting, and SAM_MAX_ANCHORS
 * anchors. YAML and JSON templates are read alike (libyaml), with
 * CloudFormation's short-form tags (!Ref, !Sub, !GetAtt ...) turned into the
 * long forms ({"Ref": ...}, {"Fn::Sub": ...}) before anything looks at them.
 *
 * Nothing here prints: what could not be mapped is returned as notes, one
 * sentence each, and failures return -errno with the reason in the caller's
 * cause buffer. sam_template_free() releases everything a parse returns. */
#ifndef TETHER_DEV_SAM_H
#define TETHER_DEV_SAM_H

#include <jansson.h>
#include <stddef.h>

#define SAM_MAX_BYTES (1024 * 1024)
#define SAM_MAX_NODES 200000
#define SAM_MAX_DEPTH 64
#define SAM_MAX_ANCHORS 1000
#define SAM_MAX_FUNCTIONS 200 /* tether.json's own limit */
#define SAM_MAX_VALUE 4096    /* a resolved string (Lambda's whole environment is 4 KB) */

struct sam_env_var {
    char *name;
    char *value;
};

/* One function, already in tether.json's terms. */
struct sam_function {
    char *id;      /* the template's logical id (tether dev matches the stack by it) */
    char *runtime; /* a runtime tether.json accepts */
    /* The code's directory (CodeUri) for Node.js and Python: tether.json's
     * "root", Lambda's task root; NULL: the project root. */
    char *root;
    char *handler;   /* path/to/module.export relative to root; provided: _HANDLER */
    char *bootstrap; /* provided: the executable relative to the project; NULL: none */
    char *build;     /* a "build" command (provided with BuildMethod makefile or go1.x) */
    struct sam_env_var *environment;
    size_t environment_count;
    unsigned timeout_s; /* 0: the template does not say */
    unsigned memory_mb; /* 0: the template does not say */
    int url;            /* FunctionUrlConfig, or an AWS::Lambda::Url resource */
    int streaming;      /* InvokeMode RESPONSE_STREAM */
};

struct sam_template {
    struct sam_function *functions;
    size_t function_count;
    /* What was left out or changed, one sentence each ("Api: Events.Get
     * (Api) is not served by tether dev; ..."), in template order. */
    char **notes;
    size_t note_count;
};

/* What the caller knows besides the template: the values of the pseudo
 * parameters AWS::Region and AWS::StackName (NULL: unknown), used where an
 * intrinsic function refers to them. */
struct sam_context {
    const char *region;
    const char *stack_name;
};

/* Reads a template from text. 0 with the functions and notes (there may be
 * none: the caller decides whether that is an error); -EINVAL with cause for
 * text that is not a template or breaks a cap; -ENOMEM. */
int sam_template_parse(const char *text, size_t len, const struct sam_context *context,
                       struct sam_template *out, char *cause, size_t cause_len);
/* The same for a file (at most SAM_MAX_BYTES). */
int sam_template_load(const char *path, const struct sam_context *context, struct sam_template *out,
                      char *cause, size_t cause_len);
void sam_template_free(struct sam_template *t);

/* One string key of one table of a samconfig.toml, e.g. table
 * "default.deploy.parameters", key "stack_name": 0 and the value in out;
 * -ENOENT when the table or key is absent; -EINVAL when the value is not a
 * single-line string that fits out. Only what such a key can be is read:
 * basic ("...", with escapes) and literal ('...') strings. */
int sam_config_string(const char *text, size_t len, const char *table, const char *key, char *out,
                      size_t out_len);

/* tether.json's "functions" object for the template's functions, keys in a
 * fixed order (handler, runtime, bootstrap, build, timeout, memory,
 * environment, url, streaming). NULL when out of memory. */
json_t *sam_functions_json(const struct sam_template *t);

#endif
