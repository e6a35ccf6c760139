/*  test_blob_azure: what the Azure sinks send, without a network: the
    Shared Key requests for Put Blob, Put Block, Put Block List and Put
    Message (headers, URL, canonicalized resource, signature), block ids
    and the block list, blob names, part sizes, connection strings and how
    the account is resolved from a section and the environment.

    The expected signatures were computed independently with Python's hmac
    (tests/integration/azure_emulator.py's signer, which azurite accepts)
    from the strings to sign shown here, with the emulator's published key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "azure.h"
#include "blob_backend.h"
#include "sink.h"

#define DEV_ACCOUNT "devstoreaccount1"
#define DEV_KEY                                                                                    \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define NOW 1700000000 /* Tue, 14 Nov 2023 22:13:20 GMT */
#define BLOB "/hamustro/json/2023-11-14/1700000000-abcdefghijklmnopqrst.json.gz"
#define BODY "gzip'd bytes, really\n"

static const char *
s_header (const hm_azure_signed_t *s, const char *name)
{
    for (size_t i = 0; i < s->header_count; i++)
        if (strcmp (s->headers[i].name, name) == 0)
            return s->headers[i].value;
    return NULL;
}

static void
s_emulator (hm_azure_account_t *acct)
{
    char err[256];
    assert_int_equal (hm_azure_account_resolve (acct, HM_AZURE_BLOB, DEV_ACCOUNT, DEV_KEY,
                                                "http://127.0.0.1:10000/devstoreaccount1/", NULL,
                                                "t", err, sizeof err),
                      0);
    assert_string_equal (acct->base, "http://127.0.0.1:10000");
    assert_string_equal (acct->prefix, "/devstoreaccount1");
}

/* Checks the string to sign of s against want and the signature. */
static void
s_check_signed (const hm_azure_account_t *acct, const char *method, const char *query,
                const hm_azure_signed_t *s, const char *want_sts, const char *want_sig)
{
    hm_sharedkey_request_t req = {method, acct->account, s->path,
                                  query,  s->headers,    s->header_count};
    char *sts = hm_sharedkey_string_to_sign (&req);
    assert_non_null (sts);
    assert_string_equal (sts, want_sts);
    free (sts);
    char want[128];
    snprintf (want, sizeof want, "SharedKey %s:%s", acct->account, want_sig);
    assert_string_equal (s->authorization, want);
}

static void
test_put_blob (void **state)
{
    (void)state;
    hm_azure_account_t acct;
    s_emulator (&acct);
    hm_sharedkey_header_t h[] = {{"x-ms-blob-content-encoding", "gzip"},
                                 {"x-ms-blob-content-type", "application/json"},
                                 {"x-ms-blob-type", "BlockBlob"}};
    hm_azure_signed_t s;
    assert_int_equal (
        hm_azure_sign (&acct, "PUT", BLOB, NULL, h, 3, BODY, strlen (BODY), true, NOW, &s), 0);
    assert_string_equal (s.url, "http://127.0.0.1:10000/devstoreaccount1" BLOB);
    assert_string_equal (s.path, "/devstoreaccount1" BLOB);
    assert_string_equal (s_header (&s, "x-ms-date"), "Tue, 14 Nov 2023 22:13:20 GMT");
    assert_string_equal (s_header (&s, "x-ms-version"), HM_AZURE_VERSION);
    assert_string_equal (s_header (&s, "Content-Length"), "21");
    assert_string_equal (s_header (&s, "Content-MD5"), "TaHmeKVzSISjQ6ExUzH+ZA==");
    assert_string_equal (s_header (&s, "x-ms-blob-type"), "BlockBlob");
    /* The account twice: once as the key's owner, once in the emulator's path. */
    s_check_signed (&acct, "PUT", NULL, &s,
                    "PUT\n\n\n21\nTaHmeKVzSISjQ6ExUzH+ZA==\n\n\n\n\n\n\n\n"
                    "x-ms-blob-content-encoding:gzip\nx-ms-blob-content-type:application/json\n"
                    "x-ms-blob-type:BlockBlob\nx-ms-date:Tue, 14 Nov 2023 22:13:20 GMT\n"
                    "x-ms-version:2021-12-02\n/devstoreaccount1/devstoreaccount1" BLOB,
                    "HTyzA7fZlHhbTiId7OHWibITiV0a0XozQXaDgqUYXKw=");
    hm_azure_signed_free (&s);
    hm_azure_account_free (&acct);
}

