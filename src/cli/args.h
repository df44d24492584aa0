/* The one option parser of the tether commands: each command declares its
 * options in a table, and the same table drives parsing, the error messages
 * and the --help text, so help and parser cannot drift apart.
 *
 * Adopting it in a command (see cmd_lambda.c for a small example):
 *
 *     struct my_options o = {...defaults...};
 *     const struct cli_option table[] = {
 *         CLI_STRING("config", "FILE", &o.config, "the functions (JSON)"),
 *         CLI_HOSTPORT("listen", &o.listen, 0, "address to listen on"),
 *         CLI_NUMBER("timeout", "SECONDS", &o.timeout, 1, 86400, "give up after this long"),
 *         CLI_FLAG("json", &o.json, "print JSON"),
 *         CLI_END,
 *     };
 *     const struct cli_spec spec = {.command = "lambda", .usage = "[OPTIONS]",
 *                                   .about = "...", .tables = {table}};
 *     struct cli_args args;
 *     int code = cli_args_parse(&spec, argc, argv, &args);
 *     if (code != CLI_ARGS_CONTINUE)
 *         return code; // --help printed (0) or a usage error printed (2)
 *
 * argv[0] is the command's name, as main.c passes it. What the parser accepts
 * is what getopt_long accepted before: "--name VALUE" and "--name=VALUE",
 * unambiguous prefixes of long names, short options ("-o FILE", "-oFILE"),
 * options and operands in any order, and "--" ending the options. Every
 * command also takes --help (-h) and --log-level LEVEL: the parser handles
 * those itself. A value option given twice keeps the last value; a CLI_LIST
 * option collects every value up to its capacity.
 *
 * Tables and targets belong to the caller and must outlive the call; the
 * parser keeps no state, and the operands it returns point into argv. */
#ifndef TETHER_CLI_ARGS_H
#define TETHER_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "net/hostport.h"

enum cli_arg_kind {
    CLI_ARG_END = 0,  /* ends a table */
    CLI_ARG_FLAG,     /* no value; sets *(int *)target to 1 */
    CLI_ARG_STRING,   /* *(const char **)target = the value */
    CLI_ARG_NUMBER,   /* a decimal number in [min, max]: *(uint64_t *)target */
    CLI_ARG_HOSTPORT, /* HOST:PORT (net/hostport.h): *(struct hostport *)target; min is the
                         lowest port allowed, 0 or 1 */
    CLI_ARG_LIST,     /* repeatable: appended to *(struct cli_list *)target */
    CLI_ARG_CALL,     /* call(target, value, ...) decides; value NULL when metavar is NULL */
};

/* A repeatable option's values: items is the caller's array of cap entries. */
struct cli_list {
    const char **items;
    size_t count;
    size_t cap;
};

/* For CLI_ARG_CALL: 0, or -errno with the reason (after "--name: ") in cause. */
typedef int (*cli_option_call)(void *target, const char *value, char *cause, size_t cause_len);

struct cli_option {
    const char *name; /* the long name, without "--" */
    char short_name;  /* 0: none */
    enum cli_arg_kind kind;
    const char *metavar; /* the value's name in help ("HOST:PORT"); NULL: takes no value */
    const char *help;    /* lines separated by '\n'; the first starts on the option's line */
    void *target;
    uint64_t min, max; /* CLI_ARG_NUMBER's range; CLI_ARG_HOSTPORT: min is the lowest port */
    cli_option_call call;
    int value_optional; /* only "--name=VALUE" carries a value; bare "--name" sets implicit */
    uint64_t implicit;  /* CLI_ARG_NUMBER's value for a bare "--name" */
    int required;       /* a usage error when absent */
};

#define CLI_FLAG(NAME, TARGET, HELP)                                                               \
    {                                                                                              \
        .name = (NAME), .kind = CLI_ARG_FLAG, .target = (TARGET), .help = (HELP)                   \
    }
