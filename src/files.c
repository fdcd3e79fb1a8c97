/* Static files for loom serve. */
#define _GNU_SOURCE
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const struct {
    const char *ext, *type;
} mime[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/x-icon"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"xml", "application/xml"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"wav", "audio/wav"},
};

const char *files_mime(const char *path)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return "application/octet-stream";
    for (size_t i = 0; i < sizeof(mime) / sizeof(mime[0]); i++)
        if (!strcasecmp(dot + 1, mime[i].ext)) return mime[i].type;
    return "application/octet-stream";
}

const char *files_error_body(int status, size_t *len)
{
    const char *s;
    switch (status) {
    case 400: s = "400 Bad Request\n"; break;
    case 403: s = "403 Forbidden\n"; break;
    case 404: s = "404 Not Found\n"; break;
    case 405: s = "405 Method Not Allowed\n"; break;
    case 408: s = "408 Request Timeout\n"; break;
    case 413: s = "413 Content Too Large\n"; break;
    case 416: s = "416 Range Not Satisfiable\n"; break;
    case 431: s = "431 Request Header Fields Too Large\n"; break;
    case 503: s = "503 Service Unavailable\n"; break;
    default: s = "500 Internal Server Error\n"; break;
    }
    *len = strlen(s);
    return s;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes the path part (query dropped) and normalises it into
 * out (relative, no leading '/'). Returns 0, or -1 for a path that is
 * malformed or would climb out of the root. */
static int clean_path(const char *p, size_t n, char *out, size_t cap)
{
    char dec[4096];
    size_t d = 0;
    if (n == 0 || p[0] != '/') return -1;
    for (size_t i = 0; i < n && p[i] != '?' && p[i] != '#'; i++) {
        char c = p[i];
        if (c == '%') {
            if (i + 2 >= n || hexval(p[i + 1]) < 0 || hexval(p[i + 2]) < 0) return -1;
            c = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
            i += 2;
        }
        if (c == 0 || c == '\\') return -1; /* NUL and backslashes are never paths */
        if (d + 1 >= sizeof(dec)) return -1;
        dec[d++] = c;
    }
    dec[d] = 0;
    /* segment by segment: "." is dropped, ".." refused */
    size_t o = 0;
    const char *s = dec;
    while (*s) {
        while (*s == '/')
            s++;
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0) break;
        if (len == 1 && s[0] == '.') {
        } else if (len == 2 && s[0] == '.' && s[1] == '.') {
            return -1;
        } else {
            if (o + len + 2 >= cap) return -1;
            if (o) out[o++] = '/';
            memcpy(out + o, s, len);
            o += len;
        }
        s += len;
    }
    out[o] = 0;
    return 0;
}

static int has_token(const char *list, size_t n, const char *tok)
{
    size_t t = strlen(tok);
    for (size_t i = 0; i + t <= n; i++) {
        if (strncasecmp(list + i, tok, t) != 0) continue;
        int start = i == 0 || list[i - 1] == ',' || list[i - 1] == ' ';
        int end = i + t == n || list[i + t] == ',' || list[i + t] == ';' || list[i + t] == ' ';
        if (!start || !end) continue;
        /* "br;q=0" refuses it */
        const char *q = list + i + t;
        if (q < list + n && *q == ';') {
            const char *v = strstr(q, "q=");
            if (v && v < list + n && atof(v + 2) == 0) return 0;
        }
        return 1;
    }
    return 0;
}

