/* The Lambda control plane's state (deploy.c): functions made through the
 * API (their settings, code, layers, tags, states), layer versions, and the
 * private folder their zips and extracted code live in. control_api.c speaks
 * HTTP and JSON and calls these; nothing here answers a request.
 *
 * Ownership: the control owns every deployment and layer version; a
 * deployment owns its settings and tags (jansson objects), its runnable
 * configuration (the lambda_function_config its function points at) and its
 * folders, which are removed when it is deleted or the service stops.
 *
 * Errors are AWS's: a struct lambda_api_error gets the HTTP status, the
 * x-amzn-ErrorType and the message, and the call returns a negative errno. */
#ifndef TETHER_LAMBDA_DEPLOY_H
#define TETHER_LAMBDA_DEPLOY_H

#include <jansson.h>
#include <stdint.h>

#include "aws/sigv4.h"
#include "core/buf.h"
#include "lambda/lambda_internal.h"

/* AWS's quotas (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). */
#define LAMBDA_ZIP_MAX (50u * 1024 * 1024)       /* a zip uploaded in the request */
#define LAMBDA_UNZIPPED_MAX (250u * 1024 * 1024) /* code and layers, unzipped: 262144000 */
#define LAMBDA_MAX_LAYERS 5
#define LAMBDA_MAX_TAGS 50
/* Requests carrying a zip, as AWS caps them ("Request must be smaller than
 * 69905067 bytes for the CreateFunction operation"). */
#define LAMBDA_UPLOAD_REQUEST_MAX 69905067u
#define LAMBDA_CONTROL_REQUEST_MAX (1024u * 1024)
#define LAMBDA_ZIP_MAX_ENTRIES 100000
/* Deployed functions and layer versions at most (AWS has storage quotas). */
#define LAMBDA_MAX_DEPLOYED 1000
#define LAMBDA_MAX_LAYER_VERSIONS 1000
/* The shortest Pending and InProgress phases: Lambda's take seconds, and
 * clients (the SDKs' waiters, tether dev's attach) poll for the change. */
#define LAMBDA_SETTLE_MS 150

struct lambda_api_error {
    int status;
    const char *type; /* x-amzn-ErrorType */
    char message[512];
};

enum lambda_deploy_state {
    LAMBDA_STATE_PENDING,
    LAMBDA_STATE_ACTIVE,
    LAMBDA_STATE_FAILED,
};

enum lambda_update_status {
    LAMBDA_UPDATE_NONE, /* never updated yet: created only */
    LAMBDA_UPDATE_IN_PROGRESS,
    LAMBDA_UPDATE_SUCCESSFUL,
    LAMBDA_UPDATE_FAILED,
};

struct lambda_layer_version {
    struct lambda_layer_version *next;
    char name[141];
    unsigned version;
    char arn[256];
    char zip_path[4096];
    char sha256[48]; /* base64 */
    uint64_t code_size;
    char created[40];
    json_t *meta; /* Description, CompatibleRuntimes, CompatibleArchitectures, LicenseInfo */
    int deleted;  /* functions that use it keep it; new ones cannot add it */
};

struct lambda_deployment {
    struct lambda_control *control;
    struct lambda_function *function;
    json_t *settings; /* the configuration as the API shows it (Runtime, Handler, Role ...) */
    json_t *tags;     /* an object of strings */
    struct lambda_config *run; /* owns what function->config points at */
    char code_dir[4096];
    char code_zip[4096];
    char opt_dir[4096]; /* "" without layers */
    char code_sha256[48];
    uint64_t code_size;
    char code_token[33]; /* the capability in Code.Location */
    char revision[37];
    char last_modified[40];
    enum lambda_deploy_state state;
    enum lambda_update_status update;
    char reason[256];
    char reason_code[48];
    unsigned serial;                /* names its folders */
    struct lambda_staging *staging; /* the change in progress */
    struct lambda_retired *retired; /* folders older sandboxes may still use */
};

/* ---- the control ---- */
struct lambda_control {
    struct lambda_service *service;
    char dir[4096];   /* the private folder */
    char state[4096]; /* --state-dir ("" none): what survives a restart, in .tether/ */
    char home[4096];  /* tether's own files (runtimes/); "" when not found */
    struct lambda_deployment **deployments;
    size_t count;
    struct lambda_layer_version *layers;
    size_t layer_count;
    char access_key_id[SIGV4_MAX_ACCESS_KEY_ID + 1];
    char secret[SIGV4_MAX_SECRET + 1];
    char token[SIGV4_MAX_SESSION_TOKEN + 1];
    unsigned serial;
};

