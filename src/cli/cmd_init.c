/* `tether init --sam [TEMPLATE]`: writes tether.json beside a SAM template,
 * from the functions dev/sam.c finds in it, with the stack name `tether dev`
 * attaches to (docs/config.md, "From a SAM template"). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "aws/credentials.h"
#include "aws/profile.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "core/buf.h"
#include "dev/config.h"
#include "dev/sam.h"

#define SAMCONFIG_MAX_BYTES (256 * 1024)
#define MAX_APP 50
#define MAX_STACK 128

static const char about[] =
    "Writes tether.json from an AWS SAM template: one function per\n"
    "AWS::Serverless::Function (and AWS::Lambda::Function with a local code\n"
    "path), keyed by its logical id, with its runtime, root (the CodeUri: the\n"
    "task root, as in Lambda) and handler (Handler, or the esbuild entry point of\n"
    "a TypeScript function), timeout, memory,\n"
    "literal environment variables and function URL; \"aws\" names the region\n"
    "and the CloudFormation stack whose functions `tether dev` attaches to\n"
    "(without a known region it is left out). It prints\n"
    "what it mapped and what it left out. TEMPLATE defaults to template.yaml\n"
    "(or template.yml) in the current directory; tether.json is written beside it.\n";

static const char footer[] = "exit codes: 0 tether.json written (or printed), 1 it could not be "
                             "written,\n2 nothing usable in the template, or a bad command line\n";

struct init_options {
    int sam;
    const char *stack;
    const char *profile;
    const char *region;
    const char *app;
    int force;
    int to_stdout;
};

/* What the command works from: the template's path and directory, and the
 * stack, region and app it settled on (each with where it came from). */
struct init_plan {
    char template_path[PATH_MAX];
    char dir[PATH_MAX];
    char stack[MAX_STACK + 1];
    char region[64];
    char app[MAX_APP + 1];
    char profile[AWS_PROFILE_MAX_NAME + 1];
    const char *stack_from, *region_from;
};

/* A name made into an app name (letters, digits and single '-', at most 50,
 * starting and ending with a letter or digit); "" when nothing is left. */
static void app_from(const char *name, char out[MAX_APP + 1])
{
    size_t n = 0;
    for (const char *p = name; *p && n < MAX_APP; p++) {
        char ch = *p;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
            out[n++] = ch;
        else if (n > 0 && out[n - 1] != '-')
            out[n++] = '-';
    }
    while (n > 0 && out[n - 1] == '-')
        n--;
    out[n] = '\0';
}

static int find_template(const char *given, struct init_plan *plan)
{
    const char *path = given;
    if (!path)
        path = access("template.yaml", F_OK) == 0 ? "template.yaml" : "template.yml";
    char resolved[PATH_MAX];
    if (!realpath(path, resolved)) {
        fprintf(stderr, "tether init: cannot read %s: %s%s\n", path, strerror(errno),
                given ? "" : " (name the template: tether init --sam FILE)");
        return EXIT_USAGE;
    }
    snprintf(plan->template_path, sizeof(plan->template_path), "%s", resolved);
    *strrchr(resolved, '/') = '\0';
    snprintf(plan->dir, sizeof(plan->dir), "%s", resolved[0] ? resolved : "/");
    return EXIT_OK;
}

/* A key of samconfig.toml, when the file has it, where `sam deploy` looks:
 * [default.deploy.parameters], then [default.global.parameters]. */
static int samconfig_value(const struct init_plan *plan, const char *key, char *out, size_t out_len)
{
    char path[PATH_MAX + 16];
    struct buf text = BUF_INIT;
    snprintf(path, sizeof(path), "%s/samconfig.toml", plan->dir);
    int rc = buf_read_file(&text, path, SAMCONFIG_MAX_BYTES);
    if (rc == 0)
        rc = sam_config_string(buf_bytes(&text), buf_length(&text), "default.deploy.parameters",
                               key, out, out_len);
    if (rc == -ENOENT && buf_length(&text))
        rc = sam_config_string(buf_bytes(&text), buf_length(&text), "default.global.parameters",
                               key, out, out_len);
    buf_free(&text);
    return rc;
}

/* The stack: --stack, samconfig.toml's stack_name, or the app. The app:
 * --app, the stack, or the directory's name. The values are checked where
 * every tether.json is, when the result is loaded (check_config). */
