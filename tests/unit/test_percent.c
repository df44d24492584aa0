/* The percent codec (src/core/percent.c). */
#include <errno.h>
#include <string.h>

#include "core/percent.h"
#include "test.h"

static char text[1024];

static const char *encode(const char *in, size_t len, const char *keep)
{
    struct buf b = BUF_INIT;
    int rc = percent_encode(&b, in, len, keep);
    snprintf(text, sizeof(text), "%s%.*s", rc == 0 ? "" : "ERROR ", (int)buf_length(&b),
             buf_bytes(&b));
    buf_free(&b);
    return text;
}

static int decode(const char *in, enum percent_decode_mode mode, size_t *len)
{
    struct buf b = BUF_INIT;
    buf_append_str(&b, "<"); /* output is appended after what is there */
    int rc = percent_decode(&b, in, strlen(in), mode);
    *len = buf_length(&b);
    memcpy(text, buf_bytes(&b), *len);
    text[*len] = '\0';
    buf_free(&b);
    return rc;
}

TEST(test_encode_unreserved_and_keep)
{
    CHECK_STR(encode("AZaz09-._~", 10, NULL), "AZaz09-._~");
    CHECK_STR(encode("a b/c+d", 7, NULL), "a%20b%2Fc%2Bd");
    CHECK_STR(encode("a b/c+d", 7, "/"), "a%20b/c%2Bd");
    CHECK_STR(encode("a b/c+d", 7, ""), "a%20b%2Fc%2Bd");
    CHECK_STR(encode("\xc3\xa9\xff", 3, NULL), "%C3%A9%FF"); /* upper-case hex */
    CHECK_STR(encode("a\0b", 3, "/"), "a%00b");              /* NUL is never kept */
    CHECK_STR(encode("", 0, NULL), "");
}

TEST(test_decode_valid_escapes)
{
    size_t len;
    CHECK_INT(decode("a%20b%2fc%2Fd+e", PERCENT_STRICT, &len), 0);
    CHECK_STR(text, "<a b/c/d+e");
    CHECK_INT(decode("%41%4a%4A", PERCENT_LENIENT, &len), 0);
    CHECK_STR(text, "<AJJ");
    CHECK_INT(decode("x%00y", PERCENT_STRICT, &len), 0);
    CHECK_INT(len, 4);
    CHECK(memcmp(text, "<x\0y", 4) == 0);
}

TEST(test_decode_bad_escapes)
{
    size_t len;
    /* Strict: an error, nothing appended. */
    const char *bad[] = {"%", "%4", "a%zz", "%g1", "ok%2", "%%41"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT(decode(bad[i], PERCENT_STRICT, &len), -EINVAL);
        CHECK_STR(text, "<");
    }
    /* Lenient: the '%' is kept as it is. */
    CHECK_INT(decode("%", PERCENT_LENIENT, &len), 0);
    CHECK_STR(text, "<%");
    CHECK_INT(decode("ok%2", PERCENT_LENIENT, &len), 0);
    CHECK_STR(text, "<ok%2");
    CHECK_INT(decode("a%zz%41", PERCENT_LENIENT, &len), 0);
    CHECK_STR(text, "<a%zzA");
    CHECK_INT(decode("%%41", PERCENT_LENIENT, &len), 0);
    CHECK_STR(text, "<%A");
    CHECK_INT(decode("100%", PERCENT_LENIENT, &len), 0);
    CHECK_STR(text, "<100%");
}

TEST(test_round_trip_every_byte)
{
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    struct buf enc = BUF_INIT, dec = BUF_INIT;
    CHECK_INT(percent_encode(&enc, all, sizeof(all), NULL), 0);
    CHECK_INT(percent_decode(&dec, buf_bytes(&enc), buf_length(&enc), PERCENT_STRICT), 0);
    CHECK_INT(buf_length(&dec), 256);
    CHECK(memcmp(buf_bytes(&dec), all, 256) == 0);
    buf_free(&enc);
    buf_free(&dec);
}

RUN_TESTS("percent", TEST_ENTRY(test_encode_unreserved_and_keep),
          TEST_ENTRY(test_decode_valid_escapes), TEST_ENTRY(test_decode_bad_escapes),
          TEST_ENTRY(test_round_trip_every_byte))
