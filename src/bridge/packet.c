#include "bridge/packet.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/encoding.h"
#include "core/json_scan.h"

static const char *const type_names[BRIDGE_TYPE_COUNT] = {
    "Init", "Ping", "Next", "Response", "Error", "Reboot", "InitError", "TaskStart", "TaskComplete",
};

const char *bridge_type_name(enum bridge_type type)
{
    return (unsigned)type < BRIDGE_TYPE_COUNT ? type_names[type] : "Unknown";
}

void bridge_packet_init(struct bridge_packet *packet)
{
    memset(packet, 0, sizeof(*packet));
}

void bridge_packet_free(struct bridge_packet *packet)
{
    buf_free(&packet->data);
    bridge_packet_init(packet);
}

/* The one writer of both forms; sealed is NULL for an open packet, whose
 * data is then the plaintext. */
static int encode(struct buf *out, enum bridge_type type, const char *source, const char *id,
                  uint32_t index, int final, const void *data, size_t len, const char *content_type,
                  const struct bridge_packet_seal_fields *sealed)
{
    int rc = buf_printf(out, "{\"type\":%d,\"source\":", (int)type);
    if (rc == 0)
        rc = json_quote(out, source, strlen(source));
    if (rc == 0)
        rc = buf_append_str(out, ",\"id\":");
    if (rc == 0)
        rc = json_quote(out, id, strlen(id));
    if (rc == 0)
        rc = buf_printf(out, ",\"index\":%u,\"data\":\"", index);
    if (rc == 0)
        rc = base64_encode(out, data, len);
    if (rc == 0)
        rc = buf_printf(out, "\",\"final\":%s", final ? "true" : "false");
    if (rc == 0 && content_type && *content_type) {
        rc = buf_append_str(out, ",\"contentType\":");
        if (rc == 0)
            rc = json_quote(out, content_type, strlen(content_type));
    }
    if (rc == 0 && sealed) {
        rc = buf_printf(out, ",\"v\":%d,\"ts\":%llu,\"nonce\":\"", BRIDGE_SEALED_VERSION,
                        (unsigned long long)sealed->ts);
        if (rc == 0)
            rc = base64_encode(out, sealed->nonce, sizeof(sealed->nonce));
        if (rc == 0)
            rc = buf_append_char(out, '"');
    }
    if (rc == 0)
        rc = buf_append_char(out, '}');
    return rc;
}

int bridge_packet_encode(struct buf *out, enum bridge_type type, const char *source, const char *id,
                         uint32_t index, int final, const void *data, size_t len,
                         const char *content_type)
{
    return encode(out, type, source, id, index, final, data, len, content_type, NULL);
}

int bridge_packet_encode_sealed(struct buf *out, enum bridge_type type, const char *source,
                                const char *id, uint32_t index, int final, const void *sealed_data,
                                size_t len, const char *content_type,
                                const struct bridge_packet_seal_fields *sealed)
{
    return encode(out, type, source, id, index, final, sealed_data, len, content_type, sealed);
}

/* ---- decoding: one pass of core/json_scan over the envelope ---- */

/* The members a packet may have; anything else is ignored (SST readers do
 * the same with what they do not know). */
enum field {
    F_TYPE,
    F_SOURCE,
    F_ID,
    F_INDEX,
    F_DATA,
    F_FINAL,
    F_CONTENT_TYPE,
    F_V,
    F_TS,
    F_NONCE,
    FIELD_COUNT,
};
static const char *const field_names[FIELD_COUNT] = {
    "type", "source", "id", "index", "data", "final", "contentType", "v", "ts", "nonce",
};

/* Slices of the known members (type 0, JSON_SCAN_INVALID: absent). They
 * borrow the packet's text. */
struct fields {
    struct json_slice v[FIELD_COUNT];
};

static int field_of(const struct json_slice *key)
{
    for (int f = 0; f < FIELD_COUNT; f++)
        if (json_scan_string_equals(key, field_names[f], strlen(field_names[f])))
            return f;
    return -1;
}

/* Finds the known members in one pass; the whole text is validated on the
 * way. A known member given twice is refused: two readers could otherwise
 * take different ones. */
static int scan_fields(const char *text, size_t len, struct fields *out, char *cause,
                       size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    struct json_scan scan;
    struct json_slice key, value;
    size_t lead = 0;
    while (lead < len && strchr(" \t\r\n", text[lead]) && text[lead])
        lead++;
    int rc = lead < len && text[lead] == '{' ? json_scan_open(&scan, text, len) : -EINVAL;
    while (rc == 0 && (rc = json_scan_next(&scan, &key, &value)) == 1) {
        rc = 0;
        int f = field_of(&key);
        if (f < 0)
            continue;
        if (out->v[f].type != JSON_SCAN_INVALID) {
            snprintf(cause, cause_len, "packet has \"%s\" twice", field_names[f]);
            return -EINVAL;
        }
        out->v[f] = value;
    }
    if (rc < 0) {
        snprintf(cause, cause_len, "packet is not a JSON object");
        return -EINVAL;
    }
    return 0;
}

