/*  fixture_dir: the temporary directory every unit-test fixture
    (router_fixture, log_fixture, route_fixture) works in, made and
    removed in one place. Needs cmocka.h included before it. */
#ifndef HM_FIXTURE_DIR_H
#define HM_FIXTURE_DIR_H

#include <stddef.h>

/* Makes a fresh /tmp/hm-test-<name>-XXXXXX and puts its path in dir (cap
   bytes); fails the test if it cannot. */
void fixture_dir_make (char *dir, size_t cap, const char *name);
/* Removes dir and everything below it; fails the test if it cannot. */
void fixture_dir_remove (const char *dir);

#endif
