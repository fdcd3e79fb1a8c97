/* HPACK benchmark: loom against libnghttp2, side by side in one run, on the
 * hpack-test-case stories.
 *
 *   bench_hpack [--quick] [--rounds N] [--seconds S] [CORPUS]
 *   bench_hpack --only loom|nghttp2 --op decode|encode --iterations N [CORPUS]
 *
 * Decode: every story of every encoder's folder (all but raw-data), one
 * decoder per story, its cases in order, honoring header_table_size. Encode:
 * the raw-data stories, one encoder per story, default 4096 table. All JSON
 * is read and all hex turned into bytes before anything is timed.
 *
 * The second form runs N passes of one side with callgrind's instrumentation
 * switched on around the loop only (run under valgrind --tool=callgrind
 * --instr-atstart=no), so that bench/callgrind.sh counts instructions of
 * exactly that loop. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <nghttp2/nghttp2.h>

#include "loom/hpack.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define HAVE_CALLGRIND 0
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

/* nghttp2's inflater has no header-list limit; loom's is set far above any
 * story so that both do the same work. */
#define LIST_MAX (16u << 20)

typedef struct {
    uint8_t *wire; /* decode: the block; NULL for raw-data */
    size_t wire_len;
    long table_size;          /* header_table_size, or -1 when the case has none */
    loom_hpack_field *fields; /* the headers the JSON lists */
    nghttp2_nv *nv;           /* the same, for nghttp2's deflater (encode only) */
    size_t n;
} bcase;

typedef struct {
    char *path;
    bcase *cases;
    size_t n;
} story;

typedef struct {
    story *stories;
    size_t n;
    size_t blocks, fields;
    size_t wire_bytes; /* decode: input octets */
    size_t nv_bytes;   /* name + value octets */
} corpus;

/* Accumulates what the callbacks see so the work cannot be optimized away. */
typedef struct {
    size_t sum;
    size_t fields;
} sink;

static volatile size_t g_sink;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_hpack: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

static uint8_t *xmemdup(const void *s, size_t n)
{
    uint8_t *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- loading ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static uint8_t *unhex(const char *hex, size_t len, size_t *out_len, const char *where)
{
    if (len % 2) die("%s: odd-length wire", where);
    uint8_t *out = xmalloc(len / 2);
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) die("%s: bad hex in wire", where);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *out_len = len / 2;
    return out;
}

static void load_story(const char *path, int want_wire, story *s, corpus *c)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) die("%s:%d: %s", path, jerr.line, jerr.text);
    json_t *cases = json_object_get(root, "cases");
    if (!json_is_array(cases)) die("%s: no cases", path);
    s->path = (char *)xmemdup(path, strlen(path));
    s->n = json_array_size(cases);
    s->cases = xmalloc(s->n * sizeof *s->cases);
    for (size_t i = 0; i < s->n; i++) {
        json_t *jc = json_array_get(cases, i);
        bcase *bc = &s->cases[i];
        memset(bc, 0, sizeof *bc);
        json_t *ts = json_object_get(jc, "header_table_size");
        bc->table_size = json_is_integer(ts) ? (long)json_integer_value(ts) : -1;
        if (want_wire) {
            json_t *w = json_object_get(jc, "wire");
            if (!json_is_string(w)) die("%s case %zu: no wire", path, i);
            bc->wire = unhex(json_string_value(w), json_string_length(w), &bc->wire_len, path);
            c->wire_bytes += bc->wire_len;
        }
        json_t *hs = json_object_get(jc, "headers");
        if (!json_is_array(hs)) die("%s case %zu: no headers", path, i);
        bc->n = json_array_size(hs);
        bc->fields = xmalloc(bc->n * sizeof *bc->fields);
        if (!want_wire) bc->nv = xmalloc(bc->n * sizeof *bc->nv);
        for (size_t j = 0; j < bc->n; j++) {
            json_t *h = json_array_get(hs, j);
            const char *key;
            json_t *val;
            if (json_object_size(h) != 1)
                die("%s case %zu: header %zu is not one pair", path, i, j);
            json_object_foreach(h, key, val)
            {
                if (!json_is_string(val)) die("%s case %zu: header %zu: value", path, i, j);
                loom_hpack_field *f = &bc->fields[j];
                f->name_len = strlen(key);
                f->name = xmemdup(key, f->name_len);
                f->value_len = json_string_length(val);
                f->value = xmemdup(json_string_value(val), f->value_len);
                f->flags = 0;
                c->nv_bytes += f->name_len + f->value_len;
                if (bc->nv)
                    bc->nv[j] = (nghttp2_nv){(uint8_t *)f->name, (uint8_t *)f->value, f->name_len,
                                             f->value_len, NGHTTP2_NV_FLAG_NONE};
            }
        }
        c->blocks++;
        c->fields += bc->n;
    }
    json_decref(root);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names in dir that pass keep(); *n set. */
