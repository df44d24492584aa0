/* AWS endpoint resolution (aws/endpoint.c) and the services sections of the
 * shared config file (aws/profile.c): every precedence rule, the defaults
 * per partition, and the errors, against a scratch config file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/endpoint.h"
#include "aws/profile.h"
#include "core/buf.h"
#include "test.h"

static char dir[64];
static char config_path[128];
static char url[AWS_ENDPOINT_MAX];
static char cause[600];

static void clear_env(void)
{
    const char *names[] = {"AWS_ENDPOINT_URL",
                           "AWS_ENDPOINT_URL_LAMBDA",
                           "AWS_ENDPOINT_URL_STS",
                           "AWS_ENDPOINT_URL_CLOUDFORMATION",
                           "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
                           "AWS_PROFILE",
                           "AWS_DEFAULT_PROFILE",
                           "AWS_SHARED_CREDENTIALS_FILE"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        unsetenv(names[i]);
}

/* A fresh config file with `text` (the credentials file never exists). */
static void config(const char *text)
{
    clear_env();
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/tether-endpoint-XXXXXX");
        if (!mkdtemp(dir))
            exit(1);
        snprintf(config_path, sizeof(config_path), "%s/config", dir);
    }
    FILE *f = fopen(config_path, "w");
    if (!f)
        exit(1);
    fputs(text, f);
    fclose(f);
    setenv("AWS_CONFIG_FILE", config_path, 1);
    char missing[160];
    snprintf(missing, sizeof(missing), "%s/credentials", dir);
    setenv("AWS_SHARED_CREDENTIALS_FILE", missing, 1);
}

static int resolve(const struct aws_service *service, const char *region, const char *profile,
                   const char *explicit_url)
{
    url[0] = cause[0] = '\0';
    return aws_endpoint_resolve(service, region, profile, explicit_url, url, sizeof(url), cause,
                                sizeof(cause));
}

/* resolve() succeeds with `want` (a macro, so failures name the caller's line). */
#define EXPECT_URL(service, region, profile, explicit_url, want)                                   \
    do {                                                                                           \
        CHECK_INT(resolve(service, region, profile, explicit_url), 0);                             \
        CHECK_STR(url, want);                                                                      \
    } while (0)

static const char services_config[] = "[default]\n"
                                      "region = eu-west-1\n"
                                      "services = local\n"
                                      "endpoint_url = http://127.0.0.1:5/profile\n"
                                      "\n"
                                      "[services local]\n"
                                      "lambda =\n"
                                      "  endpoint_url = http://127.0.0.1:4/services # a comment\n"
                                      "  Max_Attempts = 3\n"
                                      "sts = \n"
                                      "  endpoint_url = http://127.0.0.1:6/\n"
                                      "\n"
                                      "[profile other]\n"
                                      "endpoint_url = http://127.0.0.1:7/\n"
                                      "s3 =\n"
                                      "  max_concurrent_requests = 10\n"
                                      "\n"
                                      "[profile ignoring]\n"
                                      "services = local\n"
                                      "endpoint_url = http://127.0.0.1:8/\n"
                                      "ignore_configured_endpoint_urls = True\n";

TEST(test_defaults)
{
    config("");
    EXPECT_URL(&aws_service_lambda, "us-east-1", NULL, NULL,
               "https://lambda.us-east-1.amazonaws.com/");
    EXPECT_URL(&aws_service_appsync, "eu-central-1", NULL, NULL,
               "https://appsync.eu-central-1.amazonaws.com/");
    EXPECT_URL(&aws_service_cloudformation, "cn-north-1", NULL, NULL,
               "https://cloudformation.cn-north-1.amazonaws.com.cn/");
    EXPECT_URL(&aws_service_iam, "eu-west-1", NULL, NULL, "https://iam.amazonaws.com/");
    EXPECT_URL(&aws_service_iam, NULL, NULL, NULL, "https://iam.amazonaws.com/");
    EXPECT_URL(&aws_service_iam, "cn-northwest-1", NULL, NULL,
               "https://iam.cn-northwest-1.amazonaws.com.cn/");
    EXPECT_URL(&aws_service_sts, NULL, NULL, NULL, "https://sts.amazonaws.com/");
    EXPECT_URL(&aws_service_sts, "ap-south-1", NULL, NULL, "https://sts.ap-south-1.amazonaws.com/");
    CHECK_STR(aws_endpoint_signing_region(&aws_service_iam, "eu-west-1"), "us-east-1");
    CHECK_STR(aws_endpoint_signing_region(&aws_service_iam, "cn-north-1"), "cn-north-1");
    CHECK_STR(aws_endpoint_signing_region(&aws_service_sts, NULL), "us-east-1");
    CHECK_STR(aws_endpoint_signing_region(&aws_service_lambda, "eu-west-1"), "eu-west-1");
}

