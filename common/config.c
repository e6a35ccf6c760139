/*  config: see config.h. The file is a table of known keys; each key has a
    type and a place where its value lands. Anything else is an error that
    names the file, the key path and the reason, because a silently ignored
    typo in a collector's config is how events go to the wrong place. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <zmq.h>

#define HM_CONFIG_MAX_FILE (4u << 20) /* a config larger than this is surely a mistake */
#define HM_CONFIG_MAX_ROUTES 64

typedef struct {
    const char *origin; /* file name for errors */
    char *errbuf;       /* where the reason goes */
    size_t errlen;      /* its size */
    int failed;         /* first error wins */
} s_ctx_t;

static int
s_fail (s_ctx_t *ctx, const char *key, const char *fmt, ...)
{
    if (ctx->failed++)
        return -1;
    char reason[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (reason, sizeof reason, fmt, ap);
    va_end (ap);
    snprintf (ctx->errbuf, ctx->errlen, "%s: %s: %s", ctx->origin, key, reason);
    return -1;
}

/* Checks that every key of obj is in the NULL-terminated list. */
static int
s_known_keys (s_ctx_t *ctx, const cJSON *obj, const char *path, const char *const *keys)
{
    const cJSON *item;
    cJSON_ArrayForEach (item, obj) {
        bool known = false;
        for (const char *const *k = keys; *k && !known; k++)
            known = strcmp (*k, item->string) == 0;
        if (!known) {
            char key[256];
            snprintf (key, sizeof key, "%s%s%s", path, *path ? "." : "", item->string);
            return s_fail (ctx, key, "unknown key");
        }
    }
    return 0;
}

/* Key paths are short; a cut one only shortens an error message. */
static void
s_keypath (char *out, size_t cap, const char *path, const char *name)
{
    if (snprintf (out, cap, "%s%s%s", path, *path ? "." : "", name) >= (int) cap)
        out[cap - 1] = '\0';
}

/* Reads an optional string; *dst keeps its value when the key is absent. */
static int
s_string (s_ctx_t *ctx, const cJSON *obj, const char *path, const char *name, char **dst)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, name);
    if (!item || cJSON_IsNull (item))
        return 0;
    char key[256];
    s_keypath (key, sizeof key, path, name);
    if (!cJSON_IsString (item))
        return s_fail (ctx, key, "must be a string");
    char *copy = strdup (item->valuestring);
    if (!copy)
        return s_fail (ctx, key, "out of memory");
    free (*dst);
    *dst = copy;
    return 0;
}

static int
s_bool (s_ctx_t *ctx, const cJSON *obj, const char *path, const char *name, bool *dst)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, name);
    if (!item || cJSON_IsNull (item))
        return 0;
    if (!cJSON_IsBool (item)) {
        char key[256];
        s_keypath (key, sizeof key, path, name);
        return s_fail (ctx, key, "must be true or false");
    }
    *dst = cJSON_IsTrue (item);
    return 0;
}

/* Reads a whole number in [lo, hi]; returns 1 when present, 0 when absent. */
static int
s_uint (s_ctx_t *ctx, const cJSON *obj, const char *path, const char *name, uint64_t lo,
        uint64_t hi, uint64_t *dst)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, name);
    if (!item || cJSON_IsNull (item))
        return 0;
    char key[256];
    s_keypath (key, sizeof key, path, name);
    double v = item->valuedouble;
    if (!cJSON_IsNumber (item) || v != floor (v))
        return s_fail (ctx, key, "must be a whole number");
    if (v < (double) lo || v > (double) hi)
        return s_fail (ctx, key, "must be between %llu and %llu", (unsigned long long) lo,
                       (unsigned long long) hi);
    *dst = (uint64_t) v;
    return 1;
}

static int
s_u32 (s_ctx_t *ctx, const cJSON *obj, const char *path, const char *name, uint64_t lo,
       uint64_t hi, uint32_t *dst)
{
    uint64_t v;
    int rc = s_uint (ctx, obj, path, name, lo, hi, &v);
    if (rc == 1)
        *dst = (uint32_t) v;
    return rc < 0 ? -1 : 0;
}

