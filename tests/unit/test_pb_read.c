/*  test_pb_read: the ingest's zero-copy Collection reader (common/pb_read.h)
    against protobuf-c's unpack: the same accept or refuse and the same
    fields (tests/fuzz/pb_diff.h) on hand-made edge cases (truncation,
    over-long varints, lengths and keys, every wire type, missing required
    fields, unknown enum values, NUL bytes) and on generated collections,
    whole and mutated (bytes flipped, cut, inserted, removed, repeated).
    fuzz_collection does the same on its corpus. */
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

static hm_arena_t s_arena;

static int
s_setup (void **state)
{
    (void)state;
    hm_arena_init (&s_arena, 64u << 10);
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    hm_arena_destroy (&s_arena);
    return 0;
}

/* Both readers agree on the input; returns whether they accepted it. */
static bool
s_agree (const void *data, size_t len)
{
    bool accepted;
    /* An exact-size copy: a read past the input is then seen (ASan, valgrind). */
    uint8_t *copy = malloc (len ? len : 1);
    assert_non_null (copy);
    if (len)
        memcpy (copy, data, len);
    const char *why = hm_pb_diff (&s_arena, len, copy, &accepted);
    free (copy);
    if (why) {
        fprintf (stderr, "differ (%s) on %zu bytes:", why, len);
        for (size_t i = 0; i < len; i++)
            fprintf (stderr, " %02x", ((const uint8_t *)data)[i]);
        fprintf (stderr, "\n");
    }
    assert_null (why);
    return accepted;
}

#define S_AGREE(bytes) s_agree ((bytes), sizeof (bytes) - 1)

/* Every field of the client's messages is of a kind the reader handles. */
static void
test_descriptors (void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d[] = {&collection__descriptor, &payload__descriptor,
                                             &parameter__descriptor};
    for (size_t k = 0; k < 3; k++)
        for (unsigned i = 0; i < d[k]->n_fields; i++) {
            const ProtobufCFieldDescriptor *f = &d[k]->fields[i];
            if (f->label == PROTOBUF_C_LABEL_REPEATED)
                assert_int_equal (f->type, PROTOBUF_C_TYPE_MESSAGE);
            else
                assert_true (f->type == PROTOBUF_C_TYPE_BYTES ||
                             f->type == PROTOBUF_C_TYPE_UINT64 ||
                             f->type == PROTOBUF_C_TYPE_UINT32 || f->type == PROTOBUF_C_TYPE_ENUM);
        }
}

/* The required fields of a Collection: 1-5 empty, env 11. */
#define S_HEAD "\x0a\x00\x12\x00\x1a\x00\x22\x00\x2a\x00\x30\x0b"

