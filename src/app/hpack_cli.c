/* `loom hpack decode STORY.json` and `loom hpack encode [--table-size N]
 * STORY.json`: libloom's HPACK codec on stories in the hpack-test-case
 * format (JSON: {"cases": [{"seqno", "header_table_size"?, "wire"?,
 * "headers": [{name: value}, ...]}, ...]}), one story being one connection.
 *
 * decode: each case's `wire` (hex) through one decoder, in order; prints the
 * story with every case's `headers` replaced by what loom decoded.
 * encode: each case's `headers` through one encoder, in order; prints the
 * story with every case's `wire` filled in (lowercase hex).
 *
 * Nothing is printed unless the whole story succeeds. Bad input is one line
 * on stderr naming the file, the case and the reason, and exit status 1;
 * usage errors exit 2. JSON is read and written with jansson. */
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
    "usage: loom hpack decode STORY.json\n"
    "       loom hpack encode [--table-size N] STORY.json\n"
    "\n"
    "STORY.json is a story in the hpack-test-case format: {\"cases\": [{\"wire\": HEX,\n"
    "\"headers\": [{NAME: VALUE}, ...]}, ...]}, one connection.\n"
    "  decode   decodes each case's wire, in order, with one decoder (honoring a\n"
    "           case's header_table_size) and prints the story with the headers\n"
    "           loom decoded\n"
    "  encode   encodes each case's headers, in order, with one encoder and prints\n"
    "           the story with each case's wire filled in\n"
    "  --table-size N   the encoder's dynamic table size (default 4096); another\n"
    "           size is announced with a size update (RFC 7541 §6.3) in the first\n"
    "           block and recorded as the first case's header_table_size\n";

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

/* A usage error: one line on stderr, exit status 2. */
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("loom hpack: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (try: loom hpack --help)\n", stderr);
    return 2;
}

