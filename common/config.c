/*  config: see config.h. The file is a table of known keys; each key has a
    type and a place where its value lands. Anything else is an error that
    names the file, the key path and the reason, because a silently ignored
    typo in a collector's config is how events go to the wrong place. */
#include "config_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define HM_CONFIG_MAX_FILE (4u << 20) /* a config larger than this is surely a mistake */
#define HM_CONFIG_MAX_ROUTES 64

bool
hm_config_label_ok (const char *s, size_t len)
{
    if (!s || len == 0 || len > HM_CONFIG_LABEL_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == ':' || ch == '-'))
            return false;
    }
    return true;
}

/* --- the whole file --------------------------------------------------------- */

/* ingest.tls_cert and ingest.tls_key: both or neither ("" is neither).
   Only the paths here: the files are read and checked by tls_pair.c when
   the ingest starts (and by check-config), not by every program. */
static int
s_ingest_tls (hm_cfg_ctx_t *ctx, hm_config_t *self, const cJSON *obj)
{
    if (hm_cfg_string (ctx, obj, "ingest", "tls_cert", &self->tls_cert) != 0 ||
        hm_cfg_string (ctx, obj, "ingest", "tls_key", &self->tls_key) != 0)
        return -1;
    char **paths[] = {&self->tls_cert, &self->tls_key};
    for (size_t i = 0; i < 2; i++)
        if (*paths[i] && !**paths[i]) {
            free (*paths[i]);
            *paths[i] = NULL;
        }
    if (self->tls_cert && !self->tls_key)
        return hm_cfg_fail (ctx, "ingest.tls_key", "missing: ingest.tls_cert is given");
    if (self->tls_key && !self->tls_cert)
        return hm_cfg_fail (ctx, "ingest.tls_cert", "missing: ingest.tls_key is given");
    return 0;
}

/* The ingest's defences against slow clients and its lingering read after
   an early answer (ingest/police.c). */
static int
s_ingest_police (hm_cfg_ctx_t *ctx, hm_config_t *self, const cJSON *obj)
{
    if (hm_cfg_u32 (ctx, obj, "ingest", "header_timeout", 1, 3600, &self->header_timeout_s) != 0 ||
        hm_cfg_u32 (ctx, obj, "ingest", "body_timeout", 1, 3600, &self->body_timeout_s) != 0 ||
        hm_cfg_u32 (ctx, obj, "ingest", "body_min_rate", 0, 1000000000, &self->body_min_rate) !=
            0 ||
        hm_cfg_u32 (ctx, obj, "ingest", "linger_timeout", 0, 3600, &self->linger_timeout_s) != 0 ||
        hm_cfg_uint (ctx, obj, "ingest", "linger_max_bytes", 0, 1ull << 40,
                     &self->linger_max_bytes) < 0)
        return -1;
    return 0;
}

static int
s_ingest (hm_cfg_ctx_t *ctx, hm_config_t *self, const cJSON *obj)
{
    static const char *const keys[] = {
        "host", "port", "max_body_bytes", "threads", "max_connections", "connection_timeout",
        "router_timeout_ms", "retry_after", "tls_cert", "tls_key",
        /* slow clients, early answers (ingest/police.c) */
        "header_timeout", "body_timeout", "body_min_rate", "linger_timeout", "linger_max_bytes",
        /* its label in the router's metrics */
        "name", NULL};
    uint64_t port = self->port;
    if (hm_cfg_known_keys (ctx, obj, "ingest", keys) != 0 ||
        hm_cfg_string (ctx, obj, "ingest", "host", &self->host) != 0 ||
        hm_cfg_uint (ctx, obj, "ingest", "port", 1, 65535, &port) < 0 ||
        hm_cfg_uint (ctx, obj, "ingest", "max_body_bytes", 1024, 1ull << 30,
                     &self->max_body_bytes) < 0 ||
        hm_cfg_u32 (ctx, obj, "ingest", "threads", 1, 64, &self->ingest_threads) != 0 ||
        hm_cfg_u32 (ctx, obj, "ingest", "max_connections", 1, 1000000, &self->max_connections) !=
            0 ||
        hm_cfg_u32 (ctx, obj, "ingest", "connection_timeout", 1, 3600,
                    &self->connection_timeout_s) != 0 ||
        hm_cfg_u32 (ctx, obj, "ingest", "router_timeout_ms", 10, 600000,
                    &self->router_timeout_ms) != 0 ||
        hm_cfg_u32 (ctx, obj, "ingest", "retry_after", 0, 3600, &self->retry_after_s) != 0 ||
        s_ingest_tls (ctx, self, obj) != 0 || s_ingest_police (ctx, self, obj) != 0 ||
        hm_cfg_string (ctx, obj, "ingest", "name", &self->ingest_name) != 0)
        return -1;
    if (self->ingest_name && !hm_config_label_ok (self->ingest_name, strlen (self->ingest_name)))
        return hm_cfg_fail (ctx, "ingest.name",
                            "must be 1 to %d letters, digits or \"._:-\" (it becomes the "
                            "ingest_instance label of the router's metrics)",
                            HM_CONFIG_LABEL_MAX);
    self->port = (uint16_t)port;
    return 0;
}

