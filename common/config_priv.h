/*  config_priv: what the modules of the config reader share (config.c the
    whole file, config_route.c routes and sink sections, config_curve.c the
    curve section, config_value.c the typed readers). Not for programs:
    they use config.h. */
#ifndef HM_CONFIG_PRIV_H
#define HM_CONFIG_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"

typedef struct {
    const char *origin;           /* file name for errors */
    char *errbuf;                 /* where the reason goes */
    size_t errlen;                /* its size */
    int failed;                   /* first error wins (within a route, for a check) */
    hm_config_error_fn *on_error; /* a check: every recorded error goes here too, else NULL */
    void *on_error_arg;           /* its argument */
} hm_cfg_ctx_t;

/* Records "ORIGIN: KEY: REASON" unless an error is already recorded; -1. */
int hm_cfg_fail (hm_cfg_ctx_t *ctx, const char *key, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
/* Checks that every key of obj is in the NULL-terminated list. */
int hm_cfg_known_keys (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path,
                       const char *const *keys);
/* path.name into out (cut to cap). */
void hm_cfg_keypath (char *out, size_t cap, const char *path, const char *name);

/* The readers: an absent or null key leaves *dst alone. 0 or -1. */
int hm_cfg_string (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path, const char *name,
                   char **dst);
int hm_cfg_bool (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path, const char *name,
                 bool *dst);
/* A whole number in [lo, hi]: 1 when present, 0 when absent, -1 bad. */
int hm_cfg_uint (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path, const char *name,
                 uint64_t lo, uint64_t hi, uint64_t *dst);
int hm_cfg_u32 (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path, const char *name,
                uint64_t lo, uint64_t hi, uint32_t *dst);
/* Seconds (scale 1) or minutes (scale 60), possibly fractional, to ms. */
int hm_cfg_seconds_ms (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path, const char *name,
                       double scale, uint32_t *dst_ms);
/* The object at name, or NULL (absent, or not an object: then failed). */
const cJSON *hm_cfg_object (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *path,
                            const char *name);
char *hm_cfg_strdupf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* What the top level of an original config gives every route. */
typedef struct {
    uint32_t max_events; /* buffer_size of an original config */
    uint32_t max_age_ms; /* auto_flush_interval of an original config */
} hm_cfg_route_defaults_t;

/* The known keys of a sink's section, or NULL for an unknown sink. */
const char *const *hm_cfg_section_keys (const char *sink);
void hm_cfg_route_init (hm_route_config_t *route, const hm_cfg_route_defaults_t *defaults);
/* 0 when a full batch of route fits one wire message, else fails at key. */
int hm_cfg_route_fits_wire (hm_cfg_ctx_t *ctx, const hm_route_config_t *route, const char *key);
/* routes.NAME from obj into route. */
int hm_cfg_route (hm_cfg_ctx_t *ctx, const cJSON *obj, const char *name, hm_route_config_t *route,
                  const hm_cfg_route_defaults_t *defaults);
/* An original config's "dialect" and section: the one route of self. */
int hm_cfg_legacy_route (hm_cfg_ctx_t *ctx, hm_config_t *self, const cJSON *root,
                         const hm_cfg_route_defaults_t *defaults);
/* The "curve" section into self. */
int hm_cfg_curve (hm_cfg_ctx_t *ctx, hm_config_t *self, const cJSON *obj);

#endif
