/*  test_log_faults: the router's log (router/log.h) on its failure paths:
    a failed fdatasync or ftruncate (injected by tests/faults/faultshim.c,
    linked into this program so the log's real calls go through it), a cut
    back after a failed sync, and records damaged on disk.
    Every test works in a fresh temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log.h"
#include "log_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* tests/faults/faultshim.c: arms rules (NULL: none). */
int hm_faults_set (const char *rules);

static int
s_setup (void **state)
{
    return lf_setup (state, "logf");
}

static int
s_teardown (void **state)
{
    hm_faults_set (NULL);
    return lf_teardown (state);
}

/* The cursor's next record must be seq with payload tag-i. */
static void
s_expect (rlog_cursor_t *c, uint64_t limit, uint64_t seq, const char *tag, int i)
{
    uint64_t got;
    const uint8_t *data;
    size_t len;
    assert_int_equal (rlog_cursor_next (c, limit, &got, &data, &len), 1);
    assert_int_equal (got, seq);
    char want[48];
    int n = lf_payload (want, sizeof want, tag, i);
    assert_int_equal (len, (size_t)n);
    assert_memory_equal (data, want, len);
}

/* Seqs a new cursor reads from 1 (at most cap), into seqs. */
static size_t
s_read_seqs (rlog_t *log, uint64_t *seqs, size_t cap)
{
    rlog_cursor_t *c = rlog_cursor_new (log, 1);
    assert_non_null (c);
    uint64_t seq;
    const uint8_t *data;
    size_t len, n = 0;
    while (n < cap && rlog_cursor_next (c, UINT64_MAX, &seq, &data, &len) == 1)
        seqs[n++] = seq;
    rlog_cursor_destroy (&c);
    return n;
}

/* Item 1 of issue 18: a cursor had buffered bytes of records past the
   durable mark; a failed sync cut them off and new records (other
   payloads, other lengths) took their offsets. The cursor must read the
   new records, not its stale copy of the old ones. */
static void
test_cursor_rereads_after_cut (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    lf_append (log, "a", 1, 4);
    rlog_set_durable (log, 3);
    lf_append (log, "lost", 4, 7); /* written, never durable */
    rlog_cursor_t *c = rlog_cursor_new (log, 1);
    for (int i = 1; i <= 3; i++)
        s_expect (c, 3, (uint64_t)i, "a", i);
    uint64_t seq;
    const uint8_t *data;
    size_t len;
    assert_int_equal (rlog_cursor_next (c, 3, &seq, &data, &len), 0);
    /* The sync of 4..6 failed: the server cuts back to the durable mark. */
    assert_int_equal (rlog_truncate_after (log, 3), 0);
    assert_int_equal (rlog_next_seq (log), 4);
    assert_int_equal (lf_append (log, "replacement", 4, 8), 4);
    rlog_set_durable (log, 7);
    for (int i = 4; i <= 7; i++)
        s_expect (c, 7, (uint64_t)i, "replacement", i);
    assert_int_equal (rlog_cursor_next (c, 7, &seq, &data, &len), 0);
    rlog_cursor_destroy (&c);
    rlog_destroy (&log);
}

/* Item 3 of issue 18: a segment starting right after the cut (here made
   by rlog_advance_to, whose gap 3..9 lies before it) must not be deleted
   with the next records following in the older segment behind a gap: at
   the next open the gap read as a torn tail and the synced records after
   it were cut. */
static void
test_cut_keeps_the_segment_after_a_gap (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    lf_append (log, "a", 1, 3);
    assert_int_equal (rlog_advance_to (log, 10), 0);
    assert_int_equal (rlog_durable_seq (log), 9);
    lf_append (log, "lost", 10, 12);
    assert_int_equal (rlog_truncate_after (log, 9), 0);
    assert_int_equal (rlog_next_seq (log), 10);
    assert_int_equal (lf_append (log, "b", 10, 13), 10);
    rlog_set_durable (log, 12);
    rlog_destroy (&log);

    log = lf_open (f, 1 << 20, 1 << 30);
    assert_int_equal (rlog_cut_bytes (log), 0);
    assert_int_equal (rlog_next_seq (log), 13);
    uint64_t seqs[8];
    assert_int_equal (s_read_seqs (log, seqs, 8), 5);
    uint64_t want[5] = {1, 2, 10, 11, 12};
    assert_memory_equal (seqs, want, sizeof want);
    rlog_destroy (&log);
}

/* The same when the cut lands past a deleted segment inside the gap: the
   next record starts a segment of its own. */
