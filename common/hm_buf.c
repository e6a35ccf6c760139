/*  hm_buf: see hm_buf.h. */
#include "hm_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
hm_buf_init (hm_buf_t *self, size_t limit)
{
    memset (self, 0, sizeof *self);
    self->limit = limit ? limit : SIZE_MAX - 1;
}

void
hm_buf_free (hm_buf_t *self)
{
    free (self->data);
    self->data = NULL;
    self->len = self->cap = 0;
}

void
hm_buf_reset (hm_buf_t *self)
{
    self->len = 0;
    if (self->data)
        self->data[0] = '\0';
}

int
hm_buf_reserve (hm_buf_t *self, size_t extra)
{
    if (extra > self->limit - self->len)
        return -1;
    size_t need = self->len + extra;
    if (need <= self->cap && self->data)
        return 0;
    size_t cap = self->cap ? self->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 4 ? need : cap * 2;
    /* Doubling must not allocate past the bound (need is within it). */
    if (cap > self->limit)
        cap = self->limit;
    char *data = realloc (self->data, cap + 1);
    if (!data)
        return -1;
    self->data = data;
    self->cap = cap;
    return 0;
}

int
hm_buf_append (hm_buf_t *self, const void *data, size_t len)
{
    if (hm_buf_reserve (self, len) != 0)
        return -1;
    if (len)
        memcpy (self->data + self->len, data, len);
    self->len += len;
    self->data[self->len] = '\0';
    return 0;
}

int
hm_buf_append_at_most (hm_buf_t *self, size_t min, size_t max,
                       char *(*write) (char *w, const void *arg), const void *arg)
{
    if (hm_buf_reserve (self, max) == 0) {
        char *end = write (self->data + self->len, arg);
        self->len = (size_t)(end - self->data);
        self->data[self->len] = '\0';
        return 0;
    }
    if (min > self->limit - self->len)
        return -1; /* cannot fit however it comes out: no scratch copy */
    char *tmp = malloc (max);
    if (!tmp)
        return -1;
    char *end = write (tmp, arg);
    int rc = hm_buf_append (self, tmp, (size_t)(end - tmp));
    free (tmp);
    return rc;
}

int
hm_buf_putc (hm_buf_t *self, char c)
{
    return hm_buf_append (self, &c, 1);
}

int
hm_buf_puts (hm_buf_t *self, const char *s)
{
    return hm_buf_append (self, s, strlen (s));
}

int
hm_buf_printf (hm_buf_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (NULL, 0, fmt, ap);
    va_end (ap);
    if (n < 0 || hm_buf_reserve (self, (size_t) n) != 0)
        return -1;
    va_start (ap, fmt);
    vsnprintf (self->data + self->len, (size_t) n + 1, fmt, ap);
    va_end (ap);
    self->len += (size_t) n;
    return 0;
}

char *
hm_buf_steal (hm_buf_t *self, size_t *len_p)
{
    if (hm_buf_reserve (self, 0) != 0)
        return NULL;
    char *data = self->data;
    if (len_p)
        *len_p = self->len;
    self->data = NULL;
    self->len = self->cap = 0;
    return data;
}
