/* tether.json: defaults, every kind of value error, and messages that name
 * the file, the key path and the reason. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev/config.h"
#include "dev/interpreter.h"
#include "test.h"

static int parse(const char *text, struct dev_config *c, char *cause, size_t cause_len)
{
    return dev_config_parse(text, strlen(text), "tether.json", c, cause, cause_len);
}

/* Checks that text is refused with a message containing `expected`. */
static void refused(const char *text, const char *expected)
{
    struct dev_config c;
    char cause[512] = "";
    int rc = parse(text, &c, cause, sizeof(cause));
    CHECK_INT(rc, -EINVAL);
    if (!strstr(cause, expected))
        fprintf(stderr, "  for %s\n  got \"%s\"\n  expected to contain \"%s\"\n", text, cause,
                expected);
    CHECK(strstr(cause, expected) != NULL);
}

TEST(minimal_config_gets_defaults)
{
    struct dev_config c;
    char cause[256];
    setenv("USER", "jane.doe", 1);
    CHECK_INT(parse("{\"app\":\"shop\",\"functions\":{\"Api\":{\"handler\":\"src/api.handler\","
                    "\"runtime\":\"nodejs20.x\",\"url\":true}}}",
                    &c, cause, sizeof(cause)),
              0);
    CHECK_STR(c.app, "shop");
    CHECK_STR(c.stage, "jane-doe");
    CHECK_STR(c.namespace_name, "tether");
    CHECK_INT(c.function_count, 1);
    const struct dev_function *f = dev_config_function(&c, "Api");
    CHECK(f != NULL);
    CHECK_INT(f->runtime, DEV_RUNTIME_NODE);
    CHECK_INT(f->timeout_s, 20);
    CHECK_INT(f->memory_mb, 1024);
    CHECK_INT(f->url, 1);
    CHECK_INT(f->live, 1);
    CHECK_INT(f->node_worker, DEV_NODE_WORKER_SHIM);
    CHECK_INT(c.events.mode, DEV_EVENTS_EMBEDDED);
    CHECK(c.tunnel == NULL);
    CHECK(dev_config_function(&c, "Nope") == NULL);
    dev_config_free(&c);
}

TEST(full_config)
{
    struct dev_config c;
    char cause[256];
    const char *text =
        "{\"$schema\":\"./tether.schema.json\",\"app\":\"shop\",\"stage\":\"ci\",\"namespace\":"
        "\"sst\",\"functions\":{"
        "\"Api\":{\"handler\":\"a.h\",\"runtime\":\"nodejs22.x\",\"worker\":\"aws-lambda-ric\","
        "\"environment\":{\"A\":\"1\",\"B\":\"two\"},\"timeout\":900,\"memory\":128,"
        "\"concurrency\":3,\"streaming\":true,\"live\":false},"
        "\"Py\":{\"handler\":\"app.main\",\"runtime\":\"python3.12\"},"
        "\"Go\":{\"runtime\":\"provided.al2023\",\"bootstrap\":\"bin/bootstrap\"},"
        "\"C\":{\"runtime\":\"provided\"}},"
        "\"events\":{\"http\":\"https://x.appsync-api.eu-west-1.amazonaws.com/event\","
        "\"region\":\"eu-west-1\"},\"tunnel\":{\"host\":\"1.2.3.4\"}}";
    CHECK_INT(parse(text, &c, cause, sizeof(cause)), 0);
    CHECK_STR(c.stage, "ci");
    CHECK_STR(c.namespace_name, "sst");
    const struct dev_function *api = dev_config_function(&c, "Api");
    CHECK_INT(api->node_worker, DEV_NODE_WORKER_RIC);
    CHECK_INT(api->environment_count, 2);
    CHECK_INT(api->timeout_s, 900);
    CHECK_INT(api->streaming, 1);
    CHECK_INT(api->live, 0);
    CHECK_INT(dev_config_function(&c, "Py")->runtime, DEV_RUNTIME_PYTHON);
    CHECK_STR(dev_config_function(&c, "Go")->bootstrap, "bin/bootstrap");
    CHECK_STR(dev_config_function(&c, "C")->bootstrap, "bootstrap");
    CHECK_INT(c.events.mode, DEV_EVENTS_REMOTE);
    CHECK_STR(c.events.region, "eu-west-1");
    CHECK(json_is_object(c.tunnel));
    dev_config_free(&c);
}

