/*  test_status_errors: the recent_errors of the router's STATUS
    (router/status_errors.c, common/log_lines.c) with a real router in a
    thread and the test as a rogue sink instance and ingest: whatever text
    they send, the status stays valid JSON, holds at most two lines per
    instance, each cut to 240 bytes, labelled by sink_instance or
    ingest_instance, newest first; a report without lines clears them;
    the router's own warnings are there as program "router". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "hm_log.h"
#include "router_fixture.h"
#include "wire.h"

static int
s_setup (void **state)
{
    return rf_setup (state, "status-errors");
}

static int
s_teardown (void **state)
{
    return rf_teardown (state);
}

static Hm__LogLine
s_line (const char *text, size_t len, uint64_t age_ms, bool error, uint32_t repeats)
{
    Hm__LogLine l = HM__LOG_LINE__INIT;
    l.has_message = true;
    l.message.data = (uint8_t *)text;
    l.message.len = len;
    l.has_age_ms = true;
    l.age_ms = age_ms;
    l.has_error = error;
    l.error = error;
    l.has_repeats = repeats > 0;
    l.repeats = repeats;
    return l;
}

/* A sink message of kind with SinkStats of instance 7 and n lines. */
static void
s_sink_report (void *sock, Hm__SinkMessage__Kind kind, Hm__LogLine **lines, size_t n)
{
    Hm__SinkStats st = HM__SINK_STATS__INIT;
    st.has_instance = true;
    st.instance = 7;
    st.n_recent_errors = n;
    st.recent_errors = lines;
    Hm__SinkMessage m = HM__SINK_MESSAGE__INIT;
    m.kind = kind;
    if (kind == HM__SINK_MESSAGE__KIND__READY)
        m.has_credit = true, m.credit = 2;
    m.stats = &st;
    assert_int_equal (hm_wire_send (sock, NULL, 0, HM_WIRE_SINK, &m.base, 0), 0);
}

/* The entries of recent_errors whose key is value, in order, at most max. */
static size_t
s_entries (const cJSON *st, const char *key, const char *value, const cJSON **out, size_t max)
{
    size_t n = 0;
    const cJSON *e;
    cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive (st, "recent_errors"))
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive (e, key);
        if (cJSON_IsString (v) && strcmp (v->valuestring, value) == 0 && n < max)
            out[n++] = e;
    }
    return n;
}

static const char *
s_get (const cJSON *e, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive (e, name);
    return cJSON_IsString (v) ? v->valuestring : "";
}

static double
s_num (const cJSON *e, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive (e, name);
    return cJSON_IsNumber (v) ? v->valuedouble : -1;
}

/* The STATUS JSON, checked: no raw control byte, and it parses. */
static cJSON *
s_status (rf_fixture_t *f)
{
    char *json = rf_status (f);
    for (const char *p = json; *p; p++)
        if ((unsigned char)*p < 0x20)
            fail_msg ("raw control byte 0x%02x in the status JSON", (unsigned char)*p);
    cJSON *st = cJSON_Parse (json);
    if (!st)
        fail_msg ("status is not JSON: %s", json);
    free (json);
    return st;
}

static void
test_rogue_sink (void **state)
{
    rf_fixture_t *f = *state;
    rf_start (f);
    /* 1000 bytes: a terminal escape, bytes that are not UTF-8, quote,
       backslash, newline, then plenty. */
    char big[1000];
    memset (big, 'A', sizeof big);
    memcpy (big, "\x1b[2J\xff\xfe\"\\\n", 9);
    char nul[] = "sec\0ond";
    Hm__LogLine l[3] = {s_line (big, sizeof big, 5000, true, 3),
                        s_line (nul, 7, UINT64_MAX, false, 0), s_line ("third", 5, 0, true, 1)};
    Hm__LogLine *lp[3] = {&l[0], &l[1], &l[2]};
    /* Stats count from an instance's second message: its READY makes it. */
    rf_sink_send (f->sink, HM__SINK_MESSAGE__KIND__READY, 0, 0);
    s_sink_report (f->sink, HM__SINK_MESSAGE__KIND__HEARTBEAT, lp, 3);
    rf_wait_status (f, "\"sink_instance\":\"archive:7\"");

    cJSON *st = s_status (f);
    const cJSON *e[4];
    /* Two lines per instance at most: "third" is not read. */
    assert_int_equal (s_entries (st, "sink_instance", "archive:7", e, 4), 2);
    /* Newest first: 5 s ago, then the one whose age is beyond the epoch. */
    assert_string_equal (s_get (e[0], "program"), "file-sink");
    assert_string_equal (s_get (e[0], "level"), "error");
    assert_true (s_num (e[0], "repeats") == 3);
    assert_true (s_num (e[0], "age_s") >= 5);
    const char *m = s_get (e[0], "message");
    assert_memory_equal (m, "\x1b[2J\xef\xbf\xbd\xef\xbf\xbd\"\\\nAAA", 16);
    /* Cut at 240 bytes as sent; the two bad bytes became U+FFFD (3 each). */
    assert_int_equal (strlen (m), 240 + 4);
    assert_string_equal (m + strlen (m) - 3, HM_LOG_CUT_MARK);
    assert_string_equal (s_get (e[1], "message"), "sec");
    assert_string_equal (s_get (e[1], "level"), "warn");
    assert_string_equal (s_get (e[1], "time"), "1970-01-01T00:00:00Z");
    assert_true (s_num (e[1], "repeats") == 1);
    cJSON_Delete (st);

    /* A report without lines: none held for it any more. */
    s_sink_report (f->sink, HM__SINK_MESSAGE__KIND__HEARTBEAT, NULL, 0);
    int i = 0;
    while (rf_status_has (f, "\"sink_instance\":\"archive:7\"") && i++ < RF_WAIT_MS / 10)
        usleep (10000);
    assert_false (rf_status_has (f, "\"sink_instance\":\"archive:7\""));
    rf_stop (f);
}

static void
test_ingest_and_router (void **state)
{
    rf_fixture_t *f = *state;
    rf_start (f);
    /* The router runs in this process: this line is in its ring. */
    hm_warn ("the router's own warning");
    Hm__LogLine l = s_line ("bad \x07 bell", 10, 1000, false, 2), *lp = &l;
    Hm__IngestStats r = HM__INGEST_STATS__INIT;
    r.name = "ing1";
    r.n_recent_errors = 1;
    r.recent_errors = &lp;
    assert_int_equal (hm_wire_send (f->client, NULL, 0, HM_WIRE_INGEST, &r.base, 0), 0);
    rf_wait_status (f, "\"ingest_instance\":\"ing1\"");
    cJSON *st = s_status (f);
    const cJSON *e[4];
    assert_int_equal (s_entries (st, "ingest_instance", "ing1", e, 4), 1);
    assert_string_equal (s_get (e[0], "program"), "ingest");
    assert_string_equal (s_get (e[0], "message"), "bad \x07 bell");
    assert_true (s_num (e[0], "repeats") == 2);
    assert_int_equal (s_entries (st, "program", "router", e, 4) >= 1, 1);
    bool mine = false;
    for (size_t i = 0; i < s_entries (st, "program", "router", e, 4); i++)
        mine |= strcmp (s_get (e[i], "message"), "the router's own warning") == 0;
    assert_true (mine);
    cJSON_Delete (st);
    rf_stop (f);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_rogue_sink, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_ingest_and_router, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
