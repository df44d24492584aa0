/* Unit tests for core/encoding: base64 (both alphabets), hex, json_quote and
 * constant_time_equal. The json_quote expectations were produced by Node's
 * JSON.stringify and are hard-coded (octal escapes are the UTF-8 bytes). */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/encoding.h"
#include "test.h"

struct b64_vector {
    const char *raw;
    const char *std;
    const char *url;
};

/* RFC 4648 section 10, plus the unpadded form the URL-safe encoder writes. */
static const struct b64_vector rfc4648_vectors[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int buf_is(const struct buf *b, const void *expected, size_t len)
{
    return buf_length(b) == len && (len == 0 || memcmp(buf_bytes(b), expected, len) == 0);
}

static char *terminated(struct buf *b)
{
    buf_terminate(b);
    return buf_bytes(b);
}

TEST(test_base64_rfc4648_vectors)
{
    for (size_t i = 0; i < COUNT(rfc4648_vectors); i++) {
        const struct b64_vector *v = &rfc4648_vectors[i];
        struct buf out = BUF_INIT;
        CHECK_INT(base64_encode(&out, v->raw, strlen(v->raw)), 0);
        CHECK_STR(terminated(&out), v->std);
        CHECK_INT(base64_encoded_length(strlen(v->raw)), strlen(v->std));
        buf_reset(&out);
        CHECK_INT(base64url_encode(&out, v->raw, strlen(v->raw)), 0);
        CHECK_STR(terminated(&out), v->url);
        buf_free(&out);
    }
}

TEST(test_base64_decode_padded_and_unpadded)
{
    for (size_t i = 0; i < COUNT(rfc4648_vectors); i++) {
        const struct b64_vector *v = &rfc4648_vectors[i];
        struct buf out = BUF_INIT;
        CHECK_INT(base64_decode(&out, v->std, strlen(v->std)), 0);
        CHECK(buf_is(&out, v->raw, strlen(v->raw)));
        buf_reset(&out);
        CHECK_INT(base64_decode(&out, v->url, strlen(v->url)), 0);
        CHECK(buf_is(&out, v->raw, strlen(v->raw)));
        buf_reset(&out);
        CHECK_INT(base64url_decode(&out, v->url, strlen(v->url)), 0);
        CHECK(buf_is(&out, v->raw, strlen(v->raw)));
        buf_reset(&out);
        CHECK_INT(base64url_decode(&out, v->std, strlen(v->std)), 0);
        CHECK(buf_is(&out, v->raw, strlen(v->raw)));
        buf_free(&out);
    }
}

TEST(test_base64_alphabets_differ)
{
    /* 0xfb 0xff 0xbf uses the two characters the alphabets disagree on. */
    const unsigned char raw[] = {0xfb, 0xff, 0xbf, 0xfe};
    struct buf out = BUF_INIT;
    base64_encode(&out, raw, sizeof(raw));
    CHECK_STR(terminated(&out), "+/+//g==");
    buf_reset(&out);
    base64url_encode(&out, raw, sizeof(raw));
    CHECK_STR(terminated(&out), "-_-__g");
    buf_reset(&out);
    CHECK_INT(base64_decode(&out, "+/+//g==", 8), 0);
    CHECK(buf_is(&out, raw, sizeof(raw)));
    buf_reset(&out);
    CHECK_INT(base64url_decode(&out, "-_-__g", 6), 0);
    CHECK(buf_is(&out, raw, sizeof(raw)));
    buf_reset(&out);
    /* Each decoder refuses the other alphabet's characters. */
    CHECK_INT(base64_decode(&out, "-_-__g", 6), -EINVAL);
    CHECK_INT(base64url_decode(&out, "+/+//g==", 8), -EINVAL);
    CHECK_INT(buf_length(&out), 0);
    buf_free(&out);
}

TEST(test_base64_round_trips_every_length)
{
    unsigned char raw[300];
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (unsigned char)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof(raw); len++) {
        struct buf enc = BUF_INIT, dec = BUF_INIT;
        CHECK_INT(base64_encode(&enc, raw, len), 0);
        CHECK_INT(buf_length(&enc), base64_encoded_length(len));
        CHECK_INT(base64_decode(&dec, buf_bytes(&enc), buf_length(&enc)), 0);
        CHECK(buf_is(&dec, raw, len));
        buf_reset(&enc);
        buf_reset(&dec);
        CHECK_INT(base64url_encode(&enc, raw, len), 0);
        CHECK(memchr(buf_bytes(&enc), '=', buf_length(&enc)) == NULL);
        CHECK(memchr(buf_bytes(&enc), '+', buf_length(&enc)) == NULL);
        CHECK(memchr(buf_bytes(&enc), '/', buf_length(&enc)) == NULL);
        CHECK_INT(base64url_decode(&dec, buf_bytes(&enc), buf_length(&enc)), 0);
        CHECK(buf_is(&dec, raw, len));
        buf_free(&enc);
        buf_free(&dec);
    }
}

