/*  pb_read: a zero-copy protobuf reader for the client's Collection (and
    any message tree made only of bytes, uint32, uint64, int32, enum and
    repeated sub-message fields), driven by protobuf-c's own descriptors.

    protobuf-c's unpack copies every bytes value into its own allocation and
    walks each message twice through generic code; on the ingest that was
    the largest user-space cost per event. This reader fills the same
    structures (from the arena, so hm_arena_reset frees them), but a bytes
    value points into the input, which must outlive the message.

    It accepts and refuses exactly what protobuf-c 1.4 does: truncated
    fields, a zero or over-long tag (more than 5 bytes), an over-long
    varint (more than 10 bytes) or length (more than 5 bytes), wire types
    3, 4, 6 and 7 (groups are not supported) even in unknown fields, a known
    field with the wrong wire type, a missing required field. Values are
    read as protobuf-c reads them (an over-long uint32 keeps its low 32
    bits, the last of a repeated singular field wins, an empty bytes value
    is {0, NULL}); unknown fields are skipped, not kept (n_unknown_fields
    stays 0). tests/unit/test_pb_read.c and fuzz_collection compare both
    readers on generated, mutated and corpus inputs. */
#ifndef HM_PB_READ_H
#define HM_PB_READ_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "arena.h"

/* Decodes a message of type desc from the len bytes at data into arena.
   NULL when the input is not a valid message (or out of memory, or desc
   has a field of a kind this reader does not handle). */
ProtobufCMessage *hm_pb_read (const ProtobufCMessageDescriptor *desc, hm_arena_t *arena, size_t len,
                              const uint8_t *data);

#endif
