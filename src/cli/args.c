/* The table-driven option parser (cli/args.h). */
#include "cli/args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/log.h"

#define HELP_COLUMN_MAX 22 /* wider option names put their help on the next line */
#define TABLE_MAX 64       /* options per table: `seen` is one 64-bit mask per table */

static int set_log_level(void *target, const char *value, char *cause, size_t cause_len)
{
    (void)target;
    int level = log_level_parse(value);
    if (level < 0) {
        snprintf(cause, cause_len, "unknown log level \"%s\"", value);
        return -EINVAL;
    }
    log_set_level((enum log_level)level);
    return 0;
}

/* Accepted by every command; listed last in every help text. --help has no
 * target: finding it ends the parse. */
static const struct cli_option builtin_options[] = {
    CLI_CALL("log-level", "LEVEL", set_log_level, NULL, "error, warn, info, debug or trace"),
    {.name = "help", .short_name = 'h', .kind = CLI_ARG_FLAG, .help = "print this help and exit"},
    CLI_END,
};

/* Where an option was found: its table (index CLI_SPEC_MAX_TABLES for the
 * built-in one) and its place there. */
struct found {
    const struct cli_option *option;
    size_t table, index;
};

static const struct cli_option *table_at(const struct cli_spec *spec, size_t t)
{
    return t < CLI_SPEC_MAX_TABLES ? spec->tables[t] : builtin_options;
}

/* Long options: an exact name wins; otherwise a prefix that names exactly
 * one option. Short options: an exact letter. */
static int find_option(const struct cli_spec *spec, const char *name, size_t len, char letter,
                       struct found *out, char *cause, size_t cause_len)
{
    size_t matches = 0;
    for (size_t t = 0; t <= CLI_SPEC_MAX_TABLES; t++) {
        const struct cli_option *table = table_at(spec, t);
        for (size_t i = 0; table && table[i].kind != CLI_ARG_END; i++) {
            const struct cli_option *o = &table[i];
            int exact = letter ? o->short_name == letter
                               : strlen(o->name) == len && memcmp(o->name, name, len) == 0;
            int prefix = !letter && strncmp(o->name, name, len) == 0;
            if (exact) {
                *out = (struct found){o, t, i};
                return 0;
            }
            if (prefix && matches++ == 0)
                *out = (struct found){o, t, i};
        }
    }
    if (matches == 1)
        return 0;
    if (letter)
        snprintf(cause, cause_len, "unknown option -%c", letter);
    else
        snprintf(cause, cause_len, matches ? "option --%.*s is ambiguous" : "unknown option --%.*s",
                 (int)len, name);
    return -EINVAL;
}

/* Strictly decimal: no sign, no spaces, no overflow. */
static int parse_number(const struct cli_option *o, const char *value, char *cause,
                        size_t cause_len)
{
    size_t digits = strspn(value, "0123456789");
    if (digits == 0 || value[digits] != '\0') {
        snprintf(cause, cause_len, "\"%s\" is not a number", value);
        return -EINVAL;
    }
    errno = 0;
    uint64_t v = strtoull(value, NULL, 10);
    if (errno == ERANGE || v < o->min || v > o->max) {
        snprintf(cause, cause_len, "%s is out of range %llu-%llu", value,
                 (unsigned long long)o->min, (unsigned long long)o->max);
        return -ERANGE;
    }
    *(uint64_t *)o->target = v;
    return 0;
}

/* Stores one option's value in its target; the cause reads after "--name: ". */
static int apply(const struct cli_option *o, const char *value, char *cause, size_t cause_len)
{
    switch (o->kind) {
    case CLI_ARG_FLAG:
        *(int *)o->target = 1;
        return 0;
    case CLI_ARG_STRING:
        *(const char **)o->target = value;
        return 0;
    case CLI_ARG_NUMBER:
        if (!value) {
            *(uint64_t *)o->target = o->implicit;
            return 0;
        }
        return parse_number(o, value, cause, cause_len);
    case CLI_ARG_HOSTPORT:
        return hostport_parse(value, o->min == 0 ? HOSTPORT_ALLOW_PORT_0 : 0, o->target, cause,
                              cause_len);
    case CLI_ARG_LIST: {
        struct cli_list *list = o->target;
        if (list->count >= list->cap) {
            snprintf(cause, cause_len, "at most %zu values", list->cap);
            return -E2BIG;
        }
        list->items[list->count++] = value;
        return 0;
    }
    case CLI_ARG_CALL:
        return o->call(o->target, value, cause, cause_len);
    case CLI_ARG_END:
        break;
    }
    return -EINVAL;
}

