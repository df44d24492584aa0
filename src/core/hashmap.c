#include "core/hashmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct hashmap_entry {
    struct hashmap_entry *next;
    uint64_t hash;
    void *value;
    size_t key_len;
    char key[]; /* NUL-terminated copy */
};

uint64_t hashmap_hash(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

int hashmap_init(struct hashmap *map)
{
    map->slot_count = 16;
    map->count = 0;
    map->slots = calloc(map->slot_count, sizeof(*map->slots));
    return map->slots ? 0 : -ENOMEM;
}

void hashmap_free(struct hashmap *map)
{
    for (size_t i = 0; map->slots && i < map->slot_count; i++) {
        struct hashmap_entry *e = map->slots[i];
        while (e) {
            struct hashmap_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(map->slots);
    memset(map, 0, sizeof(*map));
}

static struct hashmap_entry **find_link(const struct hashmap *map, const char *key, size_t len,
                                        uint64_t h)
{
    struct hashmap_entry **link = &map->slots[h & (map->slot_count - 1)];
    for (; *link; link = &(*link)->next)
        if ((*link)->hash == h && (*link)->key_len == len && memcmp((*link)->key, key, len) == 0)
            return link;
    return link;
}

void *hashmap_get(const struct hashmap *map, const char *key, size_t key_len)
{
    struct hashmap_entry *e = *find_link(map, key, key_len, hashmap_hash(key, key_len));
    return e ? e->value : NULL;
}

static void grow(struct hashmap *map)
{
    size_t count = map->slot_count * 2;
    struct hashmap_entry **slots = calloc(count, sizeof(*slots));
    if (!slots)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < map->slot_count; i++) {
        struct hashmap_entry *e = map->slots[i];
        while (e) {
            struct hashmap_entry *next = e->next;
            e->next = slots[e->hash & (count - 1)];
            slots[e->hash & (count - 1)] = e;
            e = next;
        }
    }
    free(map->slots);
    map->slots = slots;
    map->slot_count = count;
}

int hashmap_put(struct hashmap *map, const char *key, size_t key_len, void *value)
{
    uint64_t h = hashmap_hash(key, key_len);
    struct hashmap_entry **link = find_link(map, key, key_len, h);
    if (*link) {
        (*link)->value = value;
        return 0;
    }
    struct hashmap_entry *e = malloc(sizeof(*e) + key_len + 1);
    if (!e)
        return -ENOMEM;
    e->next = NULL;
    e->hash = h;
    e->value = value;
    e->key_len = key_len;
    memcpy(e->key, key, key_len);
    e->key[key_len] = '\0';
    *link = e;
    if (++map->count > map->slot_count)
        grow(map);
    return 0;
}

void *hashmap_remove(struct hashmap *map, const char *key, size_t key_len)
{
    struct hashmap_entry **link = find_link(map, key, key_len, hashmap_hash(key, key_len));
    struct hashmap_entry *e = *link;
    if (!e)
        return NULL;
    void *value = e->value;
    *link = e->next;
    free(e);
    map->count--;
    return value;
}

size_t hashmap_count(const struct hashmap *map)
{
    return map->count;
}

void hashmap_foreach(struct hashmap *map, int (*visit)(const char *key, void *value, void *ctx),
                     void *ctx)
{
    for (size_t i = 0; i < map->slot_count; i++) {
        struct hashmap_entry **link = &map->slots[i];
        while (*link) {
            struct hashmap_entry *e = *link;
            if (visit(e->key, e->value, ctx)) {
                *link = e->next;
                free(e);
                map->count--;
            } else {
                link = &e->next;
            }
        }
    }
}
