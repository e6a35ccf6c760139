/*  tool_config: see tool_config.h. */
#include "tool_config.h"

#include <stdio.h>

hm_config_t *
hm_tool_config (const char *program, const char *path)
{
    char errbuf[512];
    hm_config_t *cfg = hm_config_load (path && *path ? path : NULL, errbuf, sizeof errbuf);
    if (!cfg)
        fprintf (stderr, "%s: %s\n", program, errbuf);
    return cfg;
}
