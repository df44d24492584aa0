/* AWS Signature Version 4: canonical request, string to sign, signing key,
 * signature; sigv4_sign for clients and sigv4_verify for the broker. */
#include "aws/sigv4.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cause.h"
#include "core/crypto.h"
#include "core/encoding.h"
#include "core/percent.h"

#define SCOPE_TERMINATOR "aws4_request"
/* sigv4_sign adds at most three headers to the caller's SIGV4_MAX_HEADERS. */
#define MAX_CANON_HEADERS (SIGV4_MAX_HEADERS + 3)

#define MSG_BAD_TOKEN "The security token included in the request is invalid."
#define MSG_MISMATCH                                                                               \
    "The request signature we calculated does not match the signature you provided. Check your "   \
    "AWS Secret Access Key and signing method. Consult the service documentation for details."

/* ------------------------------------------------------------------ causes */

/* Fills in a generic cause for errors that come from below (e.g. -ENOMEM). */
static int fail_errno(char *cause, size_t cause_len, int err, const char *what)
{
    return cause_set(cause, cause_len, err, "%s: %s", what, strerror(-err));
}

/* -------------------------------------------------------------------- time */

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

static int parse_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int sigv4_parse_amz_date(const char *s, time_t *out)
{
    static const int offset[6] = {0, 4, 6, 9, 11, 13}, width[6] = {4, 2, 2, 2, 2, 2};
    struct tm tm = {0};
    int *f[6] = {&tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec};
    if (!s || !out || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return -EINVAL;
    for (int i = 0; i < 6; i++)
        if (parse_digits(s + offset[i], width[i], f[i]) < 0)
            return -EINVAL;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
        tm.tm_mday > days_in_month(tm.tm_year, tm.tm_mon) || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 59)
        return -EINVAL;
    tm.tm_year -= 1900; /* struct tm counts years from 1900 and months from 0 */
    tm.tm_mon -= 1;
    *out = timegm(&tm);
    return 0;
}

void sigv4_format_amz_date(time_t t, char out[SIGV4_AMZ_DATE_SIZE])
{
    struct tm tm;
    memcpy(out, "00000000T000000Z", SIGV4_AMZ_DATE_SIZE);
    if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
        return;
    snprintf(out, SIGV4_AMZ_DATE_SIZE, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ------------------------------------------------------------------ crypto */

static int sha256_hex(const void *data, size_t len, char hex[SIGV4_HEX_SIZE])
{
    uint8_t md[CRYPTO_SHA256_SIZE];
    if (crypto_sha256(data, len, md) < 0)
        return -EIO;
    hex_encode(hex, md, SIGV4_KEY_SIZE);
    return 0;
}

/* -------------------------------------------------------------------- path */

/* Drops the last "/segment" appended to b (never below `base`). */
static void pop_segment(struct buf *b, size_t base)
{
    while (b->len > base && b->data[b->len - 1] != '/')
        b->len--;
    if (b->len > base)
        b->len--;
}

/* Appends path with empty, "." and ".." segments resolved; a trailing '/' of
 * the input is kept, and the result is never empty. */
static int append_normalized_path(struct buf *out, const char *path, size_t len)
{
    size_t base = out->len, i = 0;
    int rc = 0;
    while (i < len && rc == 0) {
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        size_t n = i - start;
        if (n == 2 && path[start] == '.' && path[start + 1] == '.')
            pop_segment(out, base);
        else if (n > 0 && !(n == 1 && path[start] == '.'))
            rc = buf_printf(out, "/%.*s", (int)n, path + start);
        i += i < len;
    }
    if (rc == 0 && (out->len == base || path[len - 1] == '/'))
        rc = buf_append_char(out, '/');
    return rc;
}

static int append_canonical_uri(struct buf *out, const char *path,
                                const struct sigv4_canonical_options *opt)
{
    struct buf norm = BUF_INIT, dec = BUF_INIT;
    size_t len = strlen(path);
    int rc = 0;
    if (len == 0)
        return buf_append_char(out, '/');
    if (opt->normalize_path)
        rc = append_normalized_path(&norm, path, len);
    else
        rc = buf_append(&norm, path, len);
    if (rc == 0 && opt->single_encode_path)
        rc = percent_decode(&dec, buf_bytes(&norm), buf_length(&norm), PERCENT_LENIENT);
    else if (rc == 0)
        rc = buf_append(&dec, buf_bytes(&norm), buf_length(&norm));
    if (rc == 0)
        rc = percent_encode(out, buf_bytes(&dec), buf_length(&dec), "/");
    buf_free(&norm);
    buf_free(&dec);
    return rc;
}

/* ------------------------------------------------------------------- query */

struct query_param {
    char *key; /* decoded then re-encoded; owned */
    char *value;
};

/* Decodes then re-encodes s[0..len) into a new string. */
static int reencode(const char *s, size_t len, char **out)
{
    struct buf dec = BUF_INIT, enc = BUF_INIT;
    int rc = percent_decode(&dec, s, len, PERCENT_LENIENT);
    if (rc == 0)
        rc = percent_encode(&enc, buf_bytes(&dec), buf_length(&dec), NULL);
    if (rc == 0) {
        *out = buf_steal(&enc, NULL);
        rc = *out ? 0 : -ENOMEM;
    }
    buf_free(&dec);
    buf_free(&enc);
    return rc;
}

static int parse_query_param(const char *s, size_t len, struct query_param *p)
{
    const char *eq = memchr(s, '=', len);
    size_t key_len = eq ? (size_t)(eq - s) : len;
    int rc = reencode(s, key_len, &p->key);
    if (rc == 0)
        rc = eq ? reencode(eq + 1, len - key_len - 1, &p->value) : reencode("", 0, &p->value);
    return rc;
}

static int compare_params(const void *a, const void *b)
{
    const struct query_param *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

static void free_params(struct query_param *params, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(params[i].key);
        free(params[i].value);
    }
}

/* Splits the query on '&' (empty parts skipped) into *n re-encoded params. */
static int split_query(const char *query, struct query_param *params, size_t *n)
{
    int rc = 0;
    *n = 0;
    while (*query && rc == 0) {
        size_t len = strcspn(query, "&");
        if (len > 0 && *n == SIGV4_MAX_QUERY_PARAMS)
            return -E2BIG;
        if (len > 0) {
            memset(&params[*n], 0, sizeof(params[*n]));
            rc = parse_query_param(query, len, &params[(*n)++]);
        }
        query += len + (query[len] == '&');
    }
    return rc;
}

static int append_canonical_query(struct buf *out, const char *query)
{
    struct query_param params[SIGV4_MAX_QUERY_PARAMS];
    size_t n = 0;
    int rc = split_query(query ? query : "", params, &n);
    if (rc == 0)
        qsort(params, n, sizeof(params[0]), compare_params);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = buf_printf(out, "%s%s=%s", i ? "&" : "", params[i].key, params[i].value);
    free_params(params, n);
    return rc;
}

/* ----------------------------------------------------------------- headers */

struct canon_header {
    char name[SIGV4_MAX_HEADER_NAME + 1]; /* lower-cased */
    const char *value;                    /* borrowed */
    size_t order;                         /* position in the request, for stable sort */
};

static int is_token_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int lower_name(const char *name, char out[SIGV4_MAX_HEADER_NAME + 1])
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > SIGV4_MAX_HEADER_NAME)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!is_token_char(c))
            return -EINVAL;
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    out[len] = '\0';
    return 0;
}