static char **list_dir(const char *dir, int dirs, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d) die("%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t len = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        size_t nl = strlen(de->d_name);
        if (dirs) {
            /* an encoder's folder is one that holds story files */
            char probe[4096];
            snprintf(probe, sizeof probe, "%s/%s/story_00.json", dir, de->d_name);
            FILE *f = fopen(probe, "r");
            if (!f) continue;
            fclose(f);
        } else if (strncmp(de->d_name, "story_", 6) != 0 || nl < 5 ||
                   strcmp(de->d_name + nl - 5, ".json") != 0) {
            continue;
        }
        if (len == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
            if (!names) die("out of memory");
        }
        names[len++] = (char *)xmemdup(de->d_name, nl);
    }
    closedir(d);
    if (len) qsort(names, len, sizeof *names, cmp_str);
    *n = len;
    return names;
}

static void add_folder(const char *root, const char *folder, int want_wire, corpus *c)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", root, folder);
    size_t nf;
    char **files = list_dir(dir, 0, &nf);
    c->stories = realloc(c->stories, (c->n + nf) * sizeof *c->stories);
    if (!c->stories) die("out of memory");
    for (size_t i = 0; i < nf; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        load_story(path, want_wire, &c->stories[c->n++], c);
        free(files[i]);
    }
    free(files);
}

static void load(const char *root, corpus *dec, corpus *enc)
{
    size_t nd;
    char **dirs = list_dir(root, 1, &nd);
    int have_raw = 0;
    for (size_t i = 0; i < nd; i++) {
        if (strcmp(dirs[i], "raw-data") == 0) {
            add_folder(root, dirs[i], 0, enc);
            have_raw = 1;
        } else {
            add_folder(root, dirs[i], 1, dec);
        }
        free(dirs[i]);
    }
    free(dirs);
    if (!have_raw || dec->n == 0) die("%s: not an hpack-test-case checkout", root);
}

static void free_corpus(corpus *c)
{
    for (size_t i = 0; i < c->n; i++) {
        story *s = &c->stories[i];
        for (size_t j = 0; j < s->n; j++) {
            bcase *bc = &s->cases[j];
            for (size_t k = 0; k < bc->n; k++) {
                free((void *)bc->fields[k].name);
                free((void *)bc->fields[k].value);
            }
            free(bc->fields);
            free(bc->nv);
            free(bc->wire);
        }
        free(s->cases);
        free(s->path);
    }
    free(c->stories);
}

/* ---- the timed passes ---- */

static int loom_touch(void *user, const loom_hpack_field *f, loom_hpack_rep rep)
{
    (void)rep;
    sink *k = user;
    k->sum += f->name_len + f->value_len + (f->value_len ? f->value[0] : 0);
    k->fields++;
    return 0;
}

