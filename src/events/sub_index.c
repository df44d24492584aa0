#include "events/sub_index.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sub_bucket {
    struct sub_bucket *next_in_slot;
    struct sub_entry *head;
    uint64_t hash;
    size_t key_len;
    char key[]; /* NUL-terminated */
};

static uint64_t hash_key(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ull;
    }
    return h;
}

int sub_index_init(struct sub_index *index)
{
    index->slot_count = 64;
    index->bucket_count = 0;
    index->slots = calloc(index->slot_count, sizeof(*index->slots));
    return index->slots ? 0 : -ENOMEM;
}

void sub_index_free(struct sub_index *index)
{
    for (size_t i = 0; i < index->slot_count; i++) {
        struct sub_bucket *b = index->slots[i];
        while (b) {
            struct sub_bucket *next = b->next_in_slot;
            free(b);
            b = next;
        }
    }
    free(index->slots);
    memset(index, 0, sizeof(*index));
}

static struct sub_bucket *find(struct sub_index *index, const char *key, size_t len, uint64_t h)
{
    for (struct sub_bucket *b = index->slots[h & (index->slot_count - 1)]; b; b = b->next_in_slot)
        if (b->hash == h && b->key_len == len && memcmp(b->key, key, len) == 0)
            return b;
    return NULL;
}

static void grow(struct sub_index *index)
{
    size_t count = index->slot_count * 2;
    struct sub_bucket **slots = calloc(count, sizeof(*slots));
    if (!slots)
        return; /* keep working with longer chains */
    for (size_t i = 0; i < index->slot_count; i++) {
        struct sub_bucket *b = index->slots[i];
        while (b) {
            struct sub_bucket *next = b->next_in_slot;
            b->next_in_slot = slots[b->hash & (count - 1)];
            slots[b->hash & (count - 1)] = b;
            b = next;
        }
    }
    free(index->slots);
    index->slots = slots;
    index->slot_count = count;
}

int sub_index_add(struct sub_index *index, const char *key, struct sub_entry *entry)
{
    size_t len = strlen(key);
    uint64_t h = hash_key(key, len);
    struct sub_bucket *b = find(index, key, len, h);
    if (!b) {
        b = calloc(1, sizeof(*b) + len + 1);
        if (!b)
            return -ENOMEM;
        b->hash = h;
        b->key_len = len;
        memcpy(b->key, key, len + 1);
        size_t slot = h & (index->slot_count - 1);
        b->next_in_slot = index->slots[slot];
        index->slots[slot] = b;
        if (++index->bucket_count > index->slot_count)
            grow(index);
    }
    entry->bucket = b;
    entry->prev = NULL;
    entry->next = b->head;
    if (b->head)
        b->head->prev = entry;
    b->head = entry;
    return 0;
}

static void drop_bucket(struct sub_index *index, struct sub_bucket *bucket)
{
    struct sub_bucket **p = &index->slots[bucket->hash & (index->slot_count - 1)];
    while (*p != bucket)
        p = &(*p)->next_in_slot;
    *p = bucket->next_in_slot;
    free(bucket);
    index->bucket_count--;
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
    if (!b->head)
        drop_bucket(index, b);
}

static size_t visit_bucket(struct sub_index *index, const char *key, size_t len, sub_visit_fn visit,
                           void *ctx)
{
    struct sub_bucket *b = find(index, key, len, hash_key(key, len));
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