static int collect_headers(const struct sigv4_header *headers, size_t n, struct canon_header *out,
                           char *cause, size_t cause_len)
{
    for (size_t i = 0; i < n; i++) {
        if (lower_name(headers[i].name, out[i].name) < 0)
            return cause_set(cause, cause_len, -EINVAL,
                             "invalid header name (empty, over %d bytes, "
                             "or not an HTTP token)",
                             SIGV4_MAX_HEADER_NAME);
        if (!headers[i].value || strlen(headers[i].value) > SIGV4_MAX_HEADER_VALUE)
            return cause_set(cause, cause_len, -EINVAL,
                             "header '%s' has no value or one over %d bytes", out[i].name,
                             SIGV4_MAX_HEADER_VALUE);
        out[i].value = headers[i].value;
        out[i].order = i;
    }
    return 0;
}

static int compare_headers(const void *a, const void *b)
{
    const struct canon_header *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* Appends v trimmed, with every run of whitespace (folded lines included)
 * collapsed to one space. */
static int append_trimmed(struct buf *out, const char *v)
{
    int rc = 0, pending_space = 0, started = 0;
    for (; *v && rc == 0; v++) {
        if (is_space(*v)) {
            pending_space = started;
            continue;
        }
        if (pending_space)
            rc = buf_append_char(out, ' ');
        if (rc == 0)
            rc = buf_append_char(out, *v);
        pending_space = 0;
        started = 1;
    }
    return rc;
}

/* Appends "name:value[,value]\n" lines for sorted headers and builds the
 * ';'-joined names into `names`. */
static int append_header_lines(struct buf *out, struct buf *names, const struct canon_header *h,
                               size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int repeat = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
        if (repeat)
            rc = buf_append_char(out, ',');
        else
            rc = buf_printf(out, "%s%s:", i ? "\n" : "", h[i].name);
        if (rc == 0 && !repeat)
            rc = buf_printf(names, "%s%s", buf_length(names) ? ";" : "", h[i].name);
        if (rc == 0)
            rc = append_trimmed(out, h[i].value);
    }
    if (rc == 0 && n > 0)
        rc = buf_append_char(out, '\n');
    return rc;
}

/* --------------------------------------------------------- canonical request */

static int check_request(const struct sigv4_request *req, size_t max_headers, char *cause,
                         size_t cause_len)
{
    if (!req || !req->method || !req->method[0] || !req->path)
        return cause_set(cause, cause_len, -EINVAL, "request needs a method and a path");
    for (const char *m = req->method; *m; m++)
        if (!is_token_char((unsigned char)*m))
            return cause_set(cause, cause_len, -EINVAL, "invalid request method");
    if (req->path[0] && req->path[0] != '/')
        return cause_set(cause, cause_len, -EINVAL, "request path must start with '/'");
    if (strlen(req->path) > SIGV4_MAX_PATH)
        return cause_set(cause, cause_len, -EINVAL, "request path over %d bytes", SIGV4_MAX_PATH);
    if (req->query && strlen(req->query) > SIGV4_MAX_QUERY)
        return cause_set(cause, cause_len, -EINVAL, "query string over %d bytes", SIGV4_MAX_QUERY);
    if (req->header_count > max_headers || (req->header_count && !req->headers))
        return cause_set(cause, cause_len, -EINVAL, "more than %zu headers", max_headers);
    if (req->body_len && !req->body)
        return cause_set(cause, cause_len, -EINVAL, "request body is missing");
    return 0;
}