static int
s_router (hm_cfg_ctx_t *ctx, hm_config_t *self, const cJSON *obj)
{
    static const char *const keys[] = {"run_dir",
                                       "data_dir",
                                       "endpoint",
                                       "tap",
                                       "inject",
                                       "tap_json",
                                       "control",
                                       "durability",
                                       "max_log_bytes",
                                       "segment_bytes",
                                       "heartbeat_ms",
                                       "sink_timeout_ms",
                                       "cpu_latency_us",
                                       "metrics_listen",
                                       NULL};
    char *durability = NULL;
    if (hm_cfg_known_keys (ctx, obj, "router", keys) != 0 ||
        hm_cfg_string (ctx, obj, "router", "run_dir", &self->run_dir) != 0 ||
        hm_cfg_string (ctx, obj, "router", "data_dir", &self->data_dir) != 0 ||
        hm_cfg_string (ctx, obj, "router", "endpoint", &self->router_endpoint) != 0 ||
        hm_cfg_string (ctx, obj, "router", "tap", &self->tap_endpoint) != 0 ||
        hm_cfg_string (ctx, obj, "router", "inject", &self->inject_endpoint) != 0 ||
        hm_cfg_string (ctx, obj, "router", "tap_json", &self->tap_json_endpoint) != 0 ||
        hm_cfg_string (ctx, obj, "router", "control", &self->control_endpoint) != 0 ||
        hm_cfg_string (ctx, obj, "router", "metrics_listen", &self->metrics_listen) != 0 ||
        hm_cfg_string (ctx, obj, "router", "durability", &durability) != 0 ||
        hm_cfg_uint (ctx, obj, "router", "max_log_bytes", 1u << 20, 1ull << 50,
                     &self->max_log_bytes) < 0 ||
        hm_cfg_uint (ctx, obj, "router", "segment_bytes", 64u << 10, 1ull << 32,
                     &self->segment_bytes) < 0 ||
        hm_cfg_u32 (ctx, obj, "router", "heartbeat_ms", 10, 60000, &self->heartbeat_ms) != 0 ||
        hm_cfg_u32 (ctx, obj, "router", "sink_timeout_ms", 50, 600000, &self->sink_timeout_ms) !=
            0 ||
        hm_cfg_u32 (ctx, obj, "router", "cpu_latency_us", 0, 1000000, &self->cpu_latency_us) != 0) {
        free (durability);
        return -1;
    }
    int rc = 0;
    /* "host:port" with a port 1..65535, or "" (no metrics); the router
       resolves the host when it starts. */
    const char *colon = self->metrics_listen ? strrchr (self->metrics_listen, ':') : NULL;
    if (self->metrics_listen && *self->metrics_listen) {
        char *end = NULL;
        unsigned long port = colon && colon[1] ? strtoul (colon + 1, &end, 10) : 0;
        if (!colon || colon == self->metrics_listen || !end || *end || port < 1 || port > 65535)
            rc = hm_cfg_fail (ctx, "router.metrics_listen",
                              "must be \"host:port\" (or \"\" for none), not \"%s\"",
                              self->metrics_listen);
    }
    if (durability) {
        if (strcmp (durability, "fsync") == 0)
            self->durability = HM_DURABILITY_FSYNC;
        else if (strcmp (durability, "write") == 0)
            self->durability = HM_DURABILITY_WRITE;
        else
            rc = hm_cfg_fail (ctx, "router.durability",
                              "must be \"fsync\" or \"write\", not \"%s\"", durability);
    }
    free (durability);
    return rc;
}

