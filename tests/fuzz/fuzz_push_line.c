/*  fuzz_push_line: one line of hamustro-push's standard input (an event or
    a Collection as JSON). It becomes events or is refused with a reason.
    Property: a flat event's "event" string reaches the event whole (NUL
    bytes included), as the line's own JSON decodes it. The router's inject
    socket takes the same text (router/inject_json.h): it must accept
    exactly the lines with events, as a record the router's own record
    check (scan.c) passes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "inject_json.h"
#include "json_doc.h"
#include "push_parse.h"
#include "scan.h"

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

/* inject's answer agrees with push_parse_line's (n events, or refused). */
static void
s_check_inject (const uint8_t *data, size_t size, int parsed, size_t n)
{
    zmq_msg_t msg;
    size_t got = 0;
    char err[256] = "";
    int rc = inject_json_request (data, size, &msg, &got, err, sizeof err);
    if ((rc == 0) != (parsed == 0 && n > 0) || (rc != 0 && !err[0])) {
        fprintf (stderr, "fuzz_push_line: inject and push disagree\n");
        abort ();
    }
    if (rc != 0)
        return;
    if (got != n || scan_record_ok (zmq_msg_data (&msg), zmq_msg_size (&msg)) != 0) {
        fprintf (stderr, "fuzz_push_line: inject's record is not what the router reads\n");
        abort ();
    }
    zmq_msg_close (&msg);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    Hm__Event **events = NULL;
    size_t n = 0;
    char err[256] = "";
    int parsed = push_parse_line ((const char *)data, size, &events, &n, err, sizeof err);
    s_check_inject (data, size, parsed, n);
    if (parsed != 0) {
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