static void
test_cut_inside_a_gap (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    lf_append (log, "a", 1, 3);
    assert_int_equal (rlog_advance_to (log, 10), 0);
    lf_append (log, "lost", 10, 12);
    /* Cut after 5: records 3..5 were never written (the gap). */
    assert_int_equal (rlog_truncate_after (log, 5), 0);
    assert_int_equal (rlog_next_seq (log), 6);
    assert_int_equal (lf_append (log, "b", 6, 8), 6);
    rlog_destroy (&log);
    log = lf_open (f, 1 << 20, 1 << 30);
    assert_int_equal (rlog_cut_bytes (log), 0);
    assert_int_equal (rlog_next_seq (log), 8);
    uint64_t seqs[8];
    assert_int_equal (s_read_seqs (log, seqs, 8), 4);
    uint64_t want[4] = {1, 2, 6, 7};
    assert_memory_equal (seqs, want, sizeof want);
    rlog_destroy (&log);
}

/* Item 4 of issue 18: the fdatasync of a roll fails. The next append must
   not retry it and then count the records as durable (a retried fsync
   that succeeds says nothing about the pages whose write failed): the log
   refuses appends until it was cut back to its durable mark. */
static void
test_failed_roll_sync_refuses_appends (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 38, 1 << 30); /* two 19-byte records fill a segment */
    lf_append (log, "r", 1, 3);             /* seq 1..2, not durable */
    assert_int_equal (rlog_durable_seq (log), 0);
    assert_true (rlog_needs_roll (log));
    assert_int_equal (hm_faults_set ("fdatasync *.seg 0 1 EIO"), 0);
    char p[8] = "x";
    struct iovec iov = {p, 1};
    uint64_t first;
    assert_int_equal (rlog_append (log, &iov, 1, &first), -1);
    /* The fault is spent: a retried fdatasync would succeed. */
    assert_int_equal (rlog_append (log, &iov, 1, &first), -1);
    assert_int_equal (rlog_durable_seq (log), 0);
    assert_true (rlog_failed (log));
    /* Cut back to the durable mark: appends resume at 1. */
    assert_int_equal (rlog_truncate_after (log, rlog_durable_seq (log)), 0);
    assert_false (rlog_failed (log));
    assert_int_equal (rlog_append (log, &iov, 1, &first), 0);
    assert_int_equal (first, 1);
    rlog_destroy (&log);
}

/* Item 4: the cut back after a failed sync fails itself (ftruncate, then
   its fdatasync): appends are refused until a cut back succeeds. */
static void
s_failed_cut (lf_fixture_t *f, const char *rule)
{
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    lf_append (log, "a", 1, 4);
    rlog_set_durable (log, 3);
    lf_append (log, "lost", 4, 6);
    assert_int_equal (hm_faults_set (rule), 0);
    assert_int_equal (rlog_truncate_after (log, 3), -1);
    assert_true (rlog_failed (log));
    char p[8] = "x";
    struct iovec iov = {p, 1};
    uint64_t first;
    assert_int_equal (rlog_append (log, &iov, 1, &first), -1);
    assert_int_equal (errno, EIO);
    assert_int_equal (rlog_durable_seq (log), 3);
    /* The disk works again: the next cut back succeeds, appends resume. */
    hm_faults_set (NULL);
    assert_int_equal (rlog_truncate_after (log, 3), 0);
    assert_false (rlog_failed (log));
    assert_int_equal (lf_append (log, "b", 4, 6), 4);
    rlog_set_durable (log, 5);
    rlog_destroy (&log);
    log = lf_open (f, 1 << 20, 1 << 30);
    assert_int_equal (rlog_cut_bytes (log), 0);
    assert_int_equal (rlog_next_seq (log), 6);
    rlog_cursor_t *c = rlog_cursor_new (log, 1);
    for (int i = 1; i <= 3; i++)
        s_expect (c, 5, (uint64_t)i, "a", i);
    for (int i = 4; i <= 5; i++)
        s_expect (c, 5, (uint64_t)i, "b", i);
    rlog_cursor_destroy (&c);
    rlog_destroy (&log);
}

static void
test_failed_cut_ftruncate (void **state)
{
    s_failed_cut (*state, "ftruncate *.seg 0 1 EIO");
}

static void
test_failed_cut_fdatasync (void **state)
{
    s_failed_cut (*state, "fdatasync *.seg 0 1 EIO");
}

/* Item 4: a failed write whose cut back fails leaves bytes past the end:
   appends wait for a cut back. */