static int
s_sink (hm_cfg_ctx_t *ctx, hm_config_t *self, const cJSON *obj)
{
    static const char *const keys[] = {"credit", "retry_min_ms", "retry_max_ms", NULL};
    if (hm_cfg_known_keys (ctx, obj, "sink", keys) != 0 ||
        hm_cfg_u32 (ctx, obj, "sink", "credit", 1, 1024, &self->sink_credit) != 0 ||
        hm_cfg_u32 (ctx, obj, "sink", "retry_min_ms", 1, 600000, &self->retry_min_ms) != 0 ||
        hm_cfg_u32 (ctx, obj, "sink", "retry_max_ms", 1, 3600000, &self->retry_max_ms) != 0)
        return -1;
    if (self->retry_max_ms < self->retry_min_ms)
        return hm_cfg_fail (ctx, "sink.retry_max_ms", "must not be below retry_min_ms");
    return 0;
}

static void
s_defaults (hm_config_t *self)
{
    self->signature_required = true;
    self->host = strdup ("127.0.0.1");
    self->port = 8080;
    self->max_body_bytes = 1u << 20;
    self->ingest_threads = 1;
    self->max_connections = 1024;
    self->connection_timeout_s = 30;
    self->router_timeout_ms = 5000;
    self->retry_after_s = 1;
    self->header_timeout_s = 10;
    self->body_timeout_s = 10;
    self->body_min_rate = 500;
    self->linger_timeout_s = 30;
    self->linger_max_bytes = 64ull << 20;
    self->run_dir = strdup ("var/run");
    self->data_dir = strdup ("var/data");
    self->metrics_listen = strdup ("127.0.0.1:9464");
    self->durability = HM_DURABILITY_FSYNC;
    self->max_log_bytes = 1ull << 30;
    self->segment_bytes = 64u << 20;
    self->heartbeat_ms = 1000;
    self->sink_timeout_ms = 5000;
    self->cpu_latency_us = HM_CPU_LATENCY_OFF;
    self->sink_credit = 2;
    self->retry_min_ms = 100;
    self->retry_max_ms = 30000;
}

/* Fills endpoints and paths not given, and applies the environment. */
static int
s_finish (hm_cfg_ctx_t *ctx, hm_config_t *self)
{
    const char *host = getenv ("HAMUSTRO_HOST");
    const char *port = getenv ("HAMUSTRO_PORT");
    if (host && *host) {
        free (self->host);
        /* The original's default host "localhost" meant every interface. */
        self->host = strdup (strcmp (host, "localhost") == 0 ? "0.0.0.0" : host);
    }
    if (port && *port) {
        char *end;
        errno = 0;
        unsigned long p = strtoul (port, &end, 10);
        if (errno || *end || p < 1 || p > 65535) {
            snprintf (ctx->errbuf, ctx->errlen, "environment: HAMUSTRO_PORT: \"%s\" is not a port",
                      port);
            ctx->failed++;
            return -1;
        }
        self->port = (uint16_t)p;
    }
    if (!self->router_endpoint)
        self->router_endpoint = hm_cfg_strdupf ("ipc://%s/router.ipc", self->run_dir);
    if (!self->tap_endpoint)
        self->tap_endpoint = hm_cfg_strdupf ("ipc://%s/tap.ipc", self->run_dir);
    if (!self->inject_endpoint)
        self->inject_endpoint = hm_cfg_strdupf ("ipc://%s/inject.ipc", self->run_dir);
    if (!self->control_endpoint)
        self->control_endpoint = hm_cfg_strdupf ("ipc://%s/control.ipc", self->run_dir);
    if (self->tap_json_endpoint && !*self->tap_json_endpoint) { /* "" is off, as absent */
        free (self->tap_json_endpoint);
        self->tap_json_endpoint = NULL;
    }
    for (size_t i = 0; i < self->route_count; i++) {
        hm_route_config_t *route = &self->routes[i];
        if (!route->endpoint)
            route->endpoint = hm_cfg_strdupf ("ipc://%s/route-%s.ipc", self->run_dir, route->name);
        if (!route->dead_letter)
            route->dead_letter =
                hm_cfg_strdupf ("%s/dead-letter/%s.jsonl", self->data_dir, route->name);
        if (!route->endpoint || !route->dead_letter)
            return hm_cfg_fail (ctx, "routes", "out of memory");
        for (size_t j = 0; j < i; j++)
            if (strcmp (self->routes[j].endpoint, route->endpoint) == 0) {
                char key[128];
                snprintf (key, sizeof key, "routes.%s.endpoint", route->name);
                return hm_cfg_fail (ctx, key, "same endpoint as route \"%s\"",
                                    self->routes[j].name);
            }
    }
    if (!self->host || !self->router_endpoint || !self->tap_endpoint || !self->inject_endpoint ||
        !self->control_endpoint || !self->metrics_listen)
        return hm_cfg_fail (ctx, "(config)", "out of memory");
    return 0;
}

