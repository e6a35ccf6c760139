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

#include "config.h"
#include "hm_test_bytes.h"
#include "pipeline.pb-c.h"
#include "server.h"
#include "wire.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define S_WAIT_MS 10000 /* longest wait for any message or condition before failing */

/* tests/faults/faultshim.c: arms rules (NULL: none). */
int hm_faults_set (const char *rules);

typedef struct {
    char dir[64];               /* temporary directory */
    char reserve[128];          /* dir/data/reserve */
    hm_config_t *cfg;           /* parsed config */
    server_t *server;           /* the server under test */
    pthread_t thread;           /* runs server_run */
    volatile sig_atomic_t stop; /* its stop flag */
    void *zctx;                 /* the test's own context */
    void *client;               /* DEALER to the append endpoint */
    void *control;              /* DEALER to the control endpoint */
    void *sink;                 /* DEALER to the route's endpoint */
} fixture_t;

static void *
s_run (void *arg)
{
    fixture_t *f = arg;
    server_run (f->server, &f->stop);
    return NULL;
}

static void *
s_connect (fixture_t *f, const char *endpoint)
{
    void *s = zmq_socket (f->zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt (s, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal (zmq_connect (s, endpoint), 0);
    return s;
}

static void
s_start (fixture_t *f)
{
    char err[512] = "";
    f->server = server_new (f->cfg, err, sizeof err);
    if (!f->server)
        fail_msg ("server_new: %s", err);
    f->stop = 0;
    assert_int_equal (pthread_create (&f->thread, NULL, s_run, f), 0);
    f->client = s_connect (f, f->cfg->router_endpoint);
    f->control = s_connect (f, f->cfg->control_endpoint);
    f->sink = s_connect (f, f->cfg->routes[0].endpoint);
}

static void
s_stop (fixture_t *f)
{
    zmq_close (f->sink);
    f->stop = 1;
    pthread_join (f->thread, NULL);
    server_destroy (&f->server);
    zmq_close (f->client);
    zmq_close (f->control);
    f->sink = f->client = f->control = NULL;
}

static int
s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    snprintf (f->dir, sizeof f->dir, "/tmp/hm-test-diskfull-XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    snprintf (f->reserve, sizeof f->reserve, "%s/data/reserve", f->dir);
    f->zctx = zmq_ctx_new ();
    char json[2048];
    snprintf (json, sizeof json,
              "{\"shared_secret\": \"s\", \"router\": {\"run_dir\": \"%s/run\", \"data_dir\": "
              "\"%s/data\", \"heartbeat_ms\": 100},"
              " \"routes\": {\"archive\": {\"sink\": \"file\", \"max_events\": 1000,"
              " \"max_age\": 3600, \"file\": {\"file_path\": \"%s/out/\"}}}}",
              f->dir, f->dir, f->dir);
    char err[512] = "";
    f->cfg = hm_config_parse (json, "test", err, sizeof err);
    if (!f->cfg)
        fail_msg ("config: %s", err);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = *state;
    hm_faults_set (NULL);
    if (f->server)
        s_stop (f);
    zmq_ctx_term (f->zctx);
    hm_config_destroy (&f->cfg);
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal (system (cmd), 0);
    free (f);
    return 0;
}

/* Receives [type][body] within S_WAIT_MS; returns the body size or fails. */
static size_t
s_recv (void *sock, char *type, size_t type_cap, uint8_t *body, size_t body_cap)
{
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&item, 1, S_WAIT_MS) != 1)
        fail_msg ("no message within %d ms", S_WAIT_MS);
    int n = zmq_recv (sock, type, type_cap - 1, 0);
    assert_true (n >= 0);
    type[n] = 0;
    n = zmq_recv (sock, body, body_cap, 0);
    assert_true (n >= 0 && (size_t)n <= body_cap);
    return (size_t)n;
}

