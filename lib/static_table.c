/* The HPACK static table (RFC 7541 Appendix A) and the encoder's lookups. */
#include <string.h>

#include "loom/hpack_lowlevel.h"
#include "static_table.h"

#define E(n, v)                                                                                    \
    {                                                                                              \
        (const uint8_t *)n, sizeof(n) - 1, (const uint8_t *)v, sizeof(v) - 1, 0                    \
    }

const loom_hpack_field loom__hpack_static[LOOM_HPACK_STATIC_ENTRIES + 1] = {
    {NULL, 0, NULL, 0, 0},                 /* index 0 is not used (RFC 7541 §2.3.3) */
    E(":authority", ""),                   /* 1 */
    E(":method", "GET"),                   /* 2 */
    E(":method", "POST"),                  /* 3 */
    E(":path", "/"),                       /* 4 */
    E(":path", "/index.html"),             /* 5 */
    E(":scheme", "http"),                  /* 6 */
    E(":scheme", "https"),                 /* 7 */
    E(":status", "200"),                   /* 8 */
    E(":status", "204"),                   /* 9 */
    E(":status", "206"),                   /* 10 */
    E(":status", "304"),                   /* 11 */
    E(":status", "400"),                   /* 12 */
    E(":status", "404"),                   /* 13 */
    E(":status", "500"),                   /* 14 */
    E("accept-charset", ""),               /* 15 */
    E("accept-encoding", "gzip, deflate"), /* 16 */
    E("accept-language", ""),              /* 17 */
    E("accept-ranges", ""),                /* 18 */
    E("accept", ""),                       /* 19 */
    E("access-control-allow-origin", ""),  /* 20 */
    E("age", ""),                          /* 21 */
    E("allow", ""),                        /* 22 */
    E("authorization", ""),                /* 23 */
    E("cache-control", ""),                /* 24 */
    E("content-disposition", ""),          /* 25 */
    E("content-encoding", ""),             /* 26 */
    E("content-language", ""),             /* 27 */
    E("content-length", ""),               /* 28 */
    E("content-location", ""),             /* 29 */
    E("content-range", ""),                /* 30 */
    E("content-type", ""),                 /* 31 */
    E("cookie", ""),                       /* 32 */
    E("date", ""),                         /* 33 */
    E("etag", ""),                         /* 34 */
    E("expect", ""),                       /* 35 */
    E("expires", ""),                      /* 36 */
    E("from", ""),                         /* 37 */
    E("host", ""),                         /* 38 */
    E("if-match", ""),                     /* 39 */
    E("if-modified-since", ""),            /* 40 */
    E("if-none-match", ""),                /* 41 */
    E("if-range", ""),                     /* 42 */
    E("if-unmodified-since", ""),          /* 43 */
    E("last-modified", ""),                /* 44 */
    E("link", ""),                         /* 45 */
    E("location", ""),                     /* 46 */
    E("max-forwards", ""),                 /* 47 */
    E("proxy-authenticate", ""),           /* 48 */
    E("proxy-authorization", ""),          /* 49 */
    E("range", ""),                        /* 50 */
    E("referer", ""),                      /* 51 */
    E("refresh", ""),                      /* 52 */
    E("retry-after", ""),                  /* 53 */
    E("server", ""),                       /* 54 */
    E("set-cookie", ""),                   /* 55 */
    E("strict-transport-security", ""),    /* 56 */
    E("transfer-encoding", ""),            /* 57 */
    E("user-agent", ""),                   /* 58 */
    E("vary", ""),                         /* 59 */
    E("via", ""),                          /* 60 */
    E("www-authenticate", ""),             /* 61 */
};

/* The first static index with this name and how many entries share it
 * (they are consecutive); 0 when the name is not in the table. Switching on
 * the length and the last octet leaves at most a couple of memcmp calls. */

