#include "core/child.h"

#include <errno.h>
#include <signal.h>

int child_spawnattr_init(posix_spawnattr_t *attr)
{
    int rc = posix_spawnattr_init(attr);
    if (rc != 0)
        return -rc;
    sigset_t all, none;
    sigfillset(&all);
    /* These two cannot be caught or ignored, so they need no reset. */
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    sigemptyset(&none);
    rc = posix_spawnattr_setsigdefault(attr, &all);
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(attr, &none);
    if (rc == 0)
        rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    if (rc != 0) {
        posix_spawnattr_destroy(attr);
        return -rc;
    }
    return 0;
}

int child_spawn(pid_t *pid, const char *path, int search, const posix_spawn_file_actions_t *actions,
                char *const argv[], char *const envp[])
{
    posix_spawnattr_t attr;
    int rc = child_spawnattr_init(&attr);
    if (rc < 0)
        return rc;
    rc = search ? posix_spawnp(pid, path, actions, &attr, argv, envp)
                : posix_spawn(pid, path, actions, &attr, argv, envp);
    posix_spawnattr_destroy(&attr);
    return -rc;
}
