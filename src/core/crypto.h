/* The few cryptographic primitives tether needs outside TLS: SHA-1 (the
 * WebSocket handshake), SHA-256 and HMAC-SHA256 (SigV4), AES-256-GCM (sealed
 * bridge packets, bridge/seal.h), and random bytes.
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
#define CRYPTO_AES256_KEY_SIZE 32
#define CRYPTO_GCM_NONCE_SIZE 12
#define CRYPTO_GCM_TAG_SIZE 16

/* AES-256-GCM: encrypts len bytes of in into out (out may be in itself, for
 * encryption in place) and writes the tag. aad (aad_len bytes) is
 * authenticated, not encrypted. A nonce must never repeat under one key. */
int crypto_aes256gcm_seal(const uint8_t key[CRYPTO_AES256_KEY_SIZE],
                          const uint8_t nonce[CRYPTO_GCM_NONCE_SIZE], const void *aad,
                          size_t aad_len, const void *in, size_t len, void *out,
                          uint8_t tag[CRYPTO_GCM_TAG_SIZE]);
/* The reverse: -EBADMSG when the tag does not match (both backends compare
 * it in constant time), and then out holds zeros, never unauthenticated
 * plaintext. out may be in. */
int crypto_aes256gcm_open(const uint8_t key[CRYPTO_AES256_KEY_SIZE],
                          const uint8_t nonce[CRYPTO_GCM_NONCE_SIZE], const void *aad,
                          size_t aad_len, const void *in, size_t len,
                          const uint8_t tag[CRYPTO_GCM_TAG_SIZE], void *out);
/* From the operating system's CSPRNG. */
int crypto_random(void *out, size_t len);

#endif
