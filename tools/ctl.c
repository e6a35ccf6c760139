/*  hamustro-ctl: talks to a router's control socket (ARCHITECTURE section
    3): STATUS prints the router's status JSON (log bounds, counters, and
    per route its committed offset and lag), FLUSH seals every open batch,
    REPLAY rewinds one route to a log offset.

    One request, one answer: a DEALER sends [HM/CONTROL/1][ControlRequest]
    and waits at most --timeout for [HM/CONTROLLED/1][ControlReply]. The
    fault-injection suite polls STATUS to know when every route caught up. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "config.h"
#include "curve.h"
#include "pipeline.pb-c.h"
#include "tool_config.h"
#include "wire.h"

static void
s_usage (FILE *out)
{
    fprintf (out, "Usage: hamustro-ctl [options] status | flush | replay ROUTE OFFSET | keygen\n"
                  "Sends one control request to a router and prints its answer.\n"
                  "  status               the router's status as one JSON object\n"
                  "  flush                seal every open batch of every route now\n"
                  "  replay ROUTE OFFSET  deliver ROUTE again from log offset OFFSET\n"
                  "  keygen               print a new CurveZMQ key pair (for the config's\n"
                  "                       \"curve\" section; no router involved)\n"
                  "  --config FILE   pipeline config (default: $HAMUSTRO_CONFIG, else built-in)\n"
                  "  --endpoint EP   control endpoint (default: the config's)\n"
                  "  --timeout MS    wait this long for the answer (default 5000)\n"
                  "  --help, --version\n"
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

/* Waits for the reply; returns it unpacked, or NULL (message on stderr). */
static Hm__ControlReply *
s_await_reply (void *sock, long timeout_ms)
{
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&item, 1, timeout_ms) <= 0) {
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

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},  {"endpoint", required_argument, NULL, 'e'},
        {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0}};
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
        case 't':
            if (s_parse_u64 ("--timeout", optarg, &timeout_ms) != 0 || timeout_ms > 3600000)
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
    else if (hm_wire_send (sock, NULL, 0, HM_WIRE_CONTROL, &req.base, 0) != 0)
        fprintf (stderr, "hamustro-ctl: cannot send: %s\n", zmq_strerror (zmq_errno ()));
    else {
        Hm__ControlReply *reply = s_await_reply (sock, (long)timeout_ms);
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
