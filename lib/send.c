/* The connection engine, sending side: submissions (requests, responses,
 * pushes, resets, GOAWAY, PING, priorities), field blocks cut into HEADERS
 * + CONTINUATION, and the output batches handed to the runtime: the queued
 * frames first, then DATA frames from the streams the scheduler picks,
 * bounded by the flow-control windows of RFC 9113 §6.9. */
#include <stdio.h>
#include <string.h>

#include "hpack_internal.h"
#include "conn_internal.h"

#define BATCH_BYTES (256u << 10) /* DATA octets gathered into one batch */

/* Room in b for a field block of at most len octets as frames (before it
 * is encoded: once the encoder has run, the block must go out, or HPACK
 * falls out of step). */
static int frames_room(loom_conn *c, loom__buf *b, size_t len, int bounded)
{
    size_t maxf = c->settings.peer[LOOM_SETTINGS_MAX_FRAME_SIZE];
    size_t worst = len + 4 + (len / (maxf - 4) + 1) * LOOM_FRAME_HEADER_LEN;
    return loom__queue_room(c, b, worst, bounded);
}

/* Appends an encoded field block to b as HEADERS (or PUSH_PROMISE) and as
 * many CONTINUATION frames as the peer's MAX_FRAME_SIZE needs (RFC 9113
 * §4.3: one contiguous block), in the room frames_room() made. */
static int put_frames(loom_conn *c, loom__buf *b, uint8_t type, int32_t sid, int32_t promised,
                      uint8_t flags, const uint8_t *blk, size_t total)
{
    size_t maxf = c->settings.peer[LOOM_SETTINGS_MAX_FRAME_SIZE];
    c->stats.hbytes_out += (uint64_t)total;
    size_t off = 0;
    int first = 1;
    do {
        size_t room = first && type == LOOM_FRAME_PUSH_PROMISE ? maxf - 4 : maxf;
        size_t k = total - off < room ? total - off : room;
        int last = off + k == total;
        loom_frame fr;
        memset(&fr, 0, sizeof(fr));
        fr.hd.stream_id = (uint32_t)sid;
        if (!first) {
            fr.hd.type = LOOM_FRAME_CONTINUATION;
            fr.hd.flags = last ? LOOM_FLAG_END_HEADERS : 0;
            fr.u.continuation.block = blk + off;
            fr.u.continuation.len = k;
        } else if (type == LOOM_FRAME_PUSH_PROMISE) {
            fr.hd.type = type;
            fr.hd.flags = (uint8_t)(flags | (last ? LOOM_FLAG_END_HEADERS : 0));
            fr.u.push_promise.promised_id = (uint32_t)promised;
            fr.u.push_promise.block = blk + off;
            fr.u.push_promise.len = k;
        } else {
            fr.hd.type = type;
            fr.hd.flags = (uint8_t)(flags | (last ? LOOM_FLAG_END_HEADERS : 0));
            fr.u.headers.block = blk + off;
            fr.u.headers.len = k;
        }
        int w = loom_frame_pack(&fr, b->p + b->len, b->cap - b->len);
        if (w < 0) return w;
        b->len += (size_t)w;
        loom__trace_sent(c, &fr);
        off += k;
        first = 0;
    } while (off < total);
    return 0;
}

/* Encodes a field block and appends it to b as frames (put_frames). */
static int put_block(loom_conn *c, loom__buf *b, uint8_t type, int32_t sid, int32_t promised,
                     uint8_t flags, const loom_hpack_field *f, size_t n, int bounded, uint64_t key)
{
    size_t bound = loom_hpack_encode_bound(f, n);
    int rc = frames_room(c, b, bound, bounded);
    if (rc < 0) return rc;
    c->ebuf.len = 0;
    if (loom__buf_reserve(c->mem, &c->ebuf, bound, SIZE_MAX) < 0) return LOOM_ERR_NOMEM;
    if (!c->enc && loom__encoder_start(c) < 0) return LOOM_ERR_NOMEM;
    int len = loom__hpack_encode_keyed(c->enc, key, f, n, c->ebuf.p); /* bound octets there */
    if (len < 0) return len;
    return put_frames(c, b, type, sid, promised, flags, c->ebuf.p, (size_t)len);
}

