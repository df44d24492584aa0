/* The AWS credentials chain (aws/credentials.c, profile.c,
 * credentials_process.c, credentials_sts.c' pieces, credentials_provider.c)
 * against files in a scratch HOME and fake credential_process scripts. STS
 * AssumeRole end to end, against a stand-in that checks the signature with
 * the official signer, is in tests/integration/cloud-credentials.test.mjs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aws/credentials.h"
#include "aws/credentials_process.h"
#include "aws/credentials_provider.h"
#include "aws/credentials_sts.h"
#include "aws/profile.h"
#include "events/client_internal.h"
#include "test.h"

static char home[256];
static char cause[800];
static struct aws_credentials creds;

static void clear_env(void)
{
    const char *names[] = {
        "AWS_ACCESS_KEY_ID",    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_PROFILE",          "AWS_DEFAULT_PROFILE",   "AWS_REGION",
        "AWS_DEFAULT_REGION",   "AWS_CONFIG_FILE",       "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        unsetenv(names[i]);
}

static void write_file(const char *relative, const char *text, int mode)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", home, relative);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
}

/* A fresh scratch HOME with ~/.aws. */
static void fresh_home(void)
{
    clear_env();
    if (!home[0]) {
        snprintf(home, sizeof(home), "/tmp/tether-creds-XXXXXX");
        if (!mkdtemp(home))
            exit(1);
    }
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s/.aws %s/*.sh %s/count && mkdir -p %s/.aws", home, home,
             home, home);
    if (system(cmd) != 0)
        exit(1);
    setenv("HOME", home, 1);
}

static int resolve(const char *profile)
{
    struct aws_credentials_options o = {.profile = profile, .process_timeout_ms = 2000};
    cause[0] = '\0';
    return aws_credentials_resolve(&o, &creds, cause, sizeof(cause));
}

TEST(test_environment_first)
{
    fresh_home();
    write_file(".aws/credentials",
               "[default]\naws_access_key_id = AKIDFILE\n"
               "aws_secret_access_key = filesecret\n",
               0600);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);
    CHECK_INT(resolve(NULL), 0);
    CHECK_STR(creds.access_key_id, "AKIDENV");
    CHECK_STR(creds.secret_access_key, "envsecret");
    CHECK_STR(creds.session_token, "envtoken");
    CHECK_STR(creds.source, "environment");
    CHECK_INT(creds.expiration, 0);
    /* AWS_PROFILE does not skip the environment (botocore's rule) ... */
    setenv("AWS_PROFILE", "default", 1);
    CHECK_INT(resolve(NULL), 0);
    CHECK_STR(creds.access_key_id, "AKIDENV");
    /* ... an explicit profile does. */
    CHECK_INT(resolve("default"), 0);
    CHECK_STR(creds.access_key_id, "AKIDFILE");
    CHECK_STR(creds.session_token, "");
    /* Half the keys is an error, not a fall-through. */
    unsetenv("AWS_SECRET_ACCESS_KEY");
    CHECK_INT(resolve(NULL), -EINVAL);
    CHECK(strstr(cause, "AWS_SECRET_ACCESS_KEY") != NULL);
}

TEST(test_nothing_anywhere)
{
    fresh_home();
    CHECK_INT(resolve(NULL), -ENOENT);
    CHECK(strstr(cause, "no AWS credentials") != NULL);
    setenv("AWS_PROFILE", "missing", 1);
    CHECK_INT(resolve(NULL), -ENOENT);
    CHECK(strstr(cause, "profile missing is not in") != NULL);
    unsetenv("HOME");
    CHECK_INT(resolve(NULL), -ENOENT);
    setenv("HOME", home, 1);
}

