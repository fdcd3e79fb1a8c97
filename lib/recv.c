/* The connection engine, receiving side: the preface, frame dispatch (one
 * handler per frame type), field blocks, the stream state machine as the
 * peer drives it (every check is a lookup in stream.c's table), and the
 * defences of RFC 9113 §10.5. */
#include <string.h>

#include "conn_internal.h"

static const uint8_t client_magic[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define MAGIC_LEN 24

/* A stream error (§5.4.2): RST_STREAM, and the stream is closed. Each one
 * is a token of the reset bucket: a peer that keeps making us reset
 * streams (MadeYouReset, CVE-2025-8671) or keeps opening streams past our
 * limits ends up with GOAWAY ENHANCE_YOUR_CALM. */
static int stream_error(loom_conn *c, int32_t sid, uint32_t code)
{
    if (loom__spend_reset(c, code == LOOM_H2_REFUSED_STREAM
                                 ? "too many streams refused (RFC 9113 §10.5)"
                                 : "too many stream errors: the peer keeps making us reset "
                                   "streams (MadeYouReset, CVE-2025-8671)") < 0)
        return c->err;
    stream *s = loom__streams_find(&c->streams, sid);
    if (loom__queue_rst(c, sid, code, 1) < 0)
        return loom__conn_error(c, LOOM_ERR_ENHANCE_YOUR_CALM, LOOM__CONTROL_QUEUE_FULL);
    if (s) {
        loom__stream_end(c, s, CLOSED_RESET_SENT, code, 0, 0);
    } else { /* §5.1: frames after our RST_STREAM are ignored, not answered */
        loom__streams_remember(&c->streams, sid, ST_CLOSED_IGNORED);
        loom__reset_allowance_add(c, LOOM__LOCAL(c, INITIAL_WINDOW_SIZE));
    }
    return 0;
}

/* Rate counters of §10.5 defences, per cfg.window_ms. */
static int count(loom_conn *c, uint32_t *n, uint32_t max, const char *why)
{
    uint64_t now = loom__now(c);
    if (now - c->win_start >= c->cfg->window_ms) {
        c->win_start = now;
        c->n_pings = c->n_settings = c->n_empty = c->n_prio = 0;
    }
    if (++*n > max) return loom__conn_error(c, LOOM_ERR_ENHANCE_YOUR_CALM, why);
    return 0;
}

/* The state of sid as the table knows it: its object's, or what is known
 * of a stream without one (idle, closed and how). */
static uint8_t state_of(const loom_conn *c, const stream *s, int32_t sid)
{
    return s ? s->state : loom__streams_gone_state(&c->streams, sid, loom__is_idle(c, sid));
}

/* RFC 9218 §2.1 and RFC 9113 §5.3.2: which scheduler the peer's signals
 * ask for, decided once, at the first signal. */
static void choose_by_rfc7540_signal(loom_conn *c)
{
    if (c->role == LOOM_SERVER && c->settings.peer[LOOM_SETTINGS_NO_RFC7540_PRIORITIES] != 1)
        loom__sched_choose(c, SCHED_RFC7540);
}

/* ---- DATA ---- */

static int on_data(loom_conn *c, const loom_frame *f)
{
    int32_t sid = (int32_t)f->hd.stream_id;
    size_t flow = f->hd.length; /* §6.9.1: the whole payload counts, padding too */

    /* §6.9.1: connection window first: exceeding it is a connection error */
    if (loom__flow_recv_conn(c, flow) < 0)
        return loom__conn_error(c, LOOM_ERR_FLOW_CONTROL,
                                "DATA beyond the connection window (RFC 9113 §6.9.1)");
    stream *s = loom__streams_find(&c->streams, sid);
    uint8_t st = state_of(c, s, sid);
    switch (loom__stream_transition(st, EV_R_DATA).verdict) {
    case V_OK: break;
    case V_IGNORE: /* the octets still count, and are given back at once */
        loom__flow_recv_credit(c, NULL, flow, 0);
        /* but no more than the reset streams' windows allowed: a body
         * sent on and on after our RST_STREAM is a flow-control error
         * (§6.9), not octets to read for ever */
        c->reset_allowance -= (int64_t)flow;
        if (c->reset_allowance < 0)
            return loom__conn_error(c, LOOM_ERR_FLOW_CONTROL,
                                    "DATA on reset streams beyond their windows (RFC 9113 §6.9)");
        return 0;
    case V_STREAM_CLOSED:
        loom__flow_recv_credit(c, NULL, flow, 0);
        return stream_error(c, sid, LOOM_H2_STREAM_CLOSED);
    default:
        return loom__conn_error(c, LOOM_ERR_PROTOCOL,
                                st == ST_IDLE ? "DATA on an idle stream (RFC 9113 §5.1)"
                                              : "DATA on a reserved stream (RFC 9113 §5.1)");
    }
    if (loom__flow_recv_stream(s, flow) < 0) {
        loom__flow_recv_credit(c, NULL, flow, 0);
        return stream_error(c, sid, LOOM_H2_FLOW_CONTROL_ERROR);
    }
    if (s->in != IN_BODY) {
        /* DATA before the (final) HEADERS, or after trailers: malformed */
        loom__flow_recv_credit(c, NULL, flow, 0);
        return stream_error(c, sid, LOOM_H2_PROTOCOL_ERROR);
    }
    int end = (f->hd.flags & LOOM_FLAG_END_STREAM) != 0;
    if (f->u.data.len == 0 && !end &&
        count(c, &c->n_empty, c->cfg->max_empty_frames, "empty DATA flood (CVE-2019-9518)") < 0)
        return c->err;
    s->received += f->u.data.len;
    /* §8.1.1: content-length must match the DATA received */
    if (s->content_length >= 0 && (s->received > (uint64_t)s->content_length ||
                                   (end && s->received != (uint64_t)s->content_length))) {
        loom__flow_recv_credit(c, NULL, flow, 0);
        return stream_error(c, sid, LOOM_H2_PROTOCOL_ERROR);
    }
    if (end) {
        s->in = IN_DONE;
        loom__stream_apply(s, EV_R_END_STREAM);
    }
    loom_event ev = {.type = LOOM_EV_DATA, .stream_id = sid, .stream_user = s->user};
    ev.u.data.data = f->u.data.data;
    ev.u.data.len = f->u.data.len;
    ev.u.data.end_stream = end;
    int rc = loom__emit(c, &ev);
    /* The connection window is always refilled as data arrives; a stream's
     * only as the application consumes it when windows are manual, so a
     * slow reader pushes back on its stream alone. Padding is consumed at
     * once. The callback may have closed the stream: look it up again. */
    s = loom__streams_find(&c->streams, sid);
    /* an unwanted body (§8.1): the connection's window comes back, the
     * stream's does not */
    size_t back = c->cfg->manual_window ? flow - f->u.data.len : flow;
    loom__flow_recv_credit(c, s, flow, s && s->draining ? 0 : back);
    if (s && s->state == ST_CLOSED)
        loom__stream_end(c, s, CLOSED_NORMAL, 0, 0, 0);
    else if (s)
        loom__drain_check(c, s);
    return rc;
}

/* ---- field blocks ---- */

/* A whole field block arrived: decode it and act on it. */
static int end_block(loom_conn *c, const uint8_t *blk, size_t len)
{
    block_state *b = &c->block;
    int32_t sid = b->stream, promised = b->promised;
    uint8_t type = b->type;
    int end_stream = b->end_stream, ignore = b->ignore;
    b->stream = 0;
    c->stats.hbytes_in += len;

    loom_hpack_error he;
    if ((!c->dec && loom__decoder_start(c) < 0) || loom__rx_start(c) < 0)
        return loom__conn_error(c, LOOM_ERR_NOMEM, "out of memory");
    int rc = loom_hpack_decode_block(c->dec, blk, len, &c->rx->list, &he);
    /* Emptied, not overwritten: the decoded fields may point into it (raw
     * literals are not copied) until the next block is gathered. */
    c->rx->frag.len = 0;
    if (rc == LOOM_ERR_NOMEM) return loom__conn_error(c, rc, "out of memory");
    if (rc < 0 && rc != LOOM_ERR_LIMIT)
        return loom__conn_error(c, LOOM_ERR_COMPRESSION, he.reason); /* §4.3 */
    if (ignore) return 0; /* decoded to keep HPACK in step, nothing more */

    const loom_hpack_field *fields = c->rx->list.fields;
    size_t nfields = c->rx->list.n;
    stream *s = loom__streams_find(&c->streams, type == LOOM_FRAME_PUSH_PROMISE ? promised : sid);
    if (!s) return 0;
    if (rc == LOOM_ERR_LIMIT) {
        /* §10.5.1: a header section larger than we take; the stream is
         * refused, the connection goes on */
        return stream_error(c, s->id, LOOM_H2_REFUSED_STREAM);
    }

    loom_msg_info info;
    const char *why = NULL;
    loom_event ev = {.stream_id = sid};

    if (type == LOOM_FRAME_PUSH_PROMISE) {
        /* §8.4: a promised request is a GET or HEAD that announces no
         * content, with the :authority the server claims to be */
        if (loom__fields_check(fields, c->rx->list.reps, nfields, LOOM_MSG_REQUEST, 0, &info,
                               &why) < 0 ||
            !((info.method_len == 3 && !memcmp(info.method, "GET", 3)) ||
              (info.method_len == 4 && !memcmp(info.method, "HEAD", 4))) ||
            info.content_length > 0 || !info.authority)
            return stream_error(c, promised, LOOM_H2_PROTOCOL_ERROR);
        s->head = info.method_len == 4;
        ev.type = LOOM_EV_PUSH_PROMISE;
        ev.u.push.promised_id = promised;
        ev.u.push.fields = fields;
        ev.u.push.n = nfields;
        return loom__emit(c, &ev);
    }

    int trailers = s->in == IN_BODY;
    loom_msg_kind kind = trailers                 ? LOOM_MSG_TRAILERS
                         : c->role == LOOM_SERVER ? LOOM_MSG_REQUEST
                                                  : LOOM_MSG_RESPONSE;
    if (loom__fields_check(fields, c->rx->list.reps, nfields, kind, c->cfg->enable_connect_protocol,
                           &info, &why) < 0)
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
            /* RFC 9218 §2.1: the first signal picks the scheduler; the
             * priority field is an RFC 9218 one even beside RFC 7540's */
            if (info.has_priority)
                loom__sched_choose(c, SCHED_RFC9218);
            else if (b->has_pri)
                choose_by_rfc7540_signal(c);
            if (b->has_pri) loom__prio_set(c, s, &b->pri);
            s->urgency = info.urgency;
            s->incremental = info.incremental;
            if (info.authority)
                s->authority_hash = loom__authority_hash(info.authority, info.authority_len);
        }
        if (end_stream && s->content_length > 0)
            return stream_error(c, sid, LOOM_H2_PROTOCOL_ERROR);
        s->in = IN_BODY;
    }
    if (end_stream) {
        s->in = IN_DONE;
        loom__stream_apply(s, EV_R_END_STREAM);
    }
    ev.type = trailers ? LOOM_EV_TRAILERS : LOOM_EV_HEADERS;
    ev.stream_user = s->user;
    ev.u.headers.wire_len = len;
    ev.u.headers.fields = fields;
    ev.u.headers.n = nfields;
    ev.u.headers.end_stream = end_stream;
    ev.u.headers.status = kind == LOOM_MSG_RESPONSE ? info.status : 0;
    rc = loom__emit(c, &ev);
    /* the callback may have reset or answered the stream: look it up again */
    s = loom__streams_find(&c->streams, sid);
    if (s && s->state == ST_CLOSED) loom__stream_end(c, s, CLOSED_NORMAL, 0, 0, 0);
    return rc;
}

