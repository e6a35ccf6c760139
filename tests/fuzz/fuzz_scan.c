/*  fuzz_scan: the router's in-place reading of packed events (route
    filters) and its glob, each checked against a second implementation.

    Input: one byte for the env filter (255: any), a glob pattern up to the
    first NUL byte, then the packed hm.Event. Properties: scan_event_passes
    never reads outside the event; an event in a record the router would
    append (scan_record_ok) is one the filter can read; on an event
    protobuf-c unpacks and packs again, the filter decides as protobuf-c's
    values say; scan_glob agrees with fnmatch(3) on every pattern without
    '[' or '\', and with a reference matcher on the event's whole name,
    NUL bytes included ('?' and '*' match a NUL like any byte; no pattern
    character is a NUL, so no literal matches one). */
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.pb-c.h"
#include "scan.h"

static void
s_fail (const char *what)
{
    fprintf (stderr, "fuzz_scan: %s\n", what);
    abort ();
}

/* The glob by dynamic programming over (pattern, bytes): the obvious
   matcher, for names up to 256 bytes and patterns up to 64. -1 past that. */
static int
s_glob_ref (const char *pat, const char *s, size_t n)
{
    size_t pl = strlen (pat);
    if (pl > 64 || n > 256)
        return -1;
    static bool dp[65][257]; /* dp[i][j]: pat[i..] matches s[j..] */
    for (size_t i = pl + 1; i-- > 0;)
        for (size_t j = n + 1; j-- > 0;) {
            if (i == pl)
                dp[i][j] = j == n;
            else if (pat[i] == '*')
                dp[i][j] = dp[i + 1][j] || (j < n && dp[i][j + 1]);
            else
                dp[i][j] = j < n && (pat[i] == '?' || pat[i] == s[j]) && dp[i + 1][j + 1];
        }
    return dp[0][0];
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int env = data[0] == 255 ? -1 : data[0];
    const uint8_t *nul = memchr (data + 1, 0, size - 1);
    if (!nul)
        return 0;
    char *pattern = strndup ((const char *)data + 1, (size_t)(nul - data - 1));
    if (!pattern)
        return 0;
    size_t len = size - (size_t)(nul + 1 - data);
    /* An exact-size copy so that ASan sees any read past the event. */
    uint8_t *ev = malloc (len ? len : 1);
    if (!ev) {
        free (pattern);
        return 0;
    }
    memcpy (ev, nul + 1, len);

    const char *filter = *pattern ? pattern : NULL;
    int got = scan_event_passes (filter, env, ev, len);
    /* The event in a record {batch_id: 1, events: [ev]}: one the router
       would append (scan_record_ok) is one every route can read. */
    uint8_t *rec = malloc (len + 16);
    if (rec) {
        size_t n = 0;
        rec[n++] = 0x08, rec[n++] = 0x01, rec[n++] = 0x12;
        n += scan_put_varint (rec + n, len);
        memcpy (rec + n, ev, len);
        if (scan_record_ok (rec, n + len) == 0 && got < 0)
            s_fail ("the router would append an event its routes cannot read");
        free (rec);
    }
    Hm__Event *e = hm__event__unpack (NULL, len, ev);
    if (e) {
        /* Decide from protobuf-c's values, and scan the event as
           protobuf-c packs it again. The name is bytes: protobuf-c keeps
           it whole, NULs and all, and so must the scan. */
        const char *name = e->has_event && e->event.data ? (const char *)e->event.data : "";
        size_t name_len = e->has_event ? e->event.len : 0;
        int want = (env < 0 || e->env == env) && (!filter || scan_glob (filter, name, name_len));
        int ref = filter ? s_glob_ref (filter, name, name_len) : -1;
        if (ref >= 0 && ref != scan_glob (filter, name, name_len))
            s_fail ("scan_glob and the reference disagree on a name (NULs included)");
        /* Unknown fields stay out: protobuf-c would write back a field
           number it cut to 32 bits, which the router refuses at append. */
        unsigned unknown = e->base.n_unknown_fields;
        e->base.n_unknown_fields = 0;
        size_t plen = hm__event__get_packed_size (e);
        uint8_t *packed = malloc (plen ? plen : 1);
        if (packed) {
            hm__event__pack (e, packed);
            if (scan_event_passes (filter, env, packed, plen) != want)
                s_fail ("scan and protobuf-c disagree on the filter");
            free (packed);
        }
        e->base.n_unknown_fields = unknown;
        hm__event__free_unpacked (e, NULL);
    }

    /* The glob against fnmatch, on the event bytes as text. */
    if (!strpbrk (pattern, "[\\") && !memchr (ev, 0, len)) {
        char *text = strndup ((const char *)ev, len);
        if (text) {
            int g = scan_glob (pattern, text, len);
            int f = fnmatch (pattern, text, FNM_NOESCAPE) == 0;
            if (g != f) {
                fprintf (stderr, "pattern \"%s\" text \"%s\": glob %d fnmatch %d\n", pattern, text,
                         g, f);
                s_fail ("scan_glob and fnmatch disagree");
            }
            free (text);
        }
    }
    free (ev);
    free (pattern);
    return 0;
}
