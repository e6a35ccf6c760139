/*  test_route: batching, filtering, persistence and commit of a route
    (router/route.h), driven by hand-fed records: no sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hm_test_bytes.h"
#include "log.h"
#include "pipeline.pb-c.h"
#include "route.h"
#include "route_fixture.h"
#include "scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t s_fake_time = 1700000000;

static uint64_t
s_clock (void)
{
    return s_fake_time;
}

static int
s_setup (void **state)
{
    return rt_setup (state, "route");
}

static int
s_teardown (void **state)
{
    return rt_teardown (state);
}

/* Builds record seq: an AppendRequest with the events named in names
   (separated by ','; "" for none), all with env. */
static void
s_make (rt_fixture_t *f, uint64_t seq, const char *names, int env)
{
    Hm__Event ev[8];
    Hm__Event *evp[8];
    char copy[128], *save = NULL;
    snprintf (copy, sizeof copy, "%s", names);
    size_t n = 0;
    for (char *tok = strtok_r (copy, ",", &save); tok && n < 8; tok = strtok_r (NULL, ",", &save)) {
        hm__event__init (&ev[n]);
        HM_SET_STR (&ev[n], event, tok);
        ev[n].has_env = true;
        ev[n].env = env;
        HM_SET_STR (&ev[n], device_id, "dev-1");
        ev[n].has_nr = true;
        ev[n].nr = (uint32_t)(seq * 10 + n);
        evp[n] = &ev[n];
        n++;
    }
    rt_pack (f, seq, evp, n);
}

static void
s_feed (rt_fixture_t *f, route_t *r, uint64_t from, uint64_t to)
{
    for (uint64_t s = from; s <= to; s++)
        rt_feed (f, r, s);
}

static route_t *
s_route (rt_fixture_t *f)
{
    route_t *r = rt_route (f, 1);
    route_set_clock (r, s_clock);
    return r;
}

typedef struct {
    uint64_t first, last, seal_time; /* identity */
    size_t n_events;                 /* events in the Delivery */
    char names[256];                 /* their names, comma separated */
    uint32_t nrs[16];                /* their nr fields */
    uint8_t msg[4096];               /* the Delivery bytes */
    size_t msg_len;                  /* their size */
} got_t;

/* Saves the route, then takes every ready batch (marking it sent) and
   decodes its Delivery. Returns how many. */
static size_t
s_take (route_t *r, got_t *got, size_t max, void *owner)
{
    assert_int_equal (route_save (r), 0);
    size_t n = 0;
    route_batch_t *b;
    Hm__Delivery *d;
    while (n < max && (d = rt_next_delivery (r, &b))) {
        assert_string_equal (d->route, "archive");
        assert_int_equal (d->first_offset, b->first);
        assert_int_equal (d->last_offset, b->last);
        assert_int_equal (d->seal_time, b->seal_time);
        assert_int_equal (d->n_events, b->events);
        got_t *g = &got[n++];
        memset (g, 0, sizeof *g);
        g->first = b->first, g->last = b->last, g->seal_time = b->seal_time;
        g->n_events = d->n_events;
        for (size_t i = 0; i < d->n_events; i++) {
            strcat (g->names, i ? "," : "");
            strncat (g->names, (const char *)d->events[i]->event.data, d->events[i]->event.len);
            if (i < 16)
                g->nrs[i] = d->events[i]->nr;
        }
        assert_true (b->msg_len <= sizeof g->msg);
        memcpy (g->msg, b->msg, b->msg_len);
        g->msg_len = b->msg_len;
        hm__delivery__free_unpacked (d, NULL);
        route_mark_sent (r, b, owner);
    }
    return n;
}

static void
test_glob (void **state)
{
    (void)state;
    assert_true (scan_glob ("*", "", 0));
    assert_true (scan_glob ("app.*", "app.start", 9));
    assert_false (scan_glob ("app.*", "ap.start", 8));
    assert_true (scan_glob ("a?c", "abc", 3));
    assert_false (scan_glob ("a?c", "ac", 2));
    assert_true (scan_glob ("*.end", "x.y.end", 7));
    assert_true (scan_glob ("a*b*c", "aXbYbZc", 7));
    assert_false (scan_glob ("a*b*c", "aXbYbZ", 6));
    assert_true (scan_glob ("exact", "exact", 5));
    assert_false (scan_glob ("exact", "exactly", 7));
    /* the text is a counted string, not NUL-terminated */
    assert_true (scan_glob ("ab", "abc", 2));
}

