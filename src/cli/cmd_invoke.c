/* `tether invoke FUNCTION`: invokes a function, by default one of the
 * project through the running `tether dev`'s embedded Lambda service, so the
 * event travels the whole live path (Invoke API -> sandbox running the
 * bridge -> events -> dev session -> local worker) and back.
 *
 * Where dev is: .tether/dev.json in the project root (tether.json found from
 * the current directory, or --project DIR, upwards), written by `tether dev`
 * in embedded mode; dev/state.h owns that file and the check of FUNCTION
 * against tether.json.
 *
 * In AWS (a FUNCTION that is an ARN, or --region, --profile, --qualifier or
 * --endpoint-url given): AWS Lambda's Invoke API, signed with the AWS
 * credentials chain (aws/credentials.h), at the endpoint aws/endpoint.h
 * finds (AWS_ENDPOINT_URL_LAMBDA ...); no project is needed.
 *
 * The call itself is lambda/invoke_client.h (on aws/call.h: capped answers,
 * one deadline for the whole call); this file handles the command line and
 * prints. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_MODULE "invoke"
#include "aws/credentials.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "core/buf.h"
#include "core/log.h"
#include "dev/config.h"
#include "dev/state.h"
#include "lambda/invoke_client.h"

static const char about[] =
    "Invokes FUNCTION (its id in tether.json) through the running `tether dev`:\n"
    "the event goes to dev's embedded Lambda service, whose sandbox runs the\n"
    "bridge, which relays it to dev and your local handler, as a deployed\n"
    "function would be invoked. With a FUNCTION that is an ARN, or with\n"
    "--region, --profile, --qualifier or --endpoint-url, it invokes the\n"
    "function of that name or ARN in AWS Lambda instead (signed with your AWS\n"
    "credentials; AWS_ENDPOINT_URL_LAMBDA and ~/.aws/config endpoints apply).\n"
    "The answer is printed on stdout; a function error (errorType,\n"
    "errorMessage) is printed as JSON on stderr.\n";

static const char footer[] =
    "exit codes: 0 the function answered, 1 the function failed or tether dev\n"
    "(or AWS) is not running or cannot be reached, 2 usage error (bad option,\n"
    "unknown function, an event that is not JSON or is over 6 MB)\n";

/* Lambda's synchronous request limit (docs/lambda.md). */
#define EVENT_MAX_BYTES 6291456
/* Without a timeout from tether.json: Lambda's longest. */
#define DEFAULT_TIMEOUT_S 900
/* On top of the function's timeout: a cold start (init_timeout) and slack. */
#define TIMEOUT_MARGIN_S 30

/* ---- finding the running dev ---- */

static int find_root(const char *start, char *root, size_t cap)
{
    char path[PATH_MAX];
    if (dev_config_find(start, path, sizeof(path)) < 0)
        return -ENOENT;
    char *slash = strrchr(path, '/');
    if (slash)
        *slash = '\0';
    snprintf(root, cap, "%s", path[0] ? path : "/");
    return 0;
}

/* 0 with dev's Lambda endpoint, or EXIT_FAILURE_RUNTIME after the message. */
static int read_state(const char *root, char *endpoint, size_t cap)
{
    struct dev_state state;
    char cause[PATH_MAX + 256];
    int rc = dev_state_read(root, &state, cause, sizeof(cause));
    if (rc == -ENOENT)
        fprintf(stderr,
                "tether invoke: tether dev is not running for the project in %s (no "
                ".tether/dev.json); start it with `tether dev` there\n",
                root);
    else if (rc == -ESRCH)
        fprintf(stderr,
                "tether invoke: tether dev is not running for the project in %s (%s); start it "
                "with `tether dev` there\n",
                root, cause);
    else if (rc < 0)
        fprintf(stderr, "tether invoke: %s\n", cause);
    else
        snprintf(endpoint, cap, "%s", state.lambda);
    return rc < 0 ? EXIT_FAILURE_RUNTIME : 0;
}

/* ---- the event ---- */

static int read_event(const char *source, struct buf *out)
{
    if (!source) {
        buf_append_str(out, "{}");
        return 0;
    }
    FILE *f = strcmp(source, "-") == 0 ? stdin : fopen(source, "rb");
    if (!f) {
        fprintf(stderr, "tether invoke: cannot open %s: %s\n", source, strerror(errno));
        return -1;
    }
    int rc = buf_read_stream(out, f, EVENT_MAX_BYTES);
    if (f != stdin)
        fclose(f);
    const char *name = strcmp(source, "-") == 0 ? "stdin" : source;
    if (rc == -EFBIG) {
        fprintf(stderr,
                "tether invoke: the event in %s is larger than Lambda's %d-byte request limit\n",
                name, EVENT_MAX_BYTES);
        return -1;
    }
    if (rc < 0) {
        fprintf(stderr, "tether invoke: cannot read %s\n", name);
        return -1;
    }
    if (buf_length(out) == 0) {
        buf_append_str(out, "{}");
        return 0;
    }
    json_error_t error;
    json_t *parsed = json_loadb(buf_bytes(out), buf_length(out), JSON_DECODE_ANY, &error);
    if (!parsed) {
        fprintf(stderr, "tether invoke: the event in %s is not JSON: line %d: %s\n", name,
                error.line, error.text);
        return -1;
    }
    json_decref(parsed);
    return 0;
}

