/* Helpers shared by the HPACK tests: hex, a field collector for the decoder
 * callback, a hand encoder for building blocks independently of loom's
 * encoder, and a counting allocator. Include after <cmocka.h>. */
#ifndef LOOM_TESTS_HPACK_UTIL_H
#define LOOM_TESTS_HPACK_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/hpack.h"

/* ---- hex ---- */

static inline int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A new buffer with the bytes of hex string s (freed by the caller), or NULL
 * when s is not hex. Never returns a zero-size allocation. */
static inline uint8_t *hex_decode(const char *s, size_t *n)
{
    size_t len = strlen(s);
    *n = 0;
    if (len % 2) return NULL;
    uint8_t *out = malloc(len / 2 + 1);
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *n = len / 2;
    return out;
}

/* Lowercase hex of b into a new string (freed by the caller). */
static inline char *hex_encode(const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[b[i] >> 4];
        s[2 * i + 1] = digits[b[i] & 15];
    }
    s[2 * n] = 0;
    return s;
}

/* ---- what the decoder reports: loom_hpack_decode_block() into a list ---- */

/* The tests' list of decoded fields is the library's own (zero-initialised
 * is ready: the library's default allocator). */
typedef loom_hpack_list hlist;

static inline int hfield_is(const loom_hpack_field *h, const char *name, const char *value)
{
    return h->name_len == strlen(name) && !memcmp(h->name, name, h->name_len) &&
           h->value_len == strlen(value) && !memcmp(h->value, value, h->value_len);
}

static inline int hname_is(const loom_hpack_field *h, const char *name)
{
    return h->name_len == strlen(name) && !memcmp(h->name, name, h->name_len);
}

/* Asserts that the collected list is exactly names[i]: values[i]. */
#define assert_hlist(l, pairs, count)                                                              \
    do {                                                                                           \
        assert_int_equal((l)->n, (count));                                                         \
        for (size_t i_ = 0; i_ < (size_t)(count); i_++)                                            \
            if (!hfield_is(&(l)->fields[i_], (pairs)[i_][0], (pairs)[i_][1]))                      \
                fail_msg("field %zu: got '%.*s: %.*s', want '%s: %s'", i_,                         \
                         (int)(l)->fields[i_].name_len, (const char *)(l)->fields[i_].name,        \
                         (int)(l)->fields[i_].value_len, (const char *)(l)->fields[i_].value,      \
                         (pairs)[i_][0], (pairs)[i_][1]);                                          \
    } while (0)

/* ---- a hand encoder, independent of loom's, for building test blocks ---- */

typedef struct {
    uint8_t *b;
    size_t n, cap;
} wbuf;

static inline void wb_byte(wbuf *w, uint8_t c)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 64;
        w->b = realloc(w->b, w->cap);
    }
    w->b[w->n++] = c;
}

static inline void wb_bytes(wbuf *w, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        wb_byte(w, ((const uint8_t *)p)[i]);
}

/* RFC 7541 §5.1, written from the pseudocode there. */
static inline void wb_int(wbuf *w, int prefix_bits, uint8_t pattern, uint64_t v)
{
    uint64_t max = (1u << prefix_bits) - 1;
    if (v < max) {
        wb_byte(w, (uint8_t)(pattern | v));
        return;
    }
    wb_byte(w, (uint8_t)(pattern | max));
    v -= max;
    while (v >= 128) {
        wb_byte(w, (uint8_t)(v % 128 + 128));
        v /= 128;
    }
    wb_byte(w, (uint8_t)v);
}

/* A raw (not Huffman) string literal, §5.2. */
static inline void wb_str(wbuf *w, const char *s, size_t n)
{
    wb_int(w, 7, 0x00, n);
    wb_bytes(w, s, n);
}

/* §6.2.1 literal with incremental indexing, new name. */
static inline void wb_lit_inc(wbuf *w, const char *name, const char *value, size_t value_len)
{
    wb_byte(w, 0x40);
    wb_str(w, name, strlen(name));
    wb_str(w, value, value_len);
}

/* ---- an allocator that counts (and can fail on demand) ---- */

typedef struct {
    size_t total; /* every byte ever asked for, malloc and realloc */
    size_t live;  /* bytes held now */
    size_t peak;
    size_t calls;
    size_t fail_at; /* when non-zero: the fail_at-th allocation fails */
} counting;

typedef union {
    size_t n;
    max_align_t align;
} count_hdr;

static inline int counting_fails(counting *c)
{
    c->calls++;
    return c->fail_at && c->calls == c->fail_at;
}

static inline void *counting_malloc(size_t n, void *user)
{
    counting *c = user;
    if (counting_fails(c)) return NULL;
    count_hdr *h = malloc(sizeof(*h) + n);
    if (!h) return NULL;
    h->n = n;
    c->total += n;
    c->live += n;
    if (c->live > c->peak) c->peak = c->live;
    return h + 1;
}

static inline void counting_free(void *p, void *user)
{
    counting *c = user;
    if (!p) return;
    count_hdr *h = (count_hdr *)p - 1;
    c->live -= h->n;
    free(h);
}

static inline void *counting_realloc(void *p, size_t n, void *user)
{
    counting *c = user;
    if (!p) return counting_malloc(n, user);
    if (counting_fails(c)) return NULL;
    count_hdr *h = (count_hdr *)p - 1;
    size_t old = h->n;
    count_hdr *g = realloc(h, sizeof(*g) + n);
    if (!g) return NULL;
    g->n = n;
    c->total += n;
    c->live = c->live - old + n;
    if (c->live > c->peak) c->peak = c->live;
    return g + 1;
}

static inline loom_mem counting_mem(counting *c)
{
    loom_mem m = {counting_malloc, counting_realloc, counting_free, c};
    return m;
}

#endif
