/* The connection engine, sending side: submissions (requests, responses,
 * pushes, resets, GOAWAY, PING), field blocks cut into HEADERS +
 * CONTINUATION, the DATA scheduler (RFC 9218 urgency and incremental,
 * bounded by the flow-control windows of RFC 9113 §6.9), and the output
 * batches handed to the runtime. */
#include <stdio.h>
#include <string.h>

#include "conn_internal.h"

#define BATCH_BYTES (256u << 10) /* DATA octets gathered into one batch */

static int reserve(loom_conn *c, bytes *b, size_t extra)
{
    if (b->len + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra)
        cap *= 2;
    uint8_t *p = loom_realloc(c->mem, b->p, cap);
    if (!p) return LOOM_ERR_NOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static void trace_sent(loom_conn *c, const loom_frame *f)
{
    c->frames_out++;
    if (!c->cb) return;
    /* the length as written (frames are built with it left to the packer) */
    loom_frame copy = *f;
    copy.hd.length = (uint32_t)loom_frame_payload_len(f);
    loom_event ev = {.type = LOOM_EV_FRAME, .stream_id = (int32_t)f->hd.stream_id};
    ev.u.frame.sent = 1;
    ev.u.frame.frame = &copy;
    loom_emit(c, &ev);
}

/* Frames answering the peer (ACKs, resets) are bounded: a peer that sends
 * but never reads cannot make us queue without end (RFC 9113 §10.5). */
static int stage_room(loom_conn *c, size_t n, int from_peer)
{
    if (c->stage.len + n > c->cfg.max_send_buffer) return LOOM_ERR_LIMIT;
    if (from_peer && ++c->n_ctrl > c->cfg.max_control_queue) return LOOM_ERR_LIMIT;
    return reserve(c, &c->stage, n);
}

int loom_stage_frame(loom_conn *c, const loom_frame *f, int from_peer)
{
    size_t n = LOOM_FRAME_HEADER_LEN + loom_frame_payload_len(f);
    int rc = stage_room(c, n, from_peer);
    if (rc < 0) return rc;
    rc = loom_frame_pack(f, c->stage.p + c->stage.len, c->stage.cap - c->stage.len);
    if (rc < 0) return rc;
    c->stage.len += (size_t)rc;
    trace_sent(c, f);
    return 0;
}

int loom_stage_settings(loom_conn *c, const loom_setting *list, size_t n)
{
    loom_frame f;
    memset(&f, 0, sizeof(f));
    f.hd.type = LOOM_FRAME_SETTINGS;
    f.u.settings.list = list;
    f.u.settings.count = n;
    return loom_stage_frame(c, &f, 0);
}

int loom_stage_rst(loom_conn *c, int32_t sid, uint32_t code, int from_peer)
{
    loom_frame f;
    memset(&f, 0, sizeof(f));
    f.hd.type = LOOM_FRAME_RST_STREAM;
    f.hd.stream_id = (uint32_t)sid;
    f.u.rst_stream.error_code = code;
    return loom_stage_frame(c, &f, from_peer);
}

int loom_stage_window_update(loom_conn *c, int32_t sid, uint32_t inc)
{
    loom_frame f;
    memset(&f, 0, sizeof(f));
    f.hd.type = LOOM_FRAME_WINDOW_UPDATE;
    f.hd.stream_id = (uint32_t)sid;
    f.u.window_update.increment = inc;
    return loom_stage_frame(c, &f, 1);
}

int loom_stage_goaway(loom_conn *c, int32_t last, uint32_t code, const char *debug)
{
    loom_frame f;
    memset(&f, 0, sizeof(f));
    f.hd.type = LOOM_FRAME_GOAWAY;
    f.u.goaway.last_stream_id = (uint32_t)last;
    f.u.goaway.error_code = code;
    f.u.goaway.debug = (const uint8_t *)debug;
    f.u.goaway.debug_len = debug ? strlen(debug) : 0;
    c->goaway_sent = 1;
    c->goaway_last_sent = last;
    /* a GOAWAY goes out even past the queue bound: it is the last word */
    size_t n = LOOM_FRAME_HEADER_LEN + loom_frame_payload_len(&f);
    if (reserve(c, &c->stage, n) < 0) return LOOM_ERR_NOMEM;
    c->stage.len += (size_t)loom_frame_pack(&f, c->stage.p + c->stage.len, n);
    trace_sent(c, &f);
    return 0;
}

/* Encodes a field block and appends it to b as HEADERS (or PUSH_PROMISE)
 * and as many CONTINUATION frames as the peer's MAX_FRAME_SIZE needs
 * (RFC 9113 §4.3: one contiguous block). */
static int put_block(loom_conn *c, bytes *b, uint8_t type, int32_t sid, int32_t promised,
                     uint8_t flags, const loom_hpack_field *f, size_t n, int bounded)
{
    size_t bound = loom_hpack_encode_bound(f, n);
    size_t maxf = c->peer[LOOM_SETTINGS_MAX_FRAME_SIZE];
    size_t worst = bound + 4 + (bound / (maxf - 4) + 1) * LOOM_FRAME_HEADER_LEN;
    if (bounded && b->len + worst > c->cfg.max_send_buffer) return LOOM_ERR_LIMIT;
    c->ebuf.len = 0;
    if (reserve(c, &c->ebuf, bound) < 0 || reserve(c, b, worst) < 0) return LOOM_ERR_NOMEM;
    int len = loom_hpack_encode(c->enc, f, n, c->ebuf.p, bound);
    if (len < 0) return len;
    c->hbytes_out += (uint64_t)len;
    const uint8_t *blk = c->ebuf.p;
    size_t off = 0, total = (size_t)len;
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
        trace_sent(c, &fr);
        off += k;
        first = 0;
    } while (off < total);
    return 0;
}

