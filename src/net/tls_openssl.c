/* net/tls.h on OpenSSL (the tether CLI). */
#include "net/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/cause.h"

struct tls_config {
    SSL_CTX *ctx;
    int is_server;
};

struct tls_session {
    SSL *ssl;
    BIO *network_in;          /* ciphertext from the peer, read by OpenSSL */
    BIO *network_out;         /* ciphertext OpenSSL produced for the peer */
    struct buf pending_plain; /* written before the handshake finished */
    int established;
};

static void openssl_cause(char *cause, size_t cause_len, const char *what)
{
    unsigned long err = ERR_get_error();
    char detail[256] = "unknown error";
    if (err)
        ERR_error_string_n(err, detail, sizeof(detail));
    snprintf(cause, cause_len, "%s: %s", what, detail);
    ERR_clear_error();
}

/* A context for one side, TLS 1.2 at least; NULL when out of memory. */
static struct tls_config *config_new(const SSL_METHOD *method, int is_server, char *cause,
                                     size_t cause_len)
{
    struct tls_config *c = calloc(1, sizeof(*c));
    if (c && !(c->ctx = SSL_CTX_new(method))) {
        free(c);
        c = NULL;
    }
    if (!c) {
        openssl_cause(cause, cause_len, "creating TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    c->is_server = is_server;
    return c;
}

/* Fails a half-made config with what OpenSSL says about `what`. */
static int config_fail(struct tls_config *c, const char *what, char *cause, size_t cause_len)
{
    openssl_cause(cause, cause_len, what);
    tls_config_free(c);
    return -EINVAL;
}

int tls_config_new_server(const char *cert_file, const char *key_file, struct tls_config **out,
                          char *cause, size_t cause_len)
{
    struct tls_config *c = config_new(TLS_server_method(), 1, cause, cause_len);
    if (!c)
        return -ENOMEM;
    if (SSL_CTX_use_certificate_chain_file(c->ctx, cert_file) != 1)
        return config_fail(c, "loading TLS certificate", cause, cause_len);
    if (SSL_CTX_use_PrivateKey_file(c->ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(c->ctx) != 1)
        return config_fail(c, "loading TLS private key", cause, cause_len);
    *out = c;
    return 0;
}

int tls_config_new_client(const char *ca_file, int verify, struct tls_config **out, char *cause,
                          size_t cause_len)
{
    struct tls_config *c = config_new(TLS_client_method(), 0, cause, cause_len);
    if (!c)
        return -ENOMEM;
    int ok = ca_file ? SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(c->ctx);
    if (ok != 1)
        return config_fail(c, "loading CA certificates", cause, cause_len);
    SSL_CTX_set_verify(c->ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    *out = c;
    return 0;
}

void tls_config_free(struct tls_config *config)
{
    if (!config)
        return;
    SSL_CTX_free(config->ctx);
    free(config);
}

struct tls_session *tls_session_new(struct tls_config *config, const char *server_name)
{
    struct tls_session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->ssl = SSL_new(config->ctx);
    s->network_in = BIO_new(BIO_s_mem());
    s->network_out = BIO_new(BIO_s_mem());
    if (!s->ssl || !s->network_in || !s->network_out)
        goto fail;
    BIO_set_mem_eof_return(s->network_in, -1);
    SSL_set_bio(s->ssl, s->network_in, s->network_out);
    if (config->is_server) {
        SSL_set_accept_state(s->ssl);
    } else {
        SSL_set_connect_state(s->ssl);
        if (server_name) {
            SSL_set_tlsext_host_name(s->ssl, server_name);
            /* Checks the name against the certificate (IP literals too). */
            if (SSL_set1_host(s->ssl, server_name) != 1)
                goto fail;
        }
    }
    return s;
fail:
    if (s->ssl) {
        SSL_free(s->ssl); /* frees the BIOs it owns */
    } else {
        BIO_free(s->network_in);
        BIO_free(s->network_out);
    }
    free(s);
    return NULL;
}

void tls_session_free(struct tls_session *session)
{
    if (!session)
        return;
    SSL_free(session->ssl);
    buf_free(&session->pending_plain);
    free(session);
}

static int drain_network_out(struct tls_session *s, struct buf *cipher_out)
{
    size_t pending;
    while ((pending = BIO_ctrl_pending(s->network_out)) > 0) {
        int rc = buf_reserve(cipher_out, pending);
        if (rc < 0)
            return rc;
        int n = BIO_read(s->network_out, cipher_out->data + cipher_out->len, (int)pending);
        if (n <= 0)
            break;
        cipher_out->len += (size_t)n;
    }
    return 0;
}

static int write_plain(struct tls_session *s, const void *data, size_t len, struct buf *cipher_out)
{
    const char *p = data;
    while (len > 0) {
        int chunk = len > 1 << 30 ? 1 << 30 : (int)len;
        int n = SSL_write(s->ssl, p, chunk);
        if (n <= 0)
            return -EPROTO;
        p += n;
        len -= (size_t)n;
    }
    return drain_network_out(s, cipher_out);
}

static int handshake_step(struct tls_session *s, struct buf *cipher_out, char *cause,
                          size_t cause_len)
{
    int rc = SSL_do_handshake(s->ssl);
    int drain = drain_network_out(s, cipher_out);
    if (drain < 0)
        return drain;
    if (rc == 1) {
        s->established = 1;
        if (buf_length(&s->pending_plain) > 0) {
            int w = write_plain(s, buf_bytes(&s->pending_plain), buf_length(&s->pending_plain),
                                cipher_out);
            buf_free(&s->pending_plain);
            return w;
        }
        return 0;
    }
    int err = SSL_get_error(s->ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
        return 0;
    if (err == SSL_ERROR_SSL && SSL_get_verify_result(s->ssl) != X509_V_OK) {
        snprintf(cause, cause_len, "TLS certificate verification failed: %s",
                 X509_verify_cert_error_string(SSL_get_verify_result(s->ssl)));
        ERR_clear_error();
        return -EPROTO;
    }
    openssl_cause(cause, cause_len, "TLS handshake failed");
    return -EPROTO;
}

int tls_session_start(struct tls_session *session, struct buf *cipher_out)
{
    char ignored[8];
    return handshake_step(session, cipher_out, ignored, sizeof(ignored));
}

int tls_session_feed(struct tls_session *s, const void *data, size_t len, struct buf *plain_out,
                     struct buf *cipher_out, char *cause, size_t cause_len)
{
    if (len > 0 && BIO_write(s->network_in, data, (int)len) != (int)len)
        return -ENOMEM;
    if (!s->established) {
        int rc = handshake_step(s, cipher_out, cause, cause_len);
        if (rc < 0 || !s->established)
            return rc;
    }
    for (;;) {
        int rc = buf_reserve(plain_out, 16384);
        if (rc < 0)
            return rc;
        int n = SSL_read(s->ssl, plain_out->data + plain_out->len, 16384);
        if (n > 0) {
            plain_out->len += (size_t)n;
            continue;
        }
        int err = SSL_get_error(s->ssl, n);
        int drain = drain_network_out(s, cipher_out);
        if (drain < 0)
            return drain;
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
            return 0;
        if (err == SSL_ERROR_ZERO_RETURN)
            return cause_set(cause, cause_len, -EPIPE, "TLS connection closed by peer");
        openssl_cause(cause, cause_len, "TLS read failed");
        return -EPROTO;
    }
}

int tls_session_write(struct tls_session *s, const void *data, size_t len, struct buf *cipher_out)
{
    if (!s->established)
        return buf_append(&s->pending_plain, data, len);
    return write_plain(s, data, len, cipher_out);
}

int tls_session_established(const struct tls_session *session)
{
    return session->established;
}
