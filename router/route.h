/*  route: one named output of the router (ARCHITECTURE sections 1 and 4).

    A route reads the log in order, keeps the events that pass its filter
    and cuts them into batches: sealed at max_events, max_bytes, max_age or
    on FLUSH. A sealed batch is [first_offset, last_offset, seal_time,
    events] and keeps exactly that identity forever, across redeliveries
    and router restarts, because sinks name their output objects after it.
    To make that hold, seals are written to the route's state file before
    the batch is handed out, and after a restart the batch is rebuilt by
    reading the same records again.

    The route owns no socket: the dispatcher (dispatch.h) asks it for the
    next batch to send and tells it about ACKs and NACKs. So all of the
    batching can be tested by feeding records by hand (route_feed).

    The committed offset is the end of the longest prefix of acknowledged
    batches; the log keeps every record above the lowest committed offset
    of all routes. */
#ifndef HM_ROUTER_ROUTE_H
#define HM_ROUTER_ROUTE_H

#include "config.h"
#include "log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTE_MAX_BATCHES 4096 /* sealed-but-uncommitted batches kept at most */

typedef enum {
    ROUTE_BATCH_LOADING = 0, /* rebuilt after a restart; its records are being read again */
    ROUTE_BATCH_QUEUED,      /* sealed, waiting for a sink instance */
    ROUTE_BATCH_INFLIGHT,    /* sent to an instance, no answer yet */
    ROUTE_BATCH_ACKED        /* acknowledged (or empty), waiting for its prefix to commit */
} route_batch_state_t;

typedef struct {
    uint64_t first;            /* first log record the batch covers */
    uint64_t last;             /* last log record the batch covers */
    uint64_t seal_time;        /* epoch seconds at seal */
    uint32_t events;           /* events in the batch */
    uint64_t bytes;            /* sum of the packed sizes of its events */
    route_batch_state_t state; /* see above */
    bool saved;                /* its seal is in the state file: it may be delivered */
    uint64_t ready_ms;         /* QUEUED: not to be sent before this (after a NACK) */
    void *owner;               /* INFLIGHT: the dispatcher's instance holding it */
    uint32_t deliveries;       /* times sent */
    const uint8_t *msg;        /* the packed Delivery message (inside buf) */
    size_t msg_len;            /* its size */
    uint8_t *buf;              /* storage: headroom + events */
    size_t buf_len;            /* bytes used in buf */
    size_t buf_cap;            /* bytes allocated */
} route_batch_t;

typedef struct {
    uint64_t committed;      /* end of the acknowledged prefix */
    uint64_t read_next;      /* next log record the route will read */
    size_t batches;          /* sealed, not yet committed (including acked) */
    size_t queued;           /* waiting for an instance */
    size_t inflight;         /* sent, unanswered */
    size_t loading;          /* being rebuilt */
    uint32_t open_events;    /* events in the open batch */
    uint64_t records;        /* records read */
    uint64_t undecodable;    /* records skipped because they did not decode */
    uint64_t events_in;      /* events seen */
    uint64_t events_kept;    /* events that passed the filter */
    uint64_t sealed;         /* batches sealed (non-empty) */
    uint64_t acked;          /* batches acknowledged */
    uint64_t nacked;         /* NACKs received */
    uint64_t requeued;       /* batches taken back from dead instances */
    uint64_t save_errors;    /* failed state file writes */
    uint64_t missing;        /* records the state counted on, gone from the log at start */
    uint64_t read_errors;    /* reads of the log that failed or found damage (the route stopped) */
    uint64_t alloc_failures; /* records that could not be taken for want of memory (stopped) */
    uint64_t events_acked;   /* events in batches acknowledged (delivered or dead-lettered) */
    uint64_t pending_events; /* events in sealed batches not acknowledged yet */
    uint64_t oldest_seal;    /* epoch seconds the oldest of them was sealed (0: none) */
    uint64_t open_since_ms;  /* monotonic ms the open batch's first event was read */
} route_stats_t;

typedef struct _route_t route_t;

/* Loads the route's state from data_dir/routes/<name>.state (creating the
   directory). first_seq: where a route without state starts reading (the
   oldest record of the log). NULL with the reason in errbuf on error. */
route_t *route_new (const hm_route_config_t *cfg, const char *data_dir, uint64_t first_seq,
                    char *errbuf, size_t errlen);
