/*  The SNS sink's pure parts: topic ARNs, FIFO ids from (session, nr),
    packing entries within SNS's limits, the PublishBatch form body (10
    entries, FIFO attributes, percent-encoding), reading PublishBatch
    answers (Successful / Failed, SenderFault), and the 256 KiB boundary
    through the backend itself: a message of exactly 262,144 bytes is sent,
    one byte more goes to the dead letters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "digest.h"
#include "encode.h"
#include "hm_test_bytes.h"
#include "sns_backend.h"
#include "sns_request.h"

static void
test_topic_arn (void **state)
{
    (void)state;
    char region[64];
    assert_true (hm_sns_topic_is_fifo ("arn:aws:sns:us-east-1:000000000000:events.fifo"));
    assert_false (hm_sns_topic_is_fifo ("arn:aws:sns:us-east-1:000000000000:events"));
    assert_false (hm_sns_topic_is_fifo ("fifo"));
    assert_int_equal (
        hm_sns_topic_region ("arn:aws:sns:eu-west-1:123456789012:t", region, sizeof region), 0);
    assert_string_equal (region, "eu-west-1");
    assert_int_equal (hm_sns_topic_region ("arn:aws-cn:sns:cn-north-1:1:t", region, sizeof region),
                      0);
    assert_string_equal (region, "cn-north-1");
    assert_int_equal (hm_sns_topic_region ("arn:aws:sqs:eu-west-1:1:q", region, sizeof region), -1);
    assert_int_equal (hm_sns_topic_region ("arn:aws:sns::1:t", region, sizeof region), -1);
    assert_int_equal (hm_sns_topic_region ("events", region, sizeof region), -1);
}

static void
test_fifo_ids (void **state)
{
    (void)state;
    char group[HM_SNS_MAX_ID + 1], dedup[HM_SNS_MAX_ID + 1], want[65];
    hm_sns_fifo_ids ("0e350a2cc31648bb24ba61eb14be337c", 32, 7, group, dedup);
    assert_string_equal (group, "0e350a2cc31648bb24ba61eb14be337c");
    hm_sha256_hex ("0e350a2cc31648bb24ba61eb14be337c:7", 34, want);
    assert_string_equal (dedup, want);
    /* Another nr: another dedup id, the same group. */
    char dedup2[HM_SNS_MAX_ID + 1];
    hm_sns_fifo_ids ("0e350a2cc31648bb24ba61eb14be337c", 32, 8, group, dedup2);
    assert_string_not_equal (dedup, dedup2);
    /* Outside SNS's alphabet (a space) or empty: still a valid group id. */
    hm_sns_fifo_ids ("a b", 3, 1, group, dedup);
    hm_sha256_hex ("a b", 3, want);
    assert_string_equal (group, want);
    hm_sns_fifo_ids ("", 0, 1, group, dedup);
    assert_string_equal (group, "-");
    assert_int_equal (strlen (dedup), 64);
    /* A very long session: both ids stay within 128 characters. */
    char *longs = malloc (1000);
    memset (longs, 'a', 999);
    longs[999] = '\0';
    hm_sns_fifo_ids (longs, strlen (longs), 1, group, dedup);
    assert_true (strlen (group) <= HM_SNS_MAX_ID);
    assert_true (strlen (dedup) <= HM_SNS_MAX_ID);
    free (longs);
    /* A session holding a NUL is hashed whole, not cut at it. */
    hm_sns_fifo_ids ("a\0b", 3, 1, group, dedup);
    hm_sha256_hex ("a\0b", 3, want);
    assert_string_equal (group, want);
    hm_sha256_hex ("a\0b:1", 5, want);
    assert_string_equal (dedup, want);
}

static void
test_pack (void **state)
{
    (void)state;
    hm_sns_entry_t e[12];
    memset (e, 0, sizeof e);
    for (size_t i = 0; i < 12; i++)
        e[i].message_len = 100;
    assert_int_equal (hm_sns_pack (e, 12), 10);
    assert_int_equal (hm_sns_pack (e, 3), 3);
    /* 256 KiB of messages per request: exactly at the limit fits. */
    e[0].message_len = 200000;
    e[1].message_len = 62144;
    assert_int_equal (hm_sns_pack (e, 3), 2);
    e[1].message_len = 62145;
    assert_int_equal (hm_sns_pack (e, 3), 1);
    /* A single message always goes (the backend keeps oversized ones out). */
    e[0].message_len = 262144;
    assert_int_equal (hm_sns_pack (e, 3), 1);
}

