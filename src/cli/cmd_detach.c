/* `tether detach`: restores deployed functions that a `tether dev` attached
 * and could not restore itself (it was killed, or the machine went down):
 * from the records in .tether/attached/, or from the tags on the function
 * when no record is left (docs/deploy.md, "One command"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/credentials_provider.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "dev/attach.h"
#include "dev/config.h"
#include "dev/state.h"

#define MAX_FUNCTIONS 200

static const char about[] =
    "Restores deployed functions that `tether dev` attached and did not restore\n"
    "(after kill -9 or a crash): each runs its own code again, with the runtime,\n"
    "handler, layers, environment and timeout it had, and tether's tags are\n"
    "removed. FUNCTION is a function id of tether.json with a record in\n"
    ".tether/attached/; --all restores every record there. --function restores a\n"
    "deployed function (name or ARN) from the record in its tags, for a machine\n"
    "without the records. Uses tether.json's \"aws\" section (region, profile).\n";

static const char footer[] = "exit codes: 0 restored; 1 some could not be restored (the record\n"
                             "stays, run detach again); 2 bad command line or tether.json\n";

struct detach_options {
    const char *config_path;
    const char *profile;
    int all;
    const char *deployed[MAX_FUNCTIONS];
    struct cli_list functions;
};

static void on_report(void *ctx, const struct attach_report *r)
{
    (void)ctx;
    switch (r->event) {
    case ATTACH_RESTORED:
        printf("%s%s%s: restored (%.1f s)\n", r->function_id, r->function_id[0] ? " " : "",
               r->deployed, r->ms / 1000);
        break;
    case ATTACH_RESTORE_FAILED:
        fprintf(stderr, "tether detach: %s %s: not restored: %s\n", r->function_id, r->deployed,
                r->detail);
        break;
    default:
        fprintf(stderr, "tether detach: %s %s: %s\n", r->function_id, r->deployed, r->detail);
        break;
    }
    fflush(stdout);
}

static int run(const struct dev_config *project, const struct detach_options *o,
               const struct cli_args *args)
{
    char cause[1024] = "";
    struct aws_credentials_provider *credentials = NULL;
    struct aws_credentials_options co = {.profile = o->profile ? o->profile : project->aws.profile};
    if (aws_credentials_provider_new(&co, &credentials, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether detach: %s\n", cause);
        return EXIT_FAILURE_RUNTIME;
    }
    struct attach_options ao = {
        .root = project->root,
        .region = project->aws.region,
        .profile = co.profile,
        .credentials = credentials,
        .report = on_report,
    };
    int failed = 0;
    if (args->operand_count > 0 || o->all) {
        int rc = attach_restore_saved(&ao, (const char *const *)args->operands,
                                      (size_t)args->operand_count, cause, sizeof(cause));
        if (rc < 0)
            fprintf(stderr, "tether detach: %s\n", cause);
        failed += rc != 0;
    }
    for (size_t i = 0; i < o->functions.count; i++)
        if (attach_restore_tagged(&ao, o->functions.items[i], cause, sizeof(cause)) < 0) {
            fprintf(stderr, "tether detach: %s\n", cause);
            failed = 1;
        }
    aws_credentials_provider_free(credentials);
    return failed ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_detach_main(int argc, char **argv)
{
    struct detach_options o = {0};
    o.functions = (struct cli_list){o.deployed, 0, MAX_FUNCTIONS};
    const struct cli_option table[] = {
        CLI_STRING("config", "FILE", &o.config_path,
                   "tether.json to use (default: search upwards)"),
        CLI_FLAG("all", &o.all, "every function recorded in .tether/attached/"),
        CLI_LIST("function", "NAME", &o.functions,
                 "a deployed function (name or ARN) to restore from its tags\n"
                 "(repeatable)"),
        CLI_STRING("profile", "NAME", &o.profile,
                   "AWS profile (default: tether.json's aws.profile, else the\n"
                   "credentials chain)"),
        CLI_END,
    };
    const struct cli_spec spec = {
        .command = "detach",
        .usage = "[FUNCTION...] [--all] [--function NAME]",
        .about = about,
        .footer = footer,
        .tables = {table},
        .max_operands = -1,
    };
    struct cli_args args;
    int code = cli_args_parse(&spec, argc, argv, &args);
    if (code != CLI_ARGS_CONTINUE)
        return code;
    if (args.operand_count == 0 && !o.all && o.functions.count == 0) {
        fprintf(stderr, "tether detach: name functions, --all, or --function NAME (see --help)\n");
        return EXIT_USAGE;
    }
    if (args.operand_count > 0 && o.all) {
        fprintf(stderr, "tether detach: --all and function ids contradict each other\n");
        return EXIT_USAGE;
    }
    struct dev_config project;
    char cause[1024];
    if (dev_project_load(o.config_path, NULL, &project, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether detach: %s\n", cause);
        return EXIT_USAGE;
    }
    if (!project.aws.present) {
        fprintf(stderr, "tether detach: %s has no \"aws\" section: nothing is attached from it\n",
                project.path);
        dev_config_free(&project);
        return EXIT_USAGE;
    }
    code = run(&project, &o, &args);
    dev_config_free(&project);
    return code;
}
