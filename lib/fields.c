/* HTTP message validation for HTTP/2 (RFC 9113 §8.2, §8.3), and the
 * RFC 9218 Priority field. A message that breaks one of these rules is
 * malformed: a stream error of type PROTOCOL_ERROR (§8.1.1). */
#include "fields.h"

#include <string.h>

int loom__name_is(const loom_hpack_field *f, const char *name)
{
    size_t n = strlen(name);
    return f->name_len == n && !memcmp(f->name, name, n);
}

#define IS LOOM__NAME_IS

static int eq(const uint8_t *p, size_t n, const char *s)
{
    size_t k = strlen(s);
    return n == k && !memcmp(p, s, k);
}

#define BAD(msg)                                                                                   \
    do {                                                                                           \
        *why = (msg);                                                                              \
        return LOOM_ERR_PROTOCOL;                                                                  \
    } while (0)

/* Eight octets at a time (SWAR), each check true when some octet of the
 * word matches: equal to c, below n, strictly between m and n (octets
 * below 0x80; the high ones are caught apart). */
#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline uint64_t has_octet(uint64_t w, uint8_t c)
{
    uint64_t x = w ^ (ONES * c);
    return (x - ONES) & ~x & HIGHS;
}

static inline uint64_t has_below(uint64_t w, uint8_t n)
{
    return (w - ONES * n) & ~w & HIGHS;
}

static inline uint64_t has_between(uint64_t w, uint8_t m, uint8_t n)
{
    uint64_t low = w & (ONES * 127);
    return ((ONES * (127 + n) - low) & ~w & (low + ONES * (127 - m))) & HIGHS;
}

/* The last n octets of p (n < 8) as one word, without a call: two
 * overlapping loads, or single octets for n < 4. Octets may repeat, which
 * a check for bad octets does not mind; n == 0 gives fill. */
static inline uint64_t tail_word(const uint8_t *p, size_t n, uint8_t fill)
{
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        return (uint64_t)a << 32 | b;
    }
    uint64_t w = ONES * fill;
    if (n) w = (w << 24) | (uint64_t)p[0] << 16 | (uint64_t)p[n / 2] << 8 | p[n - 1];
    return w;
}

/* RFC 9113 §8.2.1: a name holds no uppercase, no controls, no space, no
 * DEL or octets above it; a ':' only as a pseudo-header's first octet. */
static inline int name_word_bad(uint64_t w)
{
    return (w & HIGHS) || has_below(w, 0x21) || has_octet(w, 0x7f) || has_octet(w, ':') ||
           has_between(w, 'A' - 1, 'Z' + 1);
}

static int name_ok(const uint8_t *p, size_t n)
{
    if (n == 0) return 0;
    size_t i = p[0] == ':';
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (name_word_bad(w)) return 0;
    }
    return i == n || !name_word_bad(tail_word(p + i, n - i, 'a'));
}

/* RFC 9113 §8.2.1: no NUL, CR or LF; no leading or trailing space or tab. */
static inline int value_word_bad(uint64_t w)
{
    return has_octet(w, 0) || has_octet(w, '\r') || has_octet(w, '\n');
}

static int value_ok(const uint8_t *p, size_t n)
{
    if (!n) return 1;
    if (p[0] == ' ' || p[0] == '\t' || p[n - 1] == ' ' || p[n - 1] == '\t') return 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (value_word_bad(w)) return 0;
    }
    return i == n || !value_word_bad(tail_word(p + i, n - i, ' '));
}

/* content-length: digits only; repeated values must agree (RFC 9110 §8.6). */
static int parse_length(const uint8_t *p, size_t n, int64_t *out)
{
    if (n == 0 || n > 18) return 0;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        v = v * 10 + (p[i] - '0');
    }
    if (*out >= 0 && *out != v) return 0;
    *out = v;
    return 1;
}

/* RFC 8941 §3.3: an item's value, scanned (not kept): an integer or
 * decimal, a string, a token, a byte sequence or a boolean. Returns the
 * position after it, or 0 when it is not one. */
static size_t sf_item(const uint8_t *v, size_t n, size_t i)
{
    if (i >= n) return 0;
    uint8_t c = v[i];
    if (c == '-' || (c >= '0' && c <= '9')) {
        size_t s = i += c == '-';
        while (i < n && ((v[i] >= '0' && v[i] <= '9') || v[i] == '.'))
            i++;
        return i > s ? i : 0;
    }
    if (c == '"') {
        for (i++; i < n; i++) {
            if (v[i] == '\\')
                i++;
            else if (v[i] == '"')
                return i + 1;
        }
        return 0;
    }
    if (c == '?') return i + 1 < n && (v[i + 1] == '0' || v[i + 1] == '1') ? i + 2 : 0;
    if (c == ':') {
        for (i++; i < n && v[i] != ':'; i++)
            ;
        return i < n ? i + 1 : 0;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '*') {
        while (i < n && v[i] > 0x20 && v[i] < 0x7f && v[i] != ',' && v[i] != ';' && v[i] != '=' &&
               v[i] != '"' && v[i] != '(' && v[i] != ')')
            i++;
        return i;
    }
    return 0;
}

