/* tether_home: TETHER_HOME wins; without it the binary's own directories are
 * searched for runtimes/, and a miss says where it looked. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/home.h"
#include "test.h"

TEST(environment_wins)
{
    char out[256], cause[300];
    setenv("TETHER_HOME", "/opt/tether-test", 1);
    CHECK_INT(tether_home(out, sizeof(out), cause, sizeof(cause)), 0);
    CHECK_STR(out, "/opt/tether-test");
    char small[8];
    CHECK_INT(tether_home(small, sizeof(small), cause, sizeof(cause)), -ENAMETOOLONG);
    unsetenv("TETHER_HOME");
}

/* Without TETHER_HOME: found (build/tests/ is two levels below the
 * repository) only where runtimes/ really is; missed (build/san/tests/ is
 * three) with a cause naming the binary and the variable. */
TEST(search_from_the_binary)
{
    char out[256], cause[300] = "", probe[300];
    unsetenv("TETHER_HOME");
    int rc = tether_home(out, sizeof(out), cause, sizeof(cause));
    if (rc == 0) {
        snprintf(probe, sizeof(probe), "%s/runtimes/node/index.mjs", out);
        CHECK_INT(access(probe, R_OK), 0);
    } else {
        CHECK_INT(rc, -ENOENT);
        CHECK(strstr(cause, "test_home") != NULL);
        CHECK(strstr(cause, "TETHER_HOME") != NULL);
    }
}

RUN_TESTS("home", TEST_ENTRY(environment_wins), TEST_ENTRY(search_from_the_binary))
