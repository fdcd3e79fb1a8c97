/* Test helper: one side of an HTTP/2 connection written by hand. Frames are
 * built octet by octet (not with loom's packer) and fed to an engine; what
 * the engine writes is collected (file pieces read with pread) and parsed
 * back into frames. Include after <cmocka.h>. */
#ifndef LOOM_TESTS_H2_WIRE_H
#define LOOM_TESTS_H2_WIRE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loom/loom.h"

/* ---- building input ---- */

typedef struct {
    uint8_t *b;
    size_t n, cap;
} wire;

static inline void w_bytes(wire *w, const void *p, size_t n)
{
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2 + 64;
        w->b = realloc(w->b, w->cap);
    }
    if (n) memcpy(w->b + w->n, p, n);
    w->n += n;
}

static inline void w_u8(wire *w, uint32_t v)
{
    uint8_t c = (uint8_t)v;
    w_bytes(w, &c, 1);
}

static inline void w_u16(wire *w, uint32_t v)
{
    w_u8(w, v >> 8);
    w_u8(w, v);
}

static inline void w_u32(wire *w, uint32_t v)
{
    w_u16(w, v >> 16);
    w_u16(w, v);
}

/* RFC 9113 §4.1 frame header */
static inline void w_head(wire *w, uint32_t len, uint8_t type, uint8_t flags, uint32_t sid)
{
    w_u8(w, len >> 16);
    w_u16(w, len);
    w_u8(w, type);
    w_u8(w, flags);
    w_u32(w, sid);
}

/* SETTINGS from (id, value) pairs; n pairs. */
static inline void w_settings(wire *w, const uint32_t (*s)[2], size_t n)
{
    w_head(w, (uint32_t)(6 * n), 0x4, 0, 0);
    for (size_t i = 0; i < n; i++) {
        w_u16(w, s[i][0]);
        w_u32(w, s[i][1]);
    }
}

static inline void w_settings_ack(wire *w)
{
    w_head(w, 0, 0x4, 0x1, 0);
}

static inline void w_window_update(wire *w, uint32_t sid, uint32_t inc)
{
    w_head(w, 4, 0x8, 0, sid);
    w_u32(w, inc);
}

/* DATA of n octets of `fill`, padded with pad octets when pad >= 0. */
static inline void w_data(wire *w, uint32_t sid, size_t n, int pad, int end, uint8_t fill)
{
    uint32_t len = (uint32_t)(n + (pad >= 0 ? (size_t)pad + 1 : 0));
    w_head(w, len, 0x0, (uint8_t)((end ? 0x1 : 0) | (pad >= 0 ? 0x8 : 0)), sid);
    if (pad >= 0) w_u8(w, (uint32_t)pad);
    for (size_t i = 0; i < n; i++)
        w_u8(w, fill);
    for (int i = 0; i < pad; i++)
        w_u8(w, 0);
}

static inline void w_rst(wire *w, uint32_t sid, uint32_t code)
{
    w_head(w, 4, 0x3, 0, sid);
    w_u32(w, code);
}

static inline void w_ping(wire *w, uint8_t tag)
{
    w_head(w, 8, 0x6, 0, 0);
    for (int i = 0; i < 8; i++)
        w_u8(w, tag);
}

/* A request's HEADERS: :method (GET or POST), :scheme https, :path /,
 * :authority a.example, all from static-table indexes or literals without
 * indexing (RFC 7541 §6.1, §6.2.2), so every block is the same. */