struct lambda_control *lambda_control_of(struct lambda_service *service);
int lambda_control_authorized(struct lambda_control *control, const struct http_message *m,
                              struct lambda_api_error *err);
/* What a request's head shows, before its body is read: credentials to
 * check with, an Authorization naming the service's access key. */
int lambda_control_precheck(struct lambda_control *control, const struct http_message *m,
                            struct lambda_api_error *err);
const char *lambda_control_region(const struct lambda_control *control);
const char *lambda_control_account(const struct lambda_control *control);

/* ---- functions ---- */
/* The deployment a name or ARN names, or NULL. */
struct lambda_deployment *lambda_deploy_find(struct lambda_control *control, const char *name);
/* The first deployment after `after` (NULL: from the start), in creation order. */
struct lambda_deployment *lambda_deploy_next(struct lambda_control *control,
                                             struct lambda_deployment *after);

/* Called once the code is in place (or it failed): answer then. */
typedef void (*lambda_deploy_done)(void *ctx, struct lambda_deployment *d,
                                   const struct lambda_api_error *err);

/* CreateFunction: request is the parsed body. On success `done` runs later
 * with the new deployment (state Pending); on an early error err is filled
 * and nothing is called. *out is set before the change starts. */
int lambda_deploy_create(struct lambda_control *control, json_t *request, lambda_deploy_done done,
                         void *ctx, struct lambda_deployment **out, struct lambda_api_error *err);
/* UpdateFunctionCode (zip given) or UpdateFunctionConfiguration (settings
 * given): LastUpdateStatus InProgress until the change is installed. */
int lambda_deploy_update(struct lambda_deployment *d, json_t *request, int code,
                         lambda_deploy_done done, void *ctx, struct lambda_api_error *err);
/* 0, or -EBUSY with ResourceConflictException while a change is staged or
 * the function is still being created. */
int lambda_deploy_check_idle(struct lambda_deployment *d, struct lambda_api_error *err);
/* The client that waits for `done` went away: it is not called. */
void lambda_deploy_forget(struct lambda_deployment *d);
int lambda_deploy_delete(struct lambda_deployment *d);
/* The zip served at Code.Location's token, or NULL. */
struct lambda_deployment *lambda_deploy_by_token(struct lambda_control *control, const char *token);
/* Tags of a function ARN: TagResource / UntagResource. */
int lambda_deploy_tag(struct lambda_deployment *d, json_t *tags, struct lambda_api_error *err);

/* ---- layers ---- */
int lambda_layer_publish(struct lambda_control *control, const char *name, json_t *request,
                         struct lambda_layer_version **out, struct lambda_api_error *err);
struct lambda_layer_version *lambda_layer_find(struct lambda_control *control, const char *name,
                                               unsigned version);
struct lambda_layer_version *lambda_layer_find_arn(struct lambda_control *control, const char *arn);
/* The versions of a layer, newest first: pass NULL to start. */
struct lambda_layer_version *lambda_layer_next(struct lambda_control *control, const char *name,
                                               struct lambda_layer_version *after);
void lambda_layer_delete(struct lambda_control *control, struct lambda_layer_version *v);

/* A function as the state folder kept it: staged again (zip is taken),
 * keeping its RevisionId and LastModified. */
int lambda_deploy_restore(struct lambda_control *control, const char *name, json_t *settings,
                          json_t *tags, struct buf *zip, const char *revision,
                          const char *last_modified, struct lambda_api_error *err);

/* ---- the state folder (deploy_state.c): --state-dir DIR keeps functions
 * and layers in DIR/.tether/ (core/private_file.h: 0700, 0600, atomic).
 * Without a state folder these do nothing. ---- */
#define LAMBDA_STATE_FUNCTIONS "lambda-functions"
#define LAMBDA_STATE_LAYERS "lambda-layers"
/* Saves a function's record, and its zip when given. */
void lambda_state_save_function(struct lambda_deployment *d, const struct buf *zip);
void lambda_state_remove_function(struct lambda_deployment *d);
/* Saves a layer version's record, and its zip when given (0 or -errno). */
int lambda_state_save_layer(struct lambda_control *control, struct lambda_layer_version *v,
                            const struct buf *zip);
/* Reads what the folder holds at start: layers, then functions (staged). */
int lambda_state_load(struct lambda_control *control, char *cause, size_t cause_len);

void lambda_api_fail(struct lambda_api_error *err, int status, const char *type, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

#endif
