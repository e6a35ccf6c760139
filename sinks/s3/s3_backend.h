/*  s3_backend: the "s3" sink's backend: one gzip'd object per batch.
    See s3_backend.c for the requests it makes and how answers are read. */
#ifndef HM_S3_BACKEND_H
#define HM_S3_BACKEND_H

#include "sink.h"

/* Largest encoded (uncompressed) batch the S3 sink builds in memory. */
#define HM_S3_MAX_BATCH_BYTES (1024u << 20)

extern const hm_sink_backend_t hm_s3_backend;

#endif
