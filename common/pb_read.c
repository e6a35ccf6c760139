/*  pb_read: protobuf-c's unpack, zero-copy, for the Collection tree (see
    pb_read.h). Each message is walked twice like protobuf-c does: the
    first walk checks the framing, counts the repeated fields and notes the
    required ones, the second fills the structure (the arrays are then
    allocated once at their size). The rules below are protobuf-c 1.4's,
    named where they are not the obvious ones. */
#include "pb_read.h"

#include <limits.h>
#include <string.h>

/* Required fields are noted in a 64-bit mask. */
#define S_MAX_FIELDS 64

enum { S_VARINT = 0, S_FIXED64 = 1, S_LENGTH = 2, S_FIXED32 = 5 };

/* A field's key: at most 5 bytes; protobuf-c refuses a key whose first
   byte holds no field number bits (even if later bytes would) and reads
   the number as 32 bits. Returns the key's length, 0 if invalid. */
static size_t
s_key (const uint8_t *p, size_t rem, uint32_t *id, unsigned *wire)
{
    if ((p[0] & 0xf8) == 0)
        return 0;
    *wire = p[0] & 7;
    uint32_t tag = (uint32_t)(p[0] & 0x7f) >> 3;
    if (!(p[0] & 0x80)) {
        *id = tag;
        return 1;
    }
    size_t max = rem < 5 ? rem : 5;
    unsigned shift = 4;
    for (size_t i = 1; i < max; i++) {
        if (!(p[i] & 0x80)) {
            *id = tag | (uint32_t)p[i] << shift;
            return i + 1;
        }
        tag |= (uint32_t)(p[i] & 0x7f) << shift;
        shift += 7;
    }
    return 0;
}

/* The bytes a field's value takes after its key, 0 if invalid: a varint
   of at most 10 bytes, a length of at most 5 bytes and its data, 8 or 4
   fixed bytes. *hdr gets the length's own size (0 for the others).
   Groups (3, 4) and wire types 6 and 7 are refused, known field or not. */
static size_t
s_extent (const uint8_t *p, size_t rem, unsigned wire, size_t *hdr)
{
    *hdr = 0;
    if (wire == S_VARINT) {
        size_t max = rem < 10 ? rem : 10;
        for (size_t i = 0; i < max; i++)
            if (!(p[i] & 0x80))
                return i + 1;
        return 0;
    }
    if (wire == S_FIXED64)
        return rem < 8 ? 0 : 8;
    if (wire == S_FIXED32)
        return rem < 4 ? 0 : 4;
    if (wire != S_LENGTH)
        return 0;
    size_t max = rem < 5 ? rem : 5, val = 0, i;
    for (i = 0; i < max; i++) {
        val |= (size_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80))
            break;
    }
    if (i == max)
        return 0;
    *hdr = i + 1;
    if (val > INT_MAX || val > rem - *hdr)
        return 0;
    return *hdr + val;
}

/* A varint's value as protobuf-c reads it: 7 bits a byte, the tenth
   byte's bits past 64 dropped. */
static uint64_t
s_varint (const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
    return v;
}

