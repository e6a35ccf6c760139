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

#include "pipeline.pb-c.h"
#include "wire.h"

#include <stdatomic.h>
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
