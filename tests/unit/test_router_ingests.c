/*  test_router_ingests: the router's table of ingest counter reports
    (router/ingests.h) and their Prometheus text: a report the ingest
    builds (ingest/stats.h) round-trips into the hamustro_ingest_* series;
    a later report replaces the earlier one; what fails validation is
    refused whole with a reason; the bound of INGESTS_MAX names (one more
    is dropped and counted) and the forgetting of a silent ingest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingests.h"
#include "pipeline.pb-c.h"
#include "stats.h"

/* Packs a report of stats named name into buf; returns its length. */
static size_t
s_report (hm_ingest_stats_t *stats, const char *name, uint8_t *buf)
{
    size_t len = hm_ingest_stats_report (stats, name, 5000, buf, HM_STATS_REPORT_MAX);
    assert_true (len > 0);
    return len;
}

static void
s_text (ingests_t *self, uint64_t now, hm_buf_t *out)
{
    hm_buf_reset (out);
    ingests_metrics_text (self, out, now);
    hm_buf_putc (out, '\0');
}

static void
test_report_round_trip (void **state)
{
    (void)state;
    hm_ingest_stats_t stats;
    hm_ingest_stats_init (&stats, 0);
    hm_ingest_stats_count (&stats, 200, 1, 3);
    hm_ingest_stats_count (&stats, 200, 1, 4);
    hm_ingest_stats_count (&stats, 413, 0, 0);
    hm_ingest_stats_count (&stats, 418, 0, 0);  /* not a code of its own: "other" */
    hm_ingest_stats_latency (&stats, 100);      /* le 0.0001 (bounds are inclusive) */
    hm_ingest_stats_latency (&stats, 3000);     /* le 0.005 */
    hm_ingest_stats_latency (&stats, 20000000); /* past 10 s: +Inf only */
    hm_ingest_stats_connection (&stats, +1);
    hm_ingest_stats_connection (&stats, +1);
    hm_ingest_stats_connection (&stats, -1);
    hm_ingest_stats_closed (&stats, 2);
    hm_ingest_stats_refused (&stats, HM_REFUSAL_CLOCK_SKEW);
    hm_ingest_stats_refused (&stats, HM_REFUSAL_NONE); /* not counted */
    uint8_t buf[HM_STATS_REPORT_MAX];
    ingests_t *self = ingests_new ();
    assert_non_null (self);
    const char *why = NULL;
    assert_int_equal (ingests_report (self, buf, s_report (&stats, "web-1:8080", buf), 1000, &why),
                      0);
    assert_int_equal (ingests_count (self), 1);
    hm_buf_t out;
    hm_buf_init (&out, 0);
    s_text (self, 1000, &out);
    const char *want[] = {
        "hamustro_ingest_responses_total{ingest_instance=\"web-1:8080\",code=\"200\"} 2\n",
        "hamustro_ingest_responses_total{ingest_instance=\"web-1:8080\",code=\"413\"} 1\n",
        "hamustro_ingest_responses_total{ingest_instance=\"web-1:8080\",code=\"503\"} 0\n",
        "hamustro_ingest_responses_total{ingest_instance=\"web-1:8080\",code=\"other\"} 1\n",
        "hamustro_ingest_accepted_requests_total{ingest_instance=\"web-1:8080\"} 2\n",
        "hamustro_ingest_accepted_events_total{ingest_instance=\"web-1:8080\"} 7\n",
        "hamustro_ingest_connections{ingest_instance=\"web-1:8080\"} 1\n",
        "hamustro_ingest_uptime_seconds{ingest_instance=\"web-1:8080\"} 5\n",
        "hamustro_ingest_closed_slow_total{ingest_instance=\"web-1:8080\",reason=\"linger\"} 1\n",
        "hamustro_ingest_closed_slow_total{ingest_instance=\"web-1:8080\",reason=\"head\"} 0\n",
        "hamustro_ingest_request_duration_seconds_bucket{ingest_instance=\"web-1:8080\","
        "le=\"0.0001\"} 1\n",
        "hamustro_ingest_request_duration_seconds_bucket{ingest_instance=\"web-1:8080\","
        "le=\"0.0025\"} 1\n",
        "hamustro_ingest_request_duration_seconds_bucket{ingest_instance=\"web-1:8080\","
        "le=\"0.005\"} 2\n",
        "hamustro_ingest_request_duration_seconds_bucket{ingest_instance=\"web-1:8080\","
        "le=\"10\"} 2\n",
        "hamustro_ingest_request_duration_seconds_bucket{ingest_instance=\"web-1:8080\","
        "le=\"+Inf\"} 3\n",
        "hamustro_ingest_request_duration_seconds_sum{ingest_instance=\"web-1:8080\"} 20.0031\n",
        "hamustro_ingest_request_duration_seconds_count{ingest_instance=\"web-1:8080\"} 3\n",
        "# TYPE hamustro_ingest_request_duration_seconds histogram\n",
        "hamustro_ingest_refusals_total{ingest_instance=\"web-1:8080\",reason=\"clock_skew\"} 1\n",
        "hamustro_ingest_refusals_total{ingest_instance=\"web-1:8080\",reason=\"stopping\"} 0\n",
        "hamustro_router_ingests 1\n",
        "hamustro_router_ingest_reports_total 1\n",
        "hamustro_router_ingest_reports_dropped_total 0\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr (out.data, want[i]))
            fail_msg ("missing %s in:\n%s", want[i], out.data);

    /* A later report replaces the earlier one: still one ingest. */
    hm_ingest_stats_count (&stats, 200, 1, 1);
    assert_int_equal (ingests_report (self, buf, s_report (&stats, "web-1:8080", buf), 2000, &why),
                      0);
    assert_int_equal (ingests_count (self), 1);
    s_text (self, 2000, &out);
    assert_non_null (strstr (
        out.data, "hamustro_ingest_accepted_events_total{ingest_instance=\"web-1:8080\"} 8\n"));
    assert_non_null (strstr (out.data, "hamustro_router_ingest_reports_total 2\n"));

    /* Silent for INGESTS_SILENT_MS: forgotten, its series gone. */
    s_text (self, 2000 + INGESTS_SILENT_MS, &out);
    assert_int_equal (ingests_count (self), 0);
    assert_null (strstr (out.data, "web-1:8080"));
    assert_non_null (strstr (out.data, "hamustro_router_ingests 0\n"));
    /* Families without samples are still valid text: HELP and TYPE only. */
    assert_non_null (strstr (out.data, "# TYPE hamustro_ingest_responses_total counter\n"));
    hm_buf_free (&out);
    ingests_destroy (&self);
    ingests_destroy (&self); /* safe twice */
}

/* A hand-made report, valid until a test spoils one field. */
typedef struct {
    Hm__IngestStats r;
    Hm__IngestAnswers a[INGESTS_ANSWERS_MAX + 2];
    Hm__IngestAnswers *ap[INGESTS_ANSWERS_MAX + 2];
    Hm__IngestRefusals f[2];
    Hm__IngestRefusals *fp[2];
    double bounds[INGESTS_BUCKETS_MAX + 2];
    uint64_t counts[INGESTS_BUCKETS_MAX + 3];
} s_hand_t;

static void
s_hand_init (s_hand_t *h)
{
    hm__ingest_stats__init (&h->r);
    for (size_t i = 0; i < INGESTS_ANSWERS_MAX + 2; i++) {
        hm__ingest_answers__init (&h->a[i]);
        h->a[i].has_code = h->a[i].has_count = true;
        h->a[i].code = (uint32_t)(200 + i);
        h->a[i].count = 1;
        h->ap[i] = &h->a[i];
    }
    for (size_t i = 0; i < INGESTS_BUCKETS_MAX + 2; i++)
        h->bounds[i] = 0.001 * (double)(i + 1);
    memset (h->counts, 0, sizeof h->counts);
    for (size_t i = 0; i < 2; i++) {
        hm__ingest_refusals__init (&h->f[i]);
        h->f[i].has_count = true;
        h->f[i].count = 5;
        h->fp[i] = &h->f[i];
    }
    h->f[0].reason = "decode";
    h->f[1].reason = "martian"; /* from a newer ingest: kept, not exported */
    h->r.n_refusals = 2;
    h->r.refusals = h->fp;
    h->r.name = "a";
    h->r.n_answers = 2;
    h->r.answers = h->ap;
    h->r.n_latency_bounds = 2;
    h->r.latency_bounds = h->bounds;
    h->r.n_latency_counts = 3;
    h->r.latency_counts = h->counts;
}

static int
s_hand_report (ingests_t *self, s_hand_t *h, const char **why)
{
    uint8_t buf[4096];
    assert_true (hm__ingest_stats__get_packed_size (&h->r) <= sizeof buf);
    size_t len = hm__ingest_stats__pack (&h->r, buf);
    return ingests_report (self, buf, len, 0, why);
}

static void
test_refused_reports (void **state)
{
    (void)state;
    ingests_t *self = ingests_new ();
    const char *why = NULL;
    s_hand_t h;
    s_hand_init (&h);
    assert_int_equal (s_hand_report (self, &h, &why), 0);
    hm_buf_t out;
    hm_buf_init (&out, 0);
    ingests_metrics_text (self, &out, 0);
    hm_buf_putc (&out, '\0');
    assert_non_null (strstr (
        out.data, "hamustro_ingest_refusals_total{ingest_instance=\"a\",reason=\"decode\"} 5\n"));
    assert_null (strstr (out.data, "martian"));
    hm_buf_free (&out);
    /* Each of these is refused whole, with a reason, and nothing changes. */
    for (int spoil = 0; spoil < 12; spoil++) {
        s_hand_init (&h);
        h.r.name = "b";
        switch (spoil) {
        case 0:
            h.r.name = NULL;
            break;
        case 1:
            h.r.name = "a\"b"; /* would break out of the label */
            break;
        case 2:
            h.r.name = "x123456789x123456789x123456789x123456789x123456789x123456789xxxxx";
            break;
        case 3:
            h.r.n_answers = INGESTS_ANSWERS_MAX + 1;
            break;
        case 4:
            h.a[1].code = 200; /* twice */
            break;
        case 5:
            h.a[0].code = 600;
            break;
        case 6:
            h.r.n_latency_counts = 2;
            break;
        case 7:
            h.bounds[1] = h.bounds[0];
            break;
        case 8:
            h.bounds[0] = NAN;
            break;
        case 9:
            h.r.n_latency_bounds = INGESTS_BUCKETS_MAX + 1;
            h.r.n_latency_counts = INGESTS_BUCKETS_MAX + 2;
            break;
        case 10:
            h.f[1].reason = "decode"; /* twice */
            break;
        case 11:
            h.f[1].reason = NULL;
            break;
        }
        why = NULL;
        assert_int_equal (s_hand_report (self, &h, &why), -1);
        assert_non_null (why);
    }
    const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff};
    why = NULL;
    assert_int_equal (ingests_report (self, junk, sizeof junk, 0, &why), -1);
    assert_string_equal (why, "IngestStats does not decode");
    assert_int_equal (ingests_count (self), 1);
    assert_int_equal (ingests_reports (self), 1);
    ingests_destroy (&self);
}

