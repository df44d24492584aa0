/* Warm standbys: when one is started, taken over or discarded
 * (lambda/standby.h). */
#include <errno.h>
#include <string.h>

#define LOG_MODULE "lambda"
#include "core/log.h"
#include "lambda/standby.h"

struct lambda_sandbox *lambda_standby_of(const struct lambda_function *f)
{
    for (struct lambda_sandbox *sb = f->sandboxes; sb; sb = sb->next)
        if (sb->standby && sb->state == LAMBDA_SANDBOX_STARTING)
            return sb;
    return NULL;
}

/* Both NULL-terminated NAME=value lists (either may be NULL: empty), in
 * order: the session passes a worker's Init environment as it stored it. */
static int same_env(char *const *a, char *const *b)
{
    size_t i = 0;
    for (; a && b && a[i] && b[i]; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    return !(a && a[i]) && !(b && b[i]);
}

int lambda_standby_take(struct lambda_function *f, struct lambda_invocation *inv)
{
    struct lambda_sandbox *sb = lambda_standby_of(f);
    if (!sb || strcmp(sb->affinity, inv->affinity) != 0)
        return -ENOENT; /* another worker's standby stays for its worker */
    if (!same_env(sb->env_override, inv->env_override)) {
        /* A new Init or refreshed credentials: what it was started with is
         * stale, and a process cannot be given a new environment. */
        lambda_sandbox_stop(sb, "standby: the worker's environment changed");
        return -ENOENT;
    }
    lambda_sandbox_take_over(sb, inv);
    return 0;
}

/* A non-standby sandbox serves this remote worker now. */
static int worker_served(const struct lambda_function *f, const char *affinity)
{
    for (const struct lambda_sandbox *sb = f->sandboxes; sb; sb = sb->next)
        if (!sb->standby && sb->state != LAMBDA_SANDBOX_STOPPING &&
            sb->state != LAMBDA_SANDBOX_EXITED && strcmp(sb->affinity, affinity) == 0)
            return 1;
    return 0;
}

/* The standby still fits: it is for sb's worker with sb's environment, or
 * for another worker that is still served (two remote sandboxes share one
 * standby rather than replacing it in turn). */
static int standby_fits(const struct lambda_function *f, const struct lambda_sandbox *st,
                        const struct lambda_sandbox *sb)
{
    if (strcmp(st->affinity, sb->affinity) == 0)
        return same_env(st->env_override, sb->env_override);
    return worker_served(f, st->affinity);
}

void lambda_standby_refill(struct lambda_sandbox *sb)
{
    struct lambda_function *f = sb->function;
    if (!f->config->standby || !sb->affinity[0] || f->service->state != LAMBDA_SERVICE_RUNNING)
        return;
    struct lambda_sandbox *st = lambda_standby_of(f);
    if (st && standby_fits(f, st, sb))
        return;
    if (st)
        lambda_sandbox_stop(st, "standby: its worker's environment changed or it is gone");
    char cause[256];
    if (lambda_sandbox_start_standby(f, sb->affinity, sb->env_override, cause, sizeof(cause)) < 0)
        log_warn("%s: cannot start a standby: %s", f->config->name, cause);
}
