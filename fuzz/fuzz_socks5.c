/* libFuzzer harness: bytes from a SOCKS5 client through the handshake parsers
 * in the order a server runs them (greeting, optional RFC 1929 login,
 * request), as tunnel/socks5_session.c does. The first input byte picks
 * whether the login step runs.
 *
 * Besides memory errors it checks the parsers' contract: a result never
 * claims more bytes than given; every strict prefix of a complete message
 * asks for more (so the answer never depends on how reads were split); the
 * same input always gives the same answer; a parsed host is a C string. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/socks5.h"

typedef int (*parse_fn)(const uint8_t *data, size_t len, void *out);

static int greeting(const uint8_t *data, size_t len, void *out)
{
    return socks5_parse_greeting(data, len, out, NULL);
}

static int userpass(const uint8_t *data, size_t len, void *out)
{
    return socks5_parse_userpass(data, len, out, NULL);
}

static int request(const uint8_t *data, size_t len, void *out)
{
    int reply;
    int rc = socks5_parse_request(data, len, out, &reply, NULL);
    if (rc == SOCKS5_INVALID && (reply < -1 || reply > 0xff))
        abort();
    return rc;
}

/* Runs one parser over data; returns bytes consumed or a negative result. */
static int step(parse_fn parse, const uint8_t *data, size_t len, void *out, size_t out_size)
{
    int rc = parse(data, len, out);
    if (rc > 0 && (size_t)rc > len)
        abort();
    if (rc > 0) {
        for (size_t i = 0; i < (size_t)rc; i++) {
            uint8_t scratch[512];
            if (out_size > sizeof(scratch) || parse(data, i, scratch) != SOCKS5_NEED_MORE)
                abort();
        }
        uint8_t again[512];
        if (out_size > sizeof(again) || parse(data, len, again) != rc)
            abort();
    }
    return rc;
}

static void inspect_request(const struct socks5_request *r)
{
    char host[SOCKS5_HOST_MAX];
    if (socks5_request_host(r, host) == 0 && strlen(host) >= SOCKS5_HOST_MAX)
        abort();
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < r->address_len; i++)
        sink ^= r->address[i];
    (void)sink;
    uint8_t reply[SOCKS5_REPLY_SIZE];
    socks5_encode_reply(reply, (uint8_t)r->port);
    (void)socks5_reply_name(reply[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int with_login = data[0] & 1;
    data++, size--;
    struct socks5_greeting g;
    int rc = step(greeting, data, size, &g, sizeof(g));
    if (rc <= 0)
        return 0;
    (void)socks5_greeting_offers(&g, SOCKS5_METHOD_USERPASS);
    data += rc, size -= (size_t)rc;
    if (with_login) {
        struct socks5_userpass up;
        rc = step(userpass, data, size, &up, sizeof(up));
        if (rc <= 0)
            return 0;
        volatile uint8_t sink = up.user[up.user_len - 1] ^ up.password[up.password_len - 1];
        (void)sink;
        data += rc, size -= (size_t)rc;
    }
    struct socks5_request r;
    rc = step(request, data, size, &r, sizeof(r));
    if (rc > 0)
        inspect_request(&r);
    (void)socks5_reply_for_ssh_failure(size, (const char *)"open failed");
    return 0;
}