static int payload_hash(const struct sigv4_request *req, const struct sigv4_canonical_options *opt,
                        char hex[SIGV4_HEX_SIZE])
{
    if (!opt->payload_hash)
        return sha256_hex(req->body, req->body_len, hex);
    if (strlen(opt->payload_hash) != SIGV4_HEX_SIZE - 1)
        return -EINVAL;
    memcpy(hex, opt->payload_hash, SIGV4_HEX_SIZE);
    return 0;
}

/* Validates the request and fills the header table and payload hash. */
static int canonical_inputs(const struct sigv4_request *req,
                            const struct sigv4_canonical_options *opt, struct canon_header *h,
                            char hash[SIGV4_HEX_SIZE], char *cause, size_t cause_len)
{
    int rc = check_request(req, MAX_CANON_HEADERS, cause, cause_len);
    if (rc == 0 && !opt)
        rc = cause_set(cause, cause_len, -EINVAL, "missing canonicalisation options");
    if (rc == 0)
        rc = collect_headers(req->headers, req->header_count, h, cause, cause_len);
    if (rc < 0)
        return rc;
    rc = payload_hash(req, opt, hash);
    if (rc == -EINVAL)
        return cause_set(cause, cause_len, rc, "payload hash must be 64 hex digits");
    return rc < 0 ? fail_errno(cause, cause_len, rc, "payload hash") : 0;
}

/* Method, URI and query lines, the sorted headers, the blank line, the
 * signed header names and the payload hash. Built into a local buffer so
 * that `out` is left untouched on failure. */
static int build_canonical(struct buf *out, struct buf *names, const struct sigv4_request *req,
                           const struct sigv4_canonical_options *opt, struct canon_header *h,
                           const char *hash)
{
    struct buf local = BUF_INIT;
    int rc = buf_printf(&local, "%s\n", req->method);
    if (rc == 0)
        rc = append_canonical_uri(&local, req->path, opt);
    if (rc == 0)
        rc = buf_append_char(&local, '\n');
    if (rc == 0)
        rc = append_canonical_query(&local, req->query);
    if (rc == 0)
        rc = buf_append_char(&local, '\n');
    qsort(h, req->header_count, sizeof(h[0]), compare_headers);
    if (rc == 0)
        rc = append_header_lines(&local, names, h, req->header_count);
    if (rc == 0)
        rc = buf_printf(&local, "\n%.*s\n%s", (int)buf_length(names), buf_bytes(names), hash);
    if (rc == 0)
        rc = buf_append(out, buf_bytes(&local), buf_length(&local));
    buf_free(&local);
    return rc;
}

int sigv4_canonical_request(struct buf *out, struct buf *signed_headers,
                            const struct sigv4_request *req,
                            const struct sigv4_canonical_options *opt, char *cause,
                            size_t cause_len)
{
    struct canon_header h[MAX_CANON_HEADERS];
    struct buf names = BUF_INIT;
    char hash[SIGV4_HEX_SIZE];
    if (!out)
        return cause_set(cause, cause_len, -EINVAL, "missing output buffer");
    int rc = canonical_inputs(req, opt, h, hash, cause, cause_len);
    if (rc < 0)
        return rc;
    rc = build_canonical(out, &names, req, opt, h, hash);
    if (rc == 0 && signed_headers)
        rc = buf_append(signed_headers, buf_bytes(&names), buf_length(&names));
    buf_free(&names);
    if (rc == -E2BIG)
        return cause_set(cause, cause_len, -EINVAL, "more than %d query parameters",
                         SIGV4_MAX_QUERY_PARAMS);
    return rc < 0 ? fail_errno(cause, cause_len, rc, "canonical request") : 0;
}

/* --------------------------------------------------- string to sign, keys */

/* Whether s is 1 to max characters, each accepted by `allowed`. */
static int valid_word(const char *s, size_t max, int (*allowed)(unsigned char))
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > max)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!allowed((unsigned char)s[i]))
            return 0;
    return 1;
}

/* A region and a service, as a credential scope may name them. */
static int valid_scope(const char *region, const char *service)
{
    return valid_word(region, SIGV4_MAX_SCOPE_PART, percent_is_unreserved) &&
           valid_word(service, SIGV4_MAX_SCOPE_PART, percent_is_unreserved);
}

static int valid_date8(const char *date)
{
    int ignored;
    return date && strnlen(date, 8) == 8 && parse_digits(date, 8, &ignored) == 0;
}

/* Appends the string to sign for a canonical request; amz_date is the
 * 16-character x-amz-date value, whose first 8 characters form the scope. */
