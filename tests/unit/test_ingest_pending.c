/*  Unit tests for ingest/pending: the table of batches waiting for the
    router (ids, stale replies, deadlines, the bound). */
/* cmocka needs these before it; keep clang-format from sorting them. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include "pending.h"

static void
test_add_take (void **state)
{
    (void)state;
    hm_pending_t *p = hm_pending_new (3, 7);
    assert_non_null (p);
    assert_int_equal (hm_pending_capacity (p), 4); /* rounded up to a power of two */
    int a, b;
    uint64_t ida, idb;
    assert_int_equal (hm_pending_add (p, &a, 100, &ida), 0);
    assert_int_equal (hm_pending_add (p, &b, 200, &idb), 0);
    assert_true (ida != idb);
    assert_true (ida != 0 && idb != 0);
    assert_int_equal (ida >> 48, 7); /* the base is in the top bits */
    assert_int_equal (hm_pending_size (p), 2);
    assert_ptr_equal (hm_pending_take (p, idb), &b);
    assert_null (hm_pending_take (p, idb)); /* a duplicate reply */
    assert_ptr_equal (hm_pending_take (p, ida), &a);
    assert_int_equal (hm_pending_size (p), 0);
    assert_null (hm_pending_take (p, 0));
    assert_null (hm_pending_take (p, 12345));
    hm_pending_destroy (&p);
    assert_null (p);
    hm_pending_destroy (&p); /* safe twice */
}

static void
test_stale_after_reuse (void **state)
{
    (void)state;
    hm_pending_t *p = hm_pending_new (1, 0);
    int a, b;
    uint64_t ida, idb;
    assert_int_equal (hm_pending_add (p, &a, 10, &ida), 0);
    assert_ptr_equal (hm_pending_expire (p, 10), &a);       /* timed out */
    assert_int_equal (hm_pending_add (p, &b, 20, &idb), 0); /* same slot, new id */
    assert_true (ida != idb);
    assert_null (hm_pending_take (p, ida)); /* the late reply for a is ignored */
    assert_ptr_equal (hm_pending_take (p, idb), &b);
    hm_pending_destroy (&p);
}

static void
test_bound (void **state)
{
    (void)state;
    hm_pending_t *p = hm_pending_new (4, 1);
    int items[5];
    uint64_t ids[5];
    for (int i = 0; i < 4; i++)
        assert_int_equal (hm_pending_add (p, &items[i], i, &ids[i]), 0);
    assert_int_equal (hm_pending_add (p, &items[4], 9, &ids[4]), -1);
    assert_int_equal (hm_pending_size (p), 4);
    assert_ptr_equal (hm_pending_take (p, ids[2]), &items[2]);
    assert_int_equal (hm_pending_add (p, &items[4], 9, &ids[4]), 0);
    hm_pending_destroy (&p);
}

static void
test_deadlines (void **state)
{
    (void)state;
    hm_pending_t *p = hm_pending_new (8, 0);
    int items[4];
    uint64_t ids[4];
    assert_int_equal (hm_pending_next_deadline (p), -1);
    for (int i = 0; i < 4; i++)
        assert_int_equal (hm_pending_add (p, &items[i], 100 + 10 * i, &ids[i]), 0);
    assert_int_equal (hm_pending_next_deadline (p), 100);
    /* Removing the oldest moves the next deadline; removing a middle one
       keeps the order of the others. */
    assert_ptr_equal (hm_pending_take (p, ids[0]), &items[0]);
    assert_ptr_equal (hm_pending_take (p, ids[2]), &items[2]);
    assert_int_equal (hm_pending_next_deadline (p), 110);
    assert_null (hm_pending_expire (p, 109));
    assert_ptr_equal (hm_pending_expire (p, 200), &items[1]);
    assert_ptr_equal (hm_pending_expire (p, 200), &items[3]);
    assert_null (hm_pending_expire (p, 200));
    assert_int_equal (hm_pending_next_deadline (p), -1);

    assert_int_equal (hm_pending_add (p, &items[0], 5, &ids[0]), 0);
    assert_int_equal (hm_pending_add (p, &items[1], 6, &ids[1]), 0);
    assert_ptr_equal (hm_pending_pop (p), &items[0]);
    assert_ptr_equal (hm_pending_pop (p), &items[1]);
    assert_null (hm_pending_pop (p));
    hm_pending_destroy (&p);
}

static void
test_many_ids_unique (void **state)
{
    (void)state;
    hm_pending_t *p = hm_pending_new (2, 0);
    uint64_t last[2] = {0, 0};
    int item;
    /* Reusing slots many times never repeats an id of the same slot. */
    for (int i = 0; i < 10000; i++) {
        uint64_t id;
        assert_int_equal (hm_pending_add (p, &item, i, &id), 0);
        assert_true (id != last[id & 1]);
        last[id & 1] = id;
        assert_ptr_equal (hm_pending_take (p, id), &item);
    }
    hm_pending_destroy (&p);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_add_take),        cmocka_unit_test (test_stale_after_reuse),
        cmocka_unit_test (test_bound),           cmocka_unit_test (test_deadlines),
        cmocka_unit_test (test_many_ids_unique),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