/* ---- output batches ---- */

/* Room for n more pieces: 0, or -1 (MAX_PIECES reached, or no memory). */
static int pieces_room(loom_conn *c, size_t n)
{
    if (c->npieces + n <= c->pieces_cap) return 0;
    return loom__grow(c->mem, (void **)&c->pieces, &c->pieces_cap, c->npieces + n,
                      sizeof(*c->pieces), MAX_PIECES) < 0
               ? -1
               : 0;
}

static int add_piece(loom_conn *c, uint8_t kind, size_t off, const uint8_t *mem, int fd,
                     uint64_t foff, size_t len)
{
    if (len == 0) return 0;
    piece *last = c->npieces ? &c->pieces[c->npieces - 1] : NULL;
    if (kind == 0 && last && last->kind == 0 && last->off + last->len == off) {
        last->len += len; /* contiguous in the batch buffer */
        return 0;
    }
    if (pieces_room(c, 1) < 0) return LOOM_ERR_LIMIT;
    c->pieces[c->npieces++] = (piece){kind, fd, off, mem, foff, len};
    return 0;
}

/* §8.1: a server whose response is complete while the request is not
 * "MAY request that the client abort transmission of a request without
 * error by sending a RST_STREAM with an error code of NO_ERROR". Unless
 * the application reads on (cfg.read_after_response), the rest of the body
 * is unwanted: its window is no longer given back, what still comes is
 * dropped, and once the window is spent the stream is reset with NO_ERROR
 * (loom__drain_check). A small body already on its way just ends (some
 * clients, curl 7.88 among them, fail a request whose stream is reset
 * before their upload is done). */
static int unwanted_body(const loom_conn *c, const stream *s)
{
    return c->role == LOOM_SERVER && !c->cfg->read_after_response && !s->local &&
           s->state == ST_OPEN;
}

/* Our side of s ended (END_STREAM in the batch being built, or sent with
 * HEADERS): §5.1. A stream whose peer side had ended closes once the batch
 * is written, so that its body stays in use until then. */
static void local_end(loom_conn *c, stream *s)
{
    if (s->state == ST_HALF_CLOSED_REMOTE && c->building && loom__close_after(c, s->id) == 0)
        return;
    int drain = unwanted_body(c, s);
    loom__stream_apply(s, EV_S_END_STREAM);
    if (s->state == ST_CLOSED) {
        loom__stream_end(c, s, CLOSED_NORMAL, 0, 0, 0);
    } else if (drain) {
        s->draining = 1;
        loom__drain_check(c, s);
    }
}

/* Closes the streams whose last octets were in the batch just written. */
static void close_written(loom_conn *c)
{
    size_t n = c->nclose_after;
    c->nclose_after = 0;
    for (size_t i = 0; i < n; i++) {
        stream *s = loom__streams_find(&c->streams, c->close_after[i]);
        if (!s) continue;
        if (s->state == ST_HALF_CLOSED_REMOTE) {
            loom__stream_apply(s, EV_S_END_STREAM);
            loom__stream_end(c, s, CLOSED_NORMAL, 0, 0, 0);
        } else {
            loom__drain_check(c, s);
        }
    }
}

/* One DATA frame of s into the batch. Returns the payload octets, 0 when
 * the stream has nothing to send now, or -1 when the batch is full. */
