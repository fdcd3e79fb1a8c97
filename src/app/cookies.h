/* loom get's cookie engine (-b, -c): RFC 6265 storage, Netscape files. */
#ifndef LOOM_APP_COOKIES_H
#define LOOM_APP_COOKIES_H

#include <stddef.h>

typedef struct cookie_jar cookie_jar;

cookie_jar *jar_new(void);
void jar_free(cookie_jar *j);
/* A Set-Cookie value (v, vl) received from host for a request of
 * req_path (https: over TLS), at time now (seconds since the epoch). */
void jar_set_cookie(cookie_jar *j, const char *host, const char *req_path, int https, const char *v,
                    size_t vl, long long now);
/* The Cookie value for a request (without the name): "a=1; b=2", its
 * length (0: none). */
size_t jar_header(cookie_jar *j, const char *host, const char *path, int https, long long now,
                  char *out, size_t cap);
/* A Netscape cookie file read in: 0, or -1 (errno) when it cannot be
 * opened. Lines that are not cookies are skipped. */
int jar_load(cookie_jar *j, const char *path);
/* The jar written to path ("-": stdout): 0 or -1. */
int jar_save(cookie_jar *j, const char *path, long long now);

#endif
