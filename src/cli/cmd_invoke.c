/* `tether invoke FUNCTION`: invokes a function of the project through the
 * running `tether dev`'s embedded Lambda service, so the event travels the
 * whole live path (Invoke API -> sandbox running the bridge -> events ->
 * dev session -> local worker) and back.
 *
 * Where dev is: .tether/dev.json in the project root (tether.json found from
 * the current directory, or --project DIR, upwards), written by `tether dev`
 * in embedded mode; dev/state.h owns that file and the check of FUNCTION
 * against tether.json.
 *
 * The call itself is lambda/invoke_client.h (on net/http_client: capped
 * answers in any framing, one deadline for the whole call); this file
 * handles the command line and prints. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_MODULE "invoke"
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
    "function would be invoked. The answer is printed on stdout; a function\n"
    "error (errorType, errorMessage) is printed as JSON on stderr.\n";

static const char footer[] =
    "exit codes: 0 the function answered, 1 the function failed or tether dev\n"
    "is not running or cannot be reached, 2 usage error (bad option, unknown\n"
    "function, an event that is not JSON or is over 6 MB)\n";

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

static int print_answer(const char *function, const struct lambda_invoke_answer *a)
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
    if (strncmp(a->error_type, "ResourceNotFoundException", 25) == 0) {
        fprintf(stderr,
                "tether invoke: the running tether dev has no function \"%s\" (%s); is it in "
                "tether.json with \"live\" on, and was dev restarted since it was added?\n",
                function, a->message[0] ? a->message : "not found");
        return EXIT_USAGE;
    }
    fprintf(stderr, "tether invoke: the Lambda service of tether dev answered %d%s%s: %.*s\n",
            a->status, a->error_type[0] ? " " : "", a->error_type,
            a->message[0] ? (int)strlen(a->message) : (int)len, a->message[0] ? a->message : body);
    return EXIT_FAILURE_RUNTIME;
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

static int run(const char *endpoint, const char *function, const struct buf *event,
               unsigned timeout_s)
{
    struct lambda_invoke_request request = {endpoint, function, buf_bytes(event), buf_length(event),
                                            (timeout_s + TIMEOUT_MARGIN_S) * 1000u};
    struct lambda_invoke_answer answer;
    char cause[512];
    int rc = lambda_invoke(&request, &answer, cause, sizeof(cause));
    int exit_code;
    if (rc < 0) {
        print_failure(endpoint, rc, cause);
        exit_code = EXIT_FAILURE_RUNTIME;
    } else {
        exit_code = print_answer(function, &answer);
    }
    lambda_invoke_answer_free(&answer);
    return exit_code;
}

/* ---- command line ---- */

/* CLI_ARGS_CONTINUE with the function in *function, or an exit code. */
static int parse(int argc, char **argv, const char **event, const char **project,
                 const char **function)
{
    const struct cli_option table[] = {
        {.name = "event",
         .short_name = 'e',
         .kind = CLI_ARG_STRING,
         .metavar = "FILE",
         .target = event,
         .help = "the event (JSON); `-` reads stdin (default: {})"},
        {.name = "project",
         .short_name = 'p',
         .kind = CLI_ARG_STRING,
         .metavar = "DIR",
         .target = project,
         .help = "where to look for tether.json (default: this\ndirectory, then its parents)"},
        CLI_END,
    };
    const struct cli_spec spec = {
        .command = "invoke",
        .usage = "FUNCTION [--event FILE|-] [--project DIR]",
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
    *function = args.operands[0];
    return CLI_ARGS_CONTINUE;
}

int cmd_invoke_main(int argc, char **argv)
{
    const char *event_source = NULL, *project_dir = ".", *function = NULL;
    int code = parse(argc, argv, &event_source, &project_dir, &function);
    if (code != CLI_ARGS_CONTINUE)
        return code;
    char root[PATH_MAX], cause[1024];
    if (find_root(project_dir, root, sizeof(root)) < 0) {
        fprintf(stderr, "tether invoke: no tether.json in %s or its parents\n", project_dir);
        return EXIT_USAGE;
    }
    unsigned timeout_s = DEFAULT_TIMEOUT_S;
    int rc = dev_state_check_function(root, function, &timeout_s, cause, sizeof(cause));
    if (rc > 0)
        log_warn("cannot check the function against tether.json: %s", cause);
    if (rc < 0) {
        fprintf(stderr, "tether invoke: %s\n", cause);
        return EXIT_USAGE;
    }
    struct buf event = BUF_INIT;
    char endpoint[256];
    int exit_code = read_event(event_source, &event) < 0
                        ? EXIT_USAGE
                        : read_state(root, endpoint, sizeof(endpoint));
    if (exit_code == 0)
        exit_code = run(endpoint, function, &event, timeout_s);
    buf_free(&event);
    return exit_code;
}
