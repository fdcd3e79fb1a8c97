/* Frame codec: RFC 9113 §4 (framing) and §6 (frame definitions), RFC 9218
 * §7.1 (PRIORITY_UPDATE), RFC 8336 §2 (ORIGIN). */
#include "loom/frame.h"

#include <string.h>

#include "buf.h"
#include "mem.h"

static uint32_t get24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A stream identifier; RFC 9113 §4.1: the reserved bit MUST be ignored. */
static uint32_t get31(const uint8_t *p)
{
    return get32(p) & 0x7fffffffu;
}

static uint8_t *put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

void loom_frame_hd_parse(const uint8_t in[LOOM_FRAME_HEADER_LEN], loom_frame_hd *hd)
{
    hd->length = get24(in);
    hd->type = in[3];
    hd->flags = in[4];
    hd->stream_id = get31(in + 5);
}

void loom_frame_hd_pack(uint8_t out[LOOM_FRAME_HEADER_LEN], const loom_frame_hd *hd)
{
    out[0] = (uint8_t)(hd->length >> 16);
    out[1] = (uint8_t)(hd->length >> 8);
    out[2] = (uint8_t)hd->length;
    out[3] = hd->type;
    out[4] = hd->flags;
    /* RFC 9113 §4.1: the reserved bit MUST remain unset when sending. */
    put32(out + 5, hd->stream_id & 0x7fffffffu);
}

const char *loom_frame_type_name(uint8_t type)
{
    switch (type) {
    case LOOM_FRAME_DATA: return "DATA";
    case LOOM_FRAME_HEADERS: return "HEADERS";
    case LOOM_FRAME_PRIORITY: return "PRIORITY";
    case LOOM_FRAME_RST_STREAM: return "RST_STREAM";
    case LOOM_FRAME_SETTINGS: return "SETTINGS";
    case LOOM_FRAME_PUSH_PROMISE: return "PUSH_PROMISE";
    case LOOM_FRAME_PING: return "PING";
    case LOOM_FRAME_GOAWAY: return "GOAWAY";
    case LOOM_FRAME_WINDOW_UPDATE: return "WINDOW_UPDATE";
    case LOOM_FRAME_CONTINUATION: return "CONTINUATION";
    case LOOM_FRAME_ORIGIN: return "ORIGIN";
    case LOOM_FRAME_PRIORITY_UPDATE: return "PRIORITY_UPDATE";
    default: return "UNKNOWN";
    }
}

static int fail(loom_frame_error *e, int err, loom_scope scope, uint32_t sid, const char *why)
{
    e->err = err;
    e->scope = scope;
    e->stream_id = scope == LOOM_SCOPE_STREAM ? sid : 0;
    e->reason = why;
    return err;
}

#define CONN_ERR(err, why) fail(e, (err), LOOM_SCOPE_CONNECTION, 0, (why))

/* Strips the Pad Length octet and the padding of DATA, HEADERS and
 * PUSH_PROMISE (RFC 9113 §6.1, §6.2, §6.6). */
static int unpad(loom_frame *f, const uint8_t **p, size_t *n, loom_frame_error *e)
{
    f->pad_len = 0;
    if (!(f->hd.flags & LOOM_FLAG_PADDED)) return 0;
    if (*n < 1)
        return CONN_ERR(LOOM_ERR_FRAME_SIZE, "padded frame without a Pad Length (RFC 9113 §6.1)");
    uint8_t pad = (*p)[0];
    (*p)++;
    (*n)--;
    /* RFC 9113 §6.1: padding as long as the payload or longer is a
     * connection error of type PROTOCOL_ERROR. */
    if (pad > *n)
        return CONN_ERR(LOOM_ERR_PROTOCOL, "padding exceeds the frame payload (RFC 9113 §6.1)");
    f->pad_len = pad;
    *n -= pad;
    return 0;
}

static void parse_priority(const uint8_t *p, loom_priority_spec *pri)
{
    uint32_t v = get32(p);
    pri->exclusive = (uint8_t)(v >> 31);
    pri->depends_on = v & 0x7fffffffu;
    pri->weight = (uint16_t)(p[4] + 1);
}