/* The filter sees an event's whole name, NUL bytes included (issue 19):
   '?' and '*' match a NUL, no pattern literal does. */
static void
test_glob_nul_name (void **state)
{
    (void)state;
    assert_true (scan_glob ("ctl?*", "ctl\0\1", 5));
    assert_true (scan_glob ("ctl?\001", "ctl\0\1", 5));
    assert_false (scan_glob ("ctl", "ctl\0\1", 5));
    assert_false (scan_glob ("ctl?", "ctl\0\1", 5));
    assert_true (scan_glob ("*x", "\0\0x", 3));
    Hm__Event ev = HM__EVENT__INIT;
    ev.has_event = true;
    ev.event = (ProtobufCBinaryData){5, (uint8_t *)"ctl\0\1"};
    ev.has_env = true;
    ev.env = 4;
    uint8_t buf[64];
    size_t len = hm__event__pack (&ev, buf);
    assert_int_equal (scan_event_passes ("ctl?*", -1, buf, len), 1);
    assert_int_equal (scan_event_passes ("ctl?*", 4, buf, len), 1);
    assert_int_equal (scan_event_passes ("ctl", -1, buf, len), 0);
    assert_int_equal (scan_event_passes ("*\001", 3, buf, len), 0);
}

static void
test_seal_by_max_events (void **state)
{
    rt_fixture_t *f = *state;
    for (uint64_t s = 1; s <= 7; s++)
        s_make (f, s, "e", 1);
    route_t *r = s_route (f);
    s_feed (f, r, 1, 7);
    got_t got[8];
    /* Not saved yet: nothing may leave. */
    assert_null (route_next_ready (r, 0));
    assert_int_equal (s_take (r, got, 8, NULL), 2);
    assert_int_equal (got[0].first, 1);
    assert_int_equal (got[0].last, 3);
    assert_int_equal (got[0].n_events, 3);
    assert_int_equal (got[0].seal_time, 1700000000);
    assert_int_equal (got[0].nrs[0], 10);
    assert_int_equal (got[0].nrs[2], 30);
    assert_int_equal (got[1].first, 4);
    assert_int_equal (got[1].last, 6);
    route_stats_t st;
    route_stats (r, &st);
    assert_int_equal (st.open_events, 1);
    assert_int_equal (st.inflight, 2);
    assert_int_equal (st.committed, 0);
    route_destroy (&r);
}

static void
test_record_never_split (void **state)
{
    rt_fixture_t *f = *state;
    /* 2 + 2 events with max 3: the second record starts a new batch. */
    s_make (f, 1, "a,b", 0);
    s_make (f, 2, "c,d", 0);
    s_make (f, 3, "e,f,g,h", 0);
    route_t *r = s_route (f);
    s_feed (f, r, 1, 3);
    got_t got[4];
    assert_int_equal (s_take (r, got, 4, NULL), 3);
    assert_string_equal (got[0].names, "a,b");
    assert_int_equal (got[1].first, 2);
    assert_string_equal (got[1].names, "c,d");
    /* A record above the limit alone is one (oversized) batch. */
    assert_int_equal (got[2].first, 3);
    assert_int_equal (got[2].n_events, 4);
    route_destroy (&r);
}

static void
test_seal_by_max_bytes (void **state)
{
    rt_fixture_t *f = *state;
    f->cfg.max_events = 1000;
    for (uint64_t s = 1; s <= 5; s++)
        s_make (f, s, "event-with-a-longer-name", 0);
    /* One event packs to ~40 bytes: seal when the next would pass 100. */
    f->cfg.max_bytes = 100;
    route_t *r = s_route (f);
    s_feed (f, r, 1, 5);
    got_t got[4];
    assert_int_equal (s_take (r, got, 4, NULL), 2);
    assert_int_equal (got[0].first, 1);
    assert_int_equal (got[0].last, 2);
    assert_int_equal (got[1].first, 3);
    assert_int_equal (got[1].last, 4);
    route_stats_t st;
    route_stats (r, &st);
    assert_int_equal (st.open_events, 1);
    route_destroy (&r);
}

