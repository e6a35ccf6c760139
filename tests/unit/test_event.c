/*  test_event: a Collection flattened into events, the parameters' JSON
    text, and how a recorded IP is masked (which one is chosen:
    test_client_ip). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "event.h"
#include "hm_test_bytes.h"
#include "signature.h"

static void
test_env_names (void **state)
{
    (void)state;
    assert_string_equal (hm_env_name (0), "PRODUCTION");
    assert_string_equal (hm_env_name (11), "DEVELOPMENT");
    assert_null (hm_env_name (12));
    assert_null (hm_env_name (-1));
    assert_int_equal (hm_env_from_name ("DEVELOPMENT"), 11);
    assert_int_equal (hm_env_from_name ("GENERAL_AVAILABILITY"), 1);
    assert_int_equal (hm_env_from_name ("development"), -1);
    assert_int_equal (hm_env_from_name ("11"), -1);
    assert_int_equal (hm_env_from_name (NULL), -1);
}

static void
test_parameters_json (void **state)
{
    (void)state;
    Parameter p[5];
    Parameter *pp[5];
    const char *kv[5][2] = {{"b", "2"}, {"a", "1"}, {"b", "3"}, {"c", "<x\"y>"}, {"B", "up"}};
    for (int i = 0; i < 5; i++) {
        parameter__init (&p[i]);
        p[i].name = hm_bytes (kv[i][0]);
        p[i].value = hm_bytes (kv[i][1]);
        pp[i] = &p[i];
    }
    /* sorted bytewise ("B" < "a"), last "b" wins, values escaped as Go */
    char *json = hm_parameters_json (pp, 5);
    assert_string_equal (json,
                         "{\"B\":\"up\",\"a\":\"1\",\"b\":\"3\",\"c\":\"\\u003cx\\\"y\\u003e\"}");
    free (json);

    json = hm_parameters_json (NULL, 0);
    assert_string_equal (json, "{}");
    free (json);

    /* a repeated name at the very end, and a key that needs escaping */
    p[0].name = hm_bytes ("k&");
    p[0].value = hm_bytes ("first");
    p[1].name = hm_bytes ("k&");
    p[1].value = hm_bytes ("second");
    json = hm_parameters_json (pp, 2);
    assert_string_equal (json, "{\"k\\u0026\":\"second\"}");
    free (json);
}

/* Near a buffer's bound: the text is written whole when it fits, even
   exactly, and not at all when it does not, the buffer left as it was. */
static void
test_parameters_json_bound (void **state)
{
    (void)state;
    Parameter p[2];
    Parameter *pp[2] = {&p[0], &p[1]};
    parameter__init (&p[0]);
    parameter__init (&p[1]);
    p[0].name = hm_bytes ("a");
    p[0].value = hm_bytes ("1");
    p[1].name = hm_bytes ("b");
    p[1].value = hm_bytes ("<");
    struct {
        size_t n_params, limit;
        int rc;
        const char *text; /* after the "x" already there */
    } cases[] = {
        {1, 1 + 9, 0, "{\"a\":\"1\"}"}, /* fits exactly */
        {1, 1 + 8, -1, NULL},           /* one byte short */
        {2, 1 + 22, 0, "{\"a\":\"1\",\"b\":\"\\u003c\"}"},
        {2, 1 + 21, -1, NULL}, /* unescaped (17 bytes) it would fit */
        {2, 1 + 17, -1, NULL},
        {2, 1 + 16, -1, NULL}, /* not even unescaped */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hm_buf_t b;
        hm_buf_init (&b, cases[i].limit);
        assert_int_equal (hm_buf_putc (&b, 'x'), 0);
        assert_int_equal (hm_parameters_json_append (&b, pp, cases[i].n_params), cases[i].rc);
        if (cases[i].text) {
            assert_int_equal (b.len, 1 + strlen (cases[i].text));
            assert_string_equal (b.data + 1, cases[i].text);
        }
        else {
            assert_int_equal (b.len, 1);
            assert_string_equal (b.data, "x");
        }
        hm_buf_free (&b);
    }
}

