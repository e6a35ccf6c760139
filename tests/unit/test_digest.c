/*  test_digest: the hashes and encodings against published test vectors
    (RFC 1321, FIPS 180-2, RFC 4648, RFC 3720 for CRC-32C). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "digest.h"

static void
test_md5 (void **state)
{
    (void)state;
    char hex[33];
    hm_md5_hex ("", 0, hex);
    assert_string_equal (hex, "d41d8cd98f00b204e9800998ecf8427e");
    hm_md5_hex ("abc", 3, hex);
    assert_string_equal (hex, "900150983cd24fb0d6963f7d28e17f72");
    hm_md5_hex ("something", 9, hex);
    assert_string_equal (hex, "437b930db84b8079c2dd804a71936b5f");
}

static void
test_sha256 (void **state)
{
    (void)state;
    char hex[65];
    hm_sha256_hex ("abc", 3, hex);
    assert_string_equal (hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hm_sha256_hex ("", 0, hex);
    assert_string_equal (hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    uint8_t raw[32];
    hm_sha256 ("abc", 3, raw);
    assert_int_equal (raw[0], 0xba);
    assert_int_equal (raw[31], 0xad);
}

static void
test_base64 (void **state)
{
    (void)state;
    /* RFC 4648 section 10 */
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        size_t n = hm_base64_encode (plain[i], strlen (plain[i]), out);
        assert_int_equal (n, strlen (coded[i]));
        assert_string_equal (out, coded[i]);

        uint8_t back[16];
        long m = hm_base64_decode (coded[i], strlen (coded[i]), back);
        assert_int_equal (m, (long)strlen (plain[i]));
        assert_memory_equal (back, plain[i], (size_t)m);
    }
    uint8_t all[256], back[256 * 3 / 4 + 200];
    char text[4 * ((256 + 2) / 3) + 1];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    size_t n = hm_base64_encode (all, sizeof all, text);
    assert_int_equal (hm_base64_decode (text, n, back), 256);
    assert_memory_equal (back, all, 256);
}

static void
test_base64_rejects (void **state)
{
    (void)state;
    uint8_t out[32];
    assert_int_equal (hm_base64_decode ("Zg=", 3, out), -1);      /* length */
    assert_int_equal (hm_base64_decode ("Zg=a", 4, out), -1);     /* '=' then data */
    assert_int_equal (hm_base64_decode ("Z===", 4, out), -1);     /* too much padding */
    assert_int_equal (hm_base64_decode ("Zm9v!A==", 8, out), -1); /* bad character */
    assert_int_equal (hm_base64_decode ("Zg==Zg==", 8, out), -1); /* padding in the middle */
}

static void
test_const_eq (void **state)
{
    (void)state;
    assert_true (hm_const_eq ("abc", 3, "abc", 3));
    assert_false (hm_const_eq ("abc", 3, "abd", 3));
    assert_false (hm_const_eq ("abc", 3, "abcd", 4));
    assert_false (hm_const_eq ("", 0, "a", 1));
    assert_true (hm_const_eq ("", 0, "", 0));
    assert_false (hm_const_eq ("xbc", 3, "abc", 3));
}

static void
test_crc32c (void **state)
{
    (void)state;
    assert_int_equal (hm_crc32c (0, "123456789", 9), 0xE3069283u);
    assert_int_equal (hm_crc32c (0, "", 0), 0);
    /* RFC 3720 B.4: 32 bytes of zeros, 32 bytes of 0xff, 0..31 */
    uint8_t buf[32];
    memset (buf, 0, sizeof buf);
    assert_int_equal (hm_crc32c (0, buf, 32), 0x8A9136AAu);
    memset (buf, 0xff, sizeof buf);
    assert_int_equal (hm_crc32c (0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal (hm_crc32c (0, buf, 32), 0x46DD794Eu);
    /* running value: in pieces equals in one go */
    uint32_t crc = hm_crc32c (0, "1234", 4);
    crc = hm_crc32c (crc, "56789", 5);
    assert_int_equal (crc, 0xE3069283u);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_md5),      cmocka_unit_test (test_sha256),
        cmocka_unit_test (test_base64),   cmocka_unit_test (test_base64_rejects),
        cmocka_unit_test (test_const_eq), cmocka_unit_test (test_crc32c),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
