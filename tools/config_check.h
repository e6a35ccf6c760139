/*  config_check: `hamustro-ctl check-config`. Checks a config file the
    way every program checks it at start, all at once and without
    touching the network or writing a file: the load (every route's
    first problem and the first of the rest of the file), the curve keys
    of the router and of its clients, the ingest's TLS files, the
    endpoints, and for every route
    its sink backend's own init (sections, credentials present, endpoints
    well formed). The backends' init only parses and allocates; it opens
    no connection. */
#ifndef HM_CONFIG_CHECK_H
#define HM_CONFIG_CHECK_H

#include <stddef.h>

#include "config.h"

/* Checks path (NULL: $HAMUSTRO_CONFIG, else the embedded default) for a
   host of role (UNSET: the config's "role"): EDGE and ALL the router's
   server key, TLS files and endpoints; SINKS and ALL every route's sink
   backend; every role the load, the client key pair and the routes'
   endpoints. Passes every problem to fn as "FILE: KEY: REASON". Returns
   the config when there was none (the caller destroys it), else NULL;
   *problems gets the count. */
hm_config_t *hm_config_check_all (const char *path, hm_role_t role, hm_config_error_fn *fn,
                                  void *arg, size_t *problems);

#endif
