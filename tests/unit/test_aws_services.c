/* The pure pieces of the AppSync, IAM, CloudFormation and STS clients and
 * of the retry policy: request bodies, answer parsers and their checks.
 * (What is sent, compared with the official AWS SDK, is in
 * tests/integration/aws-services.test.mjs.) */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "aws/appsync.h"
#include "aws/cloudformation.h"
#include "aws/iam.h"
#include "aws/query.h"
#include "aws/retry.h"
#include "aws/sts.h"
#include "core/buf.h"
#include "test.h"

static json_t *load(const char *text)
{
    json_error_t error;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &error);
    CHECK(v != NULL);
    return v;
}

static const char *API_JSON =
    "{\"apiId\":\"abcdefghijklmnopqrstuvwxyz\",\"name\":\"tether-shop\","
    "\"apiArn\":\"arn:aws:appsync:eu-west-1:123456789012:apis/abcdefghijklmnopqrstuvwxyz\","
    "\"dns\":{\"HTTP\":\"abc.appsync-api.eu-west-1.amazonaws.com\","
    "\"REALTIME\":\"abc.appsync-realtime-api.eu-west-1.amazonaws.com\"},"
    "\"eventConfig\":{\"authProviders\":[{\"authType\":\"AWS_IAM\"}],"
    "\"connectionAuthModes\":[{\"authType\":\"API_KEY\"},{\"authType\":\"AWS_IAM\"}],"
    "\"defaultPublishAuthModes\":[{\"authType\":\"AWS_IAM\"}],"
    "\"defaultSubscribeAuthModes\":[{\"authType\":\"AWS_IAM\"}]}}";

TEST(appsync_reads_an_api_and_its_endpoints)
{
    json_t *api = load(API_JSON);
    struct aws_appsync_api out;
    char cause[200];
    CHECK_INT(aws_appsync_parse_api(api, &out, cause, sizeof(cause)), 0);
    CHECK_STR(out.api_id, "abcdefghijklmnopqrstuvwxyz");
    CHECK_STR(out.name, "tether-shop");
    CHECK_STR(out.http_host, "abc.appsync-api.eu-west-1.amazonaws.com");
    CHECK_INT(out.iam_auth, 1);
    struct aws_appsync_events events;
    CHECK_INT(aws_appsync_events_urls(&out, &events), 0);
    CHECK_STR(events.http_url, "https://abc.appsync-api.eu-west-1.amazonaws.com/event");
    CHECK_STR(events.realtime_url,
              "wss://abc.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime");

    /* An API whose subscribers may not use IAM cannot carry the bridge. */
    json_object_set_new(json_object_get(api, "eventConfig"), "defaultSubscribeAuthModes",
                        json_pack("[{s:s}]", "authType", "API_KEY"));
    CHECK_INT(aws_appsync_parse_api(api, &out, cause, sizeof(cause)), 0);
    CHECK_INT(out.iam_auth, 0);
    json_decref(api);
}

TEST(appsync_refuses_hostile_api_fields)
{
    static const char *const bad[][2] = {
        {"HTTP", "evil.example/x"},
        {"HTTP", "evil.example:443"},
        {"HTTP", "nodots"},
        {"REALTIME", "a..b"},
        {"REALTIME", "-a.b"},
        {"apiId", "ab/cd"},
        {"apiId", ""},
        {"apiArn", "not-an-arn"},
        {"apiArn", "arn:aws:x\"y"},
        {"apiArn", "arn:aws:appsync:eu-west-1:1:apis/other"},
    };
    char cause[200];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *api = load(API_JSON);
        json_t *where = strcmp(bad[i][0], "HTTP") == 0 || strcmp(bad[i][0], "REALTIME") == 0
                            ? json_object_get(api, "dns")
                            : api;
        json_object_set_new(where, bad[i][0], json_string(bad[i][1]));
        struct aws_appsync_api out;
        int rc = aws_appsync_parse_api(api, &out, cause, sizeof(cause));
        if (rc != -EPROTO)
            fprintf(stderr, "  accepted %s = %s\n", bad[i][0], bad[i][1]);
        CHECK_INT(rc, -EPROTO);
        json_decref(api);
    }
    json_t *api = load("{\"apiId\":\"a\",\"name\":\"n\",\"apiArn\":\"arn:aws:x:apis/a\"}");
    struct aws_appsync_api out;
    CHECK_INT(aws_appsync_parse_api(api, &out, cause, sizeof(cause)), -EPROTO);
    json_decref(api);
}