static long emit_data(loom_conn *c, stream *s)
{
    uint64_t left = loom__body_left(s);
    /* the connection window is shut: nothing more this batch, and the
     * stream stays ready for when a WINDOW_UPDATE on stream 0 comes (only
     * a shut stream window takes a stream out of the scheduler) */
    if (left && c->flow.send_window <= 0) return -1;
    size_t want = loom__flow_send_allowed(c, s, c->settings.peer[LOOM_SETTINGS_MAX_FRAME_SIZE]);
    if (left < want) want = (size_t)left;
    if (pieces_room(c, 3) < 0) return -1; /* the frame's header, its data, trailers */
    if (loom__buf_reserve(c->mem, &c->batch, LOOM_FRAME_HEADER_LEN + (s->body.read ? want : 0),
                          SIZE_MAX) < 0)
        return -1;

    size_t hd_at = c->batch.len;
    int eof = 0;
    size_t n = want;
    if (s->body.read) {
        long r = want ? s->body.read(s->body.user, s->id, c->batch.p + hd_at + 9, want, &eof) : 0;
        if (r == LOOM_BODY_DEFER) {
            s->deferred = 1;
            loom__sched_unready(c, s);
            return 0;
        }
        if (r < 0 || (size_t)r > want) {
            loom__sched_unready(c, s);
            s->has_body = 0;
            loom_reset(c, s->id, LOOM_H2_INTERNAL_ERROR);
            return 0;
        }
        if (r == 0 && !eof && want) { /* nothing now and no end: wait */
            s->deferred = 1;
            loom__sched_unready(c, s);
            return 0;
        }
        n = (size_t)r;
    } else {
        eof = n == left;
    }
    if (n == 0 && !eof) {
        loom__sched_unready(c, s); /* window closed: back when WINDOW_UPDATE comes */
        return 0;
    }
    int trailers = eof && s->body.trailers;
    /* the last octets, or an END_STREAM; an empty body that ends in
     * trailers needs no DATA frame at all (an empty one would count
     * against the peer's flood limits) */
    if (n || !trailers) {
        loom_frame f;
        memset(&f, 0, sizeof(f));
        f.hd.type = LOOM_FRAME_DATA;
        f.hd.stream_id = (uint32_t)s->id;
        f.hd.flags = eof && !trailers ? LOOM_FLAG_END_STREAM : 0;
        f.hd.length = (uint32_t)n;
        f.u.data.len = n;
        loom_frame_hd_pack(c->batch.p + hd_at, &f.hd);
        c->batch.len += LOOM_FRAME_HEADER_LEN;
        add_piece(c, 0, hd_at, NULL, -1, 0, LOOM_FRAME_HEADER_LEN);
        if (s->body.read) {
            add_piece(c, 0, c->batch.len, NULL, -1, 0, n);
            c->batch.len += n;
        } else if (s->body.fd >= 0) {
            add_piece(c, 2, 0, NULL, s->body.fd, s->body.offset + s->body_off, n);
        } else {
            add_piece(c, 1, 0, s->body.data + s->body_off, -1, 0, n);
        }
        loom__trace_sent(c, &f);
    }
    s->body_off += n;
    loom__flow_send_consume(c, s, n);
    c->sched.ops->charge(c, s, n);
    if (eof) {
        s->has_body = 0;
        loom__sched_unready(c, s);
        if (trailers) {
            size_t before = c->batch.len;
            if (put_block(c, &c->batch, LOOM_FRAME_HEADERS, s->id, 0, LOOM_FLAG_END_STREAM,
                          s->body.trailers, s->body.n_trailers, 0, 0) < 0)
                return -1;
            add_piece(c, 0, before, NULL, -1, 0, c->batch.len - before);
        }
        local_end(c, s);
    }
    return (long)(n ? n : 1);
}

static void build_batch(loom_conn *c)
{
    /* the queued control frames and field blocks go first */
    loom__buf t = c->batch;
    c->batch = c->queue.stage;
    c->queue.stage = t;
    c->queue.stage.len = 0;
    c->queue.n_ctrl = 0;
    c->npieces = c->piece_at = c->piece_done = 0;
    if (c->batch.len) add_piece(c, 0, 0, NULL, -1, 0, c->batch.len);
    size_t total = 0;
    c->building = 1;
    while (total < BATCH_BYTES) {
        stream *s = c->sched.ops->pick(c);
        if (!s) break;
        long n = emit_data(c, s);
        if (n < 0) break;
        total += (size_t)n;
    }
    c->building = 0;
    c->batch_open = c->npieces > 0;
    if (!c->batch_open) close_written(c);
}

