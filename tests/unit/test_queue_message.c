/*  test_queue_message: the Azure Queue sink's messages: the Put Message
    body with base64 and with XML-escaped text, the 64 KiB limit on the
    text exactly at the limit and one over (through the backend itself,
    against a port where nothing listens: an event at the limit is sent
    and so fails as RETRY, one over is dead-lettered without a request),
    and the section's errors at init. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "digest.h"
#include "encode.h"
#include "hm_test_bytes.h"
#include "queue_backend.h"

#define DEV_KEY                                                                                    \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

static void
test_base64_body (void **state)
{
    (void)state;
    hm_buf_t out;
    hm_buf_init (&out, 0);
    const char *line = "{\"a\":1}";
    assert_int_equal (hm_queue_message_body (&out, line, strlen (line), HM_QUEUE_BASE64), 0);
    assert_string_equal (out.data,
                         "<QueueMessage><MessageText>eyJhIjoxfQ==</MessageText></QueueMessage>");
    assert_int_equal (hm_queue_text_size (line, strlen (line), HM_QUEUE_BASE64), 12);
    hm_buf_free (&out);
}

static void
test_xml_body (void **state)
{
    (void)state;
    hm_buf_t out;
    hm_buf_init (&out, 0);
    const char *line = "{\"e\":\"a<b>&c\r\",\"q\":\"'\\\"\"}";
    assert_int_equal (hm_queue_message_body (&out, line, strlen (line), HM_QUEUE_XML), 0);
    assert_string_equal (out.data, "<QueueMessage><MessageText>"
                                   "{\"e\":\"a&lt;b&gt;&amp;c&#13;\",\"q\":\"'\\\"\"}"
                                   "</MessageText></QueueMessage>");
    /* The size counts the escapes, as the text is sent. */
    size_t text =
        out.len - strlen ("<QueueMessage><MessageText>") - strlen ("</MessageText></QueueMessage>");
    assert_int_equal (hm_queue_text_size (line, strlen (line), HM_QUEUE_XML), text);
    hm_buf_reset (&out);
    assert_int_equal (hm_queue_xml_escape (&out, "plain", 5), 0);
    assert_string_equal (out.data, "plain");
    hm_buf_free (&out);
}

static void
test_text_size_boundary (void **state)
{
    (void)state;
    /* 49,152 bytes of line are exactly 65,536 of base64; one more is 65,540. */
    assert_int_equal (hm_queue_text_size ("", 49152, HM_QUEUE_BASE64), HM_QUEUE_MAX_TEXT);
    assert_int_equal (hm_queue_text_size ("", 49153, HM_QUEUE_BASE64), HM_QUEUE_MAX_TEXT + 4);
    char *line = malloc (HM_QUEUE_MAX_TEXT + 1);
    memset (line, 'x', HM_QUEUE_MAX_TEXT + 1);
    assert_int_equal (hm_queue_text_size (line, HM_QUEUE_MAX_TEXT, HM_QUEUE_XML),
                      HM_QUEUE_MAX_TEXT);
    line[0] = '&';
    assert_int_equal (hm_queue_text_size (line, HM_QUEUE_MAX_TEXT, HM_QUEUE_XML),
                      HM_QUEUE_MAX_TEXT + 4);
    free (line);
}

/* --- through the backend -------------------------------------------------- */

typedef struct {
    hm_config_t cfg;
    hm_route_config_t route;
    Hm__Event event;
    Hm__Event *ptrs[1];
    Hm__Delivery delivery;
    hm_batch_t batch;
    char *pad;
} s_fixture_t;

/* An event whose JSON line is exactly line_len bytes (padding a parameter). */
static void
s_event_of (s_fixture_t *f, size_t line_len)
{
    Hm__Event *e = &f->event;
    hm__event__init (e);
    HM_SET_STR (e, device_id, "device-a");
    HM_SET_STR (e, client_id, "client-a");
    HM_SET_STR (e, session, "5f4dcc3b5aa765d61d8327deb882cf99");
    e->has_nr = 1;
    e->nr = 7;
    e->has_env = 1;
    e->env = 11;
    HM_SET_STR (e, system_version, "14.1");
    HM_SET_STR (e, product_version, "3.2.1");
    e->has_at = 1;
    e->at = 1700000000u;
    HM_SET_STR (e, timezone, "+01:00");
    HM_SET_STR (e, event, "big");
    e->parameters = "{\"p\":\"\"}";
    hm_buf_t b;
    hm_buf_init (&b, 0);
    assert_int_equal (hm_encode_json (&b, e), 0);
    size_t base = b.len - 1; /* without the newline */
    hm_buf_free (&b);
    assert_true (line_len > base);
    size_t n = line_len - base;
    free (f->pad);
    f->pad = malloc (n + 16);
    memcpy (f->pad, "{\"p\":\"", 6);
    memset (f->pad + 6, 'x', n);
    memcpy (f->pad + 6 + n, "\"}", 3);
    e->parameters = f->pad;
    hm_buf_init (&b, 0);
    assert_int_equal (hm_encode_json (&b, e), 0);
    assert_int_equal (b.len - 1, line_len);
    hm_buf_free (&b);
}

