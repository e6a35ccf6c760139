/*  Unit tests for ingest/ingest_http: request classification, Content-Type
    parsing, Content-Length parsing, the signature decision, the maintenance
    key, the router status mapping, error bodies, and the counters that
    GET /api/stats answers (ingest/stats). */
/* cmocka needs these before it; keep clang-format from sorting them. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <string.h>

#include "digest.h"
#include "ingest_http.h"
#include "signature.h"
#include "stats.h"

static void
test_classify (void **state)
{
    (void)state;
    const char *allow = NULL;
    assert_int_equal (hm_ingest_classify ("/api/v1/track", "POST", &allow), HM_REQ_TRACK);
    assert_int_equal (hm_ingest_classify ("/api/v1/track?x=1", "POST", &allow), HM_REQ_TRACK);
    assert_int_equal (hm_ingest_classify ("/api/health", "GET", &allow), HM_REQ_HEALTH);
    assert_int_equal (hm_ingest_classify ("/api/health", "HEAD", &allow), HM_REQ_HEALTH);
    assert_int_equal (hm_ingest_classify ("/api/flush", "POST", &allow), HM_REQ_FLUSH);
    assert_int_equal (hm_ingest_classify ("/api/stats", "GET", &allow), HM_REQ_STATS);
    assert_int_equal (hm_ingest_classify ("/api/stats", "HEAD", &allow), HM_REQ_STATS);

    allow = NULL;
    assert_int_equal (hm_ingest_classify ("/api/v1/track", "GET", &allow), HM_REQ_BAD_METHOD);
    assert_string_equal (allow, "POST");
    allow = NULL;
    assert_int_equal (hm_ingest_classify ("/api/health", "POST", &allow), HM_REQ_BAD_METHOD);
    assert_string_equal (allow, "GET, HEAD");
    allow = NULL;
    assert_int_equal (hm_ingest_classify ("/api/flush", "GET", &allow), HM_REQ_BAD_METHOD);
    assert_string_equal (allow, "POST");
    allow = NULL;
    assert_int_equal (hm_ingest_classify ("/api/stats", "POST", &allow), HM_REQ_BAD_METHOD);
    assert_string_equal (allow, "GET, HEAD");
    assert_int_equal (hm_ingest_classify ("/api/statsx", "GET", NULL), HM_REQ_NOT_FOUND);

    assert_int_equal (hm_ingest_classify ("/api/v1/track/", "POST", NULL), HM_REQ_NOT_FOUND);
    assert_int_equal (hm_ingest_classify ("/api/v1/trackx", "POST", NULL), HM_REQ_NOT_FOUND);
    assert_int_equal (hm_ingest_classify ("/", "GET", NULL), HM_REQ_NOT_FOUND);
    assert_int_equal (hm_ingest_classify ("", "GET", NULL), HM_REQ_NOT_FOUND);
    assert_int_equal (hm_ingest_classify (NULL, "GET", NULL), HM_REQ_NOT_FOUND);
    /* Methods are case-sensitive (RFC 9110). */
    assert_int_equal (hm_ingest_classify ("/api/v1/track", "post", NULL), HM_REQ_BAD_METHOD);
}

static void
test_body_kind (void **state)
{
    (void)state;
    assert_int_equal (hm_ingest_body_kind ("application/protobuf"), HM_BODY_PROTOBUF);
    assert_int_equal (hm_ingest_body_kind ("application/x-protobuf"), HM_BODY_PROTOBUF);
    assert_int_equal (hm_ingest_body_kind ("Application/X-Protobuf"), HM_BODY_PROTOBUF);
    assert_int_equal (hm_ingest_body_kind ("application/json"), HM_BODY_JSON);
    assert_int_equal (hm_ingest_body_kind ("application/json; charset=utf-8"), HM_BODY_JSON);
    assert_int_equal (hm_ingest_body_kind ("  APPLICATION/JSON ;charset=UTF-8"), HM_BODY_JSON);
    assert_int_equal (hm_ingest_body_kind ("application/protobuf;proto=Collection"),
                      HM_BODY_PROTOBUF);
    assert_int_equal (hm_ingest_body_kind (NULL), HM_BODY_UNSUPPORTED);
    assert_int_equal (hm_ingest_body_kind (""), HM_BODY_UNSUPPORTED);
    assert_int_equal (hm_ingest_body_kind ("text/plain"), HM_BODY_UNSUPPORTED);
    assert_int_equal (hm_ingest_body_kind ("application/jsonx"), HM_BODY_UNSUPPORTED);
    assert_int_equal (hm_ingest_body_kind ("application/js"), HM_BODY_UNSUPPORTED);
    assert_int_equal (hm_ingest_body_kind ("application/octet-stream"), HM_BODY_UNSUPPORTED);
}

