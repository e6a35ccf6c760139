/*  arena: a bump allocator for protobuf-c's unpack. A decoded message is a
    tree of many small allocations (every string, every sub-message) that all
    die together; taking them from one block and dropping the block at once
    saves a malloc and a free per field, which is most of the decoding cost
    on the hot paths (router append, ingest track, sink delivery).

    Pass &arena.pb to a *__unpack function; never free the result with
    *__free_unpacked (the arena's free is a no-op, so it would only walk the
    tree): hm_arena_reset or hm_arena_destroy releases everything at once
    (a large allocation protobuf-c frees itself is reused, see below).
    The arena grows with what is unpacked into it, so its size is bounded by
    the message bounds of its user (the ingest's max_body_bytes, the log's
    record limit, a batch's max_bytes); a reset keeps only the first block.
    Blocks double as they fill; one allocation larger than the block being
    filled gets a block of its own, which the doubling ignores. */
#ifndef HM_ARENA_H
#define HM_ARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

typedef struct hm_arena_block hm_arena_block_t;

#define HM_ARENA_RECENT 8 /* large allocations remembered for reuse */

typedef struct {
    ProtobufCAllocator pb;   /* hand &pb to protobuf-c */
    hm_arena_block_t *first; /* kept across resets */
    hm_arena_block_t *head;  /* the block being filled */
    size_t block_bytes;      /* size of the first block */
    /* protobuf-c's unpack takes a scratch table for every message with
       more than 16 fields on the wire (an Event: ~1.2 KB) and frees it
       when that message is done; without reuse a decoded batch of events
       would take twice its size. So the last few large allocations are
       remembered, and a freed one serves the next large request it fits. */
    struct {
        void *p;
        size_t size;
    } recent[HM_ARENA_RECENT];
    unsigned recent_next; /* ring position */
    void *spare;          /* a freed large allocation, or NULL */
    size_t spare_size;
} hm_arena_t;

/* block_bytes: the first block's size, the usual working set. */
void hm_arena_init (hm_arena_t *self, size_t block_bytes);
/* Aligned for any type; NULL when out of memory. */
void *hm_arena_alloc (hm_arena_t *self, size_t size);
/* Bytes handed out since the last reset (for tests and statistics). */
size_t hm_arena_used (const hm_arena_t *self);
/* Bytes of the blocks held, used or not (for tests and statistics). */
size_t hm_arena_reserved (const hm_arena_t *self);
/* Forgets every allocation; keeps the first block for reuse. */
void hm_arena_reset (hm_arena_t *self);
void hm_arena_destroy (hm_arena_t *self);
/* Forgets every allocation; keeps the largest block as the first, for a
   user that decodes messages of one size again and again: its pages stay
   mapped instead of faulting in anew each time. A largest block of more
   than max_keep bytes goes too (memory stays bounded). */
void hm_arena_reset_keep_largest (hm_arena_t *self, size_t max_keep);
/* to (uninitialised or destroyed) takes over from's allocations; from is
   left empty and initialised, so it can be used or destroyed again. */
void hm_arena_move (hm_arena_t *to, hm_arena_t *from);

#endif