TEST(errors_name_file_key_and_reason)
{
    refused("{", "tether.json:1:");
    refused("[]", "tether.json: must hold a JSON object");
    refused("{\"functions\":{}}", "tether.json: app: is required");
    refused("{\"app\":\"x\"}", "tether.json: functions: is required");
    refused("{\"app\":\"x\",\"functions\":{}}", "functions: must be an object with 1 to");
    refused("{\"app\":\"x\",\"fuctions\":{}}",
            "fuctions: unknown key (did you mean \"functions\"?)");
    refused("{\"app\":\"x\",\"color\":1}", "tether.json: color: unknown key");
    refused("{\"app\":\"my app\",\"functions\":{\"A\":{\"runtime\":\"provided\"}}}",
            "app: must be 1-50 letters");
    refused("{\"app\":\"x\",\"functions\":{\"A\":{\"hander\":\"a.b\",\"runtime\":\"nodejs20.x\"}}}",
            "functions.A.hander: unknown key (did you mean \"handler\"?)");
    refused("{\"app\":\"x\",\"functions\":{\"A\":{\"runtime\":\"nodejs20.x\"}}}",
            "functions.A.handler: is required");
    refused("{\"app\":\"x\",\"functions\":{\"A\":{\"handler\":\"a.b\",\"runtime\":\"java21\"}}}",
            "functions.A.runtime: \"java21\" is not supported");
    refused("{\"app\":\"x\",\"functions\":{\"A\":{\"handler\":\"a.b\",\"runtime\":\"nodejs20.x\","
            "\"timeout\":0}}}",
            "functions.A.timeout: must be an integer from 1 to 900");
    refused("{\"app\":\"x\",\"functions\":{\"A\":{\"handler\":\"a.b\",\"runtime\":\"nodejs20.x\","
            "\"memory\":\"big\"}}}",
            "functions.A.memory: must be an integer from 128 to 10240");
    refused("{\"app\":\"x\",\"functions\":{\"A\":{\"handler\":\"a.b\",\"runtime\":\"nodejs20.x\","
            "\"url\":\"yes\"}}}",
            "functions.A.url: must be true or false");
    refused("{\"app\":\"x\",\"functions\":{\"A\":{\"handler\":\"a.b\",\"runtime\":\"nodejs20.x\","
            "\"environment\":{\"K\":1}}}}",
            "functions.A.environment.K: must be a string");
    refused("{\"app\":\"x\",\"functions\":{\"A\":{\"handler\":\"a.b\",\"runtime\":\"python3.12\","
            "\"worker\":\"aws-lambda-ric\"}}}",
            "functions.A.worker: applies to Node.js functions only");
    refused("{\"app\":\"x\",\"functions\":{\"A\":{\"handler\":\"a.b\",\"runtime\":\"nodejs20.x\","
            "\"bootstrap\":\"b\"}}}",
            "functions.A.bootstrap: applies to provided runtimes only");
    refused("{\"app\":\"x\",\"functions\":{\"Bad_Id\":{\"runtime\":\"provided\"}}}",
            "functions.Bad_Id: must be 1-50 letters");
    refused("{\"app\":\"x\",\"functions\":{\"A\":{\"runtime\":\"provided\"}},\"events\":{}}",
            "events.http: is required");
    refused("{\"app\":\"x\",\"functions\":{\"A\":{\"runtime\":\"provided\"}},\"events\":{\"http\":"
            "\"ftp://x\"}}",
            "events.http: must be an http:// or https:// URL");
    refused("{\"app\":\"x\",\"functions\":{\"A\":{\"runtime\":\"provided\"}},\"tunnel\":[]}",
            "tunnel: must be an object");
    refused("{\"app\":\"x\",\"app\":\"y\",\"functions\":{}}", "duplicate");
}

/* "build" and "watch": a command for any runtime, watch patterns only with
 * one, each a non-empty string, at most 32. */
