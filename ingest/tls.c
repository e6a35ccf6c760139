/*  tls: see tls.h. The store is shared by every worker thread (their
    handshakes call the retrieve callback) and the main thread (SIGHUP
    reloads), so the current pair is read and swapped under a mutex; a
    pair's lifetime is its reference count. */
#include "tls.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hm_log.h"
#include "tls_pair.h"
#include "worker_priv.h"

struct ingest_tls_ref_t {
    hm_tls_pair_t *pair; /* the certificate chain and key */
    atomic_uint refs;    /* the store (while current) + connections that use it */
};

struct ingest_tls_t {
    const hm_config_t *cfg;    /* the paths (not owned) */
    pthread_mutex_t lock;      /* guards current */
    ingest_tls_ref_t *current; /* what new handshakes get */
};

static ingest_tls_ref_t *
s_ref_new (hm_tls_pair_t **pair_p)
{
    ingest_tls_ref_t *ref = calloc (1, sizeof *ref);
    if (!ref)
        return NULL;
    ref->pair = *pair_p;
    *pair_p = NULL;
    atomic_init (&ref->refs, 1);
    return ref;
}

void
ingest_tls_release (ingest_tls_ref_t **ref_p)
{
    if (!ref_p || !*ref_p)
        return;
    ingest_tls_ref_t *ref = *ref_p;
    *ref_p = NULL;
    if (atomic_fetch_sub (&ref->refs, 1) == 1) {
        hm_tls_pair_destroy (&ref->pair);
        free (ref);
    }
}

static void
s_log_serving (const char *what, const hm_tls_pair_t *pair)
{
    time_t until = hm_tls_pair_not_after (pair);
    struct tm tm;
    char when[40] = "?";
    if (gmtime_r (&until, &tm))
        strftime (when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    hm_info ("tls: %s certificate SHA256 %s (not after %s)", what, hm_tls_pair_fingerprint (pair),
             when);
}

ingest_tls_t *
ingest_tls_new (const hm_config_t *cfg, char *errbuf, size_t errlen)
{
    if (MHD_is_feature_supported (MHD_FEATURE_TLS) != MHD_YES ||
        MHD_is_feature_supported (MHD_FEATURE_HTTPS_CERT_CALLBACK) != MHD_YES) {
        snprintf (errbuf, errlen,
                  "%s: ingest.tls_cert: this libmicrohttpd was built without TLS "
                  "(or without certificate callbacks)",
                  cfg->path);
        return NULL;
    }
    hm_tls_pair_t *pair = hm_tls_pair_load (cfg, time (NULL), errbuf, errlen);
    if (!pair)
        return NULL;
    ingest_tls_t *self = calloc (1, sizeof *self);
    if (self)
        self->current = s_ref_new (&pair);
    if (!self || !self->current) {
        snprintf (errbuf, errlen, "%s: ingest.tls_cert: out of memory", cfg->path);
        hm_tls_pair_destroy (&pair);
        free (self);
        return NULL;
    }
    self->cfg = cfg;
    pthread_mutex_init (&self->lock, NULL);
    s_log_serving ("serving", self->current->pair);
    return self;
}

int
ingest_tls_reload (ingest_tls_t *self)
{
    char errbuf[1024];
    hm_tls_pair_t *pair = hm_tls_pair_load (self->cfg, time (NULL), errbuf, sizeof errbuf);
    if (!pair) {
        /* current is only swapped by this (main) thread: reading it unlocked is safe. */
        hm_error ("tls: reload failed, still serving certificate SHA256 %s: %s",
                  hm_tls_pair_fingerprint (self->current->pair), errbuf);
        return -1;
    }
    /* SIGHUP also rotates the logfile: an unchanged pair is kept as is. */
    if (hm_tls_pair_same (pair, self->current->pair)) {
        hm_tls_pair_destroy (&pair);
        hm_info ("tls: certificate unchanged");
        return 0;
    }
    ingest_tls_ref_t *ref = s_ref_new (&pair);
    if (!ref) {
        hm_tls_pair_destroy (&pair);
        hm_error ("tls: reload failed: out of memory");
        return -1;
    }
    pthread_mutex_lock (&self->lock);
    ingest_tls_ref_t *old = self->current;
    self->current = ref;
    pthread_mutex_unlock (&self->lock);
    s_log_serving ("now serving", ref->pair);
    ingest_tls_release (&old);
    return 0;
}

void
ingest_tls_destroy (ingest_tls_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ingest_tls_t *self = *self_p;
    ingest_tls_release (&self->current);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

int
ingest_tls_retrieve (gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                     const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                     gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    struct MHD_Connection *connection = gnutls_session_get_ptr (session);
    const union MHD_ConnectionInfo *info =
        connection ? MHD_get_connection_info (connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT)
                   : NULL;
    ingest_conn_t *conn = info ? info->socket_context : NULL;
    if (!conn || !conn->worker->tls)
        return -1; /* no connection state (out of memory): the handshake fails */
    ingest_tls_t *self = conn->worker->tls;
    pthread_mutex_lock (&self->lock);
    ingest_tls_ref_t *ref = self->current;
    atomic_fetch_add (&ref->refs, 1);
    pthread_mutex_unlock (&self->lock);
    /* A renegotiation selects again: GnuTLS forgets the previous pair. */
    ingest_tls_release (&conn->tls_ref);
    conn->tls_ref = ref;
    *pcert = hm_tls_pair_chain (ref->pair, pcert_length);
    *privkey = hm_tls_pair_key (ref->pair);
    return 0;
}
