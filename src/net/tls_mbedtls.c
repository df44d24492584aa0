/* net/tls.h on mbedTLS, for the static bridge (OpenSSL does not fit its
 * 2 MB budget). Records move through two buffers instead of a socket: the
 * receive callback reads ciphertext fed by tls_session_feed, the send
 * callback appends to the caller's cipher_out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "core/cause.h"
#include "core/crypto.h"
#include "net/tls.h"

/* Where Linux distributions keep their CA bundle (Amazon Linux first). */
static const char *const ca_bundles[] = {
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/cert.pem",
};

struct tls_config {
    mbedtls_ssl_config conf;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt own_cert;
    mbedtls_pk_context own_key;
    int is_server;
};

struct tls_session {
    mbedtls_ssl_context ssl;
    struct buf input_rest;  /* fed but not yet consumed by mbedTLS */
    struct buf *cipher_out; /* where the send callback writes */
    struct buf pending_plain;
    int established;
};

static void describe(int err, const char *what, char *cause, size_t cause_len)
{
    char detail[160];
    mbedtls_strerror(err, detail, sizeof(detail));
    snprintf(cause, cause_len, "%s: %s", what, detail);
}

static int entropy_from_os(void *ctx, unsigned char *out, size_t len)
{
    (void)ctx;
    return crypto_random(out, len) == 0 ? 0 : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
}

static struct tls_config *config_new(int endpoint)
{
    struct tls_config *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_ctr_drbg_init(&c->drbg);
    mbedtls_x509_crt_init(&c->ca);
    mbedtls_x509_crt_init(&c->own_cert);
    mbedtls_pk_init(&c->own_key);
    if (mbedtls_ctr_drbg_seed(&c->drbg, entropy_from_os, NULL, NULL, 0) != 0 ||
        mbedtls_ssl_config_defaults(&c->conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0) {
        tls_config_free(c);
        return NULL;
    }
    mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
    mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3); /* TLS 1.2 */
    c->is_server = endpoint == MBEDTLS_SSL_IS_SERVER;
    return c;
}

int tls_config_new_server(const char *cert_file, const char *key_file, struct tls_config **out,
                          char *cause, size_t cause_len)
{
    struct tls_config *c = config_new(MBEDTLS_SSL_IS_SERVER);
    if (!c)
        return -ENOMEM;
    int rc = mbedtls_x509_crt_parse_file(&c->own_cert, cert_file);
    if (rc != 0) {
        describe(rc, "loading TLS certificate", cause, cause_len);
        goto fail;
    }
    rc = mbedtls_pk_parse_keyfile(&c->own_key, key_file, NULL);
    if (rc == 0)
        rc = mbedtls_ssl_conf_own_cert(&c->conf, &c->own_cert, &c->own_key);
    if (rc != 0) {
        describe(rc, "loading TLS private key", cause, cause_len);
        goto fail;
    }
    *out = c;
    return 0;
fail:
    tls_config_free(c);
    return -EINVAL;
}

int tls_config_new_client(const char *ca_file, int verify, struct tls_config **out, char *cause,
                          size_t cause_len)
{
    struct tls_config *c = config_new(MBEDTLS_SSL_IS_CLIENT);
    if (!c)
        return -ENOMEM;
    int rc = -1;
    if (ca_file) {
        rc = mbedtls_x509_crt_parse_file(&c->ca, ca_file);
    } else {
        for (size_t i = 0; i < sizeof(ca_bundles) / sizeof(ca_bundles[0]) && rc != 0; i++)
            rc = mbedtls_x509_crt_parse_file(&c->ca, ca_bundles[i]);
    }
    /* A bundle with a few unparsable entries still yields rc > 0: usable. */
    if (rc < 0 && verify) {
        describe(rc, "loading CA certificates", cause, cause_len);
        tls_config_free(c);
        return -EINVAL;
    }
    mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
    mbedtls_ssl_conf_authmode(&c->conf,
                              verify ? MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_NONE);
    *out = c;
    return 0;
}

void tls_config_free(struct tls_config *c)
{
    if (!c)
        return;
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_ctr_drbg_free(&c->drbg);
    mbedtls_x509_crt_free(&c->ca);
    mbedtls_x509_crt_free(&c->own_cert);
    mbedtls_pk_free(&c->own_key);
    free(c);
}

