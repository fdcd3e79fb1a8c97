/* Per-thread recycling of freed blocks, for OpenSSL (CRYPTO_set_mem_
 * functions) and for libloom's connections (loom_config.mem): a block
 * freed goes to its thread's list for its size instead of back to malloc,
 * and the next request of that size takes it. Like h2o's recycling
 * allocators: a connection can give its buffers back whenever it goes
 * quiet (loom_conn_shrink) without costing a malloc when it wakes. */
#ifndef LOOM_SRC_POOL_H
#define LOOM_SRC_POOL_H

#include <stddef.h>

#include "loom/loom.h"

/* Sets OpenSSL's allocator to the pool (before anything touches OpenSSL). */
void pool_init(void);

void *pool_alloc(size_t n);
void *pool_realloc(void *p, size_t n);
void pool_free(void *p);

/* The pool as a libloom allocator. */
extern const loom_mem pool_loom_mem;

#endif
