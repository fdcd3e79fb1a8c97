/* The emulated link (relay.h): a TCP relay with its own thread and epoll
 * loop. Time is CLOCK_MONOTONIC in nanoseconds and the loop sleeps on a
 * timerfd armed at the next due event (an arrival, an acknowledgement, a
 * FIN, the end of a handshake), so delays are accurate to the timer's slack
 * (~50 us), not to the coarse clock of src/loop.c.
 *
 * Each relayed connection has two pipes (up: client to server, down: server
 * to client). Reading a pipe's source puts what was read on the direction's
 * link at once, in pieces: a piece's transmission starts when the link is
 * free, takes len / rate, and the piece arrives (is written to the
 * destination) half a round trip after it ends; its acknowledgement comes
 * back half a round trip later still, freeing window and growing cwnd. A
 * pipe reads only what its window (cwnd - in flight) and its queue bound
 * allow, so the sender's data waits in the real sockets (TCP backpressure).
 * Pieces are at most one segment with --loss (each one draw), else at most
 * about 1 ms of link time (at least a segment), so no piece holds the link
 * long enough to distort timing; unlimited, at most 64 KiB (one read).
 *
 * The handshake: a connection's client data leaves no earlier than one
 * round trip after it was accepted (SYN, SYN-ACK), the server's no earlier
 * than half a round trip (its SYN arrived then), as on a real link.
 *
 * The scheduler is a scan of every connection at each wake-up: fine for
 * the tens of connections a page load or a browser opens. */
#define _GNU_SOURCE
#include "relay.h"

#include "cli_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MSS        1460u
#define INIT_CWND  (10u * MSS) /* RFC 6928 */
#define MIN_CWND   (2u * MSS)
#define CWND_CAP   (16u << 20)
#define QUEUE_MIN  (4u << 20) /* octets a pipe holds at most (see relay_start) */
#define QUEUE_MAX  (64u << 20)
#define READ_MAX   (64u << 10)
#define READS_EACH 16 /* reads per readiness, then others get a turn */
#define MAX_IOV    64
#define NEVER      UINT64_MAX

enum { EP_WAKE, EP_TIMER, EP_LISTEN, EP_CONN };

typedef struct {
    int kind, fd;
    uint32_t want; /* epoll interest; 0: not registered */
    void *owner;
} endpoint;

typedef struct piece {
    struct piece *next;
    uint64_t arrive; /* ns: when it reaches the destination */
    uint32_t len, off;
    uint8_t data[];
} piece;

typedef struct {
    uint64_t at; /* ns: when the acknowledgement reaches the sender */
    uint32_t len;
} ackrec;

typedef struct {
    endpoint *src, *dst;
    int dir; /* 0 up, 1 down: the link */
    piece *head, *tail;
    size_t queued;        /* read, not yet written */
    uint64_t last_arrive; /* delivery is FIFO */
    uint64_t not_before;  /* the handshake: nothing read before */
    uint64_t cwnd, inflight, last_cut;
    ackrec *acks; /* a ring */
    size_t acap, ahead, alen;
    uint64_t fin_at;
    uint8_t eof, fin_sent, blocked;
} pipe_t;

typedef struct conn {
    struct conn *next;
    endpoint cl, sv;
    pipe_t up, down;
    int connecting, dead;
} conn;

typedef struct listener {
    struct listener *next;
    endpoint ep;
    struct sockaddr_storage target;
    socklen_t targetlen;
} listener;

