/* lib/buf.c: the one growth rule (doubling from 16 elements, capped at a
 * bound), its failures leaving everything as it was, and the octet buffer
 * built on it. Every allocation through the counting allocator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "buf.h"
#include "hpack_util.h"

static void test_grow_doubles(void **state)
{
    (void)state;
    counting cnt = {0};
    loom_mem m = counting_mem(&cnt);
    uint32_t *p = NULL;
    size_t cap = 0;

    /* the first size is 16 elements, whatever smaller need */
    assert_int_equal(loom__grow(&m, (void **)&p, &cap, 1, sizeof(*p), 1000), 0);
    assert_non_null(p);
    assert_int_equal(cap, 16);
    assert_int_equal(cnt.live, 16 * sizeof(*p));
    for (uint32_t i = 0; i < 16; i++)
        p[i] = i * 7;

    /* need within the capacity: nothing happens */
    size_t calls = cnt.calls;
    uint32_t *before = p;
    assert_int_equal(loom__grow(&m, (void **)&p, &cap, 16, sizeof(*p), 1000), 0);
    assert_int_equal(loom__grow(&m, (void **)&p, &cap, 0, sizeof(*p), 1000), 0);
    assert_ptr_equal(p, before);
    assert_int_equal(cap, 16);
    assert_int_equal(cnt.calls, calls);

    /* one more doubles; far more doubles as often as needed, contents kept */
    assert_int_equal(loom__grow(&m, (void **)&p, &cap, 17, sizeof(*p), 1000), 0);
    assert_int_equal(cap, 32);
    assert_int_equal(loom__grow(&m, (void **)&p, &cap, 100, sizeof(*p), 1000), 0);
    assert_int_equal(cap, 128);
    assert_int_equal(cnt.live, 128 * sizeof(*p));
    for (uint32_t i = 0; i < 16; i++)
        assert_int_equal(p[i], i * 7);

    /* capped at max: the doubling stops there */
    assert_int_equal(loom__grow(&m, (void **)&p, &cap, 129, sizeof(*p), 200), 0);
    assert_int_equal(cap, 200);
    assert_int_equal(loom__grow(&m, (void **)&p, &cap, 200, sizeof(*p), 200), 0);
    assert_int_equal(cap, 200);
    assert_int_equal(cnt.live, 200 * sizeof(*p));
    loom_free(&m, p);
    assert_int_equal(cnt.live, 0);

    /* a first need above 16 starts at the power of two above it */
    p = NULL;
    cap = 0;
    assert_int_equal(loom__grow(&m, (void **)&p, &cap, 33, sizeof(*p), 1000), 0);
    assert_int_equal(cap, 64);
    loom_free(&m, p);

    /* a max below 16 is the first size */
    p = NULL;
    cap = 0;
    assert_int_equal(loom__grow(&m, (void **)&p, &cap, 1, sizeof(*p), 5), 0);
    assert_int_equal(cap, 5);
    assert_int_equal(cnt.live, 5 * sizeof(*p));
    loom_free(&m, p);
    assert_int_equal(cnt.live, 0);
}

