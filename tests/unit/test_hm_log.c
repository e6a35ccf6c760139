/*  test_hm_log: the ring of recent warnings and errors in common/hm_log.c.
    Only warn and error lines are kept, newest first; the ring holds
    HM_LOG_RECENT and forgets the oldest; a long message is cut at a
    character boundary with the marker; the same message at once is folded
    with a count; threads logging together leave whole, well-formed
    entries. The log itself goes to a file here, not the test's stderr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hm_log.h"

static int
s_setup (void **state)
{
    (void)state;
    hm_log_init ("test", HM_LOG_DEBUG);
    hm_log_recent_clear ();
    return 0;
}

static void
test_levels_and_order (void **state)
{
    (void)state;
    hm_debug ("debug %d", 1);
    hm_info ("info %d", 2);
    hm_warn ("first %d", 3);
    hm_error ("second %s", "x");
    hm_log_entry_t e[HM_LOG_RECENT];
    assert_int_equal (hm_log_recent (e, HM_LOG_RECENT), 2);
    assert_string_equal (e[0].message, "second x");
    assert_int_equal (e[0].level, HM_LOG_ERROR);
    assert_string_equal (e[1].message, "first 3");
    assert_int_equal (e[1].level, HM_LOG_WARN);
    assert_int_equal (e[0].repeats, 1);
    /* Wall-clock time, now-ish: after 2026-01-01. */
    assert_true (e[0].time_ms > 1767225600000ULL);
    assert_true (e[0].time_ms >= e[1].time_ms);
    /* max bounds the copy. */
    assert_int_equal (hm_log_recent (e, 1), 1);
    assert_string_equal (e[0].message, "second x");
    assert_string_equal (hm_log_ident (), "test");
    assert_string_equal (hm_log_level_name (HM_LOG_WARN), "warn");
}

static void
test_bound (void **state)
{
    (void)state;
    for (int i = 0; i < HM_LOG_RECENT + 5; i++)
        hm_warn ("line %d", i);
    hm_log_entry_t e[HM_LOG_RECENT + 4];
    assert_int_equal (hm_log_recent (e, HM_LOG_RECENT + 4), HM_LOG_RECENT);
    for (int i = 0; i < HM_LOG_RECENT; i++) {
        char want[32];
        snprintf (want, sizeof want, "line %d", HM_LOG_RECENT + 4 - i);
        assert_string_equal (e[i].message, want);
    }
}

static void
test_cut (void **state)
{
    (void)state;
    char big[1000];
    memset (big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    hm_error ("%s", big);
    hm_log_entry_t e[1];
    assert_int_equal (hm_log_recent (e, 1), 1);
    size_t n = strlen (e[0].message);
    assert_int_equal (n, HM_LOG_RECENT_BYTES);
    assert_string_equal (e[0].message + n - 3, HM_LOG_CUT_MARK);
    assert_int_equal (e[0].message[n - 4], 'a');

    /* A two-byte character across the cut is left out whole. */
    char out[8];
    assert_int_equal (hm_log_cut (out, sizeof out, "abc\xc3\xa9xyz", 8), 6);
    assert_string_equal (out, "abc...");
    assert_int_equal (hm_log_cut (out, sizeof out, "abcd\xc3\xa9xyz", 9), 7);
    assert_string_equal (out, "abcd...");
    /* What fits is copied as it is, up to a NUL. */
    assert_int_equal (hm_log_cut (out, sizeof out, "ab\0cd", 5), 2);
    assert_string_equal (out, "ab");
    assert_int_equal (hm_log_cut (out, sizeof out, "1234567", 7), 7);
    assert_string_equal (out, "1234567");
}

static void
test_fold (void **state)
{
    (void)state;
    hm_warn ("disk full");
    hm_warn ("disk full");
    hm_warn ("disk full");
    hm_error ("disk full"); /* another level: its own entry */
    hm_warn ("other");
    hm_warn ("disk full"); /* not at once: its own entry */
    hm_log_entry_t e[HM_LOG_RECENT];
    assert_int_equal (hm_log_recent (e, HM_LOG_RECENT), 4);
    assert_string_equal (e[0].message, "disk full");
    assert_int_equal (e[0].repeats, 1);
    assert_string_equal (e[1].message, "other");
    assert_int_equal (e[2].level, HM_LOG_ERROR);
    assert_int_equal (e[3].level, HM_LOG_WARN);
    assert_int_equal (e[3].repeats, 3);
}

#define S_THREADS 4
#define S_LINES 2000

static void *
s_logger (void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < S_LINES; i++) {
        hm_warn ("thread %d line %d", t, i);
        if (i % 50 == 0) {
            hm_log_entry_t e[HM_LOG_RECENT];
            hm_log_recent (e, HM_LOG_RECENT);
        }
    }
    return NULL;
}

static void
test_threads (void **state)
{
    (void)state;
    pthread_t th[S_THREADS];
    for (int t = 0; t < S_THREADS; t++)
        assert_int_equal (pthread_create (&th[t], NULL, s_logger, (void *)(intptr_t)t), 0);
    for (int t = 0; t < S_THREADS; t++)
        pthread_join (th[t], NULL);
    hm_log_entry_t e[HM_LOG_RECENT];
    assert_int_equal (hm_log_recent (e, HM_LOG_RECENT), HM_LOG_RECENT);
    /* Every entry is one whole line from one thread, and each thread's
       lines are in the order it logged them. */
    int last[S_THREADS];
    for (int t = 0; t < S_THREADS; t++)
        last[t] = S_LINES;
    for (int i = 0; i < HM_LOG_RECENT; i++) {
        int t, n, end = 0;
        assert_int_equal (sscanf (e[i].message, "thread %d line %d%n", &t, &n, &end), 2);
        assert_int_equal ((size_t)end, strlen (e[i].message));
        assert_true (t >= 0 && t < S_THREADS && n >= 0 && n < last[t]);
        last[t] = n;
    }
}

int
main (void)
{
    /* The log lines themselves: to a file beside the test, not the console. */
    char path[] = "/tmp/test_hm_log.XXXXXX";
    int fd = mkstemp (path);
    if (fd < 0 || hm_log_open_file (path) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup (test_levels_and_order, s_setup),
        cmocka_unit_test_setup (test_bound, s_setup),
        cmocka_unit_test_setup (test_cut, s_setup),
        cmocka_unit_test_setup (test_fold, s_setup),
        cmocka_unit_test_setup (test_threads, s_setup),
    };
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    unlink (path);
    return rc;
}
