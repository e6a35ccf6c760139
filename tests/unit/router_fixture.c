/*  router_fixture: the router in a thread of a unit test, and the test's
    side of its sockets (router_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "router_fixture.h"

#include "event.h"
#include "fixture_dir.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static void *
s_run (void *arg)
{
    rf_fixture_t *f = arg;
    server_run (f->server, &f->stop);
    return NULL;
}

int
rf_setup (void **state, const char *name)
{
    rf_fixture_t *f = calloc (1, sizeof *f);
    assert_non_null (f);
    fixture_dir_make (f->dir, sizeof f->dir, name);
    f->zctx = zmq_ctx_new ();
    rf_load_config (f, "");
    *state = f;
    return 0;
}

int
rf_teardown (void **state)
{
    rf_fixture_t *f = *state;
    if (f->server)
        rf_stop (f);
    if (f->sink2)
        zmq_close (f->sink2);
    zmq_ctx_term (f->zctx);
    hm_config_destroy (&f->cfg);
    fixture_dir_remove (f->dir);
    free (f);
    return 0;
}

void
rf_config (rf_fixture_t *f, const char *json)
{
    char err[512] = "";
    hm_config_destroy (&f->cfg);
    f->cfg = hm_config_parse (json, "test", err, sizeof err);
    if (!f->cfg)
        fail_msg ("config: %s", err);
}

void
rf_load_config (rf_fixture_t *f, const char *extra_router)
{
    char json[2048];
    snprintf (json, sizeof json,
              "{\"shared_secret\": \"s\", \"router\": {\"run_dir\": \"%s/run\", \"data_dir\": "
              "\"%s/data\","
              " \"heartbeat_ms\": 100 %s},"
              " \"routes\": {\"archive\": {\"sink\": \"file\", \"max_events\": 1000,"
              " \"max_age\": 3600, \"file\": {\"file_path\": \"%s/out/\"}}}}",
              f->dir, f->dir, extra_router, f->dir);
    rf_config (f, json);
}

void
rf_path (const rf_fixture_t *f, const char *rel, char *out, size_t cap)
{
    assert_true ((size_t)snprintf (out, cap, "%s/%s", f->dir, rel) < cap);
}

void *
rf_connect (rf_fixture_t *f, const char *endpoint)
{
    void *s = zmq_socket (f->zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt (s, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal (zmq_connect (s, endpoint), 0);
    return s;
}

void
rf_start (rf_fixture_t *f)
{
    char err[512] = "";
    f->server = server_new (f->cfg, err, sizeof err);
    if (!f->server)
        fail_msg ("server_new: %s", err);
    f->stop = 0;
    assert_int_equal (pthread_create (&f->thread, NULL, s_run, f), 0);
    f->client = rf_connect (f, f->cfg->router_endpoint);
    f->control = rf_connect (f, f->cfg->control_endpoint);
    f->sink = rf_connect (f, f->cfg->routes[0].endpoint);
}

void
rf_stop (rf_fixture_t *f)
{
    /* The sink goes first, so the router's shutdown drain does not wait
       for it (test_router_server's test_shutdown_hands_out_open_batches
       tests the drain). */
    zmq_close (f->sink);
    f->sink = NULL;
    f->stop = 1;
    pthread_join (f->thread, NULL);
    server_destroy (&f->server);
    zmq_close (f->client);
    zmq_close (f->control);
    f->client = f->control = NULL;
}

size_t
rf_recv (void *sock, char *type, size_t type_cap, uint8_t *body, size_t body_cap)
{
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&item, 1, RF_WAIT_MS) != 1)
        fail_msg ("no message within %d ms", RF_WAIT_MS);
    int n = zmq_recv (sock, type, type_cap - 1, 0);
    assert_true (n >= 0);
    type[n] = 0;
    int more;
    size_t more_len = sizeof more;
    zmq_getsockopt (sock, ZMQ_RCVMORE, &more, &more_len);
    assert_true (more);
    n = zmq_recv (sock, body, body_cap, 0);
    assert_true (n >= 0 && (size_t)n <= body_cap);
    return (size_t)n;
}

void
rf_send_append (rf_fixture_t *f, const char *type, uint64_t batch_id, const char *event)
{
    Hm__Event ev = HM__EVENT__INIT;
    Hm__Event *evp = &ev;
    HM_SET_STR (&ev, event, (char *)event);
    HM_SET_STR (&ev, device_id, "device");
    Hm__AppendRequest req = HM__APPEND_REQUEST__INIT;
    req.batch_id = batch_id;
    req.n_events = 1;
    req.events = &evp;
    assert_int_equal (hm_wire_send (f->client, NULL, 0, type, &req.base, 0), 0);
}

