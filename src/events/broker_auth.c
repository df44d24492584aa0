/* Authorization for the embedded broker: API keys (x-api-key, compared in
 * constant time against every configured key) and AWS_IAM (SigV4, service
 * "appsync", the broker's region, configured identities). The error text
 * matches what AWS answers so clients handle it the same way. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LOG_MODULE "broker"
#include "core/encoding.h"
#include "core/log.h"
#include "events/broker_internal.h"

#define UNAUTHORIZED_MESSAGE "You are not authorized to make this call."

static const char *find_header(const struct broker_auth_request *r, const char *name)
{
    for (size_t i = 0; i < r->header_count; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static int check_api_key(struct broker *broker, const char *key, char *cause, size_t cause_len)
{
    int match = 0;
    size_t key_len = strlen(key);
    /* Compare against every key so timing does not reveal which one matched. */
    for (size_t i = 0; i < broker->api_key_count; i++)
        match |=
            constant_time_equal(key, key_len, broker->api_keys[i], strlen(broker->api_keys[i]));
    if (match)
        return 0;
    snprintf(cause, cause_len, UNAUTHORIZED_MESSAGE);
    return -EACCES;
}

static int lookup_identity(void *ctx, const char *access_key_id, char *secret_out,
                           size_t secret_cap, char *token_out, size_t token_cap)
{
    struct broker *broker = ctx;
    for (size_t i = 0; i < broker->identity_count; i++) {
        const struct broker_iam_identity *id = &broker->identities[i];
        if (strcmp(id->access_key_id, access_key_id) != 0)
            continue;
        snprintf(secret_out, secret_cap, "%s", id->secret_access_key);
        snprintf(token_out, token_cap, "%s", id->session_token ? id->session_token : "");
        return 0;
    }
    return -ENOENT;
}

static int check_sigv4(struct broker *broker, const struct broker_auth_request *r, char *cause,
                       size_t cause_len)
{
    if (broker->identity_count == 0) {
        snprintf(cause, cause_len, UNAUTHORIZED_MESSAGE " (IAM auth is not enabled)");
        return -EACCES;
    }
    struct sigv4_request req = {
        .method = r->method,
        .path = r->path,
        .query = r->query,
        .headers = r->headers,
        .header_count = r->header_count,
        .body = r->body,
        .body_len = r->body_len,
    };
    struct sigv4_verify_params params = {
        .region = broker->region,
        .service = "appsync",
        .now = time(NULL),
        .max_skew_seconds = 300,
        .normalize_path = 1,
    };
    int rc = sigv4_verify(&req, &params, lookup_identity, broker, cause, cause_len);
    return rc < 0 ? -EACCES : 0;
}

static int has_identity(const struct broker *broker, const char *access_key_id)
{
    for (size_t i = 0; i < broker->identity_count; i++)
        if (strcmp(broker->identities[i].access_key_id, access_key_id) == 0)
            return 1;
    return 0;
}

