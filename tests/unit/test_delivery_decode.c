/*  test_delivery_decode: the in-place Delivery reader against protobuf-c's
    unpack, which it replaces in the sinks. On valid deliveries (NUL bytes,
    empty and absent fields, unknown fields) both must give the same
    fields and the same JSON and CSV bytes; on damaged ones (every
    truncation, byte flips, wrong wire types) hm_batch_unpack must
    decide as protobuf-c does, and anything the in-place reader takes
    must read the same: every event of a lazy batch is decoded
    (hm_batch_event) and compared with protobuf-c's, field by field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "delivery_decode.h"
#include "encode.h"
#include "scan.h"

#include "../fuzz/pb_diff.h"

static uint64_t s_rng = 0x9e3779b97f4a7c15ull;

static uint32_t
s_rand (void)
{
    s_rng ^= s_rng << 13, s_rng ^= s_rng >> 7, s_rng ^= s_rng << 17;
    return (uint32_t)(s_rng >> 11);
}

/* A random value: empty, ASCII, or any bytes (NULs, invalid UTF-8). */
static ProtobufCBinaryData
s_value (uint8_t *store)
{
    size_t len = s_rand () % 4 == 0 ? 0 : s_rand () % 40;
    bool any = s_rand () % 3 == 0;
    for (size_t i = 0; i < len; i++)
        store[i] = any ? (uint8_t)s_rand () : (uint8_t)('a' + s_rand () % 26);
    return (ProtobufCBinaryData){len, store};
}

/* Packs a random Delivery of n events into a malloc'd buffer. */
static uint8_t *
s_random_delivery (size_t n, size_t *len_p)
{
    static uint8_t store[64][22][40];
    static char params[64][64];
    Hm__Event ev[64], *evp[64];
    Hm__Delivery d = HM__DELIVERY__INIT;
    d.route = "archive";
    d.first_offset = s_rand ();
    d.last_offset = d.first_offset + s_rand () % 100;
    d.seal_time = 1700000000u + s_rand ();
    assert_true (n <= 64);
    for (size_t i = 0; i < n; i++) {
        Hm__Event *e = &ev[i];
        hm__event__init (e);
        ProtobufCBinaryData *b[] = {&e->device_id,       &e->client_id,        &e->session,
                                    &e->system_version,  &e->product_version,  &e->timezone,
                                    &e->event,           &e->device_make,      &e->device_model,
                                    &e->system,          &e->system_language,  &e->browser,
                                    &e->browser_version, &e->product_git_hash, &e->product_language,
                                    &e->user_id,         &e->tenant_id,        &e->ip,
                                    &e->country};
        protobuf_c_boolean *h[] = {
            &e->has_device_id,       &e->has_client_id,        &e->has_session,
            &e->has_system_version,  &e->has_product_version,  &e->has_timezone,
            &e->has_event,           &e->has_device_make,      &e->has_device_model,
            &e->has_system,          &e->has_system_language,  &e->has_browser,
            &e->has_browser_version, &e->has_product_git_hash, &e->has_product_language,
            &e->has_user_id,         &e->has_tenant_id,        &e->has_ip,
            &e->has_country};
        for (size_t k = 0; k < sizeof b / sizeof *b; k++)
            if (s_rand () % 5 != 0) {
                *h[k] = 1;
                *b[k] = s_value (store[i][k]);
            }
        e->has_nr = s_rand () % 4 != 0, e->nr = s_rand () % 3 ? s_rand () % 100 : s_rand ();
        e->has_env = s_rand () % 4 != 0, e->env = (int32_t)(s_rand () % 14) - 1;
        e->has_at = s_rand () % 4 != 0, e->at = s_rand () % 2 ? 1700000000u + s_rand () : s_rand ();
        if (s_rand () % 4 != 0) {
            snprintf (params[i], sizeof params[i], "{\"k%u\":\"v\\u0000%u\"}", s_rand () % 9,
                      s_rand () % 99);
            e->parameters = s_rand () % 8 ? params[i] : "";
        }
        evp[i] = e;
    }
    d.n_events = n;
    d.events = n ? evp : NULL;
    size_t len = hm__delivery__get_packed_size (&d);
    uint8_t *buf = malloc (len + 1);
    assert_non_null (buf);
    assert_int_equal (hm__delivery__pack (&d, buf), len);
    *len_p = len;
    return buf;
}

static void
s_bytes_equal (protobuf_c_boolean ha, ProtobufCBinaryData a, protobuf_c_boolean hb,
               ProtobufCBinaryData b)
{
    assert_int_equal (ha, hb);
    assert_int_equal (a.len, b.len);
    if (a.len)
        assert_memory_equal (a.data, b.data, a.len);
}

