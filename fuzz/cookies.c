/* loom get's cookie jar (src/app/cookies.c) on hostile input: the
 * Set-Cookie values a server sends, and a cookie file handed to -b.
 * Input: a host line, a request path line, then Set-Cookie values one per
 * line; the same octets are also read as a Netscape cookie file. Checked:
 * no crash or leak, the Cookie header built fits its buffer and holds only
 * "name=value" pairs joined by "; ", a jar written and read back gives
 * the same header. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/cookies.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    char *save = NULL, *host = strtok_r(text, "\n", &save), *path = strtok_r(NULL, "\n", &save);
    /* a host as a URL gives it: letters, digits, dots, dashes (or an IP) */
    if (!host || !path || path[0] != '/' || strlen(host) > 253 ||
        strspn(host, "abcdefghijklmnopqrstuvwxyz0123456789.-:[]") != strlen(host) ||
        host[0] == '.' || host[0] == '-') {
        free(text);
        return 0;
    }
    cookie_jar *j = jar_new();
    long long now = 1700000000;
    for (char *v = strtok_r(NULL, "\n", &save); v; v = strtok_r(NULL, "\n", &save))
        jar_set_cookie(j, host, path, v[0] & 1, v, strlen(v), now);
    char out[4096], again[4096];
    size_t n = jar_header(j, host, path, 1, now, out, sizeof(out));
    if (n >= sizeof(out) || strlen(out) != n) abort();
    /* written and read back: the same cookies go out */
    char tmpl[] = "/tmp/loom-fuzz-jar-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd >= 0) {
        close(fd);
        if (jar_save(j, tmpl, now) == 0) {
            cookie_jar *k = jar_new();
            jar_load(k, tmpl);
            size_t m = jar_header(k, host, path, 1, now, again, sizeof(again));
            if (m != n || memcmp(out, again, n)) abort();
            jar_free(k);
        }
        /* the input as a cookie file */
        FILE *f = fopen(tmpl, "wb");
        if (f) {
            fwrite(data, 1, size, f);
            fclose(f);
            cookie_jar *k = jar_new();
            jar_load(k, tmpl);
            n = jar_header(k, host, path, 0, now, out, sizeof(out));
            if (n >= sizeof(out)) abort();
            jar_free(k);
        }
        unlink(tmpl);
    }
    jar_free(j);
    free(text);
    return 0;
}
