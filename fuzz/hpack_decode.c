/* libFuzzer harness for the HPACK decoder: header blocks decoded in sequence
 * by one decoder, so that dynamic-table state carries from block to block,
 * with changes of the local table size between blocks. Every block that
 * decodes is encoded again by a loom encoder and decoded by a second
 * decoder that follows that encoder's table: the fields must come back the
 * same. A third decoder, with no list limit, decodes the same blocks: the
 * limit may change what is reported, never whether a block is malformed
 * nor what the dynamic table holds.
 *
 * Input:
 *   byte 0   the decoder's initial SETTINGS_HEADER_TABLE_SIZE (table_sizes)
 *   byte 1   its SETTINGS_MAX_HEADER_LIST_SIZE (list_sizes)
 *   byte 2   >= 0xf0: the decoder's allocator fails at allocation
 *            (byte & 0x0f) + 1; anything else: it never fails
 *   then items until the input ends:
 *     0xff S      the decoder's table size setting becomes table_sizes[S]
 *     0xfd S      the peer's setting, for the re-encoding encoder (and so
 *                 for the decoder that follows it), becomes table_sizes[S]
 *     0xfe H L    a block of H * 256 + L octets follows
 *     N (< 0xfd)  a block of N octets follows
 *   A block is cut short where the input ends. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "loom/hpack.h"

static const uint32_t table_sizes[16] = {4096, 0,    1,    31,   32,   33,    64,    100,
                                         256,  1365, 2730, 4095, 4097, 16384, 65536, 1u << 20};
/* 0 asks for the default (64 KiB); the largest lets a compression bomb of
 * a few KiB of input expand fully, which must still be bounded. */
static const uint32_t list_sizes[8] = {0, 1, 32, 64, 200, 1024, 4096, 16u << 20};

/* The decoder's own view of what it reported must hang together. */
static void check_list(const loom_hpack_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const loom_hpack_field *f = &l->fields[i];
        loom_hpack_rep rep = (loom_hpack_rep)(l->reps[i] & LOOM_HPACK_REP_MASK);
        if ((f->name_len && !f->name) || (f->value_len && !f->value)) abort();
        if (rep > LOOM_HPACK_REP_NEVER_INDEXED) abort();
        if (((f->flags & LOOM_HPACK_NEVER_INDEXED) != 0) != (rep == LOOM_HPACK_REP_NEVER_INDEXED))
            abort();
    }
}

static int decode(loom_hpack_decoder *d, const uint8_t *in, size_t n, loom_hpack_list *l,
                  loom_hpack_error *e)
{
    int rc = loom_hpack_decode_block(d, in, n, l, e);
    check_list(l);
    return rc;
}

/* ---- an allocator that fails on request, to reach the NOMEM paths ---- */

typedef struct {
    unsigned count, fail_at; /* fail_at 0: never */
} failing;

static void *f_malloc(size_t n, void *user)
{
    failing *fl = user;
    if (fl->fail_at && ++fl->count == fl->fail_at) return NULL;
    return malloc(n);
}

static void *f_realloc(void *p, size_t n, void *user)
{
    failing *fl = user;
    if (fl->fail_at && ++fl->count == fl->fail_at) return NULL;
    return realloc(p, n);
}

static void f_free(void *p, void *user)
{
    (void)user;
    free(p);
}

/* ---- the list limit ---- */

static void fail(const char *why)
{
    fprintf(stderr, "hpack_decode: %s\n", why);
    abort();
}

static int same_field(const loom_hpack_list *a, size_t i, const loom_hpack_list *b, size_t j)
{
    const loom_hpack_field *x = &a->fields[i], *y = &b->fields[j];
    return x->name_len == y->name_len && memcmp(x->name, y->name, x->name_len) == 0 &&
           x->value_len == y->value_len && memcmp(x->value, y->value, x->value_len) == 0 &&
           x->flags == y->flags &&
           (a->reps[i] & LOOM_HPACK_REP_MASK) == (b->reps[j] & LOOM_HPACK_REP_MASK);
}

/* d's result (rc, got, under `limit`) against the unlimited decoder's (rs,
 * full) on the same block. The limit changes only what is reported: the
 * block is malformed or not whatever the limit (RFC 9113 §4.3), and past
 * the limit loom reports a prefix of the fields (RFC 9113 §10.5.1).
 * Returns 1 when the input must end here. */
