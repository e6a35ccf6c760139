/*  tool_config: see tool_config.h. */
#include "tool_config.h"

#include <stdio.h>

#include "curve.h"

hm_config_t *
hm_tool_config (const char *program, const char *path)
{
    char errbuf[512];
    hm_config_t *cfg = hm_config_load (path && *path ? path : NULL, errbuf, sizeof errbuf);
    if (!cfg)
        fprintf (stderr, "%s: %s\n", program, errbuf);
    else if (hm_curve_check (cfg, false, errbuf, sizeof errbuf) != 0) {
        fprintf (stderr, "%s: %s\n", program, errbuf);
        hm_config_destroy (&cfg);
    }
    return cfg;
}
