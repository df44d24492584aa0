#include "aws/lambda_api.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aws/endpoint.h"
#include "core/cause.h"
#include "core/encoding.h"
#include "core/percent.h"

#define WAIT_FIRST_MS 100
#define WAIT_MAX_MS 2000

int lambda_api_path(struct buf *out, const char *prefix, const char *label, const char *suffix)
{
    int rc = buf_append_str(out, prefix);
    if (rc == 0)
        rc = percent_encode(out, label, strlen(label), NULL);
    if (rc == 0)
        rc = buf_append_str(out, suffix ? suffix : "");
    if (rc == 0)
        rc = buf_terminate(out);
    return rc;
}

const char *lambda_api_string(json_t *object, const char *key)
{
    const char *s = json_string_value(json_object_get(object, key));
    return s ? s : "";
}

/* Lambda's own error for a stale RevisionId gets an errno of its own, since
 * attaching branches on it: another session changed the function first. */
static int answer_error(const struct aws_answer *answer, const char *operation, char *cause,
                        size_t cause_len)
{
    int rc = aws_answer_error(answer, operation, cause, cause_len);
    if (rc < 0 && strcmp(answer->error_code, "PreconditionFailedException") == 0)
        rc = -ESTALE;
    return rc;
}

struct lambda_call {
    const char *operation; /* "GetFunction": for messages */
    const char *method;
    const char *path; /* encoded */
    const char *query;
    json_t *body; /* NULL: none */
};

/* One request; the answer's JSON object into *out when out is not NULL (an
 * empty body, as UntagResource answers, counts as {}). */
static int call_json(const struct aws_context *ctx, const struct lambda_call *c, json_t **out,
                     char *cause, size_t cause_len)
{
    char *body = c->body ? json_dumps(c->body, JSON_COMPACT) : NULL;
    if (c->body && !body)
        return cause_set(cause, cause_len, -ENOMEM, "Lambda %s: out of memory", c->operation);
    struct aws_request request = {
        .service = &aws_service_lambda,
        .method = c->method,
        .path = c->path,
        .query = c->query,
        .content_type = body ? "application/json" : NULL,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .max_answer = LAMBDA_API_MAX_ANSWER,
    };
    struct aws_answer answer = {0};
    int rc = aws_call(ctx, &request, &answer, cause, cause_len);
    if (body) {
        secure_wipe(body, strlen(body)); /* environments hold secrets */
        free(body);
    }
    if (rc == 0)
        rc = answer_error(&answer, c->operation, cause, cause_len);
    if (rc == 0 && out) {
        json_error_t err;
        *out = answer.body.len ? json_loadb(answer.body.data, answer.body.len, 0, &err)
                               : json_object();
        if (!*out || !json_is_object(*out)) {
            json_decref(*out);
            *out = NULL;
            rc = cause_set(cause, cause_len, -EPROTO, "Lambda %s: the answer is not a JSON object",
                           c->operation);
        }
    }
    secure_free_buf(&answer.body);
    aws_answer_free(&answer);
    return rc;
}

/* The common shape: one labelled path, no query. */
static int call_on(const struct aws_context *ctx, const char *operation, const char *method,
                   const char *prefix, const char *label, const char *suffix, json_t *body,
                   json_t **out, char *cause, size_t cause_len)
{
    struct buf path = BUF_INIT;
    int rc = lambda_api_path(&path, prefix, label, suffix);
    if (rc < 0)
        return cause_set(cause, cause_len, rc, "Lambda %s: out of memory", operation);
    struct lambda_call c = {operation, method, path.data, NULL, body};
    rc = call_json(ctx, &c, out, cause, cause_len);
    buf_free(&path);
    return rc;
}

int lambda_api_get_configuration(const struct aws_context *ctx, const char *function, json_t **out,
                                 char *cause, size_t cause_len)
{
    return call_on(ctx, "GetFunctionConfiguration", "GET", "/2015-03-31/functions/", function,
                   "/configuration", NULL, out, cause, cause_len);
}

