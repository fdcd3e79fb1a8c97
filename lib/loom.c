/* Version, errors and the default allocator. */
#include "loom/loom.h"

#include <stdlib.h>

const char *loom_version(void)
{
    return LOOM_VERSION_STRING;
}

static const char *const h2_names[] = {
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "INTERNAL_ERROR",
    "FLOW_CONTROL_ERROR",
    "SETTINGS_TIMEOUT",
    "STREAM_CLOSED",
    "FRAME_SIZE_ERROR",
    "REFUSED_STREAM",
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM",
    "INADEQUATE_SECURITY",
    "HTTP_1_1_REQUIRED",
};

const char *loom_h2_code_name(uint32_t code)
{
    return code < sizeof(h2_names) / sizeof(h2_names[0]) ? h2_names[code] : "UNKNOWN";
}

uint32_t loom_err_h2_code(int err)
{
    int code = LOOM_ERR_H2_BASE - err;
    if (err <= LOOM_ERR_H2_BASE && code <= LOOM_H2_HTTP_1_1_REQUIRED) return (uint32_t)code;
    return LOOM_H2_INTERNAL_ERROR;
}

const char *loom_strerror(int err)
{
    switch (err) {
    case LOOM_OK: return "success";
    case LOOM_ERR_NOMEM: return "out of memory";
    case LOOM_ERR_INVALID: return "invalid argument";
    case LOOM_ERR_BUFFER: return "output buffer too small";
    case LOOM_ERR_INCOMPLETE: return "input ended inside an item";
    case LOOM_ERR_LIMIT: return "a configured limit was exceeded";
    case LOOM_ERR_STATE: return "not allowed in the current state";
    case LOOM_ERR_PROTOCOL: return "protocol error (PROTOCOL_ERROR)";
    case LOOM_ERR_INTERNAL: return "internal error (INTERNAL_ERROR)";
    case LOOM_ERR_FLOW_CONTROL: return "flow-control error (FLOW_CONTROL_ERROR)";
    case LOOM_ERR_SETTINGS_TIMEOUT: return "settings not acknowledged in time (SETTINGS_TIMEOUT)";
    case LOOM_ERR_STREAM_CLOSED: return "frame on a closed stream (STREAM_CLOSED)";
    case LOOM_ERR_FRAME_SIZE: return "invalid frame size (FRAME_SIZE_ERROR)";
    case LOOM_ERR_REFUSED_STREAM: return "stream refused (REFUSED_STREAM)";
    case LOOM_ERR_CANCEL: return "stream cancelled (CANCEL)";
    case LOOM_ERR_COMPRESSION: return "header compression error (COMPRESSION_ERROR)";
    case LOOM_ERR_CONNECT: return "CONNECT tunnel failed (CONNECT_ERROR)";
    case LOOM_ERR_ENHANCE_YOUR_CALM: return "peer exceeded a limit (ENHANCE_YOUR_CALM)";
    case LOOM_ERR_INADEQUATE_SECURITY: return "inadequate TLS security (INADEQUATE_SECURITY)";
    case LOOM_ERR_HTTP_1_1_REQUIRED: return "HTTP/1.1 required (HTTP_1_1_REQUIRED)";
    default: return "unknown error";
    }
}

static void *std_malloc(size_t n, void *user)
{
    (void)user;
    return malloc(n);
}

static void *std_realloc(void *p, size_t n, void *user)
{
    (void)user;
    return realloc(p, n);
}

static void std_free(void *p, void *user)
{
    (void)user;
    free(p);
}

static const loom_mem default_mem = {std_malloc, std_realloc, std_free, NULL};

const loom_mem *loom_mem_default(void)
{
    return &default_mem;
}