/* ---- the call and its outcome ---- */

static void write_all(FILE *f, const char *data, size_t len)
{
    if (len)
        fwrite(data, 1, len, f);
    fflush(f);
}

/* What the command line asked for. */
struct invoke_options {
    const char *event;
    const char *project;
    const char *function;
    const char *region;
    const char *profile;
    const char *qualifier;
    const char *endpoint_url;
};

static int in_aws(const struct invoke_options *o)
{
    return o->region || o->profile || o->qualifier || o->endpoint_url ||
           strncmp(o->function, "arn:", 4) == 0;
}

static int print_answer(const char *function, int aws, const struct lambda_invoke_answer *a)
{
    const char *body = buf_bytes(&a->body);
    size_t len = buf_length(&a->body);
    if (a->status == 200 && a->function_error) {
        write_all(stderr, body, len);
        fputc('\n', stderr);
        return EXIT_FAILURE_RUNTIME;
    }
    if (a->status == 200) {
        write_all(stdout, body, len);
        if (isatty(STDOUT_FILENO) && len && body[len - 1] != '\n')
            write_all(stdout, "\n", 1);
        return EXIT_OK;
    }
    if (!aws && strcmp(a->error_type, "ResourceNotFoundException") == 0) {
        fprintf(stderr,
                "tether invoke: the running tether dev has no function \"%s\" (%s); is it in "
                "tether.json with \"live\" on, and was dev restarted since it was added?\n",
                function, a->message[0] ? a->message : "not found");
        return EXIT_USAGE;
    }
    fprintf(stderr, "tether invoke: %s answered %d%s%s: %.*s\n",
            aws ? "AWS Lambda" : "the Lambda service of tether dev", a->status,
            a->error_type[0] ? " " : "", a->error_type,
            a->message[0] ? (int)strlen(a->message) : (int)len, a->message[0] ? a->message : body);
    return strcmp(a->error_type, "ResourceNotFoundException") == 0 ? EXIT_USAGE
                                                                   : EXIT_FAILURE_RUNTIME;
}

static void print_failure(const char *endpoint, int rc, const char *cause)
{
    if (rc == -EINVAL)
        fprintf(stderr, "tether invoke: .tether/dev.json: bad \"lambda\" endpoint %s: %s\n",
                endpoint, cause);
    else if (rc == -ECONNREFUSED)
        fprintf(stderr,
                "tether invoke: tether dev is not running (nothing listens at %s); start it with "
                "`tether dev`\n",
                endpoint);
    else if (rc == -ETIMEDOUT)
        fprintf(stderr, "tether invoke: no answer from tether dev (%s) in time; giving up\n",
                endpoint);
    else if (rc == -EPROTO)
        fprintf(stderr, "tether invoke: bad answer from %s: %s\n", endpoint, cause);
    else
        fprintf(stderr, "tether invoke: the connection to tether dev (%s) failed: %s\n", endpoint,
                cause);
}

/* The call to tether dev, or with `aws` set to AWS Lambda, and its outcome. */
static int run(const struct invoke_options *o, const char *endpoint, const struct buf *event,
               unsigned timeout_s, const struct aws_context *aws)
{
    struct lambda_invoke_request request = {.endpoint = endpoint,
                                            .function = o->function,
                                            .event = buf_bytes(event),
                                            .event_len = buf_length(event),
                                            .timeout_ms = (timeout_s + TIMEOUT_MARGIN_S) * 1000u,
                                            .qualifier = o->qualifier,
                                            .aws = aws};
    struct lambda_invoke_answer answer;
    char cause[1024];
    int rc = lambda_invoke(&request, &answer, cause, sizeof(cause));
    int exit_code;
    if (rc < 0 && aws) {
        fprintf(stderr, "tether invoke: %s\n", cause);
        exit_code = rc == -EINVAL ? EXIT_USAGE : EXIT_FAILURE_RUNTIME;
    } else if (rc < 0) {
        print_failure(endpoint, rc, cause);
        exit_code = EXIT_FAILURE_RUNTIME;
    } else {
        exit_code = print_answer(o->function, aws != NULL, &answer);
    }
    lambda_invoke_answer_free(&answer);
    return exit_code;
}

