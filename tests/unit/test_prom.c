/*  test_prom: the Prometheus text writer (HELP/TYPE lines, label and HELP
    escaping, sample values, histograms), the router.metrics_listen key and the metrics
    endpoint's refusal of bad addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "metrics.h"
#include "prom.h"

static void
test_family_and_samples (void **state)
{
    (void)state;
    hm_buf_t out, lb;
    hm_buf_init (&out, 0);
    hm_buf_init (&lb, 0);
    hm_prom_family (&out, "hamustro_x_total", "counter", "Back\\slash and\nnewline \"quoted\".");
    hm_prom_label (&lb, "route", "a\"b\\c\nd");
    hm_prom_label (&lb, "sink", "file");
    hm_prom_u64 (&out, "hamustro_x_total", lb.data, 18446744073709551615ull);
    hm_prom_u64 (&out, "hamustro_x_total", NULL, 0);
    hm_prom_u64 (&out, "hamustro_x_total", "", 7);
    assert_string_equal (out.data,
                         /* HELP escapes backslash and newline, not quotes */
                         "# HELP hamustro_x_total Back\\\\slash and\\nnewline \"quoted\".\n"
                         "# TYPE hamustro_x_total counter\n"
                         "hamustro_x_total{route=\"a\\\"b\\\\c\\nd\",sink=\"file\"} "
                         "18446744073709551615\n"
                         "hamustro_x_total 0\n"
                         "hamustro_x_total 7\n");
    hm_buf_free (&out);
    hm_buf_free (&lb);
}

/* The histogram the router's, the ingests' and the sinks' metrics share:
   cumulative buckets, +Inf, sum, count, the caller's labels before le;
   and the sample with one more label that it and the split families use. */
static void
test_histogram (void **state)
{
    (void)state;
    hm_buf_t out;
    hm_buf_init (&out, 0);
    static const double bounds[] = {0.5, 1, 2.5};
    static const uint64_t counts[] = {1, 0, 2, 3};
    hm_prom_histogram (&out, "h_seconds", "route=\"r\"", bounds, 3, counts, 7.25);
    hm_prom_histogram (&out, "h_seconds", NULL, bounds, 3, counts, 0);
    static const uint64_t none[] = {0};
    hm_prom_histogram (&out, "e_seconds", "i=\"x\"", NULL, 0, none, 0);
    assert_string_equal (out.data, "h_seconds_bucket{route=\"r\",le=\"0.5\"} 1\n"
                                   "h_seconds_bucket{route=\"r\",le=\"1\"} 1\n"
                                   "h_seconds_bucket{route=\"r\",le=\"2.5\"} 3\n"
                                   "h_seconds_bucket{route=\"r\",le=\"+Inf\"} 6\n"
                                   "h_seconds_sum{route=\"r\"} 7.25\n"
                                   "h_seconds_count{route=\"r\"} 6\n"
                                   "h_seconds_bucket{le=\"0.5\"} 1\n"
                                   "h_seconds_bucket{le=\"1\"} 1\n"
                                   "h_seconds_bucket{le=\"2.5\"} 3\n"
                                   "h_seconds_bucket{le=\"+Inf\"} 6\n"
                                   "h_seconds_sum 0\n"
                                   "h_seconds_count 6\n"
                                   "e_seconds_bucket{i=\"x\",le=\"+Inf\"} 0\n"
                                   "e_seconds_sum{i=\"x\"} 0\n"
                                   "e_seconds_count{i=\"x\"} 0\n");
    hm_buf_reset (&out);
    /* A family split by a key: the key's label comes after the others. */
    hm_prom_u64_by (&out, "r_total", "i=\"x\"", "reason", "a\"b", 3);
    hm_prom_u64_by (&out, "r_total", "", "code", "200", 4);
    assert_string_equal (out.data, "r_total{i=\"x\",reason=\"a\\\"b\"} 3\n"
                                   "r_total{code=\"200\"} 4\n");
    hm_buf_free (&out);
}

static void
test_float_values (void **state)
{
    (void)state;
    hm_buf_t out;
    hm_buf_init (&out, 0);
    hm_prom_f64 (&out, "g", NULL, 0.5);
    hm_prom_f64 (&out, "g", NULL, NAN);
    hm_prom_f64 (&out, "g", NULL, INFINITY);
    hm_prom_f64 (&out, "g", NULL, -INFINITY);
    hm_prom_f64 (&out, "g", NULL, 3);
    assert_string_equal (out.data, "g 0.5\ng NaN\ng +Inf\ng -Inf\ng 3\n");
    hm_buf_free (&out);
}

/* The least a config needs besides the router section. */
#define S_BASE                                                                                     \
    "{\"shared_secret\":\"s\",\"routes\":{\"a\":{\"sink\":\"file\",\"file\":{\"file_path\":\"x\"}" \
    "}},"

static hm_config_t *
s_config (const char *router)
{
    char json[1024], err[512] = "";
    snprintf (json, sizeof json, S_BASE "\"router\":%s}", router);
    hm_config_t *cfg = hm_config_parse (json, "test", err, sizeof err);
    if (!cfg)
        print_message ("config error: %s\n", err);
    return cfg;
}

static void
test_config_key (void **state)
{
    (void)state;
    hm_config_t *cfg = s_config ("{}");
    assert_non_null (cfg);
    assert_string_equal (cfg->metrics_listen, "127.0.0.1:9464");
    hm_config_destroy (&cfg);
    assert_non_null (cfg = s_config ("{\"metrics_listen\":\"\"}"));
    assert_string_equal (cfg->metrics_listen, "");
    hm_config_destroy (&cfg);
    assert_non_null (cfg = s_config ("{\"metrics_listen\":\"[::1]:9100\"}"));
    hm_config_destroy (&cfg);
    const char *bad[] = {"{\"metrics_listen\":\"9464\"}", "{\"metrics_listen\":\":9464\"}",
                         "{\"metrics_listen\":\"h:0\"}",  "{\"metrics_listen\":\"h:65536\"}",
                         "{\"metrics_listen\":\"h:9x\"}", "{\"metrics_listen\":\"h:\"}",
                         "{\"metrics_listen\":9464}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[1024], err[512] = "";
        snprintf (json, sizeof json, S_BASE "\"router\":%s}", bad[i]);
        assert_null (hm_config_parse (json, "test", err, sizeof err));
        assert_non_null (strstr (err, "router.metrics_listen"));
    }
}

static void
test_bad_addresses (void **state)
{
    (void)state;
    char err[256];
    assert_null (metrics_new ("no-port", err, sizeof err));
    assert_non_null (strstr (err, "host:port"));
    assert_null (metrics_new ("host.invalid.:9464", err, sizeof err));
    assert_null (metrics_new ("127.0.0.1:99999", err, sizeof err));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_family_and_samples), cmocka_unit_test (test_float_values),
        cmocka_unit_test (test_histogram),          cmocka_unit_test (test_config_key),
        cmocka_unit_test (test_bad_addresses),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
