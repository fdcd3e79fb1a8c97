/* Flow control, both directions (RFC 9113 §5.2, §6.9). */
#include "conn_internal.h"

/* ---- sending ---- */

size_t loom__flow_send_allowed(const loom_conn *c, const stream *s, size_t max)
{
    int64_t win = c->flow.send_window < s->send_window ? c->flow.send_window : s->send_window;
    if (win <= 0) return 0;
    return (uint64_t)win < max ? (size_t)win : max;
}

void loom__flow_send_consume(loom_conn *c, stream *s, size_t n)
{
    c->flow.send_window -= (int64_t)n;
    s->send_window -= (int64_t)n;
}

int loom__flow_send_credit_conn(loom_conn *c, uint32_t inc)
{
    /* §6.9.1: a window above 2^31-1 is a FLOW_CONTROL_ERROR */
    if (c->flow.send_window + inc > LOOM_MAX_WINDOW) return LOOM_ERR_FLOW_CONTROL;
    c->flow.send_window += inc;
    return 0;
}

int loom__flow_send_credit(stream *s, uint32_t inc)
{
    if (s->send_window + inc > LOOM_MAX_WINDOW) return LOOM_ERR_FLOW_CONTROL;
    s->send_window += inc;
    return 0;
}

int loom__flow_send_shift(loom_conn *c, int64_t delta)
{
    /* §6.9.2: the difference applies to every stream's window, which may
     * go negative; past 2^31-1 is a FLOW_CONTROL_ERROR */
    STREAMS_FOREACH (&c->streams, s)
        if (s->send_window + delta > LOOM_MAX_WINDOW) return LOOM_ERR_FLOW_CONTROL;
    STREAMS_FOREACH (&c->streams, s)
        s->send_window += delta;
    return 0;
}

/* ---- receiving ---- */

int loom__flow_recv_conn(loom_conn *c, size_t n)
{
    /* §6.9.1: the whole payload counts, padding too */
    if ((int64_t)n > c->flow.recv_window) return LOOM_ERR_FLOW_CONTROL;
    c->flow.recv_window -= (int64_t)n;
    return 0;
}

int loom__flow_recv_stream(stream *s, size_t n)
{
    if ((int64_t)n > s->recv_window) return LOOM_ERR_FLOW_CONTROL;
    s->recv_window -= (int64_t)n;
    return 0;
}

void loom__flow_recv_credit(loom_conn *c, stream *s, size_t conn_n, size_t stream_n)
{
    /* Give a window back once half of it was used: few WINDOW_UPDATEs, and
     * the sender never stalls on a full window. */
    flow_conn *f = &c->flow;
    f->recv_unacked += (uint32_t)conn_n;
    if (f->recv_unacked >= c->cfg->connection_window / 2 &&
        loom__queue_window_update(c, 0, f->recv_unacked) == 0) {
        f->recv_window += f->recv_unacked;
        f->recv_unacked = 0;
    }
    /* a stream whose peer side has ended needs no more window */
    if (s && (s->state == ST_OPEN || s->state == ST_HALF_CLOSED_LOCAL)) {
        s->recv_unacked += (uint32_t)stream_n;
        if (s->recv_unacked >= LOOM__LOCAL(c, INITIAL_WINDOW_SIZE) / 2 &&
            loom__queue_window_update(c, s->id, s->recv_unacked) == 0) {
            s->recv_window += s->recv_unacked;
            s->recv_unacked = 0;
        }
    }
}

void loom__flow_recv_shift(loom_conn *c, int64_t delta)
{
    STREAMS_FOREACH (&c->streams, s)
        s->recv_window += delta;
}

/* Manual windows: the application consumed n octets of sid's DATA. */
void loom_consumed(loom_conn *c, int32_t sid, size_t n)
{
    stream *s = loom__streams_find(&c->streams, sid);
    /* a body no longer wanted (§8.1) gets no more window */
    if (s && c->cfg->manual_window && !s->draining) loom__flow_recv_credit(c, s, 0, n);
}
