/*  hamustro-ctl: talks to a router's control socket (ARCHITECTURE section
    3): STATUS prints the router's status JSON (log bounds, counters, and
    per route its committed offset and lag), FLUSH seals every open batch,
    REPLAY rewinds one route to a log offset.

    One request, one answer: a DEALER sends [HM/CONTROL/1][ControlRequest]
    and waits at most --timeout for [HM/CONTROLLED/1][ControlReply]. The
    fault-injection suite polls STATUS to know when every route caught up.

    check-config, supervisord-conf and systemd-units read only the config
    (ctl_config.c): what `make run` and the packaging start comes from it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <zmq.h>

#include "config.h"
#include "ctl_config.h"
#include "curve.h"
#include "hm_buf.h"
#include "hm_log.h"
#include "pipeline.pb-c.h"
#include "status_view.h"
#include "tool_config.h"
#include "wire.h"

#include <signal.h>
#include <time.h>

static void
s_usage (FILE *out)
{
    /* Laid out for help2man, which makes the man page from it: usage
       lines, a paragraph, then headed lists with their text in one column. */
    fprintf (out, "Usage: hamustro-ctl [options] status | flush | replay ROUTE OFFSET | keygen\n"
                  "  or:  hamustro-ctl [options] check-config | systemd-units [FILE]\n"
                  "  or:  hamustro-ctl [options] supervisord-conf [FILE...]\n"
                  "Sends one control request to a router and prints its answer, or reads a\n"
                  "config and says what it runs (no router involved).\n"
                  "\n"
                  "Commands:\n"
                  "  status                   the router's status as a table: per route its\n"
                  "                           lag, delivery rate and sink instances; the log's\n"
                  "                           use; the newest warnings and errors of the\n"
                  "                           router, its sinks and ingests; every counter\n"
                  "                           that is not zero\n"
                  "  flush                    seal every open batch of every route now\n"
                  "  replay ROUTE OFFSET      deliver ROUTE again from log offset OFFSET\n"
                  "  keygen                   print a new CurveZMQ key pair (for the config's\n"
                  "                           \"curve\" section; no router involved)\n"
                  "  check-config [FILE]      check the config as every program would at start\n"
                  "                           (no network): what would run, or every problem\n"
                  "                           as FILE: KEY: REASON (exit 1)\n"
                  "  supervisord-conf [FILE...]\n"
                  "                           supervisord [program:x] sections for the config's\n"
                  "                           router, ingest and every route's sinks (as its\n"
                  "                           role says); several FILEs (a sink host serving\n"
                  "                           several edges): each one's program names start\n"
                  "                           with its file name without .json and a '-'\n"
                  "  systemd-units [FILE]     the systemd units the config needs, one a line\n"
                  "\n"
                  "Options:\n"
                  "  --bin DIR                supervisord-conf: the programs' directory\n"
                  "                           (default: hamustro-ctl's own)\n"
                  "  --user USER              supervisord-conf: run the programs as USER\n"
                  "  --logdir DIR             supervisord-conf: a log file per process in DIR\n"
                  "                           (default: supervisord's stdout)\n"
                  "  --directory DIR          supervisord-conf: the programs' working directory\n"
                  "  --role all|edge|sinks    check-config, supervisord-conf, systemd-units: what\n"
                  "                           this host runs of the config (default: its\n"
                  "                           \"role\", else all): all its programs, the router\n"
                  "                           and ingest, or the routes' sinks; check-config\n"
                  "                           checks only what the role runs (a sink host's\n"
                  "                           config needs no server_secret_key)\n"
                  "  --prefix NAME            supervisord-conf with one FILE: put NAME before\n"
                  "                           every program name\n"
                  "  --config FILE            pipeline config (default: $HAMUSTRO_CONFIG, else\n"
                  "                           built-in)\n"
                  "  --endpoint EP            control endpoint (default: the config's)\n"
                  "  --timeout MS             wait this long for the answer (default 5000)\n"
                  "  --json                   status: the router's status as one JSON object\n"
                  "                           (for scripts)\n"
                  "  --watch[=SECONDS]        status: redraw the table every SECONDS (default\n"
                  "                           2) until Ctrl-C; exit 1 once the router does not\n"
                  "                           answer within --timeout\n"
                  "  --count N                status --watch: stop after N tables\n"
                  "  --help, --version\n"
                  "\n"
                  "Exit status: 0 the router said ok, 1 it said no or did not answer,\n"
                  "2 usage or config error.\n");
}

