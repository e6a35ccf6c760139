/*  fuzz_config: a config file's text, as every program reads it at start.
    A config either loads or is refused with "ORIGIN: KEY: REASON"; it never
    crashes a program. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = malloc (size + 1);
    if (!text)
        return 0;
    memcpy (text, data, size);
    text[size] = '\0';
    char err[512] = "";
    hm_config_t *cfg = hm_config_parse (text, "fuzz.json", err, sizeof err);
    if (cfg)
        hm_config_destroy (&cfg);
    else if (strncmp (err, "fuzz.json", 9) != 0) {
        /* Every refusal names the file first. */
        fprintf (stderr, "fuzz_config: refusal without the file's name: \"%s\"\n", err);
        abort ();
    }
    free (text);
    return 0;
}
