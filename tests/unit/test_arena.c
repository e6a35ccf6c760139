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
    assert_null (a.first); /* a reset never keeps more than block_bytes */
    assert_non_null (hm_arena_alloc (&a, 10));
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
    ev.device_id = "device";
    ev.event = "Client.Started";
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
        assert_string_equal (e->event, "Client.Started");
        assert_string_equal (e->device_id, "device");
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

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_alignment_and_distinct),
        cmocka_unit_test (test_grows_and_resets),
        cmocka_unit_test (test_oversized_first_block_not_kept),
        cmocka_unit_test (test_move),
        cmocka_unit_test (test_unpack_through_arena),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
