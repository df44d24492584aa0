/* CloudFormation's stack resources (see cloudformation.h). */
#include "aws/cloudformation.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "aws/call.h"
#include "aws/query.h"
#include "core/cause.h"

/* A field of a resource summary: present unless optional, bounded, text
 * jansson accepts (the XML reader already checked UTF-8). */
static int field(const struct xml_node *member, const char *name, int optional, const char **out,
                 char *cause, size_t cause_len)
{
    *out = xml_path_text(member, name);
    if (!*out && optional)
        *out = "";
    if (!*out || strlen(*out) > AWS_CFN_MAX_FIELD)
        return cause_set(cause, cause_len, -EPROTO, "ListStackResources answer: bad or missing %s",
                         name);
    return 0;
}

static int valid_logical_id(const char *id)
{
    size_t n = strlen(id);
    return n > 0 && n <= AWS_CFN_MAX_LOGICAL_ID &&
           strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") == n;
}

static int add_member(const struct xml_node *member, json_t *into, char *cause, size_t cause_len)
{
    const char *logical = NULL, *physical = NULL, *type = NULL, *status = NULL;
    int rc = field(member, "LogicalResourceId", 0, &logical, cause, cause_len);
    if (rc == 0)
        rc = field(member, "PhysicalResourceId", 1, &physical, cause, cause_len);
    if (rc == 0)
        rc = field(member, "ResourceType", 0, &type, cause, cause_len);
    if (rc == 0)
        rc = field(member, "ResourceStatus", 1, &status, cause, cause_len);
    if (rc < 0)
        return rc;
    if (!valid_logical_id(logical))
        return cause_set(cause, cause_len, -EPROTO,
                         "ListStackResources answer: bad LogicalResourceId");
    if (json_array_size(into) >= AWS_CFN_MAX_RESOURCES)
        return cause_set(cause, cause_len, -EFBIG, "stack lists more than %d resources",
                         AWS_CFN_MAX_RESOURCES);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "logicalId", logical, "physicalId", physical,
                          "type", type, "status", status);
    return o && json_array_append_new(into, o) == 0 ? 0 : -ENOMEM;
}

/* One ListStackResourcesResult: its resources into into, NextToken into next. */
static int read_resources(const struct xml_node *result, json_t *into, char *next, size_t next_len,
                          char *cause, size_t cause_len)
{
    int rc = 0;
    const struct xml_node *list = xml_child(result, "StackResourceSummaries");
    if (!list)
        rc = cause_set(cause, cause_len, -EPROTO,
                       "ListStackResources answer has no StackResourceSummaries");
    for (const struct xml_node *m = xml_child(list, "member"); rc == 0 && m;
         m = xml_next(m, "member"))
        rc = add_member(m, into, cause, cause_len);
    const char *token = xml_path_text(result, "NextToken");
    if (rc == 0 && token && strlen(token) >= next_len)
        rc = cause_set(cause, cause_len, -EPROTO, "ListStackResources answer: NextToken too long");
    if (rc == 0)
        snprintf(next, next_len, "%s", token ? token : "");
    return rc;
}

int aws_cfn_parse_resources_page(const char *body, size_t len, json_t *into, char *next,
                                 size_t next_len, char *cause, size_t cause_len)
{
    struct xml_doc *doc;
    const struct xml_node *result;
    int rc = aws_query_result(body, len, "ListStackResources", &doc, &result, cause, cause_len);
    if (rc == 0)
        rc = read_resources(result, into, next, next_len, cause, cause_len);
    xml_free(doc);
    return rc;
}

/* One page of a listing into into; its NextToken into next. CloudFormation
 * says a stack does not exist with a ValidationError. */
static int list_page(const struct aws_context *ctx, const char *stack, const char *token,
                     json_t *into, char *next, size_t next_len, char *cause, size_t cause_len)
{
    const struct aws_query_param params[] = {{"StackName", stack},
                                             {"NextToken", token[0] ? token : NULL}};
    struct xml_doc *doc;
    const struct xml_node *result;
    char code[64];
    int rc = aws_query_call(ctx, &aws_service_cloudformation, "ListStackResources", AWS_CFN_VERSION,
                            params, 2, &doc, &result, code, sizeof(code), cause, cause_len);
    if (rc < 0 && strcmp(code, "ValidationError") == 0 && strstr(cause, "does not exist"))
        rc = -ENOENT;
    if (rc == 0)
        rc = read_resources(result, into, next, next_len, cause, cause_len);
    xml_free(doc);
    return rc;
}