/* Appends one event; returns the reply (the caller frees it). */
static Hm__AppendReply *
s_append (fixture_t *f, uint64_t batch_id)
{
    Hm__Event ev = HM__EVENT__INIT;
    Hm__Event *evp = &ev;
    HM_SET_STR (&ev, event, "ev");
    HM_SET_STR (&ev, device_id, "device");
    Hm__AppendRequest req = HM__APPEND_REQUEST__INIT;
    req.batch_id = batch_id;
    req.n_events = 1;
    req.events = &evp;
    assert_int_equal (hm_wire_send (f->client, NULL, 0, HM_WIRE_APPEND, &req.base, 0), 0);
    char type[32];
    uint8_t body[512];
    size_t n = s_recv (f->client, type, sizeof type, body, sizeof body);
    assert_string_equal (type, HM_WIRE_APPENDED);
    Hm__AppendReply *r = hm__append_reply__unpack (NULL, n, body);
    assert_non_null (r);
    assert_int_equal (r->batch_id, batch_id);
    return r;
}

static void
s_append_ok (fixture_t *f, uint64_t batch_id, uint64_t offset)
{
    Hm__AppendReply *r = s_append (f, batch_id);
    assert_int_equal (r->status, HM__APPEND_REPLY__STATUS__OK);
    assert_int_equal (r->offset, offset);
    hm__append_reply__free_unpacked (r, NULL);
}

/* The append is refused (503 at the HTTP side) and says why. */
static void
s_append_refused (fixture_t *f, uint64_t batch_id)
{
    Hm__AppendReply *r = s_append (f, batch_id);
    assert_int_equal (r->status, HM__APPEND_REPLY__STATUS__ERROR);
    assert_non_null (r->reason);
    if (!strstr (r->reason, "no room kept for route state"))
        fail_msg ("reason: %s", r->reason);
    hm__append_reply__free_unpacked (r, NULL);
}

/* One control request; returns the reply (the caller frees it). */
static Hm__ControlReply *
s_control (fixture_t *f, Hm__ControlRequest__Command cmd)
{
    Hm__ControlRequest req = HM__CONTROL_REQUEST__INIT;
    req.command = cmd;
    assert_int_equal (hm_wire_send (f->control, NULL, 0, HM_WIRE_CONTROL, &req.base, 0), 0);
    char type[32];
    static uint8_t body[65536];
    size_t n = s_recv (f->control, type, sizeof type, body, sizeof body);
    assert_string_equal (type, HM_WIRE_CONTROLLED);
    Hm__ControlReply *r = hm__control_reply__unpack (NULL, n, body);
    assert_non_null (r);
    assert_true (r->ok);
    return r;
}

/* True if STATUS holds needle right now. */
static bool
s_status_has (fixture_t *f, const char *needle)
{
    Hm__ControlReply *r = s_control (f, HM__CONTROL_REQUEST__COMMAND__STATUS);
    assert_non_null (r->status_json);
    bool has = strstr (r->status_json, needle) != NULL;
    hm__control_reply__free_unpacked (r, NULL);
    return has;
}

/* The number after "key": in STATUS (the first one). */
static uint64_t
s_status_number (fixture_t *f, const char *key)
{
    Hm__ControlReply *r = s_control (f, HM__CONTROL_REQUEST__COMMAND__STATUS);
    char needle[64];
    snprintf (needle, sizeof needle, "\"%s\":", key);
    const char *at = strstr (r->status_json, needle);
    if (!at)
        fail_msg ("no %s in %s", key, r->status_json);
    uint64_t n = strtoull (at + strlen (needle), NULL, 10);
    hm__control_reply__free_unpacked (r, NULL);
    return n;
}

/* Asks STATUS until it holds needle (bounded). */
static void
s_wait_status (fixture_t *f, const char *needle)
{
    for (int i = 0; i < S_WAIT_MS / 10; i++) {
        if (s_status_has (f, needle))
            return;
        usleep (10000);
    }
    Hm__ControlReply *r = s_control (f, HM__CONTROL_REQUEST__COMMAND__STATUS);
    fail_msg ("status never had %s: %s", needle, r->status_json);
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0;
}

static void
s_sink_send (fixture_t *f, Hm__SinkMessage__Kind kind, uint64_t first, uint64_t last)
{
    Hm__SinkMessage m = HM__SINK_MESSAGE__INIT;
    m.kind = kind;
    if (kind == HM__SINK_MESSAGE__KIND__READY)
        m.has_credit = true, m.credit = 2;
    else if (kind != HM__SINK_MESSAGE__KIND__HEARTBEAT) {
        m.has_first_offset = m.has_last_offset = true;
        m.first_offset = first, m.last_offset = last;
    }
    assert_int_equal (hm_wire_send (f->sink, NULL, 0, HM_WIRE_SINK, &m.base, 0), 0);
}

