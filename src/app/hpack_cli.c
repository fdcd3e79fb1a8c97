/* `loom hpack decode [options] STORY.json|-` and `loom hpack encode
 * [options] STORY.json|-`: libloom's HPACK codec on stories in the
 * hpack-test-case format (JSON: {"cases": [{"seqno", "header_table_size"?,
 * "wire"?, "headers": [{name: value}, ...]}, ...]}), one story being one
 * connection. `-` reads the story from standard input.
 *
 * decode: each case's `wire` (hex) through one decoder, in order; prints the
 * story with every case's `headers` replaced by what loom decoded.
 * encode: each case's `headers` through one encoder, in order; prints the
 * story with every case's `wire` filled in (lowercase hex).
 * Both honor a case's header_table_size (our SETTINGS_HEADER_TABLE_SIZE for
 * decode, the peer's for encode) from that case on; null means not given.
 *
 * As nghttp2's deflatehd and inflatehd: --stats adds each block's sizes to
 * its case and prints the totals and their ratio on stderr at the end;
 * --dump-header-table adds the dynamic table after each block to its case.
 *
 * Nothing is printed unless the whole story succeeds. Bad input is one line
 * on stderr naming the file, the case and the reason, and exit status 1;
 * usage errors are one line and exit status 2. JSON is read and written with
 * jansson. */
#include "hpack_cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/loom.h"
#include "loom/hpack.h"

static const char hpack_usage[] =
    "usage: loom hpack decode [options] STORY.json|-\n"
    "       loom hpack encode [options] STORY.json|-\n"
    "\n"
    "HPACK (RFC 7541) on a story in the hpack-test-case format: {\"cases\":\n"
    "[{\"seqno\": N, \"header_table_size\": N, \"wire\": HEX, \"headers\": [{NAME:\n"
    "VALUE}, ...]}, ...]}, one connection; - reads it from standard input.\n"
    "\n"
    "commands:\n"
    "  decode   decodes each case's wire, in order, with one decoder and prints\n"
    "           the story with the headers loom decoded\n"
    "  encode   encodes each case's headers, in order, with one encoder and\n"
    "           prints the story with each case's wire filled in\n"
    "\n"
    "options:\n"
    "  -v, --stats              each block's sizes, and the compression ratio\n"
    "  -d, --dump-header-table  the dynamic table after each block\n"
    "  --table-size N           (encode) the encoder's dynamic table size\n"
    "  -h, --help               print this text\n"
    "\n"
    "Each command's own text: loom hpack decode --help, loom hpack encode --help.\n";

/* the options both commands take */
#define COMMON_OPTIONS                                                                             \
    "  -v, --stats              add each block's sizes to its case:\n"                             \
    "                           \"input_length\" (the header list's names and\n"                   \
    "                           values, in octets, as nghttp2's deflatehd counts\n"                \
    "                           them), \"output_length\" (the block's octets) and\n"               \
    "                           \"percentage_of_original_size\"; at the end, print\n"              \
    "                           the totals and their ratio (output / input) on\n"                  \
    "                           stderr: Overall: input=N output=N ratio=R\n"                       \
    "  -d, --dump-header-table  add the dynamic table after each block to its\n"                   \
    "                           case: \"header_table\": {\"entries\": [{\"index\",\n"              \
    "                           \"name\", \"value\", \"size\"}, ...], \"size\",\n"                 \
    "                           \"max_size\"}, newest first, each index as on the\n"               \
    "                           wire (62 is the newest)\n"                                         \
    "  -h, --help               print this text\n"

#define STORY_TEXT                                                                                 \
    "STORY.json is in the hpack-test-case format: {\"cases\": [{\"seqno\": N,\n"                   \
    "\"header_table_size\": N, \"wire\": HEX, \"headers\": [{NAME: VALUE}, ...]},\n"               \
    "...]}, one connection; - reads it from standard input. A case's\n"                            \
    "header_table_size (null: not given) applies from that case on.\n"

#define EXIT_TEXT                                                                                  \
    "exit status: 0 on success; 1 for bad input (one line on stderr naming the\n"                  \
    "file, the case and the reason, nothing on stdout); 2 for a usage error.\n"