/* The state of one parse: where we are in argv, what was seen. */
struct parser {
    const struct cli_spec *spec;
    int argc;
    char **argv;
    int next;
    uint64_t seen[CLI_SPEC_MAX_TABLES + 1];
    char *cause;
    size_t cause_len;
};

static int fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parser *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->cause, p->cause_len, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Takes the option's value (inline after '=' or the short letter, or the
 * next argument) and applies it. 1: it was --help. */
static int take(struct parser *p, const struct found *f, const char *inline_value, int has_inline)
{
    const struct cli_option *o = f->option;
    if (o->kind == CLI_ARG_FLAG && !o->target)
        return 1; /* --help */
    const char *value = NULL;
    if (!o->metavar && has_inline)
        return fail(p, "--%s takes no value", o->name);
    if (o->metavar && has_inline) {
        value = inline_value;
    } else if (o->metavar && !o->value_optional) {
        if (p->next >= p->argc)
            return fail(p, "--%s needs a value (%s)", o->name, o->metavar);
        value = p->argv[p->next++];
    }
    char why[400] = "";
    int rc = apply(o, value, why, sizeof(why));
    if (rc < 0)
        return fail(p, "--%s: %s", o->name, why);
    if (f->table <= CLI_SPEC_MAX_TABLES && f->index < TABLE_MAX)
        p->seen[f->table] |= 1ull << f->index;
    return 0;
}

static int parse_long(struct parser *p, const char *arg)
{
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    struct found f;
    char why[200];
    if (find_option(p->spec, name, len, 0, &f, why, sizeof(why)) < 0)
        return fail(p, "%s", why);
    return take(p, &f, eq ? eq + 1 : NULL, eq != NULL);
}

