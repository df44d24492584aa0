/* WebSocket opening-handshake helpers shared by both session backends. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/encoding.h"
#include "core/random.h"
#include "net/ws.h"

void ws_accept_key(const char *client_key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    uint8_t digest[CRYPTO_SHA1_SIZE];
    char input[128 + sizeof(guid)];
    int n = snprintf(input, sizeof(input), "%.128s%s", client_key, guid);
    crypto_sha1(input, (size_t)n, digest);
    struct buf b = BUF_INIT;
    base64_encode(&b, digest, sizeof(digest));
    memcpy(out, buf_bytes(&b), 28);
    out[28] = '\0';
    buf_free(&b);
}

int ws_new_client_key(char out[25])
{
    unsigned char raw[16];
    if (random_bytes(raw, sizeof(raw)) < 0)
        return -EIO;
    struct buf b = BUF_INIT;
    base64_encode(&b, raw, sizeof(raw));
    memcpy(out, buf_bytes(&b), 24);
    out[24] = '\0';
    buf_free(&b);
    return 0;
}
