/* The event loop: epoll for sockets, a binary heap of timers. Readable in a
 * sitting, like redis's ae.c. Level-triggered: a handler that leaves data
 * unread is called again. */
#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    loop_io_cb cb;
    void *user;
    int used;
} io_slot;

typedef struct {
    uint64_t at, id;
    loop_timer_cb cb;
    void *user;
} timer;

struct loop {
    int ep;
    io_slot *io; /* by fd */
    int nio;
    timer *heap;
    size_t nheap, capheap;
    uint64_t next_id;
    int stop;
};

uint64_t loop_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

loop *loop_new(void)
{
    loop *l = calloc(1, sizeof(*l));
    if (!l) return NULL;
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    if (l->ep < 0) {
        free(l);
        return NULL;
    }
    return l;
}

void loop_free(loop *l)
{
    if (!l) return;
    close(l->ep);
    free(l->io);
    free(l->heap);
    free(l);
}

int loop_add(loop *l, int fd, uint32_t events, loop_io_cb cb, void *user)
{
    if (fd >= l->nio) {
        int n = l->nio ? l->nio : 64;
        while (n <= fd)
            n *= 2;
        io_slot *p = realloc(l->io, (size_t)n * sizeof(*p));
        if (!p) return -1;
        memset(p + l->nio, 0, (size_t)(n - l->nio) * sizeof(*p));
        l->io = p;
        l->nio = n;
    }
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) return -1;
    l->io[fd] = (io_slot){cb, user, 1};
    return 0;
}

int loop_mod(loop *l, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    return epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
}

void loop_del(loop *l, int fd)
{
    if (fd < 0 || fd >= l->nio || !l->io[fd].used) return;
    epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
    l->io[fd].used = 0;
}

static void heap_swap(loop *l, size_t a, size_t b)
{
    timer t = l->heap[a];
    l->heap[a] = l->heap[b];
    l->heap[b] = t;
}

static void heap_up(loop *l, size_t i)
{
    while (i && l->heap[(i - 1) / 2].at > l->heap[i].at) {
        heap_swap(l, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(loop *l, size_t i)
{
    for (;;) {
        size_t m = i, a = 2 * i + 1, b = a + 1;
        if (a < l->nheap && l->heap[a].at < l->heap[m].at) m = a;
        if (b < l->nheap && l->heap[b].at < l->heap[m].at) m = b;
        if (m == i) return;
        heap_swap(l, i, m);
        i = m;
    }
}

uint64_t loop_timer(loop *l, uint64_t ms, loop_timer_cb cb, void *user)
{
    if (l->nheap == l->capheap) {
        size_t cap = l->capheap ? l->capheap * 2 : 64;
        timer *p = realloc(l->heap, cap * sizeof(*p));
        if (!p) return 0;
        l->heap = p;
        l->capheap = cap;
    }
    timer t = {loop_now_ms() + ms, ++l->next_id, cb, user};
    l->heap[l->nheap++] = t;
    heap_up(l, l->nheap - 1);
    return t.id;
}

void loop_timer_cancel(loop *l, uint64_t id)
{
    for (size_t i = 0; i < l->nheap; i++)
        if (l->heap[i].id == id) {
            l->heap[i] = l->heap[--l->nheap];
            if (i < l->nheap) {
                heap_down(l, i);
                heap_up(l, i);
            }
            return;
        }
}

void loop_stop(loop *l)
{
    l->stop = 1;
}

int loop_run(loop *l)
{
    struct epoll_event evs[128];
    l->stop = 0; /* a loop stopped before runs again */
    while (!l->stop) {
        int wait = -1;
        if (l->nheap) {
            uint64_t now = loop_now_ms();
            wait = l->heap[0].at <= now ? 0 : (int)(l->heap[0].at - now);
            if (wait > 1000) wait = 1000;
        }
        int n = epoll_wait(l->ep, evs, 128, wait);
        if (n < 0 && errno != EINTR) return -1;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd < l->nio && l->io[fd].used) l->io[fd].cb(l, fd, evs[i].events, l->io[fd].user);
        }
        uint64_t now = loop_now_ms();
        while (l->nheap && l->heap[0].at <= now) {
            timer t = l->heap[0];
            l->heap[0] = l->heap[--l->nheap];
            heap_down(l, 0);
            t.cb(l, t.user);
        }
    }
    return 0;
}
