/*  server: see server.h. Signals are blocked in every thread and taken by
    the main thread with sigtimedwait, so no handler and no global flag is
    needed; the main thread then asks each worker to stop and joins it. */
#include "server.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#include "hm_log.h"
#include "tls.h"
#include "worker.h"

/* How often the main thread looks for a worker that died on its own. */
#define S_CHECK_MS 200

static int
s_resolve (const hm_config_t *cfg, struct sockaddr_storage *addr, socklen_t *len)
{
    struct addrinfo hints, *res = NULL;
    memset (&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[8];
    snprintf (port, sizeof port, "%u", cfg->port);
    const char *host = cfg->host && *cfg->host ? cfg->host : NULL;
    int rc = getaddrinfo (host, port, &hints, &res);
    if (rc != 0) {
        hm_error ("cannot resolve listen address %s:%u: %s", host ? host : "*", cfg->port,
                  gai_strerror (rc));
        return -1;
    }
    memcpy (addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo (res);
    return 0;
}

int
ingest_server_run (const hm_config_t *cfg)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    if (s_resolve (cfg, &addr, &addr_len) != 0)
        return 1;
    ingest_tls_t *tls = NULL;
    if (cfg->tls_cert) {
        char errbuf[1024];
        if (!(tls = ingest_tls_new (cfg, errbuf, sizeof errbuf))) {
            hm_error ("%s", errbuf);
            return 1;
        }
    }

    /* Block the stop signals and SIGHUP (reopen the logfile) before any
       thread exists (ZeroMQ's I/O thread included) so that only
       sigtimedwait below sees them. */
    sigset_t stop_set;
    sigemptyset (&stop_set);
    sigaddset (&stop_set, SIGTERM);
    sigaddset (&stop_set, SIGINT);
    sigaddset (&stop_set, SIGHUP);
    pthread_sigmask (SIG_BLOCK, &stop_set, NULL);
    signal (SIGPIPE, SIG_IGN);

    int exit_code = 0;
    unsigned threads = cfg->ingest_threads ? cfg->ingest_threads : 1;
    ingest_worker_t **workers = calloc (threads, sizeof *workers);
    void *zmq_ctx = zmq_ctx_new ();
    atomic_uint undrained = threads;
    atomic_uint unlinked = threads;
    hm_ingest_stats_t stats;
    hm_ingest_stats_init (&stats, hm_now_ms ());
    unsigned started = 0;
    if (!workers || !zmq_ctx) {
        hm_error ("out of memory");
        free (workers);
        if (zmq_ctx)
            zmq_ctx_term (zmq_ctx);
        ingest_tls_destroy (&tls);
        return 1;
    }
    for (unsigned i = 0; i < threads; i++) {
        char errbuf[256];
        workers[i] =
            ingest_worker_new (cfg, zmq_ctx, i, threads, &undrained, &unlinked, &stats, tls,
                               (struct sockaddr *)&addr, addr_len, errbuf, sizeof errbuf);
        if (!workers[i]) {
            hm_error ("%s", errbuf);
            exit_code = 1;
            goto stop;
        }
    }
    for (; started < threads; started++)
        if (ingest_worker_start (workers[started]) != 0) {
            hm_error ("cannot start thread %u: %s", started, strerror (errno));
            exit_code = 1;
            goto stop;
        }
    const char *host = cfg->host && *cfg->host ? cfg->host : "*";
    bool v6 = strchr (host, ':') != NULL;
    hm_info ("listening on %s%s%s:%u%s (%u thread%s), router endpoint %s, control endpoint %s",
             v6 ? "[" : "", host, v6 ? "]" : "", cfg->port, tls ? " with TLS only" : "", threads,
             threads == 1 ? "" : "s", cfg->router_endpoint, cfg->control_endpoint);

    struct timespec tick = {S_CHECK_MS / 1000, (S_CHECK_MS % 1000) * 1000000L};
    while (true) {
        int sig = sigtimedwait (&stop_set, NULL, &tick);
        if (sig == SIGHUP) {
            hm_log_reopen ();
            if (tls)
                ingest_tls_reload (tls);
            continue;
        }
        if (sig > 0) {
            hm_info ("%s: stopping", strsignal (sig));
            break;
        }
        bool died = false;
        for (unsigned i = 0; i < threads; i++)
            died = died || ingest_worker_finished (workers[i]);
        if (died) {
            hm_error ("a worker thread failed; stopping");
            exit_code = 1;
            break;
        }
    }
stop:
    /* Threads that never ran have nothing to drain. */
    atomic_fetch_sub (&undrained, threads - started);
    for (unsigned i = 0; i < threads; i++)
        if (workers[i])
            ingest_worker_stop (workers[i]);
    for (unsigned i = 0; i < threads; i++)
        if (workers[i] && ingest_worker_join (workers[i]) != 0)
            exit_code = 1;
    for (unsigned i = 0; i < threads; i++)
        ingest_worker_destroy (&workers[i]);
    free (workers);
    zmq_ctx_term (zmq_ctx);
    ingest_tls_destroy (&tls); /* after the daemons: their connections held references */
    if (exit_code == 0)
        hm_info ("stopped");
    return exit_code;
}
