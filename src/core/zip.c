/* The stored-entry ZIP writer (core/zip.h). Layout per APPNOTE.TXT: a local
 * header and the data per entry, then one central directory record per entry,
 * then the end-of-central-directory record. */
#include "core/zip.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

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
