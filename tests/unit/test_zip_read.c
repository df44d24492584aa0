/* The ZIP reader (zip_walk, zip_extract in src/core/zip.c) on archives an
 * independent writer made: Python's zipfile (deflated and stored entries,
 * Unix modes, symlinks, hostile names), and on archives damaged by hand. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/zip.h"
#include "test.h"

static const struct zip_limits limits = {1000, 64 * 1024 * 1024};

/* Runs a Python snippet that writes a zip with `z` (zipfile.ZipFile, mode
 * "w", deflated) and reads the archive into out. */
static int python_zip(const char *body, struct buf *out)
{
    char path[64], command[4096];
    snprintf(path, sizeof(path), "/tmp/tether-test-zipr-%d.zip", (int)getpid());
    snprintf(command, sizeof(command),
             "python3 -c 'import sys, zipfile, stat\n"
             "z = zipfile.ZipFile(sys.argv[1], \"w\", zipfile.ZIP_DEFLATED)\n"
             "def link(name, target):\n"
             "    i = zipfile.ZipInfo(name)\n"
             "    i.create_system = 3\n"
             "    i.external_attr = (stat.S_IFLNK | 0o777) << 16\n"
             "    z.writestr(i, target)\n"
             "def mode(name, data, m):\n"
             "    i = zipfile.ZipInfo(name)\n"
             "    i.create_system = 3\n"
             "    i.external_attr = (stat.S_IFREG | m) << 16\n"
             "    i.compress_type = zipfile.ZIP_DEFLATED\n"
             "    z.writestr(i, data)\n"
             "%s\n"
             "z.close()' %s",
             body, path);
    int rc = system(command);
    buf_init(out);
    rc = rc == 0 ? buf_read_file(out, path, 1 << 26) : -1;
    unlink(path);
    return rc;
}

static char *make_dir(void)
{
    static char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/tether-test-zipx-XXXXXX");
    return mkdtemp(dir);
}

static void remove_dir(const char *dir)
{
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", dir);
    CHECK_INT(system(command), 0);
}

static int file_is(const char *dir, const char *name, const char *content)
{
    char path[512];
    struct buf b = BUF_INIT;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int ok = buf_read_file(&b, path, 1 << 20) == 0 && buf_length(&b) == strlen(content) &&
             memcmp(buf_bytes(&b), content, strlen(content)) == 0;
    buf_free(&b);
    return ok;
}

static unsigned mode_of(const char *dir, const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return lstat(path, &st) == 0 ? (unsigned)st.st_mode : 0;
}

TEST(test_extracts_deflated_and_stored_entries_with_modes)
{
    struct buf zip;
    CHECK_INT(python_zip("z.writestr(\"a.txt\", \"hello \" * 1000)\n"
                         "z.writestr(\"dir/sub/b.txt\", \"nested\", zipfile.ZIP_STORED)\n"
                         "mode(\"bin/run\", \"#!/bin/sh\\n\", 0o755)\n"
                         "z.writestr(\"empty/\", \"\")\n"
                         "link(\"lib/current\", \"a.txt\")",
                         &zip),
              0);
    char *dir = make_dir();
    CHECK(dir != NULL);
    uint64_t total = 0;
    char cause[256] = "";
    CHECK_INT(
        zip_extract(buf_bytes(&zip), buf_length(&zip), dir, &limits, &total, cause, sizeof(cause)),
        0);
    char expected[6001] = "";
    for (int i = 0; i < 1000; i++)
        strcat(expected, "hello ");
    CHECK(file_is(dir, "a.txt", expected));
    CHECK(file_is(dir, "dir/sub/b.txt", "nested"));
    CHECK_INT(mode_of(dir, "bin/run") & 0777, 0755);
    CHECK_INT(mode_of(dir, "a.txt") & 0777, 0600); /* what zipfile's writestr records */
    CHECK(S_ISDIR(mode_of(dir, "empty")));
    CHECK(S_ISLNK(mode_of(dir, "lib/current")));
    CHECK_INT(total, 6000 + 6 + 10 + 5);
    remove_dir(dir);
    buf_free(&zip);
}

TEST(test_later_archive_overwrites_files)
{
    struct buf one, two;
    CHECK_INT(python_zip("z.writestr(\"f.txt\", \"first\")\nz.writestr(\"keep.txt\", \"k\")", &one),
              0);
    CHECK_INT(python_zip("z.writestr(\"f.txt\", \"second\")", &two), 0);
    char *dir = make_dir();
    char cause[256];
    CHECK_INT(
        zip_extract(buf_bytes(&one), buf_length(&one), dir, &limits, NULL, cause, sizeof(cause)),
        0);
    CHECK_INT(
        zip_extract(buf_bytes(&two), buf_length(&two), dir, &limits, NULL, cause, sizeof(cause)),
        0);
    CHECK(file_is(dir, "f.txt", "second"));
    CHECK(file_is(dir, "keep.txt", "k"));
    remove_dir(dir);
    buf_free(&one);
    buf_free(&two);
}

