/*  encode: an event as the original Hamustro wrote it.

    The original was written in Go and its files are read by existing
    pipelines, so the bytes must match what Go 1.6's encoding/json Encoder
    and encoding/csv Writer produced for its event struct, quirks included:
    HTML characters escaped in JSON, U+2028/2029 escaped, every invalid
    UTF-8 byte turned into U+FFFD, CSV fields quoted only when Go quoted
    them. Values are (data, len) and may hold NUL bytes: JSON writes one as
    \u0000, CSV writes it raw and unquoted (Go's csv.Writer gave it no
    meaning). Each encoder appends a whole record or nothing: on failure (the
    buffer's bound) the buffer is rolled back to where it was. */
#include "encode.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "event.h"

#define HM_CSV_COMMA '\001'

static const char s_hex[] = "0123456789abcdef";

static void
s_rollback (hm_buf_t *out, size_t mark)
{
    out->len = mark;
    if (out->data)
        out->data[mark] = '\0';
}

/* Decodes one UTF-8 sequence at p (n bytes available) the way Go's
   utf8.DecodeRuneInString does: returns its length and the code point, or
   0 when the bytes are not valid UTF-8 (overlong forms, surrogates, values
   past U+10FFFF and truncated sequences are all invalid, one byte at a time). */
static size_t
s_utf8_decode (const uint8_t *p, size_t n, uint32_t *cp)
{
    uint8_t b = p[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (b >= 0xc2 && b <= 0xdf)
        len = 2;
    else if (b >= 0xe0 && b <= 0xef) {
        len = 3;
        if (b == 0xe0)
            lo = 0xa0; /* overlong */
        else if (b == 0xed)
            hi = 0x9f; /* surrogates */
    }
    else if (b >= 0xf0 && b <= 0xf4) {
        len = 4;
        if (b == 0xf0)
            lo = 0x90; /* overlong */
        else if (b == 0xf4)
            hi = 0x8f; /* past U+10FFFF */
    }
    else
        return 0;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    uint32_t c = b & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    *cp = c;
    return len;
}

/* 1 for a byte that a JSON string holds as it is: printable ASCII other
   than the quote, the backslash and Go's HTML characters. */
static const uint8_t s_json_plain[256] = {
    ['\x20'] = 1, ['!'] = 1, ['#'] = 1,    ['$'] = 1, ['%'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1,
    ['*'] = 1,    ['+'] = 1, [','] = 1,    ['-'] = 1, ['.'] = 1, ['/'] = 1,  ['0'] = 1, ['1'] = 1,
    ['2'] = 1,    ['3'] = 1, ['4'] = 1,    ['5'] = 1, ['6'] = 1, ['7'] = 1,  ['8'] = 1, ['9'] = 1,
    [':'] = 1,    [';'] = 1, ['='] = 1,    ['?'] = 1, ['@'] = 1, ['A'] = 1,  ['B'] = 1, ['C'] = 1,
    ['D'] = 1,    ['E'] = 1, ['F'] = 1,    ['G'] = 1, ['H'] = 1, ['I'] = 1,  ['J'] = 1, ['K'] = 1,
    ['L'] = 1,    ['M'] = 1, ['N'] = 1,    ['O'] = 1, ['P'] = 1, ['Q'] = 1,  ['R'] = 1, ['S'] = 1,
    ['T'] = 1,    ['U'] = 1, ['V'] = 1,    ['W'] = 1, ['X'] = 1, ['Y'] = 1,  ['Z'] = 1, ['['] = 1,
    [']'] = 1,    ['^'] = 1, ['_'] = 1,    ['`'] = 1, ['a'] = 1, ['b'] = 1,  ['c'] = 1, ['d'] = 1,
    ['e'] = 1,    ['f'] = 1, ['g'] = 1,    ['h'] = 1, ['i'] = 1, ['j'] = 1,  ['k'] = 1, ['l'] = 1,
    ['m'] = 1,    ['n'] = 1, ['o'] = 1,    ['p'] = 1, ['q'] = 1, ['r'] = 1,  ['s'] = 1, ['t'] = 1,
    ['u'] = 1,    ['v'] = 1, ['w'] = 1,    ['x'] = 1, ['y'] = 1, ['z'] = 1,  ['{'] = 1, ['|'] = 1,
    ['}'] = 1,    ['~'] = 1, ['\x7f'] = 1,
};

#ifdef __SSE2__
/* A bit per byte of v that s_json_plain does not take: below 0x20, or 0x80
   and up (both below 0x20 as signed bytes), or one of the five ASCII
   characters it leaves out. */
static inline unsigned
s_escape_mask (__m128i v)
{
    __m128i bad = _mm_or_si128 (_mm_cmplt_epi8 (v, _mm_set1_epi8 (0x20)),
                                _mm_cmpeq_epi8 (v, _mm_set1_epi8 ('"')));
    bad = _mm_or_si128 (bad, _mm_cmpeq_epi8 (v, _mm_set1_epi8 ('\\')));
    bad = _mm_or_si128 (bad, _mm_cmpeq_epi8 (v, _mm_set1_epi8 ('<')));
    bad = _mm_or_si128 (bad, _mm_cmpeq_epi8 (v, _mm_set1_epi8 ('>')));
    bad = _mm_or_si128 (bad, _mm_cmpeq_epi8 (v, _mm_set1_epi8 ('&')));
    return (unsigned)_mm_movemask_epi8 (bad);
}
#endif

/* Writes s quoted and escaped at w, which has HM_JSON_STRING_MAX (len) bytes
   of room; returns the end. Writing into reserved room instead of appending
   piece by piece is what keeps encoding cheap: the sink encodes every event
   of every batch (bench/RESULTS.md, issue 17). */
static char *
s_json_string_at (char *w, const uint8_t *p, size_t len)
{
    *w++ = '"';
    size_t i = 0;
    while (i < len) {
#ifdef __SSE2__
        /* Plain text is most of what the sink encodes (its hottest loop,
           bench/RESULTS.md, issue 17): 16 and then 8 bytes at a time, each
           block stored whole, since the room left (6 bytes per input byte
           left) holds it, and w moved past its plain bytes only. */
        unsigned mask = 0;
        for (; len - i >= 16; i += 16, w += 16) {
            __m128i v = _mm_loadu_si128 ((const __m128i *)(p + i));
            _mm_storeu_si128 ((__m128i *)w, v);
            if ((mask = s_escape_mask (v)) != 0)
                break;
        }
        if (!mask && len - i >= 8) {
            __m128i v = _mm_loadl_epi64 ((const __m128i *)(p + i));
            _mm_storel_epi64 ((__m128i *)w, v);
            if ((mask = s_escape_mask (v) & 0xff) == 0)
                i += 8, w += 8;
        }
        if (mask) {
            unsigned plain = (unsigned)__builtin_ctz (mask);
            i += plain, w += plain;
        }
        else
#endif
            while (i < len && s_json_plain[p[i]])
                *w++ = (char)p[i++];
        if (i == len)
            break;
        uint8_t b = p[i];
        if (b < 0x80) {
            *w++ = '\\';
            if (b == '"' || b == '\\')
                *w++ = (char)b;
            else if (b == '\n' || b == '\r' || b == '\t')
                *w++ = b == '\n' ? 'n' : b == '\r' ? 'r' : 't';
            else {
                memcpy (w, "u00", 3);
                w[3] = s_hex[b >> 4];
                w[4] = s_hex[b & 0x0f];
                w += 5;
            }
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = s_utf8_decode (p + i, len - i, &cp);
        if (n == 0) {
            memcpy (w, "\\ufffd", 6);
            w += 6;
            i++;
        }
        else if (cp == 0x2028 || cp == 0x2029) {
            /* Valid JSON but not valid JavaScript: Go escapes them. */
            memcpy (w, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
            w += 6;
            i += n;
        }
        else {
            memcpy (w, p + i, n);
            w += n;
            i += n;
        }
    }
    *w++ = '"';
    return w;
}

typedef struct {
    const uint8_t *p; /* the string's bytes */
    size_t len;       /* their count */
} s_string_arg_t;

static char *
s_write_string (char *w, const void *arg)
{
    const s_string_arg_t *a = arg;
    return s_json_string_at (w, a->p, a->len);
}

char *
hm_json_string_at (char *w, const char *s, size_t len)
{
    return s_json_string_at (w, (const uint8_t *)(s ? s : ""), s ? len : 0);
}

int
hm_json_string (hm_buf_t *out, const char *s, size_t len)
{
    if (!s) /* an empty bytes value has no data */
        s = "", len = 0;
    if (len > (SIZE_MAX - 2) / 6)
        return -1;
    s_string_arg_t arg = {(const uint8_t *)s, len};
    return hm_buf_append_at_most (out, len + 2, HM_JSON_STRING_MAX (len), s_write_string, &arg);
}

/* Writes v as exactly `width` decimal digits (v < 10^width). */
static void
s_digits (char *out, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        out[i] = (char)('0' + v % 10);
}

void
hm_format_at (uint64_t at, char out[20])
{
    /* Go converted the uint64 to int64 for time.Unix, so do the same. The
       date is the proleptic Gregorian calendar, computed here rather than
       with gmtime_r, which takes the time zone lock on every call. */
    int64_t t = (int64_t)at;
    int64_t days = t / 86400, secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    /* Days since 0000-03-01, in 400-year eras of 146097 days. */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    int64_t year = yoe + era * 400 + (mp >= 10);
    if (year < 0 || year > 9999) {
        /* Only for absurd times; the field keeps its fixed width. */
        memcpy (out, "0000-00-00 00:00:00", 20);
        return;
    }
    unsigned month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    unsigned mday = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    s_digits (out, (unsigned)year, 4);
    out[4] = '-';
    s_digits (out + 5, month, 2);
    out[7] = '-';
    s_digits (out + 8, mday, 2);
    out[10] = ' ';
    s_digits (out + 11, (unsigned)(secs / 3600), 2);
    out[13] = ':';
    s_digits (out + 14, (unsigned)(secs / 60 % 60), 2);
    out[16] = ':';
    s_digits (out + 17, (unsigned)(secs % 60), 2);
    out[19] = '\0';
}

/* Unsigned decimal, as printf's %u would write it. Returns out. */
static char *
s_utoa (uint32_t v, char out[16])
{
    char tmp[16];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return out;
}

/* The environment as Go's generated String() printed it: the enum name, or
   the decimal number for a value the enum does not know. */
static const char *
s_env_text (int32_t env, char tmp[16])
{
    const char *name = hm_env_name (env);
    if (name)
        return name;
    snprintf (tmp, 16, "%" PRId32, env);
    return tmp;
}

/* One field of the flattened event: its JSON key, its value, and whether
   the JSON line leaves it out when empty (Go's omitempty). */
typedef struct {
    const char *key;   /* JSON key and CSV column name */
    size_t klen;       /* its length (keys are literals: no strlen per event) */
    const char *value; /* rendered text, never NULL; may hold NUL bytes */
    size_t len;        /* its length in bytes */
    bool omitempty;    /* left out of the JSON line when "" */
    bool number;       /* written bare (nr), not as a string */
} s_field_t;

#define S_FIELDS 23

/* A field from a bytes member: "" when absent. */
static void
s_bytes_field (s_field_t *f, const char *key, size_t klen, protobuf_c_boolean has,
               ProtobufCBinaryData b, bool omitempty)
{
    size_t len = has && b.data ? b.len : 0;
    *f = (s_field_t){key, klen, len ? (const char *)b.data : "", len, omitempty, false};
}

/* The event's fields in the original's column order. nr, env and at are
   rendered into the caller's buffers. */
static void
s_fields (const Hm__Event *e, s_field_t f[S_FIELDS], char nr[16], char env[16], char at[20])
{
    size_t n = 0;
#define S_TEXT(k, text, omit)                                                                      \
    (f[n++] = (s_field_t){k, sizeof (k) - 1, text, strlen (text), omit, false})
#define S_BYTES(name, omit)                                                                        \
    s_bytes_field (&f[n++], #name, sizeof (#name) - 1, e->has_##name, e->name, omit)
    S_BYTES (device_id, false);
    S_BYTES (client_id, false);
    S_BYTES (session, false);
    s_utoa (e->nr, nr);
    f[n++] = (s_field_t){"nr", 2, nr, strlen (nr), false, true};
    S_TEXT ("env", s_env_text (e->env, env), false);
    S_BYTES (system_version, false);
    S_BYTES (product_version, false);
    hm_format_at (e->at, at);
    S_TEXT ("at", at, false);
    S_BYTES (timezone, false);
    S_BYTES (event, false);
    S_BYTES (device_make, true);
    S_BYTES (device_model, true);
    S_BYTES (system, true);
    S_BYTES (system_language, true);
    S_BYTES (browser, true);
    S_BYTES (browser_version, true);
    S_BYTES (product_git_hash, true);
    S_BYTES (product_language, true);
    S_BYTES (user_id, true);
    S_BYTES (tenant_id, true);
    S_BYTES (ip, true);
    S_BYTES (country, true);
    /* Never empty in practice: the ingest renders "{}" for none. */
    S_TEXT ("parameters", e->parameters && *e->parameters ? e->parameters : "{}", false);
#undef S_TEXT
#undef S_BYTES
}

typedef struct {
    const s_field_t *f; /* the event's fields, S_FIELDS of them */
} s_line_arg_t;

/* Writes the JSON line at w (room: what s_json_line_max says). */
static char *
s_write_line (char *w, const void *arg)
{
    const s_field_t *f = ((const s_line_arg_t *)arg)->f;
    *w++ = '{';
    bool first = true;
    for (size_t i = 0; i < S_FIELDS; i++) {
        if (f[i].omitempty && f[i].len == 0)
            continue;
        if (!first)
            *w++ = ',';
        first = false;
        /* Keys are plain ASCII, so they need no escaping. */
        size_t klen = f[i].klen;
        *w++ = '"';
        memcpy (w, f[i].key, klen);
        w += klen;
        memcpy (w, "\":", 2);
        w += 2;
        if (f[i].number) {
            memcpy (w, f[i].value, f[i].len);
            w += f[i].len;
        }
        else
            w = s_json_string_at (w, (const uint8_t *)f[i].value, f[i].len);
    }
    memcpy (w, "}\n", 2);
    return w + 2;
}

/* The most bytes the JSON line of f takes; SIZE_MAX past any buffer. */
static size_t
s_json_line_max (const s_field_t *f)
{
    size_t max = 3; /* { } \n */
    for (size_t i = 0; i < S_FIELDS; i++) {
        if (f[i].len > (SIZE_MAX / 8) / S_FIELDS)
            return SIZE_MAX;
        max += 4 + f[i].klen + HM_JSON_STRING_MAX (f[i].len); /* , " key ": */
    }
    return max;
}

int
hm_encode_json (hm_buf_t *out, const Hm__Event *e)
{
    s_field_t f[S_FIELDS];
    char nr[16], env[16], at[20];
    s_fields (e, f, nr, env, at);
    size_t max = s_json_line_max (f);
    if (max == SIZE_MAX)
        return -1;
    s_line_arg_t arg = {f};
    return hm_buf_append_at_most (out, 0, max, s_write_line, &arg);
}

/* Go's unicode.IsSpace, which decides whether a CSV field that starts with
   this rune must be quoted (Go 1.6 fieldNeedsQuotes: non-empty and holding
   the separator, a quote, CR or LF, or exactly `\.`, or starting with a
   space). */
static bool
s_is_space (uint32_t r)
{
    switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
        return true;
    default:
        return r >= 0x2000 && r <= 0x200a;
    }
}

static bool
s_csv_needs_quotes (const char *s, size_t len)
{
    if (len == 0)
        return false;
    /* Go quoted PostgreSQL's end-of-data marker too. */
    if (len == 2 && s[0] == '\\' && s[1] == '.')
        return true;
    for (size_t i = 0; i < len; i++)
        if (s[i] == HM_CSV_COMMA || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
            return true;
    uint32_t r;
    size_t n = s_utf8_decode ((const uint8_t *)s, len, &r);
    return n > 0 && s_is_space (r);
}

/* A quoted field: Go's Writer walked the field rune by rune and wrote each
   with WriteRune, so inside quotes (and only there) an invalid UTF-8 byte
   came out as U+FFFD. CR and LF are kept as they are (UseCRLF false). */
static int
s_csv_quoted (hm_buf_t *out, const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    if (hm_buf_putc (out, '"') != 0)
        return -1;
    size_t start = 0;
    size_t i = 0;
    while (i < len) {
        uint32_t r;
        size_t n = s_utf8_decode (p + i, len - i, &r);
        const char *rep = NULL;
        size_t rep_len = 0;
        if (n == 0) {
            rep = "\xef\xbf\xbd";
            rep_len = 3;
            n = 1;
        }
        else if (r == '"') {
            rep = "\"\"";
            rep_len = 2;
        }
        if (rep) {
            if (hm_buf_append (out, s + start, i - start) != 0 ||
                hm_buf_append (out, rep, rep_len) != 0)
                return -1;
            start = i + n;
        }
        i += n;
    }
    if (hm_buf_append (out, s + start, len - start) != 0)
        return -1;
    return hm_buf_putc (out, '"');
}

int
hm_encode_csv (hm_buf_t *out, const Hm__Event *e)
{
    s_field_t f[S_FIELDS];
    char nr[16], env[16], at[20];
    s_fields (e, f, nr, env, at);

    size_t mark = out->len;
    for (size_t i = 0; i < S_FIELDS; i++) {
        if (i > 0 && hm_buf_putc (out, HM_CSV_COMMA) != 0)
            goto fail;
        size_t len = f[i].len;
        int rc = s_csv_needs_quotes (f[i].value, len) ? s_csv_quoted (out, f[i].value, len)
                                                      : hm_buf_append (out, f[i].value, len);
        if (rc != 0)
            goto fail;
    }
    if (hm_buf_putc (out, '\n') != 0)
        goto fail;
    return 0;
fail:
    s_rollback (out, mark);
    return -1;
}

int
hm_encode (hm_buf_t *out, const Hm__Event *e, hm_format_t format)
{
    return format == HM_FORMAT_CSV ? hm_encode_csv (out, e) : hm_encode_json (out, e);
}
