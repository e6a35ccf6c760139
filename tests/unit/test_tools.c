/*  test_tools: the modules behind hamustro-push (a line of input to events;
    whole messages from the router, as hamustro-tap reads them too)
    and hamustro-send (random valid collections, the latency histogram). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collection_json.h"
#include "hm_test_bytes.h"
#include "payload.pb-c.h"
#include "push_parse.h"
#include "send_gen.h"
#include "send_stats.h"
#include "signature.h"
#include "tool_recv.h"

static void
s_free_events (Hm__Event **events, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hm__event__free_unpacked (events[i], NULL);
    free (events);
}

static void
test_push_flat_event (void **state)
{
    (void)state;
    char session[33];
    hm_session ("dev", "cli", "1.0", "2.0", 4, session);
    char line[1024];
    snprintf (line, sizeof line,
              "{\"device_id\":\"dev\",\"client_id\":\"cli\",\"session\":\"%s\",\"nr\":7,"
              "\"env\":\"BETA\",\"system_version\":\"1.0\",\"product_version\":\"2.0\","
              "\"at\":\"2016-02-03 15:41:28\",\"event\":\"Client.Open\",\"country\":\"HU\","
              "\"parameters\":{\"b\":\"2\",\"a\":\"1\"}}",
              session);
    Hm__Event **events = NULL;
    size_t n = 0;
    char err[256] = "";
    if (push_parse_line (line, strlen (line), &events, &n, err, sizeof err) != 0)
        fail_msg ("%s", err);
    assert_int_equal (n, 1);
    assert_bytes_equal (events[0]->device_id, "dev");
    assert_bytes_equal (events[0]->session, session);
    assert_int_equal (events[0]->nr, 7);
    assert_int_equal (events[0]->env, 4);
    assert_int_equal (events[0]->at, 1454514088);
    assert_bytes_equal (events[0]->event, "Client.Open");
    assert_bytes_equal (events[0]->country, "HU");
    assert_string_equal (events[0]->parameters, "{\"a\":\"1\",\"b\":\"2\"}");
    s_free_events (events, n);
}

/* Issue 19: a line as the file sink writes it, with NUL bytes in its
   strings (\\u0000), comes back as events whose strings are whole; so do
   the parameters, in each of their three forms. */
static void
test_push_nul_whole (void **state)
{
    (void)state;
    const char *line =
        "{\"device_id\":\"ctl\\u0000\\u0001\\u001f\\u007f\",\"client_id\":\"c\",\"session\":\"s\","
        "\"nr\":7,\"env\":\"BETA\",\"system_version\":\"1\",\"product_version\":\"2\","
        "\"at\":\"2016-02-03 "
        "15:41:28\",\"timezone\":\"\",\"event\":\"ctl\\u0000\\u0001\\u001f\x7f\","
        "\"user_id\":\"u\\u0000\",\"parameters\":\"{\\\"ctl\\\\u0000\\\":\\\"v\\\\u0000w\\\","
        "\\\"z\\\":\\\"1\\\"}\"}";
    Hm__Event **events = NULL;
    size_t n = 0;
    char err[256] = "";
    if (push_parse_line (line, strlen (line), &events, &n, err, sizeof err) != 0)
        fail_msg ("%s", err);
    assert_int_equal (n, 1);
    assert_bytes_equal_n (events[0]->device_id, "ctl\0\1\x1f\x7f", 7);
    assert_bytes_equal_n (events[0]->event, "ctl\0\1\x1f\x7f", 7);
    assert_bytes_equal_n (events[0]->user_id, "u\0", 2);
    assert_string_equal (events[0]->parameters, "{\"ctl\\u0000\":\"v\\u0000w\",\"z\":\"1\"}");
    s_free_events (events, n);

    /* parameters as an object and as the Collection's list */
    const char *forms[] = {
        "{\"device_id\":\"d\",\"client_id\":\"c\",\"session\":\"s\",\"nr\":1,\"env\":1,"
        "\"system_version\":\"1\",\"product_version\":\"2\",\"at\":1,\"event\":\"e\","
        "\"parameters\":{\"n\\u0000\":\"v\\u0000\",\"o\":[\"x\"]}}",
        "{\"device_id\":\"d\",\"client_id\":\"c\",\"session\":\"s\",\"nr\":1,\"env\":1,"
        "\"system_version\":\"1\",\"product_version\":\"2\",\"at\":1,\"event\":\"e\","
        "\"parameters\":[{\"name\":\"n\\u0000\",\"value\":\"v\\u0000\"},{\"name\":\"o\",\"value\":"
        "\"[\\\"x\\\"]\"}]}",
    };
    for (size_t i = 0; i < 2; i++) {
        if (push_parse_line (forms[i], strlen (forms[i]), &events, &n, err, sizeof err) != 0)
            fail_msg ("form %zu: %s", i, err);
        assert_int_equal (n, 1);
        assert_string_equal (events[0]->parameters,
                             "{\"n\\u0000\":\"v\\u0000\",\"o\":\"[\\\"x\\\"]\"}");
        s_free_events (events, n);
    }

    /* A field name holding a NUL is no field (not "device_id"). */
    const char *bad = "{\"device_id\\u0000x\":\"d\",\"event\":\"e\"}";
    events = NULL;
    assert_int_equal (push_parse_line (bad, strlen (bad), &events, &n, err, sizeof err), -1);
    assert_non_null (strstr (err, "NUL"));
}

