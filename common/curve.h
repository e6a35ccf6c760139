/*  curve: CurveZMQ on the links between the programs (ARCHITECTURE section
    3: "CurveZMQ keys for links that leave the host"). With a "curve"
    section in the config every link is encrypted and the router's sockets
    only talk to clients that hold the server's public key; with
    "allowed_clients" also only to those client keys (checked by a ZAP
    handler in the router). Without the section nothing changes.

    Keys are Z85 text, 40 characters (`hamustro-ctl keygen` makes a pair). */
#ifndef HM_CURVE_H
#define HM_CURVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* At a program's start: fails with "FILE: KEY: REASON" when the config
   has a "curve" section without the keys this side needs (server: the
   router's pair; client: a client pair). */
int hm_curve_check (const hm_config_t *cfg, bool server, char *errbuf, size_t errlen);
/* Sets a socket's CurveZMQ options before its bind (server: the router's
   sockets) or connect (client: everything else); nothing without a
   "curve" section. -1 with zmq_errno set on failure. */
int hm_curve_apply (void *sock, const hm_config_t *cfg, bool server);

/* The router's ZAP handler: a thread answering libzmq's authentication
   requests from the allowed_clients list. Started on the router's context
   before any bind; NULL (and no error) when there is no list. */
typedef struct hm_zap hm_zap_t;
int hm_zap_start (void *zctx, const hm_config_t *cfg, hm_zap_t **out, char *errbuf, size_t errlen);
/* Client links refused so far (0 for NULL). */
uint64_t hm_zap_refused (const hm_zap_t *self);
/* Waits for the thread: call once zmq_ctx_term has begun (or returned),
   which ends the handler's wait. */
void hm_zap_join (hm_zap_t **self_p);

#endif
