/* The Lambda control plane over HTTP (restJson1, the paths the AWS SDKs and
 * CLI send): functions, layer versions and tags, with AWS's JSON shapes and
 * errors. Every operation must carry a SigV4 signature (service "lambda",
 * the service's region) by the credentials the service has; the zip behind
 * Code.Location is served to whoever holds its unguessable token, as AWS's
 * presigned URL is. State lives in deploy.c. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "lambda"
#include "core/percent.h"
#include "lambda/deploy.h"

#define FUNCTIONS "/2015-03-31/functions"
#define LAYERS "/2018-10-31/layers"
#define TAGS "/2017-03-31/tags/"
#define CODE "/tether/code/"
#define LIST_DEFAULT 50
#define LIST_MAX 10000

enum control_op {
    OP_LIST_FUNCTIONS,
    OP_CREATE_FUNCTION,
    OP_GET_FUNCTION,
    OP_DELETE_FUNCTION,
    OP_GET_CONFIGURATION,
    OP_UPDATE_CONFIGURATION,
    OP_UPDATE_CODE,
    OP_PUBLISH_LAYER,
    OP_LIST_LAYER_VERSIONS,
    OP_GET_LAYER_VERSION,
    OP_DELETE_LAYER_VERSION,
    OP_GET_LAYER_BY_ARN,
    OP_LIST_TAGS,
    OP_TAG,
    OP_UNTAG,
    OP_GET_CODE,
};

struct control_request {
    const struct lambda_route *route; /* first: see struct lambda_route */
    struct lambda_service *service;
    struct http_exchange *ex;
    enum control_op op;
    char name[512]; /* the function, layer or ARN the path names (decoded) */
    unsigned version;
    struct lambda_deployment *waiting; /* a change being staged answers later */
};

static const struct lambda_route control_route;

static const char *const op_names[] = {
    "ListFunctions",
    "CreateFunction",
    "GetFunction",
    "DeleteFunction",
    "GetFunctionConfiguration",
    "UpdateFunctionConfiguration",
    "UpdateFunctionCode",
    "PublishLayerVersion",
    "ListLayerVersions",
    "GetLayerVersion",
    "DeleteLayerVersion",
    "GetLayerVersionByArn",
    "ListTags",
    "TagResource",
    "UntagResource",
    "GetCode",
};

static int is_upload(enum control_op op)
{
    return op == OP_CREATE_FUNCTION || op == OP_UPDATE_CODE || op == OP_PUBLISH_LAYER;
}

/* ---- answers ---- */

static void answer_json(struct http_exchange *ex, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text && status != 204) {
        lambda_answer_service_error(ex, 500, "ServiceException", "out of memory");
        return;
    }
    http_exchange_respond(ex, status, text ? "Content-Type: application/json\r\n" : NULL, text,
                          text ? strlen(text) : 0);
    free(text);
}

static void answer_error(struct http_exchange *ex, const struct lambda_api_error *err)
{
    lambda_answer_service_error(ex, err->status, err->type, err->message);
}

static void answer_not_found(struct control_request *req, const char *what)
{
    struct lambda_api_error err;
    struct lambda_control *c = lambda_control_of(req->service);
    if (strcmp(what, "function") == 0)
        lambda_api_fail(&err, 404, "ResourceNotFoundException",
                        "Function not found: arn:aws:lambda:%s:%s:function:%.200s",
                        lambda_control_region(c), lambda_control_account(c), req->name);
    else
        lambda_api_fail(&err, 404, "ResourceNotFoundException",
                        "The resource you requested does not exist.");
    answer_error(req->ex, &err);
}

static const char *const state_names[] = {"Pending", "Active", "Failed"};
static const char *const update_names[] = {"", "InProgress", "Successful", "Failed"};

static void add_states(json_t *o, const struct lambda_deployment *d)
{
    json_object_set_new(o, "State", json_string(state_names[d->state]));
    if (d->state != LAMBDA_STATE_ACTIVE) {
        json_object_set_new(o, "StateReason", json_string(d->reason));
        json_object_set_new(o, "StateReasonCode", json_string(d->reason_code));
        return;
    }
    enum lambda_update_status u =
        d->update == LAMBDA_UPDATE_NONE ? LAMBDA_UPDATE_SUCCESSFUL : d->update;
    json_object_set_new(o, "LastUpdateStatus", json_string(update_names[u]));
    if (u == LAMBDA_UPDATE_IN_PROGRESS) {
        /* AWS's words for any update in progress. */
        json_object_set_new(o, "LastUpdateStatusReason",
                            json_string("The function is being created."));
        json_object_set_new(o, "LastUpdateStatusReasonCode", json_string("Creating"));
    } else if (u == LAMBDA_UPDATE_FAILED) {
        json_object_set_new(o, "LastUpdateStatusReason", json_string(d->reason));
        json_object_set_new(o, "LastUpdateStatusReasonCode", json_string(d->reason_code));
    }
}

