/*  json_doc: a JSON text as cJSON parses it, plus where each value and
    member name sits in the text.

    cJSON keeps a string as a C string, so a "\u0000" inside it would end
    the value there; it keeps a number as a double, which cannot hold every
    uint64. A doc records the span of every number and string value (and
    of every member name) in document order and numbers the cJSON nodes in
    the same order (their valueint, which the doc owns), so a caller reads
    each value from the client's own text: integers exactly, strings whole
    with their length. Used by collection_json (the ingest's JSON bodies)
    and by hamustro-push (the flat event lines it re-sends). */
#ifndef HM_JSON_DOC_H
#define HM_JSON_DOC_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "arena.h"

/* Where a token sits in the text. */
typedef struct {
    size_t off; /* first byte (of a string: after its opening quote) */
    size_t len; /* bytes (of a string: up to its closing quote) */
} hm_json_span_t;

typedef struct {
    cJSON *root;          /* the tree (owned) */
    const char *text;     /* the text parsed (not owned, not NUL-terminated) */
    hm_json_span_t *vals; /* number and string values, in document order */
    size_t n_vals;        /* entries in vals */
    hm_json_span_t *keys; /* member names, in document order */
    size_t n_keys;        /* entries in keys */
    size_t nul_keys;      /* member names that hold a NUL byte once decoded */
    hm_arena_t *arena;    /* where everything above came from, or NULL: malloc */
} hm_json_doc_t;

/* Parses the len bytes of text as one JSON value (white space after it is
   allowed, anything else is not). 0, or -1 with the reason in err
   ("malformed JSON near byte 12", "out of memory"); doc is then empty, and
   hm_json_doc_free may be called either way. */
int hm_json_doc_parse (hm_json_doc_t *doc, const char *text, size_t len, char *err, size_t errlen);
void hm_json_doc_free (hm_json_doc_t *doc);

/* As hm_json_doc_parse, with every allocation taken from arena: cJSON's
   nodes and strings, the spans, and the strings hm_json_doc_string and
   hm_json_doc_key decode. A JSON body is a tree of many small allocations
   that all die with the request (issue #17: malloc and free were a tenth
   of the ingest's CPU on JSON bodies). hm_json_doc_free then frees
   nothing; hm_arena_reset releases it all, so the doc must not outlive
   the arena's next reset. The arena grows with the text, by a bounded
   factor (a cJSON node per value), as malloc would. */
int hm_json_doc_parse_in (hm_json_doc_t *doc, hm_arena_t *arena, const char *text, size_t len,
                          char *err, size_t errlen);

/* Memory that lives as the doc's own does: from its arena, or malloc'd
   (then the caller frees it). NULL when out of memory. */
void *hm_json_doc_alloc (const hm_json_doc_t *doc, size_t n);
/* Gives back a string from hm_json_doc_string or hm_json_doc_key (or
   memory from hm_json_doc_alloc): freed, unless it came from the doc's
   arena. */
void hm_json_doc_release (const hm_json_doc_t *doc, char *s);

/* The span of a number or string node of the doc, or NULL. */
const hm_json_span_t *hm_json_doc_value (const hm_json_doc_t *doc, const cJSON *node);

/* A string node decoded whole: malloc'd (or taken from the doc's arena),
   len bytes (NULs kept) and a NUL after them; give it back with
   hm_json_doc_release. NULL with a reason: "invalid escape in string" (cJSON read
   a bad \u hex digit as \u0000, Go refused it), "out of memory", or "string
   does not decode consistently" (the decoding disagrees with cJSON's copy
   before its first NUL: never expected, checked on every value). */
char *hm_json_doc_string (const hm_json_doc_t *doc, const cJSON *node, size_t *len,
                          const char **why);

/* Member name number index (document order) decoded whole, as above. */
char *hm_json_doc_key (const hm_json_doc_t *doc, size_t index, size_t *len, const char **why);

/* Member names in node's subtree (node's own name not counted): the keys
   to skip to walk past it in document order. */
size_t hm_json_doc_subtree_keys (const cJSON *node);

/* Decodes the text of a JSON string (between its quotes, n bytes) into
   out (room for n bytes: no escape decodes longer than it is written) as
   cJSON does, keeping NULs. 0, or -1 for a bad escape. */
int hm_json_unquote (const char *in, size_t n, char *out, size_t *out_len);

#endif