/* Seconds, possibly fractional, to milliseconds. */
static int
s_seconds_ms (s_ctx_t *ctx, const cJSON *obj, const char *path, const char *name, double scale,
              uint32_t *dst_ms)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, name);
    if (!item || cJSON_IsNull (item))
        return 0;
    char key[256];
    s_keypath (key, sizeof key, path, name);
    if (!cJSON_IsNumber (item) || item->valuedouble < 0
        || item->valuedouble * scale * 1000.0 > 86400.0 * 1000 * 7)
        return s_fail (ctx, key, "must be a number of %s between 0 and 7 days",
                       scale == 60 ? "minutes" : "seconds");
    *dst_ms = (uint32_t) (item->valuedouble * scale * 1000.0 + 0.5);
    return 0;
}

static const cJSON *
s_object (s_ctx_t *ctx, const cJSON *obj, const char *path, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, name);
    if (!item || cJSON_IsNull (item))
        return NULL;
    if (!cJSON_IsObject (item)) {
        char key[256];
        s_keypath (key, sizeof key, path, name);
        s_fail (ctx, key, "must be an object");
        return NULL;
    }
    return item;
}

static char *
s_strdupf (const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (NULL, 0, fmt, ap);
    va_end (ap);
    char *out = malloc ((size_t) n + 1);
    if (!out)
        return NULL;
    va_start (ap, fmt);
    vsnprintf (out, (size_t) n + 1, fmt, ap);
    va_end (ap);
    return out;
}

/* --- sink sections -------------------------------------------------------- */

static const char *const s_file_keys[] = {"file_path", "file_format", "compress", NULL};
static const char *const s_s3_keys[] = {"region",   "endpoint",    "access_key_id",
                                        "secret_access_key", "session_token", "bucket",
                                        "blob_path", "file_format", "addressing",
                                        "part_size", NULL};
static const char *const s_sns_keys[] = {"region",        "endpoint",  "access_key_id",
                                         "secret_access_key", "session_token", "topic_arn",
                                         NULL};
static const char *const s_abs_keys[] = {"account",   "access_key",  "container", "blob_path",
                                         "file_format", "endpoint", "part_size", NULL};
static const char *const s_aqs_keys[] = {"account",  "access_key", "queue_name",
                                         "endpoint", "encoding",   NULL};

static const char *const *
s_section_keys (const char *sink)
{
    if (strcmp (sink, "file") == 0)
        return s_file_keys;
    if (strcmp (sink, "s3") == 0)
        return s_s3_keys;
    if (strcmp (sink, "sns") == 0)
        return s_sns_keys;
    if (strcmp (sink, "abs") == 0)
        return s_abs_keys;
    if (strcmp (sink, "aqs") == 0)
        return s_aqs_keys;
    return NULL;
}

/* The sink kinds by their original dialect names; blob/queue are aliases
   named after our executables. */
static const char *
s_sink_name (const char *name)
{
    static const char *const kinds[] = {"file", "s3", "sns", "abs", "aqs", NULL};
    if (!name)
        return NULL;
    if (strcmp (name, "blob") == 0)
        return "abs";
    if (strcmp (name, "queue") == 0)
        return "aqs";
    /* A static string: callers free the name they passed in. */
    for (const char *const *k = kinds; *k; k++)
        if (strcmp (name, *k) == 0)
            return *k;
    return NULL;
}

static int
s_format (s_ctx_t *ctx, const cJSON *section, const char *path, hm_format_t *dst)
{
    char *fmt = NULL;
    if (s_string (ctx, section, path, "file_format", &fmt) != 0)
        return -1;
    int rc = 0;
    if (!fmt || strcmp (fmt, "json") == 0)
        *dst = HM_FORMAT_JSON;
    else if (strcmp (fmt, "csv") == 0)
        *dst = HM_FORMAT_CSV;
    else {
        char key[256];
        s_keypath (key, sizeof key, path, "file_format");
        rc = s_fail (ctx, key, "must be \"json\" or \"csv\", not \"%s\"", fmt);
    }
    free (fmt);
    return rc;
}

/* Reads the section of route->sink from obj (the route object, or the
   top level of an original config). */
