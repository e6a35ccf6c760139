/*  scan: see scan.h. */
#include "scan.h"

static int
s_varint (const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    const uint8_t *p = *pp;
    for (int shift = 0; p < end && shift < 64; shift += 7) {
        uint8_t b = *p++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p, *v = r;
            return 0;
        }
    }
    return -1;
}

int
scan_field (const uint8_t **pp, const uint8_t *end, scan_field_t *f)
{
    uint64_t key, len;
    if (s_varint (pp, end, &key) != 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
        return -1;
    f->num = (uint32_t)(key >> 3);
    f->wt = (int)(key & 7);
    switch (f->wt) {
    case 0:
        return s_varint (pp, end, &f->val);
    case 1:
        if (end - *pp < 8)
            return -1;
        *pp += 8;
        return 0;
    case 5:
        if (end - *pp < 4)
            return -1;
        *pp += 4;
        return 0;
    case 2:
        if (s_varint (pp, end, &len) != 0 || len > (uint64_t)(end - *pp))
            return -1;
        f->data = *pp, f->len = (size_t)len;
        *pp += len;
        return 0;
    default:
        return -1; /* groups: none of our messages has them */
    }
}

/* Every field of a message parses. */
static int
s_fields_ok (const uint8_t *p, const uint8_t *end)
{
    scan_field_t f;
    while (p < end)
        if (scan_field (&p, end, &f) != 0)
            return -1;
    return 0;
}

int
scan_record_ok (const uint8_t *rec, size_t len)
{
    const uint8_t *p = rec, *end = rec + len;
    while (p < end) {
        scan_field_t f;
        if (scan_field (&p, end, &f) != 0)
            return -1;
        if (f.num == 2 && f.wt == 2 && s_fields_ok (f.data, f.data + f.len) != 0)
            return -1; /* AppendRequest.events */
    }
    return 0;
}

size_t
scan_put_varint (uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

bool
scan_glob (const char *pat, const char *s, size_t n)
{
    /* Greedy with one backtrack point (the last '*'): linear for the
       patterns people write, never exponential. */
    const char *star = NULL;
    size_t i = 0, star_i = 0;
    while (i < n) {
        if (*pat == '?' || (*pat && *pat != '*' && *pat == s[i]))
            pat++, i++;
        else if (*pat == '*')
            star = pat++, star_i = i;
        else if (star)
            pat = star + 1, i = ++star_i;
        else
            return false;
    }
    while (*pat == '*')
        pat++;
    return *pat == 0;
}

int
scan_event_passes (const char *filter_event, int filter_env, const uint8_t *ev, size_t len)
{
    if (!filter_event && filter_env < 0)
        return 1;
    const uint8_t *p = ev, *end = ev + len, *name = (const uint8_t *)"";
    size_t name_len = 0;
    int64_t env = 0;
    while (p < end) {
        scan_field_t f;
        if (scan_field (&p, end, &f) != 0)
            return -1;
        if (f.num == 5 && f.wt == 0) /* hm.Event.env */
            env = (int32_t)f.val;
        else if (f.num == 10 && f.wt == 2) /* hm.Event.event */
            name = f.data, name_len = f.len;
    }
    if (filter_env >= 0 && env != filter_env)
        return 0;
    if (filter_event && !scan_glob (filter_event, (const char *)name, name_len))
        return 0;
    return 1;
}
