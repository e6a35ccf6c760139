/*  test_event_pack: hm_events_write (the ingest's events, written straight
    in protobuf form) against packing hm_events_build's events with
    protobuf-c: the same bytes, byte for byte, whatever fields are set,
    with NUL bytes in strings, masked or long IPs, many parameters, and a
    written event decodes back to the built one. fuzz_collection checks the
    same on every corpus input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/pb_diff.h"
#include "event.h"
#include "hm_buf.h"
#include "hm_test_bytes.h"

/* hm_events_build's events packed by protobuf-c, each as field 2 of an
   AppendRequest, as the ingest sent them before. */
static void
s_packed (const Collection *c, const char *ip, bool masked, hm_buf_t *out)
{
    Hm__Event *ev = hm_events_build (c, ip, masked);
    assert_non_null (ev);
    assert_int_equal (hm_pb_pack_events (out, ev, c->n_payloads), 0);
    hm_events_free (ev, c->n_payloads);
}

static void
s_same (const Collection *c, const char *ip, bool masked)
{
    hm_buf_t want, got, scratch;
    hm_buf_init (&want, 0);
    hm_buf_init (&got, 0);
    hm_buf_init (&scratch, 0);
    s_packed (c, ip, masked, &want);
    /* out keeps what it held: the events are appended */
    assert_int_equal (hm_buf_append (&got, "x", 1), 0);
    assert_int_equal (hm_events_write (&got, c, ip, masked, 0x12, &scratch), 0);
    assert_int_equal (got.len, want.len + 1);
    assert_memory_equal (got.data + 1, want.data, want.len);
    hm_buf_free (&want);
    hm_buf_free (&got);
    hm_buf_free (&scratch);
}

#define S_PARAMS 40 /* past the stack-sorted count in event.c */

typedef struct {
    Collection c;
    Payload p[3];
    Payload *pp[3];
    Parameter params[S_PARAMS];
    Parameter *ppar[S_PARAMS];
    char names[S_PARAMS][8];
} s_fixture_t;

static void
s_fixture (s_fixture_t *f)
{
    collection__init (&f->c);
    /* NUL bytes inside the client's strings travel whole (issue 19) */
    f->c.device_id = (ProtobufCBinaryData){5, (uint8_t *)"de\0v1"};
    f->c.client_id = hm_bytes ("bce44f67b2661fd445d469b525b04f68");
    f->c.session = hm_bytes ("0e350a2cc31648bb24ba61eb14be337c");
    f->c.system_version = hm_bytes ("10.10");
    f->c.product_version = hm_bytes ("");
    f->c.env = ENVIRONMENT__DEVELOPMENT;
    HM_SET_STR (&f->c, device_make, "Apple");
    HM_SET_STR (&f->c, system, "OSX");
    HM_SET_STR (&f->c, product_language, "hu");
    f->c.has_browser = true; /* sent empty: written as a present, empty field */
    for (int i = 0; i < 3; i++) {
        payload__init (&f->p[i]);
        f->pp[i] = &f->p[i];
    }
    f->p[0].at = 1454514088;
    f->p[0].event = hm_bytes ("open");
    f->p[0].nr = 1;
    HM_SET_STR (&f->p[0], timezone, "+01:00");
    HM_SET_STR (&f->p[0], user_id, "u1");
    HM_SET_STR (&f->p[0], tenant_id, "t");
    f->p[1].at = UINT64_MAX;
    f->p[1].event = (ProtobufCBinaryData){3, (uint8_t *)"c\0x"};
    f->p[1].nr = UINT32_MAX;
    HM_SET_STR (&f->p[1], ip, "2001:db8:0:0:0:0:0:1");
    HM_SET_STR (&f->p[1], country, "HU");
    /* an ip longer than the 64 bytes the masked copy starts with */
    f->p[2].event = hm_bytes ("long ip");
    HM_SET_STR (&f->p[2], ip,
                "not-an-address-but-a-client-sent-text-longer-than-sixty-four-bytes-0123456789");
    for (int i = 0; i < S_PARAMS; i++) {
        parameter__init (&f->params[i]);
        snprintf (f->names[i], sizeof f->names[i], "k%02d", (S_PARAMS - i) % 17);
        f->params[i].name = hm_bytes (f->names[i]);
        f->params[i].value = (ProtobufCBinaryData){2, (uint8_t *)(i % 2 ? "v\0" : "<>")};
        f->ppar[i] = &f->params[i];
    }
    f->p[1].parameters = f->ppar;
    f->p[1].n_parameters = 3;
    f->p[2].parameters = f->ppar;
    f->p[2].n_parameters = S_PARAMS;
    f->c.payloads = f->pp;
    f->c.n_payloads = 3;
}