static const char decode_usage[] =
    "usage: loom hpack decode [options] STORY.json|-\n"
    "\n"
    "Decodes each case's wire (hex), in order, with one decoder and prints the\n"
    "story with each case's headers replaced by what loom decoded. A case's\n"
    "header_table_size is our SETTINGS_HEADER_TABLE_SIZE: a smaller one requires\n"
    "the encoder's size update (RFC 7541 §4.2).\n"
    "\n" STORY_TEXT "\n"
    "options:\n" COMMON_OPTIONS "\n" EXIT_TEXT;

static const char encode_usage[] =
    "usage: loom hpack encode [options] STORY.json|-\n"
    "\n"
    "Encodes each case's headers, in order, with one encoder and prints the\n"
    "story with each case's wire filled in (lowercase hex). A case's\n"
    "header_table_size is the peer's SETTINGS_HEADER_TABLE_SIZE: the encoder\n"
    "uses at most that, and says so with a size update (RFC 7541 §6.3).\n"
    "\n" STORY_TEXT "\n"
    "options:\n"
    "  --table-size N           the encoder's dynamic table size (default 4096);\n"
    "                           another size is announced with a size update in\n"
    "                           the first block and recorded as the first case's\n"
    "                           header_table_size\n" COMMON_OPTIONS "\n" EXIT_TEXT;

typedef struct {
    const char *file; /* a path, or "-" */
    const char *name; /* the file as errors name it */
    uint32_t table_size;
    int stats, dump;
    size_t in_sum, out_sum; /* --stats: octets of text and of blocks */
} hpack_opts;

/* One line on stderr: "loom hpack: FILE: case N: reason". Returns 1. */
static int fail(const char *file, long seqno, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "loom hpack: %s: ", file);
    if (seqno >= 0) fprintf(stderr, "case %ld: ", seqno);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* A usage error: one line on stderr, exit status 2. cmd: the command, or
 * NULL before one is known. */
static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "loom hpack%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try: loom hpack%s%s --help)\n", cmd ? " " : "", cmd ? cmd : "");
    return 2;
}

/* Reads a story (standard input for "-"); on failure prints why and
 * returns NULL. */
static json_t *load_story(const hpack_opts *o)
{
    int from_stdin = !strcmp(o->file, "-");
    FILE *fp = from_stdin ? stdin : fopen(o->file, "rb");
    if (!fp) {
        fail(o->name, -1, "cannot read: %s", strerror(errno));
        return NULL;
    }
    json_error_t err;
    errno = 0;
    json_t *root = json_loadf(fp, 0, &err);
    /* a read error (a folder, a closed descriptor) looks like the end of
     * the file to jansson: ask the stream */
    int why = ferror(fp) ? (errno ? errno : EIO) : 0;
    if (!from_stdin) fclose(fp);
    if (!root) {
        if (why)
            fail(o->name, -1, "cannot read: %s", strerror(why));
        else
            fail(o->name, -1, "invalid JSON at line %d, column %d: %s", err.line, err.column,
                 err.text);
        return NULL;
    }
    if (!json_is_object(root) || !json_is_array(json_object_get(root, "cases"))) {
        fail(o->name, -1, "not a story: no \"cases\" array");
        json_decref(root);
        return NULL;
    }
    return root;
}

static long seqno_of(json_t *c, size_t index)
{
    json_t *s = json_object_get(c, "seqno");
    return json_is_integer(s) && json_integer_value(s) >= 0 ? (long)json_integer_value(s)
                                                            : (long)index;
}

/* A case's header_table_size: 1 and *size when given, 0 when absent or
 * null (some encoders' stories write null for "no change"), -1 (after
 * printing why) when it is not a table size. */
