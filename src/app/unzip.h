/* Response bodies in a content coding (RFC 9110 §8.4.1): gzip and deflate
 * through zlib, br through brotli, decoded as they arrive (loom get
 * --compressed, loom bench --page --compressed). */
#ifndef LOOM_APP_UNZIP_H
#define LOOM_APP_UNZIP_H

#include <stddef.h>
#include <stdint.h>

typedef struct unzip unzip;

/* A decoder for the coding named in coding[0, len) (any case), or NULL:
 * with *unknown 0 for identity (nothing to decode), 1 for a coding not
 * known here (or no memory). */
unzip *unzip_new(const char *coding, size_t len, int *unknown);

/* Decodes p[0, n) and hands out what it gives, in pieces. 0, or -1 with a
 * one-line reason in *why when the body does not decode. */
int unzip_feed(unzip *z, const uint8_t *p, size_t n,
               void (*out)(void *user, const uint8_t *p, size_t n), void *user, const char **why);

void unzip_free(unzip *z);

#endif
