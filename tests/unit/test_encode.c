/*  test_encode: JSON lines and CSV records byte for byte as the original
    (Go 1.6 encoding/json and encoding/csv) wrote them. The expected lines
    are written out by hand from Go's rules, not produced by our code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "encode.h"
#include "hm_test_bytes.h"

#define SEP "\001"

/* The vector event from the original's tests: only required fields. */
static void
s_plain_event (Hm__Event *e)
{
    hm__event__init (e);
    HM_SET_STR (e, device_id, "a73b1c37-2c24-4786-af7a-16de88fbe23a");
    HM_SET_STR (e, client_id, "bce44f67b2661fd445d469b525b04f68");
    HM_SET_STR (e, session, "0e350a2cc31648bb24ba61eb14be337c");
    e->has_nr = true;
    e->nr = 7;
    e->has_env = true;
    e->env = 11;
    HM_SET_STR (e, system_version, "10.10");
    HM_SET_STR (e, product_version, "1.1.2");
    e->has_at = true;
    e->at = 1454514088;
    HM_SET_STR (e, event, "open");
    e->parameters = "{}";
}

/* Every escaping rule at once. */
static void
s_nasty_event (Hm__Event *e)
{
    hm__event__init (e);
    HM_SET_STR (e, device_id, "dev\"ice\\");
    HM_SET_STR (e, client_id, "line1\nline2\r\tend");
    HM_SET_STR (e, session, " leading");
    e->has_nr = true;
    e->nr = 4294967295u;
    e->has_env = true;
    e->env = 42; /* unknown: written as its number */
    HM_SET_STR (e, system_version, "<b>&</b>");
    HM_SET_STR (e, product_version, "árvíztűrő 😀");
    e->has_at = true;
    e->at = 0;
    HM_SET_STR (e, timezone, "");
    HM_SET_STR (e, event,
                "a\xe2\x80\xa8"
                "b\xe2\x80\xa9"
                "c");                                          /* U+2028, U+2029 */
    HM_SET_STR (e, device_make, "\x01\x08\x0c\x1f\x7f");       /* controls and DEL */
    HM_SET_STR (e, device_model, "bad\xff\xc3(x\xed\xa0\x80"); /* invalid UTF-8 */
    HM_SET_STR (e, system, "sep" SEP "arated");
    HM_SET_STR (e, system_language, "\xc2\xa0nbsp"); /* U+00A0 first */
    HM_SET_STR (e, browser, "\xe3\x80\x80ideo");     /* U+3000 first */
    HM_SET_STR (e, browser_version, "q\"\xff");
    HM_SET_STR (e, product_git_hash, "");
    HM_SET_STR (e, product_language, NULL);
    HM_SET_STR (e, user_id, "u1");
    HM_SET_STR (e, tenant_id, "t&1");
    HM_SET_STR (e, ip, "1.2.3.0");
    HM_SET_STR (e, country, "HU");
    e->parameters = "{\"a\":\"\\u003c1\\u003e\",\"b\":\"x\\\"y\"}";
}

static void
s_assert_line (const hm_buf_t *b, const char *expected)
{
    if (b->len != strlen (expected) || memcmp (b->data, expected, b->len) != 0)
        print_error ("got:      %s\nexpected: %s\n", b->data, expected);
    assert_int_equal (b->len, strlen (expected));
    assert_memory_equal (b->data, expected, b->len);
}

static void
test_json_plain (void **state)
{
    (void)state;
    Hm__Event e;
    s_plain_event (&e);
    hm_buf_t b;
    hm_buf_init (&b, 0);
    assert_int_equal (hm_encode_json (&b, &e), 0);
    s_assert_line (&b, "{\"device_id\":\"a73b1c37-2c24-4786-af7a-16de88fbe23a\","
                       "\"client_id\":\"bce44f67b2661fd445d469b525b04f68\","
                       "\"session\":\"0e350a2cc31648bb24ba61eb14be337c\","
                       "\"nr\":7,\"env\":\"DEVELOPMENT\",\"system_version\":\"10.10\","
                       "\"product_version\":\"1.1.2\",\"at\":\"2016-02-03 15:41:28\","
                       "\"timezone\":\"\",\"event\":\"open\",\"parameters\":\"{}\"}\n");
    /* hm_encode picks the format; lines append */
    assert_int_equal (hm_encode (&b, &e, HM_FORMAT_JSON), 0);
    assert_int_equal (b.len % 2, 0);
    assert_memory_equal (b.data, b.data + b.len / 2, b.len / 2);
    hm_buf_free (&b);
}

