/* loom's HPACK decoder against other encoders, on the hpack-test-case
 * stories (tests/data/hpack-test-case): every story of every implementation
 * folder decodes, case after case on one decoder (one connection), to
 * exactly the header lists it lists: same order, names and values.
 *
 * Then loom's encoder on the raw-data stories (the same header lists without
 * a wire): each encoded by loom (one encoder per story, the default 4096
 * table) and decoded back by loom, exactly, with both tables in step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loom/hpack.h"
#include "hpack_util.h"
#include "interop/hpack_story.h"

#ifndef LOOM_HPACK_TEST_CASE
#error "LOOM_HPACK_TEST_CASE: the hpack-test-case folder"
#endif

static size_t n_stories, n_cases, n_fields;

/* Asserts the decoded list equals the case's headers. */
static void check_case(const char *path, int seqno, const hlist *l, const loom_hpack_field *want,
                       size_t n)
{
    if (l->n != n) fail_msg("%s case %d: %zu fields decoded, %zu listed", path, seqno, l->n, n);
    for (size_t i = 0; i < n; i++) {
        const loom_hpack_field *h = &l->fields[i];
        if (h->name_len != want[i].name_len || memcmp(h->name, want[i].name, h->name_len) ||
            h->value_len != want[i].value_len ||
            (h->value_len && memcmp(h->value, want[i].value, h->value_len)))
            fail_msg("%s case %d field %zu: got '%s: %s', listed '%s: %s'", path, seqno, i, h->name,
                     h->value, want[i].name, want[i].value);
    }
}

static void decode_story(const char *path)
{
    json_t *root = story_load(path);
    json_t *cases = json_object_get(root, "cases");
    loom_hpack_decoder *d = loom_hpack_decoder_new(LOOM_HPACK_DEFAULT_TABLE_SIZE, 0, NULL);
    assert_non_null(d);
    hlist l = {0};
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        int seqno = story_seqno(c, i);
        /* the table size the encoder was allowed: our SETTINGS value */
        json_t *hts = json_object_get(c, "header_table_size");
        if (hts) {
            assert_true(json_is_integer(hts));
            assert_int_equal(
                loom_hpack_decoder_set_max_table_size(d, (uint32_t)json_integer_value(hts)), 0);
        }
        const char *hex = json_string_value(json_object_get(c, "wire"));
        if (!hex) fail_msg("%s case %d: no wire", path, seqno);
        size_t len;
        uint8_t *wire = hex_decode(hex, &len);
        if (!wire) fail_msg("%s case %d: wire is not hex", path, seqno);
        size_t n;
        loom_hpack_field *want = story_fields(path, c, &n);
        loom_hpack_error e = {0};
        int rc = loom_hpack_decode_block(d, wire, len, &l, &e);
        if (rc != 0)
            fail_msg("%s case %d: decode returned %d at offset %zu (%s)", path, seqno, rc, e.offset,
                     e.reason);
        check_case(path, seqno, &l, want, n);
        n_fields += n;
        n_cases++;
        free(want);
        free(wire);
    }
    n_stories++;
    loom_hpack_list_free(&l);
    loom_hpack_decoder_free(d);
    json_decref(root);
}

static void test_decode_every_story(void **state)
{
    (void)state;
    char **folders;
    int nf = story_folders(LOOM_HPACK_TEST_CASE, &folders);
    for (int k = 0; k < nf; k++) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/%s", LOOM_HPACK_TEST_CASE, folders[k]);
        char **paths;
        size_t before = n_cases;
        int ns = story_list(dir, &paths);
        for (int s = 0; s < ns; s++)
            decode_story(paths[s]);
        print_message("  %-30s %3d stories, %5zu cases decoded\n", folders[k], ns,
                      n_cases - before);
        /* a folder that lost its stories must not pass quietly */
        assert_true(ns >= 30);
        story_list_free(paths, ns);
    }
    print_message("  decoded: %d folders, %zu stories, %zu cases, %zu fields, all exact\n", nf,
                  n_stories, n_cases, n_fields);
    for (int k = 0; k < nf; k++)
        free(folders[k]);
    free(folders);
    assert_true(nf >= 6);
    assert_true(n_stories >= 190);
}

static size_t raw_stories, raw_cases, raw_fields, raw_bytes, raw_plain;

static void encode_story(const char *path)
{
    json_t *root = story_load(path);
    json_t *cases = json_object_get(root, "cases");
    loom_hpack_encoder *enc = loom_hpack_encoder_new(NULL);
    loom_hpack_decoder *d = loom_hpack_decoder_new(LOOM_HPACK_DEFAULT_TABLE_SIZE, 0, NULL);
    hlist l = {0};
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        size_t n;
        loom_hpack_field *f = story_fields(path, c, &n);
        size_t bound = loom_hpack_encode_bound(f, n);
        uint8_t *out = malloc(bound + 1);
        int len = loom_hpack_encode(enc, f, n, out, bound);
        if (len < 0) fail_msg("%s case %zu: encode returned %d", path, i, len);
        loom_hpack_error e = {0};
        int rc = loom_hpack_decode_block(d, out, (size_t)len, &l, &e);
        if (rc != 0)
            fail_msg("%s case %zu: loom cannot decode its own block: %s", path, i, e.reason);
        check_case(path, (int)i, &l, f, n);
        raw_fields += n;
        assert_int_equal(loom_hpack_encoder_table_size(enc), loom_hpack_decoder_table_size(d));
        assert_int_equal(loom_hpack_encoder_table_len(enc), loom_hpack_decoder_table_len(d));
        raw_bytes += (size_t)len;
        for (size_t k = 0; k < n; k++)
            raw_plain += f[k].name_len + f[k].value_len;
        raw_cases++;
        free(out);
        free(f);
    }
    raw_stories++;
    loom_hpack_list_free(&l);
    loom_hpack_decoder_free(d);
    loom_hpack_encoder_free(enc);
    json_decref(root);
}

static void test_encode_raw_data(void **state)
{
    (void)state;
    char **paths;
    int ns = story_list(LOOM_HPACK_TEST_CASE "/raw-data", &paths);
    for (int s = 0; s < ns; s++)
        encode_story(paths[s]);
    story_list_free(paths, ns);
    print_message("  raw-data: %zu stories, %zu cases, %zu fields encoded and decoded back, "
                  "%zu octets of names and values in %zu octets of blocks\n",
                  raw_stories, raw_cases, raw_fields, raw_plain, raw_bytes);
    assert_true(raw_stories >= 30);
    /* both parts together: the whole collection was there */
    print_message("  stories in all: %zu\n", n_stories + raw_stories);
    assert_true(n_stories + raw_stories >= 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_every_story),
        cmocka_unit_test(test_encode_raw_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
