/* .tether/dev.json: what tether dev writes, tether invoke reads back; the
 * file's mode; each way the reader refuses; and the check of a function
 * against tether.json. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dev/state.h"
#include "test.h"

static char root[64];

static void make_root(void)
{
    snprintf(root, sizeof(root), "/tmp/tether-dev-state-XXXXXX");
    CHECK(mkdtemp(root) != NULL);
}

static void drop_root(void)
{
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", root);
    CHECK_INT(system(command), 0);
}

static void write_file(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", root, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

TEST(written_state_reads_back)
{
    make_root();
    struct dev_state s = {.app = "shop",
                          .stage = "jane",
                          .events = "http://127.0.0.1:4000/event",
                          .api_key = "da2-local",
                          .lambda = "http://127.0.0.1:9000",
                          .pid = getpid()};
    CHECK_INT(dev_state_write(root, &s), 0);
    char path[128];
    struct stat st;
    snprintf(path, sizeof(path), "%s/.tether/dev.json", root);
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600); /* it holds the API key */
    struct dev_state back;
    char cause[256] = "";
    CHECK_INT(dev_state_read(root, &back, cause, sizeof(cause)), 0);
    CHECK_STR(back.app, "shop");
    CHECK_STR(back.stage, "jane");
    CHECK_STR(back.events, s.events);
    CHECK_STR(back.api_key, "da2-local");
    CHECK_STR(back.lambda, s.lambda);
    CHECK_INT(back.pid, getpid());
    /* An old file readable by others is made private when rewritten. */
    CHECK_INT(chmod(path, 0644), 0);
    CHECK_INT(dev_state_write(root, &s), 0);
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    /* Another dev's file (its pid, still running) is left alone. */
    struct dev_state other = s;
    other.pid = getppid();
    CHECK_INT(dev_state_write(root, &other), 0);
    dev_state_remove(root);
    CHECK_INT(access(path, F_OK), 0);
    CHECK_INT(dev_state_write(root, &s), 0);
    dev_state_remove(root);
    CHECK_INT(dev_state_read(root, &back, cause, sizeof(cause)), -ENOENT);
    /* A link left in the project is not followed when writing. */
    char link_path[160];
    snprintf(link_path, sizeof(link_path), "%s/.tether/dev.json", root);
    CHECK_INT(symlink("/tmp/tether-dev-state-target", link_path), 0);
    CHECK(dev_state_write(root, &s) < 0);
    CHECK(access("/tmp/tether-dev-state-target", F_OK) != 0);
    drop_root();
}

TEST(reader_refuses_bad_files)
{
    make_root();
    char dir[128], cause[256] = "";
    struct dev_state back;
    snprintf(dir, sizeof(dir), "%s/.tether", root);
    CHECK_INT(mkdir(dir, 0700), 0);
    write_file(".tether/dev.json", "{not json");
    CHECK_INT(dev_state_read(root, &back, cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "dev.json") != NULL);
    write_file(".tether/dev.json", "{\"pid\": 1}");
    CHECK_INT(dev_state_read(root, &back, cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "lacks \"lambda\" or \"pid\"") != NULL);
    write_file(".tether/dev.json", "{\"lambda\": \"http://127.0.0.1:9000\"}");
    CHECK_INT(dev_state_read(root, &back, cause, sizeof(cause)), -EINVAL);
    /* tether invoke would send the event there: only loopback HTTP. */
    char planted[160];
    snprintf(planted, sizeof(planted), "{\"lambda\": \"http://198.51.100.7:9000\", \"pid\": %d}",
             (int)getpid());
    write_file(".tether/dev.json", planted);
    CHECK_INT(dev_state_read(root, &back, cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "not tether dev's loopback address") != NULL);
    snprintf(planted, sizeof(planted), "{\"lambda\": \"https://127.0.0.1:9000\", \"pid\": %d}",
             (int)getpid());
    write_file(".tether/dev.json", planted);
    CHECK_INT(dev_state_read(root, &back, cause, sizeof(cause)), -EINVAL);
    /* Bigger than dev ever writes. */
    char *big = malloc(70 * 1024);
    CHECK(big != NULL);
    if (big) {
        memset(big, ' ', 70 * 1024 - 1);
        big[0] = '{';
        big[70 * 1024 - 2] = '}';
        big[70 * 1024 - 1] = '\0';
        write_file(".tether/dev.json", big);
        free(big);
        CHECK_INT(dev_state_read(root, &back, cause, sizeof(cause)), -EINVAL);
        CHECK(strstr(cause, "larger than tether dev writes") != NULL);
    }
    /* A pid that cannot name a process: dev has exited. */
    write_file(".tether/dev.json", "{\"lambda\": \"http://127.0.0.1:9000\", \"pid\": 4294967296}");
    CHECK_INT(dev_state_read(root, &back, cause, sizeof(cause)), -ESRCH);
    CHECK(strstr(cause, "pid 4294967296") != NULL);
    drop_root();
}

