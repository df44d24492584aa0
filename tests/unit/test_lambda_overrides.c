/* The policy for what a relayed Init may put into a local worker's
 * environment (lambda/environment.h). */
#include "lambda/environment.h"

#include <string.h>

#include "test.h"

static int allowed(const char *name)
{
    return lambda_environment_override_allowed(name, strlen(name));
}

static int add(struct lambda_overrides *o, const char *line)
{
    return lambda_overrides_add(o, line, strlen(line));
}

TEST(test_function_settings_and_credentials_pass)
{
    const char *const names[] = {"GREETING",
                                 "NODE_ENV",
                                 "AWS_ACCESS_KEY_ID",
                                 "AWS_SECRET_ACCESS_KEY",
                                 "AWS_SESSION_TOKEN",
                                 "AWS_REGION",
                                 "AWS_DEFAULT_REGION",
                                 "TZ",
                                 "LANG",
                                 "_private",
                                 "a1",
                                 "DATABASE_URL",
                                 "AWS_LAMBDA_FUNCTION_NAME",
                                 "AWS_LAMBDA_FUNCTION_VERSION"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!allowed(names[i])) {
            fprintf(stderr, "  refused: %s\n", names[i]);
            CHECK(0);
        }
}

TEST(test_loaders_interpreters_and_plumbing_refused)
{
    const char *const names[] = {
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "ld_preload",
        "DYLD_INSERT_LIBRARIES",
        "NODE_OPTIONS",
        "node_options",
        "NODE_PATH",
        "NODE_EXTRA_CA_CERTS",
        "PYTHONSTARTUP",
        "PYTHONPATH",
        "PYTHONHOME",
        "BASH_ENV",
        "ENV",
        "PERL5OPT",
        "PERL5LIB",
        "PERLLIB",
        "RUBYOPT",
        "RUBYLIB",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "CLASSPATH",
        "GCONV_PATH",
        "PATH",
        "HOME",
        "SHELL",
        "IFS",
        "TMPDIR",
        "GIT_SSH_COMMAND",
        "OPENSSL_CONF",
        "GLIBC_TUNABLES",
        "npm_config_script_shell",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_LAMBDA_EXEC_WRAPPER",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "aws_lambda_function_name",
        "_HANDLER",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "AWS_EXECUTION_ENV",
        "_X_AMZN_TRACE_ID",
        "TETHER_DEV",
        "TETHER_EVENTS_API_KEY",
        "_LAMBDA_SERVER_PORT",
        "AWS_CONFIG_FILE",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (allowed(names[i])) {
            fprintf(stderr, "  allowed: %s\n", names[i]);
            CHECK(0);
        }
}

TEST(test_malformed_names_refused)
{
    CHECK(!allowed(""));
    CHECK(!allowed("1ABC"));
    CHECK(!allowed("A-B"));
    CHECK(!allowed("A B"));
    CHECK(!allowed("A.B"));
    CHECK(!allowed("\xc3\xa9T\xc3\xa9"));
    char name[LAMBDA_OVERRIDE_MAX_NAME + 2];
    memset(name, 'A', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    CHECK(!allowed(name));
    name[LAMBDA_OVERRIDE_MAX_NAME] = '\0';
    CHECK(allowed(name));
    /* Only the given bytes count: "PATHX" cut to four letters is PATH. */
    CHECK(!lambda_environment_override_allowed("PATHX", 4));
    CHECK(lambda_environment_override_allowed("PATHX", 5));
}

TEST(test_lines_filtered_and_dropped_names_reported)
{
    struct lambda_overrides o = {0};
    CHECK_INT(add(&o, "GREETING=hello"), 0);
    CHECK_INT(add(&o, "NODE_OPTIONS=--import=data:text/javascript,x"), 1);
    CHECK_INT(add(&o, "AWS_SESSION_TOKEN=tok=en"), 0);
    CHECK_INT(add(&o, "LD_PRELOAD=/tmp/x.so"), 1);
    CHECK_INT(add(&o, "no equals sign"), 1);
    CHECK_INT(add(&o, "=value"), 1);
    CHECK_INT(lambda_overrides_add(&o, "NUL=a\0b", 7), 1);
    CHECK_INT(add(&o, "EMPTY="), 0);
    CHECK_INT(lambda_overrides_set(&o, "TETHER_DEV", "true"), 0);
    CHECK_INT(o.dropped, 5);
    CHECK_STR(o.dropped_names, "NODE_OPTIONS, LD_PRELOAD, ?, ?, NUL");
    char **env = lambda_overrides_steal(&o);
    CHECK(env != NULL);
    CHECK_STR(env[0], "GREETING=hello");
    CHECK_STR(env[1], "AWS_SESSION_TOKEN=tok=en");
    CHECK_STR(env[2], "EMPTY=");
    CHECK_STR(env[3], "TETHER_DEV=true");
    CHECK(env[4] == NULL);
    CHECK_STR(lambda_environment_get(env, "AWS_SESSION_TOKEN"), "tok=en");
    lambda_environment_free(env);
    lambda_overrides_free(&o);
}

TEST(test_nothing_kept_is_an_empty_array)
{
    struct lambda_overrides o = {0};
    CHECK_INT(add(&o, "PATH=/evil"), 1);
    char **env = lambda_overrides_steal(&o);
    CHECK(env != NULL && env[0] == NULL);
    lambda_environment_free(env);
    lambda_overrides_free(&o);
}

TEST(test_count_and_byte_caps)
{
    struct lambda_overrides o = {0};
    char line[64];
    for (int i = 0; i < LAMBDA_OVERRIDE_MAX_COUNT; i++) {
        snprintf(line, sizeof(line), "V%d=x", i);
        CHECK_INT(add(&o, line), 0);
    }
    CHECK_INT(add(&o, "ONE_TOO_MANY=x"), 1);
    CHECK_INT(o.count, LAMBDA_OVERRIDE_MAX_COUNT);
    lambda_overrides_free(&o);

    static char big[LAMBDA_OVERRIDE_MAX_BYTES + 16];
    memcpy(big, "BIG=", 4);
    memset(big + 4, 'x', LAMBDA_OVERRIDE_MAX_BYTES - 4);
    CHECK_INT(lambda_overrides_add(&o, big, LAMBDA_OVERRIDE_MAX_BYTES), 0);
    CHECK_INT(add(&o, "A=b"), 1); /* the budget is spent */
    lambda_overrides_free(&o);
    memset(big + 4, 'x', LAMBDA_OVERRIDE_MAX_BYTES - 3);
    CHECK_INT(lambda_overrides_add(&o, big, LAMBDA_OVERRIDE_MAX_BYTES + 1), 1);
    CHECK_STR(o.dropped_names, "BIG");
    lambda_overrides_free(&o);
}

RUN_TESTS("lambda_overrides", TEST_ENTRY(test_function_settings_and_credentials_pass),
          TEST_ENTRY(test_loaders_interpreters_and_plumbing_refused),
          TEST_ENTRY(test_malformed_names_refused),
          TEST_ENTRY(test_lines_filtered_and_dropped_names_reported),
          TEST_ENTRY(test_nothing_kept_is_an_empty_array), TEST_ENTRY(test_count_and_byte_caps))
