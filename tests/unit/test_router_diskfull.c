/*  test_router_diskfull: the router on a full disk (router/server_disk.c,
    ARCHITECTURE section 4). A route's state save fails with ENOSPC
    (injected by tests/faults/faultshim.c, linked in) while the log's
    writes still succeed: the order of events that left a real full disk
    stuck for good, because the clients' retries took the room the
    released reserve had made before the state could be saved. Here that
    order is certain: the router must refuse appends until every route's
    state is saved and the reserve is made again, then accept them by
    itself. The server runs in a thread of the test over real ZeroMQ
    sockets; waits poll for a condition with a generous deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pipeline.pb-c.h"
#include "router_fixture.h"

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
    return rf_setup (state, "diskfull");
}

static int
s_teardown (void **state)
{
    hm_faults_set (NULL);
    return rf_teardown (state);
}

/* The append is refused (503 at the HTTP side) and says why. */
static void
s_append_refused (rf_fixture_t *f, uint64_t batch_id)
{
    Hm__AppendReply *r = rf_append (f, batch_id, "ev");
    assert_int_equal (r->status, HM__APPEND_REPLY__STATUS__ERROR);
    assert_non_null (r->reason);
    if (!strstr (r->reason, "no room kept for route state"))
        fail_msg ("reason: %s", r->reason);
    hm__append_reply__free_unpacked (r, NULL);
}

/* The number after "key": in STATUS (the first one). */
static uint64_t
s_status_number (rf_fixture_t *f, const char *key)
{
    char *json = rf_status (f);
    uint64_t n = rf_json_number (json, key);
    free (json);
    return n;
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0;
}

/* Takes the next delivery (answering heartbeats) and acknowledges it;
   fails unless it covers first..last. */
static void
s_sink_take (rf_fixture_t *f, uint64_t first, uint64_t last)
{
    Hm__Delivery *d = rf_sink_deliver (f->sink);
    assert_int_equal (d->first_offset, first);
    assert_int_equal (d->last_offset, last);
    hm__delivery__free_unpacked (d, NULL);
    rf_sink_send (f->sink, HM__SINK_MESSAGE__KIND__ACK, first, last);
}

/* The state save fails (ENOSPC) while the log's writes succeed: the
   reserve is given back and, until the state is saved and the reserve is
   made again, appends are refused, so they cannot take the room first. */
static void
test_appends_wait_for_the_state_save (void **state)
{
    rf_fixture_t *f = *state;
    char reserve[128];
    rf_path (f, "data/reserve", reserve, sizeof reserve);
    rf_start (f);
    assert_true (s_exists (reserve));
    for (uint64_t i = 1; i <= 3; i++)
        assert_int_equal (rf_append_ok (f, i, "ev"), i);

    /* Only the route's state file runs out of room; the log does not. */
    assert_int_equal (hm_faults_set ("write */archive.state.tmp 0 -1 ENOSPC"), 0);
    /* The seal of 1..3 must be saved before the batch may leave: the save
       fails, the reserve goes, the second try fails too. */
    rf_flush (f);
    assert_false (s_exists (reserve));
    /* The log could take these (its writes work): it must not. */
    s_append_refused (f, 10);
    s_append_refused (f, 11);
    assert_true (rf_status_has (f, "\"reserve\":{\"held\":false,\"releases\":1,\"made\":0,"
                                   "\"refused\":2}"));
    /* The batch waits for its saved seal: a sink gets nothing meanwhile,
       and the save is tried again (each second) and fails. */
    rf_sink_send (f->sink, HM__SINK_MESSAGE__KIND__READY, 0, 0);
    for (int i = 0; s_status_number (f, "save_errors") < 3; i++) {
        assert_true (i < RF_WAIT_MS / 10);
        usleep (10000);
    }
    s_append_refused (f, 12);

    /* Room again: the save succeeds, the batch leaves, the reserve is
       made again and appends are accepted, without anyone's help. */
    hm_faults_set (NULL);
    s_sink_take (f, 1, 3);
    rf_wait_status (f, "\"reserve\":{\"held\":true,\"releases\":1,\"made\":1,\"refused\":3}");
    assert_true (s_exists (reserve));
    assert_int_equal (rf_append_ok (f, 13, "ev"), 4);
    rf_wait_status (f, "\"committed\":3,");
    rf_stop (f);
}

/* The reserve cannot be made at start (here its path is taken by a
   directory; on a full disk, no room): appends are refused until it is
   made, which is tried again every second. */
static void
test_no_reserve_at_start (void **state)
{
    rf_fixture_t *f = *state;
    char data[96], reserve[128];
    rf_path (f, "data", data, sizeof data);
    rf_path (f, "data/reserve", reserve, sizeof reserve);
    assert_int_equal (mkdir (data, 0755), 0);
    assert_int_equal (mkdir (reserve, 0755), 0);
    rf_start (f);
    s_append_refused (f, 1);
    assert_true (rf_status_has (f, "\"reserve\":{\"held\":false,\"releases\":0,\"made\":0,"));
    assert_int_equal (rmdir (reserve), 0);
    rf_wait_status (f, "\"reserve\":{\"held\":true,\"releases\":0,\"made\":1,\"refused\":1}");
    assert_true (s_exists (reserve));
    assert_int_equal (rf_append_ok (f, 2, "ev"), 1);
    rf_stop (f);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_appends_wait_for_the_state_save, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_no_reserve_at_start, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