TEST(build_command_and_watch)
{
    struct dev_config c;
    char cause[256];
    const char *text = "{\"app\":\"x\",\"functions\":{"
                       "\"Go\":{\"runtime\":\"provided.al2023\",\"bootstrap\":\"bin/bootstrap\","
                       "\"build\":\"go build -o bin/bootstrap ./cmd/api\","
                       "\"watch\":[\"*.go\",\"go.mod\"]},"
                       "\"Ts\":{\"handler\":\"a.h\",\"runtime\":\"nodejs20.x\",\"build\":\"make\"},"
                       "\"Plain\":{\"runtime\":\"provided\"}}}";
    CHECK_INT(parse(text, &c, cause, sizeof(cause)), 0);
    const struct dev_function *go = dev_config_function(&c, "Go");
    CHECK_STR(go->build, "go build -o bin/bootstrap ./cmd/api");
    CHECK_INT(go->watch_count, 2);
    CHECK_STR(go->watch[0], "*.go");
    CHECK_STR(go->watch[1], "go.mod");
    CHECK_STR(dev_config_function(&c, "Ts")->build, "make");
    CHECK_INT(dev_config_function(&c, "Ts")->watch_count, 0);
    CHECK(dev_config_function(&c, "Plain")->build == NULL);
    dev_config_free(&c);
    refused("{\"app\":\"x\",\"functions\":{\"A\":{\"runtime\":\"provided\",\"build\":\"\"}}}",
            "functions.A.build: must be a non-empty string");
    refused("{\"app\":\"x\",\"functions\":{\"A\":{\"runtime\":\"provided\",\"watch\":[\"*\"]}}}",
            "functions.A.watch: applies to functions with a \"build\" command only");
    refused("{\"app\":\"x\",\"functions\":{\"A\":{\"runtime\":\"provided\",\"build\":\"b\","
            "\"watch\":[]}}}",
            "functions.A.watch: must be an array of 1 to 32 patterns");
    refused("{\"app\":\"x\",\"functions\":{\"A\":{\"runtime\":\"provided\",\"build\":\"b\","
            "\"watch\":[\"*.go\",3]}}}",
            "functions.A.watch: must hold non-empty strings");
    char many[2048] = "{\"app\":\"x\",\"functions\":{\"A\":{\"runtime\":\"provided\",\"build\":"
                      "\"b\",\"watch\":[\"p\"";
    for (int i = 0; i < 32; i++)
        strcat(many, ",\"p\"");
    strcat(many, "]}}}");
    refused(many, "functions.A.watch: must be an array of 1 to 32 patterns");
}

TEST(missing_file_is_enoent)
{
    struct dev_config c;
    char cause[256];
    CHECK_INT(dev_config_load("/nonexistent/tether.json", &c, cause, sizeof(cause)), -ENOENT);
    CHECK(strstr(cause, "/nonexistent/tether.json") != NULL);
}

TEST(load_and_find_walk_up)
{
    char dir[] = "/tmp/tether-config-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[512], sub[512], found[512];
    snprintf(path, sizeof(path), "%s/tether.json", dir);
    snprintf(sub, sizeof(sub), "%s/src", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"app\":\"x\",\"functions\":{\"A\":{\"runtime\":\"provided\"}}}", f);
    fclose(f);
    char command[600];
    snprintf(command, sizeof(command), "mkdir -p %s", sub);
    CHECK_INT(system(command), 0);
    CHECK_INT(dev_config_find(sub, found, sizeof(found)), 0);
    CHECK_STR(found, path);
    struct dev_config c;
    char cause[256];
    CHECK_INT(dev_config_load(found, &c, cause, sizeof(cause)), 0);
    CHECK_STR(c.root, dir);
    dev_config_free(&c);
    snprintf(command, sizeof(command), "rm -rf %s", dir);
    CHECK_INT(system(command), 0);
}

