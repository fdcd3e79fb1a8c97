/* One-shot gzip and brotli (see compress.h). */
#include "compress.h"

#include <brotli/encode.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define GZIP_LEVEL 6 /* zlib's default: most of level 9's ratio at a third of its time */
#define BR_QUALITY 5 /* h2o's and Caddy's choice for dynamic brotli */
#define BR_WINDOW  19

static uint8_t *gzip_body(const uint8_t *in, size_t n, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* windowBits 15 + 16: a gzip wrapper (RFC 1952), as Content-Encoding:
     * gzip means (RFC 9110 §8.4.1.3) */
    if (deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong bound = deflateBound(&z, (uLong)n);
    uint8_t *out = malloc(bound);
    if (!out) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)bound;
    int rc = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

static uint8_t *br_body(const uint8_t *in, size_t n, size_t *out_len)
{
    size_t bound = BrotliEncoderMaxCompressedSize(n);
    if (!bound) return NULL;
    uint8_t *out = malloc(bound);
    if (!out) return NULL;
    *out_len = bound;
    if (!BrotliEncoderCompress(BR_QUALITY, BR_WINDOW, BROTLI_MODE_GENERIC, n, in, out_len, out)) {
        free(out);
        return NULL;
    }
    return out;
}

uint8_t *compress_body(const char *encoding, const uint8_t *in, size_t n, size_t *out_len)
{
    if (n > UINT32_MAX) return NULL; /* zlib's counts */
    uint8_t *out = !strcmp(encoding, "br")     ? br_body(in, n, out_len)
                   : !strcmp(encoding, "gzip") ? gzip_body(in, n, out_len)
                                               : NULL;
    if (out && *out_len >= n) { /* no gain: the identity goes */
        free(out);
        return NULL;
    }
    return out;
}

int compress_type(const char *t)
{
    static const char *const exact[] = {
        "application/javascript",
        "application/json",
        "application/xml",
        "application/wasm",
        "application/x-javascript",
        "image/svg+xml",
        "application/manifest+json",
        "font/ttf",
        "font/otf",
        "application/vnd.ms-fontobject",
        "image/x-icon",
        "application/rss+xml",
        "application/atom+xml",
    };
    if (!strncmp(t, "text/", 5)) return 1;
    size_t n = strcspn(t, ";");
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (strlen(exact[i]) == n && !strncmp(t, exact[i], n)) return 1;
    /* structured syntax suffixes (RFC 6839): +json, +xml */
    return (n > 5 && !strncmp(t + n - 5, "+json", 5)) || (n > 4 && !strncmp(t + n - 4, "+xml", 4));
}
