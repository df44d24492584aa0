/* A string-keyed hash map (separate chaining, power-of-two slots).
 *
 * Keys are copied into the map; values are borrowed pointers the caller
 * owns. Iteration order is unspecified; the map must not be changed during
 * hashmap_foreach except by removing the entry being visited. */
#ifndef TETHER_CORE_HASHMAP_H
#define TETHER_CORE_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

struct hashmap_entry;

struct hashmap {
    struct hashmap_entry **slots;
    size_t slot_count;
    size_t count;
};

int hashmap_init(struct hashmap *map);
/* Frees the map's own storage, not the values. */
void hashmap_free(struct hashmap *map);
void *hashmap_get(const struct hashmap *map, const char *key, size_t key_len);
/* Inserts or replaces; 0 or -ENOMEM. */
int hashmap_put(struct hashmap *map, const char *key, size_t key_len, void *value);
/* Returns the removed value, or NULL. */
void *hashmap_remove(struct hashmap *map, const char *key, size_t key_len);
size_t hashmap_count(const struct hashmap *map);
/* visit returns nonzero to remove the visited entry. */
void hashmap_foreach(struct hashmap *map, int (*visit)(const char *key, void *value, void *ctx),
                     void *ctx);
uint64_t hashmap_hash(const char *key, size_t len);

#endif