static int
s_sink_section (s_ctx_t *ctx, const cJSON *obj, const char *path, hm_route_config_t *route)
{
    char key[256];
    s_keypath (key, sizeof key, path, route->sink);
    const cJSON *section = s_object (ctx, obj, path, route->sink);
    if (ctx->failed)
        return -1;
    if (!section)
        return s_fail (ctx, key, "missing: the \"%s\" sink needs its section", route->sink);
    if (s_known_keys (ctx, section, key, s_section_keys (route->sink)) != 0)
        return -1;
    if (strcmp (route->sink, "file") == 0) {
        if (s_string (ctx, section, key, "file_path", &route->file_path) != 0
            || s_bool (ctx, section, key, "compress", &route->compress) != 0)
            return -1;
        if (!route->file_path || !*route->file_path) {
            char fkey[300];
            s_keypath (fkey, sizeof fkey, key, "file_path");
            return s_fail (ctx, fkey, "missing: the directory to write files to");
        }
    }
    if (cJSON_GetObjectItemCaseSensitive (section, "file_format")
        && s_format (ctx, section, key, &route->format) != 0)
        return -1;
    route->section_json = cJSON_PrintUnformatted (section);
    return route->section_json ? 0 : s_fail (ctx, key, "out of memory");
}

/* --- routes --------------------------------------------------------------- */

static bool
s_valid_route_name (const char *name)
{
    if (!*name || strlen (name) > 64)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum ((unsigned char) *p) && *p != '-' && *p != '_')
            return false;
    return true;
}

static int
s_env_value (s_ctx_t *ctx, const cJSON *item, const char *key, int *dst)
{
    static const char *names[] = {"PRODUCTION", "GENERAL_AVAILABILITY", "RELEASE_TO_MARKETING",
                                  "RELEASE_CANDIDATE", "BETA", "ALPHA", "WEEKLY", "NIGHTLY",
                                  "STAGING", "QUALITY_ASSURANCE", "TESTING", "DEVELOPMENT"};
    if (cJSON_IsNumber (item) && item->valuedouble == floor (item->valuedouble)
        && item->valuedouble >= 0 && item->valuedouble <= 11) {
        *dst = (int) item->valuedouble;
        return 0;
    }
    if (cJSON_IsString (item))
        for (int i = 0; i < 12; i++)
            if (strcmp (item->valuestring, names[i]) == 0) {
                *dst = i;
                return 0;
            }
    return s_fail (ctx, key, "must be an Environment name (e.g. \"PRODUCTION\") or number 0..11");
}

typedef struct {
    uint32_t max_events; /* buffer_size of an original config */
    uint32_t max_age_ms; /* auto_flush_interval of an original config */
} s_route_defaults_t;

static void
s_route_init (hm_route_config_t *route, const s_route_defaults_t *defaults)
{
    memset (route, 0, sizeof *route);
    route->max_events = defaults->max_events;
    route->max_bytes = 16u << 20;
    route->max_age_ms = defaults->max_age_ms;
    route->filter_env = -1;
    route->format = HM_FORMAT_JSON;
}

