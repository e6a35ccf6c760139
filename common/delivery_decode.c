/*  delivery_decode: see delivery_decode.h. */
#include "delivery_decode.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint32_t num;        /* field number */
    int wt;              /* wire type */
    uint64_t val;        /* wt 0: the value */
    const uint8_t *data; /* wt 2: the bytes */
    size_t len;          /* wt 2: their length */
} s_field_t;

/* A varint of at most max bytes; protobuf-c drops the bits past 64, so
   does this. 0, or -1 when it does not end in time. */
static int
s_varint (const uint8_t **pp, const uint8_t *end, int max, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t r = 0;
    for (int i = 0; i < max && p < end; i++) {
        uint8_t b = *p++;
        r |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *pp = p, *v = r;
            return 0;
        }
    }
    return -1;
}

/* One field at *pp; -1 for what this reader leaves to protobuf-c. */
static inline int
s_field (const uint8_t **pp, const uint8_t *end, s_field_t *f)
{
    uint64_t key, len;
    /* One byte, the common case (fields 1..15), first. A tag of 5 bytes at
       most, as protobuf-c's parser reads them. */
    if (*pp < end && **pp < 0x80)
        key = *(*pp)++;
    else if (s_varint (pp, end, 5, &key) != 0 || key > UINT32_MAX)
        return -1;
    if ((key >> 3) == 0)
        return -1;
    f->num = (uint32_t)(key >> 3);
    f->wt = (int)(key & 7);
    switch (f->wt) {
    case 0:
        return s_varint (pp, end, 10, &f->val);
    case 1:
    case 5: {
        size_t n = f->wt == 1 ? 8 : 4;
        if ((size_t)(end - *pp) < n)
            return -1;
        *pp += n;
        return 0;
    }
    case 2:
        if (*pp < end && **pp < 0x80)
            len = *(*pp)++;
        else if (s_varint (pp, end, 5, &len) != 0)
            return -1;
        if (len > (uint64_t)(end - *pp))
            return -1;
        f->data = *pp, f->len = (size_t)len;
        *pp += len;
        return 0;
    default:
        return -1; /* groups and reserved wire types */
    }
}

/* A NUL-terminated copy of a string field, as protobuf-c makes one. */
static char *
s_string (hm_arena_t *arena, const s_field_t *f)
{
    char *s = hm_arena_alloc (arena, f->len + 1);
    if (s) {
        if (f->len)
            memcpy (s, f->data, f->len);
        s[f->len] = '\0';
    }
    return s;
}

/* The same into the scratch's reusable buffer. */
static char *
s_scratch_string (hm_event_scratch_t *sc, const s_field_t *f)
{
    if (f->len + 1 > sc->params_cap) {
        size_t cap = sc->params_cap ? sc->params_cap : 256;
        while (cap < f->len + 1)
            cap *= 2;
        char *p = realloc (sc->params, cap);
        if (!p)
            return NULL;
        sc->params = p, sc->params_cap = cap;
    }
    if (f->len)
        memcpy (sc->params, f->data, f->len);
    sc->params[f->len] = '\0';
    return sc->params;
}

/* Where each bytes field of an hm.Event is, by number (0: not one). */
typedef struct {
    uint16_t has; /* offset of its has_ flag */
    uint16_t val; /* offset of its ProtobufCBinaryData */
} s_slot_t;

