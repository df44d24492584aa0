/* ZIP archives (core/zip.h). Layout per APPNOTE.TXT: a local header and the
 * data per entry, then one central directory record per entry, then the
 * end-of-central-directory record. The writer stores; the reader also
 * inflates (zlib). */
#include "core/zip.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define VERSION_NEEDED 10             /* 1.0: stored entries */
#define VERSION_MADE_BY (3 << 8 | 20) /* Unix, 2.0: the external attributes hold the mode */
#define ZIP_MAX_ENTRIES 65534u
#define ZIP_MAX_OFFSET 0xfffffffeu

uint32_t zip_crc32(uint32_t crc, const void *data, size_t len)
{
    static uint32_t table[256];
    if (!table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    }
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static int put16(struct buf *b, unsigned v)
{
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    return buf_append(b, x, 2);
}

static int put32(struct buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    return buf_append(b, x, 4);
}

/* MS-DOS date and time, as ZIP entries carry them; before 1980 is 1980. */
static void dos_time(time_t t, unsigned *date, unsigned *clock)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    if (tm.tm_year < 80)
        tm = (struct tm){.tm_year = 80, .tm_mday = 1};
    *date = (unsigned)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
    *clock = (unsigned)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
}

/* The fields the local and central records share, from "version needed" to
 * the name length. */
static int put_entry_fields(struct buf *b, uint32_t crc, uint32_t size, size_t name_len,
                            time_t mtime)
{
    unsigned date, clock;
    dos_time(mtime, &date, &clock);
    int rc = put16(b, VERSION_NEEDED);
    rc = rc ? rc : put16(b, 0); /* flags */
    rc = rc ? rc : put16(b, 0); /* method: stored */
    rc = rc ? rc : put16(b, clock);
    rc = rc ? rc : put16(b, date);
    rc = rc ? rc : put32(b, crc);
    rc = rc ? rc : put32(b, size); /* compressed */
    rc = rc ? rc : put32(b, size); /* uncompressed */
    return rc ? rc : put16(b, (unsigned)name_len);
}

void zip_writer_init(struct zip_writer *z, struct buf *out)
{
    z->out = out;
    z->base = buf_length(out);
    buf_init(&z->central);
    z->entries = 0;
}

static int check_entry(const struct zip_writer *z, const char *name, size_t size)
{
    size_t name_len = strlen(name);
    if (name_len == 0 || name_len > ZIP_MAX_NAME || name[0] == '/')
        return -EINVAL;
    size_t offset = buf_length(z->out) - z->base;
    if (z->entries >= ZIP_MAX_ENTRIES || size > ZIP_MAX_OFFSET ||
        offset + 30 + name_len + size > ZIP_MAX_OFFSET)
        return -EFBIG;
    return 0;
}

int zip_add(struct zip_writer *z, const char *name, const void *data, size_t size, unsigned mode,
            time_t mtime)
{
    int rc = check_entry(z, name, size);
    if (rc < 0)
        return rc;
    size_t name_len = strlen(name);
    uint32_t crc = zip_crc32(0, data, size);
    uint32_t offset = (uint32_t)(buf_length(z->out) - z->base);
    struct buf *o = z->out, *c = &z->central;
    rc = put32(o, SIG_LOCAL);
    rc = rc ? rc : put_entry_fields(o, crc, (uint32_t)size, name_len, mtime);
    rc = rc ? rc : put16(o, 0); /* extra length */
    rc = rc ? rc : buf_append(o, name, name_len);
    rc = rc ? rc : buf_append(o, data, size);
    rc = rc ? rc : put32(c, SIG_CENTRAL);
    rc = rc ? rc : put16(c, VERSION_MADE_BY);
    rc = rc ? rc : put_entry_fields(c, crc, (uint32_t)size, name_len, mtime);
    rc = rc ? rc : put16(c, 0);                                          /* extra length */
    rc = rc ? rc : put16(c, 0);                                          /* comment length */
    rc = rc ? rc : put16(c, 0);                                          /* disk */
    rc = rc ? rc : put16(c, 0);                                          /* internal attributes */
    rc = rc ? rc : put32(c, (uint32_t)(S_IFREG | (mode & 07777)) << 16); /* external: the mode */
    rc = rc ? rc : put32(c, offset);
    rc = rc ? rc : buf_append(c, name, name_len);
    if (rc == 0)
        z->entries++;
    return rc;
}

