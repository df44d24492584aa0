/* The `tether lambda` configuration and the environment built from it. */
#include <errno.h>
#include <unistd.h>

#include "lambda/config.h"
#include "lambda/environment.h"
#include "test.h"

static char cause[512];

static struct lambda_config *parse(const char *json)
{
    struct lambda_config *c = NULL;
    cause[0] = '\0';
    if (lambda_config_parse(json, strlen(json), "/srv/app", &c, cause, sizeof(cause)) < 0)
        return NULL;
    return c;
}

/* Parses json expecting failure; returns the cause. */
static const char *parse_error(const char *json)
{
    struct lambda_config *c = parse(json);
    if (c) {
        lambda_config_free(c);
        return "(parsed)";
    }
    return cause;
}

TEST(defaults_are_lambdas)
{
    struct lambda_config *c = parse("{\"functions\":[{\"name\":\"hello\"}]}");
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_STR(c->region, "us-east-1");
    CHECK_STR(c->account_id, "012345678912");
    CHECK_INT(c->idle_timeout_s, 300);
    CHECK_INT(c->init_timeout_s, 10);
    CHECK_INT(c->function_count, 1);
    const struct lambda_function_config *f = &c->functions[0];
    CHECK_STR(f->name, "hello");
    CHECK_INT(f->timeout_s, 3);
    CHECK_INT(f->memory_mb, 128);
    CHECK_INT(f->concurrency, 10);
    CHECK_INT(f->queue, 100);
    CHECK_INT(f->streaming, 0);
    CHECK_INT(f->url, 0);
    CHECK_INT(f->url_port, -1);
    CHECK_STR(f->runtime, "provided.al2023");
    CHECK_STR(f->handler, "");
    CHECK_STR(f->working_dir, "/srv/app");
    CHECK_INT(f->bootstrap_count, 1);
    CHECK_STR(f->bootstrap[0], "/srv/app/bootstrap");
    CHECK(f->bootstrap[1] == NULL);
    CHECK(c->access_key_id == NULL);
    lambda_config_free(c);
}

TEST(full_function)
{
    struct lambda_config *c = parse(
        "{\"region\":\"eu-west-1\",\"account_id\":\"123456789012\",\"idle_timeout\":60,"
        "\"credentials\":{\"access_key_id\":\"AKID\",\"secret_access_key\":\"S\"},"
        "\"functions\":[{\"name\":\"api-v2_x\",\"runtime\":\"nodejs20.x\",\"handler\":\"app.h\","
        "\"bootstrap\":[\"node\",\"ric.mjs\",\"app.h\"],\"working_dir\":\"fn/./\","
        "\"environment\":{\"STAGE\":\"dev\",\"PATH\":\"/x\"},\"timeout\":900,\"memory\":10240,"
        "\"concurrency\":2,\"queue\":0,\"streaming\":true,\"url\":true,\"url_port\":0}]}");
    CHECK(c != NULL);
    if (!c)
        return;
    const struct lambda_function_config *f = &c->functions[0];
    CHECK_STR(c->region, "eu-west-1");
    CHECK_STR(c->access_key_id, "AKID");
    CHECK(c->session_token == NULL);
    CHECK_STR(f->working_dir, "/srv/app/fn");
    CHECK_INT(f->bootstrap_count, 3);
    CHECK_STR(f->bootstrap[0], "node");
    CHECK_STR(f->bootstrap[2], "app.h");
    CHECK_INT(f->environment_count, 2);
    CHECK_STR(f->environment[0].name, "STAGE");
    CHECK_INT(f->timeout_s, 900);
    CHECK_INT(f->memory_mb, 10240);
    CHECK_INT(f->queue, 0);
    CHECK_INT(f->streaming, 1);
    CHECK_INT(f->url_port, 0);
    CHECK(lambda_config_find(c, "api-v2_x") == f);
    CHECK(lambda_config_find(c, "nope") == NULL);
    lambda_config_free(c);
}

