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

#include "flist.h"
#include "loom/hpack.h"

static const uint32_t table_sizes[16] = {4096, 0,    1,    31,   32,   33,    64,    100,
                                         256,  1365, 2730, 4095, 4097, 16384, 65536, 1u << 20};

/* nghttp2's inflater has no header-list limit; loom's is set high enough
 * that only a compression bomb reaches it (handled below). */
#define LIST_MAX (16u << 20)

static int loom_collect(void *user, const loom_hpack_field *f, loom_hpack_rep rep)
{
    (void)rep;
    flist_add(user, f->name, f->name_len, f->value, f->value_len,
              f->flags & LOOM_HPACK_NEVER_INDEXED, 0);
    return 0;
}

/* One block through nghttp2, driven as its session code does. Returns 0
 * when the block decoded, else nghttp2's error. */
static int ng_decode(nghttp2_hd_inflater *in, const uint8_t *p, size_t len, flist *out)
{
    for (;;) {
        nghttp2_nv nv;
        int flags = 0;
        ssize_t rv = nghttp2_hd_inflate_hd2(in, &nv, &flags, p, len, 1);
        if (rv < 0) return (int)rv;
        p += rv;
        len -= (size_t)rv;
        if (flags & NGHTTP2_HD_INFLATE_EMIT)
            flist_add(out, nv.name, nv.namelen, nv.value, nv.valuelen,
                      (nv.flags & NGHTTP2_NV_FLAG_NO_INDEX) ? LOOM_HPACK_NEVER_INDEXED : 0, 0);
        if (flags & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(in);
            return 0;
        }
        /* with in_final set, nghttp2 ends every block with FINAL or an
         * error; anything else would loop forever */
        if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && len == 0) abort();
    }
}

static int same_field(const flist *a, size_t i, const flist *b, size_t j)
{
    const fent *x = &a->f[i], *y = &b->f[j];
    return x->nlen == y->nlen && memcmp(a->buf + x->noff, b->buf + y->noff, x->nlen) == 0 &&
           x->vlen == y->vlen && memcmp(a->buf + x->voff, b->buf + y->voff, x->vlen) == 0 &&
           x->flags == y->flags;
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

    flist lf = {0}, nf = {0};
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

        lf.n = lf.used = nf.n = nf.used = 0;
        loom_hpack_error e;
        int lrc = loom_hpack_decode(d, blk, n, loom_collect, &lf, &e);
        int nrc = ng_decode(in, blk, n, &nf);
        free(blk);

        if (lrc == LOOM_ERR_LIMIT) {
            /* a bomb past loom's 16 MiB list limit: nghttp2 expands it all;
             * loom reports a prefix of it and keeps its table in step */
            if (nrc != 0) disagree("loom says LIMIT, nghttp2 fails", block);
            size_t list = 0;
            for (size_t i = 0; i < nf.n; i++)
                list += nf.f[i].nlen + nf.f[i].vlen + 32;
            if (list <= LIST_MAX) disagree("loom says LIMIT below the limit", block);
            if (lf.n > nf.n) disagree("loom reports more than nghttp2 past LIMIT", block);
            for (size_t i = 0; i < lf.n; i++)
                if (!same_field(&lf, i, &nf, i)) disagree("fields differ before LIMIT", block);
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
        for (size_t i = 0; i < lf.n; i++)
            if (!same_field(&lf, i, &nf, i)) disagree("fields differ", block);
        block++;
    }

    flist_free(&lf);
    flist_free(&nf);
    loom_hpack_decoder_free(d);
    nghttp2_hd_inflate_del(in);
    return 0;
}
