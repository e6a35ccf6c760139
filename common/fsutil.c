/*  fsutil: see fsutil.h. */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
hm_fs_write_all (int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write (fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int
hm_fs_fsync_dir (const char *dir)
{
    int fd = open (*dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync (fd);
    int saved = errno;
    close (fd);
    errno = saved;
    return rc;
}

int
hm_fs_dirname (const char *path, char *buf, size_t len)
{
    const char *slash = strrchr (path, '/');
    size_t dlen = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (dlen >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy (buf, !slash ? "." : path, dlen);
    buf[dlen] = '\0';
    return 0;
}

int
hm_fs_fsync_parent (const char *path)
{
    char dir[4096];
    if (hm_fs_dirname (path, dir, sizeof dir) != 0)
        return -1;
    return hm_fs_fsync_dir (dir);
}

/* Makes one directory; EEXIST is fine when it is a directory. *created
   tells whether this call made it. */
static int
s_mkdir_one (const char *path, mode_t mode, int *created)
{
    *created = 0;
    if (mkdir (path, mode) == 0) {
        *created = 1;
        return 0;
    }
    if (errno != EEXIST)
        return -1;
    struct stat st;
    if (stat (path, &st) != 0)
        return -1;
    if (!S_ISDIR (st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int
hm_fs_mkdirs (const char *path, mode_t mode, char *errbuf, size_t errlen)
{
    char buf[4096];
    size_t len = strlen (path);
    if (len == 0)
        return 0;
    if (len >= sizeof buf) {
        snprintf (errbuf, errlen, "mkdir %.64s...: path too long", path);
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy (buf, path, len + 1);
    /* Walk the components left to right; each '/' ends a prefix to make.
       The leading '/' of an absolute path is not a component. */
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        if (buf[i - 1] == '/')
            continue; /* "a//b" */
        char saved = buf[i];
        buf[i] = '\0';
        int created = 0;
        if (s_mkdir_one (buf, mode, &created) != 0) {
            int err = errno;
            snprintf (errbuf, errlen, "mkdir %s: %s", buf, strerror (err));
            errno = err;
            return -1;
        }
        if (created) {
            /* The new name lives in the parent directory: make it durable. */
            if (hm_fs_fsync_parent (buf) != 0) {
                int err = errno;
                snprintf (errbuf, errlen, "fsync parent of %s: %s", buf, strerror (err));
                errno = err;
                return -1;
            }
        }
        buf[i] = saved;
    }
    return 0;
}