#define CLI_STRING(NAME, METAVAR, TARGET, HELP)                                                    \
    {                                                                                              \
        .name = (NAME), .kind = CLI_ARG_STRING, .metavar = (METAVAR), .target = (TARGET),          \
        .help = (HELP)                                                                             \
    }
#define CLI_NUMBER(NAME, METAVAR, TARGET, MIN, MAX, HELP)                                          \
    {                                                                                              \
        .name = (NAME), .kind = CLI_ARG_NUMBER, .metavar = (METAVAR), .target = (TARGET),          \
        .min = (MIN), .max = (MAX), .help = (HELP)                                                 \
    }
#define CLI_HOSTPORT(NAME, TARGET, LOWEST_PORT, HELP)                                              \
    {                                                                                              \
        .name = (NAME), .kind = CLI_ARG_HOSTPORT, .metavar = "HOST:PORT", .target = (TARGET),      \
        .min = (LOWEST_PORT), .max = 65535, .help = (HELP)                                         \
    }
#define CLI_LIST(NAME, METAVAR, TARGET, HELP)                                                      \
    {                                                                                              \
        .name = (NAME), .kind = CLI_ARG_LIST, .metavar = (METAVAR), .target = (TARGET),            \
        .help = (HELP)                                                                             \
    }
#define CLI_CALL(NAME, METAVAR, FN, TARGET, HELP)                                                  \
    {                                                                                              \
        .name = (NAME), .kind = CLI_ARG_CALL, .metavar = (METAVAR), .call = (FN),                  \
        .target = (TARGET), .help = (HELP)                                                         \
    }
#define CLI_END                                                                                    \
    {                                                                                              \
        .kind = CLI_ARG_END                                                                        \
    }

#define CLI_SPEC_MAX_TABLES 4

/* A command: its name, the text around the options, its tables, operands. */
struct cli_spec {
    const char *command; /* "broker": messages say "tether broker: ..."; NULL: main's */
    const char *usage;   /* after "usage: tether COMMAND "; lines separated by '\n' */
    const char *about;   /* the paragraph(s) between usage and options */
    const char *footer;  /* after the options (examples, exit codes); may be NULL */
    /* Printed in this order; unused slots NULL. */
    const struct cli_option *tables[CLI_SPEC_MAX_TABLES];
    /* Optional headings of the tables in --help ("connection"); with them,
     * the options every command takes come last under "general". */
    const char *titles[CLI_SPEC_MAX_TABLES];
    int min_operands, max_operands; /* max -1: no limit */
    const char *operands_error;     /* the message when the count is wrong */
    /* The first operand ends the options: what follows belongs to it (main.c:
     * "tether --log-level debug dev --json"). */
    int operands_end_options;
};

struct cli_args {
    char **operands; /* into argv, in the order given */
    int operand_count;
};

#define CLI_ARGS_CONTINUE (-1)

/* Parses argv[1..argc). CLI_ARGS_CONTINUE: parsed, go on; otherwise an exit
 * code: 0 after printing help on stdout (--help), 2 after printing the error
 * and a hint on stderr. Operands are moved to the front of argv[1..]. */
int cli_args_parse(const struct cli_spec *spec, int argc, char **argv, struct cli_args *out);

/* The same without printing: 0 parsed, 1 --help was given, -EINVAL with the
 * message in cause. */
int cli_args_parse_quiet(const struct cli_spec *spec, int argc, char **argv, struct cli_args *out,
                         char *cause, size_t cause_len);

/* Writes the help text the table describes. */
void cli_args_help(const struct cli_spec *spec, FILE *out);
/* Writes only the option lines (for a help text composed elsewhere). */
void cli_args_print_options(const struct cli_spec *spec, FILE *out);

/* Prints "tether COMMAND: message" and the --help hint on stderr; returns
 * 2 (EXIT_USAGE), for checks the table cannot express. */
int cli_args_usage_error(const struct cli_spec *spec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