#define S_SLOT(field)                                                                              \
    {                                                                                              \
        offsetof (Hm__Event, has_##field), offsetof (Hm__Event, field)                             \
    }
static const s_slot_t s_slots[23] = {
    [1] = S_SLOT (device_id),
    [2] = S_SLOT (client_id),
    [3] = S_SLOT (session),
    [6] = S_SLOT (system_version),
    [7] = S_SLOT (product_version),
    [9] = S_SLOT (timezone),
    [10] = S_SLOT (event),
    [11] = S_SLOT (device_make),
    [12] = S_SLOT (device_model),
    [13] = S_SLOT (system),
    [14] = S_SLOT (system_language),
    [15] = S_SLOT (browser),
    [16] = S_SLOT (browser_version),
    [17] = S_SLOT (product_git_hash),
    [18] = S_SLOT (product_language),
    [19] = S_SLOT (user_id),
    [20] = S_SLOT (tenant_id),
    [21] = S_SLOT (ip),
    [22] = S_SLOT (country),
};

/* Fills e (initialised) from one packed hm.Event that s_event_ok took (so
   every tag, length and wire type is known good: nothing is checked
   twice), parameters into sc's buffer. 0, or -1 out of memory. */
static int
s_event_fill (hm_event_scratch_t *sc, Hm__Event *e, const uint8_t *p, const uint8_t *end)
{
    while (p < end) {
        uint64_t key = 0;
        if (*p < 0x80)
            key = *p++;
        else
            (void)s_varint (&p, end, 5, &key);
        uint64_t num = key >> 3;
        unsigned wt = (unsigned)(key & 7);
        if (wt == 2) {
            uint64_t len = 0;
            if (*p < 0x80)
                len = *p++;
            else
                (void)s_varint (&p, end, 5, &len);
            if (num < 23) { /* a bytes field: 1..22 of wire type 2 are all */
                s_slot_t slot = s_slots[num];
                *(protobuf_c_boolean *)((char *)e + slot.has) = 1;
                ProtobufCBinaryData *b = (ProtobufCBinaryData *)((char *)e + slot.val);
                b->len = (size_t)len;
                b->data = len ? (uint8_t *)p : NULL;
            }
            else if (num == 23) {
                s_field_t f = {.data = p, .len = (size_t)len};
                if (!(e->parameters = s_scratch_string (sc, &f)))
                    return -1;
            }
            p += len;
        }
        else if (wt == 0) {
            uint64_t v = 0;
            (void)s_varint (&p, end, 10, &v);
            if (num == 4) /* nr: uint32 keeps the low 32 bits */
                e->has_nr = 1, e->nr = (uint32_t)v;
            else if (num == 5) /* env: int32 likewise */
                e->has_env = 1, e->env = (int32_t)(uint32_t)v;
            else if (num == 8)
                e->has_at = 1, e->at = v;
        }
        else
            p += wt == 1 ? 8 : 4; /* unknown: protobuf-c keeps it aside, nobody reads it */
    }
    return 0;
}

/* The wire types (a bit each) an hm.Event field may have, by number;
   past 23 a field is unknown and may have any this reader takes. */
#define S_WT(t) (1u << (t))
#define S_WT_ANY (S_WT (0) | S_WT (1) | S_WT (2) | S_WT (5))
static const uint8_t s_event_wts[24] = {
    0, /* field 0 does not exist */
    S_WT (2), S_WT (2), S_WT (2), S_WT (0), S_WT (0), S_WT (2), S_WT (2), S_WT (0),
    S_WT (2), S_WT (2), S_WT (2), S_WT (2), S_WT (2), S_WT (2), S_WT (2), S_WT (2),
    S_WT (2), S_WT (2), S_WT (2), S_WT (2), S_WT (2), S_WT (2), S_WT (2),
};

/* Whether this reader takes the packed hm.Event (the rules of s_field,
   and every known field with its own wire type): every event of a
   delivery is checked before any is read (issue #17), so that what is
   taken is exactly what protobuf-c takes. 0 or -1. */
static int
s_event_ok (const uint8_t *p, const uint8_t *end)
{
    while (p < end) {
        uint64_t key;
        if (*p < 0x80)
            key = *p++;
        else if (s_varint (&p, end, 5, &key) != 0 || key > UINT32_MAX)
            return -1;
        uint64_t num = key >> 3;
        unsigned wt = (unsigned)(key & 7);
        if (!((num < 24 ? s_event_wts[num] : S_WT_ANY) & S_WT (wt)))
            return -1; /* field 0, a known field's other wire type, groups */
        if (wt == 2) {
            uint64_t len;
            if (p < end && *p < 0x80)
                len = *p++;
            else if (s_varint (&p, end, 5, &len) != 0)
                return -1;
            if (len > (uint64_t)(end - p))
                return -1;
            p += len;
        }
        else if (wt == 0) {
            const uint8_t *lim = end - p > 10 ? p + 10 : end;
            while (p < lim && (*p & 0x80))
                p++;
            if (p == lim)
                return -1;
            p++;
        }
        else {
            size_t n = wt == 1 ? 8 : 4;
            if ((size_t)(end - p) < n)
                return -1;
            p += n;
        }
    }
    return 0;
}

void
hm_event_scratch_init (hm_event_scratch_t *self)
{
    hm__event__init (&self->event);
    self->params = NULL;
    self->params_cap = 0;
}

void
hm_event_scratch_free (hm_event_scratch_t *self)
{
    free (self->params);
    hm_event_scratch_init (self);
}

const Hm__Event *
hm_batch_event (const hm_batch_t *batch, size_t i, hm_event_scratch_t *scratch)
{
    if (batch->events)
        return batch->events[i];
    static const Hm__Event s_init = HM__EVENT__INIT;
    Hm__Event *e = &scratch->event;
    *e = s_init;
    const hm_wire_span_t *w = &batch->wire[i];
    /* Checked whole by hm_batch_decode: only the copy can fail. */
    return s_event_fill (scratch, e, w->data, w->data + w->len) == 0 ? e : NULL;
}

void
hm_batch_of_delivery (hm_batch_t *batch, const Hm__Delivery *d)
{
    batch->route = d->route;
    batch->first_offset = d->first_offset;
    batch->last_offset = d->last_offset;
    batch->seal_time = d->seal_time;
    batch->n_events = d->n_events;
    batch->events = d->events;
    batch->wire = NULL;
}

int
hm_batch_decode (hm_arena_t *arena, const uint8_t *data, size_t len, hm_batch_t *batch)
{
    const uint8_t *end = data + len;
    /* First pass: the fields' shapes, every event whole, and their count. */
    size_t n_events = 0;
    unsigned seen = 0; /* required fields: bit per number 1..4 */
    for (const uint8_t *p = data; p < end;) {
        s_field_t f = {0};
        if (s_field (&p, end, &f) != 0)
            return -1;
        bool text = f.num == 1 || f.num == 5; /* route, events; 2..4 are varints */
        if (f.num >= 1 && f.num <= 5 && f.wt != (text ? 2 : 0))
            return -1; /* a known field with another wire type */
        if (f.num == 5) {
            if (s_event_ok (f.data, f.data + f.len) != 0)
                return -1;
            n_events++;
        }
        else if (f.num <= 4)
            seen |= 1u << f.num;
    }
    if (seen != 0x1e)
        return -1;
    hm_wire_span_t *wire = hm_arena_alloc (arena, n_events * sizeof *wire + 1);
    if (!wire)
        return -1;
    batch->route = NULL;
    batch->n_events = 0;
    batch->events = NULL;
    batch->wire = wire;
    for (const uint8_t *p = data; p < end;) {
        s_field_t f = {0};
        (void)s_field (&p, end, &f); /* parsed once already */
        switch (f.num) {
        case 1:
            if (!(batch->route = s_string (arena, &f)))
                return -1;
            break;
        case 2:
            batch->first_offset = f.val;
            break;
        case 3:
            batch->last_offset = f.val;
            break;
        case 4:
            batch->seal_time = f.val;
            break;
        case 5:
            wire[batch->n_events].data = f.data;
            wire[batch->n_events].len = f.len;
            batch->n_events++;
            break;
        default:
            break;
        }
    }
    return 0;
}

int
hm_batch_unpack (hm_arena_t *arena, const uint8_t *data, size_t len, hm_batch_t *batch)
{
    if (hm_batch_decode (arena, data, len, batch) == 0)
        return 0;
    /* Whatever the failed try took stays in the arena until its reset. */
    Hm__Delivery *d = hm__delivery__unpack (&arena->pb, len, data);
    if (!d)
        return -1;
    hm_batch_of_delivery (batch, d);
    return 0;
}

int
hm_append_check (const uint8_t *data, size_t len, uint64_t *batch_id_p, size_t *n_events_p)
{
    const uint8_t *end = data + len;
    bool have_id = false;
    uint64_t batch_id = 0;
    size_t n = 0;
    for (const uint8_t *p = data; p < end;) {
        s_field_t f;
        if (s_field (&p, end, &f) != 0)
            return -1;
        if (f.num == 1) {
            if (f.wt != 0)
                return -1;
            have_id = true, batch_id = f.val;
        }
        else if (f.num == 2) {
            if (f.wt != 2 || s_event_ok (f.data, f.data + f.len) != 0)
                return -1;
            n++;
        }
    }
    if (!have_id)
        return -1;
    *batch_id_p = batch_id, *n_events_p = n;
    return 0;
}
