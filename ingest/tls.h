/*  tls: native TLS of hamustro-ingest (config ingest.tls_cert and
    ingest.tls_key). When they are set the port speaks only HTTPS.

    The certificate is not given to libmicrohttpd as fixed PEM text but
    served by a GnuTLS retrieve callback (MHD_OPTION_HTTPS_CERT_CALLBACK)
    from this store, so that SIGHUP can swap in a new pair: handshakes after
    the swap get the new one, and connections already open keep theirs.
    A connection counts a reference on the pair its handshake used (GnuTLS
    keeps pointing at it until the session ends), so an old pair is freed
    when its last connection closes. */
#ifndef HM_INGEST_TLS_H
#define HM_INGEST_TLS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stddef.h>

#include "config.h"

typedef struct ingest_tls_t ingest_tls_t;
/* One counted reference to a pair (what a connection holds). */
typedef struct ingest_tls_ref_t ingest_tls_ref_t;

/* Checks that libmicrohttpd has TLS and loads the configured pair. NULL
   with "CONFIG: ingest.tls_cert: REASON" (or tls_key) in errbuf. */
ingest_tls_t *ingest_tls_new (const hm_config_t *cfg, char *errbuf, size_t errlen);
/* Reads the files again (SIGHUP). A pair that fails its checks is not
   used: the current one stays, and the reason is logged. 0 when the new
   pair (or the unchanged one) is served, -1 when the old one stays. */
int ingest_tls_reload (ingest_tls_t *self);
/* Frees the store; pairs still referenced by connections live on until
   those release them. */
void ingest_tls_destroy (ingest_tls_t **self_p);

/* The retrieve callback for MHD_OPTION_HTTPS_CERT_CALLBACK. It finds the
   store through the connection (GnuTLS session pointer -> MHD connection
   -> its ingest_conn_t -> worker) and stores its reference in the
   connection's tls_ref. */
int ingest_tls_retrieve (gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                         const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                         gnutls_pcert_st **pcert, unsigned int *pcert_length,
                         gnutls_privkey_t *privkey);
/* Drops a connection's reference (when it closes); NULL-safe. */
void ingest_tls_release (ingest_tls_ref_t **ref_p);

#endif