/* A CurveZMQ key pair as JSON, ready for the "curve" section. */
static int
s_keygen (int extra_args)
{
    char public_key[41], secret_key[41];
    if (extra_args) {
        fprintf (stderr, "hamustro-ctl: keygen takes no arguments\n");
        return 2;
    }
    if (!zmq_has ("curve") || zmq_curve_keypair (public_key, secret_key) != 0) {
        fprintf (stderr, "hamustro-ctl: cannot make a CurveZMQ key pair: %s\n",
                 zmq_has ("curve") ? zmq_strerror (zmq_errno ()) : "libzmq has no CurveZMQ");
        return 1;
    }
    printf ("{\"public_key\": \"%s\", \"secret_key\": \"%s\"}\n", public_key, secret_key);
    return 0;
}

static int
s_parse_u64 (const char *what, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull (text, &end, 10);
    if (errno || end == text || *end || text[0] == '-') {
        fprintf (stderr, "hamustro-ctl: bad value '%s' for %s\n", text, what);
        return -1;
    }
    *out = v;
    return 0;
}

/* The directory hamustro-ctl runs from: the other programs are beside it. */
static const char *
s_own_dir (char *buf, size_t cap)
{
    ssize_t n = readlink ("/proc/self/exe", buf, cap - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return dirname (buf);
}

/* supervisord-conf with several FILEs: each one's programs get its file
   name without ".json" and a '-' as prefix ("sink-edge1-sink-archive"),
   so one supervisord runs them all. Every file is checked before
   anything is printed. */
static int
s_supervisord_files (int argc, char **argv, hm_plan_supervisord_t opts)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream (&text, &len);
    if (!out)
        return 1;
    char **prefixes = calloc ((size_t)argc, sizeof *prefixes);
    int code = prefixes ? 0 : 1;
    for (int i = 0; i < argc && code == 0; i++) {
        char *copy = strdup (argv[i]);
        char *name = copy ? strdup (basename (copy)) : NULL;
        free (copy);
        if (!name) {
            code = 1;
            break;
        }
        size_t n = strlen (name);
        if (n > 5 && strcmp (name + n - 5, ".json") == 0)
            name[n - 5] = '\0';
        prefixes[i] = name;
        for (int j = 0; j < i; j++)
            if (strcmp (prefixes[j], name) == 0) {
                fprintf (stderr,
                         "hamustro-ctl: %s and %s: the same file name, so the same program "
                         "names; rename one\n",
                         argv[j], argv[i]);
                code = 2;
            }
        if (code)
            break;
        char prefix[4096];
        snprintf (prefix, sizeof prefix, "%s-", name);
        opts.prefix = prefix;
        if (i > 0)
            fputc ('\n', out);
        code = hm_ctl_config_run (HM_CTL_SUPERVISORD_CONF, argv[i], opts, out, stderr);
    }
    fclose (out);
    if (code == 0)
        fwrite (text, 1, len, stdout);
    free (text);
    for (int i = 0; prefixes && i < argc; i++)
        free (prefixes[i]);
    free (prefixes);
    return code;
}