/* Each archive must be refused, and nothing may appear outside dir. */
static void refused(const char *body, int expected_rc, const char *cause_part)
{
    struct buf zip;
    CHECK_INT(python_zip(body, &zip), 0);
    char *dir = make_dir();
    char cause[256] = "";
    CHECK_INT(
        zip_extract(buf_bytes(&zip), buf_length(&zip), dir, &limits, NULL, cause, sizeof(cause)),
        expected_rc);
    if (!strstr(cause, cause_part))
        fprintf(stderr, "cause: %s\n", cause);
    CHECK(strstr(cause, cause_part) != NULL);
    CHECK(access("/tmp/tether-zip-escaped", F_OK) != 0);
    remove_dir(dir);
    buf_free(&zip);
}

TEST(test_refuses_paths_that_leave_the_folder)
{
    refused("z.writestr(\"../../../tmp/tether-zip-escaped\", \"x\")", -EINVAL, "safe relative");
    refused("z.writestr(\"/tmp/tether-zip-escaped\", \"x\")", -EINVAL, "safe relative");
    refused("z.writestr(\"a/../../tether-zip-escaped\", \"x\")", -EINVAL, "safe relative");
    refused("z.writestr(\"a\\\\..\\\\b\", \"x\")", -EINVAL, "safe relative");
    refused("link(\"out\", \"/tmp\")", -EINVAL, "outside");
    refused("link(\"out\", \"../..\")", -EINVAL, "outside");
    /* A link to a folder inside, then a file through it: not followed. */
    refused("link(\"d\", \"sub\")\nz.writestr(\"sub/x\", \"x\")\nz.writestr(\"d/y\", \"y\")",
            -ENOTDIR, "enter a directory");
}

TEST(test_limits_stop_a_zip_bomb)
{
    struct buf zip;
    /* 80 MB of zeros deflate to about 80 KB. */
    CHECK_INT(python_zip("z.writestr(\"zeros\", bytes(80 * 1024 * 1024))", &zip), 0);
    CHECK(buf_length(&zip) < 1024 * 1024);
    char *dir = make_dir();
    char cause[256] = "";
    CHECK_INT(
        zip_extract(buf_bytes(&zip), buf_length(&zip), dir, &limits, NULL, cause, sizeof(cause)),
        -EFBIG);
    CHECK(strstr(cause, "more than the limit") != NULL);
    struct zip_limits few = {1, 1 << 20};
    buf_free(&zip);
    CHECK_INT(python_zip("z.writestr(\"a\", \"1\")\nz.writestr(\"b\", \"2\")", &zip), 0);
    CHECK_INT(zip_extract(buf_bytes(&zip), buf_length(&zip), dir, &few, NULL, cause, sizeof(cause)),
              -EFBIG);
    remove_dir(dir);
    buf_free(&zip);
}

static int count_begin(void *user, const struct zip_entry *e)
{
    (void)e;
    ++*(int *)user;
    return 0;
}

static int count_data(void *user, const void *bytes, size_t len)
{
    (void)user;
    (void)bytes;
    (void)len;
    return 0;
}

TEST(test_damaged_archives_are_refused)
{
    static const struct zip_walk_ops ops = {count_begin, count_data, count_begin};
    struct buf zip;
    CHECK_INT(python_zip("z.writestr(\"a.txt\", \"some text to deflate, some text\")", &zip), 0);
    char cause[256];
    int seen = 0;
    CHECK_INT(
        zip_walk(buf_bytes(&zip), buf_length(&zip), &limits, &ops, &seen, cause, sizeof(cause)), 0);
    CHECK_INT(seen, 2);
    /* Truncated: no end record. */
    CHECK_INT(zip_walk(buf_bytes(&zip), buf_length(&zip) - 10, &limits, &ops, &seen, cause,
                       sizeof(cause)),
              -EINVAL);
    CHECK_INT(zip_walk("", 0, &limits, &ops, &seen, cause, sizeof(cause)), -EINVAL);
    /* A flipped byte in the deflated data: a corrupt stream or a CRC mismatch. */
    struct buf bad = BUF_INIT;
    buf_append(&bad, buf_bytes(&zip), buf_length(&zip));
    buf_bytes(&bad)[30 + 5 + 3] ^= 0x55;
    CHECK_INT(
        zip_walk(buf_bytes(&bad), buf_length(&bad), &limits, &ops, &seen, cause, sizeof(cause)),
        -EINVAL);
    /* Our own writer's archives read back. */
    struct buf own = BUF_INIT;
    struct zip_writer w;
    zip_writer_init(&w, &own);
    CHECK_INT(zip_add(&w, "bootstrap", "#!/bin/sh\n", 10, 0755, 0), 0);
    CHECK_INT(zip_finish(&w), 0);
    seen = 0;
    CHECK_INT(
        zip_walk(buf_bytes(&own), buf_length(&own), &limits, &ops, &seen, cause, sizeof(cause)), 0);
    CHECK_INT(seen, 2);
    buf_free(&own);
    buf_free(&bad);
    buf_free(&zip);
}

RUN_TESTS("zip_read", TEST_ENTRY(test_extracts_deflated_and_stored_entries_with_modes),
          TEST_ENTRY(test_later_archive_overwrites_files),
          TEST_ENTRY(test_refuses_paths_that_leave_the_folder),
          TEST_ENTRY(test_limits_stop_a_zip_bomb), TEST_ENTRY(test_damaged_archives_are_refused))
