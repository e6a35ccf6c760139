/*  tls_pair: see tls_pair.h. GnuTLS does the parsing, so what passes here
    is exactly what the ingest's libmicrohttpd can serve. */
#include "tls_pair.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Certificates in one chain file, at most. */
#define S_MAX_CHAIN 16

struct hm_tls_pair_t {
    gnutls_pcert_st *chain;   /* the certificates, leaf first */
    unsigned chain_length;    /* how many */
    gnutls_privkey_t key;     /* the leaf's private key */
    time_t not_after;         /* the leaf's expiry */
    char fingerprint[96];     /* the leaf's SHA-256, "AB:CD:..." */
    unsigned char digest[32]; /* SHA-256 of both files' bytes: hm_tls_pair_same */
};

/* Reads a whole PEM file into *out (NUL-terminated, gnutls_free'd by the
   caller). 0, or -1 with the reason (naming the path) in why. */
static int
s_read (const char *path, gnutls_datum_t *out, char *why, size_t whylen)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        snprintf (why, whylen, "cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    unsigned char *data = gnutls_malloc (HM_TLS_MAX_FILE + 1);
    size_t n = data ? fread (data, 1, HM_TLS_MAX_FILE + 1, f) : 0;
    int err = ferror (f) ? (errno ? errno : EIO) : 0;
    fclose (f);
    if (!data || err || n > HM_TLS_MAX_FILE || n == 0) {
        snprintf (why, whylen, "cannot read %s: %s", path,
                  !data ? "out of memory"
                  : err ? strerror (err)
                  : n   ? "larger than 1 MiB"
                        : "empty file");
        gnutls_free (data);
        return -1;
    }
    data[n] = '\0';
    out->data = data;
    out->size = (unsigned)n;
    return 0;
}

