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

/* The start every typed reader shares: 1 with *item when the key is there
   and is() takes it, 0 when it is absent or null (the reader keeps its
   default), -1 with reason recorded when it has another type. key gets
   the item's path, for the reader's own reasons. */
static int
s_typed (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path, const char *name,
         cJSON_bool (*is) (const cJSON *), const char *reason, char *key, size_t key_cap,
         const cJSON **item)
{
    *item = cJSON_GetObjectItemCaseSensitive (obj, name);
    if (!*item || cJSON_IsNull (*item))
        return 0;
    hm_cfg_keypath (key, key_cap, path, name);
    return is (*item) ? 1 : hm_cfg_fail (ctx, key, "%s", reason);
}

/* Reads an optional string; *dst keeps its value when the key is absent. */
int
hm_cfg_string (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path, const char *name, char **dst)
{
    char key[256];
    const cJSON *item;
    int rc =
        s_typed (ctx, obj, path, name, cJSON_IsString, "must be a string", key, sizeof key, &item);
    if (rc <= 0)
        return rc;
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
    char key[256];
    const cJSON *item;
    int rc = s_typed (ctx, obj, path, name, cJSON_IsBool, "must be true or false", key, sizeof key,
                      &item);
    if (rc <= 0)
        return rc;
    *dst = cJSON_IsTrue (item);
    return 0;
}

/* Reads a whole number in [lo, hi]; returns 1 when present, 0 when absent. */
int
hm_cfg_uint (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path, const char *name, uint64_t lo,
             uint64_t hi, uint64_t *dst)
{
    static const char whole[] = "must be a whole number";
    char key[256];
    const cJSON *item;
    int rc = s_typed (ctx, obj, path, name, cJSON_IsNumber, whole, key, sizeof key, &item);
    if (rc <= 0)
        return rc;
    double v = item->valuedouble;
    if (v != floor (v))
        return hm_cfg_fail (ctx, key, "%s", whole);
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
    char why[64], key[256];
    snprintf (why, sizeof why, "must be a number of %s between 0 and 7 days",
              scale == 60 ? "minutes" : "seconds");
    const cJSON *item;
    int rc = s_typed (ctx, obj, path, name, cJSON_IsNumber, why, key, sizeof key, &item);
    if (rc <= 0)
        return rc;
    if (item->valuedouble < 0 || item->valuedouble * scale * 1000.0 > 86400.0 * 1000 * 7)
        return hm_cfg_fail (ctx, key, "%s", why);
    *dst_ms = (uint32_t)(item->valuedouble * scale * 1000.0 + 0.5);
    return 0;
}

const cJSON *
hm_cfg_object (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path, const char *name)
{
    char key[256];
    const cJSON *item;
    int rc =
        s_typed (ctx, obj, path, name, cJSON_IsObject, "must be an object", key, sizeof key, &item);
    return rc == 1 ? item : NULL;
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