struct relay {
    relay_opts o;
    pthread_t th;
    int ep;
    endpoint wake, timer;
    pthread_mutex_t lock;
    listener *pending; /* from relay_add, under lock */
    int stop;          /* under lock */
    listener *listeners;
    conn *conns;
    uint64_t link_busy[2]; /* ns: when each direction's link is free */
    uint64_t rtt, owd;     /* ns: round trip, one way */
    double ns_per_octet;   /* 0: unlimited */
    int window;            /* the slow-start model is on */
    size_t qbound, piece_max;
    double loss;
    uint64_t prng;
    uint64_t timer_at;
    uint64_t accept_paused; /* ns: listeners out of the set until then (EMFILE), or 0 */
    uint8_t *buf;
    _Atomic uint64_t st_conns, st_up, st_down, st_lost;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t max64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* ---- epoll interest ---- */

static void want(relay *r, endpoint *e, uint32_t ev)
{
    if (e->fd < 0 || ev == e->want) return;
    /* an fd with nothing wanted leaves the set, so that a hangup it cannot
     * act on yet (a closed window) does not wake the loop again and again */
    struct epoll_event ee = {.events = ev, .data.ptr = e};
    if (!ev)
        epoll_ctl(r->ep, EPOLL_CTL_DEL, e->fd, NULL);
    else
        epoll_ctl(r->ep, e->want ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, e->fd, &ee);
    e->want = ev;
}

static void close_ep(relay *r, endpoint *e, int rst)
{
    if (e->fd < 0) return;
    want(r, e, 0);
    if (rst) {
        struct linger lg = {1, 0};
        setsockopt(e->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(e->fd);
    e->fd = -1;
}

/* ---- connections ---- */

static void pipe_init(pipe_t *p, endpoint *src, endpoint *dst, int dir, uint64_t not_before)
{
    p->src = src;
    p->dst = dst;
    p->dir = dir;
    p->cwnd = INIT_CWND;
    p->not_before = not_before;
}

static void pipe_free(pipe_t *p)
{
    for (piece *q = p->head, *n; q; q = n) {
        n = q->next;
        free(q);
    }
    p->head = p->tail = NULL;
    free(p->acks);
    p->acks = NULL;
}

/* An error or a reset on either side: both sides are reset, whatever was
 * queued is dropped. */
static void conn_abort(relay *r, conn *c)
{
    close_ep(r, &c->cl, 1);
    close_ep(r, &c->sv, 1);
    c->dead = 1;
}

static void conn_new(relay *r, listener *l, int fd)
{
    atomic_fetch_add(&r->st_conns, 1);
    conn *c = calloc(1, sizeof(*c));
    int sfd = c ? socket(l->target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
    if (sfd < 0) {
        free(c);
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->cl = (endpoint){EP_CONN, fd, 0, c};
    c->sv = (endpoint){EP_CONN, sfd, 0, c};
    uint64_t now = now_ns();
    pipe_init(&c->up, &c->cl, &c->sv, 0, now + r->rtt);
    pipe_init(&c->down, &c->sv, &c->cl, 1, now + r->owd);
    c->next = r->conns;
    r->conns = c;
    if (connect(sfd, (struct sockaddr *)&l->target, l->targetlen) < 0) {
        if (errno != EINPROGRESS) {
            conn_abort(r, c);
            return;
        }
        c->connecting = 1;
    }
}

/* How much the pipe may read now: what its queue bound and window leave. */
static size_t read_room(relay *r, conn *c, pipe_t *p, uint64_t now)
{
    if (c->dead || p->eof || p->src->fd < 0 || now < p->not_before) return 0;
    if (p->src == &c->sv && c->connecting) return 0;
    if (p->queued >= r->qbound) return 0;
    size_t room = r->qbound - p->queued;
    if (r->window) {
        if (p->inflight >= p->cwnd) return 0;
        if (p->cwnd - p->inflight < room) room = (size_t)(p->cwnd - p->inflight);
    }
    return room;
}

static int ack_push(pipe_t *p, uint64_t at, uint32_t len)
{
    if (p->alen == p->acap) {
        size_t ncap = p->acap ? p->acap * 2 : 64;
        ackrec *n = malloc(ncap * sizeof(*n));
        if (!n) return -1;
        for (size_t i = 0; i < p->alen; i++)
            n[i] = p->acks[(p->ahead + i) % p->acap];
        free(p->acks);
        p->acks = n;
        p->acap = ncap;
        p->ahead = 0;
    }
    p->acks[(p->ahead + p->alen++) % p->acap] = (ackrec){at, len};
    return 0;
}

/* Puts n octets read from the pipe's source on its link. */
static int enqueue(relay *r, pipe_t *p, const uint8_t *d, size_t n, uint64_t now)
{
    while (n) {
        uint32_t len = (uint32_t)(n < r->piece_max ? n : r->piece_max);
        piece *q = malloc(sizeof(*q) + len);
        if (!q) return -1;
        uint64_t start = max64(now, r->link_busy[p->dir]);
        uint64_t end = start + (uint64_t)((double)len * r->ns_per_octet + 0.5);
        r->link_busy[p->dir] = end;
        uint64_t arrive = end + r->owd;
        if (r->loss > 0 && (double)(splitmix64(&r->prng) >> 11) * 0x1p-53 < r->loss) {
            /* lost: its retransmission arrives a round trip later; the
             * window is halved once per round trip (one loss episode, as
             * TCP's fast recovery does) */
            arrive += r->rtt;
            atomic_fetch_add(&r->st_lost, 1);
            if (r->window && (!p->last_cut || now >= p->last_cut + r->rtt)) {
                p->cwnd = max64(p->cwnd / 2, MIN_CWND);
                p->last_cut = now;
            }
        }
        arrive = max64(arrive, p->last_arrive);
        p->last_arrive = arrive;
        q->next = NULL;
        q->arrive = arrive;
        q->len = len;
        q->off = 0;
        memcpy(q->data, d, len);
        if (p->tail)
            p->tail->next = q;
        else
            p->head = q;
        p->tail = q;
        p->queued += len;
        if (r->window) {
            p->inflight += len;
            if (ack_push(p, arrive + r->owd, len) < 0) return -1;
        }
        d += len;
        n -= len;
    }
    return 0;
}

static void pipe_read(relay *r, conn *c, pipe_t *p)
{
    for (int i = 0; i < READS_EACH; i++) {
        uint64_t now = now_ns();
        size_t room = read_room(r, c, p, now);
        if (!room) return;
        if (room > READ_MAX) room = READ_MAX;
        ssize_t n = recv(p->src->fd, r->buf, room, 0);
        if (n > 0) {
            if (enqueue(r, p, r->buf, (size_t)n, now_ns()) < 0) {
                conn_abort(r, c);
                return;
            }
            continue;
        }
        if (n == 0) {
            /* the FIN: after the last octet, and after what the link
             * holds now */
            p->eof = 1;
            p->fin_at = max64(max64(now, r->link_busy[p->dir]) + r->owd, p->last_arrive);
            return;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) conn_abort(r, c);
        return;
    }
}

/* Writes what has arrived; the FIN after it. */
static void deliver(relay *r, conn *c, pipe_t *p, uint64_t now)
{
    if (c->dead || p->blocked || (p->dst == &c->sv && c->connecting)) return;
    while (p->head && p->head->arrive <= now) {
        struct iovec iov[MAX_IOV];
        int k = 0;
        for (piece *q = p->head; q && q->arrive <= now && k < MAX_IOV; q = q->next, k++)
            iov[k] = (struct iovec){q->data + q->off, q->len - q->off};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)k};
        ssize_t n = sendmsg(p->dst->fd, &mh, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                p->blocked = 1;
            else
                conn_abort(r, c);
            return;
        }
        atomic_fetch_add(p->dir ? &r->st_down : &r->st_up, (uint64_t)n);
        p->queued -= (size_t)n;
        while (n > 0) {
            piece *q = p->head;
            size_t left = q->len - q->off;
            if ((size_t)n < left) {
                q->off += (uint32_t)n;
                p->blocked = 1; /* a short write: the socket is full */
                return;
            }
            n -= (ssize_t)left;
            p->head = q->next;
            if (!p->head) p->tail = NULL;
            free(q);
        }
    }
    if (p->eof && !p->fin_sent && !p->head && now >= p->fin_at) {
        shutdown(p->dst->fd, SHUT_WR);
        p->fin_sent = 1;
    }
}

static void acks_due(pipe_t *p, uint64_t now)
{
    while (p->alen && p->acks[p->ahead].at <= now) {
        ackrec a = p->acks[p->ahead];
        p->ahead = (p->ahead + 1) % p->acap;
        p->alen--;
        p->inflight -= a.len;
        p->cwnd += a.len;
        if (p->cwnd > CWND_CAP) p->cwnd = CWND_CAP;
    }
}

static uint64_t pipe_next(relay *r, pipe_t *p, uint64_t now)
{
    uint64_t t = NEVER;
    if (p->alen) t = p->acks[p->ahead].at;
    if (p->head && !p->blocked && p->head->arrive > now)
        t = p->head->arrive < t ? p->head->arrive : t;
    if (p->eof && !p->fin_sent && !p->head && p->fin_at > now) t = p->fin_at < t ? p->fin_at : t;
    if (!p->eof && p->not_before > now && p->queued < r->qbound)
        t = p->not_before < t ? p->not_before : t;
    return t;
}

/* Runs a connection's due events and sets what its sockets wait for;
 * returns its next deadline. */
static uint64_t conn_advance(relay *r, conn *c, uint64_t now)
{
    pipe_t *ps[2] = {&c->up, &c->down};
    for (int i = 0; i < 2; i++) {
        acks_due(ps[i], now);
        deliver(r, c, ps[i], now);
    }
    if (c->dead) return NEVER;
    if (c->up.fin_sent && c->down.fin_sent) {
        close_ep(r, &c->cl, 0);
        close_ep(r, &c->sv, 0);
        c->dead = 1;
        return NEVER;
    }
    want(r, &c->cl,
         (read_room(r, c, &c->up, now) ? EPOLLIN : 0) | (c->down.blocked ? EPOLLOUT : 0));
    want(r, &c->sv,
         (read_room(r, c, &c->down, now) ? EPOLLIN : 0) |
             (c->up.blocked || c->connecting ? EPOLLOUT : 0));
    uint64_t a = pipe_next(r, &c->up, now), b = pipe_next(r, &c->down, now);
    return a < b ? a : b;
}

static void conn_io(relay *r, conn *c, endpoint *e, uint32_t ev)
{
    if (c->dead) return;
    if (e == &c->sv && c->connecting) {
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
            conn_abort(r, c); /* refused: the client is reset */
            return;
        }
        c->connecting = 0;
    }
    pipe_t *in = e == &c->cl ? &c->up : &c->down;  /* e is its source */
    pipe_t *out = e == &c->cl ? &c->down : &c->up; /* e is its destination */
    if (ev & EPOLLOUT) out->blocked = 0;
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) pipe_read(r, c, in);
    if (!c->dead && (ev & (EPOLLHUP | EPOLLERR)) && !(ev & EPOLLIN) && out->blocked)
        out->blocked = 0; /* let the write find out what happened */
}

/* ---- listeners, the thread ---- */

static void take_pending(relay *r, int *stop)
{
    pthread_mutex_lock(&r->lock);
    listener *l = r->pending;
    r->pending = NULL;
    *stop = r->stop;
    pthread_mutex_unlock(&r->lock);
    while (l) {
        listener *n = l->next;
        l->next = r->listeners;
        r->listeners = l;
        want(r, &l->ep, EPOLLIN);
        l = n;
    }
}

static void arm(relay *r, uint64_t at)
{
    if (at == r->timer_at) return;
    struct itimerspec its = {0};
    if (at != NEVER) {
        its.it_value.tv_sec = (time_t)(at / 1000000000u);
        its.it_value.tv_nsec = (long)(at % 1000000000u);
    }
    timerfd_settime(r->timer.fd, TFD_TIMER_ABSTIME, &its, NULL);
    r->timer_at = at;
}

static void *relay_thread(void *arg)
{
    relay *r = arg;
    struct epoll_event evs[64];
    for (;;) {
        uint64_t now = now_ns(), next = NEVER;
        for (conn **pc = &r->conns; *pc;) {
            conn *c = *pc;
            uint64_t t = conn_advance(r, c, now);
            if (c->dead) {
                *pc = c->next;
                pipe_free(&c->up);
                pipe_free(&c->down);
                free(c);
                continue;
            }
            if (t < next) next = t;
            pc = &c->next;
        }
        if (r->accept_paused) {
            if (now >= r->accept_paused) { /* descriptors may be free again */
                r->accept_paused = 0;
                for (listener *l = r->listeners; l; l = l->next)
                    want(r, &l->ep, EPOLLIN);
            } else if (r->accept_paused < next) {
                next = r->accept_paused;
            }
        }
        int timeout = -1;
        if (next != NEVER && next <= now_ns())
            timeout = 0;
        else
            arm(r, next);
        int n = epoll_wait(r->ep, evs, 64, timeout);
        for (int i = 0; i < n; i++) {
            endpoint *e = evs[i].data.ptr;
            if (e->kind == EP_WAKE) {
                uint64_t v;
                if (read(e->fd, &v, sizeof(v)) < 0) { /* nothing: counted once */
                }
                int stop;
                take_pending(r, &stop);
                if (stop) return NULL;
            } else if (e->kind == EP_TIMER) {
                uint64_t v;
                if (read(e->fd, &v, sizeof(v)) < 0) { /* not expired after all */
                }
                r->timer_at = NEVER;
            } else if (e->kind == EP_LISTEN) {
                listener *l = e->owner;
                for (int k = 0; k < 64; k++) {
                    int fd = accept4(e->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                                   errno == ENOMEM)) {
                        /* out of descriptors: the pending connection stays
                         * in the backlog and would wake the loop at once,
                         * again and again; listeners rest for 100 ms */
                        for (listener *q = r->listeners; q; q = q->next)
                            want(r, &q->ep, 0);
                        r->accept_paused = now_ns() + 100000000u;
                        break;
                    }
                    if (fd < 0) break;
                    conn_new(r, l, fd);
                }
            } else {
                conn_io(r, e->owner, e, evs[i].events);
            }
        }
    }
}

