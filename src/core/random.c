#include "core/random.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/encoding.h"

/* Small requests (identifiers, masks) are served from a pool refilled from
 * the CSPRNG 4 KiB at a time: one system call per ~250 identifiers. The
 * process is single-threaded (one event loop). */
static unsigned char pool[4096];
static size_t pool_left;

int random_bytes(void *out, size_t len)
{
    if (len > 64)
        return crypto_random(out, len);
    if (pool_left < len) {
        if (crypto_random(pool, sizeof(pool)) < 0)
            return -EIO;
        pool_left = sizeof(pool);
    }
    memcpy(out, pool + sizeof(pool) - pool_left, len);
    secure_wipe(pool + sizeof(pool) - pool_left, len); /* used bytes never linger */
    pool_left -= len;
    return 0;
}

void random_uuid(char out[37])
{
    unsigned char b[16];
    if (random_bytes(b, sizeof(b)) < 0)
        abort(); /* no entropy: nothing we could safely continue with */
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

uint64_t random_below(uint64_t bound)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t v;
    do {
        if (random_bytes(&v, sizeof(v)) < 0)
            abort();
    } while (v >= limit);
    return v % bound;
}

void random_api_key(char out[31])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    memcpy(out, "da2-", 4);
    for (int i = 4; i < 30; i++)
        out[i] = alphabet[random_below(sizeof(alphabet) - 1)];
    out[30] = '\0';
}
