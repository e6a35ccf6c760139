/*  hamustro-null-server: the ceiling for bench/run.sh. It speaks HTTP with
    the same libmicrohttpd and the same connection limits as hamustro-ingest,
    reads each request body completely and answers 200 with an empty body,
    doing nothing else. The gap between its numbers and the pipeline's is
    what verifying, decoding, logging and fsync cost.

    --defer measures the floor of answering asynchronously, as the ingest
    must (it answers only once the router has the events on disk): each
    request is suspended when its body is read and resumed at once, so it
    is answered on the next turn of MHD's loop. That costs what any
    suspended answer costs (MHD's epoll_ctl calls, its wake-up signal, one
    more loop turn) and nothing else: no router, no verification.

    It runs MHD's epoll loop in a pool of internal threads (one per core by
    default); the main thread only waits for SIGINT/SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Parsed command line. */
typedef struct {
    const char *host;         /* IPv4 address to bind */
    uint16_t port;            /* port to bind */
    unsigned threads;         /* MHD polling threads */
    unsigned max_connections; /* MHD_OPTION_CONNECTION_LIMIT */
    unsigned timeout_s;       /* idle connection timeout */
    bool defer;               /* suspend and resume each request before answering */
} s_args_t;

/* Where a request is (its *con_cls points at one of these). */
static int s_started_marker;  /* first call (headers only) seen */
static int s_resumed_marker;  /* body read, suspended and resumed (--defer) */
static bool s_defer;

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: hamustro-null-server [--host ADDR] [--port N] [--threads N]\n"
                  "                            [--max-connections N] [--timeout S] [--defer]\n"
                  "Answers 200 with an empty body to every request, after reading the body.\n"
                  "--defer: suspend each request and resume it at once before answering\n"
                  "(the floor of an asynchronous answer, as the ingest's).\n"
                  "Defaults: 127.0.0.1:8080, one thread per core, 1024 connections, 30 s\n"
                  "(the ingest's defaults). SIGINT/SIGTERM stop it.\n");
}

static int
s_parse_uint (const char *opt, const char *text, unsigned long lo, unsigned long hi,
              unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul (text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < lo || v > hi) {
        fprintf (stderr, "hamustro-null-server: %s: expected %lu..%lu, got '%s'\n", opt, lo, hi,
                 text);
        return -1;
    }
    *out = v;
    return 0;
}

/* 0 run, 1 done (help/version), -1 bad arguments. */
static int
s_parse_args (int argc, char **argv, s_args_t *a)
{
    static const struct option opts[] = {{"host", required_argument, NULL, 'H'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"max-connections", required_argument, NULL, 'c'},
                                         {"timeout", required_argument, NULL, 'T'},
                                         {"defer", no_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    a->host = "127.0.0.1";
    a->port = 8080;
    a->threads = cores > 0 ? (unsigned)cores : 1;
    a->max_connections = 1024;
    a->timeout_s = 30;
    a->defer = false;
    unsigned long v;
    int c;
    opterr = 0;
    while ((c = getopt_long (argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            a->host = optarg;
            break;
        case 'p':
            if (s_parse_uint ("--port", optarg, 1, 65535, &v))
                return -1;
            a->port = (uint16_t)v;
            break;
        case 't':
            if (s_parse_uint ("--threads", optarg, 1, 256, &v))
                return -1;
            a->threads = (unsigned)v;
            break;
        case 'c':
            if (s_parse_uint ("--max-connections", optarg, 1, 1000000, &v))
                return -1;
            a->max_connections = (unsigned)v;
            break;
        case 'T':
            if (s_parse_uint ("--timeout", optarg, 0, 86400, &v))
                return -1;
            a->timeout_s = (unsigned)v;
            break;
        case 'd':
            a->defer = true;
            break;
        case 'h':
            s_usage (stdout);
            return 1;
        case 'V':
            printf ("hamustro-null-server %s\n", HAMUSTRO_VERSION);
            return 1;
        case ':':
            fprintf (stderr, "hamustro-null-server: %s needs a value\n", argv[optind - 1]);
            return -1;
        default:
            fprintf (stderr, "hamustro-null-server: unknown option '%s'\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "hamustro-null-server: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* MHD calls this once with the headers, then once per chunk of body, then
   once more with nothing left: only then may a response be queued. */
static enum MHD_Result
s_handler (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    struct MHD_Response *empty = cls;
    if (*con_cls == NULL) {
        *con_cls = &s_started_marker;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* read and dropped */
        return MHD_YES;
    }
    if (s_defer && *con_cls != &s_resumed_marker) {
        /* MHD calls again (nothing left to read) after the resume. */
        *con_cls = &s_resumed_marker;
        MHD_suspend_connection (conn);
        MHD_resume_connection (conn);
        return MHD_YES;
    }
    return MHD_queue_response (conn, MHD_HTTP_OK, empty);
}

int
main (int argc, char **argv)
{
    s_args_t args;
    int rc = s_parse_args (argc, argv, &args);
    if (rc != 0)
        return rc > 0 ? 0 : 2;

    struct sockaddr_in addr;
    memset (&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons (args.port);
    if (inet_pton (AF_INET, args.host, &addr.sin_addr) != 1) {
        fprintf (stderr, "hamustro-null-server: --host: not an IPv4 address: '%s'\n", args.host);
        return 2;
    }
    /* SIGINT/SIGTERM are blocked in every thread (MHD's inherit the mask)
       and taken synchronously by the main thread with sigwait. */
    sigset_t sigs;
    sigemptyset (&sigs);
    sigaddset (&sigs, SIGINT);
    sigaddset (&sigs, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &sigs, NULL);
    signal (SIGPIPE, SIG_IGN);

    /* One response object shared by every answer: MHD reference-counts it. */
    struct MHD_Response *empty =
        MHD_create_response_from_buffer (0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!empty) {
        fprintf (stderr, "hamustro-null-server: out of memory\n");
        return 1;
    }
    s_defer = args.defer;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
                     (args.defer ? MHD_ALLOW_SUSPEND_RESUME : 0);
    struct MHD_Daemon *daemon = MHD_start_daemon (
        flags, args.port, NULL, NULL, s_handler, empty, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_THREAD_POOL_SIZE, args.threads, MHD_OPTION_CONNECTION_LIMIT,
        args.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, args.timeout_s,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
    if (!daemon) {
        fprintf (stderr, "hamustro-null-server: cannot listen on %s:%u\n", args.host,
                 (unsigned)args.port);
        MHD_destroy_response (empty);
        return 1;
    }
    fprintf (stderr, "hamustro-null-server: listening on %s:%u with %u threads%s\n", args.host,
             (unsigned)args.port, args.threads, args.defer ? ", deferred answers" : "");
    int sig = 0;
    while (sigwait (&sigs, &sig) != 0)
        ;
    MHD_stop_daemon (daemon);
    MHD_destroy_response (empty);
    return 0;
}
