/* Test helper: a client engine and a server engine wired to each other in
 * memory, with events recorded per stream. Output is moved in chunks whose
 * size the test chooses (or random), so every frame boundary gets split. */
#ifndef LOOM_TEST_CONN_PAIR_H
#define LOOM_TEST_CONN_PAIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loom/loom.h"

#define PAIR_MAX_STREAMS 4096

typedef struct {
    int32_t id;
    int headers, trailers, informational, closed, pushed_from;
    int status;
    uint32_t close_code;
    int by_peer, retry_safe, end_stream;
    char method[16], path[256], authority[128], etag[64];
    uint8_t *body;
    size_t body_len, body_cap;
    int order; /* completion order */
} rec_stream;

typedef struct side {
    loom_conn *c;
    rec_stream st[PAIR_MAX_STREAMS];
    int nst;
    int completions;
    int goaways;
    uint32_t goaway_code, goaway_last;
    int pings, settings, settings_acks, errors, promises;
    uint64_t last_rtt_us; /* of the last PING_ACK */
    int last_error;
    int refuse_pushes; /* client: reset every promise with CANCEL */
    int frames_in[256], frames_out[256];
    uint64_t out_bytes;
} side;

static rec_stream *rec_get(side *s, int32_t id)
{
    for (int i = 0; i < s->nst; i++)
        if (s->st[i].id == id) return &s->st[i];
    if (s->nst == PAIR_MAX_STREAMS) abort();
    rec_stream *r = &s->st[s->nst++];
    memset(r, 0, sizeof(*r));
    r->id = id;
    return r;
}

static void copy_value(char *dst, size_t cap, const loom_hpack_field *f)
{
    size_t n = f->value_len < cap - 1 ? f->value_len : cap - 1;
    memcpy(dst, f->value, n);
    dst[n] = 0;
}

static int pair_on_event(loom_conn *c, const loom_event *ev, void *user)
{
    side *s = user;
    (void)c;
    rec_stream *r;
    switch (ev->type) {
    case LOOM_EV_HEADERS:
        r = rec_get(s, ev->stream_id);
        if (ev->u.headers.status && ev->u.headers.status < 200) {
            r->informational++;
            break;
        }
        r->headers++;
        r->status = ev->u.headers.status;
        r->end_stream |= ev->u.headers.end_stream;
        for (size_t i = 0; i < ev->u.headers.n; i++) {
            const loom_hpack_field *f = &ev->u.headers.fields[i];
            if (f->name_len == 7 && !memcmp(f->name, ":method", 7))
                copy_value(r->method, sizeof(r->method), f);
            if (f->name_len == 5 && !memcmp(f->name, ":path", 5))
                copy_value(r->path, sizeof(r->path), f);
            if (f->name_len == 10 && !memcmp(f->name, ":authority", 10))
                copy_value(r->authority, sizeof(r->authority), f);
            if (f->name_len == 4 && !memcmp(f->name, "etag", 4))
                copy_value(r->etag, sizeof(r->etag), f);
        }
        break;
    case LOOM_EV_TRAILERS:
        r = rec_get(s, ev->stream_id);
        r->trailers++;
        r->end_stream = 1;
        break;
    case LOOM_EV_DATA:
        r = rec_get(s, ev->stream_id);
        if (r->body_len + ev->u.data.len > r->body_cap) {
            r->body_cap = (r->body_len + ev->u.data.len) * 2 + 64;
            r->body = realloc(r->body, r->body_cap);
        }
        if (ev->u.data.len) memcpy(r->body + r->body_len, ev->u.data.data, ev->u.data.len);
        r->body_len += ev->u.data.len;
        r->end_stream |= ev->u.data.end_stream;
        break;
    case LOOM_EV_PUSH_PROMISE:
        s->promises++;
        r = rec_get(s, ev->u.push.promised_id);
        r->pushed_from = ev->stream_id;
        for (size_t i = 0; i < ev->u.push.n; i++) {
            const loom_hpack_field *f = &ev->u.push.fields[i];
            if (f->name_len == 5 && !memcmp(f->name, ":path", 5))
                copy_value(r->path, sizeof(r->path), f);
        }
        if (s->refuse_pushes) loom_reset(c, ev->u.push.promised_id, LOOM_H2_CANCEL);
        break;
    case LOOM_EV_STREAM_CLOSED:
        r = rec_get(s, ev->stream_id);
        r->closed++;
        r->close_code = ev->u.closed.error_code;
        r->by_peer = ev->u.closed.by_peer;
        r->retry_safe = ev->u.closed.retry_safe;
        r->order = ++s->completions;
        break;
    case LOOM_EV_GOAWAY:
        s->goaways++;
        s->goaway_code = ev->u.goaway.error_code;
        s->goaway_last = ev->u.goaway.last_stream_id;
        break;
    case LOOM_EV_PING_ACK:
        s->pings++;
        s->last_rtt_us = ev->u.ping.rtt_us;
        break;
    case LOOM_EV_SETTINGS: s->settings++; break;
    case LOOM_EV_SETTINGS_ACK: s->settings_acks++; break;
    case LOOM_EV_ERROR:
        s->errors++;
        s->last_error = ev->u.error.err;
        break;
    case LOOM_EV_FRAME:
        if (ev->u.frame.sent)
            s->frames_out[ev->u.frame.frame->hd.type]++;
        else
            s->frames_in[ev->u.frame.frame->hd.type]++;
        break;
    default: break;
    }
    return 0;
}