/* "trusted_proxies": a list of CIDR blocks (or bare addresses). */
static int
s_parse_trusted_proxies (hm_cfg_ctx_t *ctx, hm_config_t *self, const cJSON *root)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive (root, "trusted_proxies");
    if (!list || cJSON_IsNull (list))
        return 0;
    if (!cJSON_IsArray (list))
        return hm_cfg_fail (ctx, "trusted_proxies",
                            "must be a list of CIDR blocks, e.g. [\"10.0.0.0/8\"]");
    int n = cJSON_GetArraySize (list);
    if (n > HM_TRUSTED_PROXIES_MAX)
        return hm_cfg_fail (ctx, "trusted_proxies", "%d blocks, at most %d", n,
                            HM_TRUSTED_PROXIES_MAX);
    const cJSON *item;
    size_t i = 0;
    cJSON_ArrayForEach (item, list)
    {
        char key[64], why[256];
        snprintf (key, sizeof key, "trusted_proxies[%zu]", i);
        if (!cJSON_IsString (item))
            return hm_cfg_fail (ctx, key, "must be a string such as \"10.0.0.0/8\"");
        if (hm_cidr_parse (item->valuestring, &self->trusted_proxies[i], why, sizeof why) != 0)
            return hm_cfg_fail (ctx, key, "%s", why);
        i++;
    }
    self->n_trusted_proxies = i;
    return 0;
}

int
hm_role_parse (const char *text, hm_role_t *role)
{
    static const struct {
        const char *name; /* the config's word */
        hm_role_t role;   /* what it means */
    } roles[] = {{"all", HM_ROLE_ALL}, {"edge", HM_ROLE_EDGE}, {"sinks", HM_ROLE_SINKS}};
    for (size_t i = 0; text && i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp (roles[i].name, text) == 0) {
            *role = roles[i].role;
            return 0;
        }
    return -1;
}

const char *
hm_role_name (hm_role_t role)
{
    return role == HM_ROLE_EDGE ? "edge" : role == HM_ROLE_SINKS ? "sinks" : "all";
}

