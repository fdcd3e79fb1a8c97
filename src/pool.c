/* Per-thread recycling of freed blocks (see pool.h).
 *
 * Sizes are malloc's own (malloc_usable_size: no header of ours, no
 * rounding beyond glibc's 16-octet steps up to 1 KiB, so an idle
 * connection's objects cost what they cost with plain malloc); above that,
 * powers of two up to 64 KiB. A freed block serves any later request it is
 * large enough for. Bounded: at most POOL_KEEP blocks per size and
 * POOL_BYTES in all per thread; the rest goes back to malloc, and a
 * thread's lists are freed when it ends. */
#define _GNU_SOURCE
#include "pool.h"

#include <malloc.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_MAX  1032 /* usable octets of the largest 16-step class */
#define NSMALL     66   /* classes 2..65: chunks of c*16 octets, c*16 - 8 usable */
#define LARGE_MIN  11   /* then chunks of 2^11 .. 2^16 octets */
#define LARGE_MAX  16
#define NCLASS     (NSMALL + LARGE_MAX - LARGE_MIN + 1)
#define POOL_KEEP  32
#define POOL_BYTES (512u << 10)

typedef struct {
    void *free[NCLASS];
    int n[NCLASS];
    size_t bytes;
} pool;

static _Thread_local pool tpool;
static _Thread_local int tpool_keyed;
static pthread_key_t pool_key;
static int pool_ready;

/* At a thread's end (a pthread key's destructor). OpenSSL frees its own
 * per-thread state from destructors too, maybe after this one: a block
 * freed then keys the thread again, and the destructors run another round
 * (POSIX allows up to PTHREAD_DESTRUCTOR_ITERATIONS). */
static void pool_drain(void *arg)
{
    pool *p = arg;
    tpool_keyed = 0;
    for (int c = 0; c < NCLASS; c++)
        while (p->free[c]) {
            void *b = p->free[c];
            memcpy(&p->free[c], b, sizeof(void *));
            free(b);
        }
    memset(p, 0, sizeof(*p));
}

static size_t class_usable(int c)
{
    return c < NSMALL ? (size_t)c * 16 - 8 : ((size_t)1 << (c - NSMALL + LARGE_MIN)) - 8;
}

/* The class a request of n octets is served from; -1: not pooled. */
static int class_of_request(size_t n)
{
    if (n <= SMALL_MAX) {
        int c = (int)((n + 8 + 15) / 16);
        return c < 2 ? 2 : c;
    }
    for (int k = LARGE_MIN; k <= LARGE_MAX; k++)
        if (n + 8 <= (size_t)1 << k) return NSMALL + k - LARGE_MIN;
    return -1;
}

/* The class a block of u usable octets can serve; -1: none. */
static int class_of_block(size_t u)
{
    if (u < (((size_t)1 << LARGE_MIN) - 8)) {
        int c = (int)((u + 8) / 16);
        return c < 2 ? -1 : c < NSMALL ? c : NSMALL - 1;
    }
    for (int k = LARGE_MAX; k >= LARGE_MIN; k--)
        if (u + 8 >= (size_t)1 << k) return NSMALL + k - LARGE_MIN;
    return -1;
}

void *pool_alloc(size_t n)
{
    int c = class_of_request(n);
    if (c < 0) return malloc(n);
    void *b = tpool.free[c];
    if (b) {
        memcpy(&tpool.free[c], b, sizeof(void *));
        tpool.n[c]--;
        tpool.bytes -= class_usable(c);
        return b;
    }
    return malloc(class_usable(c));
}

/* A block of u usable octets back to its list (or to malloc). */
static void pool_put(void *ptr, size_t u)
{
    int c = class_of_block(u);
    if (pool_ready && c >= 0 && tpool.n[c] < POOL_KEEP &&
        tpool.bytes + class_usable(c) <= POOL_BYTES) {
        if (!tpool_keyed) { /* the thread's lists are freed when it ends */
            tpool_keyed = 1;
            pthread_setspecific(pool_key, &tpool);
        }
        memcpy(ptr, &tpool.free[c], sizeof(void *));
        tpool.free[c] = ptr;
        tpool.n[c]++;
        tpool.bytes += class_usable(c);
        return;
    }
    free(ptr);
}

void pool_free(void *ptr)
{
    if (ptr) pool_put(ptr, malloc_usable_size(ptr));
}

void *pool_realloc(void *ptr, size_t n)
{
    if (!ptr) return pool_alloc(n);
    size_t u = malloc_usable_size(ptr);
    /* fits, and not much too large */
    if (n <= u && (u <= SMALL_MAX ? n + 256 > u : n > u / 2)) return ptr;
    if (class_of_request(n) < 0 && u > ((size_t)1 << LARGE_MAX)) return realloc(ptr, n);
    void *q = pool_alloc(n);
    if (!q) return NULL;
    memcpy(q, ptr, u < n ? u : n);
    pool_free(ptr);
    return q;
}

/* OpenSSL: small blocks only. Its larger ones are mostly kept for a
 * connection's life (or released when it goes quiet), and rounded up to a
 * power of two they would cost an idle TLS connection more. */
static void *ssl_alloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    return n <= SMALL_MAX ? pool_alloc(n) : malloc(n);
}

static void ssl_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    if (!p) return;
    size_t u = malloc_usable_size(p); /* once: the handshake frees thousands */
    if (u > SMALL_MAX)
        free(p);
    else
        pool_put(p, u);
}

static void *ssl_realloc(void *p, size_t n, const char *file, int line)
{
    if (!p) return ssl_alloc(n, file, line);
    size_t u = malloc_usable_size(p);
    if (n > SMALL_MAX && u > SMALL_MAX) return realloc(p, n); /* neither is pooled */
    if (n <= u && n + 256 > u) return p;                      /* fits, and not much too large */
    void *q = ssl_alloc(n, file, line);
    if (!q) return NULL;
    memcpy(q, p, u < n ? u : n);
    ssl_free(p, file, line);
    return q;
}

static void *loom_alloc_cb(size_t n, void *user)
{
    (void)user;
    return pool_alloc(n);
}

static void *loom_realloc_cb(void *p, size_t n, void *user)
{
    (void)user;
    return pool_realloc(p, n);
}

static void loom_free_cb(void *p, void *user)
{
    (void)user;
    pool_free(p);
}

const loom_mem pool_loom_mem = {loom_alloc_cb, loom_realloc_cb, loom_free_cb, NULL};

void pool_init(void)
{
#ifdef __GLIBC__
    if (pthread_key_create(&pool_key, pool_drain) != 0) return;
    pool_ready = 1;
    CRYPTO_set_mem_functions(ssl_alloc, ssl_realloc, ssl_free);
#endif
}