static void
test_parse_length (void **state)
{
    (void)state;
    uint64_t n = 99;
    assert_int_equal (hm_ingest_parse_length ("0", &n), 0);
    assert_int_equal (n, 0);
    assert_int_equal (hm_ingest_parse_length ("1048577", &n), 0);
    assert_int_equal (n, 1048577);
    assert_int_equal (hm_ingest_parse_length (" 12 ", &n), 0);
    assert_int_equal (n, 12);
    assert_int_equal (hm_ingest_parse_length ("18446744073709551615", &n), 0);
    assert_true (n == UINT64_MAX);
    assert_int_equal (hm_ingest_parse_length ("18446744073709551616", &n), -1);
    assert_int_equal (hm_ingest_parse_length ("", &n), -1);
    assert_int_equal (hm_ingest_parse_length ("-1", &n), -1);
    assert_int_equal (hm_ingest_parse_length ("12a", &n), -1);
    assert_int_equal (hm_ingest_parse_length (NULL, &n), -1);
}

static void
test_signature (void **state)
{
    (void)state;
    const char *body = "hello body";
    size_t len = strlen (body);
    char good[45];
    hm_signature (body, len, "1454514088", "ultrasafesecret", good);

    /* Optional and absent: passes. Required and absent: fails. */
    assert_null (hm_ingest_check_signature (false, NULL, NULL, body, len, "ultrasafesecret"));
    assert_null (hm_ingest_check_signature (false, "", "", body, len, "ultrasafesecret"));
    assert_string_equal (hm_ingest_check_signature (true, NULL, NULL, body, len, "ultrasafesecret"),
                         "X-Hamustro-Time header is missing");

    /* Valid, required or not. */
    assert_null (
        hm_ingest_check_signature (true, "1454514088", good, body, len, "ultrasafesecret"));
    assert_null (
        hm_ingest_check_signature (false, "1454514088", good, body, len, "ultrasafesecret"));

    /* One header only: checked even when optional. */
    assert_string_equal (
        hm_ingest_check_signature (false, "1454514088", NULL, body, len, "ultrasafesecret"),
        "X-Hamustro-Signature header is missing");
    assert_string_equal (
        hm_ingest_check_signature (false, NULL, good, body, len, "ultrasafesecret"),
        "X-Hamustro-Time header is missing");

    /* Wrong time, body, secret or signature. */
    const char *invalid = "X-Hamustro-Signature header is invalid";
    assert_string_equal (
        hm_ingest_check_signature (true, "1454514089", good, body, len, "ultrasafesecret"),
        invalid);
    assert_string_equal (
        hm_ingest_check_signature (true, "1454514088", good, body, len - 1, "ultrasafesecret"),
        invalid);
    assert_string_equal (
        hm_ingest_check_signature (true, "1454514088", good, body, len, "othersecret"), invalid);
    assert_string_equal (
        hm_ingest_check_signature (false, "1454514088", "AAAA", body, len, "ultrasafesecret"),
        invalid);
}

static void
test_maintenance_key (void **state)
{
    (void)state;
    char hex[65];
    hm_sha256_hex ("s3cret", 6, hex);
    assert_true (hm_ingest_maintenance_key_ok (hex, hex));
    char copy[65];
    memcpy (copy, hex, sizeof copy);
    assert_true (hm_ingest_maintenance_key_ok (copy, hex));
    copy[63] = copy[63] == 'a' ? 'b' : 'a';
    assert_false (hm_ingest_maintenance_key_ok (copy, hex));
    assert_false (hm_ingest_maintenance_key_ok ("s3cret", hex));
    assert_false (hm_ingest_maintenance_key_ok ("", hex));
    assert_false (hm_ingest_maintenance_key_ok (NULL, hex));
}

