/* The library's growable buffers: one growth rule, always bounded. */
#include "buf.h"

#include <string.h>

int loom__grow(const loom_mem *m, void **p, size_t *cap, size_t need, size_t elem, size_t max)
{
    if (need > max) return LOOM_ERR_LIMIT;
    if (need <= *cap && *p) return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n = n > SIZE_MAX / 2 ? SIZE_MAX : n * 2;
    if (n > max) n = max;
    if (n > SIZE_MAX / elem) return LOOM_ERR_NOMEM;
    void *q = loom_realloc(m, *p, n * elem);
    if (!q) return LOOM_ERR_NOMEM;
    *p = q;
    *cap = n;
    return 0;
}

int loom__buf_append(const loom_mem *m, loom__buf *b, const void *src, size_t n, size_t max)
{
    int rc = loom__buf_reserve(m, b, n, max);
    if (rc < 0) return rc;
    if (n) memcpy(b->p + b->len, src, n);
    b->len += n;
    return 0;
}