static json_t *layers_of(struct lambda_control *c, json_t *arns)
{
    json_t *out = json_array();
    size_t i;
    json_t *arn;
    json_array_foreach(arns, i, arn)
    {
        struct lambda_layer_version *v = lambda_layer_find_arn(c, json_string_value(arn));
        json_array_append_new(out, json_pack("{s:O, s:I}", "Arn", arn, "CodeSize",
                                             (json_int_t)(v ? v->code_size : 0)));
    }
    return out;
}

/* FunctionConfiguration, in the order AWS writes its members. */
static json_t *function_configuration(struct lambda_deployment *d)
{
    json_t *s = d->settings, *o = json_object();
    struct lambda_control *c = d->control;
    json_object_set_new(o, "FunctionName", json_string(d->function->config->name));
    json_object_set_new(o, "FunctionArn", json_string(d->function->arn));
    static const char *const head[] = {"Runtime", "Role", "Handler"};
    for (size_t i = 0; i < 3; i++)
        if (json_object_get(s, head[i]))
            json_object_set(o, head[i], json_object_get(s, head[i]));
    json_object_set_new(o, "CodeSize", json_integer((json_int_t)d->code_size));
    static const char *const sizes[] = {"Description", "Timeout", "MemorySize"};
    for (size_t i = 0; i < 3; i++)
        json_object_set(o, sizes[i], json_object_get(s, sizes[i]));
    json_object_set_new(o, "LastModified", json_string(d->last_modified));
    json_object_set_new(o, "CodeSha256", json_string(d->code_sha256));
    json_object_set_new(o, "Version", json_string("$LATEST"));
    if (json_object_get(s, "Environment"))
        json_object_set(o, "Environment", json_object_get(s, "Environment"));
    json_object_set(o, "TracingConfig", json_object_get(s, "TracingConfig"));
    json_object_set_new(o, "RevisionId", json_string(d->revision));
    if (json_array_size(json_object_get(s, "Layers")) > 0)
        json_object_set_new(o, "Layers", layers_of(c, json_object_get(s, "Layers")));
    add_states(o, d);
    json_object_set_new(o, "PackageType", json_string("Zip"));
    static const char *const tail[] = {"Architectures", "EphemeralStorage"};
    for (size_t i = 0; i < 2; i++)
        json_object_set(o, tail[i], json_object_get(s, tail[i]));
    json_object_set_new(o, "SnapStart",
                        json_pack("{s:s, s:s}", "ApplyOn", "None", "OptimizationStatus", "Off"));
    json_object_set(o, "LoggingConfig", json_object_get(s, "LoggingConfig"));
    return o;
}

static json_t *get_function(struct control_request *req, struct lambda_deployment *d)
{
    char location[200];
    const char *host = req->service->host;
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
        host = "127.0.0.1";
    snprintf(location, sizeof(location), "http://%s%s%s:%u" CODE "%s", strchr(host, ':') ? "[" : "",
             host, strchr(host, ':') ? "]" : "", lambda_service_port(req->service), d->code_token);
    json_t *o = json_pack("{s:o, s:{s:s, s:s}}", "Configuration", function_configuration(d), "Code",
                          "RepositoryType", "S3", "Location", location);
    if (json_object_size(d->tags) > 0)
        json_object_set(o, "Tags", d->tags);
    return o;
}

static json_t *layer_version(struct lambda_layer_version *v)
{
    char layer_arn[256];
    snprintf(layer_arn, sizeof(layer_arn), "%.*s", (int)(strrchr(v->arn, ':') - v->arn), v->arn);
    json_t *o = json_pack("{s:{s:s, s:s, s:I}, s:s, s:s, s:s, s:I}", "Content", "Location", "",
                          "CodeSha256", v->sha256, "CodeSize", (json_int_t)v->code_size, "LayerArn",
                          layer_arn, "LayerVersionArn", v->arn, "CreatedDate", v->created,
                          "Version", (json_int_t)v->version);
    json_object_update(o, v->meta);
    return o;
}

