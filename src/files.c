/* Static files for loom serve. */
#define _GNU_SOURCE
#include "files.h"

#include "compress.h"
#include "sbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
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

/* ---- configuration: one files_conf per configuration in force (a
 * reload makes a new one; requests read theirs, never a global) ---- */

static char boundary[40] = "loom-byteranges"; /* random once configured */
static char multipart_type[80] = "multipart/byteranges; boundary=loom-byteranges";

/* media types by extension: the --mime-type overrides, then the table
 * above (UTF-8 text), then the system's mime.types */
#define MT_SLOTS 8192
struct files_conf {
    files_config cfg; /* its deny globs: the copies below */
    char **deny;
    struct {
        char *ext;
        const char *type; /* interned: lives as long as the process */
    } mt[MT_SLOTS];
    size_t mt_n;
};

static uint64_t ext_hash(const char *e, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)(e[i] >= 'A' && e[i] <= 'Z' ? e[i] + 32 : e[i])) * 1099511628211ull;
    return h;
}

/* Media type strings, one copy each for the process: a response, or a
 * cached file, may still point at one after the configuration that named
 * it was replaced. Bounded (a new one past the bound is not taken). Only
 * files_conf_new() adds to it (one thread at a time). */
#define TYPE_SLOTS 4096
static char *types[TYPE_SLOTS];
static size_t ntypes;

static const char *intern_type(const char *t, size_t n)
{
    const char *found = NULL;
    size_t i = ext_hash(t, n) & (TYPE_SLOTS - 1);
    for (; types[i]; i = (i + 1) & (TYPE_SLOTS - 1))
        if (strlen(types[i]) == n && !memcmp(types[i], t, n)) break;
    if (types[i])
        found = types[i];
    else if (ntypes < TYPE_SLOTS / 2 && (types[i] = strndup(t, n)))
        found = types[i], ntypes++;
    return found;
}

/* first one in wins */
static void mt_put(files_conf *fc, const char *ext, size_t el, const char *type, size_t tl)
{
    if (el == 0 || tl == 0 || fc->mt_n >= MT_SLOTS / 2) return;
    size_t i = ext_hash(ext, el) & (MT_SLOTS - 1);
    for (; fc->mt[i].ext; i = (i + 1) & (MT_SLOTS - 1))
        if (strlen(fc->mt[i].ext) == el && !strncasecmp(fc->mt[i].ext, ext, el)) return;
    const char *t = intern_type(type, tl);
    if (!t || !(fc->mt[i].ext = strndup(ext, el))) return;
    fc->mt[i].type = t;
    fc->mt_n++;
}

static const char *mt_get(const files_conf *fc, const char *ext)
{
    if (!fc || !fc->mt_n) return NULL;
    size_t el = strlen(ext);
    for (size_t i = ext_hash(ext, el) & (MT_SLOTS - 1); fc->mt[i].ext; i = (i + 1) & (MT_SLOTS - 1))
        if (!strcasecmp(fc->mt[i].ext, ext)) return fc->mt[i].type;
    return NULL;
}

void files_conf_free(files_conf *fc)
{
    if (!fc) return;
    for (size_t i = 0; i < MT_SLOTS; i++)
        free(fc->mt[i].ext);
    for (size_t i = 0; i < fc->cfg.ndeny; i++)
        free(fc->deny[i]);
    free(fc->deny);
    free(fc);
}