static int check_setting(uint16_t id, uint32_t v, loom_frame_error *e)
{
    switch (id) {
    case LOOM_SETTINGS_ENABLE_PUSH:
        if (v > 1)
            return CONN_ERR(LOOM_ERR_PROTOCOL, "SETTINGS_ENABLE_PUSH not 0 or 1 (RFC 9113 §6.5.2)");
        break;
    case LOOM_SETTINGS_INITIAL_WINDOW_SIZE:
        if (v > LOOM_MAX_WINDOW)
            return CONN_ERR(LOOM_ERR_FLOW_CONTROL,
                            "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 (RFC 9113 §6.5.2)");
        break;
    case LOOM_SETTINGS_MAX_FRAME_SIZE:
        if (v < LOOM_MAX_FRAME_SIZE_MIN || v > LOOM_MAX_FRAME_SIZE_MAX)
            return CONN_ERR(LOOM_ERR_PROTOCOL,
                            "SETTINGS_MAX_FRAME_SIZE outside [16384, 16777215] (RFC 9113 §6.5.2)");
        break;
    case LOOM_SETTINGS_ENABLE_CONNECT_PROTOCOL:
        if (v > 1)
            return CONN_ERR(LOOM_ERR_PROTOCOL,
                            "SETTINGS_ENABLE_CONNECT_PROTOCOL not 0 or 1 (RFC 8441 §3)");
        break;
    case LOOM_SETTINGS_NO_RFC7540_PRIORITIES:
        if (v > 1)
            return CONN_ERR(LOOM_ERR_PROTOCOL,
                            "SETTINGS_NO_RFC7540_PRIORITIES not 0 or 1 (RFC 9218 §2.1)");
        break;
    default: break; /* RFC 9113 §6.5.2: unknown settings MUST be ignored */
    }
    return 0;
}

/* Checks of §6 that need only the frame itself. Every type-specific rule
 * cites its section. */
