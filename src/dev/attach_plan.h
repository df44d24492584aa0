/* What attaching changes on a deployed function and how it is undone: the
 * pure part of dev/attach.h, without I/O, so every rule is unit-tested.
 *
 * Attaching records what it is about to change (a "record", JSON):
 *   {"version": 1, "function": ID, "name": NAME, "arn": ARN, "session": S,
 *    "layer": LAYER_ARN,
 *    "original": {"Runtime", "Handler", "Layers": [ARN...], "Timeout",
 *                 "Environment": {KEY: old value, or null when it was unset}},
 *    "set": {"Timeout": N}}           (only with --debug-timeout)
 * The state file .tether/attached/ID.json holds it with the function's whole
 * configuration as "configuration"; the function's tags hold it without
 * (attach_plan_tags). The original environment is kept only for the keys
 * tether sets (all TETHER_*): restoring removes what tether added and puts
 * back what it replaced, and leaves everything else as it is.
 *
 * Restoring is field by field: a field is put back only while it still
 * holds what attaching set (Runtime provided.al2023, Handler bootstrap, the
 * bridge layer among the layers, the raised Timeout); a field the user
 * changed meanwhile is left and named in the warning. When the environment
 * no longer carries the record's session marker (TETHER_SESSION), someone
 * redeployed the function, or the record is not this function's: then only
 * a tether-bridge layer and TETHER_* variables are removed, since a record
 * comes from a project directory or from tags, which others may write.
 *
 * Ownership: every json_t returned is new (the caller json_decref's it);
 * arguments are borrowed. */
#ifndef TETHER_DEV_ATTACH_PLAN_H
#define TETHER_DEV_ATTACH_PLAN_H

#include <jansson.h>
#include <stddef.h>

#define ATTACH_RUNTIME "provided.al2023"
#define ATTACH_HANDLER "bootstrap"
#define ATTACH_SESSION_VARIABLE "TETHER_SESSION"
/* The bridge layers' names begin so (tether-bridge-x86_64, -arm64). */
#define ATTACH_LAYER_PREFIX "tether-bridge-"
/* Lambda allows five layers per function; attaching adds one. */
#define ATTACH_MAX_LAYERS 5
/* Tags: "tether:session" (who holds the function, for people) and
 * "tether:attach:0" ... the record, base64 of its compact JSON, 256
 * characters a tag (Lambda's limit for a value). */
#define ATTACH_TAG_HOLDER "tether:session"
#define ATTACH_TAG_PREFIX "tether:attach:"
#define ATTACH_TAG_VALUE_MAX 256
/* Lambda allows 50 tags; the record never takes more than this many. */
#define ATTACH_TAG_MAX_PARTS 40

struct attach_settings {
    const char *function_id; /* the id in tether.json */
    const char *layer_arn;   /* the bridge layer version to add */
    const char *session;     /* this session's marker: TETHER_SESSION's value */
    json_t *environment;     /* the TETHER_* variables to add (strings), the marker included */
    unsigned timeout_s;      /* 0: leave the function's timeout */
};

/* Checks that configuration (GetFunctionConfiguration's answer) can be
 * attached and builds the record. -EPERM with the reason for a container
 * image, -EALREADY with the holder in cause when another session's marker is
 * there (unless force), -EEXIST for a bridge deployed by hand (a
 * TETHER_BRIDGE_KEY without a marker), -E2BIG when its layers are already
 * five, -EINVAL for
 * a configuration without a name, ARN or runtime. previous: the record the
 * function's tags carry (attach_plan_from_tags), or NULL; when another
 * session holds the function (a takeover), its original fields are the
 * ones kept. */
int attach_plan_record(json_t *configuration, const struct attach_settings *s, int force,
                       json_t *previous, json_t **record, char *cause, size_t cause_len);
/* The UpdateFunctionConfiguration body that attaches (the record's original
 * layers and the bridge's; the current variables and tether's), with the
 * configuration's RevisionId, so that of two sessions racing for one
 * function only the first wins. */
int attach_plan_update(json_t *record, json_t *configuration, const struct attach_settings *s,
                       json_t **body);
/* The UpdateFunctionConfiguration body that restores current (the
 * function's configuration now), with its RevisionId; warning gets "" or
 * what was left alone and why. */
int attach_plan_restore(json_t *record, json_t *current, json_t **body, char *warning,
                        size_t warning_len);

/* The ARN of the AppSync Events API the bridge reaches, for its IAM policy:
 * the API id from events_http's host (ID.appsync-api.REGION.amazonaws.com,
 * or .amazonaws.com.cn), the partition and account from the function's ARN.
 * -ENOENT when the endpoint is not an AppSync one (a broker of one's own:
 * no policy to give), -EINVAL for a function ARN that does not parse. */
int attach_plan_events_api_arn(const char *events_http, const char *function_arn, char *out,
                               size_t out_len);

/* The tags that carry record (and the holder text), as an object. */
int attach_plan_tags(json_t *record, const char *holder, json_t **tags);
/* The record from a function's tags (ListTags' "Tags"): -ENOENT when the
 * function carries none, -EINVAL when they do not decode. */
int attach_plan_from_tags(json_t *tags, json_t **record);
/* The keys of tags that attach_plan_tags sets, for UntagResource: up to max
 * into keys (borrowed from tags); their count. */
size_t attach_plan_tag_keys(json_t *tags, const char **keys, size_t max);

#endif