TEST(function_checked_against_tether_json)
{
    make_root();
    char cause[512] = "";
    unsigned timeout_s = 0;
    CHECK_INT(dev_state_check_function(root, "Api", &timeout_s, cause, sizeof(cause)), 1);
    write_file("tether.json",
               "{\"app\":\"shop\",\"functions\":{"
               "\"Api\":{\"handler\":\"a.handler\",\"runtime\":\"nodejs20.x\",\"timeout\":7},"
               "\"Off\":{\"handler\":\"b.handler\",\"runtime\":\"nodejs20.x\",\"live\":false}}}");
    CHECK_INT(dev_state_check_function(root, "Api", &timeout_s, cause, sizeof(cause)), 0);
    CHECK_INT(timeout_s, 7);
    CHECK_INT(dev_state_check_function(root, "Off", &timeout_s, cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "\"live\": false") != NULL);
    CHECK_INT(dev_state_check_function(root, "Nope", &timeout_s, cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "no function \"Nope\"") != NULL);
    CHECK(strstr(cause, " Api Off (not live)") != NULL);
    write_file("tether.json", "{\"app\":\"shop\",\"events\":{\"http\":"
                              "\"https://x.appsync-api.us-east-1.amazonaws.com/event\","
                              "\"apiKey\":\"k\"},\"functions\":{\"Api\":{\"handler\":\"a.handler\","
                              "\"runtime\":\"nodejs20.x\"}}}");
    CHECK_INT(dev_state_check_function(root, "Api", &timeout_s, cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "run in AWS Lambda") != NULL);
    drop_root();
}

TEST(stage_key_made_kept_and_overridden)
{
    make_root();
    char cause[512] = "", path[160];
    struct bridge_key made, again, other;
    enum dev_key_origin origin;
    unsetenv("TETHER_BRIDGE_KEY");
    CHECK_INT(dev_key_read(root, "jane", &made, cause, sizeof(cause)), -ENOENT);
    CHECK_INT(dev_key_resolve(root, "jane", NULL, 0, &made, &origin, cause, sizeof(cause)),
              -ENOENT); /* not made unless asked */
    CHECK_INT(dev_key_resolve(root, "jane", NULL, 1, &made, &origin, cause, sizeof(cause)), 0);
    CHECK_INT(origin, DEV_KEY_CREATED);
    struct stat st;
    dev_key_path(root, "jane", path, sizeof(path));
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    snprintf(path, sizeof(path), "%s/.tether/keys", root);
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0700);
    CHECK_INT(dev_key_resolve(root, "jane", NULL, 1, &again, &origin, cause, sizeof(cause)), 0);
    CHECK_INT(origin, DEV_KEY_FROM_PROJECT);
    CHECK(memcmp(made.bytes, again.bytes, sizeof(made.bytes)) == 0);
    /* The environment wins over the file, --key-file over both. */
    char text[BRIDGE_KEY_TEXT_SIZE];
    CHECK_INT(bridge_key_generate(&other), 0);
    bridge_key_format(&other, text);
    setenv("TETHER_BRIDGE_KEY", text, 1);
    CHECK_INT(dev_key_resolve(root, "jane", NULL, 1, &again, &origin, cause, sizeof(cause)), 0);
    CHECK_INT(origin, DEV_KEY_FROM_ENV);
    CHECK(memcmp(other.bytes, again.bytes, sizeof(other.bytes)) == 0);
    dev_key_path(root, "jane", path, sizeof(path));
    CHECK_INT(dev_key_resolve(root, "other", path, 1, &again, &origin, cause, sizeof(cause)), 0);
    CHECK_INT(origin, DEV_KEY_FROM_FILE);
    CHECK(memcmp(made.bytes, again.bytes, sizeof(made.bytes)) == 0);
    setenv("TETHER_BRIDGE_KEY", "tk1.not-a-key-at-all", 1);
    CHECK_INT(dev_key_resolve(root, "jane", NULL, 1, &again, &origin, cause, sizeof(cause)),
              -EINVAL);
    CHECK(strstr(cause, "not-a-key") == NULL); /* a cause never echoes a secret */
    unsetenv("TETHER_BRIDGE_KEY");
    /* A file that is not a key, and a stage that cannot name a file. */
    write_file("notakey", "tk1.secret-but-wrong\n");
    snprintf(path, sizeof(path), "%s/notakey", root);
    CHECK_INT(dev_key_read_file(path, &again, cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "secret-but-wrong") == NULL);
    CHECK_INT(dev_key_resolve(root, "../x", NULL, 1, &again, &origin, cause, sizeof(cause)),
              -EINVAL);
    CHECK(strstr(cause, "cannot name a key file") != NULL);
    /* Rotation replaces the file. */
    CHECK_INT(dev_key_write(root, "jane", &other, cause, sizeof(cause)), 0);
    CHECK_INT(dev_key_read(root, "jane", &again, cause, sizeof(cause)), 0);
    CHECK(memcmp(other.bytes, again.bytes, sizeof(other.bytes)) == 0);
    drop_root();
}

RUN_TESTS("dev_state", TEST_ENTRY(written_state_reads_back), TEST_ENTRY(reader_refuses_bad_files),
          TEST_ENTRY(function_checked_against_tether_json),
          TEST_ENTRY(stage_key_made_kept_and_overridden))
