/*  pathname: where a sealed batch is written and under which name.

    A batch keeps (route, first_offset, last_offset, seal_time) across every
    redelivery, so everything here is a pure function of those: a retried
    upload computes the same name and overwrites its own earlier attempt
    instead of leaving a duplicate next to it. */
#include "pathname.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "digest.h"

static const char s_letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* A template placeholder and the strftime-like parts of it, in UTC. */
typedef struct {
    const char *name; /* placeholder with braces */
    int what;         /* which field(s) of the time to write */
} s_placeholder_t;

enum { S_DATE, S_YEAR, S_MONTH, S_DAY, S_HOUR, S_MINUTE, S_SECOND };

static const s_placeholder_t s_placeholders[] = {
    {"{date}", S_DATE}, {"{year}", S_YEAR},     {"{month}", S_MONTH},   {"{day}", S_DAY},
    {"{hour}", S_HOUR}, {"{minute}", S_MINUTE}, {"{second}", S_SECOND},
};

int
hm_path_expand (const char *template_, uint64_t t, char *out, size_t cap)
{
    if (cap == 0)
        return -1;
    if (!template_)
        template_ = "";
    time_t tt = (time_t)(int64_t)t;
    struct tm tm;
    if (!gmtime_r (&tt, &tm))
        memset (&tm, 0, sizeof tm);
    int year = tm.tm_year + 1900;

    size_t o = 0;
    const char *p = template_;
    while (*p) {
        const s_placeholder_t *ph = NULL;
        if (*p == '{')
            for (size_t i = 0; i < sizeof s_placeholders / sizeof s_placeholders[0]; i++)
                if (strncmp (p, s_placeholders[i].name, strlen (s_placeholders[i].name)) == 0) {
                    ph = &s_placeholders[i];
                    break;
                }
        char piece[32];
        size_t len;
        if (!ph) {
            piece[0] = *p++;
            len = 1;
        }
        else {
            int n = 0;
            switch (ph->what) {
            case S_DATE:
                n = snprintf (piece, sizeof piece, "%04d-%02d-%02d", year, tm.tm_mon + 1,
                              tm.tm_mday);
                break;
            case S_YEAR:
                n = snprintf (piece, sizeof piece, "%04d", year);
                break;
            case S_MONTH:
                n = snprintf (piece, sizeof piece, "%02d", tm.tm_mon + 1);
                break;
            case S_DAY:
                n = snprintf (piece, sizeof piece, "%02d", tm.tm_mday);
                break;
            case S_HOUR:
                n = snprintf (piece, sizeof piece, "%02d", tm.tm_hour);
                break;
            case S_MINUTE:
                n = snprintf (piece, sizeof piece, "%02d", tm.tm_min);
                break;
            default:
                n = snprintf (piece, sizeof piece, "%02d", tm.tm_sec);
                break;
            }
            len = n > 0 ? (size_t)n : 0;
            p += strlen (ph->name);
        }
        if (o + len >= cap)
            return -1;
        memcpy (out + o, piece, len);
        o += len;
    }
    out[o] = '\0';
    return 0;
}

/* Why a hash: the original's names were 20 random letters; ours must be
   reproducible from the batch identity yet still spread evenly. The input
   is "route|first|last" with decimal offsets, hashed with SHA-256; each
   letter is one digest byte modulo 52 (the small bias does not matter for
   names). */
void
hm_batch_letters (const char *route, uint64_t first, uint64_t last, char out[21])
{
    char tail[48];
    int tail_len = snprintf (tail, sizeof tail, "|%" PRIu64 "|%" PRIu64, first, last);
    size_t route_len = route ? strlen (route) : 0;
    uint8_t digest[32];

    char stack[256];
    size_t len = route_len + (size_t)tail_len;
    if (len <= sizeof stack) {
        if (route_len)
            memcpy (stack, route, route_len);
        memcpy (stack + route_len, tail, (size_t)tail_len);
        hm_sha256 (stack, len, digest);
    }
    else {
        /* Route names are short; a long one is hashed on its own first so
           nothing is allocated here (still deterministic). */
        uint8_t route_digest[32];
        char text[32 + sizeof tail];
        hm_sha256 (route, route_len, route_digest);
        memcpy (text, route_digest, 32);
        memcpy (text + 32, tail, (size_t)tail_len);
        hm_sha256 (text, 32 + (size_t)tail_len, digest);
    }
    for (int i = 0; i < 20; i++)
        out[i] = s_letters[digest[i] % 52];
    out[20] = '\0';
}

int
hm_batch_name (const char *route, uint64_t first, uint64_t last, uint64_t seal_time,
               hm_format_t format, bool gz, char *out, size_t cap)
{
    char letters[21];
    hm_batch_letters (route, first, last, letters);
    int n = snprintf (out, cap, "%" PRIu64 "-%s.%s%s", seal_time, letters,
                      format == HM_FORMAT_CSV ? "csv" : "json", gz ? ".gz" : "");
    return n >= 0 && (size_t)n < cap ? 0 : -1;
}
