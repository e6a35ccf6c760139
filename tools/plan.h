/*  plan: what a config runs. One derivation from the loaded config: the
    router, the ingest and, for every route, its sink program with the
    route's number of instances. `hamustro-ctl check-config` prints it,
    `hamustro-ctl supervisord-conf` turns it into supervisord programs
    (what `make run` starts) and `hamustro-ctl systemd-units` into unit
    names (the packaging's systemd generator), so the three cannot
    disagree and no list of programs is kept by hand anywhere else. */
#ifndef HM_PLAN_H
#define HM_PLAN_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"

/* One program of the pipeline and how many processes of it run. */
typedef struct {
    const char *name;     /* "router", "ingest", or "sink-ROUTE": supervisord program name */
    const char *binary;   /* executable: "hamustro-router", "hamustro-s3-sink"... */
    const char *route;    /* a sink: the route it serves (inside the config); else NULL */
    const char *kind;     /* a sink: the route's sink kind ("s3"); else NULL */
    const char *endpoint; /* a sink: the route's endpoint; else NULL */
    uint32_t instances;   /* processes: the route's instances, 1 for router and ingest */
    int priority;         /* supervisord start order, low first; stop order is the reverse */
    int stopwaitsecs;     /* grace after SIGTERM before SIGKILL */
} hm_plan_program_t;

typedef struct hm_plan hm_plan_t;

/* The plan of cfg, which must outlive it, for a host of role: ALL the
   router, the ingest and every route's sinks; EDGE the router and the
   ingest; SINKS the routes' sinks; UNSET the config's "role". NULL: out
   of memory. */
hm_plan_t *hm_plan_new (const hm_config_t *cfg, hm_role_t role);
void hm_plan_destroy (hm_plan_t **self_p);

/* The programs in start order of the units: router, ingest, then the
   sinks in the config's order of routes (those of the plan's role). */
size_t hm_plan_size (const hm_plan_t *self);
const hm_plan_program_t *hm_plan_program (const hm_plan_t *self, size_t index);

/* The sink program serving a sink kind ("abs" -> "hamustro-blob-sink"),
   or NULL for a kind the config module does not know. */
const char *hm_plan_sink_binary (const char *kind);

/* What would run, for people: routes, sink programs, instances,
   endpoints, listener, data_dir. */
void hm_plan_print (const hm_plan_t *self, FILE *out);

/* systemd unit names, one a line: hamustro-router.service,
   hamustro-ingest.service, hamustro-KIND-sink@ROUTE:N.service for N from
   1 to the route's instances. The packaging's generator reads exactly
   this. */
void hm_plan_print_units (const hm_plan_t *self, FILE *out);

typedef struct {
    const char *bin_dir;     /* where the executables are */
    const char *directory;   /* the programs' working directory; NULL: supervisord's */
    const char *config_path; /* passed as --config; NULL: the embedded default */
    const char *user;        /* user= of every program; NULL: none */
    const char *log_dir;     /* a log file per process here; NULL: supervisord's stdout */
    const char *prefix;      /* put before every program name ("edge1-sink-archive"),
                                so several configs' sections go in one supervisord;
                                NULL: none */
    hm_role_t role;          /* what to run of the config; UNSET: the config's "role"
                                (also used by check-config and systemd-units) */
} hm_plan_supervisord_t;

/* supervisord [program:x] sections. Sinks run as
   "hamustro-KIND-sink --route ROUTE:%(process_num)d", numprocs = the
   route's instances, process numbers from 1. -1 (nothing written) when
   a path or the user has a line break, or the prefix has a character
   other than letters, digits, '_', '.' and '-' (supervisord's program
   names; ':' would read as a group). */
int hm_plan_print_supervisord (const hm_plan_t *self, const hm_plan_supervisord_t *opts, FILE *out);

#endif
