/* Static files: path resolution inside a root, types, validators,
 * conditional requests and ranges (RFC 9110 §8.8, §13, §14). */
#ifndef LOOM_SRC_FILES_H
#define LOOM_SRC_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

typedef struct file_entry file_entry;
typedef struct file_cache file_cache;

typedef struct {
    int status;              /* 200, 206, 301, 304, 400, 403, 404, 405, 412, 416 */
    int fd;                  /* open file for 200/206, else -1 */
    const uint8_t *data;     /* or the file in memory (a cached small file) */
    file_entry *entry;       /* ... held until files_release() */
    uint64_t offset, length; /* body range */
    uint64_t size;           /* whole file */
    const char *type;        /* content-type */
    const char *encoding;    /* "br", "gzip" or NULL */
    int vary;                /* a compressed sibling exists: Vary: accept-encoding */
    char etag[48];
    char last_modified[40];
    char content_range[64];
    char path[4096];     /* resolved path (for the access log) */
    char location[4200]; /* 301: where the folder is (its path with a slash) */
} file_reply;

typedef struct {
    const char *method;
    size_t method_len;
    const char *path;
    size_t path_len; /* as sent, with query */
    const char *if_none_match;
    size_t inm_len;
    const char *if_modified_since;
    size_t ims_len;
    const char *range;
    size_t range_len;
    const char *accept_encoding;
    size_t ae_len;
    const char *if_match;
    size_t im_len;
    const char *if_unmodified_since;
    size_t ius_len;
    const char *if_range;
    size_t ir_len;
    int site; /* the virtual host (0: the default root): part of the cache's key */
    /* files up to this size are read into the worker's cache and served
     * from memory (0: FILES_MEM_MAX); larger ones from their descriptor */
    uint64_t mem_max;
} file_request;

/* Served from memory by default: above this, sendfile() (cleartext) costs
 * less than a copy. Over TLS, where every octet is read by the cipher
 * anyway, reading it from memory saves the read() into a buffer:
 * FILES_MEM_MAX_TLS. */
#define FILES_MEM_MAX     (64u * 1024)
#define FILES_MEM_MAX_TLS (1024u * 1024)

/* How files are served (a files_conf made of it per configuration in
 * force). */
typedef struct {
    int autoindex;      /* folders without index.html are listed (HTML) */
    int allow_dotfiles; /* else a path with a segment starting with '.' gets 403 */
    int no_compress;    /* no on-the-fly gzip/brotli */
    const char **deny; /* globs: a path (from the root) or its last segment matching one gets 403 */
    size_t ndeny;
    const char **mime; /* "EXT=TYPE" overrides */
    size_t nmime;
    const char *mime_types; /* a mime.types file ("type ext ext..."), NULL for /etc/mime.types */
} files_config;

typedef struct files_conf files_conf;

/* A configuration made ready to serve with (the deny globs copied, the
 * media types read): NULL with a reason in err (a bad --mime-type, a
 * mime_types file that cannot be read). A missing /etc/mime.types is no
 * error (the built-in table serves). Called by one thread at a time; the
 * result is read-only, for any number of threads. */
files_conf *files_conf_new(const files_config *cfg, char *err, size_t errlen);
void files_conf_free(files_conf *fc);

/* root_fd: an O_PATH/O_DIRECTORY descriptor of the site root. Fills *r:
 * the body is r->fd (to close) or r->data (held by r->entry until
 * files_release()). Never follows a path out of the root (.., %2e%2e,
 * symlinks leaving the root, NUL). cache: a worker's small-file cache, or
 * NULL. */
void files_serve(const files_conf *fc, int root_fd, const char *root_real, const file_request *q,
                 file_reply *r, file_cache *cache);

/* A per-worker cache of small files (no lock: one thread uses it). */
file_cache *files_cache_new(size_t max_bytes);
void files_cache_free(file_cache *c);
void files_release(file_cache *c, file_entry *e);
/* Everything in the cache forgotten (after a reload: other roots, media
 * types or deny globs); entries still being sent are freed when they end. */
void files_cache_flush(file_cache *c);

/* The small body for an error status, and its type. */
const char *files_error_body(int status, size_t *len);

/* The current time as an IMF-fixdate for the Date field (RFC 9110 §6.6.1:
 * an origin server with a clock MUST send it in 2xx, 3xx and 4xx
 * responses), formatted at most once per second per thread; valid until
 * the thread's next call. */
const char *files_date_now(void);

/* The second files_date_now() last formatted, in this thread. */
time_t files_date_sec(void);

/* A cached file's version: unique among the entries its cache ever held
 * (0 for none). */
uint64_t files_entry_gen(const file_entry *e);

const char *files_mime(const files_conf *fc, const char *path);

#endif
