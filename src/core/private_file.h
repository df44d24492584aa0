/* Private files under a project's .tether/ directory: the one owner of how
 * tether keeps secrets and records next to a project (the stage's bridge
 * key, .tether/dev.json, the invocation records in .tether/log/).
 *
 * A project directory may be shared, or may come from someone else (a
 * cloned repository, an unpacked archive), so nothing in it is trusted:
 * .tether and its subdirectory are created 0700, and one that is a symbolic
 * link, not a directory, or not owned by this user is refused (one we own
 * with looser modes is tightened to 0700). Every name is then opened
 * relative to the directory's descriptor with O_NOFOLLOW, so a link planted
 * in place of a file is never followed. Files are written 0600 and
 * atomically (a fresh temporary name in the same directory, then rename), so
 * a reader never sees half a file; reads refuse anything that is not a
 * regular file and stop at a size cap.
 *
 * NAME is "FILE" (in .tether) or "DIR/FILE" (in .tether/DIR): one level,
 * without "." or ".." parts. Returns 0 or -errno with a cause naming the
 * path. */
#ifndef TETHER_CORE_PRIVATE_FILE_H
#define TETHER_CORE_PRIVATE_FILE_H

#include <stddef.h>

#include "core/buf.h"

/* Creates (or checks) ROOT/.tether and, when NAME has one, its directory. */
int private_dir_ensure(const char *root, const char *name, char *cause, size_t cause_len);
/* Writes ROOT/.tether/NAME with mode 0600, replacing it atomically. */
int private_file_write(const char *root, const char *name, const void *data, size_t len,
                       char *cause, size_t cause_len);
/* Appends ROOT/.tether/NAME to out: -ENOENT when it does not exist, -EFBIG
 * over max bytes, -EINVAL when it is not a regular file of this user. */
int private_file_read(const char *root, const char *name, size_t max, struct buf *out, char *cause,
                      size_t cause_len);
/* Removes ROOT/.tether/NAME; a missing file is not an error. */
int private_file_remove(const char *root, const char *name, char *cause, size_t cause_len);
/* Calls cb with the name of each regular file of this user in
 * ROOT/.tether/DIR (no order); a missing directory lists nothing. */
int private_dir_list(const char *root, const char *dir, void (*cb)(void *user, const char *name),
                     void *user, char *cause, size_t cause_len);

#endif
