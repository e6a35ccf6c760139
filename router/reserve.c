/*  reserve: see reserve.h. */
#include "reserve.h"

#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int
reserve_make (const char *path)
{
    struct stat st;
    if (stat (path, &st) == 0 && st.st_size >= (off_t)RESERVE_BYTES &&
        st.st_blocks * 512 >= (off_t)RESERVE_BYTES)
        return 0;
    int fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    /* posix_fallocate allocates the blocks (it writes zeros itself where
       the filesystem cannot), so the room is really taken. */
    int err = posix_fallocate (fd, 0, RESERVE_BYTES);
    if (err == 0 && fsync (fd) != 0)
        err = errno;
    close (fd);
    if (err == 0 && hm_fs_fsync_parent (path) != 0)
        err = errno;
    if (err != 0) {
        unlink (path);
        errno = err;
        return -1;
    }
    return 0;
}

bool
reserve_release (const char *path)
{
    return unlink (path) == 0;
}