/* Every byte value in every position of a group: exactly the 64 characters
 * of each alphabet decode, and to their own value. */
TEST(test_base64_table_matches_alphabets)
{
    static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int c = 0; c < 256; c++) {
        const char *in_std = c ? memchr(std, c, 64) : NULL;
        const char *in_url = c ? memchr(url, c, 64) : NULL;
        for (size_t pos = 0; pos < 4; pos++) {
            if (c == '=' && pos == 3)
                continue; /* padding: "AAA=" is two bytes */
            char text[4] = {'A', 'A', 'A', 'A'};
            text[pos] = (char)c;
            struct buf a = BUF_INIT, b = BUF_INIT;
            CHECK_INT(base64_decode(&a, text, 4), in_std ? 0 : -EINVAL);
            CHECK_INT(base64url_decode(&b, text, 4), in_url ? 0 : -EINVAL);
            if (in_std) {
                uint32_t v = (uint32_t)(in_std - std) << (18 - 6 * pos);
                unsigned char want[3] = {(unsigned char)(v >> 16), (unsigned char)(v >> 8),
                                         (unsigned char)v};
                CHECK(buf_is(&a, want, 3));
            }
            buf_free(&a);
            buf_free(&b);
        }
    }
}

/* Decoding into caller memory: exactly base64_decoded_max bytes of room are
 * enough (ASan sees any write past them), one less is refused up front. */
TEST(test_base64_decode_to)
{
    unsigned char raw[200];
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (unsigned char)(i * 53 + 7);
    for (size_t len = 0; len <= sizeof(raw); len++) {
        struct buf enc = BUF_INIT;
        CHECK_INT(base64_encode(&enc, raw, len), 0);
        size_t room = base64_decoded_max(buf_length(&enc));
        unsigned char *dst = malloc(room);
        size_t written = 12345;
        CHECK_INT(base64_decode_to(dst, room, buf_bytes(&enc), buf_length(&enc), &written), 0);
        CHECK_INT(written, len);
        CHECK(memcmp(dst, raw, len) == 0);
        CHECK_INT(base64_decode_to(dst, room - 1, buf_bytes(&enc), buf_length(&enc), &written),
                  -ENOBUFS);
        free(dst);
        buf_free(&enc);
    }
    unsigned char dst[16];
    size_t written;
    CHECK_INT(base64_decode_to(dst, sizeof(dst), "Zm9v!A==", 8, &written), -EINVAL);
    CHECK_INT(base64_decode_to(dst, sizeof(dst), "Zg==Zg==", 8, &written), -EINVAL);
    CHECK_INT(base64_decode_to(dst, sizeof(dst), "-_-__g", 6, &written), -EINVAL);
    CHECK_INT(base64_decode_to(dst, sizeof(dst), "Zm9vYg==", 8, &written), 0);
    CHECK_INT(written, 4);
    CHECK(memcmp(dst, "foob", 4) == 0);
}

TEST(test_base64_encode_appends)
{
    struct buf out = BUF_INIT;
    buf_append_str(&out, "key=");
    base64_encode(&out, "foo", 3);
    CHECK_STR(terminated(&out), "key=Zm9v");
    buf_reset(&out);
    buf_append_str(&out, "raw:");
    CHECK_INT(base64_decode(&out, "Zm9vYg==", 8), 0);
    CHECK(buf_is(&out, "raw:foob", 8));
    buf_free(&out);
}

