/*  server: the hamustro-router daemon's sockets and main loop.

    One thread polls every socket: appends (ROUTER, replies only after the
    records are durable), inject (PULL), control (ROUTER), one ROUTER per
    route for its sinks, and the syncer's eventfd. A second thread, the
    syncer, runs fdatasync. See ARCHITECTURE sections 3 and 4. */
#ifndef HM_ROUTER_SERVER_H
#define HM_ROUTER_SERVER_H

#include "config.h"

#include <signal.h>
#include <stddef.h>

typedef struct _server_t server_t;

/* Opens the log, loads the routes' state, binds every socket. NULL with
   the reason in errbuf on error. cfg must outlive the server. */
server_t *server_new (const hm_config_t *cfg, char *errbuf, size_t errlen);
/* Runs until *stop is set: then stops reading appends, answers what is
   pending once durable, seals every open batch and hands sealed batches
   to the sinks still connected (for up to 10 s, or until *stop >= 2),
   saves every route's state. 0, -1 on fatal error. */
int server_run (server_t *self, volatile sig_atomic_t *stop);
void server_destroy (server_t **self_p);

#endif
