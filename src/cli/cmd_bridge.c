/* `tether bridge package`: writes the deployment zip of the bridge for a
 * Lambda function (docs/deploy.md); which binary and what the zip holds are
 * bridge/package.h's.
 *
 * `tether bridge key`: where a stage's bridge key is kept (dev/state.h),
 * made when missing, rotated or printed on request. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/package.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "core/buf.h"
#include "core/cause.h"
#include "core/encoding.h"
#include "dev/state.h"

static const char about[] =
    "Writes the deployment package of the bridge: a zip whose only entry is\n"
    "`bootstrap` (mode 0755), the static tether-bridge, for a Lambda function with\n"
    "runtime provided.al2023 (docs/deploy.md says how to deploy and configure it).\n"
    "The same zip works as a layer: Lambda runs /opt/bootstrap.\n";

static const char footer[] =
    "The bridges: build/tether-bridge (x86_64) and build/tether-bridge-arm64\n"
    "(arm64, `make bridge-arm64` with Debian's cross toolchain, docs/bridge.md),\n"
    "or the same names next to an installed tether. The printed sha256 of the\n"
    "binary is the bridge's version.\n"
    "\n"
    "The function also needs the stage's bridge key in TETHER_BRIDGE_KEY:\n"
    "see `tether bridge key --help`.\n";

struct package_options {
    enum bridge_arch arch;
    const char *output;
    const char *bridge;
    char default_output[64];
};

/* ---- the command ---- */

