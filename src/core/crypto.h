/* The few cryptographic primitives tether needs outside TLS: SHA-1 (the
 * WebSocket handshake), SHA-256 and HMAC-SHA256 (SigV4), and random bytes.
 *
 * Two backends implement this header: crypto_openssl.c (the tether CLI) and
 * crypto_mbedtls.c (the static bridge, where OpenSSL would not fit in 2 MB).
 * Each returns 0, or -EIO when the backend fails. */
#ifndef TETHER_CORE_CRYPTO_H
#define TETHER_CORE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA1_SIZE 20
#define CRYPTO_SHA256_SIZE 32

int crypto_sha1(const void *data, size_t len, uint8_t out[CRYPTO_SHA1_SIZE]);
int crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_SIZE]);
int crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                       uint8_t out[CRYPTO_SHA256_SIZE]);
/* From the operating system's CSPRNG. */
int crypto_random(void *out, size_t len);

#endif
