/* The ZIP writer (src/core/zip.c) and the ELF check (src/core/elf.c). The
 * archives are read back by an independent reader, Python's zipfile module,
 * which checks every entry's CRC (testzip) and reports sizes and modes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/elf.h"
#include "core/zip.h"
#include "elf_fixture.h"
#include "test.h"

static char zip_path[64];

/* Writes the archive to a temporary file. */
static int save(const struct buf *zip)
{
    snprintf(zip_path, sizeof(zip_path), "/tmp/tether-test-zip-%d.zip", (int)getpid());
    FILE *f = fopen(zip_path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(buf_bytes(zip), 1, buf_length(zip), f);
    fclose(f);
    return n == buf_length(zip) ? 0 : -1;
}

/* Runs Python's zipfile over the saved archive: one line per entry,
 * "name size crc mode", after "ok" when testzip found every CRC right. */
static char *read_back(void)
{
    char command[512];
    snprintf(command, sizeof(command),
             "python3 -c 'import sys, zipfile\n"
             "z = zipfile.ZipFile(sys.argv[1])\n"
             "print(\"ok\" if z.testzip() is None else \"bad\")\n"
             "for i in z.infolist(): print(i.filename, i.file_size, \"%%08x\" %% i.CRC, "
             "oct(i.external_attr >> 16), i.compress_type)' %s",
             zip_path);
    FILE *p = popen(command, "r");
    if (!p)
        return NULL;
    static char out[4096];
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    return out;
}

TEST(test_crc32_known_values)
{
    CHECK_INT(zip_crc32(0, "", 0), 0);
    CHECK_INT(zip_crc32(0, "123456789", 9), 0xcbf43926u); /* the standard check value */
    uint32_t split = zip_crc32(zip_crc32(0, "1234", 4), "56789", 5);
    CHECK_INT(split, 0xcbf43926u);
}

TEST(test_archive_read_back)
{
    size_t big_len = 200 * 1024 + 7; /* more than 64 KiB */
    unsigned char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (unsigned char)(i * 31 + (i >> 8));
    struct buf zip = BUF_INIT;
    struct zip_writer z;
    zip_writer_init(&z, &zip);
    CHECK_INT(zip_add(&z, "bootstrap", "#!/bin/sh\necho hi\n", 18, 0755, 1700000000), 0);
    CHECK_INT(zip_add(&z, "empty", "", 0, 0644, 1700000000), 0);
    CHECK_INT(zip_add(&z, "dir/big.bin", big, big_len, 0600, 0), 0);
    CHECK_INT(zip_finish(&z), 0);
    CHECK_INT(save(&zip), 0);
    char *out = read_back();
    CHECK(out != NULL);
    char expected[512];
    snprintf(expected, sizeof(expected),
             "ok\nbootstrap 18 %08x 0o100755 0\nempty 0 00000000 0o100644 0\n"
             "dir/big.bin %zu %08x 0o100600 0\n",
             zip_crc32(0, "#!/bin/sh\necho hi\n", 18), big_len, zip_crc32(0, big, big_len));
    CHECK_STR(out, expected);
    unlink(zip_path);
    free(big);
    buf_free(&zip);
}

TEST(test_unzip_keeps_the_executable_bit)
{
    struct buf zip = BUF_INIT;
    struct zip_writer z;
    zip_writer_init(&z, &zip);
    CHECK_INT(zip_add(&z, "bootstrap", "#!/bin/sh\necho from-zip\n", 24, 0755, 1700000000), 0);
    CHECK_INT(zip_finish(&z), 0);
    CHECK_INT(save(&zip), 0);
    if (access("/usr/bin/unzip", X_OK) == 0) {
        char command[256], dir[64];
        snprintf(dir, sizeof(dir), "/tmp/tether-test-unzip-%d", (int)getpid());
        snprintf(command, sizeof(command),
                 "rm -rf %s && unzip -tq %s >/dev/null && unzip -q %s -d %s && %s/bootstrap", dir,
                 zip_path, zip_path, dir, dir);
        FILE *p = popen(command, "r");
        char out[64] = "";
        size_t n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
        out[n] = '\0';
        CHECK_INT(p ? pclose(p) : -1, 0);
        CHECK_STR(out, "from-zip\n");
        snprintf(command, sizeof(command), "rm -rf %s", dir);
        CHECK_INT(system(command), 0);
    } else {
        /* scripts/install-deps --tests installs it: its absence is a failure. */
        fprintf(stderr, "  unzip is not installed (scripts/install-deps --tests)\n");
        CHECK(0);
    }
    unlink(zip_path);
    buf_free(&zip);
}

TEST(test_refuses_bad_names)
{
    struct buf zip = BUF_INIT;
    struct zip_writer z;
    zip_writer_init(&z, &zip);
    CHECK_INT(zip_add(&z, "", "x", 1, 0644, 0), -EINVAL);
    CHECK_INT(zip_add(&z, "/etc/passwd", "x", 1, 0644, 0), -EINVAL);
    zip_writer_free(&z);
    buf_free(&zip);
}

TEST(test_elf_check)
{
    unsigned char e[ELF_FIXTURE_SIZE];
    char why[300];
    elf_fixture(e, ELF_MACHINE_X86_64, 1 /* PT_LOAD */);
    CHECK_INT(elf_check_static_executable(e, 120, ELF_MACHINE_X86_64, "b", why, sizeof(why)), 0);
    CHECK_INT(elf_check_static_executable(e, 120, ELF_MACHINE_AARCH64, "b", why, sizeof(why)),
              -EINVAL);
    CHECK_STR(why, "b is built for x86_64, not arm64");
    elf_fixture(e, ELF_MACHINE_AARCH64, 3 /* PT_INTERP */);
    CHECK_INT(elf_check_static_executable(e, 120, ELF_MACHINE_AARCH64, "b", why, sizeof(why)),
              -EINVAL);
    CHECK(strstr(why, "dynamically linked") != NULL);
    /* The program header lies beyond the data: not read. */
    CHECK_INT(elf_check_static_executable(e, 66, ELF_MACHINE_AARCH64, "b", why, sizeof(why)), 0);
    CHECK_INT(
        elf_check_static_executable("#!/bin/sh\n", 10, ELF_MACHINE_X86_64, "s", why, sizeof(why)),
        -EINVAL);
    CHECK_STR(why, "s is not a 64-bit Linux executable");
    e[4] = 1; /* 32-bit */
    CHECK_INT(elf_check_static_executable(e, 120, ELF_MACHINE_AARCH64, "b", why, sizeof(why)),
              -EINVAL);
}

RUN_TESTS("zip", TEST_ENTRY(test_crc32_known_values), TEST_ENTRY(test_archive_read_back),
          TEST_ENTRY(test_unzip_keeps_the_executable_bit), TEST_ENTRY(test_refuses_bad_names),
          TEST_ENTRY(test_elf_check))
