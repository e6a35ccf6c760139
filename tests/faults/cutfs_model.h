/*  cutfs_model: cutfs's in-memory filesystem (see cutfs.c): nodes with a
    live and a durable image (a file's bytes, a directory's names), path
    lookup, and the one process-wide state the FUSE operations and the cut
    (cutfs_cut.c) share. No locking here: cutfs.c holds its lock around
    every call. Sizes and names return 0 or a negative errno. */
#ifndef CUTFS_MODEL_H
#define CUTFS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define CUTFS_PAGE 4096u
#define CUTFS_NAME_MAX 255

typedef struct node node_t;

/* Bytes of a file image. */
typedef struct {
    unsigned char *data;
    size_t len;
    size_t cap;
} cutfs_bytes_t;

/* One name in a directory. */
typedef struct {
    char *name;
    node_t *node;
} cutfs_entry_t;

/* A directory's names, unordered. */
typedef struct {
    cutfs_entry_t *v;
    size_t n;
    size_t cap;
} cutfs_entries_t;

/* A file or a directory, with its live and its durable image. */
struct node {
    mode_t mode;
    uint64_t ino;
    struct timespec mtime;
    cutfs_bytes_t live, durable;        /* a file's data */
    size_t dirty_lo, dirty_hi;          /* live bytes outside [lo, hi) equal durable ones */
    cutfs_entries_t ents, durable_ents; /* a directory's names */
    unsigned opened;                    /* open handles: never freed while open */
    uint64_t walk;                      /* the cut that last reached it */
    node_t *all_next;                   /* every node, for the cut's sweep */
};

/* Counters of the last cut, what reading /.cutfs prints. */
typedef struct {
    uint64_t bytes_dropped; /* dirty file bytes that kept their old value */
    uint64_t pages_kept;    /* dirty pages that kept their new value (random) */
    uint64_t dirs_reverted; /* directories whose unsynced names were undone */
    uint64_t names_lost;    /* names that existed live and not after the cut */
    uint64_t files;         /* files after the cut */
    bool random;            /* the cut's mode */
} cutfs_cut_stats_t;

/* The whole filesystem: one per process, as FUSE runs one mount. Every
   access is under cutfs.c's lock. */
typedef struct {
    node_t *root;
    node_t *all;
    uint64_t next_ino;
    uint64_t cuts;
    uint64_t fsyncs, dirsyncs;
    cutfs_cut_stats_t last;
    char report[512];
    uint64_t rand_state;
    unsigned sync_us; /* each fsync sleeps this long */
    bool off;         /* "off" until the cut: every operation fails */
    uint64_t arm;     /* "off after N writes": writes left, 0 = not armed */
} cutfs_state_t;

extern cutfs_state_t cutfs_state;

/* Sets n's mtime to now. */
void cutfs_touch (node_t *n);
/* Grows (zero-filled) or shrinks b to len bytes; 0 or -ENOMEM. */
int cutfs_bytes_resize (cutfs_bytes_t *b, size_t len);
/* A new node, on the list of every node; NULL on out of memory. */
node_t *cutfs_node_new (mode_t mode);
/* A deep copy of src (both images), on the list of every node. */
node_t *cutfs_clone (const node_t *src);
/* Frees n (the caller has taken it off the list of every node). */
void cutfs_node_free (node_t *n);
bool cutfs_is_dir (const node_t *n);
/* Widens n's dirty range (live bytes that may differ from durable). */
void cutfs_mark_dirty (node_t *n, size_t lo, size_t hi);
/* The entry named name[0..len) or NULL. */
cutfs_entry_t *cutfs_find (cutfs_entries_t *es, const char *name, size_t len);
int cutfs_add (cutfs_entries_t *es, const char *name, node_t *node);
/* Removes e (moves the last entry into its place). */
void cutfs_remove (cutfs_entries_t *es, cutfs_entry_t *e);
/* dst becomes a copy of src's names (the nodes are shared). */
int cutfs_entries_copy (cutfs_entries_t *dst, const cutfs_entries_t *src);
/* Resolves a path through the live names; NULL when it is not there. */
node_t *cutfs_lookup (const char *path);
/* The parent directory of path and the last component's name. */
int cutfs_parent (const char *path, node_t **dir, const char **name);

#endif