/* ---- the interface ---- */

relay *relay_start(const relay_opts *o, char *err, size_t errlen)
{
    if (!(o->rtt_ms >= 0 && o->rtt_ms <= 600000) || !(o->rate_mbit >= 0) ||
        !(o->loss_pct >= 0 && o->loss_pct <= 50)) {
        snprintf(err, errlen, "relay: rtt, rate or loss out of range");
        return NULL;
    }
    relay *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "relay: out of memory");
        return NULL;
    }
    r->o = *o;
    r->rtt = (uint64_t)(o->rtt_ms * 1e6 + 0.5);
    r->owd = r->rtt / 2;
    r->ns_per_octet = o->rate_mbit > 0 ? 8e3 / o->rate_mbit : 0;
    r->window = o->slow_start != -1 && r->rtt > 0;
    r->loss = o->loss_pct / 100.0;
    r->prng = o->seed ? o->seed : 0x6c6f6f6d72656c61u; /* "loomrela" */
    /* the queue bound: 4 MiB a pipe, or twice the link's bandwidth-delay
     * product when that is more (up to 64 MiB); like a receive window, it
     * also caps one connection's throughput at bound / (rtt / 2) */
    double bdp2 = o->rate_mbit > 0 ? 2 * o->rate_mbit * 1e6 / 8 * o->rtt_ms / 1e3 : 0;
    r->qbound = bdp2 > QUEUE_MAX ? QUEUE_MAX : bdp2 > QUEUE_MIN ? (size_t)bdp2 : QUEUE_MIN;
    if (r->loss > 0)
        r->piece_max = MSS;
    else if (o->rate_mbit > 0) {
        double ms = o->rate_mbit * 125; /* octets in 1 ms */
        r->piece_max = ms < MSS ? MSS : ms > READ_MAX ? READ_MAX : (size_t)ms;
    } else
        r->piece_max = READ_MAX;
    r->timer_at = NEVER;
    r->ep = epoll_create1(EPOLL_CLOEXEC);
    r->wake = (endpoint){EP_WAKE, eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), 0, NULL};
    r->timer =
        (endpoint){EP_TIMER, timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), 0, NULL};
    r->buf = malloc(READ_MAX);
    pthread_mutex_init(&r->lock, NULL);
    if (r->ep < 0 || r->wake.fd < 0 || r->timer.fd < 0 || !r->buf) {
        snprintf(err, errlen, "relay: %s", strerror(errno));
        goto fail;
    }
    want(r, &r->wake, EPOLLIN);
    want(r, &r->timer, EPOLLIN);
    /* the thread takes no signals: they stay the caller's */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&r->th, NULL, relay_thread, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) {
        snprintf(err, errlen, "relay: cannot start its thread: %s", strerror(e));
        goto fail;
    }
    return r;
