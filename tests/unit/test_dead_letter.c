/*  Dead letters: the line format of the route's dead-letter file, appending
    to it, and how one attempt of the sink runtime (hm_sink_attempt) turns a
    backend's DROP or per-event dead letters into lines, with a fake backend
    and no sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dead_letter.h"
#include "encode.h"
#include "hm_test_bytes.h"
#include "sink.h"

static void
s_event (Hm__Event *e, const char *name, uint32_t nr)
{
    hm__event__init (e);
    HM_SET_STR (e, device_id, "dev-1");
    HM_SET_STR (e, client_id, "cli-1");
    HM_SET_STR (e, session, "0123456789abcdef0123456789abcdef");
    e->has_nr = 1;
    e->nr = nr;
    e->has_env = 1;
    e->env = 0;
    HM_SET_STR (e, system_version, "10.1");
    HM_SET_STR (e, product_version, "2.0");
    e->has_at = 1;
    e->at = 1700000000;
    HM_SET_STR (e, timezone, "");
    HM_SET_STR (e, event, (char *)name);
    e->parameters = "{}";
}

static char *
s_slurp (const char *path, size_t *len)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    hm_buf_t buf;
    hm_buf_init (&buf, 0);
    char chunk[4096];
    size_t n;
    while ((n = fread (chunk, 1, sizeof chunk, f)) > 0)
        hm_buf_append (&buf, chunk, n);
    fclose (f);
    hm_buf_reserve (&buf, 0);
    if (len)
        *len = buf.len;
    return hm_buf_steal (&buf, NULL);
}

static int
s_count_lines (const char *text)
{
    int n = 0;
    for (const char *p = text; p && *p; p++)
        n += *p == '\n';
    return n;
}

static void
test_line_format (void **state)
{
    (void)state;
    Hm__Event e;
    s_event (&e, "<click>", 7);
    hm_buf_t expected_event, line;
    hm_buf_init (&expected_event, 0);
    hm_buf_init (&line, 0);
    assert_int_equal (hm_encode_json (&expected_event, &e), 0);
    assert_true (expected_event.len > 1);
    assert_int_equal (expected_event.data[expected_event.len - 1], '\n');
    expected_event.data[--expected_event.len] = '\0';

    assert_int_equal (hm_dead_letter_line (&line, "too \"big\" <256 KiB>", "sns", 3, 9, &e), 0);
    char expected[4096];
    snprintf (expected, sizeof expected,
              "{\"reason\":\"too \\\"big\\\" \\u003c256 KiB\\u003e\",\"route\":\"sns\","
              "\"first_offset\":3,\"last_offset\":9,\"event\":%s}\n",
              expected_event.data);
    assert_string_equal (line.data, expected);
    /* The event object is the JSON line itself, with its escaping. */
    assert_non_null (strstr (line.data, "\"event\":\"\\u003cclick\\u003e\""));

    /* Lines accumulate in one buffer. */
    assert_int_equal (hm_dead_letter_line (&line, "x", "sns", 10, 10, &e), 0);
    assert_int_equal (s_count_lines (line.data), 2);
    hm_buf_free (&line);
    hm_buf_free (&expected_event);
}

static void
test_line_respects_buffer_limit (void **state)
{
    (void)state;
    Hm__Event e;
    s_event (&e, "click", 1);
    hm_buf_t line;
    hm_buf_init (&line, 40);
    assert_int_equal (hm_dead_letter_line (&line, "reason", "r", 1, 1, &e), -1);
    /* A failed line leaves nothing half-written. */
    assert_int_equal (line.len, 0);
    hm_buf_free (&line);
}

static void
test_append_creates_and_appends (void **state)
{
    (void)state;
    char dir[] = "/tmp/hm_dl_XXXXXX";
    assert_non_null (mkdtemp (dir));
    char path[256];
    snprintf (path, sizeof path, "%s/dead-letter/deeper/archive.jsonl", dir);
    char errbuf[256];
    assert_int_equal (hm_dead_letter_append (path, "a\n", 2, errbuf, sizeof errbuf), 0);
    assert_int_equal (hm_dead_letter_append (path, "b\nc\n", 4, errbuf, sizeof errbuf), 0);
    char *text = s_slurp (path, NULL);
    assert_non_null (text);
    assert_string_equal (text, "a\nb\nc\n");
    free (text);

    /* A directory that cannot exist (its parent is a file): -1 with a reason. */
    char bad[256];
    snprintf (bad, sizeof bad, "%s/dead-letter/deeper/archive.jsonl/x/y.jsonl", dir);
    errbuf[0] = '\0';
    assert_int_equal (hm_dead_letter_append (bad, "a\n", 2, errbuf, sizeof errbuf), -1);
    assert_non_null (strstr (errbuf, "Not a directory"));
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal (system (cmd), 0);
}

/* A fake backend whose answer the test sets. */
typedef struct {
    hm_sink_status_t answer; /* what deliver returns */
    int dead_index;          /* >= 0: dead-letter this event and answer OK */
    int calls;               /* deliver calls */
} s_fake_t;

