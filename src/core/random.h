/* Randomness from the operating system's CSPRNG (through OpenSSL). */
#ifndef TETHER_CORE_RANDOM_H
#define TETHER_CORE_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/* 0 or -EIO. */
int random_bytes(void *out, size_t len);
/* Writes a version-4 UUID ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx") and a NUL. */
void random_uuid(char out[37]);
/* A uniformly distributed value in [0, bound) (bound > 0). */
uint64_t random_below(uint64_t bound);
/* Writes an API key in AppSync's form ("da2-" and 26 characters from a-z and
 * 0-9) and a NUL: the local broker's keys, generated when none is given. */
void random_api_key(char out[31]);

#endif
