/*  test_router_server: the router daemon's loop (router/server.h) end to
    end over real ZeroMQ sockets: append and reply after durability,
    malformed input, sink delivery with READY/ACK, FLUSH/STATUS/REPLAY,
    the byte bound, and a restart that redelivers a sealed batch with the
    same identity. The server runs in a thread of the test. Waits are
    bounded (a lost message fails the test instead of hanging), but no
    assertion depends on timing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hm_test_bytes.h"
#include "pipeline.pb-c.h"
#include "router_fixture.h"
#include "server.h"
#include "wire.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static int
s_setup (void **state)
{
    return rf_setup (state, "server");
}

static int
s_teardown (void **state)
{
    return rf_teardown (state);
}

/* Asks STATUS until the route's committed offset reaches want (bounded). */
static void
s_wait_committed (rf_fixture_t *f, uint64_t want)
{
    char needle[64];
    snprintf (needle, sizeof needle, "\"committed\":%llu,", (unsigned long long)want);
    rf_wait_status (f, needle);
}

static void
test_append_deliver_ack_restart (void **state)
{
    rf_fixture_t *f = *state;
    rf_start (f);
    for (uint64_t i = 1; i <= 5; i++)
        assert_int_equal (rf_append_ok (f, 100 + i, "ev"), i);

    /* A wrong type with a decodable body: ERROR naming the batch. */
    rf_send_append (f, "HM/NOPE/1", 77, "x");
    Hm__AppendReply *r = rf_recv_reply (f);
    assert_int_equal (r->batch_id, 77);
    assert_int_equal (r->status, HM__APPEND_REPLY__STATUS__ERROR);
    assert_non_null (r->reason);
    hm__append_reply__free_unpacked (r, NULL);
    /* Garbage: dropped without a reply (next reply is for the next request). */
    zmq_send (f->client, HM_WIRE_APPEND, strlen (HM_WIRE_APPEND), ZMQ_SNDMORE);
    zmq_send (f->client, "\xff\xff\xff", 3, 0);
    zmq_send (f->client, HM_WIRE_APPEND, strlen (HM_WIRE_APPEND), 0); /* one frame only */
    assert_int_equal (rf_append_ok (f, 106, "ev"), 6);

    rf_flush (f);
    rf_sink_send (f->sink, HM__SINK_MESSAGE__KIND__READY, 0, 0);
    Hm__Delivery *d = rf_sink_deliver (f->sink);
    assert_string_equal (d->route, "archive");
    assert_int_equal (d->first_offset, 1);
    assert_int_equal (d->last_offset, 6);
    assert_int_equal (d->n_events, 6);
    assert_bytes_equal (d->events[0]->event, "ev");
    rf_sink_send (f->sink, HM__SINK_MESSAGE__KIND__ACK, 1, 6);
    hm__delivery__free_unpacked (d, NULL);
    s_wait_committed (f, 6);

    /* A second batch is sealed and delivered but not acknowledged. */
    assert_int_equal (rf_append_ok (f, 107, "second"), 7);
    rf_flush (f);
    d = rf_sink_deliver (f->sink);
    assert_int_equal (d->first_offset, 7);
    assert_int_equal (d->last_offset, 7);
    uint64_t seal_time = d->seal_time;
    hm__delivery__free_unpacked (d, NULL);
    rf_stop (f);

    /* After a restart the same batch comes back, identical. */
    rf_start (f);
    rf_sink_send (f->sink, HM__SINK_MESSAGE__KIND__READY, 0, 0);
    d = rf_sink_deliver (f->sink);
    assert_int_equal (d->first_offset, 7);
    assert_int_equal (d->last_offset, 7);
    assert_int_equal (d->seal_time, seal_time);
    assert_bytes_equal (d->events[0]->event, "second");
    rf_sink_send (f->sink, HM__SINK_MESSAGE__KIND__ACK, 7, 7);
    hm__delivery__free_unpacked (d, NULL);
    s_wait_committed (f, 7);
    /* Offsets continue. */
    assert_int_equal (rf_append_ok (f, 108, "third"), 8);

    /* REPLAY: the route delivers from offset 2 again. */
    Hm__ControlReply *c = rf_control (f, HM__CONTROL_REQUEST__COMMAND__REPLAY, "archive", 2);
    assert_true (c->ok);
    hm__control_reply__free_unpacked (c, NULL);
    c = rf_control (f, HM__CONTROL_REQUEST__COMMAND__REPLAY, "nope", 2);
    assert_false (c->ok);
    hm__control_reply__free_unpacked (c, NULL);
    rf_flush (f);
    d = rf_sink_deliver (f->sink);
    assert_int_equal (d->first_offset, 2);
    assert_int_equal (d->last_offset, 8);
    assert_int_equal (d->n_events, 7);
    hm__delivery__free_unpacked (d, NULL);
    rf_stop (f);
}

