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
#include <string.h>
#include <time.h>

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

int
hm_json_string (hm_buf_t *out, const char *s, size_t len)
{
    if (!s) /* an empty bytes value has no data */
        s = "", len = 0;
    size_t mark = out->len;
    const uint8_t *p = (const uint8_t *)s;
    if (hm_buf_putc (out, '"') != 0)
        goto fail;
    size_t start = 0; /* first byte not yet copied */
    size_t i = 0;
    while (i < len) {
        uint8_t b = p[i];
        char esc[8];
        size_t esc_len = 0;
        size_t step = 1;
        if (b < 0x80) {
            if (b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&') {
                i++;
                continue;
            }
            esc[0] = '\\';
            if (b == '"' || b == '\\') {
                esc[1] = (char)b;
                esc_len = 2;
            }
            else if (b == '\n' || b == '\r' || b == '\t') {
                esc[1] = b == '\n' ? 'n' : b == '\r' ? 'r' : 't';
                esc_len = 2;
            }
            else {
                memcpy (esc + 1, "u00", 3);
                esc[4] = s_hex[b >> 4];
                esc[5] = s_hex[b & 0x0f];
                esc_len = 6;
            }
        }
        else {
            uint32_t cp;
            size_t n = s_utf8_decode (p + i, len - i, &cp);
            if (n == 0) {
                memcpy (esc, "\\ufffd", 6);
                esc_len = 6;
            }
            else if (cp == 0x2028 || cp == 0x2029) {
                /* Valid JSON but not valid JavaScript: Go escapes them. */
                memcpy (esc, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
                esc_len = 6;
                step = n;
            }
            else {
                i += n;
                continue;
            }
        }
        if (hm_buf_append (out, s + start, i - start) != 0 ||
            hm_buf_append (out, esc, esc_len) != 0)
            goto fail;
        i += step;
        start = i;
    }
    if (hm_buf_append (out, s + start, len - start) != 0 || hm_buf_putc (out, '"') != 0)
        goto fail;
    return 0;
fail:
    s_rollback (out, mark);
    return -1;
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
    const char *value; /* rendered text, never NULL; may hold NUL bytes */
    size_t len;        /* its length in bytes */
    bool omitempty;    /* left out of the JSON line when "" */
    bool number;       /* written bare (nr), not as a string */
} s_field_t;

#define S_FIELDS 23

/* A field from a bytes member: "" when absent. */
static void
s_bytes_field (s_field_t *f, const char *key, protobuf_c_boolean has, ProtobufCBinaryData b,
               bool omitempty)
{
    size_t len = has && b.data ? b.len : 0;
    *f = (s_field_t){key, len ? (const char *)b.data : "", len, omitempty, false};
}

/* The event's fields in the original's column order. nr, env and at are
   rendered into the caller's buffers. */
static void
s_fields (const Hm__Event *e, s_field_t f[S_FIELDS], char nr[16], char env[16], char at[20])
{
    size_t n = 0;
#define S_TEXT(k, text, omit) (f[n++] = (s_field_t){k, text, strlen (text), omit, false})
#define S_BYTES(name, omit) s_bytes_field (&f[n++], #name, e->has_##name, e->name, omit)
    S_BYTES (device_id, false);
    S_BYTES (client_id, false);
    S_BYTES (session, false);
    s_utoa (e->nr, nr);
    f[n++] = (s_field_t){"nr", nr, strlen (nr), false, true};
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

int
hm_encode_json (hm_buf_t *out, const Hm__Event *e)
{
    s_field_t f[S_FIELDS];
    char nr[16], env[16], at[20];
    s_fields (e, f, nr, env, at);

    size_t mark = out->len;
    bool first = true;
    if (hm_buf_putc (out, '{') != 0)
        goto fail;
    for (size_t i = 0; i < S_FIELDS; i++) {
        if (f[i].omitempty && f[i].len == 0)
            continue;
        if (!first && hm_buf_putc (out, ',') != 0)
            goto fail;
        first = false;
        /* Keys are plain ASCII, so they need no escaping. */
        if (hm_buf_putc (out, '"') != 0 || hm_buf_puts (out, f[i].key) != 0 ||
            hm_buf_append (out, "\":", 2) != 0)
            goto fail;
        int rc = f[i].number ? hm_buf_append (out, f[i].value, f[i].len)
                             : hm_json_string (out, f[i].value, f[i].len);
        if (rc != 0)
            goto fail;
    }
    if (hm_buf_append (out, "}\n", 2) != 0)
        goto fail;
    return 0;
fail:
    s_rollback (out, mark);
    return -1;
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
