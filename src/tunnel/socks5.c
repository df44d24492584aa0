#include "tunnel/socks5.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int fail(const char **error, const char *why)
{
    if (error)
        *error = why;
    return SOCKS5_INVALID;
}

int socks5_parse_greeting(const uint8_t *data, size_t len, struct socks5_greeting *out,
                          const char **error)
{
    if (len < 1)
        return SOCKS5_NEED_MORE;
    if (data[0] != SOCKS5_VERSION)
        return fail(error, data[0] == 4 ? "SOCKS4 is not supported" : "not a SOCKS5 greeting");
    if (len < 2)
        return SOCKS5_NEED_MORE;
    uint8_t count = data[1];
    if (count == 0)
        return fail(error, "greeting offers no methods");
    if (len < 2u + count)
        return SOCKS5_NEED_MORE;
    out->methods = data + 2;
    out->method_count = count;
    return 2 + count;
}

int socks5_greeting_offers(const struct socks5_greeting *greeting, uint8_t method)
{
    return memchr(greeting->methods, method, greeting->method_count) != NULL;
}

int socks5_parse_userpass(const uint8_t *data, size_t len, struct socks5_userpass *out,
                          const char **error)
{
    if (len < 1)
        return SOCKS5_NEED_MORE;
    if (data[0] != SOCKS5_USERPASS_VERSION)
        return fail(error, "wrong username/password sub-negotiation version");
    if (len < 2)
        return SOCKS5_NEED_MORE;
    uint8_t user_len = data[1];
    if (user_len == 0)
        return fail(error, "empty user name");
    size_t password_at = 2u + user_len; /* the PLEN byte */
    if (len < password_at + 1)
        return SOCKS5_NEED_MORE;
    uint8_t password_len = data[password_at];
    if (password_len == 0)
        return fail(error, "empty password");
    if (len < password_at + 1 + password_len)
        return SOCKS5_NEED_MORE;
    out->user = data + 2;
    out->user_len = user_len;
    out->password = data + password_at + 1;
    out->password_len = password_len;
    return (int)(password_at + 1 + password_len);
}

/* The address part starts at byte 4; returns its length including the domain
 * length byte, or SOCKS5_INVALID with *reply set. */
static int request_address_length(const uint8_t *data, size_t len, int *reply, const char **error)
{
    switch (data[3]) {
    case SOCKS5_ATYP_IPV4:
        return 4;
    case SOCKS5_ATYP_IPV6:
        return 16;
    case SOCKS5_ATYP_DOMAIN:
        if (len < 5)
            return SOCKS5_NEED_MORE;
        if (data[4] == 0) {
            *reply = SOCKS5_REPLY_GENERAL_FAILURE;
            return fail(error, "empty domain name");
        }
        return 1 + data[4];
    default:
        *reply = SOCKS5_REPLY_ADDRESS_TYPE_NOT_SUPPORTED;
        return fail(error, "unknown address type");
    }
}

static int request_header_valid(const uint8_t *data, size_t len, int *reply, const char **error)
{
    if (data[0] != SOCKS5_VERSION) {
        *reply = -1;
        return fail(error, "not a SOCKS5 request");
    }
    if (len < 2)
        return SOCKS5_NEED_MORE;
    if (data[1] < SOCKS5_CMD_CONNECT || data[1] > SOCKS5_CMD_UDP_ASSOCIATE) {
        *reply = SOCKS5_REPLY_COMMAND_NOT_SUPPORTED;
        return fail(error, "unknown command");
    }
    if (len < 3)
        return SOCKS5_NEED_MORE;
    if (data[2] != 0) {
        *reply = SOCKS5_REPLY_GENERAL_FAILURE;
        return fail(error, "reserved byte is not zero");
    }
    return len < 4 ? SOCKS5_NEED_MORE : 0;
}

