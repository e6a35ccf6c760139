/*  fixture_dir: a unit test's temporary directory (fixture_dir.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture_dir.h"

#include <stdio.h>
#include <stdlib.h>

void
fixture_dir_make (char *dir, size_t cap, const char *name)
{
    assert_true ((size_t)snprintf (dir, cap, "/tmp/hm-test-%s-XXXXXX", name) < cap);
    assert_non_null (mkdtemp (dir));
}

void
fixture_dir_remove (const char *dir)
{
    char cmd[256];
    assert_true ((size_t)snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir) < sizeof cmd);
    assert_int_equal (system (cmd), 0);
}
