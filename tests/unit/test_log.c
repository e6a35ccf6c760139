/*  test_log: the router's durable log (router/log.h) and its syncer.
    Every test works in a fresh temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log.h"
#include "log_fixture.h"
#include "syncer.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
s_setup (void **state)
{
    return lf_setup (state, "log");
}

static int
s_teardown (void **state)
{
    return lf_teardown (state);
}

/* Reads every record from seq and checks it is "record-<seq-1+base>". */
static int
s_read_all (rlog_t *log, uint64_t from, int base)
{
    rlog_cursor_t *c = rlog_cursor_new (log, from);
    assert_non_null (c);
    uint64_t seq, expect = from;
    const uint8_t *data;
    size_t len;
    int count = 0;
    while (rlog_cursor_next (c, UINT64_MAX, &seq, &data, &len) == 1) {
        char want[48];
        int n = lf_payload (want, sizeof want, "record", (int)(seq - 1) + base);
        assert_int_equal (seq, expect);
        assert_int_equal (len, (size_t)n);
        assert_memory_equal (data, want, len);
        expect++;
        count++;
    }
    rlog_cursor_destroy (&c);
    return count;
}

static off_t
s_file_size (const char *path)
{
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    return st.st_size;
}

static void
test_append_reopen_read (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    assert_int_equal (rlog_next_seq (log), 1);
    assert_int_equal (rlog_first_seq (log), 1);
    assert_int_equal (lf_append (log, "record", 0, 3), 1);
    assert_int_equal (lf_append (log, "record", 3, 5), 4);
    assert_int_equal (rlog_next_seq (log), 6);
    assert_int_equal (s_read_all (log, 1, 0), 5);
    assert_int_equal (s_read_all (log, 4, 0), 2);
    rlog_destroy (&log);
    assert_null (log);

    log = lf_open (f, 1 << 20, 1 << 30);
    assert_int_equal (rlog_next_seq (log), 6);
    assert_int_equal (rlog_durable_seq (log), 5);
    assert_int_equal (rlog_cut_bytes (log), 0);
    assert_int_equal (s_read_all (log, 1, 0), 5);
    assert_int_equal (lf_append (log, "record", 5, 6), 6);
    assert_int_equal (s_read_all (log, 1, 0), 6);
    rlog_destroy (&log);
}

static void
test_cursor_limit_and_follow (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    lf_append (log, "record", 0, 4);
    rlog_cursor_t *c = rlog_cursor_new (log, 1);
    uint64_t seq;
    const uint8_t *data;
    size_t len;
    assert_int_equal (rlog_cursor_next (c, 2, &seq, &data, &len), 1);
    assert_int_equal (seq, 1);
    assert_int_equal (rlog_cursor_next (c, 2, &seq, &data, &len), 1);
    assert_int_equal (seq, 2);
    /* Record 3 exists but is beyond the limit (not durable yet). */
    assert_int_equal (rlog_cursor_next (c, 2, &seq, &data, &len), 0);
    assert_int_equal (rlog_cursor_next (c, 10, &seq, &data, &len), 1);
    assert_int_equal (seq, 3);
    assert_int_equal (rlog_cursor_next (c, 10, &seq, &data, &len), 1);
    assert_int_equal (rlog_cursor_next (c, 10, &seq, &data, &len), 0);
    /* New records become visible to the same cursor. */
    lf_append (log, "record", 4, 6);
    assert_int_equal (rlog_cursor_next (c, 10, &seq, &data, &len), 1);
    assert_int_equal (seq, 5);
    assert_memory_equal (data, "record-4", len);
    rlog_cursor_destroy (&c);
    rlog_destroy (&log);
}

/* Opens, writes 5 records, lets damage() hurt the segment, reopens. */
static rlog_t *
s_damaged (lf_fixture_t *f, void (*damage) (const char *path, off_t size))
{
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    lf_append (log, "record", 0, 5);
    rlog_destroy (&log);
    char path[160];
    lf_seg_path (f, 1, path, sizeof path);
    damage (path, s_file_size (path));
    return lf_open (f, 1 << 20, 1 << 30);
}