fail:
    if (r->ep >= 0) close(r->ep);
    if (r->wake.fd >= 0) close(r->wake.fd);
    if (r->timer.fd >= 0) close(r->timer.fd);
    pthread_mutex_destroy(&r->lock);
    free(r->buf);
    free(r);
    return NULL;
}

/* Hands a listening socket to the relay thread. */
static int add_listener(relay *r, int fd, const struct sockaddr *target, socklen_t targetlen)
{
    if (targetlen > sizeof(struct sockaddr_storage)) {
        errno = EINVAL;
        return -1;
    }
    listener *l = calloc(1, sizeof(*l));
    if (!l) return -1;
    l->ep = (endpoint){EP_LISTEN, fd, 0, l};
    memcpy(&l->target, target, targetlen);
    l->targetlen = targetlen;
    pthread_mutex_lock(&r->lock);
    l->next = r->pending;
    r->pending = l;
    pthread_mutex_unlock(&r->lock);
    uint64_t one = 1;
    if (write(r->wake.fd, &one, sizeof(one)) < 0) { /* the counter is full: a wake is due */
    }
    return 0;
}

int relay_add(relay *r, const struct sockaddr *target, socklen_t targetlen,
              struct sockaddr_storage *local, socklen_t *locallen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(*local);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, SOMAXCONN) < 0 ||
        getsockname(fd, (struct sockaddr *)local, &len) < 0 ||
        add_listener(r, fd, target, targetlen) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *locallen = len;
    return 0;
}