static void
test_batch_body (void **state)
{
    (void)state;
    hm_buf_t body;
    hm_buf_init (&body, 0);
    const char *arn = "arn:aws:sns:us-east-1:000000000000:t.fifo";
    hm_sns_entry_t e[2] = {{3, "{\"a\":\"x y&z=1+2\"}", 17, NULL, NULL},
                           {4, "\xc3\xa9~", 3, NULL, NULL}};
    assert_int_equal (hm_sns_batch_body (&body, arn, e, 2), 0);
    assert_string_equal (body.data, "Action=PublishBatch&Version=2010-03-31"
                                    "&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3At.fifo"
                                    "&PublishBatchRequestEntries.member.1.Id=m3"
                                    "&PublishBatchRequestEntries.member.1.Message="
                                    "%7B%22a%22%3A%22x%20y%26z%3D1%2B2%22%7D"
                                    "&PublishBatchRequestEntries.member.2.Id=m4"
                                    "&PublishBatchRequestEntries.member.2.Message=%C3%A9~");

    /* Ten FIFO entries: each with its group and deduplication id. */
    hm_sns_entry_t ten[10];
    char groups[10][HM_SNS_MAX_ID + 1], dedups[10][HM_SNS_MAX_ID + 1];
    for (size_t i = 0; i < 10; i++) {
        hm_sns_fifo_ids ("sess", 4, (uint32_t)i + 1, groups[i], dedups[i]);
        ten[i] = (hm_sns_entry_t){i, "{}", 2, groups[i], dedups[i]};
    }
    hm_buf_reset (&body);
    assert_int_equal (hm_sns_batch_body (&body, arn, ten, 10), 0);
    for (size_t i = 0; i < 10; i++) {
        char want[2048];
        snprintf (want, sizeof want,
                  "&PublishBatchRequestEntries.member.%zu.Id=m%zu"
                  "&PublishBatchRequestEntries.member.%zu.Message=%%7B%%7D"
                  "&PublishBatchRequestEntries.member.%zu.MessageGroupId=sess"
                  "&PublishBatchRequestEntries.member.%zu.MessageDeduplicationId=%s",
                  i + 1, i, i + 1, i + 1, i + 1, dedups[i]);
        assert_non_null (strstr (body.data, want));
    }
    assert_null (strstr (body.data, "member.11."));
    assert_null (strstr (body.data, "member.0."));

    /* Over the buffer's limit: -1 and the buffer as it was. */
    hm_buf_t small;
    hm_buf_init (&small, 64);
    hm_buf_puts (&small, "keep");
    assert_int_equal (hm_sns_batch_body (&small, arn, e, 2), -1);
    assert_string_equal (small.data, "keep");
    hm_buf_free (&small);
    hm_buf_free (&body);
}

