/*  test_arena: the protobuf-c bump allocator: alignment, growth past the
    first block, reset keeping only a first block of the configured size,
    move, and a real unpack through it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "hm_test_bytes.h"
#include "pipeline.pb-c.h"

static void
test_alignment_and_distinct (void **state)
{
    (void)state;
    hm_arena_t a;
    hm_arena_init (&a, 256);
    char *prev = NULL;
    for (size_t size = 1; size < 100; size += 7) {
        char *p = hm_arena_alloc (&a, size);
        assert_non_null (p);
        assert_int_equal ((uintptr_t)p % alignof (max_align_t), 0);
        memset (p, 0xab, size); /* ASan: the whole size is ours */
        if (prev)
            assert_true (p != prev);
        prev = p;
    }
    hm_arena_destroy (&a);
}

static void
test_grows_and_resets (void **state)
{
    (void)state;
    hm_arena_t a;
    hm_arena_init (&a, 1024);
    /* Far past the first block, and one allocation bigger than any block. */
    for (int i = 0; i < 1000; i++)
        assert_non_null (hm_arena_alloc (&a, 100));
    char *big = hm_arena_alloc (&a, 1 << 20);
    assert_non_null (big);
    memset (big, 1, 1 << 20);
    hm_arena_reset (&a);
    /* Only the first block stays, at its configured size. */
    assert_non_null (a.first);
    assert_ptr_equal (a.head, a.first);
    char *p = hm_arena_alloc (&a, 16);
    char *q = hm_arena_alloc (&a, 16);
    assert_ptr_equal (q, p + 16);
    hm_arena_destroy (&a);
    assert_null (a.first);
    hm_arena_destroy (&a); /* twice is harmless */
}

static void
test_oversized_first_block_not_kept (void **state)
{
    (void)state;
    hm_arena_t a;
    hm_arena_init (&a, 1024);
    assert_non_null (hm_arena_alloc (&a, 100000));
    hm_arena_reset (&a);
    /* a reset never keeps more than block_bytes */
    assert_true (hm_arena_reserved (&a) <= 1024);
    assert_non_null (hm_arena_alloc (&a, 10));
    hm_arena_destroy (&a);
}

/* A large allocation gets a block of its own; the blocks after it double
   from the block being filled, not from it (issue #17: a sink's 10 MB
   array of events made the next block 20 MB). */
static void
test_large_allocation_own_block (void **state)
{
    (void)state;
    hm_arena_t a;
    hm_arena_init (&a, 4096);
    char *big = hm_arena_alloc (&a, 100000);
    assert_non_null (big);
    memset (big, 1, 100000);
    for (int i = 0; i < 4; i++) /* over the first block: a second, of 8 KiB */
        assert_non_null (hm_arena_alloc (&a, 1500));
    assert_true (hm_arena_reserved (&a) <= 4096 + 100032 + 8192);
    assert_true (hm_arena_used (&a) >= 100000 + 4 * 1500);
    /* Later big ones likewise, whatever the head is. */
    assert_non_null (hm_arena_alloc (&a, 200000));
    assert_non_null (hm_arena_alloc (&a, 3000));
    assert_true (hm_arena_reserved (&a) <= 4096 + 100032 + 8192 + 200032);
    /* A reset frees them all but the first block, wherever they sit. */
    hm_arena_reset (&a);
    assert_int_equal (hm_arena_reserved (&a), 4096);
    assert_int_equal (hm_arena_used (&a), 0);
    assert_non_null (hm_arena_alloc (&a, 50000));
    hm_arena_reset_keep_largest (&a, 1 << 20);
    assert_int_equal (hm_arena_reserved (&a), 50000); /* the largest alone */
    hm_arena_destroy (&a);
}