TEST(bootstrap_string_and_absolute_dir)
{
    struct lambda_config *c =
        parse("{\"functions\":[{\"name\":\"a\",\"bootstrap\":\"./run me\",\"working_dir\":\"/opt/"
              "fn/\"}]}");
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_INT(c->functions[0].bootstrap_count, 1);
    CHECK_STR(c->functions[0].bootstrap[0], "./run me");
    CHECK_STR(c->functions[0].working_dir, "/opt/fn");
    lambda_config_free(c);
}

TEST(errors_name_the_field)
{
    CHECK_STR(parse_error("{\"functions\":[{\"name\":\"a\",\"timeout\":0}]}"),
              "functions[0].timeout: must be an integer from 1 to 900");
    CHECK_STR(parse_error("{\"functions\":[{\"name\":\"a\"},{\"name\":\"b\",\"memory\":64}]}"),
              "functions[1].memory: must be an integer from 128 to 10240");
    CHECK_STR(parse_error("{\"functions\":[{\"name\":\"a\",\"timeout\":\"3\"}]}"),
              "functions[0].timeout: must be an integer from 1 to 900");
    CHECK_STR(parse_error("{\"functions\":[{\"name\":\"a\",\"tiemout\":3}]}"),
              "functions[0].tiemout: unknown key");
    CHECK_STR(parse_error("{\"functons\":[]}"), "functons: unknown key");
    CHECK_STR(parse_error("{\"functions\":[]}"),
              "functions: is required: an array of 1 to 64 functions");
    CHECK_STR(parse_error("{}"), "functions: is required: an array of 1 to 64 functions");
    CHECK_STR(parse_error("{\"functions\":[{}]}"), "functions[0].name: is required (a string)");
    CHECK_STR(parse_error("{\"functions\":[{\"name\":\"a b\"}]}"),
              "functions[0].name: must be 1 to 64 letters, digits, '-' or '_'");
    CHECK_STR(parse_error("{\"functions\":[{\"name\":\"a\"},{\"name\":\"a\"}]}"),
              "functions[1].name: \"a\" is used twice");
    CHECK_STR(parse_error("{\"functions\":[{\"name\":\"a\",\"streaming\":1}]}"),
              "functions[0].streaming: must be true or false");
    CHECK_STR(parse_error("{\"functions\":[{\"name\":\"a\",\"url_port\":8080}]}"),
              "functions[0].url_port: needs \"url\": true");
    CHECK_STR(parse_error("{\"functions\":[{\"name\":\"a\",\"bootstrap\":[]}]}"),
              "functions[0].bootstrap: must be a command: a string or an array of 1 to 64 strings");
    CHECK_STR(parse_error("{\"functions\":[{\"name\":\"a\",\"bootstrap\":[\"x\",3]}]}"),
              "functions[0].bootstrap: element 1 must be a string without NUL characters");
    CHECK_STR(parse_error("{\"account_id\":\"12\",\"functions\":[{\"name\":\"a\"}]}"),
              "account_id: must be 12 digits");
    CHECK_STR(parse_error("{\"credentials\":{\"access_key_id\":\"A\"},\"functions\":[{\"name\":"
                          "\"a\"}]}"),
              "credentials: needs both access_key_id and secret_access_key");
    CHECK_STR(parse_error("[1]"), ": the configuration must be a JSON object");
}

TEST(invalid_json_says_where)
{
    const char *why = parse_error("{\"functions\":[\n{\"name\":}]}");
    CHECK(strncmp(why, "not valid JSON (line 2, column ", 31) == 0);
    why = parse_error("{\"functions\":[{\"name\":\"a\",\"name\":\"b\"}]}");
    CHECK(strncmp(why, "not valid JSON", 14) == 0);
}

