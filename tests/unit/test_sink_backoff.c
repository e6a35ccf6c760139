/*  The sink runtime's retry timing: capped exponential backoff with full
    jitter. The random source is a parameter, so every value is exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

static void
test_ceiling_doubles_then_caps (void **state)
{
    (void)state;
    assert_int_equal (hm_backoff_ceiling (100, 30000, 0), 100);
    assert_int_equal (hm_backoff_ceiling (100, 30000, 1), 200);
    assert_int_equal (hm_backoff_ceiling (100, 30000, 2), 400);
    assert_int_equal (hm_backoff_ceiling (100, 30000, 8), 25600);
    assert_int_equal (hm_backoff_ceiling (100, 30000, 9), 30000);
    assert_int_equal (hm_backoff_ceiling (100, 30000, 10), 30000);
    /* No overflow or undefined shift however long the outage lasts. */
    assert_int_equal (hm_backoff_ceiling (100, 30000, 64), 30000);
    assert_int_equal (hm_backoff_ceiling (100, 30000, UINT32_MAX), 30000);
    assert_int_equal (hm_backoff_ceiling (UINT32_MAX, UINT32_MAX, 5), UINT32_MAX);
    assert_int_equal (hm_backoff_ceiling (3000000000u, UINT32_MAX, 1), UINT32_MAX);
}

static void
test_ceiling_odd_configs (void **state)
{
    (void)state;
    /* A cap below the base: the base wins. */
    assert_int_equal (hm_backoff_ceiling (500, 100, 0), 500);
    assert_int_equal (hm_backoff_ceiling (500, 100, 7), 500);
    /* A zero base stays zero (and does not loop 4 billion times). */
    assert_int_equal (hm_backoff_ceiling (0, 1000, UINT32_MAX), 0);
    assert_int_equal (hm_backoff_delay (0, 1000, 3, 12345), 0);
}

static void
test_delay_is_full_jitter (void **state)
{
    (void)state;
    /* [0, ceiling] inclusive, chosen by the random value. */
    assert_int_equal (hm_backoff_delay (100, 30000, 0, 0), 0);
    assert_int_equal (hm_backoff_delay (100, 30000, 0, 100), 100);
    assert_int_equal (hm_backoff_delay (100, 30000, 0, 101), 0);
    assert_int_equal (hm_backoff_delay (100, 30000, 0, 57), 57);
    assert_int_equal (hm_backoff_delay (100, 30000, 3, 800), 800);
    assert_int_equal (hm_backoff_delay (100, 30000, 3, 801), 0);
    assert_int_equal (hm_backoff_delay (100, 30000, 20, 30000), 30000);
    assert_int_equal (hm_backoff_delay (100, 30000, 20, 30001), 0);
    /* Deterministic for a given random value. */
    assert_int_equal (hm_backoff_delay (100, 30000, 5, 987654321),
                      hm_backoff_delay (100, 30000, 5, 987654321));
}

static void
test_delay_bounds_over_many_values (void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ull; /* xorshift64 */
    uint32_t max_seen = 0;
    for (uint32_t attempt = 0; attempt < 40; attempt++) {
        uint32_t ceiling = hm_backoff_ceiling (100, 30000, attempt);
        for (int i = 0; i < 2000; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            uint32_t d = hm_backoff_delay (100, 30000, attempt, x);
            assert_true (d <= ceiling);
            assert_true (d <= 30000);
            if (d > max_seen)
                max_seen = d;
        }
    }
    /* Jitter spans the range: late attempts reach near the cap. */
    assert_true (max_seen > 29000);
    assert_int_equal (hm_backoff_delay (100, 30000, 40, UINT64_MAX), UINT64_MAX % 30001);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_ceiling_doubles_then_caps),
        cmocka_unit_test (test_ceiling_odd_configs),
        cmocka_unit_test (test_delay_is_full_jitter),
        cmocka_unit_test (test_delay_bounds_over_many_values),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
