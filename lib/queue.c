/* The outbound queue: frames packed as they are submitted, written with
 * the next batch. */
#include <string.h>

#include "conn_internal.h"

void loom__trace_sent(loom_conn *c, const loom_frame *f)
{
    c->stats.frames_out++;
    if (!c->cb || c->cfg->no_frame_events) return;
    /* the length as written (frames are built with it left to the packer) */
    loom_frame copy = *f;
    copy.hd.length = (uint32_t)loom_frame_payload_len(f);
    loom_event ev = {.type = LOOM_EV_FRAME, .stream_id = (int32_t)f->hd.stream_id};
    ev.u.frame.sent = 1;
    ev.u.frame.frame = &copy;
    loom__emit(c, &ev);
}

int loom__queue_room(loom_conn *c, loom__buf *b, size_t n, int bounded)
{
    size_t max = bounded ? c->cfg->max_send_buffer : SIZE_MAX;
    if (bounded && b->len + n > max) return LOOM_ERR_LIMIT;
    int rc = loom__buf_reserve(c->mem, b, n, max);
    return rc == LOOM_ERR_LIMIT ? LOOM_ERR_NOMEM : rc;
}

int loom__queue_frame(loom_conn *c, const loom_frame *f, int from_peer)
{
    queue_state *q = &c->queue;
    size_t n = LOOM_FRAME_HEADER_LEN + loom_frame_payload_len(f);
    if (from_peer && q->n_ctrl + 1 > c->cfg->max_control_queue) return LOOM_ERR_LIMIT;
    int rc = loom__queue_room(c, &q->stage, n, 1);
    if (rc < 0) return rc;
    rc = loom_frame_pack(f, q->stage.p + q->stage.len, q->stage.cap - q->stage.len);
    if (rc < 0) return rc;
    q->stage.len += (size_t)rc;
    if (from_peer) q->n_ctrl++;
    loom__trace_sent(c, f);
    return 0;
}

int loom__queue_settings(loom_conn *c, const loom_setting *list, size_t n)
{
    loom_frame f;
    memset(&f, 0, sizeof(f));
    f.hd.type = LOOM_FRAME_SETTINGS;
    f.u.settings.list = list;
    f.u.settings.count = n;
    return loom__queue_frame(c, &f, 0);
}

int loom__queue_rst(loom_conn *c, int32_t sid, uint32_t code, int from_peer)
{
    loom_frame f;
    memset(&f, 0, sizeof(f));
    f.hd.type = LOOM_FRAME_RST_STREAM;
    f.hd.stream_id = (uint32_t)sid;
    f.u.rst_stream.error_code = code;
    return loom__queue_frame(c, &f, from_peer);
}

int loom__queue_window_update(loom_conn *c, int32_t sid, uint32_t inc)
{
    loom_frame f;
    memset(&f, 0, sizeof(f));
    f.hd.type = LOOM_FRAME_WINDOW_UPDATE;
    f.hd.stream_id = (uint32_t)sid;
    f.u.window_update.increment = inc;
    return loom__queue_frame(c, &f, 1);
}

int loom__queue_goaway(loom_conn *c, int32_t last, uint32_t code, const char *debug)
{
    loom_frame f;
    memset(&f, 0, sizeof(f));
    f.hd.type = LOOM_FRAME_GOAWAY;
    f.u.goaway.last_stream_id = (uint32_t)last;
    f.u.goaway.error_code = code;
    f.u.goaway.debug = (const uint8_t *)debug;
    f.u.goaway.debug_len = debug ? strlen(debug) : 0;
    c->goaway.sent = 1;
    c->goaway.last_sent = last;
    /* a GOAWAY goes out even past the queue bound: it is the last word */
    size_t n = LOOM_FRAME_HEADER_LEN + loom_frame_payload_len(&f);
    if (loom__queue_room(c, &c->queue.stage, n, 0) < 0) return LOOM_ERR_NOMEM;
    c->queue.stage.len += (size_t)loom_frame_pack(&f, c->queue.stage.p + c->queue.stage.len, n);
    loom__trace_sent(c, &f);
    return 0;
}
