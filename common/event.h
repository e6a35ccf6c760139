/*  event: turns one client Collection into the pipeline's flattened events
    (ARCHITECTURE section 5) and resolves the client IP. Used by the ingest
    and by hamustro-push. */
#ifndef HM_EVENT_H
#define HM_EVENT_H

#include <stdbool.h>
#include <stddef.h>

#include "payload.pb-c.h"
#include "pipeline.pb-c.h"

/* Name of an Environment number ("PRODUCTION"...), or NULL if unknown. */
const char *hm_env_name (int env);
/* Number for a name, or -1. */
int hm_env_from_name (const char *name);

/* Renders parameters as the original did: a JSON object {name: value},
   keys sorted bytewise, a repeated name keeps its last value, Go's string
   escaping; "{}" when there are none. Caller frees. NULL on out of memory. */
char *hm_parameters_json (Parameter **params, size_t n);

/* The client IP to record when the payload has none: the first public
   address in X-Forwarded-For, then X-Real-IP, then peer (each may be NULL).
   Private, loopback, link-local and unspecified addresses are never
   recorded. Writes "" when none qualifies. out: 64 bytes. */
void hm_client_ip (const char *x_forwarded_for, const char *x_real_ip, const char *peer,
                   char out[64]);
/* masked_ip: zeroes the last IPv4 octet ("1.2.3.4" -> "1.2.3.0") or the last
   80 bits of an IPv6 address, in place. Anything else is left as it is. */
void hm_mask_ip (char *ip, size_t cap);

/* Builds the events of a collection: events[i] for payloads[i], fields
   copied or pointing into the collection (free with hm_events_free, which
   frees only what hm_events_build allocated; the collection must outlive
   the events). fallback_ip is used when a payload has no ip; masked_ip
   applies hm_mask_ip. Returns an array of n_payloads events or NULL. */
Hm__Event *hm_events_build (const Collection *c, const char *fallback_ip, bool masked_ip);
void hm_events_free (Hm__Event *events, size_t n);

#endif