static int parse_payload(loom_frame *f, const uint8_t *p, size_t n, loom_frame_error *e)
{
    uint32_t sid = f->hd.stream_id;
    int rc;

    switch (f->hd.type) {
    case LOOM_FRAME_DATA:
        /* §6.1: DATA on stream 0 is a connection PROTOCOL_ERROR. */
        if (sid == 0) return CONN_ERR(LOOM_ERR_PROTOCOL, "DATA on stream 0 (RFC 9113 §6.1)");
        if ((rc = unpad(f, &p, &n, e)) < 0) return rc;
        f->u.data.data = p;
        f->u.data.len = n;
        return 0;

    case LOOM_FRAME_HEADERS:
        if (sid == 0) return CONN_ERR(LOOM_ERR_PROTOCOL, "HEADERS on stream 0 (RFC 9113 §6.2)");
        if ((rc = unpad(f, &p, &n, e)) < 0) return rc;
        if (f->hd.flags & LOOM_FLAG_PRIORITY) {
            /* §4.2: too small to hold mandatory fields; a field-block frame
             * alters connection state, so it is a connection error. */
            if (n < 5)
                return CONN_ERR(LOOM_ERR_FRAME_SIZE,
                                "HEADERS too short for its priority fields (RFC 9113 §6.2)");
            parse_priority(p, &f->u.headers.pri);
            p += 5;
            n -= 5;
        }
        f->u.headers.block = p;
        f->u.headers.len = n;
        /* §5.3.1: a stream cannot depend on itself: stream PROTOCOL_ERROR.
         * The block is returned so that HPACK stays in step. */
        if ((f->hd.flags & LOOM_FLAG_PRIORITY) && f->u.headers.pri.depends_on == sid)
            return fail(e, LOOM_ERR_PROTOCOL, LOOM_SCOPE_STREAM, sid,
                        "stream depends on itself (RFC 9113 §5.3.1)");
        return 0;

    case LOOM_FRAME_PRIORITY:
        if (sid == 0) return CONN_ERR(LOOM_ERR_PROTOCOL, "PRIORITY on stream 0 (RFC 9113 §6.3)");
        /* §6.3: length other than 5 is a stream FRAME_SIZE_ERROR. */
        if (n != 5)
            return fail(e, LOOM_ERR_FRAME_SIZE, LOOM_SCOPE_STREAM, sid,
                        "PRIORITY length is not 5 (RFC 9113 §6.3)");
        parse_priority(p, &f->u.priority);
        if (f->u.priority.depends_on == sid)
            return fail(e, LOOM_ERR_PROTOCOL, LOOM_SCOPE_STREAM, sid,
                        "stream depends on itself (RFC 9113 §5.3.1)");
        return 0;

    case LOOM_FRAME_RST_STREAM:
        if (sid == 0) return CONN_ERR(LOOM_ERR_PROTOCOL, "RST_STREAM on stream 0 (RFC 9113 §6.4)");
        if (n != 4)
            return CONN_ERR(LOOM_ERR_FRAME_SIZE, "RST_STREAM length is not 4 (RFC 9113 §6.4)");
        f->u.rst_stream.error_code = get32(p);
        return 0;

    case LOOM_FRAME_SETTINGS:
        if (sid != 0) return CONN_ERR(LOOM_ERR_PROTOCOL, "SETTINGS on a stream (RFC 9113 §6.5)");
        if ((f->hd.flags & LOOM_FLAG_ACK) && n != 0)
            return CONN_ERR(LOOM_ERR_FRAME_SIZE, "SETTINGS ACK with a payload (RFC 9113 §6.5)");
        if (n % 6 != 0)
            return CONN_ERR(LOOM_ERR_FRAME_SIZE,
                            "SETTINGS length not a multiple of 6 (RFC 9113 §6.5)");
        f->u.settings.wire = p;
        f->u.settings.list = NULL;
        f->u.settings.count = n / 6;
        for (size_t i = 0; i < n; i += 6)
            if ((rc = check_setting((uint16_t)(p[i] << 8 | p[i + 1]), get32(p + i + 2), e)) < 0)
                return rc;
        return 0;

    case LOOM_FRAME_PUSH_PROMISE:
        if (sid == 0)
            return CONN_ERR(LOOM_ERR_PROTOCOL, "PUSH_PROMISE on stream 0 (RFC 9113 §6.6)");
        if ((rc = unpad(f, &p, &n, e)) < 0) return rc;
        if (n < 4)
            return CONN_ERR(LOOM_ERR_FRAME_SIZE,
                            "PUSH_PROMISE too short for a promised stream id (RFC 9113 §6.6)");
        f->u.push_promise.promised_id = get31(p);
        f->u.push_promise.block = p + 4;
        f->u.push_promise.len = n - 4;
        return 0;

    case LOOM_FRAME_PING:
        if (sid != 0) return CONN_ERR(LOOM_ERR_PROTOCOL, "PING on a stream (RFC 9113 §6.7)");
        if (n != 8) return CONN_ERR(LOOM_ERR_FRAME_SIZE, "PING length is not 8 (RFC 9113 §6.7)");
        memcpy(f->u.ping.opaque, p, 8);
        return 0;

    case LOOM_FRAME_GOAWAY:
        if (sid != 0) return CONN_ERR(LOOM_ERR_PROTOCOL, "GOAWAY on a stream (RFC 9113 §6.8)");
        if (n < 8) return CONN_ERR(LOOM_ERR_FRAME_SIZE, "GOAWAY shorter than 8 (RFC 9113 §6.8)");
        f->u.goaway.last_stream_id = get31(p);
        f->u.goaway.error_code = get32(p + 4);
        f->u.goaway.debug = p + 8;
        f->u.goaway.debug_len = n - 8;
        return 0;

    case LOOM_FRAME_WINDOW_UPDATE:
        if (n != 4)
            return CONN_ERR(LOOM_ERR_FRAME_SIZE, "WINDOW_UPDATE length is not 4 (RFC 9113 §6.9)");
        f->u.window_update.increment = get31(p);
        /* §6.9: an increment of 0 is a stream error, or a connection error
         * on stream 0. */
        if (f->u.window_update.increment == 0)
            return fail(e, LOOM_ERR_PROTOCOL, sid ? LOOM_SCOPE_STREAM : LOOM_SCOPE_CONNECTION, sid,
                        "WINDOW_UPDATE increment of 0 (RFC 9113 §6.9)");
        return 0;

    case LOOM_FRAME_CONTINUATION:
        if (sid == 0)
            return CONN_ERR(LOOM_ERR_PROTOCOL, "CONTINUATION on stream 0 (RFC 9113 §6.10)");
        f->u.continuation.block = p;
        f->u.continuation.len = n;
        return 0;

    case LOOM_FRAME_PRIORITY_UPDATE:
        /* RFC 9218 §7.1 */
        if (sid != 0)
            return CONN_ERR(LOOM_ERR_PROTOCOL, "PRIORITY_UPDATE on a stream (RFC 9218 §7.1)");
        if (n < 4)
            return CONN_ERR(LOOM_ERR_FRAME_SIZE, "PRIORITY_UPDATE shorter than 4 (RFC 9218 §7.1)");
        f->u.priority_update.stream_id = get31(p);
        if (f->u.priority_update.stream_id == 0)
            return CONN_ERR(LOOM_ERR_PROTOCOL, "PRIORITY_UPDATE for stream 0 (RFC 9218 §7.1)");
        f->u.priority_update.value = p + 4;
        f->u.priority_update.len = n - 4;
        return 0;

    case LOOM_FRAME_ORIGIN:
        /* RFC 8336 §2.1: on any stream but 0 the frame is ignored. */
        if (sid != 0) {
            f->ignore = 1;
            f->u.raw.payload = p;
            f->u.raw.len = n;
            return 0;
        }
        f->u.origin.entries = p;
        f->u.origin.len = n;
        return 0;

    default:
        /* RFC 9113 §4.1 / §5.5: unknown types MUST be ignored. */
        f->ignore = 1;
        f->u.raw.payload = p;
        f->u.raw.len = n;
        return 0;
    }
}

