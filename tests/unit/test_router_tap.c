/*  test_router_tap: the router's tap (router/tap.h) holds at most
    TAP_MAX_BYTES of records for subscribers that do not read. The server
    runs in a thread of this test, beside a SUB socket that subscribes and
    then never reads again; records of 1 MiB are appended, four times the
    bound. The process's resident memory must stay within the bound (plus
    room for the rest), and the drop counter must rise, as STATUS shows.
    Before the bound, the PUB socket queued up to 10,000 messages of up to
    64 MiB for such a subscriber. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "encode.h"
#include "event.h"
#include "pipeline.pb-c.h"
#include "router_fixture.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define S_RECORD (1u << 20)       /* bytes of event name per record */
#define S_RECORDS 256             /* records appended: 4 x TAP_MAX_BYTES */
#define S_SLACK_BYTES (48u << 20) /* memory the rest may take meanwhile */

#if defined(__SANITIZE_ADDRESS__)
/* AddressSanitizer keeps freed blocks in a quarantine (256 MiB by
   default): resident memory would measure it, not what the router holds. */
const char *__asan_default_options (void);
const char *
__asan_default_options (void)
{
    return "quarantine_size_mb=0";
}
#endif

/* Resident memory of this process, in bytes (/proc/self/status). */
static uint64_t
s_rss (void)
{
    FILE *fp = fopen ("/proc/self/status", "r");
    assert_non_null (fp);
    char line[256];
    unsigned long long kb = 0;
    while (fgets (line, sizeof line, fp))
        if (sscanf (line, "VmRSS: %llu kB", &kb) == 1)
            break;
    fclose (fp);
    assert_true (kb > 0);
    return (uint64_t)kb << 10;
}