/* RFC 8941 §3.1.2: a key (lowercase letter or '*' first). Returns its end,
 * or 0. */
static size_t sf_key(const uint8_t *v, size_t n, size_t i)
{
    if (i >= n || !((v[i] >= 'a' && v[i] <= 'z') || v[i] == '*')) return 0;
    while (i < n && ((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '_' ||
                     v[i] == '-' || v[i] == '.' || v[i] == '*'))
        i++;
    return i;
}

int loom__priority_parse(const uint8_t *v, size_t n, uint8_t *urgency, uint8_t *incremental)
{
    /* RFC 9218 §4: a Structured Fields dictionary (RFC 8941 §3.2); only u
     * and i matter, other members and all parameters are ignored. A field
     * that does not parse is ignored whole (RFC 8941 §4.2). */
    size_t i = 0;
    int understood = 0;
    uint8_t u = *urgency, inc = *incremental;
    while (i < n && v[i] == ' ')
        i++;
    while (i < n) {
        size_t k = i, e = sf_key(v, n, i);
        if (!e) return 0;
        size_t klen = e - k, vs = e, ve = e;
        i = e;
        if (i < n && v[i] == '=') {
            vs = i + 1;
            if (!(ve = sf_item(v, n, vs))) return 0;
            i = ve;
        }
        while (i < n && v[i] == ';') { /* parameters */
            size_t pe = sf_key(v, n, i + 1);
            if (!pe) return 0;
            i = pe;
            if (i < n && v[i] == '=' && !(i = sf_item(v, n, i + 1))) return 0;
        }
        if (klen == 1 && v[k] == 'u' && ve > vs) {
            /* §4.1: an integer 0..7; anything else is ignored */
            if (ve - vs == 1 && v[vs] >= '0' && v[vs] <= '7') {
                u = (uint8_t)(v[vs] - '0');
                understood = 1;
            }
        } else if (klen == 1 && v[k] == 'i') {
            /* §4.2: a boolean; a bare key is true */
            if (ve == vs) {
                inc = 1;
                understood = 1;
            } else if (ve - vs == 2 && v[vs] == '?') {
                inc = v[vs + 1] == '1';
                understood = 1;
            }
        }
        while (i < n && (v[i] == ' ' || v[i] == '\t'))
            i++;
        if (i == n) break;
        if (v[i] != ',') return 0;
        i++;
        while (i < n && (v[i] == ' ' || v[i] == '\t'))
            i++;
        if (i == n) return 0; /* a trailing comma */
    }
    *urgency = u;
    *incremental = inc;
    return understood;
}

int loom__fields_informational(const loom_hpack_field *f, size_t n)
{
    return n && f[0].name_len == 7 && !memcmp(f[0].name, ":status", 7) && f[0].value_len == 3 &&
           f[0].value[0] == '1';
}

int loom__field_value_ok(const uint8_t *value, size_t vlen)
{
    return value_ok(value, vlen);
}

int loom__field_octets_ok(const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen)
{
    return name_ok(name, nlen) && value_ok(value, vlen);
}

int loom__fields_check(const loom_hpack_field *f, const uint8_t *reps, size_t n, loom_msg_kind kind,
                       int connect_protocol, loom_msg_info *info, const char **why)
{
    memset(info, 0, sizeof(*info));
    info->content_length = -1;
    info->urgency = 3; /* RFC 9218 §4.1 default */
    int regular_seen = 0, have_status = 0;

    for (size_t i = 0; i < n; i++) {
        const loom_hpack_field *x = &f[i];
        if (!reps || !(reps[i] & LOOM_HPACK_CHECKED)) {
            if (!name_ok(x->name, x->name_len))
                BAD("field name with uppercase or invalid octets (RFC 9113 §8.2.1)");
            if (!value_ok(x->value, x->value_len))
                BAD("field value with NUL, CR, LF or edge whitespace (RFC 9113 §8.2.1)");
        }

        if (x->name[0] == ':') {
            /* §8.3: pseudo-headers come first, are defined for the message
             * kind, and appear once; never in trailers. */
            if (kind == LOOM_MSG_TRAILERS) BAD("pseudo-header in trailers (RFC 9113 §8.1)");
            if (regular_seen) BAD("pseudo-header after a regular field (RFC 9113 §8.3)");
            const uint8_t **slot = NULL;
            size_t *slot_len = NULL;
            if (kind == LOOM_MSG_REQUEST) {
                if (IS(x, ":method"))
                    slot = &info->method, slot_len = &info->method_len;
                else if (IS(x, ":scheme"))
                    slot = &info->scheme, slot_len = &info->scheme_len;
                else if (IS(x, ":authority"))
                    slot = &info->authority, slot_len = &info->authority_len;
                else if (IS(x, ":path"))
                    slot = &info->path, slot_len = &info->path_len;
                else if (connect_protocol && IS(x, ":protocol"))
                    slot = &info->protocol, slot_len = &info->protocol_len;
                else
                    BAD("unknown or response pseudo-header in a request (RFC 9113 §8.3)");
                if (*slot) BAD("repeated pseudo-header (RFC 9113 §8.3)");
                *slot = x->value;
                *slot_len = x->value_len;
            } else {
                if (!IS(x, ":status"))
                    BAD("request or unknown pseudo-header in a response (RFC 9113 §8.3.2)");
                if (have_status) BAD("repeated :status (RFC 9113 §8.3)");
                if (x->value_len != 3 || x->value[0] < '1' || x->value[0] > '9' ||
                    x->value[1] < '0' || x->value[1] > '9' || x->value[2] < '0' ||
                    x->value[2] > '9')
                    BAD(":status is not a three-digit code (RFC 9113 §8.3.2)");
                have_status = 1;
                info->status =
                    (x->value[0] - '0') * 100 + (x->value[1] - '0') * 10 + (x->value[2] - '0');
            }
            continue;
        }
        regular_seen = 1;
        /* §8.2.2: connection-specific fields are malformed in HTTP/2. */
        switch (x->name_len) {
        case 2:
            if (IS(x, "te") && !eq(x->value, x->value_len, "trailers"))
                BAD("TE other than \"trailers\" (RFC 9113 §8.2.2)");
            break;
        case 7:
            if (IS(x, "upgrade")) BAD("connection-specific field upgrade (RFC 9113 §8.2.2)");
            break;
        case 8:
            if (IS(x, "priority") && kind == LOOM_MSG_REQUEST &&
                loom__priority_parse(x->value, x->value_len, &info->urgency, &info->incremental))
                info->has_priority = 1;
            break;
        case 10:
            if (IS(x, "connection") || IS(x, "keep-alive"))
                BAD("connection-specific field (RFC 9113 §8.2.2)");
            break;
        case 14:
            if (IS(x, "content-length") &&
                !parse_length(x->value, x->value_len, &info->content_length))
                BAD("invalid or conflicting content-length (RFC 9113 §8.1.1)");
            break;
        case 16:
            if (IS(x, "proxy-connection"))
                BAD("connection-specific field proxy-connection (RFC 9113 §8.2.2)");
            break;
        case 17:
            if (IS(x, "transfer-encoding"))
                BAD("connection-specific field transfer-encoding (RFC 9113 §8.2.2)");
            break;
        default: break;
        }
    }

    if (kind == LOOM_MSG_REQUEST) {
        if (!info->method) BAD("request without :method (RFC 9113 §8.3.1)");
        if (eq(info->method, info->method_len, "CONNECT") && !info->protocol) {
            /* §8.5: CONNECT carries :authority only. */
            if (info->scheme || info->path) BAD("CONNECT with :scheme or :path (RFC 9113 §8.5)");
            if (!info->authority) BAD("CONNECT without :authority (RFC 9113 §8.5)");
        } else {
            if (info->protocol && !eq(info->method, info->method_len, "CONNECT"))
                BAD(":protocol on a method other than CONNECT (RFC 8441 §4)");
            if (!info->scheme || !info->path)
                BAD("request without :scheme or :path (RFC 9113 §8.3.1)");
            /* §8.3.1: not empty for http and https (other schemes may
             * have an empty path) */
            int web = (info->scheme_len == 4 && !memcmp(info->scheme, "http", 4)) ||
                      (info->scheme_len == 5 && !memcmp(info->scheme, "https", 5));
            if (info->path_len == 0 && web) BAD("empty :path (RFC 9113 §8.3.1)");
        }
    } else if (kind == LOOM_MSG_RESPONSE) {
        if (!have_status) BAD("response without :status (RFC 9113 §8.3.2)");
    }
    return 0;
}
