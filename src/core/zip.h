/* ZIP archives: a writer for stored (uncompressed) entries, what `tether
 * bridge package` needs for Lambda's deployment zip (Lambda accepts stored
 * entries), and a reader that walks and safely extracts the stored and
 * deflated archives users upload to `tether lambda` (zip_walk, zip_extract).
 *
 * The writer appends to a caller-owned struct buf: zip_writer_init, one
 * zip_add per file, then zip_finish writes the central directory. Each entry
 * carries its Unix mode ("version made by" Unix), so unzip and Lambda keep an
 * executable bit. No ZIP64: an entry or archive of 4 GiB or more, or more
 * than 65534 entries, is refused with -EFBIG. The writer owns its central
 * directory buffer until zip_finish or zip_writer_free. */
#ifndef TETHER_CORE_ZIP_H
#define TETHER_CORE_ZIP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

#define ZIP_MAX_NAME 1024 /* bytes of an entry's name */

struct zip_writer {
    struct buf *out;
    size_t base;        /* where the archive starts in out */
    struct buf central; /* the central directory records, written last */
    unsigned entries;
};

/* CRC-32 as ZIP and Ethernet use it (IEEE 802.3); start with crc 0. */
uint32_t zip_crc32(uint32_t crc, const void *data, size_t len);

void zip_writer_init(struct zip_writer *z, struct buf *out);
/* Appends one stored entry: name (no leading '/'), mode (e.g. 0755), mtime.
 * 0, -EINVAL (bad name), -EFBIG, or -ENOMEM. */
int zip_add(struct zip_writer *z, const char *name, const void *data, size_t size, unsigned mode,
            time_t mtime);
/* Writes the central directory and end record, and frees the writer. */
int zip_finish(struct zip_writer *z);
/* Frees the writer without finishing (after an error). */
void zip_writer_free(struct zip_writer *z);

/* ---- reading ----
 * The archive is a peer's: every field is checked against the buffer and
 * the caller's limits before it is used. Entries come from the central
 * directory, in its order; names must be relative paths without "..",
 * backslashes or NUL bytes; encrypted entries, ZIP64 and methods other than
 * stored (0) and deflate (8) are refused. Each entry's content is
 * decompressed in pieces, must have exactly its declared size and CRC, and
 * counts against max_total_bytes before it is handed out, so a zip bomb
 * stops at the limit. Errors: -EINVAL (malformed, refused), -EFBIG (over a
 * limit), -ENOMEM, or a callback's own error; cause says which entry. */

enum zip_entry_kind {
    ZIP_ENTRY_FILE,
    ZIP_ENTRY_DIR,
    ZIP_ENTRY_SYMLINK, /* the content is the link's target */
};

struct zip_entry {
    char name[ZIP_MAX_NAME + 1]; /* as stored, without a trailing '/' for directories */
    enum zip_entry_kind kind;
    unsigned mode; /* permission bits (0644 / 0755 when the archive has none) */
    uint64_t size; /* uncompressed */
};

struct zip_limits {
    size_t max_entries;
    uint64_t max_total_bytes; /* uncompressed, all entries together */
};

struct zip_walk_ops {
    /* Each may fail with a negative errno, which stops the walk. */
    int (*begin)(void *user, const struct zip_entry *entry);
    int (*data)(void *user, const void *bytes, size_t len);
    int (*end)(void *user, const struct zip_entry *entry);
};

int zip_walk(const void *archive, size_t len, const struct zip_limits *limits,
             const struct zip_walk_ops *ops, void *user, char *cause, size_t cause_len);
/* Extracts into dir (which must exist), replacing files that are there (a
 * later layer overwrites an earlier one's files). Never writes outside dir:
 * files are opened without following a final symlink, and a symlink entry
 * whose target is absolute or has a ".." component is refused. *total gets
 * the uncompressed size (may be NULL). */
int zip_extract(const void *archive, size_t len, const char *dir, const struct zip_limits *limits,
                uint64_t *total, char *cause, size_t cause_len);

#endif