static int
s_route (s_ctx_t *ctx, const cJSON *obj, const char *name, hm_route_config_t *route,
         const s_route_defaults_t *defaults)
{
    static const char *const keys[] = {"sink",   "endpoint", "max_events", "max_bytes",
                                       "max_age", "filter",  "dead_letter", "file",
                                       "s3",     "sns",      "abs",        "aqs",
                                       NULL};
    char path[128];
    snprintf (path, sizeof path, "routes.%s", name);
    s_route_init (route, defaults);
    route->name = strdup (name);
    if (!route->name)
        return s_fail (ctx, path, "out of memory");
    if (!s_valid_route_name (name))
        return s_fail (ctx, path, "a route name is 1..64 of [A-Za-z0-9_-]");
    if (!cJSON_IsObject (obj))
        return s_fail (ctx, path, "must be an object");
    if (s_known_keys (ctx, obj, path, keys) != 0)
        return -1;
    char *sink = NULL;
    if (s_string (ctx, obj, path, "sink", &sink) != 0)
        return -1;
    const char *kind = s_sink_name (sink);
    if (!kind) {
        char key[160];
        s_keypath (key, sizeof key, path, "sink");
        s_fail (ctx, key, sink ? "unknown sink \"%s\" (file, s3, sns, abs, aqs)"
                               : "missing: which sink serves this route%s",
                sink ? sink : "");
        free (sink);
        return -1;
    }
    route->sink = strdup (kind);
    free (sink);
    uint64_t v;
    if (s_string (ctx, obj, path, "endpoint", &route->endpoint) != 0
        || s_u32 (ctx, obj, path, "max_events", 1, 10000000, &route->max_events) != 0
        || s_uint (ctx, obj, path, "max_bytes", 1024, 1ull << 30, &v) < 0
        || s_seconds_ms (ctx, obj, path, "max_age", 1, &route->max_age_ms) != 0
        || s_string (ctx, obj, path, "dead_letter", &route->dead_letter) != 0)
        return -1;
    if (cJSON_GetObjectItemCaseSensitive (obj, "max_bytes"))
        route->max_bytes = v;
    const cJSON *filter = s_object (ctx, obj, path, "filter");
    if (ctx->failed)
        return -1;
    if (filter) {
        static const char *const fkeys[] = {"event", "env", NULL};
        char fpath[160];
        s_keypath (fpath, sizeof fpath, path, "filter");
        if (s_known_keys (ctx, filter, fpath, fkeys) != 0
            || s_string (ctx, filter, fpath, "event", &route->filter_event) != 0)
            return -1;
        const cJSON *env = cJSON_GetObjectItemCaseSensitive (filter, "env");
        char ekey[200];
        s_keypath (ekey, sizeof ekey, fpath, "env");
        if (env && !cJSON_IsNull (env) && s_env_value (ctx, env, ekey, &route->filter_env) != 0)
            return -1;
    }
    /* Only the section of the route's own sink may appear. */
    static const char *const sections[] = {"file", "s3", "sns", "abs", "aqs", NULL};
    for (const char *const *s = sections; *s; s++)
        if (strcmp (*s, route->sink) != 0 && cJSON_GetObjectItemCaseSensitive (obj, *s)) {
            char key[160];
            s_keypath (key, sizeof key, path, *s);
            return s_fail (ctx, key, "this route's sink is \"%s\"", route->sink);
        }
    return s_sink_section (ctx, obj, path, route);
}

/* --- the whole file --------------------------------------------------------- */

static int
s_ingest (s_ctx_t *ctx, hm_config_t *self, const cJSON *obj)
{
    static const char *const keys[] = {"host", "port", "max_body_bytes", "threads",
                                       "max_connections", "connection_timeout",
                                       "router_timeout_ms", "retry_after", NULL};
    uint64_t port = self->port;
    if (s_known_keys (ctx, obj, "ingest", keys) != 0
        || s_string (ctx, obj, "ingest", "host", &self->host) != 0
        || s_uint (ctx, obj, "ingest", "port", 1, 65535, &port) < 0
        || s_uint (ctx, obj, "ingest", "max_body_bytes", 1024, 1ull << 30, &self->max_body_bytes) < 0
        || s_u32 (ctx, obj, "ingest", "threads", 1, 64, &self->ingest_threads) != 0
        || s_u32 (ctx, obj, "ingest", "max_connections", 1, 1000000, &self->max_connections) != 0
        || s_u32 (ctx, obj, "ingest", "connection_timeout", 1, 3600, &self->connection_timeout_s) != 0
        || s_u32 (ctx, obj, "ingest", "router_timeout_ms", 10, 600000, &self->router_timeout_ms) != 0
        || s_u32 (ctx, obj, "ingest", "retry_after", 0, 3600, &self->retry_after_s) != 0)
        return -1;
    self->port = (uint16_t) port;
    return 0;
}

