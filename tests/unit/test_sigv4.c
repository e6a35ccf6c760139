/*  test_sigv4: AWS Signature V4 against the published AWS test suite
    (tests/data/aws-sigv4, Apache 2.0, from awslabs/aws-c-auth), every case
    in both modes: Authorization header and presigned query. For each case
    the canonical request, the string to sign, the signature and the whole
    signed request must equal the suite's files byte for byte. Then a few
    published examples for single steps (signing key, S3 requests). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "hm_buf.h"
#include "sigv4.h"

#define SUITE_DIR HM_TEST_DATA_DIR "/aws-sigv4"
#define SUITE_CASES 38 /* folders in the suite as copied; a lost folder must fail */
#define MAX_HEADERS 32

static char *
s_read (const char *dir, const char *name, size_t *len_p)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/%s/%s", SUITE_DIR, dir, name);
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
    return hm_buf_steal (&buf, len_p);
}

/* One request.txt: request line, headers (folded lines kept with "\n"),
   then an optional body after a blank line. */
typedef struct {
    char *text;                             /* the file, cut in place */
    char *method;                           /* "GET" */
    char *path;                             /* "/example space/" (may hold spaces) */
    char *query;                            /* after '?', or NULL */
    char *raw[MAX_HEADERS];                 /* each header's lines as in the file */
    hm_sigv4_header_t headers[MAX_HEADERS]; /* name and value for signing */
    size_t count;                           /* headers */
    const char *body;                       /* body or "" */
    size_t body_len;                        /* bytes in body */
} s_request_t;

static void
s_request_free (s_request_t *r)
{
    for (size_t i = 0; i < r->count; i++) {
        free (r->raw[i]);
        free ((char *)r->headers[i].name);
        free ((char *)r->headers[i].value);
    }
    free (r->text);
    memset (r, 0, sizeof *r);
}

