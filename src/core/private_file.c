/* Private files under .tether/ (core/private_file.h). */
#include "core/private_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/random.h"

#define PRIVATE_DIR ".tether"
#define MAX_PART 200

/* NAME split into its directory (empty when none) and its file. */
struct private_name {
    char dir[MAX_PART + 1];
    char file[MAX_PART + 1];
};

static int valid_part(const char *part, size_t len)
{
    if (len == 0 || len > MAX_PART || (len == 1 && part[0] == '.') ||
        (len == 2 && part[0] == '.' && part[1] == '.'))
        return 0;
    return memchr(part, '\0', len) == NULL;
}

static int split_name(const char *name, struct private_name *out, char *cause, size_t cause_len)
{
    const char *slash = strchr(name, '/');
    const char *file = slash ? slash + 1 : name;
    size_t dir_len = slash ? (size_t)(slash - name) : 0;
    if ((slash && !valid_part(name, dir_len)) || strchr(file, '/') ||
        !valid_part(file, strlen(file))) {
        snprintf(cause, cause_len, "%s/%s: not a plain name inside it", PRIVATE_DIR, name);
        return -EINVAL;
    }
    memcpy(out->dir, name, dir_len);
    out->dir[dir_len] = '\0';
    snprintf(out->file, sizeof(out->file), "%s", file);
    return 0;
}

/* Opens PARENT/NAME as a directory of ours, creating it 0700 when asked.
 * A link, a non-directory or someone else's directory is refused: whoever
 * owns it could read or replace what we keep there. */
static int open_private_dir(int parent, const char *name, int create, const char *shown,
                            char *cause, size_t cause_len)
{
    if (create && mkdirat(parent, name, 0700) < 0 && errno != EEXIST) {
        snprintf(cause, cause_len, "%s: cannot create it: %s", shown, strerror(errno));
        return -errno;
    }
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        if (err == ELOOP || err == ENOTDIR)
            snprintf(cause, cause_len, "%s: a symbolic link or not a directory; refusing to use it",
                     shown);
        else
            snprintf(cause, cause_len, "%s: %s", shown, strerror(err));
        return err == ELOOP || err == ENOTDIR ? -EPERM : -err;
    }
    struct stat st;
    int rc = fstat(fd, &st) < 0 ? -errno : 0;
    if (rc == 0 && st.st_uid != geteuid()) {
        snprintf(cause, cause_len, "%s: owned by uid %u, not by you; refusing to use it", shown,
                 (unsigned)st.st_uid);
        rc = -EPERM;
    } else if (rc == 0 && create && (st.st_mode & 077) && fchmod(fd, 0700) < 0) {
        rc = -errno;
        snprintf(cause, cause_len, "%s: cannot make it private: %s", shown, strerror(errno));
    } else if (rc < 0) {
        snprintf(cause, cause_len, "%s: %s", shown, strerror(-rc));
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/* The descriptor of the directory that holds NAME's file. */
static int open_dir_of(const char *root, const struct private_name *n, int create, char *cause,
                       size_t cause_len)
{
    char shown[4200];
    int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        snprintf(cause, cause_len, "%s: %s", root, strerror(errno));
        return -errno;
    }
    snprintf(shown, sizeof(shown), "%s/%s", root, PRIVATE_DIR);
    int fd = open_private_dir(root_fd, PRIVATE_DIR, create, shown, cause, cause_len);
    close(root_fd);
    if (fd < 0 || !n->dir[0])
        return fd;
    snprintf(shown, sizeof(shown), "%s/%s/%s", root, PRIVATE_DIR, n->dir);
    int sub = open_private_dir(fd, n->dir, create, shown, cause, cause_len);
    close(fd);
    return sub;
}

/* NAME split into n, and the descriptor of its directory. */
static int open_name(const char *root, const char *name, int create, struct private_name *n,
                     char *cause, size_t cause_len)
{
    int rc = split_name(name, n, cause, cause_len);
    return rc < 0 ? rc : open_dir_of(root, n, create, cause, cause_len);
}