/* "-h", "-o FILE", "-oFILE", and letters of flags run together. */
static int parse_short(struct parser *p, const char *arg)
{
    for (const char *c = arg + 1; *c; c++) {
        struct found f;
        char why[200];
        if (find_option(p->spec, NULL, 0, *c, &f, why, sizeof(why)) < 0)
            return fail(p, "%s", why);
        if (f.option->metavar && c[1])
            return take(p, &f, c + 1, 1);
        int rc = take(p, &f, NULL, 0);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int check_required(struct parser *p)
{
    for (size_t t = 0; t < CLI_SPEC_MAX_TABLES; t++) {
        const struct cli_option *table = p->spec->tables[t];
        for (size_t i = 0; table && table[i].kind != CLI_ARG_END && i < TABLE_MAX; i++)
            if (table[i].required && !(p->seen[t] & 1ull << i))
                return fail(p, "--%s %s is required", table[i].name,
                            table[i].metavar ? table[i].metavar : "");
    }
    return 0;
}

static int check_operands(struct parser *p, const struct cli_args *out)
{
    const struct cli_spec *s = p->spec;
    int n = out->operand_count;
    if (n >= s->min_operands && (s->max_operands < 0 || n <= s->max_operands))
        return 0;
    if (s->operands_error)
        return fail(p, "%s", s->operands_error);
    if (n > s->max_operands)
        return fail(p, "unexpected argument \"%s\"", out->operands[s->max_operands]);
    return fail(p, "missing arguments");
}

int cli_args_parse_quiet(const struct cli_spec *spec, int argc, char **argv, struct cli_args *out,
                         char *cause, size_t cause_len)
{
    struct parser p = {.spec = spec,
                       .argc = argc,
                       .argv = argv,
                       .next = 1,
                       .cause = cause,
                       .cause_len = cause_len};
    int operands = 0, rc = 0, options_done = 0;
    while (rc == 0 && p.next < argc) {
        char *arg = argv[p.next++];
        if (options_done || arg[0] != '-' || arg[1] == '\0') {
            argv[1 + operands++] = arg; /* never ahead of p.next: safe in place */
            options_done |= spec->operands_end_options;
        } else if (strcmp(arg, "--") == 0)
            options_done = 1;
        else
            rc = arg[1] == '-' ? parse_long(&p, arg) : parse_short(&p, arg);
    }
    if (rc != 0)
        return rc;
    /* Like argv itself, the operands end with NULL (a command may exec them);
     * the slot held an option already consumed. */
    if (1 + operands < argc)
        argv[1 + operands] = NULL;
    out->operands = argv + 1;
    out->operand_count = operands;
    rc = check_required(&p);
    return rc < 0 ? rc : check_operands(&p, out);
}

int cli_args_usage_error(const struct cli_spec *spec, const char *fmt, ...)
{
    const char *space = spec->command ? " " : "";
    const char *command = spec->command ? spec->command : "";
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tether%s%s: ", space, command);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see `tether%s%s --help`)\n", space, command);
    va_end(ap);
    return EXIT_USAGE;
}

int cli_args_parse(const struct cli_spec *spec, int argc, char **argv, struct cli_args *out)
{
    char cause[512];
    int rc = cli_args_parse_quiet(spec, argc, argv, out, cause, sizeof(cause));
    if (rc == 1) {
        cli_args_help(spec, stdout);
        return EXIT_OK;
    }
    if (rc < 0)
        return cli_args_usage_error(spec, "%s", cause);
    return CLI_ARGS_CONTINUE;
}

/* ---- help ---- */

/* "-o, --output FILE", "--inspect[=PORT]": the left column of one option. */
static int option_label(const struct cli_option *o, char *out, size_t cap)
{
    int n = o->short_name ? snprintf(out, cap, "-%c, --%s", o->short_name, o->name)
                          : snprintf(out, cap, "--%s", o->name);
    if (o->metavar && (size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n, o->value_optional ? "[=%s]" : " %s", o->metavar);
    return n;
}

static size_t help_column(const struct cli_spec *spec)
{
    size_t widest = 0;
    char label[128];
    for (size_t t = 0; t <= CLI_SPEC_MAX_TABLES; t++) {
        const struct cli_option *table = table_at(spec, t);
        for (size_t i = 0; table && table[i].kind != CLI_ARG_END; i++) {
            size_t n = (size_t)option_label(&table[i], label, sizeof(label));
            if (n <= HELP_COLUMN_MAX && n > widest)
                widest = n;
        }
    }
    return 2 + widest + 2;
}

static void print_option(const struct cli_option *o, size_t column, FILE *out)
{
    char label[128];
    size_t n = 2 + (size_t)option_label(o, label, sizeof(label));
    fprintf(out, "  %s", label);
    const char *line = o->help ? o->help : "";
    if (n + 1 > column) /* too wide: the help starts on the next line */
        fprintf(out, "\n%*s", (int)column, "");
    else
        fprintf(out, "%*s", (int)(column - n), "");
    for (;;) {
        const char *nl = strchr(line, '\n');
        int len = nl ? (int)(nl - line) : (int)strlen(line);
        fprintf(out, "%.*s\n", len, line);
        if (!nl || !nl[1])
            break;
        line = nl + 1;
        fprintf(out, "%*s", (int)column, "");
    }
}

void cli_args_print_options(const struct cli_spec *spec, FILE *out)
{
    size_t column = help_column(spec);
    for (size_t t = 0; t <= CLI_SPEC_MAX_TABLES; t++) {
        const struct cli_option *table = table_at(spec, t);
        if (spec->titles[0] && table)
            fprintf(out, "%s%s:\n", t ? "\n" : "",
                    t < CLI_SPEC_MAX_TABLES ? spec->titles[t] : "general");
        for (size_t i = 0; table && table[i].kind != CLI_ARG_END; i++)
            print_option(&table[i], column, out);
    }
}

void cli_args_help(const struct cli_spec *spec, FILE *out)
{
    fprintf(out, "usage: tether %s%s%s\n", spec->command ? spec->command : "",
            spec->command ? " " : "", spec->usage);
    if (spec->about)
        fprintf(out, "\n%s", spec->about);
    fprintf(out, spec->titles[0] ? "\n" : "\noptions:\n");
    cli_args_print_options(spec, out);
    if (spec->footer)
        fprintf(out, "\n%s", spec->footer);
}