TEST(test_shared_files_syntax)
{
    fresh_home();
    write_file(".aws/config",
               "# comment\n"
               "; another\n"
               "[default]\n"
               "region = eu-west-1 # inline comment\n"
               "s3 =\n"
               "  max_concurrent_requests = 20\n"
               "\n"
               "[profile dev]\n"
               "AWS_ACCESS_KEY_ID = AKIDCONFIG\n"
               "aws_secret_access_key=configsecret\n"
               "region=us-west-2\n"
               "[sso-session corp]\n"
               "sso_region = us-east-1\n"
               "[notaprofile]\n"
               "aws_access_key_id = IGNORED\n",
               0600);
    write_file(".aws/credentials",
               "\xef\xbb\xbf[dev]\r\n"
               "aws_secret_access_key = credsecret\r\n"
               "[ spaced ]\n"
               "aws_access_key_id = AKIDSPACED\n"
               "aws_secret_access_key = s;x#y\n",
               0600);
    /* Keys merge; the credentials file wins for the same key. */
    CHECK_INT(resolve("dev"), 0);
    CHECK_STR(creds.access_key_id, "AKIDCONFIG");
    CHECK_STR(creds.secret_access_key, "credsecret");
    CHECK_STR(creds.source, "profile dev (static keys)");
    CHECK_INT(resolve("spaced"), 0);
    CHECK_STR(creds.secret_access_key, "s;x#y"); /* no white space: not a comment */
    CHECK_INT(resolve("notaprofile"), -ENOENT);
    char region[64];
    CHECK_INT(aws_region_resolve(NULL, region, sizeof(region)), 0);
    CHECK_STR(region, "eu-west-1");
    CHECK_INT(aws_region_resolve("dev", region, sizeof(region)), 0);
    CHECK_STR(region, "us-west-2");
    setenv("AWS_PROFILE", "dev", 1);
    CHECK_INT(aws_region_resolve(NULL, region, sizeof(region)), 0);
    CHECK_STR(region, "us-west-2");
    setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
    CHECK_INT(aws_region_resolve(NULL, region, sizeof(region)), 0);
    CHECK_STR(region, "ap-south-1");
    setenv("AWS_REGION", "ca-central-1", 1);
    CHECK_INT(aws_region_resolve(NULL, region, sizeof(region)), 0);
    CHECK_STR(region, "ca-central-1");
    CHECK_INT(aws_region_resolve("spaced", region, sizeof(region)), 0);
    CHECK_STR(region, "ca-central-1");
    clear_env();
    CHECK_INT(aws_region_resolve("spaced", region, sizeof(region)), -ENOENT);
}

TEST(test_malformed_files)
{
    fresh_home();
    write_file(".aws/credentials", "[default]\naws_access_key_id AKID\n", 0600);
    CHECK_INT(resolve(NULL), -EINVAL);
    CHECK(strstr(cause, "/.aws/credentials:2: expected \"key = value\"") != NULL);
    write_file(".aws/credentials", "aws_access_key_id = AKID\n", 0600);
    CHECK_INT(resolve(NULL), -EINVAL);
    CHECK(strstr(cause, ":1: a property before any [profile] section") != NULL);
    write_file(".aws/credentials", "[default\n", 0600);
    CHECK_INT(resolve(NULL), -EINVAL);
    write_file(".aws/credentials", "[default]\naws_access_key_id = AKID\n", 0600);
    CHECK_INT(resolve(NULL), -EINVAL); /* no secret */
    write_file(".aws/credentials",
               "[default]\naws_access_key_id = AK ID\n"
               "aws_secret_access_key = x\n",
               0600);
    CHECK_INT(resolve(NULL), -EINVAL); /* not a key: white space inside */
}

TEST(test_file_locations_from_environment)
{
    fresh_home();
    write_file("my-creds", "[x]\naws_access_key_id = AKIDMOVED\naws_secret_access_key = s\n", 0600);
    write_file("my-config", "[profile x]\nregion = sa-east-1\n", 0600);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "~/my-creds", 1);
    setenv("AWS_CONFIG_FILE", "~/my-config", 1);
    setenv("AWS_DEFAULT_PROFILE", "x", 1);
    CHECK_INT(resolve(NULL), 0);
    CHECK_STR(creds.access_key_id, "AKIDMOVED");
    char region[64];
    CHECK_INT(aws_region_resolve(NULL, region, sizeof(region)), 0);
    CHECK_STR(region, "sa-east-1");
}

