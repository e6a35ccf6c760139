/*  pb_read: protobuf-c's unpack, zero-copy, for the Collection tree (see
    pb_read.h). Each message is walked once (protobuf-c walks twice, to
    size its arrays first): a repeated field's array grows in the arena,
    doubling. The rules below are protobuf-c 1.4's, named where they are
    not the obvious ones; a refusal anywhere refuses the whole input, so
    where in the walk it is found does not matter. */
#include "pb_read.h"

#include <limits.h>
#include <string.h>

/* Required fields are noted in a 64-bit mask. */
#define S_MAX_FIELDS 64
/* Repeated fields a message may have (the client's have one). */
#define S_MAX_REPEATED 4
/* A repeated field's first array. */
#define S_FIRST_CAP 8

enum { S_VARINT = 0, S_FIXED64 = 1, S_LENGTH = 2, S_FIXED32 = 5 };

/* A field's key: at most 5 bytes; protobuf-c refuses a key whose first
   byte holds no field number bits (even if later bytes would) and reads
   the number as 32 bits. Returns the key's length, 0 if invalid. */
static inline size_t
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
static inline size_t
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
    if (rem && p[0] < 0x80) { /* the usual one-byte length */
        *hdr = 1;
        return p[0] > rem - 1 ? 0 : 1 + (size_t)p[0];
    }
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
static inline uint64_t
s_varint (const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
    return v;
}

/* Index of field id in desc->fields (sorted by number), or -1. */
static inline int
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

/* A repeated field met in a message, and its array's room. */
typedef struct {
    int field;
    size_t cap;
} s_repeated_t;

/* Appends sub to the repeated field f of msg, growing its array. */
static int
s_append (hm_arena_t *arena, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, size_t *cap,
          ProtobufCMessage *sub)
{
    size_t *n = S_MEMBER (size_t, msg, f->quantifier_offset);
    ProtobufCMessage ***array = S_MEMBER (ProtobufCMessage **, msg, f->offset);
    if (*n == *cap) {
        size_t grown = *cap ? *cap * 2 : S_FIRST_CAP;
        ProtobufCMessage **a = hm_arena_alloc (arena, grown * sizeof *a);
        if (!a)
            return -1;
        if (*n)
            memcpy (a, *array, *n * sizeof *a);
        *array = a;
        *cap = grown;
    }
    (*array)[(*n)++] = sub;
    return 0;
}

ProtobufCMessage *
hm_pb_read (const ProtobufCMessageDescriptor *desc, hm_arena_t *arena, size_t len,
            const uint8_t *data)
{
    unsigned nf = desc->n_fields;
    if (nf > S_MAX_FIELDS)
        return NULL;
    ProtobufCMessage *msg = hm_arena_alloc (arena, desc->sizeof_message);
    if (!msg)
        return NULL;
    desc->message_init (msg);
    uint64_t seen = 0;
    s_repeated_t rep[S_MAX_REPEATED];
    unsigned n_rep = 0;
    for (size_t pos = 0; pos < len;) {
        uint32_t id;
        unsigned wire;
        size_t hdr;
        size_t kl = s_key (data + pos, len - pos, &id, &wire);
        if (!kl)
            return NULL;
        pos += kl;
        size_t ext = s_extent (data + pos, len - pos, wire, &hdr);
        if (!ext)
            return NULL;
        const uint8_t *v = data + pos + hdr;
        size_t vlen = ext - hdr;
        pos += ext;
        int fi = s_field (desc, id);
        if (fi < 0)
            continue; /* unknown: skipped once its framing is known good */
        const ProtobufCFieldDescriptor *f = &desc->fields[fi];
        void *member = S_MEMBER (void, msg, f->offset);
        if (f->label == PROTOBUF_C_LABEL_REQUIRED)
            seen |= (uint64_t)1 << fi;
        switch (f->type) {
        case PROTOBUF_C_TYPE_BYTES:
            if (wire != S_LENGTH || f->label == PROTOBUF_C_LABEL_REPEATED)
                return NULL;
            /* Zero-copy; empty is {0, NULL} as protobuf-c leaves it. */
            *(ProtobufCBinaryData *)member =
                (ProtobufCBinaryData){vlen, vlen ? (uint8_t *)v : NULL};
            break;
        case PROTOBUF_C_TYPE_UINT64:
            if (wire != S_VARINT || f->label == PROTOBUF_C_LABEL_REPEATED)
                return NULL;
            *(uint64_t *)member = s_varint (v, vlen);
            break;
        case PROTOBUF_C_TYPE_UINT32:
            if (wire != S_VARINT || f->label == PROTOBUF_C_LABEL_REPEATED)
                return NULL;
            *(uint32_t *)member = (uint32_t)s_varint (v, vlen);
            break;
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_ENUM:
            if (wire != S_VARINT || f->label == PROTOBUF_C_LABEL_REPEATED)
                return NULL;
            /* Any number: an enum's values are the caller's check. */
            *(int32_t *)member = (int32_t)(uint32_t)s_varint (v, vlen);
            break;
        case PROTOBUF_C_TYPE_MESSAGE: {
            if (wire != S_LENGTH || f->label != PROTOBUF_C_LABEL_REPEATED)
                return NULL;
            unsigned r = 0;
            while (r < n_rep && rep[r].field != fi)
                r++;
            if (r == n_rep) {
                if (n_rep == S_MAX_REPEATED)
                    return NULL;
                rep[n_rep++] = (s_repeated_t){fi, 0};
            }
            ProtobufCMessage *sub = hm_pb_read (f->descriptor, arena, vlen, v);
            if (!sub || s_append (arena, msg, f, &rep[r].cap, sub) != 0)
                return NULL;
            continue;
        }
        default:
            return NULL; /* a kind this reader does not handle */
        }
        if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset)
            *S_MEMBER (protobuf_c_boolean, msg, f->quantifier_offset) = 1;
    }
    /* protobuf-c lets a required field with a default value be absent. */
    for (unsigned i = 0; i < nf; i++)
        if (desc->fields[i].label == PROTOBUF_C_LABEL_REQUIRED && !desc->fields[i].default_value &&
            !(seen & (uint64_t)1 << i))
            return NULL;
    return msg;
}