static hm_sink_status_t
s_fake_deliver (void *state, const hm_batch_t *batch, hm_sink_result_t *result)
{
    (void)batch;
    s_fake_t *fake = state;
    fake->calls++;
    if (fake->dead_index >= 0)
        assert_int_equal (hm_sink_dead_letter (result, (size_t)fake->dead_index,
                                               "event %d too large (%d B)", fake->dead_index,
                                               300000),
                          0);
    if (fake->answer == HM_SINK_RETRY)
        return hm_sink_retry (result, "HTTP 503");
    if (fake->answer == HM_SINK_DROP)
        return hm_sink_drop (result, "malformed batch");
    return HM_SINK_OK;
}

static const hm_sink_backend_t s_fake_backend = {"fake", NULL, s_fake_deliver, NULL};

static void
test_attempt_turns_drops_into_lines (void **state)
{
    (void)state;
    char dir[] = "/tmp/hm_dl_XXXXXX";
    assert_non_null (mkdtemp (dir));
    char path[256];
    snprintf (path, sizeof path, "%s/dl/sns.jsonl", dir);
    hm_route_config_t route;
    memset (&route, 0, sizeof route);
    route.name = "sns";
    route.sink = "fake";
    route.dead_letter = path;

    Hm__Event events[3], *ptrs[3];
    for (int i = 0; i < 3; i++) {
        s_event (&events[i], "e", (uint32_t)i + 1);
        ptrs[i] = &events[i];
    }
    Hm__Delivery d = HM__DELIVERY__INIT;
    d.route = "sns";
    d.first_offset = 41;
    d.last_offset = 43;
    d.seal_time = 1700000100;
    d.n_events = 3;
    d.events = ptrs;
    hm_batch_t batch;
    hm_batch_of_delivery (&batch, &d);

    hm_sink_result_t result;
    hm_sink_result_init (&result);
    uint32_t dead = 99;
    s_fake_t fake = {HM_SINK_RETRY, -1, 0};

    /* RETRY: nothing dead-lettered, the reason comes back. */
    assert_int_equal (hm_sink_attempt (&s_fake_backend, &fake, &route, &batch, &result, &dead),
                      HM_SINK_RETRY);
    assert_int_equal (dead, 0);
    assert_string_equal (result.reason, "HTTP 503");
    assert_int_equal (access (path, F_OK), -1);

    /* OK with one event dead-lettered: one line, with the backend's reason. */
    fake = (s_fake_t){HM_SINK_OK, 1, 0};
    assert_int_equal (hm_sink_attempt (&s_fake_backend, &fake, &route, &batch, &result, &dead),
                      HM_SINK_OK);
    assert_int_equal (dead, 1);
    char *text = s_slurp (path, NULL);
    assert_non_null (text);
    assert_int_equal (s_count_lines (text), 1);
    assert_non_null (strstr (text, "{\"reason\":\"event 1 too large (300000 B)\",\"route\":\"sns\","
                                   "\"first_offset\":41,\"last_offset\":43,\"event\":{"));
    assert_non_null (strstr (text, "\"nr\":2,"));
    free (text);

    /* DROP: every event, 3 more lines; the marked one keeps its own reason. */
    fake = (s_fake_t){HM_SINK_DROP, 0, 0};
    assert_int_equal (hm_sink_attempt (&s_fake_backend, &fake, &route, &batch, &result, &dead),
                      HM_SINK_OK);
    assert_int_equal (dead, 3);
    text = s_slurp (path, NULL);
    assert_int_equal (s_count_lines (text), 4);
    assert_non_null (strstr (text, "{\"reason\":\"event 0 too large (300000 B)\""));
    char *p = strstr (text, "{\"reason\":\"malformed batch\"");
    assert_non_null (p);
    assert_non_null (strstr (p + 1, "{\"reason\":\"malformed batch\""));
    free (text);

    /* A dead-letter file that cannot be written turns OK into RETRY. */
    char bad[300];
    snprintf (bad, sizeof bad, "%s/x/y.jsonl", path);
    route.dead_letter = bad;
    fake = (s_fake_t){HM_SINK_DROP, -1, 0};
    assert_int_equal (hm_sink_attempt (&s_fake_backend, &fake, &route, &batch, &result, &dead),
                      HM_SINK_RETRY);
    assert_non_null (strstr (result.reason, "dead-letter:"));
    assert_int_equal (dead, 0);

    /* An empty batch dropped: nothing to write, OK. */
    batch.n_events = 0;
    assert_int_equal (hm_sink_attempt (&s_fake_backend, &fake, &route, &batch, &result, &dead),
                      HM_SINK_OK);
    assert_int_equal (dead, 0);

    hm_sink_result_free (&result);
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal (system (cmd), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_line_format),
        cmocka_unit_test (test_line_respects_buffer_limit),
        cmocka_unit_test (test_append_creates_and_appends),
        cmocka_unit_test (test_attempt_turns_drops_into_lines),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