void relay_get_stats(relay *r, relay_stats *s)
{
    s->conns = atomic_load(&r->st_conns);
    s->up_octets = atomic_load(&r->st_up);
    s->down_octets = atomic_load(&r->st_down);
    s->lost_segments = atomic_load(&r->st_lost);
}

static void free_listeners(listener *l)
{
    while (l) {
        listener *n = l->next;
        close(l->ep.fd);
        free(l);
        l = n;
    }
}

void relay_stop(relay *r)
{
    if (!r) return;
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    pthread_mutex_unlock(&r->lock);
    uint64_t one = 1;
    if (write(r->wake.fd, &one, sizeof(one)) < 0) { /* a wake is due anyway */
    }
    pthread_join(r->th, NULL);
    while (r->conns) {
        conn *c = r->conns;
        r->conns = c->next;
        close_ep(r, &c->cl, 0);
        close_ep(r, &c->sv, 0);
        pipe_free(&c->up);
        pipe_free(&c->down);
        free(c);
    }
    free_listeners(r->listeners);
    free_listeners(r->pending);
    close(r->ep);
    close(r->wake.fd);
    close(r->timer.fd);
    pthread_mutex_destroy(&r->lock);
    free(r->buf);
    free(r);
}

/* ---- loom relay ---- */

static const char relay_usage[] =
    "usage: loom relay --listen [HOST:]PORT --to HOST:PORT [options]\n"
    "\n"
    "Relays every TCP connection made to --listen to --to through an emulated\n"
    "network link (this kernel has no netem): each direction is one link shared by\n"
    "all connections, octets wait their turn at --rate and arrive half of --rtt\n"
    "later; TCP's slow start is modelled per connection (a window of 10 segments\n"
    "growing with each acknowledgement); a connection's first octets leave one\n"
    "round trip after it opened (the handshake). For any client: curl, a browser,\n"
    "loom get. Runs until SIGINT or SIGTERM, then prints its statistics on stderr.\n"
    "\n"
    "options:\n"
    "  --listen [HOST:]PORT  where to listen (HOST default 127.0.0.1; PORT 0: any\n"
    "                        free port, printed)\n"
    "  --to HOST:PORT        where to relay each connection to\n"
    "  --rtt MS              round-trip time added, milliseconds (default 0)\n"
    "  --rate MBIT           each direction's rate, Mbit/s (default 0: unlimited)\n"
    "  --loss PCT            each segment's chance of being lost, 0 to 50 (default\n"
    "                        0); a lost segment arrives one round trip late (its\n"
    "                        retransmission) and halves its connection's window\n"
    "  --no-slow-start       no window: a connection sends at the link's pace at once\n"
    "  --seed N              the loss draws' seed (default: a fixed one, runs repeat)\n"
    "\n"
    "Emulated in user space, on loopback connections: no real reordering or\n"
    "drops (loss is delay), no congestion avoidance after slow start. A direction\n"
    "of a connection holds at most 4 MiB (or twice the bandwidth-delay product);\n"
    "then the relay stops reading it.\n"
    "exit status: 0 stopped by a signal; 2 usage (or cannot listen, cannot\n"
    "resolve); 1 another failure.\n";