static void
s_format_time (time_t t, char *out, size_t cap)
{
    struct tm tm;
    if (!gmtime_r (&t, &tm) || !strftime (out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf (out, cap, "%lld", (long long)t);
}

/* Every certificate of the chain must be valid at now: a client rejects
   the whole chain for one expired link. */
static int
s_check_times (gnutls_x509_crt_t *crts, unsigned n, const char *path, time_t now, char *why,
               size_t whylen)
{
    for (unsigned i = 0; i < n; i++) {
        time_t from = gnutls_x509_crt_get_activation_time (crts[i]);
        time_t until = gnutls_x509_crt_get_expiration_time (crts[i]);
        char which[64] = "certificate";
        if (i > 0)
            snprintf (which, sizeof which, "certificate %u of the chain", i + 1);
        char when[64];
        if (from == (time_t)-1 || until == (time_t)-1) {
            snprintf (why, whylen, "%s: %s has no readable validity period", path, which);
            return -1;
        }
        if (now < from) {
            s_format_time (from, when, sizeof when);
            snprintf (why, whylen, "%s: %s is not valid yet (not before %s)", path, which, when);
            return -1;
        }
        if (now > until) {
            s_format_time (until, when, sizeof when);
            snprintf (why, whylen, "%s: %s expired (not after %s)", path, which, when);
            return -1;
        }
    }
    return 0;
}

/* The key must be the leaf's: compare the key ids of both public halves. */
static int
s_check_match (gnutls_x509_crt_t leaf, gnutls_x509_privkey_t key, const hm_config_t *cfg, char *why,
               size_t whylen)
{
    unsigned char a[64], b[64];
    size_t alen = sizeof a, blen = sizeof b;
    if (gnutls_x509_crt_get_key_id (leaf, GNUTLS_KEYID_USE_SHA256, a, &alen) < 0 ||
        gnutls_x509_privkey_get_key_id (key, GNUTLS_KEYID_USE_SHA256, b, &blen) < 0 ||
        alen != blen || memcmp (a, b, alen) != 0) {
        snprintf (why, whylen, "%s is not the private key of the certificate in %s", cfg->tls_key,
                  cfg->tls_cert);
        return -1;
    }
    return 0;
}

hm_tls_pair_t *
hm_tls_pair_load (const hm_config_t *cfg, time_t now, char *errbuf, size_t errlen)
{
    char why[768] = "";
    const char *key_name = "ingest.tls_cert";
    gnutls_datum_t cert_pem = {NULL, 0}, key_pem = {NULL, 0};
    gnutls_x509_crt_t *crts = NULL;
    unsigned ncrts = 0;
    gnutls_x509_privkey_t xkey = NULL;
    hm_tls_pair_t *self = calloc (1, sizeof *self);
    int rc;
    if (!self) {
        snprintf (why, sizeof why, "out of memory");
        goto fail;
    }
    if (s_read (cfg->tls_cert, &cert_pem, why, sizeof why) != 0)
        goto fail;
    rc = gnutls_x509_crt_list_import2 (&crts, &ncrts, &cert_pem, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || ncrts == 0) {
        snprintf (why, sizeof why, "%s: no PEM certificate in it (%s)", cfg->tls_cert,
                  rc < 0 ? gnutls_strerror (rc) : "empty");
        goto fail;
    }
    if (ncrts > S_MAX_CHAIN) {
        snprintf (why, sizeof why, "%s: more than %d certificates", cfg->tls_cert, S_MAX_CHAIN);
        goto fail;
    }
    if (s_check_times (crts, ncrts, cfg->tls_cert, now, why, sizeof why) != 0)
        goto fail;

    key_name = "ingest.tls_key";
    if (s_read (cfg->tls_key, &key_pem, why, sizeof why) != 0)
        goto fail;
    if ((rc = gnutls_x509_privkey_init (&xkey)) < 0 ||
        (rc = gnutls_x509_privkey_import2 (xkey, &key_pem, GNUTLS_X509_FMT_PEM, NULL,
                                           GNUTLS_PKCS_PLAIN)) < 0) {
        snprintf (why, sizeof why, "%s: not an unencrypted PEM private key (%s)", cfg->tls_key,
                  gnutls_strerror (rc));
        goto fail;
    }
    if (s_check_match (crts[0], xkey, cfg, why, sizeof why) != 0)
        goto fail;

    /* The GnuTLS forms the handshake uses. */
    self->chain = gnutls_calloc (ncrts, sizeof *self->chain);
    unsigned imported = ncrts;
    if (!self->chain ||
        (rc = gnutls_pcert_import_x509_list (self->chain, crts, &imported, 0)) < 0) {
        snprintf (why, sizeof why, "%s: %s", cfg->tls_cert,
                  self->chain ? gnutls_strerror (rc) : "out of memory");
        goto fail;
    }
    self->chain_length = imported;
    if ((rc = gnutls_privkey_init (&self->key)) < 0 ||
        (rc = gnutls_privkey_import_x509 (self->key, xkey, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE)) <
            0) {
        snprintf (why, sizeof why, "%s: %s", cfg->tls_key, gnutls_strerror (rc));
        goto fail;
    }
    xkey = NULL; /* owned by self->key now */

    key_name = "ingest.tls_cert";
    unsigned char fp[32];
    size_t fplen = sizeof fp;
    if (gnutls_x509_crt_get_fingerprint (crts[0], GNUTLS_DIG_SHA256, fp, &fplen) < 0)
        fplen = 0;
    for (size_t i = 0; i < fplen; i++)
        snprintf (self->fingerprint + 3 * i, 4, i + 1 < fplen ? "%02X:" : "%02X", fp[i]);
    self->not_after = gnutls_x509_crt_get_expiration_time (crts[0]);
    gnutls_hash_hd_t hash;
    if (gnutls_hash_init (&hash, GNUTLS_DIG_SHA256) == 0) {
        gnutls_hash (hash, cert_pem.data, cert_pem.size);
        gnutls_hash (hash, key_pem.data, key_pem.size);
        gnutls_hash_deinit (hash, self->digest);
    }
    goto done;
fail:
    snprintf (errbuf, errlen, "%s: %s: %s", cfg->path, key_name, why);
    hm_tls_pair_destroy (&self);
done:
    for (unsigned i = 0; i < ncrts; i++)
        gnutls_x509_crt_deinit (crts[i]);
    gnutls_free (crts);
    if (xkey)
        gnutls_x509_privkey_deinit (xkey);
    if (key_pem.data)
        gnutls_memset (key_pem.data, 0, key_pem.size); /* no key bytes left in freed memory */
    gnutls_free (key_pem.data);
    gnutls_free (cert_pem.data);
    return self;
}

void
hm_tls_pair_destroy (hm_tls_pair_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hm_tls_pair_t *self = *self_p;
    for (unsigned i = 0; i < self->chain_length; i++)
        gnutls_pcert_deinit (&self->chain[i]);
    gnutls_free (self->chain);
    if (self->key)
        gnutls_privkey_deinit (self->key);
    free (self);
    *self_p = NULL;
}

gnutls_pcert_st *
hm_tls_pair_chain (hm_tls_pair_t *self, unsigned *length)
{
    *length = self->chain_length;
    return self->chain;
}

gnutls_privkey_t
hm_tls_pair_key (hm_tls_pair_t *self)
{
    return self->key;
}

const char *
hm_tls_pair_fingerprint (const hm_tls_pair_t *self)
{
    return self->fingerprint;
}

time_t
hm_tls_pair_not_after (const hm_tls_pair_t *self)
{
    return self->not_after;
}

bool
hm_tls_pair_same (const hm_tls_pair_t *a, const hm_tls_pair_t *b)
{
    return memcmp (a->digest, b->digest, sizeof a->digest) == 0;
}

int
hm_tls_check (const hm_config_t *cfg, char *errbuf, size_t errlen)
{
    if (!cfg->tls_cert)
        return 0;
    hm_tls_pair_t *pair = hm_tls_pair_load (cfg, time (NULL), errbuf, errlen);
    if (!pair)
        return -1;
    hm_tls_pair_destroy (&pair);
    return 0;
}
