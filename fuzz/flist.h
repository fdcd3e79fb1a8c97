/* The fuzz harnesses' list of decoded fields, copied out of the decoder's
 * callbacks (their pointers do not outlive the callback). */
#ifndef LOOM_FUZZ_FLIST_H
#define LOOM_FUZZ_FLIST_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loom/hpack.h"

typedef struct {
    size_t noff, nlen, voff, vlen;
    uint8_t flags; /* LOOM_HPACK_NEVER_INDEXED */
    loom_hpack_rep rep;
} fent;

typedef struct {
    fent *f;
    size_t n, cap;
    uint8_t *buf;
    size_t used, bcap;
} flist;

static inline void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) abort();
    return p;
}

static inline size_t flist_put(flist *l, const uint8_t *s, size_t n)
{
    if (l->used + n > l->bcap || !l->buf) { /* never NULL: NULL + 0 is undefined */
        while (l->used + n > l->bcap)
            l->bcap = l->bcap ? 2 * l->bcap : 1024;
        l->buf = xrealloc(l->buf, l->bcap);
    }
    if (n) memcpy(l->buf + l->used, s, n);
    l->used += n;
    return l->used - n;
}

static inline void flist_add(flist *l, const uint8_t *name, size_t nlen, const uint8_t *value,
                             size_t vlen, uint8_t flags, loom_hpack_rep rep)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->f = xrealloc(l->f, l->cap * sizeof *l->f);
    }
    fent *e = &l->f[l->n++];
    e->noff = flist_put(l, name, nlen);
    e->nlen = nlen;
    e->voff = flist_put(l, value, vlen);
    e->vlen = vlen;
    e->flags = flags;
    e->rep = rep;
}

static inline void flist_free(flist *l)
{
    free(l->f);
    free(l->buf);
    memset(l, 0, sizeof(*l));
}

/* The harnesses' shared input format: after the item byte c, a block of c
 * octets (c < 0xfd), or for c == 0xfe a 2-octet length; cut short where the
 * input ends. Returns 0 when the input ends inside the length. */
static inline int fuzz_block_len(uint8_t c, const uint8_t **p, const uint8_t *end, size_t *n)
{
    *n = c;
    if (c == 0xfe) {
        if (end - *p < 2) return 0;
        *n = (size_t)(*p)[0] << 8 | (*p)[1];
        *p += 2;
    }
    if (*n > (size_t)(end - *p)) *n = (size_t)(end - *p);
    return 1;
}

#endif
