/*  test_sharedkey: Azure Storage Shared Key for Blob and Queue requests.
    The expected strings to sign and signatures were computed independently
    (Python's hmac and the openssl command line) from the Azure REST
    documentation's rules, with the emulator's published account key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sharedkey.h"

/* Azurite's well-known development account key (public, documented). */
#define DEV_ACCOUNT "devstoreaccount1"
#define DEV_KEY                                                                                    \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define DATE "Tue, 14 Nov 2023 22:13:20 GMT"

static void
s_check (const hm_sharedkey_request_t *req, const char *want_sts, const char *want_sig)
{
    char *sts = hm_sharedkey_string_to_sign (req);
    assert_non_null (sts);
    if (want_sts)
        assert_string_equal (sts, want_sts);
    char sig[64];
    assert_int_equal (hm_sharedkey_signature (DEV_KEY, sts, sig, sizeof sig), 0);
    assert_string_equal (sig, want_sig);
    char *authz = hm_sharedkey_authorization (req, DEV_KEY);
    char want_authz[256];
    snprintf (want_authz, sizeof want_authz, "SharedKey %s:%s", req->account, want_sig);
    assert_string_equal (authz, want_authz);
    free (authz);
    free (sts);
}

/* Put Blob on the emulator's path-style URL: the account appears twice in
   the canonicalized resource. */
static void
test_put_blob_emulator (void **state)
{
    (void)state;
    hm_sharedkey_header_t h[] = {
        {"Content-Length", "1234"},
        {"Content-Type", "application/json"},
        {"Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="},
        {"x-ms-blob-type", "BlockBlob"},
        {"x-ms-blob-content-encoding", "gzip"},
        {"x-ms-date", DATE},
        {"x-ms-version", "2021-12-02"},
    };
    hm_sharedkey_request_t req = {
        "PUT",
        DEV_ACCOUNT,
        "/devstoreaccount1/logs/2024/01/02/1700000000-abcdefghijklmnopqrst.json.gz",
        NULL,
        h,
        7};
    s_check (&req,
             "PUT\n\n\n1234\n1B2M2Y8AsgTpgAmY7PhCfg==\napplication/json\n\n\n\n\n\n\n"
             "x-ms-blob-content-encoding:gzip\nx-ms-blob-type:BlockBlob\n"
             "x-ms-date:" DATE "\nx-ms-version:2021-12-02\n"
             "/devstoreaccount1/devstoreaccount1/logs/2024/01/02/"
             "1700000000-abcdefghijklmnopqrst.json.gz",
             "P3w1nD/CXBEwxEQ+Of+w1U2bRDZwSO0pTco+tqUKNW4=");
}

/* Put Message: query parameters sorted into the resource. */
static void
test_put_message (void **state)
{
    (void)state;
    hm_sharedkey_header_t h[] = {{"x-ms-version", "2021-12-02"},
                                 {"Content-Type", "application/xml"},
                                 {"x-ms-date", DATE},
                                 {"Content-Length", "77"}};
    hm_sharedkey_request_t req = {"POST",
                                  DEV_ACCOUNT,
                                  "/devstoreaccount1/events/messages",
                                  "visibilitytimeout=0&messagettl=-1",
                                  h,
                                  4};
    s_check (&req,
             "POST\n\n\n77\n\napplication/xml\n\n\n\n\n\n\nx-ms-date:" DATE
             "\nx-ms-version:2021-12-02\n/devstoreaccount1/devstoreaccount1/events/messages"
             "\nmessagettl:-1\nvisibilitytimeout:0",
             "GEOAMUU3mVBuWrfyBctG9QKdeNzSTllMzHDYMbnLjQE=");
}

/* Put Block: query values are URL-decoded ("%3D" -> "="). */
static void
test_put_block (void **state)
{
    (void)state;
    hm_sharedkey_header_t h[] = {
        {"Content-Length", "4194304"}, {"x-ms-date", DATE}, {"x-ms-version", "2021-12-02"}};
    hm_sharedkey_request_t req = {"PUT",
                                  DEV_ACCOUNT,
                                  "/devstoreaccount1/logs/big.json.gz",
                                  "comp=block&blockid=QUFBQQ%3D%3D",
                                  h,
                                  3};
    s_check (&req, NULL, "nq7dEfr6CQKyu5DIiuXCopWX9vfH/XppO+5iJmIkjac=");
}

/* Create Container on a cloud-style URL: Content-Length 0 is signed as
   empty, x-ms-meta names are lowercased. */
static void
test_create_container (void **state)
{
    (void)state;
    hm_sharedkey_header_t h[] = {{"Content-Length", "0"},
                                 {"x-ms-date", DATE},
                                 {"x-ms-version", "2021-12-02"},
                                 {"x-ms-meta-Owner", "ops"}};
    hm_sharedkey_request_t req = {"PUT", "myaccount", "/mycontainer", "restype=container", h, 4};
    s_check (&req,
             "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:" DATE
             "\nx-ms-meta-owner:ops\nx-ms-version:2021-12-02\n/myaccount/mycontainer"
             "\nrestype:container",
             "YQloYvV4Z8ZF1XDaRwFukd5SzbE4QVWNeoExJ0Ajf5M=");
}

/* A repeated query parameter: values sorted and joined with ','. */
static void
test_list_repeated_param (void **state)
{
    (void)state;
    hm_sharedkey_header_t h[] = {{"x-ms-date", DATE}, {"x-ms-version", "2021-12-02"}};
    hm_sharedkey_request_t req = {"GET",
                                  "myaccount",
                                  "/mycontainer",
                                  "restype=container&comp=list&include=snapshots&include=metadata",
                                  h,
                                  2};
    s_check (&req, NULL, "e3/xUhsJpPvgqT/DSsK1cxZNirzuL65vi7l6XTQzang=");
}

static void
test_parts (void **state)
{
    (void)state;
    char date[30];
    hm_sharedkey_date (1700000000, date);
    assert_string_equal (date, DATE);
    char *r = hm_sharedkey_canonical_resource ("acct", "", "COMP=List");
    assert_string_equal (r, "/acct/\ncomp:List");
    free (r);
    hm_sharedkey_header_t h[] = {{"X-MS-B", "  a   b "}, {"Host", "x"}, {"x-ms-a", "1"}};
    char *c = hm_sharedkey_canonical_headers (h, 3);
    assert_string_equal (c, "x-ms-a:1\nx-ms-b:a b\n");
    free (c);
    char sig[64];
    assert_int_equal (hm_sharedkey_signature ("not base64!", "x", sig, sizeof sig), -1);
    /* A different key gives a different signature. */
    char other[64];
    assert_int_equal (hm_sharedkey_signature ("AAAA", "x", other, sizeof other), 0);
    assert_int_equal (hm_sharedkey_signature (DEV_KEY, "x", sig, sizeof sig), 0);
    assert_string_not_equal (sig, other);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_put_blob_emulator),   cmocka_unit_test (test_put_message),
        cmocka_unit_test (test_put_block),           cmocka_unit_test (test_create_container),
        cmocka_unit_test (test_list_repeated_param), cmocka_unit_test (test_parts),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