TEST(runtime_table_accepts_what_aws_lists)
{
    static const char *const listed[] = {
        "nodejs18.x", "nodejs20.x",   "nodejs22.x",     "nodejs24.x", "python3.9",
        "python3.10", "python3.11",   "python3.12",     "python3.13", "python3.14",
        "provided",   "provided.al2", "provided.al2023"};
    static const enum dev_runtime language[] = {
        DEV_RUNTIME_NODE,    DEV_RUNTIME_NODE,   DEV_RUNTIME_NODE,     DEV_RUNTIME_NODE,
        DEV_RUNTIME_PYTHON,  DEV_RUNTIME_PYTHON, DEV_RUNTIME_PYTHON,   DEV_RUNTIME_PYTHON,
        DEV_RUNTIME_PYTHON,  DEV_RUNTIME_PYTHON, DEV_RUNTIME_PROVIDED, DEV_RUNTIME_PROVIDED,
        DEV_RUNTIME_PROVIDED};
    char note[512];
    for (size_t i = 0; i < sizeof(listed) / sizeof(listed[0]); i++) {
        enum dev_runtime r = DEV_RUNTIME_PROVIDED;
        CHECK_INT(dev_runtime_lookup(listed[i], &r, note, sizeof(note)), 0);
        CHECK_INT(r, language[i]);
        CHECK_STR(note, "");
    }
}

TEST(newer_runtime_of_known_language_is_warned_not_refused)
{
    char note[512];
    enum dev_runtime r = DEV_RUNTIME_PROVIDED;
    CHECK_INT(dev_runtime_lookup("nodejs26.x", &r, note, sizeof(note)), 1);
    CHECK_INT(r, DEV_RUNTIME_NODE);
    CHECK(strstr(note, "\"nodejs26.x\" is newer") != NULL);
    CHECK(strstr(note, "nodejs24.x") != NULL);
    CHECK_INT(dev_runtime_lookup("python3.15", &r, note, sizeof(note)), 1);
    CHECK_INT(r, DEV_RUNTIME_PYTHON);
    CHECK(strstr(note, "running it as Python") != NULL);

    struct dev_config c;
    char cause[512];
    CHECK_INT(parse("{\"app\":\"x\",\"functions\":{\"A\":{\"handler\":\"a.b\","
                    "\"runtime\":\"nodejs26.x\"},\"B\":{\"handler\":\"a.b\","
                    "\"runtime\":\"nodejs24.x\"}}}",
                    &c, cause, sizeof(cause)),
              0);
    CHECK(strstr(dev_config_function(&c, "A")->runtime_note, "nodejs26.x") != NULL);
    CHECK_STR(dev_config_function(&c, "B")->runtime_note, "");
    dev_config_free(&c);
}

TEST(unknown_or_old_runtime_is_refused_with_the_list)
{
    static const char *const refused_names[] = {
        "java21",      "nodejs16.x", "python3.8",  "python2.7", "nodejs24",        "nodejs24.x ",
        "nodejs024.x", "python3.",   "python3.1a", "nodejs.x",  "provided.al2024", ""};
    char note[512];
    for (size_t i = 0; i < sizeof(refused_names) / sizeof(refused_names[0]); i++) {
        enum dev_runtime r;
        CHECK_INT(dev_runtime_lookup(refused_names[i], &r, note, sizeof(note)), -EINVAL);
        CHECK(strstr(note, "is not supported (use one of nodejs18.x") != NULL);
        CHECK(strstr(note, "provided.al2023") != NULL);
    }
    refused("{\"app\":\"x\",\"functions\":{\"A\":{\"handler\":\"a.b\",\"runtime\":\"ruby3.4\"}}}",
            "functions.A.runtime: \"ruby3.4\" is not supported (use one of nodejs18.x, "
            "nodejs20.x, nodejs22.x, nodejs24.x, python3.9");
}

TEST(runtime_and_interpreter_versions)
{
    char v[16];
    CHECK_INT(dev_runtime_version("nodejs24.x", v, sizeof(v)), 0);
    CHECK_STR(v, "24");
    CHECK_INT(dev_runtime_version("python3.12", v, sizeof(v)), 0);
    CHECK_STR(v, "3.12");
    CHECK_INT(dev_runtime_version("provided.al2023", v, sizeof(v)), -ENOENT);
    CHECK_INT(dev_interpreter_parse(DEV_RUNTIME_NODE, "v22.3.0\n", v, sizeof(v)), 0);
    CHECK_STR(v, "22");
    CHECK_INT(dev_interpreter_parse(DEV_RUNTIME_PYTHON, "Python 3.11.2\n", v, sizeof(v)), 0);
    CHECK_STR(v, "3.11");
    CHECK_INT(dev_interpreter_parse(DEV_RUNTIME_NODE, "22.3.0", v, sizeof(v)), -EINVAL);
    CHECK_INT(dev_interpreter_parse(DEV_RUNTIME_PYTHON, "Python3", v, sizeof(v)), -EINVAL);
}

