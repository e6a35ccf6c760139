/*  delivery_decode: an hm.Delivery decoded in place, an hm.AppendRequest
    checked in place (issue #17).

    protobuf-c's unpack copies every bytes field of every event into the
    arena and walks its descriptors field by field: that was ~18 % of the
    file sink's CPU. This reader fills the same Hm__Event structs (so every
    backend reads them as before), one at a time (hm_batch_t below), but
    each bytes field points into the packed message, which must outlive
    the result; only the strings (route, parameters) are copied, to be
    NUL-terminated.

    It takes only what it is sure protobuf-c reads the same way: every
    field of the two messages with its own wire type, unknown fields of
    wire types 0, 1, 2 and 5, canonical tags of up to 5 bytes. Anything
    else (a wrong wire type, a group, a missing required field, a damaged
    length) returns -1 and the caller unpacks with protobuf-c, which
    decides as it always did. tests/unit/test_delivery_decode.c compares
    both on valid and damaged messages. */
#ifndef HM_DELIVERY_DECODE_H
#define HM_DELIVERY_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "pipeline.pb-c.h"

/* A decoded Delivery, as the sinks hold it (issue #17: memory). In the
   lazy form only each event's packed bytes are kept (16 bytes an event,
   pointing into the Delivery, which must outlive the batch), and an event
   is decoded when it is read, into a scratch its reader owns: a batch of
   10000 decoded Hm__Events was 5 MB, five times its wire size. The
   unpacked form (protobuf-c's, when this reader is not sure) has every
   event decoded. Read events with hm_batch_event in either form. */
typedef struct {
    const uint8_t *data;
    size_t len;
} hm_wire_span_t;

typedef struct {
    const char *route;
    uint64_t first_offset;
    uint64_t last_offset;
    uint64_t seal_time;
    size_t n_events;
    Hm__Event *const *events;   /* unpacked form: every event; lazy form: NULL */
    const hm_wire_span_t *wire; /* lazy form: every event's packed bytes */
} hm_batch_t;

/* One lazily decoded event at a time, and the NUL-terminated copy of its
   parameters (grown as needed, kept across events). */
typedef struct {
    Hm__Event event;
    char *params;
    size_t params_cap;
} hm_event_scratch_t;

void hm_event_scratch_init (hm_event_scratch_t *self);
void hm_event_scratch_free (hm_event_scratch_t *self);

/* Event i (< n_events) of batch: the unpacked form's own, or decoded into
   scratch (valid until scratch's next use). NULL only out of memory: every
   event of a lazy batch was checked whole when it was decoded. */
const Hm__Event *hm_batch_event (const hm_batch_t *batch, size_t i, hm_event_scratch_t *scratch);

/* The unpacked form of an Hm__Delivery (which must outlive batch). */
void hm_batch_of_delivery (hm_batch_t *batch, const Hm__Delivery *d);

/* The Delivery in data[0..len) in the lazy form, its route and spans in
   arena: 0, or -1 when the message is not one this reader takes (see
   above) or memory ran out. Every event is checked whole here, so that
   what is taken is exactly what protobuf-c takes. */
int hm_batch_decode (hm_arena_t *arena, const uint8_t *data, size_t len, hm_batch_t *batch);

/* The router's check of an append (issue #17: protobuf-c's unpack was
   ~20 % of its CPU, only to validate): does data hold an hm.AppendRequest
   this reader takes, under the rules above? 0 with its batch_id and event
   count; -1 when it is not sure, and protobuf-c must decide. */
int hm_append_check (const uint8_t *data, size_t len, uint64_t *batch_id, size_t *n_events);

/* hm_batch_decode, else protobuf-c's unpack (copying) into arena, the
   unpacked form: 0, or -1 when protobuf-c refuses it too (or memory ran
   out). */
int hm_batch_unpack (hm_arena_t *arena, const uint8_t *data, size_t len, hm_batch_t *batch);

#endif
