/*  test_route_recovery: a route (router/route.h) on the log's failure
    paths. Sequence gaps (a log that lost its tail and was advanced past
    it) must leave a state file that loads again; a failed allocation
    or a damaged read must stop the route before the record it could not
    take, and the record must arrive once the route reads again: nothing
    acknowledged is skipped. Records are fed by hand or read from a real
    log (router/log.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "event.h"
#include "log.h"
#include "pipeline.pb-c.h"
#include "route.h"
#include "route_fixture.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The allocator hook: fails every call while s_fail_allocs is set, and
   counts the failures (so a test knows the failure path ran). */
static bool s_fail_allocs;
static int s_failed;

static void *
s_realloc (void *p, size_t n)
{
    if (s_fail_allocs) {
        s_failed++;
        return NULL;
    }
    return realloc (p, n);
}

static int
s_setup (void **state)
{
    s_fail_allocs = false;
    s_failed = 0;
    return rt_setup (state, "route-rec");
}

static int
s_teardown (void **state)
{
    return rt_teardown (state);
}

/* Record seq: an AppendRequest with n events named name ("" : none);
   their nr is seq, so a delivered event names its record. */
static void
s_make_n (rt_fixture_t *f, uint64_t seq, const char *name, size_t n)
{
    Hm__Event ev[2];
    Hm__Event *evp[2] = {&ev[0], &ev[1]};
    assert_true (n <= 2);
    for (size_t i = 0; i < n; i++) {
        hm__event__init (&ev[i]);
        HM_SET_STR (&ev[i], event, name);
        HM_SET_STR (&ev[i], device_id, "dev-1");
        ev[i].has_nr = true;
        ev[i].nr = (uint32_t)seq;
    }
    rt_pack (f, seq, evp, n);
}

/* Record seq with one event named name, or none for "". */
static void
s_make (rt_fixture_t *f, uint64_t seq, const char *name)
{
    s_make_n (f, seq, name, *name ? 1 : 0);
}

/* Saves, then takes every ready batch, acknowledges it and records which
   event nrs it carried in seen[] (counting duplicates). Returns batches. */
static size_t
s_deliver (route_t *r, int *seen)
{
    assert_int_equal (route_save (r), 0);
    size_t n = 0;
    route_batch_t *b;
    Hm__Delivery *d;
    while ((d = rt_next_delivery (r, &b))) {
        for (size_t i = 0; i < d->n_events; i++) {
            assert_true (d->events[i]->nr < RT_RECS);
            seen[d->events[i]->nr]++;
        }
        uint64_t first = b->first, last = b->last;
        hm__delivery__free_unpacked (d, NULL);
        route_mark_sent (r, b, NULL);
        void *owner;
        assert_int_equal (route_ack (r, first, last, &owner), 1);
        n++;
    }
    return n;
}

/* Saves, destroys and loads the route again (the restart that failed). */
static route_t *
s_restart (rt_fixture_t *f, route_t *r, uint64_t first_seq)
{
    assert_int_equal (route_save (r), 0);
    route_destroy (&r);
    return rt_route (f, first_seq);
}

/* --- item 2: sequence gaps ------------------------------------------------ */

/* A gap with no batch open, then a record with an event: the batch it
   opens must not leave the state file with a hole before it. */
static void
test_gap_then_event_reloads (void **state)
{
    rt_fixture_t *f = *state;
    for (uint64_t s = 1; s <= 3; s++)
        s_make (f, s, "e");
    s_make (f, 7, "e");
    route_t *r = rt_route (f, 1);
    for (uint64_t s = 1; s <= 3; s++)
        rt_feed (f, r, s); /* sealed [1..3], not acknowledged */
    rt_feed (f, r, 7);     /* 4..6 are not in the log */
    route_flush (r);
    r = s_restart (f, r, 1);
    route_stats_t st;
    route_stats (r, &st);
    assert_int_equal (route_committed (r), 0);
    assert_int_equal (st.loading, 2);
    /* Both batches are rebuilt from the records there are. */
    for (uint64_t s = 1; s <= 3; s++)
        rt_feed (f, r, s);
    rt_feed (f, r, 7);
    int seen[RT_RECS] = {0};
    assert_int_equal (s_deliver (r, seen), 2);
    assert_int_equal (seen[1] + seen[2] + seen[3] + seen[7], 4);
    assert_int_equal (route_committed (r), 7);
    route_destroy (&r);
}

