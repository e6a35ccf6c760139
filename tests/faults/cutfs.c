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
    is never bounded: this is for tests of a few hundred MB at most. */
#define FUSE_USE_VERSION 35
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strchrnul, asprintf, RENAME_NOREPLACE */
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

#define S_PAGE 4096u
#define S_CTL "/.cutfs"
#define S_NAME_MAX 255

typedef struct node node_t;

typedef struct {
    unsigned char *data;
    size_t len;
    size_t cap;
} s_bytes_t;

typedef struct {
    char *name;
    node_t *node;
} s_entry_t;

typedef struct {
    s_entry_t *v;
    size_t n;
    size_t cap;
} s_entries_t;

struct node {
    mode_t mode;
    uint64_t ino;
    struct timespec mtime;
    s_bytes_t live, durable;        /* a file's data */
    size_t dirty_lo, dirty_hi;      /* live bytes outside [lo, hi) equal durable ones */
    s_entries_t ents, durable_ents; /* a directory's names */
    unsigned opened;                /* open handles: never freed while open */
    uint64_t walk;                  /* the cut that last reached it */
    node_t *all_next;               /* every node, for the cut's sweep */
};

/* Counters of the last cut, what reading /.cutfs prints. */
typedef struct {
    uint64_t bytes_dropped; /* dirty file bytes that kept their old value */
    uint64_t pages_kept;    /* dirty pages that kept their new value (random) */
    uint64_t dirs_reverted; /* directories whose unsynced names were undone */
    uint64_t names_lost;    /* names that existed live and not after the cut */
    uint64_t files;         /* files after the cut */
    bool random;            /* the cut's mode */
} s_cut_stats_t;

static struct {
    node_t *root;
    node_t *all;
    uint64_t next_ino;
    uint64_t cuts;
    uint64_t fsyncs, dirsyncs;
    s_cut_stats_t last;
    char report[512];
    uint64_t rand_state;
    unsigned sync_us; /* each fsync sleeps this long */
    bool off;         /* "off" until the cut: every operation fails */
    uint64_t arm;     /* "off after N writes": writes left, 0 = not armed */
} S;