TEST(test_base64_rejects_invalid_input)
{
    static const char *const invalid[] = {
        "Zm9v!A==", "Zm 9", "Zm9\n",    "Zg==Zg==", "=Zm9",     "Zm9vY",     "Z",
        "Zm9\x80",  "Zm.v", "Zm9v*A==", "Z===",     "Zm9v=Zm9", "Zm9vYmFyY",
    };
    for (size_t i = 0; i < COUNT(invalid); i++) {
        struct buf out = BUF_INIT;
        if (base64_decode(&out, invalid[i], strlen(invalid[i])) != -EINVAL ||
            base64url_decode(&out, invalid[i], strlen(invalid[i])) != -EINVAL) {
            fprintf(stderr, "  accepted invalid base64 \"%s\"\n", invalid[i]);
            CHECK(!"invalid base64 accepted");
        }
        CHECK_INT(buf_length(&out), 0);
        buf_free(&out);
    }
    /* An embedded NUL is outside the alphabet too. */
    struct buf out = BUF_INIT;
    CHECK_INT(base64_decode(&out, "Zm\0v", 4), -EINVAL);
    buf_free(&out);
}

TEST(test_base64_failure_leaves_existing_content)
{
    struct buf out = BUF_INIT;
    buf_append_str(&out, "keep");
    CHECK_INT(base64_decode(&out, "Zm9vYmFy!!!!", 12), -EINVAL);
    CHECK(buf_is(&out, "keep", 4));
    buf_free(&out);
}

TEST(test_base64_failure_after_compaction_leaves_no_output)
{
    /* The decoder must not leave partial output behind even when making room
     * compacts the buffer (moves unread bytes to the front). */
    struct buf out = BUF_INIT;
    char prefix[200];
    for (size_t i = 0; i < sizeof(prefix); i++)
        prefix[i] = (char)('a' + i % 26);
    buf_append(&out, prefix, sizeof(prefix));
    buf_consume(&out, 150);
    char text[80];
    memset(text, 'Q', sizeof(text));
    text[78] = '!'; /* invalid last character; length 79 is not 1 mod 4 */
    CHECK_INT(base64_decode(&out, text, 79), -EINVAL);
    CHECK_INT(buf_length(&out), 50);
    CHECK(buf_is(&out, prefix + 150, 50));
    buf_free(&out);
}