static void
s_add_garbage (const char *path, off_t size)
{
    (void)size;
    FILE *fp = fopen (path, "ab");
    fwrite ("\x07\x00\x00\x00garbage", 1, 11, fp);
    fclose (fp);
}

static void
s_cut_half (const char *path, off_t size)
{
    /* The last record is 16 + 8 bytes: cut in its payload. */
    assert_int_equal (truncate (path, size - 4), 0);
}

static void
s_cut_header (const char *path, off_t size)
{
    /* Leaves 10 bytes of the last record's header. */
    assert_int_equal (truncate (path, size - 24 + 10), 0);
}

static void
s_flip_crc (const char *path, off_t size)
{
    lf_flip_crc (path, size - 24); /* the last record's */
}

static void
s_check_torn (lf_fixture_t *f, void (*damage) (const char *, off_t), uint64_t next, bool cut)
{
    rlog_t *log = s_damaged (f, damage);
    assert_int_equal (rlog_next_seq (log), next);
    assert_int_equal (rlog_cut_bytes (log) > 0, cut);
    assert_int_equal (s_read_all (log, 1, 0), (int)next - 1);
    /* Appends continue with the right sequence numbers. */
    assert_int_equal (lf_append (log, "record", (int)next - 1, (int)next + 1), next);
    assert_int_equal (s_read_all (log, 1, 0), (int)next + 1);
    rlog_destroy (&log);
    /* And survive another reopen untouched. */
    log = lf_open (f, 1 << 20, 1 << 30);
    assert_int_equal (rlog_cut_bytes (log), 0);
    assert_int_equal (rlog_next_seq (log), next + 2);
    rlog_destroy (&log);
}

static void
test_torn_garbage (void **state)
{
    s_check_torn (*state, s_add_garbage, 6, true);
}

static void
test_torn_half_record (void **state)
{
    s_check_torn (*state, s_cut_half, 5, true);
}

static void
test_torn_short_header (void **state)
{
    s_check_torn (*state, s_cut_header, 5, true);
}

static void
test_torn_bad_crc (void **state)
{
    s_check_torn (*state, s_flip_crc, 5, true);
}

/* Zero-ahead space past the records is cut quietly at open; bytes beyond
   it that are not zeros are a tear worth reporting. */
static void
test_zero_ahead_space (void **state)
{
    lf_fixture_t *f = *state;
    char seg[256];
    lf_seg_path (f, 1, seg, sizeof seg);
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    rlog_set_zero_ahead (log, 64 << 10);
    lf_append (log, "record", 0, 5);
    rlog_destroy (&log);
    assert_true (s_file_size (seg) > 5 * 24); /* the zeros are there */

    log = lf_open (f, 1 << 20, 1 << 30);
    assert_int_equal (rlog_cut_bytes (log), 0);
    assert_int_equal (rlog_next_seq (log), 6);
    rlog_set_zero_ahead (log, 64 << 10);
    lf_append (log, "record", 5, 7);
    rlog_destroy (&log);

    s_add_garbage (seg, s_file_size (seg));
    log = lf_open (f, 1 << 20, 1 << 30);
    assert_true (rlog_cut_bytes (log) > 0);
    assert_int_equal (rlog_next_seq (log), 8);
    assert_int_equal (s_read_all (log, 1, 0), 7);
    rlog_destroy (&log);
}