/* Takes the next delivery (answering heartbeats) and acknowledges it;
   fails unless it covers first..last. */
static void
s_sink_take (fixture_t *f, uint64_t first, uint64_t last)
{
    static uint8_t body[1 << 16];
    for (int beats = 0; beats < 100; beats++) {
        char type[32];
        size_t n = s_recv (f->sink, type, sizeof type, body, sizeof body);
        if (strcmp (type, HM_WIRE_SINK) == 0) {
            s_sink_send (f, HM__SINK_MESSAGE__KIND__HEARTBEAT, 0, 0);
            continue;
        }
        assert_string_equal (type, HM_WIRE_DELIVER);
        Hm__Delivery *d = hm__delivery__unpack (NULL, n, body);
        assert_non_null (d);
        assert_int_equal (d->first_offset, first);
        assert_int_equal (d->last_offset, last);
        hm__delivery__free_unpacked (d, NULL);
        s_sink_send (f, HM__SINK_MESSAGE__KIND__ACK, first, last);
        return;
    }
    fail_msg ("only heartbeats, no delivery");
}

/* The state save fails (ENOSPC) while the log's writes succeed: the
   reserve is given back and, until the state is saved and the reserve is
   made again, appends are refused, so they cannot take the room first. */
static void
test_appends_wait_for_the_state_save (void **state)
{
    fixture_t *f = *state;
    s_start (f);
    assert_true (s_exists (f->reserve));
    for (uint64_t i = 1; i <= 3; i++)
        s_append_ok (f, i, i);

    /* Only the route's state file runs out of room; the log does not. */
    assert_int_equal (hm_faults_set ("write */archive.state.tmp 0 -1 ENOSPC"), 0);
    /* The seal of 1..3 must be saved before the batch may leave: the save
       fails, the reserve goes, the second try fails too. */
    hm__control_reply__free_unpacked (s_control (f, HM__CONTROL_REQUEST__COMMAND__FLUSH), NULL);
    assert_false (s_exists (f->reserve));
    /* The log could take these (its writes work): it must not. */
    s_append_refused (f, 10);
    s_append_refused (f, 11);
    assert_true (s_status_has (f, "\"reserve\":{\"held\":false,\"releases\":1,\"made\":0,"
                                  "\"refused\":2}"));
    /* The batch waits for its saved seal: a sink gets nothing meanwhile,
       and the save is tried again (each second) and fails. */
    s_sink_send (f, HM__SINK_MESSAGE__KIND__READY, 0, 0);
    for (int i = 0; s_status_number (f, "save_errors") < 3; i++) {
        assert_true (i < S_WAIT_MS / 10);
        usleep (10000);
    }
    s_append_refused (f, 12);

    /* Room again: the save succeeds, the batch leaves, the reserve is
       made again and appends are accepted, without anyone's help. */
    hm_faults_set (NULL);
    s_sink_take (f, 1, 3);
    s_wait_status (f, "\"reserve\":{\"held\":true,\"releases\":1,\"made\":1,\"refused\":3}");
    assert_true (s_exists (f->reserve));
    s_append_ok (f, 13, 4);
    s_wait_status (f, "\"committed\":3,");
    s_stop (f);
}

/* The reserve cannot be made at start (here its path is taken by a
   directory; on a full disk, no room): appends are refused until it is
   made, which is tried again every second. */
static void
test_no_reserve_at_start (void **state)
{
    fixture_t *f = *state;
    char data[96];
    snprintf (data, sizeof data, "%s/data", f->dir);
    assert_int_equal (mkdir (data, 0755), 0);
    assert_int_equal (mkdir (f->reserve, 0755), 0);
    s_start (f);
    s_append_refused (f, 1);
    assert_true (s_status_has (f, "\"reserve\":{\"held\":false,\"releases\":0,\"made\":0,"));
    assert_int_equal (rmdir (f->reserve), 0);
    s_wait_status (f, "\"reserve\":{\"held\":true,\"releases\":0,\"made\":1,\"refused\":1}");
    assert_true (s_exists (f->reserve));
    s_append_ok (f, 2, 1);
    s_stop (f);
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