static void
test_put_blob_cloud (void **state)
{
    (void)state;
    hm_azure_account_t acct;
    char err[256];
    /* No endpoint anywhere: the public service, virtual-host style. */
    assert_int_equal (hm_azure_account_resolve (&acct, HM_AZURE_BLOB, "myaccount", DEV_KEY, NULL,
                                                NULL, "t", err, sizeof err),
                      0);
    assert_string_equal (acct.base, "https://myaccount.blob.core.windows.net");
    assert_string_equal (acct.prefix, "");
    hm_buf_t path;
    hm_buf_init (&path, 0);
    assert_int_equal (
        hm_blob_path (&path, "hamustro", "a b/1700000000-abcdefghijklmnopqrst.json.gz"), 0);
    assert_string_equal (path.data, "/hamustro/a%20b/1700000000-abcdefghijklmnopqrst.json.gz");
    hm_sharedkey_header_t h[] = {{"x-ms-blob-content-encoding", "gzip"},
                                 {"x-ms-blob-content-type", "application/json"},
                                 {"x-ms-blob-type", "BlockBlob"}};
    hm_azure_signed_t s;
    assert_int_equal (
        hm_azure_sign (&acct, "PUT", path.data, NULL, h, 3, BODY, strlen (BODY), true, NOW, &s), 0);
    assert_string_equal (s.url, "https://myaccount.blob.core.windows.net/hamustro/a%20b/"
                                "1700000000-abcdefghijklmnopqrst.json.gz");
    s_check_signed (&acct, "PUT", NULL, &s,
                    "PUT\n\n\n21\nTaHmeKVzSISjQ6ExUzH+ZA==\n\n\n\n\n\n\n\n"
                    "x-ms-blob-content-encoding:gzip\nx-ms-blob-content-type:application/json\n"
                    "x-ms-blob-type:BlockBlob\nx-ms-date:Tue, 14 Nov 2023 22:13:20 GMT\n"
                    "x-ms-version:2021-12-02\n"
                    "/myaccount/hamustro/a%20b/1700000000-abcdefghijklmnopqrst.json.gz",
                    "wFhKARGWQfsfqJYJ+pzVbvg1n36MnjUJ1S4VO0mRVTI=");
    hm_azure_signed_free (&s);
    hm_buf_free (&path);
    hm_azure_account_free (&acct);
}

static void
test_block_ids_and_list (void **state)
{
    (void)state;
    char id[33], other[33];
    hm_blob_block_id (3, id);
    assert_string_equal (id, "aGFtdXN0cm8tYmxvY2stMDAwMDAz"); /* "hamustro-block-000003" */
    /* Every id of a blob has the same length, up to the service's 50,000 blocks. */
    hm_blob_block_id (0, other);
    assert_int_equal (strlen (other), strlen (id));
    hm_blob_block_id (HM_BLOB_MAX_BLOCKS - 1, other);
    assert_int_equal (strlen (other), strlen (id));
    assert_string_not_equal (other, id);

    hm_buf_t xml;
    hm_buf_init (&xml, 0);
    assert_int_equal (hm_blob_block_list_xml (&xml, 2), 0);
    assert_string_equal (xml.data, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>"
                                   "<Latest>aGFtdXN0cm8tYmxvY2stMDAwMDAw</Latest>"
                                   "<Latest>aGFtdXN0cm8tYmxvY2stMDAwMDAx</Latest></BlockList>");
    hm_buf_free (&xml);
}

