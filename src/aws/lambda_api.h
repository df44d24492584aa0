/* The Lambda control plane's client: the operations `tether dev` needs to
 * attach the bridge to deployed functions and to restore them
 * (dev/attach.h). Each is one restJson1 request on aws_call (aws/call.h),
 * serialized as the official @aws-sdk/client-lambda serializes it
 * (tests/integration/aws-lambda-api.test.mjs compares them).
 *
 * Results: every call returns 0 and, where it has one, the answer's JSON
 * object in *out (the caller json_decref's it), or -errno with the reason in
 * cause: aws_answer_error's mapping (-ENOENT no such function or layer,
 * -EACCES, -EBUSY ResourceConflictException: an update is in progress,
 * -EIO anything else), and -ESTALE for PreconditionFailedException (the
 * RevisionId given is no longer the function's), -EPROTO for an answer
 * that is not a JSON object.
 *
 * Threads: blocking, like aws_call; any thread, never a loop callback.
 * Everything passed in is borrowed for the call. */
#ifndef TETHER_AWS_LAMBDA_API_H
#define TETHER_AWS_LAMBDA_API_H

#include <jansson.h>
#include <stddef.h>

#include "aws/call.h"
#include "core/buf.h"

/* Answers are small JSON documents; a layer list page holds at most 50. */
#define LAMBDA_API_MAX_ANSWER (1024 * 1024)
/* Lambda's limit for a zip sent inline (base64 in the JSON body). */
#define LAMBDA_API_MAX_ZIP (50u * 1024 * 1024)

/* GetFunctionConfiguration: the function's configuration object. function
 * is a name or an ARN. */
int lambda_api_get_configuration(const struct aws_context *ctx, const char *function, json_t **out,
                                 char *cause, size_t cause_len);
/* GetFunction: {"Configuration", "Code", "Tags"} (PackageType and
 * Architectures are inside Configuration). */
int lambda_api_get_function(const struct aws_context *ctx, const char *function, json_t **out,
                            char *cause, size_t cause_len);
/* UpdateFunctionConfiguration with body (Runtime, Handler, Layers,
 * Environment, Timeout, RevisionId ... as the API names them); *out is the
 * configuration it answers (LastUpdateStatus InProgress). out may be NULL. */
int lambda_api_update_configuration(const struct aws_context *ctx, const char *function,
                                    json_t *body, json_t **out, char *cause, size_t cause_len);
/* Polls GetFunctionConfiguration until LastUpdateStatus is Successful (0,
 * the configuration in *out when out is not NULL), Failed (-EIO with
 * LastUpdateStatusReason in cause), or timeout_ms passed (-ETIMEDOUT).
 * Waits 100 ms, then twice as long each time, at most 2 s. */
int lambda_api_wait_updated(const struct aws_context *ctx, const char *function,
                            unsigned timeout_ms, json_t **out, char *cause, size_t cause_len);
/* TagResource: tags is an object of string values. arn is the function's
 * ARN (tags name resources by ARN only). */
int lambda_api_tag(const struct aws_context *ctx, const char *arn, json_t *tags, char *cause,
                   size_t cause_len);
/* UntagResource: the keys named. */
int lambda_api_untag(const struct aws_context *ctx, const char *arn, const char *const *keys,
                     size_t count, char *cause, size_t cause_len);
/* ListTags: {"Tags": {...}}. */
int lambda_api_list_tags(const struct aws_context *ctx, const char *arn, json_t **out, char *cause,
                         size_t cause_len);

struct lambda_layer_spec {
    const char *name;        /* the layer's name */
    const char *description; /* up to 256 characters */
    const void *zip;         /* the layer's content, sent as Content.ZipFile */
    size_t zip_len;
    const char *const *runtimes; /* CompatibleRuntimes; count 0: none sent */
    size_t runtime_count;
    const char *const *architectures; /* CompatibleArchitectures */
    size_t architecture_count;
};

/* PublishLayerVersion: {"LayerVersionArn", "Version", "Description", ...}. */
int lambda_api_publish_layer(const struct aws_context *ctx, const struct lambda_layer_spec *spec,
                             json_t **out, char *cause, size_t cause_len);
/* ListLayerVersions, one page: {"LayerVersions": [...], "NextMarker"}.
 * marker NULL for the first page; architecture NULL for any. A layer that
 * was never published answers an empty list, as AWS does. */
int lambda_api_list_layer_versions(const struct aws_context *ctx, const char *layer,
                                   const char *architecture, const char *marker, json_t **out,
                                   char *cause, size_t cause_len);
/* The request path for an operation: prefix, then label percent-encoded as
 * the SDK encodes a path label (every byte but RFC 3986's unreserved ones,
 * so an ARN's ':' becomes %3A), then suffix. For the calls and for tests. */
int lambda_api_path(struct buf *out, const char *prefix, const char *label, const char *suffix);

/* A string member of a JSON object, or "" when it is absent or not a
 * string: what callers read from the answers. */
const char *lambda_api_string(json_t *object, const char *key);

#endif