static void
test_parse_reply (void **state)
{
    (void)state;
    const char *aws = "<PublishBatchResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">"
                      "<PublishBatchResult><Successful>"
                      "<member><Id>m0</Id><MessageId>a</MessageId></member>"
                      "<member><MessageId>b</MessageId><Id>m2</Id></member>"
                      "</Successful><Failed>"
                      "<member><Id>m1</Id><Code>InvalidParameter</Code>"
                      "<Message>bad &lt;thing&gt;</Message><SenderFault>true</SenderFault></member>"
                      "<member><Id>m3</Id><Code>InternalError</Code><Message>try again</Message>"
                      "<SenderFault>false</SenderFault></member>"
                      "<member><Id>bogus</Id><Code>X</Code></member>"
                      "</Failed></PublishBatchResult></PublishBatchResponse>";
    hm_sns_outcome_t out[20];
    long n = hm_sns_parse_batch_reply (aws, strlen (aws), out, 20);
    assert_int_equal (n, 4);
    assert_int_equal (out[0].index, 0);
    assert_true (out[0].ok);
    assert_int_equal (out[1].index, 2);
    assert_true (out[1].ok);
    assert_int_equal (out[2].index, 1);
    assert_false (out[2].ok);
    assert_true (out[2].sender_fault);
    assert_string_equal (out[2].code, "InvalidParameter");
    assert_string_equal (out[2].message, "bad <thing>");
    assert_int_equal (out[3].index, 3);
    assert_false (out[3].ok);
    assert_false (out[3].sender_fault);
    assert_string_equal (out[3].code, "InternalError");
    /* The cap is respected. */
    assert_int_equal (hm_sns_parse_batch_reply (aws, strlen (aws), out, 3), 3);

    const char *all_ok = "<PublishBatchResponse><PublishBatchResult><Successful><member><Id>m9"
                         "</Id></member></Successful><Failed/></PublishBatchResult>"
                         "</PublishBatchResponse>";
    assert_int_equal (hm_sns_parse_batch_reply (all_ok, strlen (all_ok), out, 20), 1);
    assert_int_equal (out[0].index, 9);
    assert_true (out[0].ok);

    const char *error = "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameter</Code>"
                        "</Error></ErrorResponse>";
    assert_int_equal (hm_sns_parse_batch_reply (error, strlen (error), out, 20), -1);
    assert_int_equal (hm_sns_parse_batch_reply (NULL, 0, out, 20), -1);

    /* Only ids as the request wrote them count: "m7" names entry 7, but
       "m07" and a number too long for the entry count (it once overflowed a
       long, found by fuzz_cloud_reply) name none, so those entries stay
       unpublished and are retried. */
    const char *odd = "<PublishBatchResult><Successful><member><Id>m07</Id></member>"
                      "<member><Id>m9999999999999999999</Id></member>"
                      "<member><Id>m1234567890</Id></member>"
                      "<member><Id>m123456789</Id></member>"
                      "<member><Id>m0</Id></member></Successful></PublishBatchResult>";
    assert_int_equal (hm_sns_parse_batch_reply (odd, strlen (odd), out, 20), 2);
    assert_int_equal (out[0].index, 123456789);
    assert_int_equal (out[1].index, 0);
}

/* --- the 256 KiB boundary through the backend -------------------------- */

static Hm__Event
s_event (uint32_t nr)
{
    Hm__Event e = HM__EVENT__INIT;
    HM_SET_STR (&e, device_id, "d");
    HM_SET_STR (&e, client_id, "c");
    HM_SET_STR (&e, session, "s");
    e.has_nr = true;
    e.nr = nr;
    e.has_env = true;
    e.env = 11;
    HM_SET_STR (&e, system_version, "1");
    HM_SET_STR (&e, product_version, "1");
    e.has_at = true;
    e.at = 1454514088;
    HM_SET_STR (&e, timezone, "");
    HM_SET_STR (&e, event, "");
    e.parameters = "{}";
    return e;
}

/* An event name making the event's JSON line (without '\n') len bytes. */
static char *
s_sized (Hm__Event *e, size_t len)
{
    hm_buf_t line;
    hm_buf_init (&line, 0);
    hm_encode_json (&line, e);
    size_t base = line.len - 1;
    hm_buf_free (&line);
    assert_true (len > base);
    char *name = malloc (len - base + 1);
    memset (name, 'x', len - base);
    name[len - base] = '\0';
    HM_SET_STR (e, event, name);
    hm_buf_init (&line, 0);
    hm_encode_json (&line, e);
    assert_int_equal (line.len - 1, len);
    hm_buf_free (&line);
    return name;
}