static int
s_router (s_ctx_t *ctx, hm_config_t *self, const cJSON *obj)
{
    static const char *const keys[] = {"run_dir", "data_dir", "endpoint", "tap", "inject",
                                       "control", "durability", "max_log_bytes", "segment_bytes",
                                       "heartbeat_ms", "sink_timeout_ms", "cpu_latency_us", NULL};
    char *durability = NULL;
    if (s_known_keys (ctx, obj, "router", keys) != 0
        || s_string (ctx, obj, "router", "run_dir", &self->run_dir) != 0
        || s_string (ctx, obj, "router", "data_dir", &self->data_dir) != 0
        || s_string (ctx, obj, "router", "endpoint", &self->router_endpoint) != 0
        || s_string (ctx, obj, "router", "tap", &self->tap_endpoint) != 0
        || s_string (ctx, obj, "router", "inject", &self->inject_endpoint) != 0
        || s_string (ctx, obj, "router", "control", &self->control_endpoint) != 0
        || s_string (ctx, obj, "router", "durability", &durability) != 0
        || s_uint (ctx, obj, "router", "max_log_bytes", 1u << 20, 1ull << 50, &self->max_log_bytes) < 0
        || s_uint (ctx, obj, "router", "segment_bytes", 64u << 10, 1ull << 32, &self->segment_bytes) < 0
        || s_u32 (ctx, obj, "router", "heartbeat_ms", 10, 60000, &self->heartbeat_ms) != 0
        || s_u32 (ctx, obj, "router", "sink_timeout_ms", 50, 600000, &self->sink_timeout_ms) != 0
        || s_u32 (ctx, obj, "router", "cpu_latency_us", 0, 1000000, &self->cpu_latency_us) != 0) {
        free (durability);
        return -1;
    }
    int rc = 0;
    if (durability) {
        if (strcmp (durability, "fsync") == 0)
            self->durability = HM_DURABILITY_FSYNC;
        else if (strcmp (durability, "write") == 0)
            self->durability = HM_DURABILITY_WRITE;
        else
            rc = s_fail (ctx, "router.durability", "must be \"fsync\" or \"write\", not \"%s\"",
                         durability);
    }
    free (durability);
    return rc;
}

static int
s_sink (s_ctx_t *ctx, hm_config_t *self, const cJSON *obj)
{
    static const char *const keys[] = {"credit", "retry_min_ms", "retry_max_ms", NULL};
    if (s_known_keys (ctx, obj, "sink", keys) != 0
        || s_u32 (ctx, obj, "sink", "credit", 1, 1024, &self->sink_credit) != 0
        || s_u32 (ctx, obj, "sink", "retry_min_ms", 1, 600000, &self->retry_min_ms) != 0
        || s_u32 (ctx, obj, "sink", "retry_max_ms", 1, 3600000, &self->retry_max_ms) != 0)
        return -1;
    if (self->retry_max_ms < self->retry_min_ms)
        return s_fail (ctx, "sink.retry_max_ms", "must not be below retry_min_ms");
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
    self->run_dir = strdup ("var/run");
    self->data_dir = strdup ("var/data");
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
s_finish (s_ctx_t *ctx, hm_config_t *self)
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
        self->port = (uint16_t) p;
    }
    if (!self->router_endpoint)
        self->router_endpoint = s_strdupf ("ipc://%s/router.ipc", self->run_dir);
    if (!self->tap_endpoint)
        self->tap_endpoint = s_strdupf ("ipc://%s/tap.ipc", self->run_dir);
    if (!self->inject_endpoint)
        self->inject_endpoint = s_strdupf ("ipc://%s/inject.ipc", self->run_dir);
    if (!self->control_endpoint)
        self->control_endpoint = s_strdupf ("ipc://%s/control.ipc", self->run_dir);
    for (size_t i = 0; i < self->route_count; i++) {
        hm_route_config_t *route = &self->routes[i];
        if (!route->endpoint)
            route->endpoint = s_strdupf ("ipc://%s/route-%s.ipc", self->run_dir, route->name);
        if (!route->dead_letter)
            route->dead_letter = s_strdupf ("%s/dead-letter/%s.jsonl", self->data_dir, route->name);
        if (!route->endpoint || !route->dead_letter)
            return s_fail (ctx, "routes", "out of memory");
        for (size_t j = 0; j < i; j++)
            if (strcmp (self->routes[j].endpoint, route->endpoint) == 0) {
                char key[128];
                snprintf (key, sizeof key, "routes.%s.endpoint", route->name);
                return s_fail (ctx, key, "same endpoint as route \"%s\"", self->routes[j].name);
            }
    }
    if (!self->host || !self->router_endpoint || !self->tap_endpoint || !self->inject_endpoint
        || !self->control_endpoint)
        return s_fail (ctx, "(config)", "out of memory");
    return 0;
}

