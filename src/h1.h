/* HTTP/1.1 (RFC 9112) on http-parser, both ways: requests for the server,
 * responses for clients; bodies (Content-Length, chunked, to the close)
 * handed out as they are parsed; keep-alive; the Upgrade to h2c on both
 * sides, with the HTTP2-Settings value encoded and decoded here only. */
#ifndef LOOM_SRC_H1_H
#define LOOM_SRC_H1_H

#include <http_parser.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loom/conn.h"

#define H1_MAX_HEAD   16384 /* request or status line and fields */
#define H1_MAX_FIELDS 100

typedef struct h1_msg h1_msg;

/* Body octets as they are parsed (chunked framing removed). Returning
 * non-zero stops the parse (h1_feed returns -1). */
typedef int (*h1_body_cb)(h1_msg *m, const uint8_t *p, size_t n);
/* The head is complete (before any of its body). Non-zero stops the parse. */
typedef int (*h1_head_cb)(h1_msg *m);

struct h1_msg {
    http_parser hp;
    char *head; /* the line's parts and the fields, copied (allocated on first use) */
    size_t headlen;
    struct {
        uint32_t n, nl, v, vl;
    } f[H1_MAX_FIELDS];
    int nf, in_value;
    int ntrailer_from; /* fields from here on are trailers (chunked) */
    uint32_t url, urllen, reason_len;
    uint8_t response;
    uint8_t head_done; /* the line and fields are in */
    uint8_t msg_done;  /* the whole message is in */
    uint8_t no_body;   /* response to HEAD (or 204/304): no body whatever it says */
    uint8_t too_big;
    uint8_t chunked; /* as the head said (h1_chunked) */
    /* requests: the raw head scanned for obs-fold (a line that starts
     * with SP or HTAB, RFC 9112 §5.2), which http-parser would join, and
     * for a bare CR (§2.2) */
    uint8_t mid_line, head_scanned, cr;
    uint32_t head_lines;
    /* requests: a chunked body's framing checked as strictly as RFC 9112
     * §7.1 says (http-parser takes any two octets after chunk data) */
    uint8_t chunk_state, chunk_digits;
    uint64_t chunk_left;
    const char *bad; /* a rule a callback found broken */
    uint64_t body_bytes;
    int64_t content_length; /* as the head said, -1: none (h1_content_length) */
    uint32_t head_wire;     /* octets of the head as it came (line, fields, blank line) */
    h1_body_cb on_body;
    h1_head_cb on_head; /* optional */
    void *user;
    const char *err; /* why the message is malformed */
};

/* A parser of requests (response 0) or responses (1); set m->on_head after
 * for a callback at the end of each head. */
void h1_init(h1_msg *m, int response, h1_body_cb on_body, void *user);
/* Ready for the next message on the connection (keep-alive). */
void h1_reset(h1_msg *m);
void h1_free(h1_msg *m);

/* Parses octets: returns how many were used (it stops after a whole
 * message, and after the head of an Upgrade or CONNECT), or -1 for a
 * malformed or oversized message (m->err). */
ssize_t h1_feed(h1_msg *m, const uint8_t *p, size_t n);
/* The peer closed: ends a body that runs to the close. Returns 0 when the
 * message is whole, -1 when it was cut short. */
int h1_eof(h1_msg *m);

/* A field's value by name (case-insensitive; the first of its name), NULL
 * when absent. */
const char *h1_field(const h1_msg *m, const char *name, size_t *len);
/* Field i (name, value). */
/* Fields from..to-1 (the head's: 0..m->ntrailer_from; the trailers':
 * m->ntrailer_from..m->nf) as HPACK fields pointing into m; returns how
 * many (out has room for H1_MAX_FIELDS). */
size_t h1_fields(const h1_msg *m, int from, int to, loom_hpack_field *out);
void h1_field_at(const h1_msg *m, int i, const char **name, size_t *nl, const char **value,
                 size_t *vl);
const char *h1_method(const h1_msg *m);
const char *h1_target(const h1_msg *m, size_t *len);
int h1_status(const h1_msg *m);
/* Whether a comma-separated field value (Connection, Upgrade, TE) lists
 * token, in any case (RFC 9110 §5.6.1). */
int h1_list_has(const char *v, size_t n, const char *token);
int h1_keep_alive(const h1_msg *m);
/* Whether the head said chunked (a trailer field does not change it). */
int h1_chunked(const h1_msg *m);
/* The head's Content-Length (still right once the body is in), or -1 when
 * there is none or the head is not in yet. */
int64_t h1_content_length(const h1_msg *m);

/* The h2c Upgrade a server may take (RFC 7540 §3.2, kept by RFC 9113
 * §3.1): "Upgrade: h2c", "Connection: Upgrade, HTTP2-Settings" and one
 * HTTP2-Settings, decoded into settings (a SETTINGS payload). Returns its
 * length, or -1 when the request does not ask for h2c (or cannot). */
int h1_h2c_request(const h1_msg *m, int cleartext, uint8_t *settings, size_t cap);

/* The HTTP2-Settings value (base64url, no padding) of a SETTINGS payload
 * holding list[0..n). Returns its length, or -1 when cap is too small. */
int h1_settings_b64(const loom_setting *list, size_t n, char *out, size_t cap);

/* ---- writing ---- */

/* Appends printf-style text to a buffer; the result is clipped at cap. */
typedef struct {
    char *p;
    size_t len, cap;
    int overflow;
} h1_out;
void h1_printf(h1_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Octets appended as they are. */
void h1_put(h1_out *o, const void *p, size_t n);
/* "name: value\r\n", copied (no formatting). */
void h1_put_field(h1_out *o, const char *name, size_t nl, const char *value, size_t vl);

/* A request head: the request line, Host, the fields given (HTTP/2 names
 * taken as they are; pseudo-header fields skipped), and Content-Length
 * when body_len >= 0 (-2: Transfer-Encoding: chunked). */
void h1_request_head(h1_out *o, const char *method, const char *target, const char *host,
                     const loom_hpack_field *f, size_t n, int64_t body_len);

/* One chunk of a chunked body (n 0: the last chunk, no trailers). */
void h1_chunk_head(h1_out *o, size_t n);

/* The reason phrase of a status code ("Not Found"). */
const char *h1_reason(int status);

#endif
