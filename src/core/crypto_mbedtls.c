/* core/crypto.h on mbedTLS, for the static bridge. Random bytes come from
 * getrandom(2) directly. */
#include <errno.h>
#include <sys/random.h>

#include <mbedtls/gcm.h>
#include <mbedtls/md.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>

#include "core/crypto.h"
#include "core/encoding.h"

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

int crypto_aes256gcm_seal(const uint8_t key[CRYPTO_AES256_KEY_SIZE],
                          const uint8_t nonce[CRYPTO_GCM_NONCE_SIZE], const void *aad,
                          size_t aad_len, const void *in, size_t len, void *out,
                          uint8_t tag[CRYPTO_GCM_TAG_SIZE])
{
    mbedtls_gcm_context ctx;
    mbedtls_gcm_init(&ctx);
    int rc = mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, CRYPTO_AES256_KEY_SIZE * 8);
    if (rc == 0)
        rc = mbedtls_gcm_crypt_and_tag(&ctx, MBEDTLS_GCM_ENCRYPT, len, nonce, CRYPTO_GCM_NONCE_SIZE,
                                       aad, aad_len, in, out, CRYPTO_GCM_TAG_SIZE, tag);
    mbedtls_gcm_free(&ctx); /* also wipes the key schedule */
    return rc == 0 ? 0 : -EIO;
}

int crypto_aes256gcm_open(const uint8_t key[CRYPTO_AES256_KEY_SIZE],
                          const uint8_t nonce[CRYPTO_GCM_NONCE_SIZE], const void *aad,
                          size_t aad_len, const void *in, size_t len,
                          const uint8_t tag[CRYPTO_GCM_TAG_SIZE], void *out)
{
    mbedtls_gcm_context ctx;
    mbedtls_gcm_init(&ctx);
    int rc = mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, CRYPTO_AES256_KEY_SIZE * 8);
    /* mbedtls compares the tag in constant time and zeroes out on a mismatch. */
    if (rc == 0)
        rc = mbedtls_gcm_auth_decrypt(&ctx, len, nonce, CRYPTO_GCM_NONCE_SIZE, aad, aad_len, tag,
                                      CRYPTO_GCM_TAG_SIZE, in, out);
    mbedtls_gcm_free(&ctx);
    if (rc != 0)
        secure_wipe(out, len);
    if (rc == MBEDTLS_ERR_GCM_AUTH_FAILED)
        return -EBADMSG;
    return rc == 0 ? 0 : -EIO;
}