static void
test_json_nasty (void **state)
{
    (void)state;
    Hm__Event e;
    s_nasty_event (&e);
    hm_buf_t b;
    hm_buf_init (&b, 0);
    assert_int_equal (hm_encode_json (&b, &e), 0);
    s_assert_line (&b, "{\"device_id\":\"dev\\\"ice\\\\\","
                       "\"client_id\":\"line1\\nline2\\r\\tend\","
                       "\"session\":\" leading\","
                       "\"nr\":4294967295,"
                       "\"env\":\"42\","
                       "\"system_version\":\"\\u003cb\\u003e\\u0026\\u003c/b\\u003e\","
                       "\"product_version\":\"árvíztűrő 😀\","
                       "\"at\":\"1970-01-01 00:00:00\","
                       "\"timezone\":\"\","
                       "\"event\":\"a\\u2028b\\u2029c\","
                       "\"device_make\":\"\\u0001\\u0008\\u000c\\u001f\x7f\","
                       "\"device_model\":\"bad\\ufffd\\ufffd(x\\ufffd\\ufffd\\ufffd\","
                       "\"system\":\"sep\\u0001arated\","
                       "\"system_language\":\"\xc2\xa0"
                       "nbsp\","
                       "\"browser\":\"\xe3\x80\x80"
                       "ideo\","
                       "\"browser_version\":\"q\\\"\\ufffd\","
                       "\"user_id\":\"u1\","
                       "\"tenant_id\":\"t\\u00261\","
                       "\"ip\":\"1.2.3.0\","
                       "\"country\":\"HU\","
                       "\"parameters\":\"{\\\"a\\\":\\\"\\\\u003c1\\\\u003e\\\","
                       "\\\"b\\\":\\\"x\\\\\\\"y\\\"}\"}\n");
    hm_buf_free (&b);
}

static void
test_csv_plain (void **state)
{
    (void)state;
    Hm__Event e;
    s_plain_event (&e);
    hm_buf_t b;
    hm_buf_init (&b, 0);
    assert_int_equal (hm_encode_csv (&b, &e), 0);
    /* 23 columns: 12 empty optional ones between event and parameters */
    s_assert_line (&b, "a73b1c37-2c24-4786-af7a-16de88fbe23a" SEP
                       "bce44f67b2661fd445d469b525b04f68" SEP "0e350a2cc31648bb24ba61eb14be337c" SEP
                       "7" SEP "DEVELOPMENT" SEP "10.10" SEP "1.1.2" SEP "2016-02-03 15:41:28" SEP
                       "" SEP "open" SEP SEP SEP SEP SEP SEP SEP SEP SEP SEP SEP SEP SEP "{}\n");
    hm_buf_free (&b);
}

static void
test_csv_nasty (void **state)
{
    (void)state;
    Hm__Event e;
    s_nasty_event (&e);
    hm_buf_t b;
    hm_buf_init (&b, 0);
    assert_int_equal (hm_encode (&b, &e, HM_FORMAT_CSV), 0);
    s_assert_line (&b, "\"dev\"\"ice\\\"" SEP                   /* quote doubled */
                       "\"line1\nline2\r\tend\"" SEP            /* CR LF kept inside quotes */
                       "\" leading\"" SEP                       /* leading space */
                       "4294967295" SEP "42" SEP "<b>&</b>" SEP /* nothing else escaped */
                       "árvíztűrő 😀" SEP "1970-01-01 00:00:00" SEP SEP /* timezone empty */
                       "a\xe2\x80\xa8"
                       "b\xe2\x80\xa9"
                       "c" SEP                        /* U+2028 not first: as is */
                       "\"\x01\x08\x0c\x1f\x7f\"" SEP /* holds the separator */
                       "bad\xff\xc3"
                       "(x\xed\xa0\x80" SEP /* unquoted: bytes as is */
                       "\"sep" SEP "arated\"" SEP "\"\xc2\xa0"
                       "nbsp\"" SEP /* U+00A0 first */
                       "\"\xe3\x80\x80"
                       "ideo\"" SEP                /* U+3000 first */
                       "\"q\"\"\xef\xbf\xbd\"" SEP /* quoted: invalid -> U+FFFD */
                           SEP SEP                 /* git hash, language */
                       "u1" SEP "t&1" SEP "1.2.3.0" SEP "HU" SEP
                       "\"{\"\"a\"\":\"\"\\u003c1\\u003e\"\",\"\"b\"\":\"\"x\\\"\"y\"\"}\"\n");
    hm_buf_free (&b);
}