/* check-config, supervisord-conf, systemd-units: the config, no router. */
static int
s_config_verb (const char *cmd, int argc, char **argv, const char *config_path,
               hm_plan_supervisord_t opts)
{
    hm_ctl_config_verb_t verb = strcmp (cmd, "check-config") == 0       ? HM_CTL_CHECK_CONFIG
                                : strcmp (cmd, "supervisord-conf") == 0 ? HM_CTL_SUPERVISORD_CONF
                                                                        : HM_CTL_SYSTEMD_UNITS;
    if (argc > 1 && verb != HM_CTL_SUPERVISORD_CONF) {
        fprintf (stderr, "hamustro-ctl: %s takes at most one FILE\n", cmd);
        return 2;
    }
    if (argc > 1 && opts.prefix) {
        fprintf (stderr, "hamustro-ctl: --prefix goes with one FILE (several: their names)\n");
        return 2;
    }
    char self_dir[4096];
    if (!opts.bin_dir && !(opts.bin_dir = s_own_dir (self_dir, sizeof self_dir))) {
        fprintf (stderr, "hamustro-ctl: cannot read /proc/self/exe: give --bin DIR\n");
        return 2;
    }
    /* The backends log what they configure: only their warnings here. */
    hm_log_init ("hamustro-ctl", HM_LOG_WARN);
    if (argc > 1)
        return s_supervisord_files (argc, argv, opts);
    return hm_ctl_config_run (verb, argc == 1 ? argv[0] : config_path, opts, stdout, stderr);
}

/* Waits for the reply; returns it unpacked, or NULL (message on stderr). */
static Hm__ControlReply *
s_await_reply (void *sock, long timeout_ms)
{
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    int ready = zmq_poll (&item, 1, timeout_ms);
    if (ready <= 0) {
        /* Interrupted (Ctrl-C in --watch): the caller says nothing more. */
        if (!(ready < 0 && zmq_errno () == EINTR))
            fprintf (stderr, "hamustro-ctl: no answer within %ld ms\n", timeout_ms);
        return NULL;
    }
    zmq_msg_t type, body;
    zmq_msg_init (&type);
    zmq_msg_init (&body);
    Hm__ControlReply *reply = NULL;
    if (zmq_msg_recv (&type, sock, 0) >= 0 && zmq_msg_more (&type) &&
        zmq_msg_recv (&body, sock, 0) >= 0 && zmq_msg_size (&type) == strlen (HM_WIRE_CONTROLLED) &&
        memcmp (zmq_msg_data (&type), HM_WIRE_CONTROLLED, zmq_msg_size (&type)) == 0)
        reply = hm__control_reply__unpack (NULL, zmq_msg_size (&body), zmq_msg_data (&body));
    /* Drain any frames beyond the two we expect. */
    bool more = zmq_msg_more (&body);
    while (more) {
        zmq_msg_t extra;
        zmq_msg_init (&extra);
        more = zmq_msg_recv (&extra, sock, 0) >= 0 && zmq_msg_more (&extra);
        zmq_msg_close (&extra);
    }
    zmq_msg_close (&type);
    zmq_msg_close (&body);
    if (!reply)
        fprintf (stderr, "hamustro-ctl: the answer is not a ControlReply\n");
    return reply;
}

/* Sends req and waits for its reply (NULL: the reason is on stderr). */
static Hm__ControlReply *
s_ask (void *sock, Hm__ControlRequest *req, long timeout_ms)
{
    if (hm_wire_send (sock, NULL, 0, HM_WIRE_CONTROL, &req->base, 0) != 0) {
        fprintf (stderr, "hamustro-ctl: cannot send: %s\n", zmq_strerror (zmq_errno ()));
        return NULL;
    }
    return s_await_reply (sock, timeout_ms);
}

static volatile sig_atomic_t s_interrupted;

static void
s_on_sigint (int sig)
{
    (void)sig;
    s_interrupted = 1;
}

static double
s_now_s (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The terminal's width, to cut error lines to; 0 if stdout is not one. */
static int
s_columns (void)
{
    struct winsize ws;
    if (!isatty (STDOUT_FILENO) || ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) != 0)
        return 0;
    return ws.ws_col;
}

/* status without --json: one table, or (watch) a table every interval
   seconds, the screen cleared before each, rates from successive samples.
   Ends on Ctrl-C (0), after count tables (0, count 0: never), or when the
   router does not answer within timeout_ms (1). */