/* A collection with two payloads built on the stack. */
typedef struct {
    Collection c;
    Payload p[2];
    Payload *pp[2];
    Parameter params[3];
    Parameter *ppar[3];
} s_fixture_t;

static void
s_fixture (s_fixture_t *f)
{
    collection__init (&f->c);
    f->c.device_id = hm_bytes ("a73b1c37-2c24-4786-af7a-16de88fbe23a");
    f->c.client_id = hm_bytes ("bce44f67b2661fd445d469b525b04f68");
    f->c.session = hm_bytes ("0e350a2cc31648bb24ba61eb14be337c");
    f->c.system_version = hm_bytes ("10.10");
    f->c.product_version = hm_bytes ("1.1.2");
    f->c.env = ENVIRONMENT__DEVELOPMENT;
    HM_SET_STR (&f->c, device_make, "Apple");
    HM_SET_STR (&f->c, system, "OSX");
    for (int i = 0; i < 2; i++) {
        payload__init (&f->p[i]);
        f->pp[i] = &f->p[i];
    }
    f->p[0].at = 1454514088;
    f->p[0].event = hm_bytes ("open");
    f->p[0].nr = 1;
    HM_SET_STR (&f->p[0], timezone, "+01:00");
    HM_SET_STR (&f->p[0], user_id, "u1");
    f->p[1].at = UINT64_MAX;
    f->p[1].event = hm_bytes ("close");
    f->p[1].nr = 2;
    HM_SET_STR (&f->p[1], ip, "203.0.113.77");
    HM_SET_STR (&f->p[1], country, "HU");
    const char *kv[3][2] = {{"z", "1"}, {"y", "2"}, {"z", "3"}};
    for (int i = 0; i < 3; i++) {
        parameter__init (&f->params[i]);
        f->params[i].name = hm_bytes (kv[i][0]);
        f->params[i].value = hm_bytes (kv[i][1]);
        f->ppar[i] = &f->params[i];
    }
    f->p[1].parameters = f->ppar;
    f->p[1].n_parameters = 3;
    f->c.payloads = f->pp;
    f->c.n_payloads = 2;
}

static void
test_events_build (void **state)
{
    (void)state;
    s_fixture_t f;
    s_fixture (&f);
    Hm__Event *ev = hm_events_build (&f.c, "198.51.100.23", false);
    assert_non_null (ev);

    assert_bytes_equal_n (ev[0].device_id, f.c.device_id.data, f.c.device_id.len);
    assert_bytes_equal_n (ev[0].client_id, f.c.client_id.data, f.c.client_id.len);
    assert_bytes_equal_n (ev[0].session, f.c.session.data, f.c.session.len);
    assert_bytes_equal (ev[0].system_version, "10.10");
    assert_bytes_equal (ev[0].product_version, "1.1.2");
    assert_true (ev[0].has_env);
    assert_int_equal (ev[0].env, 11);
    assert_true (ev[0].has_nr);
    assert_int_equal (ev[0].nr, 1);
    assert_true (ev[0].has_at);
    assert_int_equal (ev[0].at, 1454514088);
    assert_bytes_equal (ev[0].event, "open");
    assert_bytes_equal (ev[0].timezone, "+01:00");
    assert_bytes_equal (ev[0].device_make, "Apple");
    assert_bytes_equal (ev[0].system, "OSX");
    assert_false (ev[0].has_device_model);
    assert_bytes_equal (ev[0].user_id, "u1");
    assert_bytes_equal (ev[0].ip, "198.51.100.23"); /* fallback */
    assert_string_equal (ev[0].parameters, "{}");

    assert_bytes_equal (ev[1].event, "close");
    assert_int_equal (ev[1].nr, 2);
    assert_true (ev[1].at == UINT64_MAX);
    assert_bytes_equal (ev[1].ip, "203.0.113.77"); /* the payload's own */
    assert_bytes_equal (ev[1].country, "HU");
    assert_string_equal (ev[1].parameters, "{\"y\":\"2\",\"z\":\"3\"}");
    assert_bytes_equal (ev[1].device_make, "Apple"); /* collection fields in every event */

    /* an event packs and unpacks (what goes to the router) */
    size_t len = hm__event__get_packed_size (&ev[1]);
    uint8_t *buf = malloc (len);
    hm__event__pack (&ev[1], buf);
    Hm__Event *back = hm__event__unpack (NULL, len, buf);
    assert_non_null (back);
    assert_string_equal (back->parameters, ev[1].parameters);
    assert_true (back->at == UINT64_MAX);
    hm__event__free_unpacked (back, NULL);
    free (buf);
    hm_events_free (ev, 2);
}