/* Everything but the routes; *defaults gets what the top level gives them. */
static int
s_parse_globals (hm_cfg_ctx_t *ctx, hm_config_t *self, const cJSON *root,
                 hm_cfg_route_defaults_t *defaults)
{
    static const char *const keys[] = {
        "shared_secret", "signature", "max_clock_skew_s", "maintenance_key", "maintance_key",
        "masked_ip", "trusted_proxies", "logfile", "role", "ingest", "router", "sink", "routes",
        "curve",
        /* the original's keys */
        "dialect", "file", "s3", "sns", "abs", "aqs", "buffer_size", "auto_flush_interval",
        "flush_timeout", "max_worker_size", "max_queue_size", "retry_attempt", "spread_buffer_size",
        NULL};
    /* Set before any return: a check of the whole config goes on to the
       routes after a problem here. */
    *defaults = (hm_cfg_route_defaults_t){.max_events = 10000, .max_age_ms = 60000};
    if (hm_cfg_known_keys (ctx, root, "", keys) != 0)
        return -1;

    char *signature = NULL, *role = NULL;
    if (hm_cfg_string (ctx, root, "", "role", &role) != 0)
        return -1;
    self->role = HM_ROLE_ALL;
    if (role && hm_role_parse (role, &self->role) != 0) {
        hm_cfg_fail (ctx, "role", "must be \"all\", \"edge\" or \"sinks\", not \"%s\"", role);
        free (role);
        return -1;
    }
    free (role);
    if (hm_cfg_string (ctx, root, "", "shared_secret", &self->shared_secret) != 0 ||
        hm_cfg_string (ctx, root, "", "signature", &signature) != 0 ||
        /* Beside signature: it is how old a signed request may be. Up to a
           day; 0 (the default) keeps the original's behaviour. */
        hm_cfg_u32 (ctx, root, "", "max_clock_skew_s", 0, 86400, &self->max_clock_skew_s) != 0 ||
        hm_cfg_string (ctx, root, "", "maintance_key", &self->maintenance_key) != 0 ||
        hm_cfg_string (ctx, root, "", "maintenance_key", &self->maintenance_key) != 0 ||
        hm_cfg_bool (ctx, root, "", "masked_ip", &self->masked_ip) != 0 ||
        hm_cfg_string (ctx, root, "", "logfile", &self->logfile) != 0) {
        free (signature);
        return -1;
    }
    if (s_parse_trusted_proxies (ctx, self, root) != 0) {
        free (signature);
        return -1;
    }
    if (signature && strcmp (signature, "optional") == 0)
        self->signature_required = false;
    else if (signature && strcmp (signature, "required") != 0) {
        hm_cfg_fail (ctx, "signature", "must be \"required\" or \"optional\", not \"%s\"",
                     signature);
        free (signature);
        return -1;
    }
    free (signature);
    if (!self->shared_secret || !*self->shared_secret)
        return hm_cfg_fail (ctx, "shared_secret", "missing: clients sign with it");
    if (self->maintenance_key && !*self->maintenance_key) {
        free (self->maintenance_key);
        self->maintenance_key = NULL;
    }
    if (self->logfile && !*self->logfile) {
        free (self->logfile);
        self->logfile = NULL;
    }

    /* The original's tuning keys. buffer_size and auto_flush_interval keep
       their meaning (a batch's size and age); max_worker_size becomes the
       sink's credit (uploads in flight); the rest described queues and
       retry counts that the durable log makes unnecessary: accepted, unused. */
    uint64_t v;
    uint32_t age_ms = 0;
    bool unused_bool = false;
    if (hm_cfg_uint (ctx, root, "", "buffer_size", 1, 10000000, &v) < 0)
        return -1;
    if (cJSON_GetObjectItemCaseSensitive (root, "buffer_size"))
        defaults->max_events = (uint32_t)v;
    if (hm_cfg_seconds_ms (ctx, root, "", "flush_timeout", 1, &age_ms) != 0)
        return -1;
    if (age_ms)
        defaults->max_age_ms = age_ms;
    age_ms = 0;
    if (hm_cfg_seconds_ms (ctx, root, "", "auto_flush_interval", 60, &age_ms) != 0)
        return -1;
    if (age_ms)
        defaults->max_age_ms = age_ms;
    if (hm_cfg_uint (ctx, root, "", "max_worker_size", 1, 1024, &v) < 0)
        return -1;
    if (cJSON_GetObjectItemCaseSensitive (root, "max_worker_size"))
        self->sink_credit = (uint32_t)v;
    if (hm_cfg_uint (ctx, root, "", "max_queue_size", 0, 100000000, &v) < 0 ||
        hm_cfg_uint (ctx, root, "", "retry_attempt", 0, 1000000, &v) < 0 ||
        hm_cfg_bool (ctx, root, "", "spread_buffer_size", &unused_bool) != 0)
        return -1;

    const cJSON *section;
    if ((section = hm_cfg_object (ctx, root, "", "ingest")) && s_ingest (ctx, self, section) != 0)
        return -1;
    if ((section = hm_cfg_object (ctx, root, "", "router")) && s_router (ctx, self, section) != 0)
        return -1;
    if ((section = hm_cfg_object (ctx, root, "", "sink")) && s_sink (ctx, self, section) != 0)
        return -1;
    if ((section = hm_cfg_object (ctx, root, "", "curve")) &&
        hm_cfg_curve (ctx, self, section) != 0)
        return -1;
    return ctx->failed ? -1 : 0;
}