/* CSV quoting decided by the first rune (Go's unicode.IsSpace). */
static void
test_csv_leading_space (void **state)
{
    (void)state;
    struct {
        const char *value;
        const char *written;
    } cases[] = {
        {"\tx", "\"\tx\""},
        {"\vx", "\"\vx\""},
        {"\fx", "\"\fx\""},
        {"\xc2\x85x", "\"\xc2\x85x\""},         /* U+0085 */
        {"\xe1\x9a\x80x", "\"\xe1\x9a\x80x\""}, /* U+1680 */
        {"\xe2\x80\x80x", "\"\xe2\x80\x80x\""}, /* U+2000 */
        {"\xe2\x80\x8ax", "\"\xe2\x80\x8ax\""}, /* U+200A */
        {"\xe2\x80\xa8x", "\"\xe2\x80\xa8x\""}, /* U+2028 */
        {"\xe2\x80\xafx", "\"\xe2\x80\xafx\""}, /* U+202F */
        {"\xe2\x81\x9fx", "\"\xe2\x81\x9fx\""}, /* U+205F */
        {"\xe2\x80\x8bx", "\xe2\x80\x8bx"},     /* U+200B is not space */
        {"x y", "x y"},
        {"\\.", "\"\\.\""}, /* PostgreSQL's end marker */
        {"\\.x", "\\.x"},
        {"x\"", "\"x\"\"\""},
        {"\xff x", "\xff x"}, /* invalid first byte: not space */
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Hm__Event e;
        s_plain_event (&e);
        HM_SET_STR (&e, country, (char *)cases[i].value);
        hm_buf_t b;
        hm_buf_init (&b, 0);
        assert_int_equal (hm_encode_csv (&b, &e), 0);
        /* country is the 22nd column, parameters the last */
        const char *tail = "\001{}\n";
        size_t wl = strlen (cases[i].written);
        assert_true (b.len > wl + strlen (tail));
        const char *col = b.data + b.len - strlen (tail) - wl;
        assert_memory_equal (col, cases[i].written, wl);
        assert_int_equal (col[-1], '\001');
        hm_buf_free (&b);
    }
}

static void
s_assert_json_string (const char *in, size_t len, const char *expected)
{
    hm_buf_t b;
    hm_buf_init (&b, 0);
    assert_int_equal (hm_json_string (&b, in, len), 0);
    s_assert_line (&b, expected);
    hm_buf_free (&b);
}

/* What one byte alone becomes in a JSON string, by the rules rather than
   by the encoder's table: a check on both the table and the 16-byte scan. */
static void
s_expected_byte (uint8_t b, char *out)
{
    if (b >= 0x80)
        strcpy (out, "\\ufffd"); /* alone, never valid UTF-8 */
    else if (b == '"' || b == '\\')
        sprintf (out, "\\%c", b);
    else if (b == '\n' || b == '\r' || b == '\t')
        sprintf (out, "\\%c", b == '\n' ? 'n' : b == '\r' ? 'r' : 't');
    else if (b < 0x20 || b == '<' || b == '>' || b == '&')
        sprintf (out, "\\u%04x", b);
    else
        sprintf (out, "%c", b);
}

/* Every byte value, and multi-byte sequences, at every offset around the
   16-byte blocks the encoder scans at once, with plain text on both sides. */