static void
test_move (void **state)
{
    (void)state;
    hm_arena_t from, to;
    hm_arena_init (&from, 512);
    char *p = hm_arena_alloc (&from, 32);
    strcpy (p, "kept");
    hm_arena_move (&to, &from);
    assert_null (from.first);
    assert_ptr_equal (to.pb.allocator_data, &to);
    assert_string_equal (p, "kept");
    /* The moved-to arena keeps allocating from the same block. */
    char *q = hm_arena_alloc (&to, 16);
    assert_ptr_equal (q, p + 32);
    hm_arena_destroy (&from);
    hm_arena_destroy (&to);
}

static void
test_unpack_through_arena (void **state)
{
    (void)state;
    Hm__Event ev = HM__EVENT__INIT;
    HM_SET_STR (&ev, device_id, "device");
    HM_SET_STR (&ev, event, "Client.Started");
    ev.has_nr = true;
    ev.nr = 7;
    Hm__AppendRequest req = HM__APPEND_REQUEST__INIT;
    req.batch_id = 42;
    Hm__Event *events[3] = {&ev, &ev, &ev};
    req.n_events = 3;
    req.events = events;
    size_t len = hm__append_request__get_packed_size (&req);
    uint8_t *buf = malloc (len);
    hm__append_request__pack (&req, buf);

    hm_arena_t a;
    hm_arena_init (&a, 64); /* small: the decode needs several blocks */
    for (int round = 0; round < 3; round++) {
        Hm__AppendRequest *got = hm__append_request__unpack (&a.pb, len, buf);
        assert_non_null (got);
        assert_int_equal (got->batch_id, 42);
        assert_int_equal (got->n_events, 3);
        const Hm__Event *e = got->events[2];
        assert_bytes_equal (e->event, "Client.Started");
        assert_bytes_equal (e->device_id, "device");
        assert_int_equal (e->nr, 7);
        hm_arena_reset (&a);
    }
    /* A truncated message fails cleanly; the arena is reusable after. */
    assert_null (hm__append_request__unpack (&a.pb, len - 3, buf));
    hm_arena_reset (&a);
    assert_non_null (hm__append_request__unpack (&a.pb, len, buf));
    hm_arena_destroy (&a);
    free (buf);
}

static void
test_large_freed_is_reused (void **state)
{
    (void)state;
    hm_arena_t a;
    hm_arena_init (&a, 1 << 16);
    ProtobufCAllocator *pb = &a.pb;
    void *big = pb->alloc (pb->allocator_data, 2400);
    void *small = pb->alloc (pb->allocator_data, 20);
    pb->free (pb->allocator_data, small); /* small: not reused */
    assert_ptr_not_equal (pb->alloc (pb->allocator_data, 20), small);
    pb->free (pb->allocator_data, big);
    /* The next large request that fits takes the freed block... */
    assert_ptr_equal (pb->alloc (pb->allocator_data, 2000), big);
    /* ...once: the block is in use again. */
    assert_ptr_not_equal (pb->alloc (pb->allocator_data, 2000), big);
    /* Too large for the spare: fresh memory, the spare stays. */
    void *mid = pb->alloc (pb->allocator_data, 1200);
    pb->free (pb->allocator_data, mid);
    assert_ptr_not_equal (pb->alloc (pb->allocator_data, 4000), mid);
    assert_ptr_equal (pb->alloc (pb->allocator_data, 1200), mid);
    /* A reset forgets the spare along with everything else. */
    void *again = pb->alloc (pb->allocator_data, 1400);
    pb->free (pb->allocator_data, again);
    hm_arena_reset (&a);
    size_t before = hm_arena_used (&a);
    pb->alloc (pb->allocator_data, 1400);
    assert_int_equal (hm_arena_used (&a), before + 1408);
    pb->free (pb->allocator_data, NULL);
    hm_arena_destroy (&a);
}

/* A delivery of events with more than 16 fields each: protobuf-c takes and
   frees a ~1.2 KB scratch table per event while decoding it, which must not
   stay in the arena (without reuse this decode takes ~1.7 KB per event). */
