/*  test_gz: gzip and gunzip round trips, the gzip header, and the bound of
    the output buffer on both sides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "gz.h"

static void
s_roundtrip (const void *data, size_t len)
{
    hm_buf_t gz, back;
    hm_buf_init (&gz, 0);
    hm_buf_init (&back, 0);
    assert_int_equal (hm_gzip (data, len, &gz), 0);
    /* RFC 1952 magic and deflate method */
    assert_true (gz.len >= 18);
    assert_int_equal ((uint8_t)gz.data[0], 0x1f);
    assert_int_equal ((uint8_t)gz.data[1], 0x8b);
    assert_int_equal ((uint8_t)gz.data[2], 8);
    assert_int_equal (hm_gunzip (gz.data, gz.len, &back), 0);
    assert_int_equal (back.len, len);
    if (len)
        assert_memory_equal (back.data, data, len);
    hm_buf_free (&gz);
    hm_buf_free (&back);
}

static void
test_roundtrip (void **state)
{
    (void)state;
    s_roundtrip ("", 0);
    s_roundtrip ("hello\n", 6);

    /* larger than one chunk, partly compressible, partly not */
    size_t len = 1 << 20;
    uint8_t *big = malloc (len);
    assert_non_null (big);
    uint32_t x = 12345;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        big[i] = i < len / 2 ? (uint8_t)(x >> 24) : (uint8_t)("abcdef\n"[i % 7]);
    }
    s_roundtrip (big, len);
    free (big);
}

static void
test_appends (void **state)
{
    (void)state;
    /* both append after what the buffer already holds */
    hm_buf_t gz, back;
    hm_buf_init (&gz, 0);
    hm_buf_init (&back, 0);
    hm_buf_puts (&gz, "PREFIX");
    assert_int_equal (hm_gzip ("abc", 3, &gz), 0);
    hm_buf_puts (&back, ">");
    assert_int_equal (hm_gunzip (gz.data + 6, gz.len - 6, &back), 0);
    assert_string_equal (back.data, ">abc");
    hm_buf_free (&gz);
    hm_buf_free (&back);
}

/* Data that does not compress still fits a bound just above its stored
   size (5 bytes per block, gzip's 18), as it did with libdeflate alone:
   igzip falls back to stored blocks itself. */
static void
test_incompressible_tight_bound (void **state)
{
    (void)state;
    size_t len = 300000;
    uint8_t *rnd = malloc (len);
    assert_non_null (rnd);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        rnd[i] = (uint8_t)x;
    }
    /* stored: 5 bytes per block of <= 64 KiB, 18 of gzip's, some slack */
    size_t stored = len + 5 * (len / 10000 + 1) + 18 + 16;
    hm_buf_t gz, back;
    hm_buf_init (&gz, stored + 1);
    hm_buf_init (&back, 0);
    assert_int_equal (hm_gzip (rnd, len, &gz), 0);
    assert_true (gz.len <= stored);
    assert_int_equal (hm_gunzip (gz.data, gz.len, &back), 0);
    assert_int_equal (back.len, len);
    assert_memory_equal (back.data, rnd, len);
    hm_buf_free (&gz);
    hm_buf_free (&back);
    free (rnd);
}

