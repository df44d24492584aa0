/* core/private_file: .tether and its subdirectories 0700, files 0600 written
 * atomically, links and foreign directories refused, reads capped. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/private_file.h"
#include "test.h"

static char root[64];
static char cause[512];

static void make_root(void)
{
    snprintf(root, sizeof(root), "/tmp/tether-private-XXXXXX");
    CHECK(mkdtemp(root) != NULL);
}

static void drop_root(void)
{
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", root);
    CHECK_INT(system(command), 0);
}

static unsigned mode_of(const char *relative)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", root, relative);
    if (lstat(path, &st) < 0)
        return 01000; /* no such file: never a mode we expect */
    return st.st_mode & 0777;
}

static void put(const char *relative, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root, relative);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void link_in_root(const char *target, const char *relative)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root, relative);
    CHECK_INT(symlink(target, path), 0);
}

TEST(written_private_and_read_back)
{
    make_root();
    mode_t old = umask(022); /* a usual umask must not widen or narrow the modes */
    CHECK_INT(private_file_write(root, "keys/dev.key", "secret\n", 7, cause, sizeof(cause)), 0);
    umask(old);
    CHECK_INT(mode_of(".tether"), 0700);
    CHECK_INT(mode_of(".tether/keys"), 0700);
    CHECK_INT(mode_of(".tether/keys/dev.key"), 0600);
    struct buf b = BUF_INIT;
    CHECK_INT(private_file_read(root, "keys/dev.key", 64, &b, cause, sizeof(cause)), 0);
    CHECK_INT(buf_length(&b), 7);
    CHECK(memcmp(buf_bytes(&b), "secret\n", 7) == 0);
    /* Replaced whole: a shorter second version leaves nothing of the first. */
    CHECK_INT(private_file_write(root, "keys/dev.key", "new", 3, cause, sizeof(cause)), 0);
    buf_reset(&b);
    CHECK_INT(private_file_read(root, "keys/dev.key", 64, &b, cause, sizeof(cause)), 0);
    CHECK_INT(buf_length(&b), 3);
    buf_free(&b);
    drop_root();
}

TEST(loose_directory_of_ours_is_tightened)
{
    make_root();
    char path[128];
    snprintf(path, sizeof(path), "%s/.tether", root);
    CHECK_INT(mkdir(path, 0700), 0);
    CHECK_INT(chmod(path, 0755), 0);
    CHECK_INT(private_file_write(root, "dev.json", "{}", 2, cause, sizeof(cause)), 0);
    CHECK_INT(mode_of(".tether"), 0700);
    CHECK_INT(mode_of(".tether/dev.json"), 0600);
    drop_root();
}

TEST(linked_directories_refused)
{
    make_root();
    char elsewhere[128], path[160];
    snprintf(elsewhere, sizeof(elsewhere), "%s/elsewhere", root);
    CHECK_INT(mkdir(elsewhere, 0700), 0);
    link_in_root(elsewhere, ".tether");
    CHECK_INT(private_file_write(root, "dev.json", "{}", 2, cause, sizeof(cause)), -EPERM);
    CHECK(strstr(cause, "symbolic link") != NULL);
    CHECK_INT(private_dir_ensure(root, "log/x", cause, sizeof(cause)), -EPERM);
    struct buf b = BUF_INIT;
    CHECK_INT(private_file_read(root, "dev.json", 64, &b, cause, sizeof(cause)), -EPERM);
    snprintf(path, sizeof(path), "%s/dev.json", elsewhere);
    CHECK(access(path, F_OK) != 0); /* nothing was written through the link */
    /* The same one level down. */
    snprintf(path, sizeof(path), "%s/.tether", root);
    CHECK_INT(unlink(path), 0);
    CHECK_INT(private_dir_ensure(root, "dev.json", cause, sizeof(cause)), 0);
    link_in_root(elsewhere, ".tether/keys");
    CHECK_INT(private_file_write(root, "keys/a.key", "k", 1, cause, sizeof(cause)), -EPERM);
    snprintf(path, sizeof(path), "%s/a.key", elsewhere);
    CHECK(access(path, F_OK) != 0);
    buf_free(&b);
    drop_root();
}

TEST(linked_file_never_followed)
{
    make_root();
    CHECK_INT(private_dir_ensure(root, "dev.json", cause, sizeof(cause)), 0);
    put("victim", "precious");
    char victim[128];
    snprintf(victim, sizeof(victim), "%s/victim", root);
    link_in_root(victim, ".tether/dev.json");
    struct buf b = BUF_INIT;
    CHECK_INT(private_file_read(root, "dev.json", 64, &b, cause, sizeof(cause)), -EINVAL);
    CHECK_INT(buf_length(&b), 0);
    /* Writing refuses the planted link, and its target is untouched. */
    CHECK_INT(private_file_write(root, "dev.json", "{}", 2, cause, sizeof(cause)), -ELOOP);
    CHECK(strstr(cause, "in its place") != NULL);
    FILE *f = fopen(victim, "r");
    char text[16] = "";
    CHECK(f && fgets(text, sizeof(text), f));
    if (f)
        fclose(f);
    CHECK_STR(text, "precious");
    buf_free(&b);
    drop_root();
}

