/* What the fuzz harnesses share: an allocation that cannot fail quietly,
 * and their input format. Decoded fields go into the library's own
 * loom_hpack_list (loom_hpack_decode_block). */
#ifndef LOOM_FUZZ_UTIL_H
#define LOOM_FUZZ_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loom/conn.h"
#include "loom/hpack.h"

static inline void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) abort();
    return p;
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

/* Takes everything an engine has to send, as a socket would; its output
 * must stay bounded by its input. */
static inline void fuzz_drain(loom_conn *c)
{
    loom_out out[8];
    size_t n, total = 0;
    while ((n = loom_conn_send(c, out, 8)) > 0) {
        size_t len = 0;
        for (size_t i = 0; i < n; i++)
            len += out[i].len;
        loom_conn_sent(c, len);
        total += len;
        if (total > (64u << 20)) abort();
    }
}

#endif
