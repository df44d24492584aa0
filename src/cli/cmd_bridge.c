/* `tether bridge package`: the deployment zip for a Lambda function that runs
 * the bridge (docs/deploy.md). The zip holds one entry, `bootstrap` (mode
 * 0755), the static tether-bridge, stored uncompressed: Lambda accepts stored
 * entries, and this keeps tether free of a deflate dependency. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/buf.h"

#define BRIDGE_MAX_SIZE (200u * 1024 * 1024) /* Lambda: 250 MB unzipped */
#define ELF_MACHINE_X86_64 62
#define ELF_MACHINE_AARCH64 183
#define ELF_PT_INTERP 3

const char cmd_bridge_help[] =
    "usage: tether bridge package [--arch x86_64|arm64] [--output FILE] [--bridge FILE]\n"
    "\n"
    "Writes the deployment package of the bridge: a zip whose only entry is\n"
    "`bootstrap` (mode 0755), the static tether-bridge, for a Lambda function with\n"
    "runtime provided.al2023 (docs/deploy.md says how to deploy and configure it).\n"
    "\n"
    "options:\n"
    "  --arch ARCH       x86_64 (default) or arm64; the function's architecture\n"
    "  --output FILE     where to write the zip (default: tether-bridge-ARCH.zip)\n"
    "  --bridge FILE     the tether-bridge binary to package (default: the one\n"
    "                    next to tether, or build/tether-bridge); it must be a\n"
    "                    static Linux executable for ARCH\n"
    "\n"
    "arm64: tether's build makes no arm64 bridge on this platform (see\n"
    "docs/deploy.md); build one on an arm64 Linux machine with `make\n"
    "build/tether-bridge` and pass it with --bridge.\n";

struct package_options {
    const char *arch;
    const char *output;
    const char *bridge;
    char default_output[64];
};

/* ---- CRC-32 (IEEE 802.3, the zip format's) ---- */

static uint32_t crc32_update(uint32_t crc, const unsigned char *data, size_t len)
{
    static uint32_t table[256];
    if (!table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    }
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- the zip ---- */

static int put16(struct buf *b, unsigned v)
{
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    return buf_append(b, x, 2);
}

static int put32(struct buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    return buf_append(b, x, 4);
}

/* MS-DOS date and time, as zip entries carry them. */
static void dos_time(time_t t, unsigned *date, unsigned *clock)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    if (tm.tm_year < 80)
        tm = (struct tm){.tm_year = 80, .tm_mday = 1};
    *date = (unsigned)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
    *clock = (unsigned)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
}

/* Appends a header common to the local and central records, from "version
 * needed" to the name length. */
static int put_entry_fields(struct buf *z, uint32_t crc, uint32_t size, size_t name_len,
                            time_t mtime)
{
    unsigned date, clock;
    dos_time(mtime, &date, &clock);
    int rc = put16(z, 10);      /* version needed: 1.0, stored */
    rc = rc ? rc : put16(z, 0); /* flags */
    rc = rc ? rc : put16(z, 0); /* method: stored */
    rc = rc ? rc : put16(z, clock);
    rc = rc ? rc : put16(z, date);
    rc = rc ? rc : put32(z, crc);
    rc = rc ? rc : put32(z, size); /* compressed */
    rc = rc ? rc : put32(z, size); /* uncompressed */
    return rc ? rc : put16(z, (unsigned)name_len);
}

/* One stored entry, mode 0755 (a Unix "version made by", so unzip and Lambda
 * keep the executable bit). */