/* An original Hamustro config: "dialect" plus its section, one route. */
static int
s_legacy_route (s_ctx_t *ctx, hm_config_t *self, const cJSON *root,
                const s_route_defaults_t *defaults)
{
    char *dialect = NULL;
    if (s_string (ctx, root, "", "dialect", &dialect) != 0)
        return -1;
    for (char *p = dialect; p && *p; p++)
        *p = (char) tolower ((unsigned char) *p);
    const char *kind = s_sink_name (dialect);
    if (!kind) {
        s_fail (ctx, "dialect", "unsupported dialect \"%s\" (file, s3, sns, abs, aqs)",
                dialect ? dialect : "");
        free (dialect);
        return -1;
    }
    self->routes = calloc (1, sizeof *self->routes);
    if (!self->routes) {
        free (dialect);
        return s_fail (ctx, "dialect", "out of memory");
    }
    self->route_count = 1;
    hm_route_config_t *route = &self->routes[0];
    s_route_init (route, defaults);
    route->name = strdup (kind);
    route->sink = strdup (kind);
    free (dialect);
    if (!route->name || !route->sink)
        return s_fail (ctx, "dialect", "out of memory");
    /* The unused dialects' sections may hold placeholders, as the original's
       sample does: check their keys, use only the selected one. */
    static const char *const sections[] = {"file", "s3", "sns", "abs", "aqs", NULL};
    for (const char *const *s = sections; *s; s++) {
        const cJSON *section = s_object (ctx, root, "", *s);
        if (ctx->failed)
            return -1;
        if (section && strcmp (*s, route->sink) != 0
            && s_known_keys (ctx, section, *s, s_section_keys (*s)) != 0)
            return -1;
    }
    return s_sink_section (ctx, root, "", route);
}

/* --- curve ---------------------------------------------------------------- */

#define S_CURVE_MAX_CLIENTS 1024

/* A Z85 CurveZMQ key: 40 characters that decode to 32 bytes. */
static int
s_curve_key (s_ctx_t *ctx, const char *key, const char *text, uint8_t out[32])
{
    if (strlen (text) != 40 || !zmq_z85_decode (out, text))
        return s_fail (ctx, key, "not a CurveZMQ key (40 characters of Z85 text; "
                                 "hamustro-ctl keygen makes a pair)");
    return 0;
}

/* Reads a key pair of the section: a secret needs its public key, and
   must be that key's secret. */
static int
s_curve_pair (s_ctx_t *ctx, const cJSON *obj, const char *public_name, const char *secret_name,
              char **public_key, char **secret_key)
{
    char pk[64], sk[64];
    s_keypath (pk, sizeof pk, "curve", public_name);
    s_keypath (sk, sizeof sk, "curve", secret_name);
    if (s_string (ctx, obj, "curve", public_name, public_key) != 0
        || s_string (ctx, obj, "curve", secret_name, secret_key) != 0)
        return -1;
    uint8_t bin[32];
    if (*public_key && s_curve_key (ctx, pk, *public_key, bin) != 0)
        return -1;
    if (!*secret_key)
        return 0;
    char derived[41];
    if (!*public_key)
        return s_fail (ctx, pk, "missing: %s is given", sk);
    if (s_curve_key (ctx, sk, *secret_key, bin) != 0)
        return -1;
    if (zmq_curve_public (derived, *secret_key) != 0 || strcmp (derived, *public_key) != 0)
        return s_fail (ctx, sk, "is not the secret key of %s", pk);
    return 0;
}

