/* Internal: the one growable, bounded buffer of the library, and the
 * growth rule every growing array uses (doubling, capped at a bound that
 * the caller's configuration sets). Nothing in lib/ grows memory another
 * way. */
#ifndef LOOM_LIB_BUF_H
#define LOOM_LIB_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"

/* Grows *p (an array of *cap elements of elem octets) to hold at least
 * need elements: the capacity doubles from a first size of 16 elements (or
 * need), never past max elements. Returns 0, LOOM_ERR_LIMIT when need is
 * above max (nothing changes), or LOOM_ERR_NOMEM. */
int loom__grow(const loom_mem *m, void **p, size_t *cap, size_t need, size_t elem, size_t max);

/* Octets with a length. */
typedef struct {
    uint8_t *p;
    size_t len, cap;
} loom__buf;

/* Room for extra more octets past len, the whole never above max. */
static inline int loom__buf_reserve(const loom_mem *m, loom__buf *b, size_t extra, size_t max)
{
    if (b->len + extra <= b->cap && b->p) return b->len + extra <= max ? 0 : LOOM_ERR_LIMIT;
    return loom__grow(m, (void **)&b->p, &b->cap, b->len + extra, 1, max);
}

int loom__buf_append(const loom_mem *m, loom__buf *b, const void *src, size_t n, size_t max);

static inline void loom__buf_free(const loom_mem *m, loom__buf *b)
{
    loom_free(m, b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

#endif