/* Reads a story; on failure prints why and returns NULL. */
static json_t *load_story(const char *file)
{
    json_error_t err;
    json_t *root = json_load_file(file, 0, &err);
    if (!root) {
        if (json_error_code(&err) == json_error_cannot_open_file) {
            /* jansson's text repeats the name; ask the system why */
            FILE *fp = fopen(file, "r");
            int why = fp ? EIO : errno;
            if (fp) fclose(fp);
            fail(file, -1, "cannot read: %s", strerror(why));
        } else
            fail(file, -1, "invalid JSON at line %d, column %d: %s", err.line, err.column,
                 err.text);
        return NULL;
    }
    if (!json_is_object(root) || !json_is_array(json_object_get(root, "cases"))) {
        fail(file, -1, "not a story: no \"cases\" array");
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

static int print_story(const char *file, json_t *root)
{
    if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
        fputc('\n', stdout) == EOF || fflush(stdout) != 0)
        return fail(file, -1, "cannot write the output: %s", strerror(errno));
    return 0;
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

static int decode_story(const char *file)
{
    json_t *root = load_story(file);
    if (!root) return 1;
    loom_hpack_decoder *d = loom_hpack_decoder_new(LOOM_HPACK_DEFAULT_TABLE_SIZE, 0, NULL);
    loom_hpack_list fields = {0};
    if (!d) {
        json_decref(root);
        return fail(file, -1, "%s", loom_strerror(LOOM_ERR_NOMEM));
    }
    int status = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(root, "cases"), i, c)
    {
        long seqno = seqno_of(c, i);
        if (!json_is_object(c)) {
            status = fail(file, seqno, "not an object");
            break;
        }
        /* The size the encoder may use from this case on: our
         * SETTINGS_HEADER_TABLE_SIZE, in HTTP/2 terms. */
        json_t *hts = json_object_get(c, "header_table_size");
        if (hts) {
            if (!json_is_integer(hts) || json_integer_value(hts) < 0 ||
                json_integer_value(hts) > UINT32_MAX) {
                status = fail(file, seqno, "header_table_size is not a table size");
                break;
            }
            loom_hpack_decoder_set_max_table_size(d, (uint32_t)json_integer_value(hts));
        }
        json_t *wire = json_object_get(c, "wire");
        if (!json_is_string(wire)) {
            status = fail(file, seqno, "no \"wire\" to decode");
            break;
        }
        size_t len;
        uint8_t *block = unhex(json_string_value(wire), json_string_length(wire), &len);
        if (!block) {
            status = fail(file, seqno, "wire is not hex");
            break;
        }
        loom_hpack_error e = {0};
        int rc = loom_hpack_decode_block(d, block, len, &fields, &e);
        if (rc != 0) {
            free(block);
            status = fail(file, seqno, "%s (at octet %zu of the wire)",
                          e.reason ? e.reason : loom_strerror(rc), e.offset);
            break;
        }
        /* The list's strings may point into the block: read them first. */
        json_t *headers = fields_json(&fields);
        free(block);
        if (!headers) {
            status = fail(file, seqno, "a decoded header is not UTF-8, which JSON cannot hold");
            break;
        }
        json_object_set_new(c, "headers", headers);
    }
    loom_hpack_decoder_free(d);
    loom_hpack_list_free(&fields);
    if (status == 0) status = print_story(file, root);
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

/* The output case: seqno, header_table_size (first case, when not the
 * default), wire, headers, then whatever else the input case had. */
static json_t *out_case(json_t *in, long seqno, uint32_t table_size, int first, const char *hex)
{
    json_t *o = json_object();
    json_object_set_new(o, "seqno", json_integer(seqno));
    if (first && table_size != LOOM_HPACK_DEFAULT_TABLE_SIZE)
        json_object_set_new(o, "header_table_size", json_integer(table_size));
    json_object_set_new(o, "wire", json_string(hex));
    json_object_set(o, "headers", json_object_get(in, "headers"));
    const char *key;
    json_t *v;
    json_object_foreach(in, key, v) if (!json_object_get(o, key)) json_object_set(o, key, v);
    return o;
}

static int encode_story(const char *file, uint32_t table_size)
{
    json_t *root = load_story(file);
    if (!root) return 1;
    loom_hpack_encoder *enc = loom_hpack_encoder_new(NULL);
    if (!enc) {
        json_decref(root);
        return fail(file, -1, "%s", loom_strerror(LOOM_ERR_NOMEM));
    }
    if (table_size != LOOM_HPACK_DEFAULT_TABLE_SIZE) {
        /* our cap and the peer's limit both N: the encoder uses N and says
         * so in the first block (RFC 7541 §4.2) */
        loom_hpack_encoder_set_table_cap(enc, table_size);
        loom_hpack_encoder_set_max_table_size(enc, table_size);
    }
    int status = 0;
    json_t *cases = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(root, "cases"), i, c)
    {
        long seqno = seqno_of(c, i);
        if (!json_is_object(c)) {
            status = fail(file, seqno, "not an object");
            break;
        }
        size_t n;
        loom_hpack_field *f = case_fields(file, seqno, json_object_get(c, "headers"), &n);
        if (!f) {
            status = 1;
            break;
        }
        size_t bound = loom_hpack_encode_bound(f, n);
        uint8_t *out = malloc(bound + 1);
        int len = out ? loom_hpack_encode(enc, f, n, out, bound) : LOOM_ERR_NOMEM;
        char *hex = len >= 0 ? hex_of(out, (size_t)len) : NULL;
        free(out);
        free(f);
        if (!hex) {
            status = fail(file, seqno, "cannot encode: %s",
                          loom_strerror(len < 0 ? len : LOOM_ERR_NOMEM));
            break;
        }
        json_array_append_new(cases, out_case(c, seqno, table_size, i == 0, hex));
        free(hex);
    }
    loom_hpack_encoder_free(enc);
    if (status == 0) {
        /* the story's own keys, in their order, with the new cases */
        json_t *story = json_object();
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v)
            json_object_set(story, key, strcmp(key, "cases") ? v : cases);
        status = print_story(file, story);
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
        return usage_error("unknown command '%s': decode or encode", cmd);
    const char *file = NULL;
    uint32_t table_size = LOOM_HPACK_DEFAULT_TABLE_SIZE;
    for (int i = 2; i < argc; i++) {
        if (encode && !strcmp(argv[i], "--table-size")) {
            if (i + 1 == argc || parse_size(argv[i + 1], &table_size))
                return usage_error("--table-size wants a size in octets, 0 to 4294967295");
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return usage_error("unknown option '%s'", argv[i]);
        } else if (file) {
            return usage_error("one story at a time ('%s' is one too many)", argv[i]);
        } else {
            file = argv[i];
        }
    }
    if (!file) return usage_error("%s wants a STORY.json", cmd);
    return encode ? encode_story(file, table_size) : decode_story(file);
}