int lambda_api_get_function(const struct aws_context *ctx, const char *function, json_t **out,
                            char *cause, size_t cause_len)
{
    return call_on(ctx, "GetFunction", "GET", "/2015-03-31/functions/", function, NULL, NULL, out,
                   cause, cause_len);
}

int lambda_api_update_configuration(const struct aws_context *ctx, const char *function,
                                    json_t *body, json_t **out, char *cause, size_t cause_len)
{
    json_t *answer = NULL;
    int rc = call_on(ctx, "UpdateFunctionConfiguration", "PUT", "/2015-03-31/functions/", function,
                     "/configuration", body, &answer, cause, cause_len);
    if (rc == 0 && out)
        *out = answer;
    else
        json_decref(answer);
    return rc;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int lambda_api_wait_updated(const struct aws_context *ctx, const char *function,
                            unsigned timeout_ms, json_t **out, char *cause, size_t cause_len)
{
    double deadline = now_ms() + timeout_ms;
    unsigned delay = WAIT_FIRST_MS;
    for (;;) {
        json_t *config = NULL;
        int rc = lambda_api_get_configuration(ctx, function, &config, cause, cause_len);
        if (rc < 0)
            return rc;
        const char *status = lambda_api_string(config, "LastUpdateStatus");
        /* No status at all: a service that updates at once. */
        if (strcmp(status, "Successful") == 0 || !status[0]) {
            if (out)
                *out = config;
            else
                json_decref(config);
            return 0;
        }
        if (strcmp(status, "Failed") == 0) {
            rc = cause_set(cause, cause_len, -EIO, "the update of %s failed: %s (%s)", function,
                           lambda_api_string(config, "LastUpdateStatusReason"),
                           lambda_api_string(config, "LastUpdateStatusReasonCode"));
            json_decref(config);
            return rc;
        }
        json_decref(config);
        if (now_ms() + delay > deadline)
            return cause_set(cause, cause_len, -ETIMEDOUT,
                             "the update of %s was still %s after %u s", function, status,
                             timeout_ms / 1000);
        sleep_ms(delay);
        delay = delay * 2 > WAIT_MAX_MS ? WAIT_MAX_MS : delay * 2;
    }
}

int lambda_api_tag(const struct aws_context *ctx, const char *arn, json_t *tags, char *cause,
                   size_t cause_len)
{
    json_t *body = json_pack("{sO}", "Tags", tags);
    if (!body)
        return cause_set(cause, cause_len, -ENOMEM, "Lambda TagResource: out of memory");
    int rc = call_on(ctx, "TagResource", "POST", "/2017-03-31/tags/", arn, NULL, body, NULL, cause,
                     cause_len);
    json_decref(body);
    return rc;
}

/* key=value&key=value, each value encoded as the SDK encodes query values. */
static int query_repeat(struct buf *q, const char *key, const char *const *values, size_t count)
{
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        rc = buf_printf(q, "%s%s=", i ? "&" : "", key);
        if (rc == 0)
            rc = percent_encode(q, values[i], strlen(values[i]), NULL);
    }
    return rc == 0 ? buf_terminate(q) : rc;
}

int lambda_api_untag(const struct aws_context *ctx, const char *arn, const char *const *keys,
                     size_t count, char *cause, size_t cause_len)
{
    struct buf path = BUF_INIT, query = BUF_INIT;
    int rc = lambda_api_path(&path, "/2017-03-31/tags/", arn, NULL);
    if (rc == 0)
        rc = query_repeat(&query, "tagKeys", keys, count);
    if (rc < 0)
        rc = cause_set(cause, cause_len, rc, "Lambda UntagResource: out of memory");
    struct lambda_call c = {"UntagResource", "DELETE", path.data, query.data, NULL};
    if (rc == 0)
        rc = call_json(ctx, &c, NULL, cause, cause_len);
    buf_free(&path);
    buf_free(&query);
    return rc;
}