int socks5_parse_request(const uint8_t *data, size_t len, struct socks5_request *out, int *reply,
                         const char **error)
{
    int reply_unused;
    if (!reply)
        reply = &reply_unused;
    *reply = -1;
    if (len < 1)
        return SOCKS5_NEED_MORE;
    int rc = request_header_valid(data, len, reply, error);
    if (rc != 0)
        return rc;
    int address_len = request_address_length(data, len, reply, error);
    if (address_len < 0)
        return address_len;
    size_t total = 4u + (size_t)address_len + 2;
    if (len < total)
        return SOCKS5_NEED_MORE;
    out->command = data[1];
    out->address_type = data[3];
    if (data[3] == SOCKS5_ATYP_DOMAIN) {
        out->address = data + 5;
        out->address_len = data[4];
    } else {
        out->address = data + 4;
        out->address_len = (uint8_t)address_len;
    }
    out->port = (uint16_t)(data[total - 2] << 8 | data[total - 1]);
    return (int)total;
}

int socks5_request_host(const struct socks5_request *request, char out[SOCKS5_HOST_MAX])
{
    switch (request->address_type) {
    case SOCKS5_ATYP_IPV4:
        return inet_ntop(AF_INET, request->address, out, SOCKS5_HOST_MAX) ? 0 : -EINVAL;
    case SOCKS5_ATYP_IPV6:
        return inet_ntop(AF_INET6, request->address, out, SOCKS5_HOST_MAX) ? 0 : -EINVAL;
    case SOCKS5_ATYP_DOMAIN:
        for (size_t i = 0; i < request->address_len; i++)
            if (request->address[i] < 0x20 || request->address[i] == 0x7f)
                return -EINVAL;
        memcpy(out, request->address, request->address_len);
        out[request->address_len] = '\0';
        return 0;
    default:
        return -EINVAL;
    }
}

void socks5_encode_method(uint8_t out[2], uint8_t method)
{
    out[0] = SOCKS5_VERSION;
    out[1] = method;
}

void socks5_encode_userpass_status(uint8_t out[2], int ok)
{
    out[0] = SOCKS5_USERPASS_VERSION;
    out[1] = ok ? 0x00 : 0x01;
}

size_t socks5_encode_reply(uint8_t out[SOCKS5_REPLY_SIZE], uint8_t reply)
{
    memset(out, 0, SOCKS5_REPLY_SIZE);
    out[0] = SOCKS5_VERSION;
    out[1] = reply;
    out[3] = SOCKS5_ATYP_IPV4;
    return SOCKS5_REPLY_SIZE;
}

const char *socks5_reply_name(uint8_t reply)
{
    static const char *const names[] = {
        "succeeded",           "general failure",       "not allowed by ruleset",
        "network unreachable", "host unreachable",      "connection refused",
        "TTL expired",         "command not supported", "address type not supported",
    };
    return reply < sizeof(names) / sizeof(names[0]) ? names[reply] : "unassigned";
}

static int contains(const char *text, const char *word)
{
    return text && strcasestr(text, word) != NULL;
}

uint8_t socks5_reply_for_ssh_failure(uint32_t reason, const char *description)
{
    enum { ADMINISTRATIVELY_PROHIBITED = 1, CONNECT_FAILED = 2 };
    if (reason == ADMINISTRATIVELY_PROHIBITED)
        return SOCKS5_REPLY_NOT_ALLOWED;
    if (reason != CONNECT_FAILED)
        return SOCKS5_REPLY_GENERAL_FAILURE;
    if (contains(description, "refused"))
        return SOCKS5_REPLY_CONNECTION_REFUSED;
    if (contains(description, "network is unreachable") || contains(description, "network is down"))
        return SOCKS5_REPLY_NETWORK_UNREACHABLE;
    if (contains(description, "timed out"))
        return SOCKS5_REPLY_TTL_EXPIRED;
    /* "No route to host", "Host is unreachable", resolver failures ("Name or
     * service not known") and sshd's generic "open failed": the host could
     * not be reached from the bastion. */
    return SOCKS5_REPLY_HOST_UNREACHABLE;
}
