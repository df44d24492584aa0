/* Sealed bridge packets (bridge/seal.h): AES-256-GCM itself, the key's text
 * form, round trips, every bound field, the window, the replay memory, the
 * sealing writer, and the vectors tests/integration/lib/seal.mjs wrote
 * (tests/unit/data/seal_vectors.json), byte for byte. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/packet.h"
#include "bridge/seal.h"
#include "bridge/stream.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/encoding.h"
#include "test.h"

#define CHANNEL "/tether/dev/stage-1"
#define NOW 1760000000000ull
#define WINDOW 60000ull

static void fixed_key(struct bridge_key *key, uint8_t seed)
{
    for (size_t i = 0; i < sizeof(key->bytes); i++)
        key->bytes[i] = (uint8_t)(seed + i * 7);
}

static struct bridge_seal *new_seal(uint8_t seed, size_t max_remembered)
{
    struct bridge_key key;
    fixed_key(&key, seed);
    struct bridge_seal_limits limits = {.window_ms = WINDOW, .max_remembered = max_remembered};
    struct bridge_seal *seal = NULL;
    CHECK_INT(bridge_seal_new(&key, &limits, &seal), 0);
    bridge_key_wipe(&key);
    return seal;
}

static char *pattern(size_t len)
{
    char *p = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)(i * 131 + i / 251);
    return p;
}

/* Seals one packet into a NUL-terminated string the caller frees. */
static char *seal_text(const struct bridge_seal *seal, const char *channel, uint64_t now,
                       enum bridge_type type, uint32_t index, int final, const void *data,
                       size_t len, const char *content_type)
{
    struct buf out = BUF_INIT;
    CHECK_INT(bridge_seal_encode(seal, &out, channel, now, type, "dev", "req-1", index, final, data,
                                 len, content_type),
              0);
    buf_terminate(&out);
    return buf_steal(&out, NULL);
}

static int open_text(struct bridge_seal *seal, const char *channel, uint64_t now, const char *text,
                     char *cause, size_t cause_len)
{
    struct bridge_packet p;
    int rc = bridge_seal_decode(seal, channel, now, text, strlen(text), &p, cause, cause_len);
    bridge_packet_free(&p);
    return rc;
}

/* ---- AES-256-GCM ---- */