/* A JSON integer (no fraction, no exponent) from 0 to max. */
static int slice_uint(const struct json_slice *v, uint64_t max, uint64_t *out)
{
    if (v->type != JSON_SCAN_NUMBER)
        return -EINVAL;
    const char *p = v->text, *end = v->text + v->len;
    int negative = p < end && *p == '-';
    p += negative;
    if (p == end || end - p > 19)
        return -EINVAL;
    uint64_t n = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL; /* '.', 'e': not an integer */
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if ((negative && n != 0) || n > max)
        return -EINVAL;
    *out = n;
    return 0;
}

/* The value of a string member: a slice of the packet, or its escapes
 * decoded into scratch when it has any. */
struct text {
    const char *s;
    size_t len;
    struct buf scratch;
};

/* -EINVAL when the member is absent or not a string (text_free either way). */
static int member_text(const struct fields *fields, enum field f, struct text *t)
{
    const struct json_slice *v = &fields->v[f];
    buf_init(&t->scratch);
    if (v->type != JSON_SCAN_STRING)
        return -EINVAL;
    if (!v->escaped) {
        t->s = v->text + 1;
        t->len = v->len - 2;
        return 0;
    }
    int rc = json_scan_string(v, &t->scratch);
    if (rc < 0)
        return rc == -ENOMEM ? rc : -EINVAL;
    t->s = buf_bytes(&t->scratch);
    t->len = buf_length(&t->scratch);
    return 0;
}

static void text_free(struct text *t)
{
    buf_free(&t->scratch);
}

/* Checks a string member's value for a fixed buffer of cap bytes. */
static int check_text(const char *name, const char *s, size_t len, size_t cap, char *cause,
                      size_t cause_len)
{
    if (len >= cap) {
        snprintf(cause, cause_len, "packet \"%s\" is longer than %zu bytes", name, cap - 1);
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20) {
            snprintf(cause, cause_len, "packet \"%s\" has a control character", name);
            return -EINVAL;
        }
    }
    return 0;
}

/* Copies a string member into a fixed buffer, refusing control characters. */
static int copy_text(const struct fields *fields, enum field f, char *out, size_t cap, int required,
                     char *cause, size_t cause_len)
{
    if (fields->v[f].type == JSON_SCAN_INVALID && !required) {
        out[0] = '\0';
        return 0;
    }
    struct text t;
    int rc = member_text(fields, f, &t);
    if (rc < 0)
        snprintf(cause, cause_len, "packet \"%s\" must be a string", field_names[f]);
    else
        rc = check_text(field_names[f], t.s, t.len, cap, cause, cause_len);
    if (rc == 0) {
        memcpy(out, t.s, t.len);
        out[t.len] = '\0';
    }
    text_free(&t);
    return rc < 0 ? -EINVAL : 0;
}

static int decode_fields(const struct fields *fields, struct bridge_packet *out, char *cause,
                         size_t cause_len)
{
    uint64_t type;
    if (slice_uint(&fields->v[F_TYPE], BRIDGE_TYPE_COUNT - 1, &type) < 0) {
        snprintf(cause, cause_len, "packet \"type\" must be an integer from 0 to %d",
                 BRIDGE_TYPE_COUNT - 1);
        return -EINVAL;
    }
    out->type = (enum bridge_type)type;
    if (copy_text(fields, F_SOURCE, out->source, sizeof(out->source), 1, cause, cause_len) < 0 ||
        copy_text(fields, F_ID, out->id, sizeof(out->id), 1, cause, cause_len) < 0 ||
        copy_text(fields, F_CONTENT_TYPE, out->content_type, sizeof(out->content_type), 0, cause,
                  cause_len) < 0)
        return -EINVAL;
    uint64_t index = 0;
    if (fields->v[F_INDEX].type != JSON_SCAN_INVALID &&
        slice_uint(&fields->v[F_INDEX], BRIDGE_MAX_INDEX - 1, &index) < 0) {
        snprintf(cause, cause_len, "packet \"index\" must be an integer from 0 to %u",
                 BRIDGE_MAX_INDEX - 1);
        return -EINVAL;
    }
    out->index = (uint32_t)index;
    enum json_scan_type final = fields->v[F_FINAL].type;
    if (final != JSON_SCAN_INVALID && final != JSON_SCAN_TRUE && final != JSON_SCAN_FALSE) {
        snprintf(cause, cause_len, "packet \"final\" must be a boolean");
        return -EINVAL;
    }
    out->final = final != JSON_SCAN_FALSE;
    return 0;
}