static void
test_wrong_seq_is_cut (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    lf_append (log, "record", 0, 2);
    rlog_destroy (&log);
    /* Forge a well-formed record carrying seq 9 instead of 3. */
    uint8_t rec[RLOG_HEADER + 3];
    rlog_header (rec, 9, "abc", 3);
    memcpy (rec + RLOG_HEADER, "abc", 3);
    char path[160];
    lf_seg_path (f, 1, path, sizeof path);
    FILE *fp = fopen (path, "ab");
    fwrite (rec, 1, sizeof rec, fp);
    fclose (fp);
    log = lf_open (f, 1 << 20, 1 << 30);
    assert_int_equal (rlog_next_seq (log), 3);
    assert_int_equal (rlog_cut_bytes (log), sizeof rec);
    rlog_destroy (&log);
}

static size_t
s_count_segments (lf_fixture_t *f)
{
    DIR *d = opendir (f->log);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir (d)))
        n += strstr (e->d_name, ".seg") != NULL;
    closedir (d);
    return n;
}

static void
test_roll_and_delete (void **state)
{
    lf_fixture_t *f = *state;
    /* Each record is 16 + 8 bytes; roll once a segment holds 48 bytes:
       two records per segment when appended one at a time. */
    rlog_t *log = lf_open (f, 48, 1 << 30);
    for (int i = 0; i < 9; i++)
        assert_int_equal (lf_append (log, "record", i, i + 1), (uint64_t)i + 1);
    assert_int_equal (rlog_segment_count (log), 5);
    assert_int_equal (s_count_segments (f), 5);
    char path[160];
    lf_seg_path (f, 3, path, sizeof path);
    assert_int_equal (access (path, F_OK), 0);
    assert_int_equal (s_read_all (log, 1, 0), 9);
    assert_int_equal (s_read_all (log, 4, 0), 6);

    /* Segments [1,2] [3,4] [5,6] [7,8] [9]: committed 3 frees only the first. */
    assert_int_equal (rlog_delete_upto (log, 3), 1);
    assert_int_equal (rlog_first_seq (log), 3);
    assert_int_equal (rlog_delete_upto (log, 3), 0);
    assert_int_equal (rlog_delete_upto (log, 8), 3);
    assert_int_equal (rlog_first_seq (log), 9);
    /* The segment being written is never deleted. */
    assert_int_equal (rlog_delete_upto (log, 100), 0);
    assert_int_equal (rlog_segment_count (log), 1);
    assert_int_equal (s_count_segments (f), 1);
    assert_int_equal (rlog_bytes (log), 24);
    /* A cursor asked for a deleted record starts at the oldest kept. */
    assert_int_equal (s_read_all (log, 9, 0), 1);
    rlog_destroy (&log);

    log = lf_open (f, 48, 1 << 30);
    assert_int_equal (rlog_first_seq (log), 9);
    assert_int_equal (rlog_next_seq (log), 10);
    rlog_destroy (&log);
}

/* With the reaper on (as the router runs it), delivered segments are
   unlinked by its thread: gone once it is done, and their bytes counted
   until then. */
static void
test_reaper_deletes (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 48, 1 << 30);
    assert_int_equal (rlog_set_reaper (log, 8), 0);
    for (int i = 0; i < 9; i++)
        lf_append (log, "record", i, i + 1);
    assert_int_equal (s_count_segments (f), 5);
    assert_int_equal (rlog_delete_upto (log, 8), 4);
    assert_int_equal (rlog_first_seq (log), 9);
    assert_int_equal (rlog_segment_count (log), 1);
    /* Until the thread is done the handed-over bytes still count. */
    assert_true (rlog_bytes (log) >= 24 && rlog_bytes (log) <= 24 + 4 * 48);
    rlog_reap_wait (log);
    assert_int_equal (s_count_segments (f), 1);
    assert_int_equal (rlog_bytes (log), 24);
    assert_int_equal (rlog_reap_failures (log), 0);
    assert_int_equal (s_read_all (log, 9, 0), 1);
    rlog_destroy (&log);
    log = lf_open (f, 48, 1 << 30);
    assert_int_equal (rlog_first_seq (log), 9);
    rlog_destroy (&log);
}

