/* Internal: the HPACK static table. */
#ifndef LOOM_LIB_STATIC_TABLE_H
#define LOOM_LIB_STATIC_TABLE_H

#include <string.h>

#include "loom/hpack_lowlevel.h"

extern const loom_hpack_field loom__hpack_static[LOOM_HPACK_STATIC_ENTRIES + 1];

uint32_t loom__hpack_static_name(const uint8_t *name, size_t len, uint32_t *count);

/* Equality of the short strings of header fields, as overlapping word
 * loads rather than a call to memcmp (it is on the encoder's hot path). */
static inline int loom__same(const uint8_t *a, const uint8_t *b, size_t n)
{
    /* whole words, the last one overlapping; short strings by two
     * overlapping halves */
    if (n >= 8) {
        uint64_t x, y;
        for (size_t i = 0; i + 8 <= n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y) return 0;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t x, y, u, v;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        memcpy(&u, a + n - 4, 4);
        memcpy(&v, b + n - 4, 4);
        return x == y && u == v;
    }
    return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

#endif
