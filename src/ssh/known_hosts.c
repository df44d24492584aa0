#include "ssh/known_hosts.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/buf.h"
#include "core/encoding.h"

#define HASH_MAGIC "|1|"
#define SHA1_SIZE 20

/* One known_hosts line split into fields; pointers into the file text. */
struct line_fields {
    const char *marker; /* "@revoked", "@cert-authority" or NULL */
    size_t marker_len;
    const char *hosts;
    size_t hosts_len;
    const char *type;
    size_t type_len;
    const char *key;
    size_t key_len;
};

void known_hosts_host_name(char *out, size_t out_len, const char *host, uint16_t port)
{
    if (port == 22)
        snprintf(out, out_len, "%s", host);
    else
        snprintf(out, out_len, "[%s]:%u", host, port);
}

int known_hosts_pattern_match(const char *pattern, size_t pattern_len, const char *name)
{
    /* Iterative wildcard match with one backtrack point for the last '*'. */
    size_t p = 0, star = (size_t)-1;
    const char *n = name, *star_name = NULL;
    while (*n) {
        if (p < pattern_len && (pattern[p] == '?' ||
                                tolower((unsigned char)pattern[p]) == tolower((unsigned char)*n))) {
            p++, n++;
        } else if (p < pattern_len && pattern[p] == '*') {
            star = p++;
            star_name = n;
        } else if (star != (size_t)-1) {
            p = star + 1;
            n = ++star_name;
        } else {
            return 0;
        }
    }
    while (p < pattern_len && pattern[p] == '*')
        p++;
    return p == pattern_len;
}

static int hashed_host_match(const char *field, size_t len, const char *name)
{
    const char *salt = field + strlen(HASH_MAGIC);
    const char *bar = memchr(salt, '|', len - strlen(HASH_MAGIC));
    if (!bar)
        return 0;
    struct buf salt_raw = BUF_INIT, hash_raw = BUF_INIT;
    int match = 0;
    if (base64_decode(&salt_raw, salt, (size_t)(bar - salt)) == 0 &&
        base64_decode(&hash_raw, bar + 1, (size_t)(field + len - bar - 1)) == 0 &&
        buf_length(&hash_raw) == SHA1_SIZE) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        if (HMAC(EVP_sha1(), buf_bytes(&salt_raw), (int)buf_length(&salt_raw),
                 (const unsigned char *)name, strlen(name), mac, &mac_len) &&
            mac_len == SHA1_SIZE)
            match = constant_time_equal(mac, SHA1_SIZE, buf_bytes(&hash_raw), SHA1_SIZE);
    }
    buf_free(&salt_raw);
    buf_free(&hash_raw);
    return match;
}

/* 1 when the host field names `name`: some positive pattern matches and no
 * negated one does. */
static int hosts_field_match(const char *field, size_t len, const char *name)
{
    if (len > strlen(HASH_MAGIC) && memcmp(field, HASH_MAGIC, strlen(HASH_MAGIC)) == 0)
        return hashed_host_match(field, len, name);
    int positive = 0;
    const char *end = field + len;
    for (const char *p = field; p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        int negated = *p == '!';
        const char *pattern = p + negated;
        if (stop > pattern && known_hosts_pattern_match(pattern, (size_t)(stop - pattern), name)) {
            if (negated)
                return 0;
            positive = 1;
        }
        p = comma ? comma + 1 : end;
    }
    return positive;
}

static const char *next_field(const char **cursor, const char *end, size_t *len)
{
    const char *p = *cursor;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    const char *start = p;
    while (p < end && *p != ' ' && *p != '\t')
        p++;
    *len = (size_t)(p - start);
    *cursor = p;
    return *len ? start : NULL;
}

static int split_line(const char *line, const char *end, struct line_fields *f)
{
    memset(f, 0, sizeof(*f));
    const char *cursor = line;
    size_t len;
    const char *first = next_field(&cursor, end, &len);
    if (!first || *first == '#')
        return -1;
    if (*first == '@') {
        f->marker = first;
        f->marker_len = len;
        first = next_field(&cursor, end, &len);
        if (!first)
            return -1;
    }
    f->hosts = first;
    f->hosts_len = len;
    f->type = next_field(&cursor, end, &f->type_len);
    f->key = next_field(&cursor, end, &f->key_len);
    return f->type && f->key ? 0 : -1;
}

static int same_text(const char *a, size_t a_len, const char *b)
{
    return a_len == strlen(b) && memcmp(a, b, a_len) == 0;
}

