/*  router_fixture: what the router's unit tests (test_router_server,
    test_router_diskfull, test_router_tap) share, written once: a router
    (router/server.h) running in a thread of the test over real ZeroMQ
    sockets, the test's DEALERs to its append, control and route
    endpoints, and the requests a test sends on them. Every wait is
    bounded by RF_WAIT_MS (a lost message fails the test instead of
    hanging); no assertion depends on timing. Linked into those tests by
    tests/CMakeLists.txt; needs cmocka.h included before it. */
#ifndef HM_ROUTER_FIXTURE_H
#define HM_ROUTER_FIXTURE_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "pipeline.pb-c.h"
#include "server.h"

/* Longest wait for any message or condition before failing. */
#define RF_WAIT_MS 20000

typedef struct {
    char dir[64];               /* temporary directory */
    hm_config_t *cfg;           /* parsed config */
    server_t *server;           /* the server under test, NULL when stopped */
    pthread_t thread;           /* runs server_run */
    volatile sig_atomic_t stop; /* its stop flag */
    void *zctx;                 /* the test's own context */
    void *client;               /* DEALER to the append endpoint */
    void *control;              /* DEALER to the control endpoint */
    void *sink;                 /* DEALER to the first route's endpoint */
    void *sink2;                /* DEALER to a second route's endpoint, if a test has one */
} rf_fixture_t;

/* cmocka setup: a fresh /tmp/hm-test-<name>-XXXXXX, a context, and the
   one-route config of rf_load_config (f, ""). */
int rf_setup (void **state, const char *name);
/* cmocka teardown: stops a server a failed assertion left running (or the
   context's termination would wait for its sockets for ever), removes
   the directory. */
int rf_teardown (void **state);

/* Replaces the config with json (a test's own); fails on a bad one. */
void rf_config (rf_fixture_t *f, const char *json);
/* The usual config: one file route "archive" (1000 events, an hour),
   heartbeats every 100 ms, and extra_router (", \"key\": value" or "")
   added to the router section. */
void rf_load_config (rf_fixture_t *f, const char *extra_router);
/* out = dir/rel. */
void rf_path (const rf_fixture_t *f, const char *rel, char *out, size_t cap);

/* A DEALER of the test's context connected to endpoint (no linger). */
void *rf_connect (rf_fixture_t *f, const char *endpoint);
/* Starts the server in its thread and connects client, control and sink. */
void rf_start (rf_fixture_t *f);
/* Closes the sink first, so the router's shutdown drain does not wait
   for it, then stops the server and closes client and control. */
void rf_stop (rf_fixture_t *f);

/* Receives [type][body] within RF_WAIT_MS; returns the body size or fails. */
size_t rf_recv (void *sock, char *type, size_t type_cap, uint8_t *body, size_t body_cap);

/* Sends an AppendRequest of one event (device "device") as type. */
void rf_send_append (rf_fixture_t *f, const char *type, uint64_t batch_id, const char *event);
/* The next reply on the client socket (the caller frees it). */
Hm__AppendReply *rf_recv_reply (rf_fixture_t *f);
/* Appends one event and returns its reply, which names batch_id (the
   caller frees it). */
Hm__AppendReply *rf_append (rf_fixture_t *f, uint64_t batch_id, const char *event);
/* Appends one event, which must be accepted; returns its offset. */
uint64_t rf_append_ok (rf_fixture_t *f, uint64_t batch_id, const char *event);

/* One control request (route and offset when not NULL / 0); returns the
   reply (the caller frees it). */
Hm__ControlReply *rf_control (rf_fixture_t *f, Hm__ControlRequest__Command cmd, const char *route,
                              uint64_t offset);
/* FLUSH, which must succeed. */
void rf_flush (rf_fixture_t *f);
/* The STATUS JSON, which must come (the caller frees it). */
char *rf_status (rf_fixture_t *f);
/* True if STATUS holds needle right now. */
bool rf_status_has (rf_fixture_t *f, const char *needle);
/* Asks STATUS until it holds needle; fails after RF_WAIT_MS. */
void rf_wait_status (rf_fixture_t *f, const char *needle);
/* The number after the first "key": in json; fails if there is none. */
uint64_t rf_json_number (const char *json, const char *key);

/* Sends a sink message on sock: READY (credit 2), HEARTBEAT, or ACK/NACK
   of first..last. */
void rf_sink_send (void *sock, Hm__SinkMessage__Kind kind, uint64_t first, uint64_t last);
/* The next Delivery on sock, answering heartbeats (so the sink stays
   alive) (the caller frees it). */
Hm__Delivery *rf_sink_deliver (void *sock);

#endif