/* ---- the query ---- */

/* The decoded value of key in the query, or "" (at most cap-1 bytes). */
static int query_value(const char *query, const char *key, char *out, size_t cap)
{
    size_t key_len = strlen(key);
    out[0] = '\0';
    for (const char *p = query; p && *p; p += strcspn(p, "&"), p += *p == '&') {
        if (strncmp(p, key, key_len) != 0 || p[key_len] != '=')
            continue;
        const char *value = p + key_len + 1;
        struct buf b = BUF_INIT;
        int rc = percent_decode(&b, value, strcspn(value, "&"), PERCENT_LENIENT);
        if (rc == 0 && buf_length(&b) < cap)
            snprintf(out, cap, "%.*s", (int)buf_length(&b), buf_bytes(&b));
        buf_free(&b);
        return 1;
    }
    return 0;
}

static int max_items(const char *query, unsigned *out)
{
    char text[16];
    *out = LIST_DEFAULT;
    if (!query_value(query, "MaxItems", text, sizeof(text)))
        return 0;
    char *end;
    unsigned long n = strtoul(text, &end, 10);
    if (!text[0] || *end || n < 1 || n > LIST_MAX)
        return -EINVAL;
    *out = (unsigned)n;
    return 0;
}

/* ---- operations ---- */

static void list_functions(struct control_request *req, const char *query)
{
    struct lambda_control *c = lambda_control_of(req->service);
    unsigned max;
    char marker[128];
    struct lambda_api_error err;
    if (max_items(query, &max) < 0) {
        lambda_api_fail(&err, 400, "InvalidParameterValueException",
                        "MaxItems must be from 1 to %d", LIST_MAX);
        return answer_error(req->ex, &err);
    }
    query_value(query, "Marker", marker, sizeof(marker));
    struct lambda_deployment *d =
        marker[0] ? lambda_deploy_find(c, marker) : lambda_deploy_next(c, NULL);
    if (marker[0] && !d) {
        lambda_api_fail(&err, 400, "InvalidParameterValueException", "Invalid Marker");
        return answer_error(req->ex, &err);
    }
    json_t *list = json_array(), *o = json_object();
    for (unsigned n = 0; d && n < max; n++, d = lambda_deploy_next(c, d))
        json_array_append_new(list, function_configuration(d));
    json_object_set_new(o, "Functions", list);
    if (d)
        json_object_set_new(o, "NextMarker", json_string(d->function->config->name));
    answer_json(req->ex, 200, o);
}

static void request_free(struct control_request *req)
{
    free(req);
}

/* A staged change is in place (or was refused): answer it. */
static void change_done(void *ctx, struct lambda_deployment *d, const struct lambda_api_error *err)
{
    struct control_request *req = ctx;
    if (err)
        answer_error(req->ex, err);
    else
        answer_json(req->ex, req->op == OP_CREATE_FUNCTION ? 201 : 200, function_configuration(d));
    request_free(req);
}

/* Returns 1 when the request now waits for the change. */
static int change(struct control_request *req, struct lambda_deployment *d, json_t *body)
{
    struct lambda_api_error err;
    int rc;
    if (req->op == OP_CREATE_FUNCTION)
        rc = lambda_deploy_create(lambda_control_of(req->service), body, change_done, req,
                                  &req->waiting, &err);
    else
        rc = lambda_deploy_update(d, body, req->op == OP_UPDATE_CODE, change_done, req, &err);
    if (rc < 0) {
        answer_error(req->ex, &err);
        return 0;
    }
    if (req->op != OP_CREATE_FUNCTION)
        req->waiting = d;
    return 1;
}

static void delete_function(struct control_request *req, struct lambda_deployment *d)
{
    struct lambda_api_error err;
    /* Its folders are being written by the change: after it, not during. */
    if (lambda_deploy_check_idle(d, &err) < 0)
        return answer_error(req->ex, &err);
    lambda_deploy_delete(d);
    answer_json(req->ex, 204, NULL);
}

/* Operations on /2015-03-31/functions/NAME[/...]; 1 when the request waits. */
static int function_op(struct control_request *req, json_t *body)
{
    struct lambda_deployment *d = lambda_deploy_find(lambda_control_of(req->service), req->name);
    if (!d) {
        answer_not_found(req, "function");
        return 0;
    }
    switch (req->op) {
    case OP_GET_FUNCTION:
        answer_json(req->ex, 200, get_function(req, d));
        return 0;
    case OP_GET_CONFIGURATION:
        answer_json(req->ex, 200, function_configuration(d));
        return 0;
    case OP_DELETE_FUNCTION:
        delete_function(req, d);
        return 0;
    default:
        return change(req, d, body);
    }
}