static int zip_one_file(struct buf *z, const char *name, const unsigned char *data, uint32_t size,
                        time_t mtime)
{
    uint32_t crc = crc32_update(0, data, size);
    size_t name_len = strlen(name);
    int rc = put32(z, 0x04034b50);
    rc = rc ? rc : put_entry_fields(z, crc, size, name_len, mtime);
    rc = rc ? rc : put16(z, 0); /* extra length */
    rc = rc ? rc : buf_append(z, name, name_len);
    rc = rc ? rc : buf_append(z, data, size);
    uint32_t central = (uint32_t)buf_length(z);
    rc = rc ? rc : put32(z, 0x02014b50);
    rc = rc ? rc : put16(z, 3 << 8 | 20); /* made by: Unix, 2.0 */
    rc = rc ? rc : put_entry_fields(z, crc, size, name_len, mtime);
    rc = rc ? rc : put16(z, 0);                                /* extra length */
    rc = rc ? rc : put16(z, 0);                                /* comment length */
    rc = rc ? rc : put16(z, 0);                                /* disk */
    rc = rc ? rc : put16(z, 0);                                /* internal attributes */
    rc = rc ? rc : put32(z, (uint32_t)(S_IFREG | 0755) << 16); /* external: the mode */
    rc = rc ? rc : put32(z, 0);                                /* local header offset */
    rc = rc ? rc : buf_append(z, name, name_len);
    uint32_t central_size = (uint32_t)buf_length(z) - central;
    rc = rc ? rc : put32(z, 0x06054b50);
    rc = rc ? rc : put16(z, 0);
    rc = rc ? rc : put16(z, 0);
    rc = rc ? rc : put16(z, 1);
    rc = rc ? rc : put16(z, 1);
    rc = rc ? rc : put32(z, central_size);
    rc = rc ? rc : put32(z, central);
    return rc ? rc : put16(z, 0);
}

/* ---- the bridge binary ---- */

static int read_whole(const char *path, struct buf *out, time_t *mtime, char *cause,
                      size_t cause_len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) < 0) {
        snprintf(cause, cause_len, "%s: %s", path, strerror(errno));
        if (f)
            fclose(f);
        return -ENOENT;
    }
    int rc = 0;
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > BRIDGE_MAX_SIZE) {
        snprintf(cause, cause_len, "%s: not a regular file of a plausible size", path);
        rc = -EINVAL;
    } else if (buf_reserve(out, (size_t)st.st_size) < 0) {
        rc = -ENOMEM;
    } else if (fread(out->data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        snprintf(cause, cause_len, "%s: short read", path);
        rc = -EIO;
    } else {
        out->len = (size_t)st.st_size;
        *mtime = st.st_mtime;
    }
    fclose(f);
    return rc;
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* A 64-bit little-endian ELF executable for `machine` with no interpreter
 * (statically linked: provided.al2023 has no libraries tether could rely on). */
static int check_elf(const struct buf *b, unsigned machine, const char *path, char *cause,
                     size_t cause_len)
{
    const unsigned char *e = (const unsigned char *)b->data;
    size_t len = b->len;
    if (len < 64 ||
        memcmp(e,
               "\x7f"
               "ELF",
               4) != 0 ||
        e[4] != 2 || e[5] != 1) {
        snprintf(cause, cause_len, "%s is not a 64-bit Linux executable", path);
        return -EINVAL;
    }
    unsigned found = (unsigned)le(e + 18, 2);
    if (found != machine) {
        snprintf(cause, cause_len, "%s is built for %s, not %s", path,
                 found == ELF_MACHINE_X86_64    ? "x86_64"
                 : found == ELF_MACHINE_AARCH64 ? "arm64"
                                                : "another machine",
                 machine == ELF_MACHINE_X86_64 ? "x86_64" : "arm64");
        return -EINVAL;
    }
    uint64_t phoff = le(e + 32, 8), phentsize = le(e + 54, 2), phnum = le(e + 56, 2);
    for (uint64_t i = 0; i < phnum; i++) {
        uint64_t at = phoff + i * phentsize;
        if (phentsize < 4 || at + 4 > len)
            break;
        if (le(e + at, 4) == ELF_PT_INTERP) {
            snprintf(cause, cause_len,
                     "%s is dynamically linked (a sanitizer build?); package the static "
                     "build/tether-bridge (`make build/tether-bridge`)",
                     path);
            return -EINVAL;
        }
    }
    return 0;
}

/* The default bridge: next to this executable, then build/ above it. */
static int find_bridge(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return -ENOENT;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -ENOENT;
    *slash = '\0';
    snprintf(out, cap, "%s/tether-bridge", exe);
    struct stat st;
    /* build/san/tether sits beside a sanitizer bridge: prefer build/'s static one. */
    size_t len = strlen(exe);
    if (len >= 4 && strcmp(exe + len - 4, "/san") == 0) {
        exe[len - 4] = '\0';
        snprintf(out, cap, "%s/tether-bridge", exe);
    }
    return stat(out, &st) == 0 ? 0 : -ENOENT;
}

/* ---- the command ---- */

static int write_file(const char *path, const struct buf *z, char *cause, size_t cause_len)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(cause, cause_len, "%s: %s", tmp, strerror(errno));
        return -errno;
    }
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
    unsigned machine = strcmp(o->arch, "arm64") == 0 ? ELF_MACHINE_AARCH64 : ELF_MACHINE_X86_64;
    char found[PATH_MAX];
    const char *path = o->bridge;
    if (!path && machine == ELF_MACHINE_AARCH64) {
        snprintf(cause, cause_len,
                 "no arm64 bridge: this build makes x86_64 only (docs/deploy.md, \"arm64\"); "
                 "build tether-bridge on an arm64 Linux machine and pass it with --bridge FILE");
        return -ENOTSUP;
    }
    if (!path) {
        if (find_bridge(found, sizeof(found)) < 0) {
            snprintf(cause, cause_len,
                     "cannot find tether-bridge next to tether or in build/; run `make "
                     "build/tether-bridge` or pass --bridge FILE");
            return -ENOENT;
        }
        path = found;
    }
    struct buf binary = BUF_INIT, zip = BUF_INIT;
    time_t mtime = 0;
    int rc = read_whole(path, &binary, &mtime, cause, cause_len);
    if (rc == 0)
        rc = check_elf(&binary, machine, path, cause, cause_len);
    if (rc == 0 && (rc = zip_one_file(&zip, "bootstrap", (const unsigned char *)binary.data,
                                      (uint32_t)binary.len, mtime)) < 0)
        snprintf(cause, cause_len, "out of memory");
    if (rc == 0)
        rc = write_file(o->output, &zip, cause, cause_len);
    if (rc == 0)
        printf("%s: bootstrap (%s, %zu bytes) from %s\n", o->output, o->arch, binary.len, path);
    buf_free(&binary);
    buf_free(&zip);
    return rc;
}

