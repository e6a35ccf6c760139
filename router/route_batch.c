/*  route_batch: building a route's batches (see route.h, route_priv.h).

    Batches are kept as the bytes of the Delivery message that will carry
    them: each kept event is copied once, as it sits in the log record
    (the AppendRequest's "events" field and the Delivery's have the same
    encoding but for the tag), behind room left for the Delivery's header,
    which is written in front at seal time. Sending a batch is then one
    copy into a ZeroMQ frame; nothing is unpacked and packed again.

    So the route reads records with a tiny protobuf wire scanner rather
    than hm__append_request__unpack: it only needs each event's bytes, and
    its name and env when the route filters. Records were fully validated
    by protobuf-c when they were appended; the scanner still checks every
    length so a damaged record is skipped (and counted), never trusted.

    The sealed batches of a route are an array in offset order that
    covers (committed, sealed_end] without gaps; records with no kept
    event while nothing is open become "empty" batches that count as
    acknowledged, so a route whose filter matches nothing still commits. */
#include "route_priv.h"

#include "hm_log.h"
#include "scan.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Does the event pass the route's filter? -1 if undecodable. */
static int
s_passes (const route_t *self, const uint8_t *ev, size_t len)
{
    return scan_event_passes (self->cfg->filter_event, self->cfg->filter_env, ev, len);
}

int
route_measure (const route_t *self, const uint8_t *rec, size_t len, uint32_t *n_p, uint32_t *all_p,
               uint64_t *bytes_p)
{
    const uint8_t *p = rec, *end = rec + len;
    bool have_id = false;
    uint32_t n = 0, all = 0;
    uint64_t bytes = 0;
    while (p < end) {
        scan_field_t f;
        if (scan_field (&p, end, &f) != 0)
            return -1;
        if (f.num == 1) /* batch_id */
            have_id = f.wt == 0;
        else if (f.num == 2) { /* events */
            if (f.wt != 2)
                return -1;
            int pass = s_passes (self, f.data, f.len);
            if (pass < 0)
                return -1;
            all++;
            if (pass)
                n++, bytes += f.len;
        }
    }
    if (!have_id)
        return -1;
    *n_p = n, *all_p = all, *bytes_p = bytes;
    return 0;
}

/* --- batches ------------------------------------------------------------- */

/* A zeroed batch, from the route's allocator. */
static route_batch_t *
s_batch_alloc (route_t *self)
{
    route_batch_t *b = self->realloc_fn (NULL, sizeof *b);
    if (b)
        memset (b, 0, sizeof *b);
    return b;
}

route_batch_t *
route_batch_new (route_t *self, uint64_t first)
{
    route_batch_t *b = s_batch_alloc (self);
    if (!b)
        return NULL;
    b->first = b->last = first;
    b->buf_cap = self->headroom + 4096;
    b->buf = self->realloc_fn (NULL, b->buf_cap);
    if (!b->buf) {
        free (b);
        return NULL;
    }
    b->buf_len = self->headroom;
    return b;
}

void
route_batch_release (route_batch_t *b)
{
    free (b->buf);
    b->buf = NULL;
    b->msg = NULL;
    b->buf_len = b->buf_cap = b->msg_len = 0;
}

void
route_batch_destroy (route_batch_t **b_p)
{
    if (*b_p) {
        route_batch_release (*b_p);
        free (*b_p);
        *b_p = NULL;
    }
}

/* Copies the record's kept events into b as Delivery field 5 entries.
   The size is bounded by the seal limits: a batch is sealed before a
   record would take it past max_bytes, so it holds at most max_bytes or
   one record (<= RLOG_MAX_PAYLOAD). */
int
route_batch_add (route_t *self, route_batch_t *b, const uint8_t *rec, size_t len, uint32_t n,
                 uint64_t bytes)
{
    size_t need = b->buf_len + bytes + (size_t)n * 6;
    if (need > b->buf_cap) {
        size_t cap = b->buf_cap;
        while (cap < need)
            cap *= 2;
        uint8_t *buf = self->realloc_fn (b->buf, cap);
        if (!buf)
            return -1;
        b->buf = buf, b->buf_cap = cap;
    }
    const uint8_t *p = rec, *end = rec + len;
    while (p < end) {
        scan_field_t f;
        if (scan_field (&p, end, &f) != 0)
            return -1; /* cannot happen: route_measure read the same bytes */
        if (f.num != 2 || s_passes (self, f.data, f.len) != 1)
            continue;
        b->buf[b->buf_len++] = 0x2a; /* Delivery.events: field 5, length-delimited */
        b->buf_len += scan_put_varint (b->buf + b->buf_len, f.len);
        memcpy (b->buf + b->buf_len, f.data, f.len);
        b->buf_len += f.len;
    }
    b->events += n;
    b->bytes += bytes;
    return 0;
}

