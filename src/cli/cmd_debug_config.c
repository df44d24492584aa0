/* `tether debug-config vscode|jetbrains`: attach configurations for the
 * debugger ports `tether dev --inspect` gives its workers (the first port,
 * then the next ones; docs/dev.md, "Debugging"). It reads nothing: the ports
 * follow from the first port and how many workers to cover. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/args.h"
#include "cli/commands.h"

#define MAX_WORKERS 100

static const char about[] =
    "Prints attach configurations for the debugger ports of `tether dev --inspect`:\n"
    "one per worker port, from --port up. vscode: a launch.json (Node.js \"attach\",\n"
    "or debugpy \"attach\" with --runtime python) with a compound that attaches to\n"
    "all of them; jetbrains: run configurations (Attach to Node.js/Chrome) to save\n"
    "under .run/ (Node.js only).\n";

struct debug_config_options {
    uint64_t port;
    uint64_t workers;
    const char *runtime;
};

static void port_name(char *out, size_t out_len, uint64_t port)
{
    snprintf(out, out_len, "tether worker 127.0.0.1:%u", (unsigned)port);
}

static json_t *vscode_configuration(uint64_t port, int python)
{
    char name[64];
    port_name(name, sizeof(name), port);
    if (python)
        return json_pack("{s:s, s:s, s:s, s:{s:s, s:I}, s:b}", "name", name, "type", "debugpy",
                         "request", "attach", "connect", "host", "127.0.0.1", "port",
                         (json_int_t)port, "justMyCode", 0);
    /* restart: a reload replaces the worker on the same port. */
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:b, s:[s]}", "name", name, "type", "node",
                     "request", "attach", "address", "127.0.0.1", "port", (json_int_t)port,
                     "restart", 1, "skipFiles", "<node_internals>/**");
}

static int print_vscode(const struct debug_config_options *o, int python)
{
    json_t *configurations = json_array(), *names = json_array();
    for (uint64_t i = 0; i < o->workers; i++) {
        char name[64];
        port_name(name, sizeof(name), o->port + i);
        json_array_append_new(configurations, vscode_configuration(o->port + i, python));
        json_array_append_new(names, json_string(name));
    }
    json_t *launch = json_pack("{s:s, s:o, s:[{s:s, s:o}]}", "version", "0.2.0", "configurations",
                               configurations, "compounds", "name", "tether: all workers",
                               "configurations", names);
    char *text = launch ? json_dumps(launch, JSON_INDENT(2)) : NULL;
    json_decref(launch);
    if (!text)
        return EXIT_FAILURE_RUNTIME;
    puts(text);
    free(text);
    return EXIT_OK;
}

static int print_jetbrains(const struct debug_config_options *o)
{
    printf("<component name=\"ProjectRunConfigurationManager\">\n");
    for (uint64_t i = 0; i < o->workers; i++) {
        char name[64];
        port_name(name, sizeof(name), o->port + i);
        printf("  <configuration default=\"false\" name=\"%s\" type=\"ChromiumRemoteDebugType\" "
               "factoryName=\"Chromium Remote\" host=\"127.0.0.1\" port=\"%u\">\n"
               "    <method v=\"2\" />\n"
               "  </configuration>\n",
               name, (unsigned)(o->port + i));
    }
    printf("</component>\n");
    return EXIT_OK;
}

int cmd_debug_config_main(int argc, char **argv)
{
    struct debug_config_options o = {.port = 9229, .workers = 4, .runtime = "node"};
    const struct cli_option table[] = {
        CLI_NUMBER("port", "PORT", &o.port, 1, 65535,
                   "the first port, as given to tether dev --inspect (default 9229)"),
        CLI_NUMBER("workers", "N", &o.workers, 1, MAX_WORKERS,
                   "how many worker ports to cover (default 4)"),
        CLI_STRING("runtime", "LANGUAGE", &o.runtime, "node (default) or python (vscode only)"),
        CLI_END,
    };
    const struct cli_spec spec = {
        .command = "debug-config",
        .usage = "vscode|jetbrains [OPTIONS]",
        .about = about,
        .tables = {table},
        .min_operands = 1,
        .max_operands = 1,
        .operands_error = "name the IDE: vscode or jetbrains",
    };
    struct cli_args args;
    int code = cli_args_parse(&spec, argc, argv, &args);
    if (code != CLI_ARGS_CONTINUE)
        return code;
    int python = strcmp(o.runtime, "python") == 0;
    if (!python && strcmp(o.runtime, "node") != 0) {
        fprintf(stderr, "tether debug-config: --runtime must be node or python\n");
        return EXIT_USAGE;
    }
    if (o.port + o.workers - 1 > 65535) {
        fprintf(stderr, "tether debug-config: ports past 65535\n");
        return EXIT_USAGE;
    }
    if (strcmp(args.operands[0], "vscode") == 0)
        return print_vscode(&o, python);
    if (strcmp(args.operands[0], "jetbrains") == 0 && !python)
        return print_jetbrains(&o);
    if (strcmp(args.operands[0], "jetbrains") == 0) {
        fprintf(stderr, "tether debug-config: jetbrains: only Node.js workers (PyCharm attaches "
                        "with its own debugger, not debugpy)\n");
        return EXIT_USAGE;
    }
    fprintf(stderr, "tether debug-config: unknown IDE \"%s\" (vscode or jetbrains)\n",
            args.operands[0]);
    return EXIT_USAGE;
}
