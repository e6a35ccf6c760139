/*  test_config: the config table, the original's config, and the errors
    that name file, key and reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static char err[1024];

static hm_config_t *
s_parse (const char *json)
{
    err[0] = '\0';
    return hm_config_parse (json, "test.json", err, sizeof err);
}

static void
s_expect_error (const char *json, const char *key, const char *reason_part)
{
    hm_config_t *cfg = s_parse (json);
    assert_null (cfg);
    char want[256];
    snprintf (want, sizeof want, "test.json: %s: ", key);
    if (strncmp (err, want, strlen (want)) != 0)
        fail_msg ("error \"%s\" does not start with \"%s\"", err, want);
    if (!strstr (err, reason_part))
        fail_msg ("error \"%s\" does not mention \"%s\"", err, reason_part);
}

static void
test_embedded_default (void **state)
{
    (void) state;
    unsetenv ("HAMUSTRO_CONFIG");
    unsetenv ("HAMUSTRO_HOST");
    unsetenv ("HAMUSTRO_PORT");
    hm_config_t *cfg = hm_config_load (NULL, err, sizeof err);
    assert_non_null (cfg);
    assert_string_equal (cfg->path, "(embedded default)");
    assert_int_equal (cfg->route_count, 1);
    const hm_route_config_t *r = hm_config_route (cfg, "archive");
    assert_non_null (r);
    assert_string_equal (r->sink, "file");
    assert_string_equal (r->file_path, "var/events/{date}/");
    assert_true (r->compress);
    assert_int_equal (r->format, HM_FORMAT_JSON);
    assert_string_equal (r->endpoint, "ipc://var/run/route-archive.ipc");
    assert_string_equal (r->dead_letter, "var/data/dead-letter/archive.jsonl");
    assert_string_equal (cfg->router_endpoint, "ipc://var/run/router.ipc");
    assert_int_equal (cfg->port, 8080);
    assert_string_equal (cfg->host, "127.0.0.1");
    assert_true (cfg->signature_required);
    assert_int_equal (cfg->max_clock_skew_s, 0); /* off, as the original */
    assert_null (cfg->maintenance_key);
    assert_int_equal (cfg->durability, HM_DURABILITY_FSYNC);
    assert_int_equal (cfg->cpu_latency_us, HM_CPU_LATENCY_OFF);
    hm_config_destroy (&cfg);
    assert_null (cfg);
    hm_config_destroy (&cfg); /* safe twice */
}

/* The original Hamustro's sample: every dialect's section present with
   placeholder values, one selected by "dialect". */
static const char *original_sample =
    "{\"dialect\":\"s3\",\"logfile\":\"\",\"max_worker_size\":5,\"max_queue_size\":100,"
    "\"retry_attempt\":3,\"buffer_size\":5000,\"spread_buffer_size\":false,"
    "\"shared_secret\":\"ultrasafesecret\",\"signature\":\"optional\",\"maintenance_key\":\"mk\","
    "\"masked_ip\":true,\"auto_flush_interval\":2,"
    "\"aqs\":{\"account\":\"\",\"access_key\":\"\",\"queue_name\":\"name of the queue\"},"
    "\"abs\":{\"account\":\"\",\"access_key\":\"\",\"container\":\"c\",\"blob_path\":\"p/{date}/\","
    "\"file_format\":\"json|csv\"},"
    "\"sns\":{\"region\":\"\",\"access_key_id\":\"\",\"secret_access_key\":\"\",\"topic_arn\":\"sns:...\"},"
    "\"s3\":{\"region\":\"eu-west-1\",\"endpoint\":\"\",\"access_key_id\":\"A\",\"secret_access_key\":\"S\","
    "\"bucket\":\"b\",\"blob_path\":\"path/{date}/\",\"file_format\":\"csv\"}}";

