/* The bridge's package (src/bridge/package.c): architectures by name, which
 * binaries are accepted, and the zip and version made of one. The zip is read
 * back by Python's zipfile and the version compared with sha256sum's, two
 * independent readers. The binaries are small synthetic ELF files; the real
 * bridges are packaged in tests/integration/bridge-arm64.test.mjs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/package.h"
#include "core/elf.h"
#include "elf_fixture.h"
#include "test.h"

static char elf_path[64], zip_path[64];

/* Writes a minimal ELF64 executable for machine, with one program header of
 * type phtype (1 PT_LOAD, 3 PT_INTERP), and some payload after it. */
static void write_elf(unsigned machine, unsigned phtype)
{
    unsigned char e[256];
    elf_fixture(e, machine, phtype);
    for (size_t i = ELF_FIXTURE_SIZE; i < sizeof(e); i++)
        e[i] = (unsigned char)(i * 7);
    snprintf(elf_path, sizeof(elf_path), "/tmp/tether-test-bridge-%d", (int)getpid());
    FILE *f = fopen(elf_path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK_INT(fwrite(e, 1, sizeof(e), f), sizeof(e));
        fclose(f);
    }
}

/* The first line a shell command prints. */
static char *run(const char *command)
{
    static char out[512];
    out[0] = '\0';
    FILE *p = popen(command, "r");
    if (!p)
        return out;
    if (!fgets(out, sizeof(out), p))
        out[0] = '\0';
    pclose(p);
    out[strcspn(out, "\n")] = '\0';
    return out;
}

TEST(test_arch_names)
{
    enum bridge_arch arch = BRIDGE_ARCH_X86_64;
    char why[200];
    CHECK_INT(bridge_arch_parse("aarch64", &arch, why, sizeof(why)), 0);
    CHECK_INT(arch, BRIDGE_ARCH_ARM64);
    CHECK_STR(bridge_arch_name(arch), "arm64");
    CHECK_INT(bridge_arch_parse("amd64", &arch, why, sizeof(why)), 0);
    CHECK_STR(bridge_arch_name(arch), "x86_64");
    CHECK_INT(bridge_arch_parse("arm64", &arch, why, sizeof(why)), 0);
    CHECK_INT(bridge_arch_parse("x86_64", &arch, why, sizeof(why)), 0);
    CHECK_INT(arch, BRIDGE_ARCH_X86_64);
    CHECK_INT(bridge_arch_parse("riscv64", &arch, why, sizeof(why)), -EINVAL);
    CHECK_STR(why, "\"riscv64\" is not x86_64 or arm64");
}

TEST(test_locate_checks_an_explicit_binary)
{
    char path[256], why[400];
    write_elf(ELF_MACHINE_AARCH64, 1);
    CHECK_INT(
        bridge_package_locate(BRIDGE_ARCH_ARM64, elf_path, path, sizeof(path), why, sizeof(why)),
        0);
    CHECK_STR(path, elf_path);
    CHECK_INT(
        bridge_package_locate(BRIDGE_ARCH_X86_64, elf_path, path, sizeof(path), why, sizeof(why)),
        -EINVAL);
    CHECK(strstr(why, "is built for arm64, not x86_64") != NULL);
    write_elf(ELF_MACHINE_AARCH64, 3);
    CHECK_INT(
        bridge_package_locate(BRIDGE_ARCH_ARM64, elf_path, path, sizeof(path), why, sizeof(why)),
        -EINVAL);
    CHECK(strstr(why, "dynamically linked") != NULL);
    unlink(elf_path);
    CHECK_INT(
        bridge_package_locate(BRIDGE_ARCH_ARM64, elf_path, path, sizeof(path), why, sizeof(why)),
        -ENOENT);
    CHECK_INT(
        bridge_package_locate(BRIDGE_ARCH_ARM64, "/tmp", path, sizeof(path), why, sizeof(why)),
        -EINVAL);
    CHECK_STR(why, "/tmp: not a regular file of a plausible size");
}

/* The default is looked up next to the running program: this test's
 * directory holds no bridge, and the cause says how to build one. */
TEST(test_locate_says_how_to_build_a_missing_bridge)
{
    char path[256], why[400];
    CHECK_INT(bridge_package_locate(BRIDGE_ARCH_ARM64, NULL, path, sizeof(path), why, sizeof(why)),
              -ENOENT);
    CHECK(strstr(why, "tether-bridge-arm64") != NULL);
    CHECK(strstr(why, "make bridge-arm64") != NULL);
}

TEST(test_zip_and_version)
{
    char why[400], command[256];
    write_elf(ELF_MACHINE_AARCH64, 1);
    struct buf zip = BUF_INIT;
    struct bridge_package_info info;
    CHECK_INT(bridge_package_zip(elf_path, BRIDGE_ARCH_ARM64, &zip, &info, why, sizeof(why)), 0);
    CHECK_INT(info.binary_size, 256);
    snprintf(command, sizeof(command), "sha256sum %s | cut -d' ' -f1", elf_path);
    CHECK_STR(info.version, run(command));

    snprintf(zip_path, sizeof(zip_path), "/tmp/tether-test-bridge-%d.zip", (int)getpid());
    FILE *f = fopen(zip_path, "wb");
    CHECK(f != NULL);
    if (f) {
        fwrite(buf_bytes(&zip), 1, buf_length(&zip), f);
        fclose(f);
    }
    snprintf(command, sizeof(command),
             "python3 -c 'import sys, zipfile\n"
             "z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None\n"
             "print(*[(i.filename, i.file_size, oct(i.external_attr >> 16)) for i in "
             "z.infolist()])' %s",
             zip_path);
    CHECK_STR(run(command), "('bootstrap', 256, '0o100755')");

    /* A binary for the other machine makes no zip. */
    buf_reset(&zip);
    CHECK_INT(bridge_package_zip(elf_path, BRIDGE_ARCH_X86_64, &zip, NULL, why, sizeof(why)),
              -EINVAL);
    CHECK_INT(buf_length(&zip), 0);
    buf_free(&zip);
    unlink(zip_path);
    unlink(elf_path);
}

RUN_TESTS("bridge_package", TEST_ENTRY(test_arch_names),
          TEST_ENTRY(test_locate_checks_an_explicit_binary),
          TEST_ENTRY(test_locate_says_how_to_build_a_missing_bridge),
          TEST_ENTRY(test_zip_and_version))