static inline void w_request(wire *w, uint32_t sid, int post, int end_stream)
{
    static const uint8_t auth[] = {0x01, 9, 'a', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e'};
    w_head(w, 3 + sizeof(auth), 0x1, (uint8_t)(0x4 | (end_stream ? 0x1 : 0)), sid);
    w_u8(w, post ? 0x83 : 0x82);
    w_u8(w, 0x87);
    w_u8(w, 0x84);
    w_bytes(w, auth, sizeof(auth));
}

/* The client's connection preface: magic, then SETTINGS. */
static inline void w_preface(wire *w, const uint32_t (*s)[2], size_t n)
{
    w_bytes(w, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    w_settings(w, s, n);
}

/* Feeds everything written so far; returns what loom_conn_recv() said. */
static inline int w_feed(wire *w, loom_conn *c)
{
    int rc = loom_conn_recv(c, w->b, w->n);
    w->n = 0;
    return rc;
}

/* ---- collecting output ---- */

/* Writes out everything c has to say into *out, in whole pieces. */
static inline size_t collect(loom_conn *c, wire *out)
{
    size_t before = out->n;
    loom_out o[64];
    size_t k;
    while ((k = loom_conn_send(c, o, 64)) > 0) {
        size_t total = 0;
        for (size_t i = 0; i < k; i++) {
            if (o[i].fd >= 0) {
                uint8_t *tmp = malloc(o[i].len);
                if (pread(o[i].fd, tmp, o[i].len, (off_t)o[i].off) != (ssize_t)o[i].len) abort();
                w_bytes(out, tmp, o[i].len);
                free(tmp);
            } else {
                w_bytes(out, o[i].base, o[i].len);
            }
            total += o[i].len;
        }
        loom_conn_sent(c, total);
    }
    return out->n - before;
}

/* ---- parsing output ---- */

typedef struct {
    uint8_t type, flags;
    uint32_t sid, length;
    const uint8_t *payload; /* DATA data, a field block fragment */
    size_t len;
    uint32_t value; /* RST_STREAM / GOAWAY code, WINDOW_UPDATE increment */
    uint8_t pad;
} rec_frame;

typedef struct {
    rec_frame f[4096];
    size_t n;
} frames;

/* Parses in (all of it whole frames; in must outlive fr) into fr. */
static inline void parse_frames(const uint8_t *in, size_t len, frames *fr)
{
    loom_frame_reader r;
    loom_frame_reader_init(&r, LOOM_MAX_FRAME_SIZE_MAX, NULL);
    fr->n = 0;
    while (len) {
        loom_frame f;
        loom_frame_error e;
        size_t used;
        int rc = loom_frame_reader_next(&r, in, len, &used, &f, &e);
        if (rc <= 0) fail_msg("engine output does not parse (%d): %s", rc, rc ? e.reason : "cut");
        in += used;
        len -= used;
        if (fr->n == sizeof(fr->f) / sizeof(fr->f[0])) fail_msg("too many frames");
        rec_frame *x = &fr->f[fr->n++];
        memset(x, 0, sizeof(*x));
        x->type = f.hd.type;
        x->flags = f.hd.flags;
        x->sid = f.hd.stream_id;
        x->length = f.hd.length;
        x->pad = f.pad_len;
        switch (f.hd.type) {
        case 0x0: x->payload = f.u.data.data, x->len = f.u.data.len; break;
        case 0x1: x->payload = f.u.headers.block, x->len = f.u.headers.len; break;
        case 0x5:
            x->payload = f.u.push_promise.block, x->len = f.u.push_promise.len;
            x->value = f.u.push_promise.promised_id;
            break;
        case 0x9: x->payload = f.u.continuation.block, x->len = f.u.continuation.len; break;
        case 0x3: x->value = f.u.rst_stream.error_code; break;
        case 0x7: x->value = f.u.goaway.error_code; break;
        case 0x8: x->value = f.u.window_update.increment; break;
        default: break;
        }
    }
    loom_frame_reader_free(&r);
}

/* How many frames of a type (on sid, or any stream when sid < 0). */
static inline size_t count_frames(const frames *fr, uint8_t type, long sid)
{
    size_t n = 0;
    for (size_t i = 0; i < fr->n; i++)
        n += fr->f[i].type == type && (sid < 0 || fr->f[i].sid == (uint32_t)sid);
    return n;
}

/* DATA payload octets on sid. */
static inline size_t data_octets(const frames *fr, uint32_t sid)
{
    size_t n = 0;
    for (size_t i = 0; i < fr->n; i++)
        if (fr->f[i].type == 0x0 && fr->f[i].sid == sid) n += fr->f[i].len;
    return n;
}

/* The first frame of a type on sid (sid < 0: any), or NULL. */
static inline const rec_frame *find_frame(const frames *fr, uint8_t type, long sid)
{
    for (size_t i = 0; i < fr->n; i++)
        if (fr->f[i].type == type && (sid < 0 || fr->f[i].sid == (uint32_t)sid)) return &fr->f[i];
    return NULL;
}

#endif
