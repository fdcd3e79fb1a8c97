/* Counts heap allocations of a process, for bench/serve.py's mallocs per
 * request. Built at run time and loaded with LD_PRELOAD:
 *
 *   cc -O2 -shared -fPIC -o malloc_count.so bench/malloc_count.c -ldl -lpthread
 *   MALLOC_COUNT_FILE=/tmp/count LD_PRELOAD=./malloc_count.so loom serve ...
 *
 * malloc, calloc, realloc, reallocarray, posix_memalign, aligned_alloc,
 * memalign, valloc and pvalloc each count one allocation (realloc too,
 * whatever it does); free counts one free. Each wrapper hands the call to
 * glibc's allocator through its exported __libc_* entry points (glibc 2.36
 * has them), not dlsym, which may itself allocate and so recurse. The
 * counters are relaxed atomics, shared by every thread.
 *
 * With MALLOC_COUNT_FILE set, a thread started by the constructor writes
 * "ALLOCATIONS FREES\n" to that file every 50 ms (to FILE.tmp, then
 * rename(), so a reader never sees half a line). That thread takes no
 * signals and allocates nothing itself: the numbers are formatted by hand
 * and written with open/write/rename. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

static uint64_t allocs, frees;

static inline void count_alloc(void)
{
    __atomic_fetch_add(&allocs, 1, __ATOMIC_RELAXED);
}

void *malloc(size_t size)
{
    count_alloc();
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    count_alloc();
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    count_alloc();
    return __libc_realloc(p, size);
}

void *reallocarray(void *p, size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    count_alloc();
    return __libc_realloc(p, bytes);
}

void free(void *p)
{
    if (p) __atomic_fetch_add(&frees, 1, __ATOMIC_RELAXED);
    __libc_free(p);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
    count_alloc();
    void *p = __libc_memalign(align, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t size)
{
    if (align == 0 || (align & (align - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    count_alloc();
    return __libc_memalign(align, size);
}

void *memalign(size_t align, size_t size)
{
    count_alloc();
    return __libc_memalign(align, size);
}

void *valloc(size_t size)
{
    count_alloc();
    return __libc_valloc(size);
}

void *pvalloc(size_t size)
{
    count_alloc();
    return __libc_pvalloc(size);
}

static char path[4096], tmp_path[4100];

static size_t put_u64(char *out, uint64_t v)
{
    char digits[24];
    size_t n = 0, i;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    return n;
}

static void *writer(void *arg)
{
    (void)arg;
    struct timespec period = {0, 50 * 1000 * 1000};
    for (;;) {
        char line[64];
        size_t n = put_u64(line, __atomic_load_n(&allocs, __ATOMIC_RELAXED));
        line[n++] = ' ';
        n += put_u64(line + n, __atomic_load_n(&frees, __ATOMIC_RELAXED));
        line[n++] = '\n';
        int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            ssize_t w = write(fd, line, n);
            close(fd);
            if (w == (ssize_t)n) rename(tmp_path, path);
        }
        nanosleep(&period, NULL);
    }
    return NULL;
}

__attribute__((constructor)) static void start(void)
{
    const char *file = getenv("MALLOC_COUNT_FILE");
    if (!file || !*file || strlen(file) >= sizeof path) return;
    memcpy(path, file, strlen(file) + 1);
    memcpy(tmp_path, path, strlen(path));
    memcpy(tmp_path + strlen(path), ".tmp", 5);
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* the writer takes no signals: a program that blocks SIGTERM to read it
     * from a signalfd must not see it delivered to this thread instead */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_create(&t, &attr, writer, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}
