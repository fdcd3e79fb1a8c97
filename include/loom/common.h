/* loom: what every part shares: version, error codes, the allocator.
 * Include <loom/loom.h> for everything. */
#ifndef LOOM_COMMON_H
#define LOOM_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every public function is declared LOOM_API: the shared library exports
 * these and nothing else (it is built with -fvisibility=hidden). */
#if defined(_WIN32)
#define LOOM_API
#elif defined(__GNUC__) || defined(__clang__)
#define LOOM_API __attribute__((visibility("default")))
#else
#define LOOM_API
#endif

#define LOOM_VERSION_MAJOR  0
#define LOOM_VERSION_MINOR  2
#define LOOM_VERSION_PATCH  0
#define LOOM_VERSION_STRING "0.2.0"

/* The library version at run time (may differ from LOOM_VERSION_STRING when
 * linked against a shared library of another release). */
LOOM_API const char *loom_version(void);

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

/* Library errors, listed once (as libuv's UV_ERRNO_MAP): XX(name, value,
 * description). 0 is success, every failure is negative. The protocol
 * errors are laid out so that LOOM_ERR_H2_BASE - err is the RFC 9113 code:
 * loom_err_h2_code() maps one to the other. Adding an error is one line. */
#define LOOM_ERR_H2_BASE (-100)
#define LOOM_ERRNO_MAP(XX)                                                                         \
    XX(NOMEM, -1, "out of memory")                                                                 \
    XX(INVALID, -2, "invalid argument")                                                            \
    XX(BUFFER, -3, "output buffer too small")                                                      \
    XX(INCOMPLETE, -4, "input ended inside an item")                                               \
    XX(LIMIT, -5, "a configured limit was exceeded")                                               \
    XX(STATE, -6, "not allowed in the current state")                                              \
    XX(VERSION, -7, "structure size or version not supported by this library")                     \
    XX(PROTOCOL, LOOM_ERR_H2_BASE - 0x1, "protocol error (PROTOCOL_ERROR)")                        \
    XX(INTERNAL, LOOM_ERR_H2_BASE - 0x2, "internal error (INTERNAL_ERROR)")                        \
    XX(FLOW_CONTROL, LOOM_ERR_H2_BASE - 0x3, "flow-control error (FLOW_CONTROL_ERROR)")            \
    XX(SETTINGS_TIMEOUT, LOOM_ERR_H2_BASE - 0x4,                                                   \
       "settings not acknowledged in time (SETTINGS_TIMEOUT)")                                     \
    XX(STREAM_CLOSED, LOOM_ERR_H2_BASE - 0x5, "frame on a closed stream (STREAM_CLOSED)")          \
    XX(FRAME_SIZE, LOOM_ERR_H2_BASE - 0x6, "invalid frame size (FRAME_SIZE_ERROR)")                \
    XX(REFUSED_STREAM, LOOM_ERR_H2_BASE - 0x7, "stream refused (REFUSED_STREAM)")                  \
    XX(CANCEL, LOOM_ERR_H2_BASE - 0x8, "stream cancelled (CANCEL)")                                \
    XX(COMPRESSION, LOOM_ERR_H2_BASE - 0x9, "header compression error (COMPRESSION_ERROR)")        \
    XX(CONNECT, LOOM_ERR_H2_BASE - 0xa, "CONNECT tunnel failed (CONNECT_ERROR)")                   \
    XX(ENHANCE_YOUR_CALM, LOOM_ERR_H2_BASE - 0xb, "peer exceeded a limit (ENHANCE_YOUR_CALM)")     \
    XX(INADEQUATE_SECURITY, LOOM_ERR_H2_BASE - 0xc,                                                \
       "inadequate TLS security (INADEQUATE_SECURITY)")                                            \
    XX(HTTP_1_1_REQUIRED, LOOM_ERR_H2_BASE - 0xd, "HTTP/1.1 required (HTTP_1_1_REQUIRED)")

typedef enum {
    LOOM_OK = 0,
#define LOOM_ERR_ENUM_(name, value, text) LOOM_ERR_##name = (value),
    LOOM_ERRNO_MAP(LOOM_ERR_ENUM_)
#undef LOOM_ERR_ENUM_
} loom_err;

/* A short English description of a loom_err (never NULL; "unknown error"
 * for a value that is not one). */
LOOM_API const char *loom_strerror(int err);

/* The error's name as in the enum without its prefix ("PROTOCOL" for
 * LOOM_ERR_PROTOCOL, "OK" for 0), or "UNKNOWN". */
LOOM_API const char *loom_errname(int err);

/* The RFC 9113 error code an error is sent as: the code itself for protocol
 * errors, INTERNAL_ERROR for everything else. */
LOOM_API uint32_t loom_err_h2_code(int err);

/* The name of an RFC 9113 error code ("PROTOCOL_ERROR"), or "UNKNOWN". */
LOOM_API const char *loom_h2_code_name(uint32_t code);

/* Every allocation of the library goes through one of these. NULL anywhere
 * the library takes a `const loom_mem *` means malloc/realloc/free. */
typedef struct loom_mem {
    void *(*malloc)(size_t size, void *user);
    void *(*realloc)(void *ptr, size_t size, void *user);
    void (*free)(void *ptr, void *user);
    void *user;
} loom_mem;

/* The default allocator (the C library's). */
LOOM_API const loom_mem *loom_mem_default(void);

#ifdef __cplusplus
}
#endif

#endif
