/*  config_route: a route of the config (routes.NAME, or the one route of
    an original config's "dialect") and its sink's section. Only the
    section of the route's own sink may appear; the cloud sections are kept
    as JSON text for the sink program, which checks their values. */
#include "config_priv.h"
#include "wire.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_file_keys[] = {"file_path", "file_format", "compress", NULL};
static const char *const s_s3_keys[] = {
    "region", "endpoint",  "access_key_id", "secret_access_key", "session_token",
    "bucket", "blob_path", "file_format",   "addressing",        "part_size",
    NULL};
static const char *const s_sns_keys[] = {
    "region", "endpoint", "access_key_id", "secret_access_key", "session_token", "topic_arn", NULL};
static const char *const s_abs_keys[] = {"account",     "access_key", "container", "blob_path",
                                         "file_format", "endpoint",   "part_size", NULL};
static const char *const s_aqs_keys[] = {"account",  "access_key", "queue_name",
                                         "endpoint", "encoding",   NULL};

const char *const *
hm_cfg_section_keys (const char *sink)
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
s_format (hm_cfg_ctx_t *ctx, const cJSON *section, const char *path, hm_format_t *dst)
{
    char *fmt = NULL;
    if (hm_cfg_string (ctx, section, path, "file_format", &fmt) != 0)
        return -1;
    int rc = 0;
    if (!fmt || strcmp (fmt, "json") == 0)
        *dst = HM_FORMAT_JSON;
    else if (strcmp (fmt, "csv") == 0)
        *dst = HM_FORMAT_CSV;
    else {
        char key[256];
        hm_cfg_keypath (key, sizeof key, path, "file_format");
        rc = hm_cfg_fail (ctx, key, "must be \"json\" or \"csv\", not \"%s\"", fmt);
    }
    free (fmt);
    return rc;
}

/* Reads the section of route->sink from obj (the route object, or the
   top level of an original config). */
static int
s_sink_section (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path, hm_route_config_t *route)
{
    char key[256];
    hm_cfg_keypath (key, sizeof key, path, route->sink);
    const cJSON *section = hm_cfg_object (ctx, obj, path, route->sink);
    if (ctx->failed)
        return -1;
    if (!section)
        return hm_cfg_fail (ctx, key, "missing: the \"%s\" sink needs its section", route->sink);
    if (hm_cfg_known_keys (ctx, section, key, hm_cfg_section_keys (route->sink)) != 0)
        return -1;
    if (strcmp (route->sink, "file") == 0) {
        if (hm_cfg_string (ctx, section, key, "file_path", &route->file_path) != 0 ||
            hm_cfg_bool (ctx, section, key, "compress", &route->compress) != 0)
            return -1;
        if (!route->file_path || !*route->file_path) {
            char fkey[300];
            hm_cfg_keypath (fkey, sizeof fkey, key, "file_path");
            return hm_cfg_fail (ctx, fkey, "missing: the directory to write files to");
        }
    }
    if (cJSON_GetObjectItemCaseSensitive (section, "file_format") &&
        s_format (ctx, section, key, &route->format) != 0)
        return -1;
    route->section_json = cJSON_PrintUnformatted (section);
    return route->section_json ? 0 : hm_cfg_fail (ctx, key, "out of memory");
}

/* --- routes --------------------------------------------------------------- */

static bool
s_valid_route_name (const char *name)
{
    if (!*name || strlen (name) > 64)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum ((unsigned char)*p) && *p != '-' && *p != '_')
            return false;
    return true;
}

static int
s_env_value (hm_cfg_ctx_t *ctx, const cJSON *item, const char *key, int *dst)
{
    static const char *names[] = {"PRODUCTION",
                                  "GENERAL_AVAILABILITY",
                                  "RELEASE_TO_MARKETING",
                                  "RELEASE_CANDIDATE",
                                  "BETA",
                                  "ALPHA",
                                  "WEEKLY",
                                  "NIGHTLY",
                                  "STAGING",
                                  "QUALITY_ASSURANCE",
                                  "TESTING",
                                  "DEVELOPMENT"};
    if (cJSON_IsNumber (item) && item->valuedouble == floor (item->valuedouble) &&
        item->valuedouble >= 0 && item->valuedouble <= 11) {
        *dst = (int)item->valuedouble;
        return 0;
    }
    if (cJSON_IsString (item))
        for (int i = 0; i < 12; i++)
            if (strcmp (item->valuestring, names[i]) == 0) {
                *dst = i;
                return 0;
            }
    return hm_cfg_fail (ctx, key,
                        "must be an Environment name (e.g. \"PRODUCTION\") or number 0..11");
}