TEST(test_credential_process)
{
    fresh_home();
    time_t later = time(NULL) + 7200;
    struct tm tm;
    gmtime_r(&later, &tm);
    char expiration[40], script[600];
    strftime(expiration, sizeof(expiration), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(script, sizeof(script),
             "#!/bin/sh\n"
             "[ \"$1\" = \"--flag\" ] || exit 3\n"
             "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": "
             "\"procsecret\", \"SessionToken\": \"proctoken\", \"Expiration\": \"%s\"}'\n",
             expiration);
    write_file("process.sh", script, 0700);
    write_file("fail.sh", "#!/bin/sh\necho 'token expired, run aws sso login' >&2\nexit 4\n", 0700);
    write_file("slow.sh", "#!/bin/sh\nexec sleep 10\n", 0700);
    write_file("v2.sh",
               "#!/bin/sh\necho '{\"Version\":2,\"AccessKeyId\":\"a\","
               "\"SecretAccessKey\":\"b\"}'\n",
               0700);
    char config[2000];
    snprintf(config, sizeof(config),
             "[profile proc]\ncredential_process = %s/process.sh --flag\n"
             "[profile fail]\ncredential_process = %s/fail.sh\n"
             "[profile slow]\ncredential_process = %s/slow.sh\n"
             "[profile v2]\ncredential_process = %s/v2.sh\n"
             "[profile both]\naws_access_key_id = AKIDSTATIC\naws_secret_access_key = s\n"
             "credential_process = %s/fail.sh\n",
             home, home, home, home, home);
    write_file(".aws/config", config, 0600);
    CHECK_INT(resolve("proc"), 0);
    CHECK_STR(creds.access_key_id, "AKIDPROC");
    CHECK_STR(creds.secret_access_key, "procsecret");
    CHECK_STR(creds.session_token, "proctoken");
    CHECK_INT(creds.expiration, later);
    CHECK_STR(creds.source, "profile proc (credential_process)");
    CHECK_INT(resolve("fail"), -EIO);
    CHECK(strstr(cause, "exited with status 4: token expired, run aws sso login") != NULL);
    time_t start = time(NULL);
    CHECK_INT(resolve("slow"), -ETIMEDOUT);
    CHECK(time(NULL) - start < 6);
    CHECK_INT(resolve("v2"), -EINVAL);
    CHECK(strstr(cause, "\"Version\" must be 1") != NULL);
    CHECK_INT(resolve("both"), 0); /* static keys before credential_process */
    CHECK_STR(creds.access_key_id, "AKIDSTATIC");
}

TEST(test_process_output_parsing)
{
    const char *ok = "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"B\"}";
    CHECK_INT(aws_credentials_parse_process_output(ok, strlen(ok), &creds, cause, sizeof(cause)),
              0);
    CHECK_INT(creds.expiration, 0);
    CHECK_STR(creds.session_token, "");
    const char *bad[] = {
        "not json",
        "[]",
        "{\"Version\":1,\"AccessKeyId\":\"A\"}",
        "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"B\"}",
        "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"B\",\"Expiration\":\"soon\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INT(aws_credentials_parse_process_output(bad[i], strlen(bad[i]), &creds, cause,
                                                       sizeof(cause)),
                  -EINVAL);
}

TEST(test_iso8601)
{
    time_t t;
    CHECK_INT(aws_parse_iso8601("2024-05-01T12:00:00Z", &t), 0);
    CHECK_INT(t, 1714564800);
    CHECK_INT(aws_parse_iso8601("2024-05-01T12:00:00.123456Z", &t), 0);
    CHECK_INT(t, 1714564800);
    CHECK_INT(aws_parse_iso8601("2024-05-01T14:00:00+02:00", &t), 0);
    CHECK_INT(t, 1714564800);
    CHECK_INT(aws_parse_iso8601("2024-05-01T07:30:00-0430", &t), 0);
    CHECK_INT(t, 1714564800);
    CHECK_INT(aws_parse_iso8601("2024-05-01 12:00:00Z", &t), 0);
    CHECK_INT(aws_parse_iso8601("2024-05-01T12:00:00", &t), -EINVAL);
    CHECK_INT(aws_parse_iso8601("2024-13-01T12:00:00Z", &t), -EINVAL);
    CHECK_INT(aws_parse_iso8601("tomorrow", &t), -EINVAL);
    CHECK_INT(aws_parse_iso8601("2024-05-01T12:00:00Zjunk", &t), -EINVAL);
}