/* ---- the scheduler ---- */

void loom_ready(loom_conn *c, stream *s)
{
    if (s->ready || !s->has_body || s->deferred || s->state == ST_CLOSED) return;
    s->ready = 1;
    loom_prio_ready(s, 1);
    s->next_ready = NULL;
    s->prev_ready = c->ready_tail[s->urgency];
    if (s->prev_ready)
        s->prev_ready->next_ready = s;
    else
        c->ready_head[s->urgency] = s;
    c->ready_tail[s->urgency] = s;
}

void loom_unready(loom_conn *c, stream *s)
{
    if (!s->ready) return;
    if (s->prev_ready)
        s->prev_ready->next_ready = s->next_ready;
    else
        c->ready_head[s->urgency] = s->next_ready;
    if (s->next_ready)
        s->next_ready->prev_ready = s->prev_ready;
    else
        c->ready_tail[s->urgency] = s->prev_ready;
    s->ready = 0;
    loom_prio_ready(s, 0);
    s->next_ready = s->prev_ready = NULL;
}

static uint64_t body_left(const stream *s)
{
    if (s->body.read) return UINT64_MAX;
    if (s->body.fd >= 0) return s->body.length - s->body_off;
    return s->body.len - s->body_off;
}

/* RFC 9218 §4: the most urgent level first; within a level a
 * non-incremental stream is sent whole before the next, incremental ones
 * share in turn. Streams without window are passed over. */
static stream *pick(loom_conn *c)
{
    for (int u = 0; u < 8; u++)
        for (stream *s = c->ready_head[u]; s; s = s->next_ready)
            if ((s->send_window > 0 && c->send_window > 0) || body_left(s) == 0) return s;
    return NULL;
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
    if (c->npieces == MAX_PIECES) return LOOM_ERR_LIMIT;
    c->pieces[c->npieces++] = (piece){kind, fd, off, mem, foff, len};
    return 0;
}

static void local_end(loom_conn *c, stream *s);

/* One DATA frame of s into the batch. Returns the payload octets, 0 when
 * the stream has nothing to send now, or -1 when the batch is full. */
