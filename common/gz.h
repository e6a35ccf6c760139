/*  gz: gzip a buffer in one go (ISA-L igzip, libdeflate at the bound; one gzip member, what the
    original's files and objects use), and gunzip (zlib) for tests and tools. */
#ifndef HM_GZ_H
#define HM_GZ_H

#include "hm_buf.h"

int hm_gzip (const void *data, size_t len, hm_buf_t *out);
int hm_gunzip (const void *data, size_t len, hm_buf_t *out);

#endif
