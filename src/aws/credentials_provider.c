/* The caching, refreshing credentials provider (see credentials_provider.h).
 * One mutex guards everything; a refresh runs on its own thread, which takes
 * the mutex only to publish its result. */
#include "aws/credentials_provider.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "credentials"
#include "aws/profile.h"
#include "core/log.h"

struct aws_credentials_provider {
    pthread_mutex_t lock;
    pthread_cond_t refreshed; /* signalled when a refresh ends */
    struct aws_credentials current;
    int fixed; /* static: never refreshed */
    char profile[AWS_PROFILE_MAX_NAME + 1];
    struct aws_credentials_options options; /* options.profile points into profile */
    unsigned refresh_ahead_s;
    pthread_t thread;
    int thread_joinable;
    int refreshing;
    time_t next_attempt; /* after a failed refresh */
    char last_error[400];
    unsigned refreshes;
    unsigned logged; /* refreshes already logged (on a caller's thread) */
};

static struct aws_credentials_provider *provider_alloc(void)
{
    struct aws_credentials_provider *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->refreshed, NULL);
    p->refresh_ahead_s = AWS_CREDENTIALS_REFRESH_AHEAD_S;
    return p;
}

int aws_credentials_provider_new(const struct aws_credentials_options *options,
                                 struct aws_credentials_provider **out, char *cause,
                                 size_t cause_len)
{
    struct aws_credentials_provider *p = provider_alloc();
    if (!p)
        return -ENOMEM;
    if (options) {
        p->options = *options;
        if (options->profile && strlen(options->profile) > AWS_PROFILE_MAX_NAME) {
            snprintf(cause, cause_len, "profile name too long");
            aws_credentials_provider_free(p);
            return -EINVAL;
        }
        snprintf(p->profile, sizeof(p->profile), "%s", options->profile ? options->profile : "");
        p->options.profile = p->profile[0] ? p->profile : NULL;
    }
    int rc = aws_credentials_resolve(&p->options, &p->current, cause, cause_len);
    if (rc < 0) {
        aws_credentials_provider_free(p);
        return rc;
    }
    log_debug("AWS credentials from %s%s", p->current.source,
              p->current.expiration ? " (they expire; refreshed ahead of time)" : "");
    *out = p;
    return 0;
}

int aws_credentials_provider_new_static(const struct aws_credentials *credentials,
                                        struct aws_credentials_provider **out)
{
    struct aws_credentials_provider *p = provider_alloc();
    if (!p)
        return -ENOMEM;
    p->current = *credentials;
    p->current.expiration = 0;
    p->fixed = 1;
    *out = p;
    return 0;
}

void aws_credentials_provider_free(struct aws_credentials_provider *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    int joinable = p->thread_joinable;
    p->thread_joinable = 0;
    pthread_mutex_unlock(&p->lock);
    if (joinable)
        pthread_join(p->thread, NULL);
    aws_credentials_wipe(&p->current);
    pthread_cond_destroy(&p->refreshed);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* ---- refreshing ---- */

static void *refresh_thread(void *arg)
{
    struct aws_credentials_provider *p = arg;
    struct aws_credentials fresh;
    char cause[sizeof(p->last_error)] = "";
    /* options and profile do not change after creation: no lock needed. */
    int rc = aws_credentials_resolve(&p->options, &fresh, cause, sizeof(cause));
    pthread_mutex_lock(&p->lock);
    if (rc == 0) {
        aws_credentials_wipe(&p->current);
        p->current = fresh;
        p->refreshes++;
        p->last_error[0] = '\0';
        p->next_attempt = 0;
    } else {
        snprintf(p->last_error, sizeof(p->last_error), "%s", cause);
        p->next_attempt = time(NULL) + AWS_CREDENTIALS_RETRY_S;
    }
    p->refreshing = 0;
    pthread_cond_broadcast(&p->refreshed);
    pthread_mutex_unlock(&p->lock);
    aws_credentials_wipe(&fresh);
    return NULL;
}

/* Called with the lock held. */
static void start_refresh(struct aws_credentials_provider *p)
{
    if (p->thread_joinable) {
        pthread_join(p->thread, NULL); /* the previous refresh has ended */
        p->thread_joinable = 0;
    }
    p->refreshing = 1;
    if (pthread_create(&p->thread, NULL, refresh_thread, p) != 0) {
        p->refreshing = 0;
        snprintf(p->last_error, sizeof(p->last_error), "cannot start a refresh thread");
        p->next_attempt = time(NULL) + AWS_CREDENTIALS_RETRY_S;
        return;
    }
    p->thread_joinable = 1;
}

static int expires_within(const struct aws_credentials *c, time_t now, unsigned seconds)
{
    return c->expiration != 0 && now + (time_t)seconds >= c->expiration;
}

static void log_refresh(struct aws_credentials_provider *p)
{
    if (p->logged == p->refreshes)
        return;
    p->logged = p->refreshes;
    char when[32] = "";
    struct tm tm;
    if (gmtime_r(&p->current.expiration, &tm))
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    log_info("AWS credentials refreshed from %s (expire %s)", p->current.source, when);
}

int aws_credentials_provider_get(struct aws_credentials_provider *p, struct aws_credentials *out,
                                 char *cause, size_t cause_len)
{
    pthread_mutex_lock(&p->lock);
    time_t now = time(NULL);
    if (!p->fixed && !p->refreshing && now >= p->next_attempt &&
        expires_within(&p->current, now, p->refresh_ahead_s))
        start_refresh(p);
    /* Expired: nothing valid to hand out, so wait for the refresh. */
    while (p->refreshing && expires_within(&p->current, time(NULL), 0))
        pthread_cond_wait(&p->refreshed, &p->lock);
    int rc = 0;
    if (expires_within(&p->current, time(NULL), 0)) {
        snprintf(cause, cause_len, "the AWS credentials from %s expired%s%s", p->current.source,
                 p->last_error[0] ? " and refreshing them failed: " : "", p->last_error);
        rc = -EKEYEXPIRED;
    } else {
        *out = p->current;
        log_refresh(p);
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void aws_credentials_provider_set_refresh_ahead(struct aws_credentials_provider *p,
                                                unsigned seconds)
{
    pthread_mutex_lock(&p->lock);
    p->refresh_ahead_s = seconds;
    pthread_mutex_unlock(&p->lock);
}

unsigned aws_credentials_provider_refreshes(struct aws_credentials_provider *p)
{
    pthread_mutex_lock(&p->lock);
    unsigned n = p->refreshes;
    pthread_mutex_unlock(&p->lock);
    return n;
}