static const char three_functions[] =
    "{\"app\":\"x\",\"functions\":{"
    "\"ApiUsers\":{\"handler\":\"a.b\",\"runtime\":\"nodejs22.x\"},"
    "\"ApiOrders\":{\"handler\":\"a.b\",\"runtime\":\"nodejs22.x\"},"
    "\"Cron\":{\"handler\":\"a.b\",\"runtime\":\"python3.12\",\"live\":false}}}";

TEST(function_patterns_select_live_functions)
{
    struct dev_config c;
    char cause[512] = "";
    CHECK_INT(parse(three_functions, &c, cause, sizeof(cause)), 0);
    const char *none[] = {NULL};
    CHECK_INT(dev_config_select(&c, none, 0, cause, sizeof(cause)), 0);
    CHECK_INT(dev_config_function(&c, "ApiUsers")->live, 1);
    const char *users[] = {"*Users"};
    CHECK_INT(dev_config_select(&c, users, 1, cause, sizeof(cause)), 0);
    CHECK_INT(dev_config_function(&c, "ApiUsers")->live, 1);
    CHECK_INT(dev_config_function(&c, "ApiOrders")->live, 0);
    CHECK_INT(dev_config_function(&c, "Cron")->live, 0);
    dev_config_free(&c);

    CHECK_INT(parse(three_functions, &c, cause, sizeof(cause)), 0);
    /* "live": false stays off even when a pattern names it. */
    const char *two[] = {"Api?sers", "Cr*"};
    CHECK_INT(dev_config_select(&c, two, 2, cause, sizeof(cause)), 0);
    CHECK_INT(dev_config_function(&c, "ApiUsers")->live, 1);
    CHECK_INT(dev_config_function(&c, "ApiOrders")->live, 0);
    CHECK_INT(dev_config_function(&c, "Cron")->live, 0);
    dev_config_free(&c);

    CHECK_INT(parse(three_functions, &c, cause, sizeof(cause)), 0);
    const char *typo[] = {"Api*", "Jobs*"};
    CHECK_INT(dev_config_select(&c, typo, 2, cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "--function Jobs* matches no function in tether.json (it has ApiUsers, "
                        "ApiOrders, Cron)") != NULL);
    /* Nothing changed when a pattern is refused. */
    CHECK_INT(dev_config_function(&c, "ApiOrders")->live, 1);
    dev_config_free(&c);
}

