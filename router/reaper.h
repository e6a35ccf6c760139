/*  reaper: deletes the log's delivered segments on a thread of its own.

    Why: unlinking a segment frees its extents then and there, and for a
    64 MiB segment on this machine's ext4 that took 21-26 ms. Done on the
    router's loop it stalled every request in flight each time a segment
    went (about every 1.5 s at the bench's protobuf 1-25 events load): p99
    ~20 ms there, against ~10 ms when no segment was deleted (issue 17,
    bench/RESULTS.md of 2026-12-07). The loop now hands the segment's name
    over and goes on; this thread unlinks it and fsyncs the directory.

    Until its unlink is done a segment's bytes still count as the log's
    (reaper_pending_bytes), so the log never holds more on disk than it
    admits to. A segment that cannot be unlinked is logged, counted
    (reaper_failures) and keeps counting; it is below every route's commit,
    so the router's next start deletes it again. A crash before the unlink
    leaves the same kind of segment behind, with the same outcome.

    Bounded: at most max names wait. reaper_post fails past that, and the
    log deletes the segment on its own thread, as before the reaper. */
#ifndef HM_ROUTER_REAPER_H
#define HM_ROUTER_REAPER_H

#include <stddef.h>
#include <stdint.h>

typedef struct _reaper_t reaper_t;

/* A reaper for the directory dirfd is open on (it keeps its own dup), with
   room for max waiting names. NULL (errno set) when it cannot start. */
reaper_t *reaper_new (int dirfd, size_t max);
/* Deletes what is waiting, then stops the thread. */
void reaper_destroy (reaper_t **self_p);

/* Hands over the file name (in the directory) holding bytes. 0, or -1 when
   max names already wait or name is too long: the caller deletes it. */
int reaper_post (reaper_t *self, const char *name, uint64_t bytes);
/* Bytes handed over and not unlinked yet (failed ones included). */
uint64_t reaper_pending_bytes (reaper_t *self);
/* Unlinks (or directory fsyncs) that failed. */
uint64_t reaper_failures (reaper_t *self);
/* Blocks until no name waits or is being deleted. */
void reaper_wait (reaper_t *self);

#endif
