/* TLS over memory BIOs (OpenSSL), so encrypted bytes can travel on any libuv
 * stream. The caller moves bytes: ciphertext from the network goes into
 * tls_session_feed(), which yields plaintext; plaintext to send goes through
 * tls_session_write(), which yields ciphertext for the network.
 *
 * A tls_config is shared by many sessions and must outlive them. */
#ifndef TETHER_NET_TLS_H
#define TETHER_NET_TLS_H

#include <stddef.h>

#include "core/buf.h"

struct tls_config;
struct tls_session;

/* Server side: certificate chain and private key in PEM files. */
int tls_config_new_server(const char *cert_file, const char *key_file, struct tls_config **out,
                          char *cause, size_t cause_len);
/* Client side: verifies the peer against ca_file, or the system store when
 * ca_file is NULL; verify=0 turns verification off (tests only). */
int tls_config_new_client(const char *ca_file, int verify, struct tls_config **out, char *cause,
                          size_t cause_len);
void tls_config_free(struct tls_config *config);

/* server_name: for clients, the SNI name and the name the certificate must
 * match; NULL for servers. */
struct tls_session *tls_session_new(struct tls_config *config, const char *server_name);
void tls_session_free(struct tls_session *session);

/* Starts the handshake (clients); ciphertext to send is appended to cipher_out. */
int tls_session_start(struct tls_session *session, struct buf *cipher_out);
/* Feeds ciphertext. Decrypted bytes are appended to plain_out, handshake or
 * alert bytes to send to cipher_out. -EPROTO on a TLS error (cause set). */
int tls_session_feed(struct tls_session *session, const void *data, size_t len,
                     struct buf *plain_out, struct buf *cipher_out, char *cause, size_t cause_len);
/* Encrypts plaintext into cipher_out. Before the handshake completes the bytes
 * are held and sent once it does. */
int tls_session_write(struct tls_session *session, const void *data, size_t len,
                      struct buf *cipher_out);
int tls_session_established(const struct tls_session *session);

#endif