/* Every page of one stack's resources, appended to into. */
static int list_into(const struct aws_context *ctx, const char *stack, json_t *into, char *cause,
                     size_t cause_len)
{
    char token[AWS_CFN_MAX_TOKEN] = "", next[AWS_CFN_MAX_TOKEN];
    for (int pages = 0; pages < AWS_CFN_MAX_PAGES; pages++) {
        int rc = list_page(ctx, stack, token, into, next, sizeof(next), cause, cause_len);
        if (rc < 0 || !next[0])
            return rc;
        memcpy(token, next, sizeof(token));
    }
    return cause_set(cause, cause_len, -EFBIG, "stack %.200s lists more than %d pages", stack,
                     AWS_CFN_MAX_PAGES);
}

int aws_cfn_list_stack_resources(const struct aws_context *ctx, const char *stack, json_t **out,
                                 char *cause, size_t cause_len)
{
    *out = json_array();
    if (!*out)
        return -ENOMEM;
    int rc = list_into(ctx, stack, *out, cause, cause_len);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* A walk through a stack and its nested stacks, with what it has used of
 * its caps. */
struct walk {
    const struct aws_context *ctx;
    json_t *out;
    size_t resources;
    int stacks;
    char *cause;
    size_t cause_len;
};

static int visit_stack(struct walk *w, const char *stack, const char *path, int depth);

/* One resource of a stack at path: a function is kept, a nested stack
 * visited. */
static int visit_resource(struct walk *w, json_t *r, const char *path, int depth)
{
    const char *logical = json_string_value(json_object_get(r, "logicalId"));
    const char *physical = json_string_value(json_object_get(r, "physicalId"));
    const char *type = json_string_value(json_object_get(r, "type"));
    if (!physical[0])
        return 0;
    if (strcmp(type, "AWS::Lambda::Function") == 0) {
        json_t *f = json_pack("{s:s, s:s, s:s}", "logicalId", logical, "functionName", physical,
                              "stack", path);
        return f && json_array_append_new(w->out, f) == 0 ? 0 : -ENOMEM;
    }
    if (strcmp(type, "AWS::CloudFormation::Stack") != 0)
        return 0;
    if (depth >= AWS_CFN_MAX_DEPTH)
        return cause_set(w->cause, w->cause_len, -EFBIG, "stacks nested deeper than %d",
                         AWS_CFN_MAX_DEPTH);
    /* Logical ids are checked short (read_resources), so the path fits. */
    char inner[(AWS_CFN_MAX_LOGICAL_ID + 1) * (AWS_CFN_MAX_DEPTH + 1)];
    snprintf(inner, sizeof(inner), "%s%s%s", path, path[0] ? "/" : "", logical);
    return visit_stack(w, physical, inner, depth + 1);
}

static int visit_stack(struct walk *w, const char *stack, const char *path, int depth)
{
    if (++w->stacks > AWS_CFN_MAX_STACKS)
        return cause_set(w->cause, w->cause_len, -EFBIG, "more than %d nested stacks",
                         AWS_CFN_MAX_STACKS);
    json_t *resources = NULL, *r;
    size_t i;
    int rc = aws_cfn_list_stack_resources(w->ctx, stack, &resources, w->cause, w->cause_len);
    if (rc < 0)
        return rc;
    w->resources += json_array_size(resources);
    if (w->resources > AWS_CFN_MAX_RESOURCES)
        rc = cause_set(w->cause, w->cause_len, -EFBIG, "stacks list more than %d resources",
                       AWS_CFN_MAX_RESOURCES);
    json_array_foreach(resources, i, r)
    {
        if (rc == 0)
            rc = visit_resource(w, r, path, depth);
    }
    json_decref(resources);
    return rc;
}

int aws_cfn_lambda_functions(const struct aws_context *ctx, const char *stack, json_t **out,
                             char *cause, size_t cause_len)
{
    *out = json_array();
    if (!*out)
        return -ENOMEM;
    struct walk w = {.ctx = ctx, .out = *out, .cause = cause, .cause_len = cause_len};
    int rc = visit_stack(&w, stack, "", 0);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}
