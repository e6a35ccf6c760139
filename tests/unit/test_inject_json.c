/*  test_inject_json: the inject socket's single-frame JSON messages
    (router/inject_json.h) turned into the AppendRequest the log stores. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hm_test_bytes.h"
#include "inject_json.h"
#include "pipeline.pb-c.h"
#include "scan.h"

#define FLAT                                                                                       \
    "{\"device_id\":\"dev\",\"client_id\":\"cli\",\"session\":\"s\",\"nr\":7,"                     \
    "\"env\":\"BETA\",\"system_version\":\"1.0\",\"product_version\":\"2.0\","                     \
    "\"at\":1454514088,\"event\":\"a\\u0000b\",\"parameters\":{\"k\":\"v\"}}"

/* Parses text; on success the decoded request (the message's bytes must
   also pass the router's own record check). */
static Hm__AppendRequest *
s_parse (const char *text, size_t len, char *err, size_t errlen)
{
    zmq_msg_t msg;
    size_t n = 0;
    if (inject_json_request (text, len, &msg, &n, err, errlen) != 0)
        return NULL;
    assert_int_equal (scan_record_ok (zmq_msg_data (&msg), zmq_msg_size (&msg)), 0);
    Hm__AppendRequest *req =
        hm__append_request__unpack (NULL, zmq_msg_size (&msg), zmq_msg_data (&msg));
    zmq_msg_close (&msg);
    assert_non_null (req);
    assert_int_equal (req->n_events, n);
    return req;
}

static void
test_flat_event_keeps_nul (void **state)
{
    (void)state;
    char err[256] = "";
    Hm__AppendRequest *req = s_parse (FLAT, strlen (FLAT), err, sizeof err);
    assert_non_null (req);
    assert_int_equal (req->n_events, 1);
    assert_int_equal (req->batch_id, 0);
    assert_bytes_equal_n (req->events[0]->event, "a\0b", 3);
    assert_bytes_equal (req->events[0]->device_id, "dev");
    assert_int_equal (req->events[0]->nr, 7);
    hm__append_request__free_unpacked (req, NULL);
}

static void
test_collection (void **state)
{
    (void)state;
    const char *c = "{\"device_id\":\"dev\",\"client_id\":\"cli\",\"session\":\"s\","
                    "\"system_version\":\"1\",\"product_version\":\"2\",\"env\":\"BETA\","
                    "\"payloads\":[{\"at\":\"1454514088\",\"event\":\"E1\",\"nr\":1},"
                    "{\"at\":1454514089,\"event\":\"E\\u0000\",\"nr\":2}]}";
    char err[256] = "";
    Hm__AppendRequest *req = s_parse (c, strlen (c), err, sizeof err);
    assert_non_null (req);
    assert_int_equal (req->n_events, 2);
    assert_bytes_equal (req->events[0]->event, "E1");
    assert_bytes_equal_n (req->events[1]->event, "E\0", 2);
    assert_int_equal (req->events[1]->nr, 2);
    hm__append_request__free_unpacked (req, NULL);
}

static void
test_refused (void **state)
{
    (void)state;
    const char *bad[][2] = {
        {"", "not valid JSON"},
        {"not json", "not valid JSON"},
        {"[1,2]", "not a JSON object"},
        {"{\"device_id\":\"x\"}", ""}, /* required fields missing */
        {"{\"device_id\":\"dev\",\"client_id\":\"cli\",\"session\":\"s\",\"system_version\":\"1\","
         "\"product_version\":\"2\",\"env\":\"BETA\",\"payloads\":[]}",
         "without payloads"},
        {"{\"payloads\":[{\"nr\":1}]}", ""},
        {FLAT "x", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[256] = "";
        zmq_msg_t msg;
        size_t n = 99;
        assert_int_equal (
            inject_json_request (bad[i][0], strlen (bad[i][0]), &msg, &n, err, sizeof err), -1);
        assert_int_equal (n, 99);
        assert_true (err[0]);
        if (bad[i][1][0] && !strstr (err, bad[i][1]))
            fail_msg ("case %zu: \"%s\" has no \"%s\"", i, err, bad[i][1]);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_flat_event_keeps_nul),
        cmocka_unit_test (test_collection),
        cmocka_unit_test (test_refused),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
