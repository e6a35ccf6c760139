/*  cutfs: an in-memory FUSE filesystem that can simulate a power cut, for
    the fault suite's power-cut scenario (tests/faults/README.md).

    Usage: cutfs MOUNTPOINT [SYNC_US]
    Foreground; SIGTERM unmounts. SYNC_US: how long every
    fsync takes (a disk's flush; default 0). With a real duration a cut
    mostly lands while something waits for its sync, as it would on a
    disk, instead of in the rare instant between a write and its fsync.

    Every file keeps two images: the live one that reads and writes see,
    and the durable one, what the disk would hold after a power cut. Every
    directory keeps two entry lists the same way. Only these move data from
    live to durable:
      - fsync/fdatasync of a file: its data and size;
      - fsync of a directory: its entries (names created, renamed, removed).
    That is the POSIX minimum a program may count on (ext4 often persists
    more, other filesystems less); a program that is right here is right on
    any of them.

    The cut: write "off" to /.cutfs (the instant the power goes: from then
    on every operation fails with EIO, an fsync in flight included, so
    nothing can become durable any more) or "off after N" (the power goes
    right after the Nth write from now, so the cut lands where a write
    waits for its fsync, not where a program idles), kill every process
    using the mount, then write "cut drop" or "cut random SEED". "drop": everything not made durable
   is lost. "random": what was not made durable may still have landed, piecemeal, as on a real disk:
   each dirty 4 KiB page of a file independently keeps its new or its old bytes, a grown file ends
   after some kept page or at its durable size (the bytes between reading as zeros when not kept),
    and each directory independently shows its durable or its live entries.
    Either way the live state then becomes that image, and the mount goes
    on serving it as a restarted machine would. Reading /.cutfs gives the
    power state ("off 0|1") and the counters of the last cut (what it threw
    away), so a test can see that the cut did bite.

    Not modelled: links, symlinks, special files, xattrs (refused). Memory
    is never bounded: this is for tests of a few hundred MB at most.

    This file: the FUSE operations, each under one lock, and main. The
    model (nodes, images, lookup) is cutfs_model.c, the cut cutfs_cut.c. */
#define FUSE_USE_VERSION 35
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RENAME_NOREPLACE */
#endif

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cutfs_cut.h"
#include "cutfs_model.h"

#define S_CTL "/.cutfs"

static node_t s_ctl; /* /.cutfs: outside the tree, never cut */

static bool
s_is_ctl (const char *path)
{
    return path && strcmp (path, S_CTL) == 0;
}

/* The node of an open handle if there is one (with nullpath_ok the path
   may be NULL then), else of the path. */
static node_t *
s_node (const char *path, struct fuse_file_info *fi)
{
    if (fi && fi->fh)
        return (node_t *)(uintptr_t)fi->fh;
    if (s_is_ctl (path))
        return &s_ctl;
    return path ? cutfs_lookup (path) : NULL;
}

/* --- operations -------------------------------------------------------------------- */

/* Every operation runs under this lock (the locked_ wrappers below), so
   the model needs no finer locking; the loop is multi-threaded only so
   that an "off" can come in while a sync waits in s_flush_wait. */
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;

/* The disk's flush: sync_us without the lock. If the power went meanwhile
   the sync fails and persists nothing (and its node may be gone). */
static int
s_flush_wait (void)
{
    if (!cutfs_state.sync_us)
        return 0;
    uint64_t cuts = cutfs_state.cuts;
    pthread_mutex_unlock (&s_lock);
    usleep (cutfs_state.sync_us);
    pthread_mutex_lock (&s_lock);
    return cutfs_state.off || cutfs_state.cuts != cuts ? -EIO : 0;
}

/* True while the power is off: everything but /.cutfs fails with EIO, so
   nothing a dying process does after the cut's instant can land. */
static bool
s_dark (const char *path, struct fuse_file_info *fi)
{
    return cutfs_state.off && !s_is_ctl (path) && !(fi && fi->fh == (uint64_t)(uintptr_t)&s_ctl);
}

/* The start of every operation on an existing node: EIO while the power
   is off, ENOENT for a name that is not there; else 0 with *n set. */
static int
s_target (const char *path, struct fuse_file_info *fi, node_t **n)
{
    if (s_dark (path, fi))
        return -EIO;
    *n = s_node (path, fi);
    return *n ? 0 : -ENOENT;
}