static void
test_decode_footprint (void **state)
{
    (void)state;
    enum { N = 2000 };
    Hm__Event *evs = calloc (N, sizeof *evs);
    Hm__Event **ptrs = calloc (N, sizeof *ptrs);
    for (int i = 0; i < N; i++) {
        Hm__Event *e = &evs[i];
        hm__event__init (e);
        HM_SET_STR (e, device_id, "a0b90b13-4766-4149-a6a1-123456789012");
        HM_SET_STR (e, client_id, "bce44f67b2661fd445d469b525b04f68");
        HM_SET_STR (e, session, "0e350a2cc31648bb24ba61eb14be337c");
        e->has_nr = e->has_env = e->has_at = true;
        e->nr = (uint32_t)i;
        e->env = 3;
        e->at = 1454514088;
        HM_SET_STR (e, system_version, "10.10");
        HM_SET_STR (e, product_version, "1.1.2");
        HM_SET_STR (e, timezone, "+01:00");
        HM_SET_STR (e, event, "Client.Event");
        HM_SET_STR (e, device_make, "Apple");
        HM_SET_STR (e, device_model, "MacBookPro");
        HM_SET_STR (e, system, "OSX");
        HM_SET_STR (e, system_language, "en");
        HM_SET_STR (e, browser, "Chrome");
        HM_SET_STR (e, browser_version, "50.0");
        HM_SET_STR (e, product_git_hash, "abcdef");
        HM_SET_STR (e, product_language, "en");
        HM_SET_STR (e, user_id, "user-1");
        HM_SET_STR (e, tenant_id, "t1");
        HM_SET_STR (e, ip, "1.2.3.4");
        HM_SET_STR (e, country, "HU");
        e->parameters = "{}";
        ptrs[i] = e;
    }
    Hm__Delivery d = HM__DELIVERY__INIT;
    d.route = "archive";
    d.events = ptrs;
    d.n_events = N;
    size_t len = hm__delivery__get_packed_size (&d);
    uint8_t *buf = malloc (len);
    hm__delivery__pack (&d, buf);
    hm_arena_t a;
    hm_arena_init (&a, 1 << 16);
    Hm__Delivery *got = hm__delivery__unpack (&a.pb, len, buf);
    assert_non_null (got);
    assert_int_equal (got->n_events, N);
    assert_bytes_equal (got->events[N - 1]->country, "HU");
    size_t per_event = hm_arena_used (&a) / N;
    if (per_event > 1000)
        fail_msg ("decode takes %zu bytes per event", per_event);
    hm_arena_destroy (&a);
    free (buf);
    free (ptrs);
    free (evs);
}

/* The sink's spare arena: the largest block stays (same memory next time),
   the others go; past max_keep it goes too. */
static void
test_reset_keep_largest (void **state)
{
    (void)state;
    hm_arena_t a;
    hm_arena_init (&a, 1024);
    assert_non_null (hm_arena_alloc (&a, 100));
    assert_non_null (hm_arena_alloc (&a, 5000));
    char *big = hm_arena_alloc (&a, 1 << 20); /* a block of its own, the largest */
    assert_non_null (big);
    hm_arena_reset_keep_largest (&a, 4u << 20);
    assert_int_equal (hm_arena_used (&a), 0);
    /* the kept block serves the same request from its start */
    char *again = hm_arena_alloc (&a, 1 << 20);
    assert_ptr_equal (again, big);
    memset (again, 1, 1 << 20);
    /* a bound below it: nothing kept, the arena still works */
    hm_arena_reset_keep_largest (&a, 1 << 19);
    assert_int_equal (hm_arena_used (&a), 0);
    assert_null (a.first);
    assert_non_null (hm_arena_alloc (&a, 10));
    hm_arena_destroy (&a);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_alignment_and_distinct),
        cmocka_unit_test (test_reset_keep_largest),
        cmocka_unit_test (test_grows_and_resets),
        cmocka_unit_test (test_oversized_first_block_not_kept),
        cmocka_unit_test (test_large_allocation_own_block),
        cmocka_unit_test (test_move),
        cmocka_unit_test (test_unpack_through_arena),
        cmocka_unit_test (test_large_freed_is_reused),
        cmocka_unit_test (test_decode_footprint),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