static void
test_edges (void **state)
{
    (void)state;
    assert_true (S_AGREE (S_HEAD));
    assert_false (S_AGREE (""));
    /* each required field missing in turn */
    assert_false (S_AGREE ("\x12\x00\x1a\x00\x22\x00\x2a\x00\x30\x0b"));
    assert_false (S_AGREE ("\x0a\x00\x12\x00\x1a\x00\x22\x00\x2a\x00"));
    /* NUL bytes inside values, the last of a repeated singular field wins */
    assert_true (S_AGREE (S_HEAD "\x0a\x03\x61\x00\x62\x3a\x01\x00\x3a\x02\x78\x79"));
    /* an unknown enum value is the caller's check, as with protobuf-c */
    assert_true (S_AGREE (S_HEAD "\x30\x63"));
    assert_true (S_AGREE (S_HEAD "\x30\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"));
    /* varints: 10 bytes with high bits (kept as protobuf-c keeps them), 11 */
    assert_true (S_AGREE (S_HEAD "\x30\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"));
    assert_false (S_AGREE (S_HEAD "\x30\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"));
    assert_false (S_AGREE (S_HEAD "\x30\xff")); /* cut */
    /* a known field with another wire type */
    assert_false (S_AGREE (S_HEAD "\x32\x01\x00"));
    assert_false (S_AGREE (S_HEAD "\x08\x01"));
    assert_false (S_AGREE (S_HEAD "\x35\x01\x00\x00\x00"));
    /* unknown fields of every wire type: 0, 1, 2, 5 skipped; 3, 4, 6, 7 refused */
    assert_true (S_AGREE (S_HEAD "\xa0\x06\x01"));
    assert_true (S_AGREE (S_HEAD "\xa1\x06\x01\x02\x03\x04\x05\x06\x07\x08"));
    assert_true (S_AGREE (S_HEAD "\xa2\x06\x02\x01\x02"));
    assert_true (S_AGREE (S_HEAD "\xa5\x06\x01\x02\x03\x04"));
    assert_false (S_AGREE (S_HEAD "\xa3\x06"));
    assert_false (S_AGREE (S_HEAD "\xa4\x06"));
    assert_false (S_AGREE (S_HEAD "\xa6\x06\x00"));
    assert_false (S_AGREE (S_HEAD "\xa7\x06\x00"));
    assert_false (S_AGREE (S_HEAD "\xa1\x06\x01\x02")); /* fixed64 cut */
    assert_false (S_AGREE (S_HEAD "\xa5\x06\x01"));     /* fixed32 cut */
    /* keys: field 0, over-long encodings, 5 and 6 bytes */
    assert_false (S_AGREE (S_HEAD "\x00\x00"));
    assert_false (S_AGREE (S_HEAD "\x02\x00"));
    assert_true (S_AGREE (S_HEAD "\x8a\x80\x00\x00"));
    assert_true (S_AGREE (S_HEAD "\x80\x81\x80\x80\x00\x01"));
    assert_false (S_AGREE (S_HEAD "\x80\x81\x80\x80\x80\x00\x01"));
    assert_false (S_AGREE (S_HEAD "\x88\x80\x80\x80\x00\x01")); /* field 1 as a varint */
    assert_true (S_AGREE (S_HEAD "\xf8\xff\xff\xff\x0f\x01"));
    /* lengths: over-long 5 bytes, 6 bytes, past the end, huge */
    assert_true (S_AGREE (S_HEAD "\x0a\x81\x80\x80\x80\x00\x61"));
    assert_false (S_AGREE (S_HEAD "\x0a\x81\x80\x80\x80\x80\x00\x61"));
    assert_false (S_AGREE (S_HEAD "\x0a\x02\x61"));
    assert_false (S_AGREE (S_HEAD "\x0a\xff\xff\xff\xff\x0f\x61"));
    /* payloads: complete, missing a required field, broken inside,
       parameters with and without their required fields */
    assert_true (S_AGREE (S_HEAD "\x7a\x06\x08\x01\x12\x00\x18\x02"));
    assert_false (S_AGREE (S_HEAD "\x7a\x00\x7a\x06\x08\x01\x12\x00\x18\x02"));
    assert_false (S_AGREE (S_HEAD "\x7a\x04\x08\x01\x12\x00"));
    assert_false (S_AGREE (S_HEAD "\x7a\x07\x08\x01\x12\x00\x18\x02\x03"));
    assert_true (
        S_AGREE (S_HEAD "\x7a\x0e\x08\x01\x12\x00\x18\x02\x4a\x06\x0a\x01\x00\x12\x01\x00"));
    assert_false (S_AGREE (S_HEAD "\x7a\x0b\x08\x01\x12\x00\x18\x02\x4a\x03\x0a\x01\x00"));
    /* a payload field with the message's wire type */
    assert_false (S_AGREE (S_HEAD "\x78\x01"));
}

