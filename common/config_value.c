/*  config_value: the typed readers of the config table (config_priv.h).
    Each reads one key of a JSON object, checks its type and range, and on
    a bad value records "FILE: KEY: REASON" in the context: the first
    error wins, so the message names the first thing a user must fix. */
#include "config_priv.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
hm_cfg_fail (hm_cfg_ctx_t *ctx, const char *key, const char *fmt, ...)
{
    if (ctx->failed++)
        return -1;
    char reason[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (reason, sizeof reason, fmt, ap);
    va_end (ap);
    snprintf (ctx->errbuf, ctx->errlen, "%s: %s: %s", ctx->origin, key, reason);
    if (ctx->on_error)
        ctx->on_error (ctx->on_error_arg, ctx->errbuf);
    return -1;
}

/* Checks that every key of obj is in the NULL-terminated list. */
int
hm_cfg_known_keys (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path, const char *const *keys)
{
    const cJSON *item;
    cJSON_ArrayForEach (item, obj)
    {
        bool known = false;
        for (const char *const *k = keys; *k && !known; k++)
            known = strcmp (*k, item->string) == 0;
        if (!known) {
            char key[256];
            snprintf (key, sizeof key, "%s%s%s", path, *path ? "." : "", item->string);
            return hm_cfg_fail (ctx, key, "unknown key");
        }
    }
    return 0;
}

/* Key paths are short; a cut one only shortens an error message. */
void
hm_cfg_keypath (char *out, size_t cap, const char *path, const char *name)
{
    if (snprintf (out, cap, "%s%s%s", path, *path ? "." : "", name) >= (int)cap)
        out[cap - 1] = '\0';
}

/* Reads an optional string; *dst keeps its value when the key is absent. */
int
hm_cfg_string (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path, const char *name, char **dst)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, name);
    if (!item || cJSON_IsNull (item))
        return 0;
    char key[256];
    hm_cfg_keypath (key, sizeof key, path, name);
    if (!cJSON_IsString (item))
        return hm_cfg_fail (ctx, key, "must be a string");
    char *copy = strdup (item->valuestring);
    if (!copy)
        return hm_cfg_fail (ctx, key, "out of memory");
    free (*dst);
    *dst = copy;
    return 0;
}

int
hm_cfg_bool (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path, const char *name, bool *dst)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, name);
    if (!item || cJSON_IsNull (item))
        return 0;
    if (!cJSON_IsBool (item)) {
        char key[256];
        hm_cfg_keypath (key, sizeof key, path, name);
        return hm_cfg_fail (ctx, key, "must be true or false");
    }
    *dst = cJSON_IsTrue (item);
    return 0;
}

/* Reads a whole number in [lo, hi]; returns 1 when present, 0 when absent. */
int
hm_cfg_uint (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path, const char *name, uint64_t lo,
             uint64_t hi, uint64_t *dst)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, name);
    if (!item || cJSON_IsNull (item))
        return 0;
    char key[256];
    hm_cfg_keypath (key, sizeof key, path, name);
    double v = item->valuedouble;
    if (!cJSON_IsNumber (item) || v != floor (v))
        return hm_cfg_fail (ctx, key, "must be a whole number");
    if (v < (double)lo || v > (double)hi)
        return hm_cfg_fail (ctx, key, "must be between %llu and %llu", (unsigned long long)lo,
                            (unsigned long long)hi);
    *dst = (uint64_t)v;
    return 1;
}

int
hm_cfg_u32 (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path, const char *name, uint64_t lo,
            uint64_t hi, uint32_t *dst)
{
    uint64_t v;
    int rc = hm_cfg_uint (ctx, obj, path, name, lo, hi, &v);
    if (rc == 1)
        *dst = (uint32_t)v;
    return rc < 0 ? -1 : 0;
}

/* Seconds, possibly fractional, to milliseconds. */
int
hm_cfg_seconds_ms (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path, const char *name,
                   double scale, uint32_t *dst_ms)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, name);
    if (!item || cJSON_IsNull (item))
        return 0;
    char key[256];
    hm_cfg_keypath (key, sizeof key, path, name);
    if (!cJSON_IsNumber (item) || item->valuedouble < 0 ||
        item->valuedouble * scale * 1000.0 > 86400.0 * 1000 * 7)
        return hm_cfg_fail (ctx, key, "must be a number of %s between 0 and 7 days",
                            scale == 60 ? "minutes" : "seconds");
    *dst_ms = (uint32_t)(item->valuedouble * scale * 1000.0 + 0.5);
    return 0;
}

const cJSON *
hm_cfg_object (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (obj, name);
    if (!item || cJSON_IsNull (item))
        return NULL;
    if (!cJSON_IsObject (item)) {
        char key[256];
        hm_cfg_keypath (key, sizeof key, path, name);
        hm_cfg_fail (ctx, key, "must be an object");
        return NULL;
    }
    return item;
}

char *
hm_cfg_strdupf (const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (NULL, 0, fmt, ap);
    va_end (ap);
    char *out = malloc ((size_t)n + 1);
    if (!out)
        return NULL;
    va_start (ap, fmt);
    vsnprintf (out, (size_t)n + 1, fmt, ap);
    va_end (ap);
    return out;
}