int loom_frame_parse(const uint8_t *in, size_t len, uint32_t max_frame_size, loom_frame *f,
                     loom_frame_error *e)
{
    if (len < LOOM_FRAME_HEADER_LEN) return 0;
    memset(f, 0, sizeof(*f));
    loom_frame_hd_parse(in, &f->hd);
    /* RFC 9113 §4.2: a frame larger than SETTINGS_MAX_FRAME_SIZE is a
     * FRAME_SIZE_ERROR. It is rejected from its header alone, before any of
     * it is buffered. */
    if (f->hd.length > max_frame_size)
        return CONN_ERR(LOOM_ERR_FRAME_SIZE,
                        "frame larger than SETTINGS_MAX_FRAME_SIZE (RFC 9113 §4.2)");
    size_t total = LOOM_FRAME_HEADER_LEN + (size_t)f->hd.length;
    if (len < total) return 0;
    int rc = parse_payload(f, in + LOOM_FRAME_HEADER_LEN, f->hd.length, e);
    return rc < 0 ? rc : (int)total;
}

loom_setting loom_frame_setting(const loom_frame *f, size_t i)
{
    if (f->u.settings.list) return f->u.settings.list[i];
    const uint8_t *p = f->u.settings.wire + 6 * i;
    loom_setting s = {(uint16_t)(p[0] << 8 | p[1]), get32(p + 2)};
    return s;
}

int loom_frame_origin_next(const loom_frame *f, size_t *pos, const uint8_t **origin, size_t *len)
{
    const uint8_t *p = f->u.origin.entries;
    size_t n = f->u.origin.len;
    if (*pos >= n) return 0;
    if (n - *pos < 2) return LOOM_ERR_FRAME_SIZE;
    size_t l = (size_t)p[*pos] << 8 | p[*pos + 1];
    if (n - *pos - 2 < l) return LOOM_ERR_FRAME_SIZE;
    *origin = p + *pos + 2;
    *len = l;
    *pos += 2 + l;
    return 1;
}

/* ---- writing ---- */

static int paddable(uint8_t type)
{
    return type == LOOM_FRAME_DATA || type == LOOM_FRAME_HEADERS || type == LOOM_FRAME_PUSH_PROMISE;
}

size_t loom_frame_payload_len(const loom_frame *f)
{
    size_t n = 0;
    switch (f->hd.type) {
    case LOOM_FRAME_DATA: n = f->u.data.len; break;
    case LOOM_FRAME_HEADERS:
        n = f->u.headers.len + ((f->hd.flags & LOOM_FLAG_PRIORITY) ? 5 : 0);
        break;
    case LOOM_FRAME_PRIORITY: n = 5; break;
    case LOOM_FRAME_RST_STREAM: n = 4; break;
    case LOOM_FRAME_SETTINGS: n = 6 * f->u.settings.count; break;
    case LOOM_FRAME_PUSH_PROMISE: n = 4 + f->u.push_promise.len; break;
    case LOOM_FRAME_PING: n = 8; break;
    case LOOM_FRAME_GOAWAY: n = 8 + f->u.goaway.debug_len; break;
    case LOOM_FRAME_WINDOW_UPDATE: n = 4; break;
    case LOOM_FRAME_CONTINUATION: n = f->u.continuation.len; break;
    case LOOM_FRAME_PRIORITY_UPDATE: n = 4 + f->u.priority_update.len; break;
    case LOOM_FRAME_ORIGIN: n = f->u.origin.len; break;
    default: n = f->u.raw.len; break;
    }
    if (paddable(f->hd.type) && (f->hd.flags & LOOM_FLAG_PADDED)) n += 1 + (size_t)f->pad_len;
    return n;
}

