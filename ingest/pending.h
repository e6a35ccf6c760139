/*  pending: the batches one ingest thread has sent to the router and not
    yet answered, each with the client connection waiting for it and a
    deadline.

    The table has a fixed capacity (a power of two) and a batch id encodes
    its slot, so a reply finds its waiter in O(1) without hashing; the full
    id is kept in the slot, so a late reply for a batch that timed out (and
    whose slot was reused) is recognised as stale and ignored. Every
    deadline is "now + the same timeout", so the oldest entry is always the
    next to expire: entries sit on a list in insertion order. */
#ifndef HM_INGEST_PENDING_H
#define HM_INGEST_PENDING_H

#include <stddef.h>
#include <stdint.h>

typedef struct hm_pending_t hm_pending_t;

/* capacity is rounded up to a power of two (at least 1). id_base is put in
   the top 16 bits of every id (e.g. the thread index), so ids from
   different threads never collide in the router's logs. NULL on ENOMEM. */
hm_pending_t *hm_pending_new (uint32_t capacity, uint16_t id_base);
void hm_pending_destroy (hm_pending_t **self_p);

/* Records item with its deadline; writes the new batch id. -1 when full. */
int hm_pending_add (hm_pending_t *self, void *item, int64_t deadline_ms, uint64_t *id_p);
/* Removes and returns the item of id; NULL when unknown or stale. */
void *hm_pending_take (hm_pending_t *self, uint64_t id);
/* Removes and returns the oldest item whose deadline is <= now_ms, or NULL.
   Call in a loop. */
void *hm_pending_expire (hm_pending_t *self, int64_t now_ms);
/* Removes and returns the oldest item whatever its deadline, or NULL. */
void *hm_pending_pop (hm_pending_t *self);
/* The earliest deadline, or -1 when empty. */
int64_t hm_pending_next_deadline (const hm_pending_t *self);
size_t hm_pending_size (const hm_pending_t *self);
size_t hm_pending_capacity (const hm_pending_t *self);

#endif
