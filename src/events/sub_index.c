#include "events/sub_index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* All the subscriptions to one channel key; the map's value for that key. */
struct sub_bucket {
    struct sub_entry *head;
    size_t key_len;
    char key[]; /* NUL-terminated */
};

int sub_index_init(struct sub_index *index)
{
    return hashmap_init(&index->map);
}

static int free_bucket(const char *key, void *value, void *ctx)
{
    (void)key;
    (void)ctx;
    free(value);
    return 1;
}

void sub_index_free(struct sub_index *index)
{
    if (index->map.slots)
        hashmap_foreach(&index->map, free_bucket, NULL);
    hashmap_free(&index->map);
}

int sub_index_add(struct sub_index *index, const char *key, struct sub_entry *entry)
{
    size_t len = strlen(key);
    struct sub_bucket *b = hashmap_get(&index->map, key, len);
    if (!b) {
        b = calloc(1, sizeof(*b) + len + 1);
        if (!b)
            return -ENOMEM;
        b->key_len = len;
        memcpy(b->key, key, len + 1);
        if (hashmap_put(&index->map, key, len, b) < 0) {
            free(b);
            return -ENOMEM;
        }
    }
    entry->bucket = b;
    entry->prev = NULL;
    entry->next = b->head;
    if (b->head)
        b->head->prev = entry;
    b->head = entry;
    return 0;
}

void sub_index_remove(struct sub_index *index, struct sub_entry *entry)
{
    struct sub_bucket *b = entry->bucket;
    if (!b)
        return;
    if (entry->prev)
        entry->prev->next = entry->next;
    else
        b->head = entry->next;
    if (entry->next)
        entry->next->prev = entry->prev;
    entry->bucket = NULL;
    entry->prev = entry->next = NULL;
    if (!b->head) {
        hashmap_remove(&index->map, b->key, b->key_len);
        free(b);
    }
}

static size_t visit_bucket(struct sub_index *index, const char *key, size_t len, sub_visit_fn visit,
                           void *ctx)
{
    struct sub_bucket *b = hashmap_get(&index->map, key, len);
    size_t n = 0;
    for (struct sub_entry *e = b ? b->head : NULL; e; e = e->next, n++)
        visit(e, ctx);
    return n;
}

size_t sub_index_match(struct sub_index *index, const struct channel *published, sub_visit_fn visit,
                       void *ctx)
{
    const char *path = published->path;
    size_t len = strlen(path);
    size_t n = visit_bucket(index, path, len, visit, ctx);
    char key[CHANNEL_MAX_LENGTH + 2];
    /* Every proper prefix ending at a '/' (after the leading one) + '*'. */
    for (size_t i = 1; i < len; i++) {
        if (path[i] != '/')
            continue;
        memcpy(key, path, i + 1);
        key[i + 1] = '*';
        n += visit_bucket(index, key, i + 2, visit, ctx);
    }
    return n;
}