/* CONTINUATION flood (2024) and §10.5.1: bounded frames and octets per
 * block. */
static int fragment(loom_conn *c, const uint8_t *p, size_t n, int last)
{
    block_state *b = &c->block;
    if (++b->frames > c->cfg->max_continuations + 1)
        return loom__conn_error(c, LOOM_ERR_ENHANCE_YOUR_CALM,
                                "too many CONTINUATION frames (CONTINUATION flood)");
    if ((c->rx ? c->rx->frag.len : 0) + n > c->cfg->max_header_block)
        return loom__conn_error(c, LOOM_ERR_ENHANCE_YOUR_CALM,
                                "field block too large (RFC 9113 §10.5.1)");
    /* a block in one frame is decoded where it lies */
    if (last && b->frames == 1) return end_block(c, p, n);
    if (loom__rx_start(c) < 0 ||
        loom__buf_append(c->mem, &c->rx->frag, p, n, c->cfg->max_header_block) < 0)
        return loom__conn_error(c, LOOM_ERR_NOMEM, "out of memory");
    return last ? end_block(c, c->rx->frag.p, c->rx->frag.len) : 0;
}

static int begin_block(loom_conn *c, const loom_frame *f, const uint8_t *p, size_t n, int32_t sid,
                       int32_t promised, int ignore)
{
    block_state *b = &c->block;
    b->stream = sid;
    b->type = f->hd.type;
    b->end_stream = f->hd.type == LOOM_FRAME_HEADERS && (f->hd.flags & LOOM_FLAG_END_STREAM);
    b->promised = promised;
    b->ignore = (uint8_t)ignore;
    b->has_pri = f->hd.type == LOOM_FRAME_HEADERS && (f->hd.flags & LOOM_FLAG_PRIORITY);
    if (b->has_pri) b->pri = f->u.headers.pri;
    b->frames = 0;
    if (c->rx) c->rx->frag.len = 0;
    return fragment(c, p, n, (f->hd.flags & LOOM_FLAG_END_HEADERS) != 0);
}

