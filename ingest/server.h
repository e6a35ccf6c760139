/*  server: the whole hamustro-ingest process once its configuration is
    loaded: resolves the listen address, starts cfg->ingest_threads workers
    on it, waits for SIGTERM/SIGINT (or a worker's failure), and stops them
    gracefully. */
#ifndef HM_INGEST_SERVER_H
#define HM_INGEST_SERVER_H

#include "config.h"

/* Runs until a signal; returns the process exit code (0 clean, 1 failure). */
int ingest_server_run (const hm_config_t *cfg);

#endif
