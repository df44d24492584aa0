/* The bridge's deployment package: which tether-bridge binary serves an
 * architecture, and the zip Lambda runs it from. This file owns both, for
 * `tether bridge package` (cli/cmd_bridge.c) and for whatever publishes the
 * bridge to AWS as a function's code or as a layer.
 *
 * The zip holds one entry, `bootstrap` (mode 0755), the static bridge,
 * stored uncompressed (core/zip.h). The same zip serves as a function's code
 * (Lambda runs /var/task/bootstrap) and as a layer (Lambda extracts a layer
 * to /opt, and provided.al2023 looks for /opt/bootstrap when the function
 * has none of its own).
 *
 * Every binary is checked before it is used: a 64-bit static Linux
 * executable for the architecture's ELF machine (core/elf.h), of at most
 * BRIDGE_PACKAGE_MAX_BINARY bytes. The version of a package is the hex
 * SHA-256 of the binary: two packages with the same version run the same
 * bridge, so a layer needs publishing once per version, region and
 * architecture. */
#ifndef TETHER_BRIDGE_PACKAGE_H
#define TETHER_BRIDGE_PACKAGE_H

#include <stddef.h>

#include "core/buf.h"

/* Lambda's limit is 250 MB unzipped; a bridge is about 2 MB. */
#define BRIDGE_PACKAGE_MAX_BINARY (200u * 1024 * 1024)
/* Hex SHA-256 and its NUL. */
#define BRIDGE_PACKAGE_VERSION_SIZE 65

/* The architectures Lambda offers, by Lambda's own names. */
enum bridge_arch {
    BRIDGE_ARCH_X86_64,
    BRIDGE_ARCH_ARM64,
};

/* Lambda's name: "x86_64" or "arm64". */
const char *bridge_arch_name(enum bridge_arch arch);
/* Lambda's names, and also Debian's and Go's (amd64) and the kernel's
 * (aarch64): 0, or -EINVAL with the reason in cause. */
int bridge_arch_parse(const char *name, enum bridge_arch *arch, char *cause, size_t cause_len);

/* The bridge binary for arch. With explicit_path, that file; otherwise the
 * build's: next to the running tether (for build/san/tether, in build/),
 * named tether-bridge for x86_64 and tether-bridge-arm64 for arm64. Either
 * way the file is checked (see above) before its path is written to out_path.
 * 0, -ENOENT (none found: the cause says how to build one), -EINVAL (not a
 * static executable for arch), or another -errno. */
int bridge_package_locate(enum bridge_arch arch, const char *explicit_path, char *out_path,
                          size_t out_len, char *cause, size_t cause_len);

struct bridge_package_info {
    size_t binary_size;
    char version[BRIDGE_PACKAGE_VERSION_SIZE];
};

/* Reads and checks the binary at path (as bridge_package_locate does) and
 * appends its zip to `zip`; info (may be NULL) receives the binary's size
 * and version. The entry's time is the binary's mtime. 0, or -errno with the
 * reason in cause; on failure zip may hold a partial archive. */
int bridge_package_zip(const char *path, enum bridge_arch arch, struct buf *zip,
                       struct bridge_package_info *info, char *cause, size_t cause_len);

#endif