static void
test_original_config_is_one_route (void **state)
{
    (void) state;
    hm_config_t *cfg = s_parse (original_sample);
    if (!cfg)
        fail_msg ("%s", err);
    assert_int_equal (cfg->route_count, 1);
    const hm_route_config_t *r = &cfg->routes[0];
    assert_string_equal (r->name, "s3");
    assert_string_equal (r->sink, "s3");
    assert_int_equal (r->format, HM_FORMAT_CSV);
    assert_int_equal (r->max_events, 5000);      /* buffer_size */
    assert_int_equal (r->max_age_ms, 2 * 60000); /* auto_flush_interval, minutes */
    assert_int_equal (cfg->sink_credit, 5);      /* max_worker_size */
    assert_int_equal (r->instances, 1);          /* the original ran one of each */
    assert_non_null (strstr (r->section_json, "\"bucket\":\"b\""));
    assert_false (cfg->signature_required);
    assert_true (cfg->masked_ip);
    assert_string_equal (cfg->maintenance_key, "mk");
    assert_null (cfg->logfile);
    hm_config_destroy (&cfg);
}

static void
test_original_file_dialect (void **state)
{
    (void) state;
    hm_config_t *cfg = s_parse ("{\"dialect\":\"file\",\"shared_secret\":\"s\",\"maintance_key\":\"old\","
                                "\"file\":{\"file_path\":\"/tmp/x/{date}\",\"file_format\":\"json\","
                                "\"compress\":true}}");
    if (!cfg)
        fail_msg ("%s", err);
    assert_string_equal (cfg->routes[0].name, "file");
    assert_string_equal (cfg->routes[0].file_path, "/tmp/x/{date}");
    assert_true (cfg->routes[0].compress);
    assert_string_equal (cfg->maintenance_key, "old"); /* the original's old spelling */
    hm_config_destroy (&cfg);
}

static void
test_routes_with_filters (void **state)
{
    (void) state;
    hm_config_t *cfg = s_parse (
        "{\"shared_secret\":\"s\",\"router\":{\"run_dir\":\"/r\",\"durability\":\"write\","
        "\"cpu_latency_us\":0},"
        "\"routes\":{\"a\":{\"sink\":\"file\",\"max_events\":7,\"max_bytes\":4096,\"max_age\":0.5,"
        "\"filter\":{\"event\":\"Client.*\",\"env\":\"BETA\"},\"file\":{\"file_path\":\"x\"}},"
        "\"b\":{\"sink\":\"queue\",\"filter\":{\"env\":3},\"aqs\":{\"account\":\"acc\","
        "\"encoding\":\"base64\"}}}}");
    if (!cfg)
        fail_msg ("%s", err);
    assert_int_equal (cfg->route_count, 2);
    const hm_route_config_t *a = hm_config_route (cfg, "a");
    assert_int_equal (a->max_events, 7);
    assert_int_equal (a->max_bytes, 4096);
    assert_int_equal (a->max_age_ms, 500);
    assert_string_equal (a->filter_event, "Client.*");
    assert_int_equal (a->filter_env, 4);
    const hm_route_config_t *b = hm_config_route (cfg, "b");
    assert_string_equal (b->sink, "aqs");
    assert_int_equal (b->filter_env, 3);
    assert_string_equal (b->endpoint, "ipc:///r/route-b.ipc");
    assert_int_equal (cfg->durability, HM_DURABILITY_WRITE);
    assert_int_equal (cfg->cpu_latency_us, 0);
    assert_null (hm_config_route (cfg, "c"));
    hm_config_destroy (&cfg);
}

/* The replay window is a top-level key beside "signature". */
static void
test_max_clock_skew (void **state)
{
    (void) state;
    hm_config_t *cfg = s_parse ("{\"shared_secret\":\"s\",\"max_clock_skew_s\":300,"
                                "\"dialect\":\"file\",\"file\":{\"file_path\":\"x\"}}");
    if (!cfg)
        fail_msg ("%s", err);
    assert_int_equal (cfg->max_clock_skew_s, 300);
    hm_config_destroy (&cfg);
}