TEST(foreign_directory_refused)
{
    if (geteuid() != 0) {
        fprintf(stderr, "  (skipped: changing a directory's owner needs root)\n");
        return;
    }
    make_root();
    char path[128];
    snprintf(path, sizeof(path), "%s/.tether", root);
    CHECK_INT(mkdir(path, 0700), 0);
    CHECK_INT(chown(path, 65534, 65534), 0);
    CHECK_INT(private_file_write(root, "dev.json", "{}", 2, cause, sizeof(cause)), -EPERM);
    CHECK(strstr(cause, "not by you") != NULL);
    drop_root();
}

TEST(reads_capped_and_checked)
{
    make_root();
    char big[300];
    memset(big, 'x', sizeof(big));
    CHECK_INT(private_file_write(root, "log/big.json", big, sizeof(big), cause, sizeof(cause)), 0);
    struct buf b = BUF_INIT;
    CHECK_INT(private_file_read(root, "log/big.json", 299, &b, cause, sizeof(cause)), -EFBIG);
    CHECK_INT(buf_length(&b), 0);
    CHECK_INT(private_file_read(root, "log/big.json", 300, &b, cause, sizeof(cause)), 0);
    CHECK_INT(buf_length(&b), 300);
    buf_reset(&b);
    CHECK_INT(private_file_read(root, "log/none.json", 300, &b, cause, sizeof(cause)), -ENOENT);
    /* A FIFO in place of a file: refused at once, not waited on. */
    char fifo[128];
    snprintf(fifo, sizeof(fifo), "%s/.tether/log/fifo", root);
    CHECK_INT(mkfifo(fifo, 0600), 0);
    CHECK_INT(private_file_read(root, "log/fifo", 300, &b, cause, sizeof(cause)), -EINVAL);
    buf_free(&b);
    drop_root();
}

TEST(names_stay_inside)
{
    make_root();
    const char *bad[] = {"", "../x", "a/../b", "a/b/c", "..", "./x", "log/", "/abs"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INT(private_file_write(root, bad[i], "x", 1, cause, sizeof(cause)), -EINVAL);
    CHECK_INT(private_file_remove(root, "log/none", cause, sizeof(cause)), 0);
    CHECK_INT(private_file_write(root, "log/one", "x", 1, cause, sizeof(cause)), 0);
    CHECK_INT(private_file_remove(root, "log/one", cause, sizeof(cause)), 0);
    CHECK_INT(mode_of(".tether/log/one"), 01000);
    drop_root();
}

static void count_name(void *user, const char *name)
{
    CHECK(strcmp(name, "a.json") == 0 || strcmp(name, "b.json") == 0);
    (*(int *)user)++;
}

TEST(listing_shows_only_our_regular_files)
{
    make_root();
    int n = 0;
    CHECK_INT(private_dir_list(root, "log", count_name, &n, cause, sizeof(cause)), 0);
    CHECK_INT(n, 0); /* no directory yet: nothing */
    CHECK_INT(private_file_write(root, "log/a.json", "x", 1, cause, sizeof(cause)), 0);
    CHECK_INT(private_file_write(root, "log/b.json", "y", 1, cause, sizeof(cause)), 0);
    /* A link and a directory planted next to them are not listed. */
    char path[160];
    snprintf(path, sizeof(path), "%s/.tether/log/link.json", root);
    CHECK_INT(symlink("/etc/passwd", path), 0);
    snprintf(path, sizeof(path), "%s/.tether/log/dir.json", root);
    CHECK_INT(mkdir(path, 0700), 0);
    CHECK_INT(private_dir_list(root, "log", count_name, &n, cause, sizeof(cause)), 0);
    CHECK_INT(n, 2);
    drop_root();
}

RUN_TESTS("private_file", TEST_ENTRY(listing_shows_only_our_regular_files),
          TEST_ENTRY(written_private_and_read_back),
          TEST_ENTRY(loose_directory_of_ours_is_tightened), TEST_ENTRY(linked_directories_refused),
          TEST_ENTRY(linked_file_never_followed), TEST_ENTRY(foreign_directory_refused),
          TEST_ENTRY(reads_capped_and_checked), TEST_ENTRY(names_stay_inside))