static int same_key(const struct line_fields *f, const char *key_base64)
{
    struct buf a = BUF_INIT, b = BUF_INIT;
    int same = base64_decode(&a, f->key, f->key_len) == 0 &&
               base64_decode(&b, key_base64, strlen(key_base64)) == 0 &&
               constant_time_equal(buf_bytes(&a), buf_length(&a), buf_bytes(&b), buf_length(&b));
    buf_free(&a);
    buf_free(&b);
    return same;
}

static enum known_hosts_result classify_line(const struct line_fields *f, const char *key_type,
                                             const char *key_base64)
{
    if (f->marker && same_text(f->marker, f->marker_len, "@cert-authority"))
        return KNOWN_HOSTS_UNKNOWN;
    int type_match = same_text(f->type, f->type_len, key_type);
    if (f->marker) /* @revoked, or a marker we do not know: only a revocation can matter */
        return same_text(f->marker, f->marker_len, "@revoked") && type_match &&
                       same_key(f, key_base64)
                   ? KNOWN_HOSTS_REVOKED
                   : KNOWN_HOSTS_UNKNOWN;
    if (!type_match)
        return KNOWN_HOSTS_OTHER_TYPE;
    return same_key(f, key_base64) ? KNOWN_HOSTS_MATCH : KNOWN_HOSTS_CHANGED;
}

static void record(enum known_hosts_result found, const struct line_fields *f, const char *file,
                   unsigned line, enum known_hosts_result *result, struct known_hosts_hit *hit)
{
    if (found <= *result)
        return;
    *result = found;
    snprintf(hit->file, sizeof(hit->file), "%s", file);
    hit->line = line;
    snprintf(hit->key_type, sizeof(hit->key_type), "%.*s", (int)f->type_len, f->type);
}

void known_hosts_check_text(const char *text, size_t len, const char *file_name, const char *host,
                            uint16_t port, const char *key_type, const char *key_base64,
                            enum known_hosts_result *result, struct known_hosts_hit *hit)
{
    char name[300];
    known_hosts_host_name(name, sizeof(name), host, port);
    const char *end = text + len;
    unsigned line_number = 0;
    for (const char *line = text; line < end;) {
        const char *newline = memchr(line, '\n', (size_t)(end - line));
        const char *line_end = newline ? newline : end;
        if (line_end > line && line_end[-1] == '\r')
            line_end--;
        line_number++;
        struct line_fields f;
        if (split_line(line, line_end, &f) == 0 && hosts_field_match(f.hosts, f.hosts_len, name))
            record(classify_line(&f, key_type, key_base64), &f, file_name, line_number, result,
                   hit);
        line = newline ? newline + 1 : end;
    }
}

int known_hosts_check_file(const char *path, const char *host, uint16_t port, const char *key_type,
                           const char *key_base64, enum known_hosts_result *result,
                           struct known_hosts_hit *hit, char *cause, size_t cause_len)
{
    struct buf text = BUF_INIT;
    int rc = buf_read_file(&text, path, KNOWN_HOSTS_FILE_MAX);
    if (rc == 0)
        known_hosts_check_text(buf_bytes(&text), buf_length(&text), path, host, port, key_type,
                               key_base64, result, hit);
    else if (rc != -ENOENT)
        snprintf(cause, cause_len, "cannot read %s: %s", path,
                 rc == -EFBIG ? "larger than 4 MiB" : strerror(-rc));
    buf_free(&text);
    return rc == -ENOENT ? 0 : rc;
}

static int make_parent_directory(const char *path, char *cause, size_t cause_len)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    /* Create each missing component, like mkdir -p: the prefix up to every
     * '/', then the whole path. */
    for (char *p = dir + 1;; p++) {
        if (*p && *p != '/')
            continue;
        char end = *p;
        *p = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            int err = errno;
            snprintf(cause, cause_len, "cannot create directory %s: %s", dir, strerror(err));
            return -err;
        }
        if (!(*p = end))
            return 0;
    }
}

int known_hosts_append(const char *path, const char *host, uint16_t port, const char *key_type,
                       const char *key_base64, char *cause, size_t cause_len)
{
    int rc = make_parent_directory(path, cause, cause_len);
    if (rc < 0)
        return rc;
    char name[300];
    known_hosts_host_name(name, sizeof(name), host, port);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    rc = fd < 0 || dprintf(fd, "%s %s %s\n", name, key_type, key_base64) < 0 ? -errno : 0;
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc < 0)
        snprintf(cause, cause_len, "cannot write %s: %s", path, strerror(-rc));
    return rc;
}