static int on_headers(loom_conn *c, const loom_frame *f, int refuse)
{
    int32_t sid = (int32_t)f->hd.stream_id;
    stream *s = loom__streams_find(&c->streams, sid);
    const uint8_t *blk = f->u.headers.block;
    size_t n = f->u.headers.len;

    if ((f->hd.flags & LOOM_FLAG_PRIORITY) &&
        count(c, &c->n_prio, c->cfg->max_priority_frames, "PRIORITY flood (CVE-2019-9513)") < 0)
        return c->err;
    if (n == 0 && !(f->hd.flags & LOOM_FLAG_END_HEADERS) &&
        count(c, &c->n_empty, c->cfg->max_empty_frames, "empty header fragments (CVE-2019-9516)") <
            0)
        return c->err;

    if (!s) {
        uint8_t st = state_of(c, NULL, sid);
        switch (loom__stream_transition(st, EV_R_HEADERS).verdict) {
        case V_OK: break; /* idle: a new stream */
        case V_IGNORE: return begin_block(c, f, blk, n, sid, 0, 1);
        case V_CONN_STREAM_CLOSED:
            /* decoded for HPACK is moot: the connection ends */
            return loom__conn_error(c, LOOM_ERR_STREAM_CLOSED,
                                    "HEADERS on a closed stream (RFC 9113 §5.1)");
        default:
            /* §5.1.1: a stream id never used, below the peer's latest: an
             * unexpected stream identifier (a stream closed too long ago to
             * be remembered lands here too: a connection error either way) */
            return loom__conn_error(c, LOOM_ERR_PROTOCOL,
                                    "stream id lower than one already used (RFC 9113 §5.1.1)");
        }
        if (c->role == LOOM_CLIENT || !(sid & 1))
            return loom__conn_error(
                c, LOOM_ERR_PROTOCOL,
                "HEADERS opening a stream the peer may not open (RFC 9113 §5.1.1)");
        c->last_peer_id = sid;
        /* after our final GOAWAY: decoded, then ignored (§6.8) */
        if (c->goaway.sent && !c->goaway.final_pending && sid > c->goaway.last_sent) {
            loom__streams_remember(&c->streams, sid, ST_CLOSED_IGNORED); /* its frames too */
            return begin_block(c, f, blk, n, sid, 0, 1);
        }
        /* §5.1.2: beyond our limit: REFUSED_STREAM, after decoding */
        if (c->open_remote >= LOOM__LOCAL(c, MAX_CONCURRENT_STREAMS)) {
            /* §5.1: its DATA and trailers in flight are then ignored */
            int rc = stream_error(c, sid, LOOM_H2_REFUSED_STREAM);
            if (rc < 0) return rc;
            return begin_block(c, f, blk, n, sid, 0, 1);
        }
        if (refuse) return begin_block(c, f, blk, n, sid, 0, 1);
        s = loom__stream_open(c, sid, ST_IDLE);
        if (!s) return loom__conn_error(c, LOOM_ERR_NOMEM, "out of memory");
        loom__stream_apply(s, EV_R_HEADERS);
        s->counted = 1;
        c->open_remote++;
        return begin_block(c, f, blk, n, sid, 0, 0);
    }
    uint8_t was = s->state;
    switch (loom__stream_apply(s, EV_R_HEADERS)) {
    case V_OK:
        if (was == ST_RESERVED_REMOTE) {
            /* client: the pushed response; the stream now counts */
            s->counted = 1;
            c->open_remote++;
        } else if (s->in == IN_DONE) {
            return stream_error(c, sid, LOOM_H2_PROTOCOL_ERROR);
        }
        break;
    case V_STREAM_CLOSED:
        /* half-closed (remote): STREAM_CLOSED (§5.1); decoded for HPACK */
        stream_error(c, sid, LOOM_H2_STREAM_CLOSED);
        return begin_block(c, f, blk, n, sid, 0, 1);
    case V_CONN_STREAM_CLOSED:
        return loom__conn_error(c, LOOM_ERR_STREAM_CLOSED,
                                "HEADERS on a closed stream (RFC 9113 §5.1)");
    default:
        return loom__conn_error(c, LOOM_ERR_PROTOCOL,
                                "HEADERS on a stream reserved by us (RFC 9113 §5.1)");
    }
    return begin_block(c, f, blk, n, sid, 0, refuse);
}