static int check_shadow(int rc, const loom_hpack_list *got, int rs, const char *rs_reason,
                        const loom_hpack_list *full, size_t limit)
{
    (void)rs_reason;
    if (rs != 0 && rs != LOOM_ERR_COMPRESSION) fail("unlimited decoder: unexpected result");
    if (rc == LOOM_ERR_COMPRESSION) {
        if (rs != LOOM_ERR_COMPRESSION) fail("malformed only under the list limit");
        return 0;
    }
    if (rs != 0) fail("malformed, yet decoded (or LIMIT) under the list limit");
    if (got->n > full->n) fail("more fields under the list limit than without");
    for (size_t i = 0; i < got->n; i++)
        if (!same_field(got, i, full, i)) fail("fields differ under the list limit");
    size_t list = 0;
    for (size_t i = 0; i < full->n; i++)
        list += full->fields[i].name_len + full->fields[i].value_len + 32;
    if (rc == 0 && (got->n != full->n || list > limit)) fail("decoded, but not the whole list");
    if (rc == LOOM_ERR_LIMIT && list <= limit) fail("LIMIT for a list within the limit");
    return 0;
}

/* ---- the round trip ---- */

/* Encodes what d decoded and decodes it with d2, which follows enc's table:
 * the same fields must come back, in order, never-indexed kept. */
