#include "bridge/packet.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/encoding.h"

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

/* Copies a JSON string field into a fixed buffer, refusing control characters. */
static int copy_text(json_t *root, const char *key, char *out, size_t cap, int required,
                     char *cause, size_t cause_len)
{
    json_t *v = json_object_get(root, key);
    if (!v && !required) {
        out[0] = '\0';
        return 0;
    }
    if (!json_is_string(v)) {
        snprintf(cause, cause_len, "packet \"%s\" must be a string", key);
        return -EINVAL;
    }
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (len >= cap) {
        snprintf(cause, cause_len, "packet \"%s\" is longer than %zu bytes", key, cap - 1);
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20) {
            snprintf(cause, cause_len, "packet \"%s\" has a control character", key);
            return -EINVAL;
        }
    }
    memcpy(out, s, len + 1);
    return 0;
}

static int decode_fields(json_t *root, struct bridge_packet *out, char *cause, size_t cause_len)
{
    json_t *type = json_object_get(root, "type");
    if (!json_is_integer(type) || json_integer_value(type) < 0 ||
        json_integer_value(type) >= BRIDGE_TYPE_COUNT) {
        snprintf(cause, cause_len, "packet \"type\" must be an integer from 0 to %d",
                 BRIDGE_TYPE_COUNT - 1);
        return -EINVAL;
    }
    out->type = (enum bridge_type)json_integer_value(type);
    if (copy_text(root, "source", out->source, sizeof(out->source), 1, cause, cause_len) < 0 ||
        copy_text(root, "id", out->id, sizeof(out->id), 1, cause, cause_len) < 0 ||
        copy_text(root, "contentType", out->content_type, sizeof(out->content_type), 0, cause,
                  cause_len) < 0)
        return -EINVAL;
    json_t *index = json_object_get(root, "index");
    if (index && (!json_is_integer(index) || json_integer_value(index) < 0 ||
                  json_integer_value(index) >= BRIDGE_MAX_INDEX)) {
        snprintf(cause, cause_len, "packet \"index\" must be an integer from 0 to %u",
                 BRIDGE_MAX_INDEX - 1);
        return -EINVAL;
    }
    out->index = index ? (uint32_t)json_integer_value(index) : 0;
    json_t *final = json_object_get(root, "final");
    if (final && !json_is_boolean(final)) {
        snprintf(cause, cause_len, "packet \"final\" must be a boolean");
        return -EINVAL;
    }
    out->final = final ? json_is_true(final) : 1;
    return 0;
}

/* The raw data may be at most max bytes; a sealed packet's must also hold at
 * least its tag (min bytes). */
static int decode_data(json_t *root, struct bridge_packet *out, size_t min, size_t max, char *cause,
                       size_t cause_len)
{
    json_t *data = json_object_get(root, "data");
    if ((!data || json_is_null(data)) && min == 0)
        return 0;
    if (!json_is_string(data)) {
        snprintf(cause, cause_len, "packet \"data\" must be a base64 string");
        return -EINVAL;
    }
    size_t len = json_string_length(data);
    if (len > base64_encoded_length(max)) {
        snprintf(cause, cause_len, "packet data is larger than %zu bytes", max);
        return -EINVAL;
    }
    if (base64_decode(&out->data, json_string_value(data), len) < 0) {
        snprintf(cause, cause_len, "packet \"data\" is not valid base64");
        return -EINVAL;
    }
    /* Unpadded base64 of the largest encoded length can decode to one byte more. */
    if (buf_length(&out->data) > max) {
        snprintf(cause, cause_len, "packet data is larger than %zu bytes", max);
        return -EINVAL;
    }
    if (buf_length(&out->data) < min) {
        snprintf(cause, cause_len, "sealed packet data is shorter than its tag");
        return -EINVAL;
    }
    return 0;
}

/* "v", "ts" and "nonce" of a sealed packet. */
static int decode_seal_fields(json_t *root, struct bridge_packet_seal_fields *sealed, char *cause,
                              size_t cause_len)
{
    json_t *v = json_object_get(root, "v");
    if (!v) {
        snprintf(cause, cause_len, "packet is not sealed (no \"v\")");
        return -EINVAL;
    }
    if (!json_is_integer(v) || json_integer_value(v) != BRIDGE_SEALED_VERSION) {
        snprintf(cause, cause_len, "sealed packet \"v\" must be %d", BRIDGE_SEALED_VERSION);
        return -EINVAL;
    }
    json_t *ts = json_object_get(root, "ts");
    if (!json_is_integer(ts) || json_integer_value(ts) < 0 ||
        (uint64_t)json_integer_value(ts) > BRIDGE_SEALED_MAX_TS) {
        snprintf(cause, cause_len, "sealed packet \"ts\" must be an integer from 0 to 2^53-1");
        return -EINVAL;
    }
    sealed->ts = (uint64_t)json_integer_value(ts);
    json_t *nonce = json_object_get(root, "nonce");
    /* 12 bytes are exactly 16 base64 characters, without padding. */
    struct buf raw = BUF_INIT;
    int rc = json_is_string(nonce) && json_string_length(nonce) == 16
                 ? base64_decode(&raw, json_string_value(nonce), 16)
                 : -EINVAL;
    if (rc == 0 && buf_length(&raw) == BRIDGE_SEALED_NONCE_BYTES)
        memcpy(sealed->nonce, buf_bytes(&raw), BRIDGE_SEALED_NONCE_BYTES);
    else
        rc = -EINVAL;
    buf_free(&raw);
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
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(root)) {
        snprintf(cause, cause_len, "packet is not a JSON object%s%s", root ? "" : ": ",
                 root ? "" : err.text);
        json_decref(root);
        return -EINVAL;
    }
    int rc = decode_fields(root, out, cause, cause_len);
    if (rc == 0 && sealed)
        rc = decode_seal_fields(root, sealed, cause, cause_len);
    if (rc == 0)
        rc = sealed ? decode_data(root, out, BRIDGE_SEALED_TAG_BYTES,
                                  BRIDGE_CHUNK_BYTES + BRIDGE_SEALED_TAG_BYTES, cause, cause_len)
                    : decode_data(root, out, 0, BRIDGE_CHUNK_BYTES, cause, cause_len);
    json_decref(root);
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