static void loom_decode_pass(const corpus *c, sink *k)
{
    for (size_t i = 0; i < c->n; i++) {
        const story *s = &c->stories[i];
        loom_hpack_decoder *d =
            loom_hpack_decoder_new(LOOM_HPACK_DEFAULT_TABLE_SIZE, LIST_MAX, NULL);
        if (!d) die("loom_hpack_decoder_new failed");
        long setting = LOOM_HPACK_DEFAULT_TABLE_SIZE;
        for (size_t j = 0; j < s->n; j++) {
            const bcase *bc = &s->cases[j];
            if (bc->table_size >= 0 && bc->table_size != setting) {
                setting = bc->table_size;
                if (loom_hpack_decoder_set_max_table_size(d, (uint32_t)setting) != 0)
                    die("loom: %s case %zu: set_max_table_size(%ld) failed", s->path, j, setting);
            }
            loom_hpack_error e;
            int rc = loom_hpack_decode(d, bc->wire, bc->wire_len, loom_touch, k, &e);
            if (rc != 0)
                die("loom: %s case %zu: %s at offset %zu: %s", s->path, j, loom_strerror(rc),
                    e.offset, e.reason ? e.reason : "");
        }
        loom_hpack_decoder_free(d);
    }
}

/* One header block through nghttp2's inflater, the way nghttp2's own
 * session code drives it: emit fields until FINAL, then end_headers. */
static void ng_inflate_block(nghttp2_hd_inflater *in, const uint8_t *p, size_t len, sink *k,
                             const char *path, size_t caseno)
{
    for (;;) {
        nghttp2_nv nv;
        int flags = 0;
        ssize_t rv = nghttp2_hd_inflate_hd2(in, &nv, &flags, p, len, 1);
        if (rv < 0) die("nghttp2: %s case %zu: %s", path, caseno, nghttp2_strerror((int)rv));
        p += rv;
        len -= (size_t)rv;
        if (flags & NGHTTP2_HD_INFLATE_EMIT) {
            k->sum += nv.namelen + nv.valuelen + (nv.valuelen ? nv.value[0] : 0);
            k->fields++;
        }
        if (flags & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(in);
            break;
        }
        if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && len == 0)
            die("nghttp2: %s case %zu: block ended without FINAL", path, caseno);
    }
}

static void ng_decode_pass(const corpus *c, sink *k)
{
    for (size_t i = 0; i < c->n; i++) {
        const story *s = &c->stories[i];
        nghttp2_hd_inflater *in;
        if (nghttp2_hd_inflate_new(&in) != 0) die("nghttp2_hd_inflate_new failed");
        long setting = LOOM_HPACK_DEFAULT_TABLE_SIZE;
        for (size_t j = 0; j < s->n; j++) {
            const bcase *bc = &s->cases[j];
            if (bc->table_size >= 0 && bc->table_size != setting) {
                setting = bc->table_size;
                if (nghttp2_hd_inflate_change_table_size(in, (size_t)setting) != 0)
                    die("nghttp2: %s case %zu: change_table_size failed", s->path, j);
            }
            ng_inflate_block(in, bc->wire, bc->wire_len, k, s->path, j);
        }
        nghttp2_hd_inflate_del(in);
    }
}

/* Output buffer for the encoders: the largest bound of any block, found
 * before timing so that neither side pays for a bound call in the loop. */
static uint8_t *g_out;
static size_t g_out_cap;

static void loom_encode_pass(const corpus *c, sink *k)
{
    for (size_t i = 0; i < c->n; i++) {
        const story *s = &c->stories[i];
        loom_hpack_encoder *e = loom_hpack_encoder_new(NULL);
        if (!e) die("loom_hpack_encoder_new failed");
        for (size_t j = 0; j < s->n; j++) {
            const bcase *bc = &s->cases[j];
            int n = loom_hpack_encode(e, bc->fields, bc->n, g_out, g_out_cap);
            if (n < 0) die("loom: %s case %zu: encode: %s", s->path, j, loom_strerror(n));
            k->sum += (size_t)n;
            k->fields += bc->n;
        }
        loom_hpack_encoder_free(e);
    }
}

static void ng_encode_pass(const corpus *c, sink *k)
{
    for (size_t i = 0; i < c->n; i++) {
        const story *s = &c->stories[i];
        nghttp2_hd_deflater *e;
        if (nghttp2_hd_deflate_new(&e, LOOM_HPACK_DEFAULT_TABLE_SIZE) != 0)
            die("nghttp2_hd_deflate_new failed");
        for (size_t j = 0; j < s->n; j++) {
            const bcase *bc = &s->cases[j];
            ssize_t n = nghttp2_hd_deflate_hd(e, g_out, g_out_cap, bc->nv, bc->n);
            if (n < 0)
                die("nghttp2: %s case %zu: deflate: %s", s->path, j, nghttp2_strerror((int)n));
            k->sum += (size_t)n;
            k->fields += bc->n;
        }
        nghttp2_hd_deflate_del(e);
    }
}

