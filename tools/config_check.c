/*  config_check: see config_check.h. */
#include "config_check.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob_backend.h"
#include "curve.h"
#include "file_backend.h"
#include "queue_backend.h"
#include "s3_backend.h"
#include "sns_backend.h"
#include "tls_pair.h"

typedef struct {
    hm_config_error_fn *fn; /* the caller's */
    void *arg;              /* its argument */
    size_t problems;        /* reported so far */
} s_check_t;

static void
s_report (void *arg, const char *line)
{
    s_check_t *check = arg;
    check->problems++;
    check->fn (check->arg, line);
}

static void
s_reportf (s_check_t *check, const char *origin, const char *key, const char *fmt,
           const char *value)
{
    char line[1024], reason[512];
    snprintf (reason, sizeof reason, fmt, value);
    snprintf (line, sizeof line, "%s: %s: %s", origin, key, reason);
    s_report (check, line);
}

/* The backend of a sink kind: the programs' main.c pick the same. */
static const hm_sink_backend_t *
s_backend (const char *kind)
{
    const hm_sink_backend_t *all[] = {&hm_file_backend, &hm_s3_backend, &hm_sns_backend,
                                      &hm_blob_backend, &hm_queue_backend};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp (all[i]->kind, kind) == 0)
            return all[i];
    return NULL;
}

/* What zmq_bind / zmq_connect would take between processes: ipc://PATH
   or tcp://HOST:PORT (HOST may be * for a bind). */
static bool
s_endpoint_ok (const char *endpoint)
{
    if (strncmp (endpoint, "ipc://", 6) == 0)
        return endpoint[6] != '\0' && strlen (endpoint + 6) < 108; /* sun_path */
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return false;
    const char *colon = strrchr (endpoint + 6, ':');
    if (!colon || colon == endpoint + 6 || colon[1] == '\0')
        return false;
    unsigned long port = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9' || port > 65535)
            return false;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    return port >= 1 && port <= 65535;
}

static void
s_check_endpoint (s_check_t *check, const hm_config_t *cfg, const char *key, const char *endpoint)
{
    if (!s_endpoint_ok (endpoint))
        s_reportf (check, cfg->path, key,
                   "\"%s\" is not an endpoint between processes (ipc://PATH or tcp://HOST:PORT)",
                   endpoint);
}

/* The route's endpoint; and (backend_too: the host runs its sinks) its
   backend's init, which is its whole check: it reads the section, the
   credentials (from the section or the environment) and the endpoint,
   and opens nothing. */
static void
s_check_route (s_check_t *check, const hm_config_t *cfg, const hm_route_config_t *route,
               bool backend_too)
{
    char key[160];
    snprintf (key, sizeof key, "routes.%s.endpoint", route->name);
    s_check_endpoint (check, cfg, key, route->endpoint);
    if (!backend_too)
        return;
    const hm_sink_backend_t *backend = s_backend (route->sink);
    if (!backend) {
        snprintf (key, sizeof key, "routes.%s.sink", route->name);
        s_reportf (check, cfg->path, key, "no sink program serves \"%s\"", route->sink);
        return;
    }
    char errbuf[1024] = "";
    void *state = backend->init (cfg, route, errbuf, sizeof errbuf);
    if (state) {
        backend->destroy (&state);
        return;
    }
    /* The cloud backends' reasons already say "FILE: KEY: REASON". */
    size_t len = strlen (cfg->path);
    if (strncmp (errbuf, cfg->path, len) == 0 && strncmp (errbuf + len, ": ", 2) == 0)
        s_report (check, errbuf);
    else {
        snprintf (key, sizeof key, "routes.%s", route->name);
        s_reportf (check, cfg->path, key, "%s", *errbuf ? errbuf : "the sink cannot start");
    }
}

hm_config_t *
hm_config_check_all (const char *path, hm_role_t role, hm_config_error_fn *fn, void *arg,
                     size_t *problems)
{
    s_check_t check = {fn, arg, 0};
    hm_config_t *cfg = hm_config_check (path, s_report, &check);
    if (cfg) {
        char errbuf[1024];
        if (role == HM_ROLE_UNSET)
            role = cfg->role;
        /* What this host does not run is not checked: a sink host has no
           router secret and no TLS files, an edge no sink credentials. */
        bool edge = role != HM_ROLE_SINKS, sinks = role != HM_ROLE_EDGE;
        /* The router needs the server pair, every other program a client pair. */
        if (edge && hm_curve_check (cfg, true, errbuf, sizeof errbuf) != 0)
            s_report (&check, errbuf);
        if (hm_curve_check (cfg, false, errbuf, sizeof errbuf) != 0)
            s_report (&check, errbuf);
        /* The ingest's TLS files, checked as the ingest does at start. */
        if (edge && hm_tls_check (cfg, errbuf, sizeof errbuf) != 0)
            s_report (&check, errbuf);
        if (edge) {
            s_check_endpoint (&check, cfg, "router.endpoint", cfg->router_endpoint);
            s_check_endpoint (&check, cfg, "router.tap", cfg->tap_endpoint);
            s_check_endpoint (&check, cfg, "router.inject", cfg->inject_endpoint);
            s_check_endpoint (&check, cfg, "router.control", cfg->control_endpoint);
            if (cfg->tap_json_endpoint) /* off unless set */
                s_check_endpoint (&check, cfg, "router.tap_json", cfg->tap_json_endpoint);
        }
        for (size_t i = 0; i < cfg->route_count; i++)
            s_check_route (&check, cfg, &cfg->routes[i], sinks);
    }
    if (check.problems)
        hm_config_destroy (&cfg);
    *problems = check.problems;
    return cfg;
}
