/* lib/static_table.c: the HPACK static table (RFC 7541 Appendix A) entry by
 * entry, lookups by index out of range, find by exact match and by name
 * only (with every one-octet variation of every name), and the short-string
 * compare the lookups use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "static_table.h"

/* RFC 7541 Appendix A, with its index numbers. */
static const struct {
    uint32_t index;
    const char *name, *value;
} appendix_a[] = {
    {1, ":authority", ""},
    {2, ":method", "GET"},
    {3, ":method", "POST"},
    {4, ":path", "/"},
    {5, ":path", "/index.html"},
    {6, ":scheme", "http"},
    {7, ":scheme", "https"},
    {8, ":status", "200"},
    {9, ":status", "204"},
    {10, ":status", "206"},
    {11, ":status", "304"},
    {12, ":status", "400"},
    {13, ":status", "404"},
    {14, ":status", "500"},
    {15, "accept-charset", ""},
    {16, "accept-encoding", "gzip, deflate"},
    {17, "accept-language", ""},
    {18, "accept-ranges", ""},
    {19, "accept", ""},
    {20, "access-control-allow-origin", ""},
    {21, "age", ""},
    {22, "allow", ""},
    {23, "authorization", ""},
    {24, "cache-control", ""},
    {25, "content-disposition", ""},
    {26, "content-encoding", ""},
    {27, "content-language", ""},
    {28, "content-length", ""},
    {29, "content-location", ""},
    {30, "content-range", ""},
    {31, "content-type", ""},
    {32, "cookie", ""},
    {33, "date", ""},
    {34, "etag", ""},
    {35, "expect", ""},
    {36, "expires", ""},
    {37, "from", ""},
    {38, "host", ""},
    {39, "if-match", ""},
    {40, "if-modified-since", ""},
    {41, "if-none-match", ""},
    {42, "if-range", ""},
    {43, "if-unmodified-since", ""},
    {44, "last-modified", ""},
    {45, "link", ""},
    {46, "location", ""},
    {47, "max-forwards", ""},
    {48, "proxy-authenticate", ""},
    {49, "proxy-authorization", ""},
    {50, "range", ""},
    {51, "referer", ""},
    {52, "refresh", ""},
    {53, "retry-after", ""},
    {54, "server", ""},
    {55, "set-cookie", ""},
    {56, "strict-transport-security", ""},
    {57, "transfer-encoding", ""},
    {58, "user-agent", ""},
    {59, "vary", ""},
    {60, "via", ""},
    {61, "www-authenticate", ""},
};

#define NENTRIES (sizeof(appendix_a) / sizeof(appendix_a[0]))

static uint32_t find(const char *name, size_t nlen, const char *value, size_t vlen, int *exact)
{
    *exact = -1;
    return loom_hpack_static_find((const uint8_t *)name, nlen, (const uint8_t *)value, vlen, exact);
}

/* The first index of a name in the table written here, 0 if none. */
static uint32_t first_of(const char *name, size_t n)
{
    for (size_t i = 0; i < NENTRIES; i++)
        if (strlen(appendix_a[i].name) == n && !memcmp(appendix_a[i].name, name, n))
            return appendix_a[i].index;
    return 0;
}

static void test_every_entry(void **state)
{
    (void)state;
    assert_int_equal(NENTRIES, 61);
    assert_int_equal(LOOM_HPACK_STATIC_ENTRIES, 61);
    for (size_t i = 0; i < NENTRIES; i++) {
        const char *n = appendix_a[i].name, *v = appendix_a[i].value;
        uint32_t idx = appendix_a[i].index;
        assert_int_equal(idx, i + 1);
        loom_hpack_field f;
        memset(&f, 0x5a, sizeof(f));
        assert_int_equal(loom_hpack_static_get(idx, &f), 0);
        if (f.name_len != strlen(n) || memcmp(f.name, n, f.name_len) || f.value_len != strlen(v) ||
            (f.value_len && memcmp(f.value, v, f.value_len)))
            fail_msg("entry %u: '%.*s: %.*s', Appendix A has '%s: %s'", idx, (int)f.name_len,
                     (const char *)f.name, (int)f.value_len, (const char *)f.value, n, v);
        assert_int_equal(f.flags, 0);
        /* the library's own array, the same */
        assert_int_equal(loom__hpack_static[idx].name_len, strlen(n));
        assert_memory_equal(loom__hpack_static[idx].name, n, strlen(n));
    }
}