static void unhex(const char *hex, uint8_t *out)
{
    for (size_t i = 0; hex[2 * i]; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

/* Test cases 13 and 14 of the GCM specification (McGrew and Viega): an
 * all-zero key and nonce, no plaintext and one zero block. */
TEST(gcm_known_answers)
{
    uint8_t key[32] = {0}, nonce[12] = {0}, tag[16], expected[16], block[16] = {0};
    CHECK_INT(crypto_aes256gcm_seal(key, nonce, NULL, 0, NULL, 0, NULL, tag), 0);
    unhex("530f8afbc74536b9a963b4f1c4cb738b", expected);
    CHECK(memcmp(tag, expected, 16) == 0);
    CHECK_INT(crypto_aes256gcm_open(key, nonce, NULL, 0, NULL, 0, tag, NULL), 0);

    CHECK_INT(crypto_aes256gcm_seal(key, nonce, NULL, 0, block, 16, block, tag), 0);
    unhex("cea7403d4d606b6e074ec5d3baf39d18", expected);
    CHECK(memcmp(block, expected, 16) == 0);
    unhex("d0d1c8a799996bf0265b98b5d48ab919", expected);
    CHECK(memcmp(tag, expected, 16) == 0);
    CHECK_INT(crypto_aes256gcm_open(key, nonce, NULL, 0, block, 16, tag, block), 0);
    CHECK(memcmp(block, (uint8_t[16]){0}, 16) == 0);
}

TEST(gcm_refuses_altered_input_and_wipes)
{
    uint8_t key[32], nonce[12] = {1}, tag[16];
    memset(key, 0x42, sizeof(key));
    char text[] = "the payload of a packet";
    uint8_t sealed[sizeof(text)], opened[sizeof(text)];
    CHECK_INT(crypto_aes256gcm_seal(key, nonce, "aad", 3, text, sizeof(text), sealed, tag), 0);
    CHECK_INT(crypto_aes256gcm_open(key, nonce, "aad", 3, sealed, sizeof(text), tag, opened), 0);
    CHECK(memcmp(opened, text, sizeof(text)) == 0);
    CHECK_INT(crypto_aes256gcm_open(key, nonce, "aaD", 3, sealed, sizeof(text), tag, opened),
              -EBADMSG);
    CHECK(memcmp(opened, (uint8_t[sizeof(text)]){0}, sizeof(text)) == 0);
    sealed[3] ^= 1;
    CHECK_INT(crypto_aes256gcm_open(key, nonce, "aad", 3, sealed, sizeof(text), tag, opened),
              -EBADMSG);
    sealed[3] ^= 1;
    tag[15] ^= 0x80;
    CHECK_INT(crypto_aes256gcm_open(key, nonce, "aad", 3, sealed, sizeof(text), tag, opened),
              -EBADMSG);
    tag[15] ^= 0x80;
    nonce[11] = 9;
    CHECK_INT(crypto_aes256gcm_open(key, nonce, "aad", 3, sealed, sizeof(text), tag, opened),
              -EBADMSG);
    /* In place. */
    nonce[11] = 0;
    CHECK_INT(crypto_aes256gcm_open(key, nonce, "aad", 3, sealed, sizeof(text), tag, sealed), 0);
    CHECK(memcmp(sealed, text, sizeof(text)) == 0);
}

/* ---- the key ---- */

TEST(key_generate_format_parse)
{
    struct bridge_key a, b, parsed;
    CHECK_INT(bridge_key_generate(&a), 0);
    CHECK_INT(bridge_key_generate(&b), 0);
    CHECK(memcmp(a.bytes, b.bytes, sizeof(a.bytes)) != 0);
    char text[BRIDGE_KEY_TEXT_SIZE];
    bridge_key_format(&a, text);
    CHECK_INT(strlen(text), BRIDGE_KEY_TEXT_SIZE - 1);
    CHECK(strncmp(text, "tk1.", 4) == 0);
    CHECK(strspn(text + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          43);
    char cause[256] = "";
    CHECK_INT(bridge_key_parse(text, strlen(text), &parsed, cause, sizeof(cause)), 0);
    CHECK(memcmp(parsed.bytes, a.bytes, sizeof(a.bytes)) == 0);

    /* A file's newline and indentation are ignored. */
    char padded[BRIDGE_KEY_TEXT_SIZE + 8];
    snprintf(padded, sizeof(padded), " \t%s\r\n", text);
    memset(&parsed, 0, sizeof(parsed));
    CHECK_INT(bridge_key_parse(padded, strlen(padded), &parsed, cause, sizeof(cause)), 0);
    CHECK(memcmp(parsed.bytes, a.bytes, sizeof(a.bytes)) == 0);

    bridge_key_wipe(&parsed);
    CHECK(memcmp(parsed.bytes, (uint8_t[BRIDGE_KEY_BYTES]){0}, BRIDGE_KEY_BYTES) == 0);
}

/* Whether cause shows any 6 consecutive characters of secret. */
static int leaks(const char *cause, const char *secret)
{
    size_t n = strlen(secret);
    for (size_t i = 0; i + 6 <= n; i++) {
        char piece[7];
        memcpy(piece, secret + i, 6);
        piece[6] = '\0';
        if (strstr(cause, piece))
            return 1;
    }
    return 0;
}

TEST(key_parse_errors_never_echo_the_text)
{
    struct bridge_key key;
    fixed_key(&key, 3);
    char good[BRIDGE_KEY_TEXT_SIZE];
    bridge_key_format(&key, good);
    char body[64];
    snprintf(body, sizeof(body), "%s", good + 4);

    char bad[8][96];
    snprintf(bad[0], sizeof(bad[0]), "tk2.%s", body);    /* prefix */
    snprintf(bad[1], sizeof(bad[1]), "TK1.%s", body);    /* prefix is case-sensitive */
    snprintf(bad[2], sizeof(bad[2]), "tk1.%.42s", body); /* one character short */
    snprintf(bad[3], sizeof(bad[3]), "tk1.%sA", body);   /* one too many */
    snprintf(bad[4], sizeof(bad[4]), "tk1.%s=", body);   /* padding */
    snprintf(bad[5], sizeof(bad[5]), "tk1.%s", body);    /* the standard alphabet */
    bad[5][10] = '+';
    snprintf(bad[6], sizeof(bad[6]), "tk1.%.42sB", body); /* last character not canonical */
    snprintf(bad[7], sizeof(bad[7]), "%s", body);         /* no prefix at all */
    const char *expect[8] = {"start with", "start with", "43 characters", "43 characters",
                             "padded",     "base64url",  "base64url",     "start with"};
    for (int i = 0; i < 8; i++) {
        char cause[256] = "";
        struct bridge_key out;
        memset(&out, 0xAA, sizeof(out));
        CHECK_INT(bridge_key_parse(bad[i], strlen(bad[i]), &out, cause, sizeof(cause)), -EINVAL);
        if (!strstr(cause, expect[i]))
            fprintf(stderr, "  case %d: cause \"%s\"\n", i, cause);
        CHECK(strstr(cause, expect[i]) != NULL);
        CHECK(!leaks(cause, body));
    }
    char cause[256] = "";
    struct bridge_key out;
    CHECK_INT(bridge_key_parse("", 0, &out, cause, sizeof(cause)), -EINVAL);
    CHECK_INT(bridge_key_parse("tk1.", 4, &out, cause, sizeof(cause)), -EINVAL);
}

/* ---- sealing and opening ---- */

TEST(round_trip_every_type)
{
    struct bridge_seal *seal = new_seal(1, 0);
    for (int type = 0; type < BRIDGE_TYPE_COUNT; type++) {
        char body[64];
        int len = snprintf(body, sizeof(body), "{\"body of\":\"%s\"}", bridge_type_name(type));
        const char *ct = type == BRIDGE_RESPONSE ? "text/event-stream" : NULL;
        char *text =
            seal_text(seal, CHANNEL, NOW, type, (uint32_t)type, type % 2, body, (size_t)len, ct);
        /* The plaintext is nowhere in the packet. */
        CHECK(strstr(text, "body of") == NULL);
        struct bridge_packet p;
        char cause[256] = "";
        CHECK_INT(bridge_seal_decode(seal, CHANNEL, NOW + 5, text, strlen(text), &p, cause,
                                     sizeof(cause)),
                  0);
        CHECK_INT(p.type, type);
        CHECK_STR(p.source, "dev");
        CHECK_STR(p.id, "req-1");
        CHECK_INT(p.index, type);
        CHECK_INT(p.final, type % 2);
        CHECK_STR(p.content_type, ct ? ct : "");
        CHECK(p.sealed_ms == NOW); /* the sender's clock, not the receiver's */
        CHECK_INT(buf_length(&p.data), len);
        CHECK(memcmp(buf_bytes(&p.data), body, (size_t)len) == 0);
        bridge_packet_free(&p);
        free(text);
    }
    CHECK_INT(bridge_seal_remembered(seal), BRIDGE_TYPE_COUNT);
    bridge_seal_free(seal);
}

TEST(empty_and_full_chunks)
{
    struct bridge_seal *seal = new_seal(2, 0);
    size_t sizes[] = {0, 1, BRIDGE_CHUNK_BYTES - 1, BRIDGE_CHUNK_BYTES};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *body = pattern(sizes[i]);
        char *text = seal_text(seal, CHANNEL, NOW, BRIDGE_NEXT, 0, 1, body, sizes[i], NULL);
        struct bridge_packet p;
        char cause[256] = "";
        CHECK_INT(
            bridge_seal_decode(seal, CHANNEL, NOW, text, strlen(text), &p, cause, sizeof(cause)),
            0);
        CHECK_INT(buf_length(&p.data), sizes[i]);
        CHECK(sizes[i] == 0 || memcmp(buf_bytes(&p.data), body, sizes[i]) == 0);
        bridge_packet_free(&p);
        free(text);
        free(body);
    }
    /* A sealed chunk holds at most a chunk of plaintext. */
    char *body = pattern(BRIDGE_CHUNK_BYTES + 1);
    struct buf out = BUF_INIT;
    CHECK_INT(bridge_seal_encode(seal, &out, CHANNEL, NOW, BRIDGE_NEXT, "dev", "r", 0, 1, body,
                                 BRIDGE_CHUNK_BYTES + 1, NULL),
              -EINVAL);
    CHECK_INT(buf_length(&out), 0);
    buf_free(&out);
    free(body);
    bridge_seal_free(seal);
}

TEST(encode_refuses_what_the_receiver_could_not_read_back)
{
    struct bridge_seal *seal = new_seal(2, 0);
    struct buf out = BUF_INIT;
    char long_id[BRIDGE_MAX_ID_LENGTH + 2];
    memset(long_id, 'i', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    CHECK_INT(bridge_seal_encode(seal, &out, CHANNEL, NOW, BRIDGE_NEXT, "dev", long_id, 0, 1, "x",
                                 1, NULL),
              -EINVAL);
    CHECK_INT(
        bridge_seal_encode(seal, &out, CHANNEL, NOW, BRIDGE_NEXT, "d\nv", "r", 0, 1, "x", 1, NULL),
        -EINVAL);
    CHECK_INT(
        bridge_seal_encode(seal, &out, CHANNEL, NOW, BRIDGE_NEXT, "d\xff", "r", 0, 1, "x", 1, NULL),
        -EINVAL);
    CHECK_INT(bridge_seal_encode(seal, &out, CHANNEL, NOW, BRIDGE_TYPE_COUNT, "dev", "r", 0, 1, "x",
                                 1, NULL),
              -EINVAL);
    CHECK_INT(bridge_seal_encode(seal, &out, CHANNEL, NOW, BRIDGE_NEXT, "dev", "r",
                                 BRIDGE_MAX_INDEX, 1, "x", 1, NULL),
              -EINVAL);
    CHECK_INT(bridge_seal_encode(seal, &out, CHANNEL, BRIDGE_SEALED_MAX_TS + 1, BRIDGE_NEXT, "dev",
                                 "r", 0, 1, "x", 1, NULL),
              -EINVAL);
    CHECK_INT(buf_length(&out), 0);
    buf_free(&out);
    bridge_seal_free(seal);
}

/* Rewrites one field of a sealed packet's JSON; value NULL removes it. */
static char *alter(const char *text, const char *field, json_t *value)
{
    json_t *root = json_loads(text, 0, NULL);
    if (value)
        json_object_set_new(root, field, value);
    else
        json_object_del(root, field);
    char *out = json_dumps(root, 0); /* spaced: other bytes than the sealer wrote */
    json_decref(root);
    return out;
}

/* Flips one bit of a base64 field's decoded bytes. */
static json_t *flipped_base64(const char *text, const char *field, size_t byte)
{
    json_t *root = json_loads(text, 0, NULL);
    const char *b64 = json_string_value(json_object_get(root, field));
    struct buf raw = BUF_INIT, again = BUF_INIT;
    base64_decode(&raw, b64, strlen(b64));
    raw.data[raw.start + byte] ^= 1;
    base64_encode(&again, buf_bytes(&raw), buf_length(&raw));
    json_t *v = json_stringn(buf_bytes(&again), buf_length(&again));
    buf_free(&raw);
    buf_free(&again);
    json_decref(root);
    return v;
}

TEST(every_bound_field_altered_does_not_open)
{
    struct bridge_seal *seal = new_seal(4, 0);
    char *text =
        seal_text(seal, CHANNEL, NOW, BRIDGE_RESPONSE, 2, 0, "secret body", 11, "application/json");
    struct {
        const char *field;
        json_t *value;
    } changes[] = {
        {"type", json_integer(BRIDGE_ERROR)},
        {"source", json_string("dew")},
        {"id", json_string("req-2")},
        {"index", json_integer(3)},
        {"index", NULL}, /* absent means 0 */
        {"final", json_true()},
        {"final", NULL}, /* absent means true */
        {"contentType", json_string("text/html")},
        {"contentType", NULL},
        {"ts", json_integer((json_int_t)NOW + 1)},
        {"ts", json_integer((json_int_t)NOW - 1000)},
        {"nonce", flipped_base64(text, "nonce", 5)},
        {"data", flipped_base64(text, "data", 0)},  /* ciphertext */
        {"data", flipped_base64(text, "data", 12)}, /* tag */
    };
    for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
        char *altered = alter(text, changes[i].field, changes[i].value);
        char cause[256] = "";
        int rc = open_text(seal, CHANNEL, NOW, altered, cause, sizeof(cause));
        if (rc != -EBADMSG)
            fprintf(stderr, "  change %zu (%s): %d %s\n", i, changes[i].field, rc, cause);
        CHECK_INT(rc, -EBADMSG);
        CHECK(strstr(cause, "does not open") != NULL);
        free(altered);
    }
    /* Nothing that failed was remembered, and the original still opens. */
    CHECK_INT(bridge_seal_remembered(seal), 0);
    char cause[256] = "";
    CHECK_INT(open_text(seal, CHANNEL, NOW, text, cause, sizeof(cause)), 0);
    free(text);
    bridge_seal_free(seal);
}

TEST(wrong_key_and_wrong_channel)
{
    struct bridge_seal *seal = new_seal(5, 0), *other = new_seal(6, 0);
    char *text = seal_text(seal, CHANNEL, NOW, BRIDGE_INIT, 0, 1, "{\"env\":{}}", 10, NULL);
    char cause[256] = "";
    CHECK_INT(open_text(other, CHANNEL, NOW, text, cause, sizeof(cause)), -EBADMSG);
    CHECK_INT(open_text(seal, "/tether/dev/stage-2", NOW, text, cause, sizeof(cause)), -EBADMSG);
    CHECK_INT(open_text(seal, CHANNEL "/", NOW, text, cause, sizeof(cause)), -EBADMSG);
    CHECK_INT(open_text(seal, CHANNEL, NOW, text, cause, sizeof(cause)), 0);
    free(text);
    bridge_seal_free(seal);
    bridge_seal_free(other);
}

TEST(open_and_malformed_packets_are_refused)
{
    struct bridge_seal *seal = new_seal(7, 0);
    struct buf open = BUF_INIT;
    CHECK_INT(bridge_packet_encode(&open, BRIDGE_RESPONSE, "dev", "req-1", 0, 1, "{}", 2, NULL), 0);
    buf_terminate(&open);
    char cause[256] = "";
    CHECK_INT(open_text(seal, CHANNEL, NOW, buf_bytes(&open), cause, sizeof(cause)), -EINVAL);
    CHECK(strstr(cause, "not sealed") != NULL);
    buf_free(&open);

    char *text = seal_text(seal, CHANNEL, NOW, BRIDGE_NEXT, 0, 1, "abc", 3, NULL);
    struct {
        const char *field;
        json_t *value;
    } bad[] = {
        {"v", json_integer(2)},
        {"v", json_string("1")},
        {"ts", NULL},
        {"ts", json_integer(-1)},
        {"ts", json_real(1.5)},
        {"ts", json_integer((json_int_t)BRIDGE_SEALED_MAX_TS + 1)},
        {"nonce", NULL},
        {"nonce", json_string("AAAAAAAAAAAAAAA=")},
        {"nonce", json_string("AAAAAAAAAAAAAAAAAAAA")},
        {"nonce", json_string("AAAAAAAAAAAAAAA*")},
        {"data", NULL},
        {"data", json_string("AAAA")}, /* shorter than a tag */
        {"type", json_integer(99)},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *altered = alter(text, bad[i].field, bad[i].value);
        int rc = open_text(seal, CHANNEL, NOW, altered, cause, sizeof(cause));
        if (rc != -EINVAL)
            fprintf(stderr, "  case %zu (%s): %d %s\n", i, bad[i].field, rc, cause);
        CHECK_INT(rc, -EINVAL);
        free(altered);
    }
    CHECK_INT(open_text(seal, CHANNEL, NOW, "not json", cause, sizeof(cause)), -EINVAL);
    free(text);
    bridge_seal_free(seal);
}

TEST(time_outside_the_window)
{
    struct bridge_seal *seal = new_seal(8, 0);
    struct {
        uint64_t ts;
        int rc;
        const char *cause;
    } cases[] = {
        {NOW - WINDOW - 1, -ETIME, "behind"},
        {NOW + WINDOW + 1, -ETIME, "ahead of"},
        {NOW - WINDOW, 0, ""}, /* the window's edges are inside */
        {NOW + WINDOW, 0, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *text = seal_text(seal, CHANNEL, cases[i].ts, BRIDGE_PING, 0, 1, "", 0, NULL);
        char cause[256] = "";
        CHECK_INT(open_text(seal, CHANNEL, NOW, text, cause, sizeof(cause)), cases[i].rc);
        CHECK(strstr(cause, cases[i].cause) != NULL);
        free(text);
    }
    bridge_seal_free(seal);
}

TEST(replays_are_refused_until_the_window_refuses_them)
{
    struct bridge_seal *seal = new_seal(9, 0);
    char cause[256] = "";
    char *text = seal_text(seal, CHANNEL, NOW, BRIDGE_RESPONSE, 0, 1, "{\"ok\":1}", 8, NULL);
    CHECK_INT(open_text(seal, CHANNEL, NOW, text, cause, sizeof(cause)), 0);
    CHECK_INT(open_text(seal, CHANNEL, NOW + 1, text, cause, sizeof(cause)), -EALREADY);
    CHECK(strstr(cause, "replayed") != NULL);
    CHECK_INT(bridge_seal_remembered(seal), 1);

    /* A sweep inside the window forgets nothing the window still accepts. */
    bridge_seal_sweep(seal, NOW + WINDOW / 2);
    CHECK_INT(bridge_seal_remembered(seal), 1);
    CHECK_INT(open_text(seal, CHANNEL, NOW + WINDOW / 2, text, cause, sizeof(cause)), -EALREADY);
    bridge_seal_sweep(seal, NOW + WINDOW);
    CHECK_INT(bridge_seal_remembered(seal), 1);
    CHECK_INT(open_text(seal, CHANNEL, NOW + WINDOW, text, cause, sizeof(cause)), -EALREADY);

    /* Past the window the time refuses it, and the nonce can go. */
    CHECK_INT(open_text(seal, CHANNEL, NOW + WINDOW + 1, text, cause, sizeof(cause)), -ETIME);
    bridge_seal_sweep(seal, NOW + WINDOW + 1);
    CHECK_INT(bridge_seal_remembered(seal), 0);
    CHECK_INT(open_text(seal, CHANNEL, NOW + WINDOW + 1, text, cause, sizeof(cause)), -ETIME);

    /* A replay written differently (other key order) is still the same nonce. */
    char *second = seal_text(seal, CHANNEL, NOW, BRIDGE_RESPONSE, 0, 1, "x", 1, NULL);
    CHECK_INT(open_text(seal, CHANNEL, NOW, second, cause, sizeof(cause)), 0);
    char *respelled = alter(second, "ts", json_integer((json_int_t)NOW));
    CHECK(strcmp(respelled, second) != 0);
    CHECK_INT(open_text(seal, CHANNEL, NOW, respelled, cause, sizeof(cause)), -EALREADY);
    free(respelled);
    free(second);
    free(text);
    bridge_seal_free(seal);
}

TEST(replay_memory_full_fails_closed_then_recovers)
{
    struct bridge_seal *seal = new_seal(10, 4);
    char cause[256] = "";
    char *texts[5];
    for (int i = 0; i < 5; i++)
        texts[i] =
            seal_text(seal, CHANNEL, NOW + (uint64_t)i, BRIDGE_NEXT, (uint32_t)i, 0, "x", 1, NULL);
    for (int i = 0; i < 4; i++)
        CHECK_INT(open_text(seal, CHANNEL, NOW + 10, texts[i], cause, sizeof(cause)), 0);
    CHECK_INT(open_text(seal, CHANNEL, NOW + 10, texts[4], cause, sizeof(cause)), -ENOSPC);
    CHECK(strstr(cause, "full") != NULL);
    CHECK_INT(bridge_seal_remembered(seal), 4);
    /* A sweep inside the window cannot make room. */
    CHECK_INT(open_text(seal, CHANNEL, NOW + WINDOW, texts[4], cause, sizeof(cause)), -ENOSPC);

    /* Once the first has aged out, decode itself makes room. */
    char *later = seal_text(seal, CHANNEL, NOW + WINDOW + 1, BRIDGE_NEXT, 9, 1, "y", 1, NULL);
    CHECK_INT(open_text(seal, CHANNEL, NOW + WINDOW + 1, later, cause, sizeof(cause)), 0);
    CHECK_INT(bridge_seal_remembered(seal), 4);
    CHECK_INT(open_text(seal, CHANNEL, NOW + WINDOW + 1, later, cause, sizeof(cause)), -EALREADY);
    for (int i = 0; i < 5; i++)
        free(texts[i]);
    free(later);
    bridge_seal_free(seal);
}

TEST(causes_never_contain_key_material)
{
    struct bridge_key key;
    fixed_key(&key, 11);
    char key_text[BRIDGE_KEY_TEXT_SIZE];
    bridge_key_format(&key, key_text);
    char key_hex[2 * BRIDGE_KEY_BYTES + 1];
    hex_encode(key_hex, key.bytes, sizeof(key.bytes));
    struct bridge_seal *seal = new_seal(11, 1), *other = new_seal(12, 0);
    char *a = seal_text(other, CHANNEL, NOW, BRIDGE_INIT, 0, 1, "{}", 2, NULL);
    char *b = seal_text(seal, CHANNEL, NOW, BRIDGE_INIT, 0, 1, "{}", 2, NULL);
    char *c = seal_text(seal, CHANNEL, NOW, BRIDGE_INIT, 1, 1, "{}", 2, NULL);
    const char *inputs[] = {a, b, b, c, "{}"};
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        char cause[512] = "";
        CHECK(open_text(seal, CHANNEL, NOW, inputs[i], cause, sizeof(cause)) != 0 || i == 1);
        CHECK(!leaks(cause, key_text + 4));
        CHECK(!leaks(cause, key_hex));
        CHECK(memmem(cause, strlen(cause), key.bytes, 6) == NULL);
    }
    free(a);
    free(b);
    free(c);
    bridge_seal_free(seal);
    bridge_seal_free(other);
}

/* ---- the sealing writer ---- */

struct collected {
    struct bridge_seal *seal;
    struct buf body;
    uint32_t packets;
    int finals;
    char content_type[128];
    int failures;
};

static int open_emitted(void *ctx, const char *json, size_t len)
{
    struct collected *c = ctx;
    struct bridge_packet p;
    char cause[256];
    if (bridge_seal_decode(c->seal, CHANNEL, NOW, json, len, &p, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "  emitted packet does not open: %s\n", cause);
        c->failures++;
        return -EIO;
    }
    if (p.index != c->packets || p.type != BRIDGE_RESPONSE || strcmp(p.id, "req-9") != 0)
        c->failures++;
    if (p.index == 0)
        snprintf(c->content_type, sizeof(c->content_type), "%s", p.content_type);
    buf_append(&c->body, buf_bytes(&p.data), buf_length(&p.data));
    c->packets++;
    c->finals += p.final;
    bridge_packet_free(&p);
    return 0;
}

static uint64_t fixed_clock(void *ctx)
{
    return *(const uint64_t *)ctx;
}

TEST(writer_seals_every_packet)
{
    struct bridge_seal *seal = new_seal(13, 0);
    struct collected c = {.seal = seal};
    uint64_t now = NOW;
    size_t len = 2 * BRIDGE_CHUNK_BYTES + 1000;
    char *body = pattern(len);
    struct bridge_writer w;
    bridge_writer_init(&w, BRIDGE_RESPONSE, "dev", "req-9", open_emitted, &c);
    snprintf(w.content_type, sizeof(w.content_type), "text/plain");
    CHECK_INT(bridge_writer_seal(&w, seal, CHANNEL, fixed_clock, &now), 0);
    CHECK_INT(bridge_writer_write(&w, body, 1000), 0);
    CHECK_INT(bridge_writer_flush(&w), 0);
    CHECK_INT(bridge_writer_write(&w, body + 1000, len - 1000), 0);
    CHECK_INT(bridge_writer_close(&w), 0);
    bridge_writer_free(&w);
    CHECK_INT(c.failures, 0);
    CHECK_INT(c.packets, 3);
    CHECK_INT(c.finals, 1);
    CHECK_STR(c.content_type, "text/plain");
    CHECK_INT(buf_length(&c.body), len);
    CHECK(buf_length(&c.body) == len && memcmp(buf_bytes(&c.body), body, len) == 0);

    /* bridge_send_sealed: the whole message at once; a missing clock is refused. */
    buf_reset(&c.body);
    c.packets = 0;
    CHECK_INT(bridge_send_sealed(seal, CHANNEL, fixed_clock, &now, BRIDGE_RESPONSE, "dev", "req-9",
                                 body, 10, open_emitted, &c),
              0);
    CHECK_INT(c.packets, 1);
    CHECK_INT(buf_length(&c.body), 10);
    CHECK_INT(bridge_send_sealed(seal, CHANNEL, NULL, NULL, BRIDGE_RESPONSE, "dev", "req-9", body,
                                 10, open_emitted, &c),
              -EINVAL);
    CHECK_INT(c.failures, 0);
    buf_free(&c.body);
    free(body);
    bridge_seal_free(seal);
}

/* ---- vectors written by tests/integration/lib/seal.mjs ---- */

/* The test binary lives under <repository>/build/; the vectors are found
 * from there, whatever the current directory is. */
static int vectors_path(char *out, size_t len)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    char *build = strstr(exe, "/build/");
    if (!build)
        return -1;
    *build = '\0';
    snprintf(out, len, "%s/tests/unit/data/seal_vectors.json", exe);
    return 0;
}

static void check_vector(const struct bridge_key *key, json_t *v)
{
    const char *channel = json_string_value(json_object_get(v, "channel"));
    uint64_t now = (uint64_t)json_integer_value(json_object_get(v, "now"));
    const char *sealed = json_string_value(json_object_get(v, "sealed"));
    const char *nonce_b64 = json_string_value(json_object_get(v, "nonce"));
    const char *data_b64 = json_string_value(json_object_get(v, "data"));
    const char *ct = json_string_value(json_object_get(v, "contentType"));
    struct buf nonce = BUF_INIT, data = BUF_INIT, again = BUF_INIT;
    CHECK_INT(base64_decode(&nonce, nonce_b64, strlen(nonce_b64)), 0);
    CHECK_INT(base64_decode(&data, data_b64, strlen(data_b64)), 0);
    CHECK_INT(buf_length(&nonce), BRIDGE_SEAL_NONCE_BYTES);
    struct bridge_seal *seal = NULL;
    CHECK_INT(bridge_seal_new(key, NULL, &seal), 0);

    /* Sealed here with the same nonce: the same bytes. */
    enum bridge_type type = (enum bridge_type)json_integer_value(json_object_get(v, "type"));
    const char *source = json_string_value(json_object_get(v, "source"));
    const char *id = json_string_value(json_object_get(v, "id"));
    uint32_t index = (uint32_t)json_integer_value(json_object_get(v, "index"));
    int final = json_is_true(json_object_get(v, "final"));
    CHECK_INT(bridge_seal_encode_with_nonce(seal, &again, channel, now,
                                            (const uint8_t *)buf_bytes(&nonce), type, source, id,
                                            index, final, buf_bytes(&data), buf_length(&data), ct),
              0);
    buf_terminate(&again);
    CHECK_STR(buf_bytes(&again), sealed);

    /* Opened here: the same fields and plaintext. */
    struct bridge_packet p;
    char cause[256] = "";
    CHECK_INT(
        bridge_seal_decode(seal, channel, now, sealed, strlen(sealed), &p, cause, sizeof(cause)),
        0);
    CHECK_INT(p.type, type);
    CHECK_STR(p.source, source);
    CHECK_STR(p.id, id);
    CHECK_INT(p.index, index);
    CHECK_INT(p.final, final);
    CHECK_STR(p.content_type, ct);
    CHECK_INT(buf_length(&p.data), buf_length(&data));
    CHECK(buf_length(&p.data) == buf_length(&data) &&
          memcmp(buf_bytes(&p.data), buf_bytes(&data), buf_length(&data)) == 0);
    bridge_packet_free(&p);
    bridge_seal_free(seal);
    buf_free(&nonce);
    buf_free(&data);
    buf_free(&again);
}

TEST(vectors_from_the_node_implementation)
{
    char path[4200];
    CHECK_INT(vectors_path(path, sizeof(path)), 0);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root)
        fprintf(stderr, "  %s: %s\n", path, err.text);
    CHECK(root != NULL);
    if (!root)
        return;
    const char *key_text = json_string_value(json_object_get(root, "key"));
    struct bridge_key key;
    char cause[256] = "";
    CHECK_INT(bridge_key_parse(key_text, strlen(key_text), &key, cause, sizeof(cause)), 0);
    json_t *vectors = json_object_get(root, "vectors");
    CHECK(json_array_size(vectors) >= BRIDGE_TYPE_COUNT);
    for (size_t i = 0; i < json_array_size(vectors); i++)
        check_vector(&key, json_array_get(vectors, i));
    json_decref(root);
}