static long emit_data(loom_conn *c, stream *s)
{
    uint64_t left = body_left(s);
    /* the connection window is shut: nothing more this batch, and the
     * stream stays ready for when a WINDOW_UPDATE on stream 0 comes (only
     * a shut stream window takes a stream out of the lists) */
    if (left && c->send_window <= 0) return -1;
    int64_t win = c->send_window < s->send_window ? c->send_window : s->send_window;
    size_t want = c->peer[LOOM_SETTINGS_MAX_FRAME_SIZE];
    if (win < (int64_t)want) want = win > 0 ? (size_t)win : 0;
    if (left < want) want = (size_t)left;
    if (c->npieces + 3 > MAX_PIECES) return -1;
    if (reserve(c, &c->batch, LOOM_FRAME_HEADER_LEN + (s->body.read ? want : 0)) < 0) return -1;

    size_t hd_at = c->batch.len;
    int eof = 0;
    size_t n = want;
    if (s->body.read) {
        long r = want ? s->body.read(s->body.user, s->id, c->batch.p + hd_at + 9, want, &eof) : 0;
        if (r == LOOM_BODY_DEFER) {
            s->deferred = 1;
            loom_unready(c, s);
            return 0;
        }
        if (r < 0 || (size_t)r > want) {
            loom_unready(c, s);
            s->has_body = 0;
            loom_reset(c, s->id, LOOM_H2_INTERNAL_ERROR);
            return 0;
        }
        if (r == 0 && !eof && want) { /* nothing now and no end: wait */
            s->deferred = 1;
            loom_unready(c, s);
            return 0;
        }
        n = (size_t)r;
    } else {
        eof = n == left;
    }
    if (n == 0 && !eof) {
        loom_unready(c, s); /* window closed: back when WINDOW_UPDATE comes */
        return 0;
    }
    int trailers = eof && s->body.trailers;
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
    trace_sent(c, &f);
    s->body_off += n;
    loom_prio_charge(c, s, n);
    c->send_window -= (int64_t)n;
    s->send_window -= (int64_t)n;
    if (eof) {
        s->has_body = 0;
        loom_unready(c, s);
        if (trailers) {
            size_t before = c->batch.len;
            if (put_block(c, &c->batch, LOOM_FRAME_HEADERS, s->id, 0, LOOM_FLAG_END_STREAM,
                          s->body.trailers, s->body.n_trailers, 0) < 0)
                return -1;
            add_piece(c, 0, before, NULL, -1, 0, c->batch.len - before);
        }
        local_end(c, s);
    } else if (s->incremental && s->next_ready) {
        /* §4: incremental streams take turns */
        loom_unready(c, s);
        loom_ready(c, s);
    }
    return (long)(n ? n : 1);
}

/* Closes the streams whose last octets were in the batch just written. */
static void close_written(loom_conn *c)
{
    for (size_t i = 0; i < c->nclose_after; i++) {
        stream *s = loom_stream_find(c, c->close_after[i]);
        if (s && s->state == ST_HALF_CLOSED_REMOTE) loom_stream_close(c, s, CLOSED_NORMAL, 0, 0, 0);
    }
    c->nclose_after = 0;
}

