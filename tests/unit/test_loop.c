/* src/loop.c's timers: they fire once each, in deadline order; a cancel
 * takes out exactly the timer it names (never a later one that reuses
 * its slot), and costs O(log n) (a random model check, not a timing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../src/loop.h"

#define N 3000

typedef struct {
    int fired, cancelled;
    uint64_t due, fired_at;
    uint64_t id;
} tm;

static tm T[N];
static int remaining;
static uint64_t last_due;
static uint64_t slack; /* the loop's clock is the coarse one: a tick, plus 1 ms */

static void fire(loop *l, void *user)
{
    tm *t = user;
    t->fired++;
    t->fired_at = loop_now_ms();
    /* in deadline order: never one due later before one due earlier (due
     * is read just before the timer is made: at most a clock tick early) */
    assert_true(t->due + slack >= last_due);
    if (t->due > last_due) last_due = t->due;
    if (--remaining == 0) loop_stop(l);
}

static void stop_cb(loop *l, void *user)
{
    (void)user;
    loop_stop(l);
}

/* Random adds and cancels against a model: each live timer fires once,
 * each cancelled one never, and stale ids cancel nothing. */
static void test_timers_model(void **state)
{
    (void)state;
    struct timespec res;
    clock_getres(CLOCK_MONOTONIC_COARSE, &res);
    slack = 1 + (uint64_t)res.tv_sec * 1000 + ((uint64_t)res.tv_nsec + 999999) / 1000000;
    srand(12345);
    loop *l = loop_new();
    assert_non_null(l);
    memset(T, 0, sizeof(T));
    int live = 0;
    for (int i = 0; i < N; i++) {
        uint64_t ms = (uint64_t)(rand() % 60);
        T[i].due = loop_now_ms() + ms;
        T[i].id = loop_timer(l, ms, fire, &T[i]);
        assert_true(T[i].id != 0);
        live++;
        /* cancel a random earlier one, now and then; twice sometimes */
        if (i && rand() % 3 == 0) {
            int k = rand() % i;
            if (!T[k].cancelled) {
                T[k].cancelled = 1;
                live--;
            }
            loop_timer_cancel(l, T[k].id);
            if (rand() % 2) loop_timer_cancel(l, T[k].id);
        }
    }
    /* a stale id (cancelled, its slot reused since) must not cancel the
     * timer now in that slot */
    int victim = -1;
    for (int i = 0; i < N && victim < 0; i++)
        if (T[i].cancelled) victim = i;
    assert_true(victim >= 0);
    tm extra = {0};
    extra.due = loop_now_ms() + 70;
    extra.id = loop_timer(l, 70, fire, &extra);
    loop_timer_cancel(l, T[victim].id);
    live++;
    remaining = live;
    last_due = 0;
    uint64_t guard = loop_timer(l, 5000, stop_cb, NULL); /* never hang */
    assert_int_equal(loop_run(l), 0);
    loop_timer_cancel(l, guard);
    assert_int_equal(remaining, 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(T[i].fired, T[i].cancelled ? 0 : 1);
        if (!T[i].cancelled) assert_true(T[i].fired_at >= T[i].due);
    }
    assert_int_equal(extra.fired, 1);
    /* ids of fired timers are stale too */
    loop_timer_cancel(l, extra.id);
    loop_free(l);
}

/* A timer cancelled from another timer's callback does not fire, even
 * when both are due in the same turn. */
static tm a_tm, b_tm;
static loop *g_loop;

static void cancel_b(loop *l, void *user)
{
    (void)user;
    a_tm.fired++;
    loop_timer_cancel(l, b_tm.id);
}

static void mark_b(loop *l, void *user)
{
    (void)l;
    (void)user;
    b_tm.fired++;
}

static void test_cancel_from_callback(void **state)
{
    (void)state;
    g_loop = loop_new();
    memset(&a_tm, 0, sizeof(a_tm));
    memset(&b_tm, 0, sizeof(b_tm));
    a_tm.id = loop_timer(g_loop, 0, cancel_b, NULL);
    b_tm.id = loop_timer(g_loop, 1, mark_b, NULL);
    loop_timer(g_loop, 20, stop_cb, NULL);
    assert_int_equal(loop_run(g_loop), 0);
    assert_int_equal(a_tm.fired, 1);
    assert_int_equal(b_tm.fired, 0);
    loop_free(g_loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_model),
        cmocka_unit_test(test_cancel_from_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
