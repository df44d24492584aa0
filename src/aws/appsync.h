/* The AppSync control plane that `tether dev` needs to find or create its
 * events API in an AWS account (restJson1, as @aws-sdk/client-appsync
 * sends it, signed for service "appsync"):
 *   ListApis               GET  /v2/apis?maxResults=N[&nextToken=T]
 *   CreateApi              POST /v2/apis  {"name", "eventConfig"}
 *   GetApi                 GET  /v2/apis/{apiId}
 *   ListChannelNamespaces  GET  /v2/apis/{apiId}/channelNamespaces?...
 *   CreateChannelNamespace POST /v2/apis/{apiId}/channelNamespaces {"name"}
 * An API tether creates authorizes connect, publish and subscribe with
 * AWS_IAM only. Every answer is read with caps (aws_call's answer size; the
 * pages followed) and every field tether keeps is checked against what
 * AppSync documents for it, so a hostile endpoint cannot hand tether an
 * events URL on another scheme or path.
 *
 * Blocking (each call runs aws_call on the calling thread); any thread but
 * never inside a loop's callback. Returns 0 or -errno with the cause. */
#ifndef TETHER_AWS_APPSYNC_H
#define TETHER_AWS_APPSYNC_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"

struct aws_context;

#define AWS_APPSYNC_MAX_ID 64
#define AWS_APPSYNC_MAX_NAME 50
#define AWS_APPSYNC_MAX_HOST 253
#define AWS_APPSYNC_MAX_ARN 512
#define AWS_APPSYNC_MAX_URL (AWS_APPSYNC_MAX_HOST + 32)
/* Pages of ListApis / ListChannelNamespaces followed before giving up. */
#define AWS_APPSYNC_MAX_PAGES 50

struct aws_appsync_api {
    char api_id[AWS_APPSYNC_MAX_ID + 1];
    char name[AWS_APPSYNC_MAX_NAME + 1];
    char api_arn[AWS_APPSYNC_MAX_ARN + 1];
    char http_host[AWS_APPSYNC_MAX_HOST + 1];     /* dns.HTTP */
    char realtime_host[AWS_APPSYNC_MAX_HOST + 1]; /* dns.REALTIME */
    int iam_auth; /* connect, publish and subscribe all allow AWS_IAM */
};

struct aws_appsync_namespace {
    char name[AWS_APPSYNC_MAX_NAME + 1];
    char arn[AWS_APPSYNC_MAX_ARN + 1];
};

/* What tether.json's "events" needs, and what the IAM policy names. */
struct aws_appsync_events {
    struct aws_appsync_api api;
    struct aws_appsync_namespace ns;
    char http_url[AWS_APPSYNC_MAX_URL + 1];     /* https://HTTP/event */
    char realtime_url[AWS_APPSYNC_MAX_URL + 1]; /* wss://REALTIME/event/realtime */
    int created_api, created_namespace;
};

/* ListApis, page after page: the API called name. -ENOENT when none. */
int aws_appsync_find_api(const struct aws_context *ctx, const char *name,
                         struct aws_appsync_api *out, char *cause, size_t cause_len);
/* CreateApi: an Event API whose every auth mode is AWS_IAM. AppSync itself
 * creates a namespace "default" with it. */
int aws_appsync_create_api(const struct aws_context *ctx, const char *name,
                           struct aws_appsync_api *out, char *cause, size_t cause_len);
/* GetApi. -ENOENT when there is no such API. */
int aws_appsync_get_api(const struct aws_context *ctx, const char *api_id,
                        struct aws_appsync_api *out, char *cause, size_t cause_len);
/* ListChannelNamespaces, page after page: the one called name; -ENOENT. */
int aws_appsync_find_namespace(const struct aws_context *ctx, const char *api_id, const char *name,
                               struct aws_appsync_namespace *out, char *cause, size_t cause_len);
/* CreateChannelNamespace; -EEXIST when it exists already. */
int aws_appsync_create_namespace(const struct aws_context *ctx, const char *api_id,
                                 const char *name, struct aws_appsync_namespace *out, char *cause,
                                 size_t cause_len);
/* Finds the API called api_name or creates it, then finds its namespace or
 * creates it; a namespace another process created meanwhile is read back.
 * known_api_id (NULL: none) is the id a previous run found: one GetApi
 * checks it still is an API of that name instead of listing every API
 * (an id that is gone or renamed falls back to the search). An existing API
 * that does not allow AWS_IAM for connect, publish and subscribe is refused
 * (-EPERM): tether's bridge signs with IAM. */
int aws_appsync_ensure_events(const struct aws_context *ctx, const char *api_name,
                              const char *namespace_name, const char *known_api_id,
                              struct aws_appsync_events *out, char *cause, size_t cause_len);

/* ---- the pieces, for tests ---- */

/* Whether a name is one AppSync accepts for an API ([A-Za-z0-9_ -], 1-50)
 * or for a namespace (letters, digits and inner '-', 1-50). */
int aws_appsync_valid_api_name(const char *name);
int aws_appsync_valid_namespace_name(const char *name);
/* CreateApi's and CreateChannelNamespace's JSON bodies. */
int aws_appsync_create_api_body(struct buf *out, const char *name);
int aws_appsync_create_namespace_body(struct buf *out, const char *name);
/* One "api" object of an answer into out, every field checked. */
int aws_appsync_parse_api(json_t *api, struct aws_appsync_api *out, char *cause, size_t cause_len);
/* One "channelNamespace" object of an answer. */
int aws_appsync_parse_namespace(json_t *ns, struct aws_appsync_namespace *out, char *cause,
                                size_t cause_len);
/* The events endpoints of an API (https://HTTP/event, wss://REALTIME/event/realtime). */
int aws_appsync_events_urls(const struct aws_appsync_api *api, struct aws_appsync_events *out);

#endif
