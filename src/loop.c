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
    loop_io_cb cb; /* NULL: the slot is free */
    void *user;
} io_slot;

/* A timer lives in a slot (its id names the slot and the slot's
 * generation, so a stale id cancels nothing); the heap orders slot
 * numbers by deadline, and each slot knows its place in the heap, so a
 * cancel is O(log n) — connections re-arm timers all the time. */
typedef struct {
    uint64_t at;
    loop_timer_cb cb;
    void *user;
    uint32_t gen;
    uint32_t pos; /* in the heap; UINT32_MAX: free; SOON: in the soon queue */
    uint32_t next_free;
} tslot;

/* Timers of 0 ms (run after this turn's events: most timers are those)
 * wait in a FIFO instead of the heap: no heap work for them. */
#define SOON (UINT32_MAX - 1)

/* Looks (epoll_wait with no wait) for more events before a turn's 0 ms
 * timers, while each finds some and timers wait: at most this many. */
#define EXTRA_PASSES 8

struct loop {
    int ep;
    io_slot *io; /* by fd */
    int nio;
    tslot *slots;
    uint32_t nslots, free_slot; /* free list, UINT32_MAX-terminated */
    uint32_t *heap;             /* slot numbers */
    size_t nheap;
    uint32_t *soon; /* slot numbers, soon[soon_head..nsoon) due */
    size_t nsoon, soon_head, soon_cap;
    int stop;
};