/* A gap, then a record with nothing kept (the empty-batch path). */
static void
test_gap_then_empty_record_reloads (void **state)
{
    rt_fixture_t *f = *state;
    for (uint64_t s = 1; s <= 3; s++)
        s_make (f, s, "e");
    s_make (f, 9, "");
    route_t *r = rt_route (f, 1);
    for (uint64_t s = 1; s <= 3; s++)
        rt_feed (f, r, s);
    rt_feed (f, r, 9);
    r = s_restart (f, r, 1);
    for (uint64_t s = 1; s <= 3; s++)
        rt_feed (f, r, s);
    int seen[RT_RECS] = {0};
    assert_int_equal (s_deliver (r, seen), 1);
    assert_int_equal (route_committed (r), 9);
    route_destroy (&r);
}

/* The cursor reports a gap by reading nothing up to the limit
   (route_fed_upto): the records after it must not open a batch past it. */
static void
test_fed_upto_gap_reloads (void **state)
{
    rt_fixture_t *f = *state;
    for (uint64_t s = 1; s <= 3; s++)
        s_make (f, s, "e");
    s_make (f, 8, "e");
    route_t *r = rt_route (f, 1);
    for (uint64_t s = 1; s <= 3; s++)
        rt_feed (f, r, s);
    assert_int_equal (route_fed_upto (r, 7), 0);
    rt_feed (f, r, 8);
    route_flush (r);
    r = s_restart (f, r, 1);
    for (uint64_t s = 1; s <= 3; s++)
        rt_feed (f, r, s);
    assert_int_equal (route_fed_upto (r, 7), 0);
    rt_feed (f, r, 8);
    int seen[RT_RECS] = {0};
    assert_int_equal (s_deliver (r, seen), 2);
    assert_int_equal (seen[8], 1);
    assert_int_equal (route_committed (r), 8);
    route_destroy (&r);
}

/* A batch open across the gap that must be sealed before the record
   after it (max_events): the new batch starts right after the sealed one. */
static void
test_gap_with_open_batch_reloads (void **state)
{
    rt_fixture_t *f = *state;
    s_make (f, 1, "e");
    s_make (f, 2, "e");
    s_make_n (f, 6, "e", 2); /* 2 + 2 events > 3: [1..] is sealed before 6 */
    f->cfg.max_events = 3;
    route_t *r = rt_route (f, 1);
    rt_feed (f, r, 1);
    rt_feed (f, r, 2);
    rt_feed (f, r, 6);
    route_flush (r);
    r = s_restart (f, r, 1);
    rt_feed (f, r, 1);
    rt_feed (f, r, 2);
    rt_feed (f, r, 6);
    int seen[RT_RECS] = {0};
    assert_int_equal (s_deliver (r, seen), 2);
    assert_int_equal (seen[1] + seen[2] + seen[6], 4);
    assert_int_equal (route_committed (r), 6);
    route_destroy (&r);
}

/* The whole story through a real log: records 1..3, the log loses its
   tail and is advanced past what the route remembered (rlog_advance_to,
   as the router does at start), new records follow; restart twice. */
static void
test_gap_from_advanced_log_reloads (void **state)
{
    rt_fixture_t *f = *state;
    rlog_t *log = rt_log (f, 1 << 20);
    for (uint64_t s = 1; s <= 3; s++)
        s_make (f, s, "e");
    rt_log_append (f, log, 1, 3);
    assert_int_equal (rlog_advance_to (log, 10), 0); /* 4..9 never existed here */
    for (uint64_t s = 10; s <= 11; s++)
        s_make (f, s, "e");
    assert_int_equal (rt_log_append (f, log, 10, 11), 10);
    route_t *r = rt_route (f, rlog_first_seq (log));
    assert_int_equal (route_attach_log (r, log), 0);
    assert_int_equal (route_pump (r, 11, 0, 100), 5);
    route_flush (r);
    r = s_restart (f, r, rlog_first_seq (log));
    assert_int_equal (route_attach_log (r, log), 0);
    assert_int_equal (route_pump (r, 11, 0, 100), 5);
    int seen[RT_RECS] = {0};
    assert_true (s_deliver (r, seen) >= 2);
    for (uint64_t s = 1; s <= 11; s++)
        assert_int_equal (seen[s], s <= 3 || s >= 10 ? 1 : 0);
    assert_int_equal (route_committed (r), 11);
    r = s_restart (f, r, rlog_first_seq (log));
    assert_int_equal (route_committed (r), 11);
    route_destroy (&r);
    rlog_destroy (&log);
}

