/*  Unit tests for ingest/track: the answers the ingest decides without a
    socket, from the request line and headers (hm_ingest_head) and for a
    track request's headers and body (hm_track_decide), as request.c calls
    them. The HTTP side of the same answers is test_status_codes.py. */
/* cmocka needs these before it; keep clang-format from sorting them. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "signature.h"
#include "track.h"

#define S_SECRET "unit-secret"

typedef struct {
    const char *name[8];
    const char *value[8];
} s_headers_t;

static const char *
s_header (void *ctx, const char *name)
{
    const s_headers_t *h = ctx;
    for (size_t i = 0; i < 8 && h->name[i]; i++)
        if (strcasecmp (h->name[i], name) == 0)
            return h->value[i];
    return NULL;
}

static hm_config_t
s_config (bool required)
{
    hm_config_t cfg;
    memset (&cfg, 0, sizeof cfg);
    cfg.shared_secret = S_SECRET;
    cfg.signature_required = required;
    cfg.max_body_bytes = 1000;
    return cfg;
}

/* A valid JSON collection with n payloads (0 or 1). */
static void
s_body (char *out, size_t cap, int n)
{
    char session[33];
    hm_session ("dev", "cli", "1.0", "2.0", 11, session);
    snprintf (out, cap,
              "{\"deviceId\":\"dev\",\"clientId\":\"cli\",\"session\":\"%s\","
              "\"systemVersion\":\"1.0\",\"productVersion\":\"2.0\",\"env\":11,"
              "\"payloads\":[%s]}",
              session, n ? "{\"at\":\"1700000000\",\"event\":\"e\",\"nr\":1}" : "");
}

#define S_NOW 1700000000 /* the clock the requests are decided at */

/* Decides body (len bytes) as request.c does: with a scratch buffer for a
   compressed body, or none when inflated is false. */
static unsigned
s_decide_n (const hm_config_t *cfg, s_headers_t *h, const char *body, size_t len, bool inflated,
            hm_track_answer_t *a)
{
    hm_arena_t arena;
    hm_arena_init (&arena, 4096);
    hm_buf_t scratch;
    hm_buf_init (&scratch, (size_t)cfg->max_body_bytes + 1);
    hm_track_request_t req = {
        s_header, h, "203.0.113.5", body, len, S_NOW, inflated ? &scratch : NULL};
    unsigned status = hm_track_decide (cfg, &arena, &req, a);
    hm_buf_free (&scratch);
    if (status == 200) {
        assert_non_null (a->col);
        assert_int_equal (a->col->n_payloads, 1);
    }
    hm_track_release (&arena, a);
    assert_null (a->col);
    hm_arena_destroy (&arena);
    return status;
}

static unsigned
s_decide (const hm_config_t *cfg, s_headers_t *h, const char *body, hm_track_answer_t *a)
{
    return s_decide_n (cfg, h, body, strlen (body), true, a);
}

static void
test_head (void **state)
{
    (void)state;
    s_headers_t h = {{"Content-Length"}, {"1001"}};
    hm_req_kind_t kind;
    const char *allow, *reason;
    uint64_t n;
    assert_int_equal (
        hm_ingest_head ("/nope", "POST", false, s_header, &h, 1000, &kind, &allow, &reason, &n),
        404);
    assert_int_equal (hm_ingest_head ("/api/v1/track", "GET", false, s_header, &h, 1000, &kind,
                                      &allow, &reason, &n),
                      405);
    assert_string_equal (allow, "POST");
    assert_int_equal (hm_ingest_head ("/api/v1/track", "POST", true, s_header, &h, 1000, &kind,
                                      &allow, &reason, &n),
                      503);
    assert_string_equal (reason, "server is stopping");
    assert_int_equal (hm_ingest_head ("/api/v1/track", "POST", false, s_header, &h, 1000, &kind,
                                      &allow, &reason, &n),
                      413);
    h.value[0] = "1000";
    assert_int_equal (hm_ingest_head ("/api/v1/track", "POST", false, s_header, &h, 1000, &kind,
                                      &allow, &reason, &n),
                      0);
    assert_int_equal (kind, HM_REQ_TRACK);
    assert_int_equal (n, 1000);
    /* A malformed length is read as no length: the body is bounded as it
       comes. */
    h.value[0] = "12x";
    assert_int_equal (hm_ingest_head ("/api/v1/track", "POST", false, s_header, &h, 1000, &kind,
                                      &allow, &reason, &n),
                      0);
    assert_int_equal (n, 0);
}

