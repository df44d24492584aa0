#include "bridge/package.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/cause.h"
#include "core/crypto.h"
#include "core/elf.h"
#include "core/encoding.h"
#include "core/zip.h"

const char *bridge_arch_name(enum bridge_arch arch)
{
    return arch == BRIDGE_ARCH_ARM64 ? "arm64" : "x86_64";
}

int bridge_arch_parse(const char *name, enum bridge_arch *arch, char *cause, size_t cause_len)
{
    if (strcmp(name, "x86_64") == 0 || strcmp(name, "amd64") == 0)
        *arch = BRIDGE_ARCH_X86_64;
    else if (strcmp(name, "arm64") == 0 || strcmp(name, "aarch64") == 0)
        *arch = BRIDGE_ARCH_ARM64;
    else
        return cause_set(cause, cause_len, -EINVAL, "\"%s\" is not x86_64 or arm64", name);
    return 0;
}

static enum elf_machine arch_machine(enum bridge_arch arch)
{
    return arch == BRIDGE_ARCH_ARM64 ? ELF_MACHINE_AARCH64 : ELF_MACHINE_X86_64;
}

/* The build's file name for arch's bridge (the Makefile's targets). */
static const char *arch_file(enum bridge_arch arch)
{
    return arch == BRIDGE_ARCH_ARM64 ? "tether-bridge-arm64" : "tether-bridge";
}

/* The whole binary at path, with its mtime, after the checks that need only
 * the file system: a regular file of a plausible size. The ELF check follows
 * in check_binary. */
static int read_binary(const char *path, struct buf *out, time_t *mtime, char *cause,
                       size_t cause_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cause_set(cause, cause_len, -errno, "%s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fileno(f), &st) < 0)
        rc = cause_set(cause, cause_len, -errno, "%s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
             (uint64_t)st.st_size > BRIDGE_PACKAGE_MAX_BINARY)
        rc = cause_set(cause, cause_len, -EINVAL, "%s: not a regular file of a plausible size",
                       path);
    else if ((rc = buf_read_stream(out, f, BRIDGE_PACKAGE_MAX_BINARY)) < 0)
        rc = cause_set(cause, cause_len, rc, "%s: cannot read it: %s", path, strerror(-rc));
    else
        *mtime = st.st_mtime;
    fclose(f);
    return rc;
}

/* Reads the binary at path and checks that it can serve arch. */
static int load_binary(const char *path, enum bridge_arch arch, struct buf *out, time_t *mtime,
                       char *cause, size_t cause_len)
{
    int rc = read_binary(path, out, mtime, cause, cause_len);
    if (rc == 0)
        rc = elf_check_static_executable(buf_bytes(out), buf_length(out), arch_machine(arch), path,
                                         cause, cause_len);
    return rc;
}

/* The directory of the running tether, where the build puts the bridges;
 * a sanitizer build (build/san/tether) looks in build/, because its own
 * bridge is dynamically linked and cannot run in Lambda. */
static int bridge_dir(char *dir, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", dir, cap - 1);
    if (n <= 0)
        return -ENOENT;
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (!slash)
        return -ENOENT;
    *slash = '\0';
    size_t len = strlen(dir);
    if (len >= 4 && strcmp(dir + len - 4, "/san") == 0)
        dir[len - 4] = '\0';
    return 0;
}

int bridge_package_locate(enum bridge_arch arch, const char *explicit_path, char *out_path,
                          size_t out_len, char *cause, size_t cause_len)
{
    char dir[PATH_MAX];
    if (explicit_path) {
        if ((size_t)snprintf(out_path, out_len, "%s", explicit_path) >= out_len)
            return cause_set(cause, cause_len, -ENAMETOOLONG, "the bridge's path is too long");
    } else if (bridge_dir(dir, sizeof(dir)) < 0 ||
               (size_t)snprintf(out_path, out_len, "%s/%s", dir, arch_file(arch)) >= out_len ||
               access(out_path, F_OK) < 0) {
        return cause_set(cause, cause_len, -ENOENT,
                         "cannot find %s next to tether or in build/; run `make %s` "
                         "(docs/bridge.md says what it needs) or pass --bridge FILE",
                         arch_file(arch),
                         arch == BRIDGE_ARCH_ARM64 ? "bridge-arm64" : "build/tether-bridge");
    }
    struct buf binary = BUF_INIT;
    time_t mtime;
    int rc = load_binary(out_path, arch, &binary, &mtime, cause, cause_len);
    buf_free(&binary);
    return rc;
}

/* The package: one entry, `bootstrap`, executable. */
static int zip_bootstrap(struct buf *zip, const struct buf *binary, time_t mtime)
{
    struct zip_writer z;
    zip_writer_init(&z, zip);
    int rc = zip_add(&z, "bootstrap", buf_bytes(binary), buf_length(binary), 0755, mtime);
    if (rc < 0) {
        zip_writer_free(&z);
        return rc;
    }
    return zip_finish(&z);
}

static int describe(const struct buf *binary, struct bridge_package_info *info, char *cause,
                    size_t cause_len)
{
    uint8_t digest[CRYPTO_SHA256_SIZE];
    if (crypto_sha256(buf_bytes(binary), buf_length(binary), digest) < 0)
        return cause_set(cause, cause_len, -EIO, "cannot hash the bridge");
    info->binary_size = buf_length(binary);
    hex_encode(info->version, digest, sizeof(digest));
    return 0;
}

int bridge_package_zip(const char *path, enum bridge_arch arch, struct buf *zip,
                       struct bridge_package_info *info, char *cause, size_t cause_len)
{
    struct buf binary = BUF_INIT;
    time_t mtime = 0;
    int rc = load_binary(path, arch, &binary, &mtime, cause, cause_len);
    if (rc == 0 && info)
        rc = describe(&binary, info, cause, cause_len);
    if (rc == 0 && (rc = zip_bootstrap(zip, &binary, mtime)) < 0)
        cause_set(cause, cause_len, rc, "cannot build the zip: %s", strerror(-rc));
    buf_free(&binary);
    return rc;
}
