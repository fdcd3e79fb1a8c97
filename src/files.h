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
    int status;              /* 200, 206, 304, 400, 403, 404, 405, 416 */
    int fd;                  /* open file for 200/206, else -1 */
    const uint8_t *data;     /* or the file in memory (a cached small file) */
    file_entry *entry;       /* ... held until files_release() */
    uint64_t offset, length; /* body range */
    uint64_t size;           /* whole file */
    const char *type;        /* content-type */
    const char *encoding;    /* "br", "gzip" or NULL */
    char etag[48];
    char last_modified[40];
    char content_range[64];
    char path[4096]; /* resolved path (for the access log) */
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
} file_request;

/* root_fd: an O_PATH/O_DIRECTORY descriptor of the site root. Fills *r:
 * the body is r->fd (to close) or r->data (held by r->entry until
 * files_release()). Never follows a path out of the root (.., %2e%2e,
 * symlinks leaving the root, NUL). cache: a worker's small-file cache, or
 * NULL. */
void files_serve(int root_fd, const char *root_real, const file_request *q, file_reply *r,
                 file_cache *cache);

/* A per-worker cache of small files (no lock: one thread uses it). */
file_cache *files_cache_new(size_t max_bytes);
void files_cache_free(file_cache *c);
void files_release(file_cache *c, file_entry *e);

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

const char *files_mime(const char *path);

#endif