static void
test_json_string_every_offset (void **state)
{
    (void)state;
    struct {
        const char *in, *out;
    } seqs[] = {
        {"\xc3\xa9", "\xc3\xa9"},    /* é kept */
        {"\xe2\x80\xa8", "\\u2028"}, /* escaped as Go does */
        {"\xe2\x80\xa9", "\\u2029"},    {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"}, /* 4 bytes kept */
        {"\xe2\x82", "\\ufffd\\ufffd"},                                           /* truncated */
    };
    size_t n_pieces = 256 + sizeof seqs / sizeof seqs[0];
    char in[128], expected[256], piece_out[32];
    for (size_t piece = 0; piece < n_pieces; piece++) {
        char piece_in[8];
        size_t piece_len;
        if (piece < 256) {
            piece_in[0] = (char)piece, piece_len = 1;
            s_expected_byte ((uint8_t)piece, piece_out);
        }
        else {
            strcpy (piece_in, seqs[piece - 256].in), piece_len = strlen (piece_in);
            strcpy (piece_out, seqs[piece - 256].out);
        }
        for (size_t before = 0; before <= 40; before++)
            for (size_t after = 0; after <= 20; after += 7) {
                memset (in, 'a', before);
                memcpy (in + before, piece_in, piece_len);
                memset (in + before + piece_len, 'b', after);
                snprintf (expected, sizeof expected, "\"%.*s%s%.*s\"", (int)before, in, piece_out,
                          (int)after, in + before + piece_len);
                s_assert_json_string (in, before + piece_len + after, expected);
            }
    }
}

static void
test_json_string (void **state)
{
    (void)state;
    s_assert_json_string ("", 0, "\"\"");
    s_assert_json_string ("a\0b", 3, "\"a\\u0000b\"");
    s_assert_json_string ("\b\f\x1b", 3, "\"\\u0008\\u000c\\u001b\"");
    s_assert_json_string ("<script>&amp;", 13, "\"\\u003cscript\\u003e\\u0026amp;\"");
    s_assert_json_string ("\xef\xbf\xbd", 3, "\"\xef\xbf\xbd\""); /* real U+FFFD kept */
    /* truncated sequences: every byte on its own */
    s_assert_json_string ("\xe2\x82", 2, "\"\\ufffd\\ufffd\"");
    s_assert_json_string ("\xf0\x9f\x98", 3, "\"\\ufffd\\ufffd\\ufffd\"");
    /* overlong '/' and a code point past U+10FFFF */
    s_assert_json_string ("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");
    s_assert_json_string ("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    s_assert_json_string ("\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF */
    s_assert_json_string ("\x7f/'", 3, "\"\x7f/'\"");
}

static void
test_format_at (void **state)
{
    (void)state;
    char out[20];
    hm_format_at (0, out);
    assert_string_equal (out, "1970-01-01 00:00:00");
    hm_format_at (1454514088, out);
    assert_string_equal (out, "2016-02-03 15:41:28");
    hm_format_at (951868799, out);
    assert_string_equal (out, "2000-02-29 23:59:59");
    hm_format_at (1700000000, out);
    assert_string_equal (out, "2023-11-14 22:13:20");
}

/* What the encoder wrote before it computed the date itself: gmtime_r,
   zeros outside years 0..9999. */
static void
s_reference_at (uint64_t at, char out[20])
{
    time_t t = (time_t)(int64_t)at;
    struct tm tm;
    if (!gmtime_r (&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
        memcpy (out, "0000-00-00 00:00:00", 20);
        return;
    }
    char text[64];
    snprintf (text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy (out, text, 19);
    out[19] = '\0';
}

static void
s_assert_at_matches (uint64_t at)
{
    char got[20], want[20];
    hm_format_at (at, got);
    s_reference_at (at, want);
    if (strcmp (got, want) != 0)
        fail_msg ("at %" PRId64 ": got %s, gmtime_r says %s", (int64_t)at, got, want);
}

static void
test_format_at_matches_gmtime (void **state)
{
    (void)state;
    /* The edges of years 0 and 9999, the epoch, leap days, times before
       1970, and the int64 extremes a uint64 field can carry. */
    const int64_t edges[] = {
        -62167219200, -62167219201, 253402300799, 253402300800, -1,        0,         1,
        86399,        86400,        -86400,       -86401,       951782400, 951868799, 951868800,
        4107542400,   -2203891200,  INT64_MIN,    INT64_MAX,
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        for (int64_t d = -2; d <= 2; d++)
            s_assert_at_matches ((uint64_t)(edges[i] + (edges[i] > 0 ? -d * d : d * d)));
    char out[20];
    hm_format_at ((uint64_t)-62167219200, out);
    assert_string_equal (out, "0000-01-01 00:00:00");
    hm_format_at ((uint64_t)253402300799, out);
    assert_string_equal (out, "9999-12-31 23:59:59");
    hm_format_at ((uint64_t)253402300800, out);
    assert_string_equal (out, "0000-00-00 00:00:00");
    /* A spread over the whole range of years 0..9999 and beyond it. */
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t t = (int64_t)(x % 640000000000u) - 70000000000;
        s_assert_at_matches ((uint64_t)t);
    }
}

static void
test_bound_rolls_back (void **state)
{
    (void)state;
    Hm__Event e;
    s_plain_event (&e);
    hm_buf_t b;
    hm_buf_init (&b, 100);
    assert_int_equal (hm_buf_puts (&b, "before"), 0);
    assert_int_equal (hm_encode_json (&b, &e), -1);
    assert_int_equal (b.len, 6);
    assert_string_equal (b.data, "before");
    assert_int_equal (hm_encode_csv (&b, &e), -1);
    assert_string_equal (b.data, "before");
    assert_int_equal (hm_json_string (&b, "<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<", 50),
                      -1);
    assert_string_equal (b.data, "before");
    hm_buf_free (&b);
}

/* A line that fits the bound exactly is written, though its worst case
   (every byte escaped) would not fit: the encoder reserves room for the
   worst case and must fall back when the bound refuses it. */
static void
test_bound_exact_fit (void **state)
{
    (void)state;
    Hm__Event e;
    s_plain_event (&e);
    hm_buf_t want;
    hm_buf_init (&want, 0);
    assert_int_equal (hm_encode_json (&want, &e), 0);
    hm_buf_t b;
    hm_buf_init (&b, 6 + want.len);
    assert_int_equal (hm_buf_puts (&b, "before"), 0);
    assert_int_equal (hm_encode_json (&b, &e), 0);
    assert_int_equal (b.len, 6 + want.len);
    assert_memory_equal (b.data + 6, want.data, want.len);
    /* one byte less: refused whole */
    hm_buf_t c;
    hm_buf_init (&c, 6 + want.len - 1);
    assert_int_equal (hm_buf_puts (&c, "before"), 0);
    assert_int_equal (hm_encode_json (&c, &e), -1);
    assert_string_equal (c.data, "before");
    /* the same for a string: 50 plain bytes take 52 (escaped, up to 302) */
    hm_buf_t d;
    hm_buf_init (&d, 6 + 52);
    assert_int_equal (hm_buf_puts (&d, "before"), 0);
    assert_int_equal (hm_json_string (&d, "plain text that needs no escaping at all, fifty by", 50),
                      0);
    assert_string_equal (d.data, "before\"plain text that needs no escaping at all, fifty by\"");
    hm_buf_free (&want);
    hm_buf_free (&b);
    hm_buf_free (&c);
    hm_buf_free (&d);
}

/* Issue 19: "ctl\0\1\x1f\x7f" as the original wrote it in JSON. */
#define CTL "ctl\0\1\x1f\x7f"
#define CTL_LEN 7
#define CTL_JSON "\"ctl\\u0000\\u0001\\u001f\x7f\""

/* Every bytes field of an event holds value (len bytes, NULs inside). */
static void
s_nul_event (Hm__Event *e, const char *value, size_t len)
{
    s_plain_event (e);
    ProtobufCBinaryData v = {len, (uint8_t *)value};
#define S_NUL(f) (e->has_##f = true, e->f = v)
    S_NUL (device_id), S_NUL (client_id), S_NUL (session), S_NUL (system_version);
    S_NUL (product_version), S_NUL (timezone), S_NUL (event), S_NUL (device_make);
    S_NUL (device_model), S_NUL (system), S_NUL (system_language), S_NUL (browser);
    S_NUL (browser_version), S_NUL (product_git_hash), S_NUL (product_language);
    S_NUL (user_id), S_NUL (tenant_id), S_NUL (ip), S_NUL (country);
#undef S_NUL
    e->parameters = "{" CTL_JSON ":" CTL_JSON "}";
}

/* A NUL in every string field: JSON keeps the whole value, the NUL as
   \u0000 and the bytes after it too. */
static void
test_json_nul_whole (void **state)
{
    (void)state;
    Hm__Event e;
    s_nul_event (&e, CTL, CTL_LEN);
    hm_buf_t b;
    hm_buf_init (&b, 0);
    assert_int_equal (hm_encode_json (&b, &e), 0);
    s_assert_line (&b,
                   "{\"device_id\":" CTL_JSON ",\"client_id\":" CTL_JSON ",\"session\":" CTL_JSON
                   ",\"nr\":7,\"env\":\"DEVELOPMENT\","
                   "\"system_version\":" CTL_JSON ",\"product_version\":" CTL_JSON
                   ",\"at\":\"2016-02-03 15:41:28\",\"timezone\":" CTL_JSON ",\"event\":" CTL_JSON
                   ",\"device_make\":" CTL_JSON ",\"device_model\":" CTL_JSON
                   ",\"system\":" CTL_JSON ",\"system_language\":" CTL_JSON ",\"browser\":" CTL_JSON
                   ",\"browser_version\":" CTL_JSON ",\"product_git_hash\":" CTL_JSON
                   ",\"product_language\":" CTL_JSON ",\"user_id\":" CTL_JSON
                   ",\"tenant_id\":" CTL_JSON ",\"ip\":" CTL_JSON ",\"country\":" CTL_JSON
                   ",\"parameters\":\"{\\\"ctl\\\\u0000\\\\u0001\\\\u001f\x7f\\\":"
                   "\\\"ctl\\\\u0000\\\\u0001\\\\u001f\x7f\\\"}\"}\n");
    /* A value that is one NUL is not empty: omitempty keeps it. */
    hm_buf_reset (&b);
    s_nul_event (&e, "\0", 1);
    e.parameters = "{}";
    assert_int_equal (hm_encode_json (&b, &e), 0);
    assert_non_null (strstr (b.data, "\"device_make\":\"\\u0000\""));
    assert_non_null (strstr (b.data, "\"country\":\"\\u0000\""));
    hm_buf_free (&b);
}

/* CSV as Go's csv.Writer (Comma \001): a NUL is written raw; a field is
   quoted only for the separator, a quote, CR or LF (CTL holds \001). */
static void
test_csv_nul_whole (void **state)
{
    (void)state;
    Hm__Event e;
    s_nul_event (&e, CTL, CTL_LEN);
    hm_buf_t b;
    hm_buf_init (&b, 0);
    assert_int_equal (hm_encode_csv (&b, &e), 0);
    const char q[] = "\"ctl\0\1\x1f\x7f\""; /* quoted: it holds the separator */
    hm_buf_t want;
    hm_buf_init (&want, 0);
    for (int i = 0; i < 23; i++) {
        if (i > 0)
            hm_buf_putc (&want, '\001');
        if (i == 3)
            hm_buf_puts (&want, "7");
        else if (i == 4)
            hm_buf_puts (&want, "DEVELOPMENT");
        else if (i == 7)
            hm_buf_puts (&want, "2016-02-03 15:41:28");
        else if (i == 22)
            hm_buf_puts (&want, "\"{\"\"ctl\\u0000\\u0001\\u001f\x7f\"\":\"\"ctl\\u0000\\u0001"
                                "\\u001f\x7f\"\"}\"");
        else
            hm_buf_append (&want, q, sizeof q - 1);
    }
    hm_buf_putc (&want, '\n');
    assert_int_equal (b.len, want.len);
    assert_memory_equal (b.data, want.data, b.len);

    /* Without the separator a NUL needs no quotes: a\0b raw. */
    hm_buf_reset (&b);
    s_nul_event (&e, "a\0b", 3);
    e.parameters = "{}";
    assert_int_equal (hm_encode_csv (&b, &e), 0);
    assert_memory_equal (b.data, "a\0b\001a\0b\001a\0b\0017\001", 14);
    hm_buf_free (&want);
    hm_buf_free (&b);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_json_plain),
        cmocka_unit_test (test_json_nasty),
        cmocka_unit_test (test_csv_plain),
        cmocka_unit_test (test_csv_nasty),
        cmocka_unit_test (test_csv_leading_space),
        cmocka_unit_test (test_json_string),
        cmocka_unit_test (test_json_string_every_offset),
        cmocka_unit_test (test_format_at),
        cmocka_unit_test (test_format_at_matches_gmtime),
        cmocka_unit_test (test_bound_rolls_back),
        cmocka_unit_test (test_json_nul_whole),
        cmocka_unit_test (test_csv_nul_whole),
        cmocka_unit_test (test_bound_exact_fit),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