TEST(environment_rules)
{
    CHECK_STR(
        parse_error("{\"functions\":[{\"name\":\"a\",\"environment\":{\"AWS_REGION\":\"x\"}}]}"),
        "functions[0].environment: AWS_REGION is reserved by Lambda and cannot be set");
    CHECK_STR(
        parse_error("{\"functions\":[{\"name\":\"a\",\"environment\":{\"_HANDLER\":\"x\"}}]}"),
        "functions[0].environment: \"_HANDLER\" is not a valid variable name");
    CHECK_STR(parse_error("{\"functions\":[{\"name\":\"a\",\"environment\":{\"A\":1}}]}"),
              "functions[0].environment: \"A\" is not a valid variable name");
    CHECK_STR(parse_error("{\"functions\":[{\"name\":\"a\",\"environment\":{\"AB\":1}}]}"),
              "functions[0].environment: AB must be a string without NUL characters");
    CHECK(lambda_env_name_is_reserved("AWS_LAMBDA_RUNTIME_API"));
    CHECK(lambda_env_name_is_reserved("AWS_SESSION_TOKEN"));
    CHECK(!lambda_env_name_is_reserved("PATH"));
    CHECK(!lambda_env_name_is_reserved("TZ"));
    /* AWS's 4 KB limit on all variables together. */
    char json[6000];
    char big[4200];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(json, sizeof(json),
             "{\"functions\":[{\"name\":\"a\",\"environment\":{\"BIG\":\"%s\"}}]}", big);
    CHECK_STR(parse_error(json),
              "functions[0].environment: larger than 4096 bytes in all (AWS's limit)");
}

static char **build_env(struct lambda_config *c, const char *inherited_akid)
{
    struct lambda_environment_input in = {
        .config = c,
        .function = &c->functions[0],
        .sandbox_id = "0123456789abcdef0123456789abcdef",
        .runtime_api = "127.0.0.1:4567",
        .now = 1583348638, /* 2020-03-04 */
        .inherited_path = "/usr/bin:/bin",
        .inherited_access_key_id = inherited_akid,
        .inherited_secret_access_key = inherited_akid ? "inherited-secret" : NULL,
        .inherited_session_token = inherited_akid ? "inherited-token" : NULL,
    };
    char **env = NULL;
    CHECK_INT(lambda_environment_build(&in, &env), 0);
    return env;
}

TEST(environment_has_every_lambda_variable)
{
    struct lambda_config *c = parse("{\"functions\":[{\"name\":\"fn\",\"handler\":\"app.handler\","
                                    "\"runtime\":\"nodejs20.x\",\"memory\":256}]}");
    CHECK(c != NULL);
    if (!c)
        return;
    char **env = build_env(c, "AKIA-INHERITED");
    CHECK_STR(lambda_environment_get(env, "_HANDLER"), "app.handler");
    CHECK_STR(lambda_environment_get(env, "AWS_REGION"), "us-east-1");
    CHECK_STR(lambda_environment_get(env, "AWS_DEFAULT_REGION"), "us-east-1");
    CHECK_STR(lambda_environment_get(env, "AWS_EXECUTION_ENV"), "AWS_Lambda_nodejs20.x");
    CHECK_STR(lambda_environment_get(env, "AWS_LAMBDA_FUNCTION_NAME"), "fn");
    CHECK_STR(lambda_environment_get(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), "256");
    CHECK_STR(lambda_environment_get(env, "AWS_LAMBDA_FUNCTION_VERSION"), "$LATEST");
    CHECK_STR(lambda_environment_get(env, "AWS_LAMBDA_INITIALIZATION_TYPE"), "on-demand");
    CHECK_STR(lambda_environment_get(env, "AWS_LAMBDA_LOG_GROUP_NAME"), "/aws/lambda/fn");
    CHECK_STR(lambda_environment_get(env, "AWS_LAMBDA_LOG_STREAM_NAME"),
              "2020/03/04/[$LATEST]0123456789abcdef0123456789abcdef");
    CHECK_STR(lambda_environment_get(env, "AWS_LAMBDA_RUNTIME_API"), "127.0.0.1:4567");
    CHECK_STR(lambda_environment_get(env, "LAMBDA_TASK_ROOT"), "/srv/app");
    CHECK_STR(lambda_environment_get(env, "LAMBDA_RUNTIME_DIR"), "/srv/app");
    CHECK_STR(lambda_environment_get(env, "TZ"), ":UTC");
    CHECK_STR(lambda_environment_get(env, "LANG"), "en_US.UTF-8");
    CHECK_STR(lambda_environment_get(env, "PATH"), "/usr/bin:/bin");
    CHECK_STR(lambda_environment_get(env, "AWS_ACCESS_KEY_ID"), "AKIA-INHERITED");
    CHECK_STR(lambda_environment_get(env, "AWS_SECRET_ACCESS_KEY"), "inherited-secret");
    CHECK_STR(lambda_environment_get(env, "AWS_SESSION_TOKEN"), "inherited-token");
    CHECK(lambda_environment_get(env, "HOME") == NULL);
    lambda_environment_free(env);
    lambda_config_free(c);
}

