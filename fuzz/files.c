/* libFuzzer harness: loom serve's static-file semantics (src/files.c) with
 * hostile request fields: the path (percent-decoding, dot segments,
 * dotfiles, folders), Range (several, suffixes, overflow), If-Match,
 * If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range and
 * Accept-Encoding q-values, over a small site made at start-up (a file with
 * a .gz sibling, a compressible script, folders with and without an index,
 * a dotfile, a denied name). Checks what every answer must satisfy: a
 * known status, a body range inside the representation, a multipart body
 * whole, and nothing leaked (the entry and descriptor released). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"

static int root_fd = -1;
static char root_real[4096];
static file_cache *cache;
static files_conf *fconf;

static void put(const char *dir, const char *name, const char *data, size_t n)
{
    char p[4200];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) abort();
    fwrite(data, 1, n, f);
    fclose(f);
}

/* the site goes when the fuzzer ends */
static void cleanup(void)
{
    static const char *const paths[] = {"a.txt",   "a.txt.gz",       "app.js", ".env",
                                        "old.bak", "dir/index.html", "dir",    "list/x y&<z>.txt",
                                        "list",    "empty"};
    char p[4200];
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", root_real, paths[i]);
        if (unlink(p) < 0) rmdir(p);
    }
    rmdir(root_real);
}

static void setup(void)
{
    char tmpl[] = "/tmp/loom-fuzz-files-XXXXXX";
    if (!mkdtemp(tmpl) || !realpath(tmpl, root_real)) abort();
    static char text[3000], js[20000];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < sizeof(js); i++)
        js[i] = "function f(x){return x+1;}\n"[i % 27];
    put(root_real, "a.txt", text, sizeof(text));
    put(root_real, "a.txt.gz", "\x1f\x8b not really", 14);
    put(root_real, "app.js", js, sizeof(js));
    put(root_real, ".env", "SECRET=1\n", 9);
    put(root_real, "old.bak", "x", 1);
    char d[4200];
    snprintf(d, sizeof(d), "%s/dir", root_real);
    mkdir(d, 0755);
    put(d, "index.html", "<p>hi</p>", 9);
    snprintf(d, sizeof(d), "%s/list", root_real);
    mkdir(d, 0755);
    put(d, "x y&<z>.txt", "1", 1);
    snprintf(d, sizeof(d), "%s/empty", root_real); /* a folder with nothing to list */
    mkdir(d, 0755);
    root_fd = open(root_real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    static const char *deny[] = {"*.bak"};
    static const char *mime[] = {"md=text/markdown"};
    files_config cfg = {.autoindex = 1, .deny = deny, .ndeny = 1, .mime = mime, .nmime = 1};
    char err[256];
    fconf = files_conf_new(&cfg, err, sizeof(err));
    if (root_fd < 0 || !fconf) abort();
    cache = files_cache_new(1u << 20);
    atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (root_fd < 0) setup();
    /* fields separated by '\n': method, path, then the header values */
    const char *f[11] = {0};
    size_t len[11] = {0};
    char *copy = malloc(size + 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    copy[size] = 0;
    int k = 0;
    for (char *p = copy, *e; k < 11; k++) {
        e = memchr(p, '\n', (size_t)(copy + size - p));
        f[k] = p;
        len[k] = e ? (size_t)(e - p) : strlen(p);
        if (!e) break;
        p = e + 1;
    }
    int n = k < 11 ? k + 1 : 11;
#define FIELD(i) (i < n && len[i] ? f[i] : NULL), (i < n ? len[i] : 0)
    file_request q = {(n > 0 && len[0] ? f[0] : "GET"),
                      (n > 0 && len[0] ? len[0] : 3),
                      (n > 1 && len[1] ? f[1] : "/"),
                      (n > 1 && len[1] ? len[1] : 1),
                      FIELD(2),
                      FIELD(3),
                      FIELD(4),
                      FIELD(5),
                      FIELD(6),
                      FIELD(7),
                      FIELD(8),
                      (int)(size % 3),
                      size % 4 < 2 ? 0 : FILES_MEM_MAX_TLS}; /* as over TLS: more from memory */
    /* half the inputs through the worker's cache (HTTP/2), half not */
    static file_reply r;
    files_serve(fconf, root_fd, root_real, &q, &r, size % 2 ? cache : NULL);
    switch (r.status) {
    case 200:
    case 206:
    case 301:
    case 304:
    case 400:
    case 403:
    case 404:
    case 405:
    case 412:
    case 416:
    case 503: break;
    default: abort();
    }
    if (r.status == 200 || r.status == 206) {
        if (r.offset + r.length > r.size && r.fd < 0) abort(); /* a range outside the file */
        if (r.fd < 0 && !r.data) abort();                      /* a body from nowhere */
        if (r.data && r.fd >= 0) abort();
        if (r.fd >= 0) {
            struct stat st;
            if (fstat(r.fd, &st) < 0 || (uint64_t)st.st_size < r.offset + r.length) abort();
        }
    }
    if (r.status == 301 && r.location[0] != '/') abort();
    files_release(cache, r.entry);
    if (r.fd >= 0) close(r.fd);
    free(copy);
    return 0;
}