/* protobuf-c keeps a field numbered past 2^29-1 as an unknown field; the
   routes' reader (scan.c) refuses it. Such a request must be answered
   ERROR, not appended and acknowledged and then skipped by every route. */
static void
test_append_unreadable_by_routes_refused (void **state)
{
    rf_fixture_t *f = *state;
    rf_start (f);
    /* batch_id = 200; one event {device_id: "d"}; then a top-level field
       whose 5-byte key overflows the field number range, varint 5. */
    static const uint8_t top[] = {0x08, 0xc8, 0x01, 0x12, 0x03, 0x0a, 0x01,
                                  'd',  0xa8, 0xbf, 0xb5, 0xc8, 0x40, 0x05};
    /* batch_id = 201; one event {device_id: "d", <the same field>}. */
    static const uint8_t inner[] = {0x08, 0xc9, 0x01, 0x12, 0x09, 0x0a, 0x01,
                                    'd',  0xa8, 0xbf, 0xb5, 0xc8, 0x40, 0x05};
    const uint8_t *bodies[] = {top, inner};
    size_t lens[] = {sizeof top, sizeof inner};
    for (int i = 0; i < 2; i++) {
        /* protobuf-c itself takes it: the router's own check is what refuses it. */
        Hm__AppendRequest *req = hm__append_request__unpack (NULL, lens[i], bodies[i]);
        assert_non_null (req);
        assert_int_equal (req->batch_id, 200 + i);
        hm__append_request__free_unpacked (req, NULL);
        zmq_send (f->client, HM_WIRE_APPEND, strlen (HM_WIRE_APPEND), ZMQ_SNDMORE);
        zmq_send (f->client, bodies[i], lens[i], 0);
        Hm__AppendReply *r = rf_recv_reply (f);
        assert_int_equal (r->batch_id, 200 + i);
        assert_int_equal (r->status, HM__APPEND_REPLY__STATUS__ERROR);
        assert_non_null (strstr (r->reason, "cannot read"));
        hm__append_reply__free_unpacked (r, NULL);
    }
    /* Nothing was appended: the next good request takes offset 1. */
    assert_int_equal (rf_append_ok (f, 202, "ev"), 1);
    rf_stop (f);
}

static void
test_log_full (void **state)
{
    rf_fixture_t *f = *state;
    /* The smallest bound the config takes (1 MiB) and 64 KiB events. */
    rf_load_config (f, ", \"max_log_bytes\": 1048576, \"segment_bytes\": 65536");
    rf_start (f);
    static char big[64 << 10];
    memset (big, 'x', sizeof big - 1);
    uint64_t ok = 0, full = 0;
    for (uint64_t i = 1; i <= 20; i++) {
        rf_send_append (f, HM_WIRE_APPEND, i, big);
        Hm__AppendReply *r = rf_recv_reply (f);
        assert_int_equal (r->batch_id, i);
        if (r->status == HM__APPEND_REPLY__STATUS__OK)
            ok++;
        else {
            assert_int_equal (r->status, HM__APPEND_REPLY__STATUS__FULL);
            full++;
        }
        hm__append_reply__free_unpacked (r, NULL);
    }
    assert_true (ok >= 14 && ok <= 16);
    assert_int_equal (ok + full, 20);
    /* The sink takes everything: segments go, appends are accepted again. */
    rf_flush (f);
    rf_sink_send (f->sink, HM__SINK_MESSAGE__KIND__READY, 0, 0);
    Hm__Delivery *d = rf_sink_deliver (f->sink);
    assert_int_equal (d->first_offset, 1);
    assert_int_equal (d->last_offset, ok);
    rf_sink_send (f->sink, HM__SINK_MESSAGE__KIND__ACK, 1, ok);
    hm__delivery__free_unpacked (d, NULL);
    s_wait_committed (f, ok);
    /* The delivered segments are unlinked by the reaper thread and count
       until they are gone: FULL for that long, then room (bounded wait). */
    Hm__AppendReply *r = NULL;
    for (int tries = 0; tries < 500; tries++) {
        rf_send_append (f, HM_WIRE_APPEND, 99, big);
        r = rf_recv_reply (f);
        if (r->status != HM__APPEND_REPLY__STATUS__FULL)
            break;
        hm__append_reply__free_unpacked (r, NULL);
        r = NULL;
        usleep (10000);
    }
    assert_non_null (r);
    assert_int_equal (r->status, HM__APPEND_REPLY__STATUS__OK);
    assert_int_equal (r->offset, ok + 1);
    hm__append_reply__free_unpacked (r, NULL);
    rf_stop (f);
}