uint32_t loom__hpack_static_name(const uint8_t *name, size_t len, uint32_t *count)
{
    const char *cand[3] = {NULL, NULL, NULL};
    uint32_t first[3] = {0, 0, 0}, cnt[3] = {0, 0, 0};
    int k = 0;
    if (len == 0) return 0;
    switch (len) {
    case 3:
        switch (name[2]) {
        case 'a': cand[k] = "via", first[k] = 60, cnt[k++] = 1; break;
        case 'e': cand[k] = "age", first[k] = 21, cnt[k++] = 1; break;
        }
        break;
    case 4:
        switch (name[3]) {
        case 'e': cand[k] = "date", first[k] = 33, cnt[k++] = 1; break;
        case 'g': cand[k] = "etag", first[k] = 34, cnt[k++] = 1; break;
        case 'k': cand[k] = "link", first[k] = 45, cnt[k++] = 1; break;
        case 'm': cand[k] = "from", first[k] = 37, cnt[k++] = 1; break;
        case 't': cand[k] = "host", first[k] = 38, cnt[k++] = 1; break;
        case 'y': cand[k] = "vary", first[k] = 59, cnt[k++] = 1; break;
        }
        break;
    case 5:
        switch (name[4]) {
        case 'e': cand[k] = "range", first[k] = 50, cnt[k++] = 1; break;
        case 'h': cand[k] = ":path", first[k] = 4, cnt[k++] = 2; break;
        case 'w': cand[k] = "allow", first[k] = 22, cnt[k++] = 1; break;
        }
        break;
    case 6:
        switch (name[5]) {
        case 'e': cand[k] = "cookie", first[k] = 32, cnt[k++] = 1; break;
        case 'r': cand[k] = "server", first[k] = 54, cnt[k++] = 1; break;
        case 't':
            cand[k] = "accept", first[k] = 19, cnt[k++] = 1;
            cand[k] = "expect", first[k] = 35, cnt[k++] = 1;
            break;
        }
        break;
    case 7:
        switch (name[6]) {
        case 'd': cand[k] = ":method", first[k] = 2, cnt[k++] = 2; break;
        case 'e': cand[k] = ":scheme", first[k] = 6, cnt[k++] = 2; break;
        case 'h': cand[k] = "refresh", first[k] = 52, cnt[k++] = 1; break;
        case 'r': cand[k] = "referer", first[k] = 51, cnt[k++] = 1; break;
        case 's':
            cand[k] = ":status", first[k] = 8, cnt[k++] = 7;
            cand[k] = "expires", first[k] = 36, cnt[k++] = 1;
            break;
        }
        break;
    case 8:
        switch (name[7]) {
        case 'e': cand[k] = "if-range", first[k] = 42, cnt[k++] = 1; break;
        case 'h': cand[k] = "if-match", first[k] = 39, cnt[k++] = 1; break;
        case 'n': cand[k] = "location", first[k] = 46, cnt[k++] = 1; break;
        }
        break;
    case 10:
        switch (name[9]) {
        case 'e': cand[k] = "set-cookie", first[k] = 55, cnt[k++] = 1; break;
        case 't': cand[k] = "user-agent", first[k] = 58, cnt[k++] = 1; break;
        case 'y': cand[k] = ":authority", first[k] = 1, cnt[k++] = 1; break;
        }
        break;
    case 11:
        switch (name[10]) {
        case 'r': cand[k] = "retry-after", first[k] = 53, cnt[k++] = 1; break;
        }
        break;
    case 12:
        switch (name[11]) {
        case 'e': cand[k] = "content-type", first[k] = 31, cnt[k++] = 1; break;
        case 's': cand[k] = "max-forwards", first[k] = 47, cnt[k++] = 1; break;
        }
        break;
    case 13:
        switch (name[12]) {
        case 'd': cand[k] = "last-modified", first[k] = 44, cnt[k++] = 1; break;
        case 'e': cand[k] = "content-range", first[k] = 30, cnt[k++] = 1; break;
        case 'h': cand[k] = "if-none-match", first[k] = 41, cnt[k++] = 1; break;
        case 'l': cand[k] = "cache-control", first[k] = 24, cnt[k++] = 1; break;
        case 'n': cand[k] = "authorization", first[k] = 23, cnt[k++] = 1; break;
        case 's': cand[k] = "accept-ranges", first[k] = 18, cnt[k++] = 1; break;
        }
        break;
    case 14:
        switch (name[13]) {
        case 'h': cand[k] = "content-length", first[k] = 28, cnt[k++] = 1; break;
        case 't': cand[k] = "accept-charset", first[k] = 15, cnt[k++] = 1; break;
        }
        break;
    case 15:
        switch (name[14]) {
        case 'e': cand[k] = "accept-language", first[k] = 17, cnt[k++] = 1; break;
        case 'g': cand[k] = "accept-encoding", first[k] = 16, cnt[k++] = 1; break;
        }
        break;
    case 16:
        switch (name[15]) {
        case 'e':
            cand[k] = "content-language", first[k] = 27, cnt[k++] = 1;
            cand[k] = "www-authenticate", first[k] = 61, cnt[k++] = 1;
            break;
        case 'g': cand[k] = "content-encoding", first[k] = 26, cnt[k++] = 1; break;
        case 'n': cand[k] = "content-location", first[k] = 29, cnt[k++] = 1; break;
        }
        break;
    case 17:
        switch (name[16]) {
        case 'e': cand[k] = "if-modified-since", first[k] = 40, cnt[k++] = 1; break;
        case 'g': cand[k] = "transfer-encoding", first[k] = 57, cnt[k++] = 1; break;
        }
        break;
    case 18:
        switch (name[17]) {
        case 'e': cand[k] = "proxy-authenticate", first[k] = 48, cnt[k++] = 1; break;
        }
        break;
    case 19:
        switch (name[18]) {
        case 'e': cand[k] = "if-unmodified-since", first[k] = 43, cnt[k++] = 1; break;
        case 'n':
            cand[k] = "content-disposition", first[k] = 25, cnt[k++] = 1;
            cand[k] = "proxy-authorization", first[k] = 49, cnt[k++] = 1;
            break;
        }
        break;
    case 25:
        switch (name[24]) {
        case 'y': cand[k] = "strict-transport-security", first[k] = 56, cnt[k++] = 1; break;
        }
        break;
    case 27:
        switch (name[26]) {
        case 'n': cand[k] = "access-control-allow-origin", first[k] = 20, cnt[k++] = 1; break;
        }
        break;
    }
    for (int i = 0; i < k; i++)
        if (loom__same(name, (const uint8_t *)cand[i], len)) {
            *count = cnt[i];
            return first[i];
        }
    return 0;
}

int loom_hpack_static_get(uint32_t index, loom_hpack_field *f)
{
    if (index == 0 || index > LOOM_HPACK_STATIC_ENTRIES) {
        memset(f, 0, sizeof(*f));
        return LOOM_ERR_INVALID;
    }
    *f = loom__hpack_static[index];
    return 0;
}

uint32_t loom_hpack_static_find(const uint8_t *name, size_t name_len, const uint8_t *value,
                                size_t value_len, int *exact)
{
    uint32_t count, first = loom__hpack_static_name(name, name_len, &count);
    *exact = 0;
    for (uint32_t i = first; first && i < first + count; i++) {
        const loom_hpack_field *e = &loom__hpack_static[i];
        if (e->value_len == value_len && loom__same(e->value, value, value_len)) {
            *exact = 1;
            return i;
        }
    }
    return first;
}