static int case_table_size(const char *name, long seqno, json_t *c, uint32_t *size)
{
    json_t *hts = json_object_get(c, "header_table_size");
    if (!hts || json_is_null(hts)) return 0;
    if (!json_is_integer(hts) || json_integer_value(hts) < 0 ||
        json_integer_value(hts) > UINT32_MAX) {
        fail(name, seqno, "header_table_size is not a table size (0 to 4294967295, or null)");
        return -1;
    }
    *size = (uint32_t)json_integer_value(hts);
    return 1;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The octets of a hex string, in a new buffer; NULL if it is not hex. */
static uint8_t *unhex(const char *s, size_t len, size_t *n)
{
    *n = 0;
    if (len % 2) return NULL;
    uint8_t *out = malloc(len / 2 + 1);
    if (!out) return NULL;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *n = len / 2;
    return out;
}

static int print_story(const char *name, json_t *root)
{
    if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
        fputc('\n', stdout) == EOF || fflush(stdout) != 0)
        return fail(name, -1, "cannot write the output: %s", strerror(errno));
    return 0;
}

/* ---- --stats and --dump-header-table ---- */

/* --stats: a block's sizes into its case, as deflatehd names them; text is
 * the header list's names and values, wire the block. */
static void add_stats(hpack_opts *o, json_t *c, size_t text, size_t wire)
{
    o->in_sum += text;
    o->out_sum += wire;
    json_object_set_new(c, "input_length", json_integer((json_int_t)text));
    json_object_set_new(c, "output_length", json_integer((json_int_t)wire));
    json_object_set_new(c, "percentage_of_original_size",
                        json_real(text ? (double)wire / (double)text * 100 : 0.0));
}

/* --stats: the totals, on stderr once the story is out. */
static void print_totals(const hpack_opts *o)
{
    fprintf(stderr, "Overall: input=%zu output=%zu ratio=%.4f\n", o->in_sum, o->out_sum,
            o->in_sum ? (double)o->out_sum / (double)o->in_sum : 0.0);
}

typedef int (*table_get_fn)(const void *codec, size_t i, loom_hpack_field *f, uint8_t *buf,
                            size_t cap);

static int dec_get(const void *d, size_t i, loom_hpack_field *f, uint8_t *buf, size_t cap)
{
    return loom_hpack_decoder_table_get(d, i, f, buf, cap);
}

static int enc_get(const void *enc, size_t i, loom_hpack_field *f, uint8_t *buf, size_t cap)
{
    return loom_hpack_encoder_table_get(enc, i, f, buf, cap);
}

/* --dump-header-table: the dynamic table as nghttp2's tools dump it,
 * {"entries": [{"index", "name", "value", "size"}, ...], "size",
 * "max_size"}, newest first, with the index the wire uses for each entry.
 * NULL (after printing why) if an entry is not UTF-8 or memory ran out. */
static json_t *table_json(const char *name, long seqno, const void *codec, table_get_fn get,
                          size_t len, size_t size, size_t max)
{
    json_t *entries = json_array(), *t = json_object();
    size_t cap = 256; /* grown to the largest entry; never NULL, even for "" */
    uint8_t *buf = malloc(cap);
    const char *why = entries && t && buf ? NULL : loom_strerror(LOOM_ERR_NOMEM);
    for (size_t i = 1; !why && i <= len; i++) {
        loom_hpack_field f;
        int rc = get(codec, i, &f, buf, cap);
        if (rc == LOOM_ERR_BUFFER) {
            uint8_t *bigger = realloc(buf, f.name_len + f.value_len);
            if (!bigger) {
                why = loom_strerror(LOOM_ERR_NOMEM);
                break;
            }
            buf = bigger;
            cap = f.name_len + f.value_len;
            rc = get(codec, i, &f, buf, cap);
        }
        if (rc != 0) {
            why = loom_strerror(rc);
            break;
        }
        json_t *n = json_stringn((const char *)f.name, f.name_len);
        json_t *v = json_stringn((const char *)f.value, f.value_len);
        json_t *e = json_object();
        if (!n || !v || !e) {
            why = !e ? loom_strerror(LOOM_ERR_NOMEM)
                     : "an entry is not UTF-8, which JSON cannot hold";
            json_decref(n);
            json_decref(v);
            json_decref(e);
            break;
        }
        json_object_set_new(e, "index", json_integer((json_int_t)(LOOM_HPACK_STATIC_ENTRIES + i)));
        json_object_set_new(e, "name", n);
        json_object_set_new(e, "value", v);
        json_object_set_new(e, "size", json_integer((json_int_t)(f.name_len + f.value_len + 32)));
        json_array_append_new(entries, e);
    }
    free(buf);
    if (why) {
        json_decref(entries);
        json_decref(t);
        fail(name, seqno, "cannot dump the dynamic table: %s", why);
        return NULL;
    }
    json_object_set_new(t, "entries", entries);
    json_object_set_new(t, "size", json_integer((json_int_t)size));
    json_object_set_new(t, "max_size", json_integer((json_int_t)max));
    return t;
}