static void
test_push_collection_and_errors (void **state)
{
    (void)state;
    const char *line =
        "{\"deviceId\":\"d\",\"clientId\":\"c\",\"session\":\"s\",\"systemVersion\":\"1\","
        "\"productVersion\":\"2\",\"env\":11,\"payloads\":[{\"at\":\"1\",\"event\":\"x\",\"nr\":1},"
        "{\"at\":2,\"event\":\"y\",\"nr\":2}]}";
    Hm__Event **events = NULL;
    size_t n = 0;
    char err[256] = "";
    if (push_parse_line (line, strlen (line), &events, &n, err, sizeof err) != 0)
        fail_msg ("%s", err);
    assert_int_equal (n, 2);
    assert_bytes_equal (events[1]->event, "y");
    assert_int_equal (events[1]->at, 2);
    s_free_events (events, n);

    const char *bad[][2] = {
        {"{not json", ""},
        {"{\"device_id\":\"d\",\"client_id\":\"c\",\"session\":\"s\",\"system_version\":\"1\","
         "\"product_version\":\"2\",\"env\":1,\"at\":1,\"event\":\"e\"}",
         "nr"},
        {"{\"device_id\":\"d\",\"client_id\":\"c\",\"session\":\"s\",\"system_version\":\"1\","
         "\"product_version\":\"2\",\"env\":1,\"at\":\"yesterday\",\"event\":\"e\",\"nr\":1}",
         "at"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        events = NULL;
        err[0] = '\0';
        assert_int_equal (
            push_parse_line (bad[i][0], strlen (bad[i][0]), &events, &n, err, sizeof err), -1);
        assert_true (err[0] != '\0');
        if (!strstr (err, bad[i][1]))
            fail_msg ("error \"%s\" does not mention \"%s\"", err, bad[i][1]);
    }
}

/* Every generated body is a valid collection: it decodes, its session is
   right, its payload count is in range and its nr values follow on. */
static void
s_check_generated (send_format_t format)
{
    send_gen_t *gen = send_gen_new (42, format, 2, 5, 3);
    assert_non_null (gen);
    send_body_t body;
    memset (&body, 0, sizeof body);
    hm_buf_init (&body.body, 0);
    for (int i = 0; i < 50; i++) {
        assert_int_equal (send_gen_next (gen, &body), 0);
        assert_true (body.events >= 2 && body.events <= 5);
        Collection *c = NULL;
        char err[256] = "";
        if (format == SEND_FORMAT_PROTOBUF)
            c = collection__unpack (NULL, body.body.len, (const uint8_t *)body.body.data);
        else
            c = hm_collection_from_json (body.body.data, body.body.len, err, sizeof err);
        if (!c)
            fail_msg ("body %d does not decode: %s", i, err);
        assert_int_equal (hm_collection_check (c, err, sizeof err), 0);
        char session[33];
        const char *parts[4] = {(char *)c->device_id.data, (char *)c->client_id.data,
                                (char *)c->system_version.data, (char *)c->product_version.data};
        size_t lens[4] = {c->device_id.len, c->client_id.len, c->system_version.len,
                          c->product_version.len};
        hm_session_n (parts, lens, c->env, session);
        assert_bytes_equal (c->session, session);
        assert_string_equal (body.session, session);
        assert_int_equal (c->n_payloads, body.events);
        for (size_t k = 0; k < c->n_payloads; k++)
            assert_int_equal (c->payloads[k]->nr, body.first_nr + k);
        if (format == SEND_FORMAT_PROTOBUF)
            collection__free_unpacked (c, NULL);
        else
            hm_collection_json_free (c);
    }
    hm_buf_free (&body.body);
    send_gen_destroy (&gen);
    assert_null (gen);
}

static void
test_send_gen_protobuf (void **state)
{
    (void)state;
    s_check_generated (SEND_FORMAT_PROTOBUF);
}

static void
test_send_gen_json (void **state)
{
    (void)state;
    s_check_generated (SEND_FORMAT_JSON);
}

static void
test_send_gen_bad_arguments (void **state)
{
    (void)state;
    assert_null (send_gen_new (1, SEND_FORMAT_PROTOBUF, 5, 2, 1)); /* min > max */
    assert_null (send_gen_new (1, SEND_FORMAT_PROTOBUF, 1, SEND_GEN_MAX_PAYLOADS + 1, 1));
}

static void
test_histogram_quantiles (void **state)
{
    (void)state;
    send_hist_t *h = calloc (1, sizeof *h);
    assert_int_equal (send_hist_quantile (h, 0.5), 0);
    for (uint64_t v = 1; v <= 10000; v++)
        send_hist_add (h, v);
    uint64_t p50 = send_hist_quantile (h, 0.5), p99 = send_hist_quantile (h, 0.99);
    /* Within the histogram's ~6% resolution of the true values. */
    assert_true (p50 >= 4700 && p50 <= 5300);
    assert_true (p99 >= 9300 && p99 <= 10000);
    uint64_t p100 = send_hist_quantile (h, 1.0);
    assert_true (p100 >= 9400 && p100 <= 10000); /* a bucket's midpoint, never past the max */
    assert_int_equal (h->max, 10000);
    assert_int_equal (h->total, 10000);
    free (h);
}

/* push and tap read whole messages: extra frames are read and dropped,
   so the next receive starts at the next message. */
static void
test_recv_whole_messages (void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new ();
    void *a = zmq_socket (ctx, ZMQ_PAIR), *b = zmq_socket (ctx, ZMQ_PAIR);
    assert_int_equal (zmq_bind (a, "inproc://tool-recv"), 0);
    assert_int_equal (zmq_connect (b, "inproc://tool-recv"), 0);
    zmq_msg_t parts[2];
    /* Nothing waiting: -1 at once with ZMQ_DONTWAIT. */
    assert_int_equal (hm_tool_recv (b, parts, 2, ZMQ_DONTWAIT, NULL), -1);
    assert_int_equal (zmq_errno (), EAGAIN);
    zmq_send (a, "HM/TAP/1", 8, ZMQ_SNDMORE);
    zmq_send (a, "one", 3, ZMQ_SNDMORE);
    zmq_send (a, "two", 3, ZMQ_SNDMORE);
    zmq_send (a, "three", 5, 0);
    zmq_send (a, "HM/TAP/", 7, 0);
    assert_int_equal (hm_tool_recv (b, parts, 2, 0, NULL), 4);
    assert_true (hm_tool_frame_is (&parts[0], "HM/TAP/1"));
    assert_false (hm_tool_frame_is (&parts[0], "HM/TAP/"));
    assert_int_equal (zmq_msg_size (&parts[1]), 3);
    assert_memory_equal (zmq_msg_data (&parts[1]), "one", 3);
    zmq_msg_close (&parts[0]);
    zmq_msg_close (&parts[1]);
    /* The next message, not "two" or "three". */
    assert_int_equal (hm_tool_recv (b, parts, 2, ZMQ_DONTWAIT, NULL), 1);
    assert_false (hm_tool_frame_is (&parts[0], "HM/TAP/1"));
    assert_true (hm_tool_frame_is (&parts[0], "HM/TAP/"));
    zmq_msg_close (&parts[0]);
    zmq_close (a);
    zmq_close (b);
    zmq_ctx_term (ctx);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_push_flat_event),
        cmocka_unit_test (test_push_collection_and_errors),
        cmocka_unit_test (test_push_nul_whole),
        cmocka_unit_test (test_send_gen_protobuf),
        cmocka_unit_test (test_send_gen_json),
        cmocka_unit_test (test_send_gen_bad_arguments),
        cmocka_unit_test (test_histogram_quantiles),
        cmocka_unit_test (test_recv_whole_messages),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