files_conf *files_conf_new(const files_config *cfg, char *err, size_t errlen)
{
    /* the multipart/byteranges boundary: random per process (made with
     * the first configuration, before any worker runs), so that no file
     * can be made to contain it */
    static int have_boundary;
    if (!have_boundary) {
        uint64_t rnd[2] = {0, 0};
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            rnd[0] = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
        snprintf(boundary, sizeof(boundary), "loom-%016llx%016llx", (unsigned long long)rnd[0],
                 (unsigned long long)rnd[1]);
        snprintf(multipart_type, sizeof(multipart_type), "multipart/byteranges; boundary=%s",
                 boundary);
        have_boundary = 1;
    }
    files_conf *fc = calloc(1, sizeof(*fc));
    if (!fc || !(fc->deny = calloc(cfg->ndeny + 1, sizeof(*fc->deny)))) {
        free(fc);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    fc->cfg = *cfg;
    fc->cfg.ndeny = 0;
    for (size_t i = 0; i < cfg->ndeny; i++) {
        if (!(fc->deny[i] = strdup(cfg->deny[i]))) {
            files_conf_free(fc);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        fc->cfg.ndeny++;
    }
    fc->cfg.deny = (const char **)fc->deny;
    fc->cfg.mime = NULL; /* read here, not kept */
    fc->cfg.nmime = 0;
    fc->cfg.mime_types = NULL;
    for (size_t k = 0; k < cfg->nmime; k++) {
        const char *m = cfg->mime[k], *eq = strchr(m, '=');
        const char *ext = m;
        if (ext[0] == '.') ext++;
        if (!eq || eq == ext || !eq[1] || !strchr(eq + 1, '/') ||
            memchr(ext, '/', (size_t)(eq - ext))) {
            snprintf(err, errlen, "--mime-type needs EXT=TYPE (e.g. md=text/markdown), not '%s'",
                     m);
            files_conf_free(fc);
            return NULL;
        }
        mt_put(fc, ext, (size_t)(eq - ext), eq + 1, strlen(eq + 1));
    }
    for (size_t i = 0; i < sizeof(mime) / sizeof(mime[0]); i++)
        mt_put(fc, mime[i].ext, strlen(mime[i].ext), mime[i].type, strlen(mime[i].type));
    FILE *f = fopen(cfg->mime_types ? cfg->mime_types : "/etc/mime.types", "r");
    if (!f) {
        if (cfg->mime_types) {
            snprintf(err, errlen, "cannot read %s: %s", cfg->mime_types, strerror(errno));
            files_conf_free(fc);
            return NULL;
        }
        return fc; /* the built-in table serves */
    }
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        char *save, *type = strtok_r(line, " \t\r\n", &save);
        if (!type || type[0] == '#' || !strchr(type, '/')) continue;
        for (char *e = strtok_r(NULL, " \t\r\n", &save); e; e = strtok_r(NULL, " \t\r\n", &save))
            mt_put(fc, e, strlen(e), type, strlen(type));
    }
    fclose(f);
    return fc;
}

const char *files_mime(const files_conf *fc, const char *path)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return "application/octet-stream";
    const char *t = mt_get(fc, dot + 1);
    if (t) return t;
    for (size_t i = 0; i < sizeof(mime) / sizeof(mime[0]); i++) /* not configured (tests) */
        if (!strcasecmp(dot + 1, mime[i].ext)) return mime[i].type;
    return "application/octet-stream";
}

/* A path (from the root, cleaned) that is not served: a segment starting
 * with '.' (dotfiles such as .git/ and .env; .well-known stays served), or
 * a --deny glob matching the path or its last segment. */
static int denied(const files_config *fcfg, const char *rel)
{
    if (!fcfg->allow_dotfiles)
        for (const char *s = rel; *s; s = strchr(s, '/') ? strchr(s, '/') + 1 : s + strlen(s))
            if (s[0] == '.' &&
                !(strncmp(s, ".well-known", 11) == 0 && (s[11] == 0 || s[11] == '/')))
                return 1;
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    for (size_t i = 0; i < fcfg->ndeny; i++)
        if (fnmatch(fcfg->deny[i], rel, 0) == 0 || fnmatch(fcfg->deny[i], base, 0) == 0) return 1;
    return 0;
}

