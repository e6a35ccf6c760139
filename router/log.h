/*  log: the router's durable log of AppendRequests (ARCHITECTURE section 4).

    A directory of segment files, each named by the sequence number of its
    first record (20 digits + ".seg"). A record is
        [u32 LE payload length][u32 LE crc32c (seq bytes + payload)][u64 LE seq][payload]
    and its payload is the AppendRequest exactly as a client sent it.

    The log only writes; when records become durable is decided by whoever
    calls fdatasync (the syncer thread) and told back through
    rlog_set_durable. Readers (one cursor per route) only see durable
    records, so nothing a route has sealed can vanish in a crash and have
    its sequence number reused for different events.

    Opening validates every record and cuts a torn tail (short header,
    short payload, bad crc, wrong seq) back to the last whole record; a
    bad record with valid ones after it is damage: counted, logged, stepped
    over (by the cursors too), and what follows is kept. */
#ifndef HM_ROUTER_LOG_H
#define HM_ROUTER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define RLOG_HEADER 16               /* bytes of framing before each payload */
#define RLOG_MAX_PAYLOAD (64u << 20) /* same as HM_WIRE_MAX_MSG: nothing larger arrives */

typedef struct _rlog_t rlog_t;
typedef struct _rlog_cursor_t rlog_cursor_t;

/* Opens (creating if needed) the log in dir. max_bytes: appends beyond it
   are refused (rlog_has_room). NULL with the reason in errbuf on error. */
rlog_t *rlog_new (const char *dir, uint64_t segment_bytes, uint64_t max_bytes, char *errbuf,
                  size_t errlen);
void rlog_destroy (rlog_t **self_p);

/* Keeps bytes of zeros written past the end of the segment being written,
   so that a sync overwrites existing blocks instead of growing the file
   (much cheaper fdatasync; see log.c). 0 (the default) turns it off. */
void rlog_set_zero_ahead (rlog_t *self, uint64_t bytes);

/* Sequence number of the oldest record kept; == rlog_next_seq when empty. */
uint64_t rlog_first_seq (const rlog_t *self);
/* Sequence number the next appended record gets. */
uint64_t rlog_next_seq (const rlog_t *self);
/* Highest durable sequence number (0: none). */
uint64_t rlog_durable_seq (const rlog_t *self);
void rlog_set_durable (rlog_t *self, uint64_t seq);
/* Total bytes of all segments, and their number. */
uint64_t rlog_bytes (const rlog_t *self);
uint64_t rlog_max_bytes (const rlog_t *self);
size_t rlog_segment_count (const rlog_t *self);
/* The segment being written: its fd and its first sequence number. */
int rlog_fd (const rlog_t *self);
uint64_t rlog_segment_first (const rlog_t *self);
/* Bytes torn off the tail when the log was opened (for the start line). */
uint64_t rlog_cut_bytes (const rlog_t *self);
/* A sync or a cut back failed: appends are refused (-1, EIO) until
   rlog_truncate_after cuts the log back to its durable mark. Why not
   retry: after a failed fdatasync the kernel may have dropped the pages it
   could not write and marks them clean, so a second fdatasync succeeds
   without them ever reaching the disk (PostgreSQL's "fsyncgate", 2018). */
bool rlog_failed (const rlog_t *self);
/* An fdatasync of the log failed (the caller's or the syncer's): the log
   is failed from now on (as above). */
void rlog_sync_failed (rlog_t *self);
/* Damaged places found in the log (at open and by cursors since; each
   counted and logged once), and the records lost in those found at open. Damage is a bad record
   with valid ones after it, or a bad end of a segment before the last; a torn tail (a bad end of
   the last segment) is not damage (rlog_cut_bytes). */
uint64_t rlog_damaged (const rlog_t *self);
uint64_t rlog_damaged_records (const rlog_t *self);

/* fdatasync (fd), counted: every fdatasync of a log segment on the main
   thread (group commit in "fsync" durability, a roll, open, a cut back)
   goes through here, so STATUS "fsyncs" (these plus the syncer thread's)
   equals the fdatasync calls the router made. Returns fdatasync's. */
int rlog_fdatasync (rlog_t *self, int fd);
uint64_t rlog_syncs (const rlog_t *self);

/* Would a record of len payload bytes, after extra bytes already planned
   in this round, stay within max_bytes? */
bool rlog_has_room (const rlog_t *self, uint64_t extra, size_t len);

/* Would the next rlog_append start a new segment? */
bool rlog_needs_roll (const rlog_t *self);

/* Makes the next record's seq at least seq by starting a new segment there.
   Used at start when a route remembers offsets beyond the log's end (the
   log lost its unsynced tail): numbers are never reused. 0 or -1. */
int rlog_advance_to (rlog_t *self, uint64_t seq);

/* Appends n records in one pwritev (rolling to a new segment first when
   the current one is over segment_bytes; a roll fdatasyncs the old one).
   On success *first_p is the seq of the first. On error (-1, errno set) the
   segment is cut back so nothing of this call remains; if that cut back or
   the roll's fdatasync failed, the log is failed (rlog_failed). */
int rlog_append (rlog_t *self, const struct iovec *payloads, size_t n, uint64_t *first_p);

/* After a failed fdatasync: drops every record after seq (truncating and
   deleting segments), so the next append gets seq + 1, and makes the cut
   durable. Every cursor forgets the bytes it buffered (they may be
   replaced). A cut to the durable mark ends a failed state; a cut that
   fails starts one. 0 or -1. */
int rlog_truncate_after (rlog_t *self, uint64_t seq);

/* Deletes whole segments whose every record is <= seq (never the segment
   being written). Returns how many were deleted (or handed to the reaper),
   -1 on error. */
int rlog_delete_upto (rlog_t *self, uint64_t seq);
/* Makes rlog_delete_upto hand segments to a thread of their own (reaper.h;
   the router turns it on; without it they are deleted inline), with at
   most max waiting. Their bytes count in rlog_bytes until
   they are gone. 0, or -1 (errno) when the thread cannot start. */
int rlog_set_reaper (rlog_t *self, size_t max);
/* Blocks until the reaper deleted what it was given (tests). */
void rlog_reap_wait (rlog_t *self);
/* Segments the reaper failed to delete. */
uint64_t rlog_reap_failures (const rlog_t *self);

/* Builds a record header (exposed for tests that forge records). */
void rlog_header (uint8_t hdr[RLOG_HEADER], uint64_t seq, const void *payload, size_t len);

/* --- reading ------------------------------------------------------------- */

/* A cursor positioned at the first record with sequence >= seq (or the
   oldest record kept, if seq is older). NULL on error. */
rlog_cursor_t *rlog_cursor_new (rlog_t *log, uint64_t seq);
void rlog_cursor_destroy (rlog_cursor_t **self_p);
/* Next record with seq <= limit: 1 and *seq_p, *data_p, *len_p (valid until
   the next call); 0 when every record <= limit the log holds was returned
   (seqs skipped are gaps: numbers never used, or records lost to damage,
   which is logged and counted in rlog_damaged); -1 on a read error or
   damage it cannot step over (nothing valid after it in the segment being
   written): the cursor stays where it is, the next call tries again. */
int rlog_cursor_next (rlog_cursor_t *self, uint64_t limit, uint64_t *seq_p, const uint8_t **data_p,
                      size_t *len_p);
/* Sequence number the cursor will return next (at least). */
uint64_t rlog_cursor_seq (const rlog_cursor_t *self);

#endif