static void layer_op(struct control_request *req, json_t *body, const char *query)
{
    struct lambda_control *c = lambda_control_of(req->service);
    struct lambda_api_error err;
    struct lambda_layer_version *v = NULL;
    char arn[300];
    switch (req->op) {
    case OP_PUBLISH_LAYER:
        if (lambda_layer_publish(c, req->name, body, &v, &err) < 0)
            return answer_error(req->ex, &err);
        return answer_json(req->ex, 201, layer_version(v));
    case OP_LIST_LAYER_VERSIONS: {
        unsigned max;
        if (max_items(query, &max) < 0) {
            lambda_api_fail(&err, 400, "InvalidParameterValueException",
                            "MaxItems must be from 1 to %d", LIST_MAX);
            return answer_error(req->ex, &err);
        }
        char marker[16];
        query_value(query, "Marker", marker, sizeof(marker));
        unsigned below = marker[0] ? (unsigned)strtoul(marker, NULL, 10) : 0;
        json_t *list = json_array(), *o = json_object();
        v = lambda_layer_next(c, req->name, NULL);
        while (v && below && v->version > below)
            v = lambda_layer_next(c, req->name, v);
        for (unsigned n = 0; v && n < max; n++, v = lambda_layer_next(c, req->name, v)) {
            json_t *item = layer_version(v);
            json_object_del(item, "Content");
            json_object_del(item, "LayerArn");
            json_array_append_new(list, item);
        }
        json_object_set_new(o, "LayerVersions", list);
        if (v)
            json_object_set_new(o, "NextMarker", json_sprintf("%u", v->version));
        return answer_json(req->ex, 200, o);
    }
    case OP_GET_LAYER_BY_ARN:
        query_value(query, "Arn", arn, sizeof(arn));
        v = lambda_layer_find_arn(c, arn);
        break;
    default:
        v = lambda_layer_find(c, req->name, req->version);
        break;
    }
    if (req->op == OP_DELETE_LAYER_VERSION) {
        if (v)
            lambda_layer_delete(c, v);
        return answer_json(req->ex, 204, NULL); /* AWS: also for one that does not exist */
    }
    if (!v || v->deleted)
        return answer_not_found(req, "layer");
    answer_json(req->ex, 200, layer_version(v));
}

/* tagKeys=a&tagKeys=b: every value, removed from tags. */
static void untag(json_t *tags, const char *query)
{
    for (const char *p = query; p && *p; p += strcspn(p, "&"), p += *p == '&') {
        if (strncmp(p, "tagKeys=", 8) != 0)
            continue;
        struct buf b = BUF_INIT;
        if (percent_decode(&b, p + 8, strcspn(p + 8, "&"), PERCENT_LENIENT) == 0 &&
            buf_terminate(&b) == 0)
            json_object_del(tags, buf_bytes(&b));
        buf_free(&b);
    }
}

static void tags_op(struct control_request *req, json_t *body, const char *query)
{
    struct lambda_deployment *d = lambda_deploy_find(lambda_control_of(req->service), req->name);
    struct lambda_api_error err;
    if (!d || strncmp(req->name, "arn:", 4) != 0)
        return answer_not_found(req, "function");
    if (req->op == OP_LIST_TAGS)
        return answer_json(req->ex, 200, json_pack("{s:O}", "Tags", d->tags));
    if (req->op == OP_UNTAG) {
        untag(d->tags, query);
        lambda_state_save_function(d, NULL);
        return answer_json(req->ex, 204, NULL);
    }
    if (lambda_deploy_tag(d, json_object_get(body, "Tags"), &err) < 0)
        return answer_error(req->ex, &err);
    answer_json(req->ex, 204, NULL);
}

static void get_code(struct control_request *req)
{
    struct lambda_deployment *d =
        lambda_deploy_by_token(lambda_control_of(req->service), req->name);
    struct buf zip = BUF_INIT;
    if (!d || buf_read_file(&zip, d->code_zip, LAMBDA_ZIP_MAX) < 0) {
        buf_free(&zip);
        return answer_not_found(req, "code");
    }
    http_exchange_respond(req->ex, 200, "Content-Type: application/zip\r\n", buf_bytes(&zip),
                          buf_length(&zip));
    buf_free(&zip);
}