static void round_trip(loom_hpack_encoder *enc, loom_hpack_decoder *d2, const loom_hpack_list *in,
                       loom_hpack_list *out)
{
    loom_hpack_field *fields = xrealloc(NULL, in->n * sizeof *fields);
    for (size_t i = 0; i < in->n; i++) {
        fields[i] = in->fields[i];
        /* a field that came without indexing is re-sent the same way: the
         * encoder's NO_INDEX path gets exercised too */
        fields[i].flags &= LOOM_HPACK_NEVER_INDEXED;
        if ((in->reps[i] & LOOM_HPACK_REP_MASK) == LOOM_HPACK_REP_WITHOUT_INDEX)
            fields[i].flags |= LOOM_HPACK_NO_INDEX;
    }
    size_t bound = loom_hpack_encode_bound(fields, in->n);
    uint8_t *wire = xrealloc(NULL, bound);
    /* below the bound: refused before anything changes */
    if (bound > 0 && loom_hpack_encode(enc, fields, in->n, wire, bound - 1) != LOOM_ERR_BUFFER)
        fail("encode: no LOOM_ERR_BUFFER below the bound");
    int n = loom_hpack_encode(enc, fields, in->n, wire, bound);
    if (n < 0 || (size_t)n > bound) fail("encode: failed or past the bound");
    if (loom_hpack_encoder_table_size(enc) > LOOM_HPACK_DEFAULT_TABLE_SIZE)
        fail("encode: table above its cap");

    loom_hpack_error e;
    if (decode(d2, wire, (size_t)n, out, &e) != 0)
        fail("round trip: loom cannot decode its own encoding");
    if (out->n != in->n) fail("round trip: field count differs");
    for (size_t i = 0; i < in->n; i++) {
        const loom_hpack_field *a = &in->fields[i], *b = &out->fields[i];
        if (a->name_len != b->name_len || memcmp(a->name, b->name, a->name_len) != 0)
            fail("round trip: a name differs");
        if (a->value_len != b->value_len || memcmp(a->value, b->value, a->value_len) != 0)
            fail("round trip: a value differs");
        /* never-indexed must survive re-encoding (RFC 7541 §6.2.3); the
         * encoder may add it on its own for sensitive fields (§7.1.3) */
        if ((a->flags & LOOM_HPACK_NEVER_INDEXED) && !(b->flags & LOOM_HPACK_NEVER_INDEXED))
            fail("round trip: never-indexed lost");
    }
    if (loom_hpack_decoder_table_size(d2) != loom_hpack_encoder_table_size(enc))
        fail("round trip: the tables of encoder and decoder differ");
    free(wire);
    free(fields);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    uint32_t setting = table_sizes[data[0] & 15];
    uint32_t list_max = list_sizes[data[1] & 7];
    const uint8_t *p = data + 3, *end = data + size;

    failing fl = {0, data[2] >= 0xf0 ? (unsigned)(data[2] & 0x0f) + 1 : 0};
    loom_mem mem = {f_malloc, f_realloc, f_free, &fl};
    loom_hpack_decoder *d = loom_hpack_decoder_new(setting, list_max, &mem);
    if (!d) return 0; /* the failing allocator said no */
    loom_hpack_encoder *enc = loom_hpack_encoder_new(NULL);
    /* d2 stands for the peer that receives enc's blocks: it starts, as enc
     * does, at the protocol default, and its setting follows 0xfd items; no
     * list limit, since it only checks the round trip */
    loom_hpack_decoder *d2 =
        loom_hpack_decoder_new(LOOM_HPACK_DEFAULT_TABLE_SIZE, UINT32_MAX, NULL);
    /* ds decodes the same blocks as d with no list limit and an allocator
     * that never fails: where d stops reporting at its limit, ds shows what
     * the block holds, and both tables must still be the same */
    loom_hpack_decoder *ds = loom_hpack_decoder_new(setting, UINT32_MAX, NULL);
    if (!enc || !d2 || !ds) abort();
    loom_hpack_list got = {0}, again = {0}, full = {0};
    size_t limit = list_max ? list_max : LOOM_HPACK_DEFAULT_MAX_LIST_SIZE;
    uint8_t *copy = NULL; /* the block being decoded: raw literals point into it */

    while (p < end) {
        uint8_t c = *p++;
        if (c == 0xff || c == 0xfd) {
            if (p == end) break;
            uint32_t v = table_sizes[*p++ & 15];
            if (c == 0xff) {
                setting = v;
                int rc = loom_hpack_decoder_set_max_table_size(d, v);
                if (rc == LOOM_ERR_NOMEM) break;
                if (rc != 0 || loom_hpack_decoder_set_max_table_size(ds, v) != 0) abort();
            } else {
                if (loom_hpack_encoder_set_max_table_size(enc, v) != 0) abort();
                if (loom_hpack_decoder_set_max_table_size(d2, v) != 0) abort();
            }
            continue;
        }
        size_t n;
        if (!fuzz_block_len(c, &p, end, &n)) break;
        const uint8_t *blk = p;
        p += n;

        /* a copy exactly as long as the block, so that ASan sees any read
         * past its end (and any use of the lists after it is gone) */
        free(copy);
        copy = xrealloc(NULL, n);
        if (n) memcpy(copy, blk, n);
        loom_hpack_error e = {0, 0, NULL};
        int rc = decode(d, copy, n, &got, &e);
        loom_hpack_error es;
        int rs = decode(ds, copy, n, &full, &es);

        if (loom_hpack_decoder_table_size(d) > loom_hpack_decoder_table_max(d)) abort();
        if (loom_hpack_decoder_table_len(d) * 32 > loom_hpack_decoder_table_size(d)) abort();
        if (rc < 0 && rc != LOOM_ERR_NOMEM && (e.err != rc || e.offset > n || !e.reason)) abort();

        /* what was reported fits the list limit, even on LIMIT */
        size_t list = 0;
        for (size_t i = 0; i < got.n; i++)
            list += got.fields[i].name_len + got.fields[i].value_len + 32;
        if (list > limit) abort();

        if (rc == LOOM_ERR_NOMEM) break; /* connection over */
        if (check_shadow(rc, &got, rs, es.reason, &full, limit)) break;
        if (rc == LOOM_ERR_COMPRESSION) break; /* connection over */
        if (rc != 0 && rc != LOOM_ERR_LIMIT) abort();
        if (loom_hpack_decoder_table_size(d) != loom_hpack_decoder_table_size(ds) ||
            loom_hpack_decoder_table_len(d) != loom_hpack_decoder_table_len(ds) ||
            loom_hpack_decoder_table_max(d) != loom_hpack_decoder_table_max(ds))
            abort();
        /* a block that decoded carried any size update it owed, so the table
         * is within the setting now in force */
        if (loom_hpack_decoder_table_max(d) > setting) abort();
        if (rc == LOOM_ERR_LIMIT) continue; /* stream refused, table in step */
        round_trip(enc, d2, &got, &again);
    }

    free(copy);
    loom_hpack_list_free(&got);
    loom_hpack_list_free(&again);
    loom_hpack_list_free(&full);
    loom_hpack_decoder_free(d);
    loom_hpack_decoder_free(ds);
    loom_hpack_decoder_free(d2);
    loom_hpack_encoder_free(enc);
    return 0;
}
