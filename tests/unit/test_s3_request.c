/*  The S3 sink's pure parts: object keys, path-style and virtual-hosted
    targets with the canonical key encoding, Content-MD5 of known bodies,
    multipart plans and documents, S3's XML answers, the classification of
    S3's error codes, the shared AWS section helpers, and init's config
    errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_section.h"
#include "config.h"
#include "http_client.h"
#include "pathname.h"
#include "s3_backend.h"
#include "s3_request.h"

#define SEAL 1454514088u /* 2016-02-03 15:41:28 UTC */

static void
test_object_key (void **state)
{
    (void)state;
    char key[512], letters[21], want[512];
    hm_batch_letters ("s3", 1, 20, letters);
    assert_int_equal (
        hm_s3_object_key ("events/{date}/", "s3", 1, 20, SEAL, HM_FORMAT_JSON, key, sizeof key), 0);
    snprintf (want, sizeof want, "events/2016-02-03/1454514088-%s.json.gz", letters);
    assert_string_equal (key, want);
    /* No trailing '/': one is added; leading '/' are dropped. */
    assert_int_equal (
        hm_s3_object_key ("//a/{year}/{month}", "s3", 1, 20, SEAL, HM_FORMAT_CSV, key, sizeof key),
        0);
    snprintf (want, sizeof want, "a/2016/02/1454514088-%s.csv.gz", letters);
    assert_string_equal (key, want);
    /* Empty template: the name alone. */
    assert_int_equal (hm_s3_object_key ("", "s3", 1, 20, SEAL, HM_FORMAT_JSON, key, sizeof key), 0);
    snprintf (want, sizeof want, "1454514088-%s.json.gz", letters);
    assert_string_equal (key, want);
    /* Too small a buffer is an error, not a truncated key. */
    assert_int_equal (hm_s3_object_key ("events/", "s3", 1, 20, SEAL, HM_FORMAT_JSON, key, 20), -1);
}

static void
test_targets_and_key_encoding (void **state)
{
    (void)state;
    char host[256];
    hm_buf_t path;
    hm_buf_init (&path, 0);
    hm_s3_location_t loc = {false, "127.0.0.1:4569", "", "us-east-1", "hm-bucket", HM_S3_PATH};
    /* Unreserved bytes and '/' stay; everything else is %XX, once. */
    assert_int_equal (hm_s3_target (&loc, "a b+c/d=e~f_g.h-i/\xc3\xbc*", host, sizeof host, &path),
                      0);
    assert_string_equal (host, "127.0.0.1:4569");
    assert_string_equal (path.data, "/hm-bucket/a%20b%2Bc/d%3De~f_g.h-i/%C3%BC%2A");
    /* The bucket itself (CreateBucket / ListObjects). */
    assert_int_equal (hm_s3_target (&loc, NULL, host, sizeof host, &path), 0);
    assert_string_equal (path.data, "/hm-bucket");
    /* An endpoint with a path prefix (an S3-compatible store behind a proxy). */
    loc.base_path = "/store";
    assert_int_equal (hm_s3_target (&loc, "k", host, sizeof host, &path), 0);
    assert_string_equal (path.data, "/store/hm-bucket/k");
    /* Virtual-hosted on the endpoint: the bucket moves into the host. */
    loc.addressing = HM_S3_VIRTUAL;
    loc.base_path = "";
    assert_int_equal (hm_s3_target (&loc, "x/y.json.gz", host, sizeof host, &path), 0);
    assert_string_equal (host, "hm-bucket.127.0.0.1:4569");
    assert_string_equal (path.data, "/x/y.json.gz");
    /* AWS itself, both ways. */
    hm_s3_location_t aws = {true, NULL, "", "eu-west-1", "hm-bucket", HM_S3_VIRTUAL};
    assert_int_equal (hm_s3_target (&aws, "a b", host, sizeof host, &path), 0);
    assert_string_equal (host, "hm-bucket.s3.eu-west-1.amazonaws.com");
    assert_string_equal (path.data, "/a%20b");
    aws.addressing = HM_S3_PATH;
    assert_int_equal (hm_s3_target (&aws, "a b", host, sizeof host, &path), 0);
    assert_string_equal (host, "s3.eu-west-1.amazonaws.com");
    assert_string_equal (path.data, "/hm-bucket/a%20b");
    /* A host that does not fit. */
    assert_int_equal (hm_s3_target (&aws, "k", host, 10, &path), -1);
    hm_buf_free (&path);
}

