/*  test_client_ip: which address an event records for its client, with and
    without trusted_proxies, and the CIDR blocks that list is made of. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "client_ip.h"

/* Blocks from text, asserting each parses. */
static size_t
s_cidrs (hm_cidr_t *out, const char *const *texts)
{
    size_t n = 0;
    char err[256];
    for (; texts[n]; n++) {
        int rc = hm_cidr_parse (texts[n], &out[n], err, sizeof err);
        if (rc != 0)
            print_error ("%s: %s\n", texts[n], err);
        assert_int_equal (rc, 0);
    }
    return n;
}

static void
s_assert_ip (const hm_cidr_t *trusted, size_t n, const char *xff, const char *real,
             const char *peer, const char *expected)
{
    char out[64];
    memset (out, 'x', sizeof out);
    hm_client_ip (trusted, n, xff, real, peer, out);
    if (strcmp (out, expected) != 0)
        print_error ("xff=%s real=%s peer=%s: got \"%s\", expected \"%s\"\n", xff ? xff : "-",
                     real ? real : "-", peer ? peer : "-", out, expected);
    assert_string_equal (out, expected);
}

static void
test_cidr_parse (void **state)
{
    (void)state;
    hm_cidr_t c;
    char err[256];
    assert_int_equal (hm_cidr_parse ("10.0.0.0/8", &c, err, sizeof err), 0);
    assert_int_equal (c.prefix, 8);
    assert_int_equal (hm_cidr_parse ("203.0.113.7", &c, err, sizeof err), 0);
    assert_int_equal (c.prefix, 32);
    assert_int_equal (hm_cidr_parse ("2001:db8::/32", &c, err, sizeof err), 0);
    assert_int_equal (c.prefix, 32);
    assert_int_equal (hm_cidr_parse ("::1", &c, err, sizeof err), 0);
    assert_int_equal (c.prefix, 128);
    assert_int_equal (hm_cidr_parse ("0.0.0.0/0", &c, err, sizeof err), 0);
    assert_int_equal (hm_cidr_parse ("::/0", &c, err, sizeof err), 0);
    /* an IPv4-mapped block is the IPv4 block */
    assert_int_equal (hm_cidr_parse ("::ffff:10.0.0.0/104", &c, err, sizeof err), 0);
    assert_int_equal (c.prefix, 8);
    const char *bad[] = {
        "",
        "10.0.0.0/",
        "10.0.0.0/33",
        "10.0.0.0/-1",
        "10.0.0.0/8x",
        "10.0.0.0/ 8",
        "10.0.0/8",
        "banana",
        "10.0.0.1/8",
        "::/129",
        "2001:db8::1/32",
        "10.0.0.0/0008",
        "::ffff:10.0.0.0/95",
        "10.0.0.0/8/8",
        " 10.0.0.0/8",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (hm_cidr_parse (bad[i], &c, err, sizeof err) == 0)
            print_error ("\"%s\" was accepted\n", bad[i]);
        assert_int_not_equal (hm_cidr_parse (bad[i], &c, err, sizeof err), 0);
        assert_true (err[0] != '\0');
        assert_null (strchr (err, '\n'));
    }
    assert_int_not_equal (hm_cidr_parse (NULL, &c, err, sizeof err), 0);
    /* the reason names the block meant */
    hm_cidr_parse ("10.1.2.3/16", &c, err, sizeof err);
    assert_non_null (strstr (err, "10.1.0.0/16"));
}

static void
test_cidr_edges (void **state)
{
    (void)state;
    hm_cidr_t c[4];
    size_t n = s_cidrs (
        c, (const char *[]){"10.0.0.0/8", "192.0.2.128/25", "2001:db8::/33", "198.51.100.7", NULL});
    assert_true (hm_cidr_match (c, n, "10.0.0.0"));
    assert_true (hm_cidr_match (c, n, "10.255.255.255"));
    assert_false (hm_cidr_match (c, n, "11.0.0.0"));
    assert_false (hm_cidr_match (c, n, "9.255.255.255"));
    assert_false (hm_cidr_match (c, n, "192.0.2.127"));
    assert_true (hm_cidr_match (c, n, "192.0.2.128"));
    assert_true (hm_cidr_match (c, n, "192.0.2.255"));
    assert_false (hm_cidr_match (c, n, "192.0.3.0"));
    assert_true (hm_cidr_match (c, n, "2001:db8::1"));
    assert_true (hm_cidr_match (c, n, "2001:db8:7fff:ffff::1"));
    assert_false (hm_cidr_match (c, n, "2001:db8:8000::"));
    assert_true (hm_cidr_match (c, n, "198.51.100.7"));
    assert_false (hm_cidr_match (c, n, "198.51.100.6"));
    assert_false (hm_cidr_match (c, n, "198.51.100.8"));
    /* IPv4-mapped IPv6 counts as IPv4; an IPv6 block never holds IPv4 */
    assert_true (hm_cidr_match (c, n, "::ffff:10.1.2.3"));
    assert_false (hm_cidr_match (c, n, "::a01:203"));
    assert_false (hm_cidr_match (c, n, "garbage"));
    assert_false (hm_cidr_match (c, n, NULL));
    assert_false (hm_cidr_match (c, 0, "10.0.0.1"));
    hm_cidr_t all[2];
    size_t m = s_cidrs (all, (const char *[]){"0.0.0.0/0", NULL});
    assert_true (hm_cidr_match (all, m, "255.255.255.255"));
    assert_false (hm_cidr_match (all, m, "::1"));
}

/* No trusted proxies (the default): the headers are never read. This is
   the fix of the original's bug: any client could choose its IP. */
