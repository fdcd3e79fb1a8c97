/* One-shot compression of a response body: gzip (zlib) and brotli
 * (libbrotlienc), for loom serve's on-the-fly Content-Encoding. */
#ifndef LOOM_SRC_COMPRESS_H
#define LOOM_SRC_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

/* in[0..n) compressed as "gzip" or "br": a malloc'd buffer of *out_len
 * octets, or NULL (no memory, or not smaller than the input). */
uint8_t *compress_body(const char *encoding, const uint8_t *in, size_t n, size_t *out_len);

/* Whether a media type is worth compressing (text, scripts, JSON, XML,
 * SVG, WebAssembly, uncompressed fonts). */
int compress_type(const char *type);

#endif
