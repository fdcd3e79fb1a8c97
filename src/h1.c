/* HTTP/1.1 on http-parser, for the server and the clients. */
#define _GNU_SOURCE
#include "h1.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- parsing ---- */

static int copy(h1_msg *m, const char *at, size_t n)
{
    if (!m->head && !(m->head = malloc(H1_MAX_HEAD))) return -1;
    if (m->headlen + n > H1_MAX_HEAD) {
        m->too_big = 1;
        return -1;
    }
    memcpy(m->head + m->headlen, at, n);
    m->headlen += n;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    h1_msg *m = p->data;
    if (!m->urllen) m->url = (uint32_t)m->headlen;
    /* lengths grow only by what was copied: never past the head */
    if (copy(m, at, n)) return -1;
    m->urllen += (uint32_t)n;
    return 0;
}

static int on_status(http_parser *p, const char *at, size_t n)
{
    (void)at;
    ((h1_msg *)p->data)->reason_len += (uint32_t)n;
    return 0;
}

static int on_field(http_parser *p, const char *at, size_t n)
{
    h1_msg *m = p->data;
    if (m->in_value || m->nf == 0 || (m->head_done && m->nf == m->ntrailer_from)) {
        if (m->nf == H1_MAX_FIELDS) {
            m->too_big = 1;
            return -1;
        }
        m->f[m->nf].n = (uint32_t)m->headlen;
        m->f[m->nf].nl = m->f[m->nf].vl = 0;
        m->f[m->nf].v = (uint32_t)m->headlen;
        m->nf++;
        m->in_value = 0;
    }
    if (copy(m, at, n)) return -1;
    m->f[m->nf - 1].nl += (uint32_t)n;
    return 0;
}

static int on_value(http_parser *p, const char *at, size_t n)
{
    h1_msg *m = p->data;
    if (m->nf == 0) return -1;
    if (!m->in_value) {
        m->f[m->nf - 1].v = (uint32_t)m->headlen;
        m->in_value = 1;
    }
    if (copy(m, at, n)) return -1;
    m->f[m->nf - 1].vl += (uint32_t)n;
    return 0;
}

/* RFC 9110 §5.6.2: a field name is a token. http-parser lets a name end
 * in whitespace ("Host : x"), which RFC 9112 §5.1 says a server MUST
 * refuse with 400: two parsers reading one head two ways is how requests
 * are smuggled. */
static int is_token(const char *s, size_t n)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    if (!n) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch && strchr(tchar, ch))))
            return 0;
    }
    return 1;
}

/* RFC 9112 §5: whitespace around a field value is not part of it;
 * http-parser drops what leads, not what trails. */
static void trim_values(h1_msg *m, int from)
{
    for (int i = from; i < m->nf; i++)
        while (m->f[i].vl && (m->head[m->f[i].v + m->f[i].vl - 1] == ' ' ||
                              m->head[m->f[i].v + m->f[i].vl - 1] == '\t'))
            m->f[i].vl--;
}

static int on_headers_complete(http_parser *p)
{
    h1_msg *m = p->data;
    trim_values(m, 0);
    /* HTTP/1.0 and 1.1 only (RFC 9112 §2.3): http-parser reads a line
     * without a version as HTTP/0.9 and goes on with fields, which no
     * other parser would */
    if (!m->response && p->http_major != 1) {
        m->bad = "not an HTTP/1.x request (RFC 9112 §2.3)";
        return -1;
    }
    if (!m->response)
        for (int i = 0; i < m->nf; i++)
            if (!is_token(m->head + m->f[i].n, m->f[i].nl)) {
                m->bad = "field name that is not a token, or whitespace before its colon "
                         "(RFC 9112 §5.1)";
                return -1;
            }
    m->head_done = 1;
    /* the head's size as it came, near enough: the line, "name: value\r\n"
     * per field, the blank line */
    size_t w =
        m->response ? 9 + 3 + 1 + m->reason_len + 2 : strlen(h1_method(m)) + 1 + m->urllen + 11;
    for (int i = 0; i < m->nf; i++)
        w += m->f[i].nl + m->f[i].vl + 4;
    m->head_wire = (uint32_t)(w + 2);
    m->ntrailer_from = m->nf;
    m->in_value = 0;
    /* the framing as the head says: http-parser counts hp.content_length
     * down through the body, and a trailer field can change hp.flags */
    m->content_length = m->hp.flags & F_CONTENTLENGTH ? (int64_t)m->hp.content_length : -1;
    m->chunked = (m->hp.flags & F_CHUNKED) != 0;
    if (m->on_head && m->on_head(m)) return -1;
    /* a response to HEAD, or a 1xx/204/304, has no body (RFC 9112 §6.3) */
    if (m->response &&
        (m->no_body || p->status_code == 204 || p->status_code == 304 || p->status_code / 100 == 1))
        return 1;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    h1_msg *m = p->data;
    m->body_bytes += n;
    return m->on_body ? m->on_body(m, (const uint8_t *)at, n) : 0;
}