static void
test_untrusted_headers_ignored (void **state)
{
    (void)state;
    s_assert_ip (NULL, 0, "8.8.8.8", "9.9.9.9", "203.0.113.5", "203.0.113.5");
    s_assert_ip (NULL, 0, "8.8.8.8", "9.9.9.9", "10.0.0.1", "");
    hm_cidr_t c[2];
    size_t n = s_cidrs (c, (const char *[]){"198.51.100.0/24", NULL});
    /* a spoofing client outside the list */
    s_assert_ip (c, n, "8.8.8.8, 198.51.100.1", "9.9.9.9", "203.0.113.5", "203.0.113.5");
    s_assert_ip (c, n, NULL, "9.9.9.9", "203.0.113.5", "203.0.113.5");
    s_assert_ip (c, n, "2001:4860::1", NULL, "2001:db8::5", "2001:db8::5");
    s_assert_ip (NULL, 0, NULL, NULL, NULL, "");
    s_assert_ip (NULL, 0, "", "", "", "");
    /* the peer is never read with a port */
    s_assert_ip (NULL, 0, NULL, NULL, "[2001:db8::1]:443", "");
    s_assert_ip (NULL, 0, NULL, NULL, " 203.0.113.5 ", "203.0.113.5");
}

static void
test_trusted_chain (void **state)
{
    (void)state;
    hm_cidr_t c[4];
    size_t n =
        s_cidrs (c, (const char *[]){"198.51.100.0/24", "10.0.0.0/8", "2001:db8::/32", NULL});
    const char *lb = "198.51.100.10";
    /* one proxy: the address it saw */
    s_assert_ip (c, n, "203.0.113.9", NULL, lb, "203.0.113.9");
    s_assert_ip (c, n, " 203.0.113.9 ", NULL, lb, "203.0.113.9");
    /* what the client wrote before the proxy appended is not believed */
    s_assert_ip (c, n, "8.8.8.8, 203.0.113.9", NULL, lb, "203.0.113.9");
    s_assert_ip (c, n, "garbage, 203.0.113.9", NULL, lb, "203.0.113.9");
    /* a chain of trusted proxies is skipped, from the right */
    s_assert_ip (c, n, "8.8.8.8, 203.0.113.9, 10.1.1.1, 198.51.100.3", NULL, lb, "203.0.113.9");
    /* every hop trusted: the leftmost is the client, kept only if public */
    s_assert_ip (c, n, "198.51.100.4, 198.51.100.3", NULL, lb, "198.51.100.4");
    s_assert_ip (c, n, "10.9.9.9, 198.51.100.3", NULL, lb, "");
    /* the last trusted hop wrote garbage: that hop is all we know */
    s_assert_ip (c, n, "8.8.8.8, unknown, 198.51.100.3", NULL, lb, "198.51.100.3");
    s_assert_ip (c, n, "8.8.8.8, unknown", NULL, lb, lb);
    s_assert_ip (c, n, "8.8.8.8,", NULL, lb, lb);
    s_assert_ip (c, n, ",", NULL, lb, lb);
    s_assert_ip (c, n, "203.0.113.9:5555", NULL, lb, lb);
    /* X-Real-IP only without X-Forwarded-For */
    s_assert_ip (c, n, NULL, "203.0.113.7", lb, "203.0.113.7");
    s_assert_ip (c, n, "", "203.0.113.7", lb, "203.0.113.7");
    s_assert_ip (c, n, "203.0.113.9", "203.0.113.7", lb, "203.0.113.9");
    s_assert_ip (c, n, NULL, "nonsense", lb, lb);
    /* a private client behind a trusted proxy is not recorded */
    s_assert_ip (c, n, "192.168.1.20", NULL, lb, "");
    /* IPv6 hops and clients, IPv4-mapped peers */
    s_assert_ip (c, n, "2001:4860:4860:0:0:0:0:8888, 2001:db8::2", NULL, "2001:db8::1",
                 "2001:4860:4860::8888");
    s_assert_ip (c, n, "203.0.113.9", NULL, "::ffff:198.51.100.10", "203.0.113.9");
    s_assert_ip (c, n, "::ffff:203.0.113.9", NULL, lb, "203.0.113.9");
    /* a long header of trusted hops ends; an address too long is garbage */
    char big[4096] = "";
    for (int i = 0; i < 200; i++)
        strcat (big, i ? ", 10.0.0.1" : "203.0.113.9");
    s_assert_ip (c, n, big, NULL, lb, "203.0.113.9");
    char huge[200];
    memset (huge, '1', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    s_assert_ip (c, n, huge, NULL, lb, lb);
}

static void
test_private_never_recorded (void **state)
{
    (void)state;
    const char *hidden[] = {
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "100.64.0.1",
        "100.127.255.254",
        "127.0.0.1",
        "127.1.2.3",
        "169.254.10.1",
        "0.0.0.0",
        "::",
        "::1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "febf::1",
        "::ffff:192.168.1.1",
        "::ffff:127.0.0.1",
    };
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++)
        s_assert_ip (NULL, 0, NULL, NULL, hidden[i], "");
    const char *shown[] = {
        "172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1", "169.253.1.1",
        "192.169.0.1",    "11.0.0.1",   "2001:db8::1",    "fec0::1",     "fe00::1",
    };
    for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++)
        s_assert_ip (NULL, 0, NULL, NULL, shown[i], shown[i]);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_cidr_parse),
        cmocka_unit_test (test_cidr_edges),
        cmocka_unit_test (test_untrusted_headers_ignored),
        cmocka_unit_test (test_trusted_chain),
        cmocka_unit_test (test_private_never_recorded),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