/* ---- routing ---- */

static int needs_body(enum control_op op)
{
    return op == OP_CREATE_FUNCTION || op == OP_UPDATE_CONFIGURATION || op == OP_UPDATE_CODE ||
           op == OP_PUBLISH_LAYER || op == OP_TAG;
}

static void on_request(struct http_exchange *ex, void *request)
{
    struct control_request *req = request;
    const struct http_message *m = http_exchange_request(ex);
    struct lambda_api_error err;
    json_t *body = NULL;
    if (http_exchange_body_too_large(ex)) {
        lambda_api_fail(&err, 413, "RequestEntityTooLargeException",
                        "Request must be smaller than %u bytes for the %s operation",
                        is_upload(req->op) ? LAMBDA_UPLOAD_REQUEST_MAX : LAMBDA_CONTROL_REQUEST_MAX,
                        op_names[req->op]);
        return answer_error(ex, &err), request_free(req);
    }
    if (req->op == OP_GET_CODE)
        return get_code(req), request_free(req);
    if (lambda_control_authorized(lambda_control_of(req->service), m, &err) < 0)
        return answer_error(ex, &err), request_free(req);
    if (needs_body(req->op)) {
        json_error_t error;
        body =
            json_loadb(buf_bytes(&m->body), buf_length(&m->body), JSON_REJECT_DUPLICATES, &error);
        if (!json_is_object(body)) {
            json_decref(body);
            lambda_answer_service_error(ex, 400, "InvalidRequestContentException",
                                        "Could not parse request body into json");
            return request_free(req);
        }
    }
    int waits = 0;
    if (req->op == OP_LIST_FUNCTIONS)
        list_functions(req, m->query);
    else if (req->op == OP_CREATE_FUNCTION)
        waits = change(req, NULL, body);
    else if (req->op <= OP_UPDATE_CODE)
        waits = function_op(req, body);
    else if (req->op <= OP_GET_LAYER_BY_ARN)
        layer_op(req, body, m->query);
    else
        tags_op(req, body, m->query);
    json_decref(body);
    if (!waits)
        request_free(req);
}

static void on_abort(struct http_exchange *ex, void *request)
{
    struct control_request *req = request;
    (void)ex;
    /* Only a request that waits for a change is still ours here. */
    if (req->waiting)
        lambda_deploy_forget(req->waiting);
    request_free(req);
}

static const struct lambda_route control_route = {NULL, on_request, on_abort};

/* The decoded path segment at p (up to '/' or the end), into out. */
static int segment(const char *p, char *out, size_t cap)
{
    size_t len = strcspn(p, "/");
    struct buf b = BUF_INIT;
    int rc = len > 0 && len < 512 ? percent_decode(&b, p, len, PERCENT_LENIENT) : -EINVAL;
    if (rc == 0 && buf_length(&b) < cap && !memchr(buf_bytes(&b), '\0', buf_length(&b)))
        snprintf(out, cap, "%.*s", (int)buf_length(&b), buf_bytes(&b));
    else
        rc = -EINVAL;
    buf_free(&b);
    return rc;
}

static int method_is(const struct http_message *m, const char *method)
{
    return strcmp(m->method, method) == 0;
}

/* /2015-03-31/functions[/][NAME[/configuration|/code]] */
static int route_functions(struct control_request *req, const struct http_message *m,
                           const char *rest)
{
    if (!*rest || strcmp(rest, "/") == 0) {
        req->op = method_is(m, "POST") ? OP_CREATE_FUNCTION : OP_LIST_FUNCTIONS;
        return method_is(m, "POST") || method_is(m, "GET") ? 0 : -EINVAL;
    }
    if (segment(rest + 1, req->name, sizeof(req->name)) < 0)
        return -EINVAL;
    const char *tail = rest + 1 + strcspn(rest + 1, "/");
    if (!*tail)
        req->op = method_is(m, "DELETE") ? OP_DELETE_FUNCTION : OP_GET_FUNCTION;
    else if (strcmp(tail, "/configuration") == 0)
        req->op = method_is(m, "PUT") ? OP_UPDATE_CONFIGURATION : OP_GET_CONFIGURATION;
    else if (strcmp(tail, "/code") == 0 && method_is(m, "PUT"))
        req->op = OP_UPDATE_CODE;
    else
        return -EINVAL;
    return method_is(m, "GET") || method_is(m, "PUT") || method_is(m, "DELETE") ? 0 : -EINVAL;
}

