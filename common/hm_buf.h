/*  hm_buf: a growable byte buffer with a hard upper bound. Appending past
    the bound fails (-1) and leaves the buffer as it was, so callers can
    turn "too big" into a clear error instead of growing without limit. */
#ifndef HM_BUF_H
#define HM_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data;   /* bytes, always NUL-terminated after len for convenience */
    size_t len;   /* bytes in use */
    size_t cap;   /* bytes allocated (excluding the NUL) */
    size_t limit; /* largest len allowed; 0 means SIZE_MAX */
} hm_buf_t;

void hm_buf_init (hm_buf_t *self, size_t limit);
void hm_buf_free (hm_buf_t *self);
void hm_buf_reset (hm_buf_t *self);
int hm_buf_reserve (hm_buf_t *self, size_t extra);
int hm_buf_append (hm_buf_t *self, const void *data, size_t len);
/* Appends what write produces at w: at least min, at most max bytes. With
   room for max it writes in place; near the bound, where the real size may
   still fit, it writes into scratch memory and appends, which fails whole. */
int hm_buf_append_at_most (hm_buf_t *self, size_t min, size_t max,
                           char *(*write) (char *w, const void *arg), const void *arg);
int hm_buf_putc (hm_buf_t *self, char c);
int hm_buf_puts (hm_buf_t *self, const char *s);
int hm_buf_printf (hm_buf_t *self, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
/* Hands the bytes to the caller (who frees them) and empties the buffer. */
char *hm_buf_steal (hm_buf_t *self, size_t *len_p);

#endif