static void
test_append_status (void **state)
{
    (void)state;
    assert_int_equal (hm_ingest_append_status (0), 200);
    assert_int_equal (hm_ingest_append_status (1), 503);
    assert_int_equal (hm_ingest_append_status (2), 503);
    assert_int_equal (hm_ingest_append_status (77), 503);
    assert_string_equal (hm_ingest_status_name (413), "Payload Too Large");
    assert_string_equal (hm_ingest_status_name (401), "Unauthorized");
}

static void
test_error_json (void **state)
{
    (void)state;
    char out[128];
    size_t n = hm_ingest_error_json (out, sizeof out, "log full");
    assert_string_equal (out, "{\"error\":\"log full\"}");
    assert_int_equal (n, strlen (out));

    hm_ingest_error_json (out, sizeof out, "say \"hi\" \\ now\n");
    assert_string_equal (out, "{\"error\":\"say \\\"hi\\\" \\\\ now\\u000a\"}");

    hm_ingest_error_json (out, sizeof out, NULL);
    assert_string_equal (out, "{\"error\":\"\"}");

    /* Cut to fit, never overflowing and always valid JSON. */
    char small[24];
    n = hm_ingest_error_json (small, sizeof small, "a very long reason that does not fit");
    assert_true (n < sizeof small);
    assert_int_equal (n, strlen (small));
    assert_string_equal (small + n - 2, "\"}");
    assert_memory_equal (small, "{\"error\":\"a very", 15);

    /* A cut never leaves half of a UTF-8 character: "é" is two bytes. */
    char tiny[16]; /* room for 3 bytes of reason */
    n = hm_ingest_error_json (tiny, sizeof tiny, "ab\xc3\xa9");
    assert_string_equal (tiny, "{\"error\":\"ab\"}");
}

static void
test_stats (void **state)
{
    (void)state;
    hm_ingest_stats_t s;
    hm_ingest_stats_init (&s, 1000);
    char out[HM_STATS_JSON_MAX];
    size_t n = hm_ingest_stats_json (&s, 1999, out, sizeof out);
    assert_string_equal (out, "{\"uptime_s\":0,\"requests\":0,\"answers\":{\"200\":0,\"204\":0,"
                              "\"400\":0,\"401\":0,\"404\":0,\"405\":0,\"413\":0,\"415\":0,"
                              "\"503\":0,\"other\":0},\"track_accepted\":0,\"events_accepted\":0,"
                              "\"closed_slow\":{\"head\":0,\"body\":0,\"linger\":0,\"full\":0}}");
    assert_int_equal (n, strlen (out));

    hm_ingest_stats_count (&s, 200, 1, 3);  /* a track request of 3 events */
    hm_ingest_stats_count (&s, 200, 1, 25); /* and one of 25 */
    hm_ingest_stats_count (&s, 200, 0, 0);  /* a health check */
    hm_ingest_stats_count (&s, 503, 0, 0);
    hm_ingest_stats_count (&s, 503, 0, 0);
    hm_ingest_stats_count (&s, 415, 0, 0);
    hm_ingest_stats_count (&s, 500, 0, 0); /* none of the listed: "other" */
    hm_ingest_stats_count (&s, 0, 0, 0);
    hm_ingest_stats_closed (&s, 0); /* slow connections closed: 2 heads, */
    hm_ingest_stats_closed (&s, 0);
    hm_ingest_stats_closed (&s, 3); /* one for a full table */
    hm_ingest_stats_closed (&s, 4); /* and no such reason: ignored */
    hm_ingest_stats_closed (&s, -1);
    n = hm_ingest_stats_json (&s, 62500, out, sizeof out);
    assert_string_equal (out, "{\"uptime_s\":61,\"requests\":8,\"answers\":{\"200\":3,\"204\":0,"
                              "\"400\":0,\"401\":0,\"404\":0,\"405\":0,\"413\":0,\"415\":1,"
                              "\"503\":2,\"other\":2},\"track_accepted\":2,\"events_accepted\":28,"
                              "\"closed_slow\":{\"head\":2,\"body\":0,\"linger\":0,\"full\":1}}");
    assert_int_equal (n, strlen (out));
    /* A clock before the start reads as 0 s, not a negative uptime. */
    hm_ingest_stats_json (&s, 10, out, sizeof out);
    assert_memory_equal (out, "{\"uptime_s\":0,", 14);

    /* Too small a buffer: 0, never a cut object. Every size below the
       whole length fails, the whole length plus the NUL fits. */
    char whole[HM_STATS_JSON_MAX];
    size_t len = hm_ingest_stats_json (&s, 62500, whole, sizeof whole);
    for (size_t cap = 0; cap <= len; cap++) {
        char small[HM_STATS_JSON_MAX];
        assert_int_equal (hm_ingest_stats_json (&s, 62500, small, cap), 0);
    }
    assert_int_equal (hm_ingest_stats_json (&s, 62500, out, len + 1), len);
    assert_string_equal (out, whole);

    /* The largest values still fit HM_STATS_JSON_MAX. */
    for (size_t i = 0; i < HM_STATS_SLOTS; i++)
        atomic_store (&s.answers[i], UINT64_MAX / HM_STATS_SLOTS);
    atomic_store (&s.track_accepted, UINT64_MAX);
    atomic_store (&s.events_accepted, UINT64_MAX);
    for (size_t i = 0; i < HM_STATS_CLOSED; i++)
        atomic_store (&s.closed[i], UINT64_MAX);
    s.started_ms = INT64_MIN + 1;
    assert_true (hm_ingest_stats_json (&s, INT64_MAX, out, sizeof out) > 0);
}

