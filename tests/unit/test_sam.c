/* dev/sam.c, dev/sam_yaml.c and dev/sam_config.c: SAM templates (AWS's
 * samples under tests/data/sam/ and tether's own edge cases) mapped to
 * tether.json's functions, the reader's caps, and samconfig.toml. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "dev/sam.h"
#include "dev/sam_yaml.h"
#include "test.h"

/* tests/data/sam/NAME, found from the test binary under <repository>/build/. */

/* root + "/" + handler: where the handler's module is in the project. */
static const char *full_handler(const struct sam_function *f)
{
    static char path[512];
    if (!f || !f->handler)
        return NULL;
    snprintf(path, sizeof(path), "%s%s%s", f->root ? f->root : "", f->root ? "/" : "", f->handler);
    return path;
}

static void data_path(const char *name, char *out, size_t len)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *build = strstr(exe, "/build/");
    if (build)
        *build = '\0';
    snprintf(out, len, "%s/tests/data/sam/%s", build ? exe : ".", name);
}

static int load(const char *name, const struct sam_context *context, struct sam_template *t,
                char *cause, size_t cause_len)
{
    char path[4200];
    data_path(name, path, sizeof(path));
    return sam_template_load(path, context, t, cause, cause_len);
}

static int parse(const char *text, struct sam_template *t, char *cause, size_t cause_len)
{
    return sam_template_parse(text, strlen(text), NULL, t, cause, cause_len);
}

static const struct sam_function *function(const struct sam_template *t, const char *id)
{
    for (size_t i = 0; i < t->function_count; i++)
        if (strcmp(t->functions[i].id, id) == 0)
            return &t->functions[i];
    return NULL;
}

static const char *env(const struct sam_function *f, const char *name)
{
    for (size_t i = 0; f && i < f->environment_count; i++)
        if (strcmp(f->environment[i].name, name) == 0)
            return f->environment[i].value;
    return NULL;
}

/* Whether some note holds every one of the fragments. */
static int has_note(const struct sam_template *t, const char *a, const char *b)
{
    for (size_t i = 0; i < t->note_count; i++)
        if (strstr(t->notes[i], a) && (!b || strstr(t->notes[i], b)))
            return 1;
    return 0;
}

TEST(node_sample)
{
    struct sam_template t;
    char cause[256] = "";
    CHECK_INT(load("node-hello/template.yaml", NULL, &t, cause, sizeof(cause)), 0);
    CHECK_INT(t.function_count, 1);
    const struct sam_function *f = function(&t, "HelloWorldFunction");
    CHECK(f != NULL);
    if (f) {
        CHECK_STR(f->runtime, "nodejs20.x");
        CHECK_STR(f->root, "hello-world");
        CHECK_STR(f->handler, "app.lambdaHandler");
        CHECK_INT(f->timeout_s, 3); /* from Globals */
        CHECK_INT(f->memory_mb, 0);
        CHECK_INT(f->environment_count, 0);
        CHECK_INT(f->url, 0);
        CHECK(f->bootstrap == NULL && f->build == NULL);
    }
    CHECK(has_note(&t, "HelloWorldFunction: event HelloWorld (Api get /hello)", "tether invoke"));
    CHECK_INT(t.note_count, 1);
    sam_template_free(&t);
}

TEST(python_sample)
{
    struct sam_template t;
    char cause[256] = "";
    CHECK_INT(load("python-hello/template.yaml", NULL, &t, cause, sizeof(cause)), 0);
    CHECK_INT(t.function_count, 1);
    const struct sam_function *f = function(&t, "HelloWorldFunction");
    CHECK(f && strcmp(f->runtime, "python3.13") == 0);
    CHECK(f && strcmp(full_handler(f), "hello_world/app.lambda_handler") == 0 &&
          strcmp(f->root, "hello_world") == 0 && strcmp(f->handler, "app.lambda_handler") == 0);
    sam_template_free(&t);
}