Hm__AppendReply *
rf_recv_reply (rf_fixture_t *f)
{
    char type[32];
    uint8_t body[512];
    size_t n = rf_recv (f->client, type, sizeof type, body, sizeof body);
    assert_string_equal (type, HM_WIRE_APPENDED);
    Hm__AppendReply *r = hm__append_reply__unpack (NULL, n, body);
    assert_non_null (r);
    return r;
}

Hm__AppendReply *
rf_append (rf_fixture_t *f, uint64_t batch_id, const char *event)
{
    rf_send_append (f, HM_WIRE_APPEND, batch_id, event);
    Hm__AppendReply *r = rf_recv_reply (f);
    assert_int_equal (r->batch_id, batch_id);
    return r;
}

uint64_t
rf_append_ok (rf_fixture_t *f, uint64_t batch_id, const char *event)
{
    Hm__AppendReply *r = rf_append (f, batch_id, event);
    assert_int_equal (r->status, HM__APPEND_REPLY__STATUS__OK);
    assert_true (r->has_offset);
    uint64_t off = r->offset;
    hm__append_reply__free_unpacked (r, NULL);
    return off;
}

Hm__ControlReply *
rf_control (rf_fixture_t *f, Hm__ControlRequest__Command cmd, const char *route, uint64_t offset)
{
    Hm__ControlRequest req = HM__CONTROL_REQUEST__INIT;
    req.command = cmd;
    req.route = (char *)route;
    req.has_offset = offset != 0;
    req.offset = offset;
    assert_int_equal (hm_wire_send (f->control, NULL, 0, HM_WIRE_CONTROL, &req.base, 0), 0);
    char type[32];
    static uint8_t body[65536];
    size_t n = rf_recv (f->control, type, sizeof type, body, sizeof body);
    assert_string_equal (type, HM_WIRE_CONTROLLED);
    Hm__ControlReply *r = hm__control_reply__unpack (NULL, n, body);
    assert_non_null (r);
    return r;
}

void
rf_flush (rf_fixture_t *f)
{
    Hm__ControlReply *r = rf_control (f, HM__CONTROL_REQUEST__COMMAND__FLUSH, NULL, 0);
    assert_true (r->ok);
    hm__control_reply__free_unpacked (r, NULL);
}

char *
rf_status (rf_fixture_t *f)
{
    Hm__ControlReply *r = rf_control (f, HM__CONTROL_REQUEST__COMMAND__STATUS, NULL, 0);
    assert_true (r->ok);
    assert_non_null (r->status_json);
    char *json = strdup (r->status_json);
    assert_non_null (json);
    hm__control_reply__free_unpacked (r, NULL);
    return json;
}

bool
rf_status_has (rf_fixture_t *f, const char *needle)
{
    char *json = rf_status (f);
    bool has = strstr (json, needle) != NULL;
    free (json);
    return has;
}

void
rf_wait_status (rf_fixture_t *f, const char *needle)
{
    for (int i = 0; i < RF_WAIT_MS / 10; i++) {
        if (rf_status_has (f, needle))
            return;
        usleep (10000);
    }
    char *json = rf_status (f);
    fail_msg ("status never had %s: %s", needle, json);
}

uint64_t
rf_json_number (const char *json, const char *key)
{
    char needle[64];
    snprintf (needle, sizeof needle, "\"%s\":", key);
    const char *at = strstr (json, needle);
    if (!at)
        fail_msg ("no %s in %.300s", key, json);
    return strtoull (at + strlen (needle), NULL, 10);
}

void
rf_sink_send (void *sock, Hm__SinkMessage__Kind kind, uint64_t first, uint64_t last)
{
    Hm__SinkMessage m = HM__SINK_MESSAGE__INIT;
    m.kind = kind;
    if (kind == HM__SINK_MESSAGE__KIND__READY)
        m.has_credit = true, m.credit = 2;
    else if (kind != HM__SINK_MESSAGE__KIND__HEARTBEAT) {
        m.has_first_offset = m.has_last_offset = true;
        m.first_offset = first, m.last_offset = last;
    }
    assert_int_equal (hm_wire_send (sock, NULL, 0, HM_WIRE_SINK, &m.base, 0), 0);
}

Hm__Delivery *
rf_sink_deliver (void *sock)
{
    static uint8_t body[1 << 20];
    /* Heartbeats come every 100 ms: this many means no delivery for ~10 s. */
    for (int beats = 0; beats < 100; beats++) {
        char type[32];
        size_t n = rf_recv (sock, type, sizeof type, body, sizeof body);
        if (strcmp (type, HM_WIRE_SINK) == 0) {
            rf_sink_send (sock, HM__SINK_MESSAGE__KIND__HEARTBEAT, 0, 0);
            continue;
        }
        assert_string_equal (type, HM_WIRE_DELIVER);
        Hm__Delivery *d = hm__delivery__unpack (NULL, n, body);
        assert_non_null (d);
        return d;
    }
    fail_msg ("only heartbeats, no delivery");
    return NULL;
}