void
hm_cfg_route_init (hm_route_config_t *route, const hm_cfg_route_defaults_t *defaults)
{
    memset (route, 0, sizeof *route);
    route->max_events = defaults->max_events;
    route->max_bytes = 16u << 20;
    route->max_age_ms = defaults->max_age_ms;
    route->filter_env = -1;
    route->format = HM_FORMAT_JSON;
    route->instances = 1;
}

/* A sealed batch travels as one Delivery message, which must fit the
   wire's limit: its events (up to max_bytes) plus, per event, the tag and
   length the router puts in front (HM_WIRE_EVENT_FRAMING) plus the header.
   Without this a max_bytes near 1 GiB passed the check and every full
   batch was refused by the sink's socket. */
int
hm_cfg_route_fits_wire (hm_cfg_ctx_t *ctx, const hm_route_config_t *route, const char *key)
{
    uint64_t framing = (uint64_t)route->max_events * HM_WIRE_EVENT_FRAMING +
                       HM_WIRE_DELIVERY_HEADER + strlen (route->name);
    if (framing < HM_WIRE_MAX_MSG && route->max_bytes <= HM_WIRE_MAX_MSG - framing)
        return 0;
    return hm_cfg_fail (ctx, key,
                        "a batch must fit one %u MiB message: with max_events %" PRIu32
                        " max_bytes can be at most %" PRIu64,
                        HM_WIRE_MAX_MSG >> 20, route->max_events,
                        framing < HM_WIRE_MAX_MSG ? HM_WIRE_MAX_MSG - framing : 0);
}

int
hm_cfg_route (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *name, hm_route_config_t *route,
              const hm_cfg_route_defaults_t *defaults)
{
    static const char *const keys[] = {
        "sink",      "endpoint", "max_events", "max_bytes", "max_age", "filter", "dead_letter",
        "instances", "file",     "s3",         "sns",       "abs",     "aqs",    NULL};
    char path[128];
    snprintf (path, sizeof path, "routes.%s", name);
    hm_cfg_route_init (route, defaults);
    route->name = strdup (name);
    if (!route->name)
        return hm_cfg_fail (ctx, path, "out of memory");
    if (!s_valid_route_name (name))
        return hm_cfg_fail (ctx, path, "a route name is 1..64 of [A-Za-z0-9_-]");
    if (!cJSON_IsObject (obj))
        return hm_cfg_fail (ctx, path, "must be an object");
    if (hm_cfg_known_keys (ctx, obj, path, keys) != 0)
        return -1;
    char *sink = NULL;
    if (hm_cfg_string (ctx, obj, path, "sink", &sink) != 0)
        return -1;
    const char *kind = s_sink_name (sink);
    if (!kind) {
        char key[160];
        hm_cfg_keypath (key, sizeof key, path, "sink");
        hm_cfg_fail (ctx, key,
                     sink ? "unknown sink \"%s\" (file, s3, sns, abs, aqs)"
                          : "missing: which sink serves this route%s",
                     sink ? sink : "");
        free (sink);
        return -1;
    }
    route->sink = strdup (kind);
    free (sink);
    uint64_t v;
    if (hm_cfg_string (ctx, obj, path, "endpoint", &route->endpoint) != 0 ||
        hm_cfg_u32 (ctx, obj, path, "max_events", 1, 10000000, &route->max_events) != 0 ||
        hm_cfg_uint (ctx, obj, path, "max_bytes", 1024, 1ull << 30, &v) < 0 ||
        hm_cfg_seconds_ms (ctx, obj, path, "max_age", 1, &route->max_age_ms) != 0 ||
        hm_cfg_string (ctx, obj, path, "dead_letter", &route->dead_letter) != 0)
        return -1;
    if (cJSON_GetObjectItemCaseSensitive (obj, "max_bytes"))
        route->max_bytes = v;
    char key[160];
    hm_cfg_keypath (key, sizeof key, path, "max_bytes");
    if (hm_cfg_route_fits_wire (ctx, route, key) != 0 ||
        hm_cfg_u32 (ctx, obj, path, "instances", 1, HM_CONFIG_MAX_INSTANCES, &route->instances) !=
            0)
        return -1;
    const cJSON *filter = hm_cfg_object (ctx, obj, path, "filter");
    if (ctx->failed)
        return -1;
    if (filter) {
        static const char *const fkeys[] = {"event", "env", NULL};
        char fpath[160];
        hm_cfg_keypath (fpath, sizeof fpath, path, "filter");
        if (hm_cfg_known_keys (ctx, filter, fpath, fkeys) != 0 ||
            hm_cfg_string (ctx, filter, fpath, "event", &route->filter_event) != 0)
            return -1;
        const cJSON *env = cJSON_GetObjectItemCaseSensitive (filter, "env");
        char ekey[200];
        hm_cfg_keypath (ekey, sizeof ekey, fpath, "env");
        if (env && !cJSON_IsNull (env) && s_env_value (ctx, env, ekey, &route->filter_env) != 0)
            return -1;
    }
    /* Only the section of the route's own sink may appear. */
    static const char *const sections[] = {"file", "s3", "sns", "abs", "aqs", NULL};
    for (const char *const *s = sections; *s; s++)
        if (strcmp (*s, route->sink) != 0 && cJSON_GetObjectItemCaseSensitive (obj, *s)) {
            char key[160];
            hm_cfg_keypath (key, sizeof key, path, *s);
            return hm_cfg_fail (ctx, key, "this route's sink is \"%s\"", route->sink);
        }
    return s_sink_section (ctx, obj, path, route);
}

