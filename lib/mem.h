/* Internal: allocation through the caller's loom_mem. */
#ifndef LOOM_LIB_MEM_H
#define LOOM_LIB_MEM_H

#include "loom/loom.h"

static inline void *loom_malloc(const loom_mem *m, size_t n)
{
    return m->malloc(n, m->user);
}

static inline void *loom_realloc(const loom_mem *m, void *p, size_t n)
{
    return m->realloc(p, n, m->user);
}

static inline void loom_free(const loom_mem *m, void *p)
{
    if (p) m->free(p, m->user);
}

#endif