TEST(test_role_profiles_without_sts)
{
    fresh_home();
    write_file(".aws/config",
               "[profile loop-a]\nrole_arn = arn:aws:iam::1:role/a\n"
               "source_profile = loop-b\n"
               "[profile loop-b]\nrole_arn = arn:aws:iam::1:role/b\n"
               "source_profile = loop-a\n"
               "[profile mfa]\nrole_arn = arn:aws:iam::1:role/m\n"
               "source_profile = base\nmfa_serial = arn:aws:iam::1:mfa/me\n"
               "[profile nosource]\nrole_arn = arn:aws:iam::1:role/n\n"
               "[profile ec2]\nrole_arn = arn:aws:iam::1:role/n\n"
               "credential_source = Ec2InstanceMetadata\n"
               "[profile envsource]\nrole_arn = arn:aws:iam::1:role/e\n"
               "credential_source = Environment\n"
               "[profile dangling]\nrole_arn = arn:aws:iam::1:role/d\n"
               "source_profile = nowhere\n",
               0600);
    CHECK_INT(resolve("loop-a"), -ELOOP);
    CHECK(strstr(cause, "source_profile loop") != NULL);
    CHECK_INT(resolve("mfa"), -ENOTSUP);
    CHECK_INT(resolve("nosource"), -ENOTSUP);
    CHECK_INT(resolve("ec2"), -ENOTSUP);
    CHECK(strstr(cause, "Ec2InstanceMetadata") != NULL);
    CHECK_INT(resolve("envsource"), -ENOENT);
    CHECK(strstr(cause, "credential_source = Environment") != NULL);
    CHECK_INT(resolve("dangling"), -EINVAL);
    CHECK(strstr(cause, "profile nowhere is not in") != NULL);
}

TEST(test_sts_pieces)
{
    clear_env();
    char endpoint[256];
    struct aws_sts_assume_role p = {.role_arn = "arn:aws:iam::123456789012:role/dev role",
                                    .external_id = "a&b=c",
                                    .duration_seconds = 900};
    CHECK_INT(aws_sts_endpoint(&p, endpoint, sizeof(endpoint)), 0);
    CHECK_STR(endpoint, "https://sts.amazonaws.com/");
    p.region = "eu-west-1";
    CHECK_INT(aws_sts_endpoint(&p, endpoint, sizeof(endpoint)), 0);
    CHECK_STR(endpoint, "https://sts.eu-west-1.amazonaws.com/");
    p.region = "cn-north-1";
    CHECK_INT(aws_sts_endpoint(&p, endpoint, sizeof(endpoint)), 0);
    CHECK_STR(endpoint, "https://sts.cn-north-1.amazonaws.com.cn/");
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1/generic", 1);
    CHECK_INT(aws_sts_endpoint(&p, endpoint, sizeof(endpoint)), 0);
    CHECK_STR(endpoint, "http://127.0.0.1:1/generic");
    setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2/", 1);
    CHECK_INT(aws_sts_endpoint(&p, endpoint, sizeof(endpoint)), 0);
    CHECK_STR(endpoint, "http://127.0.0.1:2/");
    clear_env();

    struct buf body = BUF_INIT;
    CHECK_INT(aws_sts_form_body(&body, &p, "tether-1"), 0);
    buf_terminate(&body);
    CHECK_STR(buf_bytes(&body),
              "Action=AssumeRole&Version=2011-06-15"
              "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdev%20role"
              "&RoleSessionName=tether-1&DurationSeconds=900&ExternalId=a%26b%3Dc");
    buf_free(&body);

    const char *ok =
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
        "  <AssumeRoleResult>\n"
        "    <AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn></AssumedRoleUser>\n"
        "    <Credentials>\n"
        "      <AccessKeyId>ASIAROLE</AccessKeyId>\n"
        "      <SecretAccessKey>role&amp;secret&#47;x</SecretAccessKey>\n"
        "      <SessionToken>FwoGZXIvYXdzEB&#x2B;token=</SessionToken>\n"
        "      <Expiration>2024-05-01T12:00:00Z</Expiration>\n"
        "    </Credentials>\n"
        "  </AssumeRoleResult>\n"
        "</AssumeRoleResponse>\n";
    CHECK_INT(aws_sts_parse_response(200, ok, strlen(ok), &creds, cause, sizeof(cause)), 0);
    CHECK_STR(creds.access_key_id, "ASIAROLE");
    CHECK_STR(creds.secret_access_key, "role&secret/x");
    CHECK_STR(creds.session_token, "FwoGZXIvYXdzEB+token=");
    CHECK_INT(creds.expiration, 1714564800);
    const char *denied = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                         "<Message>User is not authorized to perform: sts:AssumeRole</Message>"
                         "</Error></ErrorResponse>";
    CHECK_INT(aws_sts_parse_response(403, denied, strlen(denied), &creds, cause, sizeof(cause)),
              -EACCES);
    CHECK_STR(cause, "STS AssumeRole failed: HTTP 403: AccessDenied: User is not authorized to "
                     "perform: sts:AssumeRole");
    const char *partial = "<Credentials><AccessKeyId>A</AccessKeyId></Credentials>";
    CHECK_INT(aws_sts_parse_response(200, partial, strlen(partial), &creds, cause, sizeof(cause)),
              -EPROTO);
    CHECK_INT(aws_sts_parse_response(200, "", 0, &creds, cause, sizeof(cause)), -EPROTO);
}

