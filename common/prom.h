/*  prom: writes the Prometheus text exposition format (version 0.0.4):
    a family's HELP and TYPE lines, then its samples, with label values
    escaped. The caller keeps label sets bounded (route, sink, code,
    instance; never a client value). */
#ifndef HM_PROM_H
#define HM_PROM_H

#include "hm_buf.h"

#include <stdint.h>

#define HM_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* "# HELP name help" (help escaped) and "# TYPE name type"; type is
   "counter", "gauge", "histogram" or "untyped". */
void hm_prom_family (hm_buf_t *out, const char *name, const char *type, const char *help);

/* Appends one label to a label set being built: key="value" (value
   escaped: backslash, double quote, newline), comma-separated. */
void hm_prom_label (hm_buf_t *labels, const char *key, const char *value);

/* One sample: name{labels} value. labels is what hm_prom_label built
   (without braces), NULL or "" for none. */
void hm_prom_u64 (hm_buf_t *out, const char *name, const char *labels, uint64_t value);
void hm_prom_f64 (hm_buf_t *out, const char *name, const char *labels, double value);
/* hm_prom_u64 with one more label after labels (NULL or "" for none):
   name{labels,key="value"} v, for a family split by a key (a status
   code, a reason, a bucket's bound). */
void hm_prom_u64_by (hm_buf_t *out, const char *name, const char *labels, const char *key,
                     const char *value, uint64_t v);

/* A histogram's samples, after its family line: NAME_bucket with the
   cumulative count at each of the nbounds bounds (le="%g") and at
   le="+Inf", then NAME_sum and NAME_count. labels (NULL or "" for none)
   go on every sample, le after them. counts has nbounds + 1 entries, per
   bucket (not cumulative): counts[i] is at most bounds[i] and over the
   bound before, counts[nbounds] over every bound. */
void hm_prom_histogram (hm_buf_t *out, const char *name, const char *labels, const double *bounds,
                        size_t nbounds, const uint64_t *counts, double sum);

#endif