size_t loom_conn_send(loom_conn *c, loom_out *out, size_t max)
{
    if (!c->batch_open) build_batch(c);
    size_t k = 0;
    for (size_t i = c->piece_at; i < c->npieces && k < max; i++, k++) {
        const piece *p = &c->pieces[i];
        size_t skip = i == c->piece_at ? c->piece_done : 0;
        out[k].len = p->len - skip;
        out[k].fd = p->kind == 2 ? p->fd : -1;
        out[k].off = p->kind == 2 ? p->file_off + skip : 0;
        out[k].base = p->kind == 0   ? c->batch.p + p->off + skip
                      : p->kind == 1 ? p->mem + skip
                                     : NULL;
    }
    return k;
}

void loom_conn_sent(loom_conn *c, size_t n)
{
    while (n && c->piece_at < c->npieces) {
        piece *p = &c->pieces[c->piece_at];
        size_t left = p->len - c->piece_done;
        if (n < left) {
            c->piece_done += n;
            return;
        }
        n -= left;
        c->piece_at++;
        c->piece_done = 0;
    }
    if (c->piece_at >= c->npieces) {
        c->batch_open = 0;
        c->batch.len = 0;
        c->npieces = c->piece_at = 0;
        close_written(c);
    }
}

int loom_conn_want_write(const loom_conn *c)
{
    if (c->batch_open || c->queue.stage.len) return 1;
    return c->sched.ops->pick((loom_conn *)c) != NULL;
}

int loom_conn_done(const loom_conn *c)
{
    if (loom_conn_want_write(c)) return 0;
    if (c->dead) return 1;
    /* after GOAWAY both ways, or ours with nothing left open */
    return c->goaway.sent && !c->goaway.final_pending && c->streams.n == 0;
}

/* ---- submissions ---- */

static void set_body(stream *s, const loom_body *body)
{
    s->body = *body;
    s->body_off = 0;
    s->has_body = 1;
}

static int body_empty(const loom_body *b)
{
    return !b || (!b->read && !b->trailers && (b->fd >= 0 ? b->length == 0 : b->len == 0));
}

int32_t loom_request(loom_conn *c, const loom_hpack_field *f, size_t n, const loom_body *body)
{
    if (c->role != LOOM_CLIENT) return LOOM_ERR_STATE;
    if (c->dead || c->goaway.received || c->goaway.sent) return LOOM_ERR_STATE;
    if (c->next_local_id > LOOM_MAX_STREAM_ID) return LOOM_ERR_STATE; /* §5.1.1 */
    if (c->open_local >= c->settings.peer[LOOM_SETTINGS_MAX_CONCURRENT_STREAMS])
        return LOOM_ERR_LIMIT;
    int32_t sid = (int32_t)c->next_local_id;
    int end = body_empty(body);
    int rc = put_block(c, &c->queue.stage, LOOM_FRAME_HEADERS, sid, 0,
                       end ? LOOM_FLAG_END_STREAM : 0, f, n, 1, 0);
    if (rc < 0) return rc;
    stream *s = loom__stream_open(c, sid, ST_IDLE);
    if (!s) return LOOM_ERR_NOMEM;
    loom__stream_apply(s, EV_S_HEADERS);
    if (end) loom__stream_apply(s, EV_S_END_STREAM);
    c->next_local_id += 2;
    s->counted = 1;
    c->open_local++;
    for (size_t i = 0; i < n; i++) {
        if (LOOM__NAME_IS(&f[i], ":method"))
            s->head = f[i].value_len == 4 && !memcmp(f[i].value, "HEAD", 4);
        if (LOOM__NAME_IS(&f[i], "priority"))
            loom__priority_parse(f[i].value, f[i].value_len, &s->urgency, &s->incremental);
    }
    if (!end) {
        set_body(s, body);
        loom__sched_ready(c, s);
    }
    return sid;
}

int loom_respond(loom_conn *c, int32_t sid, const loom_hpack_field *f, size_t n,
                 const loom_body *body)
{
    return loom_respond_keyed(c, sid, f, n, 0, body);
}

/* The stream a response may be sent on (no final response sent yet), or
 * NULL. */