/* The routes, or the one route of an original config. A check (an error
   callback) reads every route even after one failed, so that it can
   report each route's first problem. */
static int
s_parse_routes (hm_cfg_ctx_t *ctx, hm_config_t *self, const cJSON *root,
                const hm_cfg_route_defaults_t *defaults)
{
    const cJSON *routes = hm_cfg_object (ctx, root, "", "routes");
    bool legacy = cJSON_GetObjectItemCaseSensitive (root, "dialect") != NULL;
    if (ctx->failed)
        return -1;
    if (routes && legacy)
        return hm_cfg_fail (ctx, "dialect",
                            "use either \"dialect\" (one route) or \"routes\", not both");
    if (legacy)
        return hm_cfg_legacy_route (ctx, self, root, defaults);
    if (!routes || !cJSON_GetArraySize (routes))
        return hm_cfg_fail (ctx, "routes",
                            "missing: at least one route (or an original \"dialect\")");
    static const char *const sections[] = {"file", "s3", "sns", "abs", "aqs", NULL};
    for (const char *const *s = sections; *s; s++)
        if (cJSON_GetObjectItemCaseSensitive (root, *s))
            return hm_cfg_fail (ctx, *s,
                                "a sink section at the top level needs \"dialect\"; "
                                "with \"routes\" put it inside a route");
    int n = cJSON_GetArraySize (routes);
    if (n > HM_CONFIG_MAX_ROUTES)
        return hm_cfg_fail (ctx, "routes", "at most %d routes", HM_CONFIG_MAX_ROUTES);
    self->routes = calloc ((size_t)n, sizeof *self->routes);
    if (!self->routes)
        return hm_cfg_fail (ctx, "routes", "out of memory");
    const cJSON *item;
    int failed = 0;
    cJSON_ArrayForEach (item, routes)
    {
        hm_route_config_t *route = &self->routes[self->route_count++];
        if (ctx->on_error)
            ctx->failed = 0; /* this route's first error is reported too */
        if (hm_cfg_route (ctx, item, item->string, route, defaults) != 0) {
            if (!ctx->on_error)
                return -1;
            failed++;
        }
    }
    ctx->failed = failed;
    return failed ? -1 : 0;
}

static int
s_parse_root (hm_cfg_ctx_t *ctx, hm_config_t *self, const cJSON *root)
{
    if (!cJSON_IsObject (root))
        return hm_cfg_fail (ctx, "(top level)", "must be a JSON object");
    hm_cfg_route_defaults_t defaults;
    int failed = s_parse_globals (ctx, self, root, &defaults) != 0;
    if (failed && !ctx->on_error)
        return -1;
    /* A check goes on to the routes after the first config-level error. */
    int before = ctx->failed;
    ctx->failed = 0;
    failed |= s_parse_routes (ctx, self, root, &defaults) != 0;
    ctx->failed += before;
    return failed ? -1 : 0;
}

static hm_config_t *
s_parse (const char *json, const char *origin, char *errbuf, size_t errlen,
         hm_config_error_fn *on_error, void *arg)
{
    hm_cfg_ctx_t ctx = {origin, errbuf, errlen, 0, on_error, arg};
    hm_config_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (errbuf, errlen, "%s: out of memory", origin);
        return NULL;
    }
    s_defaults (self);
    self->path = strdup (origin);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts (json, &end, true);
    if (!root) {
        /* Name the line of the syntax error: that is what a user can fix. */
        int line = 1;
        for (const char *p = json; end && p < end && *p; p++)
            line += *p == '\n';
        snprintf (errbuf, errlen, "%s: (syntax): not valid JSON near line %d", origin, line);
        hm_config_destroy (&self);
        return NULL;
    }
    int rc = s_parse_root (&ctx, self, root);
    cJSON_Delete (root);
    if (rc == 0 && !ctx.failed)
        rc = s_finish (&ctx, self);
    if (rc != 0 || ctx.failed) {
        hm_config_destroy (&self);
        return NULL;
    }
    return self;
}

