/* loom's HPACK encoder against an independent decoder, libnghttp2's
 * inflater: every raw-data story of hpack-test-case is encoded by loom (one
 * encoder per story: one connection) and inflated by nghttp2, which must
 * return exactly the story's header lists. After each block nghttp2's
 * dynamic table must have the size and the number of entries loom's encoder
 * believes it has (RFC 7541 §4.1 accounting, evictions, size updates).
 *
 * Four runs: the default 4096 table; 256 (a size update, RFC 7541 §6.3,
 * many evictions) with every cookie sent never-indexed, which nghttp2 must
 * report as such (§6.2.3); 16384 (above the protocol default, so nghttp2 is
 * told first, as SETTINGS would); and 0 (no dynamic table at all). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "loom/hpack.h"
#include "interop/hpack_story.h"

#ifndef LOOM_HPACK_TEST_CASE
#error "LOOM_HPACK_TEST_CASE: the hpack-test-case folder"
#endif

typedef struct {
    uint32_t table;   /* 4096: loom's default, untouched */
    int never_cookie; /* send cookies with LOOM_HPACK_NEVER_INDEXED */
} run_cfg;

static size_t n_stories, n_cases, n_fields, n_never, n_flagged, loom_bytes, ng_bytes;

static int is_cookie(const loom_hpack_field *f)
{
    return f->name_len == 6 && !memcmp(f->name, "cookie", 6);
}

/* Inflates one block with nghttp2 and compares with the fields. */
static void inflate_check(nghttp2_hd_inflater *inf, const uint8_t *in, size_t len,
                          const loom_hpack_field *f, size_t n, const char *path, size_t seq,
                          const run_cfg *cfg)
{
    size_t got = 0;
    for (;;) {
        nghttp2_nv nv;
        int flags = 0;
        ssize_t rv = nghttp2_hd_inflate_hd2(inf, &nv, &flags, in, len, 1);
        if (rv < 0)
            fail_msg("%s case %zu (table %u): nghttp2 rejects loom's block: %s", path, seq,
                     cfg->table, nghttp2_strerror((int)rv));
        in += rv;
        len -= (size_t)rv;
        if (flags & NGHTTP2_HD_INFLATE_EMIT) {
            if (got >= n) fail_msg("%s case %zu: nghttp2 got more than %zu fields", path, seq, n);
            const loom_hpack_field *w = &f[got];
            if (nv.namelen != w->name_len || memcmp(nv.name, w->name, nv.namelen) ||
                nv.valuelen != w->value_len ||
                (nv.valuelen && memcmp(nv.value, w->value, nv.valuelen)))
                fail_msg("%s case %zu field %zu (table %u): nghttp2 got '%.*s: %.*s', want '%s: "
                         "%s'",
                         path, seq, got, cfg->table, (int)nv.namelen, nv.name, (int)nv.valuelen,
                         nv.value, w->name, w->value);
            if (w->flags & LOOM_HPACK_NEVER_INDEXED) {
                if (!(nv.flags & NGHTTP2_NV_FLAG_NO_INDEX))
                    fail_msg("%s case %zu field %zu: sent never-indexed, nghttp2 did not see it",
                             path, seq, got);
                n_never++;
            }
            got++;
        }
        if (flags & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(inf);
            break;
        }
        if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && len == 0)
            fail_msg("%s case %zu: nghttp2 did not finish the block", path, seq);
    }
    if (got != n) fail_msg("%s case %zu: nghttp2 got %zu fields, want %zu", path, seq, got, n);
    n_fields += n;
}