/* ---- decode ---- */

/* The decoded fields as the story's "headers": [{name: value}, ...]. NULL
 * when a field is not UTF-8, which JSON cannot hold. */
static json_t *fields_json(const loom_hpack_list *l)
{
    json_t *headers = json_array();
    for (size_t i = 0; headers && i < l->n; i++) {
        const loom_hpack_field *f = &l->fields[i];
        json_t *value = json_stringn((const char *)f->value, f->value_len);
        json_t *h = json_object();
        if (!value || !h || json_object_setn_new(h, (const char *)f->name, f->name_len, value)) {
            json_decref(h);
            json_decref(headers);
            return NULL;
        }
        json_array_append_new(headers, h);
    }
    return headers;
}

static int decode_story(hpack_opts *o)
{
    const char *name = o->name;
    json_t *root = load_story(o);
    if (!root) return 1;
    loom_hpack_decoder *d = loom_hpack_decoder_new(LOOM_HPACK_DEFAULT_TABLE_SIZE, 0, NULL);
    loom_hpack_list fields = {0};
    if (!d) {
        json_decref(root);
        return fail(name, -1, "%s", loom_strerror(LOOM_ERR_NOMEM));
    }
    int status = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(root, "cases"), i, c)
    {
        long seqno = seqno_of(c, i);
        if (!json_is_object(c)) {
            status = fail(name, seqno, "not an object");
            break;
        }
        /* The size the encoder may use from this case on: our
         * SETTINGS_HEADER_TABLE_SIZE, in HTTP/2 terms. */
        uint32_t hts;
        int given = case_table_size(name, seqno, c, &hts);
        if (given < 0) {
            status = 1;
            break;
        }
        if (given) loom_hpack_decoder_set_max_table_size(d, hts);
        json_t *wire = json_object_get(c, "wire");
        if (!json_is_string(wire)) {
            status = fail(name, seqno, "no \"wire\" to decode");
            break;
        }
        size_t len;
        uint8_t *block = unhex(json_string_value(wire), json_string_length(wire), &len);
        if (!block) {
            status = fail(name, seqno, "wire is not hex");
            break;
        }
        loom_hpack_error e = {0};
        int rc = loom_hpack_decode_block(d, block, len, &fields, &e);
        if (rc != 0) {
            free(block);
            status = fail(name, seqno, "%s (at octet %zu of the wire)",
                          e.reason ? e.reason : loom_strerror(rc), e.offset);
            break;
        }
        /* The list's strings may point into the block: read them first. */
        json_t *headers = fields_json(&fields);
        size_t text = 0;
        for (size_t k = 0; k < fields.n; k++)
            text += fields.fields[k].name_len + fields.fields[k].value_len;
        free(block);
        if (!headers) {
            status = fail(name, seqno, "a decoded header is not UTF-8, which JSON cannot hold");
            break;
        }
        json_object_set_new(c, "headers", headers);
        if (o->stats) add_stats(o, c, text, len);
        if (o->dump) {
            json_t *t =
                table_json(name, seqno, d, dec_get, loom_hpack_decoder_table_len(d),
                           loom_hpack_decoder_table_size(d), loom_hpack_decoder_table_max(d));
            if (!t) {
                status = 1;
                break;
            }
            json_object_set_new(c, "header_table", t);
        }
    }
    loom_hpack_decoder_free(d);
    loom_hpack_list_free(&fields);
    if (status == 0) status = print_story(name, root);
    if (status == 0 && o->stats) print_totals(o);
    json_decref(root);
    return status;
}

/* ---- encode ---- */

static int is_lowercase(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 'A' && s[i] <= 'Z') return 0;
    return 1;
}