/* The raw data may be at most max bytes; a sealed packet's must also hold at
 * least its tag (min bytes). The base64 is decoded straight from the
 * packet's text (escapes, which no JSON.stringify writes into base64, are
 * decoded first). */
static int decode_data(const struct fields *fields, struct bridge_packet *out, size_t min,
                       size_t max, char *cause, size_t cause_len)
{
    enum json_scan_type type = fields->v[F_DATA].type;
    if ((type == JSON_SCAN_INVALID || type == JSON_SCAN_NULL) && min == 0)
        return 0;
    struct text t;
    int rc = member_text(fields, F_DATA, &t);
    if (rc < 0)
        snprintf(cause, cause_len, "packet \"data\" must be a base64 string");
    else if (t.len > base64_encoded_length(max))
        snprintf(cause, cause_len, "packet data is larger than %zu bytes", max);
    else if (base64_decode(&out->data, t.s, t.len) < 0)
        snprintf(cause, cause_len, "packet \"data\" is not valid base64");
    /* Unpadded base64 of the largest encoded length can decode to one byte more. */
    else if (buf_length(&out->data) > max)
        snprintf(cause, cause_len, "packet data is larger than %zu bytes", max);
    else if (buf_length(&out->data) < min)
        snprintf(cause, cause_len, "sealed packet data is shorter than its tag");
    else
        rc = 1;
    text_free(&t);
    return rc == 1 ? 0 : -EINVAL;
}

/* "v", "ts" and "nonce" of a sealed packet. */
static int decode_seal_fields(const struct fields *fields, struct bridge_packet_seal_fields *sealed,
                              char *cause, size_t cause_len)
{
    uint64_t v;
    if (fields->v[F_V].type == JSON_SCAN_INVALID) {
        snprintf(cause, cause_len, "packet is not sealed (no \"v\")");
        return -EINVAL;
    }
    if (slice_uint(&fields->v[F_V], BRIDGE_SEALED_VERSION, &v) < 0 || v != BRIDGE_SEALED_VERSION) {
        snprintf(cause, cause_len, "sealed packet \"v\" must be %d", BRIDGE_SEALED_VERSION);
        return -EINVAL;
    }
    if (slice_uint(&fields->v[F_TS], BRIDGE_SEALED_MAX_TS, &sealed->ts) < 0) {
        snprintf(cause, cause_len, "sealed packet \"ts\" must be an integer from 0 to 2^53-1");
        return -EINVAL;
    }
    /* 12 bytes are exactly 16 base64 characters, without padding. */
    struct text t;
    size_t written = 0;
    uint8_t raw[BRIDGE_SEALED_NONCE_BYTES + 2];
    int rc = member_text(fields, F_NONCE, &t);
    if (rc == 0 && t.len == 16)
        rc = base64_decode_to(raw, sizeof(raw), t.s, t.len, &written);
    if (rc == 0 && t.len == 16 && written == BRIDGE_SEALED_NONCE_BYTES)
        memcpy(sealed->nonce, raw, BRIDGE_SEALED_NONCE_BYTES);
    else
        rc = -EINVAL;
    text_free(&t);
    if (rc < 0)
        snprintf(cause, cause_len, "sealed packet \"nonce\" must be the base64 of %d bytes",
                 BRIDGE_SEALED_NONCE_BYTES);
    return rc;
}

/* The one parser of both forms; sealed is NULL for an open packet. */
static int decode(const char *text, size_t len, struct bridge_packet *out,
                  struct bridge_packet_seal_fields *sealed, char *cause, size_t cause_len)
{
    bridge_packet_init(out);
    struct fields fields;
    int rc = scan_fields(text, len, &fields, cause, cause_len);
    if (rc == 0)
        rc = decode_fields(&fields, out, cause, cause_len);
    if (rc == 0 && sealed)
        rc = decode_seal_fields(&fields, sealed, cause, cause_len);
    if (rc == 0)
        rc = sealed ? decode_data(&fields, out, BRIDGE_SEALED_TAG_BYTES,
                                  BRIDGE_CHUNK_BYTES + BRIDGE_SEALED_TAG_BYTES, cause, cause_len)
                    : decode_data(&fields, out, 0, BRIDGE_CHUNK_BYTES, cause, cause_len);
    if (rc < 0)
        bridge_packet_free(out);
    return rc;
}

int bridge_packet_decode(const char *text, size_t len, struct bridge_packet *out, char *cause,
                         size_t cause_len)
{
    return decode(text, len, out, NULL, cause, cause_len);
}

int bridge_packet_decode_sealed(const char *text, size_t len, struct bridge_packet *out,
                                struct bridge_packet_seal_fields *sealed, char *cause,
                                size_t cause_len)
{
    return decode(text, len, out, sealed, cause, cause_len);
}