/* Writes the Delivery header in front of the events: the batch is ready. */
void
route_batch_finish (route_t *self, route_batch_t *b)
{
    if (b->events == 0) {
        b->state = ROUTE_BATCH_ACKED;
        route_batch_release (b);
        return;
    }
    uint8_t hdr[256];
    size_t name_len = strlen (self->cfg->name), n = 0;
    hdr[n++] = 0x0a; /* route */
    n += scan_put_varint (hdr + n, name_len);
    memcpy (hdr + n, self->cfg->name, name_len);
    n += name_len;
    hdr[n++] = 0x10; /* first_offset */
    n += scan_put_varint (hdr + n, b->first);
    hdr[n++] = 0x18; /* last_offset */
    n += scan_put_varint (hdr + n, b->last);
    hdr[n++] = 0x20; /* seal_time */
    n += scan_put_varint (hdr + n, b->seal_time);
    uint8_t *msg = b->buf + self->headroom - n;
    memcpy (msg, hdr, n);
    b->msg = msg;
    b->msg_len = b->buf_len - (self->headroom - n);
    b->state = ROUTE_BATCH_QUEUED;
    b->ready_ms = 0;
}

/* Room for one more batch, so that sealing cannot fail half-way. */
int
route_reserve (route_t *self)
{
    if (self->nbatches == self->batches_cap) {
        size_t cap = self->batches_cap ? self->batches_cap * 2 : 16;
        route_batch_t **a = self->realloc_fn (self->batches, cap * sizeof *a);
        if (!a)
            return -1;
        self->batches = a, self->batches_cap = cap;
    }
    return 0;
}

int
route_push (route_t *self, route_batch_t *b)
{
    if (route_reserve (self) != 0)
        return -1;
    self->batches[self->nbatches++] = b;
    self->sealed_end = b->last;
    return 0;
}

/* Drops the acknowledged prefix and advances the committed offset. */
void
route_advance_commit (route_t *self)
{
    size_t k = 0;
    while (k < self->nbatches && self->batches[k]->state == ROUTE_BATCH_ACKED) {
        self->committed = self->batches[k]->last;
        route_batch_destroy (&self->batches[k]);
        k++;
    }
    if (k) {
        memmove (self->batches, self->batches + k, (self->nbatches - k) * sizeof *self->batches);
        self->nbatches -= k;
        self->commit_dirty = true;
    }
}

int
route_seal (route_t *self)
{
    route_batch_t *b = self->open;
    if (!b || b->events == 0)
        return 0;
    route_batch_t *next = route_batch_new (self, 0);
    if (!next || route_reserve (self) != 0) {
        hm_error ("route %s: out of memory, cannot seal %" PRIu64 "..%" PRIu64 " yet",
                  self->cfg->name, b->first, b->last);
        route_batch_destroy (&next);
        return -1;
    }
    b->seal_time = self->wall_s ();
    route_batch_finish (self, b);
    route_push (self, b); /* cannot fail after route_reserve */
    b->saved = false;
    self->open = next;
    self->st.sealed++;
    hm_debug ("route %s: sealed %" PRIu64 "..%" PRIu64 " (%u events)", self->cfg->name, b->first,
              b->last, b->events);
    return 0;
}

/* Why from sealed_end + 1, not from seq: the state file lists batches
   without holes (route_state.c refuses one), and records between them
   may be missing from the log (a gap: the log lost its tail and its
   numbers were advanced past it). */
int
route_commit_empty (route_t *self, uint64_t seq)
{
    if (self->nbatches == 0) {
        self->committed = self->sealed_end = seq;
        self->commit_dirty = true;
        return 0;
    }
    route_batch_t *tail = self->batches[self->nbatches - 1];
    if (tail->state == ROUTE_BATCH_ACKED && tail->events == 0) {
        tail->last = self->sealed_end = seq;
        tail->saved = false;
        return 0;
    }
    route_batch_t *b = s_batch_alloc (self);
    if (!b || route_reserve (self) != 0) {
        free (b);
        hm_error ("route %s: out of memory, cannot acknowledge %" PRIu64 "..%" PRIu64 " yet",
                  self->cfg->name, self->sealed_end + 1, seq);
        return -1;
    }
    b->first = self->sealed_end + 1;
    b->last = seq;
    b->state = ROUTE_BATCH_ACKED;
    route_push (self, b); /* cannot fail after route_reserve */
    return 0;
}

/* Rebuilt batches whose records have all been read are ready. */
void
route_finish_loaded (route_t *self, uint64_t upto)
{
    for (size_t i = 0; i < self->nbatches; i++) {
        route_batch_t *b = self->batches[i];
        if (b->first > upto)
            break;
        if (b->state == ROUTE_BATCH_LOADING && b->last <= upto)
            route_batch_finish (self, b);
    }
    route_advance_commit (self);
}

void
route_forget_batches (route_t *self)
{
    for (size_t i = 0; i < self->nbatches; i++)
        route_batch_destroy (&self->batches[i]);
    self->nbatches = 0;
}