static void
test_flush_and_age (void **state)
{
    rt_fixture_t *f = *state;
    f->cfg.max_events = 100;
    for (uint64_t s = 1; s <= 4; s++)
        s_make (f, s, "e", 0);
    route_t *r = s_route (f);
    route_feed (r, 1, f->recs[1], f->lens[1], 5000);
    route_feed (r, 2, f->recs[2], f->lens[2], 5500);
    assert_int_equal (route_next_deadline (r), 6000);
    route_tick (r, 5999);
    got_t got[4];
    assert_int_equal (s_take (r, got, 4, NULL), 0);
    route_tick (r, 6000);
    assert_int_equal (s_take (r, got, 4, NULL), 1);
    assert_int_equal (got[0].first, 1);
    assert_int_equal (got[0].last, 2);
    assert_int_equal (route_next_deadline (r), UINT64_MAX);
    route_feed (r, 3, f->recs[3], f->lens[3], 7000);
    route_flush (r);
    assert_int_equal (s_take (r, got, 4, NULL), 1);
    assert_int_equal (got[0].first, 3);
    assert_int_equal (got[0].last, 3);
    route_flush (r); /* nothing open: nothing sealed */
    assert_int_equal (s_take (r, got, 4, NULL), 0);
    route_destroy (&r);
}

static void
test_filter_event_and_env (void **state)
{
    rt_fixture_t *f = *state;
    f->cfg.max_events = 100;
    f->cfg.filter_event = "app.*";
    f->cfg.filter_env = 2;
    s_make (f, 1, "other", 2);          /* no match: committed at once */
    s_make (f, 2, "app.start,x", 2);    /* keeps app.start */
    s_make (f, 3, "app.stop", 1);       /* wrong env: range only */
    s_make (f, 4, "app.open,app.a", 2); /* both */
    s_make (f, 5, "", 2);               /* no events at all */
    route_t *r = s_route (f);
    s_feed (f, r, 1, 1);
    assert_int_equal (route_committed (r), 1);
    s_feed (f, r, 2, 5);
    route_flush (r);
    got_t got[4];
    assert_int_equal (s_take (r, got, 4, NULL), 1);
    assert_int_equal (got[0].first, 2);
    assert_int_equal (got[0].last, 5);
    assert_string_equal (got[0].names, "app.start,app.open,app.a");
    route_stats_t st;
    route_stats (r, &st);
    assert_int_equal (st.events_in, 6);
    assert_int_equal (st.events_kept, 3);
    route_destroy (&r);
}

static void
test_filter_matching_nothing_commits (void **state)
{
    rt_fixture_t *f = *state;
    f->cfg.filter_event = "nothing-matches";
    for (uint64_t s = 1; s <= 10; s++)
        s_make (f, s, "e", 0);
    route_t *r = s_route (f);
    s_feed (f, r, 1, 10);
    assert_int_equal (route_committed (r), 10);
    got_t got[2];
    assert_int_equal (s_take (r, got, 2, NULL), 0);
    route_destroy (&r);
}

static void
test_undecodable_record_is_skipped (void **state)
{
    rt_fixture_t *f = *state;
    s_make (f, 1, "a", 0);
    s_make (f, 3, "c", 0);
    route_t *r = s_route (f);
    route_feed (r, 1, f->recs[1], f->lens[1], 0);
    const uint8_t junk[] = {0x12, 0x7f, 0x01}; /* events field claiming 127 bytes */
    route_feed (r, 2, junk, sizeof junk, 0);
    route_feed (r, 3, f->recs[3], f->lens[3], 0);
    route_flush (r);
    got_t got[2];
    assert_int_equal (s_take (r, got, 2, NULL), 1);
    assert_int_equal (got[0].first, 1);
    assert_int_equal (got[0].last, 3);
    assert_string_equal (got[0].names, "a,c");
    route_stats_t st;
    route_stats (r, &st);
    assert_int_equal (st.undecodable, 1);
    route_destroy (&r);
}

