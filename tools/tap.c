/*  hamustro-tap: prints the router's live stream. Subscribes to the
    router's tap (PUB: [HM/TAP/1][TapHeader][AppendRequest]) and writes each
    event of each record as its JSON line, flushed per record, so it can be
    piped into jq or grep while the pipeline runs.

    The tap is best effort: the router drops records for a subscriber that
    does not keep up, so this shows what flows, not a complete copy. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "config.h"
#include "curve.h"
#include "encode.h"
#include "hm_buf.h"
#include "hm_signal.h"
#include "tool_config.h"
#include "tool_recv.h"
#include "wire.h"

#define TAP_HWM 10000 /* records queued for us before the PUB drops ours */

static volatile sig_atomic_t s_interrupted = 0;

static void
s_on_signal (int sig)
{
    (void)sig;
    s_interrupted = 1;
}

static void
s_usage (FILE *out)
{
    fprintf (out, "Usage: hamustro-tap [--config FILE] [--endpoint EP] [--offsets] [--count N]\n"
                  "Prints every event the router appends, one JSON line each.\n"
                  "  --config FILE  pipeline config (default: $HAMUSTRO_CONFIG, else built-in)\n"
                  "  --endpoint EP  tap endpoint (default: the config's)\n"
                  "  --offsets      start each line with the record's log offset and a tab\n"
                  "  --count N      stop after N events\n"
                  "  --help, --version\n");
}

/* Prints the events of one record, at most *left of them if limited.
   Returns 0, or -1 if stdout is gone. */
static int
s_print_record (const Hm__TapHeader *header, const Hm__AppendRequest *req, bool offsets,
                bool limited, uint64_t *left, hm_buf_t *out)
{
    hm_buf_reset (out);
    for (size_t i = 0; i < req->n_events && (!limited || *left > 0); i++) {
        if (offsets)
            hm_buf_printf (out, "%" PRIu64 "\t", header->offset);
        if (hm_encode_json (out, req->events[i]) != 0) {
            fprintf (stderr, "hamustro-tap: record %" PRIu64 ": event too large to print\n",
                     header->offset);
            continue;
        }
        if (limited)
            (*left)--;
    }
    if (out->len && fwrite (out->data, 1, out->len, stdout) != out->len)
        return -1;
    return fflush (stdout) == 0 ? 0 : -1;
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"endpoint", required_argument, NULL, 'e'},
                                            {"offsets", no_argument, NULL, 'o'},
                                            {"count", required_argument, NULL, 'n'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, 'V'},
                                            {NULL, 0, NULL, 0}};
    const char *config_path = getenv ("HAMUSTRO_CONFIG");
    const char *endpoint = NULL;
    bool offsets = false, limited = false;
    uint64_t left = 0;
    int c;
    while ((c = getopt_long (argc, argv, "c:e:on:hV", options, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'e':
            endpoint = optarg;
            break;
        case 'o':
            offsets = true;
            break;
        case 'n': {
            char *end;
            errno = 0;
            left = strtoull (optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-') {
                fprintf (stderr, "hamustro-tap: bad value '%s' for --count\n", optarg);
                return 2;
            }
            limited = true;
            break;
        }
        case 'h':
            s_usage (stdout);
            return 0;
        case 'V':
            printf ("hamustro-tap %s\n", HAMUSTRO_VERSION);
            return 0;
        default:
            s_usage (stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "hamustro-tap: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    hm_config_t *cfg = hm_tool_config ("hamustro-tap", config_path);
    if (!cfg)
        return 2;
    if (!endpoint)
        endpoint = cfg->tap_endpoint;

    hm_signal_on_stop (s_on_signal);

    int code = 0;
    void *ctx = zmq_ctx_new ();
    void *sock = ctx ? zmq_socket (ctx, ZMQ_SUB) : NULL;
    if (!sock || hm_wire_setup (sock, 1, TAP_HWM, 0) != 0 ||
        zmq_setsockopt (sock, ZMQ_SUBSCRIBE, HM_WIRE_TAP, strlen (HM_WIRE_TAP)) != 0 ||
        hm_curve_apply (sock, cfg, false) != 0 || zmq_connect (sock, endpoint) != 0) {
        fprintf (stderr, "hamustro-tap: cannot connect to %s: %s\n", endpoint,
                 zmq_strerror (zmq_errno ()));
        code = 2;
    }
    hm_buf_t out;
    hm_buf_init (&out, 0);
    while (code == 0 && !s_interrupted && (!limited || left > 0)) {
        zmq_msg_t parts[3];
        int frames = hm_tool_recv (sock, parts, 3, 0, &s_interrupted);
        if (frames < 0) {
            if (zmq_errno () == EINTR)
                continue;
            fprintf (stderr, "hamustro-tap: %s\n", zmq_strerror (zmq_errno ()));
            code = 1;
            break;
        }
        Hm__TapHeader *header = NULL;
        Hm__AppendRequest *req = NULL;
        if (frames == 3 && hm_tool_frame_is (&parts[0], HM_WIRE_TAP)) {
            header =
                hm__tap_header__unpack (NULL, zmq_msg_size (&parts[1]), zmq_msg_data (&parts[1]));
            req = hm__append_request__unpack (NULL, zmq_msg_size (&parts[2]),
                                              zmq_msg_data (&parts[2]));
        }
        for (int i = 0; i < frames && i < 3; i++)
            zmq_msg_close (&parts[i]);
        if (!header || !req)
            fprintf (stderr, "hamustro-tap: dropped a message that is not a tap record\n");
        else if (s_print_record (header, req, offsets, limited, &left, &out) != 0)
            break; /* stdout closed (e.g. piped into head): done */
        hm__tap_header__free_unpacked (header, NULL);
        hm__append_request__free_unpacked (req, NULL);
    }
    hm_buf_free (&out);
    if (sock)
        zmq_close (sock);
    if (ctx)
        zmq_ctx_term (ctx);
    hm_config_destroy (&cfg);
    return code;
}
