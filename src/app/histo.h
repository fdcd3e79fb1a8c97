/* A latency histogram in constant memory, HdrHistogram's layout: values
 * (microseconds) in buckets that double in width, each split in
 * HISTO_SUB linear sub-buckets, so every value is kept within 1/HISTO_SUB
 * of itself (0.1 %) from 1 us to over an hour. Merging is adding. */
#ifndef LOOM_APP_HISTO_H
#define LOOM_APP_HISTO_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define HISTO_SUB_BITS 10
#define HISTO_SUB      (1u << HISTO_SUB_BITS)
#define HISTO_BUCKETS  24 /* up to 2^(24+10) us, about 4.8 hours */

typedef struct {
    uint64_t n[HISTO_BUCKETS][HISTO_SUB];
    uint64_t count, min, max;
    double sum, sum2;
} histo;

static inline void histo_reset(histo *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

static inline void histo_slot(uint64_t v, unsigned *b, unsigned *s)
{
    if (v < HISTO_SUB) {
        *b = 0;
        *s = (unsigned)v;
        return;
    }
    unsigned top = 63u - (unsigned)__builtin_clzll(v); /* >= HISTO_SUB_BITS */
    unsigned shift = top - HISTO_SUB_BITS + 1;
    *b = shift < HISTO_BUCKETS ? shift : HISTO_BUCKETS - 1;
    if (shift >= HISTO_BUCKETS) {
        *s = HISTO_SUB - 1;
        return;
    }
    *s = (unsigned)(v >> shift);
}

static inline void histo_add(histo *h, uint64_t v)
{
    unsigned b, s;
    histo_slot(v, &b, &s);
    h->n[b][s]++;
    h->count++;
    if (v < h->min) h->min = v;
    if (v > h->max) h->max = v;
    h->sum += (double)v;
    h->sum2 += (double)v * (double)v;
}

static inline void histo_merge(histo *into, const histo *from)
{
    for (unsigned b = 0; b < HISTO_BUCKETS; b++)
        for (unsigned s = 0; s < HISTO_SUB; s++)
            into->n[b][s] += from->n[b][s];
    into->count += from->count;
    if (from->min < into->min) into->min = from->min;
    if (from->max > into->max) into->max = from->max;
    into->sum += from->sum;
    into->sum2 += from->sum2;
}

/* The value below which a fraction q (0..1) of the samples lie: the
 * middle of the sub-bucket where that sample falls. */
static inline uint64_t histo_quantile(const histo *h, double q)
{
    if (!h->count) return 0;
    uint64_t want = (uint64_t)ceil(q * (double)h->count);
    if (want < 1) want = 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < HISTO_BUCKETS; b++)
        for (unsigned s = 0; s < HISTO_SUB; s++) {
            seen += h->n[b][s];
            if (seen >= want) {
                if (b == 0) return s;
                unsigned shift = b - 1;
                uint64_t lo = (uint64_t)s << (shift + 1), width = 1ull << (shift + 1);
                uint64_t v = lo + width / 2;
                return v > h->max ? h->max : v < h->min ? h->min : v;
            }
        }
    return h->max;
}

static inline double histo_mean(const histo *h)
{
    return h->count ? h->sum / (double)h->count : 0;
}

static inline double histo_sd(const histo *h)
{
    if (h->count < 2) return 0;
    double m = histo_mean(h), var = h->sum2 / (double)h->count - m * m;
    return var > 0 ? sqrt(var) : 0;
}

#endif