/* Opens rel inside the root without following symlinks out of it. */
static int open_inside(int root_fd, const char *root_real, const char *rel, struct stat *st,
                       char *real_out, size_t cap)
{
    int fd = openat(root_fd, rel[0] ? rel : ".", O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return -1;
    /* the resolved path must still be under the root */
    char link[64], real[4096];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, real, sizeof(real) - 1);
    size_t rl = strlen(root_real);
    if (k < 0 || (size_t)k < rl || memcmp(real, root_real, rl) != 0 ||
        (real[rl] != '/' && (size_t)k != rl)) {
        close(fd);
        errno = EACCES;
        return -1;
    }
    real[k] = 0;
    snprintf(real_out, cap, "%s", real);
    if (fstat(fd, st) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int parse_range(const char *v, size_t n, uint64_t size, uint64_t *off, uint64_t *len)
{
    /* a single "bytes=a-b", "bytes=a-" or "bytes=-n" (RFC 9110 §14.1.2);
     * anything else is ignored (returns 0: the whole file) */
    char buf[128];
    if (n >= sizeof(buf) || n < 7 || strncmp(v, "bytes=", 6) != 0) return 0;
    memcpy(buf, v + 6, n - 6);
    buf[n - 6] = 0;
    if (strchr(buf, ',')) return 0;
    char *dash = strchr(buf, '-');
    if (!dash) return 0;
    *dash = 0;
    char *end;
    if (buf[0] == 0) {
        unsigned long long suffix = strtoull(dash + 1, &end, 10);
        if (*end || dash[1] == 0) return 0;
        if (suffix == 0) return -1;
        if (suffix > size) suffix = size;
        *off = size - suffix;
        *len = suffix;
        return size ? 1 : -1;
    }
    unsigned long long a = strtoull(buf, &end, 10);
    if (*end) return 0;
    unsigned long long b = size ? size - 1 : 0;
    if (dash[1]) {
        b = strtoull(dash + 1, &end, 10);
        if (*end || b < a) return 0;
        if (b >= size) b = size - 1;
    }
    if (a >= size) return -1; /* unsatisfiable */
    *off = a;
    *len = b - a + 1;
    return 1;
}

static void http_date(time_t t, char *out, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static _Thread_local time_t date_sec = -1;

time_t files_date_sec(void)
{
    return date_sec;
}

const char *files_date_now(void)
{
    /* formatted once per second per thread: gmtime and strftime cost about
     * as much as the rest of a small response's fields */
    static _Thread_local char buf[32];
    time_t now = time(NULL);
    if (now != date_sec) {
        http_date(now, buf, sizeof(buf));
        date_sec = now;
    }
    return buf;
}

/* RFC 9110 §13 and §14: conditional requests and one range, from the
 * representation's validators. Sets the status (200, 206, 304 or 416). */
static void conditions(const file_request *q, file_reply *r, time_t mtime)
{
    /* §13.1.2: If-None-Match wins over If-Modified-Since */
    if (q->if_none_match) {
        size_t el = strlen(r->etag);
        int match = q->inm_len == 1 && q->if_none_match[0] == '*';
        for (size_t i = 0; !match && i + el <= q->inm_len; i++)
            match = !memcmp(q->if_none_match + i, r->etag, el);
        if (match) {
            r->status = 304;
            return;
        }
    } else if (q->if_modified_since && q->ims_len < 64) {
        char d[64];
        memcpy(d, q->if_modified_since, q->ims_len);
        d[q->ims_len] = 0;
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        if (strptime(d, "%a, %d %b %Y %H:%M:%S GMT", &tm) && timegm(&tm) >= mtime) {
            r->status = 304;
            return;
        }
    }
    r->status = 200;
    r->offset = 0;
    r->length = r->size;
    if (q->range && !r->encoding) {
        int rr = parse_range(q->range, q->range_len, r->size, &r->offset, &r->length);
        if (rr < 0) {
            r->status = 416;
            snprintf(r->content_range, sizeof(r->content_range), "bytes */%llu",
                     (unsigned long long)r->size);
        } else if (rr > 0) {
            r->status = 206;
            snprintf(r->content_range, sizeof(r->content_range), "bytes %llu-%llu/%llu",
                     (unsigned long long)r->offset, (unsigned long long)(r->offset + r->length - 1),
                     (unsigned long long)r->size);
        }
    }
}

/* ---- the small-file cache ----
 * Per worker (no lock): files up to CACHE_FILE_MAX are read once and
 * served from memory for CACHE_TTL_MS, so a small response costs no open,
 * stat, readlink or read. An entry in use by a response stays alive after
 * it expires (reference count) and is freed when the last one ends. */

#define CACHE_FILE_MAX (64u * 1024)
#define CACHE_TTL_MS   1000u
#define CACHE_BUCKETS  512u

struct file_entry {
    struct file_entry *next;
    uint64_t hash, born_ms;
    char *key;
    int refs, stale;
    uint8_t *data;
    uint64_t size;
    uint64_t gen; /* unique in its cache: a version of a file (files_entry_gen) */
    /* what says the file is still the one read (see same_file) */
    struct timespec mtim, ctim;
    ino_t ino;
    dev_t dev;
    const char *type, *encoding;
    char etag[48], last_modified[40];
};

uint64_t files_entry_gen(const file_entry *e)
{
    return e ? e->gen : 0;
}

/* Whether the file looked at again is the one the entry holds: same
 * inode, size, and modification and change times to the nanosecond (a
 * write, a rename over it, a touch all change one of them). */
static int same_file(const file_entry *e, const struct stat *st, const char *encoding)
{
    return e->ino == st->st_ino && e->dev == st->st_dev && e->size == (uint64_t)st->st_size &&
           e->mtim.tv_sec == st->st_mtim.tv_sec && e->mtim.tv_nsec == st->st_mtim.tv_nsec &&
           e->ctim.tv_sec == st->st_ctim.tv_sec && e->ctim.tv_nsec == st->st_ctim.tv_nsec &&
           e->encoding == encoding;
}

struct file_cache {
    file_entry *b[CACHE_BUCKETS];
    size_t bytes, max;
    /* the last entry served, by the request's path as sent (and the
     * encodings taken): the same path again skips cleaning it, the key
     * and the lookup. Cleared when that entry leaves the cache. */
    uint64_t next_gen;
    file_entry *memo;
    int memo_accepts;
    size_t memo_len;
    char memo_path[256];
};

static void memo_set(file_cache *c, const file_request *q, int accepts, file_entry *e)
{
    if (q->path_len > sizeof(c->memo_path)) return;
    memcpy(c->memo_path, q->path, q->path_len);
    c->memo_len = q->path_len;
    c->memo_accepts = accepts;
    c->memo = e;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); /* a cache of seconds: ticks will do */
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t key_hash(const char *k)
{
    uint64_t h = 1469598103934665603ull;
    for (; *k; k++)
        h = (h ^ (uint8_t)*k) * 1099511628211ull;
    return h;
}

file_cache *files_cache_new(size_t max_bytes)
{
    file_cache *c = calloc(1, sizeof(*c));
    if (c) c->max = max_bytes;
    return c;
}

static void entry_free(file_cache *c, file_entry *e)
{
    c->bytes -= e->size;
    free(e->data);
    free(e->key);
    free(e);
}

void files_release(file_cache *c, file_entry *e)
{
    if (!c || !e) return;
    if (--e->refs == 0 && e->stale) entry_free(c, e);
}

void files_cache_free(file_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < CACHE_BUCKETS; i++)
        for (file_entry *e = c->b[i], *next; e; e = next) {
            next = e->next;
            if (e->refs)
                e->stale = 1; /* freed by its last release */
            else
                entry_free(c, e);
        }
    free(c);
}

/* The entry for key while it is fresh; NULL once it has expired (then
 * *expired is it, still in the cache: the file is to be looked at again,
 * and cache_drop() takes it out, unless the look fails for want of
 * descriptors and it is served once more). */
static file_entry *cache_find(file_cache *c, const char *key, file_entry **expired)
{
    uint64_t h = key_hash(key), now = mono_ms();
    *expired = NULL;
    for (file_entry *e = c->b[h % CACHE_BUCKETS]; e; e = e->next) {
        if (e->hash != h || strcmp(e->key, key)) continue;
        if (now - e->born_ms < CACHE_TTL_MS) return e;
        *expired = e;
        return NULL;
    }
    return NULL;
}

static void cache_drop(file_cache *c, file_entry *e)
{
    if (c->memo == e) c->memo = NULL;
    for (file_entry **pp = &c->b[e->hash % CACHE_BUCKETS]; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    if (e->refs)
        e->stale = 1; /* freed when its last response ends */
    else
        entry_free(c, e);
}

/* Reads a small regular file into a new entry (fd stays open). */
static file_entry *cache_add(file_cache *c, const char *key, int fd, const struct stat *st,
                             const file_reply *r)
{
    size_t size = (size_t)st->st_size;
    if (size > CACHE_FILE_MAX || c->bytes + size > c->max) return NULL;
    file_entry *e = calloc(1, sizeof(*e));
    if (!e) return NULL;
    e->data = malloc(size ? size : 1);
    e->key = strdup(key);
    size_t got = 0;
    while (e->data && got < size) {
        ssize_t n = pread(fd, e->data + got, size - got, (off_t)got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    if (!e->data || !e->key || got != size) {
        free(e->data);
        free(e->key);
        free(e);
        return NULL;
    }
    e->hash = key_hash(key);
    e->gen = ++c->next_gen;
    e->born_ms = mono_ms();
    e->size = size;
    e->mtim = st->st_mtim;
    e->ctim = st->st_ctim;
    e->ino = st->st_ino;
    e->dev = st->st_dev;
    e->type = r->type;
    e->encoding = r->encoding;
    memcpy(e->etag, r->etag, sizeof(e->etag));
    memcpy(e->last_modified, r->last_modified, sizeof(e->last_modified));
    e->next = c->b[e->hash % CACHE_BUCKETS];
    c->b[e->hash % CACHE_BUCKETS] = e;
    c->bytes += size;
    return e;
}

static void serve_entry(const file_request *q, file_reply *r, file_entry *e)
{
    r->type = e->type;
    r->encoding = e->encoding;
    r->size = e->size;
    memcpy(r->etag, e->etag, sizeof(r->etag));
    memcpy(r->last_modified, e->last_modified, sizeof(r->last_modified));
    conditions(q, r, e->mtim.tv_sec);
    if (r->status == 200 || r->status == 206) {
        r->data = e->data;
        r->entry = e;
        e->refs++;
    }
}

void files_serve(int root_fd, const char *root_real, const file_request *q, file_reply *r,
                 file_cache *cache)
{
    memset(r, 0, offsetof(file_reply, path)); /* not the 4 KiB path: a third of this call */
    r->path[0] = 0;
    r->fd = -1;
    r->type = "text/plain; charset=utf-8";
    int head = q->method_len == 4 && !memcmp(q->method, "HEAD", 4);
    if (!head && !(q->method_len == 3 && !memcmp(q->method, "GET", 3))) {
        r->status = 405;
        return;
    }
    /* which precompressed siblings the client takes (RFC 9110 §12.5.3) */
    static const char *const enc[][2] = {{"br", ".br"}, {"gzip", ".gz"}};
    int accepts[2] = {0, 0};
    for (int i = 0; i < 2 && q->accept_encoding; i++)
        accepts[i] = has_token(q->accept_encoding, q->ae_len, enc[i][0]);
    int acc = accepts[0] | accepts[1] << 1;
    if (cache && cache->memo && cache->memo_accepts == acc && cache->memo_len == q->path_len &&
        !memcmp(cache->memo_path, q->path, q->path_len) &&
        mono_ms() - cache->memo->born_ms < CACHE_TTL_MS) {
        serve_entry(q, r, cache->memo);
        return;
    }
    char rel[4096];
    if (clean_path(q->path, q->path_len, rel, sizeof(rel)) < 0) {
        r->status = 400;
        return;
    }
    char key[4200];
    file_entry *expired = NULL;
    if (cache) {
        size_t rl = strlen(rel); /* rel\n and the two encodings taken, 0 or 1 */
        if (rl > sizeof(key) - 4) rl = sizeof(key) - 4;
        memcpy(key, rel, rl);
        key[rl] = '\n';
        key[rl + 1] = (char)('0' + accepts[0]);
        key[rl + 2] = (char)('0' + accepts[1]);
        key[rl + 3] = 0;
        file_entry *e = cache_find(cache, key, &expired);
        if (e) {
            memo_set(cache, q, acc, e);
            serve_entry(q, r, e);
            return;
        }
    }
    struct stat st;
    int fd = open_inside(root_fd, root_real, rel, &st, r->path, sizeof(r->path));
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && expired) {
        /* out of descriptors: what was read a moment ago goes out again
         * (it is looked at again on the next request) */
        serve_entry(q, r, expired);
        return;
    }
    if (fd >= 0 && S_ISDIR(st.st_mode)) {
        /* a folder: its index.html */
        close(fd);
        char idx[4200];
        snprintf(idx, sizeof(idx), "%s%sindex.html", rel, rel[0] ? "/" : "");
        if (strlen(idx) >= sizeof(rel)) {
            r->status = 404;
            return;
        }
        fd = open_inside(root_fd, root_real, idx, &st, r->path, sizeof(r->path));
        memcpy(rel, idx, strlen(idx) + 1);
    }
    if ((fd < 0 || !S_ISREG(st.st_mode)) && expired) cache_drop(cache, expired);
    if (fd < 0) {
        /* out of descriptors (or memory) is the server's trouble, not a
         * missing file: 503, try again (RFC 9110 §15.6.4) */
        r->status = errno == EACCES                                         ? 403
                    : errno == EMFILE || errno == ENFILE || errno == ENOMEM ? 503
                                                                            : 404;
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        r->status = 403;
        return;
    }
    r->type = files_mime(rel);

    /* a precompressed sibling when the client takes it and it exists */
    for (int i = 0; i < 2; i++) {
        if (!accepts[i]) continue;
        char alt[4200], real[4096];
        struct stat ast;
        snprintf(alt, sizeof(alt), "%s%s", rel, enc[i][1]);
        int afd = open_inside(root_fd, root_real, alt, &ast, real, sizeof(real));
        if (afd < 0) continue;
        if (!S_ISREG(ast.st_mode)) {
            close(afd);
            continue;
        }
        close(fd);
        fd = afd;
        st = ast;
        r->encoding = enc[i][0];
        break;
    }

    if (expired) {
        if (same_file(expired, &st, r->encoding)) {
            /* unchanged: the entry lives on, no read, no allocation */
            close(fd);
            expired->born_ms = mono_ms();
            memo_set(cache, q, acc, expired);
            serve_entry(q, r, expired);
            return;
        }
        cache_drop(cache, expired);
    }
    r->size = (uint64_t)st.st_size;
    snprintf(r->etag, sizeof(r->etag), "\"%llx-%llx%s%s\"", (unsigned long long)st.st_mtime,
             (unsigned long long)st.st_size, r->encoding ? "-" : "",
             r->encoding ? r->encoding : "");
    http_date(st.st_mtime, r->last_modified, sizeof(r->last_modified));

    file_entry *e = cache ? cache_add(cache, key, fd, &st, r) : NULL;
    if (e) {
        memo_set(cache, q, acc, e);
        close(fd);
        serve_entry(q, r, e);
        return;
    }
    conditions(q, r, st.st_mtime);
    if (r->status == 304 || r->status == 416)
        close(fd);
    else
        r->fd = fd;
}