/* --- reading from a real log --------------------------------------------- */

/* The log in f->dir/log with segment_bytes 1: every append after the
   first starts a new segment. s_append puts records from..to in it
   (names of name_len letters) in one call. */
static rlog_t *
s_log (rt_fixture_t *f)
{
    return rt_log (f, 1);
}

static void
s_append (rt_fixture_t *f, rlog_t *log, uint64_t from, uint64_t to, size_t name_len)
{
    char name[201];
    assert_true (name_len < sizeof name);
    memset (name, 'x', name_len);
    name[name_len] = '\0';
    for (uint64_t s = from; s <= to; s++)
        s_make (f, s, name);
    assert_int_equal (rt_log_append (f, log, from, to), from);
    rlog_set_durable (log, to);
}

/* Flushes, delivers, and checks every record from..to arrived exactly once. */
static void
s_check_all_once (route_t *r, uint64_t from, uint64_t to)
{
    route_flush (r);
    int seen[RT_RECS] = {0};
    s_deliver (r, seen);
    for (uint64_t s = from; s <= to; s++)
        if (seen[s] != 1)
            fail_msg ("record %llu delivered %d times", (unsigned long long)s, seen[s]);
    assert_int_equal (route_committed (r), to);
}

/* --- item 5: out of memory ------------------------------------------------ */

/* Batches grow while records are taken; when an allocation fails the
   record must not be dropped from its batch (it was acknowledged): the
   route stops before it and reads it again after a pause. */
static void
test_out_of_memory_drops_nothing (void **state)
{
    rt_fixture_t *f = *state;
    f->cfg.max_events = 1000;
    f->cfg.max_age_ms = 600000; /* no seal by age: the deadline below is the retry's */
    rlog_t *log = s_log (f);
    s_append (f, log, 1, 40, 200); /* ~8 KiB of events: the batch must grow */
    route_t *r = rt_route (f, 1);
    route_set_allocator (r, s_realloc);
    assert_int_equal (route_attach_log (r, log), 0);
    s_fail_allocs = true;
    int n = route_pump (r, 40, 5000, 100);
    s_fail_allocs = false;
    assert_true (s_failed > 0); /* the failure path ran */
    route_stats_t st;
    route_stats (r, &st);
    assert_int_equal (n, -1);
    assert_int_equal (st.alloc_failures, 1);
    assert_true (st.read_next > 1 && st.read_next <= 40);
    /* Stopped: nothing is read before the pause is over, and the server
       loop is told when that is. */
    assert_int_equal (route_next_deadline (r), 6000);
    assert_int_equal (route_pump (r, 40, 5999, 100), 0);
    assert_int_equal (route_pump (r, 40, 6000, 100), (int)(41 - st.read_next));
    s_check_all_once (r, 1, 40);
    route_destroy (&r);
    rlog_destroy (&log);
}

/* The other allocations of the reading path: sealing (the next open
   batch, the array of sealed batches) and empty acknowledged batches. */