/* The access key id a SigV4 Authorization header names, into out. */
static int credential_of(const char *authorization, char *out, size_t cap)
{
    const char *p = strstr(authorization, "Credential=");
    if (!p)
        return -EINVAL;
    p += strlen("Credential=");
    size_t n = strcspn(p, "/, ");
    if (n == 0 || n >= cap || p[n] != '/')
        return -EINVAL;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* What a SigV4 request shows before its body: a configured identity and a
 * fresh date. The signature itself is checked once the body is in. */
static int precheck_sigv4(struct broker *broker, const struct broker_auth_request *r, char *cause,
                          size_t cause_len)
{
    char akid[128];
    const char *date = find_header(r, "x-amz-date");
    time_t signed_at;
    if (credential_of(find_header(r, "authorization"), akid, sizeof(akid)) < 0 ||
        !has_identity(broker, akid) || !date || sigv4_parse_amz_date(date, &signed_at) < 0 ||
        labs((long)(time(NULL) - signed_at)) > 300) {
        snprintf(cause, cause_len, UNAUTHORIZED_MESSAGE);
        return -EACCES;
    }
    return 0;
}

/* Checks what `request` shows. With head_only the body is still to come, so
 * a SigV4 signature is only prechecked and *complete stays 0. */
static int authorize(struct broker *broker, const struct broker_auth_request *request,
                     int head_only, int *complete, char *cause, size_t cause_len)
{
    const char *api_key = find_header(request, "x-api-key");
    const char *authorization = find_header(request, "authorization");
    int rc;
    *complete = 1;
    if (api_key && broker->api_key_count > 0) {
        rc = check_api_key(broker, api_key, cause, cause_len);
    } else if (authorization && strncmp(authorization, "AWS4-HMAC-SHA256", 16) == 0) {
        *complete = !head_only;
        rc = head_only ? precheck_sigv4(broker, request, cause, cause_len)
                       : check_sigv4(broker, request, cause, cause_len);
    } else {
        snprintf(cause, cause_len, UNAUTHORIZED_MESSAGE " (no valid authorization given)");
        rc = -EACCES;
    }
    if (rc < 0) {
        *complete = 0;
        broker->stats.auth_failures++;
        log_debug("authorization refused%s: %s", head_only ? " before the body" : "", cause);
    }
    return rc;
}

int broker_authorize(struct broker *broker, const struct broker_auth_request *request, char *cause,
                     size_t cause_len)
{
    int complete;
    return authorize(broker, request, 0, &complete, cause, cause_len);
}

int broker_authorize_head(struct broker *broker, const struct broker_auth_request *request,
                          int *complete, char *cause, size_t cause_len)
{
    return authorize(broker, request, 1, complete, cause, cause_len);
}

/* A signer that signs an HTTP request signs its content-length too
 * (aws-sdk-go-v2's v4 signer does whenever the body is not empty), but a
 * client that copies the signed request's header map into an authorization
 * object has no content-length to copy: Go keeps it outside the map. AppSync
 * takes such objects, so the length comes from the body the broker rebuilt,
 * which the signature covers anyway. Host, x-amz-date, the token and any
 * other signed header are in the map and must be in the object. */
static size_t with_content_length(const struct sigv4_header *headers, size_t count, size_t body_len,
                                  struct sigv4_header *out, char *length, size_t length_cap)
{
    int present = 0;
    for (size_t i = 0; i < count; i++) {
        out[i] = headers[i];
        present |= strcasecmp(headers[i].name, "content-length") == 0;
    }
    if (present || count >= SIGV4_MAX_HEADERS)
        return count;
    snprintf(length, length_cap, "%zu", body_len);
    out[count].name = "content-length";
    out[count].value = length;
    return count + 1;
}

int broker_authorize_event(struct broker *broker, const struct sigv4_header *headers,
                           size_t header_count, const void *body, size_t body_len, char *cause,
                           size_t cause_len)
{
    struct sigv4_header all[SIGV4_MAX_HEADERS];
    char length[24];
    if (header_count > SIGV4_MAX_HEADERS) {
        snprintf(cause, cause_len, UNAUTHORIZED_MESSAGE " (too many headers)");
        broker->stats.auth_failures++;
        return -EACCES;
    }
    struct broker_auth_request auth = {
        .headers = all,
        .header_count =
            with_content_length(headers, header_count, body_len, all, length, sizeof(length)),
        .method = "POST",
        .path = "/event",
        .query = "",
        .body = body,
        .body_len = body_len,
    };
    return broker_authorize(broker, &auth, cause, cause_len);
}

/* Decodes one string slice into storage, NUL-terminated. The caller has
 * reserved room, so the storage does not move. */
static const char *decode_into(struct buf *storage, const struct json_slice *string)
{
    size_t at = buf_length(storage);
    if (json_scan_string(string, storage) < 0 || buf_append_char(storage, '\0') < 0)
        return NULL;
    return buf_bytes(storage) + at;
}

static int header_named(const struct sigv4_header *headers, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(headers[i].name, name) == 0)
            return 1;
    return 0;
}

int broker_auth_headers_from_text(const char *text, size_t len, struct buf *storage,
                                  struct sigv4_header *out, size_t cap)
{
    struct json_scan scan;
    struct json_slice key, value;
    if (json_scan_open(&scan, text, len) < 0 || scan.close != '}')
        return -EINVAL;
    /* Decoding never lengthens a string, and the quotes pay for the NULs. */
    buf_reset(storage);
    if (buf_reserve(storage, len + 1) < 0)
        return -ENOMEM;
    size_t n = 0;
    int rc;
    while ((rc = json_scan_next(&scan, &key, &value)) == 1) {
        if (value.type != JSON_SCAN_STRING)
            continue;
        if (n >= cap)
            return -EINVAL;
        out[n].name = decode_into(storage, &key);
        out[n].value = decode_into(storage, &value);
        /* A header given twice would be checked once and read twice. */
        if (!out[n].name || !out[n].value || header_named(out, n, out[n].name))
            return -EINVAL;
        n++;
    }
    return rc < 0 ? -EINVAL : (int)n;
}
