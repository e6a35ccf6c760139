/*  tap: see tap.h.

    Why a free callback and not a copy: the record's bytes are the frame
    the append socket received, written to the log and then handed on
    (server.c); a copy per record would cost the append path. So the tap's
    message points at the received frame's bytes, and the hint keeps that
    frame alive (a reference, not a copy) until ZeroMQ has sent the message
    to every subscriber or dropped it. The callback runs in whichever
    thread lets go last (often ZeroMQ's I/O thread): the byte count is
    atomic. */
#include "tap.h"

#include "encode.h"
#include "hm_buf.h"
#include "pipeline.pb-c.h"
#include "wire.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct _tap_t {
    void *sock;               /* the PUB socket (not owned) */
    uint64_t max_bytes;       /* bound on held */
    _Atomic uint64_t held;    /* bytes of records published and not yet let go */
    _Atomic uint64_t dropped; /* records not published */
};

typedef struct {
    zmq_msg_t frame; /* the received record: keeps its bytes alive */
    size_t len;      /* its size, given back to held */
    tap_t *tap;      /* whose count */
} s_hold_t;

tap_t *
tap_new (void *sock, uint64_t max_bytes)
{
    tap_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->sock = sock;
    self->max_bytes = max_bytes;
    atomic_init (&self->held, 0);
    atomic_init (&self->dropped, 0);
    return self;
}

void
tap_destroy (tap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free (*self_p);
    *self_p = NULL;
}

static void
s_release (void *data, void *hint)
{
    (void)data;
    s_hold_t *h = hint;
    atomic_fetch_sub (&h->tap->held, h->len);
    zmq_msg_close (&h->frame);
    free (h);
}

static int
s_drop (tap_t *self, zmq_msg_t *body)
{
    atomic_fetch_add (&self->dropped, 1);
    zmq_msg_close (body);
    return -1;
}

int
tap_publish (tap_t *self, uint64_t seq, zmq_msg_t *body)
{
    size_t len = zmq_msg_size (body);
    /* A slow subscriber holds what it has not read: past the bound, drop
       (as a tap should) instead of growing. Only the loop's thread adds,
       so the check and the add cannot race with another add. */
    if (atomic_load (&self->held) + len > self->max_bytes)
        return s_drop (self, body);
    s_hold_t *h = malloc (sizeof *h);
    if (!h)
        return s_drop (self, body);
    zmq_msg_init (&h->frame);
    zmq_msg_move (&h->frame, body);
    h->len = len;
    h->tap = self;
    zmq_msg_t msg;
    if (zmq_msg_init_data (&msg, zmq_msg_data (&h->frame), len, s_release, h) != 0) {
        zmq_msg_close (&h->frame);
        free (h);
        atomic_fetch_add (&self->dropped, 1);
        return -1;
    }
    atomic_fetch_add (&self->held, len);
    uint8_t hdr[16];
    Hm__TapHeader th = HM__TAP_HEADER__INIT;
    th.offset = seq;
    size_t hl = hm__tap_header__pack (&th, hdr);
    if (zmq_send (self->sock, HM_WIRE_TAP, strlen (HM_WIRE_TAP), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send (self->sock, hdr, hl, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_msg_send (&msg, self->sock, ZMQ_DONTWAIT) < 0) {
        /* Hand-off: on success ZeroMQ owns msg; a failure leaves it to us
           (closing it runs s_release). */
        zmq_msg_close (&msg);
        atomic_fetch_add (&self->dropped, 1);
        return -1;
    }
    return 0;
}

/* A JSON line and whose count it is in, one allocation. */
typedef struct {
    tap_t *tap;
    size_t len;
    char data[];
} s_line_t;

static void
s_release_line (void *data, void *hint)
{
    (void)data;
    s_line_t *l = hint;
    atomic_fetch_sub (&l->tap->held, l->len);
    free (l);
}

int
tap_publish_json (tap_t *self, const void *record, size_t len)
{
    /* The lines are new bytes (not the record's), so this costs a decode
       and an encode per record: only done when the JSON tap is configured. */
    Hm__AppendRequest *req = hm__append_request__unpack (NULL, len, record);
    if (!req) {
        atomic_fetch_add (&self->dropped, 1);
        return -1;
    }
    int rc = 0;
    hm_buf_t buf;
    hm_buf_init (&buf, 0);
    for (size_t i = 0; i < req->n_events; i++) {
        hm_buf_reset (&buf);
        s_line_t *l = NULL;
        if (hm_encode_json (&buf, req->events[i]) != 0 ||
            atomic_load (&self->held) + buf.len > self->max_bytes ||
            !(l = malloc (sizeof *l + buf.len))) {
            atomic_fetch_add (&self->dropped, 1);
            rc = -1;
            continue;
        }
        l->tap = self;
        l->len = buf.len;
        memcpy (l->data, buf.data, buf.len);
        zmq_msg_t msg;
        if (zmq_msg_init_data (&msg, l->data, l->len, s_release_line, l) != 0) {
            free (l);
            atomic_fetch_add (&self->dropped, 1);
            rc = -1;
            continue;
        }
        atomic_fetch_add (&self->held, l->len);
        if (zmq_msg_send (&msg, self->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&msg); /* runs s_release_line */
            atomic_fetch_add (&self->dropped, 1);
            rc = -1;
        }
    }
    hm_buf_free (&buf);
    hm__append_request__free_unpacked (req, NULL);
    return rc;
}

uint64_t
tap_dropped (const tap_t *self)
{
    return atomic_load (&((tap_t *)self)->dropped);
}

uint64_t
tap_held_bytes (const tap_t *self)
{
    return atomic_load (&((tap_t *)self)->held);
}
