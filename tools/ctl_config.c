/*  ctl_config: see ctl_config.h. */
#include "ctl_config.h"

#include <limits.h>
#include <stdlib.h>

#include "config_check.h"

static void
s_print_problem (void *arg, const char *line)
{
    fprintf ((FILE *)arg, "%s\n", line);
}

int
hm_ctl_config_run (hm_ctl_config_verb_t verb, const char *path, hm_plan_supervisord_t opts,
                   FILE *out, FILE *err)
{
    if (!path || !*path)
        path = getenv ("HAMUSTRO_CONFIG");
    if (path && !*path)
        path = NULL;
    size_t problems = 0;
    hm_config_t *cfg = hm_config_check_all (path, opts.role, s_print_problem, err, &problems);
    if (!cfg) {
        if (verb == HM_CTL_CHECK_CONFIG)
            fprintf (err, "%zu problem%s found\n", problems, problems == 1 ? "" : "s");
        return 1;
    }
    int code = 0;
    hm_plan_t *plan = hm_plan_new (cfg, opts.role);
    char real[PATH_MAX];
    if (!plan) {
        fprintf (err, "%s: (plan): out of memory\n", cfg->path);
        code = 1;
    }
    else if (verb == HM_CTL_CHECK_CONFIG) {
        hm_plan_print (plan, out);
        fprintf (out, "config ok\n");
    }
    else if (verb == HM_CTL_SYSTEMD_UNITS)
        hm_plan_print_units (plan, out);
    else {
        /* The programs may run in another directory than ours. */
        opts.config_path = path ? realpath (path, real) : NULL;
        if (path && !opts.config_path) {
            fprintf (err, "%s: (file): cannot resolve its absolute path\n", path);
            code = 1;
        }
        else if (hm_plan_print_supervisord (plan, &opts, out) != 0) {
            fprintf (err,
                     "%s: (supervisord-conf): a path or the user has a line break, or the "
                     "program name prefix '%s' has a character other than letters, digits, "
                     "'_', '.' and '-'\n",
                     cfg->path, opts.prefix ? opts.prefix : "");
            code = 1;
        }
    }
    hm_plan_destroy (&plan);
    hm_config_destroy (&cfg);
    return code;
}