/* router.tap_json: off when absent or "", else the endpoint. */
static void
test_tap_json (void **state)
{
    (void) state;
    const char *forms[][2] = {{"", NULL}, {",\"tap_json\":\"\"", NULL},
                              {",\"tap_json\":\"ipc://x/tj.ipc\"", "ipc://x/tj.ipc"}};
    for (size_t i = 0; i < 3; i++) {
        char json[256];
        snprintf (json, sizeof json,
                  "{\"shared_secret\":\"s\",\"router\":{\"run_dir\":\"r\"%s},"
                  "\"dialect\":\"file\",\"file\":{\"file_path\":\"x\"}}",
                  forms[i][0]);
        hm_config_t *cfg = s_parse (json);
        if (!cfg)
            fail_msg ("%s", err);
        if (forms[i][1])
            assert_string_equal (cfg->tap_json_endpoint, forms[i][1]);
        else
            assert_null (cfg->tap_json_endpoint);
        hm_config_destroy (&cfg);
    }
    s_expect_error ("{\"shared_secret\":\"s\",\"router\":{\"tap_json\":7},"
                    "\"dialect\":\"file\",\"file\":{\"file_path\":\"x\"}}",
                    "router.tap_json", "");
}

#define S_TP_TAIL ",\"dialect\":\"file\",\"file\":{\"file_path\":\"x\"}}"

static void
test_trusted_proxies (void **state)
{
    (void) state;
    /* default: none, so forwarding headers are never read */
    hm_config_t *cfg = s_parse ("{\"shared_secret\":\"s\"" S_TP_TAIL);
    assert_non_null (cfg);
    assert_int_equal (cfg->n_trusted_proxies, 0);
    hm_config_destroy (&cfg);
    cfg = s_parse ("{\"shared_secret\":\"s\",\"trusted_proxies\":[\"10.77.0.0/24\","
                   "\"2001:db8::/32\",\"192.0.2.1\"]" S_TP_TAIL);
    assert_non_null (cfg);
    assert_int_equal (cfg->n_trusted_proxies, 3);
    assert_true (hm_cidr_match (cfg->trusted_proxies, cfg->n_trusted_proxies, "10.77.0.200"));
    assert_true (hm_cidr_match (cfg->trusted_proxies, cfg->n_trusted_proxies, "192.0.2.1"));
    assert_false (hm_cidr_match (cfg->trusted_proxies, cfg->n_trusted_proxies, "10.77.1.1"));
    hm_config_destroy (&cfg);

    s_expect_error ("{\"shared_secret\":\"s\",\"trusted_proxies\":\"10.0.0.0/8\"" S_TP_TAIL,
                    "trusted_proxies", "list of CIDR blocks");
    s_expect_error ("{\"shared_secret\":\"s\",\"trusted_proxies\":[\"10.0.0.0/8\",7]" S_TP_TAIL,
                    "trusted_proxies[1]", "must be a string");
    s_expect_error ("{\"shared_secret\":\"s\",\"trusted_proxies\":[\"10.0.0.0/33\"]" S_TP_TAIL,
                    "trusted_proxies[0]", "prefix length above 32");
    s_expect_error ("{\"shared_secret\":\"s\",\"trusted_proxies\":[\"10.0.0.1/8\"]" S_TP_TAIL,
                    "trusted_proxies[0]", "host bits set (the block is 10.0.0.0/8)");
    s_expect_error ("{\"shared_secret\":\"s\",\"trusted_proxies\":[\"lb.local\"]" S_TP_TAIL,
                    "trusted_proxies[0]", "not an IPv4 or IPv6 address");
    /* the bound: 64 blocks load, 65 are refused */
    char json[4096];
    for (int count = 64; count <= 65; count++) {
        int off = snprintf (json, sizeof json, "{\"shared_secret\":\"s\",\"trusted_proxies\":[");
        for (int i = 0; i < count; i++)
            off += snprintf (json + off, sizeof json - (size_t) off, "%s\"10.0.%d.0/24\"",
                             i ? "," : "", i);
        snprintf (json + off, sizeof json - (size_t) off, "]%s", S_TP_TAIL);
        if (count == 64) {
            cfg = s_parse (json);
            assert_non_null (cfg);
            assert_int_equal (cfg->n_trusted_proxies, 64);
            hm_config_destroy (&cfg);
        }
        else
            s_expect_error (json, "trusted_proxies", "at most 64");
    }
}

