/*  hamustro-send: builds, signs and POSTs random valid Collections to a
    collector, as a one-shot client or as a load generator, and writes
    request corpora for wrk (bench/).

    The parts: the command line (send_args), the bodies (send_gen), their
    headers and the corpus writer (send_corpus), the HTTP sending loop
    (send_run) with its --record file (send_record), and the counters and
    summary (send_stats). This file reads the config for the URL and the
    secret, and counts the stop signals. --record writes (session, nr) of
    every event that a 200 acknowledged, so tests can compare it with what
    reached the sinks, and how many times its request was sent when that
    was more than once (a request answered 503 may have been stored all the
    same: its events may then be stored once per send, which is the
    client's doing; libcurl also resends by itself on a fresh connection,
    see send_run.c). */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hm_signal.h"
#include "send_args.h"
#include "send_corpus.h"
#include "send_gen.h"
#include "send_run.h"
#include "send_stats.h"

/* Set by SIGINT/SIGTERM; the first stops new requests, the second aborts. */
static volatile sig_atomic_t s_signals;

static void
s_on_signal (int sig)
{
    (void)sig;
    s_signals++;
}

/* The URL from the config's ingest address (HAMUSTRO_HOST/PORT applied);
   https when the ingest has a TLS certificate. */
static void
s_default_url (const hm_config_t *cfg, char *out, size_t cap)
{
    const char *host = cfg->host && cfg->host[0] ? cfg->host : "127.0.0.1";
    if (strcmp (host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp (host, "::") == 0)
        host = "::1";
    bool v6 = strchr (host, ':') != NULL;
    snprintf (out, cap, "%s://%s%s%s:%u/api/v1/track", cfg->tls_cert ? "https" : "http",
              v6 ? "[" : "", host, v6 ? "]" : "", (unsigned)cfg->port);
}

int
main (int argc, char **argv)
{
    send_args_t args;
    int rc = send_args_parse (argc, argv, &args);
    if (rc != 0)
        return rc > 0 ? 0 : 2;

    hm_config_t *cfg = NULL;
    bool need_url = !args.url && !args.corpus;
    bool need_secret = !args.secret && args.sign;
    if (need_url || need_secret) {
        const char *path = args.config_path ? args.config_path : getenv ("HAMUSTRO_CONFIG");
        if (path && !path[0])
            path = NULL;
        char err[512];
        cfg = hm_config_load (path, err, sizeof err);
        if (!cfg) {
            fprintf (stderr, "hamustro-send: config: %s\n", err);
            return 2;
        }
    }
    const char *secret = args.secret ? args.secret : cfg ? cfg->shared_secret : "";
    if (!secret)
        secret = "";
    char url[1024];
    if (args.url)
        snprintf (url, sizeof url, "%s", args.url);
    else if (cfg)
        s_default_url (cfg, url, sizeof url);

    if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf (stderr, "hamustro-send: curl_global_init failed\n");
        hm_config_destroy (&cfg);
        return 1;
    }
    if (args.corpus) {
        send_gen_t *gen = send_gen_new (args.seed, args.format, args.min_payloads,
                                        args.max_payloads, args.sessions);
        rc = gen ? send_write_corpus (args.corpus, args.count, args.format, args.sign, secret, gen)
                 : -1;
        send_gen_destroy (&gen);
        hm_config_destroy (&cfg);
        curl_global_cleanup ();
        return rc == 0 ? 0 : 1;
    }

    hm_signal_on_stop (s_on_signal);

    rc = 0;
    send_run_t *run = send_run_new (&args, secret, url, &s_signals);
    if (!run || send_run_go (run) != 0) {
        fprintf (stderr, "hamustro-send: setup failed (out of memory?)\n");
        rc = 1;
    }
    if (run) {
        double elapsed = send_run_elapsed (run);
        const send_stats_t *stats = send_run_stats (run);
        if (args.progress) {
            send_stats_progress (stats, elapsed, stderr);
            fputc ('\n', stderr);
        }
        if (rc == 0) {
            send_stats_summary (stats, elapsed, args.json_summary, stdout);
            fflush (stdout);
            if (stats->errors)
                rc = 1;
        }
        if (send_run_destroy (&run) != 0)
            rc = 1;
    }
    hm_config_destroy (&cfg);
    curl_global_cleanup ();
    return rc;
}
