/*  scan: reads the protobuf wire format of our own records in place,
    without unpacking them (see route.c for why), and the route filter's
    glob. Every length is checked against the end of the buffer: a damaged
    record is reported (-1), never trusted. */
#ifndef HM_ROUTER_SCAN_H
#define HM_ROUTER_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t num;        /* field number */
    int wt;              /* wire type: 0 varint, 1 fixed64, 2 bytes, 5 fixed32 */
    uint64_t val;        /* wt 0: the value */
    const uint8_t *data; /* wt 2: the bytes */
    size_t len;          /* wt 2: their length */
} scan_field_t;

/* Reads the field at *pp (< end) and moves *pp past it. 0, or -1 if it
   does not parse (groups, bad lengths, truncated varints). */
int scan_field (const uint8_t **pp, const uint8_t *end, scan_field_t *f);

/* Can the routes read this record (a packed AppendRequest): its own fields
   and every event's? 0 or -1. protobuf-c accepts a little more (a field
   number past 2^29-1 is kept as an unknown field), so the router checks
   this too before it appends: what it acknowledges, every route can read. */
int scan_record_ok (const uint8_t *rec, size_t len);

/* Writes v as a varint into p (at most 10 bytes); returns its length. */
size_t scan_put_varint (uint8_t *p, uint64_t v);

/* '*' matches any run of bytes, '?' exactly one; text is counted. An
   event name may hold NUL bytes (clients send them, the original kept
   them): the whole name is matched, a NUL being a byte like any other, so
   '?' and '*' match it; the pattern is a C string (from the config), so no
   literal in it is a NUL and none matches one. "ctl?*" matches
   "ctl\0\1"; "ctl" does not. */
bool scan_glob (const char *pattern, const char *text, size_t text_len);

/* Does the packed hm.Event pass a filter on its name (glob, NULL: any)
   and env (-1: any; an absent env is 0, the proto2 default)?
   1 yes, 0 no, -1 if the event does not parse. */
int scan_event_passes (const char *filter_event, int filter_env, const uint8_t *ev, size_t len);

#endif