static void
test_errors_name_key_and_reason (void **state)
{
    (void) state;
    s_expect_error ("{\"shared_secret\":\"s\",\"dialect\":\"file\",\"file\":{\"file_path\":\"x\"},"
                    "\"colour\":1}", "colour", "unknown key");
    s_expect_error ("{\"shared_secret\":\"s\",\"signature\":\"sometimes\",\"dialect\":\"file\","
                    "\"file\":{\"file_path\":\"x\"}}", "signature", "\"required\" or \"optional\"");
    s_expect_error ("{\"shared_secret\":\"s\",\"max_clock_skew_s\":-1,\"dialect\":\"file\","
                    "\"file\":{\"file_path\":\"x\"}}", "max_clock_skew_s", "");
    s_expect_error ("{\"shared_secret\":\"s\",\"max_clock_skew_s\":86401,\"dialect\":\"file\","
                    "\"file\":{\"file_path\":\"x\"}}", "max_clock_skew_s", "");
    s_expect_error ("{\"dialect\":\"file\",\"file\":{\"file_path\":\"x\"}}", "shared_secret",
                    "missing");
    s_expect_error ("{\"shared_secret\":\"s\",\"dialect\":\"ftp\"}", "dialect", "unsupported");
    s_expect_error ("{\"shared_secret\":\"s\",\"dialect\":\"file\",\"file\":{\"file_path\":\"x\","
                    "\"file_format\":\"xml\"}}", "file.file_format", "\"json\" or \"csv\"");
    s_expect_error ("{\"shared_secret\":\"s\",\"dialect\":\"file\",\"file\":{\"file_format\":\"json\"}}",
                    "file.file_path", "missing");
    s_expect_error ("{\"shared_secret\":\"s\",\"ingest\":{\"port\":\"80\"},\"dialect\":\"file\","
                    "\"file\":{\"file_path\":\"x\"}}", "ingest.port", "whole number");
    s_expect_error ("{\"shared_secret\":\"s\",\"ingest\":{\"port\":70000},\"dialect\":\"file\","
                    "\"file\":{\"file_path\":\"x\"}}", "ingest.port", "between 1 and 65535");
    s_expect_error ("{\"shared_secret\":\"s\",\"router\":{\"cpu_latency_us\":-1},"
                    "\"dialect\":\"file\",\"file\":{\"file_path\":\"x\"}}", "router.cpu_latency_us",
                    "between 0 and 1000000");
    s_expect_error ("{\"shared_secret\":\"s\",\"router\":{\"cpu_latency_us\":\"low\"},"
                    "\"dialect\":\"file\",\"file\":{\"file_path\":\"x\"}}", "router.cpu_latency_us",
                    "whole number");
    s_expect_error ("{\"shared_secret\":\"s\",\"router\":{\"durability\":\"maybe\"},"
                    "\"dialect\":\"file\",\"file\":{\"file_path\":\"x\"}}", "router.durability",
                    "\"fsync\" or \"write\"");
    s_expect_error ("{\"shared_secret\":\"s\",\"routes\":{\"a\":{\"sink\":\"file\","
                    "\"file\":{\"file_path\":\"x\",\"bucket\":\"b\"}}}}", "routes.a.file.bucket",
                    "unknown key");
    s_expect_error ("{\"shared_secret\":\"s\",\"routes\":{\"a\":{\"sink\":\"file\"}}}",
                    "routes.a.file", "missing");
    s_expect_error ("{\"shared_secret\":\"s\",\"routes\":{\"a b\":{\"sink\":\"file\"}}}",
                    "routes.a b", "route name");
    s_expect_error ("{\"shared_secret\":\"s\",\"routes\":{\"a\":{\"sink\":\"file\","
                    "\"filter\":{\"env\":\"LIVE\"},\"file\":{\"file_path\":\"x\"}}}}",
                    "routes.a.filter.env", "Environment");
    s_expect_error ("{\"shared_secret\":\"s\",\"routes\":{}}", "routes", "at least one route");
    s_expect_error ("{\"shared_secret\":\"s\",\"routes\":{\"a\":{\"sink\":\"file\","
                    "\"file\":{\"file_path\":\"x\"}}},\"dialect\":\"file\"}", "dialect", "not both");
    s_expect_error ("{\"shared_secret\":\"s\",\"sink\":{\"retry_min_ms\":500,\"retry_max_ms\":10},"
                    "\"dialect\":\"file\",\"file\":{\"file_path\":\"x\"}}", "sink.retry_max_ms",
                    "below");
    s_expect_error ("[1,2]", "(top level)", "object");
    /* A syntax error names the line. */
    assert_null (s_parse ("{\n\"shared_secret\":\n}"));
    assert_non_null (strstr (err, "test.json: (syntax): not valid JSON near line 3"));
}