static int on_message_complete(http_parser *p)
{
    h1_msg *m = p->data;
    trim_values(m, m->ntrailer_from); /* the trailers' */
    m->msg_done = 1;
    http_parser_pause(p, 1); /* one message at a time */
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_status = on_status,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void h1_init(h1_msg *m, int response, h1_body_cb cb, void *user)
{
    memset(m, 0, sizeof(*m));
    m->response = (uint8_t)response;
    m->on_body = cb;
    m->user = user;
    m->content_length = -1;
    http_parser_init(&m->hp, response ? HTTP_RESPONSE : HTTP_REQUEST);
    m->hp.data = m;
}

void h1_reset(h1_msg *m)
{
    char *head = m->head;
    h1_body_cb cb = m->on_body;
    h1_head_cb hcb = m->on_head;
    void *user = m->user;
    uint8_t no_body = m->no_body;
    h1_init(m, m->response, cb, user);
    m->head = head;
    m->no_body = no_body;
    m->on_head = hcb;
}

void h1_free(h1_msg *m)
{
    free(m->head);
    m->head = NULL;
}

/* RFC 9112 §5.2: a server MUST refuse obs-fold (or replace it, which is
 * what http-parser does, so that a folded line would read as one value to
 * loom and as two to a parser behind it): the raw head of a request is
 * scanned for a line that starts with SP or HTAB, up to its blank line.
 * RFC 9112 §2.2: a bare CR is refused too; http-parser takes CR and any
 * octet after it for the blank line that ends the head, and this scan
 * must end where the parser does, or it reads the body or the next
 * request as this head (a verdict that would depend on where reads end).
 * Returns why the head is refused, or NULL. */
static const char *scan_head(h1_msg *m, const uint8_t *p, size_t n, size_t *end)
{
    *end = n;
    for (size_t i = 0; i < n && !m->head_scanned; i++) {
        uint8_t ch = p[i];
        *end = i + 1;
        if (m->cr && ch != '\n') return "a CR not followed by LF (RFC 9112 §2.2)";
        m->cr = ch == '\r';
        if (m->mid_line) {
            if (ch == '\n') m->mid_line = 0;
            continue;
        }
        if (ch == ' ' || ch == '\t')
            return "obs-fold: a field line that starts with whitespace (RFC 9112 §5.2)";
        if (ch == '\r') continue;
        if (ch == '\n') { /* an empty line: the head's end (or CRLF before the request line) */
            if (m->head_lines) m->head_scanned = 1;
            continue;
        }
        m->mid_line = 1;
        m->head_lines++;
    }
    return NULL;
}

/* RFC 9112 §7.1: a chunked request body, framing only (http-parser
 * reads the sizes and hands out the data): hex size, extensions, CRLF,
 * the data, CRLF; after the last chunk, trailer lines and CRLF. Each line
 * ends in CRLF, nothing else: http-parser would take any two octets after
 * a chunk's data, and a parser behind that reads them otherwise is how a
 * body smuggles a request. Returns why it is refused, or NULL. */
enum {
    CH_SIZE0,
    CH_SIZE,
    CH_EXT,
    CH_SIZE_LF,
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER0,
    CH_TRAILER,
    CH_TRAILER_LF,
    CH_FINAL_LF,
    CH_DONE
};

static int hexval(uint8_t c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static const char *scan_chunks(h1_msg *m, const uint8_t *p, size_t n, size_t *at)
{
    static const char *const crlf = "chunked framing: a line that does not end in CRLF "
                                    "(RFC 9112 §7.1)";
    for (size_t i = 0; i < n && m->chunk_state != CH_DONE; i++) {
        uint8_t ch = p[i];
        *at = i; /* where a refusal is */
        switch (m->chunk_state) {
        case CH_SIZE0:
        case CH_SIZE:
            if (hexval(ch) >= 0) {
                if (++m->chunk_digits > 15) return "chunk size too large (RFC 9112 §7.1)";
                m->chunk_left = m->chunk_left * 16 + (uint64_t)hexval(ch);
                m->chunk_state = CH_SIZE;
            } else if (m->chunk_state == CH_SIZE0) {
                return "chunk size that is not hexadecimal (RFC 9112 §7.1)";
            } else if (ch == ';' || ch == ' ' || ch == '\t') {
                m->chunk_state = CH_EXT; /* BWS and chunk extensions: skipped */
            } else if (ch == '\r') {
                m->chunk_state = CH_SIZE_LF;
            } else {
                return "chunk size that is not hexadecimal (RFC 9112 §7.1)";
            }
            break;
        case CH_EXT:
            if (ch == '\r')
                m->chunk_state = CH_SIZE_LF;
            else if (ch == '\n' || ch == 0)
                return crlf;
            break;
        case CH_SIZE_LF:
            if (ch != '\n') return crlf;
            m->chunk_digits = 0;
            m->chunk_state = m->chunk_left ? CH_DATA : CH_TRAILER0;
            break;
        case CH_DATA: {
            size_t k = n - i < m->chunk_left ? n - i : (size_t)m->chunk_left;
            m->chunk_left -= k;
            i += k - 1;
            if (!m->chunk_left) m->chunk_state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            if (ch != '\r') return crlf;
            m->chunk_state = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (ch != '\n') return crlf;
            m->chunk_state = CH_SIZE0;
            break;
        case CH_TRAILER0:
            if (ch == '\r')
                m->chunk_state = CH_FINAL_LF;
            else if (ch == '\n')
                return crlf;
            else
                m->chunk_state = CH_TRAILER;
            break;
        case CH_TRAILER:
            if (ch == '\r')
                m->chunk_state = CH_TRAILER_LF;
            else if (ch == '\n')
                return crlf;
            break;
        case CH_TRAILER_LF:
            if (ch != '\n') return crlf;
            m->chunk_state = CH_TRAILER0;
            break;
        case CH_FINAL_LF:
            if (ch != '\n') return crlf;
            m->chunk_state = CH_DONE;
            break;
        }
    }
    return NULL;
}

static ssize_t execute(h1_msg *m, const uint8_t *p, size_t n)
{
    size_t used = http_parser_execute(&m->hp, &settings, (const char *)p, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&m->hp);
    if (e != HPE_OK && e != HPE_PAUSED) {
        m->err = m->bad       ? m->bad
                 : m->too_big ? "request head too large"
                              : http_errno_description(e);
        return -1;
    }
    return (ssize_t)used;
}

ssize_t h1_feed(h1_msg *m, const uint8_t *p, size_t n)
{
    /* http-parser itself stops after an Upgrade or CONNECT message (after
     * its head, or after its body when it has one) */
    if (m->msg_done) return 0;
    if (m->response) return execute(m, p, n);
    size_t used = 0;
    if (!m->head_scanned) {
        size_t end;
        if ((m->err = scan_head(m, p, n, &end))) return -1;
        if (!m->head_scanned) return execute(m, p, n); /* the head goes on */
        /* the head ends here: the parser takes it first, so that what
         * follows is known to be a chunked body (or not) before it is read */
        ssize_t k = execute(m, p, end);
        if (k < 0 || (size_t)k < end || m->msg_done) return k;
        if (!m->head_done) {
            /* the scan saw the head end where http-parser did not (a line
             * end it reads otherwise): the framing of what follows would
             * be each one's guess, so the request is refused */
            m->err = "a request head whose end is unclear (RFC 9112 §2.2)";
            return -1;
        }
        used = end;
        p += end;
        n -= end;
    }
    const char *bad = NULL;
    if (m->chunked && m->head_done && n) {
        size_t at = 0;
        if ((bad = scan_chunks(m, p, n, &at))) n = at; /* what comes before it is read */
    }
    ssize_t k = n ? execute(m, p, n) : 0;
    if (k >= 0 && bad) {
        m->err = bad;
        return -1;
    }
    return k < 0 ? k : (ssize_t)(used + (size_t)k);
}

int h1_eof(h1_msg *m)
{
    if (m->msg_done) return 0;
    http_parser_execute(&m->hp, &settings, NULL, 0);
    return m->msg_done ? 0 : -1;
}

const char *h1_field(const h1_msg *m, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (int i = 0; i < m->nf; i++)
        if (m->f[i].nl == nl && !strncasecmp(m->head + m->f[i].n, name, nl)) {
            *len = m->f[i].vl;
            return m->head + m->f[i].v;
        }
    *len = 0;
    return NULL;
}

size_t h1_fields(const h1_msg *m, int from, int to, loom_hpack_field *out)
{
    size_t n = 0;
    for (int i = from; i < to && n < H1_MAX_FIELDS; i++) {
        const char *nm, *v;
        size_t nl, vl;
        h1_field_at(m, i, &nm, &nl, &v, &vl);
        out[n++] = (loom_hpack_field){(const uint8_t *)nm, nl, (const uint8_t *)v, vl, 0};
    }
    return n;
}

void h1_field_at(const h1_msg *m, int i, const char **name, size_t *nl, const char **value,
                 size_t *vl)
{
    *name = m->head + m->f[i].n;
    *nl = m->f[i].nl;
    *value = m->head + m->f[i].v;
    *vl = m->f[i].vl;
}

const char *h1_method(const h1_msg *m)
{
    return http_method_str((enum http_method)m->hp.method);
}

const char *h1_target(const h1_msg *m, size_t *len)
{
    *len = m->urllen;
    return m->head ? m->head + m->url : "";
}

int h1_status(const h1_msg *m)
{
    return (int)m->hp.status_code;
}

int h1_keep_alive(const h1_msg *m)
{
    return http_should_keep_alive(&m->hp);
}

int h1_chunked(const h1_msg *m)
{
    return m->chunked;
}

int64_t h1_content_length(const h1_msg *m)
{
    return m->content_length;
}

/* ---- the h2c Upgrade ---- */

static int b64url_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v;
        char ch = s[i];
        if (ch >= 'A' && ch <= 'Z')
            v = ch - 'A';
        else if (ch >= 'a' && ch <= 'z')
            v = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9')
            v = ch - '0' + 52;
        else if (ch == '-' || ch == '+')
            v = 62;
        else if (ch == '_' || ch == '/')
            v = 63;
        else if (ch == '=')
            break;
        else
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap) return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (int)o;
}

int h1_h2c_request(const h1_msg *m, int cleartext, uint8_t *out, size_t cap)
{
    size_t ul, sl, cl;
    const char *up = h1_field(m, "upgrade", &ul), *hs = h1_field(m, "http2-settings", &sl);
    const char *conn = h1_field(m, "connection", &cl);
    /* RFC 7540 §3.2: h2c only in cleartext, exactly one HTTP2-Settings,
     * named in Connection; a request with a body is not upgraded here */
    if (!cleartext || !up || ul != 3 || strncasecmp(up, "h2c", 3) || !hs || !conn ||
        !memmem(conn, cl, "HTTP2-Settings", 14))
        return -1;
    int n = 0;
    for (int i = 0; i < m->nf; i++)
        n += m->f[i].nl == 14 && !strncasecmp(m->head + m->f[i].n, "http2-settings", 14);
    if (n != 1) return -1;
    if (h1_chunked(m) || (h1_content_length(m) > 0)) return -1;
    int k = b64url_decode(hs, sl, out, cap);
    return k >= 0 && k % 6 == 0 ? k : -1;
}

int h1_settings_b64(const loom_setting *list, size_t n, char *out, size_t cap)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t raw[6 * 16];
    if (n > 16) return -1;
    for (size_t i = 0; i < n; i++) {
        raw[i * 6] = (uint8_t)(list[i].id >> 8);
        raw[i * 6 + 1] = (uint8_t)list[i].id;
        for (int k = 0; k < 4; k++)
            raw[i * 6 + 2 + k] = (uint8_t)(list[i].value >> (24 - 8 * k));
    }
    size_t len = n * 6, o = 0;
    if (cap < len / 3 * 4 + 4) return -1;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16;
        if (i + 1 < len) v |= (uint32_t)raw[i + 1] << 8;
        if (i + 2 < len) v |= raw[i + 2];
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        if (i + 1 < len) out[o++] = tbl[(v >> 6) & 63];
        if (i + 2 < len) out[o++] = tbl[v & 63];
    }
    out[o] = 0;
    return (int)o;
}

