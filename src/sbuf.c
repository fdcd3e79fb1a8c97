/* Bodies made here (see sbuf.h). */
#define _GNU_SOURCE
#include "sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Room for n more octets (doubling from 4 KiB); 0, or -1 (failed). */
static int room(sbuf *b, size_t n)
{
    if (b->failed) return -1;
    if (b->len + n <= b->cap) return 0;
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->len + n)
        cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) {
        b->failed = 1;
        return -1;
    }
    b->p = q;
    b->cap = cap;
    return 0;
}

void sb_put(sbuf *b, const void *p, size_t n)
{
    if (room(b, n) < 0) return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (room(b, (size_t)n + 1) < 0) return; /* + 1: vsnprintf's NUL, not kept */
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

int mem_file(const void *p, size_t n)
{
    int fd = memfd_create("loom-body", MFD_CLOEXEC);
    for (size_t done = 0; fd >= 0 && done < n;) {
        ssize_t k = write(fd, (const char *)p + done, n - done);
        if (k <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)k;
    }
    return fd;
}

int sb_file(sbuf *b)
{
    int fd = b->failed ? -1 : mem_file(b->p, b->len);
    free(b->p);
    b->p = NULL;
    return fd;
}