static void *
op_init (struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    (void)conn;
    /* Nothing cached by the kernel: after a cut, every read, attribute and
       name must come from the new image. */
    cfg->direct_io = 1;
    cfg->kernel_cache = 0;
    cfg->entry_timeout = 0;
    cfg->attr_timeout = 0;
    cfg->negative_timeout = 0;
    cfg->use_ino = 1;
    /* Unlink really unlinks (no .fuse_hidden files); an open handle goes
       on through fi->fh without a path. */
    cfg->hard_remove = 1;
    cfg->nullpath_ok = 1;
    return NULL;
}

/* At unmount: everything goes (the sanitizer build checks for leaks). */
static void
op_destroy (void *private_data)
{
    (void)private_data;
    while (cutfs_state.all) {
        node_t *n = cutfs_state.all;
        cutfs_state.all = n->all_next;
        cutfs_node_free (n);
    }
    cutfs_state.root = NULL;
}

static int
op_getattr (const char *path, struct stat *st, struct fuse_file_info *fi)
{
    node_t *n;
    int rc = s_target (path, fi, &n);
    if (rc != 0)
        return rc;
    memset (st, 0, sizeof *st);
    if (n == &s_ctl) {
        st->st_mode = S_IFREG | 0600;
        st->st_nlink = 1;
        cutfs_report ();
        st->st_size = (off_t)strlen (cutfs_state.report);
        return 0;
    }
    st->st_mode = n->mode;
    st->st_ino = n->ino;
    st->st_nlink = cutfs_is_dir (n) ? 2 : 1;
    st->st_size = cutfs_is_dir (n) ? 4096 : (off_t)n->live.len;
    st->st_blksize = CUTFS_PAGE;
    st->st_blocks = (st->st_size + 511) / 512;
    st->st_mtim = st->st_ctim = st->st_atim = n->mtime;
    st->st_uid = getuid ();
    st->st_gid = getgid ();
    return 0;
}

static int
s_make (const char *path, mode_t mode, node_t **out)
{
    node_t *dir;
    const char *name;
    int rc = cutfs_parent (path, &dir, &name);
    if (rc != 0)
        return rc;
    if (cutfs_find (&dir->ents, name, strlen (name)))
        return -EEXIST;
    node_t *n = cutfs_node_new (mode);
    if (!n)
        return -ENOMEM;
    if ((rc = cutfs_add (&dir->ents, name, n)) != 0)
        return rc;
    cutfs_touch (dir);
    *out = n;
    return 0;
}

static int
op_mkdir (const char *path, mode_t mode)
{
    if (s_dark (path, NULL))
        return -EIO;
    node_t *n;
    return s_make (path, S_IFDIR | (mode & 07777), &n);
}

static int
op_mknod (const char *path, mode_t mode, dev_t dev)
{
    if (s_dark (path, NULL))
        return -EIO;
    (void)dev;
    if (!S_ISREG (mode))
        return -EPERM;
    node_t *n;
    return s_make (path, mode, &n);
}

static int
op_create (const char *path, mode_t mode, struct fuse_file_info *fi)
{
    if (s_dark (path, fi))
        return -EIO;
    if (s_is_ctl (path))
        return -EEXIST;
    node_t *n;
    int rc = s_make (path, S_IFREG | (mode & 07777), &n);
    if (rc != 0)
        return rc;
    n->opened++;
    fi->fh = (uint64_t)(uintptr_t)n;
    return 0;
}

static int
s_unlink_any (const char *path, bool want_dir)
{
    node_t *dir;
    const char *name;
    int rc = cutfs_parent (path, &dir, &name);
    if (rc != 0)
        return rc;
    cutfs_entry_t *e = cutfs_find (&dir->ents, name, strlen (name));
    if (!e)
        return -ENOENT;
    if (want_dir && !cutfs_is_dir (e->node))
        return -ENOTDIR;
    if (!want_dir && cutfs_is_dir (e->node))
        return -EISDIR;
    if (want_dir && e->node->ents.n)
        return -ENOTEMPTY;
    cutfs_remove (&dir->ents, e);
    cutfs_touch (dir);
    return 0;
}

static int
op_unlink (const char *path)
{
    if (s_dark (path, NULL))
        return -EIO;
    return s_unlink_any (path, false);
}

static int
op_rmdir (const char *path)
{
    if (s_dark (path, NULL))
        return -EIO;
    return s_unlink_any (path, true);
}