/* ---- packets sealed here, for tests/integration/seal.test.mjs ---- */

struct sample {
    json_t *packets;
};

static int add_to_sample(void *ctx, const char *json, size_t len)
{
    struct sample *s = ctx;
    json_t *entry = json_object();
    json_object_set_new(entry, "sealed", json_stringn(json, len));
    return json_array_append_new(s->packets, entry) == 0 ? 0 : -ENOMEM;
}

static void add_packet(struct sample *s, const struct bridge_seal *seal, enum bridge_type type,
                       uint32_t index, const char *data, size_t len, const char *ct)
{
    struct buf text = BUF_INIT, b64 = BUF_INIT;
    CHECK_INT(bridge_seal_encode(seal, &text, CHANNEL, NOW, type, "dev", "sample", index, 1, data,
                                 len, ct),
              0);
    base64_encode(&b64, data, len);
    json_t *entry = json_pack("{s:s%,s:s%}", "sealed", buf_bytes(&text), buf_length(&text), "data",
                              buf_bytes(&b64) ? buf_bytes(&b64) : "", buf_length(&b64));
    json_array_append_new(s->packets, entry);
    buf_free(&text);
    buf_free(&b64);
}

/* Writes packets sealed with random nonces, and what they hold, to
 * $TETHER_SEAL_SAMPLE (the node test runs this case and opens them with
 * lib/seal.mjs), or to a temporary file; then opens the file's packets here. */