static void
test_put_block (void **state)
{
    (void)state;
    hm_azure_account_t acct;
    s_emulator (&acct);
    char id[33];
    hm_blob_block_id (3, id);
    hm_buf_t q;
    hm_buf_init (&q, 0);
    hm_buf_puts (&q, "comp=block&blockid=");
    hm_azure_encode_query (&q, id);
    hm_azure_signed_t s;
    assert_int_equal (
        hm_azure_sign (&acct, "PUT", BLOB, q.data, NULL, 0, "block three", 11, true, NOW, &s), 0);
    assert_string_equal (s.url, "http://127.0.0.1:10000/devstoreaccount1" BLOB
                                "?comp=block&blockid=aGFtdXN0cm8tYmxvY2stMDAwMDAz");
    assert_string_equal (s_header (&s, "Content-MD5"), "KJqyNvVgsVkjaLoOXX7isw==");
    assert_null (s_header (&s, "x-ms-blob-type"));
    s_check_signed (&acct, "PUT", q.data, &s,
                    "PUT\n\n\n11\nKJqyNvVgsVkjaLoOXX7isw==\n\n\n\n\n\n\n\n"
                    "x-ms-date:Tue, 14 Nov 2023 22:13:20 GMT\nx-ms-version:2021-12-02\n"
                    "/devstoreaccount1/devstoreaccount1" BLOB
                    "\nblockid:aGFtdXN0cm8tYmxvY2stMDAwMDAz\ncomp:block",
                    "oQaN1YHm2gdD/H+qXMsnRbtWUcjtvRkze2/gEp53aNI=");
    hm_azure_signed_free (&s);
    hm_buf_free (&q);
    hm_azure_account_free (&acct);
}

static void
test_put_block_list (void **state)
{
    (void)state;
    hm_azure_account_t acct;
    s_emulator (&acct);
    hm_buf_t xml;
    hm_buf_init (&xml, 0);
    assert_int_equal (hm_blob_block_list_xml (&xml, 2), 0);
    char md5[25];
    hm_azure_md5_base64 (BODY, strlen (BODY), md5);
    assert_string_equal (md5, "TaHmeKVzSISjQ6ExUzH+ZA==");
    hm_sharedkey_header_t h[] = {{"x-ms-blob-content-encoding", "gzip"},
                                 {"x-ms-blob-content-type", hm_blob_content_type (HM_FORMAT_CSV)},
                                 {"x-ms-blob-content-md5", md5}};
    hm_azure_signed_t s;
    assert_int_equal (hm_azure_sign (&acct, "PUT", BLOB, "comp=blocklist", h, 3, xml.data, xml.len,
                                     true, NOW, &s),
                      0);
    assert_string_equal (s_header (&s, "Content-Length"), "151");
    s_check_signed (&acct, "PUT", "comp=blocklist", &s,
                    "PUT\n\n\n151\nm7snAix0EtMEBqu2N30pUQ==\n\n\n\n\n\n\n\n"
                    "x-ms-blob-content-encoding:gzip\n"
                    "x-ms-blob-content-md5:TaHmeKVzSISjQ6ExUzH+ZA==\n"
                    "x-ms-blob-content-type:text/csv\nx-ms-date:Tue, 14 Nov 2023 22:13:20 GMT\n"
                    "x-ms-version:2021-12-02\n/devstoreaccount1/devstoreaccount1" BLOB
                    "\ncomp:blocklist",
                    "Z71tUZZ21lWTTmNRoZlKFiYmbtOVNoEjVqXs5oVSwHk=");
    hm_azure_signed_free (&s);
    hm_buf_free (&xml);
    hm_azure_account_free (&acct);
}