static int
s_curve (s_ctx_t *ctx, hm_config_t *self, const cJSON *obj)
{
    static const char *const keys[] = {"server_public_key", "server_secret_key",
                                       "client_public_key", "client_secret_key",
                                       "allowed_clients", NULL};
    if (s_known_keys (ctx, obj, "curve", keys) != 0)
        return -1;
    if (!zmq_has ("curve"))
        return s_fail (ctx, "curve", "this libzmq was built without CurveZMQ");
    if (s_curve_pair (ctx, obj, "server_public_key", "server_secret_key",
                      &self->curve_server_public, &self->curve_server_secret) != 0
        || s_curve_pair (ctx, obj, "client_public_key", "client_secret_key",
                         &self->curve_client_public, &self->curve_client_secret) != 0)
        return -1;
    if (!self->curve_server_public)
        return s_fail (ctx, "curve.server_public_key", "missing: every program needs it");
    if (self->curve_client_public && !self->curve_client_secret)
        return s_fail (ctx, "curve.client_secret_key",
                       "missing: curve.client_public_key is given");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive (obj, "allowed_clients");
    if (!list || cJSON_IsNull (list))
        return 0;
    int n = cJSON_GetArraySize (list);
    if (!cJSON_IsArray (list) || n > S_CURVE_MAX_CLIENTS)
        return s_fail (ctx, "curve.allowed_clients",
                       "must be a list of at most %d client public keys", S_CURVE_MAX_CLIENTS);
    self->curve_allowed = calloc ((size_t) n + 1, sizeof *self->curve_allowed);
    if (!self->curve_allowed)
        return s_fail (ctx, "curve.allowed_clients", "out of memory");
    const cJSON *item;
    cJSON_ArrayForEach (item, list) {
        char key[64];
        uint8_t bin[32];
        snprintf (key, sizeof key, "curve.allowed_clients[%zu]", self->curve_allowed_count);
        if (!cJSON_IsString (item))
            return s_fail (ctx, key, "must be a string");
        if (s_curve_key (ctx, key, item->valuestring, bin) != 0)
            return -1;
        if (!(self->curve_allowed[self->curve_allowed_count++] = strdup (item->valuestring)))
            return s_fail (ctx, key, "out of memory");
    }
    return 0;
}