static int settle_stack_and_app(const struct init_options *o, struct init_plan *plan)
{
    const char *base = strrchr(plan->dir, '/') ? strrchr(plan->dir, '/') + 1 : plan->dir;
    plan->stack_from = "--stack";
    if (o->stack)
        snprintf(plan->stack, sizeof(plan->stack), "%s", o->stack);
    else if (samconfig_value(plan, "stack_name", plan->stack, sizeof(plan->stack)) == 0)
        plan->stack_from = "samconfig.toml";
    else
        plan->stack[0] = '\0';
    app_from(o->app ? o->app : plan->stack[0] ? plan->stack : base, plan->app);
    if (o->app && strcmp(plan->app, o->app) != 0) {
        fprintf(stderr, "tether init: --app must be 1-50 letters, digits or '-', starting and "
                        "ending with a letter or digit\n");
        return EXIT_USAGE;
    }
    if (!plan->app[0]) {
        fprintf(stderr, "tether init: cannot make an app name from the directory's; give --app\n");
        return EXIT_USAGE;
    }
    if (!plan->stack[0]) {
        snprintf(plan->stack, sizeof(plan->stack), "%s", plan->app);
        plan->stack_from = "the app's name";
    }
    return EXIT_OK;
}

/* The profile: --profile or samconfig.toml's; the region: --region,
 * samconfig.toml's, else the AWS chain's (AWS_REGION, AWS_DEFAULT_REGION,
 * the profile's region). */
static void settle_account(const struct init_options *o, struct init_plan *plan)
{
    if (o->profile)
        snprintf(plan->profile, sizeof(plan->profile), "%s", o->profile);
    else if (samconfig_value(plan, "profile", plan->profile, sizeof(plan->profile)) < 0)
        plan->profile[0] = '\0';
    plan->region_from = "--region";
    if (o->region) {
        snprintf(plan->region, sizeof(plan->region), "%s", o->region);
    } else if (samconfig_value(plan, "region", plan->region, sizeof(plan->region)) == 0) {
        plan->region_from = "samconfig.toml";
    } else if (aws_region_resolve(plan->profile[0] ? plan->profile : NULL, plan->region,
                                  sizeof(plan->region)) == 0) {
        plan->region_from = "the AWS configuration";
    } else {
        plan->region[0] = '\0';
    }
}

/* "aws" needs a region (tether.json's rule): without one, the stack is only
 * in the summary. */
static json_t *aws_json(const struct init_plan *plan)
{
    if (!plan->region[0])
        return json_null();
    json_t *aws = json_pack("{s:s}", "region", plan->region);
    if (aws && plan->profile[0])
        json_object_set_new(aws, "profile", json_string(plan->profile));
    if (aws)
        json_object_set_new(aws, "stack", json_string(plan->stack));
    return aws;
}

static char *tether_json(const struct init_plan *plan, const struct sam_template *t)
{
    json_t *root = json_pack("{s:s, s:o, s:o}", "app", plan->app, "aws", aws_json(plan),
                             "functions", sam_functions_json(t));
    if (root && !plan->region[0])
        json_object_del(root, "aws");
    char *text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
    json_decref(root);
    if (!text)
        return NULL;
    size_t len = strlen(text);
    char *with_newline = realloc(text, len + 2);
    if (!with_newline) {
        free(text);
        return NULL;
    }
    memcpy(with_newline + len, "\n", 2);
    return with_newline;
}

static int write_all(int fd, const char *text)
{
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        off += (size_t)n;
    }
    return 0;
}

/* A new tether.json is created exclusively (never through a link planted in
 * its place); with --force the old one is replaced atomically. */
static int write_config(const char *path, const char *text, int force, char *cause,
                        size_t cause_len)
{
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
    int fd = force ? mkstemp(tmp) : open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    const char *name = force ? tmp : path;
    if (fd < 0) {
        int err = errno;
        snprintf(cause, cause_len, "%s: %s%s", path, strerror(err),
                 err == EEXIST ? " (--force replaces it)" : "");
        return -err;
    }
    int rc = force && fchmod(fd, 0644) < 0 ? -errno : 0;
    if (rc == 0)
        rc = write_all(fd, text);
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && force && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        snprintf(cause, cause_len, "%s: %s", name, strerror(-rc));
        unlink(name);
    }
    return rc;
}