/* ---- the provider ---- */

/* A credential_process that counts its runs: AKIDRUN<n>, expiring after
 * the number of seconds in ~/lifetime (first run) and an hour later on. */
static void counting_process(int first_lifetime)
{
    fresh_home();
    char lifetime[32];
    snprintf(lifetime, sizeof(lifetime), "%d\n", first_lifetime);
    write_file("lifetime", lifetime, 0600);
    write_file("count.sh",
               "#!/bin/sh\n"
               "n=$(cat \"$HOME/count\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "
               "\"$HOME/count\"\n"
               "life=3600; [ $n = 1 ] && life=$(cat \"$HOME/lifetime\")\n"
               "exp=$(date -u -d \"@$(( $(date +%s) + life ))\" +%Y-%m-%dT%H:%M:%SZ)\n"
               "printf '{\"Version\":1,\"AccessKeyId\":\"AKIDRUN%s\",\"SecretAccessKey\":"
               "\"s%s\",\"SessionToken\":\"t%s\",\"Expiration\":\"%s\"}' $n $n $n $exp\n",
               0700);
    char config[600];
    snprintf(config, sizeof(config), "[default]\ncredential_process = %s/count.sh\n", home);
    write_file(".aws/config", config, 0600);
}

static int wait_refreshes(struct aws_credentials_provider *p, unsigned n)
{
    for (int i = 0; i < 500 && aws_credentials_provider_refreshes(p) < n; i++)
        usleep(10000);
    return aws_credentials_provider_refreshes(p) >= n;
}

TEST(test_provider_refreshes_ahead_in_the_background)
{
    counting_process(3600);
    struct aws_credentials_provider *p;
    CHECK_INT(aws_credentials_provider_new(NULL, &p, cause, sizeof(cause)), 0);
    CHECK_INT(aws_credentials_provider_get(p, &creds, cause, sizeof(cause)), 0);
    CHECK_STR(creds.access_key_id, "AKIDRUN1");
    /* An hour left: no refresh with the default five minutes ahead. */
    CHECK_INT(aws_credentials_provider_get(p, &creds, cause, sizeof(cause)), 0);
    CHECK_INT(aws_credentials_provider_refreshes(p), 0);
    /* Inside the window: this get still answers with the valid ones ... */
    aws_credentials_provider_set_refresh_ahead(p, 3700);
    CHECK_INT(aws_credentials_provider_get(p, &creds, cause, sizeof(cause)), 0);
    CHECK_STR(creds.access_key_id, "AKIDRUN1");
    /* ... and the next ones after the background refresh are new. */
    CHECK(wait_refreshes(p, 1));
    aws_credentials_provider_set_refresh_ahead(p, AWS_CREDENTIALS_REFRESH_AHEAD_S);
    CHECK_INT(aws_credentials_provider_get(p, &creds, cause, sizeof(cause)), 0);
    CHECK_STR(creds.access_key_id, "AKIDRUN2");
    CHECK_STR(creds.session_token, "t2");
    aws_credentials_wipe(&creds);
    aws_credentials_provider_free(p);
}

TEST(test_provider_waits_when_expired)
{
    counting_process(1);
    struct aws_credentials_provider *p;
    CHECK_INT(aws_credentials_provider_new(NULL, &p, cause, sizeof(cause)), 0);
    aws_credentials_provider_set_refresh_ahead(p, 0);
    sleep(2);
    /* Expired: get waits for the refresh instead of handing out stale keys. */
    CHECK_INT(aws_credentials_provider_get(p, &creds, cause, sizeof(cause)), 0);
    CHECK_STR(creds.access_key_id, "AKIDRUN2");
    aws_credentials_provider_free(p);

    /* A refresh that fails leaves expired credentials unusable, with why. */
    counting_process(1);
    CHECK_INT(aws_credentials_provider_new(NULL, &p, cause, sizeof(cause)), 0);
    aws_credentials_provider_set_refresh_ahead(p, 0);
    char config[600];
    snprintf(config, sizeof(config), "[default]\ncredential_process = /bin/false\n");
    write_file(".aws/config", config, 0600);
    sleep(2);
    CHECK_INT(aws_credentials_provider_get(p, &creds, cause, sizeof(cause)), -EKEYEXPIRED);
    CHECK(strstr(cause, "expired and refreshing them failed") != NULL);
    aws_credentials_provider_free(p);
}