TEST(environment_precedence)
{
    struct lambda_config *c =
        parse("{\"credentials\":{\"access_key_id\":\"CFG\",\"secret_access_key\":\"cfg-secret\"},"
              "\"functions\":[{\"name\":\"fn\",\"environment\":{\"PATH\":\"/mine\",\"TZ\":\"Europe/"
              "Paris\",\"STAGE\":\"dev\"}}]}");
    CHECK(c != NULL);
    if (!c)
        return;
    char **env = build_env(c, "AKIA-INHERITED");
    /* The configuration's credentials win, and no inherited token leaks in. */
    CHECK_STR(lambda_environment_get(env, "AWS_ACCESS_KEY_ID"), "CFG");
    CHECK_STR(lambda_environment_get(env, "AWS_SECRET_ACCESS_KEY"), "cfg-secret");
    CHECK(lambda_environment_get(env, "AWS_SESSION_TOKEN") == NULL);
    /* The function's own variables come last. */
    CHECK_STR(lambda_environment_get(env, "PATH"), "/mine");
    CHECK_STR(lambda_environment_get(env, "TZ"), "Europe/Paris");
    CHECK_STR(lambda_environment_get(env, "STAGE"), "dev");
    CHECK_STR(lambda_environment_get(env, "AWS_EXECUTION_ENV"), "AWS_Lambda_provided.al2023");
    size_t paths = 0;
    for (char **p = env; *p; p++)
        paths += strncmp(*p, "PATH=", 5) == 0;
    CHECK_INT(paths, 1);
    lambda_environment_free(env);
    /* No credentials anywhere: none are set. */
    lambda_config_free(c);
    c = parse("{\"functions\":[{\"name\":\"fn\"}]}");
    env = build_env(c, NULL);
    CHECK(lambda_environment_get(env, "AWS_ACCESS_KEY_ID") == NULL);
    lambda_environment_free(env);
    lambda_config_free(c);
}

TEST(load_checks_files)
{
    struct lambda_config *c = NULL;
    CHECK_INT(lambda_config_load("/nonexistent/tether.json", &c, cause, sizeof(cause)), -ENOENT);
    CHECK(strstr(cause, "cannot open /nonexistent/tether.json") != NULL);
    char dir[] = "/tmp/tether-lambda-config-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof(path), "%s/c.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"functions\":[{\"name\":\"a\",\"working_dir\":\"missing\"}]}", f);
    fclose(f);
    CHECK(lambda_config_load(path, &c, cause, sizeof(cause)) < 0);
    CHECK(strstr(cause, "functions[0].working_dir:") != NULL);
    f = fopen(path, "w");
    fputs("{\"functions\":[{\"name\":\"a\"}]}", f);
    fclose(f);
    CHECK_INT(lambda_config_load(path, &c, cause, sizeof(cause)), 0);
    if (c)
        CHECK_STR(c->functions[0].working_dir, dir);
    lambda_config_free(c);
    remove(path);
    rmdir(dir);
}