/* Same fields, same JSON and CSV bytes: batch a (either form) against
   protobuf-c's b. */
static void
s_same (const hm_batch_t *a, const Hm__Delivery *b)
{
    assert_string_equal (a->route, b->route);
    assert_true (a->first_offset == b->first_offset);
    assert_true (a->last_offset == b->last_offset);
    assert_true (a->seal_time == b->seal_time);
    assert_int_equal (a->n_events, b->n_events);
    hm_event_scratch_t scratch;
    hm_event_scratch_init (&scratch);
    for (size_t i = 0; i < a->n_events; i++) {
        const Hm__Event *x = hm_batch_event (a, i, &scratch), *y = b->events[i];
        assert_non_null (x);
        /* every field, by descriptor, besides the explicit checks below */
        assert_null (hm_pb_diff_fields (&x->base, &y->base));
#define S_B(f) s_bytes_equal (x->has_##f, x->f, y->has_##f, y->f)
        S_B (device_id), S_B (client_id), S_B (session), S_B (system_version);
        S_B (product_version), S_B (timezone), S_B (event), S_B (device_make);
        S_B (device_model), S_B (system), S_B (system_language), S_B (browser);
        S_B (browser_version), S_B (product_git_hash), S_B (product_language);
        S_B (user_id), S_B (tenant_id), S_B (ip), S_B (country);
#undef S_B
        assert_int_equal (x->has_nr, y->has_nr);
        assert_int_equal (x->nr, y->nr);
        assert_int_equal (x->has_env, y->has_env);
        assert_int_equal (x->env, y->env);
        assert_int_equal (x->has_at, y->has_at);
        assert_true (x->at == y->at);
        assert_int_equal (x->parameters == NULL, y->parameters == NULL);
        if (x->parameters)
            assert_string_equal (x->parameters, y->parameters);
    }
    hm_event_scratch_free (&scratch);
    /* every event encodes, to the same JSON and CSV bytes */
    assert_null (hm_pb_diff_batch_lines (a, b, true));
}

/* Checks one message: the reader decides as protobuf-c does, and what the
   in-place reader takes reads the same. Returns whether it decoded. */
static bool
s_check (const uint8_t *buf, size_t len, bool expect_in_place)
{
    Hm__Delivery *ref = hm__delivery__unpack (NULL, len, buf);
    hm_arena_t a1, a2;
    hm_arena_init (&a1, 4096);
    hm_arena_init (&a2, 4096);
    hm_batch_t in_place, got;
    bool in_place_ok = hm_batch_decode (&a1, buf, len, &in_place) == 0;
    bool got_ok = hm_batch_unpack (&a2, buf, len, &got) == 0;
    if (expect_in_place)
        assert_true (in_place_ok);
    if (in_place_ok) {
        assert_non_null (ref);         /* it never takes what protobuf-c refuses */
        assert_null (in_place.events); /* the lazy form */
        s_same (&in_place, ref);
    }
    assert_int_equal (!got_ok, ref == NULL);
    if (got_ok)
        s_same (&got, ref);
    hm__delivery__free_unpacked (ref, NULL);
    hm_arena_destroy (&a1);
    hm_arena_destroy (&a2);
    return ref != NULL;
}

static void
test_valid_deliveries (void **state)
{
    (void)state;
    for (int round = 0; round < 300; round++) {
        size_t len;
        uint8_t *buf = s_random_delivery ((size_t)round % 20, &len);
        assert_true (s_check (buf, len, true));
        free (buf);
    }
}

/* Appends a field: tag, then raw bytes. */
static size_t
s_put (uint8_t *p, const uint8_t *bytes, size_t n)
{
    memcpy (p, bytes, n);
    return n;
}