TEST(appsync_names_and_bodies)
{
    CHECK(aws_appsync_valid_api_name("tether shop_dev-1"));
    CHECK(!aws_appsync_valid_api_name(""));
    CHECK(!aws_appsync_valid_api_name("a/b"));
    CHECK(!aws_appsync_valid_api_name("012345678901234567890123456789012345678901234567890"));
    CHECK(aws_appsync_valid_namespace_name("tether"));
    CHECK(aws_appsync_valid_namespace_name("a-1"));
    CHECK(!aws_appsync_valid_namespace_name("-a"));
    CHECK(!aws_appsync_valid_namespace_name("a-"));
    CHECK(!aws_appsync_valid_namespace_name("a_b"));

    struct buf b = BUF_INIT;
    CHECK_INT(aws_appsync_create_api_body(&b, "tether-shop"), 0);
    buf_terminate(&b);
    json_t *body = load(buf_bytes(&b));
    json_t *expected = load("{\"name\":\"tether-shop\",\"eventConfig\":{"
                            "\"authProviders\":[{\"authType\":\"AWS_IAM\"}],"
                            "\"connectionAuthModes\":[{\"authType\":\"AWS_IAM\"}],"
                            "\"defaultPublishAuthModes\":[{\"authType\":\"AWS_IAM\"}],"
                            "\"defaultSubscribeAuthModes\":[{\"authType\":\"AWS_IAM\"}]}}");
    CHECK(json_equal(body, expected));
    json_decref(body);
    json_decref(expected);
    buf_reset(&b);
    CHECK_INT(aws_appsync_create_namespace_body(&b, "tether"), 0);
    buf_terminate(&b);
    CHECK_STR(buf_bytes(&b), "{\"name\":\"tether\"}");
    buf_free(&b);

    json_t *ns = load("{\"apiId\":\"a\",\"name\":\"tether\",\"channelNamespaceArn\":"
                      "\"arn:aws:appsync:eu-west-1:123456789012:apis/a/channelNamespace/tether\"}");
    struct aws_appsync_namespace out;
    char cause[200];
    CHECK_INT(aws_appsync_parse_namespace(ns, &out, cause, sizeof(cause)), 0);
    CHECK_STR(out.arn, "arn:aws:appsync:eu-west-1:123456789012:apis/a/channelNamespace/tether");
    json_object_set_new(ns, "name", json_string("../x"));
    CHECK_INT(aws_appsync_parse_namespace(ns, &out, cause, sizeof(cause)), -EPROTO);
    json_decref(ns);
}

