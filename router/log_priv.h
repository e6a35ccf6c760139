/*  log_priv: what log.c (segments, the writer, the open-time scan),
    log_cursor.c (the readers) and log_cut.c (the cut back) share. Not for
    use outside the log. */
#ifndef HM_ROUTER_LOG_PRIV_H
#define HM_ROUTER_LOG_PRIV_H

#include "log.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define RLOG_SCAN_CHUNK (1u << 20) /* bytes read at a time by the open-time scan and a cut back */
#define RLOG_KNOWN_MAX 64          /* damaged places remembered, so each is counted once */

typedef struct {
    uint64_t seg; /* segment (its first seq) */
    uint64_t at;  /* byte offset of the bad record */
} rlog_place_t;

typedef struct {
    uint64_t first; /* seq of its first record (its name) */
    uint64_t size;  /* bytes in the file */
} rlog_segment_t;

struct _rlog_t {
    char *dir;                /* the log directory */
    int dirfd;                /* open on dir, for fsyncs after create/delete */
    uint64_t segment_bytes;   /* roll after this */
    uint64_t max_bytes;       /* appends refused beyond this */
    rlog_segment_t *segs;     /* sorted by first; the last one is written */
    size_t nsegs;             /* entries in use */
    size_t segs_cap;          /* entries allocated */
    int fd;                   /* the last segment, open for writing */
    uint64_t next_seq;        /* seq of the next appended record */
    uint64_t durable;         /* highest durable seq */
    uint64_t bytes;           /* sum of segment sizes */
    uint64_t cut_bytes;       /* torn bytes removed at open */
    uint8_t *hdrs;            /* scratch headers for one append */
    struct iovec *iov;        /* scratch iovecs for one append */
    size_t scratch_cap;       /* records the scratch arrays hold */
    uint64_t zero_ahead;      /* bytes of zeros kept written past the end (0: off) */
    uint64_t zero_end;        /* the current segment holds data or zeros up to here */
    uint8_t *zeros;           /* S_ZERO_PIECE zero bytes, allocated on first use */
    bool failed;              /* a sync or a cut back failed: appends refused (rlog_failed) */
    uint64_t cuts;            /* times the log was cut back: cursors forget what they buffered */
    uint64_t damaged;         /* damaged places found (rlog_damaged) */
    uint64_t damaged_records; /* records lost in those found at open */
    uint64_t syncs;           /* fdatasync calls made on the main thread (rlog_fdatasync) */
    struct _reaper_t *reaper; /* deletes segments off the caller's thread (NULL: inline) */
    rlog_place_t known[RLOG_KNOWN_MAX]; /* damaged places counted already */
    size_t nknown;                      /* entries in use */
};

/* Counts a damaged place once (every route's cursor meets it again).
   True if it was new. */
bool rlog_count_damage (rlog_t *log, uint64_t seg, uint64_t at);

/* True when bytes [from, to) of fd are all zero (or cannot be read). */
bool rlog_all_zero (int fd, uint64_t from, uint64_t to);
/* Opens segment first of log (flags as for open). */
int rlog_seg_open (const rlog_t *log, uint64_t first, int flags);
/* Deletes segment i (its file and its entry). 0 or -1 (errno). */
int rlog_remove_segment (rlog_t *log, size_t i);
/* Creates the segment starting at first and makes it the one written,
   its name made durable (a directory fsync). 0 or -1 (errno). */
int rlog_create_segment (rlog_t *log, uint64_t first);

#endif