int lambda_api_list_tags(const struct aws_context *ctx, const char *arn, json_t **out, char *cause,
                         size_t cause_len)
{
    return call_on(ctx, "ListTags", "GET", "/2017-03-31/tags/", arn, NULL, NULL, out, cause,
                   cause_len);
}

static json_t *string_array(const char *const *items, size_t count)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < count; i++)
        if (json_array_append_new(a, json_string(items[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* The body in the SDK's member order: CompatibleArchitectures,
 * CompatibleRuntimes, Content, Description (tests compare parsed JSON, so
 * the order is only for reading captures side by side). */
static json_t *layer_body(const struct lambda_layer_spec *s)
{
    struct buf zip = BUF_INIT;
    if (base64_encode(&zip, s->zip, s->zip_len) < 0 || buf_terminate(&zip) < 0) {
        buf_free(&zip);
        return NULL;
    }
    json_t *body = json_object();
    int rc = body ? 0 : -1;
    if (rc == 0 && s->architecture_count)
        rc = json_object_set_new(body, "CompatibleArchitectures",
                                 string_array(s->architectures, s->architecture_count));
    if (rc == 0 && s->runtime_count)
        rc = json_object_set_new(body, "CompatibleRuntimes",
                                 string_array(s->runtimes, s->runtime_count));
    if (rc == 0)
        rc = json_object_set_new(body, "Content", json_pack("{ss}", "ZipFile", zip.data));
    if (rc == 0 && s->description)
        rc = json_object_set_new(body, "Description", json_string(s->description));
    buf_free(&zip);
    if (rc < 0) {
        json_decref(body);
        return NULL;
    }
    return body;
}

int lambda_api_publish_layer(const struct aws_context *ctx, const struct lambda_layer_spec *spec,
                             json_t **out, char *cause, size_t cause_len)
{
    if (spec->zip_len > LAMBDA_API_MAX_ZIP)
        return cause_set(cause, cause_len, -EFBIG,
                         "Lambda PublishLayerVersion: the zip is over Lambda's 50 MB");
    json_t *body = layer_body(spec);
    if (!body)
        return cause_set(cause, cause_len, -ENOMEM, "Lambda PublishLayerVersion: out of memory");
    int rc = call_on(ctx, "PublishLayerVersion", "POST", "/2018-10-31/layers/", spec->name,
                     "/versions", body, out, cause, cause_len);
    json_decref(body);
    return rc;
}

/* Appends "&KEY=VALUE" (no '&' first) with the value encoded. */
static int query_add(struct buf *q, const char *key, const char *value)
{
    if (!value)
        return 0;
    int rc = buf_printf(q, "%s%s=", q->len ? "&" : "", key);
    return rc == 0 ? percent_encode(q, value, strlen(value), NULL) : rc;
}

int lambda_api_list_layer_versions(const struct aws_context *ctx, const char *layer,
                                   const char *architecture, const char *marker, json_t **out,
                                   char *cause, size_t cause_len)
{
    struct buf path = BUF_INIT, query = BUF_INIT;
    /* The query in the order SigV4 sorts it: CompatibleArchitecture, Marker. */
    int rc = lambda_api_path(&path, "/2018-10-31/layers/", layer, "/versions");
    if (rc == 0)
        rc = query_add(&query, "CompatibleArchitecture", architecture);
    if (rc == 0)
        rc = query_add(&query, "Marker", marker);
    if (rc == 0)
        rc = buf_terminate(&query);
    if (rc < 0)
        rc = cause_set(cause, cause_len, rc, "Lambda ListLayerVersions: out of memory");
    struct lambda_call c = {"ListLayerVersions", "GET", path.data, query.len ? query.data : NULL,
                            NULL};
    if (rc == 0)
        rc = call_json(ctx, &c, out, cause, cause_len);
    buf_free(&path);
    buf_free(&query);
    return rc;
}