static void
test_dead_sink_and_nack (void **state)
{
    rf_fixture_t *f = *state;
    rf_load_config (f, ", \"sink_timeout_ms\": 300");
    rf_start (f);
    assert_int_equal (rf_append_ok (f, 1, "a"), 1);
    rf_flush (f);
    /* Instance A takes the batch, then goes silent. */
    rf_sink_send (f->sink, HM__SINK_MESSAGE__KIND__READY, 0, 0);
    Hm__Delivery *d = rf_sink_deliver (f->sink);
    assert_int_equal (d->first_offset, 1);
    hm__delivery__free_unpacked (d, NULL);
    /* Instance B gets it once A is declared dead. */
    void *b = rf_connect (f, f->cfg->routes[0].endpoint);
    rf_sink_send (b, HM__SINK_MESSAGE__KIND__READY, 0, 0);
    d = rf_sink_deliver (b);
    assert_int_equal (d->first_offset, 1);
    assert_int_equal (d->last_offset, 1);
    hm__delivery__free_unpacked (d, NULL);
    /* B hands it back: it comes again (B is the only live instance). */
    rf_sink_send (b, HM__SINK_MESSAGE__KIND__NACK, 1, 1);
    d = rf_sink_deliver (b);
    assert_int_equal (d->first_offset, 1);
    hm__delivery__free_unpacked (d, NULL);
    rf_sink_send (b, HM__SINK_MESSAGE__KIND__ACK, 1, 1);
    s_wait_committed (f, 1);
    Hm__ControlReply *c = rf_control (f, HM__CONTROL_REQUEST__COMMAND__STATUS, NULL, 0);
    assert_non_null (strstr (c->status_json, "\"died\":1"));
    assert_non_null (strstr (c->status_json, "\"nacks\":1"));
    hm__control_reply__free_unpacked (c, NULL);
    zmq_close (b);
    rf_stop (f);
}

