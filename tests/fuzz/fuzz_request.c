/*  fuzz_request: an HTTP request as the ingest sees it once libmicrohttpd
    has parsed it, through the ingest's own decisions (ingest/track.c):
    classification, Content-Length, then for a track request the
    signature, Content-Type dispatch, body decode, the collection's checks
    and the client IP.

    Input: one byte of mode, then a request as text:
      METHOD SP URL [SP VERSION] LF
      Name: value LF        (any number; CR before LF is dropped)
      LF
      body                  (the rest, bytes as they are)
    Mode bits: 0 signature required, 1 masked_ip, 2 a small max_body_bytes
    (64), 3 the server is stopping, 4 the peer is a trusted proxy (its
    X-Forwarded-For and X-Real-IP are read). The secret is "fuzz-secret"; a header
    repeated keeps its first value, as libmicrohttpd's lookup does; the peer
    is 203.0.113.9.

    Besides "no crash, no leak, no undefined behaviour": the status is one
    of the README's table (200 204 400 401 405 413 415 503) or 404 for an
    unknown path, 503 only when stopping; past the signature check with a
    required signature, the signature is right; every refusal has a reason that is one line and
   whose
    {"error":...} body is valid JSON; an accepted request has payloads, a
    client IP that is "" or an address, and events that each encode to one
    valid JSON line. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "arena.h"
#include "config.h"
#include "encode.h"
#include "event.h"
#include "hm_buf.h"
#include "ingest_http.h"
#include "signature.h"
#include "track.h"

#define S_MAX_HEADERS 64
#define S_SECRET "fuzz-secret"

typedef struct {
    size_t n;
    char *name[S_MAX_HEADERS];
    char *value[S_MAX_HEADERS];
} s_headers_t;

/* HM_FUZZ_VERBOSE=1: each input's status on stderr (to check seeds). */
static bool s_verbose;

static void
s_fail (const char *what, const char *detail)
{
    fprintf (stderr, "fuzz_request: %s: %s\n", what, detail);
    abort ();
}

static const char *
s_header (void *ctx, const char *name)
{
    const s_headers_t *h = ctx;
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp (h->name[i], name) == 0)
            return h->value[i];
    return NULL;
}

/* The next line of [*p, end) as a new string (without CR LF); NULL when
   there is no LF left. */
static char *
s_line (const uint8_t **p, const uint8_t *end)
{
    const uint8_t *lf = memchr (*p, '\n', (size_t)(end - *p));
    if (!lf)
        return NULL;
    size_t len = (size_t)(lf - *p);
    if (len && (*p)[len - 1] == '\r')
        len--;
    char *s = strndup ((const char *)*p, len);
    *p = lf + 1;
    return s;
}