TEST(aws_section_and_deployed_functions)
{
    struct dev_config c;
    char cause[256];
    CHECK_INT(parse("{\"app\":\"shop\",\"aws\":{\"region\":\"us-east-1\",\"profile\":\"dev\","
                    "\"stack\":\"shop-dev\"},\"functions\":{\"Api\":{\"handler\":\"a.h\","
                    "\"runtime\":\"nodejs22.x\",\"deployed\":\"shop-dev-Api\"},"
                    "\"Arn\":{\"handler\":\"a.h\",\"runtime\":\"nodejs22.x\",\"deployed\":"
                    "\"arn:aws:lambda:us-east-1:123456789012:function:shop-dev-Arn\"},"
                    "\"Other\":{\"handler\":\"a.h\",\"runtime\":\"nodejs22.x\"}}}",
                    &c, cause, sizeof(cause)),
              0);
    CHECK_INT(c.aws.present, 1);
    CHECK_STR(c.aws.region, "us-east-1");
    CHECK_STR(c.aws.profile, "dev");
    CHECK_STR(c.aws.stack, "shop-dev");
    CHECK_STR(dev_config_function(&c, "Api")->deployed, "shop-dev-Api");
    CHECK_STR(dev_config_function(&c, "Arn")->deployed,
              "arn:aws:lambda:us-east-1:123456789012:function:shop-dev-Arn");
    CHECK(dev_config_function(&c, "Other")->deployed == NULL);
    dev_config_free(&c);

    CHECK_INT(parse("{\"app\":\"shop\",\"functions\":{\"Api\":{\"handler\":\"a.h\","
                    "\"runtime\":\"nodejs22.x\"}}}",
                    &c, cause, sizeof(cause)),
              0);
    CHECK_INT(c.aws.present, 0);
    CHECK(c.aws.region == NULL);
    dev_config_free(&c);

#define FN(extra)                                                                                  \
    "\"functions\":{\"Api\":{\"handler\":\"a.h\",\"runtime\":\"nodejs22.x\"" extra "}}"
    refused("{\"app\":\"a\",\"aws\":{}," FN("") "}", "tether.json: aws.region: is required");
    refused("{\"app\":\"a\",\"aws\":\"us-east-1\"," FN("") "}",
            "tether.json: aws: must be an object with \"region\"");
    refused("{\"app\":\"a\",\"aws\":{\"region\":\"US East\"}," FN("") "}",
            "tether.json: aws.region: must be an AWS region such as \"us-east-1\"");
    refused("{\"app\":\"a\",\"aws\":{\"region\":\"us-east-1\",\"stak\":\"s\"}," FN("") "}",
            "tether.json: aws.stak: unknown key (did you mean \"stack\"?)");
    refused("{\"app\":\"a\",\"aws\":{\"region\":\"us-east-1\",\"stack\":\"1bad\"}," FN("") "}",
            "tether.json: aws.stack: must be a CloudFormation stack name or ARN");
    refused("{\"app\":\"a\",\"aws\":{\"region\":\"us-east-1\"}," FN(",\"deployed\":\"a b\"") "}",
            "tether.json: functions.Api.deployed: must be a Lambda function name");
    refused("{\"app\":\"a\",\"aws\":{\"region\":\"us-east-1\"}," FN(",\"deployed\":\"\"") "}",
            "tether.json: functions.Api.deployed: must be a non-empty string");
    refused("{\"app\":\"a\"," FN(",\"deployed\":\"shop-Api\"") "}",
            "tether.json: functions.Api.deployed: needs an \"aws\" section");
#undef FN
}

/* "root": the function's code directory, normalised, never outside the
 * project; dev_function_dir joins it to the project root. */
TEST(code_root_stays_inside)
{
    struct dev_config c;
    char cause[256], dir[512];
    CHECK_INT(parse("{\"app\":\"shop\",\"functions\":{\"Py\":{\"handler\":\"app.handler\","
                    "\"runtime\":\"python3.12\",\"root\":\"./hello_world//sub/\"},"
                    "\"Top\":{\"handler\":\"a.h\",\"runtime\":\"nodejs22.x\",\"root\":\".\"}}}",
                    &c, cause, sizeof(cause)),
              0);
    CHECK_STR(dev_config_function(&c, "Py")->root, "hello_world/sub");
    CHECK(dev_config_function(&c, "Top")->root == NULL);
    dev_function_dir(&c, dev_config_function(&c, "Py"), dir, sizeof(dir));
    CHECK(strstr(dir, "/hello_world/sub") != NULL);
    dev_config_free(&c);
    refused("{\"app\":\"shop\",\"functions\":{\"Py\":{\"handler\":\"app.handler\","
            "\"runtime\":\"python3.12\",\"root\":\"a/../../etc\"}}}",
            "functions.Py.root: must stay inside the project");
    refused("{\"app\":\"shop\",\"functions\":{\"Py\":{\"handler\":\"app.handler\","
            "\"runtime\":\"python3.12\",\"root\":\"/etc\"}}}",
            "functions.Py.root: must be relative to the project root");
}

RUN_TESTS("dev_config", TEST_ENTRY(minimal_config_gets_defaults), TEST_ENTRY(full_config),
          TEST_ENTRY(errors_name_file_key_and_reason), TEST_ENTRY(build_command_and_watch),
          TEST_ENTRY(missing_file_is_enoent), TEST_ENTRY(load_and_find_walk_up),
          TEST_ENTRY(runtime_table_accepts_what_aws_lists),
          TEST_ENTRY(newer_runtime_of_known_language_is_warned_not_refused),
          TEST_ENTRY(unknown_or_old_runtime_is_refused_with_the_list),
          TEST_ENTRY(runtime_and_interpreter_versions),
          TEST_ENTRY(function_patterns_select_live_functions),
          TEST_ENTRY(aws_section_and_deployed_functions), TEST_ENTRY(code_root_stays_inside))