static void
test_put_message (void **state)
{
    (void)state;
    hm_azure_account_t acct;
    char err[256];
    assert_int_equal (hm_azure_account_resolve (&acct, HM_AZURE_QUEUE, DEV_ACCOUNT, DEV_KEY,
                                                "http://127.0.0.1:10001/devstoreaccount1", NULL,
                                                "t", err, sizeof err),
                      0);
    const char *body = "<QueueMessage><MessageText>eyJhIjoxfQ==</MessageText></QueueMessage>";
    hm_sharedkey_header_t h[] = {{"Content-Type", "application/xml"}};
    hm_azure_signed_t s;
    assert_int_equal (hm_azure_sign (&acct, "POST", "/events/messages", NULL, h, 1, body,
                                     strlen (body), false, NOW, &s),
                      0);
    assert_string_equal (s.url, "http://127.0.0.1:10001/devstoreaccount1/events/messages");
    assert_null (s_header (&s, "Content-MD5"));
    s_check_signed (&acct, "POST", NULL, &s,
                    "POST\n\n\n68\n\napplication/xml\n\n\n\n\n\n\n"
                    "x-ms-date:Tue, 14 Nov 2023 22:13:20 GMT\nx-ms-version:2021-12-02\n"
                    "/devstoreaccount1/devstoreaccount1/events/messages",
                    "IsUXUodqaYDgfHXXejX17JMLIbQZK3Zv5MGumde4mA4=");
    /* A wrong (but valid base64) key signs differently. */
    hm_azure_signed_t w;
    free (acct.key);
    acct.key = strdup ("bm90IHRoZSBrZXk=");
    assert_int_equal (hm_azure_sign (&acct, "POST", "/events/messages", NULL, h, 1, body,
                                     strlen (body), false, NOW, &w),
                      0);
    assert_string_not_equal (w.authorization, s.authorization);
    hm_azure_signed_free (&w);
    hm_azure_signed_free (&s);
    hm_azure_account_free (&acct);
}

static void
test_connection_string (void **state)
{
    (void)state;
    hm_azure_connection_t cs;
    char err[256];
    const char *text =
        "DefaultEndpointsProtocol=http; AccountName=devstoreaccount1;"
        "AccountKey=" DEV_KEY ";BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
        "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;TableEndpoint=x;";
    assert_int_equal (hm_azure_connection_parse (text, &cs, err, sizeof err), 0);
    assert_string_equal (cs.protocol, "http");
    assert_string_equal (cs.account_name, DEV_ACCOUNT);
    assert_string_equal (cs.account_key, DEV_KEY); /* '=' inside the value kept */
    assert_string_equal (cs.blob_endpoint, "http://127.0.0.1:10000/devstoreaccount1");
    assert_string_equal (cs.queue_endpoint, "http://127.0.0.1:10001/devstoreaccount1");
    assert_false (cs.development);
    hm_azure_connection_free (&cs);

    assert_int_equal (
        hm_azure_connection_parse ("accountname=a;ENDPOINTSUFFIX=core.chinacloudapi.cn", &cs, err,
                                   sizeof err),
        0);
    assert_string_equal (cs.account_name, "a");
    assert_string_equal (cs.suffix, "core.chinacloudapi.cn");
    hm_azure_connection_free (&cs);

    assert_int_equal (hm_azure_connection_parse ("AccountName=a;garbage", &cs, err, sizeof err),
                      -1);
    assert_non_null (strstr (err, "garbage"));
    assert_int_equal (hm_azure_connection_parse ("", &cs, err, sizeof err), 0);
    assert_null (cs.account_name);
    hm_azure_connection_free (&cs);
}

