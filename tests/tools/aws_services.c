/* Drives tether's AppSync, IAM, CloudFormation and STS clients for
 * tests/integration/aws-services.test.mjs: one operation per run, against
 * the endpoint that AWS_ENDPOINT_URL_<SERVICE> names (a loopback stand-in),
 * with the environment's credentials and AWS_REGION. It prints one JSON
 * line: {"ok": true, "result": ...} with what tether parsed, or
 * {"ok": false, "errno": "ENOENT", "cause": ...}; the exit status is 0 or 1.
 * A test tool, built under build/tests/tools/, never installed.
 *
 *   aws_services appsync-find-api NAME
 *   aws_services appsync-create-api NAME
 *   aws_services appsync-get-api API_ID
 *   aws_services appsync-find-namespace API_ID NAME
 *   aws_services appsync-create-namespace API_ID NAME
 *   aws_services appsync-ensure-events API_NAME NAMESPACE
 *   aws_services iam-put-bridge-policy ROLE_ARN POLICY_NAME API_ARN NAMESPACE
 *   aws_services iam-get-role-policy ROLE_NAME POLICY_NAME
 *   aws_services iam-delete-role-policy ROLE_NAME POLICY_NAME
 *   aws_services cfn-list-stack-resources STACK
 *   aws_services cfn-lambda-functions STACK
 *   aws_services sts-get-caller-identity */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/appsync.h"
#include "aws/call.h"
#include "aws/cloudformation.h"
#include "aws/credentials_sts.h"
#include "aws/iam.h"
#include "aws/sts.h"

struct run {
    const struct aws_context *ctx;
    char **args;
    json_t *result;
    char cause[600];
};

static json_t *api_json(const struct aws_appsync_api *a)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "apiId", a->api_id, "name", a->name,
                     "apiArn", a->api_arn, "httpHost", a->http_host, "realtimeHost",
                     a->realtime_host, "iamAuth", a->iam_auth);
}

static json_t *namespace_json(const struct aws_appsync_namespace *ns)
{
    return json_pack("{s:s, s:s}", "name", ns->name, "arn", ns->arn);
}

static int appsync_api(struct run *r, const char *op)
{
    struct aws_appsync_api api;
    int rc = strcmp(op, "appsync-find-api") == 0
                 ? aws_appsync_find_api(r->ctx, r->args[0], &api, r->cause, sizeof(r->cause))
             : strcmp(op, "appsync-create-api") == 0
                 ? aws_appsync_create_api(r->ctx, r->args[0], &api, r->cause, sizeof(r->cause))
                 : aws_appsync_get_api(r->ctx, r->args[0], &api, r->cause, sizeof(r->cause));
    if (rc == 0)
        r->result = api_json(&api);
    return rc;
}

static int appsync_namespace(struct run *r, const char *op)
{
    struct aws_appsync_namespace ns;
    int rc = strcmp(op, "appsync-find-namespace") == 0
                 ? aws_appsync_find_namespace(r->ctx, r->args[0], r->args[1], &ns, r->cause,
                                              sizeof(r->cause))
                 : aws_appsync_create_namespace(r->ctx, r->args[0], r->args[1], &ns, r->cause,
                                                sizeof(r->cause));
    if (rc == 0)
        r->result = namespace_json(&ns);
    return rc;
}

static int appsync_events(struct run *r)
{
    struct aws_appsync_events e;
    int rc = aws_appsync_ensure_events(r->ctx, r->args[0], r->args[1], NULL, &e, r->cause,
                                       sizeof(r->cause));
    if (rc == 0)
        r->result =
            json_pack("{s:o, s:o, s:s, s:s, s:b, s:b}", "api", api_json(&e.api), "namespace",
                      namespace_json(&e.ns), "http", e.http_url, "realtime", e.realtime_url,
                      "createdApi", e.created_api, "createdNamespace", e.created_namespace);
    return rc;
}

static int iam_put(struct run *r)
{
    char role[AWS_IAM_MAX_ROLE_NAME + 1];
    struct buf doc = BUF_INIT;
    int rc = aws_iam_role_name_from_arn(r->args[0], role, sizeof(role));
    if (rc < 0)
        snprintf(r->cause, sizeof(r->cause), "not a role ARN");
    if (rc == 0 && (rc = aws_iam_bridge_policy(&doc, r->args[2], r->args[3])) == 0)
        rc = buf_terminate(&doc);
    if (rc == 0)
        rc = aws_iam_put_role_policy(r->ctx, role, r->args[1], buf_bytes(&doc), r->cause,
                                     sizeof(r->cause));
    if (rc == 0)
        r->result = json_pack("{s:s, s:s}", "roleName", role, "document", buf_bytes(&doc));
    buf_free(&doc);
    return rc;
}

static int iam_other(struct run *r, const char *op)
{
    if (strcmp(op, "iam-delete-role-policy") == 0) {
        int rc =
            aws_iam_delete_role_policy(r->ctx, r->args[0], r->args[1], r->cause, sizeof(r->cause));
        if (rc == 0)
            r->result = json_object();
        return rc;
    }
    struct buf doc = BUF_INIT;
    int rc =
        aws_iam_get_role_policy(r->ctx, r->args[0], r->args[1], &doc, r->cause, sizeof(r->cause));
    if (rc == 0)
        r->result = json_pack("{s:s}", "document", buf_bytes(&doc));
    buf_free(&doc);
    return rc;
}

