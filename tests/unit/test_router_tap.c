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

#include "config.h"
#include "encode.h"
#include "event.h"
#include "pipeline.pb-c.h"
#include "server.h"
#include "tap.h"
#include "wire.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define S_WAIT_MS 20000           /* longest wait for a reply before failing */
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

typedef struct {
    char dir[64];               /* temporary directory */
    hm_config_t *cfg;           /* parsed config */
    server_t *server;           /* the server under test */
    pthread_t thread;           /* runs server_run */
    volatile sig_atomic_t stop; /* its stop flag */
} fixture_t;

static void *
s_run (void *arg)
{
    fixture_t *f = arg;
    server_run (f->server, &f->stop);
    return NULL;
}

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
s_append (void *client, uint64_t batch_id, char *name)
{
    Hm__Event ev = HM__EVENT__INIT;
    Hm__Event *evp = &ev;
    HM_SET_STR (&ev, event, name);
    HM_SET_STR (&ev, device_id, "device");
    Hm__AppendRequest req = HM__APPEND_REQUEST__INIT;
    req.batch_id = batch_id;
    req.n_events = 1;
    req.events = &evp;
    assert_int_equal (hm_wire_send (client, NULL, 0, HM_WIRE_APPEND, &req.base, 0), 0);
    zmq_pollitem_t item = {client, 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&item, 1, S_WAIT_MS) != 1)
        fail_msg ("no reply within %d ms", S_WAIT_MS);
    char type[32];
    uint8_t body[512];
    assert_true (zmq_recv (client, type, sizeof type, 0) > 0);
    int n = zmq_recv (client, body, sizeof body, 0);
    assert_true (n > 0);
    Hm__AppendReply *r = hm__append_reply__unpack (NULL, (size_t)n, body);
    assert_non_null (r);
    assert_int_equal (r->status, HM__APPEND_REPLY__STATUS__OK);
    hm__append_reply__free_unpacked (r, NULL);
}

/* The router's status JSON (the caller frees it). */
static char *
s_status (void *control)
{
    Hm__ControlRequest req = HM__CONTROL_REQUEST__INIT;
    req.command = HM__CONTROL_REQUEST__COMMAND__STATUS;
    assert_int_equal (hm_wire_send (control, NULL, 0, HM_WIRE_CONTROL, &req.base, 0), 0);
    zmq_pollitem_t item = {control, 0, ZMQ_POLLIN, 0};
    assert_int_equal (zmq_poll (&item, 1, S_WAIT_MS), 1);
    char type[32];
    static uint8_t body[65536];
    assert_true (zmq_recv (control, type, sizeof type, 0) > 0);
    int n = zmq_recv (control, body, sizeof body, 0);
    assert_true (n > 0 && n < (int)sizeof body);
    Hm__ControlReply *r = hm__control_reply__unpack (NULL, (size_t)n, body);
    assert_non_null (r);
    char *json = strdup (r->status_json);
    hm__control_reply__free_unpacked (r, NULL);
    return json;
}

static unsigned long long
s_counter (const char *json, const char *name)
{
    char needle[64];
    snprintf (needle, sizeof needle, "\"%s\":", name);
    const char *at = strstr (json, needle);
    if (!at)
        fail_msg ("no %s in %.300s", name, json);
    return strtoull (at + strlen (needle), NULL, 10);
}

static void
test_slow_subscriber_is_bounded (void **state)
{
    fixture_t *f = *state;
    char json[1024], err[512] = "";
    /* The route keeps nothing (its filter matches no event), so the only
       thing that could hold appended records in memory is the tap. */
    snprintf (json, sizeof json,
              "{\"shared_secret\": \"s\", \"router\": {\"run_dir\": \"%s/run\", \"data_dir\": "
              "\"%s/data\", \"max_log_bytes\": 4294967296},"
              " \"routes\": {\"archive\": {\"sink\": \"file\", \"filter\": {\"event\": \"none\"},"
              " \"file\": {\"file_path\": \"%s/out/\"}}}}",
              f->dir, f->dir, f->dir);
    f->cfg = hm_config_parse (json, "test", err, sizeof err);
    if (!f->cfg)
        fail_msg ("config: %s", err);
    f->server = server_new (f->cfg, err, sizeof err);
    if (!f->server)
        fail_msg ("server_new: %s", err);
    assert_int_equal (pthread_create (&f->thread, NULL, s_run, f), 0);
    void *zctx = zmq_ctx_new ();
    void *client = s_socket (zctx, ZMQ_DEALER, 1000);
    void *control = s_socket (zctx, ZMQ_DEALER, 1000);
    void *sub = s_socket (zctx, ZMQ_SUB, 1); /* holds one message, not more */
    assert_int_equal (zmq_connect (client, f->cfg->router_endpoint), 0);
    assert_int_equal (zmq_connect (control, f->cfg->control_endpoint), 0);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "", 0);
    assert_int_equal (zmq_connect (sub, f->cfg->tap_endpoint), 0);
    /* The subscription takes a moment to reach the PUB: append small
       records until one shows (bounded); from then on, never read. */
    char small[] = "small";
    zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
    int tries = 0;
    do {
        s_append (client, 1, small);
        assert_true (++tries < 400);
    } while (zmq_poll (&item, 1, 50) == 0);
    char *name = malloc (S_RECORD + 1);
    memset (name, 'e', S_RECORD);
    name[S_RECORD] = 0;
    s_append (client, 2, name); /* the allocator's first big blocks */
    uint64_t before = s_rss (), peak = before;
    for (int i = 0; i < S_RECORDS; i++) {
        s_append (client, 10 + (uint64_t)i, name);
        uint64_t now = s_rss ();
        peak = now > peak ? now : peak;
    }
    printf ("rss before %llu MiB, peak %llu MiB\n", (unsigned long long)(before >> 20),
            (unsigned long long)(peak >> 20));
    if (peak - before > (uint64_t)TAP_MAX_BYTES + S_SLACK_BYTES)
        fail_msg ("the router's memory grew by %llu MiB for a subscriber that does not read",
                  (unsigned long long)((peak - before) >> 20));
    char *status = s_status (control);
    unsigned long long dropped = s_counter (status, "tap_dropped");
    unsigned long long held = s_counter (status, "tap_held_bytes");
    printf ("tap dropped %llu, holds %llu bytes\n", dropped, held);
    assert_true (held <= TAP_MAX_BYTES);
    /* What the subscriber could not take was dropped, and counted: at
       least the records beyond the bound. */
    assert_true (dropped >= S_RECORDS - TAP_MAX_BYTES / S_RECORD);
    free (status);
    free (name);
    zmq_close (sub);
    zmq_close (client);
    zmq_close (control);
    zmq_ctx_term (zctx);
    f->stop = 1;
    pthread_join (f->thread, NULL);
    server_destroy (&f->server);
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
        assert_int_equal (zmq_poll (&item, 1, S_WAIT_MS), 1);
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
    fixture_t *f = calloc (1, sizeof *f);
    snprintf (f->dir, sizeof f->dir, "/tmp/hm-test-tap-XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = *state;
    if (f->server) {
        f->stop = 1;
        pthread_join (f->thread, NULL);
        server_destroy (&f->server);
    }
    hm_config_destroy (&f->cfg);
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal (system (cmd), 0);
    free (f);
    return 0;
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
