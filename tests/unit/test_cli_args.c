/* The table-driven option parser of the commands (src/cli/args.c). The cli
 * objects are not in libtether.a, so the parser is compiled in here. */
#include <errno.h>
#include <string.h>

#include "../../src/cli/args.c"
#include "test.h"

struct opts {
    const char *name;
    uint64_t count;
    uint64_t inspect;
    int json;
    struct hostport listen;
    const char *items[2];
    struct cli_list list;
    const char *called_with;
};

static struct opts o;
static char cause[512];
static struct cli_args args;

static int record(void *target, const char *value, char *why, size_t why_len)
{
    if (value && strcmp(value, "bad") == 0) {
        snprintf(why, why_len, "not today");
        return -EINVAL;
    }
    ((struct opts *)target)->called_with = value ? value : "(none)";
    return 0;
}

static const struct cli_option table[] = {
    {.name = "name",
     .short_name = 'n',
     .kind = CLI_ARG_STRING,
     .metavar = "NAME",
     .target = &o.name,
     .required = 1,
     .help = "a name"},
    CLI_NUMBER("count", "N", &o.count, 1, 100, "how many"),
    {.name = "inspect",
     .kind = CLI_ARG_NUMBER,
     .metavar = "PORT",
     .target = &o.inspect,
     .min = 1,
     .max = 65535,
     .value_optional = 1,
     .implicit = 9229,
     .help = "debug"},
    CLI_FLAG("json", &o.json, "JSON output\nsecond line"),
    CLI_HOSTPORT("listen", &o.listen, 1, "where"),
    CLI_LIST("item", "X", &o.list, "repeatable"),
    CLI_CALL("call", "V", record, &o, "a callback"),
    CLI_CALL("countdown", NULL, record, &o, "a callback without value"),
    CLI_END,
};

static const struct cli_spec spec = {
    .command = "test",
    .usage = "[OPTIONS] A [B]",
    .about = "About.\n",
    .footer = "Footer.\n",
    .tables = {table},
    .min_operands = 1,
    .max_operands = 2,
};

/* Parses a NULL-terminated list of words after the command's name. */
static int parse_words(const char *const *words)
{
    static char store[16][64];
    static char *argv[17];
    int argc = 0;
    argv[argc++] = strcpy(store[0], "test");
    for (; words[argc - 1]; argc++)
        argv[argc] = strcpy(store[argc], words[argc - 1]);
    argv[argc] = NULL;
    memset(&o, 0, sizeof(o));
    o.list = (struct cli_list){o.items, 0, 2};
    cause[0] = '\0';
    return cli_args_parse_quiet(&spec, argc, argv, &args, cause, sizeof(cause));
}

#define PARSE(...) parse_words((const char *const[]){__VA_ARGS__, NULL})

TEST(test_values_in_every_form)
{
    CHECK_INT(PARSE("--name", "a", "--count=7", "--json", "--listen", "[::1]:80", "op"), 0);
    CHECK_STR(o.name, "a");
    CHECK_INT(o.count, 7);
    CHECK_INT(o.json, 1);
    CHECK_STR(o.listen.host, "::1");
    CHECK_INT(o.listen.port, 80);
    CHECK_INT(args.operand_count, 1);
    CHECK_STR(args.operands[0], "op");
    CHECK_INT(PARSE("-n", "short", "op"), 0);
    CHECK_STR(o.name, "short");
    CHECK_INT(PARSE("-nglued", "op"), 0);
    CHECK_STR(o.name, "glued");
    CHECK_INT(PARSE("--na=prefix", "op"), 0); /* an unambiguous prefix */
    CHECK_STR(o.name, "prefix");
}

TEST(test_operands_anywhere_and_after_double_dash)
{
    CHECK_INT(PARSE("first", "--name", "x", "second"), 0);
    CHECK_INT(args.operand_count, 2);
    CHECK_STR(args.operands[0], "first");
    CHECK_STR(args.operands[1], "second");
    CHECK(args.operands[2] == NULL); /* NULL-terminated, as argv is */
    CHECK_INT(PARSE("--name", "x", "--", "-5", "-"), 0);
    CHECK_INT(args.operand_count, 2);
    CHECK_STR(args.operands[0], "-5");
    CHECK_STR(args.operands[1], "-");
}

TEST(test_number_errors)
{
    CHECK_INT(PARSE("--name", "x", "--count", "101", "op"), -EINVAL);
    CHECK_STR(cause, "--count: 101 is out of range 1-100");
    CHECK_INT(PARSE("--name", "x", "--count", "0", "op"), -EINVAL);
    CHECK_STR(cause, "--count: 0 is out of range 1-100");
    CHECK_INT(PARSE("--name", "x", "--count", "-1", "op"), -EINVAL);
    CHECK_STR(cause, "--count: \"-1\" is not a number");
    CHECK_INT(PARSE("--name", "x", "--count", "5x", "op"), -EINVAL);
    CHECK_INT(PARSE("--name", "x", "--count", "99999999999999999999999", "op"), -EINVAL);
    CHECK(strstr(cause, "out of range") != NULL);
    CHECK_INT(PARSE("--name", "x", "--count"), -EINVAL);
    CHECK_STR(cause, "--count needs a value (N)");
}

TEST(test_optional_value)
{
    CHECK_INT(PARSE("--name", "x", "--inspect", "op"), 0);
    CHECK_INT(o.inspect, 9229);
    CHECK_INT(args.operand_count, 1); /* "op" is not taken as the value */
    CHECK_INT(PARSE("--name", "x", "--inspect=9300", "op"), 0);
    CHECK_INT(o.inspect, 9300);
    CHECK_INT(PARSE("--name", "x", "--inspect=0", "op"), -EINVAL);
}