TEST(typescript_sample_and_entry_points)
{
    struct sam_template t;
    char cause[256] = "";
    CHECK_INT(load("ts-hello/template.yaml", NULL, &t, cause, sizeof(cause)), 0);
    const struct sam_function *f = function(&t, "HelloWorldFunction");
    CHECK(f && strcmp(full_handler(f), "hello-world/app.lambdaHandler") == 0);
    CHECK(f && strcmp(f->runtime, "nodejs22.x") == 0);
    sam_template_free(&t);

    /* The entry point whose name matches the handler's module, in its own
     * directory; else the first one. */
    const char *text =
        "Resources:\n"
        "  Ts:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: fn, Handler: other.handler, Runtime: nodejs22.x}\n"
        "    Metadata:\n"
        "      BuildMethod: esbuild\n"
        "      BuildProperties: {EntryPoints: [src/index.ts, src/other.mts]}\n"
        "  First:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: fn, Handler: app.handler, Runtime: nodejs22.x}\n"
        "    Metadata:\n"
        "      BuildMethod: esbuild\n"
        "      BuildProperties: {EntryPoints: [lib/main.ts]}\n";
    CHECK_INT(parse(text, &t, cause, sizeof(cause)), 0);
    CHECK_STR(full_handler(function(&t, "Ts")), "fn/src/other.handler");
    CHECK_STR(full_handler(function(&t, "First")), "fn/lib/main.handler");
    sam_template_free(&t);
}

static void check_edge_api(const struct sam_template *t, int region_known)
{
    const struct sam_function *f = function(t, "Api");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_STR(full_handler(f), "src/handlers/api.handler"); /* Globals' CodeUri */
    CHECK_STR(f->runtime, "nodejs20.x");
    CHECK_INT(f->timeout_s, 10);
    CHECK_INT(f->memory_mb, 256); /* !FindInMap over !Ref Stage beats Globals' 512 */
    CHECK_INT(f->url, 1);
    CHECK_INT(f->streaming, 1);
    /* Globals first, the resource's values win. */
    CHECK_STR(f->environment[0].name, "SHARED");
    CHECK_STR(env(f, "SHARED"), "from-globals");
    CHECK_STR(env(f, "OVERRIDDEN"), "from-resource");
    CHECK_STR(env(f, "LOG_LEVEL"), "dev");
    CHECK_STR(env(f, "GREETING"), "hello-dev");
    CHECK_STR(env(f, "STACK"), "edge-stack");
    CHECK_STR(env(f, "JOINED"), "a-dev-c");
    CHECK_STR(env(f, "PICKED"), "y");
    CHECK_STR(env(f, "LITERAL_SUB"), "${NotAVar}");
    CHECK_STR(env(f, "VARS_SUB"), "dev-dev");
    CHECK_STR(env(f, "NUMBER"), "42");
    CHECK_STR(env(f, "FLAG"), "true");
    if (region_known)
        CHECK_STR(env(f, "REGION_NAME"), "us-east-1-x");
    else
        CHECK(env(f, "REGION_NAME") == NULL &&
              has_note(t, "Api: environment variable REGION_NAME is left out",
                       "AWS::Region is known only in AWS"));
    CHECK(env(f, "TABLE") == NULL && has_note(t, "variable TABLE is left out", "Table"));
    CHECK(env(f, "TABLE_ARN") == NULL && has_note(t, "variable TABLE_ARN is left out", "GetAtt"));
    CHECK(env(f, "NO_DEFAULT") == NULL && has_note(t, "NO_DEFAULT", "TableName has no Default"));
    CHECK(env(f, "CHOSEN") == NULL && has_note(t, "variable CHOSEN is left out", "Fn::If"));
    CHECK(has_note(t, "Api: event Get (HttpApi GET /items) is API Gateway", NULL));
    CHECK(has_note(t, "Api: event Queue (SQS) reaches only the deployed function", NULL));
    CHECK(has_note(t, "Api: its Layers are not there locally", NULL));
}

