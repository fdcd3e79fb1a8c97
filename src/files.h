/* Static files: path resolution inside a root, types, validators,
 * conditional requests and ranges (RFC 9110 §8.8, §13, §14). */
#ifndef LOOM_SRC_FILES_H
#define LOOM_SRC_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    int status;              /* 200, 206, 304, 400, 403, 404, 405, 416 */
    int fd;                  /* open file for 200/206, else -1 */
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

/* root_fd: an O_PATH/O_DIRECTORY descriptor of the site root. Fills *r;
 * r->fd must be closed by the caller when >= 0. Never follows a path out of
 * the root (.., %2e%2e, symlinks leaving the root, NUL). */
void files_serve(int root_fd, const char *root_real, const file_request *q, file_reply *r);

/* The small body for an error status, and its type. */
const char *files_error_body(int status, size_t *len);

const char *files_mime(const char *path);

#endif
