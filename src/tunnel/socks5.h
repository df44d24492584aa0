/* SOCKS5 messages (RFC 1928) and username/password authentication (RFC 1929):
 * incremental parsers and reply encoders. No I/O and no allocation.
 *
 * Each parser looks at the bytes received so far and returns the number of
 * bytes the message takes (> 0), SOCKS5_NEED_MORE (-2) when the message is not
 * complete yet, or SOCKS5_INVALID (-1) when it can never become valid. Every
 * version and length byte is checked before the bytes it describes are read,
 * so a parser never looks past `len`. Parsed fields point into the caller's
 * buffer and are valid as long as it is. On SOCKS5_INVALID, *error (if given)
 * names the problem for logs and, for requests, *reply is the reply code to
 * send before closing, or -1 when nothing should be sent (wrong version). */
#ifndef TETHER_TUNNEL_SOCKS5_H
#define TETHER_TUNNEL_SOCKS5_H

#include <stddef.h>
#include <stdint.h>

#define SOCKS5_NEED_MORE (-2)
#define SOCKS5_INVALID (-1)

#define SOCKS5_VERSION 0x05
#define SOCKS5_USERPASS_VERSION 0x01

enum socks5_method {
    SOCKS5_METHOD_NONE = 0x00,
    SOCKS5_METHOD_USERPASS = 0x02,
    SOCKS5_METHOD_NO_ACCEPTABLE = 0xff,
};

enum socks5_command {
    SOCKS5_CMD_CONNECT = 0x01,
    SOCKS5_CMD_BIND = 0x02,
    SOCKS5_CMD_UDP_ASSOCIATE = 0x03,
};

enum socks5_address_type {
    SOCKS5_ATYP_IPV4 = 0x01,
    SOCKS5_ATYP_DOMAIN = 0x03,
    SOCKS5_ATYP_IPV6 = 0x04,
};

enum socks5_reply {
    SOCKS5_REPLY_SUCCEEDED = 0x00,
    SOCKS5_REPLY_GENERAL_FAILURE = 0x01,
    SOCKS5_REPLY_NOT_ALLOWED = 0x02,
    SOCKS5_REPLY_NETWORK_UNREACHABLE = 0x03,
    SOCKS5_REPLY_HOST_UNREACHABLE = 0x04,
    SOCKS5_REPLY_CONNECTION_REFUSED = 0x05,
    SOCKS5_REPLY_TTL_EXPIRED = 0x06,
    SOCKS5_REPLY_COMMAND_NOT_SUPPORTED = 0x07,
    SOCKS5_REPLY_ADDRESS_TYPE_NOT_SUPPORTED = 0x08,
};

/* The largest messages a client can send: a greeting with 255 methods, an
 * RFC 1929 request with 255-byte user and password, a request naming a
 * 255-byte domain. */
#define SOCKS5_GREETING_MAX (2 + 255)
#define SOCKS5_USERPASS_MAX (3 + 255 + 255)
#define SOCKS5_REQUEST_MAX (4 + 1 + 255 + 2)
/* A host as text: a domain (<= 255 bytes), dotted IPv4 or IPv6, plus NUL. */
#define SOCKS5_HOST_MAX 256
#define SOCKS5_REPLY_SIZE 10

struct socks5_greeting {
    const uint8_t *methods;
    uint8_t method_count; /* >= 1 */
};

struct socks5_userpass {
    const uint8_t *user;
    const uint8_t *password;
    uint8_t user_len;     /* >= 1 */
    uint8_t password_len; /* >= 1 */
};

struct socks5_request {
    uint8_t command;      /* enum socks5_command; others are refused by the parser */
    uint8_t address_type; /* enum socks5_address_type */
    const uint8_t *address;
    uint8_t address_len; /* 4, 16, or the domain's length (>= 1) */
    uint16_t port;
};

int socks5_parse_greeting(const uint8_t *data, size_t len, struct socks5_greeting *out,
                          const char **error);
/* 1 when the greeting lists `method`. */
int socks5_greeting_offers(const struct socks5_greeting *greeting, uint8_t method);
int socks5_parse_userpass(const uint8_t *data, size_t len, struct socks5_userpass *out,
                          const char **error);
int socks5_parse_request(const uint8_t *data, size_t len, struct socks5_request *out, int *reply,
                         const char **error);

/* Writes the request's host as text (a domain as sent, IPv4 dotted, IPv6 in
 * RFC 5952 form without brackets). -EINVAL when a domain holds a NUL or other
 * control byte, which no resolver would accept. */
int socks5_request_host(const struct socks5_request *request, char out[SOCKS5_HOST_MAX]);

/* Method selection and RFC 1929 status replies: two bytes each. */
void socks5_encode_method(uint8_t out[2], uint8_t method);
void socks5_encode_userpass_status(uint8_t out[2], int ok);
/* A request reply with BND.ADDR 0.0.0.0:0 (the bastion picks the real one and
 * does not say). Returns SOCKS5_REPLY_SIZE. */
size_t socks5_encode_reply(uint8_t out[SOCKS5_REPLY_SIZE], uint8_t reply);

const char *socks5_reply_name(uint8_t reply);

/* Maps an SSH channel-open failure (RFC 4254 reason code, the server's
 * description) to a SOCKS5 reply. OpenSSH's sshd sends reason 2 with
 * strerror() of the failed connect as the description. */
uint8_t socks5_reply_for_ssh_failure(uint32_t reason, const char *description);

#endif