static int
s_status_view (void *sock, long timeout_ms, bool watch, uint64_t interval_s, uint64_t count)
{
    Hm__ControlRequest req = HM__CONTROL_REQUEST__INIT;
    req.command = HM__CONTROL_REQUEST__COMMAND__STATUS;
    if (watch) {
        struct sigaction sa = {0};
        sa.sa_handler = s_on_sigint;
        sigaction (SIGINT, &sa, NULL);
        sigaction (SIGTERM, &sa, NULL);
    }
    char *prev = NULL;
    double prev_t = 0;
    int code = 0;
    for (uint64_t n = 0; !s_interrupted; n++) {
        Hm__ControlReply *reply = s_ask (sock, &req, timeout_ms);
        double t = s_now_s ();
        if (!reply) {
            code = s_interrupted ? 0 : 1;
            break;
        }
        hm_buf_t out;
        hm_buf_init (&out, 0);
        int rc =
            !reply->ok || !reply->status_json
                ? -1
                : hm_status_view_render (reply->status_json, prev, t - prev_t, s_columns (), &out);
        if (rc != 0) {
            fprintf (stderr, "hamustro-ctl: status: %s", reply->ok ? out.data : "refused\n");
            hm_buf_free (&out);
            hm__control_reply__free_unpacked (reply, NULL);
            code = 1;
            break;
        }
        /* Home and clear, then the table: a redraw, like `vector top`. */
        printf ("%s%s", watch ? "\033[H\033[2J" : "", out.data);
        fflush (stdout);
        hm_buf_free (&out);
        free (prev);
        prev = strdup (reply->status_json);
        prev_t = t;
        hm__control_reply__free_unpacked (reply, NULL);
        if (!watch || (count && n + 1 >= count))
            break;
        /* Sleep in steps, so Ctrl-C ends the wait at once. */
        for (uint64_t ms = 0; ms < interval_s * 1000 && !s_interrupted; ms += 50) {
            struct timespec step = {0, 50 * 1000000L};
            nanosleep (&step, NULL);
        }
    }
    free (prev);
    return code;
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"endpoint", required_argument, NULL, 'e'},
                                            {"timeout", required_argument, NULL, 't'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, 'V'},
                                            {"bin", required_argument, NULL, 'b'},
                                            {"user", required_argument, NULL, 'u'},
                                            {"logdir", required_argument, NULL, 'l'},
                                            {"directory", required_argument, NULL, 'd'},
                                            {"role", required_argument, NULL, 'r'},
                                            {"prefix", required_argument, NULL, 'p'},
                                            {"json", no_argument, NULL, 'j'},
                                            {"watch", optional_argument, NULL, 'w'},
                                            {"count", required_argument, NULL, 'n'},
                                            {NULL, 0, NULL, 0}};
    bool json = false, watch = false;
    uint64_t interval_s = 2, count = 0;
    hm_plan_supervisord_t opts = {0};
    const char *config_path = getenv ("HAMUSTRO_CONFIG");
    const char *endpoint = NULL;
    uint64_t timeout_ms = 5000;
    int c;
    while ((c = getopt_long (argc, argv, "c:e:t:hV", options, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'e':
            endpoint = optarg;
            break;
        case 'b':
            opts.bin_dir = optarg;
            break;
        case 'u':
            opts.user = optarg;
            break;
        case 'l':
            opts.log_dir = optarg;
            break;
        case 'd':
            opts.directory = optarg;
            break;
        case 'r':
            if (hm_role_parse (optarg, &opts.role) != 0) {
                fprintf (stderr, "hamustro-ctl: --role takes all, edge or sinks, not '%s'\n",
                         optarg);
                return 2;
            }
            break;
        case 'p':
            opts.prefix = optarg;
            break;
        case 't':
            if (s_parse_u64 ("--timeout", optarg, &timeout_ms) != 0 || timeout_ms > 3600000)
                return 2;
            break;
        case 'j':
            json = true;
            break;
        case 'w':
            watch = true;
            if (optarg && (s_parse_u64 ("--watch", optarg, &interval_s) != 0 || interval_s < 1 ||
                           interval_s > 3600)) {
                fprintf (stderr, "hamustro-ctl: --watch takes 1 to 3600 seconds\n");
                return 2;
            }
            break;
        case 'n':
            if (s_parse_u64 ("--count", optarg, &count) != 0)
                return 2;
            break;
        case 'h':
            s_usage (stdout);
            return 0;
        case 'V':
            printf ("hamustro-ctl %s\n", HAMUSTRO_VERSION);
            return 0;
        default:
            s_usage (stderr);
            return 2;
        }
    }
    Hm__ControlRequest req = HM__CONTROL_REQUEST__INIT;
    const char *cmd = optind < argc ? argv[optind] : NULL;
    if (cmd && strcmp (cmd, "keygen") == 0)
        return s_keygen (argc - optind - 1);
    if (cmd && (strcmp (cmd, "check-config") == 0 || strcmp (cmd, "supervisord-conf") == 0 ||
                strcmp (cmd, "systemd-units") == 0))
        return s_config_verb (cmd, argc - optind - 1, argv + optind + 1, config_path, opts);
    int want_args = 0;
    if (cmd && strcmp (cmd, "status") == 0)
        req.command = HM__CONTROL_REQUEST__COMMAND__STATUS;
    else if (cmd && strcmp (cmd, "flush") == 0)
        req.command = HM__CONTROL_REQUEST__COMMAND__FLUSH;
    else if (cmd && strcmp (cmd, "replay") == 0) {
        req.command = HM__CONTROL_REQUEST__COMMAND__REPLAY;
        want_args = 2;
    }
    else {
        fprintf (stderr, "hamustro-ctl: %s\n", cmd ? "unknown command" : "no command given");
        s_usage (stderr);
        return 2;
    }
    if (argc - optind - 1 != want_args) {
        fprintf (stderr, "hamustro-ctl: %s takes %d arguments\n", cmd, want_args);
        return 2;
    }
    if ((json || watch || count) && req.command != HM__CONTROL_REQUEST__COMMAND__STATUS) {
        fprintf (stderr, "hamustro-ctl: --json, --watch and --count go with status\n");
        return 2;
    }
    if (json && (watch || count)) {
        fprintf (stderr, "hamustro-ctl: --json prints one status; --watch draws tables\n");
        return 2;
    }
    if (want_args) {
        req.route = argv[optind + 1];
        req.has_offset = true;
        if (s_parse_u64 ("OFFSET", argv[optind + 2], &req.offset) != 0)
            return 2;
    }
    hm_config_t *cfg = hm_tool_config ("hamustro-ctl", config_path);
    if (!cfg)
        return 2;
    if (!endpoint)
        endpoint = cfg->control_endpoint;

    int code = 1;
    void *ctx = zmq_ctx_new ();
    void *sock = ctx ? zmq_socket (ctx, ZMQ_DEALER) : NULL;
    if (!sock || hm_wire_setup (sock, 10, 10, 0) != 0 || hm_curve_apply (sock, cfg, false) != 0 ||
        zmq_connect (sock, endpoint) != 0) {
        fprintf (stderr, "hamustro-ctl: cannot connect to %s: %s\n", endpoint,
                 zmq_strerror (zmq_errno ()));
        code = 2;
    }
    else if (req.command == HM__CONTROL_REQUEST__COMMAND__STATUS && !json)
        code = s_status_view (sock, (long)timeout_ms, watch, interval_s, count);
    else {
        Hm__ControlReply *reply = s_ask (sock, &req, (long)timeout_ms);
        if (reply) {
            if (reply->status_json)
                printf ("%s\n", reply->status_json);
            else if (reply->ok)
                printf ("ok\n");
            if (!reply->ok)
                fprintf (stderr, "hamustro-ctl: %s: %s\n", cmd,
                         reply->reason ? reply->reason : "refused");
            code = reply->ok ? 0 : 1;
            hm__control_reply__free_unpacked (reply, NULL);
        }
    }
    if (sock)
        zmq_close (sock);
    if (ctx)
        zmq_ctx_term (ctx);
    hm_config_destroy (&cfg);
    return code;
}
