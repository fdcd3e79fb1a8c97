/* src/app/relay.c through its interface, as loom bench --page uses it: a
 * relay started, listeners added from two threads while it runs (one per
 * origin), data through each intact with at least a round trip of delay,
 * the statistics; relay_stop with connections whose data is still queued
 * (ASan: nothing leaks); bad options refused. The timing itself is
 * tests/interop/relay_link.py's. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../src/app/relay.h"

typedef struct {
    int lfd;
    int echo; /* else: accept and never read */
    int held;
    struct sockaddr_in addr;
    pthread_t th;
} origin;

static void *origin_run(void *arg)
{
    origin *o = arg;
    int c = accept(o->lfd, NULL, NULL);
    if (c < 0) return NULL;
    if (!o->echo) {
        o->held = c;
        return NULL;
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(c, buf, sizeof(buf))) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(c, buf + off, (size_t)(n - off));
            if (w <= 0) goto out;
            off += w;
        }
out:
    close(c);
    return NULL;
}

static void origin_start(origin *o, int echo)
{
    memset(o, 0, sizeof(*o));
    o->echo = echo;
    o->held = -1;
    o->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(o->lfd >= 0);
    o->addr.sin_family = AF_INET;
    o->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(o->lfd, (struct sockaddr *)&o->addr, sizeof(o->addr)), 0);
    assert_int_equal(listen(o->lfd, 4), 0);
    socklen_t len = sizeof(o->addr);
    getsockname(o->lfd, (struct sockaddr *)&o->addr, &len);
    assert_int_equal(pthread_create(&o->th, NULL, origin_run, o), 0);
}

static void origin_end(origin *o)
{
    pthread_join(o->th, NULL);
    if (o->held >= 0) close(o->held);
    close(o->lfd);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(const struct sockaddr_storage *a, socklen_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (const struct sockaddr *)a, len), 0);
    return fd;
}

/* Sends n patterned octets, shuts the write side, reads the echo to EOF. */
static void *echo_through(void *arg)
{
    const struct sockaddr_storage *a = arg;
    enum { N = 100000 };
    static __thread uint8_t out[N], in[N + 1];
    for (size_t i = 0; i < N; i++)
        out[i] = (uint8_t)(i * 31 + 7);
    int fd = dial(a, sizeof(*a));
    size_t got = 0;
    for (size_t off = 0; off < N;) {
        ssize_t w = write(fd, out + off, N - off);
        assert_true(w > 0);
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    ssize_t n;
    while ((n = read(fd, in + got, N + 1 - got)) > 0)
        got += (size_t)n;
    close(fd);
    assert_int_equal(got, N);
    assert_memory_equal(in, out, N);
    return NULL;
}

typedef struct {
    relay *r;
    origin *o;
    struct sockaddr_storage local;
    socklen_t len;
    int rc;
} add_job;

static void *add_from_thread(void *arg)
{
    add_job *j = arg;
    j->rc = relay_add(j->r, (struct sockaddr *)&j->o->addr, sizeof(j->o->addr), &j->local, &j->len);
    return NULL;
}

static void test_two_origins(void **state)
{
    (void)state;
    char err[128];
    relay_opts o = {.rtt_ms = 20};
    relay *r = relay_start(&o, err, sizeof(err));
    assert_non_null(r);
    origin a, b;
    origin_start(&a, 1);
    origin_start(&b, 1);
    add_job ja = {.r = r, .o = &a}, jb = {.r = r, .o = &b};
    add_from_thread(&ja);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, add_from_thread, &jb), 0);
    pthread_join(t, NULL);
    assert_int_equal(ja.rc, 0);
    assert_int_equal(jb.rc, 0);
    assert_int_not_equal(((struct sockaddr_in *)&ja.local)->sin_port,
                         ((struct sockaddr_in *)&jb.local)->sin_port);
    double t0 = now_s();
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, echo_through, &ja.local), 0);
    assert_int_equal(pthread_create(&tb, NULL, echo_through, &jb.local), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    /* the handshake (1 RTT) and the way there and back (1 RTT) at least */
    assert_true(now_s() - t0 >= 0.040);
    relay_stats s;
    relay_get_stats(r, &s);
    assert_int_equal(s.conns, 2);
    assert_int_equal(s.up_octets, 200000);
    assert_int_equal(s.down_octets, 200000);
    assert_int_equal(s.lost_segments, 0);
    relay_stop(r);
    origin_end(&a);
    origin_end(&b);
}

/* Stopped with a connection whose octets wait on a slow link and at an
 * origin that reads nothing: everything is closed and freed. */
static void test_stop_with_queued_data(void **state)
{
    (void)state;
    char err[128];
    relay_opts o = {.rtt_ms = 50, .rate_mbit = 1, .loss_pct = 5, .seed = 7};
    relay *r = relay_start(&o, err, sizeof(err));
    assert_non_null(r);
    origin a;
    origin_start(&a, 0);
    struct sockaddr_storage local;
    socklen_t len;
    assert_int_equal(relay_add(r, (struct sockaddr *)&a.addr, sizeof(a.addr), &local, &len), 0);
    int fd = dial(&local, len);
    static uint8_t junk[256 << 10];
    memset(junk, 'x', sizeof(junk));
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    struct timespec ts = {0, 300 * 1000000};
    nanosleep(&ts, NULL);
    relay_stats s;
    relay_get_stats(r, &s);
    assert_int_equal(s.conns, 1);
    assert_true(s.up_octets < sizeof(junk)); /* 1 Mbit/s: most of it still queued */
    /* a listener added and never used */
    assert_int_equal(relay_add(r, (struct sockaddr *)&a.addr, sizeof(a.addr), &local, &len), 0);
    relay_stop(r);
    close(fd);
    origin_end(&a);
}

static void test_bad_options(void **state)
{
    (void)state;
    char err[128] = "";
    relay_opts o = {.loss_pct = 60};
    assert_null(relay_start(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "relay: "));
    o = (relay_opts){.rtt_ms = -1};
    assert_null(relay_start(&o, err, sizeof(err)));
    relay_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_origins),
        cmocka_unit_test(test_stop_with_queued_data),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