static void
test_bound (void **state)
{
    (void)state;
    ingests_t *self = ingests_new ();
    const char *why = NULL;
    s_hand_t h;
    s_hand_init (&h);
    char name[32];
    h.r.name = name;
    for (int i = 0; i < INGESTS_MAX; i++) {
        snprintf (name, sizeof name, "ingest-%d", i);
        assert_int_equal (s_hand_report (self, &h, &why), 0);
    }
    /* One more name: dropped and counted; the known ones still report. */
    snprintf (name, sizeof name, "ingest-late");
    assert_int_equal (s_hand_report (self, &h, &why), 1);
    assert_int_equal (ingests_dropped (self), 1);
    assert_int_equal (ingests_count (self), INGESTS_MAX);
    snprintf (name, sizeof name, "ingest-7");
    assert_int_equal (s_hand_report (self, &h, &why), 0);
    /* Once the others went silent, the late one gets in. */
    uint8_t buf[4096];
    snprintf (name, sizeof name, "ingest-late");
    size_t len = hm__ingest_stats__pack (&h.r, buf);
    assert_int_equal (ingests_report (self, buf, len, INGESTS_SILENT_MS, &why), 0);
    assert_int_equal (ingests_count (self), 1);
    ingests_destroy (&self);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_report_round_trip),
        cmocka_unit_test (test_refused_reports),
        cmocka_unit_test (test_bound),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