static int
s_request_parse (s_request_t *r, char *text, size_t len)
{
    memset (r, 0, sizeof *r);
    r->text = text;
    r->body = "";
    char *sep = strstr (text, "\n\n");
    if (sep) {
        *sep = '\0';
        r->body = sep + 2;
        r->body_len = len - (size_t)(sep + 2 - text);
    }
    char *line_end = strchr (text, '\n');
    if (line_end)
        *line_end = '\0';
    /* The target may hold spaces: method is up to the first space, the
       version after the last. */
    char *first = strchr (text, ' ');
    char *last = strrchr (text, ' ');
    if (!first || last == first)
        return -1;
    *first = '\0';
    *last = '\0';
    r->method = text;
    r->path = first + 1;
    char *q = strchr (r->path, '?');
    if (q) {
        *q = '\0';
        r->query = q + 1;
    }
    char *p = line_end ? line_end + 1 : NULL;
    while (p && *p) {
        char *end = strchr (p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen (p);
        if ((*p == ' ' || *p == '\t') && r->count > 0) {
            /* A folded line continues the previous header's value. */
            hm_buf_t v, raw;
            hm_buf_init (&v, 0);
            hm_buf_init (&raw, 0);
            hm_buf_printf (&v, "%s\n%.*s", r->headers[r->count - 1].value, (int)n, p);
            hm_buf_printf (&raw, "%s\n%.*s", r->raw[r->count - 1], (int)n, p);
            free ((char *)r->headers[r->count - 1].value);
            free (r->raw[r->count - 1]);
            r->headers[r->count - 1].value = hm_buf_steal (&v, NULL);
            r->raw[r->count - 1] = hm_buf_steal (&raw, NULL);
        }
        else {
            char *colon = memchr (p, ':', n);
            if (!colon || r->count == MAX_HEADERS)
                return -1;
            r->headers[r->count].name = strndup (p, (size_t)(colon - p));
            r->headers[r->count].value = strndup (colon + 1, n - (size_t)(colon - p) - 1);
            r->raw[r->count] = strndup (p, n);
            r->count++;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

/* Compares one computed string with one of the case's files. */
static int
s_expect (const char *dir, const char *file, const char *got)
{
    size_t len = 0;
    char *want = s_read (dir, file, &len);
    int bad = !want || !got || strlen (got) != len || memcmp (want, got, len) != 0;
    if (bad)
        print_error ("%s/%s differs\n--- expected\n%s\n--- computed\n%s\n", dir, file,
                     want ? want : "(missing)", got ? got : "(null)");
    free (want);
    return bad;
}

typedef struct {
    hm_aws_credentials_t cred;
    char amz_date[17];
    hm_sigv4_options_t opts;
    long expires;
    cJSON *json;
} s_context_t;

static int
s_context_load (s_context_t *ctx, const char *dir)
{
    memset (ctx, 0, sizeof *ctx);
    char *text = s_read (dir, "context.json", NULL);
    ctx->json = text ? cJSON_Parse (text) : NULL;
    free (text);
    if (!ctx->json)
        return -1;
    const cJSON *c = cJSON_GetObjectItem (ctx->json, "credentials");
    ctx->cred.access_key_id = cJSON_GetStringValue (cJSON_GetObjectItem (c, "access_key_id"));
    ctx->cred.secret_access_key =
        cJSON_GetStringValue (cJSON_GetObjectItem (c, "secret_access_key"));
    ctx->cred.session_token = cJSON_GetStringValue (cJSON_GetObjectItem (c, "token"));
    ctx->cred.region = cJSON_GetStringValue (cJSON_GetObjectItem (ctx->json, "region"));
    ctx->cred.service = cJSON_GetStringValue (cJSON_GetObjectItem (ctx->json, "service"));
    const char *ts = cJSON_GetStringValue (cJSON_GetObjectItem (ctx->json, "timestamp"));
    /* "2015-08-30T12:36:00Z" -> "20150830T123600Z" */
    size_t n = 0;
    for (; ts && *ts && n < 16; ts++)
        if (*ts != '-' && *ts != ':')
            ctx->amz_date[n++] = *ts;
    ctx->amz_date[n] = '\0';
    bool normalize = cJSON_IsTrue (cJSON_GetObjectItem (ctx->json, "normalize"));
    ctx->opts.normalize_path = normalize;
    ctx->opts.double_encode = normalize;
    ctx->opts.content_sha256 = cJSON_IsTrue (cJSON_GetObjectItem (ctx->json, "sign_body"));
    ctx->opts.omit_session_token =
        cJSON_IsTrue (cJSON_GetObjectItem (ctx->json, "omit_session_token"));
    const cJSON *exp = cJSON_GetObjectItem (ctx->json, "expiration_in_seconds");
    ctx->expires = cJSON_IsNumber (exp) ? (long)exp->valuedouble : 3600;
    return ctx->cred.access_key_id && ctx->cred.secret_access_key && ctx->cred.region &&
                   ctx->cred.service && n == 16
               ? 0
               : -1;
}

/* Runs one case in both modes; returns how many comparisons failed. */
static int
s_run_case (const char *dir)
{
    s_context_t ctx;
    s_request_t req;
    size_t len = 0;
    char *text = s_read (dir, "request.txt", &len);
    if (s_context_load (&ctx, dir) != 0 || !text || s_request_parse (&req, text, len) != 0) {
        print_error ("%s: cannot load context.json or request.txt\n", dir);
        cJSON_Delete (ctx.json);
        return 1;
    }
    hm_sigv4_request_t r = {req.method, req.path, req.query,    req.headers,
                            req.count,  req.body, req.body_len, NULL};
    int bad = 0;
    char err[256];
    hm_sigv4_result_t res;
    hm_buf_t signed_req;

    /* Authorization header. */
    if (hm_sigv4_sign (&r, &ctx.cred, ctx.amz_date, &ctx.opts, &res, err, sizeof err) != 0) {
        print_error ("%s: sign: %s\n", dir, err);
        bad++;
    }
    else {
        bad += s_expect (dir, "header-canonical-request.txt", res.canonical_request);
        bad += s_expect (dir, "header-string-to-sign.txt", res.string_to_sign);
        bad += s_expect (dir, "header-signature.txt", res.signature);
        hm_buf_init (&signed_req, 0);
        hm_buf_printf (&signed_req, "%s %s%s%s HTTP/1.1\n", req.method, req.path,
                       req.query ? "?" : "", req.query ? req.query : "");
        for (size_t i = 0; i < req.count; i++)
            hm_buf_printf (&signed_req, "%s\n", req.raw[i]);
        for (size_t i = 0; i < res.added_count; i++)
            hm_buf_printf (&signed_req, "%s:%s\n", res.added[i].name, res.added[i].value);
        hm_buf_puts (&signed_req, "\n");
        hm_buf_append (&signed_req, req.body, req.body_len);
        bad += s_expect (dir, "header-signed-request.txt", signed_req.data);
        hm_buf_free (&signed_req);
    }
    hm_sigv4_result_free (&res);

    /* Presigned query. */
    if (hm_sigv4_presign (&r, &ctx.cred, ctx.amz_date, ctx.expires, &ctx.opts, &res, err,
                          sizeof err) != 0) {
        print_error ("%s: presign: %s\n", dir, err);
        bad++;
    }
    else {
        bad += s_expect (dir, "query-canonical-request.txt", res.canonical_request);
        bad += s_expect (dir, "query-string-to-sign.txt", res.string_to_sign);
        bad += s_expect (dir, "query-signature.txt", res.signature);
        hm_buf_init (&signed_req, 0);
        hm_buf_printf (&signed_req, "%s %s?%s HTTP/1.1\n", req.method, req.path,
                       res.presigned_query);
        for (size_t i = 0; i < req.count; i++)
            hm_buf_printf (&signed_req, "%s\n", req.raw[i]);
        hm_buf_puts (&signed_req, "\n");
        hm_buf_append (&signed_req, req.body, req.body_len);
        bad += s_expect (dir, "query-signed-request.txt", signed_req.data);
        hm_buf_free (&signed_req);
    }
    hm_sigv4_result_free (&res);
    s_request_free (&req);
    cJSON_Delete (ctx.json);
    return bad;
}

static int
s_name_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

static void
test_aws_suite (void **state)
{
    (void)state;
    DIR *d = opendir (SUITE_DIR);
    assert_non_null (d);
    char *names[256];
    size_t count = 0;
    struct dirent *de;
    while ((de = readdir (d)) && count < 256) {
        if (de->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf (path, sizeof path, "%s/%s/request.txt", SUITE_DIR, de->d_name);
        FILE *f = fopen (path, "r");
        if (!f)
            continue; /* LICENSE, NOTICE, README.md */
        fclose (f);
        names[count++] = strdup (de->d_name);
    }
    closedir (d);
    qsort (names, count, sizeof *names, s_name_cmp);
    size_t passed = 0;
    for (size_t i = 0; i < count; i++) {
        int bad = s_run_case (names[i]);
        if (bad == 0)
            passed++;
        else
            print_error ("FAIL %s (%d mismatches)\n", names[i], bad);
        free (names[i]);
    }
    print_message ("aws-sigv4 suite: %zu cases run (header and query signing), %zu passed\n", count,
                   passed);
    assert_int_equal (count, SUITE_CASES);
    assert_int_equal (passed, count);
}

static void
s_assert_key_hex (const uint8_t key[32], const char *hex)
{
    char got[65];
    for (int i = 0; i < 32; i++)
        snprintf (got + 2 * i, 3, "%02x", key[i]);
    assert_string_equal (got, hex);
}

/* The signing key example of the AWS documentation (IAM, 2012-02-15). */
static void
test_signing_key (void **state)
{
    (void)state;
    uint8_t key[32];
    assert_int_equal (hm_sigv4_signing_key ("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                            "20120215T000000Z", "us-east-1", "iam", key),
                      0);
    s_assert_key_hex (key, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

static void
test_steps (void **state)
{
    (void)state;
    char *s;
    /* S3: the path as sent, only re-encoded canonically. */
    s = hm_sigv4_canonical_uri ("/bucket/a b/%7e/../x", false, false);
    assert_string_equal (s, "/bucket/a%20b/~/../x");
    free (s);
    /* Other services: normalised, then the sent path encoded once more. */
    s = hm_sigv4_canonical_uri ("/a//b/./c/../d%20e", true, true);
    assert_string_equal (s, "/a/b/d%2520e");
    free (s);
    s = hm_sigv4_canonical_uri ("", true, true);
    assert_string_equal (s, "/");
    free (s);
    s = hm_sigv4_canonical_query ("uploads");
    assert_string_equal (s, "uploads=");
    free (s);
    s = hm_sigv4_canonical_query ("b=2&a=z&a=y&&c=%2f+x");
    assert_string_equal (s, "a=y&a=z&b=2&c=%2F%2Bx");
    free (s);
    s = hm_sigv4_canonical_query (NULL);
    assert_string_equal (s, "");
    free (s);
    hm_sigv4_header_t h[] = {{"X-B", "  two\n   lines  "}, {"host", "h"}, {"x-b", "again"}};
    char *canon, *names;
    assert_int_equal (hm_sigv4_canonical_headers (h, 3, &canon, &names), 0);
    assert_string_equal (canon, "host:h\nx-b:two lines,again\n");
    assert_string_equal (names, "host;x-b");
    free (canon);
    free (names);
    char date[17];
    hm_sigv4_amz_date (1440938160, date);
    assert_string_equal (date, "20150830T123600Z");
    assert_int_equal (hm_sigv4_check_amz_date ("2015-08-30T12:36:00Z"), -1);
}

static void
test_rejects (void **state)
{
    (void)state;
    hm_aws_credentials_t cred = {"AKID", "SECRET", NULL, "us-east-1", "s3"};
    hm_sigv4_header_t h[] = {{"Host", "example.com"}, {"X-Amz-Date", "20150830T123600Z"}};
    hm_sigv4_request_t req = {"GET", "/", NULL, h, 2, NULL, 0, NULL};
    hm_sigv4_options_t opts = hm_sigv4_options_s3 ();
    hm_sigv4_result_t res;
    char err[128] = "";
    assert_int_equal (hm_sigv4_sign (&req, &cred, "20150830T123600Z", &opts, &res, err, sizeof err),
                      -1);
    assert_non_null (strstr (err, "X-Amz-Date"));
    hm_sigv4_result_free (&res);
    req.header_count = 1;
    assert_int_equal (hm_sigv4_sign (&req, &cred, "2015-08-30", &opts, &res, err, sizeof err), -1);
    hm_sigv4_result_free (&res);
}

/* The S3 examples of the AWS documentation ("Signature Calculations for
   the Authorization Header: Transferring Payload in a Single Chunk"). */
static void
test_s3_examples (void **state)
{
    (void)state;
    hm_aws_credentials_t cred = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                 NULL, "us-east-1", "s3"};
    hm_sigv4_options_t opts = hm_sigv4_options_s3 ();
    hm_sigv4_result_t res;
    char err[128];

    hm_sigv4_header_t get_h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                                 {"Range", "bytes=0-9"}};
    hm_sigv4_request_t get = {"GET", "/test.txt", NULL, get_h, 2, NULL, 0, NULL};
    assert_int_equal (hm_sigv4_sign (&get, &cred, "20130524T000000Z", &opts, &res, err, sizeof err),
                      0);
    assert_string_equal (res.signature,
                         "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    assert_string_equal (
        res.authorization,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
        "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    hm_sigv4_result_free (&res);

    const char *body = "Welcome to Amazon S3.";
    hm_sigv4_header_t put_h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                                 {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                                 {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
    hm_sigv4_request_t put = {"PUT", "/test%24file.text", NULL, put_h, 3,
                              body,  strlen (body),       NULL};
    assert_int_equal (hm_sigv4_sign (&put, &cred, "20130524T000000Z", &opts, &res, err, sizeof err),
                      0);
    assert_string_equal (res.signature,
                         "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    hm_sigv4_result_free (&res);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_aws_suite),   cmocka_unit_test (test_signing_key),
        cmocka_unit_test (test_steps),       cmocka_unit_test (test_rejects),
        cmocka_unit_test (test_s3_examples),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