/* The replay window: both edges, both directions, exactly. */
static void
test_clock_skew (void **state)
{
    (void)state;
    char why[256];
    const int64_t now = 1765000000;
    /* Off (0), and unsigned requests under "signature": "optional". */
    assert_null (hm_ingest_check_time ("1454514088", now, 0, why, sizeof why));
    assert_null (hm_ingest_check_time (NULL, now, 300, why, sizeof why));
    assert_null (hm_ingest_check_time ("", now, 300, why, sizeof why));
    /* Inside: now, and exactly skew either way. */
    assert_null (hm_ingest_check_time ("1765000000", now, 300, why, sizeof why));
    assert_null (hm_ingest_check_time ("1764999700", now, 300, why, sizeof why));
    assert_null (hm_ingest_check_time ("1765000300", now, 300, why, sizeof why));
    /* One second outside, behind and ahead; the reason says which. */
    const char *r = hm_ingest_check_time ("1764999699", now, 300, why, sizeof why);
    assert_non_null (r);
    assert_non_null (strstr (r, "301 s behind the server's clock"));
    assert_non_null (strstr (r, "max_clock_skew_s (300 s)"));
    r = hm_ingest_check_time ("1765000301", now, 300, why, sizeof why);
    assert_non_null (r);
    assert_non_null (strstr (r, "301 s ahead of the server's clock"));
    /* The original's sample time, years old: a replay. */
    r = hm_ingest_check_time ("1454514088", now, 300, why, sizeof why);
    assert_non_null (r);
    assert_non_null (strstr (r, "behind"));
    /* Not epoch seconds. */
    const char *bad[] = {"abc", "-5", "1765000000.5", "1e9", "99999999999999999999999",
                         "9223372036854775807"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = hm_ingest_check_time (bad[i], now, 300, why, sizeof why);
        assert_non_null (r);
        assert_non_null (strstr (r, "not epoch seconds"));
    }
    /* A small buffer cuts the reason, never overflows. */
    char small[16];
    r = hm_ingest_check_time ("1", now, 300, small, sizeof small);
    assert_non_null (r);
    assert_int_equal (strlen (r), sizeof small - 1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_classify),        cmocka_unit_test (test_body_kind),
        cmocka_unit_test (test_parse_length),    cmocka_unit_test (test_signature),
        cmocka_unit_test (test_maintenance_key), cmocka_unit_test (test_append_status),
        cmocka_unit_test (test_error_json),      cmocka_unit_test (test_stats),
        cmocka_unit_test (test_clock_skew),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
