/*  log_fixture: what the log's unit tests (test_log, test_log_faults)
    share, written once: a fresh temporary data directory per test, the
    log (router/log.h) opened in it, records "<tag>-<i>" appended in one
    round, the path of a segment and a flipped crc bit. Linked into those
    tests by tests/CMakeLists.txt; needs cmocka.h included before it. */
#ifndef HM_LOG_FIXTURE_H
#define HM_LOG_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"

typedef struct {
    char dir[64];  /* temporary data directory */
    char log[128]; /* dir/log */
} lf_fixture_t;

/* cmocka setup: a fresh /tmp/hm-test-<name>-XXXXXX. */
int lf_setup (void **state, const char *name);
/* cmocka teardown: removes the directory. */
int lf_teardown (void **state);

/* Opens (or creates) the log in dir/log; fails the test if it cannot. */
rlog_t *lf_open (lf_fixture_t *f, uint64_t segment_bytes, uint64_t max_bytes);
/* The payload of record i: "<tag>-<i>"; returns its length. */
int lf_payload (char *out, size_t cap, const char *tag, int i);
/* Appends records tag-from .. tag-(to-1) (at most 64) in one round;
   returns the first one's seq. */
uint64_t lf_append (rlog_t *log, const char *tag, int from, int to);
/* The path of the segment whose first record is first. */
void lf_seg_path (lf_fixture_t *f, uint64_t first, char *out, size_t cap);
/* Flips a bit of the crc of the record that starts at byte at of path. */
void lf_flip_crc (const char *path, off_t at);

#endif