static void
test_account_resolution (void **state)
{
    (void)state;
    hm_azure_account_t acct;
    char err[512];
    const char *cs = "AccountName=devstoreaccount1;AccountKey=" DEV_KEY
                     ";BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1";
    /* Everything from the connection string. */
    assert_int_equal (hm_azure_account_resolve (&acct, HM_AZURE_BLOB, NULL, NULL, NULL, cs,
                                                "f: routes.r.abs", err, sizeof err),
                      0);
    assert_string_equal (acct.account, DEV_ACCOUNT);
    assert_string_equal (acct.key, DEV_KEY);
    assert_string_equal (acct.prefix, "/devstoreaccount1");
    hm_azure_account_free (&acct);
    /* The queue has no QueueEndpoint there: the cloud default, with the protocol. */
    assert_int_equal (hm_azure_account_resolve (&acct, HM_AZURE_QUEUE, NULL, NULL, NULL, cs,
                                                "f: routes.r.aqs", err, sizeof err),
                      0);
    assert_string_equal (acct.base, "https://devstoreaccount1.queue.core.windows.net");
    hm_azure_account_free (&acct);
    /* The section wins over the connection string. */
    assert_int_equal (hm_azure_account_resolve (&acct, HM_AZURE_BLOB, DEV_ACCOUNT, "a2V5",
                                                "https://example.net/", cs, "t", err, sizeof err),
                      0);
    assert_string_equal (acct.key, "a2V5");
    assert_string_equal (acct.base, "https://example.net");
    assert_string_equal (acct.prefix, "");
    hm_azure_account_free (&acct);
    /* Another account than the connection string's does not borrow its key. */
    assert_int_equal (hm_azure_account_resolve (&acct, HM_AZURE_BLOB, "other", NULL, NULL, cs,
                                                "f: routes.r.abs", err, sizeof err),
                      -1);
    assert_non_null (strstr (err, "f: routes.r.abs.access_key: missing"));
    /* Development storage. */
    assert_int_equal (hm_azure_account_resolve (&acct, HM_AZURE_QUEUE, NULL, NULL, NULL,
                                                "UseDevelopmentStorage=true", "t", err, sizeof err),
                      0);
    assert_string_equal (acct.base, "http://127.0.0.1:10001");
    assert_string_equal (acct.prefix, "/devstoreaccount1");
    hm_azure_account_free (&acct);
    /* Errors name the key. */
    assert_int_equal (hm_azure_account_resolve (&acct, HM_AZURE_BLOB, NULL, DEV_KEY, NULL, NULL,
                                                "f: routes.r.abs", err, sizeof err),
                      -1);
    assert_non_null (strstr (err, "f: routes.r.abs.account: missing"));
    assert_int_equal (hm_azure_account_resolve (&acct, HM_AZURE_BLOB, "a", "not base64!", NULL,
                                                NULL, "f: routes.r.abs", err, sizeof err),
                      -1);
    assert_non_null (strstr (err, "access_key: not a base64"));
    assert_int_equal (hm_azure_account_resolve (&acct, HM_AZURE_BLOB, "a", DEV_KEY, "ftp://x", NULL,
                                                "f: routes.r.abs", err, sizeof err),
                      -1);
    assert_non_null (strstr (err, "endpoint"));
    assert_int_equal (hm_azure_account_resolve (&acct, HM_AZURE_BLOB, "Bad_Name", DEV_KEY, NULL,
                                                NULL, "f: routes.r.abs", err, sizeof err),
                      -1);
    assert_non_null (strstr (err, "account"));
}

/* What both Azure sinks read of their section: account, access_key and
   endpoint, type-checked in that order; the environment's connection
   string fills in what the section lacks. */
static void
test_section_keys (void **state)
{
    (void)state;
    char err[512];
    hm_azure_keys_t keys;
    cJSON *section = cJSON_Parse ("{\"access_key\": \"" DEV_KEY "\", \"endpoint\": "
                                  "\"http://127.0.0.1:10000/devstoreaccount1\"}");
    assert_non_null (section);
    assert_int_equal (hm_azure_section_keys (section, "f: routes.r.abs", &keys, err, sizeof err),
                      0);
    assert_null (keys.account);
    assert_string_equal (keys.key, DEV_KEY);
    assert_string_equal (keys.endpoint, "http://127.0.0.1:10000/devstoreaccount1");
    setenv ("AZURE_STORAGE_CONNECTION_STRING", "AccountName=" DEV_ACCOUNT, 1);
    hm_azure_account_t acct;
    assert_int_equal (hm_azure_account_from_keys (&acct, HM_AZURE_BLOB, &keys, "f: routes.r.abs",
                                                  err, sizeof err),
                      0);
    assert_string_equal (acct.account, DEV_ACCOUNT);
    assert_string_equal (acct.base, "http://127.0.0.1:10000");
    hm_azure_account_free (&acct);
    unsetenv ("AZURE_STORAGE_CONNECTION_STRING");
    assert_int_equal (hm_azure_account_from_keys (&acct, HM_AZURE_BLOB, &keys, "f: routes.r.abs",
                                                  err, sizeof err),
                      -1);
    assert_non_null (strstr (err, "f: routes.r.abs.account: missing"));
    cJSON_Delete (section);
    /* The first key that is not a string is the one named. */
    section = cJSON_Parse ("{\"account\": 1, \"endpoint\": 2}");
    assert_int_equal (hm_azure_section_keys (section, "f: routes.r.aqs", &keys, err, sizeof err),
                      -1);
    assert_string_equal (err, "f: routes.r.aqs.account: must be a string");
    cJSON_Delete (section);
    section = cJSON_Parse ("{\"account\": \"a\", \"endpoint\": []}");
    assert_int_equal (hm_azure_section_keys (section, "f: routes.r.aqs", &keys, err, sizeof err),
                      -1);
    assert_string_equal (err, "f: routes.r.aqs.endpoint: must be a string");
    cJSON_Delete (section);
}

