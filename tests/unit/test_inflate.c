/*  Unit tests for common/inflate: Content-Encoding names, gzip (one and
    concatenated members), zlib and raw deflate, the output bound (exactly
    at it, one past it, and a gzip bomb that would inflate past a gigabyte),
    and truncated, corrupt and trailing input. */
/* cmocka needs these before it; keep clang-format from sorting them. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gz.h"
#include "hm_buf.h"
#include "inflate.h"

#define S_TEXT "{\"deviceId\":\"a73b1c37\",\"payloads\":[{\"event\":\"Client.CreateUser\"}]}"

/* data compressed with deflate in the given windowBits (15 zlib, -15 raw,
   31 gzip), appended to out. */
static void
s_deflate (const void *data, size_t len, int window, hm_buf_t *out)
{
    z_stream zs;
    memset (&zs, 0, sizeof zs);
    assert_int_equal (deflateInit2 (&zs, 9, Z_DEFLATED, window, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t bound = deflateBound (&zs, (uLong)len) + 64;
    assert_int_equal (hm_buf_reserve (out, bound), 0);
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out->data + out->len;
    zs.avail_out = (uInt)bound;
    assert_int_equal (deflate (&zs, Z_FINISH), Z_STREAM_END);
    out->len += bound - zs.avail_out;
    deflateEnd (&zs);
}

static void
test_coding_names (void **state)
{
    (void)state;
    assert_int_equal (hm_inflate_coding (NULL), HM_CODING_IDENTITY);
    assert_int_equal (hm_inflate_coding (""), HM_CODING_IDENTITY);
    assert_int_equal (hm_inflate_coding ("identity"), HM_CODING_IDENTITY);
    assert_int_equal (hm_inflate_coding ("gzip"), HM_CODING_GZIP);
    assert_int_equal (hm_inflate_coding (" GZip "), HM_CODING_GZIP);
    assert_int_equal (hm_inflate_coding ("x-gzip"), HM_CODING_GZIP);
    assert_int_equal (hm_inflate_coding ("deflate"), HM_CODING_DEFLATE);
    assert_int_equal (hm_inflate_coding ("br"), HM_CODING_UNSUPPORTED);
    assert_int_equal (hm_inflate_coding ("zstd"), HM_CODING_UNSUPPORTED);
    assert_int_equal (hm_inflate_coding ("compress"), HM_CODING_UNSUPPORTED);
    /* A list of codings (applied in turn) is not supported. */
    assert_int_equal (hm_inflate_coding ("gzip, gzip"), HM_CODING_UNSUPPORTED);
    assert_int_equal (hm_inflate_coding ("gzipx"), HM_CODING_UNSUPPORTED);
}

static void
s_expect (hm_coding_t coding, const hm_buf_t *in, size_t max_out, hm_inflate_rc_t want,
          const char *text, const char *reason_part)
{
    hm_buf_t out;
    hm_buf_init (&out, 0);
    char err[200];
    hm_inflate_rc_t rc =
        hm_inflate (coding, in->data, in->len, max_out, &out, NULL, err, sizeof err);
    if (rc != want)
        fail_msg ("rc %d, want %d (%s)", rc, want, err);
    if (text) {
        assert_int_equal (out.len, strlen (text));
        assert_memory_equal (out.data, text, out.len);
    }
    else
        assert_int_equal (out.len, 0);
    if (reason_part && !strstr (err, reason_part))
        fail_msg ("reason \"%s\" does not mention \"%s\"", err, reason_part);
    hm_buf_free (&out);
}

static void
test_gzip_zlib_raw (void **state)
{
    (void)state;
    hm_buf_t in;
    hm_buf_init (&in, 0);
    assert_int_equal (hm_gzip (S_TEXT, strlen (S_TEXT), &in), 0);
    s_expect (HM_CODING_GZIP, &in, 1024, HM_INFLATE_OK, S_TEXT, NULL);
    /* A gzip body sent as "deflate" is neither zlib nor raw deflate. */
    s_expect (HM_CODING_DEFLATE, &in, 1024, HM_INFLATE_BAD, NULL, "deflate body");
    hm_buf_reset (&in);
    s_deflate (S_TEXT, strlen (S_TEXT), 15, &in); /* zlib, as RFC 9110 says */
    s_expect (HM_CODING_DEFLATE, &in, 1024, HM_INFLATE_OK, S_TEXT, NULL);
    s_expect (HM_CODING_GZIP, &in, 1024, HM_INFLATE_BAD, NULL, "gzip body");
    hm_buf_reset (&in);
    s_deflate (S_TEXT, strlen (S_TEXT), -15, &in); /* raw, as some clients send */
    s_expect (HM_CODING_DEFLATE, &in, 1024, HM_INFLATE_OK, S_TEXT, NULL);
    /* Empty: nothing to inflate is a truncated stream. */
    hm_buf_reset (&in);
    s_expect (HM_CODING_GZIP, &in, 1024, HM_INFLATE_BAD, NULL, "truncated");
    s_expect (HM_CODING_DEFLATE, &in, 1024, HM_INFLATE_BAD, NULL, NULL);
    hm_buf_free (&in);
}

/* Concatenated gzip members are one body, as gunzip reads them. */
static void
test_gzip_members (void **state)
{
    (void)state;
    hm_buf_t in;
    hm_buf_init (&in, 0);
    const char *parts[] = {"{\"a\":", "", "1", "}"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal (hm_gzip (parts[i], strlen (parts[i]), &in), 0);
    s_expect (HM_CODING_GZIP, &in, 1024, HM_INFLATE_OK, "{\"a\":1}", NULL);
    /* The bound is over all members together. */
    s_expect (HM_CODING_GZIP, &in, 6, HM_INFLATE_TOO_LARGE, NULL, NULL);
    /* Zero bytes after the last member are not another member. */
    assert_int_equal (hm_buf_append (&in, "\0\0\0\0", 4), 0);
    s_expect (HM_CODING_GZIP, &in, 1024, HM_INFLATE_BAD, NULL, "gzip body");
    /* A zlib stream ends the body: anything after it is refused. */
    hm_buf_reset (&in);
    s_deflate ("ab", 2, 15, &in);
    s_deflate ("cd", 2, 15, &in);
    s_expect (HM_CODING_DEFLATE, &in, 1024, HM_INFLATE_BAD, NULL, "after the end");
    hm_buf_free (&in);
}

/* Exactly max_out passes; one byte more is TOO_LARGE, for each coding. */
static void
test_bound_exact (void **state)
{
    (void)state;
    static char text[5000];
    for (size_t i = 0; i < sizeof text - 1; i++)
        text[i] = (char)('a' + (i * 7 + i / 13) % 26);
    size_t n = sizeof text - 1;
    const int windows[] = {31, 15, -15};
    const hm_coding_t codings[] = {HM_CODING_GZIP, HM_CODING_DEFLATE, HM_CODING_DEFLATE};
    for (size_t i = 0; i < 3; i++) {
        hm_buf_t in;
        hm_buf_init (&in, 0);
        s_deflate (text, n, windows[i], &in);
        s_expect (codings[i], &in, n, HM_INFLATE_OK, text, NULL);
        s_expect (codings[i], &in, n - 1, HM_INFLATE_TOO_LARGE, NULL, "past the bound");
        s_expect (codings[i], &in, 0, HM_INFLATE_TOO_LARGE, NULL, NULL);
        hm_buf_free (&in);
    }
}

/* Every cut of a stream is truncated, and a flipped byte is caught (by
   the data itself or by the CRC-32 / Adler-32 trailer). */
static void
test_truncated_and_corrupt (void **state)
{
    (void)state;
    const int windows[] = {31, 15, -15};
    const hm_coding_t codings[] = {HM_CODING_GZIP, HM_CODING_DEFLATE, HM_CODING_DEFLATE};
    for (size_t w = 0; w < 3; w++) {
        hm_buf_t full;
        hm_buf_init (&full, 0);
        s_deflate (S_TEXT, strlen (S_TEXT), windows[w], &full);
        for (size_t cut = 0; cut < full.len; cut++) {
            hm_buf_t in;
            hm_buf_init (&in, 0);
            assert_int_equal (hm_buf_append (&in, full.data, cut), 0);
            s_expect (codings[w], &in, 1024, HM_INFLATE_BAD, NULL, NULL);
            hm_buf_free (&in);
        }
        /* Raw deflate has no check value; its last bytes are the data's. */
        size_t from = windows[w] == -15 ? full.len : 10;
        for (size_t at = from; at < full.len; at++) {
            full.data[at] ^= 0x20;
            hm_buf_t out;
            hm_buf_init (&out, 0);
            char err[200];
            hm_inflate_rc_t rc =
                hm_inflate (codings[w], full.data, full.len, 1024, &out, NULL, err, sizeof err);
            if (rc != HM_INFLATE_BAD)
                fail_msg ("window %d, byte %zu flipped: rc %d", windows[w], at, rc);
            hm_buf_free (&out);
            full.data[at] ^= 0x20;
        }
        hm_buf_free (&full);
    }
}

/* A gzip bomb: 1.1 MB of gzip (17 members of 64 MiB of zeros each) that
   would inflate to 1.06 GiB, under a 2 MiB bound. It must stop once the
   bound is passed, having read only the few kilobytes of input that make
   the bound's worth of output, with no more than the bound allocated. */
static void
test_bomb (void **state)
{
    (void)state;
    const size_t member_zeros = 64u << 20;
    const size_t max_out = 2u << 20;
    hm_buf_t member;
    hm_buf_init (&member, 0);
    z_stream zs;
    memset (&zs, 0, sizeof zs);
    assert_int_equal (deflateInit2 (&zs, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    static char zeros[1u << 20];
    assert_int_equal (hm_buf_reserve (&member, 1u << 20), 0);
    for (size_t fed = 0; fed < member_zeros; fed += sizeof zeros) {
        zs.next_in = (Bytef *)zeros;
        zs.avail_in = sizeof zeros;
        bool last = fed + sizeof zeros >= member_zeros;
        int rc;
        do {
            zs.next_out = (Bytef *)member.data + member.len;
            zs.avail_out = (uInt)(member.cap - member.len);
            rc = deflate (&zs, last ? Z_FINISH : Z_NO_FLUSH);
            member.len = member.cap - zs.avail_out;
        } while (zs.avail_in || (last && rc != Z_STREAM_END));
    }
    deflateEnd (&zs);
    hm_buf_t bomb;
    hm_buf_init (&bomb, 0);
    size_t members = 17;
    for (size_t i = 0; i < members; i++)
        assert_int_equal (hm_buf_append (&bomb, member.data, member.len), 0);
    assert_true (bomb.len < max_out);
    assert_true ((uint64_t)member_zeros * members > (1ull << 30));

    hm_buf_t out;
    hm_buf_init (&out, 0);
    size_t consumed = 0;
    char err[200];
    hm_inflate_rc_t rc =
        hm_inflate (HM_CODING_GZIP, bomb.data, bomb.len, max_out, &out, &consumed, err, sizeof err);
    assert_int_equal (rc, HM_INFLATE_TOO_LARGE);
    /* Stopped early: 2 MiB of zeros take about 2 KB of this input. */
    assert_true (consumed > 0);
    assert_true (consumed < member.len);
    /* Never more memory than the bound (and its NUL). */
    assert_true (out.cap <= max_out + 1);
    assert_int_equal (out.len, 0);
    hm_buf_free (&out);
    hm_buf_free (&bomb);
    hm_buf_free (&member);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_coding_names),          cmocka_unit_test (test_gzip_zlib_raw),
        cmocka_unit_test (test_gzip_members),          cmocka_unit_test (test_bound_exact),
        cmocka_unit_test (test_truncated_and_corrupt), cmocka_unit_test (test_bomb),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