TEST(test_hex_encode)
{
    char out[64];
    hex_encode(out, "", 0);
    CHECK_STR(out, "");
    const unsigned char raw[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
    hex_encode(out, raw, sizeof(raw));
    CHECK_STR(out, "00017f80abcdefff");
    hex_encode(out, "AZ", 2);
    CHECK_STR(out, "415a");
}

/* json_quote(text) must equal expected exactly and parse back to text. */
static void check_quote(const char *text, size_t len, const char *expected, int line)
{
    struct buf out = BUF_INIT;
    if (json_quote(&out, text, len) != 0 || !buf_is(&out, expected, strlen(expected))) {
        buf_terminate(&out);
        fprintf(stderr, "  line %d: json_quote gave [%s], expected [%s]\n", line, buf_bytes(&out),
                expected);
        test_failures_in_current++;
    }
    buf_free(&out);
}

#define CHECK_QUOTE(text, expected) check_quote(text, sizeof(text) - 1, expected, __LINE__)

TEST(test_json_quote_matches_json_stringify)
{
    CHECK_QUOTE("", "\"\"");
    CHECK_QUOTE("plain text", "\"plain text\"");
    CHECK_QUOTE("he said \"hi\"", "\"he said \\\"hi\\\"\"");
    CHECK_QUOTE("back\\slash\\", "\"back\\\\slash\\\\\"");
    CHECK_QUOTE("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    CHECK_QUOTE("\000\001\002\003\004\005\006\007\010\011\012\013\014\015\016\017"
                "\020\021\022\023\024\025\026\027\030\031\032\033\034\035\036\037",
                "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f"
                "\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
                "\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\"");
    /* DEL and '/' are not escaped by JSON.stringify. */
    CHECK_QUOTE("\177/a/b</script>", "\"\177/a/b</script>\"");
    /* Valid UTF-8 (2, 3 and 4 byte sequences) is kept verbatim. */
    CHECK_QUOTE("\303\251\344\270\255\360\237\230\200", "\"\303\251\344\270\255\360\237\230\200\"");
    /* U+2028 and U+2029 too (JSON.stringify leaves them alone). */
    CHECK_QUOTE("\342\200\250\342\200\251", "\"\342\200\250\342\200\251\"");
    CHECK_QUOTE("\357\277\275", "\"\357\277\275\"");
    /* Boundary code points: U+0080, U+07FF, U+0800, U+FFFF, U+10000, U+10FFFF. */
    CHECK_QUOTE("\302\200\337\277\340\240\200\357\277\277\360\220\200\200\364\217\277\277",
                "\"\302\200\337\277\340\240\200\357\277\277\360\220\200\200\364\217\277\277\"");
}

TEST(test_json_quote_embedded_nul)
{
    CHECK_QUOTE("a\0b", "\"a\\u0000b\"");
    CHECK_QUOTE("\0", "\"\\u0000\"");
}

TEST(test_json_quote_invalid_utf8)
{
    /* Each byte that is not part of a valid sequence becomes \ufffd. */
    CHECK_QUOTE("\377", "\"\\ufffd\"");
    CHECK_QUOTE("a\200b", "\"a\\ufffdb\"");
    CHECK_QUOTE("\300\257", "\"\\ufffd\\ufffd\"");                       /* overlong '/' */
    CHECK_QUOTE("\340\200\257", "\"\\ufffd\\ufffd\\ufffd\"");            /* overlong, 3 bytes */
    CHECK_QUOTE("\355\240\200", "\"\\ufffd\\ufffd\\ufffd\"");            /* UTF-16 surrogate */
    CHECK_QUOTE("\364\220\200\200", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
    CHECK_QUOTE("\365", "\"\\ufffd\"");
    CHECK_QUOTE("x\303", "\"x\\ufffd\""); /* truncated at the end */
}

TEST(test_json_quote_output_is_valid_json)
{
    /* Every byte value, alone and in context, gives JSON that jansson reads
     * back; valid input reads back unchanged. */
    for (int c = 0; c < 256; c++) {
        char text[3] = {'<', (char)c, '>'};
        struct buf out = BUF_INIT;
        CHECK_INT(json_quote(&out, text, 3), 0);
        json_error_t err;
        json_t *v =
            json_loadb(buf_bytes(&out), buf_length(&out), JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        CHECK(json_is_string(v));
        if (c < 0x80 && json_is_string(v)) {
            CHECK_INT(json_string_length(v), 3);
            CHECK(memcmp(json_string_value(v), text, 3) == 0);
        }
        json_decref(v);
        buf_free(&out);
    }
}

TEST(test_json_quote_appends)
{
    struct buf out = BUF_INIT;
    buf_append_str(&out, "[");
    json_quote(&out, "a", 1);
    buf_append_char(&out, ',');
    json_quote(&out, "b\"", 2);
    buf_append_char(&out, ']');
    CHECK_STR(terminated(&out), "[\"a\",\"b\\\"\"]");
    buf_free(&out);
}

TEST(test_json_quote_long_input)
{
    /* Long runs with escapes scattered through them (exercises growth). */
    static char text[100000];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = i % 1000 == 0 ? '\n' : (char)('a' + i % 26);
    struct buf out = BUF_INIT;
    CHECK_INT(json_quote(&out, text, sizeof(text)), 0);
    CHECK_INT(buf_length(&out), sizeof(text) + 2 + sizeof(text) / 1000);
    json_t *v = json_loadb(buf_bytes(&out), buf_length(&out), JSON_DECODE_ANY, NULL);
    CHECK(json_is_string(v) && json_string_length(v) == sizeof(text) &&
          memcmp(json_string_value(v), text, sizeof(text)) == 0);
    json_decref(v);
    buf_free(&out);
}

TEST(test_constant_time_equal)
{
    CHECK_INT(constant_time_equal("abc", 3, "abc", 3), 1);
    CHECK_INT(constant_time_equal("abc", 3, "abd", 3), 0);
    CHECK_INT(constant_time_equal("xbc", 3, "abc", 3), 0);
    CHECK_INT(constant_time_equal("abc", 3, "abcd", 4), 0);
    CHECK_INT(constant_time_equal("abcd", 4, "abc", 3), 0);
    CHECK_INT(constant_time_equal("", 0, "", 0), 1);
    CHECK_INT(constant_time_equal("a\0b", 3, "a\0c", 3), 0);
    CHECK_INT(constant_time_equal("a\0b", 3, "a\0b", 3), 1);
    unsigned char a[64], b[64];
    memset(a, 0x5a, sizeof(a));
    memcpy(b, a, sizeof(b));
    CHECK_INT(constant_time_equal(a, sizeof(a), b, sizeof(b)), 1);
    b[63] ^= 1;
    CHECK_INT(constant_time_equal(a, sizeof(a), b, sizeof(b)), 0);
}

TEST(test_secure_wipe)
{
    char secret[32];
    memset(secret, 'S', sizeof(secret));
    secure_wipe(secret, sizeof(secret));
    for (size_t i = 0; i < sizeof(secret); i++)
        CHECK_INT(secret[i], 0);
    secure_wipe(NULL, 10); /* tolerated */
    secure_wipe(secret, 0);
}

/* Each length's boundary code points encode to the bytes the standard gives,
 * and the result is valid UTF-8 by the one validator. */
TEST(test_utf8_append_boundaries)
{
    static const struct {
        unsigned long cp;
        const char *bytes;
    } cases[] = {
        {0x24, "\x24"},
        {0x7F, "\x7F"},
        {0x80, "\xC2\x80"},
        {0x7FF, "\xDF\xBF"},
        {0x800, "\xE0\xA0\x80"},
        {0x20AC, "\xE2\x82\xAC"},
        {0xFFFD, "\xEF\xBF\xBD"},
        {0x10000, "\xF0\x90\x80\x80"},
        {0x10FFFF, "\xF4\x8F\xBF\xBF"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf out = BUF_INIT;
        CHECK_INT(utf8_append(&out, cases[i].cp), 0);
        CHECK_INT((int)buf_length(&out), (int)strlen(cases[i].bytes));
        CHECK(memcmp(buf_bytes(&out), cases[i].bytes, buf_length(&out)) == 0);
        CHECK_INT(utf8_valid(buf_bytes(&out), buf_length(&out)), 1);
        buf_free(&out);
    }
}

RUN_TESTS("encoding", TEST_ENTRY(test_base64_rfc4648_vectors),
          TEST_ENTRY(test_base64_decode_padded_and_unpadded),
          TEST_ENTRY(test_base64_alphabets_differ),
          TEST_ENTRY(test_base64_round_trips_every_length),
          TEST_ENTRY(test_base64_table_matches_alphabets), TEST_ENTRY(test_base64_decode_to),
          TEST_ENTRY(test_base64_encode_appends), TEST_ENTRY(test_base64_rejects_invalid_input),
          TEST_ENTRY(test_base64_failure_leaves_existing_content),
          TEST_ENTRY(test_base64_failure_after_compaction_leaves_no_output),
          TEST_ENTRY(test_hex_encode), TEST_ENTRY(test_json_quote_matches_json_stringify),
          TEST_ENTRY(test_json_quote_embedded_nul), TEST_ENTRY(test_json_quote_invalid_utf8),
          TEST_ENTRY(test_json_quote_output_is_valid_json), TEST_ENTRY(test_json_quote_appends),
          TEST_ENTRY(test_json_quote_long_input), TEST_ENTRY(test_constant_time_equal),
          TEST_ENTRY(test_secure_wipe), TEST_ENTRY(test_utf8_append_boundaries))