/* Every backend's errors start with where its section is. */
static void
test_sink_keypath (void **state)
{
    (void)state;
    hm_config_t cfg = {.path = "/etc/hamustro.json"};
    hm_route_config_t route = {.name = "r", .sink = "aqs"};
    char out[128];
    hm_sink_keypath (&cfg, &route, out, sizeof out);
    assert_string_equal (out, "/etc/hamustro.json: routes.r.aqs");
    cfg.path = NULL;
    hm_sink_keypath (&cfg, &route, out, sizeof out);
    assert_string_equal (out, "(config): routes.r.aqs");
    hm_sink_keypath (NULL, &route, out, sizeof out);
    assert_string_equal (out, "(config): routes.r.aqs");
}

static void
test_names_and_parts (void **state)
{
    (void)state;
    assert_true (hm_azure_valid_name ("hamustro"));
    assert_true (hm_azure_valid_name ("a-1"));
    assert_false (hm_azure_valid_name ("ab"));
    assert_false (hm_azure_valid_name ("Upper"));
    assert_false (hm_azure_valid_name ("a--b"));
    assert_false (hm_azure_valid_name ("-ab"));
    assert_false (hm_azure_valid_name ("ab-"));

    /* The startup errors the blob and queue sinks give for a bad name. */
    char err[256];
    assert_int_equal (hm_azure_check_name ("ok-name", "f: routes.r.abs", "container", "container",
                                           err, sizeof err),
                      0);
    assert_int_equal (hm_azure_check_name ("Bad_Name", "f: routes.r.abs", "container", "container",
                                           err, sizeof err),
                      -1);
    assert_string_equal (err, "f: routes.r.abs.container: \"Bad_Name\" is not a container name "
                              "(3-63 of a-z, 0-9 and '-', starting and ending with a letter or "
                              "digit)");
    assert_int_equal (
        hm_azure_check_name (NULL, "f: routes.r.aqs", "queue_name", "queue", err, sizeof err), -1);
    assert_string_equal (err, "f: routes.r.aqs.queue_name: missing (3-63 of a-z, 0-9 and '-', "
                              "starting and ending with a letter or digit)");
    assert_int_equal (
        hm_azure_check_name ("ab", "f: routes.r.aqs", "queue_name", "queue", err, sizeof err), -1);
    assert_string_equal (err, "f: routes.r.aqs.queue_name: \"ab\" is not a queue name (3-63 of "
                              "a-z, 0-9 and '-', starting and ending with a letter or digit)");
    assert_string_equal (hm_blob_content_type (HM_FORMAT_JSON), "application/x-ndjson");
    assert_string_equal (hm_blob_content_type (HM_FORMAT_CSV), "text/csv");

    size_t part;
    assert_int_equal (hm_blob_parts (1000, 300, &part), 4);
    assert_int_equal (part, 300);
    assert_int_equal (hm_blob_parts (900, 300, &part), 3);
    /* More than 50,000 blocks: the part grows instead. */
    assert_int_equal (hm_blob_parts (100000, 1, &part), 50000);
    assert_int_equal (part, 2);
    assert_int_equal (hm_blob_parts (100001, 1, &part), 33334);
    assert_int_equal (part, 3);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_put_blob),           cmocka_unit_test (test_put_blob_cloud),
        cmocka_unit_test (test_block_ids_and_list), cmocka_unit_test (test_put_block),
        cmocka_unit_test (test_put_block_list),     cmocka_unit_test (test_put_message),
        cmocka_unit_test (test_connection_string),  cmocka_unit_test (test_account_resolution),
        cmocka_unit_test (test_names_and_parts),    cmocka_unit_test (test_section_keys),
        cmocka_unit_test (test_sink_keypath),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
