/*  cutfs_cut: the power cut of cutfs (see cutfs_cut.h and cutfs.c's top). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include "cutfs_cut.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cutfs_model.h"

/* xorshift64*: reproducible from the seed, no global libc state. */
static uint64_t
s_rand (void)
{
    uint64_t x = cutfs_state.rand_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    cutfs_state.rand_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static bool
s_coin (void)
{
    return (s_rand () >> 33) & 1;
}

/* A file's image after the cut, into live and durable alike. */
static int
s_cut_file (node_t *n, bool random)
{
    cutfs_bytes_t *live = &n->live, *dur = &n->durable;
    size_t lo = n->dirty_lo, hi = n->dirty_hi;
    size_t len = dur->len;
    if (hi > 0 && random) {
        /* Each dirty page keeps its new bytes or its old ones; a grown
           file ends after the last page that kept new bytes. */
        size_t end_new = 0;
        for (size_t p = lo / CUTFS_PAGE * CUTFS_PAGE; p < hi && p < live->len; p += CUTFS_PAGE) {
            size_t e = p + CUTFS_PAGE < live->len ? p + CUTFS_PAGE : live->len;
            size_t from = p < lo ? lo : p, to = e < hi ? e : hi;
            if (!s_coin ()) {
                cutfs_state.last.bytes_dropped += to - from;
                continue;
            }
            cutfs_state.last.pages_kept++;
            if (to > dur->len && cutfs_bytes_resize (dur, to) != 0)
                return -ENOMEM;
            memcpy (dur->data + from, live->data + from, to - from);
            if (to > end_new)
                end_new = to;
        }
        len = end_new > len ? end_new : len;
        if (live->len < len && s_coin ())
            len = live->len; /* a shrinking truncate that landed */
    }
    else if (hi > 0) {
        size_t to = hi < live->len ? hi : live->len;
        if (to > lo)
            cutfs_state.last.bytes_dropped += to - lo;
    }
    if (cutfs_bytes_resize (dur, len) != 0 || cutfs_bytes_resize (live, len) != 0)
        return -ENOMEM;
    if (len)
        memcpy (live->data, dur->data, len);
    n->dirty_lo = n->dirty_hi = 0;
    return 0;
}

/* Settles dir's names (durable, or live when random says they landed)
   and, below it, every directory and file reached. */
static int
s_cut_dir (node_t *dir, const char *path, bool random)
{
    cutfs_entries_t *keep = &dir->durable_ents;
    if (random && s_coin ())
        keep = &dir->ents;
    for (size_t i = 0; i < dir->ents.n; i++)
        if (!cutfs_find (keep, dir->ents.v[i].name, strlen (dir->ents.v[i].name))) {
            cutfs_state.last.names_lost++;
            fprintf (stderr, "cutfs: cut: %s/%s lost\n", path, dir->ents.v[i].name);
        }
    bool changed = keep->n != dir->ents.n;
    for (size_t i = 0; !changed && i < keep->n; i++) {
        cutfs_entry_t *e = cutfs_find (&dir->ents, keep->v[i].name, strlen (keep->v[i].name));
        changed = !e || e->node != keep->v[i].node;
    }
    if (changed && keep == &dir->durable_ents)
        cutfs_state.last.dirs_reverted++;
    if (keep == &dir->durable_ents ? cutfs_entries_copy (&dir->ents, keep) != 0
                                   : cutfs_entries_copy (&dir->durable_ents, keep) != 0)
        return -ENOMEM;
    for (size_t i = 0; i < dir->ents.n; i++) {
        node_t *child = dir->ents.v[i].node;
        if (child->walk == cutfs_state.cuts) {
            /* Reached twice (a rename between two directories that settled
               differently): the second name gets its own copy. */
            if (!(child = cutfs_clone (child)))
                return -ENOMEM;
            dir->ents.v[i].node = dir->durable_ents.v[i].node = child;
        }
        child->walk = cutfs_state.cuts;
        int rc;
        if (cutfs_is_dir (child)) {
            char *sub;
            if (asprintf (&sub, "%s/%s", path, dir->ents.v[i].name) < 0)
                return -ENOMEM;
            rc = s_cut_dir (child, sub, random);
            free (sub);
        }
        else
            rc = s_cut_file (child, random);
        if (rc != 0)
            return rc;
        if (!cutfs_is_dir (child))
            cutfs_state.last.files++;
    }
    return 0;
}

/* Frees every node the cut did not reach and nobody holds open. */
static void
s_sweep (void)
{
    node_t **link = &cutfs_state.all;
    while (*link) {
        node_t *n = *link;
        if (n->walk == cutfs_state.cuts || n->opened || n == cutfs_state.root) {
            link = &n->all_next;
            continue;
        }
        *link = n->all_next;
        cutfs_node_free (n);
    }
}

/* What reading /.cutfs gives: the power state, then the last cut's counters. */
void
cutfs_report (void)
{
    snprintf (cutfs_state.report, sizeof cutfs_state.report,
              "off %d\ncuts %" PRIu64 "\nmode %s\nbytes_dropped %" PRIu64 "\npages_kept %" PRIu64
              "\ndirs_reverted %" PRIu64 "\nnames_lost %" PRIu64 "\nfiles %" PRIu64
              "\nfsyncs %" PRIu64 "\ndirsyncs %" PRIu64 "\n",
              cutfs_state.off, cutfs_state.cuts, cutfs_state.last.random ? "random" : "drop",
              cutfs_state.last.bytes_dropped, cutfs_state.last.pages_kept,
              cutfs_state.last.dirs_reverted, cutfs_state.last.names_lost, cutfs_state.last.files,
              cutfs_state.fsyncs, cutfs_state.dirsyncs);
}

static int
s_cut (bool random, uint64_t seed)
{
    memset (&cutfs_state.last, 0, sizeof cutfs_state.last);
    cutfs_state.off = false;
    cutfs_state.rand_state = seed ? seed : 0x9E3779B97F4A7C15ULL;
    cutfs_state.cuts++;
    cutfs_state.root->walk = cutfs_state.cuts;
    int rc = s_cut_dir (cutfs_state.root, "", random);
    s_sweep ();
    cutfs_state.last.random = random;
    cutfs_report ();
    fprintf (stderr, "cutfs: %s", cutfs_state.report);
    return rc;
}

int
cutfs_ctl_command (const char *buf, size_t size)
{
    char cmd[64] = {0};
    memcpy (cmd, buf, size < sizeof cmd - 1 ? size : sizeof cmd - 1);
    uint64_t seed = 0;
    if (strcmp (cmd, "off") == 0) {
        cutfs_state.off = true;
        fprintf (stderr, "cutfs: power off\n");
        return 0;
    }
    if (sscanf (cmd, "off after %" SCNu64, &cutfs_state.arm) == 1)
        return 0;
    if (strncmp (cmd, "cut drop", 8) == 0)
        return s_cut (false, 0);
    if (sscanf (cmd, "cut random %" SCNu64, &seed) == 1)
        return s_cut (true, seed);
    return -EINVAL;
}
