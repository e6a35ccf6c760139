/*  hamustro-ingest: the HTTP front of the pipeline (ARCHITECTURE sections
    1 and 2). Takes client collections, hands their events to a router and
    answers 200 only once the router has made them durable. This file is the
    command line; the work is in server.c, worker.c and request.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "curve.h"
#include "hm_log.h"
#include "server.h"

static void
s_usage (FILE *out)
{
    fprintf (out, "Usage: hamustro-ingest [--config FILE] [--verbose]\n"
                  "\n"
                  "Hamustro's HTTP collector: POST /api/v1/track, GET /api/health,\n"
                  "POST /api/flush, GET /api/stats. Events are handed to hamustro-router.\n"
                  "\n"
                  "  -c, --config FILE  configuration (default: $HAMUSTRO_CONFIG, else the\n"
                  "                     embedded default)\n"
                  "  -v, --verbose      log debug lines too\n"
                  "  -h, --help         this help\n"
                  "  -V, --version      print the version\n"
                  "\n"
                  "HAMUSTRO_HOST and HAMUSTRO_PORT override the listen address.\n");
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *path = getenv ("HAMUSTRO_CONFIG");
    bool verbose = false;
    int opt;
    while ((opt = getopt_long (argc, argv, "c:vhV", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            s_usage (stdout);
            return 0;
        case 'V':
            printf ("hamustro-ingest %s\n", HAMUSTRO_VERSION);
            return 0;
        default:
            s_usage (stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "hamustro-ingest: unexpected argument '%s'\n", argv[optind]);
        s_usage (stderr);
        return 2;
    }
    if (path && !*path)
        path = NULL;
    hm_log_init ("ingest", verbose ? HM_LOG_DEBUG : HM_LOG_INFO);
    char errbuf[512];
    hm_config_t *cfg = hm_config_load (path, errbuf, sizeof errbuf);
    if (!cfg || hm_curve_check (cfg, false, errbuf, sizeof errbuf) != 0) {
        fprintf (stderr, "hamustro-ingest: %s\n", errbuf);
        hm_config_destroy (&cfg);
        return 2;
    }
    if (hm_log_open_file (cfg->logfile) != 0) {
        fprintf (stderr, "hamustro-ingest: cannot open logfile %s\n", cfg->logfile);
        hm_config_destroy (&cfg);
        return 2;
    }
    int rc = ingest_server_run (cfg);
    hm_config_destroy (&cfg);
    return rc;
}