/* xorshift64*: reproducible from the seed, no global libc state. */
static uint64_t
s_rand (void)
{
    uint64_t x = S.rand_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    S.rand_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static bool
s_coin (void)
{
    return (s_rand () >> 33) & 1;
}

static void
s_touch (node_t *n)
{
    clock_gettime (CLOCK_REALTIME, &n->mtime);
}

/* --- bytes ------------------------------------------------------------------- */

static int
s_bytes_resize (s_bytes_t *b, size_t len)
{
    if (len > b->cap) {
        size_t cap = b->cap ? b->cap : S_PAGE;
        while (cap < len)
            cap *= 2;
        unsigned char *d = realloc (b->data, cap);
        if (!d)
            return -ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    if (len > b->len)
        memset (b->data + b->len, 0, len - b->len);
    b->len = len;
    return 0;
}

/* --- nodes -------------------------------------------------------------------- */

static node_t *
s_node_new (mode_t mode)
{
    node_t *n = calloc (1, sizeof *n);
    if (!n)
        return NULL;
    n->mode = mode;
    n->ino = ++S.next_ino;
    s_touch (n);
    n->all_next = S.all;
    S.all = n;
    return n;
}

static bool
s_is_dir (const node_t *n)
{
    return S_ISDIR (n->mode);
}

static void
s_mark_dirty (node_t *n, size_t lo, size_t hi)
{
    if (n->dirty_hi == 0) {
        n->dirty_lo = lo;
        n->dirty_hi = hi;
        return;
    }
    if (lo < n->dirty_lo)
        n->dirty_lo = lo;
    if (hi > n->dirty_hi)
        n->dirty_hi = hi;
}

static s_entry_t *
s_find (s_entries_t *es, const char *name, size_t len)
{
    for (size_t i = 0; i < es->n; i++)
        if (strlen (es->v[i].name) == len && memcmp (es->v[i].name, name, len) == 0)
            return &es->v[i];
    return NULL;
}

static int
s_add (s_entries_t *es, const char *name, node_t *node)
{
    if (es->n == es->cap) {
        size_t cap = es->cap ? es->cap * 2 : 8;
        s_entry_t *v = realloc (es->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        es->v = v;
        es->cap = cap;
    }
    char *copy = strdup (name);
    if (!copy)
        return -ENOMEM;
    es->v[es->n++] = (s_entry_t){copy, node};
    return 0;
}

static void
s_remove (s_entries_t *es, s_entry_t *e)
{
    free (e->name);
    *e = es->v[--es->n];
}

static void
s_entries_clear (s_entries_t *es)
{
    for (size_t i = 0; i < es->n; i++)
        free (es->v[i].name);
    es->n = 0;
}

static int
s_entries_copy (s_entries_t *dst, const s_entries_t *src)
{
    s_entries_clear (dst);
    for (size_t i = 0; i < src->n; i++)
        if (s_add (dst, src->v[i].name, src->v[i].node) != 0)
            return -ENOMEM;
    return 0;
}

/* Resolves a path through the live names. */
static node_t *
s_lookup (const char *path)
{
    node_t *n = S.root;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *end = strchrnul (p, '/');
        if (!s_is_dir (n))
            return NULL;
        s_entry_t *e = s_find (&n->ents, p, (size_t)(end - p));
        if (!e)
            return NULL;
        n = e->node;
        p = end;
    }
    return n;
}

/* The parent directory of path and the last component's name. */
static int
s_parent (const char *path, node_t **dir, const char **name)
{
    const char *slash = strrchr (path, '/');
    if (!slash || !slash[1])
        return -EINVAL;
    if (strlen (slash + 1) > S_NAME_MAX)
        return -ENAMETOOLONG;
    char *prefix = strndup (path, (size_t)(slash - path));
    if (!prefix)
        return -ENOMEM;
    node_t *d = s_lookup (prefix);
    free (prefix);
    if (!d)
        return -ENOENT;
    if (!s_is_dir (d))
        return -ENOTDIR;
    *dir = d;
    *name = slash + 1;
    return 0;
}

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
    return path ? s_lookup (path) : NULL;
}

/* --- the cut -------------------------------------------------------------------- */

/* A file's image after the cut, into live and durable alike. */
static int
s_cut_file (node_t *n, bool random)
{
    s_bytes_t *live = &n->live, *dur = &n->durable;
    size_t lo = n->dirty_lo, hi = n->dirty_hi;
    size_t len = dur->len;
    if (hi > 0 && random) {
        /* Each dirty page keeps its new bytes or its old ones; a grown
           file ends after the last page that kept new bytes. */
        size_t end_new = 0;
        for (size_t p = lo / S_PAGE * S_PAGE; p < hi && p < live->len; p += S_PAGE) {
            size_t e = p + S_PAGE < live->len ? p + S_PAGE : live->len;
            size_t from = p < lo ? lo : p, to = e < hi ? e : hi;
            if (!s_coin ()) {
                S.last.bytes_dropped += to - from;
                continue;
            }
            S.last.pages_kept++;
            if (to > dur->len && s_bytes_resize (dur, to) != 0)
                return -ENOMEM;
            memcpy (dur->data + from, live->data + from, to - from);
            if (to > end_new)
                end_new = to;
        }
        len = end_new > len ? end_new : len;
        if (live->len < len && s_coin ())
            len = live->len; /* a shrinking truncate that landed */
    }
    else if (hi > 0) {
        size_t to = hi < live->len ? hi : live->len;
        if (to > lo)
            S.last.bytes_dropped += to - lo;
    }
    if (s_bytes_resize (dur, len) != 0 || s_bytes_resize (live, len) != 0)
        return -ENOMEM;
    if (len)
        memcpy (live->data, dur->data, len);
    n->dirty_lo = n->dirty_hi = 0;
    return 0;
}

static node_t *s_clone (const node_t *src);

/* Settles dir's names (durable, or live when random says they landed)
   and, below it, every directory and file reached. */
static int
s_cut_dir (node_t *dir, const char *path, bool random)
{
    s_entries_t *keep = &dir->durable_ents;
    if (random && s_coin ())
        keep = &dir->ents;
    for (size_t i = 0; i < dir->ents.n; i++)
        if (!s_find (keep, dir->ents.v[i].name, strlen (dir->ents.v[i].name))) {
            S.last.names_lost++;
            fprintf (stderr, "cutfs: cut: %s/%s lost\n", path, dir->ents.v[i].name);
        }
    bool changed = keep->n != dir->ents.n;
    for (size_t i = 0; !changed && i < keep->n; i++) {
        s_entry_t *e = s_find (&dir->ents, keep->v[i].name, strlen (keep->v[i].name));
        changed = !e || e->node != keep->v[i].node;
    }
    if (changed && keep == &dir->durable_ents)
        S.last.dirs_reverted++;
    if (keep == &dir->durable_ents ? s_entries_copy (&dir->ents, keep) != 0
                                   : s_entries_copy (&dir->durable_ents, keep) != 0)
        return -ENOMEM;
    for (size_t i = 0; i < dir->ents.n; i++) {
        node_t *child = dir->ents.v[i].node;
        if (child->walk == S.cuts) {
            /* Reached twice (a rename between two directories that settled
               differently): the second name gets its own copy. */
            if (!(child = s_clone (child)))
                return -ENOMEM;
            dir->ents.v[i].node = dir->durable_ents.v[i].node = child;
        }
        child->walk = S.cuts;
        int rc;
        if (s_is_dir (child)) {
            char *sub;
            if (asprintf (&sub, "%s/%s", path, dir->ents.v[i].name) < 0)
                return -ENOMEM;
            rc = s_cut_dir (child, sub, random);
            free (sub);
        }
        else
            rc = s_cut_file (child, random);
        if (rc != 0)
            return rc;
        if (!s_is_dir (child))
            S.last.files++;
    }
    return 0;
}

static node_t *
s_clone (const node_t *src)
{
    node_t *n = s_node_new (src->mode);
    if (!n)
        return NULL;
    if (s_bytes_resize (&n->live, src->live.len) != 0 ||
        s_bytes_resize (&n->durable, src->durable.len) != 0 ||
        s_entries_copy (&n->ents, &src->ents) != 0 ||
        s_entries_copy (&n->durable_ents, &src->durable_ents) != 0)
        return NULL;
    if (src->live.len)
        memcpy (n->live.data, src->live.data, src->live.len);
    if (src->durable.len)
        memcpy (n->durable.data, src->durable.data, src->durable.len);
    n->dirty_lo = src->dirty_lo;
    n->dirty_hi = src->dirty_hi;
    return n;
}

static void
s_node_free (node_t *n)
{
    free (n->live.data);
    free (n->durable.data);
    s_entries_clear (&n->ents);
    s_entries_clear (&n->durable_ents);
    free (n->ents.v);
    free (n->durable_ents.v);
    free (n);
}

/* Frees every node the cut did not reach and nobody holds open. */
static void
s_sweep (void)
{
    node_t **link = &S.all;
    while (*link) {
        node_t *n = *link;
        if (n->walk == S.cuts || n->opened || n == S.root) {
            link = &n->all_next;
            continue;
        }
        *link = n->all_next;
        s_node_free (n);
    }
}

/* What reading /.cutfs gives: the power state, then the last cut's counters. */
static void
s_report (void)
{
    snprintf (S.report, sizeof S.report,
              "off %d\ncuts %" PRIu64 "\nmode %s\nbytes_dropped %" PRIu64 "\npages_kept %" PRIu64
              "\ndirs_reverted %" PRIu64 "\nnames_lost %" PRIu64 "\nfiles %" PRIu64
              "\nfsyncs %" PRIu64 "\ndirsyncs %" PRIu64 "\n",
              S.off, S.cuts, S.last.random ? "random" : "drop", S.last.bytes_dropped,
              S.last.pages_kept, S.last.dirs_reverted, S.last.names_lost, S.last.files, S.fsyncs,
              S.dirsyncs);
}

static int
s_cut (bool random, uint64_t seed)
{
    memset (&S.last, 0, sizeof S.last);
    S.off = false;
    S.rand_state = seed ? seed : 0x9E3779B97F4A7C15ULL;
    S.cuts++;
    S.root->walk = S.cuts;
    int rc = s_cut_dir (S.root, "", random);
    s_sweep ();
    S.last.random = random;
    s_report ();
    fprintf (stderr, "cutfs: %s", S.report);
    return rc;
}

static int
s_ctl_command (const char *buf, size_t size)
{
    char cmd[64] = {0};
    memcpy (cmd, buf, size < sizeof cmd - 1 ? size : sizeof cmd - 1);
    uint64_t seed = 0;
    if (strcmp (cmd, "off") == 0) {
        S.off = true;
        fprintf (stderr, "cutfs: power off\n");
        return 0;
    }
    if (sscanf (cmd, "off after %" SCNu64, &S.arm) == 1)
        return 0;
    if (strncmp (cmd, "cut drop", 8) == 0)
        return s_cut (false, 0);
    if (sscanf (cmd, "cut random %" SCNu64, &seed) == 1)
        return s_cut (true, seed);
    return -EINVAL;
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
    if (!S.sync_us)
        return 0;
    uint64_t cuts = S.cuts;
    pthread_mutex_unlock (&s_lock);
    usleep (S.sync_us);
    pthread_mutex_lock (&s_lock);
    return S.off || S.cuts != cuts ? -EIO : 0;
}

/* True while the power is off: everything but /.cutfs fails with EIO, so
   nothing a dying process does after the cut's instant can land. */
static bool
s_dark (const char *path, struct fuse_file_info *fi)
{
    return S.off && !s_is_ctl (path) && !(fi && fi->fh == (uint64_t)(uintptr_t)&s_ctl);
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
    while (S.all) {
        node_t *n = S.all;
        S.all = n->all_next;
        s_node_free (n);
    }
    S.root = NULL;
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
        s_report ();
        st->st_size = (off_t)strlen (S.report);
        return 0;
    }
    st->st_mode = n->mode;
    st->st_ino = n->ino;
    st->st_nlink = s_is_dir (n) ? 2 : 1;
    st->st_size = s_is_dir (n) ? 4096 : (off_t)n->live.len;
    st->st_blksize = S_PAGE;
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
    int rc = s_parent (path, &dir, &name);
    if (rc != 0)
        return rc;
    if (s_find (&dir->ents, name, strlen (name)))
        return -EEXIST;
    node_t *n = s_node_new (mode);
    if (!n)
        return -ENOMEM;
    if ((rc = s_add (&dir->ents, name, n)) != 0)
        return rc;
    s_touch (dir);
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
    int rc = s_parent (path, &dir, &name);
    if (rc != 0)
        return rc;
    s_entry_t *e = s_find (&dir->ents, name, strlen (name));
    if (!e)
        return -ENOENT;
    if (want_dir && !s_is_dir (e->node))
        return -ENOTDIR;
    if (!want_dir && s_is_dir (e->node))
        return -EISDIR;
    if (want_dir && e->node->ents.n)
        return -ENOTEMPTY;
    s_remove (&dir->ents, e);
    s_touch (dir);
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
    int rc = s_parent (from, &fdir, &fname);
    if (rc == 0)
        rc = s_parent (to, &tdir, &tname);
    if (rc != 0)
        return rc;
    s_entry_t *src = s_find (&fdir->ents, fname, strlen (fname));
    if (!src)
        return -ENOENT;
    node_t *moving = src->node;
    s_entry_t *dst = s_find (&tdir->ents, tname, strlen (tname));
    if (dst) {
        if (dst->node == moving)
            return 0;
        if (flags & RENAME_NOREPLACE)
            return -EEXIST;
        if (s_is_dir (dst->node) != s_is_dir (moving))
            return s_is_dir (dst->node) ? -EISDIR : -ENOTDIR;
        if (s_is_dir (dst->node) && dst->node->ents.n)
            return -ENOTEMPTY;
        dst->node = moving;
    }
    else if ((rc = s_add (&tdir->ents, tname, moving)) != 0)
        return rc;
    /* s_add may have moved fdir's array when fdir == tdir: find src again. */
    src = s_find (&fdir->ents, fname, strlen (fname));
    s_remove (&fdir->ents, src);
    s_touch (fdir);
    s_touch (tdir);
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
    int rc = s_bytes_resize (&n->live, len);
    if (rc != 0)
        return rc;
    if (len > old)
        s_mark_dirty (n, old, len);
    else if (len < old)
        s_mark_dirty (n, len, len + 1); /* the size differs from durable */
    s_touch (n);
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
    if (s_is_dir (n))
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
    node_t *n = s_lookup (path);
    if (!n)
        return -ENOENT;
    if (s_is_dir (n))
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
            s_report ();
        size_t len = strlen (S.report);
        if (off < 0 || (size_t)off >= len)
            return 0;
        size_t k = len - (size_t)off < size ? len - (size_t)off : size;
        memcpy (buf, S.report + off, k);
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
        rc = s_ctl_command (buf, size);
        return rc != 0 ? rc : (int)size;
    }
    if (off < 0)
        return -EINVAL;
    size_t end = (size_t)off + size;
    size_t old = n->live.len;
    if (end > old) {
        rc = s_bytes_resize (&n->live, end);
        if (rc != 0)
            return rc;
    }
    memcpy (n->live.data + off, buf, size);
    s_mark_dirty (n, (size_t)off < old ? (size_t)off : old, end);
    s_touch (n);
    if (S.arm && --S.arm == 0) {
        /* The power goes right after this write: its fsync cannot come. */
        S.off = true;
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
    if (n == &s_ctl || s_is_dir (n))
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
    st->f_bsize = st->f_frsize = S_PAGE;
    st->f_blocks = 16u << 20; /* 64 GiB, all free: memory is the limit */
    st->f_bfree = st->f_bavail = st->f_blocks;
    st->f_files = st->f_ffree = st->f_favail = 1u << 20;
    st->f_namemax = S_NAME_MAX;
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
    S.fsyncs++;
    if (s_is_dir (n))
        return 0;
    if ((rc = s_flush_wait ()) != 0)
        return rc;
    s_bytes_t *live = &n->live, *dur = &n->durable;
    if ((rc = s_bytes_resize (dur, live->len)) != 0)
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
    node_t *n = s_lookup (path);
    if (!n)
        return -ENOENT;
    if (!s_is_dir (n))
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
    if (!s_is_dir (n))
        return -ENOTDIR;
    S.dirsyncs++;
    rc = s_flush_wait ();
    return rc != 0 ? rc : s_entries_copy (&n->durable_ents, &n->ents);
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
        s_touch (n);
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
        S.sync_us = (unsigned)strtoul (argv[2], &end, 10);
    if (argc < 2 || argc > 3 || argv[1][0] == '-' || (end && (*end || S.sync_us > 1000000))) {
        fprintf (stderr, "usage: cutfs MOUNTPOINT [SYNC_US]\n"
                         "  An in-memory filesystem that simulates power cuts (write\n"
                         "  \"cut drop\" or \"cut random SEED\" to MOUNTPOINT/.cutfs).\n"
                         "  SYNC_US: microseconds every fsync takes (0..1000000, default 0).\n");
        return 2;
    }
    S.root = s_node_new (S_IFDIR | 0755);
    if (!S.root)
        return 1;
    char *args[] = {argv[0], "-f", "-o", "fsname=cutfs,subtype=cutfs", argv[1], NULL};
    return fuse_main (5, args, &s_ops, NULL);
}