/* In AWS: the credentials chain and the region, then the signed call. */
static int run_in_aws(const struct invoke_options *o, const struct buf *event)
{
    char region[AWS_REGION_MAX + 1], cause[1024];
    if (o->region)
        snprintf(region, sizeof(region), "%s", o->region);
    else if (aws_region_resolve(o->profile, region, sizeof(region)) < 0 &&
             lambda_invoke_arn_region(o->function, region, sizeof(region)) < 0) {
        fprintf(stderr, "tether invoke: which region? Give --region, set AWS_REGION, or set the "
                        "profile's region\n");
        return EXIT_USAGE;
    }
    struct aws_credentials_options options = {.profile = o->profile};
    struct aws_credentials credentials;
    int rc = aws_credentials_resolve(&options, &credentials, cause, sizeof(cause));
    int exit_code;
    if (rc < 0) {
        fprintf(stderr, "tether invoke: AWS credentials: %s\n", cause);
        exit_code = EXIT_FAILURE_RUNTIME;
    } else {
        const struct aws_context aws = {&credentials, region, o->profile};
        exit_code = run(o, o->endpoint_url, event, DEFAULT_TIMEOUT_S, &aws);
    }
    aws_credentials_wipe(&credentials);
    return exit_code;
}

/* ---- command line ---- */

/* CLI_ARGS_CONTINUE with o->function set, or an exit code. */
static int parse(int argc, char **argv, struct invoke_options *o)
{
    const struct cli_option table[] = {
        {.name = "event",
         .short_name = 'e',
         .kind = CLI_ARG_STRING,
         .metavar = "FILE",
         .target = &o->event,
         .help = "the event (JSON); `-` reads stdin (default: {})"},
        {.name = "project",
         .short_name = 'p',
         .kind = CLI_ARG_STRING,
         .metavar = "DIR",
         .target = &o->project,
         .help = "where to look for tether.json (default: this\ndirectory, then its parents)"},
        CLI_STRING("region", "REGION", &o->region,
                   "AWS: the function's region (default: AWS_REGION,\nthe profile's, the ARN's)"),
        CLI_STRING("profile", "NAME", &o->profile,
                   "AWS: the profile for credentials and endpoints"),
        CLI_STRING("qualifier", "Q", &o->qualifier, "AWS: a version or alias to invoke"),
        CLI_STRING("endpoint-url", "URL", &o->endpoint_url,
                   "AWS: Lambda's endpoint (default: AWS_ENDPOINT_URL_LAMBDA,\n"
                   "AWS_ENDPOINT_URL, ~/.aws/config, AWS's)"),
        CLI_END,
    };
    const struct cli_spec spec = {
        .command = "invoke",
        .usage = "FUNCTION [--event FILE|-] [--project DIR]\n"
                 "       tether invoke NAME|ARN [--event FILE|-] [--region R] [--profile P] "
                 "[--qualifier Q]",
        .about = about,
        .footer = footer,
        .tables = {table},
        .max_operands = -1,
    };
    struct cli_args args;
    int code = cli_args_parse(&spec, argc, argv, &args);
    if (code != CLI_ARGS_CONTINUE)
        return code;
    if (args.operand_count != 1) {
        fprintf(stderr, "tether invoke: %s\n\n",
                args.operand_count == 0 ? "which function? (its id in tether.json)"
                                        : "one function at a time");
        cli_args_help(&spec, stderr);
        return EXIT_USAGE;
    }
    o->function = args.operands[0];
    return CLI_ARGS_CONTINUE;
}

int cmd_invoke_main(int argc, char **argv)
{
    struct invoke_options o = {.project = "."};
    int code = parse(argc, argv, &o);
    if (code != CLI_ARGS_CONTINUE)
        return code;
    struct buf event = BUF_INIT;
    if (in_aws(&o)) {
        int exit_code = read_event(o.event, &event) < 0 ? EXIT_USAGE : run_in_aws(&o, &event);
        buf_free(&event);
        return exit_code;
    }
    char root[PATH_MAX], cause[1024];
    if (find_root(o.project, root, sizeof(root)) < 0) {
        fprintf(stderr, "tether invoke: no tether.json in %s or its parents\n", o.project);
        return EXIT_USAGE;
    }
    unsigned timeout_s = DEFAULT_TIMEOUT_S;
    int rc = dev_state_check_function(root, o.function, &timeout_s, cause, sizeof(cause));
    if (rc > 0)
        log_warn("cannot check the function against tether.json: %s", cause);
    if (rc < 0) {
        fprintf(stderr, "tether invoke: %s\n", cause);
        return EXIT_USAGE;
    }
    char endpoint[256];
    int exit_code =
        read_event(o.event, &event) < 0 ? EXIT_USAGE : read_state(root, endpoint, sizeof(endpoint));
    if (exit_code == 0)
        exit_code = run(&o, endpoint, &event, timeout_s, NULL);
    buf_free(&event);
    return exit_code;
}
