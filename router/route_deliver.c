/*  route_deliver: the dispatcher's side of a route (see route.h): which
    sealed batch goes out next, and what ACKs, NACKs and dead instances
    do to it. */
#include "route_priv.h"

static route_batch_t *
s_find (route_t *self, uint64_t first, uint64_t last)
{
    for (size_t i = 0; i < self->nbatches; i++)
        if (self->batches[i]->first == first && self->batches[i]->last == last)
            return self->batches[i];
    return NULL;
}

route_batch_t *
route_next_ready (route_t *self, uint64_t now_ms)
{
    for (size_t i = 0; i < self->nbatches; i++) {
        route_batch_t *b = self->batches[i];
        if (b->state == ROUTE_BATCH_QUEUED && b->saved && b->ready_ms <= now_ms)
            return b;
    }
    return NULL;
}

uint64_t
route_next_retry (const route_t *self)
{
    uint64_t t = UINT64_MAX;
    for (size_t i = 0; i < self->nbatches; i++) {
        const route_batch_t *b = self->batches[i];
        if (b->state == ROUTE_BATCH_QUEUED && b->saved && b->ready_ms < t)
            t = b->ready_ms;
    }
    return t;
}

void
route_mark_sent (route_t *self, route_batch_t *b, void *owner)
{
    (void)self;
    b->state = ROUTE_BATCH_INFLIGHT;
    b->owner = owner;
    b->deliveries++;
}

int
route_ack (route_t *self, uint64_t first, uint64_t last, void **owner_p)
{
    *owner_p = NULL;
    route_batch_t *b = s_find (self, first, last);
    /* A LOADING batch may be acknowledged too: a sink can finish a batch
       it got before the router restarted. */
    if (!b || b->state == ROUTE_BATCH_ACKED)
        return 0;
    if (b->state == ROUTE_BATCH_INFLIGHT)
        *owner_p = b->owner;
    b->owner = NULL;
    b->state = ROUTE_BATCH_ACKED;
    b->saved = false; /* the acked flag is worth saving, but not urgent */
    route_batch_release (b);
    self->st.acked++;
    self->st.events_acked += b->events;
    route_advance_commit (self);
    return 1;
}

int
route_nack (route_t *self, uint64_t first, uint64_t last, uint64_t ready_ms, void **owner_p)
{
    *owner_p = NULL;
    route_batch_t *b = s_find (self, first, last);
    if (!b || b->state != ROUTE_BATCH_INFLIGHT)
        return 0;
    *owner_p = b->owner;
    b->owner = NULL;
    b->state = ROUTE_BATCH_QUEUED;
    b->ready_ms = ready_ms;
    self->st.nacked++;
    return 1;
}

size_t
route_requeue_owner (route_t *self, void *owner)
{
    size_t n = 0;
    for (size_t i = 0; i < self->nbatches; i++) {
        route_batch_t *b = self->batches[i];
        if (b->state == ROUTE_BATCH_INFLIGHT && b->owner == owner) {
            b->state = ROUTE_BATCH_QUEUED;
            b->owner = NULL;
            b->ready_ms = 0;
            n++;
        }
    }
    self->st.requeued += n;
    return n;
}
