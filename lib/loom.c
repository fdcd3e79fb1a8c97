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
#define XX(name, value, text)                                                                      \
    case LOOM_ERR_##name: return text;
        LOOM_ERRNO_MAP(XX)
#undef XX
    default: return "unknown error";
    }
}

const char *loom_errname(int err)
{
    switch (err) {
    case LOOM_OK: return "OK";
#define XX(name, value, text)                                                                      \
    case LOOM_ERR_##name: return #name;
        LOOM_ERRNO_MAP(XX)
#undef XX
    default: return "UNKNOWN";
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
