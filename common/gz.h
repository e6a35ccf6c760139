/*  gz: gzip a buffer in one go (ISA-L igzip, libdeflate at the bound; one gzip member, what the
    original's files and objects use), and gunzip (zlib) for tests and tools. */
#ifndef HM_GZ_H
#define HM_GZ_H

#include <stdbool.h>

#include "hm_buf.h"

int hm_gzip (const void *data, size_t len, hm_buf_t *out);
/* Appends what data (one or more gzip members) inflates to, within out's
   limit; -1 (out as it was) when corrupt, truncated, followed by bytes that
   are not a member, or past the limit. */
int hm_gunzip (const void *data, size_t len, hm_buf_t *out);

/* A gzip member made piece by piece (igzip, same level as hm_gzip), for a
   writer that does not want the whole input in memory at once (the file
   sink encodes, compresses and writes a batch in chunks). */
typedef struct hm_gzs hm_gzs_t;
hm_gzs_t *hm_gzs_new (void);
/* Starts a new member (after new, or to drop a half-made one). */
void hm_gzs_begin (hm_gzs_t *self);
/* Compresses len bytes, appending what comes out to out; last ends the
   member (its trailer is in out on return). -1 at out's bound (the member
   is then broken: begin a new one). */
int hm_gzs_write (hm_gzs_t *self, const void *data, size_t len, bool last, hm_buf_t *out);
void hm_gzs_destroy (hm_gzs_t **self_p);

#endif