TEST(edge_template)
{
    struct sam_template t;
    char cause[256] = "";
    struct sam_context context = {.region = "us-east-1", .stack_name = "edge-stack"};
    for (int known = 0; known < 2; known++) {
        context.region = known ? "us-east-1" : NULL;
        CHECK_INT(load("edge/template.yaml", &context, &t, cause, sizeof(cause)), 0);
        CHECK_INT(t.function_count, 5);
        check_edge_api(&t, known);
        sam_template_free(&t);
    }
    CHECK_INT(load("edge/template.yaml", &context, &t, cause, sizeof(cause)), 0);
    /* The resource's scalars win over Globals; its maps merge. */
    const struct sam_function *w = function(&t, "Worker");
    CHECK(w && strcmp(full_handler(w), "workers/jobs.worker.main") == 0);
    CHECK(w && strcmp(w->runtime, "python3.12") == 0);
    CHECK(w && w->timeout_s == 0 && w->memory_mb == 512);
    CHECK_STR(env(w, "OVERRIDDEN"), "from-globals");
    CHECK(has_note(&t, "Worker: Timeout 2000 is left out", "1 to 900"));
    /* provided: SAM's Go and make builds become "build" commands. */
    const struct sam_function *go = function(&t, "GoApi");
    CHECK(go && strcmp(go->bootstrap, ".aws-sam/tether/GoApi/bootstrap") == 0);
    CHECK(go && strcmp(go->handler, "bootstrap") == 0);
    CHECK(go && go->build &&
          strstr(go->build, "cd go-api && go build -tags lambda.norpc -o "
                            "\"$out/bootstrap\" ."));
    const struct sam_function *mk = function(&t, "MakeFn");
    CHECK(mk && mk->build &&
          strstr(mk->build, "make -C native build-MakeFn ARTIFACTS_DIR=\"$out\""));
    CHECK(mk && strcmp(mk->bootstrap, ".aws-sam/tether/MakeFn/bootstrap") == 0);
    /* A plain AWS::Lambda::Function with a local Code path, its URL from an
     * AWS::Lambda::Url resource; Globals do not apply to it. */
    const struct sam_function *plain = function(&t, "Plain");
    CHECK(plain && strcmp(full_handler(plain), "plain/index.handler") == 0);
    CHECK(plain && plain->url == 1 && plain->streaming == 0 && plain->timeout_s == 0);
    CHECK(plain && plain->environment_count == 0);
    CHECK(has_note(&t, "Image: skipped: a container image function", NULL));
    CHECK(has_note(&t, "Inline: skipped: its code is inline", NULL));
    CHECK(has_note(&t, "Old: skipped: runtime \"nodejs12.x\" is not supported", NULL));
    CHECK(
        has_note(&t, "Escape: skipped: CodeUri ../outside is not a path inside the project", NULL));
    CHECK(function(&t, "Image") == NULL && function(&t, "Table") == NULL);
    sam_template_free(&t);
}

TEST(json_template)
{
    struct sam_template t;
    char cause[256] = "";
    CHECK_INT(load("template.json", NULL, &t, cause, sizeof(cause)), 0);
    const struct sam_function *f = function(&t, "JsonFn");
    CHECK(f && strcmp(full_handler(f), "fn/index.handler") == 0 && f->timeout_s == 30 && f->url);
    CHECK_STR(env(f, "GREETING"), "hi!");
    CHECK(env(f, "ARN") == NULL && has_note(&t, "variable ARN is left out", NULL));
    sam_template_free(&t);
}

/* The functions object's keys come in one order and hold what was mapped. */
TEST(functions_json)
{
    struct sam_template t;
    char cause[256] = "";
    const char *text = "Resources:\n"
                       "  B:\n"
                       "    Type: AWS::Serverless::Function\n"
                       "    Properties:\n"
                       "      FunctionUrlConfig: {AuthType: NONE, InvokeMode: RESPONSE_STREAM}\n"
                       "      Environment: {Variables: {Z: z, A: a}}\n"
                       "      MemorySize: 2048\n"
                       "      Timeout: 5\n"
                       "      Runtime: nodejs22.x\n"
                       "      Handler: b.handler\n"
                       "  A:\n"
                       "    Type: AWS::Serverless::Function\n"
                       "    Properties: {Handler: x, Runtime: provided.al2023}\n";
    CHECK_INT(parse(text, &t, cause, sizeof(cause)), 0);
    json_t *j = sam_functions_json(&t);
    char *dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
    CHECK_STR(dump, "{\"B\":{\"handler\":\"b.handler\",\"runtime\":\"nodejs22.x\",\"timeout\":5,"
                    "\"memory\":2048,\"environment\":{\"Z\":\"z\",\"A\":\"a\"},\"url\":true,"
                    "\"streaming\":true},\"A\":{\"handler\":\"x\",\"runtime\":\"provided.al2023\","
                    "\"bootstrap\":\"bootstrap\"}}");
    free(dump);
    json_decref(j);
    sam_template_free(&t);
}