/* Index of field id in desc->fields (sorted by number), or -1. */
static int
s_field (const ProtobufCMessageDescriptor *desc, uint32_t id)
{
    unsigned n = desc->n_fields;
    /* Fields numbered 1..n in order: the usual case, one look. */
    if (id >= 1 && id <= n && desc->fields[id - 1].id == id)
        return (int)id - 1;
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (desc->fields[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && desc->fields[lo].id == id ? (int)lo : -1;
}

#define S_MEMBER(type, msg, offset) ((type *)((char *)(msg) + (offset)))

ProtobufCMessage *
hm_pb_read (const ProtobufCMessageDescriptor *desc, hm_arena_t *arena, size_t len,
            const uint8_t *data)
{
    unsigned nf = desc->n_fields;
    if (nf > S_MAX_FIELDS)
        return NULL;
    size_t counts[S_MAX_FIELDS];
    memset (counts, 0, nf * sizeof counts[0]);
    uint64_t seen = 0;
    uint32_t id;
    unsigned wire;
    size_t hdr;
    /* First walk: framing, repeated counts, required fields seen. */
    for (size_t pos = 0; pos < len;) {
        size_t kl = s_key (data + pos, len - pos, &id, &wire);
        if (!kl)
            return NULL;
        pos += kl;
        size_t ext = s_extent (data + pos, len - pos, wire, &hdr);
        if (!ext)
            return NULL;
        pos += ext;
        int fi = s_field (desc, id);
        if (fi < 0)
            continue;
        if (desc->fields[fi].label == PROTOBUF_C_LABEL_REPEATED)
            counts[fi]++;
        else if (desc->fields[fi].label == PROTOBUF_C_LABEL_REQUIRED)
            seen |= (uint64_t)1 << fi;
    }
    /* protobuf-c lets a required field with a default value be absent. */
    for (unsigned i = 0; i < nf; i++)
        if (desc->fields[i].label == PROTOBUF_C_LABEL_REQUIRED && !desc->fields[i].default_value &&
            !(seen & (uint64_t)1 << i))
            return NULL;

    ProtobufCMessage *msg = hm_arena_alloc (arena, desc->sizeof_message);
    if (!msg)
        return NULL;
    desc->message_init (msg);
    for (unsigned i = 0; i < nf; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (f->label != PROTOBUF_C_LABEL_REPEATED || !counts[i])
            continue;
        /* Only repeated sub-messages: an array of pointers. */
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            return NULL;
        void **array = hm_arena_alloc (arena, counts[i] * sizeof (void *));
        if (!array)
            return NULL;
        *S_MEMBER (void **, msg, f->offset) = array;
    }
    /* Second walk: the values (the framing is known good now). */
    for (size_t pos = 0; pos < len;) {
        pos += s_key (data + pos, len - pos, &id, &wire);
        size_t ext = s_extent (data + pos, len - pos, wire, &hdr);
        const uint8_t *v = data + pos + hdr;
        size_t vlen = ext - hdr;
        pos += ext;
        int fi = s_field (desc, id);
        if (fi < 0)
            continue;
        const ProtobufCFieldDescriptor *f = &desc->fields[fi];
        void *member = S_MEMBER (void, msg, f->offset);
        switch (f->type) {
        case PROTOBUF_C_TYPE_BYTES:
            if (wire != S_LENGTH)
                return NULL;
            /* Zero-copy; empty is {0, NULL} as protobuf-c leaves it. */
            *(ProtobufCBinaryData *)member =
                (ProtobufCBinaryData){vlen, vlen ? (uint8_t *)v : NULL};
            break;
        case PROTOBUF_C_TYPE_UINT64:
            if (wire != S_VARINT)
                return NULL;
            *(uint64_t *)member = s_varint (v, vlen);
            break;
        case PROTOBUF_C_TYPE_UINT32:
            if (wire != S_VARINT)
                return NULL;
            *(uint32_t *)member = (uint32_t)s_varint (v, vlen);
            break;
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_ENUM:
            if (wire != S_VARINT)
                return NULL;
            /* Any number: an enum's values are the caller's check. */
            *(int32_t *)member = (int32_t)(uint32_t)s_varint (v, vlen);
            break;
        case PROTOBUF_C_TYPE_MESSAGE: {
            if (wire != S_LENGTH || f->label != PROTOBUF_C_LABEL_REPEATED)
                return NULL;
            ProtobufCMessage *sub = hm_pb_read (f->descriptor, arena, vlen, v);
            if (!sub)
                return NULL;
            size_t *n = S_MEMBER (size_t, msg, f->quantifier_offset);
            (*S_MEMBER (ProtobufCMessage **, msg, f->offset))[(*n)++] = sub;
            continue;
        }
        default:
            return NULL; /* a kind this reader does not handle */
        }
        if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset)
            *S_MEMBER (protobuf_c_boolean, msg, f->quantifier_offset) = 1;
    }
    return msg;
}
