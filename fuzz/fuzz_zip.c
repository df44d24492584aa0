/* Fuzzes the ZIP reader (core/zip.h): any bytes as an uploaded deployment
 * package. The walk must refuse or read them within its limits, never read
 * outside the buffer, and never hand out more bytes than each entry's
 * declared size or the total limit. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/zip.h"

struct counts {
    uint64_t entry_bytes;
    uint64_t total;
    uint64_t declared;
};

/* A ".." component anywhere: what the reader must never hand out. */
static int climbs(const char *name)
{
    size_t len = strlen(name);
    return strcmp(name, "..") == 0 || strncmp(name, "../", 3) == 0 || strstr(name, "/../") ||
           (len >= 3 && strcmp(name + len - 3, "/..") == 0);
}

static int on_begin(void *user, const struct zip_entry *e)
{
    struct counts *c = user;
    if (e->name[0] == '/' || climbs(e->name))
        abort();
    c->entry_bytes = 0;
    c->declared = e->size;
    return 0;
}

static int on_data(void *user, const void *bytes, size_t len)
{
    struct counts *c = user;
    volatile unsigned char sink = len ? ((const unsigned char *)bytes)[len - 1] : 0;
    (void)sink;
    c->entry_bytes += len;
    c->total += len;
    if (c->entry_bytes > c->declared)
        abort();
    return 0;
}

static int on_end(void *user, const struct zip_entry *e)
{
    struct counts *c = user;
    if (c->entry_bytes != e->size)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct zip_walk_ops ops = {on_begin, on_data, on_end};
    const struct zip_limits limits = {.max_entries = 64, .max_total_bytes = 1024 * 1024};
    struct counts c = {0};
    char cause[256];
    zip_walk(data, size, &limits, &ops, &c, cause, sizeof(cause));
    if (c.total > limits.max_total_bytes)
        abort();
    return 0;
}
