/* core/crypto.h on OpenSSL's libcrypto. */
#include <errno.h>
#include <limits.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/crypto.h"

int crypto_sha1(const void *data, size_t len, uint8_t out[CRYPTO_SHA1_SIZE])
{
    unsigned int n = 0;
    return EVP_Digest(len ? data : "", len, out, &n, EVP_sha1(), NULL) == 1 ? 0 : -EIO;
}

int crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_SIZE])
{
    unsigned int n = 0;
    return EVP_Digest(len ? data : "", len, out, &n, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

int crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                       uint8_t out[CRYPTO_SHA256_SIZE])
{
    unsigned int n = 0;
    if (key_len > INT_MAX)
        return -EINVAL;
    return HMAC(EVP_sha256(), key, (int)key_len, len ? data : (const void *)"", len, out, &n)
               ? 0
               : -EIO;
}

int crypto_random(void *out, size_t len)
{
    return len <= INT_MAX && RAND_bytes(out, (int)len) == 1 ? 0 : -EIO;
}
