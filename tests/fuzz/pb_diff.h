/*  pb_diff: hm_pb_read (common/pb_read.h) against protobuf-c's unpack on
    one input, for fuzz_collection and test_pb_read: both must accept or
    both refuse, and what they decode must be the same, field by field
    (unknown fields aside: hm_pb_read skips them). hm_pb_diff_fields, the
    field-by-field comparison by descriptor, also serves fuzz_wire, and
    hm_pb_pack_events, protobuf-c's packing of events, is the reference
    for the ingest's event writer (fuzz_collection, test_event_pack).
    hm_pb_diff_batch and hm_pb_diff_batch_lines hold a sink's batch
    (common/delivery_decode.h) against protobuf-c's Delivery (fuzz_wire,
    test_delivery_decode). */
#ifndef HM_PB_DIFF_H
#define HM_PB_DIFF_H

#include <stdbool.h>
#include <string.h>

#include "arena.h"
#include "delivery_decode.h"
#include "encode.h"
#include "hm_buf.h"
#include "payload.pb-c.h"
#include "pb_read.h"
#include "pipeline.pb-c.h"

#define S_PB_MEMBER(type, msg, offset) ((const type *)((const char *)(msg) + (offset)))

/* NULL when both messages hold the same fields, else the first field
   that differs. */
static inline const char *
hm_pb_diff_fields (const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    const ProtobufCMessageDescriptor *d = a->descriptor;
    if (b->descriptor != d)
        return "descriptor";
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
            *S_PB_MEMBER (protobuf_c_boolean, a, f->quantifier_offset) !=
                *S_PB_MEMBER (protobuf_c_boolean, b, f->quantifier_offset))
            return f->name;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *S_PB_MEMBER (size_t, a, f->quantifier_offset);
            if (f->type != PROTOBUF_C_TYPE_MESSAGE ||
                n != *S_PB_MEMBER (size_t, b, f->quantifier_offset))
                return f->name;
            ProtobufCMessage *const *x =
                *(ProtobufCMessage * *const *)((const char *)a + f->offset);
            ProtobufCMessage *const *y =
                *(ProtobufCMessage * *const *)((const char *)b + f->offset);
            for (size_t k = 0; k < n; k++) {
                const char *why = hm_pb_diff_fields (x[k], y[k]);
                if (why)
                    return why;
            }
            continue;
        }
        const void *x = S_PB_MEMBER (char, a, f->offset), *y = S_PB_MEMBER (char, b, f->offset);
        if (f->type == PROTOBUF_C_TYPE_BYTES) {
            const ProtobufCBinaryData *u = x, *v = y;
            /* an empty value is {0, NULL} in both */
            if (u->len != v->len || !u->data != !v->data ||
                (u->len && memcmp (u->data, v->data, u->len) != 0))
                return f->name;
        }
        else if (f->type == PROTOBUF_C_TYPE_STRING) {
            /* protobuf-c's copy ends at the first NUL for a C reader too */
            const char *u = *(const char *const *)x, *v = *(const char *const *)y;
            if (!u != !v || (u && strcmp (u, v) != 0))
                return f->name;
        }
        else if (f->type == PROTOBUF_C_TYPE_UINT64) {
            if (*(const uint64_t *)x != *(const uint64_t *)y)
                return f->name;
        }
        else if (f->type == PROTOBUF_C_TYPE_UINT32 || f->type == PROTOBUF_C_TYPE_INT32 ||
                 f->type == PROTOBUF_C_TYPE_ENUM) {
            if (*(const uint32_t *)x != *(const uint32_t *)y)
                return f->name;
        }
        else
            return "a field of a kind hm_pb_read does not handle";
    }
    return NULL;
}

/* Decodes the len bytes at data both ways. Returns NULL when both agree,
   else what differs. *accepted_p: whether they accepted it. */
