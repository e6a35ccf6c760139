/*  test_status_view: hamustro-ctl's status table (tools/status_view.c)
    from a known status JSON, exactly: one-shot (rate "-"), with a previous
    sample (rate from two samples), a route without instances, the log's
    problems and non-zero counters; and a JSON that is not a status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "status_view.h"

/* Two routes: archive with an instance and lag, events without instances. */
static const char *s_status =
    "{\"version\":\"0.1.0\",\"uptime_s\":42,\"durability\":\"fsync\","
    "\"log\":{\"first_seq\":1,\"next_seq\":11,\"durable_seq\":10,\"bytes\":3072,"
    "\"max_bytes\":1073741824,\"segments\":1,\"full\":false,\"pending_replies\":0,"
    "\"failed\":false,\"failures\":0,\"refused\":0,\"recover_errors\":0,\"damaged\":2,"
    "\"damaged_records\":0},"
    "\"counters\":{\"appended\":10,\"events\":25,\"injected\":0,\"full\":0,\"errors\":0,"
    "\"malformed\":1,\"rounds\":9,\"fsyncs\":9},"
    "\"routes\":[{\"name\":\"archive\",\"sink\":\"file\",\"committed\":6,\"lag\":4,"
    "\"sealed\":1,\"inflight\":1,\"nacks\":0,\"requeued\":3,\"redelivered\":1,"
    "\"instances\":[{\"id\":\"ab12\",\"credit\":2,\"inflight\":1,\"delivered\":5,"
    "\"silent_ms\":120}]},"
    "{\"name\":\"events\",\"sink\":\"s3\",\"committed\":10,\"lag\":0,\"sealed\":0,"
    "\"inflight\":0,\"oldest_age_s\":0,\"instances\":[]}]}";

static const char *s_table_head =
    "hamustro-router 0.1.0, up 42 s, durability fsync\n"
    "log: 3.0 KiB of 1.0 GiB (0.0%), 1 segments, records 1..10, durable to 10, 0 appends "
    "waiting\n"
    "\n"
    "ROUTE   SINK    COMMITTED      LAG  OLDEST    RATE/s SEALED INFLIGHT INSTANCES\n";

static const char *s_table_tail =
    "\n"
    "INSTANCES\n"
    "  archive ab12: busy, 1 in flight, credit 2, 5 delivered, last heard 120 ms ago\n"
    "\n"
    "counters: appended 10, events 25, malformed 1, rounds 9, fsyncs 9\n"
    "log problems: damaged 2\n"
    "route archive: requeued 3, redelivered 1\n";

static void
test_one_shot (void **state)
{
    (void)state;
    hm_buf_t out;
    hm_buf_init (&out, 0);
    assert_int_equal (hm_status_view_render (s_status, NULL, 0, 0, &out), 0);
    hm_buf_t want;
    hm_buf_init (&want, 0);
    hm_buf_printf (&want, "%s%s%s%s", s_table_head,
                   "archive file            6        4       -         -      1        1 1 (1 "
                   "busy)\n",
                   "events  s3             10        0      0s         -      0        0 0 (none "
                   "connected)\n",
                   s_table_tail);
    assert_string_equal (out.data, want.data);
    hm_buf_free (&want);
    hm_buf_free (&out);
}

static void
test_rate_from_two_samples (void **state)
{
    (void)state;
    /* Two seconds before: archive had committed 2 (4 since: 2.0/s), events 10. */
    char prev[4096];
    const char *at = strstr (s_status, "\"committed\":6");
    assert_non_null (at);
    snprintf (prev, sizeof prev, "%.*s\"committed\":2%s", (int)(at - s_status), s_status,
              at + strlen ("\"committed\":6"));
    hm_buf_t out;
    hm_buf_init (&out, 0);
    assert_int_equal (hm_status_view_render (s_status, prev, 2.0, 0, &out), 0);
    assert_non_null (
        strstr (out.data, "archive file            6        4       -       2.0      1"));
    assert_non_null (
        strstr (out.data, "events  s3             10        0      0s       0.0      0"));
    hm_buf_free (&out);
}

/* The ingests reporting to the router: a line each, the non-zero codes. */
static void
test_ingests (void **state)
{
    (void)state;
    char status[4096];
    const char *at = strstr (s_status, "\"counters\":");
    assert_non_null (at);
    snprintf (status, sizeof status,
              "%.*s\"ingests\":[{\"name\":\"web-1:8080\",\"requests\":12,"
              "\"accepted_requests\":10,\"accepted_events\":30,\"connections\":3,"
              "\"reported_ms_ago\":400,\"answers\":{\"200\":10,\"204\":0,\"503\":2,"
              "\"other\":0}}],%s",
              (int)(at - s_status), s_status, at);
    hm_buf_t out;
    hm_buf_init (&out, 0);
    assert_int_equal (hm_status_view_render (status, NULL, 0, 0, &out), 0);
    const char *want = "\nINGESTS\n  web-1:8080: 12 requests (200: 10, 503: 2), 30 events "
                       "accepted, 3 connections, reported 400 ms ago\n\ncounters:";
    if (!strstr (out.data, want))
        fail_msg ("no \"%s\" in:\n%s", want, out.data);
    hm_buf_free (&out);
}

