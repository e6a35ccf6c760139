/*  fuzz_push_line: one line of hamustro-push's standard input (an event or
    a Collection as JSON). It becomes events or is refused with a reason. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "push_parse.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    Hm__Event **events = NULL;
    size_t n = 0;
    char err[256] = "";
    if (push_parse_line ((const char *)data, size, &events, &n, err, sizeof err) != 0) {
        if (!err[0]) {
            fprintf (stderr, "fuzz_push_line: refused without a reason\n");
            abort ();
        }
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        hm__event__free_unpacked (events[i], NULL);
    free (events);
    return 0;
}
