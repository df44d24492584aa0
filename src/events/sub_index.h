/* The broker's routing table: channel path -> subscriptions, so a publish
 * finds its subscribers with at most one lookup per channel segment (the exact
 * path, then each wildcard prefix "/a/" + "*", "/a/b/" + "*", ...).
 *
 * The index does not own subscriptions: the caller allocates each one, adds
 * it, and must remove it before freeing it. Keys are copied into the index. */
#ifndef TETHER_EVENTS_SUB_INDEX_H
#define TETHER_EVENTS_SUB_INDEX_H

#include <stddef.h>

#include "core/hashmap.h"
#include "events/channel.h"

struct sub_bucket;

/* Embed in the subscriber's own structure. */
struct sub_entry {
    struct sub_entry *prev, *next; /* within the bucket */
    struct sub_bucket *bucket;
};

/* A channel key (core/hashmap) -> its subscriptions; map.count is the number
 * of distinct keys. */
struct sub_index {
    struct hashmap map;
};

typedef void (*sub_visit_fn)(struct sub_entry *entry, void *ctx);

int sub_index_init(struct sub_index *index);
/* The index must be empty (every entry removed). */
void sub_index_free(struct sub_index *index);
/* key: the subscription's channel in normal form (wildcards end in '*'). */
int sub_index_add(struct sub_index *index, const char *key, struct sub_entry *entry);
void sub_index_remove(struct sub_index *index, struct sub_entry *entry);
/* Calls visit for every subscription that matches the published channel.
 * visit must not add or remove entries. Returns the number visited. */
size_t sub_index_match(struct sub_index *index, const struct channel *published, sub_visit_fn visit,
                       void *ctx);

#endif
