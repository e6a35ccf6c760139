/*  curve: see curve.h. */
#include "curve.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "hm_log.h"

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01" /* fixed by ZAP (RFC 27) */

int
hm_curve_check (const hm_config_t *cfg, bool server, char *errbuf, size_t errlen)
{
    const char *key = NULL, *why = NULL;
    if (!cfg->curve_server_public)
        return 0;
    if (server && !cfg->curve_server_secret)
        key = "server_secret_key", why = "the router needs it to accept links";
    else if (!server && !cfg->curve_client_public)
        key = "client_public_key", why = "programs that connect to the router need a client pair";
    if (!key)
        return 0;
    snprintf (errbuf, errlen, "%s: curve.%s: missing: %s", cfg->path ? cfg->path : "(config)", key,
              why);
    return -1;
}

/* Z85 text with its terminating NUL: 41 bytes. */
static int
s_set (void *sock, int option, const char *z85)
{
    if (!z85) {
        errno = EINVAL;
        return -1;
    }
    return zmq_setsockopt (sock, option, z85, strlen (z85) + 1);
}

int
hm_curve_apply (void *sock, const hm_config_t *cfg, bool server)
{
    if (!cfg->curve_server_public)
        return 0;
    if (server) {
        int one = 1;
        return zmq_setsockopt (sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
                       s_set (sock, ZMQ_CURVE_SECRETKEY, cfg->curve_server_secret) != 0
                   ? -1
                   : 0;
    }
    return s_set (sock, ZMQ_CURVE_SERVERKEY, cfg->curve_server_public) != 0 ||
                   s_set (sock, ZMQ_CURVE_PUBLICKEY, cfg->curve_client_public) != 0 ||
                   s_set (sock, ZMQ_CURVE_SECRETKEY, cfg->curve_client_secret) != 0
               ? -1
               : 0;
}

/* ------------------------------------------------------------------ ZAP */

struct hm_zap {
    void *sock;             /* REP at the ZAP endpoint */
    pthread_t thread;       /* answers on it until the context ends */
    uint8_t (*allowed)[32]; /* client public keys, binary */
    size_t count;
    _Atomic uint64_t refused; /* read by the router's STATUS */
};

static bool
s_allowed (const hm_zap_t *self, const uint8_t *key)
{
    for (size_t i = 0; i < self->count; i++)
        if (memcmp (self->allowed[i], key, 32) == 0)
            return true;
    return false;
}

/* One request: version, request id, domain, address, routing id,
   mechanism, credentials (CURVE: the client's 32-byte public key).
   Returns -1 once the context is ending. */
static int
s_answer (hm_zap_t *self)
{
    zmq_msg_t f[7];
    int n = 0;
    bool more = true, extra = false;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init (&m);
        if (zmq_msg_recv (&m, self->sock, 0) < 0) {
            zmq_msg_close (&m);
            for (int i = 0; i < n; i++)
                zmq_msg_close (&f[i]);
            return -1;
        }
        more = zmq_msg_more (&m);
        if (n < 7) {
            zmq_msg_init (&f[n]);
            zmq_msg_move (&f[n++], &m);
        }
        else
            extra = true;
        zmq_msg_close (&m);
    }
    bool ok = n == 7 && !extra && zmq_msg_size (&f[5]) == 5 &&
              memcmp (zmq_msg_data (&f[5]), "CURVE", 5) == 0 && zmq_msg_size (&f[6]) == 32 &&
              s_allowed (self, zmq_msg_data (&f[6]));
    if (!ok) {
        char z85[41] = "?", address[64] = "?";
        if (n == 7 && zmq_msg_size (&f[6]) == 32)
            zmq_z85_encode (z85, zmq_msg_data (&f[6]), 32);
        if (n >= 4) {
            size_t len = zmq_msg_size (&f[3]);
            len = len < sizeof address - 1 ? len : sizeof address - 1;
            memcpy (address, zmq_msg_data (&f[3]), len);
            address[len] = '\0';
        }
        uint64_t refused = ++self->refused;
        if (refused <= 10 || refused % 1000 == 0)
            hm_warn ("curve: refused a client with key %s from %s: not in allowed_clients (%" PRIu64
                     " refusals so far)",
                     z85, address, refused);
    }
    /* Reply: version, request id, status code, status text, user id,
       metadata. */
    const char *text = ok ? "OK" : "client key not allowed";
    const void *parts[6] = {"1.0", "", ok ? "200" : "400", text, "", ""};
    size_t lens[6] = {3, 0, 3, strlen (text), 0, 0};
    if (n >= 2) {
        parts[1] = zmq_msg_data (&f[1]);
        lens[1] = zmq_msg_size (&f[1]);
    }
    for (int i = 0; i < 6; i++)
        zmq_send (self->sock, parts[i], lens[i], i < 5 ? ZMQ_SNDMORE : 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close (&f[i]);
    return 0;
}

static void *
s_zap_loop (void *arg)
{
    hm_zap_t *self = arg;
    /* Signals are the main thread's: one landing here would cut the
       blocking receive short and end the handler (EINTR reads as the end). */
    sigset_t all;
    sigfillset (&all);
    pthread_sigmask (SIG_BLOCK, &all, NULL);
    while (s_answer (self) == 0)
        ;
    zmq_close (self->sock);
    return NULL;
}

int
hm_zap_start (void *zctx, const hm_config_t *cfg, hm_zap_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!cfg->curve_server_public || cfg->curve_allowed_count == 0)
        return 0;
    hm_zap_t *self = calloc (1, sizeof *self);
    if (self)
        self->allowed = calloc (cfg->curve_allowed_count, sizeof *self->allowed);
    if (!self || !self->allowed) {
        free (self);
        snprintf (errbuf, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < cfg->curve_allowed_count; i++)
        zmq_z85_decode (self->allowed[i], cfg->curve_allowed[i]); /* checked by config */
    self->count = cfg->curve_allowed_count;
    int linger = 0;
    self->sock = zmq_socket (zctx, ZMQ_REP);
    if (!self->sock || zmq_setsockopt (self->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind (self->sock, S_ZAP_ENDPOINT) != 0 ||
        pthread_create (&self->thread, NULL, s_zap_loop, self) != 0) {
        snprintf (errbuf, errlen, "CurveZMQ: cannot start the ZAP handler: %s",
                  zmq_strerror (zmq_errno ()));
        if (self->sock)
            zmq_close (self->sock);
        free (self->allowed);
        free (self);
        return -1;
    }
    *out = self;
    return 0;
}

uint64_t
hm_zap_refused (const hm_zap_t *self)
{
    return self ? self->refused : 0;
}

void
hm_zap_join (hm_zap_t **self_p)
{
    hm_zap_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    pthread_join (self->thread, NULL);
    free (self->allowed);
    free (self);
    *self_p = NULL;
}