TEST(c_sealed_sample)
{
    struct bridge_key key;
    fixed_key(&key, 20);
    char key_text[BRIDGE_KEY_TEXT_SIZE];
    bridge_key_format(&key, key_text);
    struct bridge_seal *seal = NULL;
    CHECK_INT(bridge_seal_new(&key, NULL, &seal), 0);
    struct sample s = {.packets = json_array()};
    size_t big = BRIDGE_CHUNK_BYTES;
    char *body = pattern(2 * big + 7);
    add_packet(&s, seal, BRIDGE_INIT, 0, "{\"env\":{\"SECRET\":\"s3cr3t\"}}", 26, NULL);
    add_packet(&s, seal, BRIDGE_PING, 0, "", 0, NULL);
    add_packet(&s, seal, BRIDGE_RESPONSE, 0, body, big, "application/octet-stream");
    /* A whole message through the sealing writer: three packets. */
    uint64_t now = NOW;
    CHECK_INT(bridge_send_sealed(seal, CHANNEL, fixed_clock, &now, BRIDGE_NEXT, "dev", "msg", body,
                                 2 * big + 7, add_to_sample, &s),
              0);
    json_t *root = json_pack("{s:s,s:s,s:I,s:o}", "key", key_text, "channel", CHANNEL, "now",
                             (json_int_t)NOW, "packets", s.packets);
    struct buf message = BUF_INIT;
    base64_encode(&message, body, 2 * big + 7);
    json_object_set_new(root, "message", json_stringn(buf_bytes(&message), buf_length(&message)));
    buf_free(&message);

    const char *env = getenv("TETHER_SEAL_SAMPLE");
    char tmp[] = "/tmp/tether-seal-sample-XXXXXX";
    int fd = env && *env ? -1 : mkstemp(tmp);
    const char *path = env && *env ? env : tmp;
    CHECK_INT(json_dump_file(root, path, JSON_COMPACT), 0);
    json_decref(root);

    /* Read back as the node test reads it. */
    json_error_t err;
    json_t *back = json_load_file(path, 0, &err);
    CHECK(back != NULL);
    json_t *packets = json_object_get(back, "packets");
    CHECK_INT(json_array_size(packets), 6);
    struct bridge_seal *reader = NULL;
    CHECK_INT(bridge_seal_new(&key, NULL, &reader), 0);
    struct buf joined = BUF_INIT;
    for (size_t i = 0; i < json_array_size(packets); i++) {
        const char *text = json_string_value(json_object_get(json_array_get(packets, i), "sealed"));
        struct bridge_packet p;
        char cause[256] = "";
        CHECK_INT(
            bridge_seal_decode(reader, CHANNEL, NOW, text, strlen(text), &p, cause, sizeof(cause)),
            0);
        if (i >= 3)
            buf_append(&joined, buf_bytes(&p.data), buf_length(&p.data));
        bridge_packet_free(&p);
    }
    CHECK(buf_length(&joined) == 2 * big + 7 && memcmp(buf_bytes(&joined), body, 2 * big + 7) == 0);
    buf_free(&joined);
    json_decref(back);
    bridge_seal_free(reader);
    bridge_seal_free(seal);
    free(body);
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
}