static void
test_ack_out_of_order_commits_prefix (void **state)
{
    rt_fixture_t *f = *state;
    f->cfg.max_events = 1;
    for (uint64_t s = 1; s <= 4; s++)
        s_make (f, s, "e", 0);
    route_t *r = s_route (f);
    s_feed (f, r, 1, 4);
    got_t got[4];
    int owner_a, owner_b;
    assert_int_equal (s_take (r, got, 2, &owner_a), 2);
    assert_int_equal (s_take (r, got + 2, 2, &owner_b), 2);
    void *owner = NULL;
    assert_int_equal (route_ack (r, 3, 3, &owner), 1);
    assert_ptr_equal (owner, &owner_b);
    assert_int_equal (route_ack (r, 2, 2, &owner), 1);
    assert_ptr_equal (owner, &owner_a);
    assert_int_equal (route_committed (r), 0);
    assert_int_equal (route_ack (r, 2, 2, &owner), 0); /* duplicate */
    assert_int_equal (route_ack (r, 2, 3, &owner), 0); /* no such batch */
    assert_int_equal (route_ack (r, 1, 1, &owner), 1);
    assert_int_equal (route_committed (r), 3);
    assert_int_equal (route_ack (r, 1, 1, &owner), 0); /* already committed */
    assert_int_equal (route_ack (r, 4, 4, &owner), 1);
    assert_int_equal (route_committed (r), 4);
    assert_true (route_needs_save (r, false));
    assert_false (route_needs_save (r, true));
    route_destroy (&r);
}

static void
test_nack_and_requeue (void **state)
{
    rt_fixture_t *f = *state;
    f->cfg.max_events = 1;
    for (uint64_t s = 1; s <= 3; s++)
        s_make (f, s, "e", 0);
    route_t *r = s_route (f);
    s_feed (f, r, 1, 3);
    got_t got[4];
    int a, b;
    assert_int_equal (s_take (r, got, 1, &a), 1);
    assert_int_equal (s_take (r, got, 2, &b), 2);
    void *owner = NULL;
    /* NACK: back to the front, but only after its delay. */
    assert_int_equal (route_nack (r, 1, 1, 500, &owner), 1);
    assert_ptr_equal (owner, &a);
    assert_null (route_next_ready (r, 499));
    assert_int_equal (route_next_retry (r), 500);
    route_batch_t *bt = route_next_ready (r, 500);
    assert_non_null (bt);
    assert_int_equal (bt->first, 1);
    /* Instance b dies: its two batches come back, in offset order. */
    assert_int_equal (route_requeue_owner (r, &b), 2);
    route_mark_sent (r, bt, &a);
    bt = route_next_ready (r, 0);
    assert_non_null (bt);
    assert_int_equal (bt->first, 2);
    assert_int_equal (bt->deliveries, 1);
    /* An ACK from anyone for a requeued batch still counts. */
    assert_int_equal (route_ack (r, 2, 2, &owner), 1);
    assert_null (owner);
    route_destroy (&r);
}

static void
test_readahead_bound (void **state)
{
    rt_fixture_t *f = *state;
    f->cfg.max_events = 1;
    for (uint64_t s = 1; s <= 5; s++)
        s_make (f, s, "e", 0);
    route_t *r = s_route (f);
    route_set_readahead (r, 2);
    assert_true (route_wants_records (r));
    s_feed (f, r, 1, 2);
    assert_false (route_wants_records (r));
    void *owner;
    assert_int_equal (route_save (r), 0);
    assert_int_equal (route_ack (r, 1, 1, &owner), 1);
    assert_true (route_wants_records (r));
    route_destroy (&r);
}

/* A FLUSH while the read-ahead is full still seals the records it covered
   once the route gets to read them, and ends that batch at the last one. */
static void
test_flush_covers_unread_records (void **state)
{
    rt_fixture_t *f = *state;
    f->cfg.max_events = 3;
    for (uint64_t s = 1; s <= 8; s++)
        s_make (f, s, "e", 0);
    route_t *r = s_route (f);
    route_set_readahead (r, 1);
    s_feed (f, r, 1, 3); /* sealed by size: [1..3] */
    assert_false (route_wants_records (r));
    route_flush_upto (r, 5); /* 4 and 5 are durable but unread */
    got_t got[4];
    assert_int_equal (s_take (r, got, 4, NULL), 1);
    void *owner;
    assert_int_equal (route_ack (r, 1, 3, &owner), 1);
    assert_true (route_wants_records (r));
    s_feed (f, r, 4, 6); /* 6 comes after the flush: a batch of its own */
    assert_int_equal (s_take (r, got, 4, NULL), 1);
    assert_int_equal (got[0].first, 4);
    assert_int_equal (got[0].last, 5);
    assert_int_equal (route_ack (r, 4, 5, &owner), 1);

    /* The flush's last record read at the end of the log: sealed then. */
    route_flush_upto (r, 7);
    assert_int_equal (s_take (r, got, 4, NULL), 1); /* [6] sealed at once */
    assert_int_equal (got[0].first, 6);
    assert_int_equal (route_ack (r, 6, 6, &owner), 1);
    s_feed (f, r, 7, 7);
    route_fed_upto (r, 7);
    assert_int_equal (s_take (r, got, 4, NULL), 1);
    assert_int_equal (got[0].first, 7);
    assert_int_equal (got[0].last, 7);
    route_destroy (&r);
}

