/*  ingests_priv: the table ingests.c keeps and metrics_ingest.c renders.
    Not for use outside those two files. */
#ifndef HM_ROUTER_INGESTS_PRIV_H
#define HM_ROUTER_INGESTS_PRIV_H

#include "ingests.h"
#include "pipeline.pb-c.h"

typedef struct {
    Hm__IngestStats *stats; /* its last report (protobuf-c's, freed with free_unpacked) */
    uint64_t seen_ms;       /* when it came (monotonic ms) */
} s_ingest_t;

struct _ingests_t {
    s_ingest_t held[INGESTS_MAX]; /* the ingests reporting, in no order */
    size_t count;                 /* how many */
    uint64_t reports;             /* reports kept */
    uint64_t dropped;             /* reports dropped: INGESTS_MAX others were held */
};

#endif
