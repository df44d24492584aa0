/* A function's sandbox pool: queues, placement, cold starts, concurrency.
 *
 * An invocation goes to a sandbox that waits in GET /next; failing that, a
 * new sandbox is started *for* it (a cold start, bound to it, as Lambda does)
 * while fewer than `concurrency` sandboxes live; failing that it waits in the
 * function's queue (synchronous and Event invocations queue separately, each
 * with its own cap; a full queue throttles with 429). A sandbox that asks for
 * work takes its bound invocation first, then the queue's head (synchronous
 * before Event).
 *
 * A sandbox that has just answered asks for more within milliseconds, so
 * while there are as many of those as queued invocations, a cold start waits
 * LAMBDA_FINISHING_GRACE_MS for them first: back-to-back invocations then
 * reuse one warm sandbox instead of racing its next GET /next. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LOG_MODULE "lambda"
#include "core/log.h"
#include "lambda/lambda_internal.h"

static int queue_is_async(const struct lambda_invocation *inv)
{
    return inv->kind == LAMBDA_INVOCATION_EVENT;
}

static void queue_push(struct lambda_function *f, struct lambda_invocation *inv)
{
    struct lambda_invocation **head = queue_is_async(inv) ? &f->async_head : &f->sync_head;
    struct lambda_invocation **tail = queue_is_async(inv) ? &f->async_tail : &f->sync_tail;
    inv->queue_next = NULL;
    if (*tail)
        (*tail)->queue_next = inv;
    else
        *head = inv;
    *tail = inv;
    if (queue_is_async(inv))
        f->async_count++;
    else
        f->sync_count++;
}

static struct lambda_invocation *pop_from(struct lambda_invocation **head,
                                          struct lambda_invocation **tail, size_t *count)
{
    struct lambda_invocation *inv = *head;
    if (!inv)
        return NULL;
    *head = inv->queue_next;
    if (!*head)
        *tail = NULL;
    inv->queue_next = NULL;
    (*count)--;
    return inv;
}

static struct lambda_invocation *queue_pop(struct lambda_function *f)
{
    struct lambda_invocation *inv = pop_from(&f->sync_head, &f->sync_tail, &f->sync_count);
    return inv ? inv : pop_from(&f->async_head, &f->async_tail, &f->async_count);
}

static int queue_empty(const struct lambda_function *f)
{
    return !f->sync_head && !f->async_head;
}

size_t lambda_function_live_sandboxes(const struct lambda_function *f)
{
    size_t n = 0;
    for (const struct lambda_sandbox *sb = f->sandboxes; sb; sb = sb->next)
        if (sb->state != LAMBDA_SANDBOX_STOPPING && sb->state != LAMBDA_SANDBOX_EXITED)
            n++;
    return n;
}

static size_t finishing_sandboxes(const struct lambda_function *f)
{
    size_t n = 0;
    for (const struct lambda_sandbox *sb = f->sandboxes; sb; sb = sb->next)
        n += sb->state == LAMBDA_SANDBOX_FINISHING && !sb->waiting_next;
    return n;
}

/* An idle sandbox of the shared pool (sandboxes serving one remote worker
 * take only that worker's invocations). */
static struct lambda_sandbox *find_idle(struct lambda_function *f)
{
    for (struct lambda_sandbox *sb = f->sandboxes; sb; sb = sb->next)
        if (sb->state == LAMBDA_SANDBOX_IDLE && sb->waiting_next && !sb->affinity[0])
            return sb;
    return NULL;
}

static struct lambda_sandbox *find_affine(struct lambda_function *f, const char *affinity)
{
    for (struct lambda_sandbox *sb = f->sandboxes; sb; sb = sb->next)
        if (strcmp(sb->affinity, affinity) == 0 && sb->state != LAMBDA_SANDBOX_STOPPING &&
            sb->state != LAMBDA_SANDBOX_EXITED)
            return sb;
    return NULL;
}

/* A cold start for inv; if the runtime cannot even be started, inv fails the
 * way Lambda reports a missing or broken bootstrap. */
static void cold_start(struct lambda_function *f, struct lambda_invocation *inv)
{
    char cause[256], message[400];
    if (lambda_sandbox_start(f, inv, cause, sizeof(cause)) == 0)
        return;
    log_warn("%s: cannot start a sandbox: %s", f->config->name, cause);
    snprintf(message, sizeof(message), "RequestId: %s Error: %s", inv->request_id, cause);
    lambda_invocation_fail_message(inv, "Runtime.InvalidEntrypoint", message);
}

static void on_grace_over(uv_timer_t *timer)
{
    struct lambda_function *f = timer->data;
    f->grace_over = 1;
    lambda_function_kick(f);
    f->grace_over = 0;
}