static void
test_out_of_memory_while_sealing (void **state)
{
    rt_fixture_t *f = *state;
    f->cfg.max_events = 1;
    route_t *r = rt_route (f, 1);
    route_set_allocator (r, s_realloc);
    s_make (f, 1, "e");
    s_make (f, 2, "e");
    s_make (f, 3, "");
    rt_feed (f, r, 1); /* sealed at once: the next batch is open */
    s_fail_allocs = true;
    /* 2 is taken, but the batch after it cannot be opened: 2 stays open. */
    assert_int_equal (route_feed (r, 2, f->recs[2], f->lens[2], 0), 0);
    /* 3 keeps nothing: it joins the open batch, no allocation. */
    assert_int_equal (route_feed (r, 3, f->recs[3], f->lens[3], 0), 0);
    s_make (f, 4, "e");
    /* 4 needs 2..3 sealed first: that fails, 4 is not taken. */
    assert_int_equal (route_feed (r, 4, f->recs[4], f->lens[4], 0), -1);
    route_stats_t st;
    route_stats (r, &st);
    assert_int_equal (st.read_next, 4);
    s_fail_allocs = false;
    assert_int_equal (route_feed (r, 4, f->recs[4], f->lens[4], 0), 0);
    int seen[RT_RECS] = {0};
    assert_int_equal (s_deliver (r, seen), 3);
    assert_int_equal (seen[1] + seen[2] + seen[4], 3);
    assert_int_equal (route_committed (r), 4);
    /* An empty batch after a sealed one needs a slot: fails, then works. */
    s_make (f, 5, "e");
    s_make (f, 6, "");
    rt_feed (f, r, 5); /* sealed, not acknowledged */
    s_fail_allocs = true;
    int before = s_failed;
    assert_int_equal (route_feed (r, 6, f->recs[6], f->lens[6], 0), -1);
    assert_true (s_failed > before);
    s_fail_allocs = false;
    rt_feed (f, r, 6);
    assert_int_equal (s_deliver (r, seen), 1);
    assert_int_equal (route_committed (r), 6);
    route_destroy (&r);
}

/* --- item 1: a damaged read ----------------------------------------------- */

/* Flips one byte of record seq's payload in its segment file (the log is
   open: only cursors see it, as damage under a running router). Returns
   the byte's offset, to flip it back. */
static off_t
s_flip (rt_fixture_t *f, uint64_t seg_first, off_t offset)
{
    char path[160];
    snprintf (path, sizeof path, "%s/log/%020llu.seg", f->dir, (unsigned long long)seg_first);
    int fd = open (path, O_RDWR);
    assert_true (fd >= 0);
    uint8_t c;
    assert_int_equal (pread (fd, &c, 1, offset), 1);
    c ^= 0xff;
    assert_int_equal (pwrite (fd, &c, 1, offset), 1);
    close (fd);
    return offset;
}

/* Damage the log cannot step over: the last record of the segment being
   written reads as damaged, with nothing valid after it (rlog_cursor_next
   answers -1: the record may be there after all). The route must stop
   before it, count and log it, try again after a pause that grows while
   it fails, and read on once the record reads. */
static void
test_unreadable_record_stops_the_route (void **state)
{
    rt_fixture_t *f = *state;
    f->cfg.max_events = 1000;
    f->cfg.max_age_ms = 600000; /* no seal by age: the deadline below is the retry's */
    rlog_t *log = s_log (f);
    s_append (f, log, 1, 4, 20);
    route_t *r = rt_route (f, 1);
    assert_int_equal (route_attach_log (r, log), 0);
    /* Record 4's payload: after three whole records and its header. */
    off_t at = (off_t)(3 * (RLOG_HEADER + f->lens[1]) + RLOG_HEADER + 4);
    s_flip (f, 1, at);
    assert_int_equal (route_pump (r, 4, 0, 100), -1);
    route_stats_t st;
    route_stats (r, &st);
    assert_int_equal (st.read_next, 4);
    assert_int_equal (st.records, 3);
    assert_int_equal (st.read_errors, 1);
    assert_int_equal (route_next_deadline (r), 1000);
    assert_int_equal (route_pump (r, 4, 999, 100), 0); /* not before the pause is over */
    /* Still unreadable at the retry: stopped again, for longer. */
    assert_int_equal (route_pump (r, 4, 1000, 100), -1);
    assert_int_equal (route_next_deadline (r), 3000);
    route_stats (r, &st);
    assert_int_equal (st.read_errors, 2);
    assert_int_equal (st.read_next, 4);
    /* Readable again: the record arrives, and every other, once. */
    s_flip (f, 1, at);
    assert_int_equal (route_pump (r, 4, 3000, 100), 1);
    s_check_all_once (r, 1, 4);
    route_destroy (&r);
    rlog_destroy (&log);
}

/* Damage the log steps over (a bad record with valid ones after it: the
   loss is the log's to count and report, issue 18 item 9) is a gap to the
   route: it must leave a state file that loads again (item 2). */
