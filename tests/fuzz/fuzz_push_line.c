/*  fuzz_push_line: one line of hamustro-push's standard input (an event or
    a Collection as JSON). It becomes events or is refused with a reason.
    Property: a flat event's "event" string reaches the event whole (NUL
    bytes included), as the line's own JSON decodes it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "json_doc.h"
#include "push_parse.h"

/* The flat line's "event" string, decoded whole, equals the event's. */
static void
s_check_event_name (const uint8_t *data, size_t size, const Hm__Event *e)
{
    hm_json_doc_t doc;
    char why[96];
    if (hm_json_doc_parse (&doc, (const char *)data, size, why, sizeof why) != 0)
        return;
    /* The last "event" member counts, as in the Collection decoder. */
    const cJSON *v = NULL;
    for (const cJSON *m = doc.root ? doc.root->child : NULL; m; m = m->next)
        if (m->string && strcmp (m->string, "event") == 0)
            v = m;
    if (cJSON_IsString (v) && !cJSON_GetObjectItemCaseSensitive (doc.root, "payloads")) {
        size_t len = 0;
        const char *reason = NULL;
        char *name = hm_json_doc_string (&doc, v, &len, &reason);
        if (name && !hm_bytes_eq (e->event, name, len)) {
            fprintf (stderr, "fuzz_push_line: the event name is not whole\n");
            abort ();
        }
        free (name);
    }
    hm_json_doc_free (&doc);
}

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
    if (n == 1)
        s_check_event_name (data, size, events[0]);
    for (size_t i = 0; i < n; i++)
        hm__event__free_unpacked (events[i], NULL);
    free (events);
    return 0;
}