static int
s_setup (void **state)
{
    s_fixture_t *f = calloc (1, sizeof *f);
    f->cfg.path = "test.json";
    f->route.name = "q";
    f->route.sink = "aqs";
    /* Port 1 on loopback: nothing listens, every request fails at once. */
    f->route.section_json = "{\"account\":\"devstoreaccount1\",\"access_key\":\"" DEV_KEY
                            "\",\"queue_name\":\"events\","
                            "\"endpoint\":\"http://127.0.0.1:1/devstoreaccount1\"}";
    f->ptrs[0] = &f->event;
    hm__delivery__init (&f->delivery);
    f->delivery.route = "q";
    f->delivery.first_offset = 5;
    f->delivery.last_offset = 5;
    f->delivery.seal_time = 1700000100u;
    f->delivery.n_events = 1;
    f->delivery.events = f->ptrs;
    hm_batch_of_delivery (&f->batch, &f->delivery);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *f = *state;
    free (f->pad);
    free (f);
    return 0;
}

static hm_sink_status_t
s_deliver_one (s_fixture_t *f, size_t line_len, hm_sink_result_t *r)
{
    char err[512];
    void *q = hm_queue_backend.init (&f->cfg, &f->route, err, sizeof err);
    assert_non_null (q);
    s_event_of (f, line_len);
    hm_sink_result_init (r);
    hm_sink_status_t status = hm_queue_backend.deliver (q, &f->batch, r);
    hm_queue_backend.destroy (&q);
    assert_null (q);
    return status;
}

static void
test_limit_exactly (void **state)
{
    s_fixture_t *f = *state;
    hm_sink_result_t r;
    /* At the limit: a request is made (and fails: nothing listens). */
    assert_int_equal (s_deliver_one (f, 49152, &r), HM_SINK_RETRY);
    assert_int_equal (r.dead_count, 0);
    assert_non_null (strstr (r.reason, "Put Message"));
    hm_sink_result_free (&r);
}

static void
test_limit_one_over (void **state)
{
    s_fixture_t *f = *state;
    hm_sink_result_t r;
    /* One byte more of line: dead-lettered with its reason, no request, OK. */
    assert_int_equal (s_deliver_one (f, 49153, &r), HM_SINK_OK);
    assert_int_equal (r.dead_count, 1);
    assert_int_equal (r.dead[0].index, 0);
    assert_non_null (strstr (r.dead[0].reason, "65540 bytes"));
    assert_non_null (strstr (r.dead[0].reason, "65536"));
    hm_sink_result_free (&r);
}

static void
test_init_errors (void **state)
{
    s_fixture_t *f = *state;
    char err[512];
    static const struct {
        const char *section;
        const char *want;
    } cases[] = {
        {"{\"account\":\"a\",\"access_key\":\"a2V5\"}",
         "test.json: routes.q.aqs.queue_name: missing"},
        {"{\"account\":\"a\",\"access_key\":\"a2V5\",\"queue_name\":\"Bad\"}",
         "routes.q.aqs.queue_name: \"Bad\" is not a queue name"},
        {"{\"account\":\"a\",\"access_key\":\"a2V5\",\"queue_name\":\"abc\",\"encoding\":\"hex\"}",
         "routes.q.aqs.encoding: must be \"base64\" or \"xml\""},
        {"{\"account\":\"a\",\"access_key\":7,\"queue_name\":\"abc\"}",
         "routes.q.aqs.access_key: must be a string"},
        {"{\"account\":\"a\",\"access_key\":\"!!\",\"queue_name\":\"abc\"}",
         "routes.q.aqs.access_key: not a base64 account key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        f->route.section_json = (char *)cases[i].section;
        err[0] = '\0';
        void *q = hm_queue_backend.init (&f->cfg, &f->route, err, sizeof err);
        assert_null (q);
        if (!strstr (err, cases[i].want))
            fail_msg ("case %zu: \"%s\" does not contain \"%s\"", i, err, cases[i].want);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_base64_body),
        cmocka_unit_test (test_xml_body),
        cmocka_unit_test (test_text_size_boundary),
        cmocka_unit_test_setup_teardown (test_limit_exactly, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_limit_one_over, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_init_errors, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