TEST(iam_role_names_from_arns)
{
    char name[AWS_IAM_MAX_ROLE_NAME + 1];
    CHECK_INT(aws_iam_role_name_from_arn("arn:aws:iam::123456789012:role/shop-dev-ApiRole", name,
                                         sizeof(name)),
              0);
    CHECK_STR(name, "shop-dev-ApiRole");
    CHECK_INT(aws_iam_role_name_from_arn(
                  "arn:aws-cn:iam::123456789012:role/service-role/team/a+b=c,d.e@f_g-h", name,
                  sizeof(name)),
              0);
    CHECK_STR(name, "a+b=c,d.e@f_g-h");
    static const char *const bad[] = {
        "",
        "arn:aws:iam::123456789012:user/alice",
        "arn:aws:iam:eu-west-1:123456789012:role/r",
        "arn:aws:sts::123456789012:role/r",
        "arn::iam::123456789012:role/r",
        "arn:aws:iam::12345678901x:role/r",
        "arn:aws:iam::123456789012:role/",
        "arn:aws:iam::123456789012:role/a b",
        "arn:aws:iam::123456789012",
        "arn:aws:iam::123456789012:role/"
        "x12345678901234567890123456789012345678901234567890123456789012345",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INT(aws_iam_role_name_from_arn(bad[i], name, sizeof(name)), -EINVAL);
}

TEST(iam_bridge_policy_is_least_privilege)
{
    struct buf b = BUF_INIT;
    const char *api = "arn:aws:appsync:eu-west-1:123456789012:apis/abc";
    CHECK_INT(aws_iam_bridge_policy(&b, api, "tether"), 0);
    buf_terminate(&b);
    json_t *doc = load(buf_bytes(&b));
    json_t *expected = load(
        "{\"Version\":\"2012-10-17\",\"Statement\":["
        "{\"Effect\":\"Allow\",\"Action\":\"appsync:EventConnect\","
        "\"Resource\":\"arn:aws:appsync:eu-west-1:123456789012:apis/abc\"},"
        "{\"Effect\":\"Allow\",\"Action\":[\"appsync:EventSubscribe\",\"appsync:EventPublish\"],"
        "\"Resource\":\"arn:aws:appsync:eu-west-1:123456789012:apis/abc/channelNamespace/tether\"}"
        "]}");
    CHECK(json_equal(doc, expected));
    json_decref(doc);
    json_decref(expected);
    buf_free(&b);
}

TEST(iam_reads_get_role_policy)
{
    const char *answer =
        "<GetRolePolicyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
        "<GetRolePolicyResult><PolicyName>tether</PolicyName><RoleName>r</RoleName>"
        "<PolicyDocument>%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"
        "</PolicyDocument></GetRolePolicyResult>"
        "<ResponseMetadata><RequestId>7e7cd8bc</RequestId></ResponseMetadata>"
        "</GetRolePolicyResponse>";
    struct buf doc = BUF_INIT;
    char cause[200];
    CHECK_INT(aws_iam_parse_get_role_policy(answer, strlen(answer), &doc, cause, sizeof(cause)), 0);
    CHECK_STR(buf_bytes(&doc), "{\"Version\":\"2012-10-17\",\"Statement\":[]}");
    buf_reset(&doc);
    const char *bad = "<GetRolePolicyResponse><GetRolePolicyResult><PolicyDocument>%7"
                      "</PolicyDocument></GetRolePolicyResult></GetRolePolicyResponse>";
    CHECK_INT(aws_iam_parse_get_role_policy(bad, strlen(bad), &doc, cause, sizeof(cause)), -EPROTO);
    const char *other = "<PutRolePolicyResponse/>";
    CHECK_INT(aws_iam_parse_get_role_policy(other, strlen(other), &doc, cause, sizeof(cause)),
              -EPROTO);
    buf_free(&doc);
}

TEST(cloudformation_reads_pages)
{
    const char *page =
        "<ListStackResourcesResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">"
        "<ListStackResourcesResult><StackResourceSummaries>"
        "<member><LogicalResourceId>Api</LogicalResourceId>"
        "<PhysicalResourceId>shop-dev-Api-1A2B</PhysicalResourceId>"
        "<ResourceType>AWS::Lambda::Function</ResourceType>"
        "<ResourceStatus>CREATE_COMPLETE</ResourceStatus>"
        "<LastUpdatedTimestamp>2024-05-01T12:00:00.000Z</LastUpdatedTimestamp></member>"
        "<member><LogicalResourceId>Pending</LogicalResourceId>"
        "<ResourceType>AWS::SQS::Queue</ResourceType>"
        "<ResourceStatus>CREATE_IN_PROGRESS</ResourceStatus></member>"
        "</StackResourceSummaries><NextToken>page+2/=</NextToken></ListStackResourcesResult>"
        "</ListStackResourcesResponse>";
    json_t *into = json_array();
    char next[AWS_CFN_MAX_TOKEN], cause[200];
    CHECK_INT(aws_cfn_parse_resources_page(page, strlen(page), into, next, sizeof(next), cause,
                                           sizeof(cause)),
              0);
    CHECK_STR(next, "page+2/=");
    CHECK_INT(json_array_size(into), 2);
    json_t *expected =
        load("[{\"logicalId\":\"Api\",\"physicalId\":\"shop-dev-Api-1A2B\","
             "\"type\":\"AWS::Lambda::Function\",\"status\":\"CREATE_COMPLETE\"},"
             "{\"logicalId\":\"Pending\",\"physicalId\":\"\",\"type\":\"AWS::SQS::Queue\","
             "\"status\":\"CREATE_IN_PROGRESS\"}]");
    CHECK(json_equal(into, expected));
    json_decref(expected);

    const char *last = "<ListStackResourcesResponse><ListStackResourcesResult>"
                       "<StackResourceSummaries/></ListStackResourcesResult>"
                       "</ListStackResourcesResponse>";
    CHECK_INT(aws_cfn_parse_resources_page(last, strlen(last), into, next, sizeof(next), cause,
                                           sizeof(cause)),
              0);
    CHECK_STR(next, "");
    const char *no_type = "<ListStackResourcesResponse><ListStackResourcesResult>"
                          "<StackResourceSummaries><member><LogicalResourceId>A"
                          "</LogicalResourceId></member></StackResourceSummaries>"
                          "</ListStackResourcesResult></ListStackResourcesResponse>";
    CHECK_INT(aws_cfn_parse_resources_page(no_type, strlen(no_type), into, next, sizeof(next),
                                           cause, sizeof(cause)),
              -EPROTO);
    /* Logical ids are letters and digits: a path of nested stacks is built from them. */
    const char *bad_id = "<ListStackResourcesResponse><ListStackResourcesResult>"
                         "<StackResourceSummaries><member><LogicalResourceId>A/B"
                         "</LogicalResourceId><ResourceType>T</ResourceType></member>"
                         "</StackResourceSummaries></ListStackResourcesResult>"
                         "</ListStackResourcesResponse>";
    CHECK_INT(aws_cfn_parse_resources_page(bad_id, strlen(bad_id), into, next, sizeof(next), cause,
                                           sizeof(cause)),
              -EPROTO);
    json_decref(into);
}

TEST(sts_reads_caller_identity)
{
    const char *answer =
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
        "<GetCallerIdentityResult><Arn>arn:aws:sts::123456789012:assumed-role/dev/alice</Arn>"
        "<UserId>AROAEXAMPLE:alice</UserId><Account>123456789012</Account>"
        "</GetCallerIdentityResult></GetCallerIdentityResponse>";
    struct aws_sts_identity id;
    char cause[200];
    CHECK_INT(aws_sts_parse_caller_identity(answer, strlen(answer), &id, cause, sizeof(cause)), 0);
    CHECK_STR(id.account, "123456789012");
    CHECK_STR(id.arn, "arn:aws:sts::123456789012:assumed-role/dev/alice");
    CHECK_STR(id.user_id, "AROAEXAMPLE:alice");
    const char *short_account =
        "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::1:user/a</Arn>"
        "<UserId>U</UserId><Account>1</Account></GetCallerIdentityResult>"
        "</GetCallerIdentityResponse>";
    CHECK_INT(aws_sts_parse_caller_identity(short_account, strlen(short_account), &id, cause,
                                            sizeof(cause)),
              -EPROTO);
}

TEST(query_forms_encode_like_the_sdk)
{
    struct buf b = BUF_INIT;
    const struct aws_query_param params[] = {
        {"RoleName", "r"}, {"Skipped", NULL}, {"PolicyDocument", "{\"a\": 1}/+~*'()!"}};
    CHECK_INT(aws_query_form(&b, "PutRolePolicy", "2010-05-08", params, 3), 0);
    buf_terminate(&b);
    CHECK_STR(buf_bytes(&b), "Action=PutRolePolicy&Version=2010-05-08&RoleName=r"
                             "&PolicyDocument=%7B%22a%22%3A%201%7D%2F%2B~%2A%27%28%29%21");
    buf_free(&b);
}

TEST(retry_policy)
{
    CHECK_INT(aws_retry_classify(400, "Throttling"), AWS_RETRY_THROTTLED);
    CHECK_INT(aws_retry_classify(400, "TooManyRequestsException"), AWS_RETRY_THROTTLED);
    CHECK_INT(aws_retry_classify(429, ""), AWS_RETRY_THROTTLED);
    CHECK_INT(aws_retry_classify(503, NULL), AWS_RETRY_TRANSIENT);
    CHECK_INT(aws_retry_classify(500, "InternalFailure"), AWS_RETRY_TRANSIENT);
    CHECK_INT(aws_retry_classify(403, "AccessDenied"), AWS_RETRY_NO);
    CHECK_INT(aws_retry_classify(404, "NoSuchEntity"), AWS_RETRY_NO);
    CHECK_INT(aws_retry_classify(400, "ValidationError"), AWS_RETRY_NO);
    /* Full jitter below base * 2^(attempt-1), capped. */
    CHECK_INT(aws_retry_delay_ms(1, AWS_RETRY_TRANSIENT, 0), 0);
    CHECK_INT(aws_retry_delay_ms(1, AWS_RETRY_TRANSIENT, UINT32_MAX), AWS_RETRY_BASE_MS - 1);
    CHECK_INT(aws_retry_delay_ms(2, AWS_RETRY_TRANSIENT, UINT32_MAX), 2 * AWS_RETRY_BASE_MS - 1);
    CHECK_INT(aws_retry_delay_ms(2, AWS_RETRY_THROTTLED, UINT32_MAX / 2),
              AWS_RETRY_THROTTLE_BASE_MS - 1);
    CHECK_INT(aws_retry_delay_ms(40, AWS_RETRY_THROTTLED, UINT32_MAX), AWS_RETRY_MAX_DELAY_MS - 1);
}

int main(void)
{
    static const struct test_case cases[] = {
        TEST_ENTRY(appsync_reads_an_api_and_its_endpoints),
        TEST_ENTRY(appsync_refuses_hostile_api_fields),
        TEST_ENTRY(appsync_names_and_bodies),
        TEST_ENTRY(iam_role_names_from_arns),
        TEST_ENTRY(iam_bridge_policy_is_least_privilege),
        TEST_ENTRY(iam_reads_get_role_policy),
        TEST_ENTRY(cloudformation_reads_pages),
        TEST_ENTRY(sts_reads_caller_identity),
        TEST_ENTRY(query_forms_encode_like_the_sdk),
        TEST_ENTRY(retry_policy),
    };
    return test_run_all("aws_services", cases, sizeof(cases) / sizeof(cases[0]));
}