static int on_continuation(loom_conn *c, const loom_frame *f)
{
    if (f->u.continuation.len == 0 && !(f->hd.flags & LOOM_FLAG_END_HEADERS) &&
        count(c, &c->n_empty, c->cfg->max_empty_frames,
              "empty CONTINUATION flood (CVE-2019-9516)") < 0)
        return c->err;
    return fragment(c, f->u.continuation.block, f->u.continuation.len,
                    (f->hd.flags & LOOM_FLAG_END_HEADERS) != 0);
}

static int on_push_promise(loom_conn *c, const loom_frame *f)
{
    int32_t sid = (int32_t)f->hd.stream_id, pid = (int32_t)f->u.push_promise.promised_id;
    /* §8.4: only servers push, only to clients that allow it */
    if (c->role == LOOM_SERVER)
        return loom__conn_error(c, LOOM_ERR_PROTOCOL,
                                "PUSH_PROMISE sent to a server (RFC 9113 §8.4)");
    if (!LOOM__LOCAL(c, ENABLE_PUSH))
        return loom__conn_error(c, LOOM_ERR_PROTOCOL,
                                "PUSH_PROMISE after SETTINGS_ENABLE_PUSH=0 (RFC 9113 §6.6)");
    /* §6.6: the promised id must be a new even id */
    if ((pid & 1) || pid <= c->last_promised_id)
        return loom__conn_error(c, LOOM_ERR_PROTOCOL, "invalid promised stream id (RFC 9113 §6.6)");
    stream *s = loom__streams_find(&c->streams, sid);
    c->last_promised_id = pid;
    /* §6.6: on a peer-initiated stream, so for us one we opened: never on
     * a pushed stream */
    if (!s || !s->local || (s->state != ST_OPEN && s->state != ST_HALF_CLOSED_LOCAL)) {
        if (!s && state_of(c, NULL, sid) == ST_CLOSED_IGNORED) {
            /* §6.6: we reset the associated stream; refuse the promise too */
            loom__queue_rst(c, pid, LOOM_H2_REFUSED_STREAM, 1);
            return begin_block(c, f, f->u.push_promise.block, f->u.push_promise.len, sid, pid, 1);
        }
        return loom__conn_error(c, LOOM_ERR_PROTOCOL,
                                "PUSH_PROMISE on a stream that is not open (RFC 9113 §6.6)");
    }
    stream *p = loom__stream_open(c, pid, ST_IDLE);
    if (!p) return loom__conn_error(c, LOOM_ERR_NOMEM, "out of memory");
    loom__stream_apply(p, EV_R_PUSH_PROMISE);
    return begin_block(c, f, f->u.push_promise.block, f->u.push_promise.len, sid, pid, 0);
}