/* The fields of a case's headers; NULL (after printing why) if malformed. */
static loom_hpack_field *case_fields(const char *file, long seqno, json_t *headers, size_t *n)
{
    if (!json_is_array(headers)) {
        fail(file, seqno, "no \"headers\" array");
        return NULL;
    }
    *n = json_array_size(headers);
    loom_hpack_field *f = calloc(*n + 1, sizeof(*f));
    if (!f) {
        fail(file, seqno, "%s", loom_strerror(LOOM_ERR_NOMEM));
        return NULL;
    }
    for (size_t i = 0; i < *n; i++) {
        json_t *h = json_array_get(headers, i), *v;
        const char *name;
        size_t name_len;
        if (!json_is_object(h) || json_object_size(h) != 1) {
            fail(file, seqno, "header %zu is not one {\"name\": \"value\"}", i);
            free(f);
            return NULL;
        }
        json_object_keylen_foreach(h, name, name_len, v)
        {
            if (!json_is_string(v)) {
                fail(file, seqno, "header %zu (%s): the value is not a string", i, name);
                free(f);
                return NULL;
            }
            if (!is_lowercase(name, name_len)) {
                fail(file, seqno,
                     "header %zu (%s): names are lowercase in HTTP/2 "
                     "(RFC 9113 §8.2.1)",
                     i, name);
                free(f);
                return NULL;
            }
            f[i].name = (const uint8_t *)name;
            f[i].name_len = name_len;
            f[i].value = (const uint8_t *)json_string_value(v);
            f[i].value_len = json_string_length(v);
        }
    }
    return f;
}

static char *hex_of(const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[b[i] >> 4];
        s[2 * i + 1] = digits[b[i] & 15];
    }
    s[2 * n] = 0;
    return s;
}

/* The output case: seqno, header_table_size (the case's own, or the first
 * case's --table-size when not the default), wire, headers, then whatever
 * else the input case had. */
static json_t *out_case(json_t *in, long seqno, uint32_t table_size, int first, const char *hex)
{
    json_t *o = json_object();
    json_t *hts = json_object_get(in, "header_table_size");
    json_object_set_new(o, "seqno", json_integer(seqno));
    if (json_is_integer(hts))
        json_object_set(o, "header_table_size", hts);
    else if (first && table_size != LOOM_HPACK_DEFAULT_TABLE_SIZE)
        json_object_set_new(o, "header_table_size", json_integer(table_size));
    json_object_set_new(o, "wire", json_string(hex));
    json_object_set(o, "headers", json_object_get(in, "headers"));
    const char *key;
    json_t *v;
    json_object_foreach(in, key, v) if (!json_object_get(o, key)) json_object_set(o, key, v);
    return o;
}