static uint8_t *put_priority(uint8_t *q, const loom_priority_spec *pri)
{
    q = put32(q, (pri->exclusive ? 0x80000000u : 0) | (pri->depends_on & 0x7fffffffu));
    *q++ = (uint8_t)(pri->weight - 1);
    return q;
}

static uint8_t *put_bytes(uint8_t *q, const uint8_t *src, size_t n)
{
    if (n) memcpy(q, src, n);
    return q + n;
}

int loom_frame_pack(const loom_frame *f, uint8_t *out, size_t cap)
{
    /* Flags a type does not define are carried as they are (RFC 9113 §4.1
     * says receivers ignore them); PADDED means padding only where defined. */
    int padded = paddable(f->hd.type) && (f->hd.flags & LOOM_FLAG_PADDED);
    if (!padded && f->pad_len) return LOOM_ERR_INVALID;
    size_t n = loom_frame_payload_len(f);
    if (n > LOOM_MAX_FRAME_SIZE_MAX) return LOOM_ERR_INVALID;
    if (cap < LOOM_FRAME_HEADER_LEN + n || LOOM_FRAME_HEADER_LEN + n > (size_t)INT32_MAX)
        return LOOM_ERR_BUFFER;
    const loom_priority_spec *pri = f->hd.type == LOOM_FRAME_PRIORITY  ? &f->u.priority
                                    : f->hd.type == LOOM_FRAME_HEADERS ? &f->u.headers.pri
                                                                       : NULL;
    if (pri && (f->hd.type == LOOM_FRAME_PRIORITY || (f->hd.flags & LOOM_FLAG_PRIORITY)) &&
        (pri->weight < 1 || pri->weight > 256))
        return LOOM_ERR_INVALID;

    loom_frame_hd hd = f->hd;
    hd.length = (uint32_t)n;
    loom_frame_hd_pack(out, &hd);
    uint8_t *q = out + LOOM_FRAME_HEADER_LEN;
    if (padded) *q++ = f->pad_len;

    switch (f->hd.type) {
    case LOOM_FRAME_DATA: q = put_bytes(q, f->u.data.data, f->u.data.len); break;
    case LOOM_FRAME_HEADERS:
        if (f->hd.flags & LOOM_FLAG_PRIORITY) q = put_priority(q, pri);
        q = put_bytes(q, f->u.headers.block, f->u.headers.len);
        break;
    case LOOM_FRAME_PRIORITY: q = put_priority(q, pri); break;
    case LOOM_FRAME_RST_STREAM: q = put32(q, f->u.rst_stream.error_code); break;
    case LOOM_FRAME_SETTINGS:
        for (size_t i = 0; i < f->u.settings.count; i++) {
            loom_setting s = loom_frame_setting(f, i);
            q = put16(q, s.id);
            q = put32(q, s.value);
        }
        break;
    case LOOM_FRAME_PUSH_PROMISE:
        q = put32(q, f->u.push_promise.promised_id & 0x7fffffffu);
        q = put_bytes(q, f->u.push_promise.block, f->u.push_promise.len);
        break;
    case LOOM_FRAME_PING: q = put_bytes(q, f->u.ping.opaque, 8); break;
    case LOOM_FRAME_GOAWAY:
        q = put32(q, f->u.goaway.last_stream_id & 0x7fffffffu);
        q = put32(q, f->u.goaway.error_code);
        q = put_bytes(q, f->u.goaway.debug, f->u.goaway.debug_len);
        break;
    case LOOM_FRAME_WINDOW_UPDATE:
        if (f->u.window_update.increment > LOOM_MAX_WINDOW) return LOOM_ERR_INVALID;
        q = put32(q, f->u.window_update.increment);
        break;
    case LOOM_FRAME_CONTINUATION:
        q = put_bytes(q, f->u.continuation.block, f->u.continuation.len);
        break;
    case LOOM_FRAME_PRIORITY_UPDATE:
        q = put32(q, f->u.priority_update.stream_id & 0x7fffffffu);
        q = put_bytes(q, f->u.priority_update.value, f->u.priority_update.len);
        break;
    case LOOM_FRAME_ORIGIN: q = put_bytes(q, f->u.origin.entries, f->u.origin.len); break;
    default: q = put_bytes(q, f->u.raw.payload, f->u.raw.len); break;
    }
    if (padded) {
        memset(q, 0, f->pad_len); /* RFC 9113 §6.1: padding octets MUST be zero */
        q += f->pad_len;
    }
    return (int)(q - out);
}

