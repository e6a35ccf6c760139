/*  file_backend: the "file" sink's backend: one local file per batch.
    See file_backend.c for how a file is made durable. */
#ifndef HM_FILE_BACKEND_H
#define HM_FILE_BACKEND_H

#include "sink.h"

/* Largest encoded (and uncompressed) batch the file sink builds in memory. */
#define HM_FILE_MAX_BATCH_BYTES (1024u << 20)

extern const hm_sink_backend_t hm_file_backend;

#endif
