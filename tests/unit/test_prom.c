/*  test_prom: the Prometheus text writer (HELP/TYPE lines, label and HELP
    escaping, sample values), the router.metrics_listen key and the metrics
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
        cmocka_unit_test (test_family_and_samples),
        cmocka_unit_test (test_float_values),
        cmocka_unit_test (test_config_key),
        cmocka_unit_test (test_bad_addresses),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
