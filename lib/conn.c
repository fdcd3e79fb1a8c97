/* The connection engine, receiving side: the preface, frame dispatch, the
 * stream state machine of RFC 9113 §5.1 as the peer drives it, field blocks,
 * flow control of what we receive, and the defences of §10.5. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <string.h>
#include <time.h>

#include "conn_internal.h"

static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN 24

void loom_config_default(loom_config *cfg, loom_role role)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->header_table_size = 4096;
    cfg->enable_push = role == LOOM_CLIENT;
    cfg->max_concurrent_streams = 100;
    /* Large enough that a bulk transfer on loopback is not window-bound. */
    cfg->initial_window_size = 1u << 20;
    cfg->max_frame_size = LOOM_MAX_FRAME_SIZE_MIN;
    cfg->max_header_list_size = LOOM_HPACK_DEFAULT_MAX_LIST_SIZE;
    cfg->connection_window = 16u << 20;
    cfg->no_rfc7540_priorities = 1;
    cfg->window_ms = 1000;
    cfg->max_peer_resets = 200;
    cfg->max_pings = 100;
    cfg->max_settings = 100;
    cfg->max_empty_frames = 200;
    cfg->max_priority_frames = 1000;
    cfg->max_continuations = 32;
    cfg->max_header_block = 2 * LOOM_HPACK_DEFAULT_MAX_LIST_SIZE;
    cfg->max_control_queue = 1000;
    cfg->max_closed_streams = 128;
    cfg->max_send_buffer = 1u << 20;
}