int zip_finish(struct zip_writer *z)
{
    size_t central_at = buf_length(z->out) - z->base;
    size_t central_size = buf_length(&z->central);
    int rc = central_at + central_size > ZIP_MAX_OFFSET ? -EFBIG : 0;
    rc = rc ? rc : buf_append(z->out, buf_bytes(&z->central), central_size);
    rc = rc ? rc : put32(z->out, SIG_END);
    rc = rc ? rc : put16(z->out, 0); /* this disk */
    rc = rc ? rc : put16(z->out, 0); /* the disk with the central directory */
    rc = rc ? rc : put16(z->out, z->entries);
    rc = rc ? rc : put16(z->out, z->entries);
    rc = rc ? rc : put32(z->out, (uint32_t)central_size);
    rc = rc ? rc : put32(z->out, (uint32_t)central_at);
    rc = rc ? rc : put16(z->out, 0); /* comment length */
    zip_writer_free(z);
    return rc;
}

void zip_writer_free(struct zip_writer *z)
{
    buf_free(&z->central);
}

/* ---- reading ---- */

#define END_RECORD_SIZE 22
#define CENTRAL_RECORD_SIZE 46
#define LOCAL_RECORD_SIZE 30
#define MAX_COMMENT 0xffffu
#define FLAG_ENCRYPTED 0x0001u
#define METHOD_STORED 0
#define METHOD_DEFLATE 8
#define INFLATE_CHUNK (64 * 1024)
#define MAX_SYMLINK_TARGET 4096