static void
test_record_lost_to_damage_leaves_a_loadable_state (void **state)
{
    rt_fixture_t *f = *state;
    f->cfg.max_events = 2;
    rlog_t *log = s_log (f);
    s_append (f, log, 1, 6, 20);
    route_t *r = rt_route (f, 1);
    assert_int_equal (route_attach_log (r, log), 0);
    off_t at = (off_t)(2 * (RLOG_HEADER + f->lens[1]) + RLOG_HEADER + 4); /* record 3 */
    s_flip (f, 1, at);
    assert_int_equal (route_pump (r, 6, 0, 100), 5);
    route_flush (r);
    r = s_restart (f, r, 1);
    assert_int_equal (route_attach_log (r, log), 0);
    assert_int_equal (route_pump (r, 6, 0, 100), 5);
    int seen[RT_RECS] = {0};
    s_deliver (r, seen);
    for (uint64_t s = 1; s <= 6; s++)
        assert_int_equal (seen[s], s == 3 ? 0 : 1);
    assert_int_equal (route_committed (r), 6);
    assert_true (rlog_damaged (log) >= 1); /* counted by the log */
    route_destroy (&r);
    rlog_destroy (&log);
}

/* The path to a damaged read ("write" durability): the cursor
   has buffered records past the durable mark, a failed sync cuts them off
   (rlog_truncate_after) and new records take their numbers, larger. The
   cursor's old bytes end mid-record in the new layout: that damaged read
   must not count as "read up to the limit" and skip record 6. (Which
   content records 4 and 5 carry is the log's side: a cursor must forget
   its buffer on a cut-back, router/log.c; this test holds either way.)
   With segment_bytes 1 the new records go to a new segment (the cursor
   meets 4 again: out of sequence); with 1 MiB they follow in the same
   one (the cursor reads from the middle of the new 5). */
static void
s_cut_back_under_a_cursor (void **state, uint64_t segment_bytes)
{
    rt_fixture_t *f = *state;
    f->cfg.max_events = 1000;
    rlog_t *log = rt_log (f, segment_bytes);
    s_append (f, log, 1, 5, 20);
    rlog_set_durable (log, 3);
    route_t *r = rt_route (f, 1);
    assert_int_equal (route_attach_log (r, log), 0);
    /* Three records read; the cursor's chunk holds 4 and 5 as well. */
    assert_int_equal (route_pump (r, 3, 0, 3), 3);
    assert_int_equal (rlog_truncate_after (log, 3), 0);
    /* The new 4..6 are larger, and carry nr 14..16. */
    char name[101];
    memset (name, 'y', 100);
    name[100] = 0;
    for (uint64_t s = 4; s <= 6; s++)
        s_make (f, s + 10, name);
    assert_int_equal (rt_log_append (f, log, 14, 16), 4);
    rlog_set_durable (log, 6);
    for (uint64_t now = 0; now <= 60000; now += 1000) {
        route_pump (r, 6, now, 100);
        route_stats_t st;
        route_stats (r, &st);
        if (st.read_next == 7)
            break;
    }
    route_flush (r);
    int seen[RT_RECS] = {0};
    s_deliver (r, seen);
    assert_int_equal (seen[1] + seen[2] + seen[3], 3);
    assert_int_equal (seen[4] + seen[14], 1);
    assert_int_equal (seen[5] + seen[15], 1);
    assert_int_equal (seen[16], 1);
    assert_int_equal (route_committed (r), 6);
    route_destroy (&r);
    rlog_destroy (&log);
}

static void
test_cut_back_under_a_cursor_new_segment (void **state)
{
    s_cut_back_under_a_cursor (state, 1);
}

static void
test_cut_back_under_a_cursor_same_segment (void **state)
{
    s_cut_back_under_a_cursor (state, 1 << 20);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_gap_then_event_reloads, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_gap_then_empty_record_reloads, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_fed_upto_gap_reloads, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_gap_with_open_batch_reloads, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_gap_from_advanced_log_reloads, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_out_of_memory_drops_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_out_of_memory_while_sealing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unreadable_record_stops_the_route, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_record_lost_to_damage_leaves_a_loadable_state,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cut_back_under_a_cursor_new_segment, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_cut_back_under_a_cursor_same_segment, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