static int encode_story(hpack_opts *o)
{
    const char *name = o->name;
    json_t *root = load_story(o);
    if (!root) return 1;
    loom_hpack_encoder *enc = loom_hpack_encoder_new(NULL);
    /* our cap: N; the peer's limit (the first case's header_table_size, else
     * N too) is set at the first case. The encoder uses the smaller and says
     * so in the first block (RFC 7541 §4.2). */
    if (!enc || (o->table_size != LOOM_HPACK_DEFAULT_TABLE_SIZE &&
                 loom_hpack_encoder_set_table_cap(enc, o->table_size) < 0)) {
        loom_hpack_encoder_free(enc);
        json_decref(root);
        return fail(name, -1, "%s", loom_strerror(LOOM_ERR_NOMEM));
    }
    int status = 0;
    json_t *cases = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(root, "cases"), i, c)
    {
        long seqno = seqno_of(c, i);
        if (!json_is_object(c)) {
            status = fail(name, seqno, "not an object");
            break;
        }
        /* the peer's SETTINGS_HEADER_TABLE_SIZE from this case on */
        uint32_t peer;
        int given = case_table_size(name, seqno, c, &peer);
        if (given < 0) {
            status = 1;
            break;
        }
        if (!given && i == 0 && o->table_size != LOOM_HPACK_DEFAULT_TABLE_SIZE) {
            peer = o->table_size;
            given = 1;
        }
        if (given && loom_hpack_encoder_set_max_table_size(enc, peer) < 0) {
            status = fail(name, seqno, "%s", loom_strerror(LOOM_ERR_NOMEM));
            break;
        }
        size_t n;
        loom_hpack_field *f = case_fields(name, seqno, json_object_get(c, "headers"), &n);
        if (!f) {
            status = 1;
            break;
        }
        size_t text = 0;
        for (size_t k = 0; k < n; k++)
            text += f[k].name_len + f[k].value_len;
        size_t bound = loom_hpack_encode_bound(f, n);
        uint8_t *out = malloc(bound + 1);
        int len = out ? loom_hpack_encode(enc, f, n, out, bound) : LOOM_ERR_NOMEM;
        char *hex = len >= 0 ? hex_of(out, (size_t)len) : NULL;
        free(out);
        free(f);
        if (!hex) {
            status = fail(name, seqno, "cannot encode: %s",
                          loom_strerror(len < 0 ? len : LOOM_ERR_NOMEM));
            break;
        }
        json_t *oc = out_case(c, seqno, o->table_size, i == 0, hex);
        free(hex);
        json_array_append_new(cases, oc);
        if (o->stats) add_stats(o, oc, text, (size_t)len);
        if (o->dump) {
            json_t *t =
                table_json(name, seqno, enc, enc_get, loom_hpack_encoder_table_len(enc),
                           loom_hpack_encoder_table_size(enc), loom_hpack_encoder_table_max(enc));
            if (!t) {
                status = 1;
                break;
            }
            json_object_set_new(oc, "header_table", t);
        }
    }
    loom_hpack_encoder_free(enc);
    if (status == 0) {
        /* the story's own keys, in their order, with the new cases */
        json_t *story = json_object();
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v)
            json_object_set(story, key, strcmp(key, "cases") ? v : cases);
        status = print_story(name, story);
        if (status == 0 && o->stats) print_totals(o);
        json_decref(story);
    }
    json_decref(cases);
    json_decref(root);
    return status;
}

/* ---- arguments ---- */

/* A table size: decimal, 0 .. 2^32 - 1. */
static int parse_size(const char *s, uint32_t *out)
{
    unsigned long long v = 0;
    if (!*s) return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (unsigned)(*s - '0');
        if (v > UINT32_MAX) return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int loom_hpack_cli(int argc, char **argv)
{
    if (argc < 2) {
        fputs(hpack_usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(hpack_usage, stdout);
        return 0;
    }
    int encode = !strcmp(cmd, "encode");
    if (!encode && strcmp(cmd, "decode"))
        return usage_error(NULL, "unknown command '%s': decode or encode", cmd);
    hpack_opts o = {.table_size = LOOM_HPACK_DEFAULT_TABLE_SIZE};
    int options = 1; /* until "--" */
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (options && a[0] == '-' && a[1]) {
            if (!strcmp(a, "--")) {
                options = 0;
            } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
                fputs(encode ? encode_usage : decode_usage, stdout);
                return 0;
            } else if (!strcmp(a, "--stats") || !strcmp(a, "-v")) {
                o.stats = 1;
            } else if (!strcmp(a, "--dump-header-table") || !strcmp(a, "-d")) {
                o.dump = 1;
            } else if (encode && (!strcmp(a, "--table-size") ||
                                  !strncmp(a, "--table-size=", strlen("--table-size=")))) {
                const char *v = a[strlen("--table-size")] == '=' ? a + strlen("--table-size=")
                                : i + 1 < argc                   ? argv[++i]
                                                                 : NULL;
                if (!v || parse_size(v, &o.table_size))
                    return usage_error(cmd, "--table-size wants a size in octets, 0 to 4294967295");
            } else {
                return usage_error(cmd, "unknown option '%s'", a);
            }
        } else if (o.file) {
            return usage_error(cmd, "one story at a time ('%s' is one too many)", a);
        } else {
            o.file = a;
        }
    }
    if (!o.file) return usage_error(cmd, "wants a STORY.json, or - for standard input");
    o.name = strcmp(o.file, "-") ? o.file : "<stdin>";
    return encode ? encode_story(&o) : decode_story(&o);
}