/* Anchors and aliases that a real template uses are read. */
TEST(aliases_shared)
{
    struct sam_template t;
    char cause[256] = "";
    const char *text = "Resources:\n"
                       "  A:\n"
                       "    Type: AWS::Serverless::Function\n"
                       "    Properties: &props\n"
                       "      CodeUri: a/\n"
                       "      Handler: app.handler\n"
                       "      Runtime: !Sub nodejs${Version}.x\n"
                       "  B:\n"
                       "    Type: AWS::Serverless::Function\n"
                       "    Properties: *props\n"
                       "Parameters: {Version: {Type: String, Default: '22'}}\n";
    CHECK_INT(parse(text, &t, cause, sizeof(cause)), 0);
    CHECK_INT(t.function_count, 2);
    CHECK_STR(full_handler(function(&t, "B")), "a/app.handler");
    CHECK_STR(function(&t, "B") ? function(&t, "B")->runtime : NULL, "nodejs22.x");
    sam_template_free(&t);
}

static void check_refused(const char *text, size_t len, const char *fragment)
{
    struct sam_template t;
    char cause[256] = "";
    int rc = sam_template_parse(text, len, NULL, &t, cause, sizeof(cause));
    CHECK_INT(rc, -EINVAL);
    if (!strstr(cause, fragment))
        fprintf(stderr, "  cause \"%s\" lacks \"%s\"\n", cause, fragment);
    CHECK(strstr(cause, fragment) != NULL);
    CHECK(t.functions == NULL && t.function_count == 0 && t.note_count == 0);
}

static void check_file_refused(const char *name, const char *fragment)
{
    char path[4200];
    struct buf text = BUF_INIT;
    data_path(name, path, sizeof(path));
    CHECK_INT(buf_read_file(&text, path, SAM_MAX_BYTES), 0);
    check_refused(buf_bytes(&text), buf_length(&text), fragment);
    buf_free(&text);
}

TEST(caps_and_bombs)
{
    check_file_refused("alias-bomb.yaml", "aliases repeat more than 200000 nodes");
    check_file_refused("deep.yaml", "nested more than 64 levels deep");
    size_t big = SAM_MAX_BYTES + 1;
    char *text = malloc(big);
    memset(text, '#', big);
    check_refused(text, big, "larger than 1048576 bytes");
    free(text);
    /* A great many nodes without any alias. */
    struct buf many = BUF_INIT;
    buf_append_str(&many, "Resources: {}\nX: [");
    for (int i = 0; i < SAM_MAX_NODES; i++)
        buf_append_str(&many, "1,");
    buf_append_str(&many, "1]\n");
    check_refused(buf_bytes(&many), buf_length(&many), "more than 200000 nodes");
    buf_free(&many);
    /* Anchors beyond the cap. */
    struct buf anchors = BUF_INIT;
    buf_append_str(&anchors, "Resources: {}\nX: [");
    for (int i = 0; i <= SAM_MAX_ANCHORS; i++)
        buf_printf(&anchors, "&a%d 1,", i);
    buf_append_str(&anchors, "1]\n");
    check_refused(buf_bytes(&anchors), buf_length(&anchors), "more than 1000 anchors");
    buf_free(&anchors);
}