static void build_batch(loom_conn *c)
{
    /* the staged control frames and field blocks go first */
    bytes t = c->batch;
    c->batch = c->stage;
    c->stage = t;
    c->stage.len = 0;
    c->n_ctrl = 0;
    c->npieces = c->piece_at = c->piece_done = 0;
    if (c->batch.len) add_piece(c, 0, 0, NULL, -1, 0, c->batch.len);
    size_t total = 0;
    c->building = 1;
    /* RFC 9218 §2.1: RFC 7540 signals count only from a peer that did not
     * opt out, and not once it uses the priority field */
    int tree = c->prio7540 && !c->prio_field && c->peer[LOOM_SETTINGS_NO_RFC7540_PRIORITIES] != 1;
    while (total < BATCH_BYTES) {
        stream *s = tree ? loom_prio_pick(c) : pick(c);
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
    if (c->batch_open || c->stage.len) return 1;
    return pick((loom_conn *)c) != NULL;
}

int loom_conn_done(const loom_conn *c)
{
    if (loom_conn_want_write(c)) return 0;
    if (c->dead) return 1;
    /* after GOAWAY both ways, or ours with nothing left open */
    return c->goaway_sent && !c->goaway_final_pending && c->nstreams == 0;
}

/* ---- submissions ---- */

/* Our side of s ended (END_STREAM sent): §5.1 transitions. A stream whose
 * last DATA is in the batch being written closes once the batch is written,
 * so that its body stays in use until then. */
static void local_end(loom_conn *c, stream *s)
{
    if (s->state == ST_OPEN) {
        s->state = ST_HALF_CLOSED_LOCAL;
    } else if (s->state == ST_HALF_CLOSED_REMOTE) {
        if (c->building && c->nclose_after < MAX_PIECES)
            c->close_after[c->nclose_after++] = s->id;
        else
            loom_stream_close(c, s, CLOSED_NORMAL, 0, 0, 0);
    }
}

static void set_body(stream *s, const loom_body *body)
{
    if (!body) return;
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
    if (c->dead || c->goaway_received || c->goaway_sent) return LOOM_ERR_STATE;
    if (c->next_local_id > LOOM_MAX_STREAM_ID) return LOOM_ERR_STATE; /* §5.1.1 */
    if (c->open_local >= c->peer[LOOM_SETTINGS_MAX_CONCURRENT_STREAMS]) return LOOM_ERR_LIMIT;
    int32_t sid = (int32_t)c->next_local_id;
    int end = body_empty(body);
    int rc = put_block(c, &c->stage, LOOM_FRAME_HEADERS, sid, 0, end ? LOOM_FLAG_END_STREAM : 0, f,
                       n, 1);
    if (rc < 0) return rc;
    stream *s = loom_stream_new(c, sid, end ? ST_HALF_CLOSED_LOCAL : ST_OPEN);
    if (!s) return LOOM_ERR_NOMEM;
    c->next_local_id += 2;
    s->counted = 1;
    c->open_local++;
    for (size_t i = 0; i < n; i++) {
        if (loom_name_is(&f[i], ":method"))
            s->head = f[i].value_len == 4 && !memcmp(f[i].value, "HEAD", 4);
        if (loom_name_is(&f[i], "priority"))
            loom_priority_parse(f[i].value, f[i].value_len, &s->urgency, &s->incremental);
    }
    if (!end) {
        set_body(s, body);
        loom_ready(c, s);
    }
    return sid;
}

int loom_respond(loom_conn *c, int32_t sid, const loom_hpack_field *f, size_t n,
                 const loom_body *body)
{
    stream *s = loom_stream_find(c, sid);
    if (!s || c->role != LOOM_SERVER) return LOOM_ERR_STATE;
    if (s->state != ST_OPEN && s->state != ST_HALF_CLOSED_REMOTE && s->state != ST_RESERVED_LOCAL)
        return LOOM_ERR_STATE;
    int informational = n && f[0].name_len == 7 && !memcmp(f[0].name, ":status", 7) &&
                        f[0].value_len == 3 && f[0].value[0] == '1';
    if (s->has_body) return LOOM_ERR_STATE; /* a final response was sent */
    int end = !informational && body_empty(body);
    int rc = put_block(c, &c->stage, LOOM_FRAME_HEADERS, sid, 0, end ? LOOM_FLAG_END_STREAM : 0, f,
                       n, 1);
    if (rc < 0) return rc;
    if (s->state == ST_RESERVED_LOCAL) {
        s->state = ST_HALF_CLOSED_REMOTE; /* §5.1: reserved (local) → half-closed (remote) */
        s->counted = 1;
    }
    if (informational) return 0;
    if (end) {
        local_end(c, s);
        return 0;
    }
    set_body(s, body);
    loom_ready(c, s);
    return 0;
}

int32_t loom_push(loom_conn *c, int32_t sid, const loom_hpack_field *req, size_t n)
{
    stream *s = loom_stream_find(c, sid);
    if (c->role != LOOM_SERVER || !s || s->local || c->goaway_sent) return LOOM_ERR_STATE;
    /* §8.4: never when the client disabled push; on an open client stream */
    if (!c->peer[LOOM_SETTINGS_ENABLE_PUSH]) return LOOM_ERR_STATE;
    if (s->state != ST_OPEN && s->state != ST_HALF_CLOSED_REMOTE) return LOOM_ERR_STATE;
    loom_msg_info info;
    const char *why;
    if (loom_fields_check(req, n, LOOM_MSG_REQUEST, 0, &info, &why) < 0) return LOOM_ERR_INVALID;
    /* §8.4: safe and cacheable, no body: GET or HEAD; same authority */
    if (!((info.method_len == 3 && !memcmp(info.method, "GET", 3)) ||
          (info.method_len == 4 && !memcmp(info.method, "HEAD", 4))))
        return LOOM_ERR_INVALID;
    if (!info.authority || !s->authority_hash) return LOOM_ERR_INVALID;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < info.authority_len; i++)
        h = (h ^ info.authority[i]) * 1099511628211ull;
    if (h != s->authority_hash) return LOOM_ERR_INVALID;
    if (c->open_local >= c->peer[LOOM_SETTINGS_MAX_CONCURRENT_STREAMS]) return LOOM_ERR_LIMIT;
    if (c->next_push_id > LOOM_MAX_STREAM_ID - 1) return LOOM_ERR_STATE;
    int32_t pid = (int32_t)c->next_push_id;
    int rc = put_block(c, &c->stage, LOOM_FRAME_PUSH_PROMISE, sid, pid, 0, req, n, 1);
    if (rc < 0) return rc;
    c->next_push_id += 2;
    stream *p = loom_stream_new(c, pid, ST_RESERVED_LOCAL);
    if (!p) return LOOM_ERR_NOMEM;
    p->pushed = 1;
    p->counted = 1;
    c->open_local++;
    p->urgency = s->urgency;
    return pid;
}

