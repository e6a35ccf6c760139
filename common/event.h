/*  event: turns one client Collection into the pipeline's flattened events
    (ARCHITECTURE section 5) and resolves the client IP. Used by the ingest
    and by hamustro-push. */
#ifndef HM_EVENT_H
#define HM_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "payload.pb-c.h"
#include "pipeline.pb-c.h"

#include "client_ip.h" /* hm_client_ip, hm_mask_ip: their home before client_ip.c */
#include "hm_buf.h"

/* The client's strings are protobuf `bytes` (proto/payload.proto says why):
   a value is (data, len) and may hold NUL bytes; data may be NULL when
   len is 0. */

/* A bytes value over a C string (NULL reads as empty); s is not copied.
   For tests and tools, whose own strings hold no NUL. */
static inline ProtobufCBinaryData
hm_bytes (const char *s)
{
    return (ProtobufCBinaryData){s ? strlen (s) : 0, (uint8_t *)s};
}

/* Sets an optional bytes member (and its has_ flag) to a C string; NULL
   leaves it absent. */
static inline void
hm_bytes_set (protobuf_c_boolean *has, ProtobufCBinaryData *b, const char *s)
{
    *has = s != NULL;
    *b = hm_bytes (s);
}
#define HM_SET_STR(msg, field, text) hm_bytes_set (&(msg)->has_##field, &(msg)->field, (text))

/* Whether a bytes value holds exactly the len bytes at s. */
static inline bool
hm_bytes_eq (ProtobufCBinaryData b, const void *s, size_t len)
{
    return b.len == len && (len == 0 || memcmp (b.data, s, len) == 0);
}

/* Name of an Environment number ("PRODUCTION"...), or NULL if unknown. */
const char *hm_env_name (int env);
/* Number for a name, or -1. */
int hm_env_from_name (const char *name);

/* Renders parameters as the original did: a JSON object {name: value},
   keys sorted bytewise (a NUL is a byte like any other: "a" < "a\0" < "ab"),
   a repeated name keeps its last value, Go's string escaping (a NUL is
   written \u0000, so the text holds none); "{}" when there are none. Caller frees. NULL on out of
   memory. */
char *hm_parameters_json (Parameter **params, size_t n);
/* The same text appended to out. Returns 0, or -1 (out as it was). */
int hm_parameters_json_append (hm_buf_t *out, Parameter **params, size_t n);

/* Builds the events of a collection: events[i] for payloads[i], fields
   copied or pointing into the collection (free with hm_events_free, which
   frees only what hm_events_build allocated; the collection must outlive
   the events). fallback_ip is used when a payload has no ip; masked_ip
   applies hm_mask_ip (an ip holding a NUL byte is no address: it is kept
   as sent, like any other text hm_mask_ip does not read as one). Returns an array of n_payloads
   events or NULL. */
Hm__Event *hm_events_build (const Collection *c, const char *fallback_ip, bool masked_ip);
void hm_events_free (Hm__Event *events, size_t n);

/* Appends to out, for each payload of c, a field `key` (a one-byte
   length-delimited key: 0x12 is AppendRequest.events) holding the Event
   hm_events_build makes for it, packed: the bytes hm__event__pack would
   write, without building the events or copying their fields first
   (event_pack.c; the ingest's hot path). scratch: the caller's reusable
   room for a payload's parameters and ip. Returns 0, or -1 when out of
   memory or past out's limit, out then as it was. */
int hm_events_write (hm_buf_t *out, const Collection *c, const char *fallback_ip, bool masked_ip,
                     uint8_t key, hm_buf_t *scratch);

#endif