/* A small deterministic generator (xorshift64). */
static uint64_t s_rng = 0x9e3779b97f4a7c15u;
static uint64_t
s_rand (void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

static ProtobufCBinaryData
s_text (uint8_t *pool, size_t *used)
{
    size_t n = s_rand () % 4 == 0 ? 0 : s_rand () % 12;
    uint8_t *p = pool + *used;
    for (size_t i = 0; i < n; i++)
        p[i] = s_rand () % 5 == 0 ? 0 : (uint8_t)('a' + s_rand () % 26);
    *used += n;
    return (ProtobufCBinaryData){n, n ? p : NULL};
}

/* A random valid collection, packed into out; returns its length. */
static size_t
s_generate (uint8_t *out)
{
    uint8_t pool[4096];
    size_t used = 0;
    Collection c;
    Payload p[4], *pp[4];
    Parameter q[4][3], *qq[4][3];
    collection__init (&c);
    c.device_id = s_text (pool, &used);
    c.client_id = s_text (pool, &used);
    c.session = s_text (pool, &used);
    c.system_version = s_text (pool, &used);
    c.product_version = s_text (pool, &used);
    c.env = (Environment)(s_rand () % 12);
#define S_MAYBE(m, f)                                                                              \
    if (s_rand () % 2)                                                                             \
    (m)->has_##f = true, (m)->f = s_text (pool, &used)
    S_MAYBE (&c, device_make);
    S_MAYBE (&c, device_model);
    S_MAYBE (&c, system);
    S_MAYBE (&c, browser_version);
    S_MAYBE (&c, product_language);
    c.n_payloads = s_rand () % 5;
    c.payloads = pp;
    for (size_t i = 0; i < c.n_payloads; i++) {
        payload__init (&p[i]);
        pp[i] = &p[i];
        p[i].at = s_rand () % 3 ? 1454514088 + s_rand () % 1000 : s_rand ();
        p[i].event = s_text (pool, &used);
        p[i].nr = (uint32_t)s_rand ();
        S_MAYBE (&p[i], timezone);
        S_MAYBE (&p[i], ip);
        S_MAYBE (&p[i], country);
        S_MAYBE (&p[i], user_id);
        p[i].n_parameters = s_rand () % 4;
        p[i].parameters = qq[i];
        for (size_t k = 0; k < p[i].n_parameters; k++) {
            parameter__init (&q[i][k]);
            qq[i][k] = &q[i][k];
            q[i][k].name = s_text (pool, &used);
            q[i][k].value = s_text (pool, &used);
        }
    }
#undef S_MAYBE
    return collection__pack (&c, out);
}

/* Bytes that make the reader's rules matter when inserted. */
static const uint8_t s_special[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                    0x0a, 0x30, 0x7a, 0x4a, 0x7f, 0x80, 0xff, 0x0b, 0x0c};

static void
test_generated_and_mutated (void **state)
{
    (void)state;
    uint8_t base[4096], m[4200];
    unsigned accepted = 0, refused = 0;
    for (int round = 0; round < 10000; round++) {
        size_t len = s_generate (base);
        assert_true (len < sizeof base);
        assert_true (s_agree (base, len));
        for (int k = 0; k < 20; k++) {
            memcpy (m, base, len);
            size_t n = len;
            for (int edits = 1 + (int)(s_rand () % 3); edits > 0; edits--) {
                size_t at = n ? s_rand () % n : 0;
                switch (s_rand () % 5) {
                case 0: /* flip a byte */
                    if (n)
                        m[at] = s_rand () % 2 ? s_special[s_rand () % sizeof s_special]
                                              : (uint8_t)s_rand ();
                    break;
                case 1: /* cut */
                    n = at;
                    break;
                case 2: /* insert */
                    if (n + 1 < sizeof m) {
                        memmove (m + at + 1, m + at, n - at);
                        m[at] = s_special[s_rand () % sizeof s_special];
                        n++;
                    }
                    break;
                case 3: { /* remove a range */
                    size_t r = n ? s_rand () % (n - at + 1) % 8 : 0;
                    memmove (m + at, m + at + r, n - at - r);
                    n -= r;
                    break;
                }
                default: { /* repeat a range */
                    size_t r = s_rand () % 16;
                    if (at + r <= n && n + r < sizeof m) {
                        memmove (m + at + r, m + at, n - at);
                        n += r;
                    }
                }
                }
            }
            if (s_agree (m, n))
                accepted++;
            else
                refused++;
        }
    }
    /* the mutations reach both outcomes */
    assert_true (accepted > 1000 && refused > 1000);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_descriptors),
        cmocka_unit_test (test_edges),
        cmocka_unit_test (test_generated_and_mutated),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