int private_dir_ensure(const char *root, const char *name, char *cause, size_t cause_len)
{
    struct private_name n;
    int fd = open_name(root, name, 1, &n, cause, cause_len);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A fresh temporary file next to the target: O_EXCL never opens what
 * someone else put there, and the random part keeps writers apart. */
static int create_temp(int dir, const char *file, char *tmp, size_t tmp_cap)
{
    uint64_t nonce = random_below(UINT64_MAX);
    snprintf(tmp, tmp_cap, ".%.150s.%ld.%016llx.tmp", file, (long)getpid(),
             (unsigned long long)nonce);
    return openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
}

int private_file_write(const char *root, const char *name, const void *data, size_t len,
                       char *cause, size_t cause_len)
{
    struct private_name n;
    char tmp[256];
    int rc = 0;
    int dir = open_name(root, name, 1, &n, cause, cause_len);
    if (dir < 0)
        return dir;
    /* Something other than a file in its place was planted there: refuse
     * rather than silently replace it. */
    struct stat st;
    int fd = -1;
    if (fstatat(dir, n.file, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode))
        rc = -ELOOP;
    else if ((fd = create_temp(dir, n.file, tmp, sizeof(tmp))) < 0)
        rc = -errno;
    /* The mode given to openat is cut by the umask; the file must be
     * exactly 0600 whatever the umask says. */
    if (rc == 0 && fchmod(fd, 0600) < 0)
        rc = -errno;
    if (rc == 0)
        rc = write_all(fd, data, len);
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && renameat(dir, tmp, dir, n.file) < 0)
        rc = -errno;
    if (rc < 0) {
        if (fd >= 0)
            unlinkat(dir, tmp, 0);
        snprintf(cause, cause_len, "%s/%s/%s: cannot write it: %s", root, PRIVATE_DIR, name,
                 rc == -ELOOP ? "a link or other non-file is in its place" : strerror(-rc));
    }
    close(dir);
    return rc;
}

static int read_capped(int fd, size_t max, struct buf *out)
{
    char chunk[4096];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        total += (size_t)n;
        if (total > max)
            return -EFBIG; /* it grew after fstat */
        if (buf_append(out, chunk, (size_t)n) < 0)
            return -ENOMEM;
    }
}

int private_file_read(const char *root, const char *name, size_t max, struct buf *out, char *cause,
                      size_t cause_len)
{
    struct private_name n;
    int rc;
    int dir = open_name(root, name, 0, &n, cause, cause_len);
    if (dir < 0)
        return dir;
    /* O_NONBLOCK: a FIFO planted there must not hang the reader. */
    int fd = openat(dir, n.file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    rc = fd < 0 ? (errno == ELOOP ? -EINVAL : -errno) : 0;
    struct stat st;
    if (rc == 0 && fstat(fd, &st) < 0)
        rc = -errno;
    if (rc == 0 && (!S_ISREG(st.st_mode) || st.st_uid != geteuid()))
        rc = -EINVAL;
    else if (rc == 0 && (size_t)st.st_size > max)
        rc = -EFBIG;
    if (rc == 0)
        rc = read_capped(fd, max, out);
    if (rc < 0)
        snprintf(cause, cause_len, "%s/%s/%s: %s", root, PRIVATE_DIR, name,
                 rc == -EINVAL  ? "not a regular file of yours; refusing to read it"
                 : rc == -EFBIG ? "larger than tether writes"
                                : strerror(-rc));
    if (fd >= 0)
        close(fd);
    close(dir);
    return rc;
}

int private_file_remove(const char *root, const char *name, char *cause, size_t cause_len)
{
    struct private_name n;
    int rc;
    int dir = open_name(root, name, 0, &n, cause, cause_len);
    if (dir == -ENOENT)
        return 0;
    if (dir < 0)
        return dir;
    rc = unlinkat(dir, n.file, 0) < 0 && errno != ENOENT ? -errno : 0;
    if (rc < 0)
        snprintf(cause, cause_len, "%s/%s/%s: %s", root, PRIVATE_DIR, name, strerror(-rc));
    close(dir);
    return rc;
}

int private_dir_list(const char *root, const char *dir, void (*cb)(void *user, const char *name),
                     void *user, char *cause, size_t cause_len)
{
    struct private_name n;
    char probe[MAX_PART + 4];
    snprintf(probe, sizeof(probe), "%s/x", dir);
    int fd = open_name(root, probe, 0, &n, cause, cause_len);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return fd;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        /* Only this user's regular files: a planted link or directory is
         * none of the caller's business. */
        if (e->d_name[0] != '.' && fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode) && st.st_uid == geteuid())
            cb(user, e->d_name);
    }
    closedir(d);
    return 0;
}