static void *
s_socket (void *zctx, int type, int rcvhwm)
{
    void *s = zmq_socket (zctx, type);
    int linger = 0;
    zmq_setsockopt (s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (s, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
    return s;
}

/* Appends one record whose event is named name; waits for its OK. */
static void
s_append (rf_fixture_t *f, uint64_t batch_id, const char *name)
{
    Hm__AppendReply *r = rf_append (f, batch_id, name);
    assert_int_equal (r->status, HM__APPEND_REPLY__STATUS__OK);
    hm__append_reply__free_unpacked (r, NULL);
}

static void
test_slow_subscriber_is_bounded (void **state)
{
    rf_fixture_t *f = *state;
    char json[1024];
    /* The route keeps nothing (its filter matches no event), so the only
       thing that could hold appended records in memory is the tap. */
    snprintf (json, sizeof json,
              "{\"shared_secret\": \"s\", \"router\": {\"run_dir\": \"%s/run\", \"data_dir\": "
              "\"%s/data\", \"max_log_bytes\": 4294967296},"
              " \"routes\": {\"archive\": {\"sink\": \"file\", \"filter\": {\"event\": \"none\"},"
              " \"file\": {\"file_path\": \"%s/out/\"}}}}",
              f->dir, f->dir, f->dir);
    rf_config (f, json);
    rf_start (f);
    void *sub = s_socket (f->zctx, ZMQ_SUB, 1); /* holds one message, not more */
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "", 0);
    assert_int_equal (zmq_connect (sub, f->cfg->tap_endpoint), 0);
    /* The subscription takes a moment to reach the PUB: append small
       records until one shows (bounded); from then on, never read. */
    char small[] = "small";
    zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
    int tries = 0;
    do {
        s_append (f, 1, small);
        assert_true (++tries < 400);
    } while (zmq_poll (&item, 1, 50) == 0);
    char *name = malloc (S_RECORD + 1);
    memset (name, 'e', S_RECORD);
    name[S_RECORD] = 0;
    s_append (f, 2, name); /* the allocator's first big blocks */
    uint64_t before = s_rss (), peak = before;
    for (int i = 0; i < S_RECORDS; i++) {
        s_append (f, 10 + (uint64_t)i, name);
        uint64_t now = s_rss ();
        peak = now > peak ? now : peak;
    }
    printf ("rss before %llu MiB, peak %llu MiB\n", (unsigned long long)(before >> 20),
            (unsigned long long)(peak >> 20));
    if (peak - before > (uint64_t)TAP_MAX_BYTES + S_SLACK_BYTES)
        fail_msg ("the router's memory grew by %llu MiB for a subscriber that does not read",
                  (unsigned long long)((peak - before) >> 20));
    char *status = rf_status (f);
    unsigned long long dropped = rf_json_number (status, "tap_dropped");
    unsigned long long held = rf_json_number (status, "tap_held_bytes");
    printf ("tap dropped %llu, holds %llu bytes\n", dropped, held);
    assert_true (held <= TAP_MAX_BYTES);
    /* What the subscriber could not take was dropped, and counted: at
       least the records beyond the bound. */
    assert_true (dropped >= S_RECORDS - TAP_MAX_BYTES / S_RECORD);
    free (status);
    free (name);
    zmq_close (sub);
    rf_stop (f);
}

/* A packed AppendRequest of two events, "a\0b" and "second". */
static uint8_t *
s_record (size_t *len)
{
    Hm__Event e1 = HM__EVENT__INIT, e2 = HM__EVENT__INIT;
    Hm__Event *evs[2] = {&e1, &e2};
    e1.event = (ProtobufCBinaryData){3, (uint8_t *)"a\0b"};
    e1.has_event = true;
    HM_SET_STR (&e2, event, "second");
    Hm__AppendRequest req = HM__APPEND_REQUEST__INIT;
    req.n_events = 2;
    req.events = evs;
    *len = hm__append_request__get_packed_size (&req);
    uint8_t *buf = malloc (*len);
    hm__append_request__pack (&req, buf);
    return buf;
}

/* The JSON tap: one message per event, the file sink's line (NUL kept);
   past the bound and for a record that does not decode, dropped and
   counted. */
static void
test_json_tap (void **state)
{
    (void)state;
    void *zctx = zmq_ctx_new ();
    void *pub = s_socket (zctx, ZMQ_PUB, 1000);
    void *sub = s_socket (zctx, ZMQ_SUB, 1000);
    assert_int_equal (zmq_bind (pub, "inproc://tapjson"), 0);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "", 0);
    assert_int_equal (zmq_connect (sub, "inproc://tapjson"), 0);
    size_t len;
    uint8_t *rec = s_record (&len);
    Hm__AppendRequest *req = hm__append_request__unpack (NULL, len, rec);
    hm_buf_t want[2];
    for (int i = 0; i < 2; i++) {
        hm_buf_init (&want[i], 0);
        assert_int_equal (hm_encode_json (&want[i], req->events[i]), 0);
    }
    hm__append_request__free_unpacked (req, NULL);

    tap_t *tap = tap_new (pub, TAP_MAX_BYTES);
    zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
    int tries = 0; /* until the subscription has reached the PUB */
    do {
        assert_int_equal (tap_publish_json (tap, rec, len), 0);
        assert_true (++tries < 400);
    } while (zmq_poll (&item, 1, 50) == 0);
    char got[256];
    for (int i = 0; i < 2; i++) {
        assert_int_equal (zmq_poll (&item, 1, RF_WAIT_MS), 1);
        int n = zmq_recv (sub, got, sizeof got, 0);
        assert_int_equal (n, (int)want[i].len);
        assert_memory_equal (got, want[i].data, want[i].len);
    }
    assert_non_null (strstr (want[0].data, "\"a\\u0000b\"")); /* no raw NUL in a line */
    assert_int_equal (tap_dropped (tap), 0);
    assert_int_equal (tap_publish_json (tap, "\xff\xff", 2), -1);
    assert_int_equal (tap_dropped (tap), 1);
    tap_destroy (&tap);

    /* A bound smaller than the first line: both lines dropped. */
    tap = tap_new (pub, want[0].len - 1);
    assert_int_equal (tap_publish_json (tap, rec, len), -1);
    assert_true (tap_dropped (tap) >= 1);
    assert_true (tap_held_bytes (tap) < want[0].len);
    zmq_close (sub);
    zmq_close (pub);
    zmq_ctx_term (zctx); /* the lines in flight give their bytes back */
    assert_int_equal (tap_held_bytes (tap), 0);
    tap_destroy (&tap);
    for (int i = 0; i < 2; i++)
        hm_buf_free (&want[i]);
    free (rec);
}

static int
s_setup (void **state)
{
    return rf_setup (state, "tap");
}

static int
s_teardown (void **state)
{
    return rf_teardown (state);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_slow_subscriber_is_bounded, s_setup, s_teardown),
        cmocka_unit_test (test_json_tap),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