static int
s_parse_root (s_ctx_t *ctx, hm_config_t *self, const cJSON *root)
{
    static const char *const keys[] = {
        "shared_secret", "signature", "maintenance_key", "maintance_key", "masked_ip",
        "logfile", "ingest", "router", "sink", "routes", "curve",
        /* the original's keys */
        "dialect", "file", "s3", "sns", "abs", "aqs", "buffer_size", "auto_flush_interval",
        "flush_timeout", "max_worker_size", "max_queue_size", "retry_attempt",
        "spread_buffer_size", NULL};
    if (!cJSON_IsObject (root))
        return s_fail (ctx, "(top level)", "must be a JSON object");
    if (s_known_keys (ctx, root, "", keys) != 0)
        return -1;

    char *signature = NULL;
    if (s_string (ctx, root, "", "shared_secret", &self->shared_secret) != 0
        || s_string (ctx, root, "", "signature", &signature) != 0
        || s_string (ctx, root, "", "maintance_key", &self->maintenance_key) != 0
        || s_string (ctx, root, "", "maintenance_key", &self->maintenance_key) != 0
        || s_bool (ctx, root, "", "masked_ip", &self->masked_ip) != 0
        || s_string (ctx, root, "", "logfile", &self->logfile) != 0) {
        free (signature);
        return -1;
    }
    if (signature && strcmp (signature, "optional") == 0)
        self->signature_required = false;
    else if (signature && strcmp (signature, "required") != 0) {
        s_fail (ctx, "signature", "must be \"required\" or \"optional\", not \"%s\"", signature);
        free (signature);
        return -1;
    }
    free (signature);
    if (!self->shared_secret || !*self->shared_secret)
        return s_fail (ctx, "shared_secret", "missing: clients sign with it");
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
    s_route_defaults_t defaults = {.max_events = 10000, .max_age_ms = 60000};
    uint64_t v;
    uint32_t age_ms = 0;
    bool unused_bool = false;
    if (s_uint (ctx, root, "", "buffer_size", 1, 10000000, &v) < 0)
        return -1;
    if (cJSON_GetObjectItemCaseSensitive (root, "buffer_size"))
        defaults.max_events = (uint32_t) v;
    if (s_seconds_ms (ctx, root, "", "flush_timeout", 1, &age_ms) != 0)
        return -1;
    if (age_ms)
        defaults.max_age_ms = age_ms;
    age_ms = 0;
    if (s_seconds_ms (ctx, root, "", "auto_flush_interval", 60, &age_ms) != 0)
        return -1;
    if (age_ms)
        defaults.max_age_ms = age_ms;
    if (s_uint (ctx, root, "", "max_worker_size", 1, 1024, &v) < 0)
        return -1;
    if (cJSON_GetObjectItemCaseSensitive (root, "max_worker_size"))
        self->sink_credit = (uint32_t) v;
    if (s_uint (ctx, root, "", "max_queue_size", 0, 100000000, &v) < 0
        || s_uint (ctx, root, "", "retry_attempt", 0, 1000000, &v) < 0
        || s_bool (ctx, root, "", "spread_buffer_size", &unused_bool) != 0)
        return -1;

    const cJSON *section;
    if ((section = s_object (ctx, root, "", "ingest")) && s_ingest (ctx, self, section) != 0)
        return -1;
    if ((section = s_object (ctx, root, "", "router")) && s_router (ctx, self, section) != 0)
        return -1;
    if ((section = s_object (ctx, root, "", "sink")) && s_sink (ctx, self, section) != 0)
        return -1;
    if ((section = s_object (ctx, root, "", "curve")) && s_curve (ctx, self, section) != 0)
        return -1;
    if (ctx->failed)
        return -1;

    const cJSON *routes = s_object (ctx, root, "", "routes");
    bool legacy = cJSON_GetObjectItemCaseSensitive (root, "dialect") != NULL;
    if (ctx->failed)
        return -1;
    if (routes && legacy)
        return s_fail (ctx, "dialect", "use either \"dialect\" (one route) or \"routes\", not both");
    if (legacy)
        return s_legacy_route (ctx, self, root, &defaults);
    if (!routes || !cJSON_GetArraySize (routes))
        return s_fail (ctx, "routes", "missing: at least one route (or an original \"dialect\")");
    static const char *const sections[] = {"file", "s3", "sns", "abs", "aqs", NULL};
    for (const char *const *s = sections; *s; s++)
        if (cJSON_GetObjectItemCaseSensitive (root, *s))
            return s_fail (ctx, *s, "a sink section at the top level needs \"dialect\"; "
                                    "with \"routes\" put it inside a route");
    int n = cJSON_GetArraySize (routes);
    if (n > HM_CONFIG_MAX_ROUTES)
        return s_fail (ctx, "routes", "at most %d routes", HM_CONFIG_MAX_ROUTES);
    self->routes = calloc ((size_t) n, sizeof *self->routes);
    if (!self->routes)
        return s_fail (ctx, "routes", "out of memory");
    const cJSON *item;
    cJSON_ArrayForEach (item, routes) {
        hm_route_config_t *route = &self->routes[self->route_count++];
        if (s_route (ctx, item, item->string, route, &defaults) != 0)
            return -1;
    }
    return 0;
}

hm_config_t *
hm_config_parse (const char *json, const char *origin, char *errbuf, size_t errlen)
{
    s_ctx_t ctx = {origin, errbuf, errlen, 0};
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
hm_config_load (const char *path, char *errbuf, size_t errlen)
{
    if (!path || !*path)
        path = getenv ("HAMUSTRO_CONFIG");
    if (!path || !*path)
        return hm_config_parse (hm_config_default_json, "(embedded default)", errbuf, errlen);
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
                  !text ? "out of memory" : err ? "read error" : "larger than 4 MiB");
        free (text);
        return NULL;
    }
    text[n] = '\0';
    if (strlen (text) != n) {
        snprintf (errbuf, errlen, "%s: (file): contains a NUL byte", path);
        free (text);
        return NULL;
    }
    hm_config_t *self = hm_config_parse (text, path, errbuf, errlen);
    free (text);
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
    free (self->run_dir);
    free (self->router_endpoint);
    free (self->tap_endpoint);
    free (self->inject_endpoint);
    free (self->control_endpoint);
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
