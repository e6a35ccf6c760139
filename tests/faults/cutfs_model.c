/*  cutfs_model: cutfs's in-memory filesystem (see cutfs_model.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strchrnul */
#endif
#include "cutfs_model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

cutfs_state_t cutfs_state;

void
cutfs_touch (node_t *n)
{
    clock_gettime (CLOCK_REALTIME, &n->mtime);
}

int
cutfs_bytes_resize (cutfs_bytes_t *b, size_t len)
{
    if (len > b->cap) {
        size_t cap = b->cap ? b->cap : CUTFS_PAGE;
        while (cap < len)
            cap *= 2;
        unsigned char *d = realloc (b->data, cap);
        if (!d)
            return -ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    if (len > b->len)
        memset (b->data + b->len, 0, len - b->len);
    b->len = len;
    return 0;
}

node_t *
cutfs_node_new (mode_t mode)
{
    node_t *n = calloc (1, sizeof *n);
    if (!n)
        return NULL;
    n->mode = mode;
    n->ino = ++cutfs_state.next_ino;
    cutfs_touch (n);
    n->all_next = cutfs_state.all;
    cutfs_state.all = n;
    return n;
}

bool
cutfs_is_dir (const node_t *n)
{
    return S_ISDIR (n->mode);
}

void
cutfs_mark_dirty (node_t *n, size_t lo, size_t hi)
{
    if (n->dirty_hi == 0) {
        n->dirty_lo = lo;
        n->dirty_hi = hi;
        return;
    }
    if (lo < n->dirty_lo)
        n->dirty_lo = lo;
    if (hi > n->dirty_hi)
        n->dirty_hi = hi;
}

cutfs_entry_t *
cutfs_find (cutfs_entries_t *es, const char *name, size_t len)
{
    for (size_t i = 0; i < es->n; i++)
        if (strlen (es->v[i].name) == len && memcmp (es->v[i].name, name, len) == 0)
            return &es->v[i];
    return NULL;
}

int
cutfs_add (cutfs_entries_t *es, const char *name, node_t *node)
{
    if (es->n == es->cap) {
        size_t cap = es->cap ? es->cap * 2 : 8;
        cutfs_entry_t *v = realloc (es->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        es->v = v;
        es->cap = cap;
    }
    char *copy = strdup (name);
    if (!copy)
        return -ENOMEM;
    es->v[es->n++] = (cutfs_entry_t){copy, node};
    return 0;
}

void
cutfs_remove (cutfs_entries_t *es, cutfs_entry_t *e)
{
    free (e->name);
    *e = es->v[--es->n];
}

static void
s_entries_clear (cutfs_entries_t *es)
{
    for (size_t i = 0; i < es->n; i++)
        free (es->v[i].name);
    es->n = 0;
}

int
cutfs_entries_copy (cutfs_entries_t *dst, const cutfs_entries_t *src)
{
    s_entries_clear (dst);
    for (size_t i = 0; i < src->n; i++)
        if (cutfs_add (dst, src->v[i].name, src->v[i].node) != 0)
            return -ENOMEM;
    return 0;
}

/* Resolves a path through the live names. */
node_t *
cutfs_lookup (const char *path)
{
    node_t *n = cutfs_state.root;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *end = strchrnul (p, '/');
        if (!cutfs_is_dir (n))
            return NULL;
        cutfs_entry_t *e = cutfs_find (&n->ents, p, (size_t)(end - p));
        if (!e)
            return NULL;
        n = e->node;
        p = end;
    }
    return n;
}

/* The parent directory of path and the last component's name. */
int
cutfs_parent (const char *path, node_t **dir, const char **name)
{
    const char *slash = strrchr (path, '/');
    if (!slash || !slash[1])
        return -EINVAL;
    if (strlen (slash + 1) > CUTFS_NAME_MAX)
        return -ENAMETOOLONG;
    char *prefix = strndup (path, (size_t)(slash - path));
    if (!prefix)
        return -ENOMEM;
    node_t *d = cutfs_lookup (prefix);
    free (prefix);
    if (!d)
        return -ENOENT;
    if (!cutfs_is_dir (d))
        return -ENOTDIR;
    *dir = d;
    *name = slash + 1;
    return 0;
}

node_t *
cutfs_clone (const node_t *src)
{
    node_t *n = cutfs_node_new (src->mode);
    if (!n)
        return NULL;
    if (cutfs_bytes_resize (&n->live, src->live.len) != 0 ||
        cutfs_bytes_resize (&n->durable, src->durable.len) != 0 ||
        cutfs_entries_copy (&n->ents, &src->ents) != 0 ||
        cutfs_entries_copy (&n->durable_ents, &src->durable_ents) != 0)
        return NULL;
    if (src->live.len)
        memcpy (n->live.data, src->live.data, src->live.len);
    if (src->durable.len)
        memcpy (n->durable.data, src->durable.data, src->durable.len);
    n->dirty_lo = src->dirty_lo;
    n->dirty_hi = src->dirty_hi;
    return n;
}

void
cutfs_node_free (node_t *n)
{
    free (n->live.data);
    free (n->durable.data);
    s_entries_clear (&n->ents);
    s_entries_clear (&n->durable_ents);
    free (n->ents.v);
    free (n->durable_ents.v);
    free (n);
}