/* Writes the zip beside path first, so a failure never leaves half a file. */
static int write_file(const char *path, const struct buf *z, char *cause, size_t cause_len)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return cause_set(cause, cause_len, -errno, "%s: %s", tmp, strerror(errno));
    size_t off = 0;
    while (off < z->len) {
        ssize_t n = write(fd, z->data + off, z->len - off);
        if (n < 0) {
            snprintf(cause, cause_len, "%s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            return -EIO;
        }
        off += (size_t)n;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        snprintf(cause, cause_len, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -EIO;
    }
    return 0;
}

static int package(const struct package_options *o, char *cause, size_t cause_len)
{
    char path[PATH_MAX];
    int rc = bridge_package_locate(o->arch, o->bridge, path, sizeof(path), cause, cause_len);
    if (rc < 0)
        return rc;
    struct buf zip = BUF_INIT;
    struct bridge_package_info info;
    rc = bridge_package_zip(path, o->arch, &zip, &info, cause, cause_len);
    if (rc == 0)
        rc = write_file(o->output, &zip, cause, cause_len);
    if (rc == 0)
        printf("%s: bootstrap (%s, %zu bytes, sha256 %s) from %s\n"
               "Set TETHER_BRIDGE_KEY in the function's environment to the stage's bridge key\n"
               "(kept in .tether/keys/STAGE.key; `tether bridge key --print` shows it).\n",
               o->output, bridge_arch_name(o->arch), info.binary_size, info.version, path);
    buf_free(&zip);
    return rc;
}

/* --arch: the function's architecture; Debian's and Go's names are accepted. */
static int parse_arch(void *target, const char *value, char *cause, size_t cause_len)
{
    return bridge_arch_parse(value, target, cause, cause_len);
}

/* CLI_ARGS_CONTINUE, or the exit code after --help or a usage error. */
static int parse_package(int argc, char **argv, struct package_options *o)
{
    const struct cli_option table[] = {
        CLI_CALL("arch", "ARCH", parse_arch, &o->arch,
                 "x86_64 (default) or arm64; the function's architecture"),
        {.name = "output",
         .short_name = 'o',
         .kind = CLI_ARG_STRING,
         .metavar = "FILE",
         .target = &o->output,
         .help = "where to write the zip (default: tether-bridge-ARCH.zip)"},
        CLI_STRING("bridge", "FILE", &o->bridge,
                   "the tether-bridge binary to package (default: the one\n"
                   "for ARCH next to tether, or in build/); it must be a\n"
                   "static Linux executable for ARCH"),
        CLI_END,
    };
    const struct cli_spec spec = {
        .command = "bridge package",
        .usage = "[--arch x86_64|arm64] [--output FILE] [--bridge FILE]",
        .about = about,
        .footer = footer,
        .tables = {table},
    };
    struct cli_args args;
    int code = cli_args_parse(&spec, argc, argv, &args);
    if (code == CLI_ARGS_CONTINUE && !o->output) {
        snprintf(o->default_output, sizeof(o->default_output), "tether-bridge-%s.zip",
                 bridge_arch_name(o->arch));
        o->output = o->default_output;
    }
    return code;
}

/* ---- tether bridge key ---- */

static const char key_about[] =
    "Shows where the bridge key of the project's stage is kept\n"
    "(.tether/keys/STAGE.key, mode 0600), and makes it when there is none. The\n"
    "bridge and tether dev share this key: every packet between them is\n"
    "authenticated and encrypted with it. A deployed bridge gets it in its\n"
    "function's environment as TETHER_BRIDGE_KEY (docs/deploy.md).\n";

static const char key_footer[] =
    "--rotate replaces the key: every deployed bridge of the stage stops working\n"
    "(its packets no longer open) until its TETHER_BRIDGE_KEY is set to the new key,\n"
    "and a running tether dev must be restarted.\n";

struct key_options {
    const char *config_path;
    const char *stage;
    int rotate;
    int print;
};

static int parse_key(int argc, char **argv, struct key_options *o)
{
    const struct cli_option table[] = {
        CLI_STRING("config", "FILE", &o->config_path,
                   "tether.json to use (default: search upwards)"),
        CLI_STRING("stage", "NAME", &o->stage, "the stage (default: tether.json's)"),
        CLI_FLAG("rotate", &o->rotate, "replace the key with a new one (see below)"),
        CLI_FLAG("print", &o->print, "print the key itself on stdout (and nothing else there)"),
        CLI_END,
    };
    const struct cli_spec spec = {
        .command = "bridge key",
        .usage = "[--stage NAME] [--rotate] [--print]",
        .about = key_about,
        .footer = key_footer,
        .tables = {table},
    };
    struct cli_args args;
    return cli_args_parse(&spec, argc, argv, &args);
}

/* The stage's key: rotated, read, or made when missing. what says which. */
static int stage_key(const struct dev_config *p, int rotate, struct bridge_key *key,
                     const char **what, char *cause, size_t cause_len)
{
    int rc = rotate ? -ENOENT : dev_key_read(p->root, p->stage, key, cause, cause_len);
    *what = "kept";
    if (rc != -ENOENT)
        return rc;
    *what = rotate ? "rotated" : "created";
    if ((rc = bridge_key_generate(key)) < 0) {
        snprintf(cause, cause_len, "cannot make a bridge key: %s", strerror(-rc));
        return rc;
    }
    return dev_key_write(p->root, p->stage, key, cause, cause_len);
}

static int key_main(int argc, char **argv)
{
    struct key_options o = {0};
    int code = parse_key(argc, argv, &o);
    if (code != CLI_ARGS_CONTINUE)
        return code;
    struct dev_config project;
    char cause[PATH_MAX + 300], path[PATH_MAX + 96];
    memset(&project, 0, sizeof(project));
    if (dev_project_load(o.config_path, o.stage, &project, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether bridge key: %s\n", cause);
        return EXIT_USAGE;
    }
    struct bridge_key key;
    const char *what;
    int rc = stage_key(&project, o.rotate, &key, &what, cause, sizeof(cause));
    dev_key_path(project.root, project.stage, path, sizeof(path));
    if (rc < 0) {
        fprintf(stderr, "tether bridge key: %s\n", cause);
    } else {
        /* With --print, stdout holds the key alone: $(tether bridge key --print). */
        FILE *status = o.print ? stderr : stdout;
        fprintf(status, "app %s, stage %s: bridge key %s in %s\n", project.app, project.stage, what,
                path);
        if (o.rotate)
            fprintf(status, "deployed bridges of this stage stop working until their "
                            "TETHER_BRIDGE_KEY is set to the new key; restart tether dev\n");
        else if (!o.print)
            fprintf(status, "set it as TETHER_BRIDGE_KEY in the environment of every function "
                            "that runs the bridge (--print shows it)\n");
        if (o.print) {
            char text[BRIDGE_KEY_TEXT_SIZE];
            bridge_key_format(&key, text);
            printf("%s\n", text);
            secure_wipe(text, sizeof(text));
        }
    }
    bridge_key_wipe(&key);
    dev_config_free(&project);
    return rc < 0 ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

int cmd_bridge_main(int argc, char **argv)
{
    struct package_options o = {.arch = BRIDGE_ARCH_X86_64};
    if (argc < 2) {
        fprintf(stderr,
                "tether bridge: give a subcommand: package or key (see `tether bridge --help`)\n");
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "key") == 0)
        return key_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        char package[] = "package", help[] = "--help";
        char *help_argv[] = {package, help, NULL};
        return parse_package(2, help_argv, &o);
    }
    if (strcmp(argv[1], "package") != 0) {
        fprintf(stderr, "tether bridge: unknown subcommand \"%s\" (see `tether bridge --help`)\n",
                argv[1]);
        return EXIT_USAGE;
    }
    int code = parse_package(argc - 1, argv + 1, &o);
    if (code != CLI_ARGS_CONTINUE)
        return code;
    char cause[PATH_MAX + 300];
    if (package(&o, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether bridge package: %s\n", cause);
        return EXIT_FAILURE_RUNTIME;
    }
    return EXIT_OK;
}