/* ---- correctness, once, before timing ---- */

/* nghttp2's fields, copied as its inflater emits them (loom's side is a
 * loom_hpack_list, filled by loom_hpack_decode_block). */
typedef struct {
    loom_hpack_field *f;
    size_t n, cap;
} flist;

static void flist_add(flist *l, const uint8_t *name, size_t nl, const uint8_t *value, size_t vl,
                      uint8_t flags)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 32;
        l->f = realloc(l->f, l->cap * sizeof *l->f);
        if (!l->f) die("out of memory");
    }
    l->f[l->n++] = (loom_hpack_field){xmemdup(name, nl), nl, xmemdup(value, vl), vl, flags};
}

static void flist_clear(flist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free((void *)l->f[i].name);
        free((void *)l->f[i].value);
    }
    l->n = 0;
}

static void ng_collect_block(nghttp2_hd_inflater *in, const uint8_t *p, size_t len, flist *out,
                             const char *what)
{
    for (;;) {
        nghttp2_nv nv;
        int flags = 0;
        ssize_t rv = nghttp2_hd_inflate_hd2(in, &nv, &flags, p, len, 1);
        if (rv < 0) die("%s: nghttp2 cannot decode: %s", what, nghttp2_strerror((int)rv));
        p += rv;
        len -= (size_t)rv;
        if (flags & NGHTTP2_HD_INFLATE_EMIT)
            flist_add(out, nv.name, nv.namelen, nv.value, nv.valuelen,
                      (nv.flags & NGHTTP2_NV_FLAG_NO_INDEX) ? LOOM_HPACK_NEVER_INDEXED : 0);
        if (flags & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(in);
            break;
        }
        if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && len == 0) die("%s: nghttp2: no FINAL", what);
    }
}

/* How same_fields() compares flags. An encoder may send a field never
 * indexed though not asked to (nghttp2 and loom both do for short cookies,
 * RFC 7541 §7.1.3), but must keep the flag when asked (§6.2.3). */
enum { FLAGS_IGNORE, FLAGS_EQUAL, FLAGS_KEPT };

/* Equal names and values, and flags as `flags` says (b is the reference). */
static void same_fields(const loom_hpack_field *a, size_t na, const loom_hpack_field *b, size_t nb,
                        int flags, const char *what, const char *an, const char *bn)
{
    if (na != nb) die("%s: %s has %zu fields, %s has %zu", what, an, na, bn, nb);
    for (size_t i = 0; i < na; i++) {
        if (a[i].name_len != b[i].name_len || memcmp(a[i].name, b[i].name, a[i].name_len) != 0 ||
            a[i].value_len != b[i].value_len ||
            memcmp(a[i].value, b[i].value, a[i].value_len) != 0 ||
            (flags == FLAGS_EQUAL && a[i].flags != b[i].flags) ||
            (flags == FLAGS_KEPT && (a[i].flags & b[i].flags) != b[i].flags))
            die("%s: field %zu: %s has \"%.*s: %.*s\" (flags %u), %s has \"%.*s: %.*s\" (flags %u)",
                what, i, an, (int)a[i].name_len, a[i].name, (int)a[i].value_len, a[i].value,
                a[i].flags, bn, (int)b[i].name_len, b[i].name, (int)b[i].value_len, b[i].value,
                b[i].flags);
    }
}

