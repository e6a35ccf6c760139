/*  arena: see arena.h. */
#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct hm_arena_block {
    hm_arena_block_t *next; /* the block filled before this one */
    size_t cap;             /* bytes in data */
    size_t used;
    alignas (max_align_t) unsigned char data[];
};

#define S_ALIGN (alignof (max_align_t))

/* Allocations from this size on are remembered for reuse. Above any of our
   message structs (an hm.Event is 520 bytes since its strings became
   bytes fields): a struct that took the freed scratch table (~1.3 KB)
   would keep it, and the next event would need a new one. */
#define S_LARGE 1024

static void *
s_pb_alloc (void *data, size_t size)
{
    return hm_arena_alloc (data, size);
}

/* Only a remembered large allocation comes back (as the spare); the rest
   goes at the next reset. */
static void
s_pb_free (void *data, void *pointer)
{
    hm_arena_t *self = data;
    if (!pointer)
        return;
    for (unsigned i = 0; i < HM_ARENA_RECENT; i++)
        if (self->recent[i].p == pointer) {
            if (!self->spare || self->recent[i].size > self->spare_size) {
                self->spare = pointer;
                self->spare_size = self->recent[i].size;
            }
            self->recent[i].p = NULL;
            return;
        }
}

static void
s_forget (hm_arena_t *self)
{
    memset (self->recent, 0, sizeof self->recent);
    self->recent_next = 0;
    self->spare = NULL;
    self->spare_size = 0;
}

static void
s_remember (hm_arena_t *self, void *p, size_t size)
{
    self->recent[self->recent_next].p = p;
    self->recent[self->recent_next].size = size;
    self->recent_next = (self->recent_next + 1) % HM_ARENA_RECENT;
}

void
hm_arena_init (hm_arena_t *self, size_t block_bytes)
{
    self->pb.alloc = s_pb_alloc;
    self->pb.free = s_pb_free;
    self->pb.allocator_data = self;
    self->first = self->head = NULL;
    self->block_bytes = block_bytes ? block_bytes : 4096;
    s_forget (self);
}

static hm_arena_block_t *
s_block_new (size_t cap)
{
    if (cap > SIZE_MAX - sizeof (hm_arena_block_t))
        return NULL;
    hm_arena_block_t *b = malloc (sizeof *b + cap);
    if (b) {
        b->next = NULL;
        b->cap = cap;
        b->used = 0;
    }
    return b;
}

void *
hm_arena_alloc (hm_arena_t *self, size_t size)
{
    if (size > SIZE_MAX - S_ALIGN)
        return NULL;
    size = (size + S_ALIGN - 1) & ~(S_ALIGN - 1);
    if (size >= S_LARGE && self->spare && self->spare_size >= size) {
        void *p = self->spare;
        s_remember (self, p, self->spare_size);
        self->spare = NULL;
        return p;
    }
    hm_arena_block_t *b = self->head;
    if (!b || b->cap - b->used < size) {
        /* One allocation larger than the block being filled gets a block
           of its own, behind the head: the head keeps its room and the
           next block doubles from the head, not from it (issue #17: a
           sink's 10 MB array of events made the next block 20 MB). */
        if (b && size > b->cap) {
            hm_arena_block_t *own = s_block_new (size);
            if (!own)
                return NULL;
            own->next = b->next;
            b->next = own;
            own->used = size;
            if (size >= S_LARGE)
                s_remember (self, own->data, size);
            return own->data;
        }
        /* Each new block doubles the last, so a big message takes few. */
        size_t cap = b ? b->cap * 2 : self->block_bytes;
        hm_arena_block_t *nb = s_block_new (cap);
        if (!nb)
            return NULL;
        nb->next = b;
        self->head = nb;
        if (!self->first)
            self->first = nb;
        b = nb;
        if (size > cap)
            return hm_arena_alloc (self, size); /* the first block, then its own */
    }
    void *p = b->data + b->used;
    b->used += size;
    if (size >= S_LARGE)
        s_remember (self, p, size);
    return p;
}

size_t
hm_arena_used (const hm_arena_t *self)
{
    size_t used = 0;
    for (const hm_arena_block_t *b = self->head; b; b = b->next)
        used += b->used;
    return used;
}

size_t
hm_arena_reserved (const hm_arena_t *self)
{
    size_t cap = 0;
    for (const hm_arena_block_t *b = self->head; b; b = b->next)
        cap += b->cap;
    return cap;
}

void
hm_arena_reset (hm_arena_t *self)
{
    s_forget (self);
    /* Blocks of their own sit anywhere in the chain, behind first too. */
    hm_arena_block_t *b = self->head;
    while (b) {
        hm_arena_block_t *next = b->next;
        if (b != self->first)
            free (b);
        b = next;
    }
    /* A first block sized for one oversized message is not kept. */
    if (self->first && self->first->cap > self->block_bytes) {
        free (self->first);
        self->first = NULL;
    }
    self->head = self->first;
    if (self->first) {
        self->first->next = NULL;
        self->first->used = 0;
    }
}

void
hm_arena_destroy (hm_arena_t *self)
{
    hm_arena_reset (self);
    free (self->first);
    self->first = self->head = NULL;
}

void
hm_arena_move (hm_arena_t *to, hm_arena_t *from)
{
    *to = *from;
    to->pb.allocator_data = to;
    hm_arena_init (from, from->block_bytes);
}

void
hm_arena_reset_keep_largest (hm_arena_t *self, size_t max_keep)
{
    s_forget (self);
    hm_arena_block_t *largest = NULL;
    for (hm_arena_block_t *b = self->head; b; b = b->next)
        if (!largest || b->cap > largest->cap)
            largest = b;
    hm_arena_block_t *b = self->head;
    while (b) {
        hm_arena_block_t *next = b->next;
        if (b != largest)
            free (b);
        b = next;
    }
    if (largest && largest->cap > max_keep) {
        free (largest);
        largest = NULL;
    }
    self->first = self->head = largest;
    if (largest) {
        largest->next = NULL;
        largest->used = 0;
    }
}