/* The C builder gives what the same JSON gives (tether dev uses it). */
TEST(built_equals_parsed)
{
    struct lambda_config *json =
        parse("{\"idle_timeout\":3600,\"functions\":[{\"name\":\"Api\",\"runtime\":\"nodejs20.x\","
              "\"handler\":\"src/api.handler\",\"bootstrap\":[\"node\",\"/r/index.mjs\"],"
              "\"working_dir\":\"/srv/app\",\"environment\":{\"STAGE\":\"dev\",\"NN\":\"1\"},"
              "\"timeout\":20,\"memory\":1024,\"concurrency\":1000,\"streaming\":true}]}");
    CHECK(json != NULL);
    struct lambda_config *c = lambda_config_new();
    struct lambda_function_config *f = NULL;
    c->idle_timeout_s = 3600;
    CHECK_INT(lambda_config_add_function(c, "Api", "/srv/app", &f, cause, sizeof(cause)), 0);
    CHECK_INT(lambda_function_set_runtime(f, "nodejs20.x"), 0);
    CHECK_INT(lambda_function_set_handler(f, "src/api.handler"), 0);
    CHECK_INT(lambda_function_add_arg(f, "node"), 0);
    CHECK_INT(lambda_function_add_arg(f, "/r/index.mjs"), 0);
    CHECK_INT(lambda_function_set_env(f, "STAGE", "test", cause, sizeof(cause)), 0);
    CHECK_INT(lambda_function_set_env(f, "NN", "1", cause, sizeof(cause)), 0);
    CHECK_INT(lambda_function_set_env(f, "STAGE", "dev", cause, sizeof(cause)), 0); /* replaces */
    f->timeout_s = 20;
    f->memory_mb = 1024;
    f->concurrency = 1000;
    f->streaming = 1;
    CHECK_INT(lambda_config_check(c, cause, sizeof(cause)), 0);
    const struct lambda_function_config *a = &json->functions[0], *b = &c->functions[0];
    CHECK_STR(c->region, json->region);
    CHECK_STR(c->account_id, json->account_id);
    CHECK_INT(c->idle_timeout_s, json->idle_timeout_s);
    CHECK_INT(c->init_timeout_s, json->init_timeout_s);
    CHECK_STR(b->name, a->name);
    CHECK_STR(b->runtime, a->runtime);
    CHECK_STR(b->handler, a->handler);
    CHECK_STR(b->working_dir, a->working_dir);
    CHECK_INT(b->bootstrap_count, a->bootstrap_count);
    CHECK_STR(b->bootstrap[1], a->bootstrap[1]);
    CHECK(b->bootstrap[2] == NULL);
    CHECK_INT(b->environment_count, a->environment_count);
    CHECK_STR(b->environment[0].name, a->environment[0].name);
    CHECK_STR(b->environment[0].value, a->environment[0].value);
    CHECK_INT(b->timeout_s, a->timeout_s);
    CHECK_INT(b->memory_mb, a->memory_mb);
    CHECK_INT(b->concurrency, a->concurrency);
    CHECK_INT(b->queue, a->queue);
    CHECK_INT(b->async_queue, a->async_queue);
    CHECK_INT(b->streaming, a->streaming);
    CHECK_INT(b->url, a->url);
    CHECK_INT(b->url_port, a->url_port);
    lambda_config_free(json);
    lambda_config_free(c);
}