void route_destroy (route_t **self_p);

const char *route_name (const route_t *self);
const hm_route_config_t *route_config (const route_t *self);
/* For tests: the wall clock (epoch seconds) used for seal_time. */
void route_set_clock (route_t *self, uint64_t (*wall_s) (void));
/* For tests: the allocator of batches (NULL: realloc), to make it fail. */
void route_set_allocator (route_t *self, void *(*realloc_fn) (void *, size_t));

/* Highest offset the route's state file mentions (for rlog_advance_to). */
uint64_t route_highest_offset (const route_t *self);
uint64_t route_committed (const route_t *self);
void route_stats (const route_t *self, route_stats_t *stats);

/* --- reading ------------------------------------------------------------- */

/* Reads from this log from now on (a cursor at the route's next record). */
int route_attach_log (route_t *self, rlog_t *log);
/* Reads up to max_records records <= limit from the attached log while the
   read-ahead allows. Returns records read, -1 when the route stopped: a
   read failed or found damage, or a record could not be taken (out of
   memory). Nothing is skipped then: the route reads that record again,
   from a new cursor, after a pause (1 s, doubling up to 30 s while it
   keeps failing; route_next_deadline says when), counted in read_errors
   or alloc_failures and logged. */
int route_pump (route_t *self, uint64_t limit, uint64_t now_ms, size_t max_records);
/* Feeds one record (seq must grow; a jump is a gap in the log). The core
   of route_pump, for tests. 0, or -1 when it could not be taken (out of
   memory): nothing changed, feed it again. */
int route_feed (route_t *self, uint64_t seq, const uint8_t *data, size_t len, uint64_t now_ms);
/* Tells the route every record <= seq was fed (gaps in the log exist).
   0, or -1 (out of memory: nothing changed). */
int route_fed_upto (route_t *self, uint64_t seq);
/* May the route read more? (bounded read-ahead) */
bool route_wants_records (const route_t *self);
/* Sealed batches with no ACK that may be held at once (instances' credit + 2). */
void route_set_readahead (route_t *self, size_t batches);

/* --- sealing ------------------------------------------------------------- */

/* Seals the open batch when its oldest event is max_age_ms old. */
void route_tick (route_t *self, uint64_t now_ms);
/* Seals the open batch now (if it has events). */
void route_flush (route_t *self);
/* FLUSH: seals the open batch now and, for records up to upto that the
   route has not read yet (its read-ahead is full), as soon as it reads them. */
void route_flush_upto (route_t *self, uint64_t upto);
/* Monotonic time at which route_tick or route_pump (a stopped route
   reading again) has something to do, or UINT64_MAX. */
uint64_t route_next_deadline (const route_t *self);

/* --- persistence --------------------------------------------------------- */

/* Are there seals or commits not yet in the state file? */
bool route_needs_save (const route_t *self, bool seals_only);
/* Rewrites the state file atomically (tmp, fsync, rename, fsync dir). */
int route_save (route_t *self);

/* --- delivery (called by the dispatcher) -------------------------------- */

/* The earliest saved QUEUED batch ready at now_ms, or NULL. */
route_batch_t *route_next_ready (route_t *self, uint64_t now_ms);
/* Earliest ready_ms of a QUEUED batch held back by a NACK, or UINT64_MAX. */
uint64_t route_next_retry (const route_t *self);
void route_mark_sent (route_t *self, route_batch_t *batch, void *owner);
/* ACK of (first, last): 1 if it acknowledged a batch (*owner_p = the
   instance that held it, or NULL), 0 for an unknown or duplicate ACK. */
int route_ack (route_t *self, uint64_t first, uint64_t last, void **owner_p);
/* NACK: the batch goes back to the queue, sendable again at ready_ms. */
int route_nack (route_t *self, uint64_t first, uint64_t last, uint64_t ready_ms, void **owner_p);
/* An instance died: its batches go back to the queue. Returns how many. */
size_t route_requeue_owner (route_t *self, void *owner);

/* Rewinds the route to re-deliver from offset: forgets every batch and
   the open one and starts reading there (the caller checks the log still
   has it). In-flight batches are forgotten: late ACKs for them are ignored. */
int route_replay (route_t *self, uint64_t offset);

#endif