static void
test_message_size_boundary (void **state)
{
    (void)state;
    /* Nothing listens on port 1: what is sent fails (RETRY); what is too
       large is dead-lettered without being sent. */
    char err[512];
    const char *json =
        "{\"shared_secret\":\"s\",\"router\":{\"run_dir\":\"/tmp\",\"data_dir\":\"/tmp\"},"
        "\"routes\":{\"sns\":{\"sink\":\"sns\",\"sns\":{\"endpoint\":\"http://127.0.0.1:1\","
        "\"access_key_id\":\"A\",\"secret_access_key\":\"S\","
        "\"topic_arn\":\"arn:aws:sns:us-east-1:000000000000:t\"}}}}";
    hm_config_t *cfg = hm_config_parse (json, "t.json", err, sizeof err);
    assert_non_null (cfg);
    void *sns = hm_sns_backend.init (cfg, &cfg->routes[0], err, sizeof err);
    if (!sns)
        print_error ("init: %s\n", err);
    assert_non_null (sns);

    Hm__Event events[3] = {s_event (1), s_event (2), s_event (3)};
    char *n0 = s_sized (&events[0], HM_SNS_MAX_MESSAGE);     /* exactly the limit: sent */
    char *n1 = s_sized (&events[1], HM_SNS_MAX_MESSAGE + 1); /* one byte over: dead */
    Hm__Event *ptrs[3] = {&events[0], &events[1], &events[2]};
    Hm__Delivery d = HM__DELIVERY__INIT;
    d.route = "sns";
    d.first_offset = 1;
    d.last_offset = 1;
    d.n_events = 3;
    d.events = ptrs;
    hm_batch_t batch;
    hm_batch_of_delivery (&batch, &d);

    hm_sink_result_t result;
    hm_sink_result_init (&result);
    assert_int_equal (hm_sns_backend.deliver (sns, &batch, &result), HM_SINK_RETRY);
    assert_non_null (strstr (result.reason, "2 of 3 events not published yet"));
    assert_int_equal (result.dead_count, 1);
    assert_int_equal (result.dead[0].index, 1);
    assert_string_equal (result.dead[0].reason,
                         "message of 262145 bytes is over SNS's 262144-byte limit");
    /* The retry remembers the dead letter: it is reported again. */
    hm_sink_result_reset (&result);
    assert_int_equal (hm_sns_backend.deliver (sns, &batch, &result), HM_SINK_RETRY);
    assert_int_equal (result.dead_count, 1);
    assert_int_equal (result.dead[0].index, 1);
    hm_sink_result_free (&result);
    hm_sns_backend.destroy (&sns);
    assert_null (sns);
    free (n0);
    free (n1);
    hm_config_destroy (&cfg);
}

static void
test_init_config_errors (void **state)
{
    (void)state;
    unsetenv ("AWS_ACCESS_KEY_ID");
    unsetenv ("AWS_SECRET_ACCESS_KEY");
    unsetenv ("AWS_REGION");
    unsetenv ("AWS_DEFAULT_REGION");
    static const struct {
        const char *section;
        const char *error;
    } cases[] = {
        {"{\"access_key_id\":\"A\",\"secret_access_key\":\"S\"}",
         "routes.sns.sns.topic_arn: missing"},
        {"{\"access_key_id\":\"A\",\"secret_access_key\":\"S\",\"topic_arn\":\"events\"}",
         "routes.sns.sns.topic_arn: not an SNS topic ARN"},
        {"{\"secret_access_key\":\"S\",\"topic_arn\":\"arn:aws:sns:us-east-1:1:t\"}",
         "routes.sns.sns.access_key_id: missing"},
        {"{\"access_key_id\":\"A\",\"secret_access_key\":\"S\",\"region\":\"us east\","
         "\"topic_arn\":\"arn:aws:sns:us-east-1:1:t\"}",
         "routes.sns.sns.region:"},
        {"{\"access_key_id\":\"A\",\"secret_access_key\":\"S\","
         "\"topic_arn\":\"arn:aws:sns:us-east-1:1:t\"}",
         NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char json[1024], err[512] = "";
        snprintf (
            json, sizeof json,
            "{\"shared_secret\":\"s\",\"router\":{\"run_dir\":\"/tmp\",\"data_dir\":\"/tmp\"},"
            "\"routes\":{\"sns\":{\"sink\":\"sns\",\"sns\":%s}}}",
            cases[i].section);
        hm_config_t *cfg = hm_config_parse (json, "t.json", err, sizeof err);
        assert_non_null (cfg);
        void *sns = hm_sns_backend.init (cfg, &cfg->routes[0], err, sizeof err);
        if (cases[i].error) {
            assert_null (sns);
            if (!strstr (err, cases[i].error))
                print_error ("case %zu: got \"%s\"\n", i, err);
            assert_non_null (strstr (err, cases[i].error));
        }
        else {
            assert_non_null (sns);
            hm_sns_backend.destroy (&sns);
        }
        hm_config_destroy (&cfg);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_topic_arn),
        cmocka_unit_test (test_fifo_ids),
        cmocka_unit_test (test_pack),
        cmocka_unit_test (test_batch_body),
        cmocka_unit_test (test_parse_reply),
        cmocka_unit_test (test_message_size_boundary),
        cmocka_unit_test (test_init_config_errors),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