TEST(test_bad_input)
{
    config("");
    /* A regional service needs a region; a region goes into a host name. */
    CHECK_INT(resolve(&aws_service_lambda, NULL, NULL, NULL), -EINVAL);
    CHECK(strstr(cause, "no region for Lambda") != NULL);
    CHECK_INT(resolve(&aws_service_lambda, "evil.example.com/x", NULL, NULL), -EINVAL);
    CHECK(strstr(cause, "bad region") != NULL);
    CHECK_INT(resolve(&aws_service_lambda, "", NULL, NULL), -EINVAL);
    /* A bad configured URL is an error naming where it came from. */
    setenv("AWS_ENDPOINT_URL_LAMBDA", "ftp://127.0.0.1/", 1);
    CHECK_INT(resolve(&aws_service_lambda, "us-east-1", NULL, NULL), -EINVAL);
    CHECK(strstr(cause, "AWS_ENDPOINT_URL_LAMBDA") != NULL);
    setenv("AWS_ENDPOINT_URL_LAMBDA", "http://user@127.0.0.1/", 1);
    CHECK_INT(resolve(&aws_service_lambda, "us-east-1", NULL, NULL), -EINVAL);
    CHECK_INT(resolve(&aws_service_lambda, "us-east-1", NULL, "not a url"), -EINVAL);
    clear_env();
    config("[default]\nendpoint_url = wss://127.0.0.1/\n");
    CHECK_INT(resolve(&aws_service_lambda, "us-east-1", NULL, NULL), -EINVAL);
    CHECK(strstr(cause, "profile default endpoint_url") != NULL);
    /* The config file's own errors come through. */
    config("[default]\n  indented before any key is fine\nno equals sign\n");
    CHECK_INT(resolve(&aws_service_lambda, "us-east-1", NULL, NULL), -EINVAL);
    CHECK(strstr(cause, "config:3") != NULL);
    /* Too small an output buffer. */
    config("");
    char small[8];
    CHECK_INT(aws_endpoint_resolve(&aws_service_lambda, "us-east-1", NULL, NULL, small,
                                   sizeof(small), cause, sizeof(cause)),
              -ENAMETOOLONG);
}

TEST(test_precedence)
{
    config(services_config);
    /* 6 < 5 < 4 < 3 < 2 < 1, removing one at a time from the top. */
    setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:2/", 1);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:3/", 1);
    EXPECT_URL(&aws_service_lambda, "us-east-1", NULL, "https://127.0.0.1:1/x",
               "https://127.0.0.1:1/x");
    EXPECT_URL(&aws_service_lambda, "us-east-1", NULL, NULL, "http://127.0.0.1:2/");
    unsetenv("AWS_ENDPOINT_URL_LAMBDA");
    EXPECT_URL(&aws_service_lambda, "us-east-1", NULL, NULL, "http://127.0.0.1:3/");
    unsetenv("AWS_ENDPOINT_URL");
    EXPECT_URL(&aws_service_lambda, "us-east-1", NULL, NULL, "http://127.0.0.1:4/services");
    /* A service without a services entry falls to the profile's endpoint_url. */
    EXPECT_URL(&aws_service_appsync, "us-east-1", NULL, NULL, "http://127.0.0.1:5/profile");
    EXPECT_URL(&aws_service_sts, NULL, NULL, NULL, "http://127.0.0.1:6/");
    /* Another service's variable does not apply; an empty one counts as unset. */
    setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9/", 1);
    setenv("AWS_ENDPOINT_URL_LAMBDA", "", 1);
    EXPECT_URL(&aws_service_lambda, "us-east-1", NULL, NULL, "http://127.0.0.1:4/services");
    /* AWS_ENDPOINT_URL_<ID upper-cased>. */
    setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", "http://127.0.0.1:10/", 1);
    EXPECT_URL(&aws_service_cloudformation, "us-east-1", NULL, NULL, "http://127.0.0.1:10/");
}