static void
test_same_bytes (void **state)
{
    (void)state;
    s_fixture_t f;
    s_fixture (&f);
    for (int masked = 0; masked < 2; masked++) {
        s_same (&f.c, "198.51.100.23", masked);
        s_same (&f.c, NULL, masked);
        s_same (&f.c, "", masked);
    }
    /* a NUL inside the ip: kept as sent, masked or not */
    f.p[0].has_ip = true;
    f.p[0].ip = (ProtobufCBinaryData){9, (uint8_t *)"10.0.0\0.1"};
    s_same (&f.c, "198.51.100.23", true);
    /* every optional field absent, a negative env (ten bytes on the wire) */
    collection__init (&f.c);
    payload__init (&f.p[0]);
    f.c.env = -3;
    f.c.payloads = f.pp;
    f.c.n_payloads = 1;
    s_same (&f.c, "198.51.100.23", false);
    /* no payloads: nothing written */
    f.c.n_payloads = 0;
    s_same (&f.c, "198.51.100.23", false);
}

/* What is written decodes to the events hm_events_build makes. */
static void
test_decodes_back (void **state)
{
    (void)state;
    s_fixture_t f;
    s_fixture (&f);
    hm_buf_t out, scratch;
    hm_buf_init (&out, 0);
    hm_buf_init (&scratch, 0);
    /* an AppendRequest: batch_id 7, then the events */
    assert_int_equal (hm_buf_append (&out, "\x08\x07", 2), 0);
    assert_int_equal (hm_events_write (&out, &f.c, "198.51.100.23", true, 0x12, &scratch), 0);
    Hm__AppendRequest *req = hm__append_request__unpack (NULL, out.len, (const uint8_t *)out.data);
    assert_non_null (req);
    assert_int_equal (req->batch_id, 7);
    assert_int_equal (req->n_events, 3);
    assert_bytes_equal_n (req->events[0]->device_id, "de\0v1", 5);
    assert_bytes_equal_n (req->events[1]->event, "c\0x", 3);
    assert_int_equal (req->events[1]->nr, UINT32_MAX);
    assert_int_equal (req->events[1]->at, UINT64_MAX);
    assert_bytes_equal (req->events[0]->ip, "198.51.100.0"); /* masked */
    assert_bytes_equal (req->events[1]->ip, "2001:db8::");
    assert_true (req->events[0]->has_user_id && !req->events[1]->has_user_id);
    assert_true (req->events[0]->has_browser && req->events[0]->browser.len == 0);
    assert_string_equal (req->events[0]->parameters, "{}");
    assert_string_equal (
        req->events[1]->parameters,
        "{\"k04\":\"\\u003c\\u003e\",\"k05\":\"v\\u0000\",\"k06\":\"\\u003c\\u003e\"}");
    hm__append_request__free_unpacked (req, NULL);
    hm_buf_free (&out);
    hm_buf_free (&scratch);
}

/* out's bound: a write past it fails and leaves out as it was. */
static void
test_limit (void **state)
{
    (void)state;
    s_fixture_t f;
    s_fixture (&f);
    hm_buf_t out, scratch;
    hm_buf_init (&out, 300);
    hm_buf_init (&scratch, 0);
    assert_int_equal (hm_buf_append (&out, "ab", 2), 0);
    assert_int_equal (hm_events_write (&out, &f.c, "198.51.100.23", false, 0x12, &scratch), -1);
    assert_int_equal (out.len, 2);
    hm_buf_free (&out);
    hm_buf_free (&scratch);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_same_bytes),
        cmocka_unit_test (test_decodes_back),
        cmocka_unit_test (test_limit),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