static void
test_bounds_and_corruption (void **state)
{
    (void)state;
    char text[4096];
    memset (text, 'z', sizeof text);
    hm_buf_t gz;
    hm_buf_init (&gz, 0);
    assert_int_equal (hm_gzip (text, sizeof text, &gz), 0);

    /* output bound hit: fails, buffer as it was */
    hm_buf_t small;
    hm_buf_init (&small, 100);
    hm_buf_puts (&small, "keep");
    assert_int_equal (hm_gunzip (gz.data, gz.len, &small), -1);
    assert_int_equal (small.len, 4);
    assert_string_equal (small.data, "keep");
    /* gzip into a too small buffer fails too */
    hm_buf_t tiny;
    hm_buf_init (&tiny, 10);
    assert_int_equal (hm_gzip (text, sizeof text, &tiny), -1);
    assert_int_equal (tiny.len, 0);
    /* ... and leaves what the buffer held before as it was */
    hm_buf_puts (&tiny, "keep");
    assert_int_equal (hm_gzip (text, sizeof text, &tiny), -1);
    assert_int_equal (tiny.len, 4);
    assert_string_equal (tiny.data, "keep");

    hm_buf_t out;
    hm_buf_init (&out, 0);
    /* truncated */
    assert_int_equal (hm_gunzip (gz.data, gz.len - 5, &out), -1);
    assert_int_equal (out.len, 0);
    /* corrupt trailer (CRC) */
    char *bad = malloc (gz.len);
    memcpy (bad, gz.data, gz.len);
    bad[gz.len - 6] ^= 0x55;
    assert_int_equal (hm_gunzip (bad, gz.len, &out), -1);
    /* not gzip at all */
    assert_int_equal (hm_gunzip ("plain text", 10, &out), -1);
    /* trailing garbage */
    hm_buf_t extra;
    hm_buf_init (&extra, 0);
    hm_buf_append (&extra, gz.data, gz.len);
    hm_buf_puts (&extra, "junk");
    assert_int_equal (hm_gunzip (extra.data, extra.len, &out), -1);
    assert_int_equal (out.len, 0);
    /* two members are one stream, as gunzip(1) reads them */
    hm_buf_t two;
    hm_buf_init (&two, 0);
    assert_int_equal (hm_gzip ("first,", 6, &two), 0);
    assert_int_equal (hm_gzip ("second", 6, &two), 0);
    assert_int_equal (hm_gunzip (two.data, two.len, &out), 0);
    assert_int_equal (out.len, 12);
    assert_memory_equal (out.data, "first,second", 12);
    hm_buf_free (&two);
    hm_buf_reset (&out);

    free (bad);
    hm_buf_free (&extra);
    hm_buf_free (&out);
    hm_buf_free (&small);
    hm_buf_free (&tiny);
    hm_buf_free (&gz);
}

/* A member made in pieces of every size gunzips to the pieces' bytes, and
   the stream is reusable for the next member. */
static void
test_stream (void **state)
{
    (void)state;
    size_t len = 3 << 20;
    uint8_t *data = malloc (len);
    assert_non_null (data);
    uint32_t x = 777;
    static const char line[] = "{\"at\":\"x\"}\n";
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (i / 100000) % 2 ? (uint8_t)(x >> 24) : (uint8_t)line[i % (sizeof line - 1)];
    }
    hm_gzs_t *gz = hm_gzs_new ();
    assert_non_null (gz);
    size_t pieces[] = {1, 7, 4096, 65536, 300000, 1 << 20};
    for (int member = 0; member < 8; member++) {
        hm_buf_t out, back;
        hm_buf_init (&out, 0);
        hm_buf_init (&back, 0);
        hm_gzs_begin (gz);
        size_t at = 0, k = (size_t)member;
        size_t end = member == 7 ? 0 : len - (size_t)member * 1000;
        while (at < end) {
            size_t n = pieces[k++ % 6];
            if (n > end - at)
                n = end - at;
            assert_int_equal (hm_gzs_write (gz, data + at, n, false, &out), 0);
            at += n;
        }
        assert_int_equal (hm_gzs_write (gz, NULL, 0, true, &out), 0);
        assert_int_equal (hm_gunzip (out.data, out.len, &back), 0);
        assert_int_equal (back.len, end);
        if (end)
            assert_memory_equal (back.data, data, end);
        hm_buf_free (&out);
        hm_buf_free (&back);
    }
    /* the bound: fails, not overruns */
    hm_buf_t tiny;
    hm_buf_init (&tiny, 100);
    hm_gzs_begin (gz);
    assert_int_equal (hm_gzs_write (gz, data + 200000, 100000, true, &tiny), -1);
    assert_true (tiny.len <= 100);
    hm_buf_free (&tiny);
    hm_gzs_destroy (&gz);
    assert_null (gz);
    free (data);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_roundtrip),
        cmocka_unit_test (test_appends),
        cmocka_unit_test (test_bounds_and_corruption),
        cmocka_unit_test (test_incompressible_tight_bound),
        cmocka_unit_test (test_stream),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
