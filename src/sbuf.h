/* Response bodies loom serve makes itself (a folder's listing, several
 * ranges, the status page and metrics): built in a growable buffer, then
 * handed over as an anonymous in-memory file, sent like any other file. */
#ifndef LOOM_SRC_SBUF_H
#define LOOM_SRC_SBUF_H

#include <stddef.h>

typedef struct {
    char *p;
    size_t len, cap;
    int failed; /* out of memory: what followed was dropped */
} sbuf;

void sb_put(sbuf *b, const void *p, size_t n);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* p[0..n) as a file (memfd): a descriptor at offset 0, or -1. */
int mem_file(const void *p, size_t n);

/* The buffer as a file (mem_file), or -1 (also when it failed). Frees b. */
int sb_file(sbuf *b);

#endif
