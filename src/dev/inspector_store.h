/* The invocations `tether dev` has served, kept for the inspector
 * (dev/inspector.h) and mirrored as records in .tether/log/: one bounded
 * store, the only owner of both, so the memory and the directory obey the
 * same limits. At most max_count invocations and max_bytes of bodies and
 * logs are kept; the oldest go first (from memory and from disk). Events and
 * answers are kept whole up to the Lambda payload limit; a larger one is
 * described instead ({"bytes":N,"omitted":true}).
 *
 * The workers' log lines reach the store through inspector_store_log_line
 * with the request id of the invocation whose sandbox printed them (the
 * local Lambda service knows it), so concurrent requests keep their own.
 *
 * Single-threaded: everything runs on the dev loop. docs/inspector.md. */
#ifndef TETHER_DEV_INSPECTOR_STORE_H
#define TETHER_DEV_INSPECTOR_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"
#include "dev/session.h"

#define INSPECTOR_DEFAULT_COUNT 1000
#define INSPECTOR_DEFAULT_MB 256
#define INSPECTOR_MAX_BODY 6291556u     /* Lambda's synchronous payload limit */
#define INSPECTOR_MAX_LOGS (64u * 1024) /* log lines kept per invocation */
#define INSPECTOR_ID_SIZE 80

struct inspector_entry {
    uint64_t seq;               /* 1, 2, ...: the order of arrival */
    char id[INSPECTOR_ID_SIZE]; /* the request id */
    char function[72];
    char worker[72];
    char source[128];
    char error_type[96];
    char replay_of[INSPECTOR_ID_SIZE]; /* "" unless a replay */
    char record[128];                  /* "log/NAME.json" under .tether, or "" */
    /* The function in AWS Lambda that was invoked (the Next's ARN), when it
     * is a well-formed Lambda function ARN; else "". */
    char function_arn[256];
    int success;
    double duration_ms;
    int64_t finished_ms;  /* wall clock (epoch ms) when dev saw the answer */
    int64_t next_sent_ms; /* dev_invocation_report's; 0 when not known */
    int64_t next_received_ms;
    /* When the broker acknowledged the answer (dev's clock); 0 until then,
     * or when the answer was given up or never sent through the bridge. */
    int64_t answer_delivered_ms;
    struct buf event;
    struct buf answer; /* the response, or the error JSON */
    struct buf logs;
    /* The Init's environment names (dev_invocation_report), '\n'-separated;
     * env_known is 0 when the report had none (a local replay). */
    int env_known;
    struct buf env_taken;
    struct buf env_dropped;
    size_t bytes; /* what this entry costs the store */
};

struct inspector_store;

/* max_count >= 1, max_bytes >= 1. -ENOMEM. */
int inspector_store_new(size_t max_count, size_t max_bytes, struct inspector_store **out);
void inspector_store_free(struct inspector_store *s);
/* From now on each invocation is also written to ROOT/.tether/log/ (private
 * files); records already there beyond the limits are removed, oldest first. */
int inspector_store_keep_records(struct inspector_store *s, const char *root, char *cause,
                                 size_t cause_len);
/* Takes a finished invocation; drops the oldest to stay in bounds. Returns
 * the stored entry (valid until the next add), or NULL when out of memory. */
const struct inspector_entry *inspector_store_add(struct inspector_store *s,
                                                  const struct dev_invocation_report *r);
/* A replay of ORIGINAL's EVENT is on its way: the next invocation of
 * FUNCTION with exactly that event is linked to it. Returns a ticket for
 * inspector_store_replay_result, or 0 when too many are pending. */
uint64_t inspector_store_expect_replay(struct inspector_store *s, const char *original,
                                       const char *function, const void *event, size_t len);
/* The id the ticketed replay got ("" if none arrived); forgets the ticket. */
void inspector_store_replay_result(struct inspector_store *s, uint64_t ticket, char *id,
                                   size_t id_len);
/* One line (without the newline) the sandbox running REQUEST_ID printed;
 * a NULL or empty REQUEST_ID (between invocations) is not kept. */
void inspector_store_log_line(struct inspector_store *s, const char *request_id, const char *line,
                              size_t len);

/* The answer to REQUEST_ID was delivered at DELIVERED_MS: sets it on the
 * newest entry with that id. -ENOENT when there is none (dropped already). */
int inspector_store_delivered(struct inspector_store *s, const char *request_id,
                              int64_t delivered_ms);

size_t inspector_store_count(const struct inspector_store *s);
size_t inspector_store_bytes(const struct inspector_store *s);
size_t inspector_store_max_count(const struct inspector_store *s);
size_t inspector_store_max_bytes(const struct inspector_store *s);
/* 0 is the oldest; NULL past the end. */
const struct inspector_entry *inspector_store_at(const struct inspector_store *s, size_t i);
const struct inspector_entry *inspector_store_find(const struct inspector_store *s, const char *id);
/* Called after each add (the inspector's live stream). */
void inspector_store_on_add(struct inspector_store *s,
                            void (*cb)(void *user, const struct inspector_entry *e), void *user);

#endif
