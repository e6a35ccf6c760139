/*  test_tls_pair: the ingest's TLS pair checks at exact moments. The
    certificates are made here with GnuTLS (a key, a self-signed leaf or a
    leaf signed by a CA, chosen validity dates), written as PEM files, and
    loaded at a chosen "now". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "tls_pair.h"

#define T0 ((time_t)1800000000) /* activation of the test certificates */
#define T1 ((time_t)1800086400) /* their expiry, a day later */

typedef struct {
    char dir[64];      /* temporary directory */
    hm_config_t cfg;   /* path, tls_cert, tls_key */
    char errbuf[1024]; /* the last load's reason */
    unsigned serial;   /* next certificate serial */
} s_fixture_t;

static gnutls_x509_privkey_t
s_key (void)
{
    gnutls_x509_privkey_t key;
    assert_int_equal (gnutls_x509_privkey_init (&key), 0);
    assert_int_equal (
        gnutls_x509_privkey_generate (key, GNUTLS_PK_ECDSA,
                                      GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0),
        0);
    return key;
}

/* A certificate for key, valid from..until, signed by (ca, ca_key) or by
   itself when ca is NULL. */
static gnutls_x509_crt_t
s_cert (s_fixture_t *f, gnutls_x509_privkey_t key, time_t from, time_t until, gnutls_x509_crt_t ca,
        gnutls_x509_privkey_t ca_key)
{
    gnutls_x509_crt_t crt;
    unsigned char serial[4] = {0, 0, 0, (unsigned char)++f->serial};
    assert_int_equal (gnutls_x509_crt_init (&crt), 0);
    assert_int_equal (gnutls_x509_crt_set_version (crt, 3), 0);
    assert_int_equal (gnutls_x509_crt_set_serial (crt, serial, sizeof serial), 0);
    assert_int_equal (gnutls_x509_crt_set_dn (crt, "CN=127.0.0.1", NULL), 0);
    assert_int_equal (gnutls_x509_crt_set_key (crt, key), 0);
    assert_int_equal (gnutls_x509_crt_set_activation_time (crt, from), 0);
    assert_int_equal (gnutls_x509_crt_set_expiration_time (crt, until), 0);
    assert_int_equal (gnutls_x509_crt_set_basic_constraints (crt, ca == NULL, -1), 0);
    assert_int_equal (
        gnutls_x509_crt_sign2 (crt, ca ? ca : crt, ca ? ca_key : key, GNUTLS_DIG_SHA256, 0), 0);
    return crt;
}

static void
s_append_crt (const char *path, gnutls_x509_crt_t crt)
{
    gnutls_datum_t pem;
    assert_int_equal (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &pem), 0);
    FILE *f = fopen (path, "ab");
    assert_non_null (f);
    assert_int_equal (fwrite (pem.data, 1, pem.size, f), pem.size);
    fclose (f);
    gnutls_free (pem.data);
}

static void
s_write_key (const char *path, gnutls_x509_privkey_t key)
{
    gnutls_datum_t pem;
    assert_int_equal (gnutls_x509_privkey_export2 (key, GNUTLS_X509_FMT_PEM, &pem), 0);
    FILE *f = fopen (path, "wb");
    assert_non_null (f);
    assert_int_equal (fwrite (pem.data, 1, pem.size, f), pem.size);
    fclose (f);
    gnutls_free (pem.data);
}