static void
test_state_survives_restart (void **state)
{
    rt_fixture_t *f = *state;
    for (uint64_t s = 1; s <= 9; s++)
        s_make (f, s, s % 2 ? "odd" : "even", 0);
    route_t *r = s_route (f);
    s_feed (f, r, 1, 8);
    got_t before[4];
    assert_int_equal (s_take (r, before, 4, NULL), 2); /* [1..3] [4..6], 7 and 8 open */
    void *owner;
    assert_int_equal (route_ack (r, 1, 3, &owner), 1);
    assert_int_equal (route_save (r), 0);
    route_destroy (&r);

    /* A different wall clock proves seal_time comes from the state file. */
    s_fake_time = 1800000000;
    r = s_route (f);
    assert_int_equal (route_committed (r), 3);
    route_stats_t st;
    route_stats (r, &st);
    assert_int_equal (st.read_next, 4);
    assert_int_equal (st.loading, 1);
    assert_true (route_wants_records (r));
    /* Nothing is deliverable until its records were read again. */
    assert_null (route_next_ready (r, 0));
    s_feed (f, r, 4, 8);
    got_t after[4];
    assert_int_equal (s_take (r, after, 4, NULL), 1);
    assert_int_equal (after[0].first, before[1].first);
    assert_int_equal (after[0].last, before[1].last);
    assert_int_equal (after[0].seal_time, before[1].seal_time);
    assert_int_equal (after[0].seal_time, 1700000000);
    assert_int_equal (after[0].msg_len, before[1].msg_len);
    assert_memory_equal (after[0].msg, before[1].msg, before[1].msg_len);
    /* The open batch continues after the last sealed offset. */
    s_feed (f, r, 9, 9);
    assert_int_equal (s_take (r, after, 4, NULL), 1);
    assert_int_equal (after[0].first, 7);
    assert_int_equal (after[0].last, 9);
    assert_int_equal (after[0].seal_time, 1800000000);
    s_fake_time = 1700000000;
    route_destroy (&r);
}

static void
test_acked_flag_survives_restart (void **state)
{
    rt_fixture_t *f = *state;
    f->cfg.max_events = 1;
    for (uint64_t s = 1; s <= 3; s++)
        s_make (f, s, "e", 0);
    route_t *r = s_route (f);
    s_feed (f, r, 1, 3);
    got_t got[4];
    assert_int_equal (s_take (r, got, 4, NULL), 3);
    void *owner;
    assert_int_equal (route_ack (r, 2, 2, &owner), 1);
    assert_int_equal (route_save (r), 0);
    route_destroy (&r);

    r = s_route (f);
    s_feed (f, r, 1, 3);
    /* Batch 2 was acknowledged: only 1 and 3 go out again. */
    assert_int_equal (s_take (r, got, 4, NULL), 2);
    assert_int_equal (got[0].first, 1);
    assert_int_equal (got[1].first, 3);
    assert_int_equal (route_ack (r, 1, 1, &owner), 1);
    assert_int_equal (route_committed (r), 2);
    route_destroy (&r);
}

/* The log starts past records the state file counts on (deleted or lost):
   batches wholly before it are not delivered again, one reaching into it
   is rebuilt from the log's first record, under new offsets (so it cannot
   overwrite the whole batch delivered before), and the gap is counted. */