TEST(builder_checks_like_the_parser)
{
    struct lambda_config *c = lambda_config_new();
    struct lambda_function_config *f = NULL;
    CHECK_INT(lambda_config_check(c, cause, sizeof(cause)), -EINVAL); /* no functions */
    CHECK_INT(lambda_config_add_function(c, "bad name", "/x", &f, cause, sizeof(cause)), -EINVAL);
    CHECK_INT(lambda_config_add_function(c, "Fn", "relative", &f, cause, sizeof(cause)), -EINVAL);
    CHECK_INT(lambda_config_add_function(c, "Fn", "/x", &f, cause, sizeof(cause)), 0);
    CHECK_INT(lambda_config_add_function(c, "Fn", "/y", &f, cause, sizeof(cause)), -EINVAL);
    CHECK_INT(lambda_config_check(c, cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "bootstrap") != NULL);
    f = &c->functions[0];
    CHECK_INT(lambda_function_add_arg(f, "/x/bootstrap"), 0);
    CHECK_INT(lambda_config_check(c, cause, sizeof(cause)), 0);
    f->timeout_s = 901;
    CHECK_INT(lambda_config_check(c, cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "timeout") != NULL);
    f->timeout_s = 3;
    CHECK_INT(lambda_function_set_env(f, "AWS_REGION", "x", cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "reserved") != NULL);
    CHECK_INT(lambda_function_set_env(f, "1X", "x", cause, sizeof(cause)), -EINVAL);
    char big[LAMBDA_MAX_ENV_BYTES];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_INT(lambda_function_set_env(f, "BIG", big, cause, sizeof(cause)), -EINVAL);
    lambda_config_free(c);
}

/* A deployed function's layers (its /opt folder) are found where Lambda's
 * runtimes look; the function's own variables still win. */
TEST(environment_for_layers)
{
    struct lambda_config *c =
        parse("{\"functions\":[{\"name\":\"fn\",\"runtime\":\"nodejs20.x\"},"
              "{\"name\":\"py\",\"environment\":{\"PYTHONPATH\":\"/mine\"}}]}");
    CHECK(c != NULL);
    if (!c)
        return;
    char **env = build_env(c, NULL);
    CHECK(lambda_environment_get(env, "NODE_PATH") == NULL);
    CHECK(lambda_environment_get(env, "LD_LIBRARY_PATH") == NULL);
    lambda_environment_free(env);
    CHECK_INT(lambda_function_set_opt_dir(&c->functions[0], "/x/opt"), 0);
    env = build_env(c, NULL);
    CHECK_STR(lambda_environment_get(env, "PATH"), "/usr/bin:/bin:/x/opt/bin");
    CHECK_STR(lambda_environment_get(env, "LD_LIBRARY_PATH"), "/x/opt/lib");
    CHECK_STR(lambda_environment_get(env, "NODE_PATH"),
              "/x/opt/nodejs/node20/node_modules:/x/opt/nodejs/node_modules");
    CHECK_STR(lambda_environment_get(env, "PYTHONPATH"), "/x/opt/python");
    lambda_environment_free(env);
    struct lambda_function_config saved = c->functions[0];
    c->functions[0] = c->functions[1];
    CHECK_INT(lambda_function_set_opt_dir(&c->functions[0], "/y"), 0);
    env = build_env(c, NULL);
    CHECK_STR(lambda_environment_get(env, "PYTHONPATH"), "/mine");
    CHECK_STR(lambda_environment_get(env, "NODE_PATH"), "/y/nodejs/node_modules");
    lambda_environment_free(env);
    c->functions[1] = c->functions[0];
    c->functions[0] = saved;
    lambda_config_free(c);
}

RUN_TESTS("test_lambda_config", TEST_ENTRY(defaults_are_lambdas), TEST_ENTRY(full_function),
          TEST_ENTRY(bootstrap_string_and_absolute_dir), TEST_ENTRY(errors_name_the_field),
          TEST_ENTRY(invalid_json_says_where), TEST_ENTRY(environment_rules),
          TEST_ENTRY(environment_has_every_lambda_variable), TEST_ENTRY(environment_precedence),
          TEST_ENTRY(load_checks_files), TEST_ENTRY(built_equals_parsed),
          TEST_ENTRY(builder_checks_like_the_parser), TEST_ENTRY(environment_for_layers))
