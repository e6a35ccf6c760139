/*  route_priv: what the route's modules share inside the route (route.h
    is the interface). route.c: life cycle, reading and sealing;
    route_batch.c: building batches and the sealed array; route_state.c:
    the state file; route_deliver.c: the dispatcher's side (ACK, NACK,
    requeue). Not for use outside router/route*.c. */
#ifndef HM_ROUTER_ROUTE_PRIV_H
#define HM_ROUTER_ROUTE_PRIV_H

#include "route.h"

#define ROUTE_STATE_MAGIC "hamustro-route-state 1"

struct _route_t {
    const hm_route_config_t *cfg; /* the route's config (not owned; outlives us) */
    char *dir;                    /* data_dir/routes */
    char *path;                   /* its state file */
    char *tmp_path;               /* where the next state file is written first */
    size_t headroom;              /* bytes kept in front of a batch's events for the header */
    uint32_t max_events;          /* seal limits, from cfg */
    uint64_t max_bytes;           /* ... */
    uint64_t (*wall_s) (void);    /* epoch seconds for seal_time */
    uint64_t committed;           /* end of the acknowledged prefix */
    bool commit_dirty;            /* committed changed since the last save */
    route_batch_t **batches;      /* sealed batches, contiguous, in offset order */
    size_t nbatches;              /* in use */
    size_t batches_cap;           /* allocated */
    uint64_t sealed_end;          /* last offset covered by batches (committed if none) */
    route_batch_t *open;          /* the open batch (events == 0: nothing open) */
    uint64_t open_since_ms;       /* when its first event was read */
    uint64_t read_next;           /* next record to feed */
    uint64_t flush_upto;          /* FLUSH: seal once records up to here are read (0: none) */
    size_t readahead;             /* unacknowledged sealed batches held at most */
    rlog_t *log;                  /* attached log (not owned) */
    rlog_cursor_t *cursor;        /* our position in it */
    route_stats_t st;             /* counters */
    bool stalled;                 /* a record could not be taken: read it again at retry_ms */
    uint64_t retry_ms;            /* when (monotonic ms) */
    uint64_t retry_pause_ms;      /* the pause before it; doubles while failures go on */
    void *(*realloc_fn) (void *, size_t); /* every batch allocation (tests make it fail) */
};

/* --- route_batch.c ------------------------------------------------------- */

/* Counts a record's events that pass the filter (*n_p), their bytes, and
   all its events (*all_p). -1 if the record does not decode as an
   AppendRequest. */
int route_measure (const route_t *self, const uint8_t *rec, size_t len, uint32_t *n_p,
                   uint32_t *all_p, uint64_t *bytes_p);
/* An empty batch starting at first (with headroom for the header), or NULL. */
route_batch_t *route_batch_new (route_t *self, uint64_t first);
/* Frees a batch's storage (it stays as an identity). */
void route_batch_release (route_batch_t *b);
void route_batch_destroy (route_batch_t **b_p);
/* Copies a record's n kept events (bytes in all) into b. 0 or -1 (out of memory). */
int route_batch_add (route_t *self, route_batch_t *b, const uint8_t *rec, size_t len, uint32_t n,
                     uint64_t bytes);
/* Writes the Delivery header in front of the events: the batch is ready. */
void route_batch_finish (route_t *self, route_batch_t *b);
/* Room for one more sealed batch. 0 or -1. */
int route_reserve (route_t *self);
/* Appends b to the sealed batches. 0 or -1. */
int route_push (route_t *self, route_batch_t *b);
/* Drops the acknowledged prefix and advances the committed offset. */
void route_advance_commit (route_t *self);
/* Seals the open batch (if it has events). -1 (out of memory): still open. */
int route_seal (route_t *self);
/* Records sealed_end + 1 .. seq with nothing kept while no batch is open
   (filtered out, or not in the log): acknowledged at once. 0 or -1 (out
   of memory: nothing changed). */
int route_commit_empty (route_t *self, uint64_t seq);
/* Rebuilt batches whose records have all been read are ready. */
void route_finish_loaded (route_t *self, uint64_t upto);
/* Frees every sealed batch. */
void route_forget_batches (route_t *self);

/* --- route_state.c ------------------------------------------------------- */

/* Reads the state file: 0, 1 when there is none, -1 with errbuf. */
int route_state_load (route_t *self, char *errbuf, size_t errlen);
/* Drops what the state counts on but the log (starting at first_seq) lost. */
void route_state_skip_missing (route_t *self, uint64_t first_seq);

#endif
