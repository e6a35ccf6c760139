/*  tap: the router's PUB socket of every appended record (ARCHITECTURE
    section 3), best effort, with the memory it may hold bounded in bytes.

    ZeroMQ bounds a PUB socket's queue per subscriber in messages only; a
    record can be 64 MiB, so a subscriber that stops reading could pin
    gigabytes at the old high-water mark of 10,000 messages. Each record
    goes out without a copy, in a message whose free callback gives its
    bytes back; a record that would take the bytes held past max_bytes is
    not published, and counted as dropped (hamustro-ctl status:
    counters.tap_dropped). */
#ifndef HM_ROUTER_TAP_H
#define HM_ROUTER_TAP_H

#include <stdint.h>
#include <zmq.h>

#define TAP_MAX_BYTES (64u << 20) /* bytes of records the tap holds at most */

typedef struct _tap_t tap_t;

/* sock: the PUB socket (not owned). NULL on out of memory. */
tap_t *tap_new (void *sock, uint64_t max_bytes);
/* Call after the socket's context was terminated: queued messages give
   their bytes back into this object until then. */
void tap_destroy (tap_t **self_p);
/* Publishes record seq, taking body (closed or handed to ZeroMQ). Returns
   0 when published, -1 when dropped (over the bound, or a send error). */
int tap_publish (tap_t *self, uint64_t seq, zmq_msg_t *body);
/* The JSON tap: publishes each event of record (an AppendRequest, len
   bytes) as one single-frame message, the JSON line the file sink writes
   (common/encode.h, '\n' included). Same bound, counted per line: a line
   past it is dropped. Returns 0 when all went out, -1 when any was dropped. */
int tap_publish_json (tap_t *self, const void *record, size_t len);
/* Records (JSON tap: lines) dropped so far, and bytes held right now. */
uint64_t tap_dropped (const tap_t *self);
uint64_t tap_held_bytes (const tap_t *self);

#endif