/* A reaper with no room: every segment is deleted inline, as without it. */
static void
test_reaper_full_deletes_inline (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 48, 1 << 30);
    assert_int_equal (rlog_set_reaper (log, 0), 0);
    for (int i = 0; i < 5; i++)
        lf_append (log, "record", i, i + 1);
    assert_int_equal (s_count_segments (f), 3);
    assert_int_equal (rlog_delete_upto (log, 4), 2);
    /* No wait: the files went before rlog_delete_upto returned. */
    assert_int_equal (s_count_segments (f), 1);
    assert_int_equal (rlog_bytes (log), 24);
    rlog_destroy (&log);
}

/* A segment the thread cannot unlink is logged and counted, and its bytes
   keep counting against the bound (they are still on disk). */
static void
test_reaper_failure_counted (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 48, 100);
    assert_int_equal (rlog_set_reaper (log, 8), 0);
    for (int i = 0; i < 3; i++)
        lf_append (log, "record", i, i + 1);
    /* The first segment's name becomes a directory: unlink fails (EISDIR). */
    char path[160], moved[200];
    lf_seg_path (f, 1, path, sizeof path);
    snprintf (moved, sizeof moved, "%s.moved", path);
    assert_int_equal (rename (path, moved), 0);
    assert_int_equal (mkdir (path, 0700), 0);
    assert_int_equal (rlog_delete_upto (log, 2), 1);
    rlog_reap_wait (log);
    assert_int_equal (rlog_reap_failures (log), 1);
    assert_int_equal (rlog_bytes (log), 72);
    assert_false (rlog_has_room (log, 24, 8));
    assert_int_equal (rmdir (path), 0);
    assert_int_equal (unlink (moved), 0);
    rlog_destroy (&log);
}

static void
test_cursor_crosses_segments_while_writing (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 48, 1 << 30);
    rlog_cursor_t *c = rlog_cursor_new (log, 1);
    uint64_t seq, expect = 1;
    const uint8_t *data;
    size_t len;
    for (int i = 0; i < 7; i++) {
        lf_append (log, "record", i, i + 1);
        assert_int_equal (rlog_cursor_next (c, rlog_next_seq (log) - 1, &seq, &data, &len), 1);
        assert_int_equal (seq, expect++);
        assert_int_equal (rlog_cursor_next (c, rlog_next_seq (log) - 1, &seq, &data, &len), 0);
    }
    rlog_cursor_destroy (&c);
    rlog_destroy (&log);
}

static void
test_byte_bound (void **state)
{
    lf_fixture_t *f = *state;
    /* Room for 4 records of 24 bytes. */
    rlog_t *log = lf_open (f, 48, 100);
    assert_true (rlog_has_room (log, 0, 8));
    for (int i = 0; i < 4; i++)
        lf_append (log, "record", i, i + 1);
    assert_int_equal (rlog_bytes (log), 96);
    assert_false (rlog_has_room (log, 0, 8));
    /* Planned bytes of the same round count too. */
    rlog_delete_upto (log, 2);
    assert_int_equal (rlog_bytes (log), 48);
    assert_true (rlog_has_room (log, 0, 8));
    assert_true (rlog_has_room (log, 24, 8));
    assert_false (rlog_has_room (log, 48, 8));
    rlog_destroy (&log);
}

static void
test_truncate_after (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 48, 1 << 30);
    for (int i = 0; i < 5; i++)
        lf_append (log, "record", i, i + 1);
    rlog_set_durable (log, 2);
    /* A failed sync: everything after 2 goes, across segment boundaries. */
    assert_int_equal (rlog_truncate_after (log, 2), 0);
    assert_int_equal (rlog_next_seq (log), 3);
    assert_int_equal (rlog_segment_count (log), 1);
    assert_int_equal (s_read_all (log, 1, 0), 2);
    assert_int_equal (lf_append (log, "record", 2, 4), 3);
    assert_int_equal (s_read_all (log, 1, 0), 4);
    rlog_destroy (&log);
    log = lf_open (f, 48, 1 << 30);
    assert_int_equal (rlog_next_seq (log), 5);
    assert_int_equal (s_read_all (log, 1, 0), 4);
    rlog_destroy (&log);
}