TEST(malformed)
{
    const char *cases[][2] = {
        {"Resources: {}\n---\nResources: {}\n", "more than one YAML document"},
        {"Resources: {A: \"x\\0y\"}\n", "NUL character"},
        {"Resources: {[a]: b}\n", "a mapping key that is not a plain value"},
        {"Resources: *nothing\n", "names no anchor"},
        {"A: &a [*a]\nResources: {}\n", "names no anchor"},
        {"- a\n- b\n", "not a mapping of sections"},
        {"Resources: [a\n", "line "},
        {"Description: x\n", "no Resources section"},
        {"Resources: [a, b]\n", "no Resources section"},
        {"", "not a mapping of sections"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_refused(cases[i][0], strlen(cases[i][0]), cases[i][1]);
}

TEST(paths_ids_and_runtimes)
{
    struct sam_template t;
    char cause[256] = "";
    const char *text =
        "Resources:\n"
        "  Abs: {Type: AWS::Serverless::Function, Properties: {CodeUri: /etc, Handler: a.b, "
        "Runtime: nodejs20.x}}\n"
        "  Up: {Type: AWS::Serverless::Function, Properties: {CodeUri: a/../../b, Handler: a.b, "
        "Runtime: nodejs20.x}}\n"
        "  UpHandler: {Type: AWS::Serverless::Function, Properties: {Handler: ../x.b, "
        "Runtime: nodejs20.x}}\n"
        "  Zip: {Type: AWS::Serverless::Function, Properties: {CodeUri: build/fn.zip, Handler: "
        "a.b, Runtime: nodejs20.x}}\n"
        "  S3: {Type: AWS::Serverless::Function, Properties: {CodeUri: {Bucket: b, Key: k}, "
        "Handler: a.b, Runtime: nodejs20.x}}\n"
        "  NoDot: {Type: AWS::Serverless::Function, Properties: {Handler: handler, "
        "Runtime: python3.12}}\n"
        "  Java: {Type: AWS::Serverless::Function, Properties: {Handler: a.b, Runtime: java21}}\n"
        "  Newer: {Type: AWS::Serverless::Function, Properties: {Handler: a.b, "
        "Runtime: nodejs98.x}}\n"
        "  AVeryLongLogicalIdThatIsLongerThanFiftyCharactersXYZ: {Type: "
        "AWS::Serverless::Function, Properties: {Handler: a.b, Runtime: nodejs20.x}}\n"
        "  Dot: {Type: AWS::Serverless::Function, Properties: {CodeUri: ./, Handler: a.b, "
        "Runtime: nodejs20.x}}\n"
        "  Dot: {Type: AWS::Serverless::Function, Properties: {CodeUri: other, Handler: a.b, "
        "Runtime: nodejs20.x}}\n";
    CHECK_INT(parse(text, &t, cause, sizeof(cause)), 0);
    CHECK_INT(t.function_count, 2);
    CHECK_STR(function(&t, "Dot") ? function(&t, "Dot")->handler : NULL, "a.b");
    CHECK_STR(function(&t, "Newer") ? function(&t, "Newer")->runtime : NULL, "nodejs98.x");
    CHECK(has_note(&t, "Newer: runtime \"nodejs98.x\" is newer", NULL));
    CHECK(has_note(&t, "Abs: skipped: CodeUri /etc is not a path inside the project", NULL));
    CHECK(has_note(&t, "Up: skipped: CodeUri a/../../b is not a path inside the project", NULL));
    CHECK(
        has_note(&t, "UpHandler: skipped: Handler ../x.b is not a path inside the project", NULL));
    CHECK(has_note(&t, "Zip: skipped: CodeUri build/fn.zip is a packaged archive", NULL));
    CHECK(has_note(&t, "S3: skipped: CodeUri is not a local directory", NULL));
    CHECK(has_note(&t, "NoDot: skipped: Handler handler is not module.function", NULL));
    CHECK(has_note(&t, "Java: skipped: runtime \"java21\" is not supported", NULL));
    CHECK(has_note(&t, "AVeryLongLogicalId", "a function id must be 1-50 letters or digits"));
    CHECK(has_note(&t, "Dot: skipped: the template declares it more than once", NULL));
    sam_template_free(&t);

    /* What is printed never carries the template's control characters. */
    const char *escapes =
        "Resources:\n"
        "  Esc: {Type: AWS::Serverless::Function, Properties: {Handler: "
        "\"a.\\e[31m\", Runtime: nodejs20.x}}\n"
        "  Esc2: {Type: AWS::Serverless::Function, Properties: {CodeUri: "
        "\"x\\ny\", Handler: a.b, Runtime: nodejs20.x, Environment: {Variables: "
        "{\"\\e]0;x\": 1}}}}\n"
        "  Esc3: {Type: AWS::Serverless::Function, Properties: {Handler: a.b, "
        "Runtime: nodejs20.x, Environment: {Variables: {\"A\\e\": !GetAtt X.Y}}}}\n";
    CHECK_INT(parse(escapes, &t, cause, sizeof(cause)), 0);
    CHECK_INT(t.function_count, 1);
    CHECK(has_note(&t, "Esc: skipped: its Handler holds control characters", NULL));
    CHECK(has_note(&t, "Esc2: skipped: CodeUri x?y is not a path inside the project", NULL));
    CHECK(has_note(&t, "Esc3: environment variable A? is left out", NULL));
    for (size_t i = 0; i < t.note_count; i++)
        for (const char *c = t.notes[i]; *c; c++)
            CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
    sam_template_free(&t);
}

TEST(samconfig)
{
    char path[4200], value[129];
    struct buf text = BUF_INIT;
    data_path("python-hello/samconfig.toml", path, sizeof(path));
    CHECK_INT(buf_read_file(&text, path, 65536), 0);
    const char *s = buf_bytes(&text);
    size_t n = buf_length(&text);
    /* Not the line inside parameter_overrides' multi-line string. */
    CHECK_INT(
        sam_config_string(s, n, "default.deploy.parameters", "stack_name", value, sizeof(value)),
        0);
    CHECK_STR(value, "sam-app-py");
    CHECK_INT(sam_config_string(s, n, "default.deploy.parameters", "region", value, sizeof(value)),
              0);
    CHECK_STR(value, "eu-west-1");
    CHECK_INT(sam_config_string(s, n, "prod.deploy.parameters", "stack_name", value, sizeof(value)),
              0);
    CHECK_STR(value, "sam-app-prod");
    CHECK_INT(
        sam_config_string(s, n, "default.global.parameters", "stack_name", value, sizeof(value)),
        0);
    CHECK_STR(value, "sam-app-global");
    CHECK_INT(sam_config_string(s, n, "not.a.table", "stack_name", value, sizeof(value)), -ENOENT);
    CHECK_INT(sam_config_string(s, n, "default.deploy.parameters", "profile", value, sizeof(value)),
              -ENOENT);
    /* A value that is not a string, or too long, is refused. */
    CHECK_INT(sam_config_string(s, n, "default.deploy.parameters", "confirm_changeset", value,
                                sizeof(value)),
              -EINVAL);
    CHECK_INT(sam_config_string(s, n, "default.deploy.parameters", "stack_name", value, 5),
              -EINVAL);
    buf_free(&text);

    const char *spaced = "[ default . \"deploy\" . parameters ]\n"
                         "  \"stack_name\"= \"a\\u0042c\\\"\" # comment\n";
    CHECK_INT(sam_config_string(spaced, strlen(spaced), "default.deploy.parameters", "stack_name",
                                value, sizeof(value)),
              0);
    CHECK_STR(value, "aBc\"");
    const char *bad[] = {
        "[default.deploy.parameters]\nstack_name = \"a\\u00e9\"\n",
        "[default.deploy.parameters]\nstack_name = \"open\n",
        "[default.deploy.parameters]\nstack_name = \"\"\"x\"\"\"\n",
        "[default.deploy.parameters]\nstack_name = \"a\" trailing\n",
        "[default.deploy.parameters]\nstack_name = \"a\\u001b[31m\"\n",
        "[default.deploy.parameters]\nstack_name = \"a\\tb\"\n",
        "[default.deploy.parameters]\nstack_name = 'a\x1b'\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INT(sam_config_string(bad[i], strlen(bad[i]), "default.deploy.parameters",
                                    "stack_name", value, sizeof(value)),
                  -EINVAL);
    const char *array_table = "[[default.deploy.parameters]]\nstack_name = \"x\"\n";
    CHECK_INT(sam_config_string(array_table, strlen(array_table), "default.deploy.parameters",
                                "stack_name", value, sizeof(value)),
              -ENOENT);
}

RUN_TESTS("sam", TEST_ENTRY(node_sample), TEST_ENTRY(python_sample),
          TEST_ENTRY(typescript_sample_and_entry_points), TEST_ENTRY(edge_template),
          TEST_ENTRY(json_template), TEST_ENTRY(functions_json), TEST_ENTRY(aliases_shared),
          TEST_ENTRY(caps_and_bombs), TEST_ENTRY(malformed), TEST_ENTRY(paths_ids_and_runtimes),
          TEST_ENTRY(samconfig))