/* Not an assertion: how fast sealing and opening a 6 MB body is here
 * (issue 14 allows 25 ms of CPU per 6 MB per hop). */
TEST(throughput_of_a_6_mb_body)
{
    struct bridge_seal *seal = new_seal(14, 0);
    struct collected c = {.seal = seal};
    uint64_t now = NOW;
    size_t len = 6u << 20;
    char *body = pattern(len);
    struct buf sealed = BUF_INIT;
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    uint32_t packets = 0;
    for (size_t off = 0; off < len; off += BRIDGE_CHUNK_BYTES, packets++)
        CHECK_INT(bridge_seal_encode(seal, &sealed, CHANNEL, now, BRIDGE_NEXT, "dev", "req-9",
                                     packets, off + BRIDGE_CHUNK_BYTES >= len, body + off,
                                     BRIDGE_CHUNK_BYTES, NULL),
                  0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    /* The packets are concatenated; reopen them one by one. */
    const char *p = buf_bytes(&sealed), *end = p + buf_length(&sealed);
    while (p < end) {
        const char *next = (const char *)memchr(p, '}', (size_t)(end - p)) + 1;
        struct bridge_packet packet;
        char cause[256];
        CHECK_INT(bridge_seal_decode(seal, CHANNEL, now, p, (size_t)(next - p), &packet, cause,
                                     sizeof(cause)),
                  0);
        buf_append(&c.body, buf_bytes(&packet.data), buf_length(&packet.data));
        bridge_packet_free(&packet);
        p = next;
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t2);
    CHECK_INT(buf_length(&c.body), len);
    double seal_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double open_s = (double)(t2.tv_sec - t1.tv_sec) + (double)(t2.tv_nsec - t1.tv_nsec) / 1e9;
    /* AES-GCM alone, in place, chunk by chunk: the backend's share. */
    uint8_t key[32] = {1}, nonce[12] = {2}, tag[16];
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    for (size_t off = 0; off < len; off += BRIDGE_CHUNK_BYTES)
        CHECK_INT(crypto_aes256gcm_seal(key, nonce, "aad", 3, body + off, BRIDGE_CHUNK_BYTES,
                                        body + off, tag),
                  0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    double gcm_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr,
            "  6 MiB in %u packets: seal %.1f ms (%.0f MB/s), open %.1f ms (%.0f MB/s), of "
            "which AES-GCM alone %.1f ms (%.0f MB/s)\n",
            packets, seal_s * 1e3, (double)len / 1e6 / seal_s, open_s * 1e3,
            (double)len / 1e6 / open_s, gcm_s * 1e3, (double)len / 1e6 / gcm_s);
    buf_free(&sealed);
    buf_free(&c.body);
    free(body);
    bridge_seal_free(seal);
}

RUN_TESTS("bridge_seal", TEST_ENTRY(gcm_known_answers),
          TEST_ENTRY(gcm_refuses_altered_input_and_wipes), TEST_ENTRY(key_generate_format_parse),
          TEST_ENTRY(key_parse_errors_never_echo_the_text), TEST_ENTRY(round_trip_every_type),
          TEST_ENTRY(empty_and_full_chunks),
          TEST_ENTRY(encode_refuses_what_the_receiver_could_not_read_back),
          TEST_ENTRY(every_bound_field_altered_does_not_open),
          TEST_ENTRY(wrong_key_and_wrong_channel),
          TEST_ENTRY(open_and_malformed_packets_are_refused), TEST_ENTRY(time_outside_the_window),
          TEST_ENTRY(replays_are_refused_until_the_window_refuses_them),
          TEST_ENTRY(replay_memory_full_fails_closed_then_recovers),
          TEST_ENTRY(causes_never_contain_key_material), TEST_ENTRY(writer_seals_every_packet),
          TEST_ENTRY(vectors_from_the_node_implementation), TEST_ENTRY(c_sealed_sample),
          TEST_ENTRY(throughput_of_a_6_mb_body))