/* s_status with "recent_errors":[entries] before its counters, into out. */
static void
s_with_errors (hm_buf_t *out, const char *entries)
{
    const char *at = strstr (s_status, "\"counters\":");
    assert_non_null (at);
    hm_buf_printf (out, "%.*s\"recent_errors\":[%s],%s", (int)(at - s_status), s_status, entries,
                   at);
}

/* Recent errors: newest first as the router lists them, age, program and
   instance, repeats; a peer's control bytes (C0, DEL, C1) and bytes that
   are not UTF-8 shown as \xNN, never sent to the terminal; at most 10
   lines; messages cut to the width, or 160 bytes without one. */
static void
test_recent_errors (void **state)
{
    (void)state;
    hm_buf_t entries, status, out;
    hm_buf_init (&entries, 0);
    hm_buf_init (&status, 0);
    hm_buf_init (&out, 0);
    hm_buf_puts (&entries, "{\"time\":\"2026-12-07T06:40:44Z\",\"age_s\":12,\"level\":\"warn\","
                           "\"program\":\"file-sink\",\"sink_instance\":\"archive:0\","
                           "\"message\":\"open x: Not a directory\\u001b[2J\\u0007\\u009b\\u007f"
                           "\\ufffd\u00e9\",\"repeats\":3},"
                           "{\"time\":\"2026-12-07T06:38:00Z\",\"age_s\":180,\"level\":\"error\","
                           "\"program\":\"ingest\",\"ingest_instance\":\"web-1:8080\","
                           "\"message\":\"line\\nbreak\",\"repeats\":1},"
                           "{\"time\":\"2026-12-07T05:00:00Z\",\"age_s\":7200,\"level\":\"warn\","
                           "\"program\":\"router\",\"message\":\"");
    for (int i = 0; i < 30; i++)
        hm_buf_puts (&entries, "0123456789");
    hm_buf_puts (&entries, "\",\"repeats\":1}");
    for (int i = 0; i < 9; i++)
        hm_buf_printf (&entries,
                       ",{\"age_s\":%d,\"level\":\"warn\",\"program\":\"router\","
                       "\"message\":\"old %d\"}",
                       200000 + i, i);
    s_with_errors (&status, entries.data);
    assert_int_equal (hm_status_view_render (status.data, NULL, 0, 0, &out), 0);
    char long_msg[200];
    snprintf (long_msg, sizeof long_msg, "%.*s...", 157,
              "0123456789012345678901234567890123456789012345678901234567890123456789"
              "0123456789012345678901234567890123456789012345678901234567890123456789"
              "0123456789012345678901234567890123456789");
    char want[1024];
    snprintf (want, sizeof want,
              "\nRECENT ERRORS (newest first)\n"
              "   12s ago  file-sink archive:0 warn: open x: Not a directory"
              "\\x1b[2J\\x07\\xc2\\x9b\\x7f\xef\xbf\xbd\xc3\xa9 (x3)\n"
              "    3m ago  ingest web-1:8080 error: line\\x0abreak\n"
              "    2h ago  router warn: %s\n"
              "    2d ago  router warn: old 0\n",
              long_msg);
    if (!strstr (out.data, want))
        fail_msg ("no \"%s\" in:\n%s", want, out.data);
    /* Ten lines, then how many more. */
    if (!strstr (out.data, "    2d ago  router warn: old 6\n  ... 2 more (--json has them all)\n"))
        fail_msg ("no limit in:\n%s", out.data);
    assert_null (strstr (out.data, "old 7"));
    for (const char *p = out.data; *p; p++)
        assert_true ((unsigned char)*p >= 0x20 || *p == '\n');

    /* 60 columns: each line fits them. */
    hm_buf_reset (&out);
    assert_int_equal (hm_status_view_render (status.data, NULL, 0, 60, &out), 0);
    const char *sec = strstr (out.data, "RECENT ERRORS");
    assert_non_null (sec);
    assert_non_null (
        strstr (sec, "    2h ago  router warn: 01234567890123456789012345678901...\n"));
    hm_buf_free (&entries);
    hm_buf_free (&status);
    hm_buf_free (&out);
}

static void
test_not_a_status (void **state)
{
    (void)state;
    const char *bad[] = {"", "not json", "[]", "{\"log\":{}}", "{\"routes\":[]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hm_buf_t out;
        hm_buf_init (&out, 0);
        assert_int_equal (hm_status_view_render (bad[i], NULL, 0, 0, &out), -1);
        assert_string_equal (out.data, "the router's answer is not a status JSON object\n");
        hm_buf_free (&out);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_one_shot),     cmocka_unit_test (test_rate_from_two_samples),
        cmocka_unit_test (test_ingests),      cmocka_unit_test (test_recent_errors),
        cmocka_unit_test (test_not_a_status),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