static void print_summary(FILE *out, const struct init_plan *plan, const struct sam_template *t)
{
    fprintf(out, "%s: app %s, stack %s (from %s)", plan->template_path, plan->app, plan->stack,
            plan->stack_from);
    if (plan->region[0])
        fprintf(out, ", region %s (from %s)\n", plan->region, plan->region_from);
    else
        fprintf(out, "\n  no region known: tether.json gets no \"aws\" section (give --region "
                     "to attach the stack's functions)\n");
    for (size_t i = 0; i < t->function_count; i++) {
        const struct sam_function *f = &t->functions[i];
        fprintf(out, "  %-24s %-16s %s%s%s%s\n", f->id, f->runtime, f->root ? f->root : "",
                f->root ? "/" : "", f->bootstrap ? f->bootstrap : f->handler,
                f->url ? "  (function URL)" : "");
    }
    if (t->note_count)
        fprintf(out, "left out or changed:\n");
    for (size_t i = 0; i < t->note_count; i++)
        fprintf(out, "  %s\n", t->notes[i]);
}

/* The text written must load as tether.json: checked with the one reader. */
static int check_config(const char *path, const char *text)
{
    struct dev_config config;
    char cause[512];
    if (dev_config_parse(text, strlen(text), path, &config, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether init: the tether.json made does not load: %s\n", cause);
        return EXIT_USAGE;
    }
    dev_config_free(&config);
    return EXIT_OK;
}

static int run(const struct init_options *o, struct init_plan *plan)
{
    struct sam_context context = {.region = plan->region[0] ? plan->region : NULL,
                                  .stack_name = plan->stack};
    struct sam_template t;
    char cause[512], path[PATH_MAX + 16];
    if (sam_template_load(plan->template_path, &context, &t, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether init: %s\n", cause);
        return EXIT_USAGE;
    }
    FILE *summary = o->to_stdout ? stderr : stdout;
    print_summary(summary, plan, &t);
    snprintf(path, sizeof(path), "%s/tether.json", plan->dir);
    char *text = t.function_count ? tether_json(plan, &t) : NULL;
    int code = t.function_count ? EXIT_OK : EXIT_USAGE;
    if (!t.function_count)
        fprintf(stderr, "tether init: no function in %s that tether dev can run%s\n",
                plan->template_path, t.note_count ? " (see above)" : "");
    else if (!text)
        code = EXIT_FAILURE_RUNTIME;
    else
        code = check_config(path, text);
    if (code == EXIT_OK && o->to_stdout) {
        fputs(text, stdout);
    } else if (code == EXIT_OK && write_config(path, text, o->force, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether init: %s\n", cause);
        code = strstr(cause, "--force") ? EXIT_USAGE : EXIT_FAILURE_RUNTIME;
    } else if (code == EXIT_OK) {
        fprintf(summary, "wrote %s (%zu function%s); start it with `tether dev` there\n", path,
                t.function_count, t.function_count == 1 ? "" : "s");
    }
    free(text);
    sam_template_free(&t);
    return code;
}

int cmd_init_main(int argc, char **argv)
{
    struct init_options o = {0};
    const struct cli_option table[] = {
        CLI_FLAG("sam", &o.sam, "read an AWS SAM template (the one source so far)"),
        CLI_STRING("stack", "NAME", &o.stack,
                   "the CloudFormation stack (default: stack_name in\n"
                   "samconfig.toml's [default.deploy.parameters] or\n"
                   "[default.global.parameters], else the app)"),
        CLI_STRING("region", "REGION", &o.region,
                   "the stack's region (default: samconfig.toml's, else\n"
                   "AWS_REGION, AWS_DEFAULT_REGION or the profile's)"),
        CLI_STRING("profile", "NAME", &o.profile,
                   "the AWS profile (default: samconfig.toml's, else none)"),
        CLI_STRING("app", "NAME", &o.app,
                   "the app's name (default: the stack's, else the\n"
                   "directory's)"),
        CLI_FLAG("force", &o.force, "replace an existing tether.json"),
        CLI_FLAG("stdout", &o.to_stdout, "print tether.json instead of writing it"),
        CLI_END,
    };
    const struct cli_spec spec = {
        .command = "init",
        .usage = "--sam [TEMPLATE] [OPTIONS]",
        .about = about,
        .footer = footer,
        .tables = {table},
        .max_operands = 1,
        .operands_error = "at most one template",
    };
    struct cli_args args;
    struct init_plan plan = {0};
    int code = cli_args_parse(&spec, argc, argv, &args);
    if (code != CLI_ARGS_CONTINUE)
        return code;
    if (!o.sam)
        return cli_args_usage_error(&spec, "say what to read: --sam [TEMPLATE]");
    code = find_template(args.operand_count ? args.operands[0] : NULL, &plan);
    if (code == EXIT_OK)
        code = settle_stack_and_app(&o, &plan);
    if (code == EXIT_OK)
        settle_account(&o, &plan);
    return code == EXIT_OK ? run(&o, &plan) : code;
}
