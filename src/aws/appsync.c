/* The AppSync control plane (see appsync.h). */
#include "aws/appsync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/call.h"
#include "aws/retry.h"
#include "core/cause.h"
#include "core/percent.h"

#define APPSYNC_PAGE_SIZE "25"
#define APPSYNC_MAX_TOKEN 4096

/* ---- names and fields ---- */

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int aws_appsync_valid_api_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > AWS_APPSYNC_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_alnum(name[i]) && name[i] != '_' && name[i] != '-' && name[i] != ' ')
            return 0;
    }
    return 1;
}

int aws_appsync_valid_namespace_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > AWS_APPSYNC_MAX_NAME || !is_alnum(name[0]) || !is_alnum(name[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_alnum(name[i]) && name[i] != '-')
            return 0;
    }
    return 1;
}

/* AppSync's API ids are short runs of letters and digits. */
static int valid_id(const char *id)
{
    size_t n = strlen(id);
    for (size_t i = 0; i < n; i++) {
        if (!is_alnum(id[i]))
            return 0;
    }
    return n > 0 && n <= AWS_APPSYNC_MAX_ID;
}

/* A DNS name: labels of letters, digits and inner '-', at least two. */
static int valid_host(const char *host)
{
    size_t n = strlen(host), label = 0;
    int dots = 0;
    if (n == 0 || n > AWS_APPSYNC_MAX_HOST)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = host[i];
        if (c == '.') {
            if (label == 0 || host[i - 1] == '-')
                return 0;
            label = 0;
            dots++;
        } else if (is_alnum(c) || (c == '-' && label > 0)) {
            label++;
        } else {
            return 0;
        }
    }
    return dots > 0 && label > 0 && host[n - 1] != '-';
}

/* An ARN as IAM policies name resources: "arn:" and printable ASCII with
 * no space or quote. */
static int valid_arn(const char *arn)
{
    size_t n = strlen(arn);
    if (n < 8 || n > AWS_APPSYNC_MAX_ARN || strncmp(arn, "arn:", 4) != 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (arn[i] <= ' ' || arn[i] > '~' || arn[i] == '"' || arn[i] == '\\')
            return 0;
    }
    return 1;
}

static int valid_any(const char *s)
{
    (void)s;
    return 1;
}