static void
test_records_missing_from_log (void **state)
{
    rt_fixture_t *f = *state;
    for (uint64_t s = 1; s <= 9; s++)
        s_make (f, s, s % 2 ? "odd" : "even", 0);
    route_t *r = s_route (f);
    s_feed (f, r, 1, 8);
    got_t got[4];
    assert_int_equal (s_take (r, got, 4, NULL), 2); /* [1..3] [4..6], none acknowledged */
    assert_int_equal (route_save (r), 0);
    route_destroy (&r);

    char err[256] = "";
    assert_non_null (r = route_new (&f->cfg, f->dir, 5, err, sizeof err));
    route_set_clock (r, s_clock);
    route_set_readahead (r, 100);
    route_stats_t st;
    route_stats (r, &st);
    assert_int_equal (route_committed (r), 4);
    assert_int_equal (st.missing, 4);
    assert_int_equal (st.read_next, 5);
    assert_int_equal (st.loading, 1);
    s_feed (f, r, 5, 8);
    assert_int_equal (s_take (r, got, 4, NULL), 1);
    assert_int_equal (got[0].first, 5);
    assert_int_equal (got[0].last, 6);
    assert_string_equal (got[0].names, "odd,even");
    route_destroy (&r);

    /* Past every sealed batch (the state saved above: committed 4, [5..6]):
       nothing is rebuilt, the open batch starts at the log's first record. */
    assert_non_null (r = route_new (&f->cfg, f->dir, 8, err, sizeof err));
    route_set_clock (r, s_clock);
    route_stats (r, &st);
    assert_int_equal (route_committed (r), 7);
    assert_int_equal (st.missing, 3);
    assert_int_equal (st.batches, 0);
    assert_null (route_next_ready (r, 0));
    s_feed (f, r, 8, 9);
    route_flush_upto (r, 9);
    assert_int_equal (s_take (r, got, 4, NULL), 1);
    assert_int_equal (got[0].first, 8);
    assert_int_equal (got[0].last, 9);
    route_destroy (&r);
}

static void
test_corrupt_state_file_refused (void **state)
{
    rt_fixture_t *f = *state;
    route_t *r = s_route (f);
    assert_int_equal (route_save (r), 0);
    route_destroy (&r);
    char path[160];
    snprintf (path, sizeof path, "%s/routes/archive.state", f->dir);
    FILE *fp = fopen (path, "w");
    fputs ("hamustro-route-state 1\ncommitted 5\nbatch 9 10 1 0\nend\n", fp); /* gap */
    fclose (fp);
    char err[256] = "";
    assert_null (route_new (&f->cfg, f->dir, 1, err, sizeof err));
    assert_non_null (strstr (err, "archive.state"));
    fp = fopen (path, "w");
    fputs ("hamustro-route-state 1\ncommitted 5\nbatch 6 10 1 0\n", fp); /* no end */
    fclose (fp);
    assert_null (route_new (&f->cfg, f->dir, 1, err, sizeof err));
}

static void
test_pump_from_log (void **state)
{
    rt_fixture_t *f = *state;
    rlog_t *log = rt_log (f, 1 << 20);
    for (uint64_t s = 1; s <= 7; s++)
        s_make (f, s, "e", 0);
    rt_log_append (f, log, 1, 7);
    route_t *r = s_route (f);
    assert_int_equal (route_attach_log (r, log), 0);
    /* Only records up to the limit (what is durable) are read. */
    assert_int_equal (route_pump (r, 4, 0, 100), 4);
    assert_int_equal (route_pump (r, 4, 0, 100), 0);
    got_t got[4];
    assert_int_equal (s_take (r, got, 4, NULL), 1);
    assert_int_equal (route_pump (r, 7, 0, 100), 3);
    assert_int_equal (s_take (r, got, 4, NULL), 1);
    assert_int_equal (got[0].first, 4);
    assert_int_equal (got[0].last, 6);

    /* Replay from 2: batches are forgotten, reading starts again there. */
    assert_int_equal (route_replay (r, 2), 0);
    assert_int_equal (route_committed (r), 1);
    assert_int_equal (route_pump (r, 7, 0, 100), 6);
    assert_int_equal (s_take (r, got, 4, NULL), 2);
    assert_int_equal (got[0].first, 2);
    assert_int_equal (got[0].last, 4);
    route_destroy (&r);
    rlog_destroy (&log);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_glob),
        cmocka_unit_test (test_glob_nul_name),
        cmocka_unit_test_setup_teardown (test_seal_by_max_events, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_record_never_split, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_seal_by_max_bytes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_flush_and_age, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_filter_event_and_env, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_filter_matching_nothing_commits, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_undecodable_record_is_skipped, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_ack_out_of_order_commits_prefix, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_nack_and_requeue, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_readahead_bound, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_flush_covers_unread_records, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_state_survives_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_acked_flag_survives_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_records_missing_from_log, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_corrupt_state_file_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pump_from_log, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