static void test_out_of_range(void **state)
{
    (void)state;
    const uint32_t bad[] = {0, 62, 63, 64, 128, 0x7fffffffu, 0x80000000u, 0xffffffffu};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        loom_hpack_field f;
        memset(&f, 0x5a, sizeof(f));
        assert_int_equal(loom_hpack_static_get(bad[i], &f), LOOM_ERR_INVALID);
        assert_null(f.name);
        assert_null(f.value);
        assert_int_equal(f.name_len, 0);
        assert_int_equal(f.value_len, 0);
    }
}

/* Every entry by its name and value: itself, exactly. */
static void test_find_exact(void **state)
{
    (void)state;
    for (size_t i = 0; i < NENTRIES; i++) {
        const char *n = appendix_a[i].name, *v = appendix_a[i].value;
        int exact;
        uint32_t got = find(n, strlen(n), v, strlen(v), &exact);
        if (got != appendix_a[i].index || exact != 1)
            fail_msg("find('%s', '%s') = %u exact %d, want %u exact 1", n, v, got, exact,
                     appendix_a[i].index);
    }
}

/* What find must say, from the table written here: an entry with the name
 * and value (exact), else the name's first entry. */
static uint32_t oracle(const char *n, size_t nl, const char *v, size_t vl, int *exact)
{
    *exact = 0;
    for (size_t j = 0; j < NENTRIES; j++)
        if (strlen(appendix_a[j].name) == nl && !memcmp(appendix_a[j].name, n, nl) &&
            strlen(appendix_a[j].value) == vl && !memcmp(appendix_a[j].value, v, vl)) {
            *exact = 1;
            return appendix_a[j].index;
        }
    return first_of(n, nl);
}

/* By name only: the name's first entry, exact 0, for values not in the
 * table with it: another value, the table's value cut short, made longer,
 * or with its last octet changed. */
static void test_find_name_only(void **state)
{
    (void)state;
    size_t name_only = 0;
    for (size_t i = 0; i < NENTRIES; i++) {
        const char *n = appendix_a[i].name, *v = appendix_a[i].value;
        size_t nl = strlen(n), vl = strlen(v);
        char variants[4][64];
        size_t lens[4], nv = 0;
        memcpy(variants[nv], "x-no-such-value", 15), lens[nv++] = 15;
        memcpy(variants[nv], v, vl), variants[nv][vl] = '!', lens[nv++] = vl + 1;
        if (vl) {
            memcpy(variants[nv], v, vl - 1), lens[nv++] = vl - 1;
            memcpy(variants[nv], v, vl), variants[nv][vl - 1] ^= 1, lens[nv++] = vl;
        }
        for (size_t k = 0; k < nv; k++) {
            int exact, want_exact;
            uint32_t want = oracle(n, nl, variants[k], lens[k], &want_exact);
            uint32_t got = find(n, nl, variants[k], lens[k], &exact);
            if (got != want || exact != want_exact)
                fail_msg("find('%s', '%.*s') = %u exact %d, want %u exact %d", n, (int)lens[k],
                         variants[k], got, exact, want, want_exact);
            name_only += !want_exact;
        }
    }
    assert_true(name_only > 120);
    int exact;
    assert_int_equal(find(":status", 7, "999", 3, &exact), 8);
    assert_int_equal(exact, 0);
    assert_int_equal(find(":status", 7, "500", 3, &exact), 14);
    assert_int_equal(exact, 1);
    assert_int_equal(find(":method", 7, "PUT", 3, &exact), 2);
    assert_int_equal(exact, 0);
    assert_int_equal(find(":method", 7, "get", 3, &exact), 2); /* values are case-sensitive */
    assert_int_equal(exact, 0);
    assert_int_equal(find("accept-encoding", 15, "gzip", 4, &exact), 16);
    assert_int_equal(exact, 0);
    assert_int_equal(find(":path", 5, "/index.htm", 10, &exact), 4);
    assert_int_equal(exact, 0);
}