/* ---- writing ---- */

void h1_printf(h1_out *o, const char *fmt, ...)
{
    if (o->len >= o->cap) {
        o->overflow = 1;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) {
        o->overflow = 1;
        o->len = o->cap;
    } else {
        o->len += (size_t)n;
    }
}

/* Octets appended as they are (printf costs several times more: a
 * proxy writes a head per request). */
static void put(h1_out *o, const void *p, size_t n)
{
    if (o->overflow || n > o->cap - o->len) {
        o->overflow = 1;
        o->len = o->cap;
        return;
    }
    memcpy(o->p + o->len, p, n);
    o->len += n;
}

void h1_put(h1_out *o, const void *p, size_t n)
{
    put(o, p, n);
}

void h1_put_field(h1_out *o, const char *name, size_t nl, const char *value, size_t vl)
{
    put(o, name, nl);
    put(o, ": ", 2);
    put(o, value, vl);
    put(o, "\r\n", 2);
}

void h1_request_head(h1_out *o, const char *method, const char *target, const char *host,
                     const loom_hpack_field *f, size_t n, int64_t body_len)
{
    put(o, method, strlen(method));
    put(o, " ", 1);
    put(o, target, strlen(target));
    put(o, " HTTP/1.1\r\n", 11);
    h1_put_field(o, "Host", 4, host, strlen(host));
    for (size_t i = 0; i < n; i++) {
        if (f[i].name_len && f[i].name[0] == ':') continue;
        /* written here from host and body_len, once */
        if ((f[i].name_len == 4 && !strncasecmp((const char *)f[i].name, "host", 4)) ||
            (f[i].name_len == 14 && !strncasecmp((const char *)f[i].name, "content-length", 14)))
            continue;
        h1_put_field(o, (const char *)f[i].name, f[i].name_len, (const char *)f[i].value,
                     f[i].value_len);
    }
    if (body_len >= 0)
        h1_printf(o, "Content-Length: %lld\r\n", (long long)body_len);
    else if (body_len == -2)
        h1_printf(o, "Transfer-Encoding: chunked\r\n");
}

void h1_chunk_head(h1_out *o, size_t n)
{
    h1_printf(o, n ? "%zx\r\n" : "0\r\n\r\n", n);
}

const char *h1_reason(int status)
{
    switch (status) {
#define XX(num, name, string)                                                                      \
    case num: return #string;
        HTTP_STATUS_MAP(XX)
#undef XX
    default: return "Unknown";
    }
}

int h1_list_has(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token);
    const char *e = v + n;
    while (v < e) {
        while (v < e && (*v == ' ' || *v == '\t' || *v == ','))
            v++;
        const char *t = v;
        while (v < e && *v != ',')
            v++;
        const char *te = v;
        while (te > t && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        if ((size_t)(te - t) == tl && !strncasecmp(t, token, tl)) return 1;
    }
    return 0;
}