/* ---- control frames ---- */

static int on_settings(loom_conn *c, const loom_frame *f)
{
    if (f->hd.flags & LOOM_FLAG_ACK) {
        if (!c->settings.unacked) return 0; /* not ours to count: ignored */
        loom__settings_acked(c);
        loom_event ev = {.type = LOOM_EV_SETTINGS_ACK};
        return loom__emit(c, &ev);
    }
    if (c->settings.got &&
        count(c, &c->n_settings, c->cfg->max_settings, "SETTINGS flood (CVE-2019-9515)") < 0)
        return c->err;
    c->settings.got = 1;
    const char *why;
    int rc = loom__settings_apply(c, f, &why);
    if (rc < 0) return loom__conn_error(c, rc, why);
    loom_frame ack;
    memset(&ack, 0, sizeof(ack));
    ack.hd.type = LOOM_FRAME_SETTINGS;
    ack.hd.flags = LOOM_FLAG_ACK;
    if (loom__queue_frame(c, &ack, 1) < 0)
        return loom__conn_error(c, LOOM_ERR_ENHANCE_YOUR_CALM, LOOM__CONTROL_QUEUE_FULL);
    loom_setting list[16];
    size_t n = f->u.settings.count < 16 ? f->u.settings.count : 16;
    for (size_t i = 0; i < n; i++)
        list[i] = loom_frame_setting(f, i);
    loom_event ev = {.type = LOOM_EV_SETTINGS};
    ev.u.settings.list = list;
    ev.u.settings.n = n;
    return loom__emit(c, &ev);
}

