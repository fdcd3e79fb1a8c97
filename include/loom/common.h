/* loom: what every part shares: version, error codes, the allocator.
 * Include <loom/loom.h> for everything. */
#ifndef LOOM_COMMON_H
#define LOOM_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOOM_VERSION_MAJOR  0
#define LOOM_VERSION_MINOR  1
#define LOOM_VERSION_PATCH  0
#define LOOM_VERSION_STRING "0.1.0"

/* The library version at run time (may differ from LOOM_VERSION_STRING when
 * linked against a shared library of another release). */
const char *loom_version(void);

/* RFC 9113 §7 error codes, as sent on the wire in RST_STREAM and GOAWAY. */
typedef enum {
    LOOM_H2_NO_ERROR = 0x0,
    LOOM_H2_PROTOCOL_ERROR = 0x1,
    LOOM_H2_INTERNAL_ERROR = 0x2,
    LOOM_H2_FLOW_CONTROL_ERROR = 0x3,
    LOOM_H2_SETTINGS_TIMEOUT = 0x4,
    LOOM_H2_STREAM_CLOSED = 0x5,
    LOOM_H2_FRAME_SIZE_ERROR = 0x6,
    LOOM_H2_REFUSED_STREAM = 0x7,
    LOOM_H2_CANCEL = 0x8,
    LOOM_H2_COMPRESSION_ERROR = 0x9,
    LOOM_H2_CONNECT_ERROR = 0xa,
    LOOM_H2_ENHANCE_YOUR_CALM = 0xb,
    LOOM_H2_INADEQUATE_SECURITY = 0xc,
    LOOM_H2_HTTP_1_1_REQUIRED = 0xd,
} loom_h2_code;

/* Library errors: 0 is success, every failure is negative.
 *
 * The protocol errors are laid out so that LOOM_ERR_H2_BASE - err is the
 * RFC 9113 code: loom_err_h2_code() maps one to the other. */
typedef enum {
    LOOM_OK = 0,
    LOOM_ERR_NOMEM = -1,      /* the allocator said no */
    LOOM_ERR_INVALID = -2,    /* a caller passed an argument out of range */
    LOOM_ERR_BUFFER = -3,     /* the output buffer is too small */
    LOOM_ERR_INCOMPLETE = -4, /* the input ended inside an item */
    LOOM_ERR_LIMIT = -5,      /* a configured bound was reached */
    LOOM_ERR_STATE = -6,      /* the call is not allowed in the current state */

    LOOM_ERR_H2_BASE = -100,
    LOOM_ERR_PROTOCOL = LOOM_ERR_H2_BASE - LOOM_H2_PROTOCOL_ERROR,
    LOOM_ERR_INTERNAL = LOOM_ERR_H2_BASE - LOOM_H2_INTERNAL_ERROR,
    LOOM_ERR_FLOW_CONTROL = LOOM_ERR_H2_BASE - LOOM_H2_FLOW_CONTROL_ERROR,
    LOOM_ERR_SETTINGS_TIMEOUT = LOOM_ERR_H2_BASE - LOOM_H2_SETTINGS_TIMEOUT,
    LOOM_ERR_STREAM_CLOSED = LOOM_ERR_H2_BASE - LOOM_H2_STREAM_CLOSED,
    LOOM_ERR_FRAME_SIZE = LOOM_ERR_H2_BASE - LOOM_H2_FRAME_SIZE_ERROR,
    LOOM_ERR_REFUSED_STREAM = LOOM_ERR_H2_BASE - LOOM_H2_REFUSED_STREAM,
    LOOM_ERR_CANCEL = LOOM_ERR_H2_BASE - LOOM_H2_CANCEL,
    LOOM_ERR_COMPRESSION = LOOM_ERR_H2_BASE - LOOM_H2_COMPRESSION_ERROR,
    LOOM_ERR_CONNECT = LOOM_ERR_H2_BASE - LOOM_H2_CONNECT_ERROR,
    LOOM_ERR_ENHANCE_YOUR_CALM = LOOM_ERR_H2_BASE - LOOM_H2_ENHANCE_YOUR_CALM,
    LOOM_ERR_INADEQUATE_SECURITY = LOOM_ERR_H2_BASE - LOOM_H2_INADEQUATE_SECURITY,
    LOOM_ERR_HTTP_1_1_REQUIRED = LOOM_ERR_H2_BASE - LOOM_H2_HTTP_1_1_REQUIRED,
} loom_err;

/* A short English description of a loom_err (never NULL). */
const char *loom_strerror(int err);

/* The RFC 9113 error code an error is sent as: the code itself for protocol
 * errors, INTERNAL_ERROR for everything else. */
uint32_t loom_err_h2_code(int err);

/* The name of an RFC 9113 error code ("PROTOCOL_ERROR"), or "UNKNOWN". */
const char *loom_h2_code_name(uint32_t code);

/* Every allocation of the library goes through one of these. NULL anywhere
 * the library takes a `const loom_mem *` means malloc/realloc/free. */
typedef struct loom_mem {
    void *(*malloc)(size_t size, void *user);
    void *(*realloc)(void *ptr, size_t size, void *user);
    void (*free)(void *ptr, void *user);
    void *user;
} loom_mem;

/* The default allocator (the C library's). */
const loom_mem *loom_mem_default(void);

#ifdef __cplusplus
}
#endif

#endif