static inline const char *
hm_pb_diff (hm_arena_t *arena, size_t len, const uint8_t *data, bool *accepted_p)
{
    Collection *ref = collection__unpack (NULL, len, data);
    ProtobufCMessage *got = hm_pb_read (&collection__descriptor, arena, len, data);
    *accepted_p = ref != NULL;
    const char *why = NULL;
    if (!ref != !got)
        why = ref ? "hm_pb_read refused what protobuf-c accepted"
                  : "hm_pb_read accepted what protobuf-c refused";
    else if (ref)
        why = hm_pb_diff_fields (&ref->base, got);
    if (ref)
        collection__free_unpacked (ref, NULL);
    hm_arena_reset (arena);
    return why;
}

/* The reference for hm_events_write (common/event_pack.c): each event
   packed by protobuf-c as field 2 of an AppendRequest (tag 0x12, varint
   length), appended to out. -1: out of memory. */
static inline int
hm_pb_pack_events (hm_buf_t *out, const Hm__Event *events, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = hm__event__get_packed_size (&events[i]);
        uint8_t head[11] = {0x12};
        size_t hl = 1;
        for (size_t v = len;; v >>= 7) {
            head[hl++] = (uint8_t)(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
            if (v < 0x80)
                break;
        }
        if (hm_buf_append (out, head, hl) != 0 || hm_buf_reserve (out, len) != 0)
            return -1;
        out->len += hm__event__pack (&events[i], (uint8_t *)out->data + out->len);
    }
    return 0;
}

/* Batch a's fields against protobuf-c's b: every event decoded
   (hm_batch_event) and compared by descriptor. NULL, or what differs. */
static inline const char *
hm_pb_diff_batch (const hm_batch_t *a, const Hm__Delivery *b)
{
    if (!a->route || !b->route || strcmp (a->route, b->route) != 0)
        return "route";
    if (a->first_offset != b->first_offset || a->last_offset != b->last_offset)
        return "offsets";
    if (a->seal_time != b->seal_time)
        return "seal_time";
    if (a->n_events != b->n_events)
        return "n_events";
    hm_event_scratch_t sc;
    hm_event_scratch_init (&sc);
    const char *why = NULL;
    for (size_t i = 0; i < a->n_events && !why; i++) {
        const Hm__Event *e = hm_batch_event (a, i, &sc);
        why = e ? hm_pb_diff_fields (&e->base, &b->events[i]->base) : "an event did not decode";
    }
    hm_event_scratch_free (&sc);
    return why;
}

/* Same JSON and CSV lines for every event (the sinks' output), a's
   events read through hm_batch_event. must_encode: an encoder failing on
   either side is a difference too (else both failing alike is the same).
   NULL, or what differs. */
static inline const char *
hm_pb_diff_batch_lines (const hm_batch_t *a, const Hm__Delivery *b, bool must_encode)
{
    hm_buf_t ja, jb;
    hm_buf_init (&ja, 0);
    hm_buf_init (&jb, 0);
    hm_event_scratch_t sc;
    hm_event_scratch_init (&sc);
    const char *why = a->n_events == b->n_events ? NULL : "n_events";
    for (size_t i = 0; i < a->n_events && !why; i++) {
        hm_buf_reset (&ja);
        hm_buf_reset (&jb);
        const Hm__Event *e = hm_batch_event (a, i, &sc);
        if (!e) {
            why = "an event did not decode";
            break;
        }
        int ra = hm_encode_json (&ja, e) | hm_encode_csv (&ja, e);
        int rb = hm_encode_json (&jb, b->events[i]) | hm_encode_csv (&jb, b->events[i]);
        if (must_encode && (ra || rb))
            why = "an event does not encode";
        else if (ra != rb || ja.len != jb.len || (ja.len && memcmp (ja.data, jb.data, ja.len) != 0))
            why = "an event encodes differently";
    }
    hm_event_scratch_free (&sc);
    hm_buf_free (&ja);
    hm_buf_free (&jb);
    return why;
}

#endif