static int on_ping(loom_conn *c, const loom_frame *f)
{
    if (f->hd.flags & LOOM_FLAG_ACK) {
        if (c->goaway.final_pending && !memcmp(f->u.ping.opaque, c->goaway.ping, 8)) {
            /* §6.8: the round trip of a graceful shutdown is done */
            c->goaway.final_pending = 0;
            loom__queue_goaway(c, loom__last_peer_stream(c), c->goaway.code, NULL);
        }
        loom_event ev = {.type = LOOM_EV_PING_ACK};
        if (c->stats.ping_sent_at) {
            c->stats.rtt_us = (loom__now(c) - c->stats.ping_sent_at) * 1000;
            c->stats.ping_sent_at = 0;
        }
        ev.u.ping.rtt_us = c->stats.rtt_us;
        memcpy(ev.u.ping.opaque, f->u.ping.opaque, 8);
        return loom__emit(c, &ev);
    }
    if (count(c, &c->n_pings, c->cfg->max_pings, "PING flood (CVE-2019-9512)") < 0) return c->err;
    loom_frame ack = *f;
    ack.hd.flags = LOOM_FLAG_ACK; /* §6.7: the same payload back */
    if (loom__queue_frame(c, &ack, 1) < 0)
        return loom__conn_error(c, LOOM_ERR_ENHANCE_YOUR_CALM, LOOM__CONTROL_QUEUE_FULL);
    return 0;
}

static int on_rst_stream(loom_conn *c, const loom_frame *f)
{
    int32_t sid = (int32_t)f->hd.stream_id;
    stream *s = loom__streams_find(&c->streams, sid);
    stream_verdict v = loom__stream_transition(state_of(c, s, sid), EV_R_RST).verdict;
    if (v == V_CONN_PROTOCOL)
        return loom__conn_error(c, LOOM_ERR_PROTOCOL,
                                "RST_STREAM on an idle stream (RFC 9113 §6.4)");
    if (!s || v != V_OK) return 0; /* closed: nothing to do */
    /* Rapid Reset (CVE-2023-44487): streams the peer opens and cancels */
    if (!s->local && loom__spend_reset(c, "too many streams reset by the peer (Rapid Reset, "
                                          "CVE-2023-44487)") < 0)
        return c->err;
    loom__stream_apply(s, EV_R_RST);
    loom__stream_end(c, s, CLOSED_RESET_RECEIVED, f->u.rst_stream.error_code, 1,
                     f->u.rst_stream.error_code == LOOM_H2_REFUSED_STREAM);
    return 0;
}

/* Data dribble (CVE-2019-9511): a window kept shut and opened a few
 * octets at a time has us cut what waits into tiny frames, one per
 * WINDOW_UPDATE. Such updates count as near-empty frames: a tiny increment
 * to a window that is below DRIBBLE octets while data waits, so that a
 * burst of them read in one go (the window a few octets open after the
 * first) counts each, not just the first of every read. */
#define DRIBBLE 1024
static int dribble(loom_conn *c)
{
    return count(c, &c->n_empty, c->cfg->max_empty_frames,
                 "window opened a few octets at a time (data dribble, CVE-2019-9511)");
}

static int on_window_update(loom_conn *c, const loom_frame *f)
{
    int32_t sid = (int32_t)f->hd.stream_id;
    uint32_t inc = f->u.window_update.increment;
    if (sid == 0) {
        if (inc < DRIBBLE && c->flow.send_window < DRIBBLE && dribble(c) < 0) return c->err;
        if (loom__flow_send_credit_conn(c, inc) < 0)
            return loom__conn_error(c, LOOM_ERR_FLOW_CONTROL,
                                    "connection window above 2^31-1 (RFC 9113 §6.9.1)");
        return 0;
    }
    stream *s = loom__streams_find(&c->streams, sid);
    uint8_t st = state_of(c, s, sid);
    switch (loom__stream_transition(st, EV_R_WINDOW_UPDATE).verdict) {
    case V_OK: break;
    case V_CONN_PROTOCOL:
        return loom__conn_error(
            c, LOOM_ERR_PROTOCOL,
            st == ST_IDLE ? "WINDOW_UPDATE on an idle stream (RFC 9113 §5.1)"
                          : "WINDOW_UPDATE on a reserved (remote) stream (RFC 9113 §5.1)");
    default: return 0; /* closed: allowed for a while (§6.9) */
    }
    if (!s) return 0;
    if (inc < DRIBBLE && s->send_window < DRIBBLE && loom__body_left(s) && dribble(c) < 0)
        return c->err;
    if (loom__flow_send_credit(s, inc) < 0)
        return stream_error(c, sid, LOOM_H2_FLOW_CONTROL_ERROR); /* §6.9.1 */
    loom__sched_ready(c, s);
    return 0;
}