static void
test_unknown_fields_and_wire_types (void **state)
{
    (void)state;
    size_t len;
    uint8_t *base = s_random_delivery (3, &len);
    uint8_t buf[8192];
    assert_true (len + 64 < sizeof buf);
    /* Unknown fields of every wire type protobuf-c keeps, at the top and
       inside an event (field 5: a 4-byte event of one unknown field). */
    const uint8_t unknown[][12] = {
        {0xb8, 0x06, 0x7f},                               /* 103 varint */
        {0xb9, 0x06, 1, 2, 3, 4, 5, 6, 7, 8},             /* 103 fixed64 */
        {0xbd, 0x06, 1, 2, 3, 4},                         /* 103 fixed32 */
        {0xba, 0x06, 2, 'h', 'i'},                        /* 103 bytes */
        {0x2a, 0x03, 0xb8, 0x06, 0x01},                   /* event{103 varint} */
        {0x2a, 0x04, 0xba, 0x06, 0x01, 0x00},             /* event{103 bytes} */
        {0x2a, 0x06, 0x20, 0xff, 0xff, 0xff, 0xff, 0x1f}, /* event{nr past 32 bits} */
        {0x2a, 0x0a, 0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, /* env -1 */
    };
    const size_t ulen[] = {3, 10, 6, 5, 5, 6, 8, 12};
    for (size_t i = 0; i < sizeof ulen / sizeof *ulen; i++) {
        memcpy (buf, base, len);
        size_t n = len + s_put (buf + len, unknown[i], ulen[i]);
        assert_true (s_check (buf, n, true));
    }
    /* Known fields with the wrong wire type, groups, a padded tag: the
       in-place reader leaves them to protobuf-c (which refuses most). */
    const uint8_t odd[][8] = {
        {0x10 | 2, 0x00},                           /* first_offset as bytes */
        {0x29, 1, 2, 3, 4, 5, 6, 7},                /* events as fixed64 (truncated) */
        {0x2a, 0x02, 0x52, 0x00},                   /* fine: event{event ""} */
        {0x2a, 0x02, 0x50, 0x00},                   /* event{event as varint} */
        {0x2a, 0x02, 0xbb, 0x06},                   /* event{start group} */
        {0x2a, 0x01, 0x80},                         /* event{truncated tag} */
        {0x2a, 0x02, 0xba, 0x06},                   /* event{unknown bytes, no length} */
        {0x90, 0x80, 0x80, 0x80, 0x80, 0x00, 0x05}, /* first_offset, tag of 6 bytes */
    };
    const size_t olen[] = {2, 8, 4, 4, 4, 3, 4, 7};
    for (size_t i = 0; i < sizeof olen / sizeof *olen; i++) {
        memcpy (buf, base, len);
        size_t n = len + s_put (buf + len, odd[i], olen[i]);
        s_check (buf, n, i == 2);
    }
    free (base);
}

static void
test_damaged_deliveries (void **state)
{
    (void)state;
    size_t len;
    uint8_t *base = s_random_delivery (4, &len);
    /* Every truncation. */
    for (size_t cut = 0; cut < len; cut++)
        s_check (base, cut, false);
    /* Byte flips. */
    uint8_t *buf = malloc (len);
    assert_non_null (buf);
    for (int round = 0; round < 3000; round++) {
        memcpy (buf, base, len);
        for (int k = 0; k < 1 + round % 3; k++)
            buf[s_rand () % len] = (uint8_t)s_rand ();
        s_check (buf, len, false);
    }
    /* No required field, or one missing. */
    s_check ((const uint8_t *)"", 0, false);
    free (buf);
    free (base);
}

/* The point of the lazy form (issue #17): a batch costs its spans, 16
   bytes an event, not a decoded Hm__Event (520 bytes) each; and its
   events read in any order, again and again (the SNS and queue backends
   go back to single events). */
static void
test_lazy_batch_memory_and_order (void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = s_random_delivery (64, &len);
    Hm__Delivery *ref = hm__delivery__unpack (NULL, len, buf);
    assert_non_null (ref);
    hm_arena_t arena;
    hm_arena_init (&arena, 4096);
    hm_batch_t batch;
    assert_int_equal (hm_batch_unpack (&arena, buf, len, &batch), 0);
    assert_null (batch.events);
    assert_int_equal (batch.n_events, 64);
    /* the spans and the route, nothing per event beyond */
    assert_true (hm_arena_used (&arena) <= 64 * sizeof (hm_wire_span_t) + 256);
    hm_event_scratch_t scratch;
    hm_event_scratch_init (&scratch);
    for (int round = 0; round < 500; round++) {
        size_t i = s_rand () % 64;
        const Hm__Event *e = hm_batch_event (&batch, i, &scratch);
        assert_non_null (e);
        assert_null (hm_pb_diff_fields (&e->base, &ref->events[i]->base));
    }
    hm_event_scratch_free (&scratch);
    hm_arena_destroy (&arena);
    hm__delivery__free_unpacked (ref, NULL);
    free (buf);
}

/* What only protobuf-c takes (an unknown field whose number is past 32
   bits: protobuf-c keeps it, this reader leaves it) is read in the
   unpacked form, through the same accessor. */
static void
test_unpacked_form (void **state)
{
    (void)state;
    size_t len;
    uint8_t *base = s_random_delivery (5, &len);
    uint8_t *buf = malloc (len + 8);
    assert_non_null (buf);
    memcpy (buf, base, len);
    const uint8_t wide[] = {0xf8, 0xff, 0xff, 0xff, 0x7f, 0x01}; /* varint field > 2^32 */
    memcpy (buf + len, wide, sizeof wide);
    size_t n = len + sizeof wide;
    hm_arena_t arena;
    hm_arena_init (&arena, 4096);
    hm_batch_t batch;
    assert_int_equal (hm_batch_decode (&arena, buf, n, &batch), -1);
    Hm__Delivery *ref = hm__delivery__unpack (NULL, n, buf);
    assert_non_null (ref);
    assert_int_equal (hm_batch_unpack (&arena, buf, n, &batch), 0);
    assert_non_null (batch.events);
    s_same (&batch, ref);
    hm__delivery__free_unpacked (ref, NULL);
    hm_arena_destroy (&arena);
    free (buf);
    free (base);
}

/* An AppendRequest with the events of a random Delivery (same field
   encoding but for the tag: Delivery.events is 5, AppendRequest's 2). */
static uint8_t *
s_random_append (size_t n, uint64_t batch_id, size_t *len_p)
{
    size_t dlen;
    uint8_t *d = s_random_delivery (n, &dlen);
    hm_arena_t arena;
    hm_arena_init (&arena, 4096);
    Hm__Delivery *dd = hm__delivery__unpack (&arena.pb, dlen, d);
    assert_non_null (dd);
    Hm__AppendRequest req = HM__APPEND_REQUEST__INIT;
    req.batch_id = batch_id;
    req.n_events = dd->n_events;
    req.events = dd->events;
    size_t len = hm__append_request__get_packed_size (&req);
    uint8_t *buf = malloc (len + 1);
    assert_non_null (buf);
    assert_int_equal (hm__append_request__pack (&req, buf), len);
    hm_arena_destroy (&arena);
    free (d);
    *len_p = len;
    return buf;
}

/* hm_append_check takes only what protobuf-c and the router's routes
   (scan_record_ok) take, and reads the same. */
static bool
s_check_append (const uint8_t *buf, size_t len)
{
    Hm__AppendRequest *ref = hm__append_request__unpack (NULL, len, buf);
    uint64_t id = 0;
    size_t n = 0;
    int rc = hm_append_check (buf, len, &id, &n);
    if (rc == 0) {
        assert_non_null (ref);
        assert_true (id == ref->batch_id);
        assert_int_equal (n, ref->n_events);
        /* the router skips scan_record_ok for what the check took */
        assert_int_equal (scan_record_ok (buf, len), 0);
    }
    hm__append_request__free_unpacked (ref, NULL);
    return rc == 0;
}

static void
test_append_check (void **state)
{
    (void)state;
    for (int round = 0; round < 200; round++) {
        size_t len;
        uint8_t *buf = s_random_append ((size_t)round % 20, s_rand () * 7919ull, &len);
        assert_true (s_check_append (buf, len));
        free (buf);
    }
    size_t len;
    uint8_t *base = s_random_append (4, 42, &len);
    for (size_t cut = 0; cut < len; cut++)
        s_check_append (base, cut);
    uint8_t *buf = malloc (len);
    assert_non_null (buf);
    for (int round = 0; round < 3000; round++) {
        memcpy (buf, base, len);
        for (int k = 0; k < 1 + round % 3; k++)
            buf[s_rand () % len] = (uint8_t)s_rand ();
        s_check_append (buf, len);
    }
    /* no batch_id; batch_id as bytes; an event as a varint */
    assert_false (s_check_append ((const uint8_t *)"\x12\x00", 2));
    assert_false (s_check_append ((const uint8_t *)"\x0a\x00", 2));
    assert_false (s_check_append ((const uint8_t *)"\x08\x01\x10\x00", 4));
    /* one event holding a 6-byte tag: protobuf-c refuses it */
    assert_false (
        s_check_append ((const uint8_t *)"\x08\x01\x12\x07\xa0\x80\x80\x80\x80\x00\x05", 11));
    free (buf);
    free (base);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_valid_deliveries),
        cmocka_unit_test (test_unknown_fields_and_wire_types),
        cmocka_unit_test (test_damaged_deliveries),
        cmocka_unit_test (test_lazy_batch_memory_and_order),
        cmocka_unit_test (test_unpacked_form),
        cmocka_unit_test (test_append_check),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