static int
op_rename (const char *from, const char *to, unsigned int flags)
{
    if (s_dark (from, NULL))
        return -EIO;
    if (flags & ~(unsigned)RENAME_NOREPLACE)
        return -EINVAL;
    node_t *fdir, *tdir;
    const char *fname, *tname;
    int rc = cutfs_parent (from, &fdir, &fname);
    if (rc == 0)
        rc = cutfs_parent (to, &tdir, &tname);
    if (rc != 0)
        return rc;
    cutfs_entry_t *src = cutfs_find (&fdir->ents, fname, strlen (fname));
    if (!src)
        return -ENOENT;
    node_t *moving = src->node;
    cutfs_entry_t *dst = cutfs_find (&tdir->ents, tname, strlen (tname));
    if (dst) {
        if (dst->node == moving)
            return 0;
        if (flags & RENAME_NOREPLACE)
            return -EEXIST;
        if (cutfs_is_dir (dst->node) != cutfs_is_dir (moving))
            return cutfs_is_dir (dst->node) ? -EISDIR : -ENOTDIR;
        if (cutfs_is_dir (dst->node) && dst->node->ents.n)
            return -ENOTEMPTY;
        dst->node = moving;
    }
    else if ((rc = cutfs_add (&tdir->ents, tname, moving)) != 0)
        return rc;
    /* cutfs_add may have moved fdir's array when fdir == tdir: find src again. */
    src = cutfs_find (&fdir->ents, fname, strlen (fname));
    cutfs_remove (&fdir->ents, src);
    cutfs_touch (fdir);
    cutfs_touch (tdir);
    return 0;
}

static int
op_chmod (const char *path, mode_t mode, struct fuse_file_info *fi)
{
    node_t *n;
    int rc = s_target (path, fi, &n);
    if (rc != 0)
        return rc;
    if (n == &s_ctl)
        return -EPERM;
    n->mode = (n->mode & S_IFMT) | (mode & 07777);
    return 0;
}

static int
op_chown (const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    (void)uid;
    (void)gid;
    node_t *n;
    int rc = s_target (path, fi, &n);
    return rc != 0 ? rc : n == &s_ctl ? -EPERM : 0;
}

static int
s_set_size (node_t *n, size_t len)
{
    size_t old = n->live.len;
    int rc = cutfs_bytes_resize (&n->live, len);
    if (rc != 0)
        return rc;
    if (len > old)
        cutfs_mark_dirty (n, old, len);
    else if (len < old)
        cutfs_mark_dirty (n, len, len + 1); /* the size differs from durable */
    cutfs_touch (n);
    return 0;
}

static int
op_truncate (const char *path, off_t size, struct fuse_file_info *fi)
{
    node_t *n;
    int rc = s_target (path, fi, &n);
    if (rc != 0)
        return rc;
    if (n == &s_ctl)
        return 0;
    if (cutfs_is_dir (n))
        return -EISDIR;
    if (size < 0)
        return -EINVAL;
    return s_set_size (n, (size_t)size);
}

static int
op_open (const char *path, struct fuse_file_info *fi)
{
    if (s_dark (path, fi))
        return -EIO;
    if (s_is_ctl (path)) {
        fi->fh = (uint64_t)(uintptr_t)&s_ctl;
        return 0;
    }
    node_t *n = cutfs_lookup (path);
    if (!n)
        return -ENOENT;
    if (cutfs_is_dir (n))
        return -EISDIR;
    if (fi->flags & O_TRUNC) {
        int rc = s_set_size (n, 0);
        if (rc != 0)
            return rc;
    }
    n->opened++;
    fi->fh = (uint64_t)(uintptr_t)n;
    return 0;
}

static int
op_read (const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    node_t *n;
    int rc = s_target (path, fi, &n);
    if (rc != 0)
        return rc;
    if (n == &s_ctl) {
        if (off == 0)
            cutfs_report ();
        size_t len = strlen (cutfs_state.report);
        if (off < 0 || (size_t)off >= len)
            return 0;
        size_t k = len - (size_t)off < size ? len - (size_t)off : size;
        memcpy (buf, cutfs_state.report + off, k);
        return (int)k;
    }
    if (off < 0 || (size_t)off >= n->live.len)
        return 0;
    size_t avail = n->live.len - (size_t)off;
    size_t len = size < avail ? size : avail;
    memcpy (buf, n->live.data + off, len);
    return (int)len;
}

static int
op_write (const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    node_t *n;
    int rc = s_target (path, fi, &n);
    if (rc != 0)
        return rc;
    if (n == &s_ctl) {
        rc = cutfs_ctl_command (buf, size);
        return rc != 0 ? rc : (int)size;
    }
    if (off < 0)
        return -EINVAL;
    size_t end = (size_t)off + size;
    size_t old = n->live.len;
    if (end > old) {
        rc = cutfs_bytes_resize (&n->live, end);
        if (rc != 0)
            return rc;
    }
    memcpy (n->live.data + off, buf, size);
    cutfs_mark_dirty (n, (size_t)off < old ? (size_t)off : old, end);
    cutfs_touch (n);
    if (cutfs_state.arm && --cutfs_state.arm == 0) {
        /* The power goes right after this write: its fsync cannot come. */
        cutfs_state.off = true;
        fprintf (stderr, "cutfs: power off after a write\n");
    }
    return (int)size;
}