static int string_to_sign(struct buf *out, const char *amz_date, const char *region,
                          const char *service, const char *canonical_request, size_t len)
{
    char hash[SIGV4_HEX_SIZE];
    time_t ignored;
    if (!out || sigv4_parse_amz_date(amz_date, &ignored) < 0 || !valid_scope(region, service) ||
        (len && !canonical_request))
        return -EINVAL;
    int rc = sha256_hex(canonical_request, len, hash);
    if (rc == 0)
        rc = buf_printf(out, SIGV4_ALGORITHM "\n%s\n%.8s/%s/%s/" SCOPE_TERMINATOR "\n%s", amz_date,
                        amz_date, region, service, hash);
    return rc;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
static int derive_key(unsigned char key[SIGV4_KEY_SIZE], const char *k_secret, size_t k_len,
                      const char *date, const char *region, const char *service)
{
    unsigned char a[SIGV4_KEY_SIZE], b[SIGV4_KEY_SIZE];
    int rc = crypto_hmac_sha256(k_secret, k_len, date, 8, a);
    if (rc == 0)
        rc = crypto_hmac_sha256(a, sizeof(a), region, strlen(region), b);
    if (rc == 0)
        rc = crypto_hmac_sha256(b, sizeof(b), service, strlen(service), a);
    if (rc == 0)
        rc = crypto_hmac_sha256(a, sizeof(a), SCOPE_TERMINATOR, strlen(SCOPE_TERMINATOR), key);
    secure_wipe(a, sizeof(a));
    secure_wipe(b, sizeof(b));
    return rc;
}

int sigv4_signing_key(unsigned char key_out[SIGV4_KEY_SIZE], const char *secret_access_key,
                      const char *date, const char *region, const char *service)
{
    char k_secret[4 + SIGV4_MAX_SECRET];
    size_t len = secret_access_key ? strlen(secret_access_key) : SIZE_MAX;
    if (!key_out || len > SIGV4_MAX_SECRET || !valid_date8(date) || !valid_scope(region, service))
        return -EINVAL;
    memcpy(k_secret, "AWS4", 4);
    memcpy(k_secret + 4, secret_access_key, len);
    int rc = derive_key(key_out, k_secret, 4 + len, date, region, service);
    secure_wipe(k_secret, sizeof(k_secret));
    return rc;
}

/* Runs string to sign, key derivation and HMAC for a canonical request. */
static int sign_canonical(struct buf *sts, char sig[SIGV4_HEX_SIZE], const struct buf *canonical,
                          const char *amz_date, const char *secret, const char *region,
                          const char *service)
{
    unsigned char key[SIGV4_KEY_SIZE], mac[SIGV4_KEY_SIZE];
    int rc =
        string_to_sign(sts, amz_date, region, service, buf_bytes(canonical), buf_length(canonical));
    if (rc == 0)
        rc = sigv4_signing_key(key, secret, amz_date, region, service);
    if (rc == 0)
        rc = crypto_hmac_sha256(key, sizeof(key), buf_bytes(sts), buf_length(sts), mac);
    if (rc == 0)
        hex_encode(sig, mac, sizeof(mac));
    secure_wipe(key, sizeof(key));
    return rc;
}

/* -------------------------------------------------------------------- sign */

static int named(const char *name, const char *want)
{
    return name && strcasecmp(name, want) == 0;
}

static int has_header(const struct sigv4_request *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (named(req->headers[i].name, name))
            return 1;
    return 0;
}

static int valid_access_key_id(const char *s)
{
    return valid_word(s, SIGV4_MAX_ACCESS_KEY_ID, is_token_char);
}

static int check_sign_input(const struct sigv4_request *req, const struct sigv4_credentials *creds,
                            const struct sigv4_params *p, char *cause, size_t cause_len)
{
    int rc = check_request(req, SIGV4_MAX_HEADERS, cause, cause_len);
    if (rc < 0)
        return rc;
    if (!creds || !valid_access_key_id(creds->access_key_id) || !creds->secret_access_key ||
        strlen(creds->secret_access_key) > SIGV4_MAX_SECRET)
        return cause_set(cause, cause_len, -EINVAL, "invalid credentials");
    if (creds->session_token && strlen(creds->session_token) > SIGV4_MAX_SESSION_TOKEN)
        return cause_set(cause, cause_len, -EINVAL, "session token over %d bytes",
                         SIGV4_MAX_SESSION_TOKEN);
    if (!p || !valid_scope(p->region, p->service))
        return cause_set(cause, cause_len, -EINVAL, "invalid region or service");
    if (!has_header(req, "host"))
        return cause_set(cause, cause_len, -EINVAL, "the request has no host header");
    return 0;
}

/* Whether a caller header is dropped because sigv4_sign supplies its own. */
static int replaced_by_signer(const char *name, const struct sigv4_signed *s,
                              const struct sigv4_params *p)
{
    return named(name, "authorization") || named(name, "x-amz-date") ||
           (s->security_token && named(name, "x-amz-security-token")) ||
           (p->sign_body_header && named(name, "x-amz-content-sha256"));
}

/* Caller headers plus the ones the signer adds and signs. */
static size_t headers_to_sign(const struct sigv4_request *req, const struct sigv4_signed *s,
                              const struct sigv4_params *p, struct sigv4_header *out)
{
    size_t n = 0;
    for (size_t i = 0; i < req->header_count; i++)
        if (!replaced_by_signer(req->headers[i].name, s, p))
            out[n++] = req->headers[i];
    out[n++] = (struct sigv4_header){"x-amz-date", s->amz_date};
    if (s->security_token && !p->omit_session_token)
        out[n++] = (struct sigv4_header){"x-amz-security-token", s->security_token};
    if (p->sign_body_header)
        out[n++] = (struct sigv4_header){"x-amz-content-sha256", s->content_sha256};
    return n;
}

/* Fills date, token and content hash: everything known before signing. */
static int prepare_signed(const struct sigv4_request *req, const struct sigv4_credentials *creds,
                          const struct sigv4_params *p, struct sigv4_signed *s)
{
    memset(s, 0, sizeof(*s));
    sigv4_format_amz_date(p->timestamp, s->amz_date);
    if (creds->session_token && creds->session_token[0]) {
        s->security_token = strdup(creds->session_token);
        if (!s->security_token)
            return -ENOMEM;
    }
    if (p->sign_body_header)
        return sha256_hex(req->body, req->body_len, s->content_sha256);
    return 0;
}

static int build_authorization(struct sigv4_signed *s, const struct sigv4_credentials *creds,
                               const struct sigv4_params *p)
{
    struct buf b = BUF_INIT;
    int rc = buf_printf(&b,
                        SIGV4_ALGORITHM " Credential=%s/%.8s/%s/%s/" SCOPE_TERMINATOR
                                        ", SignedHeaders=%s, Signature=%s",
                        creds->access_key_id, s->amz_date, p->region, p->service, s->signed_headers,
                        s->signature);
    if (rc == 0)
        s->authorization = buf_steal(&b, NULL);
    buf_free(&b);
    return rc == 0 && !s->authorization ? -ENOMEM : rc;
}

/* Canonical request, string to sign and signature into s. */
static int sign_request(const struct sigv4_request *signing, const struct sigv4_credentials *creds,
                        const struct sigv4_params *p, struct sigv4_signed *s, char *cause,
                        size_t cause_len)
{
    struct buf canonical = BUF_INIT, names = BUF_INIT, sts = BUF_INIT;
    struct sigv4_canonical_options opt = {p->normalize_path, p->single_encode_path,
                                          p->sign_body_header ? s->content_sha256 : NULL};
    int rc = sigv4_canonical_request(&canonical, &names, signing, &opt, cause, cause_len);
    if (rc == 0)
        rc = sign_canonical(&sts, s->signature, &canonical, s->amz_date, creds->secret_access_key,
                            p->region, p->service);
    if (rc == 0) {
        s->canonical_request = buf_steal(&canonical, NULL);
        s->string_to_sign = buf_steal(&sts, NULL);
        s->signed_headers = buf_steal(&names, NULL);
        if (!s->canonical_request || !s->string_to_sign || !s->signed_headers)
            rc = -ENOMEM;
    }
    buf_free(&canonical);
    buf_free(&names);
    buf_free(&sts);
    return rc;
}

int sigv4_sign(const struct sigv4_request *req, const struct sigv4_credentials *creds,
               const struct sigv4_params *params, struct sigv4_signed *out, char *cause,
               size_t cause_len)
{
    struct sigv4_header headers[MAX_CANON_HEADERS];
    if (!out)
        return cause_set(cause, cause_len, -EINVAL, "missing output");
    memset(out, 0, sizeof(*out));
    int rc = check_sign_input(req, creds, params, cause, cause_len);
    if (rc == 0)
        rc = prepare_signed(req, creds, params, out);
    struct sigv4_request signing = req ? *req : (struct sigv4_request){0};
    if (rc == 0) {
        signing.headers = headers;
        signing.header_count = headers_to_sign(req, out, params, headers);
        rc = sign_request(&signing, creds, params, out, cause, cause_len);
    }
    if (rc == 0)
        rc = build_authorization(out, creds, params);
    if (rc < 0)
        sigv4_signed_free(out);
    if (rc == -ENOMEM || rc == -EIO)
        return fail_errno(cause, cause_len, rc, "signing");
    return rc;
}

size_t sigv4_signed_headers_to_add(const struct sigv4_signed *s, struct sigv4_header out[4])
{
    size_t n = 0;
    out[n++] = (struct sigv4_header){"x-amz-date", s->amz_date};
    if (s->security_token)
        out[n++] = (struct sigv4_header){"x-amz-security-token", s->security_token};
    if (s->content_sha256[0])
        out[n++] = (struct sigv4_header){"x-amz-content-sha256", s->content_sha256};
    if (s->authorization)
        out[n++] = (struct sigv4_header){"authorization", s->authorization};
    return n;
}

void sigv4_signed_free(struct sigv4_signed *s)
{
    if (!s)
        return;
    free(s->authorization);
    if (s->security_token)
        secure_wipe(s->security_token, strlen(s->security_token));
    free(s->security_token);
    free(s->signed_headers);
    free(s->canonical_request);
    free(s->string_to_sign);
    memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------- Authorization parsing */

struct auth_fields {
    char access_key_id[SIGV4_MAX_ACCESS_KEY_ID + 1];
    char date[9];
    char region[SIGV4_MAX_SCOPE_PART + 1];
    char service[SIGV4_MAX_SCOPE_PART + 1];
    char names[SIGV4_MAX_AUTHORIZATION + 1]; /* SignedHeaders, split on ';' in place */
    const char *name[SIGV4_MAX_HEADERS];
    size_t name_count;
    char signature[SIGV4_HEX_SIZE];
};

/* Splits s on '/' in place into exactly `want` parts (empty ones allowed). */
static int split_exact(char *s, char sep, char **part, size_t want)
{
    size_t n = 0;
    for (;;) {
        if (n == want)
            return -EINVAL;
        part[n++] = s;
        s = strchr(s, sep);
        if (!s)
            return n == want ? 0 : -EINVAL;
        *s++ = '\0';
    }
}

/* Splits "AKID/YYYYMMDD/region/service/aws4_request" into a. */
static int parse_credential(char *value, struct auth_fields *a, char *cause, size_t cause_len)
{
    char *part[5];
    if (split_exact(value, '/', part, 5) < 0 || !valid_access_key_id(part[0]))
        return cause_set(cause, cause_len, -EINVAL,
                         "Authorization header has a malformed Credential");
    if (!valid_date8(part[1]) || part[1][8] || !valid_scope(part[2], part[3]))
        return cause_set(cause, cause_len, -EINVAL, "Credential has a malformed scope");
    if (strcmp(part[4], SCOPE_TERMINATOR) != 0)
        return cause_set(cause, cause_len, -EINVAL,
                         "Credential should be scoped with a valid terminator: 'aws4_request', not "
                         "'%.32s'.",
                         part[4]);
    strcpy(a->access_key_id, part[0]);
    memcpy(a->date, part[1], sizeof(a->date));
    strcpy(a->region, part[2]);
    strcpy(a->service, part[3]);
    return 0;
}

static int valid_signed_name(const char *name, const char *prev)
{
    char lower[SIGV4_MAX_HEADER_NAME + 1];
    if (lower_name(name, lower) < 0 || strcmp(lower, name) != 0)
        return 0;
    return !prev || strcmp(prev, name) < 0;
}

/* "host;x-amz-date": lower-case names, strictly ascending, at most 64. */
static int parse_signed_headers(const char *value, struct auth_fields *a, char *cause,
                                size_t cause_len)
{
    const char *prev = NULL;
    char *p = a->names;
    strcpy(a->names, value);
    for (a->name_count = 0; p; prev = a->name[a->name_count++]) {
        char *next = strchr(p, ';');
        if (next)
            *next++ = '\0';
        if (a->name_count == SIGV4_MAX_HEADERS || !valid_signed_name(p, prev))
            return cause_set(
                cause, cause_len, -EINVAL,
                "SignedHeaders must be 1 to %d sorted, unique, lower-case header names",
                SIGV4_MAX_HEADERS);
        a->name[a->name_count] = p;
        p = next;
    }
    return 0;
}

static int parse_signature_field(const char *value, struct auth_fields *a, char *cause,
                                 size_t cause_len)
{
    size_t len = strlen(value);
    if (len != SIGV4_HEX_SIZE - 1 || strspn(value, "0123456789abcdef") != len)
        return cause_set(cause, cause_len, -EINVAL, "Signature must be 64 lower-case hex digits");
    memcpy(a->signature, value, SIGV4_HEX_SIZE);
    return 0;
}

/* Where s starts without its leading whitespace; *len gets the length
 * without the trailing whitespace. */
static const char *trimmed_span(const char *s, size_t *len)
{
    while (is_space(*s))
        s++;
    *len = strlen(s);
    while (*len > 0 && is_space(s[*len - 1]))
        (*len)--;
    return s;
}

static char *trim(char *s)
{
    size_t len;
    s = (char *)trimmed_span(s, &len);
    s[len] = '\0';
    return s;
}

enum { HAVE_CREDENTIAL = 1, HAVE_SIGNED_HEADERS = 2, HAVE_SIGNATURE = 4 };

/* Handles one "Key=value" component; *seen tracks which keys appeared. */
static int parse_component(char *part, struct auth_fields *a, int *seen, char *cause,
                           size_t cause_len)
{
    char *eq = strchr(part, '=');
    if (!eq)
        return cause_set(cause, cause_len, -EINVAL, "Authorization component '%.64s' has no '='",
                         part);
    *eq = '\0';
    char *key = trim(part), *value = trim(eq + 1);
    int bit = !strcmp(key, "Credential")      ? HAVE_CREDENTIAL
              : !strcmp(key, "SignedHeaders") ? HAVE_SIGNED_HEADERS
              : !strcmp(key, "Signature")     ? HAVE_SIGNATURE
                                              : 0;
    if (!bit || (*seen & bit))
        return cause_set(cause, cause_len, -EINVAL, "Authorization header has %s parameter '%.64s'",
                         bit ? "a repeated" : "an unknown", key);
    *seen |= bit;
    if (bit == HAVE_CREDENTIAL)
        return parse_credential(value, a, cause, cause_len);
    if (bit == HAVE_SIGNED_HEADERS)
        return parse_signed_headers(value, a, cause, cause_len);
    return parse_signature_field(value, a, cause, cause_len);
}

static int check_all_seen(int seen, char *cause, size_t cause_len)
{
    static const char *const names[3] = {"Credential", "SignedHeaders", "Signature"};
    for (int i = 0; i < 3; i++)
        if (!(seen & (1 << i)))
            return cause_set(cause, cause_len, -EINVAL,
                             "Authorization header requires '%s' parameter.", names[i]);
    return 0;
}

/* Splits the algorithm off `copy` (edited in place); returns the rest. */
static int split_algorithm(char *copy, char **rest, char *cause, size_t cause_len)
{
    char *s = copy;
    while (is_space(*s))
        s++;
    size_t alg_len = strcspn(s, " \t");
    if (alg_len != strlen(SIGV4_ALGORITHM) || strncmp(s, SIGV4_ALGORITHM, alg_len) != 0)
        return cause_set(cause, cause_len, -EINVAL, "Unsupported AWS 'algorithm': '%.*s'",
                         (int)(alg_len > 64 ? 64 : alg_len), s);
    if (!s[alg_len])
        return cause_set(cause, cause_len, -EINVAL, "Authorization header has no parameters");
    *rest = s + alg_len;
    return 0;
}

static int parse_authorization(const char *value, struct auth_fields *a, char *cause,
                               size_t cause_len)
{
    char copy[SIGV4_MAX_AUTHORIZATION + 1], *rest = NULL;
    int seen = 0;
    if (strlen(value) > SIGV4_MAX_AUTHORIZATION)
        return cause_set(cause, cause_len, -EINVAL, "Authorization header is over %d bytes",
                         SIGV4_MAX_AUTHORIZATION);
    strcpy(copy, value);
    int rc = split_algorithm(copy, &rest, cause, cause_len);
    if (rc < 0)
        return rc;
    for (char *save = NULL, *p = strtok_r(rest, ",", &save); p && rc == 0;
         p = strtok_r(NULL, ",", &save)) {
        p = trim(p);
        if (*p)
            rc = parse_component(p, a, &seen, cause, cause_len);
    }
    return rc ? rc : check_all_seen(seen, cause, cause_len);
}

/* ------------------------------------------------------------------ verify */

/* Finds the one header called `name`: 0, -ENOENT, or -EINVAL if repeated. */
static int find_header(const struct sigv4_request *req, const char *name, const char **value)
{
    *value = NULL;
    for (size_t i = 0; i < req->header_count; i++) {
        if (!named(req->headers[i].name, name))
            continue;
        if (*value || !req->headers[i].value)
            return -EINVAL;
        *value = req->headers[i].value;
    }
    return *value ? 0 : -ENOENT;
}

/* Finds a single header and the bounds of its trimmed value: 0, -ENOENT or
 * -EINVAL (repeated). */
static int header_span(const struct sigv4_request *req, const char *name, const char **start,
                       size_t *len)
{
    const char *v;
    int rc = find_header(req, name, &v);
    if (rc == 0)
        *start = trimmed_span(v, len);
    return rc;
}

static int read_authorization(const struct sigv4_request *req, struct auth_fields *a, char *cause,
                              size_t cause_len)
{
    const char *value;
    int rc = find_header(req, "authorization", &value);
    if (rc == -ENOENT)
        return cause_set(cause, cause_len, -EACCES, "Missing Authentication Token");
    if (rc < 0)
        return cause_set(cause, cause_len, -EINVAL, "repeated Authorization header");
    return parse_authorization(value, a, cause, cause_len);
}

static int read_amz_date(const struct sigv4_request *req, char date[SIGV4_AMZ_DATE_SIZE], time_t *t,
                         char *cause, size_t cause_len)
{
    const char *v;
    size_t len = 0;
    int rc = header_span(req, "x-amz-date", &v, &len);
    if (rc == 0 && len < SIGV4_AMZ_DATE_SIZE)
        snprintf(date, SIGV4_AMZ_DATE_SIZE, "%.*s", (int)len, v);
    if (rc == -ENOENT)
        return cause_set(cause, cause_len, -EINVAL,
                         "Authorization header requires existence of either a 'X-Amz-Date' or a "
                         "'Date' header.");
    if (rc < 0 || len >= SIGV4_AMZ_DATE_SIZE || sigv4_parse_amz_date(date, t) < 0)
        return cause_set(cause, cause_len, -EINVAL,
                         "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
    return 0;
}

static int check_scope(const struct auth_fields *a, const struct sigv4_verify_params *p,
                       const char *amz_date, char *cause, size_t cause_len)
{
    if (strncmp(a->date, amz_date, 8) != 0)
        return cause_set(
            cause, cause_len, -EACCES,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
            "date from HTTP: '%s' != '%.8s', from '%s'.",
            a->date, amz_date, amz_date);
    if (strcmp(a->region, p->region) != 0)
        return cause_set(cause, cause_len, -EACCES,
                         "Credential should be scoped to a valid region, not '%s'.", a->region);
    if (strcmp(a->service, p->service) != 0)
        return cause_set(cause, cause_len, -EACCES,
                         "Credential should be scoped to correct service: '%s'.", p->service);
    return 0;
}

static int check_skew(time_t t, const char *amz_date, const struct sigv4_verify_params *p,
                      char *cause, size_t cause_len)
{
    int64_t skew = p->max_skew_seconds > 0 ? p->max_skew_seconds : SIGV4_DEFAULT_MAX_SKEW;
    int64_t diff = (int64_t)t - (int64_t)p->now;
    char now_s[SIGV4_AMZ_DATE_SIZE], edge[SIGV4_AMZ_DATE_SIZE], span[32];
    if (diff >= -skew && diff <= skew)
        return 0;
    sigv4_format_amz_date(p->now, now_s);
    sigv4_format_amz_date((time_t)(p->now + (diff < 0 ? -skew : skew)), edge);
    /* AWS writes the allowed skew as "5 min."; other skews keep whole units. */
    snprintf(span, sizeof(span), skew % 60 ? "%lld sec." : "%lld min.",
             (long long)(skew % 60 ? skew : skew / 60));
    if (diff < 0)
        return cause_set(cause, cause_len, -EACCES,
                         "Signature expired: %s is now earlier than %s (%s - %s)", amz_date, edge,
                         now_s, span);
    return cause_set(cause, cause_len, -EACCES,
                     "Signature not yet current: %s is still later than %s (%s + %s)", amz_date,
                     edge, now_s, span);
}

static int check_signed_present(const struct sigv4_request *req, const struct auth_fields *a,
                                char *cause, size_t cause_len)
{
    int host = 0;
    for (size_t i = 0; i < a->name_count; i++) {
        host |= strcmp(a->name[i], "host") == 0;
        if (strcmp(a->name[i], "authorization") == 0)
            return cause_set(cause, cause_len, -EINVAL,
                             "the Authorization header cannot be signed");
    }
    if (!host)
        return cause_set(
            cause, cause_len, -EACCES,
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    for (size_t i = 0; i < a->name_count; i++)
        if (!has_header(req, a->name[i]))
            return cause_set(cause, cause_len, -EACCES,
                             "Signed header '%s' is missing from the request.", a->name[i]);
    return 0;
}

static int look_up_secret(sigv4_secret_lookup lookup, void *ctx, const char *akid,
                          char secret[SIGV4_MAX_SECRET + 1],
                          char token[SIGV4_MAX_SESSION_TOKEN + 1], char *cause, size_t cause_len)
{
    int rc = lookup(ctx, akid, secret, SIGV4_MAX_SECRET + 1, token, SIGV4_MAX_SESSION_TOKEN + 1);
    secret[SIGV4_MAX_SECRET] = '\0';
    token[SIGV4_MAX_SESSION_TOKEN] = '\0';
    if (rc == -ENOENT)
        return cause_set(cause, cause_len, -EACCES, MSG_BAD_TOKEN);
    if (rc < 0)
        return fail_errno(cause, cause_len, rc, "credential lookup failed");
    return 0;
}

/* The request's x-amz-security-token must equal the identity's token, and be
 * absent when the identity has none. */
static int check_token(const struct sigv4_request *req, const char *token, char *cause,
                       size_t cause_len)
{
    const char *sent = NULL;
    size_t len = 0;
    int rc = header_span(req, "x-amz-security-token", &sent, &len);
    int ok =
        rc == -ENOENT ? !token[0] : rc == 0 && constant_time_equal(sent, len, token, strlen(token));
    return ok ? 0 : cause_set(cause, cause_len, -EACCES, MSG_BAD_TOKEN);
}

/* The request with only the headers listed in SignedHeaders. */
static size_t signed_subset(const struct sigv4_request *req, const struct auth_fields *a,
                            struct sigv4_header *out)
{
    size_t n = 0;
    for (size_t i = 0; i < req->header_count; i++)
        for (size_t j = 0; j < a->name_count; j++)
            if (named(req->headers[i].name, a->name[j])) {
                out[n++] = req->headers[i];
                break;
            }
    return n;
}

static int check_signature(const struct sigv4_request *req, const struct sigv4_verify_params *p,
                           const struct auth_fields *a, const char *amz_date, const char *secret,
                           char *cause, size_t cause_len)
{
    struct sigv4_header headers[SIGV4_MAX_HEADERS];
    struct sigv4_request subset = *req;
    struct sigv4_canonical_options opt = {p->normalize_path, p->single_encode_path, NULL};
    struct buf canonical = BUF_INIT, sts = BUF_INIT;
    char sig[SIGV4_HEX_SIZE] = "";
    subset.headers = headers;
    subset.header_count = signed_subset(req, a, headers);
    int rc = sigv4_canonical_request(&canonical, NULL, &subset, &opt, cause, cause_len);
    if (rc == 0)
        rc = sign_canonical(&sts, sig, &canonical, amz_date, secret, a->region, a->service);
    buf_free(&canonical);
    buf_free(&sts);
    if (rc < 0)
        return rc == -EINVAL ? rc : fail_errno(cause, cause_len, rc, "verification");
    if (!constant_time_equal(sig, strlen(sig), a->signature, strlen(a->signature)))
        return cause_set(cause, cause_len, -EACCES, MSG_MISMATCH);
    return 0;
}

/* Everything after the Authorization and date are parsed: identity, token,
 * signature. Secrets live on this frame and are wiped before returning. */
static int verify_identity(const struct sigv4_request *req, const struct sigv4_verify_params *p,
                           const struct auth_fields *a, const char *amz_date,
                           sigv4_secret_lookup lookup, void *ctx, char *cause, size_t cause_len)
{
    char secret[SIGV4_MAX_SECRET + 1] = "";
    char token[SIGV4_MAX_SESSION_TOKEN + 1] = "";
    int rc = look_up_secret(lookup, ctx, a->access_key_id, secret, token, cause, cause_len);
    if (rc == 0)
        rc = check_token(req, token, cause, cause_len);
    if (rc == 0)
        rc = check_signature(req, p, a, amz_date, secret, cause, cause_len);
    secure_wipe(secret, sizeof(secret));
    secure_wipe(token, sizeof(token));
    return rc;
}

int sigv4_verify(const struct sigv4_request *req, const struct sigv4_verify_params *params,
                 sigv4_secret_lookup lookup, void *ctx, char *cause, size_t cause_len)
{
    struct auth_fields a;
    char amz_date[SIGV4_AMZ_DATE_SIZE];
    time_t t = 0;
    memset(&a, 0, sizeof(a));
    int rc = check_request(req, SIGV4_MAX_HEADERS, cause, cause_len);
    if (rc == 0 && (!params || !lookup || !valid_scope(params->region, params->service)))
        rc = cause_set(cause, cause_len, -EINVAL, "invalid verification parameters");
    if (rc == 0)
        rc = read_authorization(req, &a, cause, cause_len);
    if (rc == 0)
        rc = read_amz_date(req, amz_date, &t, cause, cause_len);
    if (rc == 0)
        rc = check_scope(&a, params, amz_date, cause, cause_len);
    if (rc == 0)
        rc = check_skew(t, amz_date, params, cause, cause_len);
    if (rc == 0)
        rc = check_signed_present(req, &a, cause, cause_len);
    if (rc == 0)
        rc = verify_identity(req, params, &a, amz_date, lookup, ctx, cause, cause_len);
    return rc;
}