/* Moves up to `chunk` octets at a time (0: random 1..4096) from a to b.
 * Returns the octets moved. */
static size_t pair_move(side *a, side *b, size_t chunk)
{
    size_t moved = 0;
    loom_out out[16];
    uint8_t tmp[65536];
    size_t n;
    while ((n = loom_conn_send(a->c, out, 16)) > 0) {
        /* gather the first pieces into tmp, as a socket write would */
        size_t len = 0;
        for (size_t i = 0; i < n && len < sizeof(tmp); i++) {
            size_t k = out[i].len < sizeof(tmp) - len ? out[i].len : sizeof(tmp) - len;
            if (out[i].fd >= 0) {
                if (pread(out[i].fd, tmp + len, k, (off_t)out[i].off) != (ssize_t)k) abort();
            } else {
                memcpy(tmp + len, out[i].base, k);
            }
            len += k;
        }
        size_t take = chunk ? chunk : (size_t)(rand() % 4096) + 1;
        if (take > len) take = len;
        loom_conn_sent(a->c, take);
        a->out_bytes += take;
        loom_conn_recv(b->c, tmp, take);
        moved += take;
    }
    return moved;
}

/* Moves one chunk each way in turn, like two peers on a slow link, until
 * nothing moves. */
static void pair_run_interleaved(side *cl, side *sv, size_t chunk)
{
    for (int i = 0; i < 1000000; i++) {
        loom_out out[16];
        size_t m = 0;
        side *ends[2][2] = {{cl, sv}, {sv, cl}};
        for (int d = 0; d < 2; d++) {
            side *a = ends[d][0], *b = ends[d][1];
            size_t n = loom_conn_send(a->c, out, 16);
            if (!n) continue;
            size_t k = out[0].len < chunk ? out[0].len : chunk;
            uint8_t tmp[65536];
            if (k > sizeof(tmp)) k = sizeof(tmp);
            if (out[0].fd >= 0) {
                if (pread(out[0].fd, tmp, k, (off_t)out[0].off) != (ssize_t)k) abort();
            } else {
                memcpy(tmp, out[0].base, k);
            }
            loom_conn_sent(a->c, k);
            loom_conn_recv(b->c, tmp, k);
            m += k;
        }
        if (m == 0) return;
    }
    abort();
}

/* Runs both directions until nothing moves. */
static void pair_run(side *cl, side *sv, size_t chunk)
{
    for (int i = 0; i < 100000; i++) {
        size_t m = pair_move(cl, sv, chunk) + pair_move(sv, cl, chunk);
        if (m == 0) return;
    }
    abort(); /* a livelock is a bug */
}

static void side_free(side *s)
{
    for (int i = 0; i < s->nst; i++)
        free(s->st[i].body);
    loom_conn_free(s->c);
}

#define FIELD(n, v)                                                                                \
    {                                                                                              \
        (const uint8_t *)(n), sizeof(n) - 1, (const uint8_t *)(v), sizeof(v) - 1, 0                \
    }

#endif