/* New signatures of the events client use refreshed credentials. */
TEST(test_events_client_signs_with_refreshed_credentials)
{
    counting_process(3600);
    struct aws_credentials_provider *p;
    CHECK_INT(aws_credentials_provider_new(NULL, &p, cause, sizeof(cause)), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct events_client_config config;
    events_client_config_init(&config);
    config.http_url = "https://abc.appsync-api.eu-west-1.amazonaws.com/event";
    config.credentials = p;
    config.region = "eu-west-1";
    struct events_client *client = NULL;
    CHECK_INT(events_client_new(&loop, &config, &client, cause, sizeof(cause)), 0);
    struct buf auth = BUF_INIT;
    CHECK_INT(events_client_auth_append_json(client, &auth, "{}", 2, cause, sizeof(cause)), 0);
    buf_terminate(&auth);
    CHECK(strstr(buf_bytes(&auth), "Credential=AKIDRUN1/") != NULL);
    CHECK(strstr(buf_bytes(&auth), "\"X-Amz-Security-Token\":\"t1\"") != NULL);
    aws_credentials_provider_set_refresh_ahead(p, 3700);
    buf_reset(&auth);
    CHECK_INT(events_client_auth_append_json(client, &auth, "{}", 2, cause, sizeof(cause)), 0);
    CHECK(wait_refreshes(p, 1));
    buf_reset(&auth);
    CHECK_INT(events_client_auth_append_json(client, &auth, "{}", 2, cause, sizeof(cause)), 0);
    buf_terminate(&auth);
    CHECK(strstr(buf_bytes(&auth), "Credential=AKIDRUN2/20") != NULL);
    CHECK(strstr(buf_bytes(&auth), "/eu-west-1/appsync/aws4_request") != NULL);
    CHECK(strstr(buf_bytes(&auth), "\"X-Amz-Security-Token\":\"t2\"") != NULL);
    buf_free(&auth);
    events_client_free(client);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    aws_credentials_provider_free(p);
}

TEST(test_static_provider_and_value_checks)
{
    struct aws_credentials fixed;
    CHECK_INT(aws_credentials_set(&fixed, "AKID", "secret", NULL, cause, sizeof(cause)), 0);
    fixed.expiration = 1; /* ignored: static credentials never expire */
    struct aws_credentials_provider *p;
    CHECK_INT(aws_credentials_provider_new_static(&fixed, &p), 0);
    CHECK_INT(aws_credentials_provider_get(p, &creds, cause, sizeof(cause)), 0);
    CHECK_STR(creds.access_key_id, "AKID");
    aws_credentials_provider_free(p);
    aws_credentials_wipe(&fixed);
    CHECK_STR(fixed.secret_access_key, "");
    char big[200];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_INT(aws_credentials_set(&fixed, big, "s", NULL, cause, sizeof(cause)), -EINVAL);
    CHECK_INT(aws_credentials_set(&fixed, "A", "s\n", NULL, cause, sizeof(cause)), -EINVAL);
    CHECK_INT(aws_credentials_set(&fixed, "", "s", NULL, cause, sizeof(cause)), -EINVAL);
}

static void cleanup(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
    if (home[0] && system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", home);
}

static const struct test_case cases[] = {
    TEST_ENTRY(test_environment_first),
    TEST_ENTRY(test_nothing_anywhere),
    TEST_ENTRY(test_shared_files_syntax),
    TEST_ENTRY(test_malformed_files),
    TEST_ENTRY(test_file_locations_from_environment),
    TEST_ENTRY(test_credential_process),
    TEST_ENTRY(test_process_output_parsing),
    TEST_ENTRY(test_iso8601),
    TEST_ENTRY(test_role_profiles_without_sts),
    TEST_ENTRY(test_sts_pieces),
    TEST_ENTRY(test_provider_refreshes_ahead_in_the_background),
    TEST_ENTRY(test_provider_waits_when_expired),
    TEST_ENTRY(test_events_client_signs_with_refreshed_credentials),
    TEST_ENTRY(test_static_provider_and_value_checks),
};

int main(void)
{
    int rc = test_run_all("test_credentials", cases, sizeof(cases) / sizeof(cases[0]));
    cleanup();
    return rc;
}
