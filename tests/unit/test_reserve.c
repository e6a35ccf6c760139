/*  test_reserve: the router's disk reserve (router/reserve.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "reserve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void
test_make_takes_the_room (void **state)
{
    (void)state;
    char dir[] = "/tmp/hm-test-reserve-XXXXXX";
    assert_non_null (mkdtemp (dir));
    char path[64];
    snprintf (path, sizeof path, "%s/reserve", dir);
    assert_int_equal (reserve_make (path), 0);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_size, RESERVE_BYTES);
    /* Allocated, not a sparse file: the room is really taken. */
    assert_true ((uint64_t)st.st_blocks * 512 >= RESERVE_BYTES);
    /* Made again while it is there: nothing changes. */
    assert_int_equal (reserve_make (path), 0);
    assert_true (reserve_release (path));
    assert_int_equal (stat (path, &st), -1);
    assert_false (reserve_release (path));
    /* Back after a release. */
    assert_int_equal (reserve_make (path), 0);
    assert_true (reserve_release (path));
    assert_int_equal (rmdir (dir), 0);
}

static void
test_make_fails_cleanly (void **state)
{
    (void)state;
    errno = 0;
    assert_int_equal (reserve_make ("/tmp/hm-test-reserve-no-such-dir/reserve"), -1);
    assert_int_equal (errno, ENOENT);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_make_takes_the_room),
        cmocka_unit_test (test_make_fails_cleanly),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