/* /2018-10-31/layers[/NAME/versions[/N]] */
static int route_layers(struct control_request *req, const struct http_message *m, const char *rest)
{
    if (!*rest || strcmp(rest, "/") == 0) {
        req->op = OP_GET_LAYER_BY_ARN;
        return method_is(m, "GET") && strstr(m->query, "find=LayerVersion") ? 0 : -EINVAL;
    }
    if (segment(rest + 1, req->name, sizeof(req->name)) < 0)
        return -EINVAL;
    const char *tail = rest + 1 + strcspn(rest + 1, "/");
    if (strcmp(tail, "/versions") == 0) {
        req->op = method_is(m, "POST") ? OP_PUBLISH_LAYER : OP_LIST_LAYER_VERSIONS;
        return method_is(m, "POST") || method_is(m, "GET") ? 0 : -EINVAL;
    }
    if (strncmp(tail, "/versions/", 10) != 0 ||
        strspn(tail + 10, "0123456789") != strlen(tail + 10) || strlen(tail + 10) == 0 ||
        strlen(tail + 10) > 9)
        return -EINVAL;
    req->version = (unsigned)strtoul(tail + 10, NULL, 10);
    req->op = method_is(m, "DELETE") ? OP_DELETE_LAYER_VERSION : OP_GET_LAYER_VERSION;
    return method_is(m, "GET") || method_is(m, "DELETE") ? 0 : -EINVAL;
}

static int route(struct control_request *req, const struct http_message *m)
{
    const char *p = m->path;
    size_t n = strlen(FUNCTIONS);
    if (strncmp(p, FUNCTIONS, n) == 0 && (!p[n] || p[n] == '/'))
        return route_functions(req, m, p + n);
    n = strlen(LAYERS);
    if (strncmp(p, LAYERS, n) == 0 && (!p[n] || p[n] == '/'))
        return route_layers(req, m, p + n);
    if (strncmp(p, TAGS, strlen(TAGS)) == 0) {
        req->op = method_is(m, "POST") ? OP_TAG : method_is(m, "DELETE") ? OP_UNTAG : OP_LIST_TAGS;
        return segment(p + strlen(TAGS), req->name, sizeof(req->name));
    }
    if (strncmp(p, CODE, strlen(CODE)) == 0 && method_is(m, "GET")) {
        req->op = OP_GET_CODE;
        return segment(p + strlen(CODE), req->name, sizeof(req->name));
    }
    return -ENOENT;
}

static int is_invoke(const char *path)
{
    size_t n = strlen(path), suffix = strlen("/invocations");
    return strncmp(path, FUNCTIONS "/", strlen(FUNCTIONS "/")) == 0 && n > suffix &&
           strcmp(path + n - suffix, "/invocations") == 0;
}

int lambda_control_head(struct lambda_service *s, struct http_exchange *ex)
{
    const struct http_message *m = http_exchange_request(ex);
    if (!s->control || is_invoke(m->path))
        return 0;
    struct control_request probe = {.service = s, .ex = ex};
    int rc = route(&probe, m);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0) {
        lambda_answer_service_error(ex, 404, "UnknownOperationException", "Unknown operation");
        return 1;
    }
    struct control_request *req = malloc(sizeof(*req));
    if (!req) {
        lambda_answer_service_error(ex, 500, "ServiceException", "out of memory");
        return 1;
    }
    *req = probe;
    req->route = &control_route;
    /* An unsigned upload is refused before its body is read, not after. */
    struct lambda_api_error err;
    if (req->op != OP_GET_CODE && lambda_control_precheck(s->control, m, &err) < 0) {
        free(req);
        answer_error(ex, &err);
        return 1;
    }
    http_exchange_take_body(ex, HTTP_BODY_BUFFER,
                            is_upload(req->op) ? LAMBDA_UPLOAD_REQUEST_MAX
                                               : LAMBDA_CONTROL_REQUEST_MAX);
    http_exchange_set_user(ex, req);
    return 1;
}

int lambda_control_check_invoke(struct lambda_function *f, struct http_exchange *ex)
{
    struct lambda_deployment *d = f->deployment;
    if (!d || d->state == LAMBDA_STATE_ACTIVE)
        return 0;
    char message[200];
    snprintf(message, sizeof(message),
             "The operation cannot be performed at this time. The function is currently in the "
             "following state: %s",
             state_names[d->state]);
    lambda_answer_service_error(ex, 409, "ResourceConflictException", message);
    return -EBUSY;
}