const char *files_error_body(int status, size_t *len)
{
    const char *s;
    switch (status) {
    case 301: s = "301 Moved Permanently\n"; break;
    case 400: s = "400 Bad Request\n"; break;
    case 403: s = "403 Forbidden\n"; break;
    case 404: s = "404 Not Found\n"; break;
    case 405: s = "405 Method Not Allowed\n"; break;
    case 408: s = "408 Request Timeout\n"; break;
    case 413: s = "413 Content Too Large\n"; break;
    case 412: s = "412 Precondition Failed\n"; break;
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

/* The content codings a client takes, best first (RFC 9110 §12.5.3):
 * "br" and "gzip" by their q-values (a name not listed takes "*"'s; q=0
 * refuses; equal q: brotli first). pref[] gets indexes into enc[] (0 br,
 * 1 gzip), -1 after the last. */
static const char *const enc[][2] = {{"br", ".br"}, {"gzip", ".gz"}};

static int qvalue(const char *p, const char *end)
{
    /* ";q=0.5" and the like, after a coding's name; 1000 without one */
    while (p < end && *p != ',') {
        if (*p == ';') {
            p++;
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
                p += 2;
                int v = 0, scale = 1000, dot = 0;
                for (; p < end && ((*p >= '0' && *p <= '9') || *p == '.'); p++) {
                    if (*p == '.') {
                        dot = 1;
                        continue;
                    }
                    if (!dot) { /* "1" or "0" in a valid one; more digits: stays over 1000 */
                        if (v <= 1000) v = v * 10 + (*p - '0') * 1000;
                    } else if (scale > 1) {
                        scale /= 10;
                        v += (*p - '0') * scale;
                    }
                }
                return v > 1000 ? 1000 : v;
            }
        }
        p++;
    }
    return 1000;
}

static void ae_prefs(const char *list, size_t n, int pref[2])
{
    int q[2] = {-1, -1}, star = -1;
    const char *p = list, *end = list ? list + n : NULL;
    while (p && p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *name = p;
        while (p < end && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t nl = (size_t)(p - name);
        int v = qvalue(p, end);
        if (nl == 2 && !strncasecmp(name, "br", 2))
            q[0] = v;
        else if (nl == 4 && !strncasecmp(name, "gzip", 4))
            q[1] = v;
        else if (nl == 6 && !strncasecmp(name, "x-gzip", 6) && q[1] < 0)
            q[1] = v;
        else if (nl == 1 && name[0] == '*')
            star = v;
        while (p < end && *p != ',')
            p++;
    }
    for (int i = 0; i < 2; i++)
        if (q[i] < 0) q[i] = star > 0 ? star : 0;
    int k = 0;
    if (q[0] > 0 && q[0] >= q[1]) pref[k++] = 0;
    if (q[1] > 0) pref[k++] = 1;
    if (q[0] > 0 && q[0] < q[1]) pref[k++] = 0;
    while (k < 2)
        pref[k++] = -1;
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

/* RFC 9110 §14.1.2: "bytes=" and ranges "a-b", "a-" or "-n" separated by
 * commas. At most MAX_RANGES (more, or a syntax error: the Range field is
 * ignored and the whole representation goes, as §14.2 allows);
 * unsatisfiable ones are dropped. */
#define MAX_RANGES 16

typedef struct {
    int n; /* satisfiable ranges; -1: none satisfiable (416); 0: Range ignored */
    uint64_t off[MAX_RANGES], len[MAX_RANGES];
} range_set;

static void parse_ranges(const char *v, size_t n, uint64_t size, range_set *rs)
{
    rs->n = 0;
    char buf[512];
    if (n >= sizeof(buf) || n < 7 || strncmp(v, "bytes=", 6) != 0) return;
    memcpy(buf, v + 6, n - 6);
    buf[n - 6] = 0;
    int got = 0, seen = 0;
    char *save;
    for (char *r = strtok_r(buf, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
        while (*r == ' ' || *r == '\t')
            r++;
        size_t rl = strlen(r);
        while (rl && (r[rl - 1] == ' ' || r[rl - 1] == '\t'))
            r[--rl] = 0;
        char *dash = strchr(r, '-'), *end;
        if (!dash || ++seen > MAX_RANGES) return;
        *dash = 0;
        uint64_t a, len;
        if (r[0] == 0) { /* the last n octets */
            if (!dash[1] || dash[1] < '0' || dash[1] > '9') return;
            unsigned long long suffix = strtoull(dash + 1, &end, 10);
            if (*end) return;
            if (suffix == 0 || size == 0) continue; /* unsatisfiable */
            if (suffix > size) suffix = size;
            a = size - suffix;
            len = suffix;
        } else {
            if (r[0] < '0' || r[0] > '9') return;
            a = strtoull(r, &end, 10);
            if (*end) return;
            uint64_t b = size ? size - 1 : 0;
            if (dash[1]) {
                if (dash[1] < '0' || dash[1] > '9') return;
                b = strtoull(dash + 1, &end, 10);
                if (*end || b < a) return;
                if (b >= size) b = size - 1;
            }
            if (a >= size) continue; /* unsatisfiable */
            len = b - a + 1;
        }
        rs->off[got] = a;
        rs->len[got] = len;
        got++;
    }
    rs->n = got ? got : seen ? -1 : 0;
}

/* One entity tag of a list (RFC 9110 §8.8.3) against ours: strong
 * comparison (both strong, the same), or weak (the same but for W/). */
static int etag_listed(const char *list, size_t n, const char *etag, int strong)
{
    if (!list) return 0;
    size_t el = strlen(etag);
    size_t i = 0;
    while (i < n) {
        while (i < n && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
            i++;
        if (i < n && list[i] == '*') return 1;
        int weak = 0;
        if (i + 1 < n && list[i] == 'W' && list[i + 1] == '/') {
            weak = 1;
            i += 2;
        }
        size_t start = i;
        if (i < n && list[i] == '"') {
            i++;
            while (i < n && list[i] != '"')
                i++;
            if (i < n) i++;
        } else {
            while (i < n && list[i] != ',')
                i++;
        }
        if (i - start == el && !memcmp(list + start, etag, el) && !(strong && weak)) return 1;
    }
    return 0;
}

/* An HTTP-date (IMF-fixdate; the obsolete forms are not taken), or -1. */
static time_t parse_date(const char *v, size_t n)
{
    char d[64];
    if (!v || n >= sizeof(d)) return -1;
    memcpy(d, v, n);
    d[n] = 0;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(d, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return end && !*end ? timegm(&tm) : -1;
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

/* RFC 9110 §13.2.2: the preconditions in their order, then §14 ranges,
 * from the representation's validators. Sets the status (200, 206, 304,
 * 412 or 416) and, for several ranges, *rs (the caller makes the
 * multipart/byteranges body). */
static void conditions(const file_request *q, file_reply *r, time_t mtime, range_set *rs)
{
    rs->n = 0;
    time_t t;
    if (q->if_match) { /* §13.1.1: strong comparison; "*": it exists */
        if (!etag_listed(q->if_match, q->im_len, r->etag, 1)) {
            r->status = 412;
            return;
        }
    } else if ((t = parse_date(q->if_unmodified_since, q->ius_len)) >= 0 && mtime > t) {
        r->status = 412; /* §13.1.4 */
        return;
    }
    if (q->if_none_match) { /* §13.1.2: weak comparison; wins over If-Modified-Since */
        if (etag_listed(q->if_none_match, q->inm_len, r->etag, 0)) {
            r->status = 304;
            return;
        }
    } else if ((t = parse_date(q->if_modified_since, q->ims_len)) >= 0 && mtime <= t) {
        r->status = 304; /* §13.1.3 */
        return;
    }
    r->status = 200;
    r->offset = 0;
    r->length = r->size;
    int get = q->method_len == 3 && !memcmp(q->method, "GET", 3);
    if (!q->range || !get) return; /* §14.2: ranges are for GET */
    /* §13.1.5: If-Range: the range only if the representation is the one
     * the client has (strong entity tag, or exactly its Last-Modified);
     * else the whole of it */
    if (q->if_range) {
        int ok =
            q->ir_len && q->if_range[0] == '"'
                ? etag_listed(q->if_range, q->ir_len, r->etag, 1) && q->ir_len == strlen(r->etag)
                : (t = parse_date(q->if_range, q->ir_len)) >= 0 && t == mtime;
        if (!ok) return;
    }
    parse_ranges(q->range, q->range_len, r->size, rs);
    if (rs->n < 0) {
        r->status = 416;
        snprintf(r->content_range, sizeof(r->content_range), "bytes */%llu",
                 (unsigned long long)r->size);
    } else if (rs->n >= 1) {
        r->status = 206;
        r->offset = rs->off[0];
        r->length = rs->len[0];
        snprintf(r->content_range, sizeof(r->content_range), "bytes %llu-%llu/%llu",
                 (unsigned long long)r->offset, (unsigned long long)(r->offset + r->length - 1),
                 (unsigned long long)r->size);
    }
}

/* ---- bodies made here (a folder's listing, several ranges: sbuf.h) ---- */

/* Several ranges: multipart/byteranges (RFC 9110 §14.6), made from the
 * file in memory or fd, at most MULTIPART_MAX octets of ranges (more: the
 * whole representation, 200, as §14.2 allows). */
#define MULTIPART_MAX (16u << 20)

static void multipart(file_reply *r, const range_set *rs, const uint8_t *mem, int fd)
{
    uint64_t total = 0;
    for (int i = 0; i < rs->n; i++)
        total += rs->len[i];
    if (total > MULTIPART_MAX) {
        r->status = 200;
        r->offset = 0;
        r->length = r->size;
        r->content_range[0] = 0;
        return;
    }
    sbuf b = {0};
    char chunk[65536];
    for (int i = 0; i < rs->n && !b.failed; i++) {
        sb_printf(&b, "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
                  boundary, r->type, (unsigned long long)rs->off[i],
                  (unsigned long long)(rs->off[i] + rs->len[i] - 1), (unsigned long long)r->size);
        if (mem) {
            sb_put(&b, mem + rs->off[i], (size_t)rs->len[i]);
            continue;
        }
        for (uint64_t done = 0; done < rs->len[i] && !b.failed;) {
            size_t want =
                rs->len[i] - done < sizeof(chunk) ? (size_t)(rs->len[i] - done) : sizeof(chunk);
            ssize_t k = pread(fd, chunk, want, (off_t)(rs->off[i] + done));
            if (k <= 0) {
                b.failed = 1;
                break;
            }
            sb_put(&b, chunk, (size_t)k);
            done += (uint64_t)k;
        }
    }
    sb_printf(&b, "\r\n--%s--\r\n", boundary);
    size_t len = b.len;
    int out = sb_file(&b);
    if (out < 0) {
        r->status = 503; /* no memory: try again */
        return;
    }
    r->fd = out;
    r->data = NULL;
    r->offset = 0;
    r->length = len;
    r->type = multipart_type;
    r->content_range[0] = 0;
}

/* ---- the small-file cache ----
 * Per worker (no lock): files up to the request's mem_max are read once and
 * served from memory for CACHE_TTL_MS, so a small response costs no open,
 * stat, readlink or read. An entry in use by a response stays alive after
 * it expires (reference count) and is freed when the last one ends. */

#define CACHE_TTL_MS  1000u
#define CACHE_BUCKETS 512u

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
    int vary;          /* a compressed variant exists (sibling, or made here) */
    uint64_t src_size; /* the file's size (size is the data's: compressed here, less) */
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
    return e->ino == st->st_ino && e->dev == st->st_dev && e->src_size == (uint64_t)st->st_size &&
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

void files_cache_flush(file_cache *c)
{
    if (!c) return;
    c->memo = NULL;
    for (size_t i = 0; i < CACHE_BUCKETS; i++) {
        for (file_entry *e = c->b[i], *next; e; e = next) {
            next = e->next;
            if (e->refs)
                e->stale = 1; /* freed by its last release */
            else
                entry_free(c, e);
        }
        c->b[i] = NULL;
    }
}

void files_cache_free(file_cache *c)
{
    files_cache_flush(c);
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

/* A new entry holding data[0..size) (taken: freed with the entry) for the
 * file st, described by r; NULL (data freed) when the cache is full. */
static file_entry *cache_insert(file_cache *c, const char *key, const struct stat *st,
                                const file_reply *r, uint8_t *data, size_t size)
{
    file_entry *e = c->bytes + size <= c->max ? calloc(1, sizeof(*e)) : NULL;
    if (e) e->key = strdup(key);
    if (!e || !e->key) {
        free(e);
        free(data);
        return NULL;
    }
    e->data = data;
    e->hash = key_hash(key);
    e->gen = ++c->next_gen;
    e->born_ms = mono_ms();
    e->size = size;
    e->src_size = (uint64_t)st->st_size;
    e->mtim = st->st_mtim;
    e->ctim = st->st_ctim;
    e->ino = st->st_ino;
    e->dev = st->st_dev;
    e->type = r->type;
    e->encoding = r->encoding;
    e->vary = r->vary;
    memcpy(e->etag, r->etag, sizeof(e->etag));
    memcpy(e->last_modified, r->last_modified, sizeof(e->last_modified));
    e->next = c->b[e->hash % CACHE_BUCKETS];
    c->b[e->hash % CACHE_BUCKETS] = e;
    c->bytes += size;
    return e;
}

/* The whole file (size bytes) read into a new buffer; NULL on failure. */
static uint8_t *read_all(int fd, size_t size)
{
    uint8_t *data = malloc(size ? size : 1);
    size_t got = 0;
    while (data && got < size) {
        ssize_t n = pread(fd, data + got, size - got, (off_t)got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    if (data && got != size) {
        free(data);
        data = NULL;
    }
    return data;
}

/* Reads a small regular file into a new entry (fd stays open). */
static file_entry *cache_add(file_cache *c, const char *key, int fd, const struct stat *st,
                             const file_reply *r, uint64_t mem_max)
{
    size_t size = (size_t)st->st_size;
    if (size > (mem_max ? mem_max : FILES_MEM_MAX) || c->bytes + size > c->max) return NULL;
    uint8_t *data = read_all(fd, size);
    return data ? cache_insert(c, key, st, r, data, size) : NULL;
}

static void serve_entry(const file_request *q, file_reply *r, file_entry *e)
{
    r->type = e->type;
    r->encoding = e->encoding;
    r->vary = e->vary;
    r->size = e->size;
    memcpy(r->etag, e->etag, sizeof(r->etag));
    memcpy(r->last_modified, e->last_modified, sizeof(r->last_modified));
    range_set rs;
    conditions(q, r, e->mtim.tv_sec, &rs);
    if (r->status == 206 && rs.n > 1) {
        multipart(r, &rs, e->data, -1);
        if (r->fd >= 0 || r->status != 200) return;
    }
    if (r->status == 200 || r->status == 206) {
        r->data = e->data;
        r->entry = e;
        e->refs++;
    }
}

/* ---- on-the-fly Content-Encoding ----
 * A compressible file of COMPRESS_MIN to COMPRESS_SRC_MAX octets with no
 * precompressed sibling is compressed for a client that takes br or gzip,
 * once per worker: the result lives in the worker's cache (counted in its
 * bound; revalidated like any entry, so an unchanged file is not
 * compressed again). */
#define COMPRESS_MIN     256u       /* below, the framing eats the gain */
#define COMPRESS_SRC_MAX (2u << 20) /* larger: precompress it (a .br/.gz sibling) */

/* Serves the file compressed with `encoding` into r: 1, or 0 when it is
 * not (no memory, no gain, the cache full): the identity goes then.
 * *expired: the entry that expired for this key (taken). */
static int compressed(file_cache *c, const file_request *q, const char *key, int fd,
                      const struct stat *st, file_reply *r, const char *encoding,
                      file_entry **expired)
{
    if (*expired && same_file(*expired, st, encoding)) {
        (*expired)->born_ms = mono_ms(); /* unchanged: not compressed again */
        serve_entry(q, r, *expired);
        *expired = NULL;
        return 1;
    }
    size_t n = (size_t)st->st_size, len = 0;
    uint8_t *src = read_all(fd, n);
    uint8_t *out = src ? compress_body(encoding, src, n, &len) : NULL;
    free(src);
    if (!out) return 0;
    if (*expired) cache_drop(c, *expired);
    *expired = NULL;
    r->encoding = encoding;
    snprintf(r->etag, sizeof(r->etag), "\"%llx-%llx-%s\"", (unsigned long long)st->st_mtime,
             (unsigned long long)st->st_size, encoding);
    http_date(st->st_mtime, r->last_modified, sizeof(r->last_modified));
    file_entry *e = cache_insert(c, key, st, r, out, len);
    if (!e) {
        r->encoding = NULL;
        return 0;
    }
    serve_entry(q, r, e);
    return 1;
}

/* ---- --autoindex: a folder's listing ---- */

#define LISTING_MAX 10000 /* entries listed, at most (the rest is said to be left out) */

typedef struct {
    char *name;
    int dir;
    uint64_t size;
    time_t mtime;
} dent;

static int dent_cmp(const void *a, const void *b)
{
    const dent *x = a, *y = b;
    if (x->dir != y->dir) return y->dir - x->dir; /* folders first */
    return strcmp(x->name, y->name);
}

static void html_escaped(sbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': sb_put(b, "&amp;", 5); break;
        case '<': sb_put(b, "&lt;", 4); break;
        case '>': sb_put(b, "&gt;", 4); break;
        case '"': sb_put(b, "&quot;", 6); break;
        case '\'': sb_put(b, "&#39;", 5); break;
        default: sb_put(b, s, 1);
        }
    }
}

/* A path segment for an href: unreserved octets as they are, the rest
 * percent-encoded (RFC 3986 §2.3). */
static void url_escaped(sbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const uint8_t *p = (const uint8_t *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            sb_put(b, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            sb_put(b, e, 3);
        }
    }
}

static void human_size(char *out, size_t cap, uint64_t n)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, cap, "%llu B", (unsigned long long)n);
    else
        snprintf(out, cap, "%.1f %s", v, unit[u]);
}

/* The listing of the folder dfd (rel from the root): names sorted,
 * folders first, escaped, with sizes and modification dates; what is not
 * served (dotfiles, --deny) is not listed. */
static void listing(const files_config *fcfg, int dfd, const char *rel, file_reply *r)
{
    int fd2 = dup(dfd);
    DIR *d = fd2 >= 0 ? fdopendir(fd2) : NULL;
    if (!d) {
        if (fd2 >= 0) close(fd2);
        r->status = errno == EMFILE || errno == ENFILE || errno == ENOMEM ? 503 : 403;
        return;
    }
    dent *list = NULL;
    size_t n = 0, cap = 0, left_out = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char sub[4400];
        snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
        if (denied(fcfg, sub)) continue;
        if (n == LISTING_MAX) {
            left_out++;
            continue;
        }
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, 0) < 0) continue; /* a dangling link */
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            dent *q = realloc(list, nc * sizeof(*q));
            if (!q) break;
            list = q;
            cap = nc;
        }
        list[n].name = strdup(de->d_name);
        if (!list[n].name) break;
        list[n].dir = S_ISDIR(st.st_mode);
        list[n].size = (uint64_t)st.st_size;
        list[n].mtime = st.st_mtime;
        n++;
    }
    closedir(d);
    if (n) qsort(list, n, sizeof(*list), dent_cmp); /* (an empty folder: no list at all) */
    sbuf b = {0};
    char shown[4200];
    snprintf(shown, sizeof(shown), "/%s%s", rel, rel[0] ? "/" : "");
    sb_printf(&b, "<!doctype html>\n<html><head><meta charset=utf-8>\n<title>Index of ");
    html_escaped(&b, shown);
    sb_printf(&b, "</title>\n<style>body{font-family:system-ui,sans-serif;margin:2em}"
                  "td{padding:.15em 1.5em .15em 0}td.n{text-align:right}"
                  "th{text-align:left}</style></head>\n<body><h1>Index of ");
    html_escaped(&b, shown);
    sb_printf(&b, "</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr>\n");
    if (rel[0]) sb_printf(&b, "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    for (size_t i = 0; i < n; i++) {
        char size[32] = "", when[32];
        if (!list[i].dir) human_size(size, sizeof(size), list[i].size);
        struct tm tm;
        gmtime_r(&list[i].mtime, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
        sb_printf(&b, "<tr><td><a href=\"");
        url_escaped(&b, list[i].name);
        sb_printf(&b, "%s\">", list[i].dir ? "/" : "");
        html_escaped(&b, list[i].name);
        sb_printf(&b, "%s</a></td><td class=n>%s</td><td>%s</td></tr>\n", list[i].dir ? "/" : "",
                  size, when);
        free(list[i].name);
    }
    free(list);
    sb_printf(&b, "</table>\n");
    if (left_out) sb_printf(&b, "<p>%zu more entries not listed.</p>\n", left_out);
    sb_printf(&b, "</body></html>\n");
    size_t len = b.len;
    int fd = sb_file(&b);
    if (fd < 0) {
        r->status = 503;
        return;
    }
    r->status = 200;
    r->fd = fd;
    r->offset = 0;
    r->length = r->size = len;
    r->type = "text/html; charset=utf-8";
}

void files_serve(const files_conf *fc, int root_fd, const char *root_real, const file_request *q,
                 file_reply *r, file_cache *cache)
{
    const files_config *fcfg = &fc->cfg;
    memset(r, 0, offsetof(file_reply, path)); /* not the 4 KiB path: a third of this call */
    r->path[0] = 0;
    r->fd = -1;
    r->type = "text/plain; charset=utf-8";
    int head = q->method_len == 4 && !memcmp(q->method, "HEAD", 4);
    if (!head && !(q->method_len == 3 && !memcmp(q->method, "GET", 3))) {
        r->status = 405;
        return;
    }
    /* the content codings the client takes, best first */
    int pref[2];
    ae_prefs(q->accept_encoding, q->accept_encoding ? q->ae_len : 0, pref);
    /* the memo's key: the codings taken and the virtual host */
    int acc = (pref[0] + 1) | (pref[1] + 1) << 2 | q->site << 4;
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
    if (denied(fcfg, rel)) { /* dotfiles, --deny */
        r->status = 403;
        return;
    }
    /* the path's end (before the query): whether it names a folder */
    size_t plen = 0;
    while (plen < q->path_len && q->path[plen] != '?' && q->path[plen] != '#')
        plen++;
    int slash = plen && q->path[plen - 1] == '/';
    char key[4200];
    file_entry *expired = NULL;
    if (cache) {
        /* rel, '/' when the path asked for a folder, '\n' and the codings
         * taken in their order */
        size_t rl = strlen(rel);
        if (rl > sizeof(key) - 6) rl = sizeof(key) - 6;
        memcpy(key, rel, rl);
        if (slash) key[rl++] = '/';
        key[rl] = '\n';
        key[rl + 1] = (char)('0' + pref[0] + 1);
        key[rl + 2] = (char)('0' + pref[1] + 1);
        key[rl + 3] = (char)('@' + (q->site & 63)); /* the virtual host */
        key[rl + 4] = 0;
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
        if (!slash) {
            /* a folder's URL ends in '/', so that the relative links of
             * its page resolve inside it: 301 there (RFC 9110 §15.4.2) */
            close(fd);
            if (expired) cache_drop(cache, expired);
            r->status = 301;
            snprintf(r->location, sizeof(r->location), "%.*s/%.*s", (int)plen, q->path,
                     (int)(q->path_len - plen), q->path + plen);
            return;
        }
        /* its index.html, or (--autoindex) a listing */
        char idx[4200];
        snprintf(idx, sizeof(idx), "%s%sindex.html", rel, rel[0] ? "/" : "");
        if (strlen(idx) >= sizeof(rel)) {
            close(fd);
            r->status = 404;
            return;
        }
        int dfd = fd;
        fd = open_inside(root_fd, root_real, idx, &st, r->path, sizeof(r->path));
        if (fd < 0 && errno == ENOENT && fcfg->autoindex) {
            if (expired) cache_drop(cache, expired);
            listing(fcfg, dfd, rel, r);
            close(dfd);
            return;
        }
        close(dfd);
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
    r->type = files_mime(fc, rel);

    /* a precompressed sibling when the client takes it and it exists; the
     * response varies by Accept-Encoding whenever one exists */
    for (int i = 0; i < 2 && !r->vary; i++) {
        char alt[4200];
        struct stat ast;
        snprintf(alt, sizeof(alt), "%s%s", rel, enc[i][1]);
        r->vary = fstatat(root_fd, alt, &ast, 0) == 0 && S_ISREG(ast.st_mode);
    }
    for (int k = 0; k < 2 && r->vary && pref[k] >= 0; k++) {
        int i = pref[k];
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
    /* none: compressed here, when worth it (and kept in the cache) */
    int fly = !r->vary && cache && !fcfg->no_compress && compress_type(r->type) &&
              (uint64_t)st.st_size >= COMPRESS_MIN && (uint64_t)st.st_size <= COMPRESS_SRC_MAX;
    if (fly) {
        r->vary = 1;
        if (pref[0] >= 0 && compressed(cache, q, key, fd, &st, r, enc[pref[0]][0], &expired)) {
            close(fd);
            if (r->entry) memo_set(cache, q, acc, r->entry);
            return;
        }
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

    file_entry *e = cache ? cache_add(cache, key, fd, &st, r, q->mem_max) : NULL;
    if (e) {
        memo_set(cache, q, acc, e);
        close(fd);
        serve_entry(q, r, e);
        return;
    }
    range_set rs;
    conditions(q, r, st.st_mtime, &rs);
    if (r->status == 206 && rs.n > 1) {
        multipart(r, &rs, NULL, fd);
        if (r->status != 200) {
            close(fd);
            return;
        }
    }
    if (r->status == 200 || r->status == 206)
        r->fd = fd;
    else
        close(fd);
}
