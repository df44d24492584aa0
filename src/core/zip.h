/* A ZIP archive writer for stored (uncompressed) entries: what `tether bridge
 * package` needs for Lambda's deployment zip, without a deflate dependency
 * (Lambda accepts stored entries).
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

#endif
