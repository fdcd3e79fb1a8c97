/* unzip.h */
#include "unzip.h"

#include <brotli/decode.h>
#include <stdlib.h>
#include <strings.h>
#include <zlib.h>

struct unzip {
    z_stream *zs;           /* gzip, deflate */
    BrotliDecoderState *br; /* br */
};

unzip *unzip_new(const char *coding, size_t len, int *unknown)
{
    *unknown = 0;
    if (!len || (len == 8 && !strncasecmp(coding, "identity", 8))) return NULL;
    unzip *z = calloc(1, sizeof(*z));
    if (!z) {
        *unknown = 1;
        return NULL;
    }
    if (len == 2 && !strncasecmp(coding, "br", 2)) {
        z->br = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    } else if ((len == 4 && !strncasecmp(coding, "gzip", 4)) ||
               (len == 7 && !strncasecmp(coding, "deflate", 7))) {
        z->zs = calloc(1, sizeof(*z->zs));
        /* 15 + 32: a zlib or gzip header, told apart by zlib */
        if (z->zs && inflateInit2(z->zs, 15 + 32) != Z_OK) {
            free(z->zs);
            z->zs = NULL;
        }
    }
    if (!z->br && !z->zs) {
        free(z);
        *unknown = 1;
        return NULL;
    }
    return z;
}

int unzip_feed(unzip *z, const uint8_t *p, size_t n,
               void (*out)(void *user, const uint8_t *p, size_t n), void *user, const char **why)
{
    uint8_t buf[65536];
    if (z->zs) {
        z->zs->next_in = (Bytef *)(uintptr_t)p;
        z->zs->avail_in = (uInt)n;
        while (z->zs->avail_in) {
            z->zs->next_out = buf;
            z->zs->avail_out = sizeof(buf);
            int rc = inflate(z->zs, Z_NO_FLUSH);
            if (sizeof(buf) - z->zs->avail_out) out(user, buf, sizeof(buf) - z->zs->avail_out);
            if (rc == Z_STREAM_END) break;
            if (rc != Z_OK && rc != Z_BUF_ERROR) {
                *why = z->zs->msg ? z->zs->msg : "bad data";
                return -1;
            }
        }
        return 0;
    }
    size_t in_left = n, out_left;
    const uint8_t *in = p;
    BrotliDecoderResult rc;
    do {
        uint8_t *o = buf;
        out_left = sizeof(buf);
        rc = BrotliDecoderDecompressStream(z->br, &in_left, &in, &out_left, &o, NULL);
        if (sizeof(buf) - out_left) out(user, buf, sizeof(buf) - out_left);
    } while (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT);
    if (rc == BROTLI_DECODER_RESULT_ERROR) {
        *why = BrotliDecoderErrorString(BrotliDecoderGetErrorCode(z->br));
        return -1;
    }
    return 0;
}

void unzip_free(unzip *z)
{
    if (!z) return;
    if (z->zs) {
        inflateEnd(z->zs);
        free(z->zs);
    }
    if (z->br) BrotliDecoderDestroyInstance(z->br);
    free(z);
}
