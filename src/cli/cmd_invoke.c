/* `tether invoke FUNCTION`: invokes a function of the project through the
 * running `tether dev`'s embedded Lambda service, so the event travels the
 * whole live path (Invoke API -> sandbox running the bridge -> events ->
 * dev session -> local worker) and back.
 *
 * Where dev is: .tether/dev.json in the project root (tether.json found from
 * the current directory, or --project DIR, upwards), written by `tether dev`
 * in embedded mode: {app, stage, events, apiKey, lambda, pid}.
 *
 * The call itself is lambda/invoke_client.h (on net/http_client: capped
 * answers in any framing, one deadline for the whole call); this file
 * handles the command line and prints. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_MODULE "invoke"
#include "cli/commands.h"
#include "core/buf.h"
#include "core/log.h"
#include "dev/config.h"
#include "lambda/invoke_client.h"

const char cmd_invoke_help[] =
    "usage: tether invoke FUNCTION [--event FILE|-] [--project DIR]\n"
    "\n"
    "Invokes FUNCTION (its id in tether.json) through the running `tether dev`:\n"
    "the event goes to dev's embedded Lambda service, whose sandbox runs the\n"
    "bridge, which relays it to dev and your local handler, as a deployed\n"
    "function would be invoked. The answer is printed on stdout; a function\n"
    "error (errorType, errorMessage) is printed as JSON on stderr.\n"
    "\n"
    "options:\n"
    "  --event FILE        the event (JSON); `-` reads stdin (default: {})\n"
    "  --project DIR       where to look for tether.json (default: this\n"
    "                      directory, then its parents)\n"
    "  --log-level LEVEL   error, warn, info, debug or trace\n"
    "\n"
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

/* 0 with the Lambda endpoint, or a message and the exit code. */
static int read_state(const char *root, char *endpoint, size_t cap, int *exit_code)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/.tether/dev.json", root);
    json_error_t error;
    json_t *state = json_load_file(path, 0, &error);
    if (!state) {
        if (access(path, F_OK) != 0)
            fprintf(stderr,
                    "tether invoke: tether dev is not running for the project in %s (no "
                    ".tether/dev.json); start it with `tether dev` there\n",
                    root);
        else
            fprintf(stderr, "tether invoke: %s: %s\n", path, error.text);
        *exit_code = EXIT_FAILURE_RUNTIME;
        return -1;
    }
    const char *lambda = json_string_value(json_object_get(state, "lambda"));
    json_int_t pid = json_integer_value(json_object_get(state, "pid"));
    int rc = 0;
    if (!lambda || pid <= 0) {
        fprintf(stderr, "tether invoke: %s lacks \"lambda\" or \"pid\"\n", path);
        rc = -1;
    } else if (pid > INT_MAX || (kill((pid_t)pid, 0) < 0 && errno == ESRCH)) {
        fprintf(stderr,
                "tether invoke: tether dev is not running for the project in %s (pid %lld named "
                "by .tether/dev.json has exited); start it with `tether dev` there\n",
                root, (long long)pid);
        rc = -1;
    } else {
        snprintf(endpoint, cap, "%s", lambda);
    }
    json_decref(state);
    *exit_code = EXIT_FAILURE_RUNTIME;
    return rc;
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
    char chunk[65536];
    size_t n;
    int too_big = 0;
    while (!too_big && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (buf_length(out) + n > EVENT_MAX_BYTES)
            too_big = 1;
        else if (buf_append(out, chunk, n) < 0)
            break;
    }
    int failed = ferror(f);
    if (f != stdin)
        fclose(f);
    const char *name = strcmp(source, "-") == 0 ? "stdin" : source;
    if (too_big) {
        fprintf(stderr,
                "tether invoke: the event in %s is larger than Lambda's %d-byte request limit\n",
                name, EVENT_MAX_BYTES);
        return -1;
    }
    if (failed) {
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

static void list_functions(const struct dev_config *project)
{
    fprintf(stderr, "functions in %s:", project->path);
    for (size_t i = 0; i < project->function_count; i++)
        fprintf(stderr, " %s%s", project->functions[i].id,
                project->functions[i].live ? "" : " (not live)");
    fputc('\n', stderr);
}

/* Checks FUNCTION against tether.json and gives its timeout. A tether.json
 * that does not load (being edited) is not fatal: dev has its own copy, and
 * the service says whether the function exists. */
static int check_function(const char *root, const char *function, unsigned *timeout_s)
{
    char path[PATH_MAX + 16], cause[512];
    struct dev_config project;
    memset(&project, 0, sizeof(project));
    snprintf(path, sizeof(path), "%s/tether.json", root);
    if (dev_config_load(path, &project, cause, sizeof(cause)) < 0) {
        log_warn("cannot check the function against tether.json: %s", cause);
        return 0;
    }
    const struct dev_function *f = dev_config_function(&project, function);
    int rc = 0;
    if (project.events.mode == DEV_EVENTS_REMOTE) {
        /* No local Lambda service: the functions are deployed in AWS. */
        fprintf(stderr,
                "tether invoke: %s sets \"events\", so the functions run in AWS Lambda, not "
                "in tether dev's embedded Lambda service; invoke the deployed function (aws "
                "lambda invoke ...) and tether dev will serve it\n",
                project.path);
        rc = -1;
    } else if (!f) {
        fprintf(stderr, "tether invoke: no function \"%s\" in %s\n", function, project.path);
        list_functions(&project);
        rc = -1;
    } else if (!f->live) {
        fprintf(stderr,
                "tether invoke: function \"%s\" has \"live\": false, so tether dev does not "
                "serve it\n",
                function);
        rc = -1;
    } else {
        *timeout_s = f->timeout_s;
    }
    dev_config_free(&project);
    return rc;
}

int cmd_invoke_main(int argc, char **argv)
{
    static const struct option options[] = {{"event", required_argument, 0, 'e'},
                                            {"project", required_argument, 0, 'p'},
                                            {"log-level", required_argument, 0, 'l'},
                                            {"help", no_argument, 0, 'h'},
                                            {0, 0, 0, 0}};
    const char *event_source = NULL, *project_dir = ".";
    int opt;
    while ((opt = getopt_long(argc, argv, "he:p:", options, NULL)) != -1) {
        switch (opt) {
        case 'e':
            event_source = optarg;
            break;
        case 'p':
            project_dir = optarg;
            break;
        case 'l':
            if (log_level_parse(optarg) < 0) {
                fprintf(stderr, "tether invoke: unknown log level \"%s\"\n", optarg);
                return EXIT_USAGE;
            }
            log_set_level((enum log_level)log_level_parse(optarg));
            break;
        case 'h':
            fputs(cmd_invoke_help, stdout);
            return EXIT_OK;
        default:
            fputs(cmd_invoke_help, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "tether invoke: %s\n\n",
                optind == argc ? "which function? (its id in tether.json)"
                               : "one function at a time");
        fputs(cmd_invoke_help, stderr);
        return EXIT_USAGE;
    }
    const char *function = argv[optind];
    char root[PATH_MAX];
    if (find_root(project_dir, root, sizeof(root)) < 0) {
        fprintf(stderr, "tether invoke: no tether.json in %s or its parents\n", project_dir);
        return EXIT_USAGE;
    }
    unsigned timeout_s = DEFAULT_TIMEOUT_S;
    if (check_function(root, function, &timeout_s) < 0)
        return EXIT_USAGE;
    struct buf event = BUF_INIT;
    if (read_event(event_source, &event) < 0) {
        buf_free(&event);
        return EXIT_USAGE;
    }
    int exit_code;
    char endpoint[256];
    if (read_state(root, endpoint, sizeof(endpoint), &exit_code) < 0) {
        buf_free(&event);
        return exit_code;
    }
    exit_code = run(endpoint, function, &event, timeout_s);
    buf_free(&event);
    return exit_code;
}