static void
test_failed_write_and_cut (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    lf_append (log, "a", 1, 3);
    rlog_set_durable (log, 2);
    assert_int_equal (hm_faults_set ("pwritev *.seg 0 1 ENOSPC\nftruncate *.seg 0 1 EIO"), 0);
    char p[8] = "x";
    struct iovec iov = {p, 1};
    uint64_t first;
    assert_int_equal (rlog_append (log, &iov, 1, &first), -1);
    assert_true (rlog_failed (log));
    assert_int_equal (rlog_append (log, &iov, 1, &first), -1);
    assert_int_equal (rlog_truncate_after (log, 2), 0);
    assert_int_equal (rlog_append (log, &iov, 1, &first), 0);
    assert_int_equal (first, 3);
    rlog_destroy (&log);
}

/* A write that fails but is cut back cleanly (ENOSPC) is not a failed
   log: the next append may go on. */
static void
test_failed_write_cut_back_goes_on (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    lf_append (log, "a", 1, 3);
    assert_int_equal (hm_faults_set ("pwritev *.seg 0 1 ENOSPC"), 0);
    char p[8] = "x";
    struct iovec iov = {p, 1};
    uint64_t first;
    assert_int_equal (rlog_append (log, &iov, 1, &first), -1);
    assert_false (rlog_failed (log));
    assert_int_equal (rlog_append (log, &iov, 1, &first), 0);
    assert_int_equal (first, 3);
    rlog_destroy (&log);
}

/* Item 9 of issue 18: one bad record inside a segment that was synced at
   its roll is corruption, not a torn tail: the records after it are kept,
   the damage counted. Records are 24 bytes ("r-1" .. "r-9": 3 bytes). */
static void
test_corruption_in_an_older_segment (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 9 * 19, 1 << 30);
    for (int i = 1; i <= 9; i++)
        lf_append (log, "r", i, i + 1);
    lf_append (log, "r", 10, 12); /* rolls: segment 10 */
    assert_int_equal (rlog_segment_count (log), 2);
    rlog_destroy (&log);
    char path[160];
    lf_seg_path (f, 1, path, sizeof path);
    lf_flip_crc (path, 3 * 19); /* record 4 */
    log = lf_open (f, 9 * 19, 1 << 30);
    assert_int_equal (rlog_next_seq (log), 12);
    assert_int_equal (rlog_cut_bytes (log), 0);
    assert_int_equal (rlog_damaged (log), 1);
    uint64_t seqs[16];
    assert_int_equal (s_read_seqs (log, seqs, 16), 10);
    uint64_t want[10] = {1, 2, 3, 5, 6, 7, 8, 9, 10, 11};
    assert_memory_equal (seqs, want, sizeof want);
    assert_int_equal (rlog_damaged (log), 1); /* the cursor met the same place */
    rlog_destroy (&log);
}

/* Item 9: in the last segment too, a bad record followed by valid ones is
   skipped, not cut with them; appends go on after the last valid one. */
static void
test_corruption_in_the_last_segment (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    for (int i = 1; i <= 5; i++)
        lf_append (log, "r", i, i + 1);
    rlog_destroy (&log);
    char path[160];
    lf_seg_path (f, 1, path, sizeof path);
    lf_flip_crc (path, 1 * 19); /* record 2 */
    log = lf_open (f, 1 << 20, 1 << 30);
    assert_int_equal (rlog_next_seq (log), 6);
    assert_int_equal (rlog_damaged (log), 1);
    assert_int_equal (lf_append (log, "r", 6, 7), 6);
    uint64_t seqs[16];
    assert_int_equal (s_read_seqs (log, seqs, 16), 5);
    uint64_t want[5] = {1, 3, 4, 5, 6};
    assert_memory_equal (seqs, want, sizeof want);
    rlog_destroy (&log);
    /* A second open finds the same damage, and nothing more to cut. */
    log = lf_open (f, 1 << 20, 1 << 30);
    assert_int_equal (rlog_next_seq (log), 7);
    assert_int_equal (rlog_cut_bytes (log), 0);
    rlog_destroy (&log);
}

/* A torn tail stays a torn tail: the bad record is the last thing in the
   last segment; it is cut and not counted as damage. */
static void
test_torn_tail_is_not_damage (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    for (int i = 1; i <= 5; i++)
        lf_append (log, "r", i, i + 1);
    rlog_destroy (&log);
    char path[160];
    lf_seg_path (f, 1, path, sizeof path);
    lf_flip_crc (path, 4 * 19); /* record 5, the last */
    log = lf_open (f, 1 << 20, 1 << 30);
    assert_int_equal (rlog_next_seq (log), 5);
    assert_int_equal (rlog_damaged (log), 0);
    assert_int_equal (rlog_cut_bytes (log), 19);
    rlog_destroy (&log);
}