uint64_t loom_now(loom_conn *c)
{
    if (c->cfg.now_ms) return c->cfg.now_ms(c->user);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int loom_emit(loom_conn *c, loom_event *ev)
{
    return c->cb ? c->cb(c, ev, c->user) : 0;
}

loom_conn *loom_conn_new(loom_role role, const loom_config *cfg, loom_on_event on_event, void *user)
{
    loom_config def;
    if (!cfg) {
        loom_config_default(&def, role);
        cfg = &def;
    }
    const loom_mem *mem = cfg->mem ? cfg->mem : loom_mem_default();
    if (cfg->max_frame_size < LOOM_MAX_FRAME_SIZE_MIN ||
        cfg->max_frame_size > LOOM_MAX_FRAME_SIZE_MAX ||
        cfg->initial_window_size > LOOM_MAX_WINDOW || cfg->connection_window > LOOM_MAX_WINDOW ||
        cfg->connection_window < 65535)
        return NULL;
    loom_conn *c = loom_malloc(mem, sizeof(*c));
    if (!c) return NULL;
    memset(c, 0, sizeof(*c));
    c->role = role;
    c->cfg = *cfg;
    c->mem = mem;
    c->cb = on_event;
    c->user = user;
    if (c->role == LOOM_SERVER) c->cfg.enable_push = 0;
    /* RFC 9113 §6.5.2 initial values, until the peer's SETTINGS */
    c->peer[LOOM_SETTINGS_HEADER_TABLE_SIZE] = 4096;
    c->peer[LOOM_SETTINGS_ENABLE_PUSH] = 1;
    c->peer[LOOM_SETTINGS_MAX_CONCURRENT_STREAMS] = UINT32_MAX;
    c->peer[LOOM_SETTINGS_INITIAL_WINDOW_SIZE] = 65535;
    c->peer[LOOM_SETTINGS_MAX_FRAME_SIZE] = LOOM_MAX_FRAME_SIZE_MIN;
    c->peer[LOOM_SETTINGS_MAX_HEADER_LIST_SIZE] = UINT32_MAX;
    c->send_window = 65535;
    c->recv_window = c->cfg.connection_window;
    c->next_local_id = role == LOOM_CLIENT ? 1 : 2;
    c->next_push_id = 2;
    c->preface_got = role == LOOM_SERVER ? 0 : PREFACE_LEN;
    loom_frame_reader_init(&c->reader, c->cfg.max_frame_size, mem);
    /* RFC 9113 §6.5.2: both ends start at 4096. A larger local size binds
     * as soon as our SETTINGS is sent; a smaller one once acknowledged. */
    c->dec =
        loom_hpack_decoder_new(LOOM_HPACK_DEFAULT_TABLE_SIZE, c->cfg.max_header_list_size, mem);
    if (c->dec && c->cfg.header_table_size > LOOM_HPACK_DEFAULT_TABLE_SIZE)
        loom_hpack_decoder_set_max_table_size(c->dec, c->cfg.header_table_size);
    c->enc = loom_hpack_encoder_new(mem);
    if (!c->dec || !c->enc) {
        loom_conn_free(c);
        return NULL;
    }
    c->win_start = loom_now(c);

    /* Our preface (RFC 9113 §3.4): the client magic, then SETTINGS, then
     * the connection window beyond the default 65535. */
    if (role == LOOM_CLIENT) {
        if (c->stage.cap < PREFACE_LEN) {
            c->stage.p = loom_malloc(mem, 256);
            if (!c->stage.p) {
                loom_conn_free(c);
                return NULL;
            }
            c->stage.cap = 256;
        }
        memcpy(c->stage.p, preface, PREFACE_LEN);
        c->stage.len = PREFACE_LEN;
    }
    loom_setting s[8];
    size_t n = 0;
    s[n++] = (loom_setting){LOOM_SETTINGS_HEADER_TABLE_SIZE, c->cfg.header_table_size};
    if (role == LOOM_CLIENT) s[n++] = (loom_setting){LOOM_SETTINGS_ENABLE_PUSH, c->cfg.enable_push};
    s[n++] = (loom_setting){LOOM_SETTINGS_MAX_CONCURRENT_STREAMS, c->cfg.max_concurrent_streams};
    s[n++] = (loom_setting){LOOM_SETTINGS_INITIAL_WINDOW_SIZE, c->cfg.initial_window_size};
    s[n++] = (loom_setting){LOOM_SETTINGS_MAX_FRAME_SIZE, c->cfg.max_frame_size};
    s[n++] = (loom_setting){LOOM_SETTINGS_MAX_HEADER_LIST_SIZE, c->cfg.max_header_list_size};
    if (c->cfg.no_rfc7540_priorities)
        s[n++] = (loom_setting){LOOM_SETTINGS_NO_RFC7540_PRIORITIES, 1};
    if (role == LOOM_SERVER && c->cfg.enable_connect_protocol)
        s[n++] = (loom_setting){LOOM_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1};
    int rc = loom_stage_settings(c, s, n);
    if (rc == 0 && c->cfg.connection_window > 65535)
        rc = loom_stage_window_update(c, 0, c->cfg.connection_window - 65535);
    if (rc < 0) {
        loom_conn_free(c);
        return NULL;
    }
    c->settings_unacked = 1;
    c->settings_sent_at = loom_now(c);
    /* a table smaller than the initial 4096 binds once acknowledged */
    memset(&c->pending[0], 0xff, sizeof(c->pending[0]));
    if (c->cfg.header_table_size < LOOM_HPACK_DEFAULT_TABLE_SIZE)
        c->pending[0].header_table_size = c->cfg.header_table_size;
    return c;
}

void loom_conn_free(loom_conn *c)
{
    if (!c) return;
    /* streams still open end here: the application hears of each (CANCEL)
     * so it can release what it tied to them */
    for (size_t b = 0; b < c->nbuckets; b++)
        while (c->buckets[b]) {
            stream *s = c->buckets[b];
            if (s->state == ST_CLOSED) { /* mid-close in a callback: just unlink */
                c->buckets[b] = s->next_hash;
                s->next_hash = c->free_streams;
                c->free_streams = s;
                continue;
            }
            loom_stream_close(c, s, CLOSED_NORMAL, LOOM_H2_CANCEL, 0, 0);
        }
    loom_frame_reader_free(&c->reader);
    loom_hpack_decoder_free(c->dec);
    loom_hpack_encoder_free(c->enc);
    loom_streams_free(c);
    loom_free(c->mem, c->hb.p);
    loom_free(c->mem, c->fields);
    loom_free(c->mem, c->fb.p);
    loom_free(c->mem, c->stage.p);
    loom_free(c->mem, c->batch.p);
    loom_free(c->mem, c->ebuf.p);
    loom_free(c->mem, c);
}

/* ---- errors ---- */

/* The last stream the peer opened: a client's are the pushes it accepted
 * (RFC 9113 §6.8). */
int32_t loom_last_peer_stream(const loom_conn *c)
{
    return c->role == LOOM_CLIENT ? c->last_promised_id : c->last_peer_id;
}

/* A connection error (RFC 9113 §5.4.1): GOAWAY with the code, then nothing
 * more from the peer is processed. */
static int conn_error(loom_conn *c, int err, const char *why)
{
    if (c->dead) return c->err;
    c->dead = 1;
    c->err = err;
    /* §6.8: the last stream id sent MUST NOT increase: streams ignored
     * after an earlier GOAWAY do not count */
    int32_t last = loom_last_peer_stream(c);
    if (c->goaway_sent && c->goaway_last_sent < last) last = c->goaway_last_sent;
    loom_stage_goaway(c, last, loom_err_h2_code(err), why);
    loom_event ev = {.type = LOOM_EV_ERROR};
    ev.u.error.err = err;
    ev.u.error.reason = why;
    loom_emit(c, &ev);
    return err;
}

/* A stream error (§5.4.2): RST_STREAM, and the stream is closed. */
static int stream_error(loom_conn *c, int32_t sid, uint32_t code)
{
    stream *s = loom_stream_find(c, sid);
    int rc = loom_stage_rst(c, sid, code, 1);
    if (rc < 0)
        return conn_error(c, LOOM_ERR_ENHANCE_YOUR_CALM, "peer does not read (RFC 9113 §10.5)");
    if (s)
        loom_stream_close(c, s, CLOSED_RESET_SENT, code, 0, 0);
    else /* §5.1: frames after our RST_STREAM are ignored, not answered */
        loom_stream_remember(c, sid, CLOSED_RESET_SENT);
    return 0;
}

/* Rate counters of §10.5 defences, per cfg.window_ms. */
static int count(loom_conn *c, uint32_t *n, uint32_t max, const char *why)
{
    uint64_t now = loom_now(c);
    if (now - c->win_start >= c->cfg.window_ms) {
        c->win_start = now;
        c->n_resets = c->n_pings = c->n_settings = c->n_empty = c->n_prio = 0;
    }
    if (++*n > max) return conn_error(c, LOOM_ERR_ENHANCE_YOUR_CALM, why);
    return 0;
}

/* ---- idle / closed classification (§5.1) ---- */

static int is_idle(const loom_conn *c, int32_t id)
{
    int ours = (id & 1) == (c->role == LOOM_CLIENT);
    /* a server's own streams are the ones it promised (next_push_id) */
    if (ours) return id >= (c->role == LOOM_SERVER ? c->next_push_id : c->next_local_id);
    if (id & 1) return id > c->last_peer_id;
    return id > c->last_promised_id; /* a push stream the server has not promised */
}

/* ---- receive flow control ---- */

void loom_recv_credit(loom_conn *c, stream *s, size_t conn_n, size_t stream_n)
{
    /* Give a window back once half of it was used: few WINDOW_UPDATEs, and
     * the sender never stalls on a full window. */
    c->recv_unacked += (uint32_t)conn_n;
    if (c->recv_unacked >= c->cfg.connection_window / 2 &&
        loom_stage_window_update(c, 0, c->recv_unacked) == 0) {
        c->recv_window += c->recv_unacked;
        c->recv_unacked = 0;
    }
    /* a stream whose peer side has ended needs no more window */
    if (s && (s->state == ST_OPEN || s->state == ST_HALF_CLOSED_LOCAL)) {
        s->recv_unacked += (uint32_t)stream_n;
        if (s->recv_unacked >= c->cfg.initial_window_size / 2 &&
            loom_stage_window_update(c, s->id, s->recv_unacked) == 0) {
            s->recv_window += s->recv_unacked;
            s->recv_unacked = 0;
        }
    }
}

/* ---- frames ---- */

static int on_data(loom_conn *c, const loom_frame *f)
{
    int32_t sid = (int32_t)f->hd.stream_id;
    size_t flow = f->hd.length; /* §6.9.1: the whole payload counts, padding too */
    stream *s = loom_stream_find(c, sid);

    /* §6.9.1: connection window first: exceeding it is a connection error. */
    if ((int64_t)flow > c->recv_window)
        return conn_error(c, LOOM_ERR_FLOW_CONTROL,
                          "DATA beyond the connection window (RFC 9113 §6.9.1)");
    c->recv_window -= (int64_t)flow;

    if (!s) {
        if (is_idle(c, sid))
            return conn_error(c, LOOM_ERR_PROTOCOL, "DATA on an idle stream (RFC 9113 §5.1)");
        /* closed: the octets still count against the connection window
         * and are given back at once */
        loom_recv_credit(c, NULL, flow, 0);
        if (loom_stream_closed_how(c, sid) == CLOSED_RESET_SENT) return 0; /* §5.1: ignored */
        return stream_error(c, sid, LOOM_H2_STREAM_CLOSED);
    }
    if (s->state == ST_RESERVED_LOCAL || s->state == ST_RESERVED_REMOTE)
        return conn_error(c, LOOM_ERR_PROTOCOL, "DATA on a reserved stream (RFC 9113 §5.1)");
    if (s->state != ST_OPEN && s->state != ST_HALF_CLOSED_LOCAL) {
        loom_recv_credit(c, NULL, flow, 0);
        return stream_error(c, sid, LOOM_H2_STREAM_CLOSED);
    }
    if ((int64_t)flow > s->recv_window) {
        loom_recv_credit(c, NULL, flow, 0);
        return stream_error(c, sid, LOOM_H2_FLOW_CONTROL_ERROR);
    }
    s->recv_window -= (int64_t)flow;
    if (s->in != IN_BODY) {
        /* DATA before the (final) HEADERS, or after trailers: malformed */
        loom_recv_credit(c, NULL, flow, 0);
        return stream_error(c, sid, LOOM_H2_PROTOCOL_ERROR);
    }
    int end = (f->hd.flags & LOOM_FLAG_END_STREAM) != 0;
    if (f->u.data.len == 0 && !end &&
        count(c, &c->n_empty, c->cfg.max_empty_frames, "empty DATA flood (CVE-2019-9518)") < 0)
        return c->err;
    s->received += f->u.data.len;
    /* §8.1.1: content-length must match the DATA received. */
    if (s->content_length >= 0 && (s->received > (uint64_t)s->content_length ||
                                   (end && s->received != (uint64_t)s->content_length))) {
        loom_recv_credit(c, NULL, flow, 0);
        return stream_error(c, sid, LOOM_H2_PROTOCOL_ERROR);
    }
    if (end) {
        s->in = IN_DONE;
        s->state = s->state == ST_OPEN ? ST_HALF_CLOSED_REMOTE : ST_CLOSED;
    }
    loom_event ev = {.type = LOOM_EV_DATA, .stream_id = sid};
    ev.u.data.data = f->u.data.data;
    ev.u.data.len = f->u.data.len;
    ev.u.data.end_stream = end;
    int rc = loom_emit(c, &ev);
    /* The connection window is always refilled as data arrives; a stream's
     * only as the application consumes it when windows are manual, so a
     * slow reader pushes back on its stream alone. Padding is consumed at
     * once. The callback may have closed the stream: look it up again. */
    s = loom_stream_find(c, sid);
    loom_recv_credit(c, s, flow, c->cfg.manual_window ? flow - f->u.data.len : flow);
    if (s && s->state == ST_CLOSED) loom_stream_close(c, s, CLOSED_NORMAL, 0, 0, 0);
    return rc;
}

/* Collects decoded fields into the connection's field arena. */
static int collect_field(void *user, const loom_hpack_field *f, loom_hpack_rep rep)
{
    (void)rep;
    loom_conn *c = user;
    if (c->nfields == c->fields_cap) {
        size_t cap = c->fields_cap ? c->fields_cap * 2 : 32;
        loom_hpack_field *p = loom_realloc(c->mem, c->fields, cap * sizeof(*p));
        if (!p) return LOOM_ERR_NOMEM;
        c->fields = p;
        c->fields_cap = cap;
    }
    size_t need = c->fb.len + f->name_len + f->value_len;
    if (need > c->fb.cap || !c->fb.p) {
        size_t cap = c->fb.cap ? c->fb.cap : 1024;
        while (cap < need)
            cap *= 2;
        uint8_t *p = loom_realloc(c->mem, c->fb.p, cap);
        if (!p) return LOOM_ERR_NOMEM;
        /* field pointers are offsets until the block is done */
        c->fb.p = p;
        c->fb.cap = cap;
    }
    loom_hpack_field *d = &c->fields[c->nfields++];
    d->name = (const uint8_t *)(uintptr_t)c->fb.len;
    memcpy(c->fb.p + c->fb.len, f->name, f->name_len);
    c->fb.len += f->name_len;
    d->value = (const uint8_t *)(uintptr_t)c->fb.len;
    memcpy(c->fb.p + c->fb.len, f->value, f->value_len);
    c->fb.len += f->value_len;
    d->name_len = f->name_len;
    d->value_len = f->value_len;
    d->flags = f->flags;
    return 0;
}

static uint64_t hash64(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* A whole field block arrived: decode it and act on it. */
static int end_block(loom_conn *c)
{
    int32_t sid = c->hb_stream;
    uint8_t type = c->hb_type;
    int end_stream = c->hb_end_stream, refused = c->hb_reset;
    int32_t promised = c->hb_promised;
    c->hb_stream = 0;
    c->nfields = 0;
    c->fb.len = 0;
    c->hbytes_in += c->hb.len;

    loom_hpack_error he;
    int rc = loom_hpack_decode(c->dec, c->hb.p, c->hb.len, collect_field, c, &he);
    c->hb.len = 0;
    if (rc == LOOM_ERR_NOMEM) return conn_error(c, rc, "out of memory");
    if (rc < 0 && rc != LOOM_ERR_LIMIT)
        return conn_error(c, LOOM_ERR_COMPRESSION, he.reason); /* §4.3 */
    for (size_t i = 0; i < c->nfields; i++) {
        c->fields[i].name = c->fb.p + (uintptr_t)c->fields[i].name;
        c->fields[i].value = c->fb.p + (uintptr_t)c->fields[i].value;
    }
    if (refused) return 0; /* decoded to keep HPACK in step, nothing more */

    stream *s = loom_stream_find(c, type == LOOM_FRAME_PUSH_PROMISE ? promised : sid);
    if (!s) return 0;
    if (rc == LOOM_ERR_LIMIT) {
        /* §10.5.1: a header section larger than we take; the stream is
         * refused, the connection goes on. */
        return stream_error(c, s->id, LOOM_H2_REFUSED_STREAM);
    }

    loom_msg_info info;
    const char *why = NULL;
    loom_event ev = {.stream_id = sid};

    if (type == LOOM_FRAME_PUSH_PROMISE) {
        /* §8.4: a promised request is a GET or HEAD that announces no
         * content, with the :authority the server claims to be */
        if (loom_fields_check(c->fields, c->nfields, LOOM_MSG_REQUEST, 0, &info, &why) < 0 ||
            !((info.method_len == 3 && !memcmp(info.method, "GET", 3)) ||
              (info.method_len == 4 && !memcmp(info.method, "HEAD", 4))) ||
            info.content_length > 0 || !info.authority) {
            return stream_error(c, promised, LOOM_H2_PROTOCOL_ERROR);
        }
        s->head = info.method_len == 4;
        ev.type = LOOM_EV_PUSH_PROMISE;
        ev.u.push.promised_id = promised;
        ev.u.push.fields = c->fields;
        ev.u.push.n = c->nfields;
        return loom_emit(c, &ev);
    }

    int trailers = s->in == IN_BODY;
    loom_msg_kind kind = trailers                 ? LOOM_MSG_TRAILERS
                         : c->role == LOOM_SERVER ? LOOM_MSG_REQUEST
                                                  : LOOM_MSG_RESPONSE;
    if (loom_fields_check(c->fields, c->nfields, kind, c->cfg.enable_connect_protocol, &info,
                          &why) < 0)
        return stream_error(c, sid, LOOM_H2_PROTOCOL_ERROR);
    if (trailers && !end_stream) return stream_error(c, sid, LOOM_H2_PROTOCOL_ERROR); /* §8.1 */

    int informational = kind == LOOM_MSG_RESPONSE && info.status < 200;
    if (informational) {
        /* §8.1: 1xx cannot end a stream; 101 is not for HTTP/2 (§8.6) */
        if (end_stream || info.status == 101) return stream_error(c, sid, LOOM_H2_PROTOCOL_ERROR);
    } else if (!trailers) {
        s->content_length = info.content_length;
        if (kind == LOOM_MSG_RESPONSE && (s->head || info.status == 204 || info.status == 304))
            s->content_length = -1; /* no body follows whatever it says */
        if (kind == LOOM_MSG_REQUEST) {
            if (info.has_priority) c->prio_field = 1;
            s->urgency = info.urgency;
            s->incremental = info.incremental;
            if (info.authority) s->authority_hash = hash64(info.authority, info.authority_len);
        }
        if (end_stream && s->content_length > 0)
            return stream_error(c, sid, LOOM_H2_PROTOCOL_ERROR);
        s->in = IN_BODY;
    }
    if (end_stream) {
        s->in = IN_DONE;
        if (s->state == ST_OPEN)
            s->state = ST_HALF_CLOSED_REMOTE;
        else if (s->state == ST_HALF_CLOSED_LOCAL)
            s->state = ST_CLOSED;
    }
    ev.type = trailers ? LOOM_EV_TRAILERS : LOOM_EV_HEADERS;
    ev.u.headers.fields = c->fields;
    ev.u.headers.n = c->nfields;
    ev.u.headers.end_stream = end_stream;
    ev.u.headers.status = kind == LOOM_MSG_RESPONSE ? info.status : 0;
    rc = loom_emit(c, &ev);
    /* the callback may have reset or answered the stream: look it up again */
    s = loom_stream_find(c, sid);
    if (s && s->state == ST_CLOSED) loom_stream_close(c, s, CLOSED_NORMAL, 0, 0, 0);
    return rc;
}

static int add_fragment(loom_conn *c, const uint8_t *p, size_t n)
{
    /* CONTINUATION flood (2024): bounded frames and octets per block */
    if (++c->hb_frames > c->cfg.max_continuations + 1)
        return conn_error(c, LOOM_ERR_ENHANCE_YOUR_CALM,
                          "too many CONTINUATION frames (CONTINUATION flood)");
    if (c->hb.len + n > c->cfg.max_header_block)
        return conn_error(c, LOOM_ERR_ENHANCE_YOUR_CALM,
                          "field block too large (RFC 9113 §10.5.1)");
    if (c->hb.len + n > c->hb.cap) {
        size_t cap = c->hb.cap ? c->hb.cap : 1024;
        while (cap < c->hb.len + n)
            cap *= 2;
        uint8_t *q = loom_realloc(c->mem, c->hb.p, cap);
        if (!q) return conn_error(c, LOOM_ERR_NOMEM, "out of memory");
        c->hb.p = q;
        c->hb.cap = cap;
    }
    if (n) memcpy(c->hb.p + c->hb.len, p, n);
    c->hb.len += n;
    return 0;
}

static int begin_block(loom_conn *c, const loom_frame *f, const uint8_t *p, size_t n, int32_t sid,
                       int32_t promised, int refused)
{
    c->hb_stream = sid;
    c->hb_type = f->hd.type;
    c->hb_end_stream = f->hd.type == LOOM_FRAME_HEADERS && (f->hd.flags & LOOM_FLAG_END_STREAM);
    c->hb_promised = promised;
    c->hb_reset = (uint8_t)refused;
    c->hb_frames = 0;
    c->hb.len = 0;
    int rc = add_fragment(c, p, n);
    if (rc < 0) return rc;
    return (f->hd.flags & LOOM_FLAG_END_HEADERS) ? end_block(c) : 0;
}

static int on_headers(loom_conn *c, const loom_frame *f, int refuse)
{
    int32_t sid = (int32_t)f->hd.stream_id;
    stream *s = loom_stream_find(c, sid);
    const uint8_t *blk = f->u.headers.block;
    size_t n = f->u.headers.len;

    if (f->hd.flags & LOOM_FLAG_PRIORITY) {
        if (count(c, &c->n_prio, c->cfg.max_priority_frames, "PRIORITY flood (CVE-2019-9513)") < 0)
            return c->err;
    }
    if (n == 0 && !(f->hd.flags & LOOM_FLAG_END_HEADERS) &&
        count(c, &c->n_empty, c->cfg.max_empty_frames, "empty header fragments (CVE-2019-9516)") <
            0)
        return c->err;

    if (!s) {
        if (!is_idle(c, sid)) {
            /* §5.1: HEADERS on a closed stream. Decoded for HPACK, then a
             * connection error of type STREAM_CLOSED (§5.1 "closed"). */
            int how = loom_stream_closed_how(c, sid);
            if (how == CLOSED_RESET_SENT) return begin_block(c, f, blk, n, sid, 0, 1);
            /* §5.1.1: a stream id never used, below the peer's latest: an
             * unexpected stream identifier (a stream closed too long ago to
             * be remembered lands here too: a connection error either way) */
            if (how < 0)
                return conn_error(c, LOOM_ERR_PROTOCOL,
                                  "stream id lower than one already used (RFC 9113 §5.1.1)");
            return conn_error(c, LOOM_ERR_STREAM_CLOSED,
                              "HEADERS on a closed stream (RFC 9113 §5.1)");
        }
        if (c->role == LOOM_CLIENT || !(sid & 1))
            return conn_error(c, LOOM_ERR_PROTOCOL,
                              "HEADERS opening a stream the peer may not open (RFC 9113 §5.1.1)");
        c->last_peer_id = sid;
        /* after our final GOAWAY: decoded, then ignored (§6.8) */
        if (c->goaway_sent && !c->goaway_final_pending && sid > c->goaway_last_sent) {
            loom_stream_remember(c, sid, CLOSED_RESET_SENT); /* its frames ignored too */
            return begin_block(c, f, blk, n, sid, 0, 1);
        }
        /* §5.1.2: beyond our limit: REFUSED_STREAM, after decoding */
        if (c->open_remote >= c->cfg.max_concurrent_streams) {
            int rc = loom_stage_rst(c, sid, LOOM_H2_REFUSED_STREAM, 1);
            if (rc < 0) return conn_error(c, LOOM_ERR_ENHANCE_YOUR_CALM, "peer does not read");
            /* §5.1: its DATA and trailers in flight are then ignored */
            loom_stream_remember(c, sid, CLOSED_RESET_SENT);
            return begin_block(c, f, blk, n, sid, 0, 1);
        }
        if (refuse) return begin_block(c, f, blk, n, sid, 0, 1);
        s = loom_stream_new(c, sid, ST_OPEN);
        if (!s) return conn_error(c, LOOM_ERR_NOMEM, "out of memory");
        s->counted = 1;
        c->open_remote++;
        if (f->hd.flags & LOOM_FLAG_PRIORITY) {
            c->prio7540 = 1;
            loom_prio_set(c, s, &f->u.headers.pri);
        }
        return begin_block(c, f, blk, n, sid, 0, 0);
    }
    switch (s->state) {
    case ST_RESERVED_REMOTE:
        /* client: the pushed response */
        s->state = ST_HALF_CLOSED_LOCAL;
        s->counted = 1;
        c->open_remote++;
        break;
    case ST_OPEN:
    case ST_HALF_CLOSED_LOCAL:
        if (s->in == IN_DONE) return stream_error(c, sid, LOOM_H2_PROTOCOL_ERROR);
        break;
    case ST_RESERVED_LOCAL:
        return conn_error(c, LOOM_ERR_PROTOCOL,
                          "HEADERS on a stream reserved by us (RFC 9113 §5.1)");
    default:
        /* half-closed (remote): STREAM_CLOSED (§5.1); decode for HPACK */
        stream_error(c, sid, LOOM_H2_STREAM_CLOSED);
        return begin_block(c, f, blk, n, sid, 0, 1);
    }
    return begin_block(c, f, blk, n, sid, 0, refuse);
}

static int on_continuation(loom_conn *c, const loom_frame *f)
{
    if (f->u.continuation.len == 0 && !(f->hd.flags & LOOM_FLAG_END_HEADERS) &&
        count(c, &c->n_empty, c->cfg.max_empty_frames, "empty CONTINUATION flood (CVE-2019-9516)") <
            0)
        return c->err;
    int rc = add_fragment(c, f->u.continuation.block, f->u.continuation.len);
    if (rc < 0) return rc;
    return (f->hd.flags & LOOM_FLAG_END_HEADERS) ? end_block(c) : 0;
}

static int on_push_promise(loom_conn *c, const loom_frame *f)
{
    int32_t sid = (int32_t)f->hd.stream_id, pid = (int32_t)f->u.push_promise.promised_id;
    /* §8.4: only servers push, only to clients that allow it */
    if (c->role == LOOM_SERVER)
        return conn_error(c, LOOM_ERR_PROTOCOL, "PUSH_PROMISE sent to a server (RFC 9113 §8.4)");
    if (!c->cfg.enable_push)
        return conn_error(c, LOOM_ERR_PROTOCOL,
                          "PUSH_PROMISE after SETTINGS_ENABLE_PUSH=0 (RFC 9113 §6.6)");
    /* §6.6: the promised id must be a new even id */
    if ((pid & 1) || pid <= c->last_promised_id)
        return conn_error(c, LOOM_ERR_PROTOCOL, "invalid promised stream id (RFC 9113 §6.6)");
    stream *s = loom_stream_find(c, sid);
    c->last_promised_id = pid;
    /* §6.6: on a peer-initiated stream, so for us one we opened: never on
     * a pushed stream */
    if (!s || !s->local || (s->state != ST_OPEN && s->state != ST_HALF_CLOSED_LOCAL)) {
        if (!s && loom_stream_closed_how(c, sid) == CLOSED_RESET_SENT) {
            /* §6.6: we reset the associated stream; refuse the promise too */
            loom_stage_rst(c, pid, LOOM_H2_REFUSED_STREAM, 1);
            return begin_block(c, f, f->u.push_promise.block, f->u.push_promise.len, sid, pid, 1);
        }
        return conn_error(c, LOOM_ERR_PROTOCOL,
                          "PUSH_PROMISE on a stream that is not open (RFC 9113 §6.6)");
    }
    stream *p = loom_stream_new(c, pid, ST_RESERVED_REMOTE);
    if (!p) return conn_error(c, LOOM_ERR_NOMEM, "out of memory");
    return begin_block(c, f, f->u.push_promise.block, f->u.push_promise.len, sid, pid, 0);
}

static int apply_settings(loom_conn *c, const loom_frame *f)
{
    for (size_t i = 0; i < f->u.settings.count; i++) {
        loom_setting s = loom_frame_setting(f, i);
        switch (s.id) {
        case LOOM_SETTINGS_HEADER_TABLE_SIZE:
            if (loom_hpack_encoder_set_max_table_size(c->enc, s.value) < 0)
                return conn_error(c, LOOM_ERR_NOMEM, "out of memory");
            break;
        case LOOM_SETTINGS_ENABLE_PUSH:
            /* §6.5.2: a server MUST NOT send 1 */
            if (c->role == LOOM_CLIENT && s.value != 0)
                return conn_error(c, LOOM_ERR_PROTOCOL,
                                  "server sent SETTINGS_ENABLE_PUSH=1 (RFC 9113 §6.5.2)");
            break;
        case LOOM_SETTINGS_INITIAL_WINDOW_SIZE: {
            /* §6.9.2: shift every stream's window by the difference, which
             * may leave it negative; past 2^31-1 is a FLOW_CONTROL_ERROR */
            int64_t delta = (int64_t)s.value - c->peer[LOOM_SETTINGS_INITIAL_WINDOW_SIZE];
            for (size_t b = 0; b < c->nbuckets; b++)
                for (stream *st = c->buckets[b]; st; st = st->next_hash) {
                    if (st->send_window + delta > LOOM_MAX_WINDOW)
                        return conn_error(
                            c, LOOM_ERR_FLOW_CONTROL,
                            "INITIAL_WINDOW_SIZE overflows a window (RFC 9113 §6.9.2)");
                    st->send_window += delta;
                    if (delta > 0 && st->has_body) loom_ready(c, st);
                }
            break;
        }
        default: break;
        }
        if (s.id < sizeof(c->peer) / sizeof(c->peer[0])) c->peer[s.id] = s.value;
    }
    return 0;
}

static int on_settings(loom_conn *c, const loom_frame *f)
{
    if (f->hd.flags & LOOM_FLAG_ACK) {
        if (!c->settings_unacked) return 0; /* not ours to count: ignored */
        loom_settings_acked(c);
        loom_event ev = {.type = LOOM_EV_SETTINGS_ACK};
        return loom_emit(c, &ev);
    }
    if (c->settings_got &&
        count(c, &c->n_settings, c->cfg.max_settings, "SETTINGS flood (CVE-2019-9515)") < 0)
        return c->err;
    c->settings_got = 1;
    int rc = apply_settings(c, f);
    if (rc < 0) return rc;
    loom_frame ack;
    memset(&ack, 0, sizeof(ack));
    ack.hd.type = LOOM_FRAME_SETTINGS;
    ack.hd.flags = LOOM_FLAG_ACK;
    if (loom_stage_frame(c, &ack, 1) < 0)
        return conn_error(c, LOOM_ERR_ENHANCE_YOUR_CALM, "peer does not read (CVE-2019-9515)");
    loom_setting list[16];
    size_t n = f->u.settings.count < 16 ? f->u.settings.count : 16;
    for (size_t i = 0; i < n; i++)
        list[i] = loom_frame_setting(f, i);
    loom_event ev = {.type = LOOM_EV_SETTINGS};
    ev.u.settings.list = list;
    ev.u.settings.n = n;
    return loom_emit(c, &ev);
}

static int on_ping(loom_conn *c, const loom_frame *f)
{
    if (f->hd.flags & LOOM_FLAG_ACK) {
        if (c->goaway_final_pending && !memcmp(f->u.ping.opaque, c->goaway_ping, 8)) {
            /* §6.8: the round trip of a graceful shutdown is done */
            c->goaway_final_pending = 0;
            loom_stage_goaway(c, loom_last_peer_stream(c), c->goaway_code, NULL);
        }
        loom_event ev = {.type = LOOM_EV_PING_ACK};
        if (c->ping_sent_at) {
            c->rtt_us = (loom_now(c) - c->ping_sent_at) * 1000;
            c->ping_sent_at = 0;
        }
        ev.u.ping.rtt_us = c->rtt_us;
        memcpy(ev.u.ping.opaque, f->u.ping.opaque, 8);
        return loom_emit(c, &ev);
    }
    if (count(c, &c->n_pings, c->cfg.max_pings, "PING flood (CVE-2019-9512)") < 0) return c->err;
    loom_frame ack = *f;
    ack.hd.flags = LOOM_FLAG_ACK; /* §6.7: the same payload back */
    if (loom_stage_frame(c, &ack, 1) < 0)
        return conn_error(c, LOOM_ERR_ENHANCE_YOUR_CALM, "peer does not read (CVE-2019-9512)");
    return 0;
}

static int on_rst_stream(loom_conn *c, const loom_frame *f)
{
    int32_t sid = (int32_t)f->hd.stream_id;
    stream *s = loom_stream_find(c, sid);
    if (!s) {
        if (is_idle(c, sid))
            return conn_error(c, LOOM_ERR_PROTOCOL, "RST_STREAM on an idle stream (RFC 9113 §6.4)");
        return 0; /* closed: nothing to do */
    }
    /* Rapid Reset (CVE-2023-44487): streams the peer opens and cancels */
    if (!s->local &&
        count(c, &c->n_resets, c->cfg.max_peer_resets, "stream reset flood (CVE-2023-44487)") < 0)
        return c->err;
    loom_stream_close(c, s, CLOSED_RESET_RECEIVED, f->u.rst_stream.error_code, 1,
                      f->u.rst_stream.error_code == LOOM_H2_REFUSED_STREAM);
    return 0;
}

static int on_window_update(loom_conn *c, const loom_frame *f)
{
    int32_t sid = (int32_t)f->hd.stream_id;
    uint32_t inc = f->u.window_update.increment;
    if (sid == 0) {
        if (c->send_window + inc > LOOM_MAX_WINDOW)
            return conn_error(c, LOOM_ERR_FLOW_CONTROL,
                              "connection window above 2^31-1 (RFC 9113 §6.9.1)");
        c->send_window += inc;
        return 0;
    }
    stream *s = loom_stream_find(c, sid);
    if (!s) {
        if (is_idle(c, sid))
            return conn_error(c, LOOM_ERR_PROTOCOL,
                              "WINDOW_UPDATE on an idle stream (RFC 9113 §5.1)");
        return 0; /* closed: allowed for a while (§6.9) */
    }
    /* §5.1 reserved (remote): only HEADERS, RST_STREAM and PRIORITY */
    if (s->state == ST_RESERVED_REMOTE)
        return conn_error(c, LOOM_ERR_PROTOCOL,
                          "WINDOW_UPDATE on a reserved (remote) stream (RFC 9113 §5.1)");
    if (s->send_window + inc > LOOM_MAX_WINDOW)
        return stream_error(c, sid, LOOM_H2_FLOW_CONTROL_ERROR); /* §6.9.1 */
    s->send_window += inc;
    if (s->has_body) loom_ready(c, s);
    return 0;
}

static int on_goaway(loom_conn *c, const loom_frame *f)
{
    int32_t last = (int32_t)f->u.goaway.last_stream_id;
    c->goaway_received = 1;
    c->goaway_last_recv = last;
    loom_event ev = {.type = LOOM_EV_GOAWAY};
    ev.u.goaway.last_stream_id = (uint32_t)last;
    ev.u.goaway.error_code = f->u.goaway.error_code;
    ev.u.goaway.debug = f->u.goaway.debug;
    ev.u.goaway.debug_len = f->u.goaway.debug_len;
    int rc = loom_emit(c, &ev);
    /* §6.8: our streams above last were not processed: safe to retry. One
     * at a time, since each close calls back into the application. */
    for (int again = 1; again;) {
        again = 0;
        for (size_t b = 0; b < c->nbuckets && !again; b++)
            for (stream *s = c->buckets[b]; s; s = s->next_hash)
                if (s->local && s->id > last && s->state != ST_CLOSED) {
                    loom_stream_close(c, s, CLOSED_NORMAL, LOOM_H2_REFUSED_STREAM, 1, 1);
                    again = 1;
                    break;
                }
    }
    return rc;
}

static int on_priority_update(loom_conn *c, const loom_frame *f)
{
    if (count(c, &c->n_prio, c->cfg.max_priority_frames, "PRIORITY_UPDATE flood") < 0)
        return c->err;
    /* RFC 9218 §7.1: a client receiving one: PROTOCOL_ERROR */
    if (c->role == LOOM_CLIENT)
        return conn_error(c, LOOM_ERR_PROTOCOL, "PRIORITY_UPDATE sent to a client (RFC 9218 §7.1)");
    int32_t sid = (int32_t)f->u.priority_update.stream_id;
    /* §7.1: a push stream must have been promised (a promised one can be
     * reprioritized); an idle request stream must fit, with the active
     * ones, in our MAX_CONCURRENT_STREAMS (counting this one only: idle
     * prioritized streams are not remembered) */
    if (!(sid & 1) && is_idle(c, sid))
        return conn_error(c, LOOM_ERR_PROTOCOL,
                          "PRIORITY_UPDATE for a push stream not promised (RFC 9218 §7.1)");
    if ((sid & 1) && is_idle(c, sid) && c->open_remote >= c->cfg.max_concurrent_streams)
        return conn_error(c, LOOM_ERR_PROTOCOL,
                          "PRIORITY_UPDATE beyond MAX_CONCURRENT_STREAMS (RFC 9218 §7.1)");
    stream *s = loom_stream_find(c, sid);
    if (!s) return 0; /* idle (buffering is optional, §7.1) or closed: ignored */
    uint8_t u = s->urgency, inc = s->incremental;
    loom_priority_parse(f->u.priority_update.value, f->u.priority_update.len, &u, &inc);
    if (u != s->urgency || inc != s->incremental) {
        loom_unready(c, s);
        s->urgency = u;
        s->incremental = inc;
        if (s->has_body) loom_ready(c, s);
        loom_event ev = {.type = LOOM_EV_PRIORITY, .stream_id = sid};
        ev.u.priority.urgency = u;
        ev.u.priority.incremental = inc;
        return loom_emit(c, &ev);
    }
    return 0;
}

static int on_frame(loom_conn *c, const loom_frame *f)
{
    c->frames_in++;
    loom_event tr = {.type = LOOM_EV_FRAME, .stream_id = (int32_t)f->hd.stream_id};
    tr.u.frame.sent = 0;
    tr.u.frame.frame = f;
    int rc = loom_emit(c, &tr);
    if (rc) return rc;

    /* §6.10: a field block is contiguous: only its CONTINUATIONs may follow */
    if (c->hb_stream &&
        (f->hd.type != LOOM_FRAME_CONTINUATION || (int32_t)f->hd.stream_id != c->hb_stream))
        return conn_error(
            c, LOOM_ERR_PROTOCOL,
            "frame inside a field block other than its CONTINUATION (RFC 9113 §6.10)");
    /* §3.4: the peer's preface ends with a SETTINGS frame, first */
    if (!c->settings_got && (f->hd.type != LOOM_FRAME_SETTINGS || (f->hd.flags & LOOM_FLAG_ACK)))
        return conn_error(c, LOOM_ERR_PROTOCOL, "preface not followed by SETTINGS (RFC 9113 §3.4)");
    if (c->hb_stream) return on_continuation(c, f);
    if (f->ignore) return 0;

    switch (f->hd.type) {
    case LOOM_FRAME_DATA: return on_data(c, f);
    case LOOM_FRAME_HEADERS: return on_headers(c, f, 0);
    case LOOM_FRAME_PRIORITY: {
        if (count(c, &c->n_prio, c->cfg.max_priority_frames, "PRIORITY flood (CVE-2019-9513)") < 0)
            return c->err;
        /* RFC 7540 §5.3: re-prioritisation; for streams we do not hold
         * (idle, closed) it is not kept (RFC 9113 §5.3.2 lets us) */
        stream *s = loom_stream_find(c, (int32_t)f->hd.stream_id);
        c->prio7540 = 1;
        if (s) loom_prio_set(c, s, &f->u.priority);
        return 0;
    }
    case LOOM_FRAME_RST_STREAM: return on_rst_stream(c, f);
    case LOOM_FRAME_SETTINGS: return on_settings(c, f);
    case LOOM_FRAME_PUSH_PROMISE: return on_push_promise(c, f);
    case LOOM_FRAME_PING: return on_ping(c, f);
    case LOOM_FRAME_GOAWAY: return on_goaway(c, f);
    case LOOM_FRAME_WINDOW_UPDATE: return on_window_update(c, f);
    case LOOM_FRAME_CONTINUATION:
        /* §6.10: CONTINUATION without a block in progress */
        return conn_error(c, LOOM_ERR_PROTOCOL, "CONTINUATION without HEADERS (RFC 9113 §6.10)");
    case LOOM_FRAME_PRIORITY_UPDATE: return on_priority_update(c, f);
    case LOOM_FRAME_ORIGIN: {
        if (c->role == LOOM_SERVER) return 0; /* RFC 8336 §2.1: ignored by servers */
        loom_event ev = {.type = LOOM_EV_ORIGIN};
        ev.u.origin.entries = f->u.origin.entries;
        ev.u.origin.len = f->u.origin.len;
        return loom_emit(c, &ev);
    }
    default: return 0;
    }
}

int loom_conn_recv(loom_conn *c, const uint8_t *in, size_t len)
{
    if (c->dead) return c->err;
    /* §3.4: the server first checks the client's magic octets */
    while (c->preface_got < PREFACE_LEN && len) {
        if (*in != preface[c->preface_got])
            return conn_error(c, LOOM_ERR_PROTOCOL, "invalid connection preface (RFC 9113 §3.4)");
        c->preface_got++;
        in++;
        len--;
    }
    while (1) {
        loom_frame f;
        loom_frame_error e;
        size_t used;
        int rc = loom_frame_reader_next(&c->reader, in, len, &used, &f, &e);
        in += used;
        len -= used;
        if (rc == 0) return 0;
        if (rc < 0) {
            if (e.scope == LOOM_SCOPE_CONNECTION) return conn_error(c, rc, e.reason);
            /* a stream error found by the parser; a field block in it is
             * still decoded so HPACK stays in step */
            if (c->hb_stream) return conn_error(c, LOOM_ERR_PROTOCOL, "frame inside a field block");
            if (f.hd.type == LOOM_FRAME_HEADERS && (rc = on_headers(c, &f, 1)) < 0) return rc;
            if (!c->dead &&
                (rc = stream_error(c, (int32_t)e.stream_id, loom_err_h2_code(e.err))) < 0)
                return rc;
            if (c->dead) return c->err;
            continue;
        }
        rc = on_frame(c, &f);
        if (rc) return rc;
        if (c->dead) return c->err;
    }
}

int loom_conn_check_timeouts(loom_conn *c, uint32_t settings_timeout_ms)
{
    /* §6.5.3: SETTINGS not acknowledged in time */
    if (c->settings_unacked && loom_now(c) - c->settings_sent_at > settings_timeout_ms)
        return conn_error(c, LOOM_ERR_SETTINGS_TIMEOUT,
                          "SETTINGS not acknowledged (RFC 9113 §6.5.3)");
    return 0;
}

/* What an upgraded request says about its stream: HEAD (no body in the
 * response), and the authority pushes must match. */
static void upgraded_request(stream *s, const loom_hpack_field *req, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (loom_name_is(&req[i], ":method"))
            s->head = req[i].value_len == 4 && !memcmp(req[i].value, "HEAD", 4);
        if (loom_name_is(&req[i], ":authority"))
            s->authority_hash = hash64(req[i].value, req[i].value_len);
    }
}

int loom_conn_upgrade(loom_conn *c, const uint8_t *settings, size_t len,
                      const loom_hpack_field *req, size_t n)
{
    if (c->role == LOOM_CLIENT) {
        /* the client's side: the request it sent over HTTP/1.1 is stream 1,
         * half-closed (local), awaiting its response */
        if (c->next_local_id != 1) return LOOM_ERR_STATE;
        stream *s = loom_stream_new(c, 1, ST_HALF_CLOSED_LOCAL);
        if (!s) return LOOM_ERR_NOMEM;
        s->counted = 1;
        upgraded_request(s, req, n);
        c->open_local++;
        c->next_local_id = 3;
        return 0;
    }
    if (c->last_peer_id != 0 || len % 6) return LOOM_ERR_STATE;
    /* RFC 9113 §3.1 (RFC 7540 §3.2.1): HTTP2-Settings is applied as if it
     * were the client's SETTINGS; the 101 response acknowledges it. */
    loom_frame f;
    memset(&f, 0, sizeof(f));
    f.hd.type = LOOM_FRAME_SETTINGS;
    f.hd.length = (uint32_t)len;
    f.u.settings.wire = settings;
    f.u.settings.count = len / 6;
    loom_frame_error e;
    for (size_t i = 0; i < len; i += 6) {
        /* the same value checks as a SETTINGS frame */
        uint8_t hd[LOOM_FRAME_HEADER_LEN + 6] = {0, 0, 6, LOOM_FRAME_SETTINGS, 0, 0, 0, 0, 0};
        loom_frame one;
        memcpy(hd + LOOM_FRAME_HEADER_LEN, settings + i, 6);
        if (loom_frame_parse(hd, sizeof(hd), LOOM_MAX_FRAME_SIZE_MIN, &one, &e) < 0)
            return LOOM_ERR_PROTOCOL;
    }
    int rc = apply_settings(c, &f);
    if (rc < 0) return rc;
    /* §3.1: the request becomes stream 1, half-closed (remote) */
    stream *s = loom_stream_new(c, 1, ST_HALF_CLOSED_REMOTE);
    if (!s) return LOOM_ERR_NOMEM;
    s->counted = 1;
    s->in = IN_DONE;
    upgraded_request(s, req, n);
    c->open_remote++;
    c->last_peer_id = 1;
    return 0;
}
