/*  syncer: the thread that makes the log durable (group commit).

    The main loop writes a round of records and posts "sync up to seq X on
    this fd"; the syncer thread runs fdatasync while the main loop goes on
    serving, then reports "durable up to X" through an eventfd the main
    loop polls. Posts that arrive while a sync runs are folded into the
    next one, so one fdatasync covers every round written meanwhile: the
    slower the disk, the bigger the groups.

    In "write" durability the thread syncs at most every interval_ms
    instead of as soon as asked (records are acknowledged after write()). */
#ifndef HM_ROUTER_SYNCER_H
#define HM_ROUTER_SYNCER_H

#include <stdint.h>

typedef struct _syncer_t syncer_t;

/* durable: seq already durable. interval_ms: 0 syncs as soon as asked,
   else waits until interval_ms after the previous sync. */
syncer_t *syncer_new (uint64_t durable, uint32_t interval_ms);
/* Stops the thread after the pending sync, if any. */
void syncer_destroy (syncer_t **self_p);

/* The eventfd to poll (readable when something was reported). */
int syncer_fd (const syncer_t *self);
/* Asks for everything up to seq, written through fd, to become durable.
   segment names fd's file: the syncer keeps its own dup of fd and renews
   it when segment changes, so the log may close its fd at any time. */
int syncer_post (syncer_t *self, int fd, uint64_t segment, uint64_t seq);
/* Reads the report: returns the durable seq; *err_p is the errno of a
   failed fdatasync (0 if none). After a failure the thread stops syncing
   until syncer_reset. */
uint64_t syncer_poll (syncer_t *self, int *err_p);
/* After a failure was handled (the log cut back to durable): resume. */
void syncer_reset (syncer_t *self, uint64_t durable);
/* Blocks until everything posted is durable or failed (for shutdown). */
uint64_t syncer_wait (syncer_t *self, int *err_p);
/* Number of fdatasync calls made (a counter for STATUS). */
uint64_t syncer_syncs (syncer_t *self);

/* fdatasync latency histogram: bucket upper bounds in seconds (a last
   bucket, +Inf, is implied). Counts per bucket, not cumulative. */
#define SYNCER_BUCKETS 12
extern const double syncer_bucket_s[SYNCER_BUCKETS];
typedef struct {
    uint64_t bucket[SYNCER_BUCKETS]; /* syncs that took at most syncer_bucket_s[i] (and more
                                        than the bound before) */
    uint64_t count;                  /* every sync observed */
    double sum_s;                    /* their total duration */
} sync_hist_t;
/* Adds one sync that took took_s seconds. */
void sync_hist_observe (sync_hist_t *h, double took_s);
/* Monotonic clock in seconds, for timing a sync. */
double sync_hist_now (void);
/* A copy of the sync thread's histogram. */
void syncer_latency (syncer_t *self, sync_hist_t *out);

#endif