/* ---- the incremental reader ---- */

void loom_frame_reader_init(loom_frame_reader *r, uint32_t max_frame_size, const loom_mem *mem)
{
    memset(r, 0, sizeof(*r));
    r->mem = mem ? mem : loom_mem_default();
    r->max_frame_size = max_frame_size;
}

void loom_frame_reader_free(loom_frame_reader *r)
{
    loom_free(r->mem, r->buf);
    r->buf = NULL;
    r->cap = r->have = 0;
}

void loom_frame_reader_set_max(loom_frame_reader *r, uint32_t max_frame_size)
{
    r->max_frame_size = max_frame_size;
}

/* Never more than the largest frame allowed. */
static int reserve(loom_frame_reader *r, size_t need)
{
    return loom__grow(r->mem, (void **)&r->buf, &r->cap, need, 1,
                      LOOM_FRAME_HEADER_LEN + (size_t)r->max_frame_size);
}

/* Returns the result of parsing a whole frame held at p; sets r->dead on a
 * connection error so that later calls repeat it. */
static int finish(loom_frame_reader *r, const uint8_t *p, size_t len, loom_frame *f,
                  loom_frame_error *e)
{
    int rc = loom_frame_parse(p, len, r->max_frame_size, f, e);
    if (rc < 0 && e->scope == LOOM_SCOPE_CONNECTION) r->dead = rc;
    return rc;
}

int loom_frame_reader_next(loom_frame_reader *r, const uint8_t *in, size_t len, size_t *used,
                           loom_frame *f, loom_frame_error *e)
{
    *used = 0;
    if (r->dead) return fail(e, r->dead, LOOM_SCOPE_CONNECTION, 0, "the connection already failed");

    if (r->have == 0) {
        /* Fast path: a whole frame in the caller's buffer is parsed in place. */
        int rc = finish(r, in, len, f, e);
        if (rc > 0) {
            *used = (size_t)rc;
            return 1;
        }
        if (rc < 0) {
            if (e->scope == LOOM_SCOPE_STREAM) *used = LOOM_FRAME_HEADER_LEN + (size_t)f->hd.length;
            return rc;
        }
        /* Partial frame: gather it. */
    }

    /* Gather the header first, so the length is checked before payload is
     * buffered (no allocation beyond the frame limit). */
    size_t take;
    if (r->have < LOOM_FRAME_HEADER_LEN) {
        if (reserve(r, LOOM_FRAME_HEADER_LEN) < 0)
            return fail(e, LOOM_ERR_NOMEM, LOOM_SCOPE_CONNECTION, 0, "out of memory");
        take = LOOM_FRAME_HEADER_LEN - r->have;
        if (take > len) take = len;
        memcpy(r->buf + r->have, in, take);
        r->have += take;
        *used += take;
        in += take;
        len -= take;
        if (r->have < LOOM_FRAME_HEADER_LEN) return 0;
    }
    loom_frame_hd hd;
    loom_frame_hd_parse(r->buf, &hd);
    if (hd.length > r->max_frame_size) return finish(r, r->buf, r->have, f, e);
    size_t total = LOOM_FRAME_HEADER_LEN + (size_t)hd.length;
    if (reserve(r, total) < 0)
        return fail(e, LOOM_ERR_NOMEM, LOOM_SCOPE_CONNECTION, 0, "out of memory");
    take = total - r->have;
    if (take > len) take = len;
    if (take) memcpy(r->buf + r->have, in, take);
    r->have += take;
    *used += take;
    if (r->have < total) return 0;

    r->have = 0;
    int rc = finish(r, r->buf, total, f, e);
    return rc > 0 ? 1 : rc;
}