TEST(test_profiles)
{
    config(services_config);
    /* The explicit profile, then AWS_PROFILE, then AWS_DEFAULT_PROFILE. */
    EXPECT_URL(&aws_service_lambda, "us-east-1", "other", NULL, "http://127.0.0.1:7/");
    setenv("AWS_DEFAULT_PROFILE", "other", 1);
    EXPECT_URL(&aws_service_lambda, "us-east-1", NULL, NULL, "http://127.0.0.1:7/");
    setenv("AWS_PROFILE", "default", 1);
    EXPECT_URL(&aws_service_lambda, "us-east-1", NULL, NULL, "http://127.0.0.1:4/services");
    /* An unknown profile has no settings: AWS's default. */
    EXPECT_URL(&aws_service_lambda, "us-east-1", "nobody", NULL,
               "https://lambda.us-east-1.amazonaws.com/");
    /* A profile naming a services section that does not exist. */
    config("[default]\nservices = nowhere\n");
    EXPECT_URL(&aws_service_lambda, "us-west-2", NULL, NULL,
               "https://lambda.us-west-2.amazonaws.com/");
}

TEST(test_ignore_configured)
{
    config(services_config);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:3/", 1);
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE", 1);
    EXPECT_URL(&aws_service_lambda, "us-east-1", NULL, NULL,
               "https://lambda.us-east-1.amazonaws.com/");
    /* Never the explicit one. */
    EXPECT_URL(&aws_service_lambda, "us-east-1", NULL, "http://127.0.0.1:1/",
               "http://127.0.0.1:1/");
    /* The profile's setting ignores its own and the environment's ... */
    unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    unsetenv("AWS_ENDPOINT_URL");
    EXPECT_URL(&aws_service_lambda, "us-east-1", "ignoring", NULL,
               "https://lambda.us-east-1.amazonaws.com/");
    /* ... unless the environment says false, which wins over the profile. */
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false", 1);
    EXPECT_URL(&aws_service_lambda, "us-east-1", "ignoring", NULL, "http://127.0.0.1:4/services");
}

TEST(test_services_sections)
{
    config(services_config);
    struct aws_shared_config c;
    CHECK_INT(aws_shared_config_load(&c, cause, sizeof(cause)), 0);
    CHECK_INT(c.count, 3);
    CHECK_INT(c.services_count, 1);
    const struct aws_profile *s = aws_shared_config_services(&c, "local");
    CHECK(s != NULL);
    CHECK_STR(aws_services_get(s, "lambda", "endpoint_url"), "http://127.0.0.1:4/services");
    CHECK_STR(aws_services_get(s, "LAMBDA", "max_attempts"), "3");
    CHECK_STR(aws_services_get(s, "sts", "endpoint_url"), "http://127.0.0.1:6/");
    CHECK(aws_services_get(s, "appsync", "endpoint_url") == NULL);
    CHECK(aws_shared_config_services(&c, "other") == NULL);
    /* A services section is not a profile; nested settings of a profile
     * stay ignored. */
    CHECK(aws_shared_config_profile(&c, "local") == NULL);
    const struct aws_profile *other = aws_shared_config_profile(&c, "other");
    CHECK_INT(other->count, 2);
    CHECK(aws_profile_get(other, "max_concurrent_requests") == NULL);
    CHECK_STR(aws_profile_get(aws_shared_config_profile(&c, "default"), "services"), "local");
    aws_shared_config_free(&c);
    /* An indented line under a key with a value is a continuation, not a
     * nested setting; a nested line must be "key = value". */
    config("[services x]\nlambda = set\n  endpoint_url = http://127.0.0.1:1/\n");
    CHECK_INT(aws_shared_config_load(&c, cause, sizeof(cause)), 0);
    CHECK(aws_services_get(aws_shared_config_services(&c, "x"), "lambda", "endpoint_url") == NULL);
    aws_shared_config_free(&c);
    config("[services x]\nlambda =\n  no equals here\n");
    CHECK_INT(aws_shared_config_load(&c, cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "config:3") != NULL);
    /* The services sections are capped like the profiles. */
    struct buf many = BUF_INIT;
    for (int i = 0; i <= AWS_PROFILE_MAX_PROFILES; i++)
        buf_printf(&many, "[services s%d]\nlambda =\n  endpoint_url = http://127.0.0.1/\n", i);
    buf_terminate(&many);
    config(buf_bytes(&many));
    buf_free(&many);
    CHECK_INT(aws_shared_config_load(&c, cause, sizeof(cause)), -EFBIG);
}

int main(void)
{
    static const struct test_case cases[] = {
        TEST_ENTRY(test_defaults),          TEST_ENTRY(test_bad_input),
        TEST_ENTRY(test_precedence),        TEST_ENTRY(test_profiles),
        TEST_ENTRY(test_ignore_configured), TEST_ENTRY(test_services_sections),
    };
    int rc = test_run_all("test_aws_endpoint", cases, sizeof(cases) / sizeof(cases[0]));
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (dir[0] && system(cmd) != 0)
        return 1;
    return rc;
}