static int
s_setup (void **state)
{
    s_fixture_t *f = calloc (1, sizeof *f);
    snprintf (f->dir, sizeof f->dir, "/tmp/hm-tls-pair-XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    f->cfg.path = strdup ("test.json");
    f->cfg.tls_cert = malloc (strlen (f->dir) + 16);
    f->cfg.tls_key = malloc (strlen (f->dir) + 16);
    sprintf (f->cfg.tls_cert, "%s/cert.pem", f->dir);
    sprintf (f->cfg.tls_key, "%s/key.pem", f->dir);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *f = *state;
    unlink (f->cfg.tls_cert);
    unlink (f->cfg.tls_key);
    rmdir (f->dir);
    free (f->cfg.path);
    free (f->cfg.tls_cert);
    free (f->cfg.tls_key);
    free (f);
    return 0;
}

/* Writes a self-signed pair valid T0..T1 to the fixture's files. */
static void
s_write_pair (s_fixture_t *f)
{
    gnutls_x509_privkey_t key = s_key ();
    gnutls_x509_crt_t crt = s_cert (f, key, T0, T1, NULL, NULL);
    unlink (f->cfg.tls_cert);
    s_append_crt (f->cfg.tls_cert, crt);
    s_write_key (f->cfg.tls_key, key);
    gnutls_x509_crt_deinit (crt);
    gnutls_x509_privkey_deinit (key);
}

static bool
s_loads (s_fixture_t *f, time_t now)
{
    f->errbuf[0] = '\0';
    hm_tls_pair_t *pair = hm_tls_pair_load (&f->cfg, now, f->errbuf, sizeof f->errbuf);
    bool ok = pair != NULL;
    if (ok)
        assert_string_equal (f->errbuf, "");
    hm_tls_pair_destroy (&pair);
    return ok;
}

static void
test_validity_boundaries (void **state)
{
    s_fixture_t *f = *state;
    s_write_pair (f);
    assert_true (s_loads (f, T0));
    assert_true (s_loads (f, T1));
    assert_false (s_loads (f, T0 - 1));
    assert_non_null (strstr (f->errbuf, "test.json: ingest.tls_cert: "));
    assert_non_null (strstr (f->errbuf, "cert.pem: certificate is not valid yet (not before "
                                        "2027-01-15 08:00:00 UTC)"));
    assert_false (s_loads (f, T1 + 1));
    assert_non_null (strstr (f->errbuf, "cert.pem: certificate expired (not after "
                                        "2027-01-16 08:00:00 UTC)"));
}

static void
test_key_of_another_certificate (void **state)
{
    s_fixture_t *f = *state;
    s_write_pair (f);
    gnutls_x509_privkey_t other = s_key ();
    s_write_key (f->cfg.tls_key, other);
    gnutls_x509_privkey_deinit (other);
    assert_false (s_loads (f, T0));
    assert_non_null (strstr (f->errbuf, "test.json: ingest.tls_key: "));
    assert_non_null (strstr (f->errbuf, "key.pem is not the private key of the certificate in "));
}

/* Leaf then CA in one file: an expired CA certificate fails the chain,
   and it is named. */
static void
test_chain (void **state)
{
    s_fixture_t *f = *state;
    gnutls_x509_privkey_t ca_key = s_key (), key = s_key ();
    gnutls_x509_crt_t ca = s_cert (f, ca_key, T0, T1 - 10, NULL, NULL);
    gnutls_x509_crt_t leaf = s_cert (f, key, T0, T1, ca, ca_key);
    unlink (f->cfg.tls_cert);
    s_append_crt (f->cfg.tls_cert, leaf);
    s_append_crt (f->cfg.tls_cert, ca);
    s_write_key (f->cfg.tls_key, key);

    f->errbuf[0] = '\0';
    hm_tls_pair_t *pair = hm_tls_pair_load (&f->cfg, T0, f->errbuf, sizeof f->errbuf);
    assert_non_null (pair);
    unsigned n = 0;
    assert_non_null (hm_tls_pair_chain (pair, &n));
    assert_int_equal (n, 2);
    assert_non_null (hm_tls_pair_key (pair));
    assert_int_equal (hm_tls_pair_not_after (pair), T1);
    assert_int_equal (strlen (hm_tls_pair_fingerprint (pair)), 32 * 3 - 1);
    hm_tls_pair_destroy (&pair);
    assert_null (pair);
    hm_tls_pair_destroy (&pair); /* safe twice */

    assert_false (s_loads (f, T1 - 5));
    assert_non_null (strstr (f->errbuf, "certificate 2 of the chain expired"));
    /* The key of the CA is not the leaf's key. */
    s_write_key (f->cfg.tls_key, ca_key);
    assert_false (s_loads (f, T0));
    assert_non_null (strstr (f->errbuf, "ingest.tls_key: "));
    gnutls_x509_crt_deinit (leaf);
    gnutls_x509_crt_deinit (ca);
    gnutls_x509_privkey_deinit (key);
    gnutls_x509_privkey_deinit (ca_key);
}

static void
test_same (void **state)
{
    s_fixture_t *f = *state;
    s_write_pair (f);
    char errbuf[256];
    hm_tls_pair_t *a = hm_tls_pair_load (&f->cfg, T0, errbuf, sizeof errbuf);
    hm_tls_pair_t *b = hm_tls_pair_load (&f->cfg, T0, errbuf, sizeof errbuf);
    assert_non_null (a);
    assert_non_null (b);
    assert_true (hm_tls_pair_same (a, b));
    assert_string_equal (hm_tls_pair_fingerprint (a), hm_tls_pair_fingerprint (b));
    s_write_pair (f);
    hm_tls_pair_t *c = hm_tls_pair_load (&f->cfg, T0, errbuf, sizeof errbuf);
    assert_non_null (c);
    assert_false (hm_tls_pair_same (a, c));
    assert_string_not_equal (hm_tls_pair_fingerprint (a), hm_tls_pair_fingerprint (c));
    hm_tls_pair_destroy (&a);
    hm_tls_pair_destroy (&b);
    hm_tls_pair_destroy (&c);
}

static void
test_check_without_tls (void **state)
{
    (void)state;
    hm_config_t cfg = {.path = "x.json"};
    char errbuf[64] = "";
    assert_int_equal (hm_tls_check (&cfg, errbuf, sizeof errbuf), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_validity_boundaries, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_key_of_another_certificate, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_chain, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_same, s_setup, s_teardown),
        cmocka_unit_test (test_check_without_tls),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
