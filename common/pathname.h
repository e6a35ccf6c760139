/*  pathname: output object names (ARCHITECTURE section 5). A path template
    takes {date} {year} {month} {day} {hour} {minute} {second} (UTC), and an
    object's name is "<seal time>-<20 letters>.<json|csv>[.gz]", where the
    letters derive from the route and the batch's offsets, so a redelivered
    batch lands on the same name. */
#ifndef HM_PATHNAME_H
#define HM_PATHNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Expands the template at time t into out. Returns 0, or -1 if out is too small. */
int hm_path_expand (const char *template_, uint64_t t, char *out, size_t cap);
/* 20 letters [a-zA-Z] derived from (route, first, last); out: 21 bytes. */
void hm_batch_letters (const char *route, uint64_t first, uint64_t last, char out[21]);
/* "<seal_time>-<letters>.<json|csv>[.gz]". Returns 0 or -1 if too small. */
int hm_batch_name (const char *route, uint64_t first, uint64_t last, uint64_t seal_time,
                   hm_format_t format, bool gz, char *out, size_t cap);

#endif