static void check_decode(const corpus *c)
{
    loom_hpack_list lf = {0};
    flist nf = {0};
    for (size_t i = 0; i < c->n; i++) {
        const story *s = &c->stories[i];
        loom_hpack_decoder *d =
            loom_hpack_decoder_new(LOOM_HPACK_DEFAULT_TABLE_SIZE, LIST_MAX, NULL);
        nghttp2_hd_inflater *in;
        if (!d || nghttp2_hd_inflate_new(&in) != 0) die("decoder setup failed");
        long setting = LOOM_HPACK_DEFAULT_TABLE_SIZE;
        for (size_t j = 0; j < s->n; j++) {
            const bcase *bc = &s->cases[j];
            char what[8300];
            snprintf(what, sizeof what, "decode check: %s case %zu", s->path, j);
            if (bc->table_size >= 0 && bc->table_size != setting) {
                setting = bc->table_size;
                if (loom_hpack_decoder_set_max_table_size(d, (uint32_t)setting) != 0 ||
                    nghttp2_hd_inflate_change_table_size(in, (size_t)setting) != 0)
                    die("%s: table size change failed", what);
            }
            loom_hpack_error e = {0};
            int rc = loom_hpack_decode_block(d, bc->wire, bc->wire_len, &lf, &e);
            if (rc != 0)
                die("%s: loom: %s at offset %zu: %s", what, loom_strerror(rc), e.offset,
                    e.reason ? e.reason : "");
            ng_collect_block(in, bc->wire, bc->wire_len, &nf, what);
            same_fields(lf.fields, lf.n, nf.f, nf.n, FLAGS_EQUAL, what, "loom", "nghttp2");
            same_fields(lf.fields, lf.n, bc->fields, bc->n, FLAGS_IGNORE, what, "loom", "the JSON");
            flist_clear(&nf);
        }
        loom_hpack_decoder_free(d);
        nghttp2_hd_inflate_del(in);
    }
    loom_hpack_list_free(&lf);
    free(nf.f);
}

/* Loom's output must decode back exactly with nghttp2 (and with loom).
 * Also counts both encoders' output octets. */
static void check_encode(const corpus *c, size_t *loom_bytes, size_t *ng_bytes)
{
    loom_hpack_list lf = {0};
    flist nf = {0};
    *loom_bytes = *ng_bytes = 0;
    for (size_t i = 0; i < c->n; i++) {
        const story *s = &c->stories[i];
        loom_hpack_encoder *le = loom_hpack_encoder_new(NULL);
        loom_hpack_decoder *ld =
            loom_hpack_decoder_new(LOOM_HPACK_DEFAULT_TABLE_SIZE, LIST_MAX, NULL);
        nghttp2_hd_deflater *ne;
        nghttp2_hd_inflater *ni;
        if (!le || !ld || nghttp2_hd_deflate_new(&ne, LOOM_HPACK_DEFAULT_TABLE_SIZE) != 0 ||
            nghttp2_hd_inflate_new(&ni) != 0)
            die("encoder setup failed");
        for (size_t j = 0; j < s->n; j++) {
            const bcase *bc = &s->cases[j];
            char what[8300];
            snprintf(what, sizeof what, "encode check: %s case %zu", s->path, j);
            /* cap = exactly loom's own bound: it must be enough */
            size_t lb = loom_hpack_encode_bound(bc->fields, bc->n);
            int n = loom_hpack_encode(le, bc->fields, bc->n, g_out, lb);
            if (n < 0) die("%s: loom: %s", what, loom_strerror(n));
            *loom_bytes += (size_t)n;
            ng_collect_block(ni, g_out, (size_t)n, &nf, what);
            same_fields(nf.f, nf.n, bc->fields, bc->n, FLAGS_KEPT, what,
                        "nghttp2's decoding of loom's", "the input");
            loom_hpack_error e = {0};
            int rc = loom_hpack_decode_block(ld, g_out, (size_t)n, &lf, &e);
            if (rc != 0)
                die("%s: loom cannot decode its own output: %s at offset %zu: %s", what,
                    loom_strerror(rc), e.offset, e.reason ? e.reason : "");
            same_fields(lf.fields, lf.n, bc->fields, bc->n, FLAGS_KEPT, what,
                        "loom's decoding of loom's", "the input");
            ssize_t m = nghttp2_hd_deflate_hd(ne, g_out, g_out_cap, bc->nv, bc->n);
            if (m < 0) die("%s: nghttp2 deflate: %s", what, nghttp2_strerror((int)m));
            *ng_bytes += (size_t)m;
            flist_clear(&nf);
        }
        loom_hpack_encoder_free(le);
        loom_hpack_decoder_free(ld);
        nghttp2_hd_deflate_del(ne);
        nghttp2_hd_inflate_del(ni);
    }
    loom_hpack_list_free(&lf);
    free(nf.f);
}

