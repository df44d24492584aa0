/* core/crypto.h on mbedTLS, for the static bridge. Random bytes come from
 * getrandom(2) directly. */
#include <errno.h>
#include <sys/random.h>

#include <mbedtls/md.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>

#include "core/crypto.h"

int crypto_sha1(const void *data, size_t len, uint8_t out[CRYPTO_SHA1_SIZE])
{
    return mbedtls_sha1_ret(data, len, out) == 0 ? 0 : -EIO;
}

int crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_SIZE])
{
    return mbedtls_sha256_ret(data, len, out, 0) == 0 ? 0 : -EIO;
}

int crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                       uint8_t out[CRYPTO_SHA256_SIZE])
{
    const mbedtls_md_info_t *info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    return mbedtls_md_hmac(info, key, key_len, data, len, out) == 0 ? 0 : -EIO;
}

int crypto_random(void *out, size_t len)
{
    unsigned char *p = out;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
