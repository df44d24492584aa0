/* Finding tether's own files (core/home.h). */
#include "core/home.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cause.h"

/* build/san/tether is two levels below the repository; one more is slack. */
#define HOME_MAX_LEVELS 3

int tether_home(char *out, size_t out_len, char *cause, size_t cause_len)
{
    const char *env = getenv("TETHER_HOME");
    if (env && *env) {
        if ((size_t)snprintf(out, out_len, "%s", env) >= out_len)
            return cause_set(cause, cause_len, -ENAMETOOLONG, "TETHER_HOME is too long");
        return 0;
    }
    char exe[PATH_MAX], probe[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return cause_set(cause, cause_len, -ENOENT,
                         "cannot find tether's own files (set TETHER_HOME)");
    exe[n] = '\0';
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", exe);
    for (int up = 0; up < HOME_MAX_LEVELS; up++) {
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
            break;
        *slash = '\0';
        snprintf(probe, sizeof(probe), "%s/runtimes/node/index.mjs", dir);
        if (access(probe, R_OK) == 0) {
            if ((size_t)snprintf(out, out_len, "%s", dir) >= out_len)
                return cause_set(cause, cause_len, -ENAMETOOLONG, "%s is too long a path", dir);
            return 0;
        }
    }
    return cause_set(cause, cause_len, -ENOENT,
                     "cannot find tether's runtimes/ next to %s (set TETHER_HOME)", exe);
}
