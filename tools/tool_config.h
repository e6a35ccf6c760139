/*  tool_config: how every command-line tool loads its config: the path
    from --config or HAMUSTRO_CONFIG (empty means the embedded default),
    and on failure one line "program: file: key: reason" on stderr. */
#ifndef HM_TOOL_CONFIG_H
#define HM_TOOL_CONFIG_H

#include "config.h"

/* The loaded config, or NULL after printing why (the caller exits 2). */
hm_config_t *hm_tool_config (const char *program, const char *path);

#endif
