/*  collection_json: a Collection from the protobuf JSON mapping, as the
    original accepted it with jsonpb: camelCase or original field names,
    enums by name or number, 64-bit integers as number or string. Unknown
    fields are an error (as jsonpb's default). */
#ifndef HM_COLLECTION_JSON_H
#define HM_COLLECTION_JSON_H

#include <stddef.h>

#include "arena.h"
#include "payload.pb-c.h"

/* Returns a Collection (free with hm_collection_json_free) or NULL with a
   reason in errbuf ("payloads[2].nr: required field missing"). Every
   required field is checked. Strings are decoded whole into their bytes
   fields: "\u0000" is a NUL byte inside the value, never its end. */
Collection *hm_collection_from_json (const char *json, size_t len, char *errbuf, size_t errlen);
void hm_collection_json_free (Collection *c);
/* As above, with the Collection and everything the parse takes (cJSON's
   tree included) from arena (json_doc.h): never hm_collection_json_free
   it; hm_arena_reset releases it all, on success or failure. */
Collection *hm_collection_from_json_in (hm_arena_t *arena, const char *json, size_t len,
                                        char *errbuf, size_t errlen);

/* Checks a protobuf-decoded Collection for what protobuf-c lets through:
   an unknown enum, a missing payload or parameter (protobuf-c enforces the
   required fields on unpack). 0 or -1 with a reason. */
int hm_collection_check (const Collection *c, char *errbuf, size_t errlen);

#endif