static void run_story(const char *path, const run_cfg *cfg)
{
    json_t *root = story_load(path);
    json_t *cases = json_object_get(root, "cases");
    loom_hpack_encoder *enc = loom_hpack_encoder_new(NULL);
    assert_non_null(enc);
    nghttp2_hd_inflater *inf;
    assert_int_equal(nghttp2_hd_inflate_new(&inf), 0);
    nghttp2_hd_deflater *def = NULL;
    if (cfg->table != LOOM_HPACK_DEFAULT_TABLE_SIZE) {
        /* as if our SETTINGS_HEADER_TABLE_SIZE said so (RFC 9113 §6.5.2) */
        assert_int_equal(nghttp2_hd_inflate_change_table_size(inf, cfg->table), 0);
        assert_int_equal(loom_hpack_encoder_set_table_cap(enc, cfg->table), 0);
        assert_int_equal(loom_hpack_encoder_set_max_table_size(enc, cfg->table), 0);
    } else {
        /* nghttp2's own encoder on the same lists, for the size comparison */
        assert_int_equal(nghttp2_hd_deflate_new(&def, cfg->table), 0);
    }
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        size_t n;
        loom_hpack_field *f = story_fields(path, c, &n);
        for (size_t k = 0; k < n; k++)
            if (cfg->never_cookie && is_cookie(&f[k])) {
                f[k].flags = LOOM_HPACK_NEVER_INDEXED;
                n_flagged++;
            }
        size_t bound = loom_hpack_encode_bound(f, n);
        uint8_t *out = malloc(bound + 1);
        int len = loom_hpack_encode(enc, f, n, out, bound);
        if (len < 0) fail_msg("%s case %zu: loom encode returned %d", path, i, len);
        inflate_check(inf, out, (size_t)len, f, n, path, i, cfg);
        /* the two tables agree (nghttp2 counts the 61 static entries too) */
        size_t ng_size = nghttp2_hd_inflate_get_dynamic_table_size(inf);
        size_t ng_len = nghttp2_hd_inflate_get_num_table_entries(inf) - 61;
        if (ng_size != loom_hpack_encoder_table_size(enc) ||
            ng_len != loom_hpack_encoder_table_len(enc))
            fail_msg("%s case %zu (table %u): nghttp2's table %zu octets / %zu entries, loom's "
                     "encoder %zu / %zu",
                     path, i, cfg->table, ng_size, ng_len, loom_hpack_encoder_table_size(enc),
                     loom_hpack_encoder_table_len(enc));
        loom_bytes += (size_t)len;
        if (def) {
            nghttp2_nv *nva = calloc(n + 1, sizeof(*nva));
            for (size_t k = 0; k < n; k++)
                nva[k] = (nghttp2_nv){(uint8_t *)f[k].name, (uint8_t *)f[k].value, f[k].name_len,
                                      f[k].value_len, NGHTTP2_NV_FLAG_NONE};
            size_t nb = nghttp2_hd_deflate_bound(def, nva, n);
            uint8_t *ng = malloc(nb + 1);
            ssize_t rv = nghttp2_hd_deflate_hd(def, ng, nb, nva, n);
            assert_true(rv >= 0);
            ng_bytes += (size_t)rv;
            free(ng);
            free(nva);
        }
        n_cases++;
        free(out);
        free(f);
    }
    n_stories++;
    if (def) nghttp2_hd_deflate_del(def);
    nghttp2_hd_inflate_del(inf);
    loom_hpack_encoder_free(enc);
    json_decref(root);
}

static void run_all(const run_cfg *cfg)
{
    char **paths;
    int ns = story_list(LOOM_HPACK_TEST_CASE "/raw-data", &paths);
    size_t s0 = n_stories, c0 = n_cases, f0 = n_fields;
    for (int s = 0; s < ns; s++)
        run_story(paths[s], cfg);
    story_list_free(paths, ns);
    print_message("  table %5u%s: %zu stories, %zu cases, %zu fields: nghttp2 decodes loom "
                  "exactly\n",
                  cfg->table, cfg->never_cookie ? " (cookies never indexed)" : "", n_stories - s0,
                  n_cases - c0, n_fields - f0);
    assert_true(ns >= 30);
}

static void test_default_table(void **state)
{
    (void)state;
    run_cfg cfg = {LOOM_HPACK_DEFAULT_TABLE_SIZE, 0};
    run_all(&cfg);
    print_message("  the same lists: loom %zu octets, nghttp2's encoder %zu octets (%.3f)\n",
                  loom_bytes, ng_bytes, ng_bytes ? (double)loom_bytes / (double)ng_bytes : 0.0);
}

static void test_small_table_never_indexed(void **state)
{
    (void)state;
    run_cfg cfg = {256, 1};
    run_all(&cfg);
    print_message("  %zu of %zu cookies sent never-indexed reported so by nghttp2\n", n_never,
                  n_flagged);
    assert_int_equal(n_never, n_flagged);
    assert_true(n_flagged >= 50); /* the stories do carry cookies */
}

static void test_large_table(void **state)
{
    (void)state;
    run_cfg cfg = {16384, 0};
    run_all(&cfg);
}

static void test_no_table(void **state)
{
    (void)state;
    run_cfg cfg = {0, 0};
    run_all(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_table),
        cmocka_unit_test(test_small_table_never_indexed),
        cmocka_unit_test(test_large_table),
        cmocka_unit_test(test_no_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
