/*  test_fsutil: the durable-write helpers (common/fsutil.h). Whether an
    fsync really reaches the disk is the fault suite's power-cut scenario;
    here: the paths they work on and the errors they give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
s_expect_dirname (const char *path, const char *want)
{
    char buf[64];
    memset (buf, 'x', sizeof buf);
    assert_int_equal (hm_fs_dirname (path, buf, sizeof buf), 0);
    assert_string_equal (buf, want);
}

static void
test_dirname (void **state)
{
    (void)state;
    s_expect_dirname ("reserve", ".");
    s_expect_dirname ("/reserve", "/");
    s_expect_dirname ("/var/lib/hamustro/reserve", "/var/lib/hamustro");
    s_expect_dirname ("data/reserve", "data");
    s_expect_dirname ("./reserve", ".");
}

static void
test_dirname_too_long (void **state)
{
    (void)state;
    char buf[8];
    errno = 0;
    assert_int_equal (hm_fs_dirname ("12345678/name", buf, sizeof buf), -1);
    assert_int_equal (errno, ENAMETOOLONG);
    /* One byte fewer fits, with its terminator. */
    assert_int_equal (hm_fs_dirname ("1234567/name", buf, sizeof buf), 0);
    assert_string_equal (buf, "1234567");
}

static void
test_mkdirs_and_fsync_parent (void **state)
{
    (void)state;
    char top[] = "/tmp/hm-test-fsutil-XXXXXX";
    assert_non_null (mkdtemp (top));
    char deep[128], file[160], err[256] = "";
    snprintf (deep, sizeof deep, "%s/a//b/c", top);
    assert_int_equal (hm_fs_mkdirs (deep, 0755, err, sizeof err), 0);
    struct stat st;
    assert_int_equal (stat (deep, &st), 0);
    assert_true (S_ISDIR (st.st_mode));
    /* Again: every part exists already, that is fine. */
    assert_int_equal (hm_fs_mkdirs (deep, 0755, err, sizeof err), 0);

    snprintf (file, sizeof file, "%s/name", deep);
    int fd = open (file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true (fd >= 0);
    assert_int_equal (hm_fs_write_all (fd, "x", 1), 0);
    close (fd);
    assert_int_equal (hm_fs_fsync_parent (file), 0);

    /* A file where a directory should be: the error names it. */
    char below[192];
    snprintf (below, sizeof below, "%s/more", file);
    errno = 0;
    assert_int_equal (hm_fs_mkdirs (below, 0755, err, sizeof err), -1);
    assert_int_equal (errno, ENOTDIR);
    assert_non_null (strstr (err, file));

    /* The parent of a name in a missing directory cannot be synced. */
    char gone[192];
    snprintf (gone, sizeof gone, "%s/missing/name", top);
    assert_int_equal (hm_fs_fsync_parent (gone), -1);
    assert_int_equal (errno, ENOENT);

    unlink (file);
    snprintf (file, sizeof file, "%s/a/b/c", top);
    rmdir (file);
    snprintf (file, sizeof file, "%s/a/b", top);
    rmdir (file);
    snprintf (file, sizeof file, "%s/a", top);
    rmdir (file);
    assert_int_equal (rmdir (top), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_dirname),
        cmocka_unit_test (test_dirname_too_long),
        cmocka_unit_test (test_mkdirs_and_fsync_parent),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