void lambda_function_kick(struct lambda_function *f)
{
    if (f->service->state != LAMBDA_SERVICE_RUNNING)
        return;
    while (!queue_empty(f)) {
        struct lambda_sandbox *idle = find_idle(f);
        if (idle) {
            lambda_sandbox_dispatch(idle, queue_pop(f));
            continue;
        }
        if (lambda_function_live_sandboxes(f) >= f->config->concurrency)
            break;
        if (!f->grace_over && f->sync_count + f->async_count <= finishing_sandboxes(f)) {
            if (!uv_is_active((uv_handle_t *)&f->grace_timer))
                uv_timer_start(&f->grace_timer, on_grace_over, LAMBDA_FINISHING_GRACE_MS, 0);
            break;
        }
        cold_start(f, queue_pop(f));
    }
    if (queue_empty(f))
        uv_timer_stop(&f->grace_timer);
}

int lambda_function_submit(struct lambda_function *f, struct lambda_invocation *inv)
{
    if (f->service->state != LAMBDA_SERVICE_RUNNING)
        return -ESHUTDOWN;
    int can_start_now =
        queue_empty(f) &&
        (find_idle(f) != NULL || lambda_function_live_sandboxes(f) < f->config->concurrency);
    size_t cap = queue_is_async(inv) ? f->config->async_queue : f->config->queue;
    size_t count = queue_is_async(inv) ? f->async_count : f->sync_count;
    if (!can_start_now && count >= cap) {
        log_info("%s %s: throttled (%zu sandboxes busy, %zu waiting)", f->config->name,
                 inv->request_id, lambda_function_live_sandboxes(f), count);
        return -EAGAIN;
    }
    lambda_invocation_ref(inv); /* the function's reference, dropped when done */
    queue_push(f, inv);
    /* May run (and even finish) inv before returning. */
    lambda_function_kick(f);
    return 0;
}

void lambda_function_sandbox_ready(struct lambda_function *f, struct lambda_sandbox *sb)
{
    /* It ran an older generation's code to the end; new work gets new code. */
    if (sb->generation != f->generation && !sb->bound) {
        lambda_sandbox_stop(sb, "its function has new code or configuration");
        return;
    }
    if (sb->bound) {
        struct lambda_invocation *inv = sb->bound;
        sb->bound = NULL;
        lambda_sandbox_dispatch(sb, inv);
        return;
    }
    if (!sb->affinity[0] && !queue_empty(f) && f->service->state == LAMBDA_SERVICE_RUNNING)
        lambda_sandbox_dispatch(sb, queue_pop(f));
}

void lambda_function_sandbox_gone(struct lambda_function *f, struct lambda_sandbox *sb)
{
    for (struct lambda_sandbox **p = &f->sandboxes; *p; p = &(*p)->next) {
        if (*p == sb) {
            *p = sb->next;
            break;
        }
    }
    sb->linked = 0;
    if (f->deployment)
        lambda_deploy_sandbox_gone(f);
    lambda_function_kick(f);
}

void lambda_function_cancel_queued(struct lambda_function *f)
{
    struct lambda_invocation *inv;
    while ((inv = queue_pop(f)) != NULL)
        lambda_invocation_cancel(inv);
}

int lambda_function_submit_live(struct lambda_function *f, struct lambda_invocation *inv)
{
    if (f->service->state != LAMBDA_SERVICE_RUNNING)
        return -ESHUTDOWN;
    struct lambda_sandbox *sb = find_affine(f, inv->affinity);
    if (sb && sb->bound)
        return -EBUSY;          /* one invocation at a time per remote sandbox */
    lambda_invocation_ref(inv); /* the function's reference, dropped when done */
    if (!sb) {
        cold_start(f, inv);
    } else if (sb->state == LAMBDA_SANDBOX_IDLE && sb->waiting_next) {
        lambda_sandbox_dispatch(sb, inv);
    } else {
        /* Busy or finishing: it takes this one when it next asks for work. */
        sb->bound = inv;
        inv->sandbox = sb;
    }
    return 0;
}

void lambda_function_stop_sandboxes(struct lambda_function *f, const char *why)
{
    for (struct lambda_sandbox *sb = f->sandboxes; sb; sb = sb->next)
        if (sb->state != LAMBDA_SANDBOX_STOPPING && sb->state != LAMBDA_SANDBOX_EXITED)
            lambda_sandbox_stop(sb, why);
}

void lambda_function_retire(struct lambda_function *f, const char *why)
{
    f->generation++;
    /* Stopping may start queued work, which adds sandboxes of the new
     * generation at the head of the list only: the walk is unaffected. */
    for (struct lambda_sandbox *sb = f->sandboxes; sb; sb = sb->next)
        if (sb->generation != f->generation &&
            (sb->state == LAMBDA_SANDBOX_IDLE || sb->state == LAMBDA_SANDBOX_STARTING) &&
            !sb->bound)
            lambda_sandbox_stop(sb, why);
}

void lambda_function_stop_affine(struct lambda_function *f, const char *affinity, const char *why)
{
    if (!affinity[0])
        return;
    /* Stopping may start queued work, which adds sandboxes at the head of
     * the list only: the walk from here on is unaffected. */
    for (struct lambda_sandbox *sb = f->sandboxes; sb; sb = sb->next)
        if (strcmp(sb->affinity, affinity) == 0)
            lambda_sandbox_stop(sb, why);
}