/* Every typed reader (common/config_value.c) names the key and says what
   the value must be, in full; a null value is the default. */
#define S_TR_TAIL "\"dialect\":\"file\",\"file\":{\"file_path\":\"x\"}}"

static void
test_typed_readers (void **state)
{
    (void)state;
    const char *cases[][3] = {
        {"{\"shared_secret\":7," S_TR_TAIL, "shared_secret", "must be a string"},
        {"{\"shared_secret\":\"s\",\"masked_ip\":\"yes\"," S_TR_TAIL, "masked_ip",
         "must be true or false"},
        {"{\"shared_secret\":\"s\",\"ingest\":{\"port\":\"80\"}," S_TR_TAIL, "ingest.port",
         "must be a whole number"},
        {"{\"shared_secret\":\"s\",\"ingest\":{\"port\":80.5}," S_TR_TAIL, "ingest.port",
         "must be a whole number"},
        {"{\"shared_secret\":\"s\",\"ingest\":{\"port\":70000}," S_TR_TAIL, "ingest.port",
         "must be between 1 and 65535"},
        {"{\"shared_secret\":\"s\",\"flush_timeout\":\"5\"," S_TR_TAIL, "flush_timeout",
         "must be a number of seconds between 0 and 7 days"},
        {"{\"shared_secret\":\"s\",\"flush_timeout\":-1," S_TR_TAIL, "flush_timeout",
         "must be a number of seconds between 0 and 7 days"},
        {"{\"shared_secret\":\"s\",\"auto_flush_interval\":10081," S_TR_TAIL,
         "auto_flush_interval", "must be a number of minutes between 0 and 7 days"},
        {"{\"shared_secret\":\"s\",\"router\":5," S_TR_TAIL, "router", "must be an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_expect_error (cases[i][0], cases[i][1], cases[i][2]);
        /* The whole reason, not a part of it. */
        char want[256];
        snprintf (want, sizeof want, "test.json: %s: %s", cases[i][1], cases[i][2]);
        assert_string_equal (err, want);
    }
    hm_config_t *cfg = s_parse ("{\"shared_secret\":\"s\",\"masked_ip\":null,\"router\":null,"
                                "\"ingest\":{\"port\":null},\"flush_timeout\":null," S_TR_TAIL);
    if (!cfg)
        fail_msg ("%s", err);
    assert_false (cfg->masked_ip);
    hm_config_destroy (&cfg);
}

static void
test_environment_overrides (void **state)
{
    (void) state;
    setenv ("HAMUSTRO_HOST", "0.0.0.0", 1);
    setenv ("HAMUSTRO_PORT", "9099", 1);
    hm_config_t *cfg = hm_config_load (NULL, err, sizeof err);
    assert_non_null (cfg);
    assert_string_equal (cfg->host, "0.0.0.0");
    assert_int_equal (cfg->port, 9099);
    hm_config_destroy (&cfg);
    setenv ("HAMUSTRO_PORT", "http", 1);
    assert_null (hm_config_load (NULL, err, sizeof err));
    assert_non_null (strstr (err, "HAMUSTRO_PORT"));
    unsetenv ("HAMUSTRO_PORT");
    unsetenv ("HAMUSTRO_HOST");
}

static void
test_load_from_file (void **state)
{
    (void) state;
    char path[] = "/tmp/hm-test-config-XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    FILE *f = fdopen (fd, "w");
    fputs (original_sample, f);
    fclose (f);
    setenv ("HAMUSTRO_CONFIG", path, 1);
    hm_config_t *cfg = hm_config_load (NULL, err, sizeof err);
    unsetenv ("HAMUSTRO_CONFIG");
    assert_non_null (cfg);
    assert_string_equal (cfg->path, path);
    hm_config_destroy (&cfg);
    unlink (path);
    assert_null (hm_config_load (path, err, sizeof err));
    assert_non_null (strstr (err, "cannot open"));
    assert_non_null (strstr (err, path));
}

/* A route's "instances": how many sink processes serve it. */
static void
test_route_instances (void **state)
{
    (void) state;
    hm_config_t *cfg = s_parse ("{\"shared_secret\":\"s\",\"routes\":{"
                                "\"a\":{\"sink\":\"file\",\"file\":{\"file_path\":\"x\"}},"
                                "\"b\":{\"sink\":\"s3\",\"instances\":64,\"s3\":{}}}}");
    if (!cfg)
        fail_msg ("%s", err);
    assert_int_equal (hm_config_route (cfg, "a")->instances, 1);
    assert_int_equal (hm_config_route (cfg, "b")->instances, 64);
    hm_config_destroy (&cfg);
    const char *bad[] = {"0", "65", "1.5", "\"2\"", "-1", "true"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[256];
        snprintf (json, sizeof json,
                  "{\"shared_secret\":\"s\",\"routes\":{\"a\":{\"sink\":\"file\","
                  "\"instances\":%s,\"file\":{\"file_path\":\"x\"}}}}",
                  bad[i]);
        s_expect_error (json, "routes.a.instances", "must be");
    }
}

/* Issue 18: a full batch is one Delivery message, and every socket
   refuses a message over HM_WIRE_MAX_MSG (64 MiB). max_bytes up to 1 GiB
   used to pass, making every full batch undeliverable. */
static void
test_max_bytes_fits_the_wire (void **state)
{
    (void) state;
    /* 10000 events: 60000 bytes of framing, a route name "a" and a header. */
    const uint64_t limit = (64u << 20) - 10000 * 6 - 48 - 1;
    char json[256];
    snprintf (json, sizeof json,
              "{\"shared_secret\":\"s\",\"routes\":{\"a\":{\"sink\":\"file\","
              "\"max_events\":10000,\"max_bytes\":%llu,\"file\":{\"file_path\":\"x\"}}}}",
              (unsigned long long)limit);
    hm_config_t *cfg = s_parse (json);
    if (!cfg)
        fail_msg ("%s", err);
    assert_int_equal (cfg->routes[0].max_bytes, limit);
    hm_config_destroy (&cfg);
    const char *bad[] = {"1073741824", "67108864", "67048816"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf (json, sizeof json,
                  "{\"shared_secret\":\"s\",\"routes\":{\"a\":{\"sink\":\"file\","
                  "\"max_events\":10000,\"max_bytes\":%s,\"file\":{\"file_path\":\"x\"}}}}",
                  bad[i]);
        s_expect_error (json, "routes.a.max_bytes", "at most 67048815");
    }
    /* Many events also take room: the default 16 MiB with 10 million. */
    s_expect_error ("{\"shared_secret\":\"s\",\"routes\":{\"a\":{\"sink\":\"file\","
                    "\"max_events\":10000000,\"file\":{\"file_path\":\"x\"}}}}",
                    "routes.a.max_bytes", "with max_events 10000000");
    /* An original config has only buffer_size. */
    s_expect_error ("{\"shared_secret\":\"s\",\"dialect\":\"file\",\"buffer_size\":10000000,"
                    "\"file\":{\"file_path\":\"x\"}}",
                    "buffer_size", "must fit one 64 MiB message");
}

/* A sink's --route: NAME or NAME:N. */
static void
test_route_arg (void **state)
{
    (void) state;
    char name[65];
    uint32_t n = 99;
    assert_int_equal (hm_config_route_arg ("archive", name, sizeof name, &n, err, sizeof err), 0);
    assert_string_equal (name, "archive");
    assert_int_equal (n, 0);
    assert_int_equal (hm_config_route_arg ("s3:2", name, sizeof name, &n, err, sizeof err), 0);
    assert_string_equal (name, "s3");
    assert_int_equal (n, 2);
    assert_int_equal (hm_config_route_arg ("a-b_c:64", name, sizeof name, &n, err, sizeof err), 0);
    assert_int_equal (n, 64);
    const char *bad[] = {"s3:", "s3:0", "s3:65", "s3:+1", "s3: 1", "s3:1x", "s3:1:2", ":1", "",
                         "s3:007"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (hm_config_route_arg (bad[i], name, sizeof name, &n, err, sizeof err) != -1)
            fail_msg ("\"%s\" accepted", bad[i]);
        assert_non_null (strstr (err, "--route"));
    }
    char big[100];
    memset (big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal (hm_config_route_arg (big, name, sizeof name, &n, err, sizeof err), -1);
    assert_non_null (strstr (err, "too long"));
}

/* The ingest's slow-client and lingering keys (ingest/police.h): defaults,
   values taken, bounds refused with the key named. */
static void
test_ingest_police_keys (void **state)
{
    (void)state;
    hm_config_t *cfg = s_parse ("{\"shared_secret\":\"s\",\"dialect\":\"file\","
                                "\"file\":{\"file_path\":\"x\"}}");
    assert_non_null (cfg);
    assert_int_equal (cfg->header_timeout_s, 10);
    assert_int_equal (cfg->body_timeout_s, 10);
    assert_int_equal (cfg->body_min_rate, 500);
    assert_int_equal (cfg->linger_timeout_s, 30);
    assert_true (cfg->linger_max_bytes == 64ull << 20);
    hm_config_destroy (&cfg);
    cfg = s_parse ("{\"shared_secret\":\"s\",\"ingest\":{\"header_timeout\":3,"
                   "\"body_timeout\":4,\"body_min_rate\":0,\"linger_timeout\":0,"
                   "\"linger_max_bytes\":1099511627776},"
                   "\"dialect\":\"file\",\"file\":{\"file_path\":\"x\"}}");
    assert_non_null (cfg);
    assert_int_equal (cfg->header_timeout_s, 3);
    assert_int_equal (cfg->body_timeout_s, 4);
    assert_int_equal (cfg->body_min_rate, 0);
    assert_int_equal (cfg->linger_timeout_s, 0);
    assert_true (cfg->linger_max_bytes == 1ull << 40);
    hm_config_destroy (&cfg);
    static const struct {
        const char *key, *value, *reason;
    } bad[] = {
        {"header_timeout", "0", "between 1 and 3600"},
        {"body_timeout", "3601", "between 1 and 3600"},
        {"body_min_rate", "-1", "between 0 and 1000000000"},
        {"linger_timeout", "\"30s\"", "whole number"},
        {"linger_max_bytes", "1099511627777", "between 0 and 1099511627776"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[256], key[64];
        snprintf (json, sizeof json,
                  "{\"shared_secret\":\"s\",\"ingest\":{\"%s\":%s},\"dialect\":\"file\","
                  "\"file\":{\"file_path\":\"x\"}}",
                  bad[i].key, bad[i].value);
        snprintf (key, sizeof key, "ingest.%s", bad[i].key);
        s_expect_error (json, key, bad[i].reason);
    }
}

/* ingest.name: the ingest_instance label of the router's metrics. */
static void
test_ingest_name (void **state)
{
    (void)state;
    hm_config_t *cfg = s_parse ("{\"shared_secret\":\"s\",\"dialect\":\"file\","
                                "\"file\":{\"file_path\":\"x\"}}");
    assert_non_null (cfg);
    assert_null (cfg->ingest_name); /* the ingest then uses HOSTNAME:PORT */
    hm_config_destroy (&cfg);
    cfg = s_parse ("{\"shared_secret\":\"s\",\"ingest\":{\"name\":\"edge-1.eu:8080_a\"},"
                   "\"dialect\":\"file\",\"file\":{\"file_path\":\"x\"}}");
    assert_non_null (cfg);
    assert_string_equal (cfg->ingest_name, "edge-1.eu:8080_a");
    hm_config_destroy (&cfg);
    /* HAMUSTRO_HOST replaces the host only: the name stays (it was freed
       there once, and then read by the ingest). */
    setenv ("HAMUSTRO_HOST", "127.0.0.1", 1);
    cfg = s_parse ("{\"shared_secret\":\"s\",\"ingest\":{\"name\":\"n1\"},"
                   "\"dialect\":\"file\",\"file\":{\"file_path\":\"x\"}}");
    unsetenv ("HAMUSTRO_HOST");
    assert_non_null (cfg);
    assert_string_equal (cfg->host, "127.0.0.1");
    assert_string_equal (cfg->ingest_name, "n1");
    hm_config_destroy (&cfg);
    const char *bad[] = {"\"\"", "\"a b\"", "\"a\\\"b\"",
                         "\"x123456789x123456789x123456789x123456789x123456789x123456789xxxxx\"",
                         "7"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[256];
        snprintf (json, sizeof json,
                  "{\"shared_secret\":\"s\",\"ingest\":{\"name\":%s},\"dialect\":\"file\","
                  "\"file\":{\"file_path\":\"x\"}}",
                  bad[i]);
        s_expect_error (json, "ingest.name", i == 4 ? "string" : "letters, digits");
    }
    assert_true (hm_config_label_ok ("a", 1));
    assert_false (hm_config_label_ok ("a", 0));
    assert_false (hm_config_label_ok ("a\n", 2));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_embedded_default),
        cmocka_unit_test (test_original_config_is_one_route),
        cmocka_unit_test (test_original_file_dialect),
        cmocka_unit_test (test_routes_with_filters),
        cmocka_unit_test (test_max_clock_skew),
        cmocka_unit_test (test_tap_json),
        cmocka_unit_test (test_trusted_proxies),
        cmocka_unit_test (test_errors_name_key_and_reason),
        cmocka_unit_test (test_typed_readers),
        cmocka_unit_test (test_environment_overrides),
        cmocka_unit_test (test_load_from_file),
        cmocka_unit_test (test_route_instances),
        cmocka_unit_test (test_max_bytes_fits_the_wire),
        cmocka_unit_test (test_route_arg),
        cmocka_unit_test (test_ingest_police_keys),
        cmocka_unit_test (test_ingest_name),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
