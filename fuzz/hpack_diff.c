/* Differential libFuzzer harness: the same header blocks, in sequence,
 * through loom's decoder and through libnghttp2's inflater, with the same
 * table size settings at the same points. They must agree on which blocks
 * decode and, for those, on every field: name, value, never-indexed.
 *
 * Input, in the format of hpack_decode.c so that seeds serve both:
 *   byte 0   the initial SETTINGS_HEADER_TABLE_SIZE (table_sizes)
 *   byte 1-2 unused here
 *   then items until the input ends:
 *     0xff S      the table size setting becomes table_sizes[S]
 *     0xfd S      ignored here (an encoder-side change in hpack_decode.c)
 *     0xfe H L    a block of H * 256 + L octets follows
 *     N (< 0xfd)  a block of N octets follows
 *   A block is cut short where the input ends. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "fuzz_util.h"
#include "loom/hpack.h"

static const uint32_t table_sizes[16] = {4096, 0,    1,    31,   32,   33,    64,    100,
                                         256,  1365, 2730, 4095, 4097, 16384, 65536, 1u << 20};

/* nghttp2's inflater has no header-list limit; loom's is set high enough
 * that only a compression bomb reaches it (handled below). */
#define LIST_MAX (16u << 20)

/* What nghttp2 made of a block, compared field by field with loom's list
 * as nghttp2 emits them (its name and value live only until its next
 * call). */
typedef struct {
    size_t n;          /* fields emitted */
    size_t list;       /* their RFC 7541 §4.1 size */
    size_t first_diff; /* the first that differs from loom's, or SIZE_MAX */
} ng_result;

static int same_as_loom(const loom_hpack_list *lf, size_t i, const nghttp2_nv *nv)
{
    const loom_hpack_field *f = &lf->fields[i];
    uint8_t never = (nv->flags & NGHTTP2_NV_FLAG_NO_INDEX) ? LOOM_HPACK_NEVER_INDEXED : 0;
    return f->name_len == nv->namelen && memcmp(f->name, nv->name, nv->namelen) == 0 &&
           f->value_len == nv->valuelen && memcmp(f->value, nv->value, nv->valuelen) == 0 &&
           (f->flags & LOOM_HPACK_NEVER_INDEXED) == never;
}

/* One block through nghttp2, driven as its session code does. Returns 0
 * when the block decoded, else nghttp2's error. */
static int ng_decode(nghttp2_hd_inflater *in, const uint8_t *p, size_t len,
                     const loom_hpack_list *lf, ng_result *r)
{
    *r = (ng_result){0, 0, SIZE_MAX};
    for (;;) {
        nghttp2_nv nv;
        int flags = 0;
        ssize_t rv = nghttp2_hd_inflate_hd2(in, &nv, &flags, p, len, 1);
        if (rv < 0) return (int)rv;
        p += rv;
        len -= (size_t)rv;
        if (flags & NGHTTP2_HD_INFLATE_EMIT) {
            if (r->first_diff == SIZE_MAX && r->n < lf->n && !same_as_loom(lf, r->n, &nv))
                r->first_diff = r->n;
            r->n++;
            r->list += nv.namelen + nv.valuelen + 32;
        }
        if (flags & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(in);
            return 0;
        }
        /* with in_final set, nghttp2 ends every block with FINAL or an
         * error; anything else would loop forever */
        if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && len == 0) abort();
    }
}

static void disagree(const char *what, size_t block)
{
    fprintf(stderr, "hpack_diff: block %zu: %s\n", block, what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    const uint8_t *p = data + 3, *end = data + size;

    loom_hpack_decoder *d = loom_hpack_decoder_new(LOOM_HPACK_DEFAULT_TABLE_SIZE, LIST_MAX, NULL);
    nghttp2_hd_inflater *in;
    if (!d || nghttp2_hd_inflate_new(&in) != 0) abort();
    /* both start at the protocol default and then take the same setting, so
     * that they are told of it the same way */
    uint32_t setting = table_sizes[data[0] & 15];
    if (loom_hpack_decoder_set_max_table_size(d, setting) != 0) abort();
    if (nghttp2_hd_inflate_change_table_size(in, setting) != 0) abort();

    loom_hpack_list lf = {0};
    for (size_t block = 0; p < end;) {
        uint8_t c = *p++;
        if (c == 0xff || c == 0xfd) {
            if (p == end) break;
            uint32_t v = table_sizes[*p++ & 15];
            if (c == 0xfd) continue;
            if (loom_hpack_decoder_set_max_table_size(d, v) != 0) abort();
            if (nghttp2_hd_inflate_change_table_size(in, v) != 0) abort();
            continue;
        }
        size_t n;
        if (!fuzz_block_len(c, &p, end, &n)) break;
        uint8_t *blk = xrealloc(NULL, n);
        if (n) memcpy(blk, p, n);
        p += n;

        loom_hpack_error e;
        int lrc = loom_hpack_decode_block(d, blk, n, &lf, &e);
        ng_result nf;
        int nrc = ng_decode(in, blk, n, &lf, &nf);
        free(blk);

        if (lrc == LOOM_ERR_LIMIT) {
            /* a bomb past loom's 16 MiB list limit: nghttp2 expands it all;
             * loom reports a prefix of it and keeps its table in step */
            if (nrc != 0) disagree("loom says LIMIT, nghttp2 fails", block);
            if (nf.list <= LIST_MAX) disagree("loom says LIMIT below the limit", block);
            if (lf.n > nf.n) disagree("loom reports more than nghttp2 past LIMIT", block);
            if (nf.first_diff != SIZE_MAX) disagree("fields differ before LIMIT", block);
            block++;
            continue;
        }
        if (lrc != 0 && lrc != LOOM_ERR_COMPRESSION) disagree("loom: unexpected error", block);
        if ((lrc == 0) != (nrc == 0)) {
            fprintf(stderr, "hpack_diff: loom %s (%s at %zu), nghttp2 %s\n",
                    lrc ? "fails" : "decodes", lrc ? e.reason : "-", lrc ? e.offset : 0,
                    nrc ? nghttp2_strerror(nrc) : "decodes");
            disagree("one decodes, the other fails", block);
        }
        if (lrc != 0) break; /* both failed: the connection is over */
        if (lf.n != nf.n) disagree("field counts differ", block);
        if (nf.first_diff != SIZE_MAX) disagree("fields differ", block);
        block++;
    }

    loom_hpack_list_free(&lf);
    loom_hpack_decoder_free(d);
    nghttp2_hd_inflate_del(in);
    return 0;
}