hm_config_t *
hm_config_parse (const char *json, const char *origin, char *errbuf, size_t errlen)
{
    return s_parse (json, origin, errbuf, errlen, NULL, NULL);
}

static hm_config_t *
s_load (const char *path, char *errbuf, size_t errlen, hm_config_error_fn *on_error, void *arg)
{
    if (!path || !*path)
        path = getenv ("HAMUSTRO_CONFIG");
    if (!path || !*path)
        return s_parse (hm_config_default_json, "(embedded default)", errbuf, errlen, on_error,
                        arg);
    FILE *f = fopen (path, "rb");
    if (!f) {
        snprintf (errbuf, errlen, "%s: (file): cannot open: %s", path, strerror (errno));
        return NULL;
    }
    char *text = malloc (HM_CONFIG_MAX_FILE + 1);
    size_t n = text ? fread (text, 1, HM_CONFIG_MAX_FILE + 1, f) : 0;
    int err = ferror (f);
    fclose (f);
    if (!text || err || n > HM_CONFIG_MAX_FILE) {
        snprintf (errbuf, errlen, "%s: (file): %s", path,
                  !text ? "out of memory"
                  : err ? "read error"
                        : "larger than 4 MiB");
        free (text);
        return NULL;
    }
    text[n] = '\0';
    if (strlen (text) != n) {
        snprintf (errbuf, errlen, "%s: (file): contains a NUL byte", path);
        free (text);
        return NULL;
    }
    hm_config_t *self = s_parse (text, path, errbuf, errlen, on_error, arg);
    free (text);
    return self;
}

hm_config_t *
hm_config_load (const char *path, char *errbuf, size_t errlen)
{
    return s_load (path, errbuf, errlen, NULL, NULL);
}

typedef struct {
    hm_config_error_fn *fn; /* the caller's */
    void *arg;              /* its argument */
    size_t reported;        /* errors passed on */
} s_check_t;

static void
s_check_error (void *arg, const char *line)
{
    s_check_t *check = arg;
    check->reported++;
    check->fn (check->arg, line);
}

hm_config_t *
hm_config_check (const char *path, hm_config_error_fn *fn, void *arg)
{
    char errbuf[1024] = "";
    s_check_t check = {fn, arg, 0};
    hm_config_t *self = s_load (path, errbuf, sizeof errbuf, s_check_error, &check);
    /* Errors of the file itself, its syntax and the environment are not
       from the key table: pass those on here. */
    if (!self && !check.reported)
        fn (arg, *errbuf ? errbuf : "(config): cannot be loaded");
    return self;
}

void
hm_config_destroy (hm_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hm_config_t *self = *self_p;
    for (size_t i = 0; i < self->route_count; i++) {
        hm_route_config_t *r = &self->routes[i];
        free (r->name);
        free (r->sink);
        free (r->endpoint);
        free (r->filter_event);
        free (r->dead_letter);
        free (r->file_path);
        free (r->section_json);
    }
    free (self->routes);
    free (self->path);
    free (self->shared_secret);
    free (self->maintenance_key);
    free (self->logfile);
    free (self->host);
    free (self->ingest_name);
    free (self->tls_cert);
    free (self->tls_key);
    free (self->run_dir);
    free (self->router_endpoint);
    free (self->tap_endpoint);
    free (self->inject_endpoint);
    free (self->tap_json_endpoint);
    free (self->control_endpoint);
    free (self->metrics_listen);
    free (self->data_dir);
    free (self->curve_server_public);
    free (self->curve_server_secret);
    free (self->curve_client_public);
    free (self->curve_client_secret);
    for (size_t i = 0; i < self->curve_allowed_count; i++)
        free (self->curve_allowed[i]);
    free (self->curve_allowed);
    free (self);
    *self_p = NULL;
}

const hm_route_config_t *
hm_config_route (const hm_config_t *self, const char *name)
{
    for (size_t i = 0; i < self->route_count; i++)
        if (strcmp (self->routes[i].name, name) == 0)
            return &self->routes[i];
    return NULL;
}