static void
test_content_md5 (void **state)
{
    (void)state;
    char md5[25];
    /* md5("hello world") = 5eb63bbbe01eeed093cb22bb8f5acdc3 */
    hm_s3_content_md5 ("hello world", 11, md5);
    assert_string_equal (md5, "XrY7u+Ae7tCTyyK7j1rNww==");
    hm_s3_content_md5 ("", 0, md5);
    assert_string_equal (md5, "1B2M2Y8AsgTpgAmY7PhCfg==");
    assert_string_equal (hm_s3_content_type (HM_FORMAT_JSON), "application/x-ndjson");
    assert_string_equal (hm_s3_content_type (HM_FORMAT_CSV), "text/csv");
}

static void
test_part_plan (void **state)
{
    (void)state;
    size_t part;
    assert_int_equal (hm_s3_part_plan (10, 4, &part), 3);
    assert_int_equal (part, 4);
    assert_int_equal (hm_s3_part_plan (8, 4, &part), 2);
    assert_int_equal (hm_s3_part_plan (9u << 20, HM_S3_DEFAULT_PART, &part), 2);
    assert_int_equal (part, HM_S3_DEFAULT_PART);
    /* Never more than 10000 parts: the parts grow instead. */
    size_t len = 10001u * 1024u;
    size_t parts = hm_s3_part_plan (len, 1024, &part);
    assert_true (parts <= HM_S3_MAX_PARTS);
    assert_true (parts * part >= len);
    assert_true ((parts - 1) * part < len);
}

static void
test_complete_body (void **state)
{
    (void)state;
    hm_buf_t xml;
    hm_buf_init (&xml, 0);
    char e1[] = "\"a54357aff0632cce46d942af68356b38\"",
         e2[] = "\"0c78aef83f66abc1fa1e8477f296d394\"";
    char *etags[] = {e1, e2};
    assert_int_equal (hm_s3_complete_body (&xml, etags, 2), 0);
    assert_string_equal (
        xml.data, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                  "<Part><PartNumber>1</PartNumber>"
                  "<ETag>\"a54357aff0632cce46d942af68356b38\"</ETag></Part>"
                  "<Part><PartNumber>2</PartNumber>"
                  "<ETag>\"0c78aef83f66abc1fa1e8477f296d394\"</ETag></Part>"
                  "</CompleteMultipartUpload>");
    hm_buf_free (&xml);
}