static int rnum(const char *flag, const char *v, double lo, double hi, double *out)
{
    return cli_number("loom relay", flag, v, lo, hi, out);
}

/* "HOST:PORT", "[V6]:PORT", or (dflt_host set) "PORT". */
static int split_hostport(const char *s, const char *dflt_host, char *host, size_t hl, char *port,
                          size_t pl)
{
    const char *colon = strrchr(s, ':');
    const char *h = s, *he = colon;
    if (!colon) {
        if (!dflt_host) return -1;
        snprintf(host, hl, "%s", dflt_host);
        snprintf(port, pl, "%s", s);
    } else {
        if (*h == '[' && he > h && he[-1] == ']') {
            h++;
            he--;
        }
        if (he == h || (size_t)(he - h) >= hl) return -1;
        snprintf(host, hl, "%.*s", (int)(he - h), h);
        snprintf(port, pl, "%s", colon + 1);
    }
    char *end;
    long v = strtol(port, &end, 10);
    return *port && !*end && v >= 0 && v <= 65535 ? 0 : -1;
}

static int resolve(const char *host, const char *port, int passive, struct sockaddr_storage *ss,
                   socklen_t *len)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
    struct addrinfo *ai;
    int g = getaddrinfo(host, port, &hints, &ai);
    if (g) {
        fprintf(stderr, "loom relay: cannot resolve %s: %s\n", host, gai_strerror(g));
        return -1;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static void addr_text(const struct sockaddr *sa, char *out, size_t n)
{
    char h[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, h, sizeof(h));
        port = ntohs(a->sin_port);
        snprintf(out, n, "%s:%d", h, port);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof(h));
        port = ntohs(a->sin6_port);
        snprintf(out, n, "[%s]:%d", h, port);
    }
}