int loom_reset(loom_conn *c, int32_t sid, uint32_t code)
{
    stream *s = loom_stream_find(c, sid);
    if (!s || s->state == ST_CLOSED) return LOOM_ERR_STATE;
    int rc = loom_stage_rst(c, sid, code, 0);
    if (rc < 0) return rc;
    loom_stream_close(c, s, CLOSED_RESET_SENT, code, 0, 0);
    return 0;
}

int loom_ping(loom_conn *c)
{
    loom_frame f;
    memset(&f, 0, sizeof(f));
    f.hd.type = LOOM_FRAME_PING;
    uint64_t now = loom_now(c);
    memcpy(f.u.ping.opaque, &now, 8);
    c->ping_sent_at = now ? now : 1;
    return loom_stage_frame(c, &f, 0);
}

int loom_goaway(loom_conn *c, uint32_t code, int graceful, const char *debug)
{
    if (c->goaway_sent && !c->goaway_final_pending) return 0;
    c->goaway_code = code;
    if (graceful && c->role == LOOM_SERVER && code == LOOM_H2_NO_ERROR && !c->goaway_sent) {
        /* §6.8: first 2^31-1, then after a round trip the real last id */
        int rc = loom_stage_goaway(c, (int32_t)LOOM_MAX_STREAM_ID, code, debug);
        if (rc < 0) return rc;
        loom_frame f;
        memset(&f, 0, sizeof(f));
        f.hd.type = LOOM_FRAME_PING;
        memcpy(f.u.ping.opaque, "loom-bye", 8);
        memcpy(c->goaway_ping, "loom-bye", 8);
        c->goaway_final_pending = 1;
        return loom_stage_frame(c, &f, 0);
    }
    c->goaway_final_pending = 0;
    return loom_stage_goaway(c, loom_last_peer_stream(c), code, debug);
}

void loom_consumed(loom_conn *c, int32_t sid, size_t n)
{
    stream *s = loom_stream_find(c, sid);
    if (s && c->cfg.manual_window) loom_recv_credit(c, s, 0, n);
}

int loom_resume(loom_conn *c, int32_t sid)
{
    stream *s = loom_stream_find(c, sid);
    if (!s || !s->has_body) return LOOM_ERR_STATE;
    s->deferred = 0;
    loom_ready(c, s);
    return 0;
}

int loom_set_priority(loom_conn *c, int32_t sid, uint8_t urgency, int incremental)
{
    if (urgency > 7) return LOOM_ERR_INVALID;
    stream *s = loom_stream_find(c, sid);
    if (s) {
        loom_unready(c, s);
        s->urgency = urgency;
        s->incremental = incremental != 0;
        loom_ready(c, s);
    }
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
        return loom_stage_frame(c, &f, 0);
    }
    return s ? 0 : LOOM_ERR_STATE;
}

void *loom_stream_get_user(loom_conn *c, int32_t sid)
{
    stream *s = loom_stream_find(c, sid);
    return s ? s->user : NULL;
}

int loom_stream_set_user(loom_conn *c, int32_t sid, void *user)
{
    stream *s = loom_stream_find(c, sid);
    if (!s) return LOOM_ERR_STATE;
    s->user = user;
    return 0;
}

void loom_conn_get_stats(const loom_conn *c, loom_conn_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->open_streams = (uint32_t)c->nstreams;
    st->last_peer_stream = c->last_peer_id;
    st->send_window = c->send_window;
    st->recv_window = c->recv_window;
    st->rtt_us = c->rtt_us;
    st->frames_in = c->frames_in;
    st->frames_out = c->frames_out;
    st->header_bytes_in = c->hbytes_in;
    st->header_bytes_out = c->hbytes_out;
}

uint32_t loom_conn_peer_setting(const loom_conn *c, uint16_t id)
{
    return id < sizeof(c->peer) / sizeof(c->peer[0]) ? c->peer[id] : 0;
}

/* ---- our SETTINGS after the preface ---- */