static void
test_events_masked_and_no_ip (void **state)
{
    (void)state;
    s_fixture_t f;
    s_fixture (&f);
    HM_SET_STR (&f.p[1], ip, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff");
    Hm__Event *ev = hm_events_build (&f.c, "198.51.100.23", true);
    assert_non_null (ev);
    assert_bytes_equal (ev[0].ip, "198.51.100.0");
    assert_bytes_equal (ev[1].ip, "2001:db8:aaaa::");
    hm_events_free (ev, 2);

    /* no payload ip and no fallback: empty, not NULL */
    ev = hm_events_build (&f.c, NULL, true);
    assert_non_null (ev);
    assert_bytes_equal (ev[0].ip, "");
    hm_events_free (ev, 2);

    /* no payloads: an (empty) array, not a failure */
    f.c.n_payloads = 0;
    ev = hm_events_build (&f.c, "", false);
    assert_non_null (ev);
    hm_events_free (ev, 0);
    hm_events_free (NULL, 0);
}

static void
s_assert_mask (const char *in, const char *expected)
{
    char ip[64];
    strcpy (ip, in);
    hm_mask_ip (ip, sizeof ip);
    assert_string_equal (ip, expected);
}

static void
test_mask_ip (void **state)
{
    (void)state;
    s_assert_mask ("1.2.3.4", "1.2.3.0");
    s_assert_mask ("203.0.113.255", "203.0.113.0");
    s_assert_mask ("::ffff:1.2.3.4", "1.2.3.0");
    /* IPv6: first 48 bits kept, canonical form */
    s_assert_mask ("2001:0db8:1234:5678:9abc:def0:1234:5678", "2001:db8:1234::");
    s_assert_mask ("2001:db8:1234:ffff::", "2001:db8:1234::");
    s_assert_mask ("::1", "::");
    /* anything else untouched */
    s_assert_mask ("", "");
    s_assert_mask ("not an ip", "not an ip");
    s_assert_mask ("1.2.3.4:80", "1.2.3.4:80");
    /* too little room for the canonical form: left as it was */
    char small[8] = "1.2.3.4";
    hm_mask_ip (small, 4);
    assert_string_equal (small, "1.2.3.4");
}

/* Issue 19: a protobuf Collection whose every string holds a NUL byte
   (and bytes after it) comes out of the decoder and into the events whole. */
#define CTL "ctl\0\1\x1f\x7f"
#define CTL_LEN 7

static void
test_nul_strings_whole (void **state)
{
    (void)state;
    s_fixture_t f;
    s_fixture (&f);
    ProtobufCBinaryData v = {CTL_LEN, (uint8_t *)CTL};
    f.c.device_id = f.c.client_id = f.c.system_version = f.c.product_version = v;
    f.c.has_device_make = f.c.has_device_model = f.c.has_system = f.c.has_system_language = true;
    f.c.has_browser = f.c.has_browser_version = f.c.has_product_git_hash = true;
    f.c.has_product_language = true;
    f.c.device_make = f.c.device_model = f.c.system = f.c.system_language = v;
    f.c.browser = f.c.browser_version = f.c.product_git_hash = f.c.product_language = v;
    Payload *p = &f.p[1];
    p->event = v;
    p->has_timezone = p->has_tenant_id = p->has_user_id = p->has_ip = p->has_country = true;
    p->timezone = p->tenant_id = p->user_id = p->ip = p->country = v;
    f.params[0].name = f.params[0].value = v;
    f.params[1].name = (ProtobufCBinaryData){2, (uint8_t *)"z\0"}; /* sorts after "z" */
    f.params[2].name = (ProtobufCBinaryData){1, (uint8_t *)"z"};

    /* What a client sends: the wire is the same as with string fields. */
    size_t len = collection__get_packed_size (&f.c);
    uint8_t *wire = malloc (len);
    collection__pack (&f.c, wire);
    Collection *c = collection__unpack (NULL, len, wire);
    assert_non_null (c);
    assert_bytes_equal_n (c->device_id, CTL, CTL_LEN);
    assert_bytes_equal_n (c->payloads[1]->parameters[0]->value, CTL, CTL_LEN);

    Hm__Event *ev = hm_events_build (c, "198.51.100.23", true);
    assert_non_null (ev);
    const Hm__Event *e = &ev[1];
    const ProtobufCBinaryData *all[] = {
        &e->device_id,   &e->client_id,       &e->system_version,   &e->product_version,
        &e->device_make, &e->device_model,    &e->system,           &e->system_language,
        &e->browser,     &e->browser_version, &e->product_git_hash, &e->product_language,
        &e->event,       &e->timezone,        &e->tenant_id,        &e->user_id,
        &e->ip,          &e->country,
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!hm_bytes_eq (*all[i], CTL, CTL_LEN))
            fail_msg ("event string %zu: %zu bytes, not 7", i, all[i]->len);
    /* The ip holds a NUL, so it is no address: not masked, not cut. */
    assert_true (e->has_ip);
    /* Parameter names in byte order with their NULs; values whole. */
    assert_string_equal (e->parameters, "{\"ctl\\u0000\\u0001\\u001f\x7f\":"
                                        "\"ctl\\u0000\\u0001\\u001f\x7f\","
                                        "\"z\":\"3\",\"z\\u0000\":\"2\"}");
    /* The event goes on to the router and comes back whole. */
    size_t elen = hm__event__get_packed_size (e);
    uint8_t *ebuf = malloc (elen);
    hm__event__pack (e, ebuf);
    Hm__Event *back = hm__event__unpack (NULL, elen, ebuf);
    assert_non_null (back);
    assert_bytes_equal_n (back->event, CTL, CTL_LEN);
    assert_bytes_equal_n (back->ip, CTL, CTL_LEN);
    hm__event__free_unpacked (back, NULL);
    free (ebuf);
    hm_events_free (ev, 2);
    collection__free_unpacked (c, NULL);
    free (wire);
}

/* The session a client computes over strings with NULs (Go's Sprintf
   keeps them) is the one the ingest expects. */
static void
test_session_with_nul (void **state)
{
    (void)state;
    const char *parts[4] = {CTL, "c", "1\0x", "2"};
    size_t lens[4] = {CTL_LEN, 1, 3, 1};
    char got[33], want[33], cut[33];
    hm_session_n (parts, lens, 11, got);
    const char text[] = CTL ":c:1\0x:2:11";
    hm_md5_hex (text, sizeof text - 1, want);
    assert_string_equal (got, want);
    hm_session ("ctl", "c", "1", "2", 11, cut);
    assert_string_not_equal (got, cut);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_env_names),
        cmocka_unit_test (test_parameters_json),
        cmocka_unit_test (test_parameters_json_bound),
        cmocka_unit_test (test_events_build),
        cmocka_unit_test (test_events_masked_and_no_ip),

        cmocka_unit_test (test_mask_ip),
        cmocka_unit_test (test_nul_strings_whole),
        cmocka_unit_test (test_session_with_nul),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