static int
op_fallocate (const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
    node_t *n;
    int rc = s_target (path, fi, &n);
    if (rc != 0)
        return rc;
    if (mode != 0)
        return -EOPNOTSUPP;
    if (n == &s_ctl || cutfs_is_dir (n))
        return -EINVAL;
    if (off < 0 || len <= 0)
        return -EINVAL;
    size_t end = (size_t)off + (size_t)len;
    return end > n->live.len ? s_set_size (n, end) : 0;
}

static int
op_statfs (const char *path, struct statvfs *st)
{
    if (s_dark (path, NULL))
        return -EIO;
    (void)path;
    memset (st, 0, sizeof *st);
    st->f_bsize = st->f_frsize = CUTFS_PAGE;
    st->f_blocks = 16u << 20; /* 64 GiB, all free: memory is the limit */
    st->f_bfree = st->f_bavail = st->f_blocks;
    st->f_files = st->f_ffree = st->f_favail = 1u << 20;
    st->f_namemax = CUTFS_NAME_MAX;
    return 0;
}

static int
op_release (const char *path, struct fuse_file_info *fi)
{
    (void)path;
    node_t *n = (node_t *)(uintptr_t)fi->fh;
    if (n && n->opened)
        n->opened--;
    return 0;
}

static int
op_fsync (const char *path, int datasync, struct fuse_file_info *fi)
{
    node_t *n;
    int rc = s_target (path, fi, &n);
    if (rc != 0)
        return rc;
    (void)datasync; /* both persist data and size: all a file has here */
    if (n == &s_ctl)
        return 0;
    cutfs_state.fsyncs++;
    if (cutfs_is_dir (n))
        return 0;
    if ((rc = s_flush_wait ()) != 0)
        return rc;
    cutfs_bytes_t *live = &n->live, *dur = &n->durable;
    if ((rc = cutfs_bytes_resize (dur, live->len)) != 0)
        return rc;
    size_t hi = n->dirty_hi < live->len ? n->dirty_hi : live->len;
    if (hi > n->dirty_lo)
        memcpy (dur->data + n->dirty_lo, live->data + n->dirty_lo, hi - n->dirty_lo);
    n->dirty_lo = n->dirty_hi = 0;
    return 0;
}

static int
op_opendir (const char *path, struct fuse_file_info *fi)
{
    if (s_dark (path, fi))
        return -EIO;
    node_t *n = cutfs_lookup (path);
    if (!n)
        return -ENOENT;
    if (!cutfs_is_dir (n))
        return -ENOTDIR;
    n->opened++;
    fi->fh = (uint64_t)(uintptr_t)n;
    return 0;
}

static int
op_readdir (const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
            enum fuse_readdir_flags flags)
{
    node_t *n;
    int rc = s_target (path, fi, &n);
    if (rc != 0)
        return rc;
    (void)off;
    (void)flags;
    fill (buf, ".", NULL, 0, 0);
    fill (buf, "..", NULL, 0, 0);
    for (size_t i = 0; i < n->ents.n; i++) {
        struct stat st = {.st_ino = n->ents.v[i].node->ino, .st_mode = n->ents.v[i].node->mode};
        if (fill (buf, n->ents.v[i].name, &st, 0, 0))
            break;
    }
    return 0;
}

static int
op_fsyncdir (const char *path, int datasync, struct fuse_file_info *fi)
{
    node_t *n;
    int rc = s_target (path, fi, &n);
    if (rc != 0)
        return rc;
    (void)datasync;
    if (!cutfs_is_dir (n))
        return -ENOTDIR;
    cutfs_state.dirsyncs++;
    rc = s_flush_wait ();
    return rc != 0 ? rc : cutfs_entries_copy (&n->durable_ents, &n->ents);
}

static int
op_utimens (const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    node_t *n;
    int rc = s_target (path, fi, &n);
    if (rc != 0)
        return rc;
    if (n == &s_ctl)
        return 0;
    if (tv[1].tv_nsec == UTIME_NOW)
        cutfs_touch (n);
    else if (tv[1].tv_nsec != UTIME_OMIT)
        n->mtime = tv[1];
    return 0;
}

static int
op_access (const char *path, int mask)
{
    (void)mask;
    node_t *n;
    return s_target (path, NULL, &n);
}

static int
op_flush (const char *path, struct fuse_file_info *fi)
{
    (void)path;
    (void)fi;
    return 0;
}