static void
test_inject_and_tap (void **state)
{
    rf_fixture_t *f = *state;
    rf_start (f);
    void *tap = zmq_socket (f->zctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt (tap, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (tap, ZMQ_SUBSCRIBE, "", 0);
    assert_int_equal (zmq_connect (tap, f->cfg->tap_endpoint), 0);
    void *push = zmq_socket (f->zctx, ZMQ_PUSH);
    zmq_setsockopt (push, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal (zmq_connect (push, f->cfg->inject_endpoint), 0);
    /* A subscription takes a moment to reach the PUB: append until the
       tap shows something (bounded), then check its framing. */
    Hm__Event ev = HM__EVENT__INIT;
    Hm__Event *evp = &ev;
    HM_SET_STR (&ev, event, "injected");
    Hm__AppendRequest req = HM__APPEND_REQUEST__INIT;
    req.batch_id = 5;
    req.n_events = 1;
    req.events = &evp;
    zmq_pollitem_t item = {tap, 0, ZMQ_POLLIN, 0};
    int tries = 0;
    do {
        assert_int_equal (hm_wire_send (push, NULL, 0, HM_WIRE_APPEND, &req.base, 0), 0);
        assert_true (++tries < 200);
    } while (zmq_poll (&item, 1, 50) == 0);
    /* Read the tap up to the last record pushed: then all were appended. */
    uint64_t offset = 0;
    while (offset < (uint64_t)tries) {
        char type[32];
        uint8_t hdr[64], body[512];
        size_t n = rf_recv (tap, type, sizeof type, hdr, sizeof hdr);
        assert_string_equal (type, HM_WIRE_TAP);
        Hm__TapHeader *th = hm__tap_header__unpack (NULL, n, hdr);
        assert_non_null (th);
        assert_true (th->offset > offset && th->offset <= (uint64_t)tries);
        offset = th->offset;
        hm__tap_header__free_unpacked (th, NULL);
        int more;
        size_t more_len = sizeof more;
        zmq_getsockopt (tap, ZMQ_RCVMORE, &more, &more_len);
        assert_true (more);
        int len = zmq_recv (tap, body, sizeof body, 0);
        Hm__AppendRequest *got = hm__append_request__unpack (NULL, (size_t)len, body);
        assert_non_null (got);
        assert_int_equal (got->batch_id, 5);
        assert_bytes_equal (got->events[0]->event, "injected");
        hm__append_request__free_unpacked (got, NULL);
    }
    /* Injected records reach the route like any other. */
    rf_flush (f);
    rf_sink_send (f->sink, HM__SINK_MESSAGE__KIND__READY, 0, 0);
    Hm__Delivery *d = rf_sink_deliver (f->sink);
    assert_int_equal (d->first_offset, 1);
    assert_int_equal (d->n_events, (size_t)tries);
    assert_bytes_equal (d->events[0]->event, "injected");
    hm__delivery__free_unpacked (d, NULL);
    zmq_close (tap);
    zmq_close (push);
    rf_stop (f);
}

static void
test_shutdown_hands_out_open_batches (void **state)
{
    rf_fixture_t *f = *state;
    rf_start (f);
    for (uint64_t i = 1; i <= 3; i++)
        assert_int_equal (rf_append_ok (f, i, "late"), i);
    rf_sink_send (f->sink, HM__SINK_MESSAGE__KIND__READY, 0, 0);
    rf_wait_status (f, "\"joined\":1");
    /* Stop without joining: the drain seals the open batch and hands it
       to us; we acknowledge it and the router finishes. */
    f->stop = 1;
    Hm__Delivery *d = rf_sink_deliver (f->sink);
    assert_int_equal (d->first_offset, 1);
    assert_int_equal (d->last_offset, 3);
    assert_int_equal (d->n_events, 3);
    rf_sink_send (f->sink, HM__SINK_MESSAGE__KIND__ACK, 1, 3);
    hm__delivery__free_unpacked (d, NULL);
    pthread_join (f->thread, NULL);
    server_destroy (&f->server);
    zmq_close (f->client);
    zmq_close (f->control);
    zmq_close (f->sink);
    char path[128], text[256] = "";
    rf_path (f, "data/routes/archive.state", path, sizeof path);
    FILE *fp = fopen (path, "r");
    assert_non_null (fp);
    size_t n = fread (text, 1, sizeof text - 1, fp);
    fclose (fp);
    text[n] = 0;
    assert_string_equal (text, "hamustro-route-state 1\ncommitted 3\nend\n");
}

/* The committed offset of route name in a STATUS answer, or -1. */
static long long
s_route_committed (rf_fixture_t *f, const char *name)
{
    Hm__ControlReply *r = rf_control (f, HM__CONTROL_REQUEST__COMMAND__STATUS, NULL, 0);
    char needle[64];
    snprintf (needle, sizeof needle, "{\"name\":\"%s\",", name);
    const char *at = strstr (r->status_json, needle);
    at = at ? strstr (at, "\"committed\":") : NULL;
    long long v = at ? atoll (at + strlen ("\"committed\":")) : -1;
    hm__control_reply__free_unpacked (r, NULL);
    return v;
}

/* Receives deliveries on sock and acknowledges them until the events of
   records 1..last have all come (failing on a gap or a duplicate). */
static void
s_sink_take_all (void *sock, uint64_t last)
{
    uint64_t next = 1;
    while (next <= last) {
        Hm__Delivery *d = rf_sink_deliver (sock);
        if (d->first_offset != next)
            fail_msg ("expected a batch from %llu, got %llu..%llu", (unsigned long long)next,
                      (unsigned long long)d->first_offset, (unsigned long long)d->last_offset);
        /* One event per record here. */
        assert_int_equal (d->n_events, d->last_offset - d->first_offset + 1);
        next = d->last_offset + 1;
        rf_sink_send (sock, HM__SINK_MESSAGE__KIND__ACK, d->first_offset, d->last_offset);
        hm__delivery__free_unpacked (d, NULL);
    }
}

/* Replay window (issue 18 item 7): segments are deleted behind the
   offsets in the routes' state files (server.c), and a replay lowers a
   route's offset. Until the server knew the state file went back, a
   second route's progress could delete the segments the replay reads, or
   (if the route had read them already) that a restart rebuilds its batch
   from. Two routes; "archive" has everything, "mirror" holds the log;
   archive replays from 1, then mirror acknowledges everything: the log
   must keep every record, and after a restart archive must deliver them
   all. (Without the fix this fails when mirror's acknowledgements land
   within 100 ms of archive's last save, the periodic save that closed the
   window; they do here unless the machine stalls.) */
static void
test_replay_keeps_its_segments (void **state)
{
    rf_fixture_t *f = *state;
    char json[2048];
    snprintf (json, sizeof json,
              "{\"shared_secret\": \"s\", \"router\": {\"run_dir\": \"%s/run\", \"data_dir\": "
              "\"%s/data\", \"heartbeat_ms\": 100, \"segment_bytes\": 65536},"
              " \"routes\": {\"archive\": {\"sink\": \"file\", \"max_events\": 1000,"
              " \"max_age\": 3600, \"file\": {\"file_path\": \"%s/out/\"}},"
              " \"mirror\": {\"sink\": \"file\", \"max_events\": 2,"
              " \"max_age\": 3600, \"file\": {\"file_path\": \"%s/out2/\"}}}}",
              f->dir, f->dir, f->dir, f->dir);
    rf_config (f, json);
    rf_start (f);
    void *mirror = f->sink2 = rf_connect (f, f->cfg->routes[1].endpoint);
    /* 40 records of ~16 KiB: 4 to a 64 KiB segment, 10 segments. */
    static char big[16 << 10];
    memset (big, 'e', sizeof big - 1);
    for (uint64_t i = 1; i <= 40; i++)
        assert_int_equal (rf_append_ok (f, i, big), i);
    rf_flush (f);
    rf_sink_send (f->sink, HM__SINK_MESSAGE__KIND__READY, 0, 0);
    s_sink_take_all (f->sink, 40);
    /* mirror takes every batch and holds on to them: the log keeps all. */
    Hm__SinkMessage m = HM__SINK_MESSAGE__INIT;
    m.kind = HM__SINK_MESSAGE__KIND__READY;
    m.has_credit = true, m.credit = 100;
    assert_int_equal (hm_wire_send (mirror, NULL, 0, HM_WIRE_SINK, &m.base, 0), 0);
    uint64_t held[20][2];
    for (int i = 0; i < 20; i++) {
        Hm__Delivery *d = rf_sink_deliver (mirror);
        held[i][0] = d->first_offset, held[i][1] = d->last_offset;
        hm__delivery__free_unpacked (d, NULL);
    }
    /* archive's state file says committed 40: its last save just happened. */
    char path[160];
    rf_path (f, "data/routes/archive.state", path, sizeof path);
    for (int i = 0;; i++) {
        char text[256] = "";
        FILE *fp = fopen (path, "r");
        if (fp) {
            size_t n = fread (text, 1, sizeof text - 1, fp);
            text[n] = 0;
            fclose (fp);
        }
        if (strstr (text, "committed 40\n"))
            break;
        if (i == RF_WAIT_MS)
            fail_msg ("archive's state never said committed 40");
        usleep (1000);
    }
    Hm__ControlReply *c = rf_control (f, HM__CONTROL_REQUEST__COMMAND__REPLAY, "archive", 1);
    assert_true (c->ok);
    hm__control_reply__free_unpacked (c, NULL);
    for (int i = 0; i < 20; i++)
        rf_sink_send (mirror, HM__SINK_MESSAGE__KIND__ACK, held[i][0], held[i][1]);
    for (int i = 0; s_route_committed (f, "mirror") != 40; i++) {
        if (i == RF_WAIT_MS / 10)
            fail_msg ("mirror never committed 40");
        usleep (10000);
    }
    /* archive has not acknowledged its replay: the log still starts at 1. */
    c = rf_control (f, HM__CONTROL_REQUEST__COMMAND__STATUS, NULL, 0);
    if (!strstr (c->status_json, "\"first_seq\":1,"))
        fail_msg ("segments the replay needs were deleted: %.200s", c->status_json);
    hm__control_reply__free_unpacked (c, NULL);
    zmq_close (mirror);
    f->sink2 = NULL;
    /* After a restart the replay's batch is rebuilt from the log, whole. */
    rf_stop (f);
    rf_start (f);
    rf_sink_send (f->sink, HM__SINK_MESSAGE__KIND__READY, 0, 0);
    s_sink_take_all (f->sink, 40);
    rf_stop (f);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_append_deliver_ack_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_append_unreadable_by_routes_refused, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_log_full, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_dead_sink_and_nack, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_inject_and_tap, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_shutdown_hands_out_open_batches, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_replay_keeps_its_segments, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