/* Sizes g_out for the largest block either encoder may write. nghttp2's
 * bound depends only on the fields, not on the deflater's state. */
static void size_out_buffer(const corpus *c)
{
    nghttp2_hd_deflater *ne;
    if (nghttp2_hd_deflate_new(&ne, LOOM_HPACK_DEFAULT_TABLE_SIZE) != 0)
        die("nghttp2_hd_deflate_new failed");
    for (size_t i = 0; i < c->n; i++) {
        for (size_t j = 0; j < c->stories[i].n; j++) {
            const bcase *bc = &c->stories[i].cases[j];
            size_t lb = loom_hpack_encode_bound(bc->fields, bc->n);
            size_t nb = nghttp2_hd_deflate_bound(ne, bc->nv, bc->n);
            if (lb > g_out_cap) g_out_cap = lb;
            if (nb > g_out_cap) g_out_cap = nb;
        }
    }
    nghttp2_hd_deflate_del(ne);
    g_out = xmalloc(g_out_cap);
}

/* ---- measurement ---- */

typedef void (*pass_fn)(const corpus *, sink *);

/* Seconds per pass: passes repeated until at least min_s have gone by. */
static double time_round(pass_fn fn, const corpus *c, double min_s)
{
    sink k = {0, 0};
    size_t iters = 0;
    double t0 = now_s(), t;
    do {
        fn(c, &k);
        iters++;
        t = now_s();
    } while (t - t0 < min_s);
    g_sink += k.sum;
    return (t - t0) / (double)iters;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double med, min, max;
} stat3;

static stat3 stats(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return (stat3){n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v[0], v[n - 1]};
}

/* Rounds alternate between the two sides so that a slow spell of the
 * machine falls on both alike. */
