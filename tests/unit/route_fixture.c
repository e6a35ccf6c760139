/*  route_fixture: a route fed by hand in a unit test (route_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "route_fixture.h"

#include "fixture_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>

int
rt_setup (void **state, const char *name)
{
    rt_fixture_t *f = calloc (1, sizeof *f);
    assert_non_null (f);
    fixture_dir_make (f->dir, sizeof f->dir, name);
    f->cfg.name = "archive";
    f->cfg.sink = "file";
    f->cfg.endpoint = "inproc://archive";
    f->cfg.max_events = 3;
    f->cfg.max_bytes = 1 << 20;
    f->cfg.max_age_ms = 1000;
    f->cfg.filter_event = NULL;
    f->cfg.filter_env = -1;
    *state = f;
    return 0;
}

int
rt_teardown (void **state)
{
    rt_fixture_t *f = *state;
    fixture_dir_remove (f->dir);
    free (f);
    return 0;
}

void
rt_pack (rt_fixture_t *f, uint64_t seq, Hm__Event **events, size_t n)
{
    assert_true (seq < RT_RECS);
    Hm__AppendRequest req = HM__APPEND_REQUEST__INIT;
    req.batch_id = seq + 1000;
    req.n_events = n;
    req.events = events;
    assert_true (hm__append_request__get_packed_size (&req) <= sizeof f->recs[0]);
    f->lens[seq] = hm__append_request__pack (&req, f->recs[seq]);
}

route_t *
rt_route (rt_fixture_t *f, uint64_t first_seq)
{
    char err[256] = "";
    route_t *r = route_new (&f->cfg, f->dir, first_seq, err, sizeof err);
    if (!r)
        fail_msg ("route_new: %s", err);
    route_set_readahead (r, 100);
    return r;
}

rlog_t *
rt_log (rt_fixture_t *f, uint64_t segment_bytes)
{
    char err[256] = "", logdir[128];
    snprintf (logdir, sizeof logdir, "%s/log", f->dir);
    rlog_t *log = rlog_new (logdir, segment_bytes, 1 << 30, err, sizeof err);
    if (!log)
        fail_msg ("rlog_new: %s", err);
    return log;
}

uint64_t
rt_log_append (rt_fixture_t *f, rlog_t *log, uint64_t from, uint64_t to)
{
    assert_true (from <= to && to < RT_RECS);
    struct iovec iov[RT_RECS];
    for (uint64_t s = from; s <= to; s++)
        iov[s - from] = (struct iovec){f->recs[s], f->lens[s]};
    uint64_t first = 0;
    assert_int_equal (rlog_append (log, iov, to - from + 1, &first), 0);
    return first;
}

void
rt_feed (rt_fixture_t *f, route_t *r, uint64_t seq)
{
    assert_int_equal (route_feed (r, seq, f->recs[seq], f->lens[seq], 0), 0);
}

Hm__Delivery *
rt_next_delivery (route_t *r, route_batch_t **b)
{
    *b = route_next_ready (r, 0);
    if (!*b)
        return NULL;
    Hm__Delivery *d = hm__delivery__unpack (NULL, (*b)->msg_len, (*b)->msg);
    assert_non_null (d);
    return d;
}
