/* core/crypto.h on OpenSSL's libcrypto. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/crypto.h"
#include "core/encoding.h"

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

/* EVP takes int lengths: bodies are fed in pieces of at most 1 GiB. */
#define GCM_PIECE (1u << 30)

static int gcm_update(EVP_CIPHER_CTX *ctx, int encrypt, const unsigned char *in, size_t len,
                      unsigned char *out)
{
    while (len > 0) {
        int n = (int)(len < GCM_PIECE ? len : GCM_PIECE), written = 0;
        int ok = encrypt ? EVP_EncryptUpdate(ctx, out, &written, in, n)
                         : EVP_DecryptUpdate(ctx, out, &written, in, n);
        /* For the AAD (out NULL) EVP reports no fixed count. */
        if (ok != 1 || (out && written != n))
            return -EIO;
        in += n;
        if (out)
            out += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Sets up ctx for AES-256-GCM with a 12-byte nonce and feeds it the AAD. */
static int gcm_start(EVP_CIPHER_CTX *ctx, int encrypt, const uint8_t *key, const uint8_t *nonce,
                     const void *aad, size_t aad_len)
{
    int ok = encrypt ? EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce)
                     : EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce);
    if (ok != 1)
        return -EIO;
    return gcm_update(ctx, encrypt, aad, aad_len, NULL);
}

int crypto_aes256gcm_seal(const uint8_t key[CRYPTO_AES256_KEY_SIZE],
                          const uint8_t nonce[CRYPTO_GCM_NONCE_SIZE], const void *aad,
                          size_t aad_len, const void *in, size_t len, void *out,
                          uint8_t tag[CRYPTO_GCM_TAG_SIZE])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return -ENOMEM;
    int rc = gcm_start(ctx, 1, key, nonce, aad, aad_len);
    if (rc == 0)
        rc = gcm_update(ctx, 1, in, len, out);
    /* GCM is a stream mode: Final writes nothing, but wants somewhere to. */
    unsigned char none[16];
    int tail = 0;
    if (rc == 0 && (EVP_EncryptFinal_ex(ctx, none, &tail) != 1 || tail != 0 ||
                    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_GCM_TAG_SIZE, tag) != 1))
        rc = -EIO;
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int crypto_aes256gcm_open(const uint8_t key[CRYPTO_AES256_KEY_SIZE],
                          const uint8_t nonce[CRYPTO_GCM_NONCE_SIZE], const void *aad,
                          size_t aad_len, const void *in, size_t len,
                          const uint8_t tag[CRYPTO_GCM_TAG_SIZE], void *out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return -ENOMEM;
    uint8_t expected[CRYPTO_GCM_TAG_SIZE];
    memcpy(expected, tag, sizeof(expected)); /* the ctrl call takes a non-const pointer */
    int rc = gcm_start(ctx, 0, key, nonce, aad, aad_len);
    if (rc == 0)
        rc = gcm_update(ctx, 0, in, len, out);
    if (rc == 0 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_GCM_TAG_SIZE, expected) != 1)
        rc = -EIO;
    unsigned char none[16];
    int tail = 0;
    /* EVP compares the tag with CRYPTO_memcmp, in constant time. */
    if (rc == 0 && EVP_DecryptFinal_ex(ctx, none, &tail) != 1)
        rc = -EBADMSG;
    EVP_CIPHER_CTX_free(ctx);
    if (rc < 0)
        secure_wipe(out, len);
    return rc;
}