static void measure(pass_fn a, pass_fn b, const corpus *c, int rounds, double min_s, stat3 *sa,
                    stat3 *sb)
{
    double ta[64], tb[64];
    for (int r = 0; r < rounds; r++) {
        ta[r] = time_round(a, c, min_s);
        tb[r] = time_round(b, c, min_s);
    }
    *sa = stats(ta, rounds);
    *sb = stats(tb, rounds);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_hpack [--quick] [--rounds N] [--seconds S] [CORPUS]\n"
            "       bench_hpack --only loom|nghttp2 --op decode|encode --iterations N [CORPUS]\n"
            "CORPUS is an hpack-test-case checkout (default ../shared/hpack-test-case)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *root = "../shared/hpack-test-case";
    const char *only = NULL, *op = NULL;
    long iterations = -1;
    int rounds = 5;
    double min_s = 2.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quick") == 0) {
            min_s = 0.2;
            rounds = 3;
        } else if (strcmp(a, "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (strcmp(a, "--seconds") == 0 && i + 1 < argc) {
            min_s = atof(argv[++i]);
        } else if (strcmp(a, "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(a, "--op") == 0 && i + 1 < argc) {
            op = argv[++i];
        } else if (strcmp(a, "--iterations") == 0 && i + 1 < argc) {
            iterations = atol(argv[++i]);
        } else if (a[0] == '-') {
            usage();
        } else {
            root = a;
        }
    }
    if (rounds < 1 || rounds > 64 || !(min_s > 0)) usage();

    corpus dec = {0}, enc = {0};
    load(root, &dec, &enc);
    size_out_buffer(&enc);
    size_t loom_bytes, ng_bytes;

    if (only || op || iterations >= 0) {
        if (!only || !op || iterations < 0) usage();
        int is_loom = strcmp(only, "loom") == 0, is_dec = strcmp(op, "decode") == 0;
        if ((!is_loom && strcmp(only, "nghttp2") != 0) || (!is_dec && strcmp(op, "encode") != 0))
            usage();
        pass_fn fn = is_dec ? (is_loom ? loom_decode_pass : ng_decode_pass)
                            : (is_loom ? loom_encode_pass : ng_encode_pass);
        const corpus *c = is_dec ? &dec : &enc;
        sink k = {0, 0};
        CALLGRIND_START_INSTRUMENTATION;
        for (long i = 0; i < iterations; i++)
            fn(c, &k);
        CALLGRIND_STOP_INSTRUMENTATION;
        g_sink += k.sum;
        /* read by bench/callgrind.sh */
        printf("side=%s op=%s iterations=%ld fields_per_pass=%zu instrumented=%s\n", only, op,
               iterations, is_dec ? dec.fields : enc.fields, HAVE_CALLGRIND ? "loop" : "all");
        free_corpus(&dec);
        free_corpus(&enc);
        free(g_out);
        return 0;
    }

    printf("HPACK: loom %s vs libnghttp2 %s, corpus %s\n", loom_version(),
           nghttp2_version(0)->version_str, root);
    printf("decode: %zu stories, %zu blocks, %zu fields, %zu wire octets per pass\n", dec.n,
           dec.blocks, dec.fields, dec.wire_bytes);
    printf("encode: %zu stories, %zu blocks, %zu fields, %zu name+value octets per pass\n", enc.n,
           enc.blocks, enc.fields, enc.nv_bytes);

    check_decode(&dec);
    check_encode(&enc, &loom_bytes, &ng_bytes);
    printf("check: loom and nghttp2 decode every block alike (and as the JSON says); "
           "loom's output decodes back exactly with nghttp2\n");
    printf("timing: median of %d rounds, each >= %.1f s per side, sides alternating\n\n", rounds,
           min_s);
    fflush(stdout);

    stat3 ld, nd, le, ne;
    measure(loom_decode_pass, ng_decode_pass, &dec, rounds, min_s, &ld, &nd);
    measure(loom_encode_pass, ng_encode_pass, &enc, rounds, min_s, &le, &ne);

    double df = (double)dec.fields, ef = (double)enc.fields, mb = (double)dec.wire_bytes / 1e6;
    printf("%-30s %12s %12s %12s\n", "", "loom", "nghttp2", "ratio");
    printf("%-30s %12.1f %12.1f %11.2fx\n", "decode ns/field", ld.med * 1e9 / df, nd.med * 1e9 / df,
           nd.med / ld.med);
    printf("%-30s %12.1f %12.1f %11.2fx\n", "decode MB/s of wire input", mb / ld.med, mb / nd.med,
           nd.med / ld.med);
    printf("%-30s %12.1f %12.1f %11.2fx\n", "encode ns/field", le.med * 1e9 / ef, ne.med * 1e9 / ef,
           ne.med / le.med);
    printf("%-30s %12zu %12zu %12.3f\n", "encoded octets (raw-data)", loom_bytes, ng_bytes,
           (double)loom_bytes / (double)ng_bytes);
    printf("%-30s %11.2f%% %11.2f%%\n", "  % of name+value octets",
           100.0 * (double)loom_bytes / (double)enc.nv_bytes,
           100.0 * (double)ng_bytes / (double)enc.nv_bytes);
    printf("(ratio: speed is nghttp2's time / loom's; size is loom's octets / nghttp2's)\n");
    printf("\nspread (min..max ns/field over rounds): decode loom %.1f..%.1f nghttp2 %.1f..%.1f; "
           "encode loom %.1f..%.1f nghttp2 %.1f..%.1f\n",
           ld.min * 1e9 / df, ld.max * 1e9 / df, nd.min * 1e9 / df, nd.max * 1e9 / df,
           le.min * 1e9 / ef, le.max * 1e9 / ef, ne.min * 1e9 / ef, ne.max * 1e9 / ef);
    printf("summary: decode_speedup=%.2f encode_speedup=%.2f size_ratio=%.2f\n", nd.med / ld.med,
           ne.med / le.med, (double)loom_bytes / (double)ng_bytes);

    free_corpus(&dec);
    free_corpus(&enc);
    free(g_out);
    return 0;
}
