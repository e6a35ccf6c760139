/*  delivery_decode: an hm.Delivery decoded in place, an hm.AppendRequest
    checked in place (issue #17).

    protobuf-c's unpack copies every bytes field of every event into the
    arena and walks its descriptors field by field: that was ~18 % of the
    file sink's CPU. This reader fills the same Hm__Delivery and Hm__Event
    structs (so every backend reads them as before), but each bytes field
    points into the packed message, which must outlive the result; only
    the strings (route, parameters) are copied, to be NUL-terminated.

    It takes only what it is sure protobuf-c reads the same way: every
    field of the two messages with its own wire type, unknown fields of
    wire types 0, 1, 2 and 5, canonical tags of up to 5 bytes. Anything
    else (a wrong wire type, a group, a missing required field, a damaged
    length) returns NULL and the caller unpacks with protobuf-c, which
    decides as it always did. tests/unit/test_delivery_decode.c compares
    both on valid and damaged messages. */
#ifndef HM_DELIVERY_DECODE_H
#define HM_DELIVERY_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "pipeline.pb-c.h"

/* The Delivery in data[0..len), its structs and strings in arena; NULL when
   the message is not one this reader takes (see above) or memory ran out. */
Hm__Delivery *hm_delivery_decode (hm_arena_t *arena, const uint8_t *data, size_t len);

/* The router's check of an append (issue #17: protobuf-c's unpack was
   ~20 % of its CPU, only to validate): does data hold an hm.AppendRequest
   this reader takes, under the rules above? 0 with its batch_id and event
   count; -1 when it is not sure, and protobuf-c must decide. */
int hm_append_check (const uint8_t *data, size_t len, uint64_t *batch_id, size_t *n_events);

/* hm_delivery_decode, else protobuf-c's unpack (copying) into arena. */
Hm__Delivery *hm_delivery_unpack (hm_arena_t *arena, const uint8_t *data, size_t len);

#endif