static int parse_package(int argc, char **argv, struct package_options *o)
{
    static const struct option options[] = {{"arch", required_argument, 0, 'a'},
                                            {"output", required_argument, 0, 'o'},
                                            {"bridge", required_argument, 0, 'b'},
                                            {"help", no_argument, 0, 'h'},
                                            {0, 0, 0, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "ho:", options, NULL)) != -1) {
        switch (opt) {
        case 'a':
            o->arch = strcmp(optarg, "aarch64") == 0 ? "arm64"
                      : strcmp(optarg, "amd64") == 0 ? "x86_64"
                                                     : optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'b':
            o->bridge = optarg;
            break;
        case 'h':
            fputs(cmd_bridge_help, stdout);
            exit(EXIT_OK);
        default:
            return -EINVAL;
        }
    }
    if (optind < argc || (strcmp(o->arch, "x86_64") != 0 && strcmp(o->arch, "arm64") != 0))
        return -EINVAL;
    if (!o->output) {
        snprintf(o->default_output, sizeof(o->default_output), "tether-bridge-%s.zip", o->arch);
        o->output = o->default_output;
    }
    return 0;
}

int cmd_bridge_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(cmd_bridge_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[1], "package") != 0) {
        fprintf(stderr, "tether bridge: unknown subcommand \"%s\" (see `tether bridge --help`)\n",
                argv[1]);
        return EXIT_USAGE;
    }
    struct package_options o = {.arch = "x86_64"};
    if (parse_package(argc - 1, argv + 1, &o) < 0) {
        fputs(cmd_bridge_help, stderr);
        return EXIT_USAGE;
    }
    char cause[PATH_MAX + 300];
    if (package(&o, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "tether bridge package: %s\n", cause);
        return EXIT_FAILURE_RUNTIME;
    }
    return EXIT_OK;
}