uint64_t loop_now_ms(void)
{
    /* the coarse clock (the kernel's tick, a few ms) is all timers of
     * seconds need, and costs a load where CLOCK_MONOTONIC reads the TSC:
     * 3 % of a small response's CPU under load */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

loop *loop_new(void)
{
    loop *l = calloc(1, sizeof(*l));
    if (!l) return NULL;
    l->free_slot = UINT32_MAX;
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
    free(l->slots);
    free(l->soon);
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
    l->io[fd] = (io_slot){cb, user};
    return 0;
}

int loop_mod(loop *l, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    return epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
}

void loop_del(loop *l, int fd)
{
    if (fd < 0 || fd >= l->nio || !l->io[fd].cb) return;
    epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
    l->io[fd].cb = NULL;
}

static uint64_t at_of(const loop *l, size_t i)
{
    return l->slots[l->heap[i]].at;
}

static void heap_set(loop *l, size_t i, uint32_t slot)
{
    l->heap[i] = slot;
    l->slots[slot].pos = (uint32_t)i;
}

static void heap_swap(loop *l, size_t a, size_t b)
{
    uint32_t t = l->heap[a];
    heap_set(l, a, l->heap[b]);
    heap_set(l, b, t);
}

static void heap_up(loop *l, size_t i)
{
    while (i && at_of(l, (i - 1) / 2) > at_of(l, i)) {
        heap_swap(l, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(loop *l, size_t i)
{
    for (;;) {
        size_t m = i, a = 2 * i + 1, b = a + 1;
        if (a < l->nheap && at_of(l, a) < at_of(l, m)) m = a;
        if (b < l->nheap && at_of(l, b) < at_of(l, m)) m = b;
        if (m == i) return;
        heap_swap(l, i, m);
        i = m;
    }
}

static void slot_free(loop *l, uint32_t slot)
{
    tslot *t = &l->slots[slot];
    t->pos = UINT32_MAX;
    t->gen++;
    t->next_free = l->free_slot;
    l->free_slot = slot;
}

/* Takes heap entry i out; its slot goes back to the free list. */
static void heap_remove(loop *l, size_t i)
{
    uint32_t slot = l->heap[i];
    if (i != --l->nheap) {
        heap_set(l, i, l->heap[l->nheap]);
        heap_down(l, i);
        heap_up(l, i);
    }
    slot_free(l, slot);
}

/* The timers of 0 ms, in order, and those they set (as when they were
 * in the heap), up to a bound: a timer that re-arms itself lets I/O in. */
static void run_soon(loop *l)
{
    for (int budget = 4096; l->soon_head < l->nsoon && budget; budget--) {
        uint32_t slot = l->soon[l->soon_head++];
        tslot t = l->slots[slot];
        slot_free(l, slot); /* (a cancelled one: cb NULL) */
        if (t.cb) t.cb(l, t.user);
    }
    if (l->soon_head == l->nsoon) l->soon_head = l->nsoon = 0;
}

uint64_t loop_timer(loop *l, uint64_t ms, loop_timer_cb cb, void *user)
{
    if (!ms && l->nsoon == l->soon_cap) {
        if (l->soon_head) { /* room at the front: moved down */
            memmove(l->soon, l->soon + l->soon_head, (l->nsoon - l->soon_head) * sizeof(*l->soon));
            l->nsoon -= l->soon_head;
            l->soon_head = 0;
        } else {
            size_t n = l->soon_cap ? l->soon_cap * 2 : 64;
            uint32_t *q = realloc(l->soon, n * sizeof(*q));
            if (!q) return 0;
            l->soon = q;
            l->soon_cap = n;
        }
    }
    if (l->free_slot == UINT32_MAX) {
        uint32_t n = l->nslots ? l->nslots * 2 : 64;
        tslot *s = realloc(l->slots, n * sizeof(*s));
        if (!s) return 0;
        uint32_t *h = realloc(l->heap, n * sizeof(*h));
        if (!h) {
            l->slots = s;
            return 0;
        }
        l->slots = s;
        l->heap = h;
        for (uint32_t i = n; i-- > l->nslots;) {
            s[i] = (tslot){0, NULL, NULL, 0, UINT32_MAX, l->free_slot};
            l->free_slot = i;
        }
        l->nslots = n;
    }
    uint32_t slot = l->free_slot;
    tslot *t = &l->slots[slot];
    l->free_slot = t->next_free;
    t->cb = cb;
    t->user = user;
    if (!ms) {
        t->at = 0;
        t->pos = SOON;
        l->soon[l->nsoon++] = slot;
    } else {
        t->at = loop_now_ms() + ms;
        heap_set(l, l->nheap++, slot);
        heap_up(l, l->nheap - 1);
    }
    return (uint64_t)t->gen << 32 | (uint64_t)(slot + 1);
}

void loop_timer_cancel(loop *l, uint64_t id)
{
    uint32_t slot = (uint32_t)id - 1, gen = (uint32_t)(id >> 32);
    if (!id || slot >= l->nslots) return;
    tslot *t = &l->slots[slot];
    if (t->gen != gen || t->pos == UINT32_MAX) return; /* fired or cancelled */
    if (t->pos == SOON) { /* its slot is freed as the queue reaches it */
        t->cb = NULL;
        t->gen++;
        return;
    }
    heap_remove(l, t->pos);
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
        if (l->nsoon > l->soon_head) {
            wait = 0;
        } else if (l->nheap) {
            uint64_t now = loop_now_ms();
            wait = at_of(l, 0) <= now ? 0 : (int)(at_of(l, 0) - now);
            if (wait > 1000) wait = 1000;
        }
        int n = epoll_wait(l->ep, evs, 128, wait);
        if (n < 0 && errno != EINTR) return -1;
        for (int pass = 0;; pass++) {
            for (int i = 0; i < n; i++) {
                int fd = evs[i].data.fd;
                if (fd < l->nio && l->io[fd].cb) l->io[fd].cb(l, fd, evs[i].events, l->io[fd].user);
            }
            /* What is ready by now is handled before the 0 ms timers
             * (the proxy's flushes): under load more responses share a
             * client's write; idle, the next look finds nothing at once */
            if (n <= 0 || pass == EXTRA_PASSES || l->nsoon == l->soon_head) break;
            n = epoll_wait(l->ep, evs, 128, 0);
        }
        run_soon(l);
        uint64_t now = loop_now_ms();
        while (l->nheap && at_of(l, 0) <= now) {
            tslot t = l->slots[l->heap[0]];
            heap_remove(l, 0);
            t.cb(l, t.user);
        }
    }
    return 0;
}