/* Damage that appears while the log is open (the disk changed under us):
   a cursor skips the bad record, counts it, and reads on. */
static void
test_cursor_skips_damage_found_later (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    for (int i = 1; i <= 5; i++)
        lf_append (log, "r", i, i + 1);
    char path[160];
    lf_seg_path (f, 1, path, sizeof path);
    lf_flip_crc (path, 2 * 19); /* record 3 */
    uint64_t seqs[16];
    assert_int_equal (s_read_seqs (log, seqs, 16), 4);
    uint64_t want[4] = {1, 2, 4, 5};
    assert_memory_equal (seqs, want, sizeof want);
    assert_int_equal (rlog_damaged (log), 1);
    /* A second route's cursor steps over it too, without counting it again. */
    assert_int_equal (s_read_seqs (log, seqs, 16), 4);
    assert_int_equal (rlog_damaged (log), 1);
    /* And one positioned past it (a route restarting at 4) steps over it on
       its way there. */
    rlog_cursor_t *c = rlog_cursor_new (log, 4);
    s_expect (c, 5, 4, "r", 4);
    s_expect (c, 5, 5, "r", 5);
    rlog_cursor_destroy (&c);
    c = rlog_cursor_new (log, 2);
    s_expect (c, 5, 2, "r", 2);
    s_expect (c, 5, 4, "r", 4);
    rlog_cursor_destroy (&c);
    rlog_destroy (&log);
}

/* Damage at the end of the segment being written, nothing readable after
   it: the records are not there to read, and "nothing more up to the
   limit" would let a route pass them by. The cursor reports an error
   (-1) and stays where it is. */
static void
test_cursor_stops_at_damage_it_cannot_pass (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    for (int i = 1; i <= 3; i++)
        lf_append (log, "r", i, i + 1);
    char path[160];
    lf_seg_path (f, 1, path, sizeof path);
    lf_flip_crc (path, 2 * 19); /* record 3, the last */
    rlog_cursor_t *c = rlog_cursor_new (log, 1);
    s_expect (c, 3, 1, "r", 1);
    s_expect (c, 3, 2, "r", 2);
    uint64_t seq;
    const uint8_t *data;
    size_t len;
    assert_int_equal (rlog_cursor_next (c, 3, &seq, &data, &len), -1);
    assert_int_equal (rlog_cursor_next (c, 3, &seq, &data, &len), -1);
    assert_int_equal (rlog_cursor_seq (c), 3);
    rlog_cursor_destroy (&c);
    rlog_destroy (&log);
}

/* Zero-ahead space behind the records of rolled segments (whole headers
   of zeros, or a few zero bytes) is the end of a segment, not damage. */
static void
test_zeros_behind_rolled_segments_are_not_damage (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 3 * 19, 1 << 30);
    rlog_set_zero_ahead (log, 4096);
    for (int i = 1; i <= 9; i++)
        lf_append (log, "r", i, i + 1);
    assert_int_equal (rlog_segment_count (log), 3);
    /* The first segment ends in 5 zero bytes instead of zero-ahead space. */
    char path[160];
    lf_seg_path (f, 1, path, sizeof path);
    assert_int_equal (truncate (path, 3 * 19 + 5), 0);
    uint64_t seqs[16];
    assert_int_equal (s_read_seqs (log, seqs, 16), 9);
    assert_int_equal (seqs[8], 9);
    assert_int_equal (rlog_damaged (log), 0);
    rlog_destroy (&log);
    log = lf_open (f, 3 * 19, 1 << 30);
    assert_int_equal (rlog_damaged (log), 0);
    assert_int_equal (rlog_cut_bytes (log), 0);
    assert_int_equal (rlog_next_seq (log), 10);
    rlog_destroy (&log);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_cursor_rereads_after_cut, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cut_keeps_the_segment_after_a_gap, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_cut_inside_a_gap, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failed_roll_sync_refuses_appends, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_failed_cut_ftruncate, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failed_cut_fdatasync, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failed_write_and_cut, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failed_write_cut_back_goes_on, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_corruption_in_an_older_segment, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_corruption_in_the_last_segment, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_torn_tail_is_not_damage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cursor_skips_damage_found_later, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cursor_stops_at_damage_it_cannot_pass, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_zeros_behind_rolled_segments_are_not_damage, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