static unsigned get16(const unsigned char *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

struct zip_reader {
    const unsigned char *data;
    size_t len;
    const struct zip_limits *limits;
    uint64_t total;
    char *cause;
    size_t cause_len;
};

static int failf(struct zip_reader *r, int rc, const char *what, const char *name)
{
    snprintf(r->cause, r->cause_len, "%s%s%s", name ? name : "", name ? ": " : "", what);
    return rc;
}

/* The end record is the last 22 bytes plus a comment of up to 64 KiB. */
static int find_end(struct zip_reader *r, size_t *at)
{
    if (r->len < END_RECORD_SIZE)
        return failf(r, -EINVAL, "not a zip archive (too short)", NULL);
    size_t lowest =
        r->len - END_RECORD_SIZE > MAX_COMMENT ? r->len - END_RECORD_SIZE - MAX_COMMENT : 0;
    for (size_t i = r->len - END_RECORD_SIZE + 1; i-- > lowest;)
        if (get32(r->data + i) == SIG_END &&
            i + END_RECORD_SIZE + get16(r->data + i + 20) == r->len) {
            *at = i;
            return 0;
        }
    return failf(r, -EINVAL, "not a zip archive (no end of central directory)", NULL);
}

/* A name is a relative path of ordinary components. */
static int valid_name(const char *name, size_t len)
{
    if (len == 0 || name[0] == '/' || memchr(name, '\0', len) || memchr(name, '\\', len))
        return 0;
    for (size_t i = 0; i < len;) {
        size_t n = 0;
        while (i + n < len && name[i + n] != '/')
            n++;
        if ((n == 2 && name[i] == '.' && name[i + 1] == '.') || (n == 0 && i + n < len - 1))
            return 0;
        i += n + 1;
    }
    return 1;
}

static void entry_kind(struct zip_entry *e, unsigned made_by, uint32_t external, size_t name_len)
{
    unsigned mode = made_by >> 8 == 3 ? external >> 16 : 0;
    int trailing_slash = e->name[name_len - 1] == '/';
    if (trailing_slash || S_ISDIR(mode))
        e->kind = ZIP_ENTRY_DIR;
    else if (S_ISLNK(mode))
        e->kind = ZIP_ENTRY_SYMLINK;
    else
        e->kind = ZIP_ENTRY_FILE;
    if (trailing_slash)
        e->name[name_len - 1] = '\0';
    /* Permission bits only: no set-id or sticky bits from a peer's archive. */
    e->mode = mode & 0777 ? mode & 0777 : (e->kind == ZIP_ENTRY_DIR ? 0755 : 0644);
}

static int emit(struct zip_reader *r, const struct zip_walk_ops *ops, void *user,
                const struct zip_entry *e, const void *bytes, size_t n, uint32_t *crc)
{
    r->total += n;
    if (r->total > r->limits->max_total_bytes)
        return failf(r, -EFBIG, "the archive unpacks to more than the limit", e->name);
    *crc = zip_crc32(*crc, bytes, n);
    return n ? ops->data(user, bytes, n) : 0;
}

static int inflate_entry(struct zip_reader *r, const struct zip_walk_ops *ops, void *user,
                         const struct zip_entry *e, const unsigned char *in, size_t in_len,
                         uint32_t *crc)
{
    z_stream zs = {0};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
        return failf(r, -ENOMEM, "cannot start inflating", e->name);
    unsigned char *chunk = malloc(INFLATE_CHUNK);
    int rc = chunk ? 0 : -ENOMEM, z = Z_OK;
    uint64_t produced = 0;
    zs.next_in = (unsigned char *)in;
    zs.avail_in = (uInt)in_len;
    while (rc == 0 && z != Z_STREAM_END) {
        zs.next_out = chunk;
        zs.avail_out = INFLATE_CHUNK;
        z = inflate(&zs, Z_NO_FLUSH);
        size_t n = INFLATE_CHUNK - zs.avail_out;
        produced += n;
        if (z != Z_OK && z != Z_STREAM_END)
            rc = failf(r, -EINVAL, "corrupt deflate data", e->name);
        else if (produced > e->size)
            rc = failf(r, -EINVAL, "inflates to more than its declared size", e->name);
        else if (n == 0 && z == Z_OK)
            rc = failf(r, -EINVAL, "deflate data ends early", e->name);
        else
            rc = emit(r, ops, user, e, chunk, n, crc);
    }
    if (rc == 0 && produced != e->size)
        rc = failf(r, -EINVAL, "inflates to less than its declared size", e->name);
    inflateEnd(&zs);
    free(chunk);
    return rc;
}

/* The content of one entry, whose local header is at offset. */
static int entry_content(struct zip_reader *r, const struct zip_walk_ops *ops, void *user,
                         const struct zip_entry *e, uint32_t offset, unsigned method,
                         uint32_t csize, uint32_t expected_crc)
{
    const unsigned char *d = r->data;
    if ((size_t)offset > r->len || r->len - offset < LOCAL_RECORD_SIZE ||
        get32(d + offset) != SIG_LOCAL)
        return failf(r, -EINVAL, "bad local header", e->name);
    size_t start =
        (size_t)offset + LOCAL_RECORD_SIZE + get16(d + offset + 26) + get16(d + offset + 28);
    if (start > r->len || r->len - start < csize)
        return failf(r, -EINVAL, "content beyond the end of the archive", e->name);
    uint32_t crc = 0;
    int rc;
    if (method == METHOD_STORED)
        rc = csize != e->size ? failf(r, -EINVAL, "stored sizes differ", e->name)
                              : emit(r, ops, user, e, d + start, csize, &crc);
    else
        rc = inflate_entry(r, ops, user, e, d + start, csize, &crc);
    if (rc == 0 && crc != expected_crc)
        rc = failf(r, -EINVAL, "CRC mismatch", e->name);
    return rc;
}

/* One central directory record at *at; advances *at past it. */
static int walk_entry(struct zip_reader *r, size_t *at, size_t central_end,
                      const struct zip_walk_ops *ops, void *user)
{
    const unsigned char *c = r->data + *at;
    if (central_end - *at < CENTRAL_RECORD_SIZE || get32(c) != SIG_CENTRAL)
        return failf(r, -EINVAL, "bad central directory record", NULL);
    unsigned flags = get16(c + 8), method = get16(c + 10);
    uint32_t crc = get32(c + 16), csize = get32(c + 20), size = get32(c + 24);
    size_t name_len = get16(c + 28),
           record = CENTRAL_RECORD_SIZE + name_len + get16(c + 30) + get16(c + 32);
    if (central_end - *at < record)
        return failf(r, -EINVAL, "central directory record beyond its end", NULL);
    *at += record;
    struct zip_entry e = {.size = size};
    if (name_len > ZIP_MAX_NAME || !valid_name((const char *)c + CENTRAL_RECORD_SIZE, name_len))
        return failf(r, -EINVAL, "an entry's name is not a safe relative path", NULL);
    memcpy(e.name, c + CENTRAL_RECORD_SIZE, name_len);
    entry_kind(&e, get16(c + 4), get32(c + 38), name_len);
    if (flags & FLAG_ENCRYPTED)
        return failf(r, -EINVAL, "encrypted entries are not supported", e.name);
    if (csize == 0xffffffffu || size == 0xffffffffu || get32(c + 42) == 0xffffffffu)
        return failf(r, -EINVAL, "ZIP64 entries are not supported", e.name);
    if (method != METHOD_STORED && method != METHOD_DEFLATE)
        return failf(r, -EINVAL, "only stored and deflated entries are supported", e.name);
    if (e.kind == ZIP_ENTRY_SYMLINK && size > MAX_SYMLINK_TARGET)
        return failf(r, -EINVAL, "symlink target too long", e.name);
    int rc = ops->begin(user, &e);
    if (rc == 0)
        rc = entry_content(r, ops, user, &e, get32(c + 42), method, csize, crc);
    return rc == 0 ? ops->end(user, &e) : rc;
}

int zip_walk(const void *archive, size_t len, const struct zip_limits *limits,
             const struct zip_walk_ops *ops, void *user, char *cause, size_t cause_len)
{
    struct zip_reader r = {
        .data = archive, .len = len, .limits = limits, .cause = cause, .cause_len = cause_len};
    size_t end = 0;
    int rc = find_end(&r, &end);
    if (rc < 0)
        return rc;
    const unsigned char *e = r.data + end;
    size_t entries = get16(e + 10), central_size = get32(e + 12), central_at = get32(e + 16);
    if (get16(e + 4) != 0 || get16(e + 6) != 0 || get16(e + 8) != entries)
        return failf(&r, -EINVAL, "multi-disk archives are not supported", NULL);
    if (central_at > end || end - central_at < central_size)
        return failf(&r, -EINVAL, "central directory beyond the end record", NULL);
    if (entries > limits->max_entries)
        return failf(&r, -EFBIG, "too many entries", NULL);
    size_t at = central_at;
    for (size_t i = 0; rc == 0 && i < entries; i++)
        rc = walk_entry(&r, &at, central_at + central_size, ops, user);
    return rc;
}

/* ---- extraction ---- */

struct extractor {
    int root;   /* the target directory */
    int parent; /* the directory of the current entry (may be root) */
    int fd;     /* the current file, or -1 */
    char leaf[ZIP_MAX_NAME + 1];
    char link[MAX_SYMLINK_TARGET + 1];
    size_t link_len;
    uint64_t total;
    char *cause;
    size_t cause_len;
};

static int errno_fail(struct extractor *x, const char *what, const char *name)
{
    int rc = -errno;
    snprintf(x->cause, x->cause_len, "%s: cannot %s: %s", name, what, strerror(errno));
    return rc;
}

/* Opens (creating) every directory on the way to name's last component,
 * never following a symlink; x->parent and x->leaf are set. */
static int open_parent(struct extractor *x, const char *name)
{
    char path[ZIP_MAX_NAME + 1];
    snprintf(path, sizeof(path), "%s", name);
    int dir = dup(x->root);
    if (dir < 0)
        return errno_fail(x, "open the target", name);
    char *part = path, *slash;
    while ((slash = strchr(part, '/'))) {
        *slash = '\0';
        if (*part && strcmp(part, ".") != 0) {
            if (mkdirat(dir, part, 0755) < 0 && errno != EEXIST) {
                close(dir);
                return errno_fail(x, "create a directory", name);
            }
            int next = openat(dir, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            close(dir);
            if (next < 0)
                return errno_fail(x, "enter a directory", name);
            dir = next;
        }
        part = slash + 1;
    }
    x->parent = dir;
    snprintf(x->leaf, sizeof(x->leaf), "%s", *part ? part : ".");
    return 0;
}

/* A link stays inside the tree when its target is relative and never climbs. */
static int safe_link_target(const char *target, size_t len)
{
    char probe[ZIP_MAX_NAME + 1];
    return len > 0 && len <= ZIP_MAX_NAME && target[0] != '/' &&
           (memcpy(probe, target, len), valid_name(probe, len));
}

static int extract_begin(void *user, const struct zip_entry *e)
{
    struct extractor *x = user;
    int rc = open_parent(x, e->name);
    if (rc < 0 || strcmp(x->leaf, ".") == 0)
        return rc;
    if (e->kind == ZIP_ENTRY_DIR) {
        if (mkdirat(x->parent, x->leaf, e->mode | 0700) < 0 && errno != EEXIST)
            return errno_fail(x, "create a directory", e->name);
        return 0;
    }
    /* Replace what an earlier archive left (a later layer wins); a directory stays. */
    if (unlinkat(x->parent, x->leaf, 0) < 0 && errno != ENOENT && errno != EISDIR)
        return errno_fail(x, "replace", e->name);
    x->link_len = 0;
    if (e->kind == ZIP_ENTRY_SYMLINK)
        return 0;
    x->fd = openat(x->parent, x->leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                   e->mode | 0600);
    return x->fd < 0 ? errno_fail(x, "create", e->name) : 0;
}

static int extract_data(void *user, const void *bytes, size_t len)
{
    struct extractor *x = user;
    x->total += len;
    if (x->fd < 0) { /* a symlink's target: capped by zip_walk */
        if (x->link_len + len > MAX_SYMLINK_TARGET)
            return -EINVAL;
        memcpy(x->link + x->link_len, bytes, len);
        x->link_len += len;
        return 0;
    }
    for (const char *p = bytes; len > 0;) {
        ssize_t n = write(x->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno_fail(x, "write", x->leaf);
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int extract_end(void *user, const struct zip_entry *e)
{
    struct extractor *x = user;
    int rc = 0;
    if (x->fd >= 0) {
        if (close(x->fd) < 0)
            rc = errno_fail(x, "write", e->name);
        x->fd = -1;
    } else if (e->kind == ZIP_ENTRY_SYMLINK) {
        x->link[x->link_len] = '\0';
        if (!safe_link_target(x->link, x->link_len) || strlen(x->link) != x->link_len) {
            snprintf(x->cause, x->cause_len, "%s: a symlink pointing outside the archive", e->name);
            rc = -EINVAL;
        } else if (symlinkat(x->link, x->parent, x->leaf) < 0) {
            rc = errno_fail(x, "create a symlink", e->name);
        }
    }
    if (x->parent >= 0)
        close(x->parent);
    x->parent = -1;
    return rc;
}

int zip_extract(const void *archive, size_t len, const char *dir, const struct zip_limits *limits,
                uint64_t *total, char *cause, size_t cause_len)
{
    struct extractor x = {.parent = -1, .fd = -1, .cause = cause, .cause_len = cause_len};
    x.root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (x.root < 0)
        return errno_fail(&x, "open", dir);
    static const struct zip_walk_ops ops = {extract_begin, extract_data, extract_end};
    int rc = zip_walk(archive, len, limits, &ops, &x, cause, cause_len);
    if (x.fd >= 0)
        close(x.fd);
    if (x.parent >= 0)
        close(x.parent);
    close(x.root);
    if (total)
        *total = x.total;
    return rc;
}
