/* libFuzzer harness: core/json_scan against the project's two other JSON
 * readers. json_scan_valid must agree exactly with core/json_check; what
 * jansson accepts, the scanner must accept too (jansson refuses a few texts
 * JSON.parse takes: escaped lone surrogates, numbers beyond a double or a
 * 64-bit integer); walking an object or array member by member must reach
 * its end exactly when the text is valid; and a string the scanner calls
 * canonical must be what json_quote writes for its decoded value, and no
 * other string may be. Broken properties abort. */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/encoding.h"
#include "core/json_check.h"
#include "core/json_scan.h"

static void require(int cond)
{
    if (!cond)
        abort();
}

/* The canonical flag is exact: set if and only if re-quoting the decoded
 * value gives back the literal. A jansson decode of the literal agrees. */
static void check_string(const struct json_slice *s)
{
    struct buf decoded = BUF_INIT, quoted = BUF_INIT;
    int rc = json_scan_string(s, &decoded);
    json_t *reference = json_loadb(s->text, s->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (rc == 0) {
        /* An empty value leaves the buffer without storage. */
        const char *bytes = buf_length(&decoded) ? buf_bytes(&decoded) : "";
        require(json_quote(&quoted, bytes, buf_length(&decoded)) == 0);
        int same =
            buf_length(&quoted) == s->len && memcmp(buf_bytes(&quoted), s->text, s->len) == 0;
        require(same == s->canonical);
        require(json_scan_string_equals(s, bytes, buf_length(&decoded)));
        require(reference && json_string_length(reference) == buf_length(&decoded) &&
                memcmp(json_string_value(reference), bytes, buf_length(&decoded)) == 0);
    } else {
        require(rc == -EILSEQ && !s->canonical && !reference);
    }
    json_decref(reference);
    buf_free(&decoded);
    buf_free(&quoted);
}

static void check_slice(const struct json_slice *s)
{
    require(json_scan_valid(s->text, s->len));
    if (s->type == JSON_SCAN_STRING)
        check_string(s);
}

/* Walks a container; returns 1 when the walk reached its end. */
static int walk(struct json_scan *scan, int depth)
{
    struct json_slice key, value;
    int rc;
    while ((rc = json_scan_next(scan, &key, &value)) == 1) {
        check_slice(&value);
        if (scan->close == '}')
            check_slice(&key);
        if (depth < 3 && (value.type == JSON_SCAN_OBJECT || value.type == JSON_SCAN_ARRAY)) {
            struct json_scan inner;
            require(json_scan_open_slice(&inner, &value) == 0);
            require(walk(&inner, depth + 1));
        }
    }
    require(json_scan_next(scan, &key, &value) == rc);
    return rc == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    int valid = json_scan_valid(text, size);
    require(valid == json_check(text, size));
    json_error_t err;
    json_t *root = json_loadb(text, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    /* jansson nests deeper than the scanner's cap (shorter texts cannot), and
     * it takes a NUL byte after a value for the end of the text. */
    if (root && size < 2 * (JSON_SCAN_MAX_DEPTH + 1) && !memchr(text, 0, size))
        require(valid);
    json_decref(root);
    struct json_scan scan;
    if (json_scan_open(&scan, text, size) == 0)
        require(walk(&scan, 0) == valid);
    return 0;
}