/* The string at key, checked and copied into out[cap]. */
static int take(json_t *object, const char *key, int (*valid)(const char *), char *out, size_t cap,
                char *cause, size_t cause_len)
{
    json_t *v = json_object_get(object, key);
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (!s || strlen(s) != json_string_length(v) || strlen(s) >= cap || !valid(s))
        return cause_set(cause, cause_len, -EPROTO, "AppSync answer: bad or missing \"%s\"", key);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

/* Whether a list of auth modes ([{"authType": ...}]) includes AWS_IAM. */
static int allows_iam(json_t *modes)
{
    size_t i;
    json_t *mode;
    json_array_foreach(modes, i, mode)
    {
        const char *type = json_string_value(json_object_get(mode, "authType"));
        if (type && strcmp(type, "AWS_IAM") == 0)
            return 1;
    }
    return 0;
}

int aws_appsync_parse_api(json_t *api, struct aws_appsync_api *out, char *cause, size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    json_t *dns = json_object_get(api, "dns");
    if (!json_is_object(api) || !json_is_object(dns))
        return cause_set(cause, cause_len, -EPROTO, "AppSync answer: an API without \"dns\"");
    int rc = take(api, "apiId", valid_id, out->api_id, sizeof(out->api_id), cause, cause_len);
    if (rc == 0)
        rc = take(api, "name", valid_any, out->name, sizeof(out->name), cause, cause_len);
    if (rc == 0)
        rc = take(api, "apiArn", valid_arn, out->api_arn, sizeof(out->api_arn), cause, cause_len);
    if (rc == 0)
        rc =
            take(dns, "HTTP", valid_host, out->http_host, sizeof(out->http_host), cause, cause_len);
    if (rc == 0)
        rc = take(dns, "REALTIME", valid_host, out->realtime_host, sizeof(out->realtime_host),
                  cause, cause_len);
    if (rc < 0)
        return rc;
    /* The API's ARN ends in its id: policies derived from it name this API. */
    size_t arn_len = strlen(out->api_arn), id_len = strlen(out->api_id);
    if (arn_len < id_len + 6 || strncmp(out->api_arn + arn_len - id_len - 5, "apis/", 5) != 0 ||
        strcmp(out->api_arn + arn_len - id_len, out->api_id) != 0)
        return cause_set(cause, cause_len, -EPROTO,
                         "AppSync answer: apiArn %s does not end in apis/%s", out->api_arn,
                         out->api_id);
    json_t *config = json_object_get(api, "eventConfig");
    out->iam_auth = allows_iam(json_object_get(config, "connectionAuthModes")) &&
                    allows_iam(json_object_get(config, "defaultPublishAuthModes")) &&
                    allows_iam(json_object_get(config, "defaultSubscribeAuthModes"));
    return 0;
}

int aws_appsync_parse_namespace(json_t *ns, struct aws_appsync_namespace *out, char *cause,
                                size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    int rc = take(ns, "name", aws_appsync_valid_namespace_name, out->name, sizeof(out->name), cause,
                  cause_len);
    if (rc == 0)
        rc = take(ns, "channelNamespaceArn", valid_arn, out->arn, sizeof(out->arn), cause,
                  cause_len);
    return rc;
}

int aws_appsync_events_urls(const struct aws_appsync_api *api, struct aws_appsync_events *out)
{
    int a = snprintf(out->http_url, sizeof(out->http_url), "https://%s/event", api->http_host);
    int b = snprintf(out->realtime_url, sizeof(out->realtime_url), "wss://%s/event/realtime",
                     api->realtime_host);
    return a < 0 || (size_t)a >= sizeof(out->http_url) || b < 0 ||
                   (size_t)b >= sizeof(out->realtime_url)
               ? -ENAMETOOLONG
               : 0;
}

/* ---- request bodies ---- */

static int dump_into(struct buf *out, json_t *body)
{
    if (!body)
        return -ENOMEM;
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        return -ENOMEM;
    int rc = buf_append_str(out, text);
    free(text);
    return rc;
}

int aws_appsync_create_api_body(struct buf *out, const char *name)
{
    const char *iam = "AWS_IAM";
    return dump_into(out,
                     json_pack("{s:s, s:{s:[{s:s}], s:[{s:s}], s:[{s:s}], s:[{s:s}]}}", "name",
                               name, "eventConfig", "authProviders", "authType", iam,
                               "connectionAuthModes", "authType", iam, "defaultPublishAuthModes",
                               "authType", iam, "defaultSubscribeAuthModes", "authType", iam));
}

int aws_appsync_create_namespace_body(struct buf *out, const char *name)
{
    return dump_into(out, json_pack("{s:s}", "name", name));
}

/* ---- the calls ---- */

/* One AppSync request; a 2xx answer's JSON object into *json (the caller
 * frees it). AppSync says NotFoundException where aws_answer_error expects
 * ResourceNotFoundException: both are -ENOENT here. */
static int appsync_call(const struct aws_context *ctx, const char *operation, const char *method,
                        const char *path, const char *query, const struct buf *body, json_t **json,
                        char *cause, size_t cause_len)
{
    struct aws_request request = {.service = &aws_service_appsync,
                                  .method = method,
                                  .path = path,
                                  .query = query,
                                  .content_type = body ? "application/json" : NULL,
                                  .body = body ? buf_bytes(body) : NULL,
                                  .body_len = body ? buf_length(body) : 0};
    struct aws_answer answer;
    char name[96];
    *json = NULL;
    snprintf(name, sizeof(name), "AppSync %s", operation);
    int rc = aws_call_retrying(ctx, &request, &answer, cause, cause_len);
    if (rc < 0)
        return rc;
    rc = aws_answer_error(&answer, name, cause, cause_len);
    if (rc < 0 && strcmp(answer.error_code, "NotFoundException") == 0)
        rc = -ENOENT;
    if (rc == 0) {
        json_error_t error;
        *json = json_loadb(buf_bytes(&answer.body) ? buf_bytes(&answer.body) : "",
                           buf_length(&answer.body), JSON_REJECT_DUPLICATES, &error);
        if (!json_is_object(*json)) {
            json_decref(*json);
            *json = NULL;
            rc = cause_set(cause, cause_len, -EPROTO, "%s answer is not a JSON object", name);
        }
    }
    aws_answer_free(&answer);
    return rc;
}

/* The query of one page of a listing: maxResults, and nextToken after the
 * first page. */
static int page_query(struct buf *query, const char *next_token)
{
    buf_reset(query);
    int rc = buf_append_str(query, "maxResults=" APPSYNC_PAGE_SIZE);
    if (rc == 0 && next_token) {
        rc = buf_append_str(query, "&nextToken=");
        if (rc == 0)
            rc = percent_encode(query, next_token, strlen(next_token), NULL);
    }
    return rc == 0 ? buf_terminate(query) : rc;
}

/* The next page's token of a listing answer: 1 and into token, 0 at the
 * end, or -EPROTO. */
static int next_page(json_t *page, char *token, size_t token_len, char *cause, size_t cause_len)
{
    json_t *next = json_object_get(page, "nextToken");
    if (!next || json_is_null(next))
        return 0;
    const char *s = json_string_value(next);
    if (!s || !s[0] || strlen(s) >= token_len || strlen(s) != json_string_length(next))
        return cause_set(cause, cause_len, -EPROTO, "AppSync answer: bad nextToken");
    memcpy(token, s, strlen(s) + 1);
    return 1;
}

/* How a listing's item becomes the caller's struct. */
typedef int (*item_parser)(json_t *item, void *out, char *cause, size_t cause_len);

/* The item called name, parsed: 1; 0 when the item has another name. */
static int match(json_t *item, const char *name, item_parser parse, void *out, char *cause,
                 size_t cause_len)
{
    const char *item_name = json_string_value(json_object_get(item, "name"));
    if (!item_name || strcmp(item_name, name) != 0)
        return 0;
    int rc = parse(item, out, cause, cause_len);
    return rc < 0 ? rc : 1;
}

/* Pages through a listing at path until an item of the array called key
 * has the name asked for: 0 with it parsed into out, -ENOENT, or -errno. */
static int find_in_listing(const struct aws_context *ctx, const char *operation, const char *path,
                           const char *key, const char *name, item_parser parse, void *out,
                           char *cause, size_t cause_len)
{
    char token[APPSYNC_MAX_TOKEN];
    struct buf query = BUF_INIT;
    int rc = 0, more = 1;
    char *next = NULL;
    for (int pages = 0; rc == 0 && more; pages++) {
        if (pages == AWS_APPSYNC_MAX_PAGES) {
            rc = cause_set(cause, cause_len, -EFBIG, "AppSync %s: more than %d pages", operation,
                           AWS_APPSYNC_MAX_PAGES);
            break;
        }
        json_t *page = NULL;
        if ((rc = page_query(&query, next)) < 0 ||
            (rc = appsync_call(ctx, operation, "GET", path, buf_bytes(&query), NULL, &page, cause,
                               cause_len)) < 0)
            break;
        json_t *items = json_object_get(page, key), *item;
        size_t i;
        if (!json_is_array(items))
            rc = cause_set(cause, cause_len, -EPROTO, "AppSync %s answer has no \"%s\"", operation,
                           key);
        json_array_foreach(items, i, item)
        {
            if (rc == 0)
                rc = match(item, name, parse, out, cause, cause_len);
        }
        if (rc == 0 && (more = next_page(page, token, sizeof(token), cause, cause_len)) < 0)
            rc = more;
        next = token;
        json_decref(page);
    }
    buf_free(&query);
    return rc < 0 ? rc : rc == 1 ? 0 : -ENOENT;
}

static int parse_api_item(json_t *item, void *out, char *cause, size_t cause_len)
{
    return aws_appsync_parse_api(item, out, cause, cause_len);
}

static int parse_namespace_item(json_t *item, void *out, char *cause, size_t cause_len)
{
    return aws_appsync_parse_namespace(item, out, cause, cause_len);
}

int aws_appsync_find_api(const struct aws_context *ctx, const char *name,
                         struct aws_appsync_api *out, char *cause, size_t cause_len)
{
    int rc = find_in_listing(ctx, "ListApis", "/v2/apis", "apis", name, parse_api_item, out, cause,
                             cause_len);
    if (rc == -ENOENT)
        cause_set(cause, cause_len, rc, "no AppSync API is called %s", name);
    return rc;
}

/* An answer's "api" object (CreateApi, GetApi) into out. */
static int answer_api(int rc, json_t *answer, struct aws_appsync_api *out, char *cause,
                      size_t cause_len)
{
    if (rc == 0)
        rc = aws_appsync_parse_api(json_object_get(answer, "api"), out, cause, cause_len);
    json_decref(answer);
    return rc;
}

int aws_appsync_create_api(const struct aws_context *ctx, const char *name,
                           struct aws_appsync_api *out, char *cause, size_t cause_len)
{
    if (!aws_appsync_valid_api_name(name))
        return cause_set(cause, cause_len, -EINVAL, "\"%.60s\" is not a valid AppSync API name",
                         name);
    struct buf body = BUF_INIT;
    json_t *answer = NULL;
    int rc = aws_appsync_create_api_body(&body, name);
    if (rc == 0)
        rc = appsync_call(ctx, "CreateApi", "POST", "/v2/apis", NULL, &body, &answer, cause,
                          cause_len);
    buf_free(&body);
    return answer_api(rc, answer, out, cause, cause_len);
}

/* API ids go into paths unencoded: only letters and digits pass. */
static int api_path(char *out, size_t out_len, const char *api_id, const char *rest, char *cause,
                    size_t cause_len)
{
    if (!valid_id(api_id))
        return cause_set(cause, cause_len, -EINVAL, "\"%.80s\" is not an AppSync API id", api_id);
    snprintf(out, out_len, "/v2/apis/%s%s", api_id, rest);
    return 0;
}

int aws_appsync_get_api(const struct aws_context *ctx, const char *api_id,
                        struct aws_appsync_api *out, char *cause, size_t cause_len)
{
    char path[AWS_APPSYNC_MAX_ID + 64];
    json_t *answer = NULL;
    int rc = api_path(path, sizeof(path), api_id, "", cause, cause_len);
    if (rc == 0)
        rc = appsync_call(ctx, "GetApi", "GET", path, NULL, NULL, &answer, cause, cause_len);
    return answer_api(rc, answer, out, cause, cause_len);
}

int aws_appsync_find_namespace(const struct aws_context *ctx, const char *api_id, const char *name,
                               struct aws_appsync_namespace *out, char *cause, size_t cause_len)
{
    char path[AWS_APPSYNC_MAX_ID + 64];
    int rc = api_path(path, sizeof(path), api_id, "/channelNamespaces", cause, cause_len);
    if (rc == 0)
        rc = find_in_listing(ctx, "ListChannelNamespaces", path, "channelNamespaces", name,
                             parse_namespace_item, out, cause, cause_len);
    if (rc == -ENOENT)
        cause_set(cause, cause_len, rc, "AppSync API %s has no namespace %s", api_id, name);
    return rc;
}

int aws_appsync_create_namespace(const struct aws_context *ctx, const char *api_id,
                                 const char *name, struct aws_appsync_namespace *out, char *cause,
                                 size_t cause_len)
{
    char path[AWS_APPSYNC_MAX_ID + 64];
    if (!aws_appsync_valid_namespace_name(name))
        return cause_set(cause, cause_len, -EINVAL,
                         "\"%.60s\" is not a valid AppSync channel namespace name", name);
    struct buf body = BUF_INIT;
    json_t *answer = NULL;
    int rc = api_path(path, sizeof(path), api_id, "/channelNamespaces", cause, cause_len);
    if (rc == 0)
        rc = aws_appsync_create_namespace_body(&body, name);
    if (rc == 0)
        rc = appsync_call(ctx, "CreateChannelNamespace", "POST", path, NULL, &body, &answer, cause,
                          cause_len);
    buf_free(&body);
    if (rc == 0)
        rc = aws_appsync_parse_namespace(json_object_get(answer, "channelNamespace"), out, cause,
                                         cause_len);
    json_decref(answer);
    return rc;
}

/* The API: found by name, else created. */
/* The remembered id, when it still names an API called name: 1, else 0
 * (gone, renamed, or a hint that is not an id at all), or a failure of the
 * call itself. */
static int known_api(const struct aws_context *ctx, const char *name, const char *api_id,
                     struct aws_appsync_api *out, char *cause, size_t cause_len)
{
    if (!api_id || !valid_id(api_id))
        return 0;
    int rc = aws_appsync_get_api(ctx, api_id, out, cause, cause_len);
    if (rc == -ENOENT)
        return 0;
    return rc < 0 ? rc : strcmp(out->name, name) == 0;
}

static int ensure_api(const struct aws_context *ctx, const char *name, const char *known_api_id,
                      struct aws_appsync_events *out, char *cause, size_t cause_len)
{
    int rc = known_api(ctx, name, known_api_id, &out->api, cause, cause_len);
    if (rc == 1)
        rc = 0;
    else if (rc == 0)
        rc = aws_appsync_find_api(ctx, name, &out->api, cause, cause_len);
    if (rc == -ENOENT) {
        rc = aws_appsync_create_api(ctx, name, &out->api, cause, cause_len);
        out->created_api = rc == 0;
    }
    if (rc == 0 && !out->api.iam_auth)
        rc = cause_set(cause, cause_len, -EPERM,
                       "AppSync API %s (%s) does not allow AWS_IAM for connect, publish and "
                       "subscribe, which tether's bridge uses",
                       name, out->api.api_id);
    return rc;
}

/* The namespace: found, else created; when another process created it
 * between the two (ConflictException), read back. */
static int ensure_namespace(const struct aws_context *ctx, const char *name,
                            struct aws_appsync_events *out, char *cause, size_t cause_len)
{
    const char *api_id = out->api.api_id;
    int rc = aws_appsync_find_namespace(ctx, api_id, name, &out->ns, cause, cause_len);
    if (rc == -ENOENT) {
        rc = aws_appsync_create_namespace(ctx, api_id, name, &out->ns, cause, cause_len);
        out->created_namespace = rc == 0;
        if (rc == -EEXIST)
            rc = aws_appsync_find_namespace(ctx, api_id, name, &out->ns, cause, cause_len);
    }
    if (rc < 0)
        return rc;
    /* The policy tether writes names API_ARN/channelNamespace/NAME: the
     * namespace AppSync reports must be that one. */
    char expected[AWS_APPSYNC_MAX_ARN + 80];
    snprintf(expected, sizeof(expected), "%s/channelNamespace/%s", out->api.api_arn, name);
    if (strcmp(out->ns.arn, expected) != 0 || strcmp(out->ns.name, name) != 0)
        return cause_set(cause, cause_len, -EPROTO,
                         "AppSync namespace ARN %s is not the expected %s", out->ns.arn, expected);
    return 0;
}

int aws_appsync_ensure_events(const struct aws_context *ctx, const char *api_name,
                              const char *namespace_name, const char *known_api_id,
                              struct aws_appsync_events *out, char *cause, size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    if (!aws_appsync_valid_api_name(api_name) || !aws_appsync_valid_namespace_name(namespace_name))
        return cause_set(cause, cause_len, -EINVAL, "bad AppSync API or namespace name");
    int rc = ensure_api(ctx, api_name, known_api_id, out, cause, cause_len);
    if (rc == 0)
        rc = ensure_namespace(ctx, namespace_name, out, cause, cause_len);
    if (rc == 0 && aws_appsync_events_urls(&out->api, out) < 0)
        rc = cause_set(cause, cause_len, -ENAMETOOLONG, "AppSync endpoints too long");
    return rc;
}