int relay_main(int argc, char **argv)
{
    relay_opts o = {0};
    const char *listen_arg = NULL, *to_arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(relay_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--no-slow-start")) {
            o.slow_start = -1;
        } else if (!strcmp(a, "--rtt")) {
            if (rnum("--rtt", v, 0, 600000, &o.rtt_ms) < 0) return 2;
            i++;
        } else if (!strcmp(a, "--rate")) {
            if (rnum("--rate", v, 0, 1e6, &o.rate_mbit) < 0) return 2;
            i++;
        } else if (!strcmp(a, "--loss")) {
            if (rnum("--loss", v, 0, 50, &o.loss_pct) < 0) return 2;
            i++;
        } else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long s = v && *v && *v != '-' ? strtoull(v, &end, 10) : 0;
            if (!v || !*v || *v == '-' || *end || errno) {
                fprintf(stderr, "loom relay: --seed needs a whole number\n");
                return 2;
            }
            o.seed = s;
            i++;
        } else if (!strcmp(a, "--listen") || !strcmp(a, "--to")) {
            if (!v) {
                fprintf(stderr, "loom relay: %s needs a value (try: loom relay --help)\n", a);
                return 2;
            }
            *(a[2] == 'l' ? &listen_arg : &to_arg) = v;
            i++;
        } else {
            fprintf(stderr, "loom relay: unknown option '%s' (try: loom relay --help)\n", a);
            return 2;
        }
    }
    if (!listen_arg || !to_arg) {
        fprintf(stderr, "loom relay: %s is missing (try: loom relay --help)\n",
                !listen_arg ? "--listen [HOST:]PORT" : "--to HOST:PORT");
        return 2;
    }
    char lhost[256], lport[8], thost[256], tport[8];
    if (split_hostport(listen_arg, "127.0.0.1", lhost, sizeof(lhost), lport, sizeof(lport)) < 0) {
        fprintf(stderr, "loom relay: --listen %s: wanted [HOST:]PORT\n", listen_arg);
        return 2;
    }
    if (split_hostport(to_arg, NULL, thost, sizeof(thost), tport, sizeof(tport)) < 0 ||
        !strcmp(tport, "0")) {
        fprintf(stderr, "loom relay: --to %s: wanted HOST:PORT\n", to_arg);
        return 2;
    }
    struct sockaddr_storage la, ta;
    socklen_t ll, tl;
    if (resolve(lhost, lport, 1, &la, &ll) < 0 || resolve(thost, tport, 0, &ta, &tl) < 0) return 2;
    int fd = socket(la.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, (struct sockaddr *)&la, ll) < 0 || listen(fd, SOMAXCONN) < 0) {
        fprintf(stderr, "loom relay: cannot listen on %s:%s: %s\n", lhost, lport, strerror(errno));
        if (fd >= 0) close(fd);
        return 2;
    }
    ll = sizeof(la);
    getsockname(fd, (struct sockaddr *)&la, &ll);
    /* SIGINT and SIGTERM are waited for, not handled */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    char err[256];
    relay *r = relay_start(&o, err, sizeof(err));
    if (!r || add_listener(r, fd, (struct sockaddr *)&ta, tl) < 0) {
        fprintf(stderr, "loom %s\n", r ? "relay: out of memory" : err);
        close(fd);
        relay_stop(r);
        return 1;
    }
    char ltext[80], ttext[80];
    addr_text((struct sockaddr *)&la, ltext, sizeof(ltext));
    addr_text((struct sockaddr *)&ta, ttext, sizeof(ttext));
    char rate[48] = "unlimited";
    if (o.rate_mbit > 0) snprintf(rate, sizeof(rate), "%g Mbit/s", o.rate_mbit);
    printf("relay listening on %s -> %s (rtt %g ms, rate %s, loss %g %%, %s)\n", ltext, ttext,
           o.rtt_ms, rate, o.loss_pct, o.slow_start == -1 ? "no slow start" : "slow start");
    fflush(stdout);
    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {
    }
    relay_stats s;
    relay_get_stats(r, &s);
    relay_stop(r);
    fprintf(stderr,
            "loom relay: %llu connections, %llu octets up, %llu octets down, %llu segments lost\n",
            (unsigned long long)s.conns, (unsigned long long)s.up_octets,
            (unsigned long long)s.down_octets, (unsigned long long)s.lost_segments);
    return 0;
}