int loom_submit_settings(loom_conn *c, const loom_setting *list, size_t n)
{
    if (c->dead) return LOOM_ERR_STATE;
    if (c->settings_unacked >= 8) return LOOM_ERR_LIMIT; /* bounded */
    for (size_t i = 0; i < n; i++) {
        uint32_t v = list[i].value;
        switch (list[i].id) {
        case LOOM_SETTINGS_ENABLE_PUSH:
            if (v > 1 || (v == 1 && c->role == LOOM_SERVER)) return LOOM_ERR_INVALID;
            break;
        case LOOM_SETTINGS_INITIAL_WINDOW_SIZE:
            if (v > LOOM_MAX_WINDOW) return LOOM_ERR_INVALID;
            break;
        case LOOM_SETTINGS_MAX_FRAME_SIZE:
            if (v < LOOM_MAX_FRAME_SIZE_MIN || v > LOOM_MAX_FRAME_SIZE_MAX) return LOOM_ERR_INVALID;
            break;
        default: break;
        }
    }
    int rc = loom_stage_settings(c, list, n);
    if (rc < 0) return rc;
    if (!c->settings_unacked) c->settings_sent_at = loom_now(c);
    memset(&c->pending[c->settings_unacked], 0xff, sizeof(c->pending[0]));
    /* A raised limit binds at once (the peer may use it as soon as it reads
     * the frame); a lowered one once acknowledged (RFC 9113 §6.5.3), since
     * until then the peer may still act on the old value. */
    for (size_t i = 0; i < n; i++) {
        uint32_t v = list[i].value;
        switch (list[i].id) {
        case LOOM_SETTINGS_HEADER_TABLE_SIZE:
            if (v >= c->cfg.header_table_size)
                loom_hpack_decoder_set_max_table_size(c->dec, v);
            else
                c->pending[c->settings_unacked].header_table_size = v;
            c->cfg.header_table_size = v;
            break;
        case LOOM_SETTINGS_INITIAL_WINDOW_SIZE:
            if (v >= c->cfg.initial_window_size) {
                int64_t delta = (int64_t)v - c->cfg.initial_window_size;
                for (size_t b = 0; b < c->nbuckets; b++)
                    for (stream *s = c->buckets[b]; s; s = s->next_hash)
                        s->recv_window += delta;
                c->cfg.initial_window_size = v;
            } else {
                c->pending[c->settings_unacked].initial_window_size = v;
            }
            break;
        case LOOM_SETTINGS_MAX_FRAME_SIZE:
            if (v >= c->reader.max_frame_size)
                loom_frame_reader_set_max(&c->reader, v);
            else
                c->pending[c->settings_unacked].max_frame_size = v;
            c->cfg.max_frame_size = v;
            break;
        case LOOM_SETTINGS_ENABLE_PUSH:
            if (v)
                c->cfg.enable_push = 1;
            else
                c->pending[c->settings_unacked].enable_push = 0;
            break;
        case LOOM_SETTINGS_MAX_CONCURRENT_STREAMS: c->cfg.max_concurrent_streams = v; break;
        case LOOM_SETTINGS_MAX_HEADER_LIST_SIZE:
            c->cfg.max_header_list_size = v;
            loom_hpack_decoder_set_max_list_size(c->dec, v);
            break;
        default: break;
        }
    }
    c->settings_unacked++;
    return 0;
}

void loom_settings_acked(loom_conn *c)
{
    const pending_settings *p = &c->pending[0];
    if (p->header_table_size != UINT32_MAX)
        loom_hpack_decoder_set_max_table_size(c->dec, p->header_table_size);
    if (p->initial_window_size != UINT32_MAX) {
        int64_t delta = (int64_t)p->initial_window_size - c->cfg.initial_window_size;
        for (size_t b = 0; b < c->nbuckets; b++)
            for (stream *s = c->buckets[b]; s; s = s->next_hash)
                s->recv_window += delta;
        c->cfg.initial_window_size = p->initial_window_size;
    }
    if (p->max_frame_size != UINT32_MAX) loom_frame_reader_set_max(&c->reader, p->max_frame_size);
    if (p->enable_push == 0) c->cfg.enable_push = 0;
    c->settings_unacked--;
    memmove(&c->pending[0], &c->pending[1], sizeof(c->pending[0]) * (size_t)c->settings_unacked);
    c->settings_sent_at = loom_now(c);
}
