/*  fuzz_wire: the in-place readers of what peers send on the pipeline
    (common/delivery_decode.c), each against protobuf-c's unpack, which
    they replace on the hot path and fall back to when unsure.

    Input: one mode byte (even: an AppendRequest as an ingest sends it to
    the router; odd: a Delivery as the router sends it to a sink), then the
    packed message. Properties:
    - append: what hm_append_check takes, protobuf-c takes too, with the
      same batch_id and event count, and the routes' reader
      (scan_record_ok) can read (the router skips that check for it);
    - delivery: what hm_batch_decode takes, protobuf-c takes too, with
      the same fields (route, offsets, seal time, every event's fields,
      each event decoded by hm_batch_event: presence, lengths and bytes,
      NUL bytes included) and the same JSON and CSV lines; its spans and
      bytes fields point into the input; and hm_batch_unpack (in place,
      else protobuf-c) accepts exactly what protobuf-c accepts, with the
      same fields.
    Nothing may crash, read outside the input or leak (ASan). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "delivery_decode.h"
#include "encode.h"
#include "hm_buf.h"
#include "pb_diff.h"
#include "pipeline.pb-c.h"
#include "scan.h"

/* HM_FUZZ_VERBOSE=1: which reader decided each input (to check seeds). */
static int s_verbose = -1;

static void
s_say (const char *kind, bool in_place, bool accepted)
{
    if (s_verbose)
        fprintf (stderr, "fuzz_wire: %s %s\n", kind,
                 in_place   ? "read in place"
                 : accepted ? "left to protobuf-c, accepted"
                            : "refused");
}

static void
s_fail (const char *what, const char *field)
{
    fprintf (stderr, "fuzz_wire: %s%s%s\n", what, field ? ": " : "", field ? field : "");
    abort ();
}

static bool
s_within (const uint8_t *p, size_t n, const uint8_t *data, size_t len)
{
    return !n || (p >= data && n <= len && p <= data + len - n);
}

/* Every span of a lazy batch, and every bytes field of its events, lies
   inside the input. */
static void
s_inside (const hm_batch_t *d, const uint8_t *data, size_t len)
{
    const ProtobufCMessageDescriptor *ed = &hm__event__descriptor;
    hm_event_scratch_t sc;
    hm_event_scratch_init (&sc);
    for (size_t i = 0; i < d->n_events; i++) {
        if (!s_within (d->wire[i].data, d->wire[i].len, data, len))
            s_fail ("an event's span points outside the input", NULL);
        const Hm__Event *e = hm_batch_event (d, i, &sc);
        if (!e)
            s_fail ("an event did not decode", NULL);
        for (unsigned k = 0; k < ed->n_fields; k++) {
            const ProtobufCFieldDescriptor *f = &ed->fields[k];
            if (f->type != PROTOBUF_C_TYPE_BYTES)
                continue;
            const ProtobufCBinaryData *b = S_PB_MEMBER (ProtobufCBinaryData, e, f->offset);
            if (!s_within (b->data, b->len, data, len))
                s_fail ("an in-place bytes field points outside the input", f->name);
        }
    }
    hm_event_scratch_free (&sc);
}

static void
s_append (const uint8_t *data, size_t len)
{
    Hm__AppendRequest *ref = hm__append_request__unpack (NULL, len, data);
    uint64_t batch_id = 0;
    size_t n = 0;
    bool in_place = hm_append_check (data, len, &batch_id, &n) == 0;
    s_say ("append", in_place, ref != NULL);
    if (in_place) {
        if (!ref)
            s_fail ("hm_append_check accepted what protobuf-c refused", NULL);
        if (batch_id != ref->batch_id)
            s_fail ("hm_append_check read another batch_id", NULL);
        if (n != ref->n_events)
            s_fail ("hm_append_check counted other events", NULL);
        if (scan_record_ok (data, len) != 0)
            s_fail ("hm_append_check accepted what the routes cannot read", NULL);
    }
    if (ref)
        hm__append_request__free_unpacked (ref, NULL);
}

static void
s_delivery (const uint8_t *data, size_t len)
{
    Hm__Delivery *ref = hm__delivery__unpack (NULL, len, data);
    hm_arena_t a1, a2;
    hm_arena_init (&a1, 4096);
    hm_arena_init (&a2, 4096);
    hm_batch_t in_place, got;
    bool in_place_ok = hm_batch_decode (&a1, data, len, &in_place) == 0;
    s_say ("delivery", in_place_ok, ref != NULL);
    if (in_place_ok) {
        if (!ref)
            s_fail ("hm_batch_decode accepted what protobuf-c refused", NULL);
        if (in_place.events)
            s_fail ("hm_batch_decode gave the unpacked form", NULL);
        const char *why = hm_pb_diff_batch (&in_place, ref);
        if (why)
            s_fail ("hm_batch_decode read a field differently", why);
        s_inside (&in_place, data, len);
        if ((why = hm_pb_diff_batch_lines (&in_place, ref, false)))
            s_fail (why, NULL);
    }
    bool got_ok = hm_batch_unpack (&a2, data, len, &got) == 0;
    if (!got_ok != !ref)
        s_fail (ref ? "hm_batch_unpack refused what protobuf-c accepted"
                    : "hm_batch_unpack accepted what protobuf-c refused",
                NULL);
    if (got_ok) {
        const char *why = hm_pb_diff_batch (&got, ref);
        if (why)
            s_fail ("hm_batch_unpack read a field differently", why);
        if ((why = hm_pb_diff_batch_lines (&got, ref, false)))
            s_fail (why, NULL);
    }
    if (ref)
        hm__delivery__free_unpacked (ref, NULL);
    hm_arena_destroy (&a1);
    hm_arena_destroy (&a2);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (s_verbose < 0)
        s_verbose = getenv ("HM_FUZZ_VERBOSE") != NULL;
    if (size < 1)
        return 0;
    /* The message ends where libFuzzer's buffer (or replay.c's exact-size
       copy) ends, so ASan sees any read past it. */
    if (data[0] & 1)
        s_delivery (data + 1, size - 1);
    else
        s_append (data + 1, size - 1);
    return 0;
}