/* Above max: LOOM_ERR_LIMIT, no allocation, nothing changed. */
static void test_grow_limit(void **state)
{
    (void)state;
    counting cnt = {0};
    loom_mem m = counting_mem(&cnt);
    uint8_t *p = NULL;
    size_t cap = 0;
    assert_int_equal(loom__grow(&m, (void **)&p, &cap, 11, 1, 10), LOOM_ERR_LIMIT);
    assert_null(p);
    assert_int_equal(cap, 0);
    assert_int_equal(cnt.calls, 0);

    assert_int_equal(loom__grow(&m, (void **)&p, &cap, 10, 1, 10), 0);
    assert_int_equal(cap, 10);
    memset(p, 'x', 10);
    size_t calls = cnt.calls;
    uint8_t *was = p;
    assert_int_equal(loom__grow(&m, (void **)&p, &cap, 11, 1, 10), LOOM_ERR_LIMIT);
    assert_int_equal(loom__grow(&m, (void **)&p, &cap, SIZE_MAX, 1, 10), LOOM_ERR_LIMIT);
    assert_ptr_equal(p, was);
    assert_int_equal(cap, 10);
    assert_int_equal(cnt.calls, calls);
    assert_int_equal(cnt.live, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(p[i], 'x');
    loom_free(&m, p);
    assert_int_equal(cnt.live, 0);
}

/* Allocation failure: LOOM_ERR_NOMEM, the old block and capacity kept. */
static void test_grow_out_of_memory(void **state)
{
    (void)state;
    counting cnt = {0};
    loom_mem m = counting_mem(&cnt);
    uint64_t *p = NULL;
    size_t cap = 0;

    cnt.fail_at = 1; /* the first allocation */
    assert_int_equal(loom__grow(&m, (void **)&p, &cap, 3, sizeof(*p), 100), LOOM_ERR_NOMEM);
    assert_null(p);
    assert_int_equal(cap, 0);
    assert_int_equal(cnt.live, 0);

    cnt.fail_at = 0;
    assert_int_equal(loom__grow(&m, (void **)&p, &cap, 3, sizeof(*p), 100), 0);
    for (uint64_t i = 0; i < 16; i++)
        p[i] = i * 0x0101010101010101ull;
    uint64_t *was = p;

    cnt.fail_at = cnt.calls + 1; /* the growth */
    assert_int_equal(loom__grow(&m, (void **)&p, &cap, 17, sizeof(*p), 100), LOOM_ERR_NOMEM);
    assert_ptr_equal(p, was);
    assert_int_equal(cap, 16);
    assert_int_equal(cnt.live, 16 * sizeof(*p));
    for (uint64_t i = 0; i < 16; i++)
        assert_int_equal(p[i], i * 0x0101010101010101ull);

    /* the next attempt succeeds */
    cnt.fail_at = 0;
    assert_int_equal(loom__grow(&m, (void **)&p, &cap, 17, sizeof(*p), 100), 0);
    assert_int_equal(cap, 32);
    for (uint64_t i = 0; i < 16; i++)
        assert_int_equal(p[i], i * 0x0101010101010101ull);
    loom_free(&m, p);
    assert_int_equal(cnt.live, 0);
}

/* Capacity times element size past SIZE_MAX: NOMEM before any allocation. */
static void test_grow_size_overflow(void **state)
{
    (void)state;
    counting cnt = {0};
    loom_mem m = counting_mem(&cnt);
    void *p = NULL;
    size_t cap = 0;
    assert_int_equal(loom__grow(&m, &p, &cap, 2, SIZE_MAX / 8, SIZE_MAX), LOOM_ERR_NOMEM);
    assert_null(p);
    assert_int_equal(cap, 0);
    assert_int_equal(cnt.calls, 0);
}

static void test_buf_append(void **state)
{
    (void)state;
    counting cnt = {0};
    loom_mem m = counting_mem(&cnt);
    loom__buf b = {0};
    uint8_t want[300];
    for (int i = 0; i < 300; i++)
        want[i] = (uint8_t)(i * 13);

    /* 300 octets one at a time: the capacity doubles 16, 32, ..., 512 */
    size_t grows = 0, cap = 0;
    for (int i = 0; i < 300; i++) {
        assert_int_equal(loom__buf_append(&m, &b, &want[i], 1, 1000), 0);
        if (b.cap != cap) {
            assert_int_equal(b.cap, cap ? cap * 2 : 16);
            cap = b.cap;
            grows++;
        }
    }
    assert_int_equal(b.len, 300);
    assert_int_equal(b.cap, 512);
    assert_int_equal(grows, 6);
    assert_memory_equal(b.p, want, 300);

    /* past max (the buffer's bound, the same on every call): LOOM_ERR_LIMIT,
     * nothing appended */
    assert_int_equal(loom__buf_append(&m, &b, want, 300, 599), LOOM_ERR_LIMIT);
    assert_int_equal(b.len, 300);
    assert_int_equal(b.cap, 512);
    /* up to max exactly: the capacity stops at max, not at 1024 */
    assert_int_equal(loom__buf_append(&m, &b, want, 299, 599), 0);
    assert_int_equal(b.len, 599);
    assert_int_equal(b.cap, 599);
    assert_memory_equal(b.p + 300, want, 299);
    assert_int_equal(loom__buf_append(&m, &b, want, 1, 599), LOOM_ERR_LIMIT);
    assert_int_equal(b.len, 599);

    /* zero octets (even from NULL) change nothing */
    assert_int_equal(loom__buf_append(&m, &b, NULL, 0, 599), 0);
    assert_int_equal(b.len, 599);
    assert_int_equal(b.cap, 599);

    /* out of memory while appending: nothing appended, contents kept */
    cnt.fail_at = cnt.calls + 1;
    assert_int_equal(loom__buf_append(&m, &b, want, 100, 10000), LOOM_ERR_NOMEM);
    assert_int_equal(b.len, 599);
    assert_int_equal(b.cap, 599);
    assert_memory_equal(b.p, want, 300);
    cnt.fail_at = 0;

    /* reserve: room for more without changing len */
    assert_int_equal(loom__buf_reserve(&m, &b, 1000, 10000), 0);
    assert_int_equal(b.len, 599);
    assert_int_equal(b.cap, 2396); /* 599 doubled twice */
    assert_int_equal(loom__buf_reserve(&m, &b, 10000, 10000), LOOM_ERR_LIMIT);

    loom__buf_free(&m, &b);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(cnt.live, 0);
    loom__buf_free(&m, &b); /* twice is harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_doubles),       cmocka_unit_test(test_grow_limit),
        cmocka_unit_test(test_grow_out_of_memory), cmocka_unit_test(test_grow_size_overflow),
        cmocka_unit_test(test_buf_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