TEST(test_hostport_errors)
{
    CHECK_INT(PARSE("--name", "x", "--listen", "127.0.0.1:70000", "op"), -EINVAL);
    CHECK_STR(cause, "--listen: port 70000 is out of range 1-65535");
    CHECK_INT(PARSE("--name", "x", "--listen", "nonsense", "op"), -EINVAL);
    CHECK(strncmp(cause, "--listen: ", 10) == 0);
}

TEST(test_list_and_callbacks)
{
    CHECK_INT(PARSE("--name", "x", "--item", "a", "--item", "b", "--call", "v", "op"), 0);
    CHECK_INT(o.list.count, 2);
    CHECK_STR(o.items[0], "a");
    CHECK_STR(o.items[1], "b");
    CHECK_STR(o.called_with, "v");
    CHECK_INT(PARSE("--name", "x", "--item", "a", "--item", "b", "--item", "c", "op"), -EINVAL);
    CHECK_STR(cause, "--item: at most 2 values");
    CHECK_INT(PARSE("--name", "x", "--call", "bad", "op"), -EINVAL);
    CHECK_STR(cause, "--call: not today");
    CHECK_INT(PARSE("--name", "x", "--countdown", "op"), 0);
    CHECK_STR(o.called_with, "(none)");
}

TEST(test_usage_errors)
{
    CHECK_INT(PARSE("op"), -EINVAL);
    CHECK_STR(cause, "--name NAME is required");
    CHECK_INT(PARSE("--name", "x"), -EINVAL);
    CHECK_STR(cause, "missing arguments");
    CHECK_INT(PARSE("--name", "x", "a", "b", "c"), -EINVAL);
    CHECK_STR(cause, "unexpected argument \"c\"");
    CHECK_INT(PARSE("--name", "x", "--nope", "op"), -EINVAL);
    CHECK_STR(cause, "unknown option --nope");
    CHECK_INT(PARSE("--name", "x", "--co", "1", "op"), -EINVAL); /* count or countdown */
    CHECK_STR(cause, "option --co is ambiguous");
    CHECK_INT(PARSE("--name", "x", "--json=1", "op"), -EINVAL);
    CHECK_STR(cause, "--json takes no value");
    CHECK_INT(PARSE("-z", "op"), -EINVAL);
    CHECK_STR(cause, "unknown option -z");
}

TEST(test_builtins)
{
    CHECK_INT(PARSE("--help"), 1); /* before the required check */
    CHECK_INT(PARSE("-h"), 1);
    CHECK_INT(PARSE("--name", "x", "--log-level", "nope", "op"), -EINVAL);
    CHECK_STR(cause, "--log-level: unknown log level \"nope\"");
    CHECK_INT(PARSE("--name", "x", "--log-level", "debug", "op"), 0);
    CHECK_INT(log_get_level(), LOG_LEVEL_DEBUG);
}

TEST(test_help_lists_every_option)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cli_args_help(&spec, f);
    fclose(f);
    CHECK(strncmp(text, "usage: tether test [OPTIONS] A [B]\n\nAbout.\n\noptions:\n", 52) == 0);
    for (const struct cli_option *opt = table; opt->kind != CLI_ARG_END; opt++) {
        char label[64];
        snprintf(label, sizeof(label), "--%s", opt->name);
        CHECK(strstr(text, label) != NULL);
        CHECK(strstr(text, opt->help) != NULL || strchr(opt->help, '\n'));
    }
    CHECK(strstr(text, "  -n, --name NAME ") != NULL);
    CHECK(strstr(text, "  --inspect[=PORT] ") != NULL);
    /* The widest label, "--listen HOST:PORT", sets the column: 2 + 18 + 2. */
    CHECK(strstr(text, "JSON output\n"
                       "                      second line\n") != NULL);
    CHECK(strstr(text, "--log-level LEVEL") != NULL);
    CHECK(strstr(text, "-h, --help") != NULL);
    CHECK(strstr(text, "\nFooter.\n") != NULL);
    free(text);
}

TEST(test_help_with_titles)
{
    static const struct cli_option second[] = {CLI_FLAG("quiet", &o.json, "say less"), CLI_END};
    const struct cli_spec titled = {.command = "test",
                                    .usage = "[OPTIONS]",
                                    .tables = {table, second},
                                    .titles = {"first", "second"}};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cli_args_help(&titled, f);
    fclose(f);
    /* Each table under its heading, in order, the common options last. */
    const char *first = strstr(text, "\nfirst:\n  -n, --name NAME");
    const char *other = strstr(text, "\n\nsecond:\n  --quiet");
    const char *general = strstr(text, "\n\ngeneral:\n  --log-level");
    CHECK(first && other && general && first < other && other < general);
    CHECK(strstr(text, "options:") == NULL);
    free(text);
}

RUN_TESTS("cli_args", TEST_ENTRY(test_values_in_every_form),
          TEST_ENTRY(test_operands_anywhere_and_after_double_dash), TEST_ENTRY(test_number_errors),
          TEST_ENTRY(test_optional_value), TEST_ENTRY(test_hostport_errors),
          TEST_ENTRY(test_list_and_callbacks), TEST_ENTRY(test_usage_errors),
          TEST_ENTRY(test_builtins), TEST_ENTRY(test_help_lists_every_option),
          TEST_ENTRY(test_help_with_titles))
