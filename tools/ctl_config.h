/*  ctl_config: hamustro-ctl's verbs about a config file rather than a
    running router: check-config, supervisord-conf and systemd-units. All
    three check the whole config first (config_check.h) and derive what
    runs from one plan (plan.h). */
#ifndef HM_CTL_CONFIG_H
#define HM_CTL_CONFIG_H

#include <stdio.h>

#include "plan.h"

typedef enum {
    HM_CTL_CHECK_CONFIG,     /* problems, or what would run */
    HM_CTL_SUPERVISORD_CONF, /* supervisord [program:x] sections */
    HM_CTL_SYSTEMD_UNITS     /* unit names, one a line */
} hm_ctl_config_verb_t;

/* Runs verb on the config at path (NULL: $HAMUSTRO_CONFIG, else the
   embedded default), for a host of opts.role (UNSET: the config's
   "role"). Output to out, problems ("FILE: KEY: REASON", one a line) to
   err. opts: supervisord-conf's other options; its config_path is
   set here (the config's absolute path, so every program reads the file
   that was checked). Returns the exit status: 0, or 1 when the config
   has a problem (then nothing goes to out). */
int hm_ctl_config_run (hm_ctl_config_verb_t verb, const char *path, hm_plan_supervisord_t opts,
                       FILE *out, FILE *err);

#endif
