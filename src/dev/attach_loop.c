#include "dev/attach_loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A report copied for the loop. */
struct queued {
    struct queued *next;
    struct attach_report report;
    char *function_id, *deployed, *detail;
};

struct attach_loop {
    uv_async_t wake;
    int wake_open;
    attach_loop_report_fn on_report;
    void (*done)(void *ctx);
    void *ctx;
    pthread_mutex_t lock; /* queue, direct, finished */
    struct queued *head, **tail;
    int direct;   /* deliver at once (after finish) */
    int finished; /* the thread has tried every target */
    struct attach *attach;
    const struct attach_target *targets;
    size_t count;
    pthread_t thread;
    int thread_started;
};

static void free_queued(struct queued *q)
{
    free(q->function_id);
    free(q->deployed);
    free(q->detail);
    free(q);
}

/* Takes the whole queue. */
static struct queued *take(struct attach_loop *l, int *finished)
{
    pthread_mutex_lock(&l->lock);
    struct queued *all = l->head;
    l->head = NULL;
    l->tail = &l->head;
    if (finished) {
        *finished = l->finished;
        l->finished = 0;
    }
    pthread_mutex_unlock(&l->lock);
    return all;
}

static void deliver(struct attach_loop *l, struct queued *q)
{
    while (q) {
        struct queued *next = q->next;
        l->on_report(l->ctx, &q->report);
        free_queued(q);
        q = next;
    }
}

static void on_wake(uv_async_t *async)
{
    struct attach_loop *l = async->data;
    int finished = 0;
    deliver(l, take(l, &finished));
    if (finished && l->done)
        l->done(l->ctx);
}

int attach_loop_new(uv_loop_t *loop, attach_loop_report_fn on_report, void (*done)(void *ctx),
                    void *ctx, struct attach_loop **out)
{
    struct attach_loop *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->on_report = on_report;
    l->done = done;
    l->ctx = ctx;
    l->tail = &l->head;
    pthread_mutex_init(&l->lock, NULL);
    int rc = uv_async_init(loop, &l->wake, on_wake);
    if (rc < 0) {
        pthread_mutex_destroy(&l->lock);
        free(l);
        return rc;
    }
    l->wake.data = l;
    l->wake_open = 1;
    *out = l;
    return 0;
}

static char *copy(const char *s)
{
    return strdup(s ? s : "");
}

void attach_loop_report(void *ctx, const struct attach_report *r)
{
    struct attach_loop *l = ctx;
    pthread_mutex_lock(&l->lock);
    int direct = l->direct;
    pthread_mutex_unlock(&l->lock);
    if (direct) {
        l->on_report(l->ctx, r);
        return;
    }
    struct queued *q = calloc(1, sizeof(*q));
    if (!q)
        return;
    q->report = *r;
    q->report.function_id = q->function_id = copy(r->function_id);
    q->report.deployed = q->deployed = copy(r->deployed);
    q->report.detail = q->detail = copy(r->detail);
    if (!q->function_id || !q->deployed || !q->detail) {
        free_queued(q);
        return;
    }
    pthread_mutex_lock(&l->lock);
    *l->tail = q;
    l->tail = &q->next;
    if (l->wake_open)
        uv_async_send(&l->wake);
    pthread_mutex_unlock(&l->lock);
}

static void *run(void *arg)
{
    struct attach_loop *l = arg;
    char cause[512] = "";
    if (attach_run(l->attach, l->targets, l->count, cause, sizeof(cause)) < 0) {
        struct attach_report r = {ATTACH_FAILED, "", "", 0, cause};
        attach_loop_report(l, &r);
    }
    pthread_mutex_lock(&l->lock);
    l->finished = 1;
    if (l->wake_open)
        uv_async_send(&l->wake);
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

int attach_loop_run(struct attach_loop *l, struct attach *a, const struct attach_target *targets,
                    size_t count)
{
    l->attach = a;
    l->targets = targets;
    l->count = count;
    int rc = pthread_create(&l->thread, NULL, run, l);
    if (rc != 0)
        return -rc;
    l->thread_started = 1;
    return 0;
}

void attach_loop_stop(struct attach_loop *l)
{
    if (l->attach)
        attach_cancel(l->attach);
    pthread_mutex_lock(&l->lock);
    int open = l->wake_open;
    l->wake_open = 0;
    pthread_mutex_unlock(&l->lock);
    if (open)
        uv_close((uv_handle_t *)&l->wake, NULL);
}

void attach_loop_finish(struct attach_loop *l)
{
    if (l->thread_started)
        pthread_join(l->thread, NULL);
    l->thread_started = 0;
    pthread_mutex_lock(&l->lock);
    l->direct = 1;
    pthread_mutex_unlock(&l->lock);
    deliver(l, take(l, NULL));
}

void attach_loop_free(struct attach_loop *l)
{
    if (!l)
        return;
    deliver(l, take(l, NULL));
    pthread_mutex_destroy(&l->lock);
    free(l);
}