int
hm_cfg_legacy_route (hm_cfg_ctx_t *ctx, hm_config_t *self, const cJSON *root,
                     const hm_cfg_route_defaults_t *defaults)
{
    char *dialect = NULL;
    if (hm_cfg_string (ctx, root, "", "dialect", &dialect) != 0)
        return -1;
    for (char *p = dialect; p && *p; p++)
        *p = (char)tolower ((unsigned char)*p);
    const char *kind = s_sink_name (dialect);
    if (!kind) {
        hm_cfg_fail (ctx, "dialect", "unsupported dialect \"%s\" (file, s3, sns, abs, aqs)",
                     dialect ? dialect : "");
        free (dialect);
        return -1;
    }
    self->routes = calloc (1, sizeof *self->routes);
    if (!self->routes) {
        free (dialect);
        return hm_cfg_fail (ctx, "dialect", "out of memory");
    }
    self->route_count = 1;
    hm_route_config_t *route = &self->routes[0];
    hm_cfg_route_init (route, defaults);
    route->name = strdup (kind);
    route->sink = strdup (kind);
    free (dialect);
    if (!route->name || !route->sink)
        return hm_cfg_fail (ctx, "dialect", "out of memory");
    /* buffer_size is the original's only batch limit; max_bytes keeps its default. */
    if (hm_cfg_route_fits_wire (ctx, route, "buffer_size") != 0)
        return -1;
    /* The unused dialects' sections may hold placeholders, as the original's
       sample does: check their keys, use only the selected one. */
    static const char *const sections[] = {"file", "s3", "sns", "abs", "aqs", NULL};
    for (const char *const *s = sections; *s; s++) {
        const cJSON *section = hm_cfg_object (ctx, root, "", *s);
        if (ctx->failed)
            return -1;
        if (section && strcmp (*s, route->sink) != 0 &&
            hm_cfg_known_keys (ctx, section, *s, hm_cfg_section_keys (*s)) != 0)
            return -1;
    }
    return s_sink_section (ctx, root, "", route);
}

int
hm_config_route_arg (const char *arg, char *name, size_t name_cap, uint32_t *instance, char *errbuf,
                     size_t errlen)
{
    const char *colon = strchr (arg, ':');
    size_t len = colon ? (size_t)(colon - arg) : strlen (arg);
    *instance = 0;
    if (len >= name_cap || len == 0) {
        snprintf (errbuf, errlen, "--route %s: no route name before the instance", arg);
        if (len)
            snprintf (errbuf, errlen, "--route %s: route name too long", arg);
        return -1;
    }
    memcpy (name, arg, len);
    name[len] = '\0';
    if (!colon)
        return 0;
    /* Digits only: strtoul would take " 2", "+2" or "2abc". */
    const char *n = colon + 1;
    unsigned long v = 0;
    bool ok = *n != '\0' && strlen (n) <= 2;
    for (const char *p = n; ok && *p; p++) {
        ok = isdigit ((unsigned char)*p);
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (!ok || v < 1 || v > HM_CONFIG_MAX_INSTANCES) {
        snprintf (errbuf, errlen, "--route %s: the instance after ':' must be 1..%d", arg,
                  HM_CONFIG_MAX_INSTANCES);
        return -1;
    }
    *instance = (uint32_t)v;
    return 0;
}