static void
test_decide (void **state)
{
    (void)state;
    char body[512], sig[45];
    s_body (body, sizeof body, 1);
    hm_signature (body, strlen (body), "1700000000", S_SECRET, sig);
    hm_config_t required = s_config (true), optional = s_config (false);
    hm_track_answer_t a;

    s_headers_t h = {
        {"content-type", "X-Hamustro-Time", "X-Hamustro-Signature", "X-Forwarded-For"},
        {"application/json; charset=utf-8", "1700000000", sig, "10.0.0.1, 198.51.100.7"}};
    /* no trusted_proxies: the header is the client's own word, ignored */
    assert_int_equal (s_decide (&required, &h, body, &a), 200);
    assert_string_equal (a.ip, "203.0.113.5");
    assert_string_equal (a.reason, "");

    /* the peer is a trusted proxy: the address it saw */
    char err[128];
    assert_int_equal (
        hm_cidr_parse ("203.0.113.0/24", &required.trusted_proxies[0], err, sizeof err), 0);
    required.n_trusted_proxies = 1;
    assert_int_equal (s_decide (&required, &h, body, &a), 200);
    assert_string_equal (a.ip, "198.51.100.7");

    /* it saw a private address: none recorded */
    h.value[3] = "198.51.100.7, 10.0.0.1";
    assert_int_equal (s_decide (&required, &h, body, &a), 200);
    assert_string_equal (a.ip, "");
    required.n_trusted_proxies = 0;

    h.value[2] = "AAAA";
    assert_int_equal (s_decide (&required, &h, body, &a), 401);
    assert_true (a.reason[0] != '\0');
    assert_int_equal (a.refusal, HM_REFUSAL_SIGNATURE); /* its cause, counted (refusal.h) */

    s_headers_t unsigned_json = {{"Content-Type"}, {"application/json"}};
    assert_int_equal (s_decide (&required, &unsigned_json, body, &a), 401);
    assert_int_equal (s_decide (&optional, &unsigned_json, body, &a), 200);

    s_headers_t text = {{"Content-Type"}, {"text/plain"}};
    assert_int_equal (s_decide (&optional, &text, body, &a), 415);
    assert_int_equal (a.refusal, HM_REFUSAL_CONTENT_TYPE);
    s_headers_t none = {{NULL}, {NULL}};
    assert_int_equal (s_decide (&optional, &none, body, &a), 415);

    s_headers_t pb = {{"Content-Type"}, {"application/protobuf"}};
    assert_int_equal (s_decide (&optional, &pb, body, &a), 400);
    assert_string_equal (a.reason, "body is not a valid protobuf Collection");
    assert_int_equal (a.refusal, HM_REFUSAL_DECODE);

    assert_int_equal (s_decide (&optional, &unsigned_json, "{", &a), 400);

    char empty[512];
    s_body (empty, sizeof empty, 0);
    assert_int_equal (s_decide (&optional, &unsigned_json, empty, &a), 204);
    assert_int_equal (a.refusal, HM_REFUSAL_NONE);

    char *wrong = strstr (body, "\"session\":\"") + 11;
    *wrong = *wrong == '0' ? '1' : '0';
    assert_int_equal (s_decide (&optional, &unsigned_json, body, &a), 400);
    assert_string_equal (a.reason, "Collection's session attribute is invalid");
    assert_int_equal (a.refusal, HM_REFUSAL_SESSION);
}

/* Content-Encoding and max_clock_skew_s, decided here since the merge of
   the gzip and replay-window work into hm_track_decide. */
static void
test_encoding_and_clock (void **state)
{
    (void)state;
    char body[512];
    s_body (body, sizeof body, 1);
    unsigned char packed[600];
    uLongf packed_len = sizeof packed;
    assert_int_equal (compress2 (packed, &packed_len, (const Bytef *)body, strlen (body), 6), Z_OK);
    hm_config_t optional = s_config (false);
    hm_track_answer_t a;

    s_headers_t h = {{"content-type", "Content-Encoding"}, {"application/json", "deflate"}};
    assert_int_equal (s_decide_n (&optional, &h, (char *)packed, packed_len, true, &a), 200);
    /* no scratch to inflate into: refused, never decoded as sent */
    assert_int_equal (s_decide_n (&optional, &h, (char *)packed, packed_len, false, &a), 415);
    h.value[1] = "br";
    assert_int_equal (s_decide_n (&optional, &h, (char *)packed, packed_len, true, &a), 415);
    assert_int_equal (a.refusal, HM_REFUSAL_CONTENT_ENCODING);
    /* corrupt compressed data: 400 */
    h.value[1] = "gzip";
    assert_int_equal (s_decide_n (&optional, &h, (char *)packed, packed_len, true, &a), 400);
    assert_int_equal (a.refusal, HM_REFUSAL_BAD_COMPRESSION);
    /* inflating past max_body_bytes: 413 */
    h.value[1] = "deflate";
    optional.max_body_bytes = strlen (body) - 1;
    assert_int_equal (s_decide_n (&optional, &h, (char *)packed, packed_len, true, &a), 413);
    assert_int_equal (a.refusal, HM_REFUSAL_INFLATED_TOO_LARGE);

    /* a signed request outside the window: 401, inside: 200 */
    hm_config_t required = s_config (true);
    required.max_clock_skew_s = 300;
    char sig[45], when[16];
    s_headers_t signed_h = {{"content-type", "X-Hamustro-Time", "X-Hamustro-Signature"},
                            {"application/json", when, sig}};
    snprintf (when, sizeof when, "%d", S_NOW - 301);
    hm_signature (body, strlen (body), when, S_SECRET, sig);
    assert_int_equal (s_decide (&required, &signed_h, body, &a), 401);
    assert_int_equal (a.refusal, HM_REFUSAL_CLOCK_SKEW);
    snprintf (when, sizeof when, "%d", S_NOW + 300);
    hm_signature (body, strlen (body), when, S_SECRET, sig);
    assert_int_equal (s_decide (&required, &signed_h, body, &a), 200);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_head),
        cmocka_unit_test (test_decide),
        cmocka_unit_test (test_encoding_and_clock),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
