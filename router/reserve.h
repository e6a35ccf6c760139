/*  reserve: a file of RESERVE_BYTES the router keeps in its data directory
    so that a full disk cannot stop it from saving route state.

    Why: segments are deleted only behind every route's saved committed
    offset (server.c). On a full disk the state file could not be written,
    so no segment could ever be deleted and the disk would stay full for
    good. A failed save releases the reserve and tries once more; while
    it is out appends are refused, so the room is the saves' alone, and it
    is made again once every route's state is saved (server_disk.c). */
#ifndef HM_RESERVE_H
#define HM_RESERVE_H

#include <stdbool.h>

#define RESERVE_BYTES (1u << 20)

/* Makes path RESERVE_BYTES long (blocks allocated, durable); 0 if made or
   already there, -1 (errno) if the disk has not the room. */
int reserve_make (const char *path);
/* Deletes path; true if it was there. */
bool reserve_release (const char *path);

#endif
