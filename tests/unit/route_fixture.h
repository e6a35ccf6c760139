/*  route_fixture: what the route's unit tests (test_route,
    test_route_recovery) share, written once: a route (router/route.h)
    with a config built by hand, its data in a fresh temporary directory,
    and records (packed AppendRequests) made by the test and fed by hand.
    Linked into those tests by tests/CMakeLists.txt; needs cmocka.h
    included before it. */
#ifndef HM_ROUTE_FIXTURE_H
#define HM_ROUTE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "pipeline.pb-c.h"
#include "route.h"

#define RT_RECS 64 /* records a test can make: seqs 1 .. RT_RECS - 1 */

typedef struct {
    char dir[64];               /* temporary data directory */
    hm_route_config_t cfg;      /* the route's config, built by hand */
    uint8_t recs[RT_RECS][512]; /* packed AppendRequests by seq (1-based) */
    size_t lens[RT_RECS];       /* their sizes */
} rt_fixture_t;

/* cmocka setup: a fresh /tmp/hm-test-<name>-XXXXXX and the config of a
   file route "archive" sealing at 3 events, 1 MiB or 1 s, no filter. */
int rt_setup (void **state, const char *name);
/* cmocka teardown: removes the directory. */
int rt_teardown (void **state);

/* Packs record seq: an AppendRequest (batch seq + 1000) of the n events. */
void rt_pack (rt_fixture_t *f, uint64_t seq, Hm__Event **events, size_t n);
/* A route on f->cfg and f->dir reading from first_seq, with a read-ahead
   of 100 batches; fails the test if it cannot be made. */
route_t *rt_route (rt_fixture_t *f, uint64_t first_seq);
/* The log in dir/log (1 GiB bound); fails the test if it cannot open it. */
rlog_t *rt_log (rt_fixture_t *f, uint64_t segment_bytes);
/* Appends the records made as from..to to log in one call; returns the
   seq the log gave the first. */
uint64_t rt_log_append (rt_fixture_t *f, rlog_t *log, uint64_t from, uint64_t to);
/* Feeds record seq (made by rt_pack) at time 0; it must be taken. */
void rt_feed (rt_fixture_t *f, route_t *r, uint64_t seq);
/* Takes the next ready batch (*b) and decodes its Delivery (the caller
   frees it); NULL when none is ready. */
Hm__Delivery *rt_next_delivery (route_t *r, route_batch_t **b);

#endif
