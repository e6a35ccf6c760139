/*  blob_backend: the "abs" sink's backend (hamustro-blob-sink): one gzip'd
    block blob per sealed batch in an Azure Storage container. The request
    builders are exposed for the unit tests. */
#ifndef HM_BLOB_BACKEND_H
#define HM_BLOB_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "azure.h"
#include "sink.h"

/* Largest encoded (uncompressed) batch built in memory. */
#define HM_BLOB_MAX_BATCH_BYTES (1024u << 20)
/* part_size: default, bounds (a block holds at most 4000 MiB since 2019-12-12). */
#define HM_BLOB_DEFAULT_PART_SIZE (8u << 20)
#define HM_BLOB_MAX_PART_SIZE (4000ull << 20)
/* A block blob has at most this many committed blocks. */
#define HM_BLOB_MAX_BLOCKS 50000
/* Block uploads of one blob at once. */
#define HM_BLOB_IN_FLIGHT 8

extern const hm_sink_backend_t hm_blob_backend;

/* The blob's content type by format: "application/x-ndjson" (JSON lines,
   the same as the S3 sink's objects) or "text/csv". */
const char *hm_blob_content_type (hm_format_t format);

/* Block id of block index: base64 of "hamustro-block-NNNNNN" (every id of
   a blob the same length, as the service wants); out holds 33 bytes. */
void hm_blob_block_id (size_t index, char out[33]);

/* The Put Block List body: <?xml ...?><BlockList><Latest>id</Latest>...
   for blocks 0..count-1. 0 / -1. */
int hm_blob_block_list_xml (hm_buf_t *out, size_t count);

/* "/container/encoded-name" appended to out. 0 / -1. */
int hm_blob_path (hm_buf_t *out, const char *container, const char *name);

/* Parts a body of len bytes is cut into at part_size (raised so there
   are at most HM_BLOB_MAX_BLOCKS); *part gets the size used. */
size_t hm_blob_parts (size_t len, uint64_t part_size, size_t *part);

#endif