static int cfn(struct run *r, const char *op)
{
    return strcmp(op, "cfn-lambda-functions") == 0
               ? aws_cfn_lambda_functions(r->ctx, r->args[0], &r->result, r->cause,
                                          sizeof(r->cause))
               : aws_cfn_list_stack_resources(r->ctx, r->args[0], &r->result, r->cause,
                                              sizeof(r->cause));
}

static int sts(struct run *r)
{
    struct aws_sts_identity id;
    int rc = aws_sts_get_caller_identity(r->ctx, &id, r->cause, sizeof(r->cause));
    if (rc == 0)
        r->result = json_pack("{s:s, s:s, s:s}", "account", id.account, "arn", id.arn, "userId",
                              id.user_id);
    return rc;
}

/* AssumeRole as the credential chain calls it for a profile's role_arn
 * (ROLE_ARN SESSION_NAME EXTERNAL_ID DURATION; "-" leaves one out). */
static int sts_assume_role(struct run *r)
{
    const char *const *a = (const char *const *)r->args;
    struct aws_sts_assume_role p = {
        .role_arn = a[0],
        .role_session_name = strcmp(a[1], "-") ? a[1] : NULL,
        .external_id = strcmp(a[2], "-") ? a[2] : NULL,
        .duration_seconds = strcmp(a[3], "-") ? (unsigned)strtoul(a[3], NULL, 10) : 0,
        .region = r->ctx->region,
    };
    struct aws_credentials out;
    int rc = aws_sts_assume_role(r->ctx->credentials, &p, &out, r->cause, sizeof(r->cause));
    if (rc == 0)
        r->result = json_pack("{s:s, s:s, s:s, s:I}", "accessKeyId", out.access_key_id,
                              "secretAccessKey", out.secret_access_key, "sessionToken",
                              out.session_token, "expiration", (json_int_t)out.expiration);
    aws_credentials_wipe(&out);
    return rc;
}

static const struct {
    const char *name;
    int args;
} operations[] = {
    {"appsync-find-api", 1},         {"appsync-create-api", 1},
    {"appsync-get-api", 1},          {"appsync-find-namespace", 2},
    {"appsync-create-namespace", 2}, {"appsync-ensure-events", 2},
    {"iam-put-bridge-policy", 4},    {"iam-get-role-policy", 2},
    {"iam-delete-role-policy", 2},   {"cfn-list-stack-resources", 1},
    {"cfn-lambda-functions", 1},     {"sts-get-caller-identity", 0},
    {"sts-assume-role", 4},
};

static int dispatch(struct run *r, const char *op)
{
    if (strncmp(op, "appsync-", 8) == 0)
        return strstr(op, "namespace") ? appsync_namespace(r, op)
               : strstr(op, "events")  ? appsync_events(r)
                                       : appsync_api(r, op);
    if (strcmp(op, "iam-put-bridge-policy") == 0)
        return iam_put(r);
    if (strncmp(op, "iam-", 4) == 0)
        return iam_other(r, op);
    if (strncmp(op, "cfn-", 4) == 0)
        return cfn(r, op);
    if (strcmp(op, "sts-assume-role") == 0)
        return sts_assume_role(r);
    return sts(r);
}

static const char *errno_name(int rc)
{
    switch (-rc) {
    case ENOENT:
        return "ENOENT";
    case EACCES:
        return "EACCES";
    case EEXIST:
        return "EEXIST";
    case EBUSY:
        return "EBUSY";
    case EPERM:
        return "EPERM";
    case EINVAL:
        return "EINVAL";
    case EPROTO:
        return "EPROTO";
    case EFBIG:
        return "EFBIG";
    case EIO:
        return "EIO";
    default:
        return "other";
    }
}

int main(int argc, char **argv)
{
    size_t i, n = sizeof(operations) / sizeof(operations[0]);
    for (i = 0; argc >= 2 && i < n; i++) {
        if (strcmp(argv[1], operations[i].name) == 0 && argc == operations[i].args + 2)
            break;
    }
    if (argc < 2 || i == n) {
        fprintf(stderr, "usage: aws_services OPERATION ARGS... (see tests/tools/aws_services.c)\n");
        return 2;
    }
    struct aws_credentials creds;
    char cause[200];
    if (aws_credentials_from_environment(&creds, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "aws_services: %s\n", cause);
        return 2;
    }
    struct aws_context ctx = {.credentials = &creds, .region = getenv("AWS_REGION")};
    struct run r = {.ctx = &ctx, .args = argv + 2};
    int rc = dispatch(&r, argv[1]);
    json_t *out =
        rc == 0 ? json_pack("{s:b, s:o}", "ok", 1, "result", r.result)
                : json_pack("{s:b, s:s, s:s}", "ok", 0, "errno", errno_name(rc), "cause", r.cause);
    char *text = json_dumps(out, JSON_COMPACT);
    printf("%s\n", text ? text : "{\"ok\":false,\"errno\":\"ENOMEM\"}");
    free(text);
    json_decref(out);
    aws_credentials_wipe(&creds);
    return rc == 0 ? 0 : 1;
}
