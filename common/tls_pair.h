/*  tls_pair: the ingest's TLS certificate and key (config keys
    ingest.tls_cert, ingest.tls_key), read from their PEM files and checked
    the way a client would object to them: both files readable, at least
    one certificate, the key is the leaf's key, every certificate of the
    chain valid now. Used by hamustro-ingest at start and on SIGHUP, and by
    `hamustro-ctl check-config`, so both say the same thing.

    The pair is held in GnuTLS form (libmicrohttpd serves TLS with GnuTLS),
    ready for a gnutls_certificate_retrieve_function2. */
#ifndef HM_TLS_PAIR_H
#define HM_TLS_PAIR_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"

/* A PEM file larger than this is refused (a chain is a few KiB). */
#define HM_TLS_MAX_FILE (1u << 20)

typedef struct hm_tls_pair_t hm_tls_pair_t;

/* Reads and checks cfg->tls_cert and cfg->tls_key at time now. NULL with
   "CONFIG: ingest.tls_cert: REASON" (or ingest.tls_key) in errbuf. cfg
   must have both keys set. */
hm_tls_pair_t *hm_tls_pair_load (const hm_config_t *cfg, time_t now, char *errbuf, size_t errlen);
void hm_tls_pair_destroy (hm_tls_pair_t **self_p);

/* The chain and key, for the retrieve callback (owned by the pair). */
gnutls_pcert_st *hm_tls_pair_chain (hm_tls_pair_t *self, unsigned *length);
gnutls_privkey_t hm_tls_pair_key (hm_tls_pair_t *self);
/* The leaf's SHA-256 fingerprint, "AB:CD:..." (for the log). */
const char *hm_tls_pair_fingerprint (const hm_tls_pair_t *self);
/* When the leaf expires. */
time_t hm_tls_pair_not_after (const hm_tls_pair_t *self);
/* True when both pairs hold the same certificate chain and key. */
bool hm_tls_pair_same (const hm_tls_pair_t *a, const hm_tls_pair_t *b);

/* For check-config: 0 when cfg has no TLS or its pair loads, else -1 with
   the reason in errbuf. */
int hm_tls_check (const hm_config_t *cfg, char *errbuf, size_t errlen);

#endif