static void
test_upload_id_and_error_documents (void **state)
{
    (void)state;
    const char *init = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                       "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/"
                       "2006-03-01/\"><Bucket>b</Bucket><Key>k</Key>"
                       "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA&amp;x"
                       "</UploadId></InitiateMultipartUploadResult>";
    char id[256], code[64];
    assert_int_equal (hm_s3_upload_id (init, strlen (init), id, sizeof id), 0);
    assert_string_equal (id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA&x");
    assert_int_equal (hm_s3_upload_id ("<Foo/>", 6, id, sizeof id), -1);
    assert_int_equal (hm_s3_upload_id ("<UploadId></UploadId>", 21, id, sizeof id), -1);
    assert_int_equal (hm_s3_upload_id (init, strlen (init), id, 10), -1); /* never truncated */
    /* Unterminated: no element. */
    assert_int_equal (hm_s3_upload_id ("<UploadId>abc", 13, id, sizeof id), -1);

    /* CompleteMultipartUpload may answer 200 with an error inside. */
    const char *err =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>"
        "<Message>We encountered an internal error. Please try again.</Message>"
        "</Error>";
    assert_true (hm_s3_error_document (err, strlen (err), code, sizeof code));
    assert_string_equal (code, "InternalError");
    const char *ok = "<CompleteMultipartUploadResult><Location>x</Location><ETag>\"3858f62230ac3c9"
                     "15f300c664312c11f-9\"</ETag></CompleteMultipartUploadResult>";
    assert_false (hm_s3_error_document (ok, strlen (ok), code, sizeof code));
    assert_string_equal (code, "");
}

static void
test_error_codes (void **state)
{
    (void)state;
    char reason[256];
    assert_int_equal (hm_http_classify (200, 0, "", reason, sizeof reason), HM_HTTP_OK);
    assert_int_equal (hm_http_classify (403, 0, "SignatureDoesNotMatch", reason, sizeof reason),
                      HM_HTTP_RETRY);
    assert_int_equal (hm_http_classify (403, 0, "InvalidAccessKeyId", reason, sizeof reason),
                      HM_HTTP_RETRY);
    assert_int_equal (hm_http_classify (503, 0, "SlowDown", reason, sizeof reason), HM_HTTP_RETRY);
    assert_int_equal (hm_http_classify (500, 0, "InternalError", reason, sizeof reason),
                      HM_HTTP_RETRY);
    assert_int_equal (hm_http_classify (404, 0, "NoSuchBucket", reason, sizeof reason),
                      HM_HTTP_RETRY);
    assert_int_equal (hm_http_classify (404, 0, "NoSuchUpload", reason, sizeof reason),
                      HM_HTTP_RETRY);
    assert_int_equal (hm_http_classify (400, 0, "BadDigest", reason, sizeof reason), HM_HTTP_RETRY);
    assert_int_equal (hm_http_classify (400, 0, "RequestTimeout", reason, sizeof reason),
                      HM_HTTP_RETRY);
    assert_int_equal (hm_http_classify (400, 0, "EntityTooSmall", reason, sizeof reason),
                      HM_HTTP_DROP);
    assert_int_equal (hm_http_classify (400, 0, "InvalidPart", reason, sizeof reason),
                      HM_HTTP_DROP);
}

static void
test_endpoint_and_xml_text (void **state)
{
    (void)state;
    hm_aws_endpoint_t ep;
    assert_int_equal (hm_aws_endpoint_parse ("http://127.0.0.1:4569", &ep), 0);
    assert_false (ep.https);
    assert_string_equal (ep.host, "127.0.0.1:4569");
    assert_string_equal (ep.path, "");
    assert_int_equal (hm_aws_endpoint_parse ("https://store.example/s3//", &ep), 0);
    assert_true (ep.https);
    assert_string_equal (ep.host, "store.example");
    assert_string_equal (ep.path, "/s3");
    assert_int_equal (hm_aws_endpoint_parse ("ftp://x", &ep), -1);
    assert_int_equal (hm_aws_endpoint_parse ("http://", &ep), -1);
    assert_int_equal (hm_aws_endpoint_parse ("http://x/?a=b", &ep), -1);
    assert_int_equal (hm_aws_endpoint_parse ("http://user@x/", &ep), -1);

    char out[64];
    const char *t = "&lt;a&gt; &amp; &quot;&apos; &#65;&#x42; &#1234; &bogus;";
    hm_xml_text (t, strlen (t), out, sizeof out);
    assert_string_equal (out, "<a> & \"' AB &#1234; &bogus;");
    hm_xml_text (t, strlen (t), out, 4);
    assert_string_equal (out, "<a>");
}

/* Loads a config with one s3 route whose section is section_json. */
static hm_config_t *
s_config (const char *section_json)
{
    char json[2048], err[512];
    snprintf (json, sizeof json,
              "{\"shared_secret\":\"s\",\"router\":{\"run_dir\":\"/tmp\",\"data_dir\":\"/tmp\"},"
              "\"routes\":{\"s3\":{\"sink\":\"s3\",\"s3\":%s}}}",
              section_json);
    hm_config_t *cfg = hm_config_parse (json, "t.json", err, sizeof err);
    if (!cfg)
        print_error ("config: %s\n", err);
    assert_non_null (cfg);
    return cfg;
}

/* init's verdict on a section: NULL error means it must start. */
static void
s_expect_init (const char *section_json, const char *error)
{
    hm_config_t *cfg = s_config (section_json);
    char err[512] = "";
    void *state = hm_s3_backend.init (cfg, &cfg->routes[0], err, sizeof err);
    if (error) {
        assert_null (state);
        assert_non_null (strstr (err, error));
    }
    else {
        if (!state)
            print_error ("init: %s\n", err);
        assert_non_null (state);
        hm_s3_backend.destroy (&state);
        assert_null (state);
    }
    hm_config_destroy (&cfg);
}

static void
test_init_config_errors (void **state)
{
    (void)state;
    unsetenv ("AWS_ACCESS_KEY_ID");
    unsetenv ("AWS_SECRET_ACCESS_KEY");
    unsetenv ("AWS_SESSION_TOKEN");
    unsetenv ("AWS_REGION");
    unsetenv ("AWS_DEFAULT_REGION");
    s_expect_init ("{\"region\":\"us-east-1\",\"access_key_id\":\"A\",\"secret_access_key\":\"S\","
                   "\"bucket\":\"b\"}",
                   NULL);
    s_expect_init ("{\"region\":\"us-east-1\",\"access_key_id\":\"A\",\"secret_access_key\":\"S\"}",
                   "t.json: routes.s3.s3.bucket: missing");
    s_expect_init ("{\"access_key_id\":\"A\",\"secret_access_key\":\"S\",\"bucket\":\"b\"}",
                   "routes.s3.s3.region: missing");
    s_expect_init ("{\"region\":\"us-east-1\",\"secret_access_key\":\"S\",\"bucket\":\"b\"}",
                   "routes.s3.s3.access_key_id: missing");
    s_expect_init ("{\"region\":\"us-east-1\",\"access_key_id\":\"A\",\"bucket\":\"b\"}",
                   "routes.s3.s3.secret_access_key: missing");
    s_expect_init ("{\"region\":\"us-east-1\",\"access_key_id\":\"A\",\"secret_access_key\":\"S\","
                   "\"bucket\":\"b\",\"addressing\":\"sideways\"}",
                   "routes.s3.s3.addressing: must be \"path\" or \"virtual\"");
    s_expect_init ("{\"region\":\"us-east-1\",\"access_key_id\":\"A\",\"secret_access_key\":\"S\","
                   "\"bucket\":\"b\",\"endpoint\":\"ftp://x\"}",
                   "routes.s3.s3.endpoint:");
    /* Under 5 MiB only with an endpoint (emulators), never under 1 KiB. */
    s_expect_init ("{\"region\":\"us-east-1\",\"access_key_id\":\"A\",\"secret_access_key\":\"S\","
                   "\"bucket\":\"b\",\"part_size\":1048576}",
                   "routes.s3.s3.part_size:");
    s_expect_init ("{\"region\":\"us-east-1\",\"access_key_id\":\"A\",\"secret_access_key\":\"S\","
                   "\"bucket\":\"b\",\"part_size\":1048576,\"endpoint\":\"http://127.0.0.1:1\"}",
                   NULL);
    s_expect_init ("{\"region\":\"us-east-1\",\"access_key_id\":\"A\",\"secret_access_key\":\"S\","
                   "\"bucket\":\"b\",\"part_size\":100,\"endpoint\":\"http://127.0.0.1:1\"}",
                   "routes.s3.s3.part_size:");
    s_expect_init ("{\"region\":\"us-east-1\",\"access_key_id\":\"A\",\"secret_access_key\":\"S\","
                   "\"bucket\":\"b\",\"part_size\":\"big\"}",
                   "routes.s3.s3.part_size:");
    /* Credentials and region from the environment when the section lacks them. */
    setenv ("AWS_ACCESS_KEY_ID", "AKID", 1);
    setenv ("AWS_SECRET_ACCESS_KEY", "SECRET", 1);
    setenv ("AWS_REGION", "eu-west-1", 1);
    s_expect_init ("{\"bucket\":\"b\"}", NULL);
    hm_aws_section_t aws;
    char err[256];
    assert_int_equal (hm_aws_section_read (NULL, "p", true, &aws, err, sizeof err), 0);
    assert_string_equal (aws.access_key_id, "AKID");
    assert_string_equal (aws.secret_access_key, "SECRET");
    assert_string_equal (aws.region, "eu-west-1");
    assert_null (aws.session_token);
    hm_aws_section_free (&aws);
    unsetenv ("AWS_ACCESS_KEY_ID");
    unsetenv ("AWS_SECRET_ACCESS_KEY");
    unsetenv ("AWS_REGION");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_object_key),
        cmocka_unit_test (test_targets_and_key_encoding),
        cmocka_unit_test (test_content_md5),
        cmocka_unit_test (test_part_plan),
        cmocka_unit_test (test_complete_body),
        cmocka_unit_test (test_upload_id_and_error_documents),
        cmocka_unit_test (test_error_codes),
        cmocka_unit_test (test_endpoint_and_xml_text),
        cmocka_unit_test (test_init_config_errors),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
