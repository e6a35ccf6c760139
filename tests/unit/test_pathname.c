/*  test_pathname: path templates in UTC and batch names that depend only
    on the batch identity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "pathname.h"

static void
test_expand (void **state)
{
    (void)state;
    char out[256];
    /* 1454514088 is 2016-02-03 15:41:28 UTC */
    assert_int_equal (hm_path_expand ("var/{date}/{year}{month}{day}/{hour}-{minute}-{second}/"
                                      "{date}/x{unknown}{",
                                      1454514088, out, sizeof out),
                      0);
    assert_string_equal (out, "var/2016-02-03/20160203/15-41-28/2016-02-03/x{unknown}{");

    assert_int_equal (hm_path_expand ("", 0, out, sizeof out), 0);
    assert_string_equal (out, "");
    assert_int_equal (hm_path_expand ("{year}{month}{day}{hour}{minute}{second}", 0, out, 20), 0);
    assert_string_equal (out, "19700101000000");
    assert_int_equal (hm_path_expand ("plain/path/", 951868799, out, sizeof out), 0);
    assert_string_equal (out, "plain/path/");
    assert_int_equal (hm_path_expand ("{date}", 951868799, out, sizeof out), 0);
    assert_string_equal (out, "2000-02-29");
}

static void
test_expand_too_small (void **state)
{
    (void)state;
    char out[11];
    assert_int_equal (hm_path_expand ("{date}", 0, out, sizeof out), 0); /* exactly fits */
    assert_string_equal (out, "1970-01-01");
    assert_int_equal (hm_path_expand ("{date}/", 0, out, sizeof out), -1);
    assert_int_equal (hm_path_expand ("abcdefghijk", 0, out, sizeof out), -1);
    assert_int_equal (hm_path_expand ("", 0, out, 0), -1);
}

static bool
s_all_letters (const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
            return false;
    return s[n] == '\0';
}

static void
test_letters (void **state)
{
    (void)state;
    char a[21], b[21];
    hm_batch_letters ("archive", 1, 100, a);
    assert_true (s_all_letters (a, 20));
    hm_batch_letters ("archive", 1, 100, b);
    assert_string_equal (a, b); /* deterministic */

    hm_batch_letters ("archive", 2, 100, b);
    assert_string_not_equal (a, b);
    hm_batch_letters ("archive", 1, 101, b);
    assert_string_not_equal (a, b);
    hm_batch_letters ("s3", 1, 100, b);
    assert_string_not_equal (a, b);
    /* the separator keeps (1, 23) and (12, 3) apart */
    hm_batch_letters ("r", 1, 23, a);
    hm_batch_letters ("r", 12, 3, b);
    assert_string_not_equal (a, b);

    /* long route names work the same way */
    char route[400];
    memset (route, 'r', sizeof route - 1);
    route[sizeof route - 1] = '\0';
    hm_batch_letters (route, 5, 6, a);
    assert_true (s_all_letters (a, 20));
    hm_batch_letters (route, 5, 7, b);
    assert_string_not_equal (a, b);
}

static void
test_batch_name (void **state)
{
    (void)state;
    char letters[21], name[64], expected[64];
    hm_batch_letters ("archive", 7, 9, letters);

    assert_int_equal (
        hm_batch_name ("archive", 7, 9, 1454514100, HM_FORMAT_JSON, true, name, sizeof name), 0);
    snprintf (expected, sizeof expected, "1454514100-%s.json.gz", letters);
    assert_string_equal (name, expected);

    assert_int_equal (
        hm_batch_name ("archive", 7, 9, 1454514100, HM_FORMAT_CSV, false, name, sizeof name), 0);
    snprintf (expected, sizeof expected, "1454514100-%s.csv", letters);
    assert_string_equal (name, expected);

    /* "1454514100-" + 20 letters + ".csv" = 35 chars: needs 36 bytes */
    assert_int_equal (hm_batch_name ("archive", 7, 9, 1454514100, HM_FORMAT_CSV, false, name, 36),
                      0);
    assert_int_equal (hm_batch_name ("archive", 7, 9, 1454514100, HM_FORMAT_CSV, false, name, 35),
                      -1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_expand),
        cmocka_unit_test (test_expand_too_small),
        cmocka_unit_test (test_letters),
        cmocka_unit_test (test_batch_name),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