static int send_cb(void *ctx, const unsigned char *data, size_t len)
{
    struct tls_session *s = ctx;
    if (!s->cipher_out || buf_append(s->cipher_out, data, len) < 0)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    return (int)len;
}

static int recv_cb(void *ctx, unsigned char *out, size_t len)
{
    struct tls_session *s = ctx;
    size_t avail = buf_length(&s->input_rest);
    if (avail == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    size_t n = len < avail ? len : avail;
    memcpy(out, buf_bytes(&s->input_rest), n);
    buf_consume(&s->input_rest, n);
    return (int)n;
}

struct tls_session *tls_session_new(struct tls_config *config, const char *server_name)
{
    struct tls_session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    mbedtls_ssl_init(&s->ssl);
    if (mbedtls_ssl_setup(&s->ssl, &config->conf) != 0 ||
        (server_name && mbedtls_ssl_set_hostname(&s->ssl, server_name) != 0)) {
        tls_session_free(s);
        return NULL;
    }
    mbedtls_ssl_set_bio(&s->ssl, s, send_cb, recv_cb, NULL);
    return s;
}

void tls_session_free(struct tls_session *s)
{
    if (!s)
        return;
    mbedtls_ssl_free(&s->ssl);
    buf_free(&s->input_rest);
    buf_free(&s->pending_plain);
    free(s);
}

static int write_plain(struct tls_session *s, const void *data, size_t len, struct buf *cipher_out)
{
    const unsigned char *p = data;
    s->cipher_out = cipher_out;
    while (len > 0) {
        int n = mbedtls_ssl_write(&s->ssl, p, len);
        if (n < 0) {
            s->cipher_out = NULL;
            return -EPROTO;
        }
        p += n;
        len -= (size_t)n;
    }
    s->cipher_out = NULL;
    return 0;
}

static int handshake_step(struct tls_session *s, struct buf *cipher_out, char *cause,
                          size_t cause_len)
{
    s->cipher_out = cipher_out;
    int rc = mbedtls_ssl_handshake(&s->ssl);
    s->cipher_out = NULL;
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
        return 0;
    if (rc != 0) {
        uint32_t flags = mbedtls_ssl_get_verify_result(&s->ssl);
        if (flags != 0 && flags != (uint32_t)-1)
            snprintf(cause, cause_len, "TLS certificate verification failed (flags 0x%x)",
                     (unsigned)flags);
        else
            describe(rc, "TLS handshake failed", cause, cause_len);
        return -EPROTO;
    }
    s->established = 1;
    if (buf_length(&s->pending_plain) > 0) {
        rc =
            write_plain(s, buf_bytes(&s->pending_plain), buf_length(&s->pending_plain), cipher_out);
        buf_free(&s->pending_plain);
        return rc;
    }
    return 0;
}

int tls_session_start(struct tls_session *s, struct buf *cipher_out)
{
    char ignored[8];
    return handshake_step(s, cipher_out, ignored, sizeof(ignored));
}

int tls_session_feed(struct tls_session *s, const void *data, size_t len, struct buf *plain_out,
                     struct buf *cipher_out, char *cause, size_t cause_len)
{
    if (buf_append(&s->input_rest, data, len) < 0)
        return -ENOMEM;
    if (!s->established) {
        int rc = handshake_step(s, cipher_out, cause, cause_len);
        if (rc < 0 || !s->established)
            return rc;
    }
    for (;;) {
        if (buf_reserve(plain_out, 16384) < 0)
            return -ENOMEM;
        s->cipher_out = cipher_out;
        int n = mbedtls_ssl_read(&s->ssl, (unsigned char *)plain_out->data + plain_out->len, 16384);
        s->cipher_out = NULL;
        if (n > 0) {
            plain_out->len += (size_t)n;
            continue;
        }
        if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
            return 0;
        if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
            return cause_set(cause, cause_len, -EPIPE, "TLS connection closed by peer");
        describe(n, "TLS read failed", cause, cause_len);
        return -EPROTO;
    }
}

int tls_session_write(struct tls_session *s, const void *data, size_t len, struct buf *cipher_out)
{
    if (!s->established)
        return buf_append(&s->pending_plain, data, len);
    return write_plain(s, data, len, cipher_out);
}

int tls_session_established(const struct tls_session *s)
{
    return s->established;
}