/* The operations as FUSE calls them: each one alone, under s_lock. */
#define S_LOCKED(name, params, args)                                                               \
    static int locked_##name params                                                                \
    {                                                                                              \
        pthread_mutex_lock (&s_lock);                                                              \
        int rc = op_##name args;                                                                   \
        pthread_mutex_unlock (&s_lock);                                                            \
        return rc;                                                                                 \
    }

S_LOCKED (getattr, (const char *path, struct stat *st, struct fuse_file_info *fi), (path, st, fi))
S_LOCKED (mknod, (const char *path, mode_t mode, dev_t dev), (path, mode, dev))
S_LOCKED (mkdir, (const char *path, mode_t mode), (path, mode))
S_LOCKED (unlink, (const char *path), (path))
S_LOCKED (rmdir, (const char *path), (path))
S_LOCKED (rename, (const char *from, const char *to, unsigned int flags), (from, to, flags))
S_LOCKED (chmod, (const char *path, mode_t mode, struct fuse_file_info *fi), (path, mode, fi))
S_LOCKED (chown, (const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi),
          (path, uid, gid, fi))
S_LOCKED (truncate, (const char *path, off_t size, struct fuse_file_info *fi), (path, size, fi))
S_LOCKED (open, (const char *path, struct fuse_file_info *fi), (path, fi))
S_LOCKED (read, (const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi),
          (path, buf, size, off, fi))
S_LOCKED (write,
          (const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi),
          (path, buf, size, off, fi))
S_LOCKED (statfs, (const char *path, struct statvfs *st), (path, st))
S_LOCKED (flush, (const char *path, struct fuse_file_info *fi), (path, fi))
S_LOCKED (release, (const char *path, struct fuse_file_info *fi), (path, fi))
S_LOCKED (fsync, (const char *path, int datasync, struct fuse_file_info *fi), (path, datasync, fi))
S_LOCKED (opendir, (const char *path, struct fuse_file_info *fi), (path, fi))
S_LOCKED (readdir,
          (const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
           enum fuse_readdir_flags flags),
          (path, buf, fill, off, fi, flags))
S_LOCKED (fsyncdir, (const char *path, int datasync, struct fuse_file_info *fi),
          (path, datasync, fi))
S_LOCKED (access, (const char *path, int mask), (path, mask))
S_LOCKED (create, (const char *path, mode_t mode, struct fuse_file_info *fi), (path, mode, fi))
S_LOCKED (utimens, (const char *path, const struct timespec tv[2], struct fuse_file_info *fi),
          (path, tv, fi))
S_LOCKED (fallocate, (const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi),
          (path, mode, off, len, fi))

static const struct fuse_operations s_ops = {
    .init = op_init,
    .destroy = op_destroy,
    .getattr = locked_getattr,
    .mknod = locked_mknod,
    .mkdir = locked_mkdir,
    .unlink = locked_unlink,
    .rmdir = locked_rmdir,
    .rename = locked_rename,
    .chmod = locked_chmod,
    .chown = locked_chown,
    .truncate = locked_truncate,
    .open = locked_open,
    .read = locked_read,
    .write = locked_write,
    .statfs = locked_statfs,
    .flush = locked_flush,
    .release = locked_release,
    .fsync = locked_fsync,
    .opendir = locked_opendir,
    .readdir = locked_readdir,
    .releasedir = locked_release,
    .fsyncdir = locked_fsyncdir,
    .access = locked_access,
    .create = locked_create,
    .utimens = locked_utimens,
    .fallocate = locked_fallocate,
};

int
main (int argc, char **argv)
{
    char *end = NULL;
    if (argc == 3)
        cutfs_state.sync_us = (unsigned)strtoul (argv[2], &end, 10);
    if (argc < 2 || argc > 3 || argv[1][0] == '-' ||
        (end && (*end || cutfs_state.sync_us > 1000000))) {
        fprintf (stderr, "usage: cutfs MOUNTPOINT [SYNC_US]\n"
                         "  An in-memory filesystem that simulates power cuts (write\n"
                         "  \"cut drop\" or \"cut random SEED\" to MOUNTPOINT/.cutfs).\n"
                         "  SYNC_US: microseconds every fsync takes (0..1000000, default 0).\n");
        return 2;
    }
    cutfs_state.root = cutfs_node_new (S_IFDIR | 0755);
    if (!cutfs_state.root)
        return 1;
    char *args[] = {argv[0], "-f", "-o", "fsname=cutfs,subtype=cutfs", argv[1], NULL};
    return fuse_main (5, args, &s_ops, NULL);
}