static void
test_advance_to (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    lf_append (log, "record", 0, 2);
    assert_int_equal (rlog_advance_to (log, 2), 0); /* already past: nothing */
    assert_int_equal (rlog_next_seq (log), 3);
    assert_int_equal (rlog_advance_to (log, 10), 0);
    assert_int_equal (rlog_next_seq (log), 10);
    assert_int_equal (rlog_durable_seq (log), 9);
    char bufs[2][16] = {"ten", "eleven"};
    struct iovec iov[2] = {{bufs[0], 3}, {bufs[1], 6}};
    uint64_t first;
    assert_int_equal (rlog_append (log, iov, 2, &first), 0);
    assert_int_equal (first, 10);
    rlog_destroy (&log);
    log = lf_open (f, 1 << 20, 1 << 30);
    assert_int_equal (rlog_next_seq (log), 12);
    /* A cursor steps over the gap. */
    rlog_cursor_t *c = rlog_cursor_new (log, 1);
    uint64_t seqs[8], seq;
    const uint8_t *data;
    size_t len, n = 0;
    while (n < 8 && rlog_cursor_next (c, UINT64_MAX, &seq, &data, &len) == 1)
        seqs[n++] = seq;
    assert_int_equal (n, 4);
    assert_int_equal (seqs[0], 1);
    assert_int_equal (seqs[1], 2);
    assert_int_equal (seqs[2], 10);
    assert_int_equal (seqs[3], 11);
    rlog_cursor_destroy (&c);
    rlog_destroy (&log);
}

static void
test_syncer (void **state)
{
    lf_fixture_t *f = *state;
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    syncer_t *s = syncer_new (rlog_durable_seq (log), 0);
    assert_non_null (s);
    lf_append (log, "record", 0, 3);
    assert_int_equal (syncer_post (s, rlog_fd (log), rlog_segment_first (log), 3), 0);
    int err = -1;
    assert_int_equal (syncer_wait (s, &err), 3);
    assert_int_equal (err, 0);
    assert_int_equal (syncer_poll (s, &err), 3);
    assert_true (syncer_syncs (s) >= 1);
    syncer_destroy (&s);
    assert_null (s);

    /* "write" durability: the interval is skipped by syncer_wait. */
    s = syncer_new (3, 100);
    lf_append (log, "record", 3, 4);
    syncer_post (s, rlog_fd (log), rlog_segment_first (log), 4);
    assert_int_equal (syncer_wait (s, &err), 4);
    syncer_destroy (&s);
    rlog_destroy (&log);
}

static void
test_empty_dir_and_garbage_names (void **state)
{
    lf_fixture_t *f = *state;
    assert_int_equal (mkdir (f->log, 0755), 0);
    char path[200];
    snprintf (path, sizeof path, "%s/notes.txt", f->log);
    FILE *fp = fopen (path, "w");
    fputs ("not a segment", fp);
    fclose (fp);
    rlog_t *log = lf_open (f, 1 << 20, 1 << 30);
    assert_int_equal (rlog_next_seq (log), 1);
    assert_int_equal (rlog_segment_count (log), 1);
    rlog_destroy (&log);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_append_reopen_read, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cursor_limit_and_follow, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_torn_garbage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_torn_half_record, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_torn_short_header, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_torn_bad_crc, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_zero_ahead_space, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_wrong_seq_is_cut, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_roll_and_delete, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reaper_deletes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reaper_full_deletes_inline, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reaper_failure_counted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cursor_crosses_segments_while_writing, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_byte_bound, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_truncate_after, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_advance_to, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_syncer, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_empty_dir_and_garbage_names, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