static int on_goaway(loom_conn *c, const loom_frame *f)
{
    int32_t last = (int32_t)f->u.goaway.last_stream_id;
    c->goaway.received = 1;
    c->goaway.last_recv = last;
    loom_event ev = {.type = LOOM_EV_GOAWAY};
    ev.u.goaway.last_stream_id = (uint32_t)last;
    ev.u.goaway.error_code = f->u.goaway.error_code;
    ev.u.goaway.debug = f->u.goaway.debug;
    ev.u.goaway.debug_len = f->u.goaway.debug_len;
    int rc = loom__emit(c, &ev);
    /* §6.8: our streams above last were not processed: safe to retry. One
     * at a time, since each end calls back into the application. */
    stream_store *t = &c->streams;
    for (int again = 1; again;) {
        again = 0;
        for (size_t b = 0; b < t->nbuckets && !again; b++)
            for (stream *s = t->buckets[b]; s; s = s->next_hash)
                if (s->local && s->id > last && s->state != ST_CLOSED) {
                    loom__stream_end(c, s, CLOSED_NORMAL, LOOM_H2_REFUSED_STREAM, 1, 1);
                    again = 1;
                    break;
                }
    }
    return rc;
}

static int on_priority(loom_conn *c, const loom_frame *f)
{
    if (count(c, &c->n_prio, c->cfg->max_priority_frames, "PRIORITY flood (CVE-2019-9513)") < 0)
        return c->err;
    /* RFC 7540 §5.3: re-prioritisation; for streams we do not hold (idle,
     * closed) it is not kept (RFC 9113 §5.3.2 lets us) */
    choose_by_rfc7540_signal(c);
    stream *s = loom__streams_find(&c->streams, (int32_t)f->hd.stream_id);
    if (s) loom__prio_set(c, s, &f->u.priority);
    return 0;
}

static int on_priority_update(loom_conn *c, const loom_frame *f)
{
    if (count(c, &c->n_prio, c->cfg->max_priority_frames, "PRIORITY_UPDATE flood") < 0)
        return c->err;
    /* RFC 9218 §7.1: a client receiving one: PROTOCOL_ERROR */
    if (c->role == LOOM_CLIENT)
        return loom__conn_error(c, LOOM_ERR_PROTOCOL,
                                "PRIORITY_UPDATE sent to a client (RFC 9218 §7.1)");
    int32_t sid = (int32_t)f->u.priority_update.stream_id;
    /* §7.1: a push stream must have been promised (a promised one can be
     * reprioritized); an idle request stream must fit, with the active
     * ones, in our MAX_CONCURRENT_STREAMS (counting this one only: idle
     * prioritized streams are not remembered) */
    int idle = loom__is_idle(c, sid);
    if (!(sid & 1) && idle)
        return loom__conn_error(c, LOOM_ERR_PROTOCOL,
                                "PRIORITY_UPDATE for a push stream not promised (RFC 9218 §7.1)");
    if ((sid & 1) && idle && c->open_remote >= LOOM__LOCAL(c, MAX_CONCURRENT_STREAMS))
        return loom__conn_error(c, LOOM_ERR_PROTOCOL,
                                "PRIORITY_UPDATE beyond MAX_CONCURRENT_STREAMS (RFC 9218 §7.1)");
    loom__sched_choose(c, SCHED_RFC9218);
    stream *s = loom__streams_find(&c->streams, sid);
    if (!s) return 0; /* idle (buffering is optional, §7.1) or closed: ignored */
    uint8_t u = s->urgency, inc = s->incremental;
    loom__priority_parse(f->u.priority_update.value, f->u.priority_update.len, &u, &inc);
    if (u == s->urgency && inc == s->incremental) return 0;
    loom__sched_set_urgency(c, s, u, inc);
    loom_event ev = {.type = LOOM_EV_PRIORITY, .stream_id = sid, .stream_user = s->user};
    ev.u.priority.urgency = u;
    ev.u.priority.incremental = inc;
    return loom__emit(c, &ev);
}