/* Names not in the table: 0. Every name with one octet changed at every
 * position, cut short, made longer, or in uppercase. */
static void test_find_not_in_table(void **state)
{
    (void)state;
    int exact;
    assert_int_equal(find("", 0, "", 0, &exact), 0);
    assert_int_equal(exact, 0);
    assert_int_equal(find("x-custom", 8, "", 0, &exact), 0);
    assert_int_equal(find("set-cookie2", 11, "", 0, &exact), 0);
    const uint8_t changes[] = {0, 'a', 'e', 'z', '-', ':', 0x80, 0xff};
    size_t tried = 0;
    for (size_t i = 0; i < NENTRIES; i++) {
        const char *n = appendix_a[i].name;
        size_t len = strlen(n);
        char buf[64];
        for (size_t pos = 0; pos < len; pos++)
            for (size_t c = 0; c < sizeof(changes); c++) {
                if ((uint8_t)n[pos] == changes[c]) continue;
                memcpy(buf, n, len);
                buf[pos] = (char)changes[c];
                uint32_t want = first_of(buf, len); /* it may spell another name */
                uint32_t got = find(buf, len, "", 0, &exact);
                if (got != want)
                    fail_msg("'%s' with octet %zu as 0x%02x: found %u, want %u", n, pos, changes[c],
                             got, want);
                tried++;
            }
        for (size_t cut = 0; cut < len; cut++) {
            uint32_t want = first_of(n, cut);
            assert_int_equal(find(n, cut, "", 0, &exact), want);
        }
        memcpy(buf, n, len);
        buf[len] = 's';
        assert_int_equal(find(buf, len + 1, "", 0, &exact), first_of(buf, len + 1));
        for (size_t k = 0; k < len; k++)
            buf[k] = (char)(n[k] >= 'a' && n[k] <= 'z' ? n[k] - 32 : n[k]);
        assert_int_equal(find(buf, len, "", 0, &exact), 0);
    }
    assert_true(tried > 3000);
}

/* The internal name lookup: first index and how many entries share it. */
static void test_static_name(void **state)
{
    (void)state;
    for (size_t i = 0; i < NENTRIES; i++) {
        const char *n = appendix_a[i].name;
        uint32_t want_count = 0;
        for (size_t j = 0; j < NENTRIES; j++)
            want_count += !strcmp(appendix_a[j].name, n);
        uint32_t count = 0;
        assert_int_equal(loom__hpack_static_name((const uint8_t *)n, strlen(n), &count),
                         first_of(n, strlen(n)));
        assert_int_equal(count, want_count);
    }
    uint32_t count = 99;
    assert_int_equal(loom__hpack_static_name((const uint8_t *)":status", 7, &count), 8);
    assert_int_equal(count, 7);
    assert_int_equal(loom__hpack_static_name((const uint8_t *)"nope", 4, &count), 0);
}

/* loom__same, at every length to 80, with a difference at every place. */
static void test_same(void **state)
{
    (void)state;
    uint8_t a[80], b[80];
    for (size_t i = 0; i < sizeof(a); i++)
        a[i] = (uint8_t)(i * 31 + 7);
    for (size_t n = 0; n <= sizeof(a); n++) {
        memcpy(b, a, sizeof(a));
        assert_true(loom__same(a, b, n));
        for (size_t pos = 0; pos < n; pos++) {
            for (int bit = 0; bit < 8; bit++) {
                b[pos] = (uint8_t)(a[pos] ^ (1u << bit));
                if (loom__same(a, b, n))
                    fail_msg("length %zu: octet %zu differs, not seen", n, pos);
            }
            b[pos] = a[pos];
        }
        /* a difference past n does not count */
        if (n < sizeof(a)) {
            b[n] ^= 0xff;
            assert_true(loom__same(a, b, n));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_entry),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_find_exact),
        cmocka_unit_test(test_find_name_only),
        cmocka_unit_test(test_find_not_in_table),
        cmocka_unit_test(test_static_name),
        cmocka_unit_test(test_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
