/*  fsutil: the few file system steps every durable write needs (the
    router's log and route state, the sinks' files and dead letters): mkdir -p
    that makes new directories durable, write() until done, fsync of a
    directory (so a created or renamed name survives a power cut). */
#ifndef HM_FSUTIL_H
#define HM_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p path; each directory it creates is made durable by an fsync of
   its parent. 0, or -1 with "mkdir DIR: REASON" in errbuf (errno kept). */
int hm_fs_mkdirs (const char *path, mode_t mode, char *errbuf, size_t errlen);
/* write() until len bytes are written; EINTR is retried. 0 or -1 (errno). */
int hm_fs_write_all (int fd, const void *data, size_t len);
/* fsync of directory dir ("" means "."). 0 or -1 (errno). */
int hm_fs_fsync_dir (const char *dir);
/* The directory that holds path into buf: "." for a bare name, "/" for a
   name in the root. 0, or -1 with errno ENAMETOOLONG. */
int hm_fs_dirname (const char *path, char *buf, size_t len);
/* fsync of the directory that holds path, so that its name (just created
   or renamed) survives a power cut. 0 or -1 (errno). */
int hm_fs_fsync_parent (const char *path);

#endif