static char *
s_trim (char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen (s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static void
s_check_reason (unsigned status, const char *reason)
{
    if (!reason || !*reason)
        s_fail ("reason", "a refusal without a reason");
    if (strchr (reason, '\n') || strchr (reason, '\r'))
        s_fail ("reason: not one line", reason);
    char body[256 * 6 + 64];
    size_t len = hm_ingest_error_json (body, sizeof body, reason);
    cJSON *obj = cJSON_ParseWithLength (body, len);
    if (!cJSON_IsObject (obj) || !cJSON_IsString (cJSON_GetObjectItem (obj, "error")))
        s_fail ("error body", body);
    cJSON_Delete (obj);
    (void)status;
}

static void
s_check_accepted (const hm_config_t *cfg, const hm_track_answer_t *a)
{
    const Collection *col = a->col;
    if (!col || col->n_payloads == 0)
        s_fail ("accepted", "no payloads");
    if (a->ip[0]) {
        unsigned char addr[16];
        if (inet_pton (AF_INET, a->ip, addr) != 1 && inet_pton (AF_INET6, a->ip, addr) != 1)
            s_fail ("client ip", a->ip);
    }
    Hm__Event *events = hm_events_build (col, a->ip, cfg->masked_ip);
    if (!events)
        return; /* out of memory */
    for (size_t i = 0; i < col->n_payloads; i++) {
        hm_buf_t line;
        hm_buf_init (&line, 0);
        if (hm_encode_json (&line, &events[i]) != 0)
            s_fail ("encode", "json failed");
        if (line.len == 0 || line.data[line.len - 1] != '\n' ||
            memchr (line.data, '\n', line.len - 1))
            s_fail ("json", "not one line");
        cJSON *obj = cJSON_ParseWithLength (line.data, line.len - 1);
        if (!cJSON_IsObject (obj))
            s_fail ("json", line.data);
        cJSON_Delete (obj);
        hm_buf_free (&line);
    }
    hm_events_free (events, col->n_payloads);
}

static void
s_request (const hm_config_t *cfg, hm_arena_t *arena, bool stopping, const uint8_t *data,
           size_t size)
{
    const uint8_t *p = data, *end = data + size;
    s_headers_t h = {0};
    char *first = s_line (&p, end);
    if (!first)
        return; /* libmicrohttpd answers a request without a line itself */
    char *method = first, *url = strchr (first, ' ');
    if (!url) {
        free (first);
        return;
    }
    *url++ = '\0';
    char *version = strchr (url, ' ');
    if (version)
        *version = '\0';
    char *line;
    while ((line = s_line (&p, end)) != NULL) {
        char *colon = strchr (line, ':');
        if (!*line || !colon || h.n == S_MAX_HEADERS) {
            free (line);
            break; /* the blank line, or what libmicrohttpd would refuse */
        }
        *colon = '\0';
        h.name[h.n] = line;
        h.value[h.n] = s_trim (colon + 1);
        h.n++;
    }

    hm_req_kind_t kind;
    const char *allow, *reason;
    uint64_t length;
    unsigned status = hm_ingest_head (url, method, stopping, s_header, &h, cfg->max_body_bytes,
                                      &kind, &allow, &reason, &length);
    if (status == 405 && !allow)
        s_fail ("405", "no Allow value");
    if (status && status != 404 && status != 405 && status != 413 && status != 503)
        s_fail ("head status", reason);
    if (status == 503 && !stopping)
        s_fail ("head", "503 while not stopping");
    if (status)
        s_check_reason (status, reason);
    else if (kind == HM_REQ_TRACK) {
        /* The body as request.c collects it: bounded by max_body_bytes. */
        hm_buf_t body;
        hm_buf_init (&body, (size_t)cfg->max_body_bytes);
        if (hm_buf_append (&body, (const char *)p, (size_t)(end - p)) != 0)
            status = 413; /* request.c's answer for a body past the bound */
        else {
            hm_buf_t inflated; /* as request.c keeps per connection */
            hm_buf_init (&inflated, (size_t)cfg->max_body_bytes + 1);
            hm_track_request_t req = {
                s_header, &h,         "203.0.113.9", body.data ? body.data : "",
                body.len, 1454514088, &inflated};
            hm_track_answer_t a;
            status = hm_track_decide (cfg, arena, &req, &a);
            /* Past the signature check, a required signature is right. */
            if (status != 401 && cfg->signature_required &&
                !hm_signature_ok (req.body, req.body_len, s_header (&h, HM_HEADER_TIME),
                                  cfg->shared_secret, s_header (&h, HM_HEADER_SIGNATURE)))
                s_fail ("signature", "a wrong signature passed");
            if (status == 200)
                s_check_accepted (cfg, &a);
            else if (status == 204) {
                if (!a.col || a.col->n_payloads)
                    s_fail ("204", "payloads not empty");
            }
            else if (status == 400 || status == 401 || status == 413 || status == 415 ||
                     status == 503)
                s_check_reason (status, a.reason);
            else
                s_fail ("track status", a.reason);
            hm_track_release (arena, &a);
            hm_buf_free (&inflated);
        }
        hm_buf_free (&body);
    }
    if (s_verbose)
        fprintf (stderr, "fuzz_request: %s %s: %u\n", method, url, status);
    for (size_t i = 0; i < h.n; i++)
        free (h.name[i]);
    free (first);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static hm_arena_t arena;
    static bool ready;
    if (!ready) {
        hm_arena_init (&arena, 64u << 10);
        s_verbose = getenv ("HM_FUZZ_VERBOSE") != NULL;
        ready = true;
    }
    if (size < 1)
        return 0;
    hm_config_t cfg;
    memset (&cfg, 0, sizeof cfg);
    cfg.shared_secret = S_SECRET;
    cfg.signature_required = data[0] & 1;
    cfg.masked_ip = data[0] & 2;
    cfg.max_body_bytes = data[0] & 4 ? 64 : 1u << 20;
    if (data[0] & 16) {
        char err[128];
        if (hm_cidr_parse ("203.0.113.0/24", &cfg.trusted_proxies[0], err, sizeof err) != 0)
            abort ();
        cfg.n_trusted_proxies = 1;
    }
    s_request (&cfg, &arena, data[0] & 8, data + 1, size - 1);
    return 0;
}
