/*  pending: see pending.h. Slots are an array; free slots form a stack,
    used slots a doubly linked list in insertion (= deadline) order. */
#include "pending.h"

#include <stdlib.h>

#define S_NONE UINT32_MAX
#define S_SEQ_BITS 48
#define S_SEQ_MASK ((UINT64_C (1) << S_SEQ_BITS) - 1)

typedef struct {
    uint64_t id;      /* batch id of the entry; 0 when the slot is free */
    void *item;       /* the caller's waiter */
    int64_t deadline; /* monotonic ms */
    uint32_t prev;    /* older neighbour on the used list, or S_NONE */
    uint32_t next;    /* newer neighbour on the used list / next free slot */
} s_slot_t;

struct hm_pending_t {
    s_slot_t *slots;   /* capacity slots */
    uint32_t capacity; /* a power of two */
    uint32_t free;     /* top of the free stack, or S_NONE */
    uint32_t oldest;   /* head of the used list, or S_NONE */
    uint32_t newest;   /* tail of the used list, or S_NONE */
    size_t size;       /* used slots */
    uint64_t base;     /* id_base << 48 */
    uint64_t seq;      /* counts ids handed out; with the slot it makes the id */
};

hm_pending_t *
hm_pending_new (uint32_t capacity, uint16_t id_base)
{
    uint32_t cap = 1;
    while (cap < capacity && cap < (UINT32_C (1) << 30))
        cap <<= 1;
    hm_pending_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->slots = calloc (cap, sizeof *self->slots);
    if (!self->slots) {
        free (self);
        return NULL;
    }
    self->capacity = cap;
    for (uint32_t i = 0; i < cap; i++)
        self->slots[i].next = i + 1 < cap ? i + 1 : S_NONE;
    self->free = 0;
    self->oldest = self->newest = S_NONE;
    self->base = (uint64_t)id_base << S_SEQ_BITS;
    self->seq = 1; /* so that no id is 0 */
    return self;
}

void
hm_pending_destroy (hm_pending_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->slots);
    free (*self_p);
    *self_p = NULL;
}

int
hm_pending_add (hm_pending_t *self, void *item, int64_t deadline_ms, uint64_t *id_p)
{
    if (self->free == S_NONE)
        return -1;
    uint32_t index = self->free;
    s_slot_t *slot = &self->slots[index];
    self->free = slot->next;
    /* The low bits of the id are the slot (capacity is a power of two);
       the bits above count uses, so a reused slot gets a fresh id. */
    uint64_t low = (self->seq++ * self->capacity + index) & S_SEQ_MASK;
    slot->id = self->base | low;
    if (slot->id == 0)
        slot->id = self->base | (S_SEQ_MASK & ~(uint64_t)(self->capacity - 1)) | index;
    slot->item = item;
    slot->deadline = deadline_ms;
    slot->prev = self->newest;
    slot->next = S_NONE;
    if (self->newest != S_NONE)
        self->slots[self->newest].next = index;
    else
        self->oldest = index;
    self->newest = index;
    self->size++;
    *id_p = slot->id;
    return 0;
}

static void *
s_remove (hm_pending_t *self, uint32_t index)
{
    s_slot_t *slot = &self->slots[index];
    if (slot->prev != S_NONE)
        self->slots[slot->prev].next = slot->next;
    else
        self->oldest = slot->next;
    if (slot->next != S_NONE)
        self->slots[slot->next].prev = slot->prev;
    else
        self->newest = slot->prev;
    void *item = slot->item;
    slot->id = 0;
    slot->item = NULL;
    slot->next = self->free;
    self->free = index;
    self->size--;
    return item;
}

void *
hm_pending_take (hm_pending_t *self, uint64_t id)
{
    uint32_t index = (uint32_t)(id & (self->capacity - 1));
    if (id == 0 || self->slots[index].id != id)
        return NULL;
    return s_remove (self, index);
}

void *
hm_pending_expire (hm_pending_t *self, int64_t now_ms)
{
    if (self->oldest == S_NONE || self->slots[self->oldest].deadline > now_ms)
        return NULL;
    return s_remove (self, self->oldest);
}

void *
hm_pending_pop (hm_pending_t *self)
{
    if (self->oldest == S_NONE)
        return NULL;
    return s_remove (self, self->oldest);
}

int64_t
hm_pending_next_deadline (const hm_pending_t *self)
{
    return self->oldest == S_NONE ? -1 : self->slots[self->oldest].deadline;
}

size_t
hm_pending_size (const hm_pending_t *self)
{
    return self->size;
}

size_t
hm_pending_capacity (const hm_pending_t *self)
{
    return self->capacity;
}