static stream *respondable(loom_conn *c, int32_t sid)
{
    stream *s = loom__streams_find(&c->streams, sid);
    if (!s || c->role != LOOM_SERVER) return NULL;
    if (loom__stream_transition(s->state, EV_S_HEADERS).verdict != V_OK) return NULL;
    if (s->has_body) return NULL; /* a final response was sent */
    return s;
}

/* A response's field block was queued on s: its state, and its body. */
static int responded(loom_conn *c, stream *s, int informational, int end, const loom_body *body)
{
    if (s->state == ST_RESERVED_LOCAL) s->counted = 1; /* §5.1: now half-closed (remote) */
    loom__stream_apply(s, EV_S_HEADERS);
    if (informational) return 0;
    if (end) {
        local_end(c, s);
        return 0;
    }
    set_body(s, body);
    loom__sched_ready(c, s);
    return 0;
}

int loom_respond_keyed(loom_conn *c, int32_t sid, const loom_hpack_field *f, size_t n, uint64_t key,
                       const loom_body *body)
{
    stream *s = respondable(c, sid);
    if (!s) return LOOM_ERR_STATE;
    int informational = loom__fields_informational(f, n);
    int end = !informational && body_empty(body);
    int rc = put_block(c, &c->queue.stage, LOOM_FRAME_HEADERS, sid, 0,
                       end ? LOOM_FLAG_END_STREAM : 0, f, n, 1, key);
    if (rc < 0) return rc;
    return responded(c, s, informational, end, body);
}

int loom_respond_by_key(loom_conn *c, int32_t sid, uint64_t key, const loom_body *body)
{
    stream *s = respondable(c, sid);
    if (!s) return LOOM_ERR_STATE;
    size_t len;
    int informational;
    /* the block loom__hpack_encode_keyed would copy for key: the encoder
     * is not used, so the block stays where it is while it is framed */
    const uint8_t *blk = c->enc ? loom__hpack_keyed_block(c->enc, key, &len, &informational) : NULL;
    if (!blk) return 1; /* nothing sent: the caller builds the fields */
    int end = !informational && body_empty(body);
    int rc = frames_room(c, &c->queue.stage, len, 1);
    if (rc < 0) return rc;
    rc = put_frames(c, &c->queue.stage, LOOM_FRAME_HEADERS, sid, 0, end ? LOOM_FLAG_END_STREAM : 0,
                    blk, len);
    if (rc < 0) return rc;
    return responded(c, s, informational, end, body);
}

int32_t loom_push(loom_conn *c, int32_t sid, const loom_hpack_field *req, size_t n)
{
    stream *s = loom__streams_find(&c->streams, sid);
    if (c->role != LOOM_SERVER || !s || s->local || c->goaway.sent) return LOOM_ERR_STATE;
    /* §8.4: never when the client disabled push; on an open client stream */
    if (!c->settings.peer[LOOM_SETTINGS_ENABLE_PUSH]) return LOOM_ERR_STATE;
    if (s->state != ST_OPEN && s->state != ST_HALF_CLOSED_REMOTE) return LOOM_ERR_STATE;
    loom_msg_info info;
    const char *why;
    if (loom__fields_check(req, NULL, n, LOOM_MSG_REQUEST, 0, &info, &why) < 0)
        return LOOM_ERR_INVALID;
    /* §8.4: safe and cacheable, no body: GET or HEAD; same authority */
    if (!((info.method_len == 3 && !memcmp(info.method, "GET", 3)) ||
          (info.method_len == 4 && !memcmp(info.method, "HEAD", 4))))
        return LOOM_ERR_INVALID;
    if (!info.authority || !s->authority_hash) return LOOM_ERR_INVALID;
    if (loom__authority_hash(info.authority, info.authority_len) != s->authority_hash)
        return LOOM_ERR_INVALID;
    if (c->open_local >= c->settings.peer[LOOM_SETTINGS_MAX_CONCURRENT_STREAMS])
        return LOOM_ERR_LIMIT;
    if (c->next_push_id > LOOM_MAX_STREAM_ID - 1) return LOOM_ERR_STATE;
    int32_t pid = (int32_t)c->next_push_id;
    int rc = put_block(c, &c->queue.stage, LOOM_FRAME_PUSH_PROMISE, sid, pid, 0, req, n, 1, 0);
    if (rc < 0) return rc;
    c->next_push_id += 2;
    stream *p = loom__stream_open(c, pid, ST_IDLE);
    if (!p) return LOOM_ERR_NOMEM;
    loom__stream_apply(p, EV_S_PUSH_PROMISE);
    p->pushed = 1;
    p->counted = 1;
    c->open_local++;
    p->urgency = s->urgency;
    return pid;
}