static int on_origin(loom_conn *c, const loom_frame *f)
{
    if (c->role == LOOM_SERVER) return 0; /* RFC 8336 §2.1: ignored by servers */
    loom_event ev = {.type = LOOM_EV_ORIGIN};
    ev.u.origin.entries = f->u.origin.entries;
    ev.u.origin.len = f->u.origin.len;
    return loom__emit(c, &ev);
}

static int on_continuation_alone(loom_conn *c, const loom_frame *f)
{
    (void)f;
    /* §6.10: CONTINUATION without a block in progress */
    return loom__conn_error(c, LOOM_ERR_PROTOCOL, "CONTINUATION without HEADERS (RFC 9113 §6.10)");
}

static int on_headers_frame(loom_conn *c, const loom_frame *f)
{
    return on_headers(c, f, 0);
}

/* One handler per frame type (h2o's shape); types without one are
 * ignored (§5.5). */
typedef int (*frame_handler)(loom_conn *c, const loom_frame *f);
static const frame_handler handlers[] = {
    [LOOM_FRAME_DATA] = on_data,
    [LOOM_FRAME_HEADERS] = on_headers_frame,
    [LOOM_FRAME_PRIORITY] = on_priority,
    [LOOM_FRAME_RST_STREAM] = on_rst_stream,
    [LOOM_FRAME_SETTINGS] = on_settings,
    [LOOM_FRAME_PUSH_PROMISE] = on_push_promise,
    [LOOM_FRAME_PING] = on_ping,
    [LOOM_FRAME_GOAWAY] = on_goaway,
    [LOOM_FRAME_WINDOW_UPDATE] = on_window_update,
    [LOOM_FRAME_CONTINUATION] = on_continuation_alone,
    [LOOM_FRAME_ORIGIN] = on_origin,
    [LOOM_FRAME_PRIORITY_UPDATE] = on_priority_update,
};

static int on_frame(loom_conn *c, const loom_frame *f)
{
    c->stats.frames_in++;
    if (!c->cfg->no_frame_events) {
        loom_event tr = {.type = LOOM_EV_FRAME, .stream_id = (int32_t)f->hd.stream_id};
        tr.u.frame.sent = 0;
        tr.u.frame.frame = f;
        int rc = loom__emit(c, &tr);
        if (rc) return rc;
    }

    /* §6.10: a field block is contiguous: only its CONTINUATIONs may follow */
    if (c->block.stream &&
        (f->hd.type != LOOM_FRAME_CONTINUATION || (int32_t)f->hd.stream_id != c->block.stream))
        return loom__conn_error(
            c, LOOM_ERR_PROTOCOL,
            "frame inside a field block other than its CONTINUATION (RFC 9113 §6.10)");
    /* §3.4: the peer's preface ends with a SETTINGS frame, first */
    if (!c->settings.got && (f->hd.type != LOOM_FRAME_SETTINGS || (f->hd.flags & LOOM_FLAG_ACK)))
        return loom__conn_error(c, LOOM_ERR_PROTOCOL,
                                "preface not followed by SETTINGS (RFC 9113 §3.4)");
    if (c->block.stream) return on_continuation(c, f);
    if (f->ignore) return 0;
    frame_handler h =
        f->hd.type < sizeof(handlers) / sizeof(handlers[0]) ? handlers[f->hd.type] : NULL;
    return h ? h(c, f) : 0;
}

int loom_conn_recv(loom_conn *c, const uint8_t *in, size_t len)
{
    if (c->dead) return c->err;
    /* §3.4: the server first checks the client's magic octets */
    while (c->preface_got < MAGIC_LEN && len) {
        if (*in != client_magic[c->preface_got])
            return loom__conn_error(c, LOOM_ERR_PROTOCOL,
                                    "invalid connection preface (RFC 9113 §3.4)");
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
            if (e.scope == LOOM_SCOPE_CONNECTION) return loom__conn_error(c, rc, e.reason);
            /* a stream error found by the parser; a field block in it is
             * still decoded so HPACK stays in step */
            if (c->block.stream)
                return loom__conn_error(c, LOOM_ERR_PROTOCOL, "frame inside a field block");
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