int loom_reset(loom_conn *c, int32_t sid, uint32_t code)
{
    stream *s = loom__streams_find(&c->streams, sid);
    if (!s || loom__stream_transition(s->state, EV_S_RST).verdict != V_OK) return LOOM_ERR_STATE;
    int rc = loom__queue_rst(c, sid, code, 0);
    if (rc < 0) return rc;
    loom__stream_apply(s, EV_S_RST);
    loom__stream_end(c, s, CLOSED_RESET_SENT, code, 0, 0);
    return 0;
}

int loom_ping(loom_conn *c)
{
    loom_frame f;
    memset(&f, 0, sizeof(f));
    f.hd.type = LOOM_FRAME_PING;
    uint64_t now = loom__now(c);
    memcpy(f.u.ping.opaque, &now, 8);
    c->stats.ping_sent_at = now ? now : 1;
    return loom__queue_frame(c, &f, 0);
}

int loom_goaway(loom_conn *c, uint32_t code, int graceful, const char *debug)
{
    if (c->goaway.sent && !c->goaway.final_pending) return 0;
    c->goaway.code = code;
    if (graceful && c->role == LOOM_SERVER && code == LOOM_H2_NO_ERROR && !c->goaway.sent) {
        /* §6.8: first 2^31-1, then after a round trip the real last id */
        int rc = loom__queue_goaway(c, (int32_t)LOOM_MAX_STREAM_ID, code, debug);
        if (rc < 0) return rc;
        loom_frame f;
        memset(&f, 0, sizeof(f));
        f.hd.type = LOOM_FRAME_PING;
        memcpy(f.u.ping.opaque, "loom-bye", 8);
        memcpy(c->goaway.ping, "loom-bye", 8);
        c->goaway.final_pending = 1;
        return loom__queue_frame(c, &f, 0);
    }
    c->goaway.final_pending = 0;
    return loom__queue_goaway(c, loom__last_peer_stream(c), code, debug);
}

int loom_resume(loom_conn *c, int32_t sid)
{
    stream *s = loom__streams_find(&c->streams, sid);
    if (!s || !s->has_body) return LOOM_ERR_STATE;
    s->deferred = 0;
    loom__sched_ready(c, s);
    return 0;
}

int loom_set_trailers(loom_conn *c, int32_t sid, const loom_hpack_field *f, size_t n)
{
    stream *s = loom__streams_find(&c->streams, sid);
    if (!s || !s->has_body || !s->body.read) return LOOM_ERR_STATE;
    s->body.trailers = n ? f : NULL;
    s->body.n_trailers = n;
    return 0;
}

int loom_set_priority(loom_conn *c, int32_t sid, uint8_t urgency, int incremental)
{
    if (urgency > 7) return LOOM_ERR_INVALID;
    stream *s = loom__streams_find(&c->streams, sid);
    if (s) loom__sched_set_urgency(c, s, urgency, incremental != 0);
    if (c->role == LOOM_CLIENT) {
        /* RFC 9218 §7.1 */
        char v[16];
        int len = snprintf(v, sizeof(v), incremental ? "u=%u, i" : "u=%u", (unsigned)urgency);
        loom_frame f;
        memset(&f, 0, sizeof(f));
        f.hd.type = LOOM_FRAME_PRIORITY_UPDATE;
        f.u.priority_update.stream_id = (uint32_t)sid;
        f.u.priority_update.value = (const uint8_t *)v;
        f.u.priority_update.len = (size_t)len;
        return loom__queue_frame(c, &f, 0);
    }
    return s ? 0 : LOOM_ERR_STATE;
}
